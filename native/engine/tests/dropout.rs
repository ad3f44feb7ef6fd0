//! The parallel CPU dropout (`ftune_engine::dropout`) against libtorch's own: the same values,
//! the same keep rate, masks fixed by the seed alone (not the thread count), and the gradient
//! torch's dropout has. Its own test binary: the checks reseed libtorch's global generator.

use ftune_engine::dropout::{dropout, mask};
use tch::{Device, Kind, Tensor};

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

#[test]
fn dropout_keeps_torch_values_rate_and_gradient_and_is_seeded() {
    let p = 0.1;
    for kind in [Kind::Float, Kind::Double, Kind::BFloat16, Kind::Half] {
        // torch's kept value, 1 / (1 − p) in the dtype's math type, exactly.
        let torch_kept = Tensor::ones([4096], (kind, Device::Cpu))
            .dropout(p, true)
            .max();
        let ours = mask(&[4096], kind, p);
        assert_eq!(ours.kind(), kind);
        assert_eq!(values(&ours.max())[0], values(&torch_kept)[0], "{kind:?}");
        let distinct: std::collections::BTreeSet<u64> =
            values(&ours).iter().map(|v| v.to_bits()).collect();
        assert_eq!(distinct.len(), 2, "{kind:?}: only 0 and 1/(1-p)");
    }

    // The keep rate over 8M draws, overall and per block of 1M: within 6 standard deviations.
    let n = (8 << 20) + 1; // odd: the last element has a draw of its own
    let kept = values(
        &mask(&[n], Kind::Float, p)
            .ne(0.0)
            .to_kind(Kind::Float)
            .narrow(0, 0, 8 << 20)
            .view([8, -1])
            .mean_dim(1, false, Kind::Double),
    );
    let block_sd = (p * (1.0 - p) / (n / 8) as f64).sqrt();
    for (i, k) in kept.iter().enumerate() {
        assert!((k - 0.9).abs() < 6.0 * block_sd, "block {i}: kept {k}");
    }
    // Neighbours independent: P(both kept) = 0.81 for adjacent elements.
    let m = mask(&[n], Kind::Float, p).ne(0.0).to_kind(Kind::Float);
    let both = values(&(m.narrow(0, 0, n - 1) * m.narrow(0, 1, n - 1)).mean(Kind::Double))[0];
    assert!(
        (both - 0.81).abs() < 6.0 * (0.81 * 0.19 / n as f64).sqrt(),
        "adjacent both kept {both}"
    );

    // Seeded like torch: manual_seed decides the mask, whatever the thread count; consecutive
    // masks differ.
    let shape = [3, 5, 1000];
    tch::set_num_threads(1);
    tch::manual_seed(7);
    let (a1, a2) = (mask(&shape, Kind::Float, p), mask(&shape, Kind::Float, p));
    tch::set_num_threads(2);
    tch::manual_seed(7);
    let (b1, b2) = (mask(&shape, Kind::Float, p), mask(&shape, Kind::Float, p));
    assert!(a1.equal(&b1) && a2.equal(&b2), "same seed, same masks");
    assert!(!a1.equal(&a2), "consecutive masks differ");
    tch::manual_seed(8);
    assert!(
        !a1.equal(&mask(&shape, Kind::Float, p)),
        "another seed, another mask"
    );

    // x * mask, and the gradient is the mask, as for torch's dropout.
    let x = Tensor::randn([64, 128], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    tch::manual_seed(11);
    let y = dropout(&x, p, true);
    tch::manual_seed(11);
    let expected = mask(&[64, 128], Kind::Float, p);
    assert!(y.equal(&(x.detach() * &expected)));
    y.sum(Kind::Float).backward();
    assert!(x.grad().equal(&expected));
    // Not training, or p = 0: the input itself.
    assert!(dropout(&x, p, false).equal(&x) && dropout(&x, 0.0, true).equal(&x));
}
