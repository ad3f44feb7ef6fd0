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

    /// `update_parameters`: avg ← avg + (p − avg)/(n + 1) on the CPU, lerp(avg, p, 1/(n + 1))
    /// on CUDA (torch's two paths); the first update copies p.
    pub fn update(&mut self, params: &[Tensor]) {
        let cuda = self.average.first().is_some_and(|t| t.device().is_cuda());
        tch::no_grad(|| {
            if self.n_averaged > 0 && cuda {
                // As AveragedModel on CUDA: one foreach lerp.
                foreach::lerp(&self.average, params, 1.0 / (self.n_averaged + 1) as f64);
                return;
            }
            for (avg, p) in self.average.iter_mut().zip(params) {
                if self.n_averaged == 0 {
                    avg.copy_(p);
                } else {
                    let step = (p - &*avg) / (self.n_averaged + 1) as f64;
                    let _ = avg.g_add_(&step);
                }
            }
        });
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
