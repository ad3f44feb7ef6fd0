//! N-API bindings: thin wrappers that convert types and errors; the engine does the work.

mod model;
mod plan;
mod runtime;
mod schedule;
mod swa;
mod tokenizer;
mod training;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, Unknown, ValidateNapiValue};
use napi::{sys, Env, JsValue, ValueType};

/// An engine type crossing to or from JavaScript in its serde form (napi's serde conversion;
/// NaN stays NaN), typed in TypeScript by the ts-rs bindings (`app/native/generated`): the
/// addon mirrors no engine struct. A function names the TS type with `ts_arg_type` or
/// `ts_return_type`.
pub struct Serde<T>(pub T);

impl<T: serde::Serialize> ToNapiValue for Serde<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(Env::from_raw(env).to_js_value(&val.0)?.raw())
    }
}

impl<T: serde::de::DeserializeOwned> FromNapiValue for Serde<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let unknown = Unknown::from_napi_value(env, value)?;
        Env::from_raw(env).from_js_value(unknown).map(Serde)
    }
}

impl<T> TypeName for Serde<T> {
    fn type_name() -> &'static str {
        "Object"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T> ValidateNapiValue for Serde<T> {}

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
