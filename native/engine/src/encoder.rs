//! The BERT-family encoder (BERT, RoBERTa, DistilBERT, ELECTRA) with Hugging Face parameter names.
//!
//! Variables live under `<prefix>.embeddings...` and `<prefix>.encoder.layer.<i>...` (DistilBERT:
//! `<prefix>.transformer.layer.<i>...`), exactly as in transformers checkpoints, so loading and
//! saving need no mapping tables. They share one post-LayerNorm block; DistilBERT has no
//! token types and no dropout after the attention's output projection; ELECTRA's embeddings
//! may be narrower than its hidden size, then `<prefix>.embeddings_project` widens them.
//! The other families live in `encoders/`.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::dropout::Dropout as _;
use crate::hf_config::{Arch, HfConfig};

/// transformers' `_init_weights` for Linear: N(0, initializer_range) weights, zero bias.
pub fn hf_linear(p: nn::Path, inputs: i64, outputs: i64, init_range: f64) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: init_range,
        },
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, inputs, outputs, config)
}

/// Embedding weights ~ N(0, initializer_range), as transformers' `_init_weights` draws them.
pub(crate) fn hf_embedding_config(init_range: f64) -> nn::EmbeddingConfig {
    nn::EmbeddingConfig {
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: init_range,
        },
        ..Default::default()
    }
}

pub(crate) fn hf_layer_norm(p: nn::Path, size: i64, eps: f64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![size],
        nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

#[derive(Debug, Clone, Copy)]
pub enum Activation {
    Gelu,
    GeluTanh,
    Relu,
    Silu,
    /// DeBERTa's `pooler_hidden_act` in some checkpoints.
    Tanh,
}

impl Activation {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "gelu" => Self::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Self::GeluTanh,
            "relu" => Self::Relu,
            "silu" | "swish" => Self::Silu,
            "tanh" => Self::Tanh,
            other => {
                anyhow::bail!(
                    "activation '{other}' is not supported (gelu, gelu_new, relu, silu, tanh)"
                )
            }
        })
    }

    pub fn apply(self, xs: &Tensor) -> Tensor {
        match self {
            Self::Gelu => xs.gelu("none"),
            Self::GeluTanh => xs.gelu("tanh"),
            Self::Relu => xs.relu(),
            Self::Silu => xs.silu(),
            Self::Tanh => xs.tanh(),
        }
    }
}

/// Dropout probabilities inside the encoder (overridable: 0 is common for regression).
#[derive(Debug, Clone, Copy)]
pub struct EncoderDropout {
    pub hidden: f64,
    pub attention: f64,
}

impl EncoderDropout {
    /// The config's `hidden_dropout_prob` and `attention_probs_dropout_prob`.
    pub(crate) fn of(config: &HfConfig) -> Self {
        Self {
            hidden: config.hidden_dropout_prob,
            attention: config.attention_probs_dropout_prob,
        }
    }
}

struct Embeddings {
    word: nn::Embedding,
    position: nn::Embedding,
    /// None for DistilBERT.
    token_type: Option<nn::Embedding>,
    layer_norm: nn::LayerNorm,
    /// ELECTRA's `embeddings_project` when embedding_size differs from hidden_size.
    project: Option<nn::Linear>,
}

/// Each block's sub-modules, as paths under `<prefix>.<layers>.<i>`, in the order of `Layer`'s
/// fields: query, key, value, attention output, its norm, intermediate, output, its norm.
const BERT_BLOCK: [&str; 8] = [
    "attention/self/query",
    "attention/self/key",
    "attention/self/value",
    "attention/output/dense",
    "attention/output/LayerNorm",
    "intermediate/dense",
    "output/dense",
    "output/LayerNorm",
];
const DISTILBERT_BLOCK: [&str; 8] = [
    "attention/q_lin",
    "attention/k_lin",
    "attention/v_lin",
    "attention/out_lin",
    "sa_layer_norm",
    "ffn/lin1",
    "ffn/lin2",
    "output_layer_norm",
];

/// `p / "a" / "b"` for the path "a/b".
pub(crate) fn sub<'a>(p: &nn::Path<'a>, path: &str) -> nn::Path<'a> {
    let mut parts = path.split(['/', '.']);
    let first = parts.next().unwrap_or_default();
    parts.fold(p / first, |p, part| p / part)
}

struct Layer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attention_out: nn::Linear,
    attention_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_norm: nn::LayerNorm,
}

pub struct Encoder {
    pub arch: Arch,
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: i64,
    pad_id: i64,
    activation: Activation,
    pub dropout: EncoderDropout,
}

impl Encoder {
    /// Creates the variables under `root/<prefix>`, initialized as transformers would.
    pub fn new(root: &nn::Path, config: &HfConfig) -> anyhow::Result<Self> {
        let arch = config.arch()?;
        let p = root / arch.prefix();
        let (h, r, eps) = (
            config.hidden_size,
            config.initializer_range,
            config.layer_norm_eps,
        );
        let emb_cfg = hf_embedding_config(r);
        let e = &p / "embeddings";
        let width = match arch {
            Arch::Electra => config.extra_i64("embedding_size").unwrap_or(h),
            _ => h,
        };
        let embeddings = Embeddings {
            word: nn::embedding(&e / "word_embeddings", config.vocab_size, width, emb_cfg),
            position: nn::embedding(
                &e / "position_embeddings",
                config.max_position_embeddings,
                width,
                emb_cfg,
            ),
            token_type: (arch != Arch::DistilBert).then(|| {
                nn::embedding(
                    &e / "token_type_embeddings",
                    config.type_vocab_size,
                    width,
                    emb_cfg,
                )
            }),
            layer_norm: hf_layer_norm(&e / "LayerNorm", width, eps),
            project: (width != h).then(|| hf_linear(&p / "embeddings_project", width, h, r)),
        };
        let block = if arch == Arch::DistilBert {
            DISTILBERT_BLOCK
        } else {
            BERT_BLOCK
        };
        let inter = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = sub(&p, arch.layers_path()) / i;
                Layer {
                    query: hf_linear(sub(&l, block[0]), h, h, r),
                    key: hf_linear(sub(&l, block[1]), h, h, r),
                    value: hf_linear(sub(&l, block[2]), h, h, r),
                    attention_out: hf_linear(sub(&l, block[3]), h, h, r),
                    attention_norm: hf_layer_norm(sub(&l, block[4]), h, eps),
                    intermediate: hf_linear(sub(&l, block[5]), h, inter, r),
                    output: hf_linear(sub(&l, block[6]), inter, h, r),
                    output_norm: hf_layer_norm(sub(&l, block[7]), h, eps),
                }
            })
            .collect();
        Ok(Self {
            arch,
            embeddings,
            layers,
            heads: config.num_attention_heads,
            pad_id: config.pad_id(),
            activation: Activation::parse(&config.hidden_act)?,
            dropout: EncoderDropout::of(config),
        })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Position ids as transformers makes them: 0.. for BERT; for RoBERTa, padding_idx + 1
    /// onwards over real tokens and padding_idx on padding.
    fn position_ids(&self, input_ids: &Tensor) -> Tensor {
        let (batch, seq) = input_ids.size2().unwrap();
        match self.arch {
            Arch::Bert | Arch::DistilBert | Arch::Electra | Arch::ModernBert => {
                Tensor::arange(seq, (Kind::Int64, input_ids.device()))
                    .unsqueeze(0)
                    .expand([batch, seq], true)
            }
            Arch::Roberta => {
                let mask = input_ids.ne(self.pad_id).to_kind(Kind::Int64);
                mask.cumsum(1, Kind::Int64) * &mask + self.pad_id
            }
            Arch::Mpnet | Arch::DebertaV2 => unreachable!("not a BERT-block encoder"),
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
        let e = &self.embeddings;
        let mut xs = e.word.forward(input_ids) + e.position.forward(&self.position_ids(input_ids));
        if let Some(token_type) = &e.token_type {
            xs += token_type.forward(token_type_ids);
        }
        let mut xs = e
            .layer_norm
            .forward(&xs)
            .dropped_out(self.dropout.hidden, train);
        if let Some(project) = &e.project {
            xs = project.forward(&xs);
        }
        // Additive mask, as transformers builds it: 0 where a key is a token, the dtype's
        // lowest value where it is padding. Padded queries still attend to the real keys.
        // A batch without padding needs no mask, which lets SDPA pick its fused kernels.
        let kind = xs.kind();
        let padded = attention_mask.min().int64_value(&[]) == 0;
        let mask = padded
            .then(|| (1.0 - attention_mask.to_kind(kind).unsqueeze(1).unsqueeze(1)) * lowest(kind));
        for layer in &self.layers {
            xs = self.layer_forward(layer, &xs, mask.as_ref(), train);
        }
        xs
    }

    fn layer_forward(&self, l: &Layer, xs: &Tensor, mask: Option<&Tensor>, train: bool) -> Tensor {
        let p = if train { self.dropout.attention } else { 0.0 };
        let ctx = multi_head_attention(
            &l.query.forward(xs),
            &l.key.forward(xs),
            &l.value.forward(xs),
            self.heads,
            mask,
            p,
        );
        let mut projected = l.attention_out.forward(&ctx);
        if self.arch != Arch::DistilBert {
            projected = projected.dropped_out(self.dropout.hidden, train);
        }
        let attended = l.attention_norm.forward(&(projected + xs));
        let inner = self.activation.apply(&l.intermediate.forward(&attended));
        l.output_norm.forward(
            &(l.output
                .forward(&inner)
                .dropped_out(self.dropout.hidden, train)
                + attended),
        )
    }
}

/// Multi-head attention over [batch, seq, hidden] projections: split into `heads`, SDPA (a
/// float `mask` is added after scaling; `dropout` on the probabilities), heads merged back.
pub(crate) fn multi_head_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: i64,
    mask: Option<&Tensor>,
    dropout: f64,
) -> Tensor {
    let (b, s, h) = q.size3().unwrap();
    let split = |t: &Tensor| t.view([b, s, heads, h / heads]).transpose(1, 2);
    let (q, k, v) = (split(q), split(k), split(v));
    let ctx = if dropout > 0.0 && q.device() == Device::Cpu {
        attention_math(&q, &k, &v, mask, dropout)
    } else {
        Tensor::scaled_dot_product_attention(&q, &k, &v, mask, dropout, false, None, false)
    };
    ctx.transpose(1, 2).reshape([b, s, h])
}

/// What scaled_dot_product_attention computes on the CPU when there is dropout (it has no
/// fused kernel for that and runs its math path): the same operations, in float32 for
/// half/bf16 inputs as that path does, with the parallel dropout mask.
fn attention_math(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, p: f64) -> Tensor {
    let kind = q.kind();
    let acc = |t: &Tensor| match kind {
        Kind::Half | Kind::BFloat16 => t.to_kind(Kind::Float),
        _ => t.shallow_clone(),
    };
    // 1/sqrt(head size), applied as its square root to both sides, as the math path does.
    let scale = (1.0 / (q.size()[3] as f64).sqrt()).sqrt();
    let mut scores = (acc(q) * scale).matmul(&(acc(k).transpose(-2, -1) * scale));
    if let Some(m) = mask {
        scores += m;
    }
    let probs = scores.softmax(-1, None::<Kind>).dropped_out(p, true);
    probs.matmul(&acc(v)).to_kind(kind)
}

/// torch.finfo(kind).min, the value transformers puts on masked attention scores.
pub(crate) fn lowest(kind: Kind) -> f64 {
    match kind {
        Kind::BFloat16 => -3.3895313892515355e38,
        Kind::Half => -65504.0,
        Kind::Double => f64::MIN,
        _ => f32::MIN as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The explicit path computes what SDPA's math path does: with nothing dropped (p = 0) it
    /// equals SDPA, for float32 and for bf16 (computed in float32, rounded back).
    #[test]
    fn attention_math_is_sdpa_without_dropout() {
        let opts = (Kind::Float, Device::Cpu);
        let (q, k, v) = (
            Tensor::randn([2, 4, 7, 16], opts),
            Tensor::randn([2, 4, 7, 16], opts),
            Tensor::randn([2, 4, 7, 16], opts),
        );
        let keep = Tensor::from_slice(&[1f32, 1., 1., 1., 1., 0., 0., 1., 1., 1., 1., 1., 1., 1.]);
        let mask = (keep.view([2, 1, 1, 7]).neg() + 1.0) * lowest(Kind::Float);
        for kind in [Kind::Float, Kind::BFloat16] {
            let (q, k, v, m) = (
                q.to_kind(kind),
                k.to_kind(kind),
                v.to_kind(kind),
                mask.to_kind(kind),
            );
            let sdpa =
                Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&m), 0.0, false, None, false);
            let ours = attention_math(&q, &k, &v, Some(&m), 0.0);
            assert_eq!(ours.kind(), kind);
            let diff = (ours.to_kind(Kind::Float) - sdpa.to_kind(Kind::Float))
                .abs()
                .max()
                .double_value(&[]);
            let tolerance = if kind == Kind::Float { 1e-6 } else { 1e-2 };
            assert!(diff <= tolerance, "{kind:?}: {diff}");
        }
    }
}
