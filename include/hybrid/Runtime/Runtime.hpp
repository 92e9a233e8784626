//===- Runtime.hpp - C++ wrapper of the Hybrid runtime ----------*- C++ -*-===//
//
// RAII handles over the C API (hybrid_runtime.h). Errors come back as
// `Status` values, never as exceptions or aborts.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_RUNTIME_RUNTIME_HPP
#define HYBRID_RUNTIME_RUNTIME_HPP

#include "hybrid/Runtime/hybrid_runtime.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hybrid {

/// Success, or an error message.
class Status {
public:
  Status() = default;
  /// Takes ownership of a C status.
  explicit Status(hybrid_status s) {
    if (s) {
      message_ = hybrid_status_message(s);
      failed_ = true;
      hybrid_status_free(s);
    }
  }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

class Tensor {
public:
  Tensor() = default;
  explicit Tensor(hybrid_tensor *t) : t_(t, hybrid_tensor_free) {}

  static Status create(hybrid_dtype dtype, const std::vector<int64_t> &shape,
                       Tensor &out) {
    hybrid_tensor *t = nullptr;
    Status s(hybrid_tensor_create(dtype, shape.size(), shape.data(), &t));
    if (s)
      out = Tensor(t);
    return s;
  }
  static Status wrap(hybrid_dtype dtype, const std::vector<int64_t> &shape,
                     void *data, Tensor &out) {
    hybrid_tensor *t = nullptr;
    Status s(hybrid_tensor_wrap(dtype, shape.size(), shape.data(), data, &t));
    if (s)
      out = Tensor(t);
    return s;
  }
  static Status loadNpy(const std::string &path, bool u2IsBf16, Tensor &out) {
    hybrid_tensor *t = nullptr;
    Status s(hybrid_tensor_load_npy(path.c_str(), u2IsBf16, &t));
    if (s)
      out = Tensor(t);
    return s;
  }
  Status saveNpy(const std::string &path) const {
    return Status(hybrid_tensor_save_npy(t_.get(), path.c_str()));
  }

  hybrid_tensor *get() const { return t_.get(); }
  explicit operator bool() const { return t_ != nullptr; }
  hybrid_dtype dtype() const { return hybrid_tensor_dtype(t_.get()); }
  std::vector<int64_t> shape() const {
    const int64_t *s = hybrid_tensor_shape(t_.get());
    return {s, s + hybrid_tensor_rank(t_.get())};
  }
  size_t numElements() const { return hybrid_tensor_num_elements(t_.get()); }
  template <typename T = void> T *data() const {
    return static_cast<T *>(hybrid_tensor_data(t_.get()));
  }

private:
  std::shared_ptr<hybrid_tensor> t_;
};

class Module {
public:
  static Status load(const std::string &path, Module &out) {
    hybrid_module *m = nullptr;
    Status s(hybrid_module_load(path.c_str(), &m));
    if (s)
      out.m_ = std::shared_ptr<hybrid_module>(m, hybrid_module_free);
    return s;
  }
  std::vector<std::string> entryPoints() const {
    std::vector<std::string> names;
    for (size_t i = 0, e = hybrid_module_num_entries(m_.get()); i < e; ++i)
      names.emplace_back(hybrid_module_entry_name(m_.get(), i));
    return names;
  }
  /// Maps every parameter from the model's files under `folder`.
  Status bindParameters(const std::string &folder) {
    return Status(
        hybrid_module_bind_parameters_from_folder(m_.get(), folder.c_str()));
  }
  Status bindParameter(const std::string &key, const Tensor &value) {
    return Status(
        hybrid_module_bind_parameter(m_.get(), key.c_str(), value.get()));
  }
  size_t numParameters() const { return hybrid_module_num_parameters(m_.get()); }
  /// The caller's arguments of `entry` by the model's names ("" if none).
  std::vector<std::string> argNames(const std::string &entry) const {
    size_t n = 0;
    Status s(hybrid_module_entry_signature(m_.get(), entry.c_str(), &n,
                                           nullptr));
    std::vector<std::string> names;
    for (size_t i = 0; s && i < n; ++i) {
      const char *name =
          hybrid_module_entry_arg_name(m_.get(), entry.c_str(), i);
      names.emplace_back(name ? name : "");
    }
    return names;
  }
  /// The dtype and shape (-1 for a dynamic dimension) of the caller's
  /// argument `index` of `entry`.
  Status argInfo(const std::string &entry, size_t index,
                 hybrid_value_info &out) const {
    return Status(
        hybrid_module_entry_arg(m_.get(), entry.c_str(), index, &out));
  }
  /// Whether the call updates argument `index` of `entry` in place.
  bool argIsInOut(const std::string &entry, size_t index) const {
    return hybrid_module_entry_arg_is_inout(m_.get(), entry.c_str(), index) != 0;
  }
  Status setNumThreads(int n) {
    return Status(hybrid_module_set_num_threads(m_.get(), n));
  }
  /// Chunk-level MoE activity since load or the last reset.
  hybrid_moe_activity moeActivity() const {
    hybrid_moe_activity a{0, 0, 0};
    (void)hybrid_module_moe_activity(m_.get(), &a);
    return a;
  }
  Status resetMoEActivity() {
    return Status(hybrid_module_reset_moe_activity(m_.get()));
  }
  /// Runs `entry`; `results` is resized to the entry's result count.
  Status invoke(const std::string &entry, const std::vector<Tensor> &args,
                std::vector<Tensor> &results) {
    size_t numArgs = 0, numResults = 0;
    Status s(hybrid_module_entry_signature(m_.get(), entry.c_str(), &numArgs,
                                           &numResults));
    if (!s)
      return s;
    std::vector<hybrid_tensor *> in;
    for (const Tensor &t : args)
      in.push_back(t.get());
    std::vector<hybrid_tensor *> out(numResults, nullptr);
    s = Status(hybrid_module_invoke(m_.get(), entry.c_str(), in.data(),
                                    in.size(), out.data(), out.size()));
    if (!s)
      return s;
    results.clear();
    for (hybrid_tensor *t : out)
      results.emplace_back(t);
    return s;
  }
  hybrid_module *get() const { return m_.get(); }

private:
  std::shared_ptr<hybrid_module> m_;
};

} // namespace hybrid

#endif // HYBRID_RUNTIME_RUNTIME_HPP
