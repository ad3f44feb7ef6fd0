//! `TrainingJob`: an experiment on a background native thread, streaming events to a JS
//! callback (a threadsafe function, non-blocking) and cancellable within one step.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Result;
use napi_derive::napi;

use ftune_engine::experiment::{self, run_experiment, ExperimentData};
use ftune_engine::train::{Event, StateOptions, TimedEvent};

use crate::{js_error, parse_config, Serde};

#[napi(object)]
#[derive(Default)]
pub struct StartOptions {
    /// Continue each fold from `outDir/fold-<k>/state` and skip finished folds.
    pub resume: Option<bool>,
    /// Write the resumable state at an evaluation when this many seconds passed since the last
    /// write (default 120; 0: at every evaluation). Always at epoch ends.
    pub state_interval_seconds: Option<f64>,
    /// Stop (as if cancelled, resumable) after this many optimizer steps of each fold in this
    /// call.
    pub stop_after_steps: Option<u32>,
    /// The process's CPU threads for libtorch (folds trained at once in separate processes split
    /// the cores); default: libtorch's (one per core).
    pub threads: Option<u32>,
}

#[napi]
pub struct TrainingJob {
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A panic from libtorch (e.g. CUDA running out of memory) as one actionable message.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown error".into());
    if text.contains("out of memory") {
        return "the GPU ran out of memory; lower train.batch_size or data.max_length (train.grad_accum keeps the effective batch)".into();
    }
    let first = text.lines().next().unwrap_or_default();
    format!("the engine failed: {first}")
}

#[napi]
impl TrainingJob {
    /// Starts an experiment on a background thread; `on_event` receives every event, the
    /// last one being `done` (with the summary) or `error`.
    #[napi(factory)]
    pub fn start(
        config_json: String,
        #[napi(ts_arg_type = "import('../app/native/generated/run.js').TrainingData")] data: Serde<
            experiment::TrainingData,
        >,
        out_dir: Option<String>,
        #[napi(
            ts_arg_type = "(event: import('../app/native/generated/events.js').TimedEvent) => void"
        )]
        on_event: ThreadsafeFunction<
            Serde<TimedEvent>,
            (),
            Serde<TimedEvent>,
            napi::Status,
            false,
        >,
        options: Option<StartOptions>,
    ) -> Result<Self> {
        let config = parse_config(&config_json)?;
        let options = options.unwrap_or_default();
        let defaults = StateOptions::default();
        let state = StateOptions {
            resume: options.resume.unwrap_or(false),
            interval_seconds: options
                .state_interval_seconds
                .unwrap_or(defaults.interval_seconds),
            stop_after_steps: options.stop_after_steps.map(|n| n as usize),
        };
        if let Some(n) = options.threads {
            tch::set_num_threads(n.max(1) as i32);
        }
        let experiment = ExperimentData::try_from(data.0).map_err(js_error)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("ftune-train".into())
            .spawn(move || {
                let out = out_dir.map(PathBuf::from);
                let mut send = |e: Event| {
                    on_event.call(Serde(e.into()), ThreadsafeFunctionCallMode::NonBlocking);
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_experiment(
                        &config,
                        &experiment,
                        out.as_deref(),
                        state,
                        &flag,
                        &mut send,
                    )
                }));
                let last = match result {
                    Ok(result) => Event::finished(result),
                    Err(panic) => Event::failed(panic_message(panic)),
                };
                send(last);
            })
            .map_err(js_error)?;
        Ok(Self {
            cancel,
            thread: Some(thread),
        })
    }

    /// Asks the run to stop; it does within one optimizer step and ends with an `error` event
    /// whose `cancelled` is true.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the training thread to end (call after the last event).
    #[napi]
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TrainingJob {
    fn drop(&mut self) {
        // libtorch must not be torn down while the thread still uses it.
        self.cancel.store(true, Ordering::Relaxed);
        self.join();
    }
}
