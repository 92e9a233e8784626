//===- ApproximateMath.cpp - Vector polynomial exp for the CPU stage ------===//
//
// Softmax, SiLU and the recurrences' decays take an exp per element; as
// libm calls they leave the vector registers and dominate the attention
// loops. Upstream's approximations keep them inline and vectorised.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDCPUAPPROXIMATEMATH
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {
struct HybridCPUApproximateMath
    : hybrid::impl::HybridCPUApproximateMathBase<HybridCPUApproximateMath> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          name.consume_front("math.");
          return llvm::is_contained(
              {"exp", "expm1", "log", "log1p", "tanh", "erf"}, name);
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
