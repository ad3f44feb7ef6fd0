//! ModernBERT as transformers 5 runs it (`modeling_modernbert.py`, its eager/SDPA path over
//! padded batches, not the unpadded flash-attention one), with transformers' names:
//!
//! `model.embeddings.{tok_embeddings,norm}` (no position embeddings: rotary instead), pre-norm
//! layers `model.layers.<i>.{attn_norm,attn.Wqkv,attn.Wo,mlp_norm,mlp.Wi,mlp.Wo}` (layer 0 has
//! no `attn_norm`: it is an Identity there), `model.final_norm`; the sequence classifier's
//! `head.{dense,norm}` and `classifier`. Attention alternates global and local (a window of
//! `local_attention` tokens) per `layer_types` or `global_attn_every_n_layers`, each kind with its
//! own rotary base. Biases and norm biases exist only when the config's `*_bias` flags say so.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::dropout::Dropout as _;
use crate::encoder::Activation;
use crate::hf_config::HfConfig;
use crate::model::Place;

/// The `config.json` fields ModernBERT reads, with transformers' defaults. Both the hub's style
/// (`global_rope_theta`, `local_rope_theta`, `global_attn_every_n_layers`) and transformers 5's
/// (`layer_types`, `rope_parameters`) are read; the latter wins, as in `ModernBertConfig`.
#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    hidden_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    intermediate_size: i64,
    vocab_size: i64,
    #[serde(default = "gelu")]
    hidden_activation: String,
    #[serde(default = "norm_eps")]
    norm_eps: f64,
    #[serde(default)]
    norm_bias: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    classifier_bias: bool,
    #[serde(default = "gelu")]
    classifier_activation: String,
    #[serde(default = "cls")]
    classifier_pooling: String,
    #[serde(default)]
    embedding_dropout: f64,
    #[serde(default)]
    attention_dropout: f64,
    #[serde(default)]
    mlp_dropout: f64,
    #[serde(default = "local_attention")]
    local_attention: i64,
    #[serde(default = "every_n")]
    global_attn_every_n_layers: i64,
    #[serde(default)]
    layer_types: Option<Vec<String>>,
    #[serde(default)]
    rope_parameters: Option<BTreeMap<String, Option<RopeParameters>>>,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    global_rope_theta: Option<f64>,
    #[serde(default)]
    local_rope_theta: Option<f64>,
    #[serde(default = "init_range")]
    initializer_range: f64,
    #[serde(default)]
    initializer_cutoff_factor: Option<f64>,
    #[serde(default)]
    pad_token_id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
struct RopeParameters {
    #[serde(default)]
    rope_type: Option<String>,
    #[serde(default)]
    rope_theta: Option<f64>,
}

fn gelu() -> String {
    "gelu".into()
}
fn cls() -> String {
    "cls".into()
}
fn norm_eps() -> f64 {
    1e-5
}
fn local_attention() -> i64 {
    128
}
fn every_n() -> i64 {
    3
}
fn init_range() -> f64 {
    0.02
}

/// ModernBERT's settings, resolved: which layers attend globally, each kind's rotary base.
#[derive(Debug, Clone)]
pub struct ModernBertConfig {
    pub hidden: i64,
    pub layers: i64,
    pub heads: i64,
    pub intermediate: i64,
    pub vocab: i64,
    pub activation: Activation,
    pub norm_eps: f64,
    pub norm_bias: bool,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub classifier_bias: bool,
    pub classifier_activation: Activation,
    /// The classifier pools the mean of the tokens (`classifier_pooling: mean`), else token 0.
    pub mean_pooling: bool,
    /// Per layer: global attention (`full_attention`), else local (`sliding_attention`).
    pub global: Vec<bool>,
    /// A local layer's query attends to keys at most this many positions away
    /// (`local_attention // 2`, transformers' `sliding_window`).
    pub half_window: i64,
    pub global_theta: f64,
    pub local_theta: f64,
    pub init_range: f64,
    pub cutoff: f64,
    pub pad_id: i64,
    pub dropout: Dropout,
}

/// Dropout probabilities inside the encoder, as ModernBERT names them.
#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    pub embedding: f64,
    /// On the attention probabilities and after `attn.Wo`.
    pub attention: f64,
    pub mlp: f64,
}

impl ModernBertConfig {
    pub fn from_hf(config: &HfConfig) -> Result<Self> {
        let value = serde_json::to_value(config)?;
        let raw: RawConfig =
            serde_json::from_value(value).context("not a valid ModernBERT config.json")?;
        let layers = raw.num_hidden_layers;
        let global = match &raw.layer_types {
            Some(types) => {
                if types.len() as i64 != layers {
                    bail!(
                        "layer_types has {} entries but num_hidden_layers is {layers}",
                        types.len()
                    );
                }
                types
                    .iter()
                    .map(|t| match t.as_str() {
                        "full_attention" => Ok(true),
                        "sliding_attention" => Ok(false),
                        other => bail!(
                            "layer_types: '{other}' is not full_attention or sliding_attention"
                        ),
                    })
                    .collect::<Result<Vec<bool>>>()?
            }
            None => {
                let n = raw.global_attn_every_n_layers;
                if n < 1 {
                    bail!("global_attn_every_n_layers must be at least 1, got {n}");
                }
                (0..layers).map(|i| i % n == 0).collect()
            }
        };
        if raw.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            bail!("ModernBERT with rope_scaling is not supported (only the default rotary embeddings)");
        }
        let rope = |kind: &str, old: Option<f64>, default: f64| -> Result<f64> {
            let params = raw
                .rope_parameters
                .as_ref()
                .and_then(|p| p.get(kind).cloned().flatten());
            if let Some(t) = params.as_ref().and_then(|p| p.rope_type.as_deref()) {
                if t != "default" {
                    bail!("ModernBERT with rope_type '{t}' is not supported (only the default rotary embeddings)");
                }
            }
            Ok(params.and_then(|p| p.rope_theta).or(old).unwrap_or(default))
        };
        if raw.classifier_pooling != "cls" && raw.classifier_pooling != "mean" {
            bail!(
                "classifier_pooling '{}' is not cls or mean",
                raw.classifier_pooling
            );
        }
        Ok(Self {
            hidden: raw.hidden_size,
            layers,
            heads: raw.num_attention_heads,
            intermediate: raw.intermediate_size,
            vocab: raw.vocab_size,
            activation: Activation::parse(&raw.hidden_activation)?,
            norm_eps: raw.norm_eps,
            norm_bias: raw.norm_bias,
            attention_bias: raw.attention_bias,
            mlp_bias: raw.mlp_bias,
            classifier_bias: raw.classifier_bias,
            classifier_activation: Activation::parse(&raw.classifier_activation)?,
            mean_pooling: raw.classifier_pooling == "mean",
            global,
            half_window: raw.local_attention / 2,
            global_theta: rope("full_attention", raw.global_rope_theta, 160_000.0)?,
            local_theta: rope("sliding_attention", raw.local_rope_theta, 10_000.0)?,
            init_range: raw.initializer_range,
            cutoff: raw.initializer_cutoff_factor.unwrap_or(2.0),
            pad_id: raw.pad_token_id.unwrap_or(-1),
            dropout: Dropout {
                embedding: raw.embedding_dropout,
                attention: raw.attention_dropout,
                mlp: raw.mlp_dropout,
            },
        })
    }

    /// transformers' init stds: `Wqkv`, `Wi`, embeddings; the output projections; the classifier.
    fn std_in(&self) -> f64 {
        self.init_range
    }
    fn std_out(&self) -> f64 {
        self.init_range / (2.0 * self.layers as f64).sqrt()
    }
    fn std_final(&self) -> f64 {
        (self.hidden as f64).powf(-0.5)
    }
}

/// `torch.nn.init.trunc_normal_(t, 0, std, -cutoff·std, cutoff·std)`, torch's algorithm:
/// uniform between the bounds' CDFs, through the inverse error function, clamped.
fn trunc_normal_(t: &mut Tensor, std: f64, cutoff: f64) {
    let cdf = |x: f64| {
        let erf = Tensor::from_slice(&[x / std::f64::consts::SQRT_2])
            .erf()
            .double_value(&[0]);
        (1.0 + erf) / 2.0
    };
    let (lo, hi) = (cdf(-cutoff), cdf(cutoff));
    tch::no_grad(|| {
        let _ = t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0);
        let _ = t.erfinv_();
        let _ = t.g_mul_scalar_(std * std::f64::consts::SQRT_2);
        let _ = t.clamp_(-cutoff * std, cutoff * std);
    });
}

/// A Linear initialized as ModernBERT's `init_weight`: truncated normal weights, zero bias.
fn linear(p: nn::Path, inputs: i64, outputs: i64, bias: bool, std: f64, cutoff: f64) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        bs_init: Some(nn::Init::Const(0.0)),
        bias,
    };
    let mut l = nn::linear(p, inputs, outputs, config);
    trunc_normal_(&mut l.ws, std, cutoff);
    l
}

/// LayerNorm whose bias exists only with `norm_bias` (tch's LayerNorm always has one).
#[derive(Debug)]
pub struct Norm {
    weight: Tensor,
    bias: Option<Tensor>,
    size: i64,
    eps: f64,
}

impl Norm {
    fn new(p: nn::Path, size: i64, config: &ModernBertConfig) -> Self {
        Self {
            weight: p.var("weight", &[size], nn::Init::Const(1.0)),
            bias: config
                .norm_bias
                .then(|| p.var("bias", &[size], nn::Init::Const(0.0))),
            size,
            eps: config.norm_eps,
        }
    }
}

impl Module for Norm {
    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.layer_norm(
            [self.size],
            Some(&self.weight),
            self.bias.as_ref(),
            self.eps,
            true,
        )
    }
}

struct Layer {
    /// None in layer 0, where transformers has an Identity.
    attn_norm: Option<Norm>,
    wqkv: nn::Linear,
    attn_wo: nn::Linear,
    mlp_norm: Norm,
    wi: nn::Linear,
    mlp_wo: nn::Linear,
    global: bool,
}

pub struct ModernBertModel {
    pub config: ModernBertConfig,
    tok_embeddings: nn::Embedding,
    norm: Norm,
    layers: Vec<Layer>,
    final_norm: Norm,
    pub dropout: Dropout,
}

/// Per-forward inputs every layer of one kind shares: rotary cos/sin and the boolean mask
/// (true = may attend), None when SDPA needs none.
struct Attend {
    cos: Tensor,
    sin: Tensor,
    mask: Option<Tensor>,
}

impl ModernBertModel {
    /// Creates the variables under `root/model`, initialized as transformers would.
    pub fn new(root: &nn::Path, config: &HfConfig) -> Result<Self> {
        let c = ModernBertConfig::from_hf(config)?;
        let p = root / "model";
        let (h, cut) = (c.hidden, c.cutoff);
        let e = &p / "embeddings";
        let mut tok_embeddings = nn::embedding(
            &e / "tok_embeddings",
            c.vocab,
            h,
            nn::EmbeddingConfig {
                ws_init: nn::Init::Const(0.0),
                padding_idx: if (0..c.vocab).contains(&c.pad_id) {
                    c.pad_id
                } else {
                    -1
                },
                ..Default::default()
            },
        );
        trunc_normal_(&mut tok_embeddings.ws, c.std_in(), cut);
        let layers = (0..c.layers)
            .map(|i| {
                let l = &p / "layers" / i;
                Layer {
                    attn_norm: (i > 0).then(|| Norm::new(&l / "attn_norm", h, &c)),
                    wqkv: linear(
                        &l / "attn" / "Wqkv",
                        h,
                        3 * h,
                        c.attention_bias,
                        c.std_in(),
                        cut,
                    ),
                    attn_wo: linear(&l / "attn" / "Wo", h, h, c.attention_bias, c.std_out(), cut),
                    mlp_norm: Norm::new(&l / "mlp_norm", h, &c),
                    wi: linear(
                        &l / "mlp" / "Wi",
                        h,
                        2 * c.intermediate,
                        c.mlp_bias,
                        c.std_in(),
                        cut,
                    ),
                    mlp_wo: linear(
                        &l / "mlp" / "Wo",
                        c.intermediate,
                        h,
                        c.mlp_bias,
                        c.std_out(),
                        cut,
                    ),
                    global: c.global[i as usize],
                }
            })
            .collect();
        Ok(Self {
            tok_embeddings,
            norm: Norm::new(&e / "norm", h, &c),
            layers,
            final_norm: Norm::new(&p / "final_norm", h, &c),
            dropout: c.dropout,
            config: c,
        })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Overrides every dropout inside the encoder.
    pub fn set_dropout(&mut self, p: f64) {
        self.dropout = Dropout {
            embedding: p,
            attention: p,
            mlp: p,
        };
    }

    /// Rotary cos/sin [1, seq, head_dim] for base `theta`, computed as transformers does (fp32,
    /// `1 / theta^(arange(0, d, 2) / d)`), then in `kind`.
    fn rotary(&self, theta: f64, seq: i64, kind: Kind, device: tch::Device) -> (Tensor, Tensor) {
        let dim = self.config.hidden / self.config.heads;
        let exponents = Tensor::arange_start_step(0, dim, 2, (Kind::Float, device)) / dim;
        let inv_freq = Tensor::pow_scalar(theta, &exponents).reciprocal();
        let positions = Tensor::arange(seq, (Kind::Int64, device))
            .unsqueeze(0)
            .to_kind(Kind::Float);
        let freqs = positions.unsqueeze(-1) * inv_freq;
        let emb = Tensor::cat(&[&freqs, &freqs], -1);
        (emb.cos().to_kind(kind), emb.sin().to_kind(kind))
    }

    /// Last hidden states [batch, seq, hidden] (after `final_norm`) for a right-padded batch.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor, train: bool) -> Tensor {
        let mut xs = self
            .norm
            .forward(&self.tok_embeddings.forward(input_ids))
            .dropped_out(self.dropout.embedding, train);
        let (batch, seq) = input_ids.size2().unwrap();
        let device = xs.device();
        // transformers' masks for SDPA: keys that are padding are masked; local layers also mask
        // keys more than half a window away. Without padding the global mask is dropped, and the
        // local one too while the sequence is shorter than the half window, as transformers does.
        let padded = attention_mask.min().int64_value(&[]) == 0;
        let keys = attention_mask
            .to_kind(Kind::Bool)
            .view([batch, 1, 1, seq])
            .expand([batch, 1, seq, seq], true);
        let global_mask = padded.then(|| keys.shallow_clone());
        let half = self.config.half_window;
        let local_mask = (padded || seq >= half).then(|| {
            let at = Tensor::arange(seq, (Kind::Int64, device));
            let near = (at.unsqueeze(1) - at.unsqueeze(0)).abs().le(half);
            keys.logical_and(&near.view([1, 1, seq, seq]))
        });
        let kind = xs.kind();
        let attend = |theta: f64, mask: Option<Tensor>| {
            let (cos, sin) = self.rotary(theta, seq, kind, device);
            Attend { cos, sin, mask }
        };
        let global = attend(self.config.global_theta, global_mask);
        let local = attend(self.config.local_theta, local_mask);
        for layer in &self.layers {
            let a = if layer.global { &global } else { &local };
            xs = self.layer_forward(layer, &xs, a, train);
        }
        self.final_norm.forward(&xs)
    }

    fn layer_forward(&self, l: &Layer, xs: &Tensor, a: &Attend, train: bool) -> Tensor {
        let (b, s, h) = xs.size3().unwrap();
        let heads = self.config.heads;
        let d = h / heads;
        let normed = match &l.attn_norm {
            Some(norm) => norm.forward(xs),
            None => xs.shallow_clone(),
        };
        // Wqkv's output is [q | k | v], each heads × head_dim.
        let qkv = l.wqkv.forward(&normed).view([b, s, 3, heads, d]);
        let part = |i: i64| qkv.select(2, i).transpose(1, 2);
        let (q, k, v) = (part(0), part(1), part(2));
        let (q, k) = (rotate(&q, &a.cos, &a.sin), rotate(&k, &a.cos, &a.sin));
        let p = if train { self.dropout.attention } else { 0.0 };
        let scale = (d as f64).powf(-0.5);
        let ctx = Tensor::scaled_dot_product_attention(
            &q,
            &k,
            &v,
            a.mask.as_ref(),
            p,
            false,
            scale,
            false,
        );
        let ctx = ctx.transpose(1, 2).reshape([b, s, h]);
        let attended = xs
            + l.attn_wo
                .forward(&ctx)
                .dropped_out(self.dropout.attention, train);
        let inner = l.wi.forward(&l.mlp_norm.forward(&attended));
        let halves = inner.chunk(2, -1);
        let gated = self.config.activation.apply(&halves[0]) * &halves[1];
        let out = l
            .mlp_wo
            .forward(&gated.dropped_out(self.dropout.mlp, train));
        attended + out
    }

    /// Redraws one variable as transformers' `_init_weights` does (truncated normals, norms
    /// 1 and 0, biases 0); false for `final_norm`, which belongs to no layer and is left alone.
    pub fn reinit_variable(&self, name: &str, var: &mut Tensor) -> bool {
        let c = &self.config;
        if name.starts_with("model.final_norm.") {
            return false;
        }
        tch::no_grad(|| {
            if name.ends_with("norm.weight") {
                let _ = var.fill_(1.0);
            } else if name.ends_with(".bias") {
                let _ = var.fill_(0.0);
            } else if name.ends_with("Wo.weight") || name == "head.dense.weight" {
                trunc_normal_(var, c.std_out(), c.cutoff);
            } else {
                trunc_normal_(var, c.std_in(), c.cutoff);
            }
        });
        true
    }
}

/// `apply_rotary_pos_emb`: x·cos + rotate_half(x)·sin in fp32, back in x's dtype.
fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let kind = x.kind();
    let x = x.to_kind(Kind::Float);
    let half = x.size().last().copied().unwrap_or(0) / 2;
    let rotated = Tensor::cat(&[-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
    let (cos, sin) = (cos.unsqueeze(1), sin.unsqueeze(1));
    (x * cos + rotated * sin).to_kind(kind)
}

/// Where ModernBERT's own names sit, beyond `model.embeddings` and `model.layers.<i>`:
/// `final_norm` with the top layer (it normalizes that layer's output; LLRD gives it the top
/// layer's rate), the classifier's pretrained `head.dense` / `head.norm` (also in masked-LM
/// checkpoints) as the pooler. None: the generic rules apply.
pub fn place(name: &str, num_layers: usize) -> Option<Place> {
    if name.starts_with("model.final_norm.") {
        Some(Place::Layer(num_layers.saturating_sub(1)))
    } else if name.starts_with("head.dense.") || name.starts_with("head.norm.") {
        Some(Place::Pooler)
    } else {
        None
    }
}

/// `ModernBertForSequenceClassification`'s head: token 0 or the masked mean (the config's
/// `classifier_pooling`) → `head.dense` → activation → `head.norm` → dropout → `classifier`.
pub struct ClassificationHead {
    dense: nn::Linear,
    norm: Norm,
    classifier: nn::Linear,
    activation: Activation,
    mean_pooling: bool,
}

impl ClassificationHead {
    pub fn new(root: &nn::Path, config: &HfConfig, num_labels: i64) -> Result<Self> {
        let c = ModernBertConfig::from_hf(config)?;
        let h = c.hidden;
        let mut classifier = nn::linear(
            root / "classifier",
            h,
            num_labels,
            nn::LinearConfig {
                ws_init: nn::Init::Const(0.0),
                bs_init: Some(nn::Init::Const(0.0)),
                bias: true,
            },
        );
        trunc_normal_(&mut classifier.ws, c.std_final(), c.cutoff);
        Ok(Self {
            dense: linear(
                root / "head" / "dense",
                h,
                h,
                c.classifier_bias,
                c.std_out(),
                c.cutoff,
            ),
            norm: Norm::new(root / "head" / "norm", h, &c),
            classifier,
            activation: c.classifier_activation,
            mean_pooling: c.mean_pooling,
        })
    }

    pub fn forward(
        &self,
        hidden: &Tensor,
        attention_mask: &Tensor,
        dropout: f64,
        train: bool,
    ) -> Tensor {
        let pooled = if self.mean_pooling {
            let mask = attention_mask.to_kind(hidden.kind());
            let summed = (hidden * mask.unsqueeze(-1)).sum_dim_intlist(1, false, hidden.kind());
            summed / mask.sum_dim_intlist(1, true, hidden.kind())
        } else {
            hidden.select(1, 0)
        };
        let x = self
            .norm
            .forward(&self.activation.apply(&self.dense.forward(&pooled)));
        self.classifier.forward(&x.dropped_out(dropout, train))
    }
}
