//===- DenseSparseSwitch.cpp - InfLLM-V2's dense-sparse switch ------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDDENSESPARSESWITCH
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

LogicalResult
mlir::hybrid::insertDenseSparseSwitch(RewriterBase &rewriter,
                                      BlockSparseAttentionOp sparse) {
  auto select = sparse.getBlockIndices().getDefiningOp<BlockSelectOp>();
  // Only a selection over the same rows and keys, used by this op alone,
  // can move into the sparse branch.
  if (!select || select.getQuery() != sparse.getQuery() ||
      select.getKey() != sparse.getKey() ||
      select.getOffset() != sparse.getOffset() ||
      select.getKeyLength() != sparse.getKeyLength() ||
      select.getParents() != sparse.getParents() || !select->hasOneUse())
    return failure();
  if (sparse->getParentOfType<scf::IfOp>() &&
      sparse->getParentOfType<scf::IfOp>()->hasAttr("hybrid.dense_sparse_switch"))
    return failure();

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(select);
  Location loc = sparse.getLoc();
  Value keys = sparse.getKeyLength()
                   ? sparse.getKeyLength()
                   : tensor::DimOp::create(rewriter, loc, sparse.getKey(), 2)
                         .getResult();
  Value denseLen = arith::ConstantIndexOp::create(
      rewriter, loc, sparse.getConfig().getDenseLen());
  Value isShort = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                        keys, denseLen);
  auto ifOp = scf::IfOp::create(rewriter, loc, sparse.getType(), isShort,
                                /*withElseRegion=*/true);
  ifOp->setAttr("hybrid.dense_sparse_switch", rewriter.getUnitAttr());

  rewriter.setInsertionPointToStart(ifOp.thenBlock());
  auto dense = AttentionOp::create(
      rewriter, loc, sparse.getQuery(), sparse.getKey(), sparse.getValue(),
      /*mask=*/nullptr, sparse.getOffset(), sparse.getKeyLength(),
      sparse.getParents(), /*causal=*/true, sparse.getScaleAttr(),
      sparse.getSoftcapAttr(), sparse.getLayoutAttr());
  scf::YieldOp::create(rewriter, loc, dense.getResult());

  rewriter.setInsertionPointToStart(ifOp.elseBlock());
  Operation *newSelect = rewriter.clone(*select);
  IRMapping mapping;
  mapping.map(select.getResult(), newSelect->getResult(0));
  Operation *newSparse = rewriter.clone(*sparse, mapping);
  scf::YieldOp::create(rewriter, loc, newSparse->getResult(0));

  rewriter.replaceOp(sparse, ifOp.getResults());
  rewriter.eraseOp(select);
  return success();
}

namespace {
struct HybridDenseSparseSwitch
    : hybrid::impl::HybridDenseSparseSwitchBase<HybridDenseSparseSwitch> {
  void runOnOperation() override {
    SmallVector<BlockSparseAttentionOp> ops;
    getOperation().walk([&](BlockSparseAttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (BlockSparseAttentionOp op : ops)
      (void)insertDenseSparseSwitch(rewriter, op);
  }
};
} // namespace
