//! One encoder per family behind one type: `Backbone` builds the family the config names and
//! forwards to it. BERT, RoBERTa, DistilBERT and ELECTRA share the post-LayerNorm BERT block
//! (`crate::encoder`); MPNet (relative position bias) and DeBERTa-v2/v3 (disentangled
//! attention) have their own files, each with transformers' parameter names.

pub mod deberta_v2;
pub mod mpnet;

use tch::{nn, Tensor};

use crate::encoder::{Encoder, EncoderDropout};
use crate::hf_config::{Arch, HfConfig};

pub enum Backbone {
    Bert(Encoder),
    Mpnet(mpnet::MPNetModel),
    DebertaV2(deberta_v2::DebertaV2Model),
}

impl Backbone {
    /// Creates the variables under `root/<prefix>`, initialized as transformers would.
    pub fn new(root: &nn::Path, config: &HfConfig) -> anyhow::Result<Self> {
        Ok(match config.arch()? {
            Arch::Mpnet => Self::Mpnet(mpnet::MPNetModel::new(root, config)?),
            Arch::DebertaV2 => Self::DebertaV2(deberta_v2::DebertaV2Model::new(root, config)?),
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
        }
    }

    /// Dropout inside the encoder (overridable: 0 is common for regression).
    pub fn dropout_mut(&mut self) -> &mut EncoderDropout {
        match self {
            Self::Bert(e) => &mut e.dropout,
            Self::Mpnet(e) => &mut e.dropout,
            Self::DebertaV2(e) => &mut e.dropout,
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
            Self::Mpnet(e) => e.forward(input_ids, attention_mask, train),
            Self::DebertaV2(e) => e.forward(input_ids, attention_mask, token_type_ids, train),
        }
    }
}
