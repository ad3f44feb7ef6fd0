//! One training run (a fold): the loop of nanoGPT's shape, with the article's techniques —
//! LLRD groups, warm-up schedules, re-init, SWA with SWALR, frequent evaluation keeping the
//! best — and AdamW, clipping, accumulation, early stopping, NaN stops and cancellation.
//!
//! `train_fold` is the loop and reads top to bottom; `Trainer` (trainer.rs) holds the fold's
//! optimizer, SWA average and resumable state and does each move (step, evaluate, save).

mod divergence;
mod events;
mod loss;
mod trainer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};
use ts_rs::TS;

use crate::config::{ExperimentConfig, TrainConfig};
use crate::folds::{seeded, shuffle};
use crate::groups::{build_groups, GroupSpec};
use crate::model::{ModelOptions, SequenceModel};
use crate::optim::ParamGroup;
use crate::reinit::reinit_top_layers;
use crate::schedule::LrPlan;
use crate::tokenize::Encoded;

pub use divergence::Divergence;
pub use events::{CheckpointName, Event, TimedEvent};
pub use loss::clip_grad_norm;
use trainer::Trainer;

/// The rows of one run, already tokenized. Classification targets are class indices.
pub struct FoldData<'a> {
    pub train: Vec<&'a Encoded>,
    pub train_targets: Vec<f64>,
    pub valid: Vec<&'a Encoded>,
    pub valid_targets: Vec<f64>,
}

/// Which model gave an evaluation: the one training, or the SWA average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum BestSource {
    Live,
    Swa,
}

/// How a run computed: bf16 autocast on CUDA or the CPU (fp32 master weights), or fp32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum ComputePrecision {
    Bf16,
    Fp32,
}

/// JSON has no NaN: serde_json (and JSON.stringify) write one as null, e.g. Pearson's r of a
/// model whose predictions are all equal. An outcome read back (a stored run's, a Ray fold's
/// outcome.json) turns it into NaN again instead of refusing the whole outcome.
mod nan_from_null {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer};

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub fn metrics<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let m = BTreeMap::<String, Option<f64>>::deserialize(d)?;
        Ok(m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FoldOutcome {
    pub fold: usize,
    /// The config's metric at its best evaluation, and where that was.
    #[serde(deserialize_with = "nan_from_null::number")]
    pub best_metric: f64,
    pub best_step: usize,
    pub best_source: BestSource,
    #[serde(deserialize_with = "nan_from_null::metrics")]
    pub best_metrics: BTreeMap<String, f64>,
    /// Metrics of the final model (the SWA average when SWA ran).
    #[serde(deserialize_with = "nan_from_null::metrics")]
    pub final_metrics: BTreeMap<String, f64>,
    pub steps: usize,
    pub epochs: usize,
    pub stopped_early: bool,
    /// Wall time of the loop, evaluations included.
    pub train_seconds: f64,
    /// Time spent evaluating (live model and SWA average).
    pub eval_seconds: f64,
    /// Training throughput, evaluation time excluded.
    pub train_samples_per_second: f64,
    pub best_dir: Option<String>,
    pub final_dir: Option<String>,
    /// Variables the run re-initialized (top layers / pooler).
    pub reinitialized: usize,
    pub precision: ComputePrecision,
    /// The best evaluation's outputs (a value per label) for each validation row, in the
    /// fold's row order: out-of-fold predictions. Empty in outcomes written before they were.
    #[serde(default)]
    pub valid_outputs: Vec<Vec<f64>>,
    /// Passes over the validation rows (live model and SWA average counted apart; the final
    /// model's score reuses the last evaluation when it was at the last step).
    #[serde(default)]
    pub evaluations: usize,
    /// libtorch's CPU threads in the process that trained the fold (folds trained at once
    /// split the cores; throughput on a CPU depends on it). 0 in outcomes written before.
    #[serde(default)]
    pub threads: usize,
}

/// Returned (as the error) when `cancel` was set: the run stopped within one step.
#[derive(Debug)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// Where and how often the loop writes its resumable state (`out/state`).
#[derive(Debug, Clone, Copy)]
pub struct StateOptions {
    /// Continue from `out/state` when it exists.
    pub resume: bool,
    /// Write the state at an evaluation when this much time passed since the last write (and
    /// at every epoch's end); 0 writes it at every evaluation.
    pub interval_seconds: f64,
    /// Stop (as if cancelled, resumable) after this many optimizer steps of each fold in this
    /// call: a time box for smoke runs, and a deterministic interruption for tests.
    pub stop_after_steps: Option<usize>,
}

impl Default for StateOptions {
    fn default() -> Self {
        Self {
            resume: false,
            interval_seconds: 120.0,
            stop_after_steps: None,
        }
    }
}

/// Where a run writes, whether it resumes, and its cancel flag.
#[derive(Clone, Copy)]
pub struct RunControl<'a> {
    pub out: Option<&'a Path>,
    pub state: StateOptions,
    pub cancel: &'a AtomicBool,
}

/// A finished fold's outcome, next to its checkpoints; a resumed experiment skips such folds.
pub const OUTCOME_FILE: &str = "outcome.json";

/// Trains one fold and writes `out/best` and `out/final` when `out` is given.
pub fn train_fold(
    config: &ExperimentConfig,
    fold: usize,
    data: &FoldData,
    model: &SequenceModel,
    reinitialized: usize,
    control: &RunControl,
    emit: &mut dyn FnMut(Event),
) -> Result<FoldOutcome> {
    let t = &config.train;
    anyhow::ensure!(!data.train.is_empty(), "fold {fold} has no training rows");
    anyhow::ensure!(!data.valid.is_empty(), "fold {fold} has no validation rows");
    let state_dir = control.out.map(|o| o.join("state"));
    let keep_best = config.eval.save_best && control.out.is_some();
    let mut trainer = Trainer::new(config, fold, data, model, keep_best, emit)?;
    if let (true, Some(dir)) = (control.state.resume, &state_dir) {
        trainer.restore(dir)?;
    }

    let mut epochs = trainer.state.epoch - 1;
    let mut stopped_early = false;
    let mut steps_this_call = 0usize;
    'epochs: for epoch in trainer.state.epoch..=t.epochs {
        epochs = epoch;
        let order = epoch_order(&data.train, t, epoch);
        let batches: Vec<&[usize]> = order.chunks(t.batch_size).collect();
        let windows: Vec<&[&[usize]]> = batches.chunks(t.grad_accum).collect();
        // A resumed run starts its first epoch at the saved window; later epochs at 0.
        for w in trainer.state.window..windows.len() {
            let time_boxed = control
                .state
                .stop_after_steps
                .is_some_and(|n| steps_this_call >= n);
            if control.cancel.load(Ordering::Relaxed) || time_boxed {
                return Err(Cancelled.into());
            }
            steps_this_call += 1;
            trainer.step(windows[w], epoch)?;

            // Where a run resumed from here continues: the next window, or the next epoch.
            let end_of_epoch = w + 1 == windows.len();
            (trainer.state.epoch, trainer.state.window) = if end_of_epoch {
                (epoch + 1, 0)
            } else {
                (epoch, w + 1)
            };
            let every = config.eval.every_steps;
            if !end_of_epoch && !every.is_some_and(|e| trainer.state.step.is_multiple_of(e)) {
                continue;
            }
            trainer.evaluate(epoch)?;
            let patience = config.eval.early_stopping_patience;
            if patience.is_some_and(|p| trainer.state.since_best >= p) {
                stopped_early = true;
                break 'epochs;
            }
            // After the last step the fold's outcome replaces the state at once: no state to write.
            let last_step = end_of_epoch && epoch == t.epochs;
            if let (Some(dir), false) = (&state_dir, last_step) {
                if end_of_epoch || trainer.seconds_since_save() >= control.state.interval_seconds {
                    trainer.save_state(dir)?;
                }
            }
        }
    }

    let outcome = trainer.finish(control.out, epochs, stopped_early, reinitialized)?;
    if let Some(out) = control.out {
        // The fold is done: its outcome replaces the resumable state.
        std::fs::write(
            out.join(OUTCOME_FILE),
            serde_json::to_string_pretty(&outcome)?,
        )?;
        let _ = std::fs::remove_dir_all(out.join("state"));
        let _ = std::fs::remove_dir_all(out.join("state.old"));
    }
    Ok(outcome)
}

/// The order of the training rows in `epoch`: shuffled by (seed, epoch) alone, so that a
/// resumed run sees the batches an uninterrupted one would; grouped by length on request.
fn epoch_order(rows: &[&Encoded], t: &TrainConfig, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    if t.shuffle {
        let seed = t.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
        shuffle(&mut order, &mut seeded(seed));
    }
    if t.group_by_length {
        let lengths: Vec<usize> = rows.iter().map(|r| r.ids.len()).collect();
        group_by_length(&mut order, &lengths, t.batch_size * t.grad_accum);
    }
    order
}

/// transformers' `get_length_grouped_indices` on an already shuffled order: megabatches of
/// `min(n / (4·batch), 50)` batches (at least one), each sorted longest first, and the longest
/// row of all moved to the very front, so that a run too big for memory fails at its first step.
fn group_by_length(order: &mut [usize], lengths: &[usize], batch: usize) {
    let mega = (order.len() / (batch * 4)).clamp(1, 50) * batch;
    for chunk in order.chunks_mut(mega) {
        // Stable, as Python's sorted: equal lengths keep their shuffled order.
        chunk.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    }
    // Each megabatch's first row is its longest; the first of those maxima wins ties (argmax).
    let longest = (0..order.len()).step_by(mega).fold(0, |best, at| {
        if lengths[order[at]] > lengths[order[best]] {
            at
        } else {
            best
        }
    });
    order.swap(0, longest);
}

/// Loads the model for this run: seeded first, so fresh heads and re-init are reproducible.
pub fn prepare_model(
    config: &ExperimentConfig,
    num_labels: i64,
    labels: &[String],
    device: Device,
) -> Result<(SequenceModel, usize)> {
    tch::manual_seed(config.train.seed as i64);
    let opts = ModelOptions {
        num_labels: Some(num_labels),
        pooling: Some(config.head.pooling),
        head_dropout: config.head.dropout,
        encoder_dropout: config.encoder_dropout,
        max_length: Some(config.data.max_length),
        device,
    };
    let mut model = SequenceModel::load(Path::new(&config.model), &opts)?;
    if !labels.is_empty() {
        model.labels = labels.to_vec();
    }
    let touched = reinit_top_layers(&model, config.reinit.top_layers, config.reinit.pooler)?;
    Ok((model, touched.len()))
}

/// The model's variables as (name, element count), for groups and LR previews.
pub fn variable_sizes(model: &SequenceModel) -> Vec<(String, i64)> {
    model
        .vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.numel() as i64))
        .collect()
}

pub fn groups_for(model: &SequenceModel, config: &ExperimentConfig) -> Result<Vec<GroupSpec>> {
    build_groups(
        &variable_sizes(model),
        |n| model.place(n),
        model.encoder.num_layers(),
        config,
    )
}

/// What AdamW, SWA and checkpoints work on: the model's parameters in name order, and the
/// config's groups over them (the specs name them; the groups hold their tensors).
pub struct ParamGroups {
    pub params: Vec<Tensor>,
    pub specs: Vec<GroupSpec>,
    pub groups: Vec<ParamGroup>,
}

/// The config's parameter groups (LLRD, weight-decay exclusions) over the model's tensors, as
/// a run builds its optimizer (shallow handles onto the model's storage).
pub fn param_groups(model: &SequenceModel, config: &ExperimentConfig) -> Result<ParamGroups> {
    let vars = model.vs.variables();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let params = names.iter().map(|n| vars[*n].shallow_clone()).collect();
    let specs = groups_for(model, config)?;
    let groups = specs
        .iter()
        .map(|g| ParamGroup {
            name: g.name.clone(),
            lr: g.lr,
            weight_decay: g.weight_decay,
            params: g.params.iter().map(|n| vars[n].shallow_clone()).collect(),
        })
        .collect();
    Ok(ParamGroups {
        params,
        specs,
        groups,
    })
}

/// The groups and the LR plan a run of this config would use on this model, for previews
/// (`ftune schedule`, the UI) — the same code path as training.
pub fn lr_plan(
    config: &ExperimentConfig,
    model: &SequenceModel,
    steps_per_epoch: usize,
) -> Result<(Vec<GroupSpec>, LrPlan)> {
    anyhow::ensure!(steps_per_epoch >= 1, "steps per epoch must be at least 1");
    anyhow::ensure!(
        config.reinit.top_layers <= model.encoder.num_layers(),
        "reinit.top_layers is {} but the model has only {} encoder layers",
        config.reinit.top_layers,
        model.encoder.num_layers()
    );
    let groups = groups_for(model, config)?;
    let plan = LrPlan::new(
        config,
        groups.iter().map(|g| g.lr).collect(),
        steps_per_epoch,
    )?;
    Ok((groups, plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pearson's r of constant predictions is NaN; JSON writes it as null, and an outcome read
    /// back (a stored run, a Ray fold's outcome.json) must still load, with the NaN.
    #[test]
    fn an_outcome_with_a_nan_metric_survives_json() {
        let metrics =
            BTreeMap::from([("pearson".to_string(), f64::NAN), ("rmse".to_string(), 0.5)]);
        let outcome = FoldOutcome {
            fold: 1,
            best_metric: f64::NAN,
            best_step: 3,
            best_source: BestSource::Live,
            best_metrics: metrics.clone(),
            final_metrics: metrics,
            steps: 3,
            epochs: 1,
            stopped_early: false,
            train_seconds: 1.0,
            eval_seconds: 0.1,
            train_samples_per_second: 12.0,
            best_dir: None,
            final_dir: None,
            reinitialized: 0,
            precision: ComputePrecision::Fp32,
            valid_outputs: vec![],
            evaluations: 1,
            threads: 2,
        };
        let json = serde_json::to_string(&outcome).unwrap();
        assert!(json.contains(r#""pearson":null"#), "{json}");
        let back: FoldOutcome = serde_json::from_str(&json).unwrap();
        assert!(back.best_metric.is_nan());
        assert!(back.final_metrics["pearson"].is_nan());
        assert!(back.best_metrics["pearson"].is_nan());
        assert_eq!(back.final_metrics["rmse"], 0.5);
    }

    /// The expected orders are transformers' `get_length_grouped_indices(lengths, 2)` (5.23,
    /// trainer_pt_utils) with `torch.randperm` replaced by the given permutation.
    #[test]
    fn group_by_length_is_transformers_on_the_same_shuffle() {
        let lengths = [5, 9, 3, 9, 1, 7, 7, 2, 8, 4, 6, 6, 10, 3, 5, 1, 8, 2, 9, 4];
        let mut order = vec![
            7, 3, 12, 0, 18, 5, 9, 1, 14, 16, 2, 11, 19, 6, 4, 15, 10, 8, 13, 17,
        ];
        group_by_length(&mut order, &lengths, 2);
        let want = [
            12, 3, 0, 7, 18, 1, 5, 9, 16, 11, 14, 2, 6, 19, 4, 15, 8, 10, 13, 17,
        ];
        assert_eq!(order, want);

        // The longest row in a later megabatch (tied with the last one's: the first wins) is
        // swapped to the front; a short last megabatch is sorted too.
        let lengths = [
            5, 9, 3, 9, 1, 7, 7, 2, 8, 4, 6, 6, 10, 3, 5, 1, 8, 2, 9, 4, 10, 6, 3,
        ];
        let mut order = vec![
            7, 3, 0, 18, 5, 9, 1, 14, 16, 2, 11, 19, 6, 4, 15, 10, 8, 13, 17, 12, 22, 20, 21,
        ];
        group_by_length(&mut order, &lengths, 2);
        let want = [
            12, 18, 0, 7, 1, 5, 14, 9, 16, 11, 19, 2, 6, 10, 4, 15, 3, 8, 13, 17, 20, 21, 22,
        ];
        assert_eq!(order, want);
    }

    #[test]
    fn epoch_order_groups_by_length_per_epoch_and_reproducibly() {
        let rows: Vec<Encoded> = (0..200)
            .map(|i| Encoded {
                ids: vec![0; 1 + (i * 37) % 61],
                type_ids: vec![0; 1 + (i * 37) % 61],
            })
            .collect();
        let refs: Vec<&Encoded> = rows.iter().collect();
        let mut t = TrainConfig {
            batch_size: 4,
            grad_accum: 2,
            ..TrainConfig::default()
        };
        let plain = epoch_order(&refs, &t, 1);
        t.group_by_length = true;
        let grouped = epoch_order(&refs, &t, 1);
        // Every row once; the same seed and epoch give the same order (a resumed run's).
        let mut sorted = grouped.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<_>>());
        assert_eq!(grouped, epoch_order(&refs, &t, 1));
        assert_ne!(grouped, epoch_order(&refs, &t, 2));
        // Megabatches of min(200 / (4·8), 50) = 6 optimizer batches of 8 rows: the shuffle's,
        // each sorted longest first but for the row swapped to the very front.
        let len = |i: usize| refs[i].ids.len();
        assert_eq!(len(grouped[0]), 61);
        for (a, b) in plain.chunks(48).zip(grouped.chunks(48)).skip(1) {
            let mut want = a.to_vec();
            want.sort_by_key(|&i| std::cmp::Reverse(len(i)));
            if b != want {
                // The megabatch whose longest row went to the front took row 0's first place.
                assert_eq!(&b[1..], &want[1..]);
            }
        }
        // Less padding: the sum over batches of (batch size × longest row) drops.
        let padded = |o: &[usize]| -> usize {
            o.chunks(4)
                .map(|b| b.len() * b.iter().map(|&i| len(i)).max().unwrap())
                .sum()
        };
        assert!(padded(&grouped) * 10 < padded(&plain) * 8);
    }
}
