// tch's autocast always uses CUDA's default fp16; this selects bf16 instead (no GradScaler
// needed) for autocast regions entered on the calling thread.
#include <ATen/autocast_mode.h>

extern "C" int ftune_autocast_use_bf16() {
  try {
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    return 0;
  } catch (...) {
    return 1;
  }
}
