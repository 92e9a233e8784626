//===- CheckLowering.cpp - hybrid.check as the runtime's error status -----===//

#include "Lowerings.h"

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// Raises the message (the invocation's error status) when the condition
/// is false; nothing else.
struct CheckLowering : KernelPattern<CheckOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(CheckOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder k(rewriter, op.getLoc(), options.vectorWidth);
    k.raiseIf(k.notI(op.getCondition()), op.getMessage());
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void mlir::hybrid::populateCheckLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<CheckLowering>(patterns.getContext(), options);
}
