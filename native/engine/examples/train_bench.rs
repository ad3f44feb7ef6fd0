//! Training throughput of the engine on random token ids, for `bench/gpu.sh` (a binary that
//! travels to a GPU machine without Node): the engine's encoder, head, LLRD groups, AdamW,
//! clipping and, on CUDA, bf16 autocast. Prints one JSON line.
//!
//!   train_bench CONFIG_JSON [--batch 32] [--seq 256] [--steps 30] [--warmup 5] [--device auto]

use std::time::Instant;

use ftune_engine::encoders::Backbone;
use ftune_engine::heads::{Head, Pooling};
use ftune_engine::hf_config::HfConfig;
use ftune_engine::optim::{AdamW, AdamWConfig, ParamGroup};
use ftune_engine::runtime::{autocast_bf16, parse_device, runtime_info};
use tch::{nn, Kind, Reduction, Tensor};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let config_path = args.get(1).ok_or_else(|| {
        anyhow::anyhow!("usage: train_bench CONFIG_JSON [--batch N] [--seq N] [--steps N]")
    })?;
    let config: HfConfig = serde_json::from_str(&std::fs::read_to_string(config_path)?)?;
    let (batch, seq): (i64, i64) = (
        arg(&args, "--batch", "32").parse()?,
        arg(&args, "--seq", "256").parse()?,
    );
    let (steps, warmup): (usize, usize) = (
        arg(&args, "--steps", "30").parse()?,
        arg(&args, "--warmup", "5").parse()?,
    );
    let device = parse_device(&arg(&args, "--device", "auto"))?;
    let bf16 = device.is_cuda();
    tch::manual_seed(0);

    let vs = nn::VarStore::new(device);
    let encoder = Backbone::new(&vs.root(), &config)?;
    let head = Head::new(&vs.root(), &config, config.arch()?, Pooling::Cls, 1, 0.1);
    let params: Vec<Tensor> = vs.trainable_variables();
    let n_params: i64 = params.iter().map(|p| p.numel() as i64).sum();
    let group = ParamGroup {
        name: "all".into(),
        lr: 2e-5,
        weight_decay: 0.01,
        params: params.iter().map(Tensor::shallow_clone).collect(),
    };
    let mut opt = AdamW::new(
        vec![group],
        AdamWConfig {
            eps: 1e-6,
            ..Default::default()
        },
    );

    let ids = Tensor::randint_low(5, config.vocab_size, [batch, seq], (Kind::Int64, device));
    let mask = Tensor::ones([batch, seq], (Kind::Int64, device));
    let types = Tensor::zeros([batch, seq], (Kind::Int64, device));
    let target = Tensor::randn([batch], (Kind::Float, device));
    let mut started = Instant::now();
    for step in 0..steps + warmup {
        if step == warmup {
            if device.is_cuda() {
                tch::Cuda::synchronize(0);
            }
            started = Instant::now();
        }
        let forward = || head.forward(&encoder.forward(&ids, &mask, &types, true), &mask, true);
        let logits = if bf16 {
            autocast_bf16(forward)
        } else {
            forward()
        };
        let loss = logits
            .to_kind(Kind::Float)
            .squeeze_dim(-1)
            .mse_loss(&target, Reduction::Mean);
        loss.backward();
        ftune_engine::train::clip_grad_norm(&params, 1.0);
        opt.step();
        opt.zero_grad();
    }
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples_per_second = (steps as f64 * batch as f64) / seconds;
    // Training FLOPs: 6 per parameter per token (matmuls), plus attention's 12·L·S·H per token.
    let (l, h) = (config.num_hidden_layers as f64, config.hidden_size as f64);
    let flops_per_token = 6.0 * n_params as f64 + 12.0 * l * seq as f64 * h;
    let achieved = flops_per_token * seq as f64 * samples_per_second;
    println!(
        "{}",
        serde_json::json!({
            "engine": "ftune", "device": format!("{device:?}"), "precision": if bf16 { "bf16" } else { "fp32" },
            "batch": batch, "seq": seq, "steps": steps, "params": n_params, "samples_per_second": samples_per_second,
            "achieved_tflops": achieved / 1e12, "torch": runtime_info().torch_version,
        })
    );
    Ok(())
}
