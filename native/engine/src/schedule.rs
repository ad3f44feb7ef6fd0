//! Learning-rate schedules, exactly as the training loop applies them:
//! transformers' `get_{linear,cosine,constant}_schedule_with_warmup` (a LambdaLR on every
//! group's base LR), then, from the SWA start on, torch's SWALR.

use crate::config::{AnnealStrategy, ExperimentConfig, ScheduleName};

/// λ(k) of a warm-up schedule over `total` optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Warmup {
    pub name: ScheduleName,
    pub warmup: usize,
    pub total: usize,
}

impl Warmup {
    pub fn lambda(&self, k: usize) -> f64 {
        let (k, w, n) = (k as f64, self.warmup as f64, self.total as f64);
        if k < w {
            return k / w.max(1.0);
        }
        match self.name {
            ScheduleName::Constant => 1.0,
            ScheduleName::Linear => ((n - k) / (n - w).max(1.0)).max(0.0),
            ScheduleName::Cosine => {
                let progress = (k - w) / (n - w).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        }
    }
}

/// SWALR from optimizer step `start` on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SwaPhase {
    pub start: usize,
    pub lr: f64,
    pub anneal_steps: usize,
    pub strategy: AnnealStrategy,
}

impl SwaPhase {
    fn anneal(&self, t: f64) -> f64 {
        match self.strategy {
            AnnealStrategy::Linear => t,
            AnnealStrategy::Cos => (1.0 - (std::f64::consts::PI * t).cos()) / 2.0,
        }
    }

    /// torch's SWALR: step start + j runs at swa_lr·f(t) + lr_start·(1 − f(t)), t = min(1, j/A);
    /// with A = 0, at swa_lr from the first SWA step.
    fn lr(&self, j: usize, lr_at_start: f64) -> f64 {
        if self.anneal_steps == 0 {
            return self.lr;
        }
        let f = self.anneal((j as f64 / self.anneal_steps as f64).min(1.0));
        if f >= 1.0 {
            self.lr
        } else {
            self.lr * f + lr_at_start * (1.0 - f)
        }
    }
}

/// The whole LR plan of a run: every group's LR at every optimizer step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LrPlan {
    pub base: Vec<f64>,
    pub warmup: Warmup,
    pub swa: Option<SwaPhase>,
}

impl LrPlan {
    /// `steps_per_epoch` optimizer steps in each of the config's epochs.
    pub fn new(
        config: &ExperimentConfig,
        base: Vec<f64>,
        steps_per_epoch: usize,
    ) -> anyhow::Result<Self> {
        let total = steps_per_epoch * config.train.epochs;
        let s = &config.schedule;
        let warmup = match (s.warmup_steps, s.warmup_ratio) {
            (Some(w), _) => w,
            (None, Some(r)) => (r * total as f64).ceil() as usize,
            (None, None) => 0,
        };
        let swa = match &config.swa {
            None => None,
            Some(c) => {
                let start = c
                    .start_step
                    .unwrap_or_else(|| (c.start_epoch.unwrap_or(1) - 1) * steps_per_epoch);
                anyhow::ensure!(
                    start < total,
                    "swa.start_step {start} is not before the run's end ({total} optimizer steps)"
                );
                Some(SwaPhase {
                    start,
                    lr: c.lr,
                    anneal_steps: c.anneal_steps,
                    strategy: c.anneal_strategy,
                })
            }
        };
        Ok(Self {
            base,
            warmup: Warmup {
                name: s.name,
                warmup,
                total,
            },
            swa,
        })
    }

    pub fn total_steps(&self) -> usize {
        self.warmup.total
    }

    pub fn swa_active(&self, step: usize) -> bool {
        self.swa.is_some_and(|s| step >= s.start)
    }

    /// LR of group `g` for optimizer step `k` (from 0).
    pub fn lr(&self, g: usize, k: usize) -> f64 {
        let base = self.base[g];
        match self.swa {
            Some(swa) if k >= swa.start => {
                swa.lr(k - swa.start, base * self.warmup.lambda(swa.start))
            }
            _ => base * self.warmup.lambda(k),
        }
    }

    pub fn lrs(&self, k: usize) -> Vec<f64> {
        (0..self.base.len()).map(|g| self.lr(g, k)).collect()
    }

    /// Every group's LR over the whole run: `curves[g][k]`.
    pub fn curves(&self) -> Vec<Vec<f64>> {
        (0..self.base.len())
            .map(|g| (0..self.total_steps()).map(|k| self.lr(g, k)).collect())
            .collect()
    }
}

/// Optimizer steps per epoch: batches rounded up, then accumulation rounded up (a partial
/// accumulation at the epoch's end still steps).
pub fn steps_per_epoch(train_rows: usize, batch_size: usize, grad_accum: usize) -> usize {
    train_rows.div_ceil(batch_size).div_ceil(grad_accum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warmup(name: ScheduleName) -> Warmup {
        Warmup {
            name,
            warmup: 4,
            total: 20,
        }
    }

    #[test]
    fn warmup_starts_at_zero_and_reaches_the_base_lr() {
        for name in [
            ScheduleName::Linear,
            ScheduleName::Cosine,
            ScheduleName::Constant,
        ] {
            let w = warmup(name);
            assert_eq!(w.lambda(0), 0.0);
            assert_eq!(w.lambda(2), 0.5);
            assert_eq!(w.lambda(4), 1.0);
        }
        assert_eq!(warmup(ScheduleName::Linear).lambda(20), 0.0);
        assert!(warmup(ScheduleName::Cosine).lambda(20).abs() < 1e-15);
        assert_eq!(warmup(ScheduleName::Constant).lambda(19), 1.0);
    }

    #[test]
    fn swa_without_annealing_switches_at_once() {
        let plan = LrPlan {
            base: vec![1.0, 2.0],
            warmup: Warmup {
                name: ScheduleName::Linear,
                warmup: 0,
                total: 10,
            },
            swa: Some(SwaPhase {
                start: 6,
                lr: 0.05,
                anneal_steps: 0,
                strategy: AnnealStrategy::Cos,
            }),
        };
        assert_eq!(plan.lrs(5), vec![0.5, 1.0]);
        assert_eq!(plan.lrs(6), vec![0.05, 0.05]);
        assert_eq!(plan.lrs(9), vec![0.05, 0.05]);
    }

    #[test]
    fn steps_round_up() {
        assert_eq!(steps_per_epoch(10, 4, 1), 3);
        assert_eq!(steps_per_epoch(10, 4, 2), 2);
        assert_eq!(steps_per_epoch(8, 4, 2), 1);
    }
}
