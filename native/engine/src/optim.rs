//! AdamW over named parameter groups, with torch.optim.AdamW's exact update.
//!
//! libtorch's own AdamW has no switch for bias correction and no per-group names, so the
//! engine keeps its own: p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
//! p ← p − lr/(1 − β1ᵗ) · m / (sqrt(v)/sqrt(1 − β2ᵗ) + eps). Turning bias correction off gives
//! the original BERT optimizer ("BERTAdam"): p ← p − lr · m / (sqrt(v) + eps).
//!
//! Two kernel paths, both libtorch's: `Fused` is torch.optim.AdamW(fused=True) (one pass per
//! tensor, no temporaries: on a CPU about ten times cheaper than the others), `Foreach` is
//! torch.optim.AdamW(foreach=True), whose arithmetic is also that of the default for-loop path.

use tch::{Kind, Tensor};

use crate::config::{AdamWImplementation, OptimizerConfig};
use crate::foreach;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdamWKernels {
    /// `_fused_adamw_`, as torch.optim.AdamW(fused=True); needs bias correction.
    Fused,
    /// The `_foreach_*` ops, as torch.optim.AdamW(foreach=True).
    Foreach,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub bias_correction: bool,
    pub kernels: AdamWKernels,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            bias_correction: true,
            kernels: AdamWKernels::Fused,
        }
    }
}

impl AdamWConfig {
    /// The optimizer an experiment's `optimizer` section asks for; `auto` is fused whenever
    /// bias correction is on (the fused kernel cannot turn it off).
    pub fn from_config(o: &OptimizerConfig) -> Self {
        let kernels = match o.implementation {
            AdamWImplementation::Fused => AdamWKernels::Fused,
            AdamWImplementation::Foreach => AdamWKernels::Foreach,
            AdamWImplementation::Auto if o.bias_correction => AdamWKernels::Fused,
            AdamWImplementation::Auto => AdamWKernels::Foreach,
        };
        Self {
            beta1: o.betas[0],
            beta2: o.betas[1],
            eps: o.eps,
            bias_correction: o.bias_correction,
            kernels,
        }
    }

    fn fused(&self) -> bool {
        // Checked with the config; here a guard for direct users of the optimizer.
        assert!(
            self.kernels != AdamWKernels::Fused || self.bias_correction,
            "fused AdamW always corrects bias: use the foreach kernels for bias_correction false"
        );
        self.kernels == AdamWKernels::Fused
    }
}

pub type NamedTensors = Vec<(String, Tensor)>;

/// A set of parameters sharing a learning rate and weight decay, as in a torch param group.
pub struct ParamGroup {
    pub name: String,
    pub lr: f64,
    pub weight_decay: f64,
    pub params: Vec<Tensor>,
}

struct Moments {
    step: i64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    /// The fused kernel's own copy of `step`: a float32 scalar on the parameter's device.
    step_tensor: Option<Tensor>,
}

pub struct AdamW {
    pub config: AdamWConfig,
    pub groups: Vec<ParamGroup>,
    state: Vec<Vec<Option<Moments>>>,
}

impl AdamW {
    pub fn new(groups: Vec<ParamGroup>, config: AdamWConfig) -> Self {
        let state = groups
            .iter()
            .map(|g| g.params.iter().map(|_| None).collect())
            .collect();
        Self {
            config,
            groups,
            state,
        }
    }

    /// torch's default `zero_grad(set_to_none=True)`.
    pub fn zero_grad(&mut self) {
        for group in &self.groups {
            foreach::grads_to_none(&group.params);
        }
    }

    /// The moments and step counts, named `g<group>.p<param>.{exp_avg,exp_avg_sq}`, for
    /// checkpoints that resume bit-exactly.
    pub fn state_tensors(&self) -> (NamedTensors, Vec<(String, i64)>) {
        let mut tensors = vec![];
        let mut steps = vec![];
        for (g, states) in self.state.iter().enumerate() {
            for (p, s) in states.iter().enumerate() {
                if let Some(m) = s {
                    tensors.push((format!("g{g}.p{p}.exp_avg"), m.exp_avg.shallow_clone()));
                    tensors.push((
                        format!("g{g}.p{p}.exp_avg_sq"),
                        m.exp_avg_sq.shallow_clone(),
                    ));
                    steps.push((format!("g{g}.p{p}"), m.step));
                }
            }
        }
        (tensors, steps)
    }

    /// Restores what `state_tensors` saved (same groups and parameters, in the same order).
    pub fn load_state(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        steps: &std::collections::HashMap<String, i64>,
    ) -> anyhow::Result<()> {
        for (g, (group, states)) in self.groups.iter().zip(self.state.iter_mut()).enumerate() {
            for (p, (param, state)) in group.params.iter().zip(states.iter_mut()).enumerate() {
                let key = format!("g{g}.p{p}");
                let Some(&step) = steps.get(&key) else {
                    *state = None;
                    continue;
                };
                let get = |suffix: &str| -> anyhow::Result<Tensor> {
                    let t = tensors
                        .get(&format!("{key}.{suffix}"))
                        .ok_or_else(|| anyhow::anyhow!("optimizer state lacks {key}.{suffix}"))?;
                    anyhow::ensure!(
                        t.size() == param.size(),
                        "optimizer state {key} does not fit the model"
                    );
                    Ok(t.to_device(param.device()).to_kind(param.kind()))
                };
                *state = Some(Moments {
                    step,
                    exp_avg: get("exp_avg")?,
                    exp_avg_sq: get("exp_avg_sq")?,
                    step_tensor: None,
                });
            }
        }
        Ok(())
    }

    /// One update of every parameter that has a gradient (others are skipped, as in torch),
    /// group by group: one fused call, or a few multi-tensor ops, per group.
    pub fn step(&mut self) {
        let fused = self.config.fused();
        let AdamWConfig {
            beta1,
            beta2,
            eps,
            bias_correction,
            ..
        } = self.config;
        tch::no_grad(|| {
            for (group, states) in self.groups.iter().zip(self.state.iter_mut()) {
                let lr = group.lr;
                let (mut params, mut grads, mut exp_avgs, mut exp_avg_sqs) =
                    (vec![], vec![], vec![], vec![]);
                let (mut steps, mut step_sizes, mut bc2_sqrts) = (vec![], vec![], vec![]);
                for (param, state) in group.params.iter().zip(states.iter_mut()) {
                    let grad = param.grad();
                    if !grad.defined() {
                        continue;
                    }
                    let s = state.get_or_insert_with(|| Moments {
                        step: 0,
                        exp_avg: param.zeros_like(),
                        exp_avg_sq: param.zeros_like(),
                        step_tensor: None,
                    });
                    if fused {
                        // The kernel increments it; created from the count (a resumed run).
                        let count = s.step as f32;
                        let t = s
                            .step_tensor
                            .get_or_insert_with(|| Tensor::from(count).to_device(param.device()));
                        steps.push(t.shallow_clone());
                    }
                    s.step += 1;
                    // As torch: Python's float power of the step count.
                    let t = s.step as f64;
                    let (step_size, bc2_sqrt) = if bias_correction {
                        (-(lr / (1.0 - beta1.powf(t))), (1.0 - beta2.powf(t)).sqrt())
                    } else {
                        (-lr, 1.0)
                    };
                    params.push(param.shallow_clone());
                    grads.push(grad);
                    exp_avgs.push(s.exp_avg.shallow_clone());
                    exp_avg_sqs.push(s.exp_avg_sq.shallow_clone());
                    step_sizes.push(step_size);
                    bc2_sqrts.push(bc2_sqrt);
                }
                if params.is_empty() {
                    continue;
                }
                let tensors = foreach::AdamwTensors {
                    params: &params,
                    grads: &grads,
                    exp_avgs: &exp_avgs,
                    exp_avg_sqs: &exp_avg_sqs,
                };
                let kernel = if fused {
                    foreach::AdamwKernel::Fused { steps: &steps }
                } else {
                    foreach::AdamwKernel::Foreach {
                        step_sizes: &step_sizes,
                        bc2_sqrts: &bc2_sqrts,
                    }
                };
                let hyper = foreach::AdamwHyper {
                    lr,
                    weight_decay: group.weight_decay,
                    beta1,
                    beta2,
                    eps,
                };
                foreach::adamw(&tensors, &kernel, hyper);
            }
        });
    }
}

/// Runs AdamW on one parameter vector (f64, or f32 with `kind`), feeding it the given gradients
/// one step at a time, and returns the parameter after the last step. Exists so that the
/// bindings can prove the optimizer against torch.optim.AdamW on exact numbers.
pub fn replay_adamw(
    param: &[f64],
    grads: &[Vec<f64>],
    lr: f64,
    weight_decay: f64,
    config: AdamWConfig,
    kind: Kind,
) -> anyhow::Result<Vec<f64>> {
    anyhow::ensure!(
        matches!(kind, Kind::Float | Kind::Double),
        "replay runs in float32 or float64"
    );
    anyhow::ensure!(
        config.kernels != AdamWKernels::Fused || config.bias_correction,
        "fused AdamW always corrects bias"
    );
    let p = Tensor::from_slice(param)
        .to_kind(kind)
        .set_requires_grad(true);
    let group = ParamGroup {
        name: "replay".into(),
        lr,
        weight_decay,
        params: vec![p.shallow_clone()],
    };
    let mut opt = AdamW::new(vec![group], config);
    for (i, g) in grads.iter().enumerate() {
        anyhow::ensure!(
            g.len() == param.len(),
            "gradient {i} has {} values, the parameter {}",
            g.len(),
            param.len()
        );
        opt.zero_grad();
        // d/dp Σ p·g = g, so backward leaves exactly the requested gradient.
        (&p * Tensor::from_slice(g).to_kind(kind))
            .sum(kind)
            .backward();
        opt.step();
    }
    Ok(Vec::<f64>::try_from(&p.detach().to_kind(Kind::Double))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_param_step(bias_correction: bool) -> f64 {
        let p = Tensor::from_slice(&[1.0f64]).set_requires_grad(true);
        let group = ParamGroup {
            name: "all".into(),
            lr: 0.1,
            weight_decay: 0.0,
            params: vec![p.shallow_clone()],
        };
        let mut opt = AdamW::new(
            vec![group],
            AdamWConfig {
                bias_correction,
                kernels: if bias_correction {
                    AdamWKernels::Fused
                } else {
                    AdamWKernels::Foreach
                },
                ..Default::default()
            },
        );
        (&p * 3.0).sum(Kind::Double).backward();
        opt.step();
        p.double_value(&[])
    }

    #[test]
    fn first_step_moves_by_lr_with_bias_correction() {
        // With bias correction the first step is lr·g/(|g| + eps·…) ≈ lr.
        assert!((one_param_step(true) - 0.9).abs() < 1e-6);
    }

    #[test]
    fn without_bias_correction_the_first_step_is_damped() {
        // m = 0.1·g, sqrt(v) = sqrt(0.001)·|g|: step = lr·0.1/sqrt(0.001) ≈ 0.316·lr.
        let expected = 1.0 - 0.1 * 0.1 / 0.001f64.sqrt();
        assert!((one_param_step(false) - expected).abs() < 1e-6);
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    fn replay(kernels: AdamWKernels, kind: Kind) -> Vec<f64> {
        let grads = vec![
            vec![0.1, -0.2, 0.3],
            vec![0.05, 0.4, -0.1],
            vec![-0.3, 0.2, 2.0],
        ];
        let config = AdamWConfig {
            kernels,
            ..Default::default()
        };
        replay_adamw(&[0.5, -1.25, 2.0], &grads, 0.01, 0.1, config, kind).unwrap()
    }

    #[test]
    fn fused_and_foreach_kernels_agree_to_rounding() {
        for (kind, tol) in [(Kind::Double, 1e-14), (Kind::Float, 1e-6)] {
            let (a, b) = (
                replay(AdamWKernels::Fused, kind),
                replay(AdamWKernels::Foreach, kind),
            );
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < tol, "{kind:?}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn fused_kernels_without_bias_correction_are_refused() {
        let config = AdamWConfig {
            bias_correction: false,
            kernels: AdamWKernels::Fused,
            ..Default::default()
        };
        assert!(replay_adamw(&[1.0], &[vec![1.0]], 0.1, 0.0, config, Kind::Double).is_err());
    }

    #[test]
    fn a_resumed_fused_optimizer_continues_its_step_count() {
        // Two steps in one go, or one step, a save and a load, then the second: same weights.
        let grads = [[0.3f32, -0.1], [0.2, 0.4]];
        let run = |resume: bool| {
            let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
            let group = || ParamGroup {
                name: "g".into(),
                lr: 0.1,
                weight_decay: 0.01,
                params: vec![p.shallow_clone()],
            };
            let mut opt = AdamW::new(vec![group()], AdamWConfig::default());
            for (i, g) in grads.iter().enumerate() {
                if resume && i == 1 {
                    let (tensors, steps) = opt.state_tensors();
                    let tensors = tensors.into_iter().map(|(k, t)| (k, t.copy())).collect();
                    opt = AdamW::new(vec![group()], AdamWConfig::default());
                    opt.load_state(&tensors, &steps.into_iter().collect())
                        .unwrap();
                }
                opt.zero_grad();
                (&p * Tensor::from_slice(g)).sum(Kind::Float).backward();
                opt.step();
            }
            Vec::<f32>::try_from(&p.detach()).unwrap()
        };
        assert_eq!(run(false), run(true));
    }
}
