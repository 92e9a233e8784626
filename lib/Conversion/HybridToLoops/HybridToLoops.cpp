//===- HybridToLoops.cpp - Lower hybrid ops to loops over buffers ---------===//

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_CONVERTHYBRIDTOLOOPS
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

void mlir::hybrid::populateHybridToLoopsPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  populateAttentionLoweringPatterns(patterns, options);
  populateRecurrenceLoweringPatterns(patterns, options);
  populateMoELoweringPatterns(patterns, options);
  populateSpeculationLoweringPatterns(patterns, options);
  populateNormLoweringPatterns(patterns, options);
  populateCheckLoweringPatterns(patterns, options);
}

void mlir::hybrid::populateHostControlLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  populateCheckLoweringPatterns(patterns, options);
  populateKVCompactLoweringPatterns(patterns, options);
}

namespace {
struct ConvertHybridToLoops
    : hybrid::impl::ConvertHybridToLoopsBase<ConvertHybridToLoops> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1) {
      getOperation().emitError("vector-width must be positive");
      return signalPassFailure();
    }
    HybridToLoopsOptions options;
    options.vectorWidth = vectorWidth;
    options.matmulKernels = matmulKernels;
    RewritePatternSet patterns(&getContext());
    populateHybridToLoopsPatterns(patterns, options);
    populatePanelUnpackLoweringPatterns(patterns, options);
    if (matmulKernels)
      populateMatmulLoweringPatterns(patterns, options);
    // Every hybrid op is replaced exactly once; a walk suffices.
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // hybrid.write_back stays: it is bufferization's, at the entry point.
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa_and_nonnull<HybridDialect>(op->getDialect()) &&
          !isa<WriteBackOp>(op)) {
        op->emitOpError("has no CPU lowering for this form");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
