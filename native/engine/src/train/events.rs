//! What a run reports as it goes, one variant per kind of event. The serde form is what
//! JavaScript receives (the addon turns it into a plain object) and what `ftune train --json`
//! prints; `app/native/generated/events.ts` is generated from these types (see `bindings`).

use std::collections::BTreeMap;

use serde::Serialize;
use ts_rs::TS;

use crate::experiment::Summary;
use crate::train::Cancelled;

/// One event of a run. `step` counts optimizer steps completed; `epoch` counts from 1.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[ts(rename = "TrainEvent")]
pub enum Event {
    /// A fold begins: its plan, as the LR preview shows it.
    FoldStart {
        fold: usize,
        total_steps: usize,
        steps_per_epoch: usize,
        warmup_steps: usize,
        /// The first optimizer step of the SWA phase (counting from 0), if SWA runs.
        swa_start_step: Option<usize>,
        /// Parameter group names; step events' `lrs` follow this order.
        groups: Vec<String>,
    },
    /// The fold continues from its saved state, `step` steps in.
    Resume {
        fold: usize,
        step: usize,
        epoch: usize,
    },
    Step {
        fold: usize,
        step: usize,
        epoch: usize,
        /// Mean training loss over the rows of this optimizer step.
        loss: f64,
        /// Gradient norm before clipping (when `train.max_grad_norm` is set).
        grad_norm: Option<f64>,
        /// The LR each group ran this step at.
        lrs: Vec<f64>,
    },
    Eval {
        fold: usize,
        step: usize,
        epoch: usize,
        /// Every metric of the task, for the live model.
        metrics: BTreeMap<String, f64>,
        /// While SWA is active: the same metrics for the averaged model.
        swa_metrics: Option<BTreeMap<String, f64>>,
        /// This evaluation is the best so far (of the live model or the average): the one
        /// `best/` will hold.
        is_best: bool,
        /// The config's metric at the best evaluation so far, and its step.
        best_metric: f64,
        best_step: usize,
    },
    /// SWA begins at this step: averaging, and SWALR instead of the schedule.
    SwaStart {
        fold: usize,
        step: usize,
        epoch: usize,
    },
    /// A model folder was written (`step`: the step whose weights it holds).
    Checkpoint {
        fold: usize,
        step: usize,
        path: String,
        which: CheckpointName,
    },
    /// Something the user should see while the run goes on (it does not stop the run): so
    /// far, a model that diverges without its loss becoming NaN (see `divergence.rs`).
    Warning {
        fold: usize,
        step: usize,
        epoch: usize,
        message: String,
    },
    /// The addon's last event of a successful job.
    Done { summary: Summary },
    /// The addon's last event of a failed or cancelled job.
    Error { message: String, cancelled: bool },
}

impl Event {
    /// The last event of a job whose experiment returned `result`: `done` with the summary,
    /// or `error` (`cancelled` when it stopped on request).
    pub fn finished(result: anyhow::Result<Summary>) -> Self {
        match result {
            Ok(summary) => Self::Done { summary },
            Err(e) if e.is::<Cancelled>() => Self::Error {
                message: "cancelled".into(),
                cancelled: true,
            },
            Err(e) => Self::failed(format!("{e:#}")),
        }
    }

    /// The last event of a job that failed with `message` (not cancelled).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
            cancelled: false,
        }
    }
}

/// Which of a fold's two model folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointName {
    /// The best evaluation's weights.
    Best,
    /// The model at the end (the SWA average when SWA ran).
    Final,
}

impl CheckpointName {
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Best => "best",
            Self::Final => "final",
        }
    }
}

/// An event as the addon delivers it: stamped when the engine emitted it, so that a consumer
/// can measure delivery latency.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TimedEvent {
    #[serde(flatten)]
    pub event: Event,
    /// Milliseconds since the Unix epoch.
    pub emitted_at_ms: f64,
}

impl From<Event> for TimedEvent {
    fn from(event: Event) -> Self {
        let emitted_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
        Self {
            event,
            emitted_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary::of_folds("rmse", vec![], 1.5, "cpu".into())
    }

    #[test]
    fn finished_maps_each_result_to_its_last_event() {
        match Event::finished(Ok(summary())) {
            Event::Done { summary } => {
                assert_eq!((summary.metric.as_str(), summary.seconds), ("rmse", 1.5))
            }
            other => panic!("expected done, got {other:?}"),
        }
        let cancelled = anyhow::Error::from(Cancelled).context("fold 2");
        assert!(matches!(
            Event::finished(Err(cancelled)),
            Event::Error { message, cancelled: true } if message == "cancelled"
        ));
        let failed = anyhow::anyhow!("disk full").context("cannot save best/");
        assert!(matches!(
            Event::finished(Err(failed)),
            Event::Error { message, cancelled: false } if message == "cannot save best/: disk full"
        ));
    }
}
