//! Prediction heads on top of the encoder's hidden states.
//!
//! `cls` is exactly each architecture's `*ForSequenceClassification` head (same names, same
//! maths), so exported folders load in `AutoModelForSequenceClassification`. ModernBERT's head
//! pools by itself, as its config's `classifier_pooling` says (token 0 or the mean): under `cls`
//! it runs as transformers runs it, either way. `mean` and
//! `attention` pooling are the CommonLit favourites; their weights live under `head.`. The
//! mean head is one Linear (dropout before it only in training), which is what lets a
//! sentence-transformers Dense module with an Identity activation hold it (see `layout`).

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::dropout::Dropout as _;
use crate::encoder::{hf_linear, Activation};
use crate::encoders::modernbert;
use crate::hf_config::{Arch, HfConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Cls,
    Mean,
    Attention,
}

impl Pooling {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "cls" => Self::Cls,
            "mean" => Self::Mean,
            "attention" => Self::Attention,
            other => anyhow::bail!("head.pooling '{other}' is not one of cls, mean, attention"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cls => "cls",
            Self::Mean => "mean",
            Self::Attention => "attention",
        }
    }
}

enum HeadKind {
    /// BERT: tanh(pooler.dense(h[:, 0])) → dropout → classifier.
    BertCls {
        pooler: nn::Linear,
        classifier: nn::Linear,
    },
    /// RoBERTa and MPNet: dropout → classifier.dense → tanh → dropout → classifier.out_proj
    /// on <s>.
    RobertaCls {
        dense: nn::Linear,
        out_proj: nn::Linear,
    },
    /// DistilBERT: pre_classifier(h[:, 0]) → ReLU → dropout → classifier.
    DistilBertCls {
        pre_classifier: nn::Linear,
        classifier: nn::Linear,
    },
    /// ELECTRA: dropout → classifier.dense → GELU → dropout → classifier.out_proj on [CLS].
    ElectraCls {
        dense: nn::Linear,
        out_proj: nn::Linear,
    },
    /// DeBERTa-v2: ContextPooler (dropout → pooler.dense on [CLS] → pooler_hidden_act), then
    /// dropout → classifier. Both dropouts are the head's (transformers: pooler_dropout and
    /// cls_dropout).
    DebertaCls {
        pooler: nn::Linear,
        activation: Activation,
        classifier: nn::Linear,
    },
    /// ModernBERT: its own pooling (token 0 or the mean) → head.dense → act → head.norm →
    /// dropout → classifier.
    ModernBertCls(modernbert::ClassificationHead),
    /// Masked mean of the tokens → dropout → head.out.
    Mean { out: nn::Linear },
    /// softmax over tokens of head.attention.score(tanh(head.attention.dense(h))) → weighted
    /// sum → dropout → head.out.
    Attention {
        dense: nn::Linear,
        score: nn::Linear,
        out: nn::Linear,
    },
}

pub struct Head {
    kind: HeadKind,
    pub dropout: f64,
    pub pooling: Pooling,
}

impl Head {
    pub fn new(
        root: &nn::Path,
        config: &HfConfig,
        arch: Arch,
        pooling: Pooling,
        num_labels: i64,
        dropout: f64,
    ) -> anyhow::Result<Self> {
        let (h, r) = (config.hidden_size, config.initializer_range);
        let kind = match (pooling, arch) {
            (Pooling::Cls, Arch::Bert) => HeadKind::BertCls {
                pooler: hf_linear(root / "bert" / "pooler" / "dense", h, h, r),
                classifier: hf_linear(root / "classifier", h, num_labels, r),
            },
            (Pooling::Cls, Arch::Roberta | Arch::Mpnet) => HeadKind::RobertaCls {
                dense: hf_linear(root / "classifier" / "dense", h, h, r),
                out_proj: hf_linear(root / "classifier" / "out_proj", h, num_labels, r),
            },
            (Pooling::Cls, Arch::DistilBert) => HeadKind::DistilBertCls {
                pre_classifier: hf_linear(root / "pre_classifier", h, h, r),
                classifier: hf_linear(root / "classifier", h, num_labels, r),
            },
            (Pooling::Cls, Arch::Electra) => HeadKind::ElectraCls {
                dense: hf_linear(root / "classifier" / "dense", h, h, r),
                out_proj: hf_linear(root / "classifier" / "out_proj", h, num_labels, r),
            },
            (Pooling::Cls, Arch::DebertaV2) => HeadKind::DebertaCls {
                pooler: hf_linear(root / "pooler" / "dense", h, h, r),
                // hf_config checked the name when it read the config.
                activation: Activation::parse(
                    config.extra_str("pooler_hidden_act").unwrap_or("gelu"),
                )
                .unwrap_or(Activation::Gelu),
                classifier: hf_linear(root / "classifier", h, num_labels, r),
            },
            (Pooling::Cls, Arch::ModernBert) => HeadKind::ModernBertCls(
                modernbert::ClassificationHead::new(root, config, num_labels)?,
            ),
            (Pooling::Mean, _) => HeadKind::Mean {
                out: hf_linear(root / "head" / "out", h, num_labels, r),
            },
            (Pooling::Attention, _) => HeadKind::Attention {
                dense: hf_linear(root / "head" / "attention" / "dense", h, h, r),
                score: hf_linear(root / "head" / "attention" / "score", h, 1, r),
                out: hf_linear(root / "head" / "out", h, num_labels, r),
            },
        };
        Ok(Self {
            kind,
            dropout,
            pooling,
        })
    }

    /// Logits [batch, num_labels] from hidden states [batch, seq, hidden].
    pub fn forward(&self, hidden: &Tensor, attention_mask: &Tensor, train: bool) -> Tensor {
        let p = self.dropout;
        match &self.kind {
            HeadKind::BertCls { pooler, classifier } => {
                let pooled = pooler.forward(&hidden.select(1, 0)).tanh();
                classifier.forward(&pooled.dropped_out(p, train))
            }
            HeadKind::RobertaCls { dense, out_proj } => {
                let x = dense
                    .forward(&hidden.select(1, 0).dropped_out(p, train))
                    .tanh();
                out_proj.forward(&x.dropped_out(p, train))
            }
            HeadKind::ElectraCls { dense, out_proj } => {
                let x = dense
                    .forward(&hidden.select(1, 0).dropped_out(p, train))
                    .gelu("none");
                out_proj.forward(&x.dropped_out(p, train))
            }
            HeadKind::DebertaCls {
                pooler,
                activation,
                classifier,
            } => {
                let pooled =
                    activation.apply(&pooler.forward(&hidden.select(1, 0).dropped_out(p, train)));
                classifier.forward(&pooled.dropped_out(p, train))
            }
            HeadKind::DistilBertCls {
                pre_classifier,
                classifier,
            } => {
                let x = pre_classifier.forward(&hidden.select(1, 0)).relu();
                classifier.forward(&x.dropped_out(p, train))
            }
            HeadKind::ModernBertCls(head) => head.forward(hidden, attention_mask, p, train),
            HeadKind::Mean { out } => {
                let mask = attention_mask.to_kind(hidden.kind()).unsqueeze(-1);
                let summed = (hidden * &mask).sum_dim_intlist(1, false, hidden.kind());
                let counts = mask
                    .sum_dim_intlist(1, false, hidden.kind())
                    .clamp_min(1e-9);
                out.forward(&(summed / counts).dropped_out(p, train))
            }
            HeadKind::Attention { dense, score, out } => {
                let scores = score.forward(&dense.forward(hidden).tanh()).squeeze_dim(-1);
                let scores = scores.masked_fill(&attention_mask.eq(0), f64::NEG_INFINITY);
                let weights = scores
                    .softmax(-1, Kind::Float)
                    .to_kind(hidden.kind())
                    .unsqueeze(-1);
                let pooled = (hidden * weights).sum_dim_intlist(1, false, hidden.kind());
                out.forward(&pooled.dropped_out(p, train))
            }
        }
    }
}
