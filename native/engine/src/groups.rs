//! Parameter groups: layer-wise LR decay (LLRD), grouped LLRD, or one LR for all, each group
//! split into a decayed half and a `/no_decay` twin (biases and LayerNorm weights), as in the
//! reference article's code.

use anyhow::{bail, ensure, Result};

use crate::config::{ExperimentConfig, Llrd};
use crate::model::Place;

/// One optimizer group: its name (`embeddings`, `layer.<i>`, `head`, with `/no_decay`), its
/// base LR (before the schedule), weight decay and the variables in it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupSpec {
    pub name: String,
    pub lr: f64,
    pub weight_decay: f64,
    pub params: Vec<String>,
    /// Number of scalar parameters.
    pub numel: i64,
}

/// Names the article's code excludes from weight decay: biases and LayerNorm weights, under
/// DistilBERT's names too (`sa_layer_norm`, `output_layer_norm`) and ModernBERT's (`norm`,
/// `attn_norm`, `mlp_norm`, `final_norm`), which the article's name list would miss.
pub fn no_decay(name: &str) -> bool {
    name.contains("bias")
        || name.contains("LayerNorm.weight")
        || name.contains("layer_norm.weight")
        || name.contains("norm.weight")
}

/// Base LR of each part of the network under the config's LLRD choice.
struct Rates {
    embeddings: f64,
    layers: Vec<f64>,
    head: f64,
}

fn rates(config: &ExperimentConfig, num_layers: usize) -> Result<Rates> {
    let l = num_layers;
    Ok(match &config.llrd {
        None => {
            let lr = config.optimizer.lr;
            Rates {
                embeddings: lr,
                layers: vec![lr; l],
                head: lr,
            }
        }
        Some(Llrd::Layerwise {
            top_lr,
            decay,
            head_lr,
        }) => Rates {
            embeddings: top_lr * decay.powi(l as i32),
            layers: (0..l)
                .map(|i| top_lr * decay.powi((l - 1 - i) as i32))
                .collect(),
            head: *head_lr,
        },
        Some(Llrd::Grouped { head_lr, groups }) => {
            let mut layers: Vec<Option<f64>> = vec![None; l];
            let mut lowest = (usize::MAX, 0.0);
            for (g, set) in groups.iter().enumerate() {
                let indices = set
                    .layers
                    .indices()
                    .map_err(|e| anyhow::anyhow!("llrd.groups[{g}].layers: {e}"))?;
                for i in indices {
                    ensure!(i < l, "llrd.groups[{g}].layers: layer {i} does not exist (the model has {l} layers, 0-{})", l - 1);
                    ensure!(
                        layers[i].is_none(),
                        "llrd.groups[{g}].layers: layer {i} is already in another set"
                    );
                    layers[i] = Some(set.lr);
                    if i < lowest.0 {
                        lowest = (i, set.lr);
                    }
                }
            }
            let missing: Vec<String> = layers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_none())
                .map(|(i, _)| i.to_string())
                .collect();
            if !missing.is_empty() {
                bail!("llrd.groups must cover every layer; missing: {} (the model has {l} layers, 0-{})", missing.join(", "), l - 1);
            }
            Rates {
                embeddings: lowest.1,
                layers: layers.into_iter().map(|r| r.unwrap_or_default()).collect(),
                head: *head_lr,
            }
        }
    })
}

/// Groups for the model's variables (`vars`: name and element count; `place`: where each sits).
pub fn build_groups(
    vars: &[(String, i64)],
    place: impl Fn(&str) -> Place,
    num_layers: usize,
    config: &ExperimentConfig,
) -> Result<Vec<GroupSpec>> {
    let rates = rates(config, num_layers)?;
    let wd = config.optimizer.weight_decay;
    let mut groups: Vec<GroupSpec> = vec![];
    let mut add = |name: String, lr: f64| {
        for (suffix, decay) in [("", wd), ("/no_decay", 0.0)] {
            groups.push(GroupSpec {
                name: format!("{name}{suffix}"),
                lr,
                weight_decay: decay,
                params: vec![],
                numel: 0,
            });
        }
    };
    add("embeddings".into(), rates.embeddings);
    for (i, &lr) in rates.layers.iter().enumerate() {
        add(format!("layer.{i}"), lr);
    }
    add("head".into(), rates.head);
    let index_of = |p: Place| match p {
        Place::Embeddings => 0,
        Place::Layer(i) => 1 + i,
        Place::Pooler | Place::Head => 1 + num_layers,
    };
    let mut sorted: Vec<&(String, i64)> = vars.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, numel) in sorted {
        let at = 2 * index_of(place(name)) + usize::from(no_decay(name));
        let group = &mut groups[at];
        group.params.push(name.clone());
        group.numel += numel;
    }
    groups.retain(|g| !g.params.is_empty());
    Ok(groups)
}
