//===- AttentionLowering.cpp - Kernels of the attention ops ---------------===//
//
// One query row per parallel iteration (batch x query head x row), with an
// online softmax over key tiles: no score matrix is materialised, and the
// cost is proportional to the keys a row actually attends. Dense attention
// visits the causal range; block-sparse attention visits the selected
// blocks plus the local window; a draft-tree node visits the prefix and
// then walks its ancestor chain.
//
//===----------------------------------------------------------------------===//

#include "AttentionShape.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// Keys per tile of the row-at-a-time kernels (draft-tree rows of
/// block-sparse attention).
constexpr int64_t kKeyTile = 64;

/// Online softmax of one query row: acc[Dv] = sum_j p_j v_j, with running
/// max m and normaliser l, all in stack scratch that LLVM promotes to
/// registers where it can.
class OnlineSoftmax {
public:
  OnlineSoftmax(KernelBuilder &kb, Value values, Value valueDim)
      : kb(kb), values(values), valueDim(valueDim) {
    acc = kb.scratch(valueDim, kb.b.getF32Type());
    state = kb.scratchF32(2);
    tileScores = kb.scratchF32(kKeyTile);
    kb.fill(acc, {kb.index(0)}, kb.f32(0.0), valueDim);
    kb.store(kb.negInf(), state, {kb.index(0)});
    kb.store(kb.f32(0.0), state, {kb.index(1)});
  }

  /// Attends keys [begin, end): `score(j)` is the final logit of key j
  /// (-inf when masked), `valueRow(j)` the index of its value row (last
  /// index 0).
  void keys(Value begin, Value end, function_ref<Value(Value)> score,
            function_ref<SmallVector<Value>(Value)> valueRow) {
    Value tile = kb.index(kKeyTile);
    kb.loop(begin, end, tile, [&](Value t0) {
      Value count = kb.minui(tile, kb.subi(end, t0));
      Value tileMax =
          kb.loop(kb.index(0), count, kb.index(1), {kb.negInf()},
                  [&](Value t, ValueRange iters) -> SmallVector<Value> {
                    Value s = score(kb.addi(t0, t));
                    kb.store(s, tileScores, {t});
                    return {kb.maxf(iters[0], s)};
                  })[0];
      kb.ifThen(kb.cmpf(arith::CmpFPredicate::OGT, tileMax, kb.negInf()), [&] {
        Value m = kb.load(state, {kb.index(0)});
        Value mNew = kb.maxf(m, tileMax);
        Value alpha = kb.exp(kb.subf(m, mNew));
        Value sum =
            kb.loop(kb.index(0), count, kb.index(1), {kb.f32(0.0)},
                    [&](Value t, ValueRange iters) -> SmallVector<Value> {
                      Value p = kb.exp(kb.subf(kb.load(tileScores, {t}), mNew));
                      kb.store(p, tileScores, {t});
                      return {kb.addf(iters[0], p)};
                    })[0];
        kb.scaleCopy(acc, {kb.index(0)}, alpha, acc, {kb.index(0)}, valueDim);
        kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
          Value p = kb.load(tileScores, {t});
          kb.ifThen(kb.cmpf(arith::CmpFPredicate::OGT, p, kb.f32(0.0)), [&] {
            kb.scaleAdd(acc, {kb.index(0)}, kb.f32(1.0), p, values,
                        valueRow(kb.addi(t0, t)), valueDim);
          });
        });
        update(mNew, alpha, sum);
      });
    });
  }

  /// Attends one key with logit `s` and value row `valueRowIdx`.
  void key(Value s, ValueRange valueRowIdx) {
    kb.ifThen(kb.cmpf(arith::CmpFPredicate::OGT, s, kb.negInf()), [&] {
      Value m = kb.load(state, {kb.index(0)});
      Value mNew = kb.maxf(m, s);
      Value alpha = kb.exp(kb.subf(m, mNew));
      Value p = kb.exp(kb.subf(s, mNew));
      kb.scaleAdd(acc, {kb.index(0)}, alpha, p, values, valueRowIdx, valueDim);
      update(mNew, alpha, p);
    });
  }

  /// out[outIdx + d] = acc[d] / l, or 0 for a row that attended nothing.
  void finish(Value out, ValueRange outIdx) {
    Value l = kb.load(state, {kb.index(1)});
    Value inv = kb.select(kb.cmpf(arith::CmpFPredicate::OGT, l, kb.f32(0.0)),
                          kb.divf(kb.f32(1.0), l), kb.f32(0.0));
    kb.scaleCopy(out, outIdx, inv, acc, {kb.index(0)}, valueDim);
  }

private:
  void update(Value mNew, Value alpha, Value added) {
    Value l = kb.load(state, {kb.index(1)});
    kb.store(kb.addf(kb.mulf(l, alpha), added), state, {kb.index(1)});
    kb.store(mNew, state, {kb.index(0)});
  }

  KernelBuilder &kb;
  Value values, valueDim;
  Value acc, state, tileScores;
};

/// The logit of (query row, key j): scaled dot product, then softcap.
Value logit(KernelBuilder &kb, const AttentionShape &s, ValueRange qRow,
            Value kvHead, Value bIdx, Value j,
            std::optional<APFloat> softcap) {
  Value dot = kb.dot(s.q, qRow, s.k, {bIdx, kvHead, j, kb.index(0)},
                     s.headDim);
  Value x = kb.mulf(dot, s.scale);
  if (softcap) {
    Value c = kb.f32(softcap->convertToFloat());
    x = kb.mulf(c, math::TanhOp::create(kb.b, kb.loc, kb.divf(x, c)));
  }
  return x;
}

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
    Value parents = tree.parents, treeRow0 = tree.firstRow,
          treeKey0 = tree.firstKey;
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
      if (!parents) {
        // The G query heads of a KV group share the row's selection: they
        // are the rows of one block, so each selected K/V tile is read
        // once per group.
        AttentionInputs in =
            s.inputs(out, offset, op.getSoftcap(), /*causal=*/true);
        MatmulTiling tiling = chooseMatmulTiling(options.vectorWidth);
        kb.parallel({s.batch, s.kvHeads, s.qLen}, [&](ValueRange ivs) {
          Value b = ivs[0], kvHead = ivs[1], i = ivs[2];
          AttentionRowBlock block(
              kb, tiling, in, b, kvHead, s.group,
              [&, kvHead](Value r) { return kb.addi(kb.muli(kvHead, s.group), r); },
              [i](Value) { return i; });
          Value pos = kb.addi(offset, i);
          block.limitKeys([&](Value) { return pos; });
          forEachKeyRange(b, kvHead, i, pos, causalEnd(pos, s.kvLen),
                          [&](Value j0, Value j1) { block.keys(j0, j1); });
          block.finish();
        });
        return;
      }
      // Draft trees: one row at a time, the ancestors walked per row.
      kb.parallel({s.batch, s.qHeads, s.qLen}, [&](ValueRange ivs) {
        Value b = ivs[0], h = ivs[1], i = ivs[2];
        Value kvHead = kb.divui(h, s.group);
        SmallVector<Value> qRow = {b, h, i, kb.index(0)};
        auto score = [&](Value j) {
          return logit(kb, s, qRow, kvHead, b, j, op.getSoftcap());
        };
        auto valueRow = [&](Value j) -> SmallVector<Value> {
          return {b, kvHead, j, kb.index(0)};
        };
        OnlineSoftmax softmax(kb, s.v, s.valueDim);
        // Tree nodes attend the prefix as the root does (the root is the
        // first tree key), then their ancestors.
        Value isNode = kb.cmpi(P::uge, i, treeRow0);
        Value pos = kb.select(isNode, treeKey0, kb.addi(offset, i));
        Value end = causalEnd(
            pos, kb.select(isNode, treeKey0, kb.minui(s.kvLen, treeKey0)));
        forEachKeyRange(b, kvHead, i, pos, end, [&](Value j0, Value j1) {
          softmax.keys(j0, j1, score, valueRow);
        });
        kb.ifThen(isNode, [&] {
          forEachAncestor(kb, parents, kb.subi(i, treeRow0), [&](Value a) {
            Value j = kb.addi(treeKey0, a);
            softmax.key(score(j), valueRow(j));
          });
        });
        softmax.finish(out, {b, h, i, kb.index(0)});
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
