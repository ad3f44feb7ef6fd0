//! One encoder per family behind one type: `Backbone` builds the family the config names and
//! forwards to it. BERT, RoBERTa, DistilBERT and ELECTRA share the post-LayerNorm BERT block
//! (`crate::encoder`); MPNet (relative position bias), DeBERTa-v2/v3 (disentangled attention)
//! and ModernBERT (rotary, alternating local/global attention, GeGLU) have their own files,
//! each with transformers' parameter names.

pub mod deberta_v2;
pub mod modernbert;
pub mod mpnet;

use anyhow::Result;
use tch::{nn, Tensor};

use crate::encoder::Encoder;
use crate::hf_config::{Arch, HfConfig};

pub enum Backbone {
    /// BERT, RoBERTa, DistilBERT, ELECTRA (`encoder.rs`).
    Bert(Encoder),
    Mpnet(mpnet::MPNetModel),
    DebertaV2(deberta_v2::DebertaV2Model),
    ModernBert(modernbert::ModernBertModel),
}

impl Backbone {
    /// Creates the family's variables under `root`, initialized as transformers would.
    pub fn new(root: &nn::Path, config: &HfConfig) -> Result<Self> {
        Ok(match config.arch()? {
            Arch::Mpnet => Self::Mpnet(mpnet::MPNetModel::new(root, config)?),
            Arch::DebertaV2 => Self::DebertaV2(deberta_v2::DebertaV2Model::new(root, config)?),
            Arch::ModernBert => Self::ModernBert(modernbert::ModernBertModel::new(root, config)?),
            Arch::Bert | Arch::Roberta | Arch::DistilBert | Arch::Electra => {
                Self::Bert(Encoder::new(root, config)?)
            }
        })
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Self::Bert(e) => e.num_layers(),
            Self::Mpnet(e) => e.num_layers(),
            Self::DebertaV2(e) => e.num_layers(),
            Self::ModernBert(m) => m.num_layers(),
        }
    }

    /// Overrides every dropout inside the encoder (the config's `encoder_dropout`).
    pub fn set_dropout(&mut self, p: f64) {
        let d = match self {
            Self::Bert(e) => &mut e.dropout,
            Self::Mpnet(e) => &mut e.dropout,
            Self::DebertaV2(e) => &mut e.dropout,
            Self::ModernBert(m) => return m.set_dropout(p),
        };
        d.hidden = p;
        d.attention = p;
    }

    /// Last hidden states [batch, seq, hidden] for a padded batch.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        token_type_ids: &Tensor,
        train: bool,
    ) -> Tensor {
        match self {
            Self::Bert(e) => e.forward(input_ids, attention_mask, token_type_ids, train),
            Self::Mpnet(e) => e.forward(input_ids, attention_mask, train),
            Self::DebertaV2(e) => e.forward(input_ids, attention_mask, token_type_ids, train),
            // No token types in ModernBERT.
            Self::ModernBert(m) => m.forward(input_ids, attention_mask, train),
        }
    }
}
