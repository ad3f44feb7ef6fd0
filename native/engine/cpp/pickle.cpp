// pytorch_model.bin: a torch.save zip of a state dict, read with libtorch's own unpickler
// (torch::pickle_load, the C++ side of torch.load). That unpickler only knows the globals a
// tensor needs (no arbitrary Python callables), so a hostile file fails with a message rather
// than running code. tch binds only TorchScript/mobile archives, hence this shim.
#include <torch/serialize.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <vector>

using at::Tensor;

// Reads the state dict at `path` and hands each (name, tensor) to `add`; returns non-zero with
// libtorch's message in `err` when the file is not a zip of a dict of tensors.
extern "C" int ftune_pickle_load_state_dict(const char* path, void* ctx, void (*add)(void*, const char*, Tensor*),
                                            char* err, size_t err_len) {
  try {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      std::snprintf(err, err_len, "cannot open the file");
      return 1;
    }
    std::vector<char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto value = torch::pickle_load(data);
    if (!value.isGenericDict()) {
      std::snprintf(err, err_len, "it holds a %s, not a state dict (a dict of tensors)", value.tagKind().c_str());
      return 1;
    }
    // Collected first, so that nothing reaches Rust when a later entry is not a tensor.
    std::vector<std::pair<std::string, Tensor>> entries;
    for (const auto& item : value.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor()) {
        std::snprintf(err, err_len, "an entry is a %s → %s, not a name → tensor", item.key().tagKind().c_str(),
                      item.value().tagKind().c_str());
        return 1;
      }
      entries.emplace_back(item.key().toStringRef(), item.value().toTensor());
    }
    for (auto& [name, tensor] : entries) add(ctx, name.c_str(), new Tensor(std::move(tensor)));
    return 0;
  } catch (const c10::Error& e) {
    std::snprintf(err, err_len, "%s", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::snprintf(err, err_len, "%s", e.what());
    return 1;
  }
}
