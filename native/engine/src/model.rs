//! A sequence regression/classification model: encoder + head + tokenizer, loaded from and
//! saved to Hugging Face folders with Hugging Face names, in the layout that loads the
//! standard way for its head (see `layout`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::encoders::{modernbert, Backbone};
use crate::heads::{Head, Pooling};
use crate::hf_config::{Arch, HfConfig};
use crate::layout;
use crate::tokenize::{check_max_length, collate, Batch, Encoded, TextTokenizer};
use crate::weights;

/// Our own notes next to an exported checkpoint, so that it reloads with the same head.
pub const FTUNE_META: &str = "ftune.json";
const TOKENIZER_FILES: [&str; 8] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spm.model",
];

#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// 1 for regression, C for classification; default from the folder (id2label) or 1.
    pub num_labels: Option<i64>,
    /// Default: the pooling the folder was saved with (ftune.json, or a sentence-transformers
    /// folder's mean pooling), else `cls`.
    pub pooling: Option<Pooling>,
    /// Dropout before the head's last linear; default classifier_dropout or hidden dropout.
    pub head_dropout: Option<f64>,
    /// Overrides hidden and attention dropout inside the encoder.
    pub encoder_dropout: Option<f64>,
    /// Default: what the folder was exported with, else 256 (or less if the model is shorter).
    pub max_length: Option<usize>,
    pub device: Device,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            num_labels: None,
            pooling: None,
            head_dropout: None,
            encoder_dropout: None,
            max_length: None,
            device: Device::Cpu,
        }
    }
}

/// What loading did with the checkpoint's tensors.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    pub loaded: usize,
    /// Variables the folder did not have (a fresh head), initialized as transformers does.
    pub initialized: Vec<String>,
    /// Checkpoint tensors this model does not use (e.g. a pooler under mean pooling).
    pub unused: Vec<String>,
}

/// Where a parameter sits in the network, for learning-rate groups and re-init.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Embeddings,
    Layer(usize),
    Pooler,
    Head,
}

pub struct SequenceModel {
    pub vs: nn::VarStore,
    pub config: HfConfig,
    pub arch: Arch,
    pub encoder: Backbone,
    pub head: Head,
    pub tokenizer: TextTokenizer,
    pub num_labels: i64,
    pub labels: Vec<String>,
    pub max_length: usize,
    pub source_dir: PathBuf,
    pub report: LoadReport,
    /// The checkpoint's pooler when this head does not use it (mean and attention pooling),
    /// kept to be saved with the encoder so that `AutoModel` loads it without a fresh pooler.
    carried: Vec<(String, Tensor)>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct FtuneMeta {
    pooling: Option<Pooling>,
    max_length: Option<usize>,
}

/// RoBERTa numbers positions from pad_id + 1 (MPNet from its fixed padding_idx 1 + 1): that
/// many positions are not usable.
fn position_offset(config: &HfConfig, arch: Arch) -> i64 {
    match arch {
        Arch::Roberta => config.pad_id() + 1,
        Arch::Mpnet => 2,
        _ => 0,
    }
}

/// The most tokens one input may have, special tokens included.
fn longest_input(config: &HfConfig, arch: Arch) -> usize {
    (config.max_position_embeddings - position_offset(config, arch)).max(2) as usize
}

/// The folder's tokenizer truncating at the model's own limit, without building the network:
/// for counting tokens (a dataset's token-length statistics), where a lower cut would hide
/// exactly the texts that the chosen `max_length` truncates.
pub fn full_length_tokenizer(dir: &Path) -> Result<TextTokenizer> {
    let config = HfConfig::read(dir)?;
    let arch = config.arch()?;
    TextTokenizer::from_dir(dir, longest_input(&config, arch), config.pad_id())
}

impl SequenceModel {
    /// Loads config, tokenizer and weights from a Hugging Face folder.
    pub fn load(dir: &Path, opts: &ModelOptions) -> Result<Self> {
        if HfConfig::read(dir).is_ok() {
            weights::find_weights(dir)?; // before the tokenizer's or the config's complaints
        }
        let mut model = Self::skeleton(dir, opts)?;
        let (source, mut tensors) = weights::read_weights(dir)?;
        let label = source.display().to_string();
        let mut report = LoadReport::default();
        // The head of a sentence-transformers folder (2_Dense) or of an attention head
        // (head.safetensors), beside an encoder-only model.safetensors.
        if let Some(st) = layout::read_sentence_transformers(dir)? {
            match st.dense {
                Some((weight, bias)) if model.head.pooling == Pooling::Mean => {
                    tensors.insert("head.out.weight".into(), weight);
                    if let Some(bias) = bias {
                        tensors.insert("head.out.bias".into(), bias);
                    }
                }
                Some(_) => report
                    .unused
                    .push(format!("{} (a Dense head)", layout::DENSE_DIR)),
                None => {}
            }
            report.unused.extend(
                st.other_modules
                    .into_iter()
                    .map(|m| format!("{m} (a sentence-transformers module)")),
            );
        }
        let head_file = dir.join(layout::HEAD_FILE);
        if head_file.exists() {
            tensors.extend(weights::read_safetensors(&head_file)?);
        }
        model.load_weights(tensors, &label, &mut report)?;
        model.report = report;
        Ok(model)
    }

    /// The model's structure with freshly initialized weights: enough for parameter groups
    /// and LR previews without reading the checkpoint.
    pub fn skeleton(dir: &Path, opts: &ModelOptions) -> Result<Self> {
        let config = HfConfig::read(dir)?;
        let arch = config.arch()?;
        let meta: FtuneMeta = std::fs::read_to_string(dir.join(FTUNE_META))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        // A sentence-transformers folder says its pooling and length in its own files.
        let st_mean = layout::read_sentence_transformers(dir)
            .ok()
            .flatten()
            .is_some_and(|st| st.mean_pooling);
        let st_length = std::fs::read_to_string(dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("max_seq_length")?.as_u64())
            .map(|n| (n as usize).min(longest_input(&config, arch)));
        let max_length = opts
            .max_length
            .or(meta.max_length)
            .or(st_length)
            .unwrap_or(256.min(longest_input(&config, arch)));
        check_max_length(
            max_length,
            config.max_position_embeddings,
            position_offset(&config, arch),
        )?;
        let tokenizer = TextTokenizer::from_dir(dir, max_length, config.pad_id())?;

        let labels = config.labels();
        let num_labels = opts.num_labels.unwrap_or(if labels.len() > 1 {
            labels.len() as i64
        } else {
            1
        });
        if num_labels < 1 {
            bail!("num_labels must be at least 1, got {num_labels}");
        }
        let pooling = opts
            .pooling
            .or(meta.pooling)
            .or(st_mean.then_some(Pooling::Mean))
            .unwrap_or(Pooling::Cls);
        let head_dropout = opts
            .head_dropout
            .or(config.classifier_dropout)
            .unwrap_or(config.hidden_dropout_prob);
        check_probability("head dropout", head_dropout)?;

        let vs = nn::VarStore::new(opts.device);
        let mut encoder = Backbone::new(&vs.root(), &config)?;
        if let Some(p) = opts.encoder_dropout {
            check_probability("encoder_dropout", p)?;
            encoder.set_dropout(p);
        }
        let head = Head::new(&vs.root(), &config, arch, pooling, num_labels, head_dropout)?;
        Ok(Self {
            vs,
            config,
            arch,
            encoder,
            head,
            tokenizer,
            num_labels,
            labels: if labels.len() == num_labels as usize {
                labels
            } else {
                vec![]
            },
            max_length,
            source_dir: dir.to_path_buf(),
            report: LoadReport::default(),
            carried: vec![],
        })
    }

    /// Where the variable `name` sits: embeddings, encoder layer i, pooler or head. Encoder
    /// weights outside the layers that every layer uses (ELECTRA's `embeddings_project`,
    /// MPNet's relative position bias, DeBERTa's relative embeddings and their norm) count as
    /// embeddings; DeBERTa's ContextPooler (`pooler.`, outside the prefix) as the pooler.
    pub fn place(&self, name: &str) -> Place {
        if self.arch == Arch::ModernBert {
            if let Some(place) = modernbert::place(name, self.encoder.num_layers()) {
                return place;
            }
        }
        let prefix = self.arch.prefix();
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            if name.starts_with("pooler.") {
                return Place::Pooler;
            }
            return Place::Head;
        };
        if rest.starts_with("embeddings.") {
            Place::Embeddings
        } else if let Some(layer) = rest
            .strip_prefix(self.arch.layers_path())
            .and_then(|r| r.strip_prefix('.'))
        {
            Place::Layer(
                layer
                    .split('.')
                    .next()
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(0),
            )
        } else if rest.starts_with("pooler.") {
            Place::Pooler
        } else {
            Place::Embeddings
        }
    }

    /// Copies the checkpoint's tensors into the variables; accepts checkpoints saved with or
    /// without the `bert.` / `roberta.` prefix and old `gamma`/`beta` LayerNorm names.
    fn load_weights(
        &mut self,
        tensors: HashMap<String, Tensor>,
        label: &str,
        report: &mut LoadReport,
    ) -> Result<()> {
        let mut ckpt: HashMap<String, Tensor> = tensors
            .into_iter()
            .map(|(k, t)| {
                (
                    k.replace("LayerNorm.gamma", "LayerNorm.weight")
                        .replace("LayerNorm.beta", "LayerNorm.bias"),
                    t,
                )
            })
            .collect();
        let prefix = format!("{}.", self.arch.prefix());
        let prefixed = ckpt.keys().any(|k| k.starts_with(&prefix));
        let mut missing = vec![];
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        tch::no_grad(|| -> Result<()> {
            for (name, mut var) in vars {
                let key = if prefixed {
                    name.as_str()
                } else {
                    name.strip_prefix(&prefix).unwrap_or(&name)
                };
                let place = self.place(&name);
                let optional = matches!(place, Place::Head | Place::Pooler);
                match ckpt.remove(key) {
                    Some(t) if t.size() == var.size() => {
                        var.copy_(&t);
                        report.loaded += 1;
                    }
                    Some(t) if optional => {
                        report.initialized.push(format!(
                            "{name} (checkpoint shape {:?}, model {:?})",
                            t.size(),
                            var.size()
                        ));
                    }
                    Some(t) => bail!(
                        "{name} has shape {:?} in the checkpoint but the config implies {:?}",
                        t.size(),
                        var.size()
                    ),
                    None if optional => report.initialized.push(name),
                    None => missing.push(name),
                }
            }
            Ok(())
        })?;
        if !missing.is_empty() {
            bail!(
                "{} lacks {} encoder weights (e.g. {}); is it a {} checkpoint matching its config.json?",
                label,
                missing.len(),
                missing[..missing.len().min(3)].join(", "),
                self.config.model_type
            );
        }
        // A pooler this head does not use goes back out with the encoder (mean, attention);
        // DeBERTa's ContextPooler is the classifier's, not the encoder's.
        let mut carried: Vec<(String, Tensor)> = ckpt
            .iter()
            .filter_map(|(k, t)| {
                let name = k.strip_prefix(&prefix).unwrap_or(k);
                (self.arch.base_pooler() && name.starts_with("pooler."))
                    .then(|| (name.to_string(), t.to_device(Device::Cpu)))
            })
            .collect();
        carried.sort_by(|a, b| a.0.cmp(&b.0));
        self.carried = carried;
        report.unused.extend(ckpt.into_keys());
        report.unused.sort();
        Ok(())
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn encode(&self, texts: &[String], pairs: Option<&[String]>) -> Result<Vec<Encoded>> {
        self.tokenizer.encode(texts, pairs)
    }

    pub fn collate(&self, examples: &[&Encoded]) -> Batch {
        collate(examples, self.tokenizer.pad_id(), self.device())
    }

    pub fn hidden_states(&self, batch: &Batch, train: bool) -> Tensor {
        self.encoder.forward(
            &batch.input_ids,
            &batch.attention_mask,
            &batch.token_type_ids,
            train,
        )
    }

    /// Logits [batch, num_labels].
    pub fn forward(&self, batch: &Batch, train: bool) -> Tensor {
        let hidden = self.hidden_states(batch, train);
        self.head.forward(&hidden, &batch.attention_mask, train)
    }

    /// Logits for every example, in input order, computed in batches of similar lengths (sorted
    /// longest first, so padding is minimal), in inference mode.
    pub fn predict(&self, examples: &[&Encoded], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(examples[i].ids.len()));
        let mut out = vec![vec![]; examples.len()];
        let _cache = crate::cpu_cache::Scope::enter(); // batches reuse each other's memory
                                                       // Inference mode: no autograd bookkeeping at all (cheaper than no_grad).
        crate::foreach::inference_mode(|| -> Result<()> {
            for chunk in order.chunks(batch_size.max(1)) {
                let batch = self.collate(&chunk.iter().map(|&i| examples[i]).collect::<Vec<_>>());
                let logits = self
                    .forward(&batch, false)
                    .to_kind(Kind::Float)
                    .to_device(Device::Cpu);
                let rows: Vec<Vec<f32>> = Vec::try_from(&logits)?;
                for (&i, row) in chunk.iter().zip(rows) {
                    out[i] = row;
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Writes a Hugging Face folder in the layout that loads the standard way for the head
    /// (see `layout`): config.json, model.safetensors, the tokenizer files, ftune.json (our
    /// pooling and length), and for mean pooling the sentence-transformers modules. The folder
    /// is written beside `dir` and renamed into place: a failure leaves `dir` as it was.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::atomic::write_dir(dir, |staging| self.write_folder(staging))
    }

    fn write_folder(&self, dir: &Path) -> Result<()> {
        let prefix = format!("{}.", self.arch.prefix());
        let mut encoder: Vec<(String, Tensor)> = vec![];
        let mut head: Vec<(String, Tensor)> = vec![];
        for (name, t) in self.vs.variables() {
            let t = t
                .detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous();
            match (self.head.pooling, self.place(&name)) {
                // transformers' own names for *ForSequenceClassification, pooler included.
                (Pooling::Cls, _) => encoder.push((name, t)),
                (_, Place::Head | Place::Pooler) => head.push((name, t)),
                // The encoder as `AutoModel` saves it: without the `bert.` prefix.
                _ => encoder.push((name.strip_prefix(&prefix).unwrap_or(&name).to_string(), t)),
            }
        }
        if self.head.pooling != Pooling::Cls {
            encoder.extend(
                self.carried
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_kind(Kind::Float))),
            );
            // BertModel, RobertaModel and MPNetModel have a pooler, which these heads never
            // use. Without one in the file, AutoModel (and so sentence-transformers) reports it
            // MISSING and initializes it at random; zeros say as plainly that it is not part of
            // the model.
            if self.carried.is_empty() && self.arch.base_pooler() {
                let h = self.config.hidden_size;
                encoder.push((
                    "pooler.dense.weight".into(),
                    Tensor::zeros([h, h], (Kind::Float, Device::Cpu)),
                ));
                encoder.push((
                    "pooler.dense.bias".into(),
                    Tensor::zeros([h], (Kind::Float, Device::Cpu)),
                ));
            }
        }
        encoder.sort_by(|a, b| a.0.cmp(&b.0));
        head.sort_by(|a, b| a.0.cmp(&b.0));
        Tensor::write_safetensors(&encoder, dir.join("model.safetensors"))?;
        match self.head.pooling {
            Pooling::Cls => {}
            Pooling::Mean => {
                let find = |name: &str| {
                    head.iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, t)| t)
                        .with_context(|| format!("the mean head has no {name}"))
                };
                layout::write_sentence_transformers(
                    dir,
                    self.config.hidden_size,
                    self.max_length,
                    find("head.out.weight")?,
                    find("head.out.bias")?,
                )?;
            }
            Pooling::Attention => {
                Tensor::write_safetensors(&head, dir.join(layout::HEAD_FILE))?;
            }
        }
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(&self.export_config())?,
        )?;
        let meta = FtuneMeta {
            pooling: Some(self.head.pooling),
            max_length: Some(self.max_length),
        };
        std::fs::write(dir.join(FTUNE_META), serde_json::to_string_pretty(&meta)?)?;
        for f in TOKENIZER_FILES {
            let src = self.source_dir.join(f);
            if src.exists() {
                std::fs::copy(&src, dir.join(f)).with_context(|| format!("cannot copy {f}"))?;
            }
        }
        Ok(())
    }

    fn export_config(&self) -> serde_json::Value {
        let mut config = self.config.to_hf_json();
        let labels: Vec<String> = if self.labels.is_empty() {
            (0..self.num_labels).map(|i| format!("LABEL_{i}")).collect()
        } else {
            self.labels.clone()
        };
        let obj = config.as_object_mut().expect("config is an object");
        // Only cls is a transformers head; mean and attention folders hold the encoder alone.
        let class = if self.head.pooling == Pooling::Cls {
            self.arch.classifier_class()
        } else {
            self.arch.base_class()
        };
        obj.insert("architectures".into(), serde_json::json!([class]));
        obj.insert(
            "id2label".into(),
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), serde_json::json!(l)))
                .collect(),
        );
        obj.insert(
            "label2id".into(),
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), serde_json::json!(i)))
                .collect(),
        );
        let problem = if self.num_labels == 1 {
            "regression"
        } else {
            "single_label_classification"
        };
        obj.insert("problem_type".into(), serde_json::json!(problem));
        config
    }

    pub fn parameter_count(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }
}

fn check_probability(what: &str, p: f64) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        bail!("{what} must be in [0, 1), got {p}");
    }
    Ok(())
}
