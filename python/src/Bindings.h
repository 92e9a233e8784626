//===- Bindings.h - The pieces of the _hybrid extension module --*- C++ -*-===//

#ifndef HYBRID_PYTHON_BINDINGS_H
#define HYBRID_PYTHON_BINDINGS_H

#include "hybrid/Runtime/Runtime.hpp"

#include <pybind11/pybind11.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hybrid::python {

/// Raised (as hybrid.CompileError) when a source does not compile; the
/// message carries the diagnostics.
struct CompileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Raised (as hybrid.RuntimeError) when the runtime refuses a call.
struct RuntimeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A compiled module loaded through the thin runtime.
class Module {
public:
  /// Loads the shared object at `path` and binds its parameters from
  /// `folder` (when it has any).
  static std::shared_ptr<Module> load(const std::string &path,
                                      const std::string &folder);

  std::vector<std::string> entries() const { return module.entryPoints(); }
  /// {"args": [...], "results": [...]}, each {"name", "dtype", "shape",
  /// "kind", "inout"} (shape with None for dynamic dimensions).
  pybind11::dict signature(const std::string &entry) const;
  /// Runs `entry` on numpy arrays (and Python numbers for scalars).
  pybind11::object call(const std::string &entry, pybind11::args args);
  void setNumThreads(int n);
  pybind11::dict moeActivity() const;

private:
  hybrid::Module module;
};

std::shared_ptr<Module> compile(const std::string &source,
                                const std::string &sparse, bool parallel,
                                const std::vector<std::string> &entries,
                                int64_t treeSize, const std::string &parameters,
                                const std::string &target);

void bindCompiler(pybind11::module_ &m);
void bindRuntime(pybind11::module_ &m);

} // namespace hybrid::python

#endif // HYBRID_PYTHON_BINDINGS_H
