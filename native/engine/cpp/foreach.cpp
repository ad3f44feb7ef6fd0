// Multi-tensor ("foreach") updates, as torch.optim.AdamW, clip_grad_norm_ and AveragedModel
// run them: a handful of kernel launches per parameter group instead of several per tensor,
// which is what bounds a training step on a GPU. tch does not bind libtorch's _foreach ops.
// Tensors arrive as tch's handles (torch::Tensor*); errors come back as text in `err`.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

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

// AveragedModel's multi-tensor average on CUDA: avg <- lerp(avg, current, weight).
extern "C" int ftune_lerp_foreach(Tensor* const* avg, Tensor* const* current, int64_t n, double weight, char* err,
                                  size_t err_len) {
  try {
    c10::NoGradGuard no_grad;
    auto a = tensors(avg, n);
    at::_foreach_lerp_(a, tensors(current, n), weight);
    return 0;
  } catch (const std::exception& e) {
    return fail(e, err, err_len);
  }
}

// optimizer.zero_grad() with torch's default set_to_none=True: no kernels, and the next
// backward writes fresh gradients instead of adding to zeros.
extern "C" void ftune_grads_to_none(Tensor* const* params, int64_t n) {
  for (int64_t i = 0; i < n; i++) params[i]->mutable_grad().reset();
}
