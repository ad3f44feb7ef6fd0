//! Where a training step's time goes: the engine's loop (train.rs) taken apart into phases —
//! collate, forward, backward, clipping, AdamW, zero_grad, the SWA average — each timed with
//! wall clock and the thread's CPU time (CPU only). Its twin for the PyTorch loop is
//! `bench/step_profile.py`, on the same request file as `bench/run.ts` writes. With
//! `--threads 1` the CPU times are the work each phase does, however loaded the machine is.
//! Prints one JSON line: per-phase medians in milliseconds.
//!
//!   step_profile REQUEST_JSON [--kernels fused|foreach|loop] [--swa exact|temporaries]
//!                [--threads N]
//!
//! `--kernels loop` and `--swa temporaries` are the engine's CPU paths before the fused kernels
//! (per-tensor AdamW ops; avg + (p − avg)/(n + 1) with temporaries), kept here to measure them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use common::{arg, setup};
use ftune_engine::config::ExperimentConfig;
use ftune_engine::model::{ModelOptions, SequenceModel};
use ftune_engine::optim::{AdamW, AdamWConfig, AdamWKernels};
use ftune_engine::swa::AveragedModel;
use ftune_engine::tokenize::Encoded;
use ftune_engine::train::{clip_grad_norm, param_groups, ParamGroups};
use tch::{Device, Kind, Reduction, Tensor};

#[derive(serde::Deserialize)]
struct Request {
    dir: String,
    texts: Vec<String>,
    targets: Vec<f64>,
    batch: usize,
    seq: usize,
    steps: usize,
    skip: usize,
    llrd: serde_json::Value,
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
}

/// CPU time of the calling thread in ms (Linux): with one intra-op thread, the work a phase
/// did however loaded the machine is (wall time is not, on shared cores).
fn thread_cpu_ms() -> f64 {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.sec as f64 * 1e3 + t.nsec as f64 / 1e6
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// torch.optim.AdamW's default (for-loop) path on the CPU, one tensor at a time: the engine's
/// optimizer before the multi-tensor change.
struct LoopAdamW {
    groups: Vec<(f64, f64, Vec<Tensor>)>,
    state: Vec<Vec<Option<(i64, Tensor, Tensor)>>>,
}

impl LoopAdamW {
    fn step(&mut self, (beta1, beta2, eps): (f64, f64, f64)) {
        tch::no_grad(|| {
            for ((lr, wd, params), states) in self.groups.iter().zip(self.state.iter_mut()) {
                for (p, s) in params.iter().zip(states.iter_mut()) {
                    let g = p.grad();
                    if !g.defined() {
                        continue;
                    }
                    let (step, m, v) = s.get_or_insert_with(|| (0, p.zeros_like(), p.zeros_like()));
                    *step += 1;
                    let mut p = p.shallow_clone();
                    let _ = p.g_mul_scalar_(1.0 - lr * wd);
                    let _ = m.lerp_(&g, 1.0 - beta1);
                    let _ = v.g_mul_scalar_(beta2);
                    let _ = v.addcmul_(&(&g * (1.0 - beta2)), &g);
                    let t = *step as f64;
                    let (bc1, bc2) = (1.0 - beta1.powf(t), 1.0 - beta2.powf(t));
                    let denom = v.sqrt() / bc2.sqrt() + eps;
                    let _ = p.addcdiv_(&(&*m * -(lr / bc1)), &denom);
                }
            }
        });
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or_else(|| {
        anyhow::anyhow!("usage: step_profile REQUEST_JSON [--kernels fused|foreach|loop]")
    })?;
    let req: Request = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let kernels = arg(&args, "--kernels", "fused");
    let swa_kind = arg(&args, "--swa", "exact");
    // CPU only: the thread CPU times below mean nothing for GPU work.
    let device = setup(&args, "cpu")?;
    anyhow::ensure!(device == Device::Cpu, "step_profile measures the CPU");

    let config = ExperimentConfig::from_json(&serde_json::to_string(&serde_json::json!({
        "model": req.dir,
        "data": { "train": "bench", "text": "text", "label": "label", "max_length": req.seq },
        "optimizer": { "eps": 1e-6, "weight_decay": 0.01 },
        "llrd": req.llrd,
    }))?)?;
    let opts = ModelOptions {
        num_labels: Some(1),
        max_length: Some(req.seq),
        device,
        ..Default::default()
    };
    let model = SequenceModel::load(Path::new(&req.dir), &opts)?;
    let n = req.steps * req.batch;
    let encoded = model.encode(&req.texts[..n], None)?;
    let ParamGroups { params, groups, .. } = param_groups(&model, &config)?;
    let mut loop_opt = LoopAdamW {
        groups: groups
            .iter()
            .map(|g| {
                let p = g.params.iter().map(Tensor::shallow_clone).collect();
                (g.lr, g.weight_decay, p)
            })
            .collect(),
        state: groups
            .iter()
            .map(|g| g.params.iter().map(|_| None).collect())
            .collect(),
    };
    let mut adamw_config = AdamWConfig::from_config(&config.optimizer);
    adamw_config.kernels = match kernels.as_str() {
        "foreach" => AdamWKernels::Foreach,
        _ => AdamWKernels::Fused,
    };
    let betas = (adamw_config.beta1, adamw_config.beta2, adamw_config.eps);
    let mut opt = AdamW::new(groups, adamw_config);

    let mut phases: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut cpu: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let swa_from = req.steps / 2;
    let mut swa: Option<AveragedModel> = None;
    let mut swa_old: Option<(Vec<Tensor>, i64)> = None;
    for step in 0..req.steps {
        let (mut clock, mut cpu_clock) = (Instant::now(), thread_cpu_ms());
        let (start, cpu_start) = (clock, cpu_clock);
        let mut lap = |name: &'static str, phases: &mut BTreeMap<&str, Vec<f64>>| {
            let ms = clock.elapsed().as_secs_f64() * 1e3;
            let cpu_ms = thread_cpu_ms() - cpu_clock;
            (clock, cpu_clock) = (Instant::now(), thread_cpu_ms());
            if step >= req.skip {
                phases.entry(name).or_default().push(ms);
                cpu.entry(name).or_default().push(cpu_ms);
            }
        };
        let rows: Vec<&Encoded> = encoded[step * req.batch..(step + 1) * req.batch]
            .iter()
            .collect();
        let targets: Vec<f32> = req.targets[step * req.batch..(step + 1) * req.batch]
            .iter()
            .map(|&t| t as f32)
            .collect();
        let batch = model.collate(&rows);
        lap("collate", &mut phases);
        let logits = model.forward(&batch, true);
        let loss = logits
            .to_kind(Kind::Float)
            .squeeze_dim(-1)
            .mse_loss(&Tensor::from_slice(&targets), Reduction::Mean);
        lap("forward", &mut phases);
        loss.backward();
        lap("backward", &mut phases);
        let norm = clip_grad_norm(&params, 1.0);
        lap("clip", &mut phases);
        if kernels == "loop" {
            loop_opt.step(betas);
        } else {
            opt.step();
        }
        lap("adamw", &mut phases);
        opt.zero_grad();
        lap("zero_grad", &mut phases);
        let _ = (loss.double_value(&[]), norm.map(|n| n.double_value(&[])));
        lap("read loss", &mut phases);
        if step >= swa_from {
            if swa_kind == "temporaries" {
                let (avg, n) = swa_old
                    .get_or_insert_with(|| (params.iter().map(|p| p.detach().copy()).collect(), 0));
                tch::no_grad(|| {
                    for (a, p) in avg.iter_mut().zip(&params) {
                        if *n == 0 {
                            a.copy_(p);
                        } else {
                            let _ = a.g_add_(&((p - &*a) / (*n + 1) as f64));
                        }
                    }
                });
                *n += 1;
            } else {
                swa.get_or_insert_with(|| AveragedModel::new(&params))
                    .update(&params);
            }
            lap("swa average", &mut phases);
        }
        if step >= req.skip {
            let total = start.elapsed().as_secs_f64() * 1e3;
            phases.entry("step").or_default().push(total);
            cpu.entry("step")
                .or_default()
                .push(thread_cpu_ms() - cpu_start);
        }
    }
    let medians = |phases: &mut BTreeMap<&str, Vec<f64>>| -> BTreeMap<String, f64> {
        phases
            .iter_mut()
            .map(|(k, v)| (k.to_string(), median(v)))
            .collect()
    };
    println!(
        "{}",
        serde_json::json!({
            "engine": "ftune", "kernels": kernels, "swa": swa_kind,
            "threads": tch::get_num_threads(), "ms": medians(&mut phases),
            "cpu_ms": medians(&mut cpu),
        })
    );
    Ok(())
}
