//===- AttentionLowering.cpp - Kernels of the attention ops ---------------===//
//
// The op-level side of attention: operands, run-time checks, the user mask
// and which keys each block of rows visits. The work is the tiled stage's
// (TiledAttention.h): blocks of query rows that share a KV head, an online
// softmax over key tiles, no score matrix materialised, cost proportional
// to the keys attended. Dense attention visits the causal range;
// block-sparse attention visits the selected blocks plus the local window
// (a KV group's G heads at one row per block); a draft-tree node visits the
// prefix and then the tree's keys masked by its ancestors.
//
//===----------------------------------------------------------------------===//

#include "AttentionShape.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

//===----------------------------------------------------------------------===//
// hybrid.attention
//===----------------------------------------------------------------------===//

struct AttentionLowering : KernelPattern<AttentionOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    using P = arith::CmpIPredicate;
    auto type = cast<RankedTensorType>(op.getType());
    AttentionShape s(kb, op.getQuery(), op.getKey(), op.getValue(),
                     op.getScale());
    Value out = s.allocOutput(kb, type);
    RuntimeChecks checks(kb, "hybrid.attention");
    s.checkDynamic(kb, checks);

    // The mask broadcasts right-aligned to [B, Hq, Sq, Skv].
    Value mask = op.getMask() ? kb.buffer(op.getMask()) : Value();
    int64_t maskRank = mask ? cast<MemRefType>(mask.getType()).getRank() : 0;
    bool boolMask =
        mask && cast<MemRefType>(mask.getType()).getElementType().isInteger(1);
    if (mask) {
      Value target[4] = {s.batch, s.qHeads, s.qLen, s.kvLen};
      for (int64_t d = 0; d < maskRank; ++d) {
        Value size = kb.dim(mask, d), t = target[4 - maskRank + d];
        Value cond = kb.andi(kb.cmpi(P::ne, size, kb.index(1)),
                             kb.cmpi(P::ne, size, t));
        checks.check(cond, "the mask does not broadcast to [batch, heads, "
                           "query, key]");
      }
    }

    DraftTreeRows tree(kb, checks, s, op.getParents());
    Value parents = tree.parents, treeRow0 = tree.firstRow,
          treeKey0 = tree.firstKey;
    Value offset = s.queryOffset(kb, op.getOffset());

    // The user mask applied to the logit x of (b, h, i, j).
    auto applyMask = [&](Value x, Value b, Value h, Value i, Value j) -> Value {
      Value coords[4] = {b, h, i, j};
      SmallVector<Value> idx;
      for (int64_t d = 0; d < maskRank; ++d) {
        Value size = kb.dim(mask, d);
        idx.push_back(kb.select(kb.cmpi(P::eq, size, kb.index(1)),
                                kb.index(0), coords[4 - maskRank + d]));
      }
      Value m = memref::LoadOp::create(kb.b, kb.loc, mask, idx);
      if (boolMask)
        return kb.select(m, x, kb.negInf());
      if (!m.getType().isF32())
        m = arith::ExtFOp::create(kb.b, kb.loc, kb.b.getF32Type(), m);
      return kb.addf(x, m);
    };

    kb.ifThen(checks.passed(), [&] {
      // Blocks of rows against shared K/V tiles; a draft tree's rows as
      // blocks too, its keys masked by the ancestor relation.
      TiledAttention tiled;
      static_cast<AttentionInputs &>(tiled) =
          s.inputs(out, offset, op.getSoftcap(), op.getCausal());
      if (mask)
        tiled.mask = applyMask;
      tiled.groupPacked = op.getLayout() == GQALayout::GroupPacked;
      if (parents) {
        tiled.parents = parents;
        tiled.nodes = tree.nodes;
        tiled.treeRow0 = treeRow0;
        tiled.treeKey0 = treeKey0;
      }
      tiled.emit(kb, chooseMatmulTiling(options.vectorWidth));
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// hybrid.block_sparse_attention
//===----------------------------------------------------------------------===//

struct BlockSparseAttentionLowering : KernelPattern<BlockSparseAttentionOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(BlockSparseAttentionOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    using P = arith::CmpIPredicate;
    auto type = cast<RankedTensorType>(op.getType());
    SparseConfigAttr config = op.getConfig();
    AttentionShape s(kb, op.getQuery(), op.getKey(), op.getValue(),
                     op.getScale());
    Value out = s.allocOutput(kb, type);
    RuntimeChecks checks(kb, "hybrid.block_sparse_attention");
    s.checkDynamic(kb, checks);

    Value blocks = kb.buffer(op.getBlockIndices());
    Value slots = kb.dim(blocks, 3);
    Value shapeBad = kb.ori(
        kb.ori(kb.cmpi(P::ne, kb.dim(blocks, 0), s.batch),
               kb.cmpi(P::ne, kb.dim(blocks, 1), s.kvHeads)),
        kb.cmpi(P::ne, kb.dim(blocks, 2), s.qLen));
    checks.check(shapeBad,
                 "block_indices must be [batch, kv heads, query rows, slots]");

    Value blockSize = kb.index(config.getBlockSize());
    Value numBlocks = kb.ceilDiv(s.kvLen, blockSize);
    Value localBlocks = kb.index(config.getLocalBlocks());
    // Out-of-range indices are an error (checked up front, so that the
    // kernel never reads outside the keys).
    Value total = kb.muli(kb.muli(s.batch, s.kvHeads), kb.muli(s.qLen, slots));
    Value flat = memref::CollapseShapeOp::create(
        kb.b, kb.loc, blocks,
        ArrayRef<ReassociationIndices>{ReassociationIndices{0, 1, 2, 3}});
    Value outOfRange =
        kb.loop(kb.index(0), total, kb.index(1),
                {kb.boolean(false)},
                [&](Value n, ValueRange iters) -> SmallVector<Value> {
                  Value idx = kb.loadIndex(flat, {n});
                  Value badIdx = kb.ori(kb.cmpi(P::slt, idx, kb.index(-1)),
                                        kb.cmpi(P::sge, idx, numBlocks));
                  return {kb.ori(iters[0], badIdx)};
                })[0];
    checks.check(outOfRange,
                 "a block index is out of range [-1, ceil(Skv / block_size))");

    DraftTreeRows tree(kb, checks, s, op.getParents());
    Value parents = tree.parents, nodes = tree.nodes,
          treeRow0 = tree.firstRow, treeKey0 = tree.firstKey;
    Value offset = s.queryOffset(kb, op.getOffset());
    // InfLLM-V2's dense-sparse switch, on the run-time length.
    Value dense = kb.cmpi(P::slt, s.kvLen, kb.index(config.getDenseLen()));

    // Calls visit(j0, j1) for every key range row i of KV head kvHead
    // attends before `end`: everything below dense_len; otherwise each
    // selected block before the local window (once), then the window.
    auto forEachKeyRange = [&](Value b, Value kvHead, Value i, Value pos,
                               Value end, function_ref<void(Value, Value)> visit) {
      kb.ifThenElse(
          dense, {},
          [&]() -> SmallVector<Value> {
            visit(kb.index(0), end);
            return {};
          },
          [&]() -> SmallVector<Value> {
            Value queryBlock = kb.divui(kb.maxsi(pos, kb.index(0)), blockSize);
            Value windowStart = kb.select(
                kb.cmpi(P::ult, queryBlock, localBlocks), kb.index(0),
                kb.addi(kb.subi(queryBlock, localBlocks), kb.index(1)));
            kb.loop(kb.index(0), slots, kb.index(1), [&](Value slot) {
              Value blk = kb.loadIndex(blocks, {b, kvHead, i, slot});
              // A block listed twice is attended once.
              Value seen = kb.loop(
                  kb.index(0), slot, kb.index(1), {kb.boolean(false)},
                  [&](Value o, ValueRange iters) -> SmallVector<Value> {
                    Value other = kb.loadIndex(blocks, {b, kvHead, i, o});
                    return {kb.ori(iters[0], kb.cmpi(P::eq, other, blk))};
                  })[0];
              Value take = kb.andi(kb.andi(kb.cmpi(P::sge, blk, kb.index(0)),
                                           kb.cmpi(P::slt, blk, windowStart)),
                                   kb.notI(seen));
              kb.ifThen(take, [&] {
                Value j0 = kb.muli(blk, blockSize);
                visit(j0, kb.minui(kb.addi(j0, blockSize), end));
              });
            });
            visit(kb.minui(kb.muli(windowStart, blockSize), end), end);
            return {};
          });
    };
    auto causalEnd = [&](Value pos, Value bound) {
      return kb.minui(kb.select(kb.cmpi(P::slt, pos, kb.index(0)),
                                kb.index(0), kb.addi(pos, kb.index(1))),
                      bound);
    };

    kb.ifThen(checks.passed(), [&] {
      // The G query heads of a KV group share the row's selection: they are
      // the rows of one block, so each selected K/V tile is read once per
      // group. A draft tree's nodes attend the prefix as the root does (the
      // root is the first tree key), then their ancestors: the tree's key
      // tile masked by the ancestor relation.
      AttentionInputs in =
          s.inputs(out, offset, op.getSoftcap(), /*causal=*/true);
      MatmulTiling tiling = chooseMatmulTiling(options.vectorWidth);
      Value ancestors =
          parents ? buildAncestorBitmap(kb, parents, nodes) : Value();
      kb.parallel({s.batch, s.kvHeads, s.qLen}, [&](ValueRange ivs) {
        Value b = ivs[0], kvHead = ivs[1], i = ivs[2];
        AttentionRowBlock block(
            kb, tiling, in, b, kvHead, s.group,
            [&, kvHead](Value r) { return kb.addi(kb.muli(kvHead, s.group), r); },
            [i](Value) { return i; });
        Value isNode =
            parents ? kb.cmpi(P::uge, i, treeRow0) : kb.boolean(false);
        Value pos = kb.addi(offset, i);
        Value end = causalEnd(pos, s.kvLen);
        if (parents) {
          pos = kb.select(isNode, treeKey0, pos);
          end = causalEnd(
              pos, kb.select(isNode, treeKey0, kb.minui(s.kvLen, treeKey0)));
        }
        block.limitKeys([&](Value) { return kb.subi(end, kb.index(1)); });
        forEachKeyRange(b, kvHead, i, pos, end,
                        [&](Value j0, Value j1) { block.keys(j0, j1); });
        if (parents)
          kb.ifThen(isNode, [&] {
            Value node = kb.subi(i, treeRow0);
            block.keys(treeKey0, s.kvLen, [&](Value, Value j) {
              return kb.isFlagSet(
                  ancestors, kb.addi(kb.muli(node, nodes), kb.subi(j, treeKey0)));
            });
          });
        block.finish();
      });
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

} // namespace

void mlir::hybrid::populateAttentionLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<AttentionLowering, BlockSparseAttentionLowering>(
      patterns.getContext(), options);
  populateBlockSelectLoweringPatterns(patterns, options);
}
