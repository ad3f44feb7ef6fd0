//! Re-initializing the top encoder layers (and optionally the pooler) as transformers'
//! `_init_weights` does: Linear weights ~ N(0, initializer_range), biases 0, LayerNorm 1/0
//! (BERT's `LayerNorm`, DistilBERT's `sa_layer_norm` / `output_layer_norm`). ModernBERT redraws
//! as its own `_init_weights` does (truncated normals; see `encoders::modernbert`).

use anyhow::{ensure, Result};

use crate::encoders::Backbone;
use crate::model::{Place, SequenceModel};

/// Re-initializes layers L−n..L−1 (and the pooler when asked); returns the variables touched.
pub fn reinit_top_layers(
    model: &SequenceModel,
    top_layers: usize,
    pooler: bool,
) -> Result<Vec<String>> {
    let layers = model.encoder.num_layers();
    ensure!(
        top_layers <= layers,
        "reinit.top_layers is {top_layers} but the model has only {layers} encoder layers"
    );
    let std = model.config.initializer_range;
    let mut touched = vec![];
    let mut vars: Vec<(String, tch::Tensor)> = model.vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (name, mut var) in vars {
            let hit = match model.place(&name) {
                Place::Layer(i) => i >= layers - top_layers,
                Place::Pooler => pooler,
                _ => false,
            };
            if !hit {
                continue;
            }
            if let Backbone::ModernBert(m) = &model.encoder {
                if m.reinit_variable(&name, &mut var) {
                    touched.push(name);
                }
                continue;
            }
            if name.ends_with("LayerNorm.weight") || name.ends_with("layer_norm.weight") {
                let _ = var.fill_(1.0);
            } else if name.ends_with(".bias") {
                let _ = var.fill_(0.0);
            } else {
                let _ = var.normal_(0.0, std);
            }
            touched.push(name);
        }
    });
    Ok(touched)
}
