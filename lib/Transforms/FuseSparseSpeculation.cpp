//===- FuseSparseSpeculation.cpp - Sparsity x speculation fusion ----------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDFUSESPARSESPECULATION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

/// Static node count of a draft tree, or nothing.
static std::optional<int64_t> staticNodes(Value parents) {
  int64_t n = cast<ShapedType>(parents.getType()).getDimSize(0);
  if (ShapedType::isDynamic(n))
    return std::nullopt;
  return n;
}

LogicalResult mlir::hybrid::shareTreeSelection(RewriterBase &rewriter,
                                               BlockSparseAttentionOp sparse,
                                               TreePolicy policy) {
  Value parents = sparse.getParents();
  auto select = sparse.getBlockIndices().getDefiningOp<BlockSelectOp>();
  if (!parents || !select || select.getParents() ||
      select.getQuery() != sparse.getQuery() ||
      select.getKey() != sparse.getKey() ||
      select.getOffset() != sparse.getOffset() ||
      select.getKeyLength() != sparse.getKeyLength() || !select->hasOneUse())
    return failure();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(select);
  auto shared = BlockSelectOp::create(
      rewriter, select.getLoc(), select.getQuery(), select.getKey(),
      select.getOffset(), select.getKeyLength(), select.getCompressed(),
      parents, select.getConfig(), select.getScaleAttr(),
      TreePolicyAttr::get(rewriter.getContext(), policy));
  rewriter.setInsertionPoint(sparse);
  auto fused = BlockSparseAttentionOp::create(
      rewriter, sparse.getLoc(), sparse.getQuery(), sparse.getKey(),
      sparse.getValue(), shared, sparse.getOffset(), sparse.getKeyLength(),
      parents, sparse.getConfig(), sparse.getScaleAttr(),
      sparse.getSoftcapAttr(), sparse.getLayoutAttr());
  rewriter.replaceOp(sparse, fused);
  rewriter.eraseOp(select);
  return success();
}

LogicalResult mlir::hybrid::chunkMoEByTree(RewriterBase &rewriter,
                                           ChunkMoEOp moe, Value parents) {
  std::optional<int64_t> nodes = staticNodes(parents);
  int64_t tokens = cast<ShapedType>(moe.getInput().getType()).getDimSize(0);
  if (!nodes || tokens != *nodes || moe.getChunk() == *nodes)
    return failure();
  rewriter.modifyOpInPlace(moe, [&] { moe.setChunk(*nodes); });
  return success();
}

LogicalResult mlir::hybrid::recurOverTree(RewriterBase &rewriter,
                                          LinearRecurrenceOp rec,
                                          TreeVerifyOp verify,
                                          DominanceInfo &dominance) {
  Value parents = verify.getParents();
  std::optional<int64_t> nodes = staticNodes(parents);
  int64_t tokens = cast<ShapedType>(rec.getQuery().getType()).getDimSize(2);
  if (rec.getParents() || !nodes || tokens != *nodes ||
      !dominance.properlyDominates(parents, rec) ||
      !dominance.properlyDominates(rec.getOperation(), verify.getOperation()))
    return failure();
  // The committed state is only read after the verification.
  for (Operation *user : rec.getFinalState().getUsers())
    if (!dominance.properlyDominates(verify.getOperation(), user))
      return failure();

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(rec);
  auto perNode = LinearRecurrenceOp::create(
      rewriter, rec.getLoc(), rec.getQuery(), rec.getKey(), rec.getValue(),
      rec.getDecay(), rec.getBeta(), rec.getInitialState(), parents,
      rec.getUpdateRuleAttr(), rec.getScaleAttr(), rec.getDecaySlopesAttr(),
      rec.getChunkSizeAttr());
  rewriter.setInsertionPointAfter(verify);
  Value zero = arith::ConstantIndexOp::create(rewriter, rec.getLoc(), 0);
  auto commit = KVCompactOp::create(
      rewriter, rec.getLoc(), verify.getPath(), verify.getLength(), zero,
      ValueRange{}, ValueRange{perNode.getFinalState()},
      /*kept_states=*/ValueRange{});
  rewriter.replaceAllUsesWith(rec.getOutput(), perNode.getOutput());
  rewriter.replaceAllUsesWith(rec.getFinalState(), commit.getResult(0));
  rewriter.eraseOp(rec);
  return success();
}

namespace {
struct HybridFuseSparseSpeculation
    : hybrid::impl::HybridFuseSparseSpeculationBase<
          HybridFuseSparseSpeculation> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<TreePolicy> treePolicy = symbolizeTreePolicy(policy);
    if (!treePolicy) {
      getOperation().emitError() << "policy must be union or root, not '"
                                 << policy << "'";
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    DominanceInfo dominance(getOperation());
    SmallVector<TreeVerifyOp> verifies;
    getOperation().walk([&](TreeVerifyOp v) { verifies.push_back(v); });
    for (TreeVerifyOp verify : verifies) {
      Operation *scope = verify->getParentRegion()->getParentOp();
      Value parents = verify.getParents();
      SmallVector<BlockSparseAttentionOp> sparse;
      SmallVector<ChunkMoEOp> moes;
      SmallVector<LinearRecurrenceOp> recs;
      scope->walk([&](Operation *op) {
        if (auto s = dyn_cast<BlockSparseAttentionOp>(op);
            s && s.getParents() == parents)
          sparse.push_back(s);
        else if (auto m = dyn_cast<ChunkMoEOp>(op))
          moes.push_back(m);
        else if (auto r = dyn_cast<LinearRecurrenceOp>(op))
          recs.push_back(r);
      });
      auto remark = [&](Location loc, const Twine &what) {
        if (report)
          emitRemark(loc) << what;
      };
      for (BlockSparseAttentionOp s : sparse) {
        Location loc = s.getLoc();
        if (succeeded(shareTreeSelection(rewriter, s, *treePolicy)))
          remark(loc, "the tree's nodes share one block selection (" +
                          policy + " of their selections)");
      }
      for (ChunkMoEOp m : moes) {
        Location loc = m.getLoc();
        if (succeeded(chunkMoEByTree(rewriter, m, parents)))
          remark(loc, "the tree's nodes form one MoE chunk: each active "
                      "expert is read once per tree");
      }
      for (LinearRecurrenceOp r : recs) {
        Location loc = r.getLoc();
        if (succeeded(recurOverTree(rewriter, r, verify, dominance)))
          remark(loc, "per-node recurrent states; the accepted node's state "
                      "is committed after verification (no replay)");
      }
    }
  }
};
} // namespace
