//! One training run (a fold): the loop of nanoGPT's shape, with the article's techniques —
//! LLRD groups, warm-up schedules, re-init, SWA with SWALR, frequent evaluation keeping the
//! best — and AdamW, clipping, accumulation, early stopping, NaN stops and cancellation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Result};
use tch::{Device, Kind, Reduction, Tensor};

use crate::checkpoint;
use crate::config::{ExperimentConfig, Loss, Precision, Task};
use crate::folds::{seeded, shuffle};
use crate::foreach;
use crate::groups::{build_groups, GroupSpec};
use crate::model::{ModelOptions, SequenceModel};
use crate::optim::{AdamW, AdamWConfig, ParamGroup};
use crate::reinit::reinit_top_layers;
use crate::runtime::autocast_bf16;
use crate::schedule::{steps_per_epoch, LrPlan};
use crate::swa::{copy_into, snapshot, AveragedModel};
use crate::tokenize::Encoded;

/// The rows of one run, already tokenized. Classification targets are class indices.
pub struct FoldData<'a> {
    pub train: Vec<&'a Encoded>,
    pub train_targets: Vec<f64>,
    pub valid: Vec<&'a Encoded>,
    pub valid_targets: Vec<f64>,
}

/// What the loop reports as it goes. `step` counts optimizer steps completed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Event {
    /// "fold_start" | "resume" | "step" | "eval" | "swa_start" | "checkpoint"
    pub kind: &'static str,
    pub fold: usize,
    pub step: usize,
    pub epoch: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_steps: Option<usize>,
    /// Group names, once at fold start; `lrs` on step events follow this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lrs: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<BTreeMap<String, f64>>,
    /// While SWA is active: the same metrics for the averaged model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swa_metrics: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_best: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FoldOutcome {
    pub fold: usize,
    /// The config's metric at its best evaluation, and where that was.
    pub best_metric: f64,
    pub best_step: usize,
    /// "live" or "swa": which model gave the best evaluation.
    pub best_source: String,
    pub best_metrics: BTreeMap<String, f64>,
    /// Metrics of the final model (the SWA average when SWA ran).
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
    /// "bf16" (CUDA autocast, fp32 master weights) or "fp32".
    pub precision: String,
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

struct Best {
    metric: f64,
    step: usize,
    source: String,
    metrics: BTreeMap<String, f64>,
    weights: Option<Vec<Tensor>>,
}

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
    let RunControl {
        out,
        state: state_options,
        cancel,
    } = *control;
    let t = &config.train;
    anyhow::ensure!(!data.train.is_empty(), "fold {fold} has no training rows");
    anyhow::ensure!(!data.valid.is_empty(), "fold {fold} has no validation rows");
    let device = model.device();
    let classification = config.task == Task::Classification;
    let metric = config.metric();
    let bf16 = match config.train.precision {
        Precision::Fp32 => false,
        Precision::Auto => device.is_cuda(),
        Precision::Bf16 => {
            anyhow::ensure!(device.is_cuda(), "train.precision bf16 needs a CUDA device (this run is on the CPU); use auto or fp32");
            true
        }
    };

    // Parameters in a fixed order, and the optimizer groups over them.
    let vars = model.vs.variables();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let params: Vec<Tensor> = names.iter().map(|n| vars[*n].shallow_clone()).collect();
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
    let mut opt = AdamW::new(groups, AdamWConfig::from_config(&config.optimizer));
    let spe = steps_per_epoch(data.train.len(), t.batch_size, t.grad_accum);
    let plan = LrPlan::new(config, specs.iter().map(|g| g.lr).collect(), spe)?;
    emit(Event {
        kind: "fold_start",
        fold,
        total_steps: Some(plan.total_steps()),
        groups: Some(specs.iter().map(|g| g.name.clone()).collect()),
        ..Default::default()
    });

    let eval_time = std::cell::Cell::new(0.0f64);
    let evaluate = |m: &SequenceModel| -> Result<BTreeMap<String, f64>> {
        let t0 = Instant::now();
        let outputs = m.predict(&data.valid, t.eval_batch_size);
        eval_time.set(eval_time.get() + t0.elapsed().as_secs_f64());
        let outputs: Vec<Vec<f64>> = outputs?
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect();
        Ok(
            crate::metrics::all_metrics(&outputs, &data.valid_targets, classification)
                .into_iter()
                .map(|(k, v)| (k.name().to_string(), v))
                .collect(),
        )
    };
    let better = |a: f64, b: f64| {
        !a.is_nan()
            && (b.is_nan()
                || if metric.higher_is_better() {
                    a > b
                } else {
                    a < b
                })
    };
    let keep_weights = config.eval.save_best && out.is_some();

    let started = Instant::now();
    let mut step = 0usize;
    let mut swa: Option<AveragedModel> = None;
    let mut best: Option<Best> = None;
    let mut since_best = 0usize;
    let mut stopped_early = false;
    let mut epochs_run = 0;
    let mut samples = 0usize;
    let (mut start_epoch, mut start_window, mut prior_seconds) = (1, 0, 0.0);
    let state_dir = out.map(|o| o.join("state"));
    if let (true, Some(dir)) = (state_options.resume, &state_dir) {
        if let Some(saved) = checkpoint::load(dir, params.len())? {
            let s = saved.state;
            copy_into(&params, &saved.params);
            opt.load_state(&saved.optimizer, &s.optimizer_steps.into_iter().collect())?;
            swa = match (saved.swa, s.swa_n_averaged) {
                (Some(avg), Some(n)) => Some(AveragedModel::restore(
                    avg.into_iter().map(|t| t.to_device(device)).collect(),
                    n,
                )),
                _ => None,
            };
            best = s.best_metric.map(|metric| Best {
                metric,
                step: s.best_step,
                source: s.best_source,
                metrics: s.best_metrics,
                weights: saved.best,
            });
            (step, samples, since_best) = (s.step, s.samples, s.since_best);
            (start_epoch, start_window, prior_seconds) = (s.epoch, s.window, s.seconds);
            eval_time.set(s.eval_seconds);
            emit(Event {
                kind: "resume",
                fold,
                step,
                epoch: s.epoch,
                ..Default::default()
            });
        }
    }
    let mut last_save = Instant::now();
    let mut steps_this_call = 0usize;

    'epochs: for epoch in start_epoch..=t.epochs {
        epochs_run = epoch;
        let mut order: Vec<usize> = (0..data.train.len()).collect();
        if t.shuffle {
            shuffle(
                &mut order,
                &mut seeded(t.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)),
            );
        }
        let batches: Vec<&[usize]> = order.chunks(t.batch_size).collect();
        for (w, window) in batches.chunks(t.grad_accum).enumerate() {
            if epoch == start_epoch && w < start_window {
                continue;
            }
            if cancel.load(Ordering::Relaxed)
                || state_options
                    .stop_after_steps
                    .is_some_and(|n| steps_this_call >= n)
            {
                return Err(Cancelled.into());
            }
            steps_this_call += 1;
            // Dropout draws from a stream fixed by (seed, step), so a resumed run matches.
            tch::manual_seed(
                (t.seed as i64)
                    .wrapping_mul(1_000_003)
                    .wrapping_add(step as i64),
            );
            // SWA starts at its first optimizer step: average and SWALR from here on.
            if plan.swa.is_some_and(|s| s.start == step) && swa.is_none() {
                swa = Some(AveragedModel::new(&params));
                emit(Event {
                    kind: "swa_start",
                    fold,
                    step,
                    epoch,
                    ..Default::default()
                });
            }
            let lrs = plan.lrs(step);
            for (g, lr) in opt.groups.iter_mut().zip(&lrs) {
                g.lr = *lr;
            }
            // Losses stay on the device until the whole step is queued: reading one is a sync,
            // and on a GPU an early sync leaves it idle while the optimizer's launches follow.
            let (mut losses, mut rows) = (vec![], 0usize);
            for batch_rows in window {
                let examples: Vec<&Encoded> = batch_rows.iter().map(|&i| data.train[i]).collect();
                let targets: Vec<f64> = batch_rows.iter().map(|&i| data.train_targets[i]).collect();
                let batch = model.collate(&examples);
                let logits = if bf16 {
                    autocast_bf16(|| model.forward(&batch, true))
                } else {
                    model.forward(&batch, true)
                };
                let loss = loss_of(config.loss(), &logits, &targets, device);
                (&loss / window.len() as f64).backward();
                losses.push((loss.detach(), batch_rows.len()));
                rows += batch_rows.len();
            }
            let grad_norm = t.max_grad_norm.and_then(|max| clip_grad_norm(&params, max));
            opt.step();
            opt.zero_grad();
            let loss = losses
                .iter()
                .map(|(l, n)| l.double_value(&[]) * *n as f64)
                .sum::<f64>()
                / rows as f64;
            // A non-finite loss ends the run before anything of this step is averaged, evaluated
            // or saved.
            if !loss.is_finite() {
                bail!(
                    "the training loss became {} at optimizer step {} (epoch {epoch}, fold {fold}); lower the learning rate, turn on gradient clipping (train.max_grad_norm), or check the labels for extreme values",
                    if loss.is_nan() { "NaN" } else { "infinite" },
                    step + 1
                );
            }
            let grad_norm = grad_norm.map(|n| n.double_value(&[]));
            if let Some(avg) = swa.as_mut() {
                avg.update(&params);
            }
            step += 1;
            samples += rows;
            emit(Event {
                kind: "step",
                fold,
                step,
                epoch,
                loss: Some(loss),
                grad_norm,
                lrs: Some(lrs),
                ..Default::default()
            });

            let end_of_epoch = std::ptr::eq(window.last().unwrap(), batches.last().unwrap());
            let every = config
                .eval
                .every_steps
                .is_some_and(|e| step.is_multiple_of(e));
            if every || end_of_epoch {
                let live = evaluate(model)?;
                let swa_metrics = match &swa {
                    Some(avg) => Some(with_weights(&params, avg.tensors(), || evaluate(model))?),
                    None => None,
                };
                let value =
                    |m: &BTreeMap<String, f64>| m.get(metric.name()).copied().unwrap_or(f64::NAN);
                let (source, candidate) = match &swa_metrics {
                    Some(s) if better(value(s), value(&live)) => ("swa", s.clone()),
                    _ => ("live", live.clone()),
                };
                let improved = best
                    .as_ref()
                    .is_none_or(|b| better(value(&candidate), b.metric));
                if improved {
                    let weights = keep_weights.then(|| match (&swa, source) {
                        (Some(avg), "swa") => snapshot(avg.tensors(), Device::Cpu),
                        _ => snapshot(&params, Device::Cpu),
                    });
                    best = Some(Best {
                        metric: value(&candidate),
                        step,
                        source: source.into(),
                        metrics: candidate,
                        weights,
                    });
                    since_best = 0;
                } else {
                    since_best += 1;
                }
                emit(Event {
                    kind: "eval",
                    fold,
                    step,
                    epoch,
                    metrics: Some(live),
                    swa_metrics,
                    is_best: Some(improved),
                    ..Default::default()
                });
                if config
                    .eval
                    .early_stopping_patience
                    .is_some_and(|p| since_best >= p)
                {
                    stopped_early = true;
                    break 'epochs;
                }
                if let Some(dir) = &state_dir {
                    if end_of_epoch
                        || last_save.elapsed().as_secs_f64() >= state_options.interval_seconds
                    {
                        let (epoch, window) = if end_of_epoch {
                            (epoch + 1, 0)
                        } else {
                            (epoch, w + 1)
                        };
                        let (moments, steps) = opt.state_tensors();
                        let b = best.as_ref().expect("just evaluated");
                        let state = checkpoint::LoopState {
                            step,
                            epoch,
                            window,
                            samples,
                            seconds: prior_seconds + started.elapsed().as_secs_f64(),
                            eval_seconds: eval_time.get(),
                            since_best,
                            best_metric: Some(b.metric),
                            best_step: b.step,
                            best_source: b.source.clone(),
                            best_metrics: b.metrics.clone(),
                            swa_n_averaged: swa.as_ref().map(|a| a.n_averaged),
                            optimizer_steps: steps.into_iter().collect(),
                        };
                        checkpoint::save(
                            dir,
                            &state,
                            &params,
                            &moments,
                            swa.as_ref().map(|a| a.tensors()),
                            b.weights.as_deref(),
                        )?;
                        last_save = Instant::now();
                    }
                }
            }
        }
    }
    let train_seconds = prior_seconds + started.elapsed().as_secs_f64();
    let eval_seconds = eval_time.get();

    // The final model is the SWA average when SWA ran.
    if let Some(avg) = &swa {
        copy_into(&params, avg.tensors());
    }
    let final_metrics = evaluate(model)?;
    let best = best.expect("every run evaluates at least once");
    let mut best_dir = None;
    let mut final_dir = None;
    if let Some(out) = out {
        let dir = out.join("final");
        model.save(&dir)?;
        emit(Event {
            kind: "checkpoint",
            fold,
            step,
            path: Some(dir.display().to_string()),
            ..Default::default()
        });
        final_dir = Some(dir.display().to_string());
        if let Some(weights) = &best.weights {
            let dir = out.join("best");
            with_weights(&params, weights, || model.save(&dir))?;
            emit(Event {
                kind: "checkpoint",
                fold,
                step: best.step,
                path: Some(dir.display().to_string()),
                ..Default::default()
            });
            best_dir = Some(dir.display().to_string());
        }
    }
    let outcome = FoldOutcome {
        fold,
        best_metric: best.metric,
        best_step: best.step,
        best_source: best.source,
        best_metrics: best.metrics,
        final_metrics,
        steps: step,
        epochs: epochs_run,
        stopped_early,
        train_seconds,
        eval_seconds,
        train_samples_per_second: samples as f64 / (train_seconds - eval_seconds).max(1e-9),
        best_dir,
        final_dir,
        reinitialized,
        precision: if bf16 { "bf16" } else { "fp32" }.into(),
    };
    if let Some(out) = out {
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

/// A finished fold's outcome, next to its checkpoints; a resumed experiment skips such folds.
pub const OUTCOME_FILE: &str = "outcome.json";

/// Runs `f` with `weights` temporarily in the model's parameters.
fn with_weights<T>(params: &[Tensor], weights: &[Tensor], f: impl FnOnce() -> T) -> T {
    crate::swa::with_weights(params, weights, f)
}

fn loss_of(loss: Loss, logits: &Tensor, targets: &[f64], device: Device) -> Tensor {
    match loss {
        Loss::CrossEntropy => {
            let y = Tensor::from_slice(&targets.iter().map(|&t| t as i64).collect::<Vec<_>>())
                .to_device(device);
            logits.to_kind(Kind::Float).cross_entropy_for_logits(&y)
        }
        _ => {
            let pred = logits.to_kind(Kind::Float).squeeze_dim(-1);
            let y = Tensor::from_slice(&targets.iter().map(|&t| t as f32).collect::<Vec<_>>())
                .to_device(device);
            match loss {
                Loss::Mse => pred.mse_loss(&y, Reduction::Mean),
                Loss::Rmse => pred.mse_loss(&y, Reduction::Mean).sqrt(),
                _ => pred.huber_loss(&y, Reduction::Mean, 1.0),
            }
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, max/(total + 1e-6)), where
/// total is the 2-norm of the per-parameter gradient norms; returns the total as a tensor, so
/// that reading it (a device sync) can wait until the whole step is queued. None: no gradients.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Option<Tensor> {
    let grads: Vec<Tensor> = params
        .iter()
        .map(Tensor::grad)
        .filter(Tensor::defined)
        .collect();
    (!grads.is_empty()).then(|| foreach::clip_grad_norm(&grads, max_norm))
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
