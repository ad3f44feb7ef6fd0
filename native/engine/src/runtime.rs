//! What libtorch this process runs on: version, CUDA, threads.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, serde::Serialize)]
pub struct RuntimeInfo {
    /// Version of the libtorch actually loaded (e.g. "2.11.0+cu130").
    pub torch_version: String,
    /// Directory the loaded libtorch comes from.
    pub torch_lib_dir: String,
    pub cuda_available: bool,
    pub cuda_device_count: i64,
    /// Intra-op threads libtorch uses on CPU.
    pub threads: i32,
}

pub fn runtime_info() -> RuntimeInfo {
    let lib_dir = loaded_libtorch_dir();
    let torch_version = lib_dir
        .as_deref()
        .and_then(version_next_to)
        .unwrap_or_else(|| "unknown".to_string());
    RuntimeInfo {
        torch_version,
        torch_lib_dir: lib_dir.map(|p| p.display().to_string()).unwrap_or_default(),
        cuda_available: tch::Cuda::is_available(),
        cuda_device_count: tch::Cuda::device_count(),
        threads: tch::get_num_threads(),
    }
}

/// The directory of the libtorch the dynamic linker picked (rpath or LD_LIBRARY_PATH), read
/// from this process's memory map.
fn loaded_libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let lib = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))?;
    Path::new(lib).parent().map(Path::to_path_buf)
}

/// A PyTorch wheel keeps `torch/version.py` one level above `torch/lib`.
fn version_next_to(lib_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib_dir.parent()?.join("version.py")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("__version__"))
        .map(|rest| {
            rest.trim_start_matches([' ', '=', ':', 's', 't', 'r'])
                .trim()
                .trim_matches(['\'', '"'])
                .to_string()
        })
}

/// Parses a device choice: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N".
pub fn parse_device(name: &str) -> anyhow::Result<tch::Device> {
    Ok(match name {
        "auto" => tch::Device::cuda_if_available(),
        "cpu" => tch::Device::Cpu,
        "cuda" | "cuda:0" if tch::Cuda::is_available() => tch::Device::Cuda(0),
        other => match other
            .strip_prefix("cuda:")
            .and_then(|i| i.parse::<usize>().ok())
        {
            Some(i) if (i as i64) < tch::Cuda::device_count() => tch::Device::Cuda(i),
            _ if other.starts_with("cuda") => anyhow::bail!(
                "device '{other}' is not available: this machine has {} CUDA device(s)",
                tch::Cuda::device_count()
            ),
            _ => anyhow::bail!("device '{other}' is not one of auto, cpu, cuda, cuda:N"),
        },
    })
}

extern "C" {
    fn ftune_autocast_enter_bf16() -> i32;
    fn ftune_autocast_exit(was_enabled: i32);
    fn ftune_autocast_is_enabled() -> i32;
}

/// Leaves the autocast region on drop, so a panic inside it (CUDA OOM) leaves the thread clean.
struct AutocastRegion(i32);

impl Drop for AutocastRegion {
    fn drop(&mut self) {
        // SAFETY: restores the thread-local state saved on entry; the shim catches exceptions.
        unsafe { ftune_autocast_exit(self.0) }
    }
}

/// Runs `f` under CUDA autocast in bf16 (weights stay fp32: the master copy AdamW updates).
/// Autocast state is thread-local; tensors on the CPU are not affected.
pub fn autocast_bf16<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: the shim only touches thread-local autocast state and catches C++ exceptions.
    let was_enabled = unsafe { ftune_autocast_enter_bf16() };
    assert!(was_enabled >= 0, "libtorch refused bf16 autocast");
    let _region = AutocastRegion(was_enabled);
    f()
}

/// Whether CUDA autocast is on for the calling thread.
pub fn cuda_autocast_enabled() -> bool {
    // SAFETY: reads thread-local state.
    unsafe { ftune_autocast_is_enabled() == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_linked_torch() {
        let info = runtime_info();
        assert!(info.torch_version.starts_with("2.11.0"), "got {info:?}");
        assert!(info.threads >= 1);
        assert_eq!(info.cuda_available, info.cuda_device_count > 0);
    }

    #[test]
    fn autocast_regions_nest_and_restore_even_on_panic() {
        assert!(!cuda_autocast_enabled());
        let inner =
            autocast_bf16(|| autocast_bf16(cuda_autocast_enabled) && cuda_autocast_enabled());
        assert!(inner);
        assert!(!cuda_autocast_enabled());
        let panicked = std::panic::catch_unwind(|| autocast_bf16(|| panic!("out of memory")));
        assert!(panicked.is_err());
        assert!(!cuda_autocast_enabled(), "a panic left autocast on");
    }
}
