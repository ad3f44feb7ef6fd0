//! Runtime facts and the optimizer's exact-number replay.

use napi::Result;
use napi_derive::napi;

use ftune_engine::optim::AdamWKernels;
use ftune_engine::runtime::RuntimeInfo;

use crate::{js_error_chain, Serde};

/// The libtorch this process loaded, and whether CUDA is usable.
#[napi(ts_return_type = "import('../app/native/generated/runtime.js').RuntimeInfo")]
pub fn runtime_info() -> Serde<RuntimeInfo> {
    Serde(ftune_engine::runtime::runtime_info())
}

#[napi(object)]
pub struct AdamWReplay {
    pub param: Vec<f64>,
    /// One gradient per optimizer step.
    pub grads: Vec<Vec<f64>>,
    pub lr: f64,
    pub weight_decay: f64,
    pub betas: Option<Vec<f64>>,
    pub eps: Option<f64>,
    pub bias_correction: Option<bool>,
    /// "fused" (torch.optim.AdamW(fused=True)) or "foreach"; default: the engine's choice.
    pub implementation: Option<String>,
    /// "float64" (default) or "float32".
    pub dtype: Option<String>,
}

/// Runs the engine's AdamW on fixed gradients and returns the final parameter.
#[napi]
pub fn replay_adamw(input: AdamWReplay) -> Result<Vec<f64>> {
    let mut config = ftune_engine::optim::AdamWConfig::default();
    if let Some(b) = input.betas {
        let [b1, b2] = b[..] else {
            return Err(crate::js_error("betas must be two numbers"));
        };
        (config.beta1, config.beta2) = (b1, b2);
    }
    config.eps = input.eps.unwrap_or(config.eps);
    config.bias_correction = input.bias_correction.unwrap_or(true);
    config.kernels = match input.implementation.as_deref() {
        None if !config.bias_correction => AdamWKernels::Foreach,
        None | Some("fused") => AdamWKernels::Fused,
        Some("foreach") => AdamWKernels::Foreach,
        Some(other) => {
            return Err(crate::js_error(format!(
                "implementation '{other}' is not fused or foreach"
            )))
        }
    };
    let kind = match input.dtype.as_deref() {
        None | Some("float64") => tch::Kind::Double,
        Some("float32") => tch::Kind::Float,
        Some(other) => {
            return Err(crate::js_error(format!(
                "dtype '{other}' is not float64 or float32"
            )))
        }
    };
    ftune_engine::optim::replay_adamw(
        &input.param,
        &input.grads,
        input.lr,
        input.weight_decay,
        config,
        kind,
    )
    .map_err(js_error_chain)
}
