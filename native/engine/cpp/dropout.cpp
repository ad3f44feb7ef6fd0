// Dropout's scaled keep-mask on the CPU, drawn in parallel. torch's CPU dropout draws its mask
// with bernoulli_ from the default generator, one element after another on one thread; with
// attention dropout over [batch, heads, seq, seq] that serial draw is ~7 % of a training step.
// Here each element's bit comes from a counter-based generator (SplitMix64) at the element's
// index, keyed by one 64-bit draw from the default CPU generator: the mask depends on the seed
// torch.manual_seed set and on nothing else (not on the thread count), and the intra-op threads
// fill it together. Values are torch's: 0, or 1 / (1 - p) computed in
// the dtype's math type, as `noise.bernoulli_(1 - p).div_(1 - p)` gives.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <mutex>
#include <type_traits>

using at::Tensor;

namespace {
uint64_t draw_key() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

// SplitMix64 (the generator behind Java's SplittableRandom; passes BigCrush): its i-th output
// from `key` is a function of i alone, so any thread can draw any element's bits.
inline uint64_t splitmix64(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Elements [2·begin, 2·end) of the mask; the 64-bit multiplies vectorize on AVX-512 CPUs.
template <typename scalar_t>
void mask_pairs(scalar_t* data, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, scalar_t scale) {
  for (int64_t j = begin; j < end; j++) {
    const uint64_t r = splitmix64(key, j);
    data[2 * j] = (r & 0xFFFFFFFFu) < threshold ? scale : scalar_t(0);
    data[2 * j + 1] = (r >> 32) < threshold ? scale : scalar_t(0);
  }
}

// float32, the common case, is compiled for AVX-512 and AVX2 too and picked at load time.
#if defined(__linux__) && defined(__x86_64__)
__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#endif
void mask_pairs_float(float* data, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, float scale) {
  mask_pairs<float>(data, begin, end, key, threshold, scale);
}

template <typename scalar_t>
void fill_mask(scalar_t* data, int64_t numel, uint64_t key, uint64_t threshold, scalar_t scale) {
  const int64_t pairs = numel / 2;  // one 64-bit draw decides two elements
  at::parallel_for(0, pairs, 1 << 14, [&](int64_t begin, int64_t end) {
    if constexpr (std::is_same_v<scalar_t, float>) {
      mask_pairs_float(data, begin, end, key, threshold, scale);
    } else {
      mask_pairs<scalar_t>(data, begin, end, key, threshold, scale);
    }
  });
  if (numel % 2) data[numel - 1] = (splitmix64(key, pairs) & 0xFFFFFFFFu) < threshold ? scale : scalar_t(0);
}
}  // namespace

// Fills `mask` (contiguous, on the CPU) with 0 or 1 / (1 - p), each kept with probability 1 - p.
extern "C" int ftune_dropout_mask(Tensor* mask, double p, char* err, size_t err_len) {
  try {
    Tensor& m = *mask;
    TORCH_CHECK(m.device().is_cpu() && m.is_contiguous(), "dropout mask: a contiguous CPU tensor");
    TORCH_CHECK(p > 0 && p < 1, "dropout mask: p must be in (0, 1)");
    const double keep = 1 - p;
    // Kept when a uniform 32-bit draw is below keep · 2^32.
    const auto threshold = static_cast<uint64_t>(std::ldexp(keep, 32));
    const uint64_t key = draw_key();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, m.scalar_type(), "ftune_dropout_mask", [&] {
      using opmath_t = at::opmath_type<scalar_t>;
      const auto scale = static_cast<scalar_t>(opmath_t(1) / static_cast<opmath_t>(keep));
      fill_mask<scalar_t>(m.data_ptr<scalar_t>(), m.numel(), key, threshold, scale);
    });
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(err, err_len, "%s", e.what());
    return 1;
  }
}
