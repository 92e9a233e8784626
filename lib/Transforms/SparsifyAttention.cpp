//===- SparsifyAttention.cpp - Dense attention -> InfLLM-V2 ---------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDSPARSIFYATTENTION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

LogicalResult mlir::hybrid::sparsifyAttention(RewriterBase &rewriter,
                                              AttentionOp op,
                                              SparseConfigAttr config) {
  // Block-sparse attention is causal and has no additive mask.
  if (!op.getCausal() || op.getMask())
    return failure();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  auto select = BlockSelectOp::create(
      rewriter, loc, op.getQuery(), op.getKey(), op.getOffset(),
      op.getKeyLength(), /*compressed=*/nullptr, op.getParents(), config,
      op.getScaleAttr(), /*tree_policy=*/nullptr);
  auto sparse = BlockSparseAttentionOp::create(
      rewriter, loc, op.getQuery(), op.getKey(), op.getValue(), select,
      op.getOffset(), op.getKeyLength(), op.getParents(), config,
      op.getScaleAttr(), op.getSoftcapAttr(), op.getLayoutAttr());
  rewriter.replaceOp(op, sparse);
  return success();
}

namespace {
struct HybridSparsifyAttention
    : hybrid::impl::HybridSparsifyAttentionBase<HybridSparsifyAttention> {
  using Base::Base;

  void runOnOperation() override {
    auto config = SparseConfigAttr::getChecked(
        [&] { return getOperation().emitError(); }, &getContext(),
        int64_t(kernelSize), int64_t(kernelStride), int64_t(blockSize),
        int64_t(topk), int64_t(initBlocks), int64_t(windowSize),
        int64_t(denseLen));
    if (!config)
      return signalPassFailure();
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (auto [index, op] : llvm::enumerate(ops)) {
      if (!layers.empty() && !llvm::is_contained(layers, int64_t(index)))
        continue;
      (void)sparsifyAttention(rewriter, op, config);
    }
  }
};
} // namespace
