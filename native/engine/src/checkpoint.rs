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

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoopState {
    /// Optimizer steps done.
    pub step: usize,
    /// Resume in this epoch (from 1) at this accumulation window.
    pub epoch: usize,
    pub window: usize,
    pub samples: usize,
    pub seconds: f64,
    pub eval_seconds: f64,
    pub since_best: usize,
    pub best_metric: Option<f64>,
    pub best_step: usize,
    pub best_source: String,
    pub best_metrics: BTreeMap<String, f64>,
    pub swa_n_averaged: Option<i64>,
    pub optimizer_steps: BTreeMap<String, i64>,
}

pub struct Saved {
    pub state: LoopState,
    pub params: Vec<Tensor>,
    pub optimizer: HashMap<String, Tensor>,
    pub swa: Option<Vec<Tensor>>,
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
    optimizer: &[(String, Tensor)],
    swa: Option<&[Tensor]>,
    best: Option<&[Tensor]>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let write = || -> Result<()> {
        std::fs::create_dir_all(&tmp)?;
        let mut tensors = named("param", params);
        tensors.extend(
            optimizer
                .iter()
                .map(|(k, t)| (format!("adamw.{k}"), t.to_device(Device::Cpu).contiguous())),
        );
        if let Some(s) = swa {
            tensors.extend(named("swa", s));
        }
        if let Some(b) = best {
            tensors.extend(named("best", b));
        }
        Tensor::write_safetensors(&tensors, tmp.join("tensors.safetensors")).map_err(io_error)?;
        std::fs::write(tmp.join("state.json"), serde_json::to_string_pretty(state)?)?;
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

/// Reads a state written by `save` for a model with `n_params` parameters.
pub fn load(dir: &Path, n_params: usize) -> Result<Option<Saved>> {
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
    let state: LoopState = serde_json::from_str(&std::fs::read_to_string(&json)?)
        .context("the saved training state is unreadable")?;
    let mut map: HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("tensors.safetensors"))?
            .into_iter()
            .collect();
    let params = unnamed(&mut map, "param", n_params)
        .context("the saved training state does not fit this model")?;
    let swa = state
        .swa_n_averaged
        .and_then(|_| unnamed(&mut map, "swa", n_params));
    let best = unnamed(&mut map, "best", n_params);
    let optimizer = map
        .into_iter()
        .filter_map(|(k, t)| k.strip_prefix("adamw.").map(|k| (k.to_string(), t)))
        .collect();
    Ok(Some(Saved {
        state,
        params,
        optimizer,
        swa,
        best,
    }))
}
