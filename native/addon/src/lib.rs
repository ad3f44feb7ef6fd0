//! N-API bindings: thin wrappers that convert types and errors; the engine does the work.

mod model;
mod plan;
mod runtime;
mod schedule;
mod swa;
mod tokenizer;
mod training;

pub(crate) fn js_error(e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// For anyhow errors: the whole cause chain, outermost first, on one line.
pub(crate) fn js_error_chain(e: anyhow::Error) -> napi::Error {
    napi::Error::from_reason(format!("{e:#}"))
}

pub(crate) fn parse_config(json: &str) -> napi::Result<ftune_engine::config::ExperimentConfig> {
    ftune_engine::config::ExperimentConfig::from_json(json).map_err(js_error_chain)
}

/// Validates an experiment config (JSON text) and returns it with every default filled in,
/// the task's metric and loss included. Throws one message naming the offending field.
#[napi_derive::napi]
pub fn normalize_config(json: String) -> napi::Result<String> {
    serde_json::to_string(&parse_config(&json)?.normalized()).map_err(js_error)
}
