//! Finetune Studio's engine: everything that touches tensors lives here, in plain Rust on tch.
//! The N-API addon (`../addon`) only binds these modules for JavaScript.
//!
//! - `hf_config`, `tokenize`, `encoder`, `encoders`, `heads`, `model`, `weights`: Hugging Face folders in and out;
//! - `config`: the experiment config users write;
//! - `groups`, `schedule`, `optim`, `swa`, `reinit`: the fine-tuning techniques;
//! - `plan`: the folds and step counts of a run, before it trains;
//! - `train`, `experiment`, `folds`, `metrics`: the loop, K-fold CV and scores;
//! - `cpu_cache`, `dropout`, `foreach`: C++ shims for what tch does not bind or libtorch's CPU path lacks;
//! - `bindings` (a test): the TypeScript types of events and summaries, generated.

pub mod atomic;
#[cfg(test)]
mod bindings;
pub mod checkpoint;
pub mod config;
pub mod cpu_cache;
pub mod dropout;
pub mod encoder;
pub mod encoders;
pub mod experiment;
pub mod folds;
pub mod foreach;
pub mod groups;
pub mod heads;
pub mod hf_config;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod plan;
pub mod reinit;
pub mod runtime;
pub mod schedule;
pub mod swa;
pub mod tokenize;
pub mod train;
pub mod weights;
