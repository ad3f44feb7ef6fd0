//! What the bench examples share: flag parsing and the run's set-up (device, threads, seed).

use tch::Device;

/// The value after `name` in the arguments, or `default`.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

/// `--device` (default `default_device`) and `--threads N` (libtorch's intra-op threads, left
/// alone when absent), and the seed every bench starts from, so that runs compare.
pub fn setup(args: &[String], default_device: &str) -> anyhow::Result<Device> {
    if let Ok(n) = arg(args, "--threads", "").parse::<i32>() {
        tch::set_num_threads(n);
    }
    let device = ftune_engine::runtime::parse_device(&arg(args, "--device", default_device))?;
    // The allocator the engine's runs use (FTUNE_CPU_CACHE_MB=0 measures without it).
    ftune_engine::cpu_cache::install();
    tch::manual_seed(0);
    Ok(device)
}
