//! DeBERTa-v2 and -v3 (transformers' `modeling_deberta_v2.py`): disentangled attention, where
//! each score adds to content·content the content→position (`c2p`) and position→content
//! (`p2c`) terms, read from shared relative-position embeddings (`encoder.rel_embeddings`,
//! normalized by `encoder.LayerNorm`) over log-bucketed distances. v3 is this model with
//! `position_buckets: 256`, `share_att_key: true`, `norm_rel_ebd: "layer_norm"` and no
//! absolute positions. The v2-xlarge ConvLayer (`conv_kernel_size`) is refused by `hf_config`.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::dropout::Dropout as _;
use crate::encoder::{
    hf_embedding_config, hf_layer_norm, hf_linear, lowest, Activation, EncoderDropout,
};
use crate::hf_config::HfConfig;

struct DebertaV2Embeddings {
    word_embeddings: nn::Embedding,
    /// Absent when `position_biased_input` is false (v3).
    position_embeddings: Option<nn::Embedding>,
    /// Absent when `type_vocab_size` is 0 (the DeBERTa default).
    token_type_embeddings: Option<nn::Embedding>,
    /// `embed_proj` (no bias) when embedding_size differs from hidden_size.
    embed_proj: Option<nn::Linear>,
    layer_norm: nn::LayerNorm,
}

struct DebertaV2Layer {
    query_proj: nn::Linear,
    key_proj: nn::Linear,
    value_proj: nn::Linear,
    /// Only without `share_att_key`: separate projections of the position embeddings.
    pos_key_proj: Option<nn::Linear>,
    pos_query_proj: Option<nn::Linear>,
    attention_output: nn::Linear,
    attention_layer_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_layer_norm: nn::LayerNorm,
}

/// What the relative attention needs, fixed by the config.
struct Relative {
    embeddings: nn::Embedding,
    /// `encoder.LayerNorm` on the embeddings (`norm_rel_ebd: layer_norm`).
    layer_norm: Option<nn::LayerNorm>,
    /// `position_buckets` when > 0, else `max_relative_positions` (transformers' att_span).
    span: i64,
    position_buckets: i64,
    max_relative_positions: i64,
    c2p: bool,
    p2c: bool,
    share_att_key: bool,
}

pub struct DebertaV2Model {
    embeddings: DebertaV2Embeddings,
    layers: Vec<DebertaV2Layer>,
    relative: Option<Relative>,
    heads: i64,
    activation: Activation,
    pub dropout: EncoderDropout,
}

impl DebertaV2Model {
    pub fn new(root: &nn::Path, config: &HfConfig) -> anyhow::Result<Self> {
        let p = root / "deberta";
        let (h, r, eps) = (
            config.hidden_size,
            config.initializer_range,
            config.layer_norm_eps,
        );
        let emb_cfg = hf_embedding_config(r);
        let width = config.extra_i64("embedding_size").unwrap_or(h);
        let e = &p / "embeddings";
        let embeddings = DebertaV2Embeddings {
            word_embeddings: nn::embedding(
                &e / "word_embeddings",
                config.vocab_size,
                width,
                emb_cfg,
            ),
            position_embeddings: config
                .extra_bool("position_biased_input")
                .unwrap_or(true)
                .then(|| {
                    nn::embedding(
                        &e / "position_embeddings",
                        config.max_position_embeddings,
                        width,
                        emb_cfg,
                    )
                }),
            token_type_embeddings: (config.type_vocab_size > 0).then(|| {
                nn::embedding(
                    &e / "token_type_embeddings",
                    config.type_vocab_size,
                    width,
                    emb_cfg,
                )
            }),
            embed_proj: (width != h).then(|| {
                let no_bias = nn::LinearConfig {
                    ws_init: nn::Init::Randn {
                        mean: 0.0,
                        stdev: r,
                    },
                    bs_init: None,
                    bias: false,
                };
                nn::linear(&e / "embed_proj", width, h, no_bias)
            }),
            layer_norm: hf_layer_norm(&e / "LayerNorm", h, eps),
        };

        let pos_att_type: Vec<String> = match config.extra.get("pos_att_type") {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(|s| s.trim().to_lowercase()))
                .collect(),
            // Old configs write "p2c|c2p".
            Some(serde_json::Value::String(s)) => {
                s.split('|').map(|x| x.trim().to_lowercase()).collect()
            }
            _ => vec![],
        };
        let share_att_key = config.extra_bool("share_att_key").unwrap_or(false);
        let relative = if config.extra_bool("relative_attention").unwrap_or(false) {
            let mut max_relative_positions =
                config.extra_i64("max_relative_positions").unwrap_or(-1);
            if max_relative_positions < 1 {
                max_relative_positions = config.max_position_embeddings;
            }
            let position_buckets = config.extra_i64("position_buckets").unwrap_or(-1);
            let span = if position_buckets > 0 {
                position_buckets
            } else {
                max_relative_positions
            };
            let norm = config
                .extra_str("norm_rel_ebd")
                .unwrap_or("none")
                .to_lowercase();
            let enc = &p / "encoder";
            Some(Relative {
                embeddings: nn::embedding(&enc / "rel_embeddings", span * 2, h, emb_cfg),
                layer_norm: norm
                    .split('|')
                    .any(|x| x.trim() == "layer_norm")
                    .then(|| hf_layer_norm(&enc / "LayerNorm", h, eps)),
                span,
                position_buckets,
                max_relative_positions,
                c2p: pos_att_type.iter().any(|t| t == "c2p"),
                p2c: pos_att_type.iter().any(|t| t == "p2c"),
                share_att_key,
            })
        } else {
            None
        };

        let inter = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = &p / "encoder" / "layer" / i;
                let a = &l / "attention";
                let s = &a / "self";
                let separate = relative.as_ref().filter(|rel| !rel.share_att_key);
                DebertaV2Layer {
                    query_proj: hf_linear(&s / "query_proj", h, h, r),
                    key_proj: hf_linear(&s / "key_proj", h, h, r),
                    value_proj: hf_linear(&s / "value_proj", h, h, r),
                    pos_key_proj: separate
                        .filter(|rel| rel.c2p)
                        .map(|_| hf_linear(&s / "pos_key_proj", h, h, r)),
                    pos_query_proj: separate
                        .filter(|rel| rel.p2c)
                        .map(|_| hf_linear(&s / "pos_query_proj", h, h, r)),
                    attention_output: hf_linear(&a / "output" / "dense", h, h, r),
                    attention_layer_norm: hf_layer_norm(&a / "output" / "LayerNorm", h, eps),
                    intermediate: hf_linear(&l / "intermediate" / "dense", h, inter, r),
                    output: hf_linear(&l / "output" / "dense", inter, h, r),
                    output_layer_norm: hf_layer_norm(&l / "output" / "LayerNorm", h, eps),
                }
            })
            .collect();
        Ok(Self {
            embeddings,
            layers,
            relative,
            heads: config.num_attention_heads,
            activation: Activation::parse(&config.hidden_act)?,
            dropout: EncoderDropout::of(config),
        })
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        token_type_ids: &Tensor,
        train: bool,
    ) -> Tensor {
        let e = &self.embeddings;
        let (_, seq) = input_ids.size2().unwrap();
        let device = input_ids.device();
        let mut xs = e.word_embeddings.forward(input_ids);
        if let Some(position) = &e.position_embeddings {
            xs += position.forward(&Tensor::arange(seq, (Kind::Int64, device)).unsqueeze(0));
        }
        if let Some(token_type) = &e.token_type_embeddings {
            xs += token_type.forward(token_type_ids);
        }
        if let Some(proj) = &e.embed_proj {
            xs = proj.forward(&xs);
        }
        let xs = e.layer_norm.forward(&xs);
        let kind = xs.kind();
        // Padding positions are zeroed after the norm.
        let mut xs = (xs * attention_mask.unsqueeze(-1).to_kind(kind))
            .dropped_out(self.dropout.hidden, train);

        // [batch, 1, seq, seq]: a query–key pair takes part only when both are tokens (so a
        // padding query sees all keys masked alike, as in transformers).
        let m = attention_mask.to_kind(Kind::Bool);
        let pair_mask = m
            .unsqueeze(1)
            .unsqueeze(2)
            .logical_and(&m.unsqueeze(1).unsqueeze(-1));
        let rel = self.relative.as_ref().map(|rel| {
            let mut emb = rel.embeddings.ws.shallow_clone();
            if let Some(norm) = &rel.layer_norm {
                emb = norm.forward(&emb);
            }
            let positions =
                build_relative_position(seq, rel.position_buckets, rel.max_relative_positions)
                    .to_device(device);
            (emb, positions)
        });
        for layer in &self.layers {
            xs = self.layer_forward(layer, &xs, &pair_mask, rel.as_ref(), train);
        }
        xs
    }

    fn layer_forward(
        &self,
        l: &DebertaV2Layer,
        xs: &Tensor,
        pair_mask: &Tensor,
        rel: Option<&(Tensor, Tensor)>,
        train: bool,
    ) -> Tensor {
        let (b, s, h) = xs.size3().unwrap();
        let heads = self.heads;
        let d = h / heads;
        // [batch, heads, len, d]
        let split = |t: Tensor| {
            let len = t.size()[1];
            t.view([-1, len, heads, d]).transpose(1, 2)
        };
        let q = split(l.query_proj.forward(xs));
        let k = split(l.key_proj.forward(xs));
        let v = split(l.value_proj.forward(xs));

        let rel_state = self.relative.as_ref().zip(rel);
        let scale_factor = 1 + rel_state.map_or(0, |(r, _)| i64::from(r.c2p) + i64::from(r.p2c));
        let scale = ((d * scale_factor) as f32).sqrt() as f64;
        let mut scores = q.matmul(&(k.transpose(-1, -2) / scale));
        if let Some((r, (emb, positions))) = rel_state {
            // The c2p and p2c terms are summed first, then added, in transformers' order.
            let mut rel_att: Option<Tensor> = None;
            let mut add = |t: Tensor| {
                rel_att = Some(match rel_att.take() {
                    Some(acc) => acc + t,
                    None => t,
                })
            };
            let emb = emb
                .dropped_out(self.dropout.hidden, train)
                .narrow(0, 0, r.span * 2)
                .unsqueeze(0);
            let span = r.span;
            // [1, seq, seq] indices into the 2·span position embeddings
            if r.c2p {
                let pos_key = split(match (&l.pos_key_proj, r.share_att_key) {
                    (Some(proj), false) => proj.forward(&emb),
                    _ => l.key_proj.forward(&emb),
                });
                let c2p = q.matmul(&pos_key.transpose(-1, -2));
                let index = (positions + span)
                    .clamp(0, span * 2 - 1)
                    .expand([b, heads, s, s], false);
                add(c2p.gather(-1, &index, false) / scale);
            }
            if r.p2c {
                let pos_query = split(match (&l.pos_query_proj, r.share_att_key) {
                    (Some(proj), false) => proj.forward(&emb),
                    _ => l.query_proj.forward(&emb),
                });
                let p2c = k.matmul(&pos_query.transpose(-1, -2));
                let index = (-positions + span)
                    .clamp(0, span * 2 - 1)
                    .expand([b, heads, s, s], false);
                add(p2c.gather(-1, &index, false).transpose(-1, -2) / scale);
            }
            if let Some(rel_att) = rel_att {
                scores += rel_att;
            }
        }
        let scores = scores.masked_fill(&pair_mask.logical_not(), lowest(scores.kind()));
        let probs = scores
            .softmax(-1, Kind::Float)
            .dropped_out(self.dropout.attention, train);
        let ctx = probs.matmul(&v).transpose(1, 2).reshape([b, s, h]);
        let attended = l.attention_layer_norm.forward(
            &(l.attention_output
                .forward(&ctx)
                .dropped_out(self.dropout.hidden, train)
                + xs),
        );
        let inner = self.activation.apply(&l.intermediate.forward(&attended));
        l.output_layer_norm.forward(
            &(l.output
                .forward(&inner)
                .dropped_out(self.dropout.hidden, train)
                + attended),
        )
    }
}

/// Relative positions query − key [1, seq, seq], log-bucketed as transformers'
/// `build_relative_position` does when both `bucket_size` and `max_position` are positive.
fn build_relative_position(seq: i64, bucket_size: i64, max_position: i64) -> Tensor {
    let ids = Tensor::arange(seq, (Kind::Int64, tch::Device::Cpu));
    let rel = ids.unsqueeze(1) - ids.unsqueeze(0);
    let rel = if bucket_size > 0 && max_position > 0 {
        make_log_bucket_position(&rel, bucket_size, max_position)
    } else {
        rel
    };
    rel.to_kind(Kind::Int64).unsqueeze(0)
}

/// transformers' `make_log_bucket_position`, op for op in float32: exact within ±mid, then
/// logarithmic up to `max_position`.
fn make_log_bucket_position(rel: &Tensor, bucket_size: i64, max_position: i64) -> Tensor {
    let sign = rel.sign();
    let mid = bucket_size / 2;
    let near = rel.lt(mid).logical_and(&rel.gt(-mid));
    let abs_pos = rel
        .abs()
        .where_self(&near.logical_not(), &Tensor::from(mid - 1));
    let denominator = Tensor::from(((max_position - 1) as f64 / mid as f64) as f32).log();
    let log_pos =
        ((abs_pos.to_kind(Kind::Float) / mid as f64).log() / denominator * (mid - 1) as f64).ceil()
            + mid as f64;
    rel.to_kind(Kind::Float)
        .where_self(&abs_pos.le(mid), &(log_pos * sign))
}
