//! Runs an ablation plan written by `ftune ablate CONFIG --plan DIR`, for a GPU machine that
//! has libtorch but no Node: every experiment of the plan through the engine's own
//! `run_experiment`, results written after each one in the shape `ftune ablate` reads back.
//!
//!   ablate_plan PLAN_DIR OUT_DIR [--deadline-seconds N] [--precision auto|fp32|bf16]
//!               [--checkpoints DIR] [--events FILE]
//!
//! `--checkpoints` keeps each experiment's run folders (final and best checkpoints) under
//! DIR/<experiment>; `--events` writes every step's loss as a JSON line, for parity checks.
//!
//! PLAN_DIR holds plan.json and the model folder the configs name (relative paths resolve
//! against PLAN_DIR). No experiment starts once the deadline has passed; a rerun skips the
//! experiments already in OUT_DIR/results.json.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use ftune_engine::config::{ExperimentConfig, Precision};
use ftune_engine::experiment::{run_experiment, ExperimentData, Summary, TrainingData};
use ftune_engine::runtime::runtime_info;
use ftune_engine::train::{Event, StateOptions};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct PlannedExperiment {
    name: String,
    techniques: Vec<String>,
    config: serde_json::Value,
}

#[derive(Deserialize)]
struct Plan {
    data: TrainingData,
    experiments: Vec<PlannedExperiment>,
}

#[derive(Serialize, Deserialize)]
struct Outcome {
    name: String,
    techniques: Vec<String>,
    summary: Summary,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(plan_dir), Some(out_dir)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: ablate_plan PLAN_DIR OUT_DIR [--deadline-seconds N] [--precision P]");
    };
    let flag = |name: &str| args.iter().position(|a| a == name).map(|i| args.get(i + 1));
    let deadline: f64 = match flag("--deadline-seconds") {
        Some(v) => v.context("--deadline-seconds needs a value")?.parse()?,
        None => f64::INFINITY,
    };
    let checkpoints = match flag("--checkpoints") {
        Some(v) => Some(Path::new(v.context("--checkpoints needs a folder")?).to_path_buf()),
        None => None,
    };
    let mut events = match flag("--events") {
        Some(v) => Some(std::fs::File::create(v.context("--events needs a file")?)?),
        None => None,
    };
    let precision: Option<Precision> = match flag("--precision") {
        Some(v) => Some(serde_json::from_value(serde_json::json!(
            v.context("--precision needs a value")?
        ))?),
        None => None,
    };
    let plan_dir = Path::new(plan_dir);
    let plan: Plan = serde_json::from_str(
        &std::fs::read_to_string(plan_dir.join("plan.json")).context("cannot read plan.json")?,
    )?;
    let data = ExperimentData::try_from(plan.data)?;
    std::fs::create_dir_all(out_dir)?;
    let results_file = Path::new(out_dir).join("results.json");
    let mut done: Vec<Outcome> = std::fs::read_to_string(&results_file)
        .ok()
        .map(|t| serde_json::from_str(&t))
        .transpose()?
        .unwrap_or_default();
    let info = runtime_info();
    eprintln!(
        "torch {} cuda {} ({} devices)",
        info.torch_version, info.cuda_available, info.cuda_device_count
    );
    let started = Instant::now();
    let never = AtomicBool::new(false);
    for planned in plan.experiments {
        if done.iter().any(|r| r.name == planned.name) {
            continue;
        }
        if started.elapsed().as_secs_f64() > deadline {
            eprintln!("deadline reached: {} not started", planned.name);
            continue;
        }
        let mut config = ExperimentConfig::from_json(&planned.config.to_string())
            .with_context(|| format!("{}: invalid config", planned.name))?;
        if let Some(p) = precision {
            config.train.precision = p;
        }
        config.model = plan_dir.join(&config.model).to_string_lossy().into_owned();
        let mut emit = |e: Event| match e {
            Event::FoldStart {
                fold, total_steps, ..
            } => eprintln!("{} fold {fold} ({total_steps} steps)", planned.name),
            Event::Step {
                fold, step, loss, ..
            } => {
                if let Some(file) = events.as_mut() {
                    let line = serde_json::json!({ "experiment": planned.name, "fold": fold, "step": step, "loss": loss });
                    let _ = writeln!(file, "{line}");
                }
            }
            _ => {}
        };
        let run_dir = checkpoints.as_ref().map(|d| {
            d.join(
                planned
                    .name
                    .replace(|c: char| !c.is_alphanumeric() && c != '-', "_"),
            )
        });
        let summary = run_experiment(
            &config,
            &data,
            run_dir.as_deref(),
            StateOptions::default(),
            &never,
            &mut emit,
        )
        .with_context(|| format!("{} failed", planned.name))?;
        eprintln!(
            "{}: {} {:.4} ± {:.4} ({:.0} s, {} samples/s)",
            planned.name,
            summary.metric,
            summary.mean,
            summary.std,
            summary.seconds,
            summary.train_samples_per_second.round()
        );
        done.push(Outcome {
            name: planned.name,
            techniques: planned.techniques,
            summary,
        });
        std::fs::write(&results_file, serde_json::to_string_pretty(&done)? + "\n")?;
    }
    Ok(())
}
