// bf16 autocast on CUDA or on the CPU, entered and left the way
// torch.autocast(device_type, torch.bfloat16) does. tch's autocast is CUDA-only, uses fp16 and
// libtorch's deprecated at::autocast::is_enabled/set_enabled, which print a deprecation
// warning on every call (thousands of lines per run).
#include <ATen/autocast_mode.h>
#include <ATen/cpu/Utils.h>

#include <initializer_list>

namespace {
// 0: the CPU, 1: CUDA (the Rust side's AutocastDevice).
at::DeviceType device_of(int device) { return device == 0 ? at::kCPU : at::kCUDA; }
}  // namespace

// Returns the state to hand to ftune_autocast_exit (bit 0: autocast was on before; bits 8+:
// the dtype it had), -1 on error.
extern "C" int ftune_autocast_enter_bf16(int device) {
  try {
    const auto type = device_of(device);
    const bool was_enabled = at::autocast::is_autocast_enabled(type);
    const int was_dtype = static_cast<int>(at::autocast::get_autocast_dtype(type));
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::increment_nesting();
    return (was_dtype << 8) | (was_enabled ? 1 : 0);
  } catch (...) {
    return -1;
  }
}

// Leaving the outermost region drops the cached bf16 copies of the weights; the device's
// previous autocast state (on/off and dtype) comes back, as torch.autocast's __exit__ does.
extern "C" void ftune_autocast_exit(int device, int saved) {
  try {
    const auto type = device_of(device);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type, (saved & 1) == 1);
    at::autocast::set_autocast_dtype(type, static_cast<at::ScalarType>(saved >> 8));
  } catch (...) {
  }
}

// For tests: whether autocast is on for the device on the calling thread.
extern "C" int ftune_autocast_is_enabled(int device) {
  return at::autocast::is_autocast_enabled(device_of(device)) ? 1 : 0;
}

// Whether this CPU computes bf16 natively (AVX512-BF16 or AMX on x86, BF16 on Arm), from
// libtorch's own cpuinfo probe. Without it, CPU autocast still runs but emulates bf16 and is
// slower than fp32.
extern "C" int ftune_cpu_has_bf16() {
  try {
    const auto caps = at::cpu::get_cpu_capabilities();
    for (const char* key : {"avx512_bf16", "amx_bf16", "bf16", "sve_bf16"}) {
      const auto it = caps.find(key);
      if (it != caps.end() && it->second.isBool() && it->second.toBool()) return 1;
    }
    return 0;
  } catch (...) {
    return 0;
  }
}
