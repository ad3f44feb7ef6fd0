// CUDA autocast in bf16, entered and left the way torch.autocast("cuda", torch.bfloat16) does.
// tch's autocast uses fp16 and libtorch's deprecated at::autocast::is_enabled/set_enabled,
// which print a deprecation warning on every call (thousands of lines per run).
#include <ATen/autocast_mode.h>

// Returns whether CUDA autocast was on before (to hand to ftune_autocast_exit), -1 on error.
extern "C" int ftune_autocast_enter_bf16() {
  try {
    const bool was_enabled = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::increment_nesting();
    return was_enabled ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

// Leaving the outermost region drops the cached bf16 copies of the weights.
extern "C" void ftune_autocast_exit(int was_enabled) {
  try {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled == 1);
  } catch (...) {
  }
}

// For tests: whether CUDA autocast is on on the calling thread.
extern "C" int ftune_autocast_is_enabled() {
  return at::autocast::is_autocast_enabled(at::kCUDA) ? 1 : 0;
}
