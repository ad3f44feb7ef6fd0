//! Stochastic weight averaging: torch.optim.swa_utils.AveragedModel's equal average.
//! (The SWALR half lives in `schedule`, next to the schedule it replaces.)

use tch::Tensor;

use crate::foreach;

pub struct AveragedModel {
    average: Vec<Tensor>,
    /// How many models have been averaged so far (torch's `n_averaged`).
    pub n_averaged: i64,
}

impl AveragedModel {
    /// Starts as a copy of the parameters, like `AveragedModel(model)`.
    pub fn new(params: &[Tensor]) -> Self {
        let average = tch::no_grad(|| params.iter().map(|p| p.detach().copy()).collect());
        Self {
            average,
            n_averaged: 0,
        }
    }

    /// `update_parameters`: avg ← avg + (p − avg)/(n + 1), bit for bit as torch computes it on
    /// the CPU but in one pass without temporaries; lerp(avg, p, 1/(n + 1)) on CUDA, as torch's
    /// foreach path there. The first update copies p.
    pub fn update(&mut self, params: &[Tensor]) {
        let cuda = self.average.first().is_some_and(|t| t.device().is_cuda());
        if self.n_averaged == 0 {
            tch::no_grad(|| {
                for (avg, p) in self.average.iter_mut().zip(params) {
                    avg.copy_(p);
                }
            });
        } else {
            let how = if cuda {
                foreach::Average::Lerp
            } else {
                foreach::Average::Exact
            };
            foreach::swa_average(&self.average, params, (self.n_averaged + 1) as f64, how);
        }
        self.n_averaged += 1;
    }

    pub fn tensors(&self) -> &[Tensor] {
        &self.average
    }

    /// Rebuilds an average saved with `tensors()` and `n_averaged`.
    pub fn restore(average: Vec<Tensor>, n_averaged: i64) -> Self {
        Self {
            average,
            n_averaged,
        }
    }
}

/// Runs `f` with `weights` in the parameters' place, e.g. to evaluate the SWA average. Where
/// shapes, dtypes and devices match, the parameters' storage is swapped (no copies: two pointer
/// swaps per tensor, however large the model); otherwise the weights are copied in and back.
pub fn with_weights<T>(params: &[Tensor], weights: &[Tensor], f: impl FnOnce() -> T) -> T {
    assert_eq!(params.len(), weights.len(), "with_weights: lists differ");
    let swappable = params
        .iter()
        .zip(weights)
        .all(|(p, w)| p.size() == w.size() && p.kind() == w.kind() && p.device() == w.device());
    if !swappable {
        let saved = snapshot(
            params,
            params.first().map_or(tch::Device::Cpu, Tensor::device),
        );
        copy_into(params, weights);
        let out = f();
        copy_into(params, &saved);
        return out;
    }
    let live: Vec<Tensor> = params.iter().map(Tensor::detach).collect();
    let swap = |to: &[Tensor]| {
        tch::no_grad(|| {
            for (p, t) in params.iter().zip(to) {
                p.shallow_clone().set_data(t);
            }
        })
    };
    swap(weights);
    // Swap back also when `f` panics (e.g. out of memory), so the live weights survive.
    struct Restore<'a, F: Fn(&[Tensor])>(&'a [Tensor], F);
    impl<F: Fn(&[Tensor])> Drop for Restore<'_, F> {
        fn drop(&mut self) {
            (self.1)(self.0)
        }
    }
    let _restore = Restore(&live, swap);
    f()
}

/// Copies `src` into `dst` element-wise (no autograd), e.g. to swap averaged weights in.
pub fn copy_into(dst: &[Tensor], src: &[Tensor]) {
    tch::no_grad(|| {
        for (d, s) in dst.iter().zip(src) {
            d.shallow_clone().copy_(s);
        }
    });
}

/// A detached copy of tensors (on the device given), e.g. the best weights so far.
pub fn snapshot(params: &[Tensor], device: tch::Device) -> Vec<Tensor> {
    tch::no_grad(|| {
        params
            .iter()
            .map(|p| p.detach().to_device(device).copy())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_weights_swaps_in_and_back_without_touching_either() {
        let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let avg = Tensor::from_slice(&[5.0f32, 6.0]);
        let seen = with_weights(&[p.shallow_clone()], &[avg.shallow_clone()], || {
            Vec::<f32>::try_from(&p.detach()).unwrap()
        });
        assert_eq!(seen, vec![5.0, 6.0]);
        assert_eq!(Vec::<f32>::try_from(&p.detach()).unwrap(), vec![1.0, 2.0]);
        assert_eq!(Vec::<f32>::try_from(&avg).unwrap(), vec![5.0, 6.0]);
        assert!(p.requires_grad(), "still a trainable leaf");
        // Still trains: a gradient flows to the restored parameter.
        (&p * 2.0).sum(tch::Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(&p.grad()).unwrap(), vec![2.0, 2.0]);
        // Different dtypes take the copying path, with the same effect.
        let half = Tensor::from_slice(&[7.0f64, 8.0]);
        let seen = with_weights(&[p.shallow_clone()], &[half], || {
            Vec::<f32>::try_from(&p.detach()).unwrap()
        });
        assert_eq!(seen, vec![7.0, 8.0]);
        assert_eq!(Vec::<f32>::try_from(&p.detach()).unwrap(), vec![1.0, 2.0]);
        // A panic inside still restores the live weights.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_weights(&[p.shallow_clone()], &[avg.shallow_clone()], || {
                panic!("oom")
            })
        }));
        assert_eq!(Vec::<f32>::try_from(&p.detach()).unwrap(), vec![1.0, 2.0]);
    }

    #[test]
    fn equal_average_of_the_updates() {
        let p = Tensor::from_slice(&[0.0f64, 10.0]);
        let mut avg = AveragedModel::new(&[p.shallow_clone()]);
        for v in [[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]] {
            p.shallow_clone().copy_(&Tensor::from_slice(&v));
            avg.update(&[p.shallow_clone()]);
        }
        assert_eq!(
            Vec::<f64>::try_from(&avg.tensors()[0]).unwrap(),
            vec![3.0, 5.0]
        );
        assert_eq!(avg.n_averaged, 3);
    }
}
