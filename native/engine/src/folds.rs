//! K-fold splits, seeded and reproducible: random, stratified (classes, or bins of a
//! regression target as CommonLit practitioners did) and group (no group in two folds).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::config::FoldStrategy;

/// The fold index (0..k) of every row.
pub fn assign_folds(
    strategy: FoldStrategy,
    k: usize,
    seed: u64,
    labels: &[f64],
    groups: Option<&[String]>,
    classification: bool,
    bins: Option<usize>,
) -> anyhow::Result<Vec<usize>> {
    let n = labels.len();
    anyhow::ensure!(k >= 2, "folds.k must be at least 2");
    anyhow::ensure!(
        n >= k,
        "{n} rows cannot make {k} folds: every fold needs at least one row"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; n];
    match strategy {
        FoldStrategy::Random => {
            let order = shuffled(n, &mut rng);
            for (pos, &row) in order.iter().enumerate() {
                fold[row] = pos % k;
            }
        }
        FoldStrategy::Stratified => {
            let strata = if classification {
                labels.iter().map(|&l| l as i64).collect()
            } else {
                target_bins(labels, bins.unwrap_or_else(|| sturges(n)))
            };
            // Deal each stratum's shuffled rows round-robin, continuing where the last one
            // stopped, so folds stay balanced in size as well as in label distribution.
            let order = shuffled(n, &mut rng);
            let mut by_stratum: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
            for row in order {
                by_stratum.entry(strata[row]).or_default().push(row);
            }
            let mut next = 0;
            for rows in by_stratum.values() {
                for &row in rows {
                    fold[row] = next % k;
                    next += 1;
                }
            }
        }
        FoldStrategy::Group => {
            let groups =
                groups.ok_or_else(|| anyhow::anyhow!("folds.strategy 'group' needs data.group"))?;
            let mut names: Vec<&String> = groups.iter().collect();
            names.sort();
            names.dedup();
            anyhow::ensure!(
                names.len() >= k,
                "{} groups cannot make {k} folds",
                names.len()
            );
            // Largest groups first into the currently smallest fold; ties broken by a seeded shuffle.
            let mut sizes: std::collections::HashMap<&String, usize> = Default::default();
            for g in groups {
                *sizes.entry(g).or_default() += 1;
            }
            let order = shuffled(names.len(), &mut rng);
            let mut ordered: Vec<&String> = order.iter().map(|&i| names[i]).collect();
            ordered.sort_by_key(|g| std::cmp::Reverse(sizes[g]));
            let mut fill = vec![0usize; k];
            let mut group_fold: std::collections::HashMap<&String, usize> = Default::default();
            for g in ordered {
                let f = (0..k).min_by_key(|&f| (fill[f], f)).unwrap_or(0);
                fill[f] += sizes[g];
                group_fold.insert(g, f);
            }
            for (row, g) in groups.iter().enumerate() {
                fold[row] = group_fold[g];
            }
        }
    }
    Ok(fold)
}

fn shuffled(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    shuffle(&mut v, rng);
    v
}

/// Fisher–Yates with a seeded ChaCha stream (stable across platforms and versions).
pub fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

pub fn seeded(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn sturges(n: usize) -> usize {
    ((n as f64).log2().floor() as usize + 1).max(2)
}

/// Equal-width bins of the target (as the CommonLit notebooks did with pd.cut).
fn target_bins(labels: &[f64], bins: usize) -> Vec<i64> {
    let (lo, hi) = labels
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let width = (hi - lo) / bins as f64;
    labels
        .iter()
        .map(|&x| {
            if width > 0.0 {
                (((x - lo) / width) as i64).min(bins as i64 - 1)
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(fold: &[usize], k: usize) -> Vec<usize> {
        (0..k)
            .map(|f| fold.iter().filter(|&&x| x == f).count())
            .collect()
    }

    #[test]
    fn random_folds_cover_every_row_once_and_are_balanced() {
        let labels: Vec<f64> = (0..103).map(|i| i as f64).collect();
        let f = assign_folds(FoldStrategy::Random, 5, 7, &labels, None, false, None).unwrap();
        let c = counts(&f, 5);
        assert_eq!(c.iter().sum::<usize>(), 103);
        assert!(c.iter().all(|&n| n == 20 || n == 21), "{c:?}");
        assert_eq!(
            f,
            assign_folds(FoldStrategy::Random, 5, 7, &labels, None, false, None).unwrap(),
            "seeded"
        );
        assert_ne!(
            f,
            assign_folds(FoldStrategy::Random, 5, 8, &labels, None, false, None).unwrap()
        );
    }

    #[test]
    fn stratified_classification_keeps_class_shares() {
        let labels: Vec<f64> = (0..100).map(|i| if i < 80 { 0.0 } else { 1.0 }).collect();
        let f = assign_folds(FoldStrategy::Stratified, 4, 1, &labels, None, true, None).unwrap();
        for fold in 0..4 {
            let ones = (0..100)
                .filter(|&i| f[i] == fold && labels[i] == 1.0)
                .count();
            assert_eq!(ones, 5, "fold {fold}");
        }
    }

    #[test]
    fn stratified_regression_bins_the_target() {
        let labels: Vec<f64> = (0..200).map(|i| ((i * 37) % 200) as f64 / 10.0).collect();
        let f = assign_folds(
            FoldStrategy::Stratified,
            5,
            3,
            &labels,
            None,
            false,
            Some(4),
        )
        .unwrap();
        for fold in 0..5 {
            let high = (0..200)
                .filter(|&i| f[i] == fold && labels[i] >= 15.0)
                .count();
            assert_eq!(high, 10, "fold {fold}");
        }
    }

    #[test]
    fn groups_never_straddle_folds() {
        let groups: Vec<String> = (0..60).map(|i| format!("g{}", i % 13)).collect();
        let labels = vec![0.0; 60];
        let f = assign_folds(
            FoldStrategy::Group,
            3,
            5,
            &labels,
            Some(&groups),
            false,
            None,
        )
        .unwrap();
        for g in 0..13 {
            let folds: std::collections::BTreeSet<usize> = (0..60)
                .filter(|&i| groups[i] == format!("g{g}"))
                .map(|i| f[i])
                .collect();
            assert_eq!(folds.len(), 1);
        }
        assert!(counts(&f, 3).iter().all(|&n| n > 0));
    }

    #[test]
    fn too_few_rows_is_a_clear_error() {
        let e =
            assign_folds(FoldStrategy::Random, 5, 1, &[1.0, 2.0], None, false, None).unwrap_err();
        assert!(e.to_string().contains("2 rows cannot make 5 folds"));
    }
}
