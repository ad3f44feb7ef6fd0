//! The encoder families beyond the BERT block of `encoder.rs`, one file each, and `Backbone`:
//! the one type the model holds, dispatching to the family's own struct.

pub mod modernbert;

use anyhow::Result;
use tch::{nn, Tensor};

use crate::encoder::Encoder;
use crate::hf_config::{Arch, HfConfig};

pub enum Backbone {
    /// BERT, RoBERTa, DistilBERT (`encoder.rs`).
    Bert(Encoder),
    ModernBert(modernbert::ModernBertModel),
}

impl Backbone {
    /// Creates the family's variables under `root`, initialized as transformers would.
    pub fn new(root: &nn::Path, config: &HfConfig) -> Result<Self> {
        Ok(match config.arch()? {
            Arch::ModernBert => Self::ModernBert(modernbert::ModernBertModel::new(root, config)?),
            _ => Self::Bert(Encoder::new(root, config)?),
        })
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Self::Bert(e) => e.num_layers(),
            Self::ModernBert(m) => m.num_layers(),
        }
    }

    /// Overrides every dropout inside the encoder (the config's `encoder_dropout`).
    pub fn set_dropout(&mut self, p: f64) {
        match self {
            Self::Bert(e) => {
                e.dropout.hidden = p;
                e.dropout.attention = p;
            }
            Self::ModernBert(m) => m.set_dropout(p),
        }
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
            // No token types in ModernBERT.
            Self::ModernBert(m) => m.forward(input_ids, attention_mask, train),
        }
    }
}
