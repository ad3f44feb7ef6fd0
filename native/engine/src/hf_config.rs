//! A Hugging Face `config.json`, reduced to what the supported encoders need.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Architectures the engine runs, and the checkpoint prefix of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Bert,
    Roberta,
}

impl Arch {
    pub fn prefix(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Roberta => "roberta",
        }
    }

    /// The class name transformers expects in `architectures` for a sequence classifier.
    pub fn classifier_class(self) -> &'static str {
        match self {
            Arch::Bert => "BertForSequenceClassification",
            Arch::Roberta => "RobertaForSequenceClassification",
        }
    }
}

pub const SUPPORTED: &str = "bert (BERT, MiniLM, most sentence-transformers encoders), roberta (RoBERTa, DistilRoBERTa), xlm-roberta, camembert";

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HfConfig {
    pub model_type: String,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub problem_type: Option<String>,
    /// Everything else, kept so that saving writes the user's config back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> i64 {
    2
}
fn default_init_range() -> f64 {
    0.02
}
fn default_ln_eps() -> f64 {
    1e-12
}

impl HfConfig {
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} has no config.json: pick a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)", dir.display()))?;
        let config: HfConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid model config", path.display()))?;
        config.arch()?;
        if config.hidden_size % config.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size,
                config.num_attention_heads
            );
        }
        Ok(config)
    }

    pub fn arch(&self) -> Result<Arch> {
        match self.model_type.as_str() {
            "bert" => Ok(Arch::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Ok(Arch::Roberta),
            other => bail!("model type '{other}' is not supported; supported: {SUPPORTED}"),
        }
    }

    /// RoBERTa numbers positions from padding_idx + 1, so it needs the pad id.
    pub fn pad_id(&self) -> i64 {
        self.pad_token_id.unwrap_or(match self.arch() {
            Ok(Arch::Roberta) => 1,
            _ => 0,
        })
    }

    /// Class names in label order, when the config names them.
    pub fn labels(&self) -> Vec<String> {
        let Some(map) = &self.id2label else {
            return vec![];
        };
        let mut pairs: Vec<(i64, &String)> = map
            .iter()
            .filter_map(|(k, v)| k.parse().ok().map(|i| (i, v)))
            .collect();
        pairs.sort();
        pairs.into_iter().map(|(_, v)| v.clone()).collect()
    }
}
