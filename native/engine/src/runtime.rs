//! What libtorch this process runs on: version, CUDA, threads.

use std::path::{Path, PathBuf};

/// The libtorch a process loaded, its devices and threads; camelCase, as the addon's
/// `runtimeInfo()` and `fold_job --info` (on a Ray node) both give it.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeInfo {
    /// Version of the libtorch actually loaded (e.g. "2.11.0+cu130").
    pub torch_version: String,
    /// Directory the loaded libtorch comes from.
    pub torch_lib_dir: String,
    pub cuda_available: bool,
    #[ts(type = "number")]
    pub cuda_device_count: i64,
    /// Intra-op threads libtorch uses on CPU.
    pub threads: i32,
    /// The CPU has bf16 instructions: `precision: bf16` runs on it.
    pub cpu_bf16: bool,
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
        cpu_bf16: cpu_has_bf16(),
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
    fn ftune_autocast_enter_bf16(device: i32) -> i32;
    fn ftune_autocast_exit(device: i32, saved: i32);
    fn ftune_autocast_is_enabled(device: i32) -> i32;
    fn ftune_cpu_has_bf16() -> i32;
}

/// The shim's device code: 0 the CPU, 1 CUDA.
fn autocast_device(device: tch::Device) -> i32 {
    i32::from(device.is_cuda())
}

/// Leaves the autocast region on drop, so a panic inside it (CUDA OOM) leaves the thread clean.
struct AutocastRegion {
    device: i32,
    saved: i32,
}

impl Drop for AutocastRegion {
    fn drop(&mut self) {
        // SAFETY: restores the thread-local state saved on entry; the shim catches exceptions.
        unsafe { ftune_autocast_exit(self.device, self.saved) }
    }
}

/// Runs `f` under bf16 autocast for `device`'s type, as `torch.autocast("cuda" | "cpu",
/// dtype=torch.bfloat16)` would (weights stay fp32: the master copy AdamW updates). Autocast
/// state is thread-local and per device type: CUDA autocast leaves CPU tensors alone, and the
/// other way round.
pub fn autocast_bf16<T>(device: tch::Device, f: impl FnOnce() -> T) -> T {
    let device = autocast_device(device);
    // SAFETY: the shim only touches thread-local autocast state and catches C++ exceptions.
    let saved = unsafe { ftune_autocast_enter_bf16(device) };
    assert!(saved >= 0, "libtorch refused bf16 autocast");
    let _region = AutocastRegion { device, saved };
    f()
}

/// Whether autocast is on for `device`'s type on the calling thread.
pub fn autocast_enabled(device: tch::Device) -> bool {
    // SAFETY: reads thread-local state.
    unsafe { ftune_autocast_is_enabled(autocast_device(device)) == 1 }
}

/// Whether this machine's CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16 on x86, BF16
/// on Arm), as libtorch's cpuinfo probe reports it.
pub fn cpu_has_bf16() -> bool {
    // SAFETY: a pure query; the shim catches C++ exceptions.
    unsafe { ftune_cpu_has_bf16() == 1 }
}

/// `Ok` when bf16 compute is worth running on `device`: any CUDA device (autocast picks bf16
/// kernels; pre-Ampere GPUs emulate them), a CPU only with native bf16, where without it
/// autocast still runs but emulated bf16 is slower than fp32 and less accurate.
/// `setting` names what asked for bf16, for the message.
pub fn check_bf16(device: tch::Device, setting: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        device.is_cuda() || cpu_has_bf16(),
        "{setting} bf16 needs a CUDA device or a CPU with bf16 instructions (AVX512-BF16 or AMX on x86, BF16 on Arm); this CPU has none, so use fp32"
    );
    Ok(())
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
        use tch::Device::{Cpu, Cuda};
        for (device, other) in [(Cuda(0), Cpu), (Cpu, Cuda(0))] {
            assert!(!autocast_enabled(device));
            let inner = autocast_bf16(device, || {
                autocast_bf16(device, || {
                    autocast_enabled(device) && !autocast_enabled(other)
                }) && autocast_enabled(device)
            });
            assert!(
                inner,
                "{device:?}: on inside, nested, and only for its own device type"
            );
            assert!(!autocast_enabled(device));
            let panicked =
                std::panic::catch_unwind(|| autocast_bf16(device, || panic!("out of memory")));
            assert!(panicked.is_err());
            assert!(!autocast_enabled(device), "a panic left autocast on");
        }
    }

    #[test]
    fn cpu_autocast_computes_matmuls_in_bf16() {
        let a = tch::Tensor::randn([4, 8], (tch::Kind::Float, tch::Device::Cpu));
        let b = tch::Tensor::randn([8, 3], (tch::Kind::Float, tch::Device::Cpu));
        let (inside, outside) = (
            autocast_bf16(tch::Device::Cpu, || a.matmul(&b)),
            a.matmul(&b),
        );
        assert_eq!(inside.kind(), tch::Kind::BFloat16);
        assert_eq!(outside.kind(), tch::Kind::Float);
        // Inputs rounded to bf16 (8 bits of mantissa): close to fp32, not equal.
        let diff = (inside.to_kind(tch::Kind::Float) - &outside).abs().max();
        let diff = diff.double_value(&[]);
        assert!(
            diff > 0.0 && diff < 0.1,
            "bf16 matmul differs from fp32 by {diff}"
        );
    }

    #[test]
    fn bf16_check_follows_the_cpu() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let native = cpuinfo
            .split_whitespace()
            .any(|flag| ["avx512_bf16", "amx_bf16", "bf16"].contains(&flag));
        assert_eq!(
            cpu_has_bf16(),
            native,
            "libtorch's probe agrees with /proc/cpuinfo"
        );
        assert_eq!(check_bf16(tch::Device::Cpu, "precision").is_ok(), native);
        assert!(check_bf16(tch::Device::Cuda(0), "precision").is_ok());
    }
}
