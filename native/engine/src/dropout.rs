//! Dropout as torch computes it, `x * (bernoulli(1 − p) / (1 − p))`, with the CPU mask drawn
//! in parallel (`cpp/dropout.cpp`): torch's CPU dropout draws it on one thread, ~7 % of a
//! training step with attention dropout. Same values (0 or torch's 1 / (1 − p)), same
//! distribution, masks decided by `tch::manual_seed` and independent of the thread count; not
//! the same masks as torch's (a different generator). Elsewhere (CUDA), libtorch's own dropout.

use std::ffi::c_char;

use tch::{Device, Tensor};
use torch_sys::C_tensor;

use crate::foreach::call;

extern "C" {
    fn ftune_dropout_mask(mask: *mut C_tensor, p: f64, err: *mut c_char, err_len: usize) -> i32;
}

/// torch.nn.functional.dropout(x, p, training=train).
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p == 0.0 || p >= 1.0 || x.device() != Device::Cpu {
        return x.dropout(p, train);
    }
    x * mask(&x.size(), x.kind(), p)
}

/// A fresh scaled keep-mask of `size`: each element 1 / (1 − p) with probability 1 − p, else 0.
pub fn mask(size: &[i64], kind: tch::Kind, p: f64) -> Tensor {
    let mut m = Tensor::empty(size, (kind, Device::Cpu));
    // SAFETY: `m` is a live, contiguous CPU tensor that the shim fills in place.
    call(|err, len| unsafe { ftune_dropout_mask(m.as_mut_ptr(), p, err, len) });
    m
}

/// `x.dropped_out(p, train)`: [`dropout`] in a method chain.
pub trait Dropout {
    fn dropped_out(&self, p: f64, train: bool) -> Tensor;
}

impl Dropout for Tensor {
    fn dropped_out(&self, p: f64, train: bool) -> Tensor {
        dropout(self, p, train)
    }
}
