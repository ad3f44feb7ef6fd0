//! Validation metrics, computed in f64 on the host.

use crate::config::Metric;

pub fn rmse(pred: &[f64], target: &[f64]) -> f64 {
    mse(pred, target).sqrt()
}

pub fn mse(pred: &[f64], target: &[f64]) -> f64 {
    mean(pred.iter().zip(target).map(|(p, t)| (p - t).powi(2)))
}

pub fn mae(pred: &[f64], target: &[f64]) -> f64 {
    mean(pred.iter().zip(target).map(|(p, t)| (p - t).abs()))
}

pub fn r2(pred: &[f64], target: &[f64]) -> f64 {
    let m = mean(target.iter().copied());
    let total: f64 = target.iter().map(|t| (t - m).powi(2)).sum();
    let residual: f64 = pred.iter().zip(target).map(|(p, t)| (t - p).powi(2)).sum();
    if total == 0.0 {
        return f64::NAN;
    }
    1.0 - residual / total
}

pub fn pearson(pred: &[f64], target: &[f64]) -> f64 {
    let (mp, mt) = (mean(pred.iter().copied()), mean(target.iter().copied()));
    let cov: f64 = pred
        .iter()
        .zip(target)
        .map(|(p, t)| (p - mp) * (t - mt))
        .sum();
    let sp: f64 = pred.iter().map(|p| (p - mp).powi(2)).sum::<f64>().sqrt();
    let st: f64 = target.iter().map(|t| (t - mt).powi(2)).sum::<f64>().sqrt();
    cov / (sp * st)
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

fn argmax(row: &[f64]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

pub fn accuracy(logits: &[Vec<f64>], labels: &[usize]) -> f64 {
    mean(
        logits
            .iter()
            .zip(labels)
            .map(|(l, &y)| f64::from(u8::from(argmax(l) == y))),
    )
}

/// Unweighted mean of per-class F1 over the classes that occur in labels or predictions.
pub fn macro_f1(logits: &[Vec<f64>], labels: &[usize]) -> f64 {
    let classes = logits.first().map_or(0, Vec::len);
    let mut tp = vec![0.0; classes];
    let mut fp = vec![0.0; classes];
    let mut fneg = vec![0.0; classes];
    for (l, &y) in logits.iter().zip(labels) {
        let p = argmax(l);
        if p == y {
            tp[y] += 1.0;
        } else {
            fp[p] += 1.0;
            fneg[y] += 1.0;
        }
    }
    let f1s = (0..classes)
        .filter(|&c| tp[c] + fp[c] + fneg[c] > 0.0)
        .map(|c| 2.0 * tp[c] / (2.0 * tp[c] + fp[c] + fneg[c]));
    mean(f1s)
}

/// Mean negative log-likelihood of the true class under softmax(logits).
pub fn log_loss(logits: &[Vec<f64>], labels: &[usize]) -> f64 {
    mean(logits.iter().zip(labels).map(|(l, &y)| {
        let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = l.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        log_sum - l[y]
    }))
}

/// Every metric that fits the task, by name: regression gets rmse, mae, r2, pearson;
/// classification accuracy, macro_f1, log_loss.
pub fn all_metrics(
    outputs: &[Vec<f64>],
    targets: &[f64],
    classification: bool,
) -> Vec<(Metric, f64)> {
    if classification {
        let labels: Vec<usize> = targets.iter().map(|&t| t as usize).collect();
        vec![
            (Metric::Accuracy, accuracy(outputs, &labels)),
            (Metric::MacroF1, macro_f1(outputs, &labels)),
            (Metric::LogLoss, log_loss(outputs, &labels)),
        ]
    } else {
        let pred: Vec<f64> = outputs.iter().map(|o| o[0]).collect();
        vec![
            (Metric::Rmse, rmse(&pred, targets)),
            (Metric::Mae, mae(&pred, targets)),
            (Metric::R2, r2(&pred, targets)),
            (Metric::Pearson, pearson(&pred, targets)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_metrics() {
        let (p, t) = ([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]);
        assert!((rmse(&p, &t) - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mae(&p, &t) - 2.0 / 3.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((r2(&t, &t) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn classification_metrics() {
        let logits = vec![
            vec![2.0, 0.0],
            vec![0.0, 1.0],
            vec![3.0, 0.0],
            vec![0.0, 2.0],
        ];
        let labels = [0, 1, 1, 1];
        assert_eq!(accuracy(&logits, &labels), 0.75);
        // class 0: tp 1, fp 1 → F1 2/3; class 1: tp 2, fn 1 → F1 0.8
        assert!((macro_f1(&logits, &labels) - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        let uniform = log_loss(&[vec![0.0, 0.0]], &[1]);
        assert!((uniform - 2f64.ln()).abs() < 1e-12);
    }
}
