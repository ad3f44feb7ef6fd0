//! Multi-tensor updates (libtorch's `_foreach_*` ops, which tch does not bind) through the
//! small C++ shim in `cpp/foreach.cpp`: AdamW, gradient clipping and the SWA average as
//! PyTorch runs them, in a few kernel launches per group rather than several per tensor.
//! Like tch's infallible methods, they panic on a libtorch error (e.g. CUDA out of memory);
//! the addon turns that panic into one message.

use std::ffi::{c_char, CStr};

use tch::Tensor;
use torch_sys::C_tensor;

extern "C" {
    fn ftune_adamw_foreach(
        params: *const *const C_tensor,
        grads: *const *const C_tensor,
        exp_avgs: *const *const C_tensor,
        exp_avg_sqs: *const *const C_tensor,
        step_sizes: *const f64,
        bc2_sqrts: *const f64,
        n: i64,
        lr: f64,
        weight_decay: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn ftune_clip_grad_norm(
        grads: *const *const C_tensor,
        n: i64,
        max_norm: f64,
        total: *mut *mut C_tensor,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn ftune_adamw_fused(
        params: *const *const C_tensor,
        grads: *const *const C_tensor,
        exp_avgs: *const *const C_tensor,
        exp_avg_sqs: *const *const C_tensor,
        steps: *const *const C_tensor,
        n: i64,
        lr: f64,
        weight_decay: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn ftune_grads_to_none(params: *const *const C_tensor, n: i64);
    fn ftune_swa_average(
        avg: *const *const C_tensor,
        current: *const *const C_tensor,
        n: i64,
        count: f64,
        lerp: i32,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
    fn ftune_inference_mode_enter() -> *mut std::ffi::c_void;
    fn ftune_inference_mode_exit(guard: *mut std::ffi::c_void);
    fn ftune_inference_mode_is_enabled() -> i32;
}

fn handles(tensors: &[Tensor]) -> Vec<*const C_tensor> {
    tensors.iter().map(Tensor::as_ptr).collect()
}

/// Calls a shim function with an error buffer; panics with libtorch's message on failure.
pub(crate) fn call(f: impl FnOnce(*mut c_char, usize) -> i32) {
    let mut err = [0 as c_char; 1024];
    if f(err.as_mut_ptr(), err.len()) != 0 {
        // SAFETY: the shim writes a NUL-terminated message into the buffer (snprintf).
        let message = unsafe { CStr::from_ptr(err.as_ptr()) };
        panic!("{}", message.to_string_lossy());
    }
}

/// Per-tensor AdamW inputs of one parameter group, n of each.
pub struct AdamwTensors<'a> {
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub exp_avgs: &'a [Tensor],
    pub exp_avg_sqs: &'a [Tensor],
}

/// Which libtorch kernel takes the step, with the per-tensor inputs only it needs.
pub enum AdamwKernel<'a> {
    /// torch.optim.AdamW(foreach=True)'s arithmetic, a few multi-tensor ops per group.
    Foreach {
        /// −lr / (1 − β1ᵗ) per tensor (−lr without bias correction).
        step_sizes: &'a [f64],
        /// sqrt(1 − β2ᵗ) per tensor (1 without bias correction).
        bc2_sqrts: &'a [f64],
    },
    /// torch.optim.AdamW(fused=True): libtorch's `_fused_adamw_`, one pass per tensor on the
    /// CPU (one launch per group on CUDA), always bias-corrected.
    Fused {
        /// torch's per-tensor step counters: float32 scalars on the parameters' device,
        /// incremented by the kernel before the update reads them.
        steps: &'a [Tensor],
    },
}

/// AdamW's hyper-parameters for one group's step.
#[derive(Debug, Clone, Copy)]
pub struct AdamwHyper {
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

/// One step of torch.optim.AdamW over a group's tensors, with `kernel`'s implementation.
pub fn adamw(t: &AdamwTensors, kernel: &AdamwKernel, h: AdamwHyper) {
    let n = t.params.len();
    let extra = match kernel {
        AdamwKernel::Foreach {
            step_sizes,
            bc2_sqrts,
        } => vec![step_sizes.len(), bc2_sqrts.len()],
        AdamwKernel::Fused { steps } => vec![steps.len()],
    };
    let lens = [t.grads.len(), t.exp_avgs.len(), t.exp_avg_sqs.len()];
    assert!(
        lens.iter().chain(&extra).all(|&len| len == n),
        "adamw: lists of different lengths"
    );
    let (p, g, m, v) = (
        handles(t.params),
        handles(t.grads),
        handles(t.exp_avgs),
        handles(t.exp_avg_sqs),
    );
    let AdamwHyper {
        lr,
        weight_decay,
        beta1,
        beta2,
        eps,
    } = h;
    match kernel {
        // SAFETY: every pointer is a live tch handle (torch::Tensor*) borrowed for the call,
        // and each array holds n of them; the shim catches C++ exceptions.
        AdamwKernel::Foreach {
            step_sizes,
            bc2_sqrts,
        } => call(|err, len| unsafe {
            ftune_adamw_foreach(
                p.as_ptr(),
                g.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                step_sizes.as_ptr(),
                bc2_sqrts.as_ptr(),
                n as i64,
                lr,
                weight_decay,
                beta1,
                beta2,
                eps,
                err,
                len,
            )
        }),
        AdamwKernel::Fused { steps } => {
            let s = handles(steps);
            // SAFETY: as above.
            call(|err, len| unsafe {
                ftune_adamw_fused(
                    p.as_ptr(),
                    g.as_ptr(),
                    m.as_ptr(),
                    v.as_ptr(),
                    s.as_ptr(),
                    n as i64,
                    lr,
                    weight_decay,
                    beta1,
                    beta2,
                    eps,
                    err,
                    len,
                )
            })
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scales `grads` in place by min(1, max/(norm + 1e-6)) and
/// returns the total 2-norm as a tensor on their device (reading it is the caller's sync).
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Tensor {
    let g = handles(grads);
    let mut total: *mut C_tensor = std::ptr::null_mut();
    // SAFETY: as in `adamw`; on success `total` is a new torch::Tensor* that we own.
    call(|err, len| unsafe {
        ftune_clip_grad_norm(g.as_ptr(), g.len() as i64, max_norm, &mut total, err, len)
    });
    // SAFETY: allocated by the shim with `new`, freed by tch's Drop (at_free → delete).
    unsafe { Tensor::from_ptr(total) }
}

/// How AveragedModel's equal average is computed after its first update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// avg + (p − avg)/count, torch's CPU path, bit for bit (one pass per tensor on the CPU).
    Exact,
    /// lerp(avg, p, 1/count), torch's foreach path on CUDA (one launch for all tensors).
    Lerp,
}

/// AveragedModel.update_parameters for every pair, `count` = models averaged including this one.
pub fn swa_average(avg: &[Tensor], current: &[Tensor], count: f64, how: Average) {
    assert_eq!(
        avg.len(),
        current.len(),
        "swa average: lists of different lengths"
    );
    let (a, c) = (handles(avg), handles(current));
    // SAFETY: as in `adamw`.
    call(|err, len| unsafe {
        ftune_swa_average(
            a.as_ptr(),
            c.as_ptr(),
            a.len() as i64,
            count,
            i32::from(how == Average::Lerp),
            err,
            len,
        )
    });
}

/// Leaves inference mode on drop, also when `f` panics.
struct InferenceModeGuard(*mut std::ffi::c_void);

impl Drop for InferenceModeGuard {
    fn drop(&mut self) {
        // SAFETY: the guard was created on this thread by `ftune_inference_mode_enter`.
        unsafe { ftune_inference_mode_exit(self.0) }
    }
}

/// Runs `f` in torch.inference_mode(): no gradients and no autograd bookkeeping. Tensors
/// created inside cannot take part in autograd later; read results out before returning.
pub fn inference_mode<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: creates a thread-local guard on the heap; the shim catches C++ exceptions.
    let guard = unsafe { ftune_inference_mode_enter() };
    assert!(!guard.is_null(), "libtorch refused inference mode");
    let _guard = InferenceModeGuard(guard);
    f()
}

/// Whether the calling thread is in inference mode.
pub fn inference_mode_enabled() -> bool {
    // SAFETY: reads thread-local state.
    unsafe { ftune_inference_mode_is_enabled() == 1 }
}

/// Drops the gradients (torch's `zero_grad(set_to_none=True)`): tensors that get no gradient
/// in the next backward are then skipped by AdamW and clipping, as in torch.
pub fn grads_to_none(params: &[Tensor]) {
    let p = handles(params);
    // SAFETY: live tch handles; resetting a gradient cannot throw.
    unsafe { ftune_grads_to_none(p.as_ptr(), p.len() as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn hyper(lr: f64, weight_decay: f64, beta1: f64, beta2: f64, eps: f64) -> AdamwHyper {
        AdamwHyper {
            lr,
            weight_decay,
            beta1,
            beta2,
            eps,
        }
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
    }

    #[test]
    fn clipping_scales_by_max_over_the_total_norm() {
        let a = Tensor::from_slice(&[3.0f64, 4.0]);
        let b = Tensor::from_slice(&[12.0f64]);
        let total = clip_grad_norm(&[a.shallow_clone(), b.shallow_clone()], 1.0);
        assert_eq!(total.double_value(&[]), 13.0);
        let scale = 1.0 / (13.0 + 1e-6);
        assert_eq!(values(&a), vec![3.0 * scale, 4.0 * scale]);
        assert_eq!(values(&b), vec![12.0 * scale]);
        // Under the limit, nothing changes.
        let c = Tensor::from_slice(&[0.5f64]);
        let _ = clip_grad_norm(&[c.shallow_clone()], 1.0);
        assert_eq!(values(&c), vec![0.5]);
    }

    #[test]
    fn adamw_matches_the_single_tensor_formula_per_tensor() {
        let (lr, wd, b1, b2, eps) = (0.1, 0.01, 0.9f64, 0.999f64, 1e-8);
        let p = [
            Tensor::from_slice(&[1.0f64, -2.0]),
            Tensor::from_slice(&[0.5f64]),
        ];
        let g = [
            Tensor::from_slice(&[0.3f64, -0.1]),
            Tensor::from_slice(&[2.0f64]),
        ];
        let m = [
            Tensor::from_slice(&[0.01f64, 0.0]),
            Tensor::from_slice(&[0.2f64]),
        ];
        let v = [
            Tensor::from_slice(&[0.001f64, 0.002]),
            Tensor::from_slice(&[0.04f64]),
        ];
        let steps = [3.0f64, 1.0];
        let expect: Vec<Vec<f64>> = (0..2)
            .map(|i| {
                let (bc1, bc2) = (1.0 - b1.powf(steps[i]), 1.0 - b2.powf(steps[i]));
                let (pv, gv, mv, vv) = (values(&p[i]), values(&g[i]), values(&m[i]), values(&v[i]));
                (0..pv.len())
                    .map(|j| {
                        let m1 = mv[j] + (gv[j] - mv[j]) * (1.0 - b1);
                        let v1 = vv[j] * b2 + (1.0 - b2) * gv[j] * gv[j];
                        let denom = v1.sqrt() / bc2.sqrt() + eps;
                        pv[j] * (1.0 - lr * wd) - lr / bc1 * m1 / denom
                    })
                    .collect()
            })
            .collect();
        let step_sizes: Vec<f64> = steps.iter().map(|t| -(lr / (1.0 - b1.powf(*t)))).collect();
        let bc2_sqrts: Vec<f64> = steps.iter().map(|t| (1.0 - b2.powf(*t)).sqrt()).collect();
        let tensors = AdamwTensors {
            params: &p,
            grads: &g,
            exp_avgs: &m,
            exp_avg_sqs: &v,
        };
        let kernel = AdamwKernel::Foreach {
            step_sizes: &step_sizes,
            bc2_sqrts: &bc2_sqrts,
        };
        adamw(&tensors, &kernel, hyper(lr, wd, b1, b2, eps));
        for (i, want) in expect.iter().enumerate() {
            for (got, want) in values(&p[i]).iter().zip(want) {
                assert!((got - want).abs() < 1e-14, "tensor {i}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn lerp_average_moves_each_average_towards_its_tensor() {
        let avg = [Tensor::from_slice(&[0.0f64, 10.0])];
        swa_average(
            &avg,
            &[Tensor::from_slice(&[10.0f64, 0.0])],
            4.0,
            Average::Lerp,
        );
        assert_eq!(values(&avg[0]), vec![2.5, 7.5]);
    }

    #[test]
    fn exact_average_is_torchs_cpu_formula_bit_for_bit() {
        // Large enough for several threads' chunks, float32 (the fast path) and f64 (ATen ops).
        for kind in [Kind::Float, Kind::Double] {
            tch::manual_seed(3);
            let a = Tensor::randn([300_001], (kind, tch::Device::Cpu));
            let p = Tensor::randn([300_001], (kind, tch::Device::Cpu));
            let count = 7.0;
            let want = &a + (&p - &a) / count;
            swa_average(&[a.shallow_clone()], &[p], count, Average::Exact);
            assert!(a.equal(&want), "{kind:?}: not bit-equal");
        }
        // A non-contiguous average takes the ATen path, with the same result.
        let base = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]);
        let avg = base.tr();
        let current = Tensor::from_slice(&[5.0f32, 6.0, 7.0, 8.0]).view([2, 2]);
        let want = &avg + (&current - &avg) / 3.0;
        swa_average(&[avg.shallow_clone()], &[current], 3.0, Average::Exact);
        assert!(avg.equal(&want));
    }

    #[test]
    fn fused_adamw_takes_one_bias_corrected_step() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]);
        let g = Tensor::from_slice(&[0.5f32, 0.25]);
        let (m, v) = (p.zeros_like(), p.zeros_like());
        let step = Tensor::from(0.0f32);
        let tensors = AdamwTensors {
            params: &[p.shallow_clone()],
            grads: &[g],
            exp_avgs: &[m],
            exp_avg_sqs: &[v],
        };
        let kernel = AdamwKernel::Fused {
            steps: &[step.shallow_clone()],
        };
        adamw(&tensors, &kernel, hyper(0.1, 0.0, 0.9, 0.999, 1e-8));
        assert_eq!(step.double_value(&[]), 1.0, "the step counter moved");
        // The first bias-corrected step moves each weight by lr against its gradient's sign.
        let got = values(&p);
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] + 2.1).abs() < 1e-6,
            "{got:?}"
        );
    }

    #[test]
    fn inference_mode_is_scoped_and_survives_panics() {
        assert!(!inference_mode_enabled());
        let x = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let y = inference_mode(|| {
            assert!(inference_mode_enabled());
            (&x * 2.0).requires_grad()
        });
        assert!(!y, "no graph is recorded inside");
        assert!(!inference_mode_enabled());
        let panicked = std::panic::catch_unwind(|| inference_mode(|| panic!("boom")));
        assert!(panicked.is_err());
        assert!(!inference_mode_enabled(), "a panic left inference mode on");
    }

    #[test]
    fn dropped_gradients_are_undefined_until_the_next_backward() {
        let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        (&p * &p).sum(Kind::Float).backward();
        assert!(p.grad().defined());
        grads_to_none(&[p.shallow_clone()]);
        assert!(!p.grad().defined());
        (&p * 3.0).sum(Kind::Float).backward();
        assert_eq!(
            values(&p.grad()),
            vec![3.0, 3.0],
            "a fresh gradient, not added to the old"
        );
    }

    #[test]
    #[should_panic(expected = "adamw: lists of different lengths")]
    fn adamw_refuses_a_kernel_input_of_another_length() {
        let p = [Tensor::from_slice(&[1.0f32])];
        let tensors = AdamwTensors {
            params: &p,
            grads: &p,
            exp_avgs: &p,
            exp_avg_sqs: &p,
        };
        adamw(
            &tensors,
            &AdamwKernel::Fused { steps: &[] },
            hyper(0.1, 0.0, 0.9, 0.999, 1e-8),
        );
    }

    #[test]
    #[should_panic(expected = "lists of different lengths")]
    fn mismatched_lists_are_refused() {
        swa_average(&[Tensor::from_slice(&[1.0f64])], &[], 2.0, Average::Exact);
    }
}
