//! The moves of one fold's training — restore, step, evaluate, save, finish — and what they
//! share: the optimizer, the LR plan, the SWA average, the best weights and the loop state.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use tch::{Device, Tensor};

use super::divergence::blank_loss;
use super::events::{CheckpointName, Event};
use super::loss::{clip_grad_norm, loss_of};
use super::{param_groups, BestSource, ComputePrecision, FoldData, FoldOutcome, ParamGroups};
use crate::checkpoint::{self, LoopState};
use crate::config::{ExperimentConfig, Metric, Precision, SwaEvaluate, Task};
use crate::model::SequenceModel;
use crate::optim::{AdamW, AdamWConfig};
use crate::runtime::{autocast_bf16, check_bf16};
use crate::schedule::{steps_per_epoch, LrPlan};
use crate::swa::{copy_into, snapshot, with_weights, AveragedModel};
use crate::tokenize::Encoded;

/// Every metric by name, and the outputs (a value per label, per validation row) behind them.
type Metrics = BTreeMap<String, f64>;
type Outputs = Vec<Vec<f64>>;

pub(super) struct Trainer<'a> {
    config: &'a ExperimentConfig,
    fold: usize,
    data: &'a FoldData<'a>,
    model: &'a SequenceModel,
    /// The model's parameters in name order, as AdamW, SWA and checkpoints see them.
    params: Vec<Tensor>,
    opt: AdamW,
    plan: LrPlan,
    /// bf16 autocast (CUDA, or a CPU with bf16 instructions), fp32 master weights.
    bf16: bool,
    /// The running average, from SWA's first step on.
    swa: Option<AveragedModel>,
    /// Keep the best evaluation's weights (on the CPU) for `best/`.
    keep_best: bool,
    best_weights: Option<Vec<Tensor>>,
    /// The validation loss of a blank model, for the divergence warning.
    blank_loss: f64,
    /// Position, timings and the best so far: with the tensors above, what a resumed run needs.
    pub state: LoopState,
    /// Since `state.seconds` was last brought up to date.
    clock: Instant,
    saved_at: Instant,
    emit: &'a mut dyn FnMut(Event),
}

impl<'a> Trainer<'a> {
    /// AdamW over the config's parameter groups and the fold's LR plan, which it reports.
    pub fn new(
        config: &'a ExperimentConfig,
        fold: usize,
        data: &'a FoldData<'a>,
        model: &'a SequenceModel,
        keep_best: bool,
        emit: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let bf16 = match config.train.precision {
            Precision::Fp32 => false,
            Precision::Auto => model.device().is_cuda(),
            Precision::Bf16 => {
                check_bf16(model.device(), "train.precision")?;
                true
            }
        };
        let ParamGroups {
            params,
            specs,
            groups,
        } = param_groups(model, config)?;
        let opt = AdamW::new(groups, AdamWConfig::from_config(&config.optimizer));
        let classes = (config.task == Task::Classification).then_some(model.num_labels as usize);
        let t = &config.train;
        let steps_per_epoch = steps_per_epoch(data.train.len(), t.batch_size, t.grad_accum);
        let plan = LrPlan::new(
            config,
            specs.iter().map(|g| g.lr).collect(),
            steps_per_epoch,
        )?;
        emit(Event::FoldStart {
            fold,
            total_steps: plan.total_steps(),
            steps_per_epoch,
            warmup_steps: plan.warmup.warmup,
            swa_start_step: plan.swa.map(|s| s.start),
            groups: specs.into_iter().map(|g| g.name).collect(),
        });
        Ok(Self {
            config,
            fold,
            data,
            model,
            params,
            opt,
            plan,
            bf16,
            swa: None,
            keep_best,
            best_weights: None,
            blank_loss: blank_loss(&data.valid_targets, classes),
            state: LoopState::default(),
            clock: Instant::now(),
            saved_at: Instant::now(),
            emit,
        })
    }

    /// Continues from the state saved in `dir`, when there is one.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        let n = self.params.len();
        let Some(saved) = checkpoint::load(dir, n, self.model.device())? else {
            return Ok(());
        };
        copy_into(&self.params, &saved.params);
        self.opt
            .load_state(&saved.optimizer, &saved.optimizer_steps)?;
        self.swa = saved.swa;
        self.best_weights = saved.best;
        self.state = saved.state;
        let (step, epoch) = (self.state.step, self.state.epoch);
        (self.emit)(Event::Resume {
            fold: self.fold,
            step,
            epoch,
        });
        Ok(())
    }

    /// One optimizer step over an accumulation window (batches of rows of `data.train`).
    pub fn step(&mut self, window: &[&[usize]], epoch: usize) -> Result<()> {
        let (t, fold, step) = (&self.config.train, self.fold, self.state.step);
        // Dropout draws from a stream fixed by (seed, step), so a resumed run matches.
        tch::manual_seed(
            (t.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(step as i64),
        );
        // SWA starts at its first optimizer step: average and SWALR from here on.
        if self.plan.swa.is_some_and(|s| s.start == step) && self.swa.is_none() {
            self.swa = Some(AveragedModel::new(&self.params));
            (self.emit)(Event::SwaStart { fold, step, epoch });
        }
        let lrs = self.plan.lrs(step);
        for (g, lr) in self.opt.groups.iter_mut().zip(&lrs) {
            g.lr = *lr;
        }
        let (losses, rows) = self.forward_backward(window);
        let grad_norm = t
            .max_grad_norm
            .and_then(|max| clip_grad_norm(&self.params, max));
        self.opt.step();
        self.opt.zero_grad();
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
        if let Some(avg) = self.swa.as_mut() {
            avg.update(&self.params);
        }
        self.state.step += 1;
        self.state.samples += rows;
        let step = self.state.step;
        (self.emit)(Event::Step {
            fold,
            step,
            epoch,
            loss,
            grad_norm,
            lrs,
        });
        Ok(())
    }

    /// Forward and backward over each batch of the window, gradients accumulating; returns the
    /// batches' losses with their row counts, and the rows.
    fn forward_backward(&self, window: &[&[usize]]) -> (Vec<(Tensor, usize)>, usize) {
        let (data, model) = (self.data, self.model);
        // Losses stay on the device until the whole step is queued: reading one is a sync,
        // and on a GPU an early sync leaves it idle while the optimizer's launches follow.
        let (mut losses, mut rows) = (vec![], 0usize);
        for batch_rows in window {
            let examples: Vec<&Encoded> = batch_rows.iter().map(|&i| data.train[i]).collect();
            let targets: Vec<f64> = batch_rows.iter().map(|&i| data.train_targets[i]).collect();
            let batch = model.collate(&examples);
            let logits = if self.bf16 {
                autocast_bf16(model.device(), || model.forward(&batch, true))
            } else {
                model.forward(&batch, true)
            };
            let loss = loss_of(self.config.loss(), &logits, &targets, model.device());
            (&loss / window.len() as f64).backward();
            losses.push((loss.detach(), batch_rows.len()));
            rows += batch_rows.len();
        }
        (losses, rows)
    }

    /// Evaluates the live model, and the SWA average while SWA runs; the better of the two
    /// becomes the best when it beats the best so far (its weights kept for `best/`).
    pub fn evaluate(&mut self, epoch: usize) -> Result<()> {
        let started = Instant::now();
        let (live, live_outputs) = self.scores()?;
        let last_step = self.state.step == self.plan.total_steps();
        let score_average = match self.config.swa.as_ref().map(|c| c.evaluate) {
            Some(SwaEvaluate::Last) => last_step,
            _ => true,
        };
        let swa = match &self.swa {
            Some(avg) if score_average => {
                Some(with_weights(&self.params, avg.tensors(), || self.scores())?)
            }
            _ => None,
        };
        let (swa_metrics, swa_outputs) = match swa {
            Some((m, o)) => (Some(m), Some(o)),
            None => (None, None),
        };
        self.state.eval_seconds += started.elapsed().as_secs_f64();
        self.state.evaluations += 1 + usize::from(swa_metrics.is_some());
        // The final model is the average once SWA started: only its own score can stand for it.
        self.state.final_candidate = match (&self.swa, &swa_metrics) {
            (None, _) => Some((self.state.step, live.clone())),
            (Some(_), Some(m)) => Some((self.state.step, m.clone())),
            (Some(_), None) => None,
        };

        let metric = self.config.metric();
        let value = |m: &BTreeMap<String, f64>| m.get(metric.name()).copied().unwrap_or(f64::NAN);
        let (source, candidate, outputs) = match (&swa_metrics, swa_outputs) {
            (Some(s), Some(o)) if better(metric, value(s), value(&live)) => (BestSource::Swa, s, o),
            _ => (BestSource::Live, &live, live_outputs),
        };
        let s = &mut self.state;
        let is_best = s
            .best_metric
            .is_none_or(|b| better(metric, value(candidate), b));
        if is_best {
            if self.keep_best {
                self.best_weights = Some(match (&self.swa, source) {
                    (Some(avg), BestSource::Swa) => snapshot(avg.tensors(), Device::Cpu),
                    _ => snapshot(&self.params, Device::Cpu),
                });
            }
            s.best_metric = Some(value(candidate));
            (s.best_step, s.best_source) = (s.step, source);
            s.best_metrics = candidate.clone();
            s.best_outputs = outputs;
            s.since_best = 0;
        } else {
            s.since_best += 1;
        }
        let (fold, step) = (self.fold, s.step);
        let loss_name = match self.config.task {
            Task::Classification => Metric::LogLoss.name(),
            Task::Regression => Metric::Rmse.name(),
        };
        let loss = live.get(loss_name).copied().unwrap_or(f64::NAN);
        let warning = s.divergence.observe(loss_name, loss, self.blank_loss);
        let event = Event::Eval {
            fold,
            step,
            epoch,
            metrics: live,
            swa_metrics,
            is_best,
            best_metric: s.best_metric.unwrap_or(f64::NAN),
            best_step: s.best_step,
        };
        (self.emit)(event);
        if let Some(message) = warning {
            let event = Event::Warning {
                fold,
                step,
                epoch,
                message,
            };
            (self.emit)(event);
        }
        Ok(())
    }

    /// Every metric of the task on the validation rows, for the weights now in the model,
    /// and the outputs they were computed from.
    fn scores(&self) -> Result<(Metrics, Outputs)> {
        let outputs = self
            .model
            .predict(&self.data.valid, self.config.train.eval_batch_size)?;
        let outputs: Vec<Vec<f64>> = outputs
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect();
        let classification = self.config.task == Task::Classification;
        let metrics =
            crate::metrics::all_metrics(&outputs, &self.data.valid_targets, classification)
                .into_iter()
                .map(|(k, v)| (k.name().to_string(), v))
                .collect();
        Ok((metrics, outputs))
    }

    /// Writes the resumable state (loop state and tensors) to `dir`.
    pub fn save_state(&mut self, dir: &Path) -> Result<()> {
        self.lap();
        checkpoint::save(
            dir,
            &self.state,
            &self.params,
            &self.opt,
            self.swa.as_ref(),
            self.best_weights.as_deref(),
        )?;
        self.saved_at = Instant::now();
        Ok(())
    }

    pub fn seconds_since_save(&self) -> f64 {
        self.saved_at.elapsed().as_secs_f64()
    }

    /// Brings `state.seconds` up to date.
    fn lap(&mut self) {
        self.state.seconds += self.clock.elapsed().as_secs_f64();
        self.clock = Instant::now();
    }

    /// Ends the fold: the final model (the SWA average when SWA ran) is evaluated and, with
    /// `out`, written to `out/final`, the best weights to `out/best`.
    pub fn finish(
        mut self,
        out: Option<&Path>,
        epochs: usize,
        stopped_early: bool,
        reinitialized: usize,
    ) -> Result<FoldOutcome> {
        self.lap();
        if let Some(avg) = &self.swa {
            copy_into(&self.params, avg.tensors());
        }
        // The loop evaluates at the end of every epoch, so the final model's weights were
        // usually scored at the last step already: reuse that rather than a second pass.
        let final_metrics = match self.state.final_candidate.take() {
            Some((step, metrics)) if step == self.state.step => metrics,
            _ => {
                self.state.evaluations += 1;
                self.scores()?.0
            }
        };
        let (mut best_dir, mut final_dir) = (None, None);
        if let Some(out) = out {
            let dir = out.join(CheckpointName::Final.dir_name());
            self.model.save(&dir)?;
            final_dir = Some(self.written(&dir, CheckpointName::Final, self.state.step));
            if let Some(weights) = self.best_weights.take() {
                let dir = out.join(CheckpointName::Best.dir_name());
                with_weights(&self.params, &weights, || self.model.save(&dir))?;
                best_dir = Some(self.written(&dir, CheckpointName::Best, self.state.best_step));
            }
        }
        let s = &self.state;
        Ok(FoldOutcome {
            fold: self.fold,
            best_metric: s.best_metric.unwrap_or(f64::NAN),
            best_step: s.best_step,
            best_source: s.best_source,
            best_metrics: s.best_metrics.clone(),
            final_metrics,
            steps: s.step,
            epochs,
            stopped_early,
            train_seconds: s.seconds,
            eval_seconds: s.eval_seconds,
            train_samples_per_second: s.samples as f64 / (s.seconds - s.eval_seconds).max(1e-9),
            best_dir,
            final_dir,
            reinitialized,
            precision: if self.bf16 {
                ComputePrecision::Bf16
            } else {
                ComputePrecision::Fp32
            },
            valid_outputs: s.best_outputs.clone(),
            evaluations: s.evaluations,
            threads: tch::get_num_threads().max(0) as usize,
        })
    }

    /// Reports a model folder written with the weights of `step`; returns its path.
    fn written(&mut self, dir: &Path, which: CheckpointName, step: usize) -> String {
        let path = dir.display().to_string();
        (self.emit)(Event::Checkpoint {
            fold: self.fold,
            step,
            path: path.clone(),
            which,
        });
        path
    }
}

/// `a` is a better value of `metric` than `b`; NaN is never better, and anything beats NaN.
fn better(metric: Metric, a: f64, b: f64) -> bool {
    !a.is_nan()
        && (b.is_nan()
            || if metric.higher_is_better() {
                a > b
            } else {
                a < b
            })
}
