//===- BlockSelectLowering.cpp - block_select and compress_keys kernels ---===//
//
// InfLLM-V2 block selection in three phases:
//  1. compressed keys: the mean of each kernel window, per KV head (or read
//     from a cache that hybrid.compress_keys keeps, a few rows per step);
//  2. per (batch, KV head, block of query rows): kernel scores as one
//     product on the tile kernels (S^T = compressed Q^T, the G heads x rows
//     along the lanes), a softmax down each column over the row's visible
//     kernels, summed over the GQA group; then per row max-pooled block
//     scores, forced and excluded blocks, and a top-k kept by insertion
//     (ties: lower block first), emitted in ascending block order;
//  3. with a draft tree, the node rows share one selection: the union of
//     the nodes' selections or the root's.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/AttentionShape.h"
#include "Lowerings.h"
#include "hybrid/Conversion/Tiling/TiledMatmul.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Conversion/Tiling/CompressedKeys.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"


#include <limits>

using namespace mlir;
using namespace mlir::hybrid;

namespace {

using P = arith::CmpIPredicate;

/// dest[b, h, r, :] = mean(key[b, h, (first + r) * stride + w, :], w <
/// kernel) for r < count: compressed keys of kernels [first, first + count).
void emitCompressedKeys(KernelBuilder &kb, SparseConfigAttr config, Value key,
                        Value dest, Value first, Value count) {
  Value batch = kb.dim(dest, 0), kvHeads = kb.dim(dest, 1);
  Value headDim = kb.dim(dest, 3);
  Value stride = kb.index(config.getKernelStride());
  Value invKernel = kb.f32(1.0 / config.getKernelSize());
  kb.parallel({batch, kvHeads, count}, [&](ValueRange ivs) {
    SmallVector<Value> row = {ivs[0], ivs[1], ivs[2], kb.index(0)};
    kb.fill(dest, row, kb.f32(0.0), headDim);
    Value start = kb.muli(kb.addi(first, ivs[2]), stride);
    kb.loop(kb.index(0), kb.index(config.getKernelSize()), kb.index(1),
            [&](Value w) {
              kb.scaleAdd(dest, row, kb.f32(1.0), invKernel, key,
                          {ivs[0], ivs[1], kb.addi(start, w), kb.index(0)},
                          headDim);
            });
  });
}

struct BlockSelectLowering : KernelPattern<BlockSelectOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(BlockSelectOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    auto type = cast<RankedTensorType>(op.getType());
    SparseConfigAttr config = op.getConfig();
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();

    AttentionShape s(kb, op.getQuery(), op.getKey(), /*value=*/Value(),
                     op.getScale(), op.getKeyLength());
    Value q = s.q, k = s.k, batch = s.batch, qLen = s.qLen,
          headDim = s.headDim, kvHeads = s.kvHeads, kvLen = s.kvLen,
          group = s.group, scale = s.scale;
    RuntimeChecks checks(kb, "hybrid.block_select");
    s.checkDynamic(kb, checks);

    int64_t topk = config.getTopk();
    Value kernel = kb.index(config.getKernelSize());
    Value stride = kb.index(config.getKernelStride());
    Value blockSize = kb.index(config.getBlockSize());
    Value poolStride = kb.index(config.getPoolStride());
    Value poolPad = kb.index(config.getPoolPadding());
    Value poolKernel = kb.index(config.getPoolKernel());
    Value localBlocks = kb.index(config.getLocalBlocks());
    Value initBlocks = kb.index(config.getInitBlocks());
    Value numKernels = kernelsIn(kb, config, kvLen);
    Value numBlocks = kb.ceilDiv(kvLen, blockSize);
    // Compressed keys given (a cache kept by hybrid.compress_keys): rows
    // [0, numKernels) of a buffer with `compressedRows` rows per head.
    Value given = op.getCompressed() ? kb.buffer(op.getCompressed()) : Value();
    Value compressedRows = given ? kb.dim(given, 2) : numKernels;
    if (given)
      checkCompressedKeys(kb, checks,
                          {kb.dim(given, 0), kb.dim(given, 1), compressedRows,
                           kb.dim(given, 3)},
                          batch, kvHeads, headDim, numKernels);

    DraftTreeRows tree(kb, checks, s, op.getParents());
    Value parents = tree.parents, nodes = tree.nodes,
          treeRow0 = tree.firstRow, treeKey0 = tree.firstKey;
    Value offset = s.queryOffset(kb, checks, op.getOffset());

    Value slots = type.isDynamicDim(3) ? kb.muli(kb.index(topk), nodes)
                                       : kb.index(type.getDimSize(3));
    Value out = kb.alloc(type, {batch, kvHeads, qLen, slots});
    // Each row's own selection; the tree phase reads it.
    Value own = parents ? kb.alloc({OpFoldResult(batch), OpFoldResult(kvHeads),
                                    OpFoldResult(qLen),
                                    rewriter.getIndexAttr(topk)},
                                   i32)
                        : Value();

    Value kIdx = kb.index(topk);
    kb.ifThen(checks.passed(), [&] {
      // Phase 1: compressed keys [B, Hkv, C, D], unless given.
      Value compressed = given;
      if (!given) {
        compressed = kb.alloc({OpFoldResult(batch), OpFoldResult(kvHeads),
                               OpFoldResult(numKernels), OpFoldResult(headDim)},
                              f32);
        emitCompressedKeys(kb, config, k, compressed, kb.index(0),
                           numKernels);
      }

      // Phase 2: kernel scores for a block of rows of one KV head as one
      // product on the tile kernels, S^T[kernels x (G heads x rows)] =
      // compressed Q^T, the softmax over each column's visible kernels
      // lane-wise, summed over the heads per row; then one selection per
      // (batch, KV head, row).
      MatmulTiling tiling = chooseInPlaceTiling(options.vectorWidth);
      Value lanes = kb.index(tiling.vectorWidth);
      Value compressedFlat = flattenBuffer(kb, compressed);
      std::optional<int64_t> staticHeadDim;
      if (int64_t d = cast<MemRefType>(q.getType()).getDimSize(3);
          !ShapedType::isDynamic(d))
        staticHeadDim = d;
      Value rowsPerBlock = kb.maxsi(
          kb.index(1),
          kb.minui(qLen, kb.divui(kb.index(kAttentionRowsPerBlock),
                                  kb.maxsi(group, kb.index(1)))));
      // The position a row selects for, and its visible kernels.
      auto posOf = [&](Value t) {
        Value isNode = parents ? kb.cmpi(P::uge, t, treeRow0)
                               : kb.boolean(false);
        return kb.select(isNode, treeKey0, kb.addi(offset, t));
      };
      auto visibleOf = [&](Value t) {
        Value pos = posOf(t);
        return kb.select(
            kb.cmpi(P::slt, kb.subi(pos, kb.subi(kernel, kb.index(1))),
                    kb.index(0)),
            kb.index(0),
            kb.minui(numKernels,
                     kb.addi(kb.divui(kb.addi(kb.subi(pos, kernel),
                                              kb.index(1)),
                                      stride),
                             kb.index(1))));
      };
      kb.parallel({batch, kvHeads, kb.ceilDiv(qLen, rowsPerBlock)},
                  [&](ValueRange ivs) {
        Value b = ivs[0], h = ivs[1], t0 = kb.muli(ivs[2], rowsPerBlock);
        Value rb = kb.minui(rowsPerBlock, kb.subi(qLen, t0));
        Value cols = kb.muli(group, rb);
        Value colsPad = kb.muli(kb.ceilDiv(cols, lanes), lanes);
        auto rowOf = [&](Value c) { return kb.addi(t0, kb.remui(c, rb)); };
        Value maxVisible = kb.loop(
            kb.index(0), rb, kb.index(1), {kb.index(0)},
            [&](Value r, ValueRange it) -> SmallVector<Value> {
              Value v = visibleOf(kb.addi(t0, r));
              return {kb.select(kb.cmpi(P::ugt, v, it[0]), v, it[0])};
            })[0];
        // Q^T with the scale, and each column's visible kernels.
        Value queriesT = kb.alloc(
            {OpFoldResult(kb.muli(headDim, colsPad))}, f32);
        Value limits = kb.alloc({OpFoldResult(colsPad)}, i32);
        kb.fill(queriesT, {kb.index(0)}, kb.f32(0.0),
                kb.muli(headDim, colsPad));
        kb.loop(kb.index(0), colsPad, kb.index(1), [&](Value c) {
          Value valid = kb.cmpi(P::ult, c, cols);
          Value limit = kb.select(valid, visibleOf(rowOf(c)), kb.index(0));
          memref::StoreOp::create(
              rewriter, kb.loc,
              arith::IndexCastOp::create(rewriter, kb.loc, i32, limit), limits,
              ValueRange{c});
          kb.ifThen(valid, [&] {
            Value qh = kb.addi(kb.muli(h, group), kb.divui(c, rb));
            kb.loop(kb.index(0), headDim, kb.index(1), [&](Value p) {
              kb.store(kb.mulf(kb.load(q, {b, qh, rowOf(c), p}), scale),
                       queriesT, {kb.addi(kb.muli(p, colsPad), c)});
            });
          });
        });
        Value scoresT = kb.alloc(
            {OpFoldResult(kb.maxsi(kb.muli(maxVisible, colsPad), kb.index(1)))},
            f32);
        kb.fill(scoresT, {kb.index(0)}, kb.f32(0.0),
                kb.muli(maxVisible, colsPad));
        Value keyRow0 = kb.muli(kb.addi(kb.muli(b, kvHeads), h),
                                kb.muli(compressedRows, headDim));
        emitInPlaceProduct(kb, tiling, scoresT, kb.index(0), colsPad,
                           TileALayout::RowMajor, compressedFlat, keyRow0,
                           headDim, staticHeadDim, queriesT, kb.index(0),
                           colsPad, maxVisible, colsPad, headDim);
        // Softmax down each column over its visible kernels.
        auto vecF32 = VectorType::get({tiling.vectorWidth}, f32);
        auto vecI32 = VectorType::get({tiling.vectorWidth}, i32);
        auto splat = [&](Value x, Type t) {
          return vector::BroadcastOp::create(rewriter, kb.loc, t, x).getResult();
        };
        Value negInf = splat(kb.negInf(), vecF32), zero = splat(kb.f32(0.0), vecF32);
        kb.loop(kb.index(0), colsPad, lanes, [&](Value c0) {
          Value limit = vector::LoadOp::create(rewriter, kb.loc, vecI32, limits,
                                               ValueRange{c0});
          auto seen = [&](Value c) {
            Value ci = arith::IndexCastOp::create(rewriter, kb.loc, i32, c);
            return arith::CmpIOp::create(rewriter, kb.loc, P::slt,
                                         splat(ci, vecI32), limit)
                .getResult();
          };
          auto at = [&](Value c) { return kb.addi(kb.muli(c, colsPad), c0); };
          Value mx = kb.loop(
              kb.index(0), maxVisible, kb.index(1), {negInf},
              [&](Value c, ValueRange it) -> SmallVector<Value> {
                Value x = vector::LoadOp::create(rewriter, kb.loc, vecF32,
                                                 scoresT, ValueRange{at(c)});
                return {kb.maxf(it[0], kb.select(seen(c), x, negInf))};
              })[0];
          Value mSafe = kb.select(kb.cmpf(arith::CmpFPredicate::OEQ, mx, negInf),
                                  zero, mx);
          Value sum = kb.loop(
              kb.index(0), maxVisible, kb.index(1), {zero},
              [&](Value c, ValueRange it) -> SmallVector<Value> {
                Value x = vector::LoadOp::create(rewriter, kb.loc, vecF32,
                                                 scoresT, ValueRange{at(c)});
                Value e = kb.select(
                    seen(c), math::ExpOp::create(rewriter, kb.loc, kb.subf(x, mSafe)),
                    zero);
                vector::StoreOp::create(rewriter, kb.loc, e, scoresT,
                                        ValueRange{at(c)});
                return {kb.addf(it[0], e)};
              })[0];
          Value inv = kb.select(
              kb.cmpf(arith::CmpFPredicate::OGT, sum, zero),
              kb.divf(splat(kb.f32(1.0), vecF32), sum), zero);
          kb.loop(kb.index(0), maxVisible, kb.index(1), [&](Value c) {
            Value x = vector::LoadOp::create(rewriter, kb.loc, vecF32, scoresT,
                                             ValueRange{at(c)});
            vector::StoreOp::create(rewriter, kb.loc, kb.mulf(x, inv), scoresT,
                                    ValueRange{at(c)});
          });
        });
        // Kernel scores per row: the group's heads summed.
        Value rowScores = kb.alloc(
            {OpFoldResult(kb.maxsi(kb.muli(rb, maxVisible), kb.index(1)))}, f32);
        kb.loop(kb.index(0), rb, kb.index(1), [&](Value r) {
          kb.loop(kb.index(0), maxVisible, kb.index(1), [&](Value c) {
            Value sum = kb.loop(
                kb.index(0), group, kb.index(1), {kb.f32(0.0)},
                [&](Value g, ValueRange it) -> SmallVector<Value> {
                  Value col = kb.addi(kb.muli(g, rb), r);
                  return {kb.addf(it[0], kb.load(scoresT,
                                                 {kb.addi(kb.muli(c, colsPad), col)}))};
                })[0];
            kb.store(sum, rowScores, {kb.addi(kb.muli(r, maxVisible), c)});
          });
        });

        kb.loop(kb.index(0), rb, kb.index(1), [&](Value r) {
          Value t = kb.addi(t0, r);
          Value pos = posOf(t);
          Value visible = visibleOf(t);
          Value scoreRow = kb.muli(r, maxVisible);
          // Block scores and the top-k, kept sorted by descending score.
          Value queryBlock = kb.divui(kb.maxsi(pos, kb.index(0)), blockSize);
          Value topScore = kb.scratchF32(topk);
          Value topIdx = kb.scratch(kb.index(topk), rewriter.getIndexType());
          Value count = kb.loop(
              kb.index(0), numBlocks, kb.index(1), {kb.index(0)},
              [&](Value blk, ValueRange it) -> SmallVector<Value> {
                Value future = kb.cmpi(P::ugt, blk, queryBlock);
                Value local = kb.cmpi(P::ugt, kb.addi(blk, localBlocks),
                                      queryBlock);
                Value excluded = kb.ori(future, local);
                Value forced = kb.cmpi(P::ult, blk, initBlocks);
                // Kernels c in [blk*ps - pad, blk*ps - pad + poolKernel).
                Value first = kb.subi(kb.muli(blk, poolStride), poolPad);
                Value lo = kb.select(kb.cmpi(P::slt, first, kb.index(0)),
                                     kb.index(0), first);
                Value hi = kb.minui(kb.maxsi(kb.addi(first, poolKernel),
                                             kb.index(0)),
                                    visible);
                Value pooled = kb.loop(
                    lo, hi, kb.index(1), {kb.negInf()},
                    [&](Value c, ValueRange acc) -> SmallVector<Value> {
                      return {kb.maxf(acc[0], kb.load(rowScores, {kb.addi(scoreRow, c)}))};
                    })[0];
                Value score = kb.select(
                    forced, kb.f32(std::numeric_limits<double>::infinity()),
                    pooled);
                Value candidate = kb.andi(
                    kb.notI(excluded),
                    kb.cmpf(arith::CmpFPredicate::OGT, score, kb.negInf()));
                Value held = it[0];
                // Insertion point: after every kept entry with a score >= this.
                Value at = kb.loop(
                    kb.index(0), held, kb.index(1), {kb.index(0)},
                    [&](Value e, ValueRange acc) -> SmallVector<Value> {
                      Value ge = kb.cmpf(arith::CmpFPredicate::OGE,
                                         kb.load(topScore, {e}), score);
                      return {kb.select(ge, kb.addi(e, kb.index(1)), acc[0])};
                    })[0];
                Value insert = kb.andi(candidate, kb.cmpi(P::ult, at, kIdx));
                kb.ifThen(insert, [&] {
                  // Shift [at, min(held, K - 1)) one place down.
                  Value last = kb.minui(held, kb.subi(kIdx, kb.index(1)));
                  kb.loop(kb.index(0), kb.subi(last, at), kb.index(1),
                          [&](Value s) {
                            Value to = kb.subi(last, s);
                            Value from = kb.subi(to, kb.index(1));
                            kb.store(kb.load(topScore, {from}), topScore, {to});
                            memref::StoreOp::create(
                                rewriter, kb.loc,
                                memref::LoadOp::create(rewriter, kb.loc, topIdx,
                                                       ValueRange{from}),
                                topIdx, ValueRange{to});
                          });
                  kb.store(score, topScore, {at});
                  memref::StoreOp::create(rewriter, kb.loc, blk, topIdx,
                                          ValueRange{at});
                });
                Value grown = kb.minui(kb.addi(held, kb.index(1)), kIdx);
                return {kb.select(insert, grown, held)};
              })[0];

          // Ascending block order (insertion sort of at most topk ids).
          kb.loop(kb.index(1), count, kb.index(1), [&](Value e) {
            kb.loop(kb.index(0), e, kb.index(1), [&](Value s) {
              Value x = kb.subi(e, s);
              Value y = kb.subi(x, kb.index(1));
              Value vx = memref::LoadOp::create(rewriter, kb.loc, topIdx,
                                                ValueRange{x});
              Value vy = memref::LoadOp::create(rewriter, kb.loc, topIdx,
                                                ValueRange{y});
              Value swap = kb.cmpi(P::ult, vx, vy);
              memref::StoreOp::create(rewriter, kb.loc, kb.select(swap, vy, vx),
                                      topIdx, ValueRange{x});
              memref::StoreOp::create(rewriter, kb.loc, kb.select(swap, vx, vy),
                                      topIdx, ValueRange{y});
            });
          });

          Value dest = parents ? own : out;
          Value width = parents ? kIdx : slots;
          kb.loop(kb.index(0), width, kb.index(1), [&](Value slot) {
            Value id = kb.select(kb.cmpi(P::ult, slot, count),
                                 memref::LoadOp::create(rewriter, kb.loc, topIdx,
                                                        ValueRange{slot}),
                                 kb.index(-1));
            kb.storeIndex(id, dest, {b, h, t, slot});
          });
        });
      });

      // Phase 3: the nodes of a draft tree share one selection.
      if (!parents)
        return;
      bool useRoot = op.getEffectiveTreePolicy() == TreePolicy::Root;
      kb.parallel({batch, kvHeads, qLen}, [&](ValueRange ivs) {
        Value b = ivs[0], h = ivs[1], t = ivs[2];
        Value isNode = kb.cmpi(P::uge, t, treeRow0);
        kb.ifThenElse(
            kb.ori(kb.notI(isNode), kb.boolean(useRoot)), {},
            [&]() -> SmallVector<Value> {
              Value from = kb.select(isNode, treeRow0, t);
              kb.loop(kb.index(0), slots, kb.index(1), [&](Value slot) {
                Value id = kb.select(
                    kb.cmpi(P::ult, slot, kIdx),
                    kb.loadIndex(own, {b, h, from,
                                       kb.minui(slot, kb.subi(kIdx,
                                                              kb.index(1)))}),
                    kb.index(-1));
                kb.storeIndex(id, out, {b, h, t, slot});
              });
              return {};
            },
            [&]() -> SmallVector<Value> {
              // Union: mark every block a node selected, then list them.
              Value marks = kb.flags(numBlocks);
              kb.loop(kb.index(0), nodes, kb.index(1), [&](Value node) {
                kb.loop(kb.index(0), kIdx, kb.index(1), [&](Value slot) {
                  Value id = kb.loadIndex(
                      own, {b, h, kb.addi(treeRow0, node), slot});
                  kb.ifThen(kb.cmpi(P::sge, id, kb.index(0)),
                            [&] { kb.setFlag(marks, id); });
                });
              });
              Value written = kb.loop(
                  kb.index(0), numBlocks, kb.index(1), {kb.index(0)},
                  [&](Value n, ValueRange it) -> SmallVector<Value> {
                    Value marked = kb.isFlagSet(marks, n);
                    Value fits = kb.andi(marked, kb.cmpi(P::ult, it[0], slots));
                    kb.ifThen(fits,
                              [&] { kb.storeIndex(n, out, {b, h, t, it[0]}); });
                    return {kb.select(fits, kb.addi(it[0], kb.index(1)),
                                      it[0])};
                  })[0];
              kb.loop(written, slots, kb.index(1), [&](Value slot) {
                kb.storeIndex(kb.index(-1), out, {b, h, t, slot});
              });
              return {};
            });
      });
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

/// The kernels whose window ends in (since, Skv] computed into new rows,
/// inserted into the cache tensor with one insert_slice (in place once
/// bufferized, like kv_compact's row moves). When the checks fail the
/// slice is empty, so nothing outside the cache is written.
struct CompressKeysLowering : KernelPattern<CompressKeysOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(CompressKeysOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    rewriter.replaceOp(op, buildCompressKeys(kb, op, emitCompressedKeys));
    return success();
  }
};

} // namespace

void mlir::hybrid::populateBlockSelectLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<BlockSelectLowering, CompressKeysLowering>(
      patterns.getContext(), options);
}
