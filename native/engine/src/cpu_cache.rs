//! Freed CPU tensor memory kept for the next step instead of handed back to the kernel
//! (`cpp/cpu_cache.cpp` says why: page faults were a quarter of a CPU training run's time).
//!
//! A training run or a prediction holds a `Scope`: installed once per process as libtorch's
//! CPU allocator, and emptied when the last running scope ends, so an idle app holds nothing. It
//! keeps at most a quarter of physical memory, or `FTUNE_CPU_CACHE_MB` (0 turns the cache off).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

extern "C" {
    fn ftune_cpu_cache_install(limit_bytes: u64);
    fn ftune_cpu_cache_release();
    fn ftune_cpu_cache_stats(hits: *mut u64, misses: *mut u64, cached_bytes: *mut u64);
}

/// Requests served from the cache, requests that were not, and bytes it holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub cached_bytes: u64,
}

/// Holds the cache for a run or a prediction: what it keeps is freed when the process's last
/// scope ends (an evaluation inside a run keeps it for the run).
pub struct Scope(());

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

impl Scope {
    pub fn enter() -> Scope {
        install();
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if ACTIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            release();
        }
    }
}

/// Makes the caching allocator libtorch's CPU allocator (once; later calls do nothing).
pub fn install() {
    static INSTALL: Once = Once::new();
    // SAFETY: plain C calls; the allocator outlives every tensor (it is never destroyed).
    INSTALL.call_once(|| unsafe { ftune_cpu_cache_install(limit_bytes()) });
}

/// Frees every block the cache keeps (blocks in use are untouched).
pub fn release() {
    // SAFETY: takes the allocator's lock.
    unsafe { ftune_cpu_cache_release() }
}

pub fn stats() -> CacheStats {
    let (mut hits, mut misses, mut cached_bytes) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    unsafe { ftune_cpu_cache_stats(&mut hits, &mut misses, &mut cached_bytes) };
    CacheStats {
        hits,
        misses,
        cached_bytes,
    }
}

fn limit_bytes() -> u64 {
    if let Some(mb) = std::env::var("FTUNE_CPU_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return mb << 20;
    }
    physical_memory().map_or(2 << 30, |bytes| bytes / 4)
}

fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib << 10)
}
