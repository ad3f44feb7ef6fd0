//! `planRun`, `summarizeFolds`, `defaultConfig`: what the engine knows about a run before and
//! after it trains, so that no TypeScript restates it.

use napi::Result;
use napi_derive::napi;

use ftune_engine::config::{ExperimentConfig, Task};
use ftune_engine::experiment::{Summary, TrainingData};
use ftune_engine::plan::{self, RunPlan};
use ftune_engine::train::FoldOutcome;

use crate::{js_error, js_error_chain, parse_config, Serde};

/// The real fold assignment and, per fold that runs, rows and optimizer steps: the numbers
/// training will use (texts are not read; targets, groups and the validation size are).
#[napi(ts_return_type = "import('../app/native/generated/run.js').RunPlan")]
pub fn plan_run(
    config_json: String,
    #[napi(ts_arg_type = "import('../app/native/generated/run.js').TrainingData")] data: Serde<
        TrainingData,
    >,
) -> Result<Serde<RunPlan>> {
    let config = parse_config(&config_json)?;
    let data = data.0;
    let valid = data.valid_targets.as_ref().map(Vec::len);
    plan::plan_run(&config, &data.targets, data.groups.as_deref(), valid)
        .map(Serde)
        .map_err(js_error_chain)
}

/// Folds that trained separately (JSON list of fold outcomes) summarized as one experiment:
/// mean ± std of the best and final metric, as a single run would report them. JSON out.
#[napi]
pub fn summarize_folds(
    metric: String,
    outcomes_json: String,
    seconds: f64,
    device: String,
) -> Result<String> {
    let folds: Vec<FoldOutcome> = serde_json::from_str(&outcomes_json).map_err(js_error)?;
    serde_json::to_string(&Summary::of_folds(&metric, folds, seconds, device)).map_err(js_error)
}

/// Every default of a config for `task` ("regression" | "classification"), as JSON, around
/// placeholder model and data: the UI's starting values come from here.
#[napi]
pub fn default_config(task: String) -> Result<String> {
    let task = match task.as_str() {
        "classification" => Task::Classification,
        "regression" => Task::Regression,
        other => return Err(js_error(format!("unknown task '{other}'"))),
    };
    serde_json::to_string(&ExperimentConfig::defaults(task)).map_err(js_error)
}

/// Mean and sample standard deviation (n − 1) of `values`, as the engine summarizes folds:
/// `[mean, std]`. Any statistic the app shows over folds goes through here.
#[napi]
pub fn mean_std(values: Vec<f64>) -> Vec<f64> {
    let (mean, std) = ftune_engine::experiment::mean_std(&values);
    vec![mean, std]
}

/// Whether a larger value of the metric named `metric` is better (accuracy, r2, …) or worse
/// (rmse, log_loss, …), as the engine ranks evaluations.
#[napi]
pub fn metric_higher_is_better(metric: String) -> Result<bool> {
    let m: ftune_engine::config::Metric =
        serde_json::from_value(serde_json::Value::String(metric)).map_err(js_error)?;
    Ok(m.higher_is_better())
}

/// Every metric of the task for `outputs` (a value per label for each row) against `targets`
/// (class indices for classification): how out-of-fold predictions are scored, with the code
/// that scores each evaluation.
#[napi]
pub fn score_outputs(
    outputs: Vec<Vec<f64>>,
    targets: Vec<f64>,
    classification: bool,
) -> Result<std::collections::HashMap<String, f64>> {
    if outputs.len() != targets.len() || outputs.is_empty() {
        return Err(js_error(format!(
            "scoring needs one output per target ({} outputs, {} targets)",
            outputs.len(),
            targets.len()
        )));
    }
    Ok(
        ftune_engine::metrics::all_metrics(&outputs, &targets, classification)
            .into_iter()
            .map(|(k, v)| (k.name().to_string(), v))
            .collect(),
    )
}
