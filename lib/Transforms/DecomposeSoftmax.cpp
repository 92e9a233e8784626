//===- DecomposeSoftmax.cpp - linalg.softmax into linalg ops --------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDDECOMPOSESOFTMAX
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {
struct HybridDecomposeSoftmax
    : hybrid::impl::HybridDecomposeSoftmaxBase<HybridDecomposeSoftmax> {
  void runOnOperation() override {
    SmallVector<linalg::SoftmaxOp> softmaxes;
    getOperation().walk([&](linalg::SoftmaxOp op) { softmaxes.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::SoftmaxOp op : softmaxes) {
      rewriter.setInsertionPoint(op);
      FailureOr<SmallVector<Value>> parts = op.decomposeOperation(rewriter);
      if (failed(parts)) {
        op.emitError("cannot decompose this softmax");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, *parts);
    }
  }
};
} // namespace
