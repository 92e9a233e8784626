//===- HybridModule.cpp - The _hybrid extension module --------------------===//
//
// LLVM and MLIR are built without exceptions; this module is built with
// them (pybind11 needs them) and every C++ error becomes a Python exception
// here, at the boundary.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

namespace py = pybind11;
using namespace hybrid::python;

PYBIND11_MODULE(_hybrid, m) {
  m.doc() = "Hybrid's compiler and runtime (the implementation of `hybrid`)";
  py::register_exception<CompileError>(m, "CompileError",
                                       PyExc_RuntimeError);
  py::register_exception<RuntimeFailure>(m, "RuntimeError",
                                         PyExc_RuntimeError);
  bindCompiler(m);
  bindRuntime(m);
}
