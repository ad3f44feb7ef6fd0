// Multi-tensor ("foreach") updates, as torch.optim.AdamW, clip_grad_norm_ and AveragedModel
// run them: a handful of kernel launches per parameter group instead of several per tensor,
// which is what bounds a training step on a GPU. tch does not bind libtorch's _foreach ops.
// Tensors arrive as tch's handles (torch::Tensor*); errors come back as text in `err`.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <cstdio>
#include <exception>
#include <vector>

using at::Tensor;

namespace {
std::vector<Tensor> tensors(Tensor* const* handles, int64_t n) {
  std::vector<Tensor> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; i++) out.push_back(*handles[i]);
  return out;
}

std::vector<at::Scalar> scalars(const double* values, int64_t n) {
  return std::vector<at::Scalar>(values, values + n);
}

int fail(const std::exception& e, char* err, size_t err_len) {
  std::snprintf(err, err_len, "%s", e.what());
  return 1;
}
}  // namespace

// torch.optim.adam._multi_tensor_adam with decoupled weight decay (AdamW), for tensors that
// share lr and weight decay; step_sizes[i] = -lr / bias_correction1 and bc2_sqrts[i] =
// sqrt(bias_correction2) of tensor i (-lr and 1 without bias correction).
extern "C" int ftune_adamw_foreach(Tensor* const* params, Tensor* const* grads, Tensor* const* exp_avgs,
                                   Tensor* const* exp_avg_sqs, const double* step_sizes, const double* bc2_sqrts,
                                   int64_t n, double lr, double weight_decay, double beta1, double beta2, double eps,
                                   char* err, size_t err_len) {
  try {
    c10::NoGradGuard no_grad;
    auto p = tensors(params, n), g = tensors(grads, n), m = tensors(exp_avgs, n), v = tensors(exp_avg_sqs, n);
    if (weight_decay != 0) at::_foreach_mul_(p, 1 - lr * weight_decay);
    at::_foreach_lerp_(m, g, 1 - beta1);
    at::_foreach_mul_(v, beta2);
    at::_foreach_addcmul_(v, g, g, 1 - beta2);
    auto denom = at::_foreach_sqrt(v);
    at::_foreach_div_(denom, scalars(bc2_sqrts, n));
    at::_foreach_add_(denom, eps);
    at::_foreach_addcdiv_(p, m, denom, scalars(step_sizes, n));
    return 0;
  } catch (const std::exception& e) {
    return fail(e, err, err_len);
  }
}

// torch.optim.AdamW(fused=True): one _fused_adamw_ call for tensors that share lr and weight
// decay (one launch per group on CUDA, one vectorized pass per tensor on the CPU, no
// temporaries). `steps` are the per-tensor step counters torch keeps as float32 scalars on the
// parameters' device; they are incremented here first, as torch does before the kernel reads them.
extern "C" int ftune_adamw_fused(Tensor* const* params, Tensor* const* grads, Tensor* const* exp_avgs,
                                 Tensor* const* exp_avg_sqs, Tensor* const* steps, int64_t n, double lr,
                                 double weight_decay, double beta1, double beta2, double eps, char* err,
                                 size_t err_len) {
  try {
    c10::NoGradGuard no_grad;
    auto s = tensors(steps, n);
    at::_foreach_add_(s, 1);
    at::_fused_adamw_(tensors(params, n), tensors(grads, n), tensors(exp_avgs, n), tensors(exp_avg_sqs, n), {}, s, lr,
                      beta1, beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
    return 0;
  } catch (const std::exception& e) {
    return fail(e, err, err_len);
  }
}

// torch.nn.utils.clip_grad_norm_ (2-norm): scales the gradients by min(1, max/(total + 1e-6))
// without reading anything back to the host; *total receives the norm as a new tensor.
extern "C" int ftune_clip_grad_norm(Tensor* const* grads, int64_t n, double max_norm, Tensor** total, char* err,
                                    size_t err_len) {
  try {
    c10::NoGradGuard no_grad;
    auto g = tensors(grads, n);
    auto norm = at::linalg_vector_norm(at::stack(at::_foreach_norm(g, 2)), 2);
    // Python's `max_norm / tensor` is `tensor.reciprocal() * max_norm`.
    auto coef = at::clamp_max((norm + 1e-6).reciprocal() * max_norm, 1.0);
    at::_foreach_mul_(g, coef);
    *total = new Tensor(norm);
    return 0;
  } catch (const std::exception& e) {
    return fail(e, err, err_len);
  }
}

namespace {
// avg <- avg + (current - avg) / count over contiguous float32 CPU tensors: torch's CPU
// AveragedModel computes exactly these three IEEE operations per element, in three passes and
// two temporaries; here they are one pass, split over the intra-op threads.
void swa_average_cpu(float* avg, const float* current, int64_t numel, float count) {
  at::parallel_for(0, numel, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) avg[i] = avg[i] + (current[i] - avg[i]) / count;
  });
}
}  // namespace

// AveragedModel.update_parameters after the first: avg <- avg + (current - avg) / count, as
// torch's CPU path computes it (bit for bit, without temporaries), or, with `lerp`, as its
// CUDA path does (one foreach lerp by 1/count).
extern "C" int ftune_swa_average(Tensor* const* avg, Tensor* const* current, int64_t n, double count, int lerp,
                                 char* err, size_t err_len) {
  try {
    c10::NoGradGuard no_grad;
    auto a = tensors(avg, n), c = tensors(current, n);
    if (lerp) {
      at::_foreach_lerp_(a, c, 1.0 / count);
      return 0;
    }
    for (int64_t i = 0; i < n; i++) {
      auto &x = a[i], &y = c[i];
      TORCH_CHECK(x.sizes() == y.sizes(), "swa average: shapes differ");
      if (x.device().is_cpu() && y.device().is_cpu() && x.scalar_type() == at::kFloat &&
          y.scalar_type() == at::kFloat && x.is_contiguous() && y.is_contiguous()) {
        swa_average_cpu(x.data_ptr<float>(), y.const_data_ptr<float>(), x.numel(), static_cast<float>(count));
      } else {
        x.add_((y - x) / count);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    return fail(e, err, err_len);
  }
}

// Inference mode (torch.inference_mode()) on the calling thread: no autograd bookkeeping at
// all (no version counters, no views tracking), for evaluation. The guard lives on the heap
// between enter and exit, which must pair on the same thread.
extern "C" void* ftune_inference_mode_enter() {
  try {
    return new c10::InferenceMode();
  } catch (...) {
    return nullptr;
  }
}

extern "C" void ftune_inference_mode_exit(void* guard) { delete static_cast<c10::InferenceMode*>(guard); }

extern "C" int ftune_inference_mode_is_enabled() { return c10::InferenceMode::is_enabled() ? 1 : 0; }

// optimizer.zero_grad() with torch's default set_to_none=True: no kernels, and the next
// backward writes fresh gradients instead of adding to zeros.
extern "C" void ftune_grads_to_none(Tensor* const* params, int64_t n) {
  for (int64_t i = 0; i < n; i++) params[i]->mutable_grad().reset();
}
