//! The caching CPU allocator (`cpu_cache`): its own test binary, because the allocator is
//! process-wide and a test running beside this one could take the block it expects back.

use ftune_engine::cpu_cache::{install, release, stats, Scope};
use tch::{Kind, Tensor};

#[test]
fn reuses_freed_blocks_and_releases_them() {
    install();
    release();
    let bytes = 4 << 20;
    let a = Tensor::full([bytes / 4], 1.5, (Kind::Float, tch::Device::Cpu));
    let ptr = a.data_ptr();
    drop(a);
    let after_free = stats();
    assert!(after_free.cached_bytes >= bytes as u64, "{after_free:?}");

    // Same size: the same block comes back, and its new values are what was written.
    let b = Tensor::full([bytes / 4], -2.0, (Kind::Float, tch::Device::Cpu));
    assert_eq!(b.data_ptr(), ptr);
    assert!(stats().hits > after_free.hits);
    assert_eq!(b.min().double_value(&[]), -2.0);
    assert_eq!(b.max().double_value(&[]), -2.0);

    // A size of the same class (12.5 % steps) reuses it too; a much smaller one does not.
    drop(b);
    let c = Tensor::zeros([bytes / 4 - 1000], (Kind::Float, tch::Device::Cpu));
    assert_eq!(c.data_ptr(), ptr);
    let d = Tensor::zeros([bytes / 16], (Kind::Float, tch::Device::Cpu));
    assert_ne!(d.data_ptr(), ptr);
    assert_eq!(c.sum(Kind::Float).double_value(&[]), 0.0);

    // Small, empty and freed-from-another-thread tensors go through the same deleter.
    let small = Tensor::arange(10, (Kind::Int64, tch::Device::Cpu));
    let empty = Tensor::zeros([0], (Kind::Float, tch::Device::Cpu));
    assert_eq!(small.sum(Kind::Int64).int64_value(&[]), 45);
    std::thread::spawn(move || drop((c, small, empty)))
        .join()
        .unwrap();

    drop(d);
    assert!(stats().cached_bytes > 0);
    release();
    assert_eq!(stats().cached_bytes, 0);

    // Scopes: an inner one (an evaluation inside a run) ending keeps the cache; the last empties it.
    let run = Scope::enter();
    let evaluation = Scope::enter();
    drop(Tensor::zeros([1 << 20], (Kind::Float, tch::Device::Cpu)));
    drop(evaluation);
    assert!(stats().cached_bytes >= 4 << 20);
    drop(run);
    assert_eq!(stats().cached_bytes, 0);
}
