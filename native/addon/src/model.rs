//! `SequenceModel`: load a Hugging Face folder, tokenize, predict, save.

use std::path::Path;

use napi::Result;
use napi_derive::napi;

use ftune_engine::heads::Pooling;
use ftune_engine::model::{ModelOptions, SequenceModel as Engine};

use crate::js_error_chain;
use crate::tokenizer::token_ids;

#[napi(object)]
#[derive(Default)]
pub struct ModelLoadOptions {
    /// 1 for regression, C for classification; default from the folder or 1.
    pub num_labels: Option<i64>,
    /// "cls" | "mean" | "attention".
    pub pooling: Option<String>,
    pub head_dropout: Option<f64>,
    pub encoder_dropout: Option<f64>,
    pub max_length: Option<u32>,
    /// "auto" | "cpu" | "cuda" | "cuda:N".
    pub device: Option<String>,
    /// "fp32" (default) | "bf16": `predict` under bf16 autocast (on a CPU, one with bf16
    /// instructions).
    pub precision: Option<String>,
}

#[napi(object)]
pub struct ModelInfo {
    pub model_type: String,
    pub layers: u32,
    pub hidden_size: i64,
    pub parameters: i64,
    pub num_labels: i64,
    pub labels: Vec<String>,
    pub pooling: String,
    pub max_length: u32,
    pub device: String,
    /// Variables initialized fresh because the folder lacked them (e.g. a new head).
    pub initialized: Vec<String>,
    /// Checkpoint tensors the model does not use.
    pub unused: Vec<String>,
}

#[napi]
pub struct SequenceModel {
    inner: Engine,
    bf16: bool,
}

fn to_engine_options(o: ModelLoadOptions) -> anyhow::Result<ModelOptions> {
    Ok(ModelOptions {
        num_labels: o.num_labels,
        pooling: o.pooling.as_deref().map(Pooling::parse).transpose()?,
        head_dropout: o.head_dropout,
        encoder_dropout: o.encoder_dropout,
        max_length: o.max_length.map(|n| n as usize),
        device: ftune_engine::runtime::parse_device(o.device.as_deref().unwrap_or("auto"))?,
    })
}

#[napi]
impl SequenceModel {
    /// Loads config.json, model.safetensors and tokenizer.json from a folder.
    #[napi(factory)]
    pub fn load(dir: String, options: Option<ModelLoadOptions>) -> Result<Self> {
        let options = options.unwrap_or_default();
        let bf16 = match options.precision.as_deref() {
            None | Some("fp32") => false,
            Some("bf16") => true,
            Some(other) => {
                return Err(crate::js_error(format!(
                    "precision '{other}' is not one of fp32, bf16"
                )))
            }
        };
        let opts = to_engine_options(options).map_err(js_error_chain)?;
        if bf16 {
            ftune_engine::runtime::check_bf16(opts.device, "precision").map_err(js_error_chain)?;
        }
        let inner = Engine::load(Path::new(&dir), &opts).map_err(js_error_chain)?;
        Ok(Self { inner, bf16 })
    }

    #[napi]
    pub fn info(&self) -> ModelInfo {
        let m = &self.inner;
        ModelInfo {
            model_type: m.config.model_type.clone(),
            layers: m.encoder.num_layers() as u32,
            hidden_size: m.config.hidden_size,
            parameters: m.parameter_count(),
            num_labels: m.num_labels,
            labels: m.labels.clone(),
            pooling: m.head.pooling.name().into(),
            max_length: m.max_length as u32,
            device: format!("{:?}", m.device()).to_lowercase(),
            initialized: m.report.initialized.clone(),
            unused: m.report.unused.clone(),
        }
    }

    /// Token ids of each text (or text pair), special tokens included, truncated.
    #[napi]
    pub fn tokenize(
        &self,
        texts: Vec<String>,
        pairs: Option<Vec<String>>,
    ) -> Result<Vec<Vec<i64>>> {
        token_ids(&self.inner.tokenizer, &texts, pairs.as_deref())
    }

    /// Last hidden states [text][token][hidden] of one padded batch, in eval mode (under bf16
    /// autocast when loaded with precision bf16).
    #[napi]
    pub fn hidden_states(
        &self,
        texts: Vec<String>,
        pairs: Option<Vec<String>>,
    ) -> Result<Vec<Vec<Vec<f64>>>> {
        let enc = self
            .inner
            .encode(&texts, pairs.as_deref())
            .map_err(js_error_chain)?;
        let batch = self.inner.collate(&enc.iter().collect::<Vec<_>>());
        let forward = || tch::no_grad(|| self.inner.hidden_states(&batch, false));
        let hidden = if self.bf16 {
            ftune_engine::runtime::autocast_bf16(self.inner.device(), forward)
        } else {
            forward()
        };
        let hidden = hidden
            .to_kind(tch::Kind::Double)
            .to_device(tch::Device::Cpu);
        Vec::try_from(&hidden).map_err(crate::js_error)
    }

    /// Logits [text][label], batched by length, in input order (under bf16 autocast when
    /// loaded with precision bf16).
    #[napi]
    pub fn predict(
        &self,
        texts: Vec<String>,
        pairs: Option<Vec<String>>,
        batch_size: Option<u32>,
    ) -> Result<Vec<Vec<f64>>> {
        let enc = self
            .inner
            .encode(&texts, pairs.as_deref())
            .map_err(js_error_chain)?;
        let examples = enc.iter().collect::<Vec<_>>();
        let batch_size = batch_size.unwrap_or(32) as usize;
        let predict = || self.inner.predict(&examples, batch_size);
        let logits = if self.bf16 {
            ftune_engine::runtime::autocast_bf16(self.inner.device(), predict)
        } else {
            predict()
        }
        .map_err(js_error_chain)?;
        Ok(logits
            .into_iter()
            .map(|row| row.into_iter().map(f64::from).collect())
            .collect())
    }

    /// Writes a Hugging Face folder in the layout that loads the standard way for the head
    /// (transformers for cls, sentence-transformers for mean pooling, head.safetensors for
    /// attention), beside `dir` first and renamed into place: a failure leaves nothing.
    #[napi]
    pub fn save(&self, dir: String) -> Result<()> {
        self.inner.save(Path::new(&dir)).map_err(js_error_chain)
    }
}

#[napi]
impl SequenceModel {
    /// Re-initializes the top `top_layers` encoder layers (and the pooler when asked) as
    /// transformers initializes weights; returns the variables touched.
    #[napi]
    pub fn reinit(&self, top_layers: u32, pooler: Option<bool>) -> Result<Vec<String>> {
        ftune_engine::reinit::reinit_top_layers(
            &self.inner,
            top_layers as usize,
            pooler.unwrap_or(false),
        )
        .map_err(js_error_chain)
    }

    /// A variable's values, flattened (for inspection and tests).
    #[napi]
    pub fn variable(&self, name: String) -> Result<Vec<f64>> {
        let vars = self.inner.vs.variables();
        let t = vars
            .get(&name)
            .ok_or_else(|| crate::js_error(format!("no variable named {name}")))?;
        Vec::<f64>::try_from(
            &t.detach()
                .flatten(0, -1)
                .to_kind(tch::Kind::Double)
                .to_device(tch::Device::Cpu),
        )
        .map_err(crate::js_error)
    }

    /// Every variable name, sorted.
    #[napi]
    pub fn variable_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.vs.variables().into_keys().collect();
        names.sort();
        names
    }
}

impl SequenceModel {
    /// Parameters in name order (shallow handles onto the model's storage).
    pub(crate) fn parameters(&self) -> Vec<tch::Tensor> {
        let vars = self.inner.vs.variables();
        self.variable_names()
            .iter()
            .map(|n| vars[n].shallow_clone())
            .collect()
    }
}
