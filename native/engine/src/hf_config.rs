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
    DistilBert,
    Electra,
    Mpnet,
    #[serde(rename = "deberta-v2")]
    DebertaV2,
    ModernBert,
}

impl Arch {
    pub fn prefix(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Roberta => "roberta",
            Arch::DistilBert => "distilbert",
            Arch::Electra => "electra",
            Arch::Mpnet => "mpnet",
            Arch::DebertaV2 => "deberta",
            Arch::ModernBert => "model",
        }
    }

    /// Whether the base model (`AutoModel`) has a `pooler` under the prefix that the
    /// classifier does not use: BERT's, RoBERTa's and MPNet's.
    pub fn base_pooler(self) -> bool {
        matches!(self, Arch::Bert | Arch::Roberta | Arch::Mpnet)
    }

    /// Where the encoder layers sit under the prefix: `<prefix>.<layers>.<i>.…`.
    pub fn layers_path(self) -> &'static str {
        match self {
            Arch::Bert | Arch::Roberta | Arch::Electra | Arch::Mpnet | Arch::DebertaV2 => {
                "encoder.layer"
            }
            Arch::DistilBert => "transformer.layer",
            Arch::ModernBert => "layers",
        }
    }

    /// The class name transformers expects in `architectures` for a sequence classifier.
    pub fn classifier_class(self) -> &'static str {
        match self {
            Arch::Bert => "BertForSequenceClassification",
            Arch::Roberta => "RobertaForSequenceClassification",
            Arch::DistilBert => "DistilBertForSequenceClassification",
            Arch::Electra => "ElectraForSequenceClassification",
            Arch::Mpnet => "MPNetForSequenceClassification",
            Arch::DebertaV2 => "DebertaV2ForSequenceClassification",
            Arch::ModernBert => "ModernBertForSequenceClassification",
        }
    }

    /// The encoder alone, as `AutoModel` loads it.
    pub fn base_class(self) -> &'static str {
        match self {
            Arch::Bert => "BertModel",
            Arch::Roberta => "RobertaModel",
            Arch::DistilBert => "DistilBertModel",
            Arch::Electra => "ElectraModel",
            Arch::Mpnet => "MPNetModel",
            Arch::DebertaV2 => "DebertaV2Model",
            Arch::ModernBert => "ModernBertModel",
        }
    }
}

pub const SUPPORTED: &str = "bert (BERT, MiniLM, most sentence-transformers encoders), roberta (RoBERTa, DistilRoBERTa), xlm-roberta, camembert, distilbert, electra (ELECTRA discriminators), mpnet, deberta-v2 (DeBERTa-v2 and -v3), modernbert (ModernBERT)";

/// DistilBERT's config.json names for the fields below (its own, then ours). Read in, they are
/// renamed to ours; written out, back to its own, so that transformers reads the export.
const DISTILBERT_NAMES: [(&str, &str); 8] = [
    ("dim", "hidden_size"),
    ("n_layers", "num_hidden_layers"),
    ("n_heads", "num_attention_heads"),
    ("hidden_dim", "intermediate_size"),
    ("activation", "hidden_act"),
    ("dropout", "hidden_dropout_prob"),
    ("attention_dropout", "attention_probs_dropout_prob"),
    ("seq_classif_dropout", "classifier_dropout"),
];

/// Fields of `HfConfig` that only the BERT family's configs have.
const BERT_ONLY: [&str; 5] = [
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "type_vocab_size",
    "layer_norm_eps",
];

fn rename_keys(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
) {
    for (from, to) in pairs {
        if let Some(v) = obj.remove(from) {
            obj.insert(to.to_string(), v);
        }
    }
}

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
        let invalid = || format!("{} is not a valid model config", path.display());
        let mut raw: serde_json::Value = serde_json::from_str(&text).with_context(invalid)?;
        if let Some(obj) = raw.as_object_mut() {
            if obj.get("model_type").and_then(|t| t.as_str()) == Some("distilbert") {
                if obj.get("sinusoidal_pos_embds").and_then(|v| v.as_bool()) == Some(true) {
                    bail!(
                        "{}: DistilBERT with sinusoidal position embeddings is not supported",
                        path.display()
                    );
                }
                rename_keys(obj, DISTILBERT_NAMES.into_iter());
            }
        }
        let config: HfConfig = serde_json::from_value(raw).with_context(invalid)?;
        config.arch()?;
        config.check_family()?;
        if config.hidden_size % config.num_attention_heads != 0 {
            bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size,
                config.num_attention_heads
            );
        }
        Ok(config)
    }

    /// The config as transformers writes it for this architecture (DistilBERT's own names).
    pub fn to_hf_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("config serializes");
        if self.arch().ok() == Some(Arch::DistilBert) {
            let obj = value.as_object_mut().expect("config is an object");
            rename_keys(
                obj,
                DISTILBERT_NAMES
                    .into_iter()
                    .map(|(theirs, ours)| (ours, theirs)),
            );
            obj.remove("type_vocab_size");
        }
        if self.arch().ok() == Some(Arch::ModernBert) {
            // BERT's names that ModernBERT's config does not have (it says hidden_activation,
            // norm_eps, …): filled in by our defaults on reading, not written back.
            let obj = value.as_object_mut().expect("config is an object");
            for key in BERT_ONLY {
                obj.remove(key);
            }
        }
        value
    }

    pub fn arch(&self) -> Result<Arch> {
        match self.model_type.as_str() {
            "bert" => Ok(Arch::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Ok(Arch::Roberta),
            "distilbert" => Ok(Arch::DistilBert),
            "electra" => Ok(Arch::Electra),
            "mpnet" => Ok(Arch::Mpnet),
            "deberta-v2" => Ok(Arch::DebertaV2),
            "modernbert" => Ok(Arch::ModernBert),
            other => bail!("model type '{other}' is not supported; supported: {SUPPORTED}"),
        }
    }

    /// RoBERTa numbers positions from padding_idx + 1, so it needs the pad id.
    pub fn pad_id(&self) -> i64 {
        self.pad_token_id.unwrap_or(match self.arch() {
            Ok(Arch::Roberta | Arch::Mpnet) => 1,
            _ => 0,
        })
    }

    /// A field of config.json that only some families have (kept in `extra`).
    pub fn extra_i64(&self, key: &str) -> Option<i64> {
        self.extra.get(key).and_then(|v| v.as_i64())
    }
    pub fn extra_bool(&self, key: &str) -> Option<bool> {
        self.extra.get(key).and_then(|v| v.as_bool())
    }
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(|v| v.as_str())
    }

    /// Family-specific settings the engine does not run, refused when the config is read.
    fn check_family(&self) -> Result<()> {
        if self.arch()? == Arch::DebertaV2 {
            if self.extra_i64("conv_kernel_size").unwrap_or(0) > 0 {
                bail!("DeBERTa-v2 with a convolution layer (conv_kernel_size, as in deberta-v2-xlarge) is not supported; DeBERTa-v3 models are");
            }
            let act = self.extra_str("pooler_hidden_act").unwrap_or("gelu");
            crate::encoder::Activation::parse(act)?;
            if let Some(n) = self.extra_i64("pooler_hidden_size") {
                if n != self.hidden_size {
                    bail!("DeBERTa-v2 with pooler_hidden_size {n} different from hidden_size {} is not supported", self.hidden_size);
                }
            }
            if let Some(n) = self.extra_i64("attention_head_size") {
                if n * self.num_attention_heads != self.hidden_size {
                    bail!("DeBERTa-v2 with attention_head_size {n} (not hidden_size / heads) is not supported");
                }
            }
        }
        if self.arch()? == Arch::Mpnet
            && self
                .extra_i64("relative_attention_num_buckets")
                .unwrap_or(32)
                < 32
        {
            bail!("MPNet with fewer than 32 relative_attention_num_buckets is not supported (transformers looks up 32)");
        }
        Ok(())
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
