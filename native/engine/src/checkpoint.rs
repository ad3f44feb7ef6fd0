//! Training state on disk, so that a run killed mid-way (crash, kill -9, restart) resumes and
//! ends exactly as an uninterrupted one: weights, AdamW moments, the SWA average, the best
//! weights so far, and the loop's position. Written atomically (a temp folder renamed over,
//! removed again when writing fails).
//! Randomness needs no saved state: the loop reseeds torch at every optimizer step, and the
//! shuffle order is a pure function of (seed, epoch).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use tch::{Device, Tensor};

use crate::optim::AdamW;
use crate::swa::AveragedModel;
use crate::train::{BestSource, Divergence};

/// Where the loop is and what it has seen: the one record the trainer keeps and updates, saved
/// next to the tensors (weights, AdamW moments, SWA average, best weights).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoopState {
    /// Optimizer steps done.
    pub step: usize,
    /// The next optimizer step runs in this epoch (from 1) at this accumulation window.
    pub epoch: usize,
    pub window: usize,
    /// Training rows seen.
    pub samples: usize,
    /// Wall time of the loop (earlier calls of a resumed run included), and the part of it
    /// spent evaluating.
    pub seconds: f64,
    pub eval_seconds: f64,
    /// Evaluations since the best one (early stopping).
    pub since_best: usize,
    /// The best evaluation so far: the config's metric, where, which model, all its metrics.
    pub best_metric: Option<f64>,
    pub best_step: usize,
    pub best_source: BestSource,
    pub best_metrics: BTreeMap<String, f64>,
    /// Absent from states written before the divergence warning existed.
    #[serde(default)]
    pub divergence: Divergence,
    /// The best evaluation's outputs on the validation rows (out-of-fold predictions).
    #[serde(default)]
    pub best_outputs: Vec<Vec<f64>>,
    /// Passes over the validation rows so far (live model and SWA average counted apart).
    #[serde(default)]
    pub evaluations: usize,
    /// The last evaluation's metrics of the model a run ends with (the SWA average while SWA
    /// runs, else the live model) and its step: the end of the run reuses them when no step
    /// came after, instead of evaluating the same weights again.
    #[serde(default)]
    pub final_candidate: Option<(usize, BTreeMap<String, f64>)>,
}

impl Default for LoopState {
    fn default() -> Self {
        Self {
            step: 0,
            epoch: 1,
            window: 0,
            samples: 0,
            seconds: 0.0,
            eval_seconds: 0.0,
            since_best: 0,
            best_metric: None,
            best_step: 0,
            best_source: BestSource::Live,
            best_metrics: BTreeMap::new(),
            evaluations: 0,
            final_candidate: None,
            divergence: Divergence::default(),
            best_outputs: vec![],
        }
    }
}

/// `state.json`: the loop state with the optimizer's step counts and the SWA average's count
/// beside it (the tensors are in `tensors.safetensors`).
#[derive(serde::Serialize, serde::Deserialize)]
struct StateFile<S> {
    #[serde(flatten)]
    state: S,
    swa_n_averaged: Option<i64>,
    optimizer_steps: BTreeMap<String, i64>,
}

pub struct Saved {
    pub state: LoopState,
    pub params: Vec<Tensor>,
    pub optimizer: HashMap<String, Tensor>,
    pub optimizer_steps: HashMap<String, i64>,
    pub swa: Option<AveragedModel>,
    pub best: Option<Vec<Tensor>>,
}

fn named(prefix: &str, tensors: &[Tensor]) -> Vec<(String, Tensor)> {
    tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                format!("{prefix}.{i}"),
                t.to_device(Device::Cpu).contiguous(),
            )
        })
        .collect()
}

fn unnamed(map: &mut HashMap<String, Tensor>, prefix: &str, n: usize) -> Option<Vec<Tensor>> {
    (0..n)
        .map(|i| map.remove(&format!("{prefix}.{i}")))
        .collect()
}

/// The `std::io::Error` under a tch error, if it is one (a full disk, a read-only folder), so
/// the message says "No space left on device (os error 28)" rather than a debug dump.
fn io_error(e: tch::TchError) -> anyhow::Error {
    match e {
        tch::TchError::Io(io) => io.into(),
        tch::TchError::SafeTensorError {
            err: safetensors::SafeTensorError::IoError(io),
            ..
        } => io.into(),
        other => other.into(),
    }
}

/// Writes the state to `dir` (replacing what was there) in one rename. It is written beside,
/// in `<dir>.tmp`, which a failure (a full disk) removes again, so no half state is left.
pub fn save(
    dir: &Path,
    state: &LoopState,
    params: &[Tensor],
    optimizer: &AdamW,
    swa: Option<&AveragedModel>,
    best: Option<&[Tensor]>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let write = || -> Result<()> {
        std::fs::create_dir_all(&tmp)?;
        let (moments, optimizer_steps) = optimizer.state_tensors();
        let mut tensors = named("param", params);
        tensors.extend(
            moments
                .iter()
                .map(|(k, t)| (format!("adamw.{k}"), t.to_device(Device::Cpu).contiguous())),
        );
        if let Some(s) = swa {
            tensors.extend(named("swa", s.tensors()));
        }
        if let Some(b) = best {
            tensors.extend(named("best", b));
        }
        Tensor::write_safetensors(&tensors, tmp.join("tensors.safetensors")).map_err(io_error)?;
        let file = StateFile {
            state,
            swa_n_averaged: swa.map(|s| s.n_averaged),
            optimizer_steps: optimizer_steps.into_iter().collect(),
        };
        std::fs::write(tmp.join("state.json"), serde_json::to_string_pretty(&file)?)?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!(
            "cannot write the training state to {}",
            dir.display()
        )));
    }
    // The previous state steps aside before the new one moves in, so a kill at any moment
    // leaves one complete state (`load` falls back to the one aside).
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    let moved = (|| -> std::io::Result<()> {
        if dir.exists() {
            std::fs::rename(dir, &old)?;
        }
        std::fs::rename(&tmp, dir)
    })();
    if let Err(e) = moved {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(anyhow::Error::from(e).context(format!(
            "cannot write the training state to {}",
            dir.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Reads a state written by `save` for a model with `n_params` parameters; the SWA average
/// goes to `device`.
pub fn load(dir: &Path, n_params: usize, device: Device) -> Result<Option<Saved>> {
    let aside = dir.with_extension("old");
    let dir = if !dir.join("state.json").exists() && aside.join("state.json").exists() {
        aside.as_path()
    } else {
        dir
    };
    let json = dir.join("state.json");
    if !json.exists() {
        return Ok(None);
    }
    let file: StateFile<LoopState> = serde_json::from_str(&std::fs::read_to_string(&json)?)
        .context("the saved training state is unreadable")?;
    let mut map: HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("tensors.safetensors"))?
            .into_iter()
            .collect();
    let params = unnamed(&mut map, "param", n_params)
        .context("the saved training state does not fit this model")?;
    let swa = file.swa_n_averaged.and_then(|n| {
        let average = unnamed(&mut map, "swa", n_params)?;
        let average = average.into_iter().map(|t| t.to_device(device)).collect();
        Some(AveragedModel::restore(average, n))
    });
    let best = unnamed(&mut map, "best", n_params);
    let optimizer = map
        .into_iter()
        .filter_map(|(k, t)| k.strip_prefix("adamw.").map(|k| (k.to_string(), t)))
        .collect();
    Ok(Some(Saved {
        state: file.state,
        params,
        optimizer,
        optimizer_steps: file.optimizer_steps.into_iter().collect(),
        swa,
        best,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_written_before_the_divergence_watch_still_loads() {
        let json = r#"{"step": 6, "epoch": 2, "window": 1, "samples": 24, "seconds": 1.5,
            "eval_seconds": 0.25, "since_best": 1, "best_metric": 0.75, "best_step": 4,
            "best_source": "swa", "best_metrics": {"rmse": 0.75}, "swa_n_averaged": 3,
            "optimizer_steps": {"g0.p0": 6}}"#;
        let file: StateFile<LoopState> = serde_json::from_str(json).unwrap();
        assert_eq!(file.state.step, 6);
        assert_eq!(file.state.best_source, BestSource::Swa);
        assert_eq!(file.state.divergence, Divergence::default());
        assert_eq!(file.swa_n_averaged, Some(3));
        assert_eq!(file.optimizer_steps["g0.p0"], 6);
    }

    #[test]
    fn the_loop_state_round_trips_through_state_json() {
        let mut state = LoopState {
            step: 12,
            best_metric: Some(0.1 + 0.2),
            evaluations: 5,
            final_candidate: Some((12, BTreeMap::from([("rmse".to_string(), 0.7)]))),
            ..LoopState::default()
        };
        state.divergence.observe("rmse", 0.8, 1.0);
        let file = StateFile {
            state: &state,
            swa_n_averaged: None,
            optimizer_steps: BTreeMap::new(),
        };
        let back: StateFile<LoopState> =
            serde_json::from_str(&serde_json::to_string(&file).unwrap()).unwrap();
        assert_eq!(back.state, state);
    }
}
