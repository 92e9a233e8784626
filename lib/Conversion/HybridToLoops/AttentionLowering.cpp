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

#include "hybrid/Conversion/Tiling/AttentionShape.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

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
    auto type = cast<RankedTensorType>(op.getType());
    AttentionShape s(kb, op.getQuery(), op.getKey(), op.getValue(),
                     op.getScale(), op.getKeyLength());
    Value out = s.allocOutput(kb, type);
    RuntimeChecks checks(kb, "hybrid.attention");
    s.checkDynamic(kb, checks);

    auto applyMask = s.userMask(kb, checks, op.getMask());

    DraftTreeRows tree(kb, checks, s, op.getParents());
    Value parents = tree.parents, treeRow0 = tree.firstRow,
          treeKey0 = tree.firstKey;
    Value offset = s.queryOffset(kb, checks, op.getOffset());

    kb.ifThen(checks.passed(), [&] {
      // Blocks of rows against shared K/V tiles; a draft tree's rows as
      // blocks too, its keys masked by the ancestor relation.
      TiledAttention tiled;
      static_cast<AttentionInputs &>(tiled) =
          s.inputs(out, offset, op.getSoftcap(), op.getCausal());
      tiled.mask = applyMask;
      tiled.groupPacked = op.getLayout() == GQALayout::GroupPacked;
      if (parents) {
        tiled.parents = parents;
        tiled.nodes = tree.nodes;
        tiled.treeRow0 = treeRow0;
        tiled.treeKey0 = treeKey0;
      }
      tiled.emit(kb, chooseInPlaceTiling(options.vectorWidth));
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
                     op.getScale(), op.getKeyLength());
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
    // kernel never reads outside the keys). Every index the tensor holds,
    // whatever its shape: a wrong shape is reported above, and must not
    // make this loop read past the tensor.
    Value flat = memref::CollapseShapeOp::create(
        kb.b, kb.loc, blocks,
        ArrayRef<ReassociationIndices>{ReassociationIndices{0, 1, 2, 3}});
    Value total = kb.dim(flat, 0);
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
    Value offset = s.queryOffset(kb, checks, op.getOffset());
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
      MatmulTiling tiling = chooseInPlaceTiling(options.vectorWidth);
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

//===----------------------------------------------------------------------===//
// hybrid.attention_scores
//===----------------------------------------------------------------------===//

/// One query row per iteration: the row's logits in f32 scratch (dot
/// products; an inspection output, not a hot path), then the stage.
struct AttentionScoresLowering : KernelPattern<AttentionScoresOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(AttentionScoresOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    using P = arith::CmpIPredicate;
    using F = arith::CmpFPredicate;
    auto type = cast<RankedTensorType>(op.getType());
    AttentionShape s(kb, op.getQuery(), op.getKey(), Value(), op.getScale());
    Value out = kb.alloc(type, {s.batch, s.qHeads, s.qLen, s.kvLen});
    RuntimeChecks checks(kb, "hybrid.attention_scores");
    s.checkDynamic(kb, checks);
    auto applyMask = s.userMask(kb, checks, op.getMask());
    Value offset = s.queryOffset(kb, checks, op.getOffset());
    ScoreStage stage = op.getStage();
    std::optional<APFloat> softcap = op.getSoftcap();

    kb.ifThen(checks.passed(), [&] {
      kb.parallel({s.batch, s.qHeads, s.qLen}, [&](ValueRange ivs) {
        Value b = ivs[0], h = ivs[1], i = ivs[2];
        Value kvHead = kb.divui(h, s.group);
        Value row = kb.scratch(kb.maxsi(s.kvLen, kb.index(1)),
                               kb.b.getF32Type());
        Value pos = kb.addi(offset, i);
        Value max = kb.loop(
            kb.index(0), s.kvLen, kb.index(1), {kb.negInf()},
            [&](Value j, ValueRange it) -> SmallVector<Value> {
              Value x = kb.mulf(kb.dot(s.q, {b, h, i, kb.index(0)}, s.k,
                                       {b, kvHead, j, kb.index(0)},
                                       s.headDim),
                                s.scale);
              if (softcap) {
                Value c = kb.f32(softcap->convertToFloat());
                x = kb.mulf(c, math::TanhOp::create(kb.b, kb.loc,
                                                   kb.divf(x, c)));
              }
              if (stage != ScoreStage::Logits) {
                if (applyMask)
                  x = applyMask(x, b, h, i, j);
                if (op.getCausal())
                  x = kb.select(kb.cmpi(P::sle, j, pos), x, kb.negInf());
              }
              kb.store(x, row, {j});
              return {kb.maxf(it[0], x)};
            })[0];
        if (stage == ScoreStage::Probabilities) {
          // exp(x - max) / sum; a row that sees no key gives 0.
          Value seen = kb.cmpf(F::OGT, max, kb.negInf());
          Value m = kb.select(seen, max, kb.f32(0.0));
          Value sum = kb.loop(
              kb.index(0), s.kvLen, kb.index(1), {kb.f32(0.0)},
              [&](Value j, ValueRange it) -> SmallVector<Value> {
                Value e = kb.exp(kb.subf(kb.load(row, {j}), m));
                kb.store(e, row, {j});
                return {kb.addf(it[0], e)};
              })[0];
          Value inv = kb.select(kb.cmpf(F::OGT, sum, kb.f32(0.0)),
                                kb.divf(kb.f32(1.0), sum), kb.f32(0.0));
          kb.scaleCopy(out, {b, h, i, kb.index(0)}, inv, row, {kb.index(0)},
                       s.kvLen);
          return;
        }
        kb.scaleCopy(out, {b, h, i, kb.index(0)}, kb.f32(1.0), row,
                     {kb.index(0)}, s.kvLen);
      });
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

} // namespace

void mlir::hybrid::populateAttentionLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<AttentionLowering, AttentionScoresLowering,
               BlockSparseAttentionLowering>(
      patterns.getContext(), options);
  populateBlockSelectLoweringPatterns(patterns, options);
}
