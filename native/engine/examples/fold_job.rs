//! Trains one job (one fold of one config) from a job file, streaming the engine's events as
//! JSON lines on stdout: the unit the Ray backend places on a node (`app/core/runs/ray/`).
//! The same `run_experiment` as the app's worker, so a fold gives the same numbers either way.
//!
//!   fold_job JOB_JSON OUT_DIR [--resume] [--state-interval-seconds N]
//!   fold_job --info      (the libtorch this node loads, as JSON: `ftune info --ray`)
//!
//! JOB_JSON: `{ "config": <normalized config, folds.run = [k]>, "data": <training data as
//! the app builds it (camelCase)> }`; a relative `config.model` resolves against the job
//! file's folder. OUT_DIR gets fold-<k>/{state,best,final,outcome.json} as a local run's
//! folder does; `--resume` continues from fold-<k>/state. Every line is a `TimedEvent`; the
//! last is `done` (with the summary) or `error`. Closing stdin (or writing `cancel`) cancels
//! within one optimizer step, and the state saved so far stays resumable.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use ftune_engine::config::ExperimentConfig;
use ftune_engine::experiment::{run_experiment, ExperimentData, TrainingData};
use ftune_engine::runtime::runtime_info;
use ftune_engine::train::{Event, StateOptions, TimedEvent};
use serde::Deserialize;

#[derive(Deserialize)]
struct Job {
    config: serde_json::Value,
    data: TrainingData,
}

fn emit_line(e: Event) {
    let line = serde_json::to_string(&TimedEvent::from(e)).expect("events serialize");
    let mut out = std::io::stdout().lock();
    // A reader that went away cannot be told anything more; the run still saves its state.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn load(job_file: &Path) -> Result<(ExperimentConfig, ExperimentData)> {
    let text = std::fs::read_to_string(job_file)
        .with_context(|| format!("cannot read {}", job_file.display()))?;
    let job: Job = serde_json::from_str(&text).context("the job file is not a job")?;
    let mut config = ExperimentConfig::from_json(&job.config.to_string())?;
    let base = job_file.parent().unwrap_or(Path::new("."));
    config.model = base.join(&config.model).to_string_lossy().into_owned();
    Ok((config, job.data.try_into()?))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--info") {
        println!(
            "{}",
            serde_json::to_string(&runtime_info()).expect("runtime info serializes")
        );
        return;
    }
    let (Some(job_file), Some(out_dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: fold_job JOB_JSON OUT_DIR [--resume] [--state-interval-seconds N]");
        std::process::exit(2);
    };
    let resume = args.iter().any(|a| a == "--resume");
    let interval = args
        .iter()
        .position(|a| a == "--state-interval-seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(StateOptions::default().interval_seconds);

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    std::thread::spawn(move || {
        // The parent closing stdin (it died, or wants the job stopped) cancels it too.
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) if l.trim() == "cancel" => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        flag.store(true, Ordering::Relaxed);
    });

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (config, data) = load(Path::new(job_file))?;
        let state = StateOptions {
            resume,
            interval_seconds: interval,
            stop_after_steps: None,
        };
        run_experiment(
            &config,
            &data,
            Some(Path::new(out_dir)),
            state,
            &cancel,
            &mut emit_line,
        )
    }));
    let last = match result {
        Ok(result) => Event::finished(result),
        Err(_) => Event::failed("the engine failed (see the job's stderr)"),
    };
    let failed = matches!(last, Event::Error { .. });
    emit_line(last);
    std::process::exit(i32::from(failed));
}
