//! A warning for a run whose model is running away without its loss becoming NaN (a NaN or
//! infinite loss stops the run instead): the user sees it while the run goes on and can cancel.

use serde::{Deserialize, Serialize};

/// How many times worse than the reference an evaluation must be.
const FACTOR: f64 = 10.0;

/// The rule, checked at every evaluation of the live model on the validation rows: its loss
/// (rmse for regression, log-loss for classification) is over 10× the larger of
/// - a blank model's: predicting 0 (rmse = the targets' root mean square) or the uniform
///   distribution (log-loss = ln of the number of classes), and
/// - the fold's first evaluation.
///
/// The validation rows are the same at every evaluation, so batch order and batch noise (a
/// sorted file, tiny batches) cannot move it; a run that learns ends up better than a blank
/// model and than its own start, and the first evaluation covers a head whose untrained
/// outputs are large next to small targets. It fires once per fold. Part of the resumable
/// state, so a resumed run warns exactly when an uninterrupted one would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    first: Option<f64>,
    warned: bool,
}

impl Divergence {
    /// Takes an evaluation's `loss` (metric `name`, lower is better) and the `blank` model's;
    /// returns the warning when this evaluation diverged.
    pub fn observe(&mut self, name: &str, loss: f64, blank: f64) -> Option<String> {
        let first = *self.first.get_or_insert(loss);
        let reference = blank.max(first);
        // NaN is never over: a NaN loss stops the run by itself.
        let over = loss > FACTOR * reference;
        if self.warned || !over {
            return None;
        }
        self.warned = true;
        Some(format!(
            "the model is diverging: validation {name} {} is over {FACTOR}× that of a blank model ({}) and of the first evaluation ({}); lower the learning rate or turn on gradient clipping (train.max_grad_norm)",
            short(loss),
            short(blank),
            short(first),
        ))
    }
}

/// What a blank model scores on these validation targets: the rmse of predicting 0, or the
/// log-loss of the uniform distribution over `classes`.
pub fn blank_loss(targets: &[f64], classes: Option<usize>) -> f64 {
    match classes {
        Some(c) => (c as f64).ln(),
        None => (targets.iter().map(|y| y * y).sum::<f64>() / targets.len() as f64).sqrt(),
    }
}

/// Four significant digits, in exponent form outside [0.001, 10⁶).
fn short(x: f64) -> String {
    if (1e-3..1e6).contains(&x.abs()) {
        let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(losses: &[f64], blank: f64) -> Vec<(usize, String)> {
        let mut d = Divergence::default();
        (losses.iter().enumerate())
            .filter_map(|(i, &l)| d.observe("rmse", l, blank).map(|m| (i, m)))
            .collect()
    }

    #[test]
    fn a_learning_run_never_warns() {
        // Improving, with a bad patch on the way.
        assert!(warnings(&[1.2, 0.9, 0.7, 3.0, 0.6, 0.5], 1.0).is_empty());
        // Small targets next to an untrained head's large outputs: the first evaluation is
        // the reference, not the blank model.
        assert!(warnings(&[0.6, 0.9, 0.4, 0.05, 0.02], 0.01).is_empty());
        // NaN is not a divergence this rule reports (a NaN loss stops the run).
        assert!(warnings(&[1.0, f64::NAN, 0.5], 1.0).is_empty());
    }

    #[test]
    fn a_runaway_model_warns_once() {
        let got = warnings(&[1.5, 4.0, 14.0, 16.0, 2e7, 3e9], 1.2);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 3);
        assert_eq!(
            got[0].1,
            "the model is diverging: validation rmse 16.00 is over 10× that of a blank model (1.200) and of the first evaluation (1.500); lower the learning rate or turn on gradient clipping (train.max_grad_norm)"
        );
    }

    #[test]
    fn blank_losses() {
        assert_eq!(blank_loss(&[3.0, -4.0, 0.0, 0.0], None), 2.5);
        assert_eq!(blank_loss(&[0.0, 2.0], Some(3)), 3f64.ln());
    }
}
