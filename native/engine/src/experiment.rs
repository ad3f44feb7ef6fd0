//! An experiment: tokenize once, split into folds (or use the given validation set), train
//! each selected fold, and summarize per-fold and mean ± std of the metric.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, ensure, Result};

use crate::config::{ExperimentConfig, Task};
use crate::hf_config::HfConfig;
use crate::plan::{fold_assignment, fold_rows, selected_folds};
use crate::runtime::parse_device;
use crate::tokenize::{Encoded, TextTokenizer};
use crate::train::{
    prepare_model, train_fold, Event, FoldData, FoldOutcome, RunControl, StateOptions, OUTCOME_FILE,
};

/// Rows of a split. Classification targets are class indices into `labels`.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub texts: Vec<String>,
    pub pairs: Option<Vec<String>>,
    pub targets: Vec<f64>,
    pub groups: Option<Vec<String>>,
}

pub struct ExperimentData {
    pub train: Rows,
    pub valid: Option<Rows>,
    /// Class names (classification), in index order.
    pub labels: Vec<String>,
}

/// The training data as the app's `loadExperimentData` builds it (camelCase): what the addon
/// takes, and what job files and ablation plans carry.
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct TrainingData {
    pub texts: Vec<String>,
    pub pairs: Option<Vec<String>>,
    /// Regression targets, or class indices into `labels` for classification.
    pub targets: Vec<f64>,
    /// Group of each row, for `folds.strategy: group`.
    pub groups: Option<Vec<String>>,
    pub valid_texts: Option<Vec<String>>,
    pub valid_pairs: Option<Vec<String>>,
    pub valid_targets: Option<Vec<f64>>,
    /// Class names in index order (classification).
    pub labels: Option<Vec<String>>,
}

impl TryFrom<TrainingData> for ExperimentData {
    type Error = anyhow::Error;

    fn try_from(d: TrainingData) -> Result<Self> {
        let valid = match (d.valid_texts, d.valid_targets) {
            (Some(texts), Some(targets)) => Some(Rows {
                texts,
                pairs: d.valid_pairs,
                targets,
                groups: None,
            }),
            (None, None) => None,
            _ => bail!("validation data needs both validTexts and validTargets"),
        };
        Ok(Self {
            train: Rows {
                texts: d.texts,
                pairs: d.pairs,
                targets: d.targets,
                groups: d.groups,
            },
            valid,
            labels: d.labels.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Summary {
    pub metric: String,
    pub folds: Vec<FoldOutcome>,
    /// Mean and (sample) standard deviation of the best metric over the folds run.
    pub mean: f64,
    pub std: f64,
    /// The same for the final model (the SWA average when SWA ran).
    pub final_mean: f64,
    pub final_std: f64,
    /// The folds' mean training throughput (each fold's own samples/s).
    pub train_samples_per_second: f64,
    /// Training time summed over the folds; more than the wall time when folds trained at once.
    pub seconds: f64,
    pub device: String,
}

pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn encode(tokenizer: &TextTokenizer, rows: &Rows) -> Result<Vec<Encoded>> {
    tokenizer.encode(&rows.texts, rows.pairs.as_deref())
}

pub fn run_experiment(
    config: &ExperimentConfig,
    data: &ExperimentData,
    out: Option<&Path>,
    state: StateOptions,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(Event),
) -> Result<Summary> {
    let _cache = crate::cpu_cache::Scope::enter();
    let started = std::time::Instant::now();
    let device = parse_device(&config.train.device)?;
    let classification = config.task == Task::Classification;
    let num_labels = if classification {
        data.labels.len() as i64
    } else {
        1
    };
    if classification {
        ensure!(
            data.labels.len() >= 2,
            "classification needs at least 2 classes, the data has {}",
            data.labels.len()
        );
    }
    let hf = HfConfig::read(Path::new(&config.model))?;
    let tokenizer = TextTokenizer::from_dir(
        Path::new(&config.model),
        config.data.max_length,
        hf.pad_id(),
    )?;
    let train = encode(&tokenizer, &data.train)?;
    let valid = data
        .valid
        .as_ref()
        .map(|v| encode(&tokenizer, v))
        .transpose()?;

    let assignment = match &valid {
        Some(_) => None,
        None => Some(fold_assignment(
            config,
            &data.train.targets,
            data.train.groups.as_deref(),
        )?),
    };
    let mut outcomes = vec![];
    for fold in selected_folds(config, valid.is_some()) {
        let fold_out = out.map(|o| o.join(format!("fold-{fold}")));
        if let (true, Some(dir)) = (state.resume, &fold_out) {
            if let Ok(text) = std::fs::read_to_string(dir.join(OUTCOME_FILE)) {
                outcomes.push(serde_json::from_str(&text)?);
                continue;
            }
        }
        let split = match (&assignment, &valid, &data.valid) {
            (Some(a), _, _) => {
                let (tr, va) = fold_rows(a, fold);
                FoldData {
                    train: tr.iter().map(|&i| &train[i]).collect(),
                    train_targets: tr.iter().map(|&i| data.train.targets[i]).collect(),
                    valid: va.iter().map(|&i| &train[i]).collect(),
                    valid_targets: va.iter().map(|&i| data.train.targets[i]).collect(),
                }
            }
            (None, Some(v), Some(rows)) => FoldData {
                train: train.iter().collect(),
                train_targets: data.train.targets.clone(),
                valid: v.iter().collect(),
                valid_targets: rows.targets.clone(),
            },
            _ => unreachable!("either folds or a validation set"),
        };
        let (model, reinitialized) = prepare_model(config, num_labels, &data.labels, device)?;
        let control = RunControl {
            out: fold_out.as_deref(),
            state,
            cancel,
        };
        outcomes.push(train_fold(
            config,
            fold,
            &split,
            &model,
            reinitialized,
            &control,
            emit,
        )?);
    }
    let device = format!("{device:?}").to_lowercase();
    Ok(Summary::of_folds(
        config.metric().name(),
        outcomes,
        started.elapsed().as_secs_f64(),
        device,
    ))
}

impl Summary {
    /// Per-fold outcomes summarized: mean ± std of the best and the final metric. The
    /// orchestrator calls this too, for folds that trained in separate processes.
    pub fn of_folds(metric: &str, folds: Vec<FoldOutcome>, seconds: f64, device: String) -> Self {
        let best: Vec<f64> = folds.iter().map(|o| o.best_metric).collect();
        let finals: Vec<f64> = folds
            .iter()
            .map(|o| o.final_metrics.get(metric).copied().unwrap_or(f64::NAN))
            .collect();
        let (mean, std) = mean_std(&best);
        let (final_mean, final_std) = mean_std(&finals);
        let sps = folds
            .iter()
            .map(|o| o.train_samples_per_second)
            .sum::<f64>()
            / folds.len().max(1) as f64;
        Summary {
            metric: metric.into(),
            folds,
            mean,
            std,
            final_mean,
            final_std,
            train_samples_per_second: sps,
            seconds,
            device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_data_reads_the_apps_camel_case_and_splits_rows() {
        let d: TrainingData = serde_json::from_str(
            r#"{"texts":["a","b"],"targets":[1,2],"groups":["g","h"],
                "validTexts":["c"],"validPairs":["p"],"validTargets":[3],"labels":["x","y"]}"#,
        )
        .unwrap();
        let data = ExperimentData::try_from(d).unwrap();
        assert_eq!(data.train.texts, ["a", "b"]);
        assert_eq!(data.train.targets, [1.0, 2.0]);
        assert_eq!(
            data.train.groups.as_deref(),
            Some(&["g".into(), "h".into()][..])
        );
        let valid = data.valid.unwrap();
        assert_eq!(
            (valid.texts, valid.pairs, valid.targets),
            (vec!["c".into()], Some(vec!["p".into()]), vec![3.0])
        );
        assert_eq!(valid.groups, None);
        assert_eq!(data.labels, ["x", "y"]);

        let no_valid: TrainingData =
            serde_json::from_str(r#"{"texts":["a"],"targets":[1]}"#).unwrap();
        let data = ExperimentData::try_from(no_valid).unwrap();
        assert!(data.valid.is_none() && data.labels.is_empty());
    }

    #[test]
    fn half_a_validation_set_is_refused() {
        let d = TrainingData {
            valid_texts: Some(vec!["c".into()]),
            ..Default::default()
        };
        let e = ExperimentData::try_from(d).err().unwrap();
        assert_eq!(
            e.to_string(),
            "validation data needs both validTexts and validTargets"
        );
    }
}
