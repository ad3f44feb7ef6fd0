//! How each head is laid out on disk, so that every saved folder loads the standard way:
//!
//! - `cls`: transformers' `*ForSequenceClassification` (config.json + model.safetensors with
//!   transformers' names).
//! - `mean`: sentence-transformers: the encoder at the root (so `AutoModel` loads it too),
//!   `modules.json`, `1_Pooling/` (mean of the tokens) and `2_Dense/` holding the head's one
//!   Linear with an Identity activation: `SentenceTransformer(dir).encode(texts)` gives the
//!   logits.
//! - `attention`: no standard class pools this way; the encoder is at the root and the head's
//!   weights are in `head.safetensors` (our names).
//!
//! Reading accepts these and the older layout (every tensor in model.safetensors).

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;
use tch::Tensor;

pub const MODULES: &str = "modules.json";
pub const POOLING_DIR: &str = "1_Pooling";
pub const DENSE_DIR: &str = "2_Dense";
/// The attention head's weights, beside an encoder-only model.safetensors.
pub const HEAD_FILE: &str = "head.safetensors";
/// The class sentence-transformers records for an Identity activation.
const IDENTITY: &str = "torch.nn.modules.linear.Identity";

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the sentence-transformers files around an encoder already at the root of `dir`:
/// mean pooling, then a Dense module holding `weight` [out, hidden] and `bias` [out].
pub fn write_sentence_transformers(
    dir: &Path,
    hidden: i64,
    max_length: usize,
    weight: &Tensor,
    bias: &Tensor,
) -> Result<()> {
    // Module names and config keys as sentence-transformers has written them since v2, which
    // every version since (v6 included) reads.
    write_json(
        &dir.join(MODULES),
        &json!([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": DENSE_DIR, "type": "sentence_transformers.models.Dense"},
        ]),
    )?;
    write_json(
        &dir.join("config_sentence_transformers.json"),
        &json!({"model_type": "SentenceTransformer", "prompts": {}, "default_prompt_name": null}),
    )?;
    write_json(
        &dir.join("sentence_bert_config.json"),
        &json!({"max_seq_length": max_length, "do_lower_case": false}),
    )?;
    let pooling = dir.join(POOLING_DIR);
    std::fs::create_dir_all(&pooling)?;
    write_json(
        &pooling.join("config.json"),
        &json!({
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": false,
            "pooling_mode_mean_tokens": true,
            "pooling_mode_max_tokens": false,
            "pooling_mode_mean_sqrt_len_tokens": false,
            "pooling_mode_weightedmean_tokens": false,
            "pooling_mode_lasttoken": false,
            "include_prompt": true,
        }),
    )?;
    let dense = dir.join(DENSE_DIR);
    std::fs::create_dir_all(&dense)?;
    let size = weight.size();
    write_json(
        &dense.join("config.json"),
        &json!({
            "in_features": size[1],
            "out_features": size[0],
            "bias": true,
            "activation_function": IDENTITY,
        }),
    )?;
    Tensor::write_safetensors(
        &[("linear.weight", weight), ("linear.bias", bias)],
        dense.join("model.safetensors"),
    )?;
    Ok(())
}

/// What a sentence-transformers folder says about pooling and the head.
#[derive(Debug, Default)]
pub struct SentenceTransformersLayout {
    /// The Pooling module averages the tokens (and nothing else).
    pub mean_pooling: bool,
    /// The Dense module right after the pooling, when it is a plain Linear (Identity
    /// activation, no residual) and the last module: (weight, bias).
    pub dense: Option<(Tensor, Option<Tensor>)>,
    /// Modules the engine does not run (e.g. Normalize, a Dense with an activation).
    pub other_modules: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ModuleEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn is_mean_pooling(config: &serde_json::Value) -> bool {
    match config.get("pooling_mode") {
        Some(mode) => mode == "mean" || *mode == json!(["mean"]),
        None => {
            let on = |k: &str| config.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
            let others = [
                "pooling_mode_cls_token",
                "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens",
                "pooling_mode_lasttoken",
            ];
            on("pooling_mode_mean_tokens") && !others.iter().any(|k| on(k))
        }
    }
}

/// Reads `modules.json` and what follows the Transformer module; None when the folder is not
/// a sentence-transformers folder.
pub fn read_sentence_transformers(dir: &Path) -> Result<Option<SentenceTransformersLayout>> {
    let path = dir.join(MODULES);
    if !path.exists() {
        return Ok(None);
    }
    let modules: Vec<ModuleEntry> = serde_json::from_value(read_json(&path)?)
        .with_context(|| format!("{} is not a list of modules", path.display()))?;
    let mut layout = SentenceTransformersLayout::default();
    let class = |m: &ModuleEntry| m.kind.rsplit('.').next().unwrap_or("").to_string();
    let rest: Vec<&ModuleEntry> = modules
        .iter()
        .filter(|m| class(m) != "Transformer")
        .collect();
    let Some((pooling, after)) = rest.split_first() else {
        return Ok(Some(layout));
    };
    if class(pooling) == "Pooling" {
        layout.mean_pooling =
            is_mean_pooling(&read_json(&dir.join(&pooling.path).join("config.json"))?);
    } else {
        layout.other_modules.push(pooling.path.clone());
    }
    for (i, module) in after.iter().enumerate() {
        let plain_dense = class(module) == "Dense" && i + 1 == after.len() && {
            let config = read_json(&dir.join(&module.path).join("config.json"))?;
            let activation = config
                .get("activation_function")
                .and_then(|a| a.as_str())
                .unwrap_or("torch.nn.modules.activation.Tanh");
            activation.ends_with(".Identity")
                && !config
                    .get("use_residual")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
        };
        let weights = dir.join(&module.path).join("model.safetensors");
        if plain_dense && layout.mean_pooling && weights.exists() {
            let mut tensors = Tensor::read_safetensors(&weights)
                .with_context(|| format!("cannot read {}", weights.display()))?;
            let mut take = |name: &str| {
                tensors
                    .iter()
                    .position(|(k, _)| k == name)
                    .map(|i| tensors.swap_remove(i).1)
            };
            if let Some(weight) = take("linear.weight") {
                layout.dense = Some((weight, take("linear.bias")));
                continue;
            }
        }
        layout.other_modules.push(module.path.clone());
    }
    Ok(Some(layout))
}
