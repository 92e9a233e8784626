//===- MaterializeWriteBacks.cpp - In-place arguments for bufferization ---===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDMATERIALIZEWRITEBACKS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {
struct HybridMaterializeWriteBacks
    : hybrid::impl::HybridMaterializeWriteBacksBase<
          HybridMaterializeWriteBacks> {
  void runOnOperation() override {
    SmallVector<hybrid::WriteBackOp> writeBacks;
    getOperation().walk(
        [&](hybrid::WriteBackOp op) { writeBacks.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (hybrid::WriteBackOp op : writeBacks) {
      rewriter.setInsertionPoint(op);
      bufferization::MaterializeInDestinationOp::create(
          rewriter, op.getLoc(), op.getValue(), op.getArgument());
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
