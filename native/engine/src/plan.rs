//! What an experiment will do before it trains: the fold of every row, which folds run, and
//! per fold its rows and optimizer steps (warm-up, SWA start). Training splits its data with
//! the same functions, so a preview, the UI and the orchestrator see the run's real plan.

use anyhow::Result;
use serde::Serialize;

use crate::config::{ExperimentConfig, FoldSelection, Task};
use crate::folds::assign_folds;
use crate::schedule::{steps_per_epoch, LrPlan};

/// One fold as it will train.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct FoldPlan {
    pub fold: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub steps_per_epoch: usize,
    pub total_steps: usize,
    pub warmup_steps: usize,
    /// The optimizer step (from 0) at which SWA and SWALR take over.
    pub swa_start_step: Option<usize>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RunPlan {
    /// The fold of every training row (none with a separate validation set).
    pub assignment: Option<Vec<usize>>,
    /// The folds that run, in order.
    pub folds: Vec<FoldPlan>,
    /// Settings that are legal but almost certainly not what the user meant.
    pub warnings: Vec<String>,
}

/// Which folds run: `folds.run` of the config, or the single fold 0 with `data.valid`.
pub fn selected_folds(config: &ExperimentConfig, has_valid: bool) -> Vec<usize> {
    if has_valid {
        return vec![0];
    }
    match &config.folds.run {
        FoldSelection::All(_) => (0..config.folds.k).collect(),
        FoldSelection::Some(list) => list.clone(),
    }
}

/// The fold of every row, as training splits them.
pub fn fold_assignment(
    config: &ExperimentConfig,
    targets: &[f64],
    groups: Option<&[String]>,
) -> Result<Vec<usize>> {
    let f = &config.folds;
    assign_folds(
        f.strategy,
        f.k,
        f.seed,
        targets,
        groups,
        config.task == Task::Classification,
        f.bins,
    )
}

/// Row indices (training, validation) of `fold`.
pub fn fold_rows(assignment: &[usize], fold: usize) -> (Vec<usize>, Vec<usize>) {
    (0..assignment.len()).partition(|&i| assignment[i] != fold)
}

/// The plan for training rows with these targets (and groups), and `valid_rows` rows of a
/// separate validation set when there is one.
pub fn plan_run(
    config: &ExperimentConfig,
    targets: &[f64],
    groups: Option<&[String]>,
    valid_rows: Option<usize>,
) -> Result<RunPlan> {
    let assignment = match valid_rows {
        Some(_) => None,
        None => Some(fold_assignment(config, targets, groups)?),
    };
    let mut folds = vec![];
    for fold in selected_folds(config, valid_rows.is_some()) {
        let (train, valid) = match (&assignment, valid_rows) {
            (Some(a), _) => {
                let (t, v) = fold_rows(a, fold);
                (t.len(), v.len())
            }
            (None, Some(v)) => (targets.len(), v),
            (None, None) => unreachable!("either folds or a validation set"),
        };
        folds.push(fold_plan(config, fold, train, valid)?);
    }
    let warnings = warnings(config, &folds);
    Ok(RunPlan {
        assignment,
        folds,
        warnings,
    })
}

/// Steps of a fold with `train_rows` training rows; errors name the setting at fault.
pub fn fold_plan(
    config: &ExperimentConfig,
    fold: usize,
    train_rows: usize,
    valid_rows: usize,
) -> Result<FoldPlan> {
    anyhow::ensure!(train_rows > 0, "fold {fold} has no training rows");
    anyhow::ensure!(valid_rows > 0, "fold {fold} has no validation rows");
    let t = &config.train;
    let spe = steps_per_epoch(train_rows, t.batch_size, t.grad_accum);
    // The schedule's step arithmetic does not depend on the groups' LRs.
    let lr = LrPlan::new(config, vec![], spe)?;
    Ok(FoldPlan {
        fold,
        train_rows,
        valid_rows,
        steps_per_epoch: spe,
        total_steps: lr.total_steps(),
        warmup_steps: lr.warmup.warmup,
        swa_start_step: lr.swa.map(|s| s.start),
    })
}

fn warnings(config: &ExperimentConfig, folds: &[FoldPlan]) -> Vec<String> {
    let mut out = vec![];
    if let Some(f) = folds.iter().find(|f| f.warmup_steps >= f.total_steps) {
        out.push(format!(
            "schedule: the warm-up ({} steps) is as long as the whole run of fold {} ({} optimizer steps), so the learning rate never reaches its peak; shorten the warm-up or train longer",
            f.warmup_steps, f.fold, f.total_steps
        ));
    }
    if let (Some(swa), Some(llrd)) = (&config.swa, &config.llrd) {
        let mode = match llrd {
            crate::config::Llrd::Layerwise { .. } => "layer-wise",
            crate::config::Llrd::Grouped { .. } => "grouped",
        };
        out.push(format!(
            "swa.lr: from the SWA start every group trains at swa.lr ({}), as torch's SWALR does, so the {mode} LLRD learning rates no longer apply",
            swa.lr
        ));
    }
    let lengths: std::collections::BTreeSet<usize> = folds.iter().map(|f| f.total_steps).collect();
    if lengths.len() > 1 {
        let (lo, hi) = (lengths.first().unwrap(), lengths.last().unwrap());
        out.push(format!(
            "folds differ in length ({lo} to {hi} optimizer steps): each fold's schedule follows its own size"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> ExperimentConfig {
        ExperimentConfig::from_json(&format!(
            r#"{{"model": "m", "data": {{"train": "t", "text": "x", "label": "y"}},
                "train": {{"batch_size": 8, "epochs": 2}} {extra}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn unequal_folds_get_their_own_step_counts() {
        // 101 rows in 5 folds: 21/20/20/20/20 validation rows, so 80 or 81 training rows.
        let c = config(r#", "swa": {"start_epoch": 2, "lr": 1e-5}"#);
        let targets: Vec<f64> = (0..101).map(|i| (i % 17) as f64).collect();
        let plan = plan_run(&c, &targets, None, None).unwrap();
        assert_eq!(plan.folds.len(), 5);
        let rows: usize = plan.folds.iter().map(|f| f.valid_rows).sum();
        assert_eq!(rows, 101);
        for f in &plan.folds {
            assert_eq!(f.steps_per_epoch, f.train_rows.div_ceil(8));
            assert_eq!(f.total_steps, 2 * f.steps_per_epoch);
            assert_eq!(f.swa_start_step, Some(f.steps_per_epoch));
        }
        assert!(plan.warnings.iter().any(|w| w.contains("folds differ")));
    }

    #[test]
    fn a_validation_file_is_one_fold() {
        let plan = plan_run(&config(""), &[1.0; 30], None, Some(7)).unwrap();
        assert!(plan.assignment.is_none());
        assert_eq!(plan.folds.len(), 1);
        assert_eq!(
            (plan.folds[0].train_rows, plan.folds[0].valid_rows),
            (30, 7)
        );
    }

    #[test]
    fn warmup_longer_than_the_run_is_a_warning() {
        let c = config(r#", "schedule": {"warmup_steps": 500}"#);
        let plan = plan_run(&c, &[1.0; 40], None, Some(10)).unwrap();
        assert!(plan.warnings[0].contains("never reaches its peak"));
    }
}
