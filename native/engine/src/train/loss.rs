//! The training loss of a batch, and gradient clipping.

use tch::{Device, Kind, Reduction, Tensor};

use crate::config::Loss;
use crate::foreach;

/// The config's loss of `logits` against `targets` (class indices for cross-entropy), in fp32.
pub fn loss_of(loss: Loss, logits: &Tensor, targets: &[f64], device: Device) -> Tensor {
    match loss {
        Loss::CrossEntropy => {
            let y = Tensor::from_slice(&targets.iter().map(|&t| t as i64).collect::<Vec<_>>())
                .to_device(device);
            logits.to_kind(Kind::Float).cross_entropy_for_logits(&y)
        }
        _ => {
            let pred = logits.to_kind(Kind::Float).squeeze_dim(-1);
            let y = Tensor::from_slice(&targets.iter().map(|&t| t as f32).collect::<Vec<_>>())
                .to_device(device);
            match loss {
                Loss::Mse => pred.mse_loss(&y, Reduction::Mean),
                Loss::Rmse => pred.mse_loss(&y, Reduction::Mean).sqrt(),
                _ => pred.huber_loss(&y, Reduction::Mean, 1.0),
            }
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scales all gradients by min(1, max/(total + 1e-6)), where
/// total is the 2-norm of the per-parameter gradient norms; returns the total as a tensor, so
/// that reading it (a device sync) can wait until the whole step is queued. None: no gradients.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Option<Tensor> {
    let grads: Vec<Tensor> = params
        .iter()
        .map(Tensor::grad)
        .filter(Tensor::defined)
        .collect();
    (!grads.is_empty()).then(|| foreach::clip_grad_norm(&grads, max_norm))
}
