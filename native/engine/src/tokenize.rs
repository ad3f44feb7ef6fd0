//! Tokenization with Hugging Face `tokenizers` (offline, from `tokenizer.json`) and dynamic
//! padding: texts are encoded once, then each batch is padded to its own longest sequence.

use std::path::Path;

use anyhow::{anyhow, Result};
use tch::{Device, Tensor};
use tokenizers::{
    PaddingParams, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

/// Token ids of one example (special tokens included, truncated to max_length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
}

pub struct TextTokenizer {
    inner: Tokenizer,
    pad_id: i64,
}

/// A padded batch on a device: ids, attention mask and token types, each [batch, seq].
pub struct Batch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    pub token_type_ids: Tensor,
}

impl TextTokenizer {
    pub fn from_dir(dir: &Path, max_length: usize, pad_id: i64) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            anyhow::bail!(
                "{} has no tokenizer.json (the fast-tokenizer file); save one with: python -c \"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('{}').save_pretrained('{}')\"",
                dir.display(),
                dir.display(),
                dir.display()
            );
        }
        let mut inner = Tokenizer::from_file(&path)
            .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
        let truncation = TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        };
        inner
            .with_truncation(Some(truncation))
            .map_err(|e| anyhow!("max_length {max_length}: {e}"))?;
        inner.with_padding(None::<PaddingParams>);
        Ok(Self { inner, pad_id })
    }

    /// Encodes single texts, or text pairs when `pairs` is given (same length as `texts`).
    pub fn encode(&self, texts: &[String], pairs: Option<&[String]>) -> Result<Vec<Encoded>> {
        let inputs: Vec<tokenizers::EncodeInput> = match pairs {
            None => texts.iter().map(|t| t.as_str().into()).collect(),
            Some(second) => {
                anyhow::ensure!(
                    second.len() == texts.len(),
                    "{} texts but {} second texts",
                    texts.len(),
                    second.len()
                );
                texts
                    .iter()
                    .zip(second)
                    .map(|(a, b)| (a.as_str(), b.as_str()).into())
                    .collect()
            }
        };
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| anyhow!("tokenization failed: {e}"))?;
        Ok(encodings
            .iter()
            .map(|e| Encoded {
                ids: e.get_ids().iter().map(|&i| i as i64).collect(),
                type_ids: e.get_type_ids().iter().map(|&i| i as i64).collect(),
            })
            .collect())
    }

    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }
}

/// Pads examples to the longest of them (right padding, as transformers does).
pub fn collate(examples: &[&Encoded], pad_id: i64, device: Device) -> Batch {
    let len = examples.iter().map(|e| e.ids.len()).max().unwrap_or(0);
    let n = examples.len();
    let mut ids = vec![pad_id; n * len];
    let mut mask = vec![0i64; n * len];
    let mut types = vec![0i64; n * len];
    for (row, e) in examples.iter().enumerate() {
        let at = row * len;
        ids[at..at + e.ids.len()].copy_from_slice(&e.ids);
        types[at..at + e.type_ids.len()].copy_from_slice(&e.type_ids);
        mask[at..at + e.ids.len()].fill(1);
    }
    let shape = [n as i64, len as i64];
    let tensor = |v: Vec<i64>| Tensor::from_slice(&v).view(shape).to_device(device);
    Batch {
        input_ids: tensor(ids),
        attention_mask: tensor(mask),
        token_type_ids: tensor(types),
    }
}

/// max_length must fit the position embeddings (RoBERTa loses padding_idx + 1 of them).
pub fn check_max_length(max_length: usize, max_positions: i64, position_offset: i64) -> Result<()> {
    let limit = (max_positions - position_offset).max(0) as usize;
    anyhow::ensure!(
        max_length >= 2,
        "max_length {max_length} is too small: it must hold the special tokens"
    );
    anyhow::ensure!(
        max_length <= limit,
        "max_length {max_length} exceeds what the model supports ({limit} tokens)"
    );
    Ok(())
}
