//===- Harness.h - Compile, run, and compare against the reference --------===//
//
// The numeric tests compile small MLIR modules in-process (hybrid-cpu-pipeline
// into a shared object, once per distinct module text), run them through the
// runtime's C API like any user, and compare with the reference ops.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_UNITTESTS_NUMERICS_HARNESS_H
#define HYBRID_UNITTESTS_NUMERICS_HARNESS_H

#include "../Reference/Reference.h"
#include "hybrid/Runtime/Runtime.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace hybrid::test {

/// The compiled module of `mlirText` (compiled on first use), or null with a
/// test failure recorded.
hybrid::Module *compile(const std::string &mlirText);

/// `mlirText` after the module-level pass pipeline `passes` (e.g.
/// "hybrid-sparsify-attention{topk=4},canonicalize"): the numeric
/// equivalence harness of passes compiles both and compares their results.
std::string applyPasses(const std::string &mlirText, const std::string &passes);

/// "tensor<1x4x?x64xf32>" from a shape (-1 = dynamic) and an element type.
std::string tensorType(const std::vector<int64_t> &shape,
                       const std::string &elementType);

/// Normal(0, scale) values.
ref::Array randomArray(std::vector<int64_t> shape, std::mt19937 &rng,
                       double scale = 1.0);

/// Stores `a` as `dtype` (f32, f16 or bf16) and rounds `a` to exactly what
/// the storage holds, so that the reference sees the kernel's inputs.
hybrid::Tensor toTensor(ref::Array &a, hybrid_dtype dtype);
hybrid::Tensor intTensor(const std::vector<int32_t> &values,
                         std::vector<int64_t> shape);
hybrid::Tensor indexScalar(int64_t value);
ref::Array fromTensor(const hybrid::Tensor &t);
std::vector<int32_t> intsFromTensor(const hybrid::Tensor &t);

/// Runs `entry`, failing the test on an error status.
std::vector<hybrid::Tensor> run(hybrid::Module &module, const std::string &entry,
                                const std::vector<hybrid::Tensor> &args);

/// max|actual - expected| <= rtol * max|expected| (+ atol): the L-inf error
/// relative to the reference's L-inf norm.
::testing::AssertionResult allClose(const ref::Array &actual,
                                    const ref::Array &expected, double rtol,
                                    double atol = 0.0);

/// Tolerance for outputs stored as `dtype`: f32 1e-5, f16 2e-3, bf16 1.6e-2.
double tolerance(hybrid_dtype dtype);
const char *mlirType(hybrid_dtype dtype);

} // namespace hybrid::test

#endif // HYBRID_UNITTESTS_NUMERICS_HARNESS_H
