//! N-API bindings: thin wrappers that convert types and errors; the engine does the work.

mod model;
mod runtime;

pub(crate) fn js_error(e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// For anyhow errors: the whole cause chain, outermost first, on one line.
pub(crate) fn js_error_chain(e: anyhow::Error) -> napi::Error {
    napi::Error::from_reason(format!("{e:#}"))
}
