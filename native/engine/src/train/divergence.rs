//! A warning for a training loss that runs away without becoming NaN (a NaN or infinite loss
//! stops the run instead): the user sees it while the run goes on and can cancel.

use serde::{Deserialize, Serialize};

/// Steps per window: the first window is the baseline, later ones are compared with it.
const WINDOW: usize = 10;
/// How far above the baseline every step of a window must be.
const FACTOR: f64 = 100.0;

/// The rule: the loss diverged when *every* step of a later 10-step window is above 100× the
/// mean loss of the run's first 10 steps. A run that learns has its highest losses at the
/// start, and a single easy batch in the window keeps it quiet, so noise (one hard batch,
/// a noisy start, small batches) cannot fire it on a normal run. It fires once per fold, at
/// most 10 steps after the loss left the range. Part of the resumable state, so a resumed run
/// warns exactly when an uninterrupted one would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// Mean loss of the first window, once it ran.
    baseline: Option<f64>,
    /// Losses of the window in progress.
    window: Vec<f64>,
    warned: bool,
}

impl Divergence {
    /// Takes the loss of optimizer step `step` (from 1); returns the warning when this step
    /// completes a window that diverged.
    pub fn observe(&mut self, step: usize, loss: f64) -> Option<String> {
        if self.warned {
            return None;
        }
        self.window.push(loss);
        if self.window.len() < WINDOW {
            return None;
        }
        let window = std::mem::take(&mut self.window);
        let Some(baseline) = self.baseline else {
            self.baseline = Some(window.iter().sum::<f64>() / WINDOW as f64);
            return None;
        };
        let lowest = window.iter().copied().fold(f64::INFINITY, f64::min);
        if lowest <= FACTOR * baseline {
            return None;
        }
        self.warned = true;
        Some(format!(
            "the training loss is diverging: every step from {} to {step} had a loss of at least {}, over {FACTOR}× the mean of the first {WINDOW} steps ({}); lower the learning rate or turn on gradient clipping (train.max_grad_norm)",
            step + 1 - WINDOW,
            short(lowest),
            short(baseline),
        ))
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

    fn warnings(losses: impl IntoIterator<Item = f64>) -> Vec<(usize, String)> {
        let mut d = Divergence::default();
        losses
            .into_iter()
            .enumerate()
            .filter_map(|(i, l)| d.observe(i + 1, l).map(|m| (i + 1, m)))
            .collect()
    }

    #[test]
    fn a_learning_run_never_warns_even_with_a_near_zero_start_and_hard_batches() {
        // Falling loss with a hard batch (500× the start) every 7 steps.
        let falling = (0..200).map(|k| if k % 7 == 3 { 500.0 } else { 1.0 / (1.0 + k as f64) });
        assert!(warnings(falling).is_empty());
        // A start near zero and a later noisy plateau with one easy batch per window.
        let noisy = (0..100).map(|k| match k {
            0..10 => 1e-4,
            _ if k % 10 == 5 => 1e-5,
            _ => 0.5,
        });
        assert!(warnings(noisy).is_empty());
    }

    #[test]
    fn a_runaway_loss_warns_once_when_its_window_ends() {
        let runaway = (0..60).map(|k| if k < 15 { 1.0 } else { 150.0 * k as f64 });
        let got = warnings(runaway);
        assert_eq!(got.len(), 1, "{got:?}");
        // Steps 11–20 still hold five losses of 1.0; steps 21–30 are all above 100×.
        assert_eq!(got[0].0, 30);
        assert!(got[0].1.contains("every step from 21 to 30 had a loss of at least 3000, over 100× the mean of the first 10 steps (1.000)"), "{}", got[0].1);
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let mut d = Divergence::default();
        for k in 1..=14 {
            d.observe(k, 2.0);
        }
        let back: Divergence = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
