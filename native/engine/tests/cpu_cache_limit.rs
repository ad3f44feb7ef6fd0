//! The caching CPU allocator's byte limit (`FTUNE_CPU_CACHE_MB`), in its own test binary: the
//! limit is read once, when the allocator is installed.

use ftune_engine::cpu_cache::{install, release, stats};
use tch::{Kind, Tensor};

fn block(kib: i64) -> Tensor {
    Tensor::ones([kib * 256], (Kind::Float, tch::Device::Cpu))
}

#[test]
fn keeps_at_most_the_limit_evicting_the_least_recently_freed() {
    std::env::set_var("FTUNE_CPU_CACHE_MB", "1");
    install();
    release();
    let (a, b, c) = (block(512), block(256), block(384));
    let pc = c.data_ptr();
    drop(a);
    drop(b);
    assert_eq!(stats().cached_bytes, 768 << 10);
    // c's 384 KiB would pass 1 MiB: the least recently freed block (a's) makes room.
    drop(c);
    assert_eq!(stats().cached_bytes, (256 + 384) << 10);
    let misses = stats().misses;
    let again = block(512);
    assert_eq!(
        stats().misses,
        misses + 1,
        "a's block was evicted, not kept"
    );
    assert_eq!(block(384).data_ptr(), pc);
    drop(again);

    // A block larger than the whole limit is never kept.
    release();
    drop(block(2048));
    assert_eq!(stats().cached_bytes, 0);
}
