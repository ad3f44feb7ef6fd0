//! MPNet (transformers' `modeling_mpnet.py`): the BERT post-LayerNorm block without token
//! types, RoBERTa's position ids (from padding_idx 1 + 1), and a T5-style relative position
//! bias (`encoder.relative_attention_bias`, one value per head and distance bucket) computed
//! once per forward and added to every layer's attention scores.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::dropout::Dropout as _;
use crate::encoder::{
    hf_embedding_config, hf_layer_norm, hf_linear, lowest, multi_head_attention, Activation,
    EncoderDropout,
};
use crate::hf_config::HfConfig;

/// transformers hard-codes MPNet's padding_idx (position ids) to 1.
const PADDING_IDX: i64 = 1;
/// `compute_position_bias` buckets distances into 32 (its default), whatever the config says.
const NUM_BUCKETS: i64 = 32;
const MAX_DISTANCE: f64 = 128.0;

struct MPNetEmbeddings {
    word_embeddings: nn::Embedding,
    position_embeddings: nn::Embedding,
    layer_norm: nn::LayerNorm,
}

struct MPNetLayer {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    o: nn::Linear,
    attention_layer_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_layer_norm: nn::LayerNorm,
}

pub struct MPNetModel {
    embeddings: MPNetEmbeddings,
    layers: Vec<MPNetLayer>,
    relative_attention_bias: nn::Embedding,
    heads: i64,
    activation: Activation,
    pub dropout: EncoderDropout,
}

impl MPNetModel {
    pub fn new(root: &nn::Path, config: &HfConfig) -> anyhow::Result<Self> {
        let p = root / "mpnet";
        let (h, r, eps) = (
            config.hidden_size,
            config.initializer_range,
            config.layer_norm_eps,
        );
        let emb_cfg = hf_embedding_config(r);
        let e = &p / "embeddings";
        let embeddings = MPNetEmbeddings {
            word_embeddings: nn::embedding(&e / "word_embeddings", config.vocab_size, h, emb_cfg),
            position_embeddings: nn::embedding(
                &e / "position_embeddings",
                config.max_position_embeddings,
                h,
                emb_cfg,
            ),
            layer_norm: hf_layer_norm(&e / "LayerNorm", h, eps),
        };
        let inter = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = &p / "encoder" / "layer" / i;
                let a = &l / "attention";
                MPNetLayer {
                    q: hf_linear(&a / "attn" / "q", h, h, r),
                    k: hf_linear(&a / "attn" / "k", h, h, r),
                    v: hf_linear(&a / "attn" / "v", h, h, r),
                    o: hf_linear(&a / "attn" / "o", h, h, r),
                    attention_layer_norm: hf_layer_norm(&a / "LayerNorm", h, eps),
                    intermediate: hf_linear(&l / "intermediate" / "dense", h, inter, r),
                    output: hf_linear(&l / "output" / "dense", inter, h, r),
                    output_layer_norm: hf_layer_norm(&l / "output" / "LayerNorm", h, eps),
                }
            })
            .collect();
        let buckets = config
            .extra_i64("relative_attention_num_buckets")
            .unwrap_or(NUM_BUCKETS);
        let relative_attention_bias = nn::embedding(
            &p / "encoder" / "relative_attention_bias",
            buckets,
            config.num_attention_heads,
            emb_cfg,
        );
        Ok(Self {
            embeddings,
            layers,
            relative_attention_bias,
            heads: config.num_attention_heads,
            activation: Activation::parse(&config.hidden_act)?,
            dropout: EncoderDropout::of(config),
        })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The bias [1, heads, seq, seq] that every layer adds to its attention scores.
    fn compute_position_bias(&self, seq: i64, kind: Kind) -> Tensor {
        let device = self.relative_attention_bias.ws.device();
        let positions = Tensor::arange(seq, (Kind::Int64, device));
        // memory - context, as transformers computes it.
        let relative = positions.unsqueeze(0) - positions.unsqueeze(1);
        let bucket = relative_position_bucket(&relative);
        self.relative_attention_bias
            .forward(&bucket)
            .permute([2, 0, 1])
            .unsqueeze(0)
            .to_kind(kind)
    }

    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor, train: bool) -> Tensor {
        let e = &self.embeddings;
        let not_pad = input_ids.ne(PADDING_IDX).to_kind(Kind::Int64);
        let position_ids = not_pad.cumsum(1, Kind::Int64) * &not_pad + PADDING_IDX;
        let xs =
            e.word_embeddings.forward(input_ids) + e.position_embeddings.forward(&position_ids);
        let mut xs = e
            .layer_norm
            .forward(&xs)
            .dropped_out(self.dropout.hidden, train);
        let kind = xs.kind();
        let (_, seq) = input_ids.size2().unwrap();
        let bias = self.compute_position_bias(seq, kind);
        // Padding keys get the dtype's lowest value on top of the bias, as in transformers
        // (out of place: the mask widens the bias to the batch).
        let bias = if attention_mask.min().int64_value(&[]) == 0 {
            let mask =
                (1.0 - attention_mask.to_kind(kind).unsqueeze(1).unsqueeze(1)) * lowest(kind);
            bias + mask
        } else {
            bias
        };
        for layer in &self.layers {
            xs = self.layer_forward(layer, &xs, &bias, train);
        }
        xs
    }

    fn layer_forward(&self, l: &MPNetLayer, xs: &Tensor, bias: &Tensor, train: bool) -> Tensor {
        let p = if train { self.dropout.attention } else { 0.0 };
        // softmax(q·kᵀ/√d + bias + mask) · v: SDPA adds the float mask after scaling.
        let ctx = multi_head_attention(
            &l.q.forward(xs),
            &l.k.forward(xs),
            &l.v.forward(xs),
            self.heads,
            Some(bias),
            p,
        );
        let attended = l
            .attention_layer_norm
            .forward(&(l.o.forward(&ctx).dropped_out(self.dropout.hidden, train) + xs));
        let inner = self.activation.apply(&l.intermediate.forward(&attended));
        l.output_layer_norm.forward(
            &(l.output
                .forward(&inner)
                .dropped_out(self.dropout.hidden, train)
                + attended),
        )
    }
}

/// transformers' `MPNetEncoder.relative_position_bucket` with 32 buckets and distance 128:
/// half the buckets for each direction, exact below 8, logarithmic up to 128.
fn relative_position_bucket(relative: &Tensor) -> Tensor {
    let half = NUM_BUCKETS / 2;
    let n = -relative;
    let ret = n.lt(0).to_kind(Kind::Int64) * half;
    let n = n.abs();
    let max_exact = half / 2;
    let is_small = n.lt(max_exact);
    // log(0) never reaches the result (small distances take the exact branch); clamping keeps
    // the discarded branch finite.
    let large = ((n.clamp_min(1).to_kind(Kind::Float) / max_exact as f64).log()
        / (MAX_DISTANCE / max_exact as f64).ln()
        * (half - max_exact) as f64)
        .to_kind(Kind::Int64)
        + max_exact;
    let large = large.clamp_max(half - 1);
    ret + n.where_self(&is_small, &large)
}
