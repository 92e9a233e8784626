//===- TiledAttention.cpp - Attention as tiles of two products ------------===//

#include "hybrid/Conversion/Tiling/TiledAttention.h"
#include "hybrid/Conversion/Tiling/TiledMatmul.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::hybrid;

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;

namespace {
/// Below this many rows in a block, scores are dot products: a register
/// tile would mostly compute padding.
constexpr int64_t kMinRowsForProduct = 4;
} // namespace

/// Walks node `node`'s ancestor chain in a draft tree (itself first),
/// calling `visit(a)` for each ancestor index a; parents[a] < a bounds it.
static void forEachAncestor(KernelBuilder &kb, Value parents, Value node,
                            function_ref<void(Value)> visit) {
  kb.loop(kb.index(0), kb.addi(node, kb.index(1)), kb.index(1), {node},
          [&](Value t, ValueRange iters) -> SmallVector<Value> {
            Value a = kb.subi(node, t);
            Value isAncestor = kb.cmpi(P::eq, a, iters[0]);
            kb.ifThen(isAncestor, [&] { visit(a); });
            Value next =
                kb.select(isAncestor, kb.loadIndex(parents, {a}), iters[0]);
            return {next};
          });
}

Value mlir::hybrid::buildAncestorBitmap(KernelBuilder &kb, Value parents,
                                       Value nodes) {
  Value cells = kb.muli(nodes, nodes);
  Value bitmap = kb.alloc({OpFoldResult(kb.maxsi(cells, kb.index(1)))},
                          kb.b.getI8Type());
  Value zero = arith::ConstantIntOp::create(kb.b, kb.loc, 0, 8);
  kb.loop(kb.index(0), cells, kb.index(1), [&](Value i) {
    memref::StoreOp::create(kb.b, kb.loc, zero, bitmap, ValueRange{i});
  });
  kb.loop(kb.index(0), nodes, kb.index(1), [&](Value n) {
    forEachAncestor(kb, parents, n, [&](Value a) {
      kb.setFlag(bitmap, kb.addi(kb.muli(n, nodes), a));
    });
  });
  return bitmap;
}

AttentionRowBlock::AttentionRowBlock(KernelBuilder &kb,
                                     const MatmulTiling &tiling,
                                     const AttentionInputs &in, Value b,
                                     Value kvHead, Value rows,
                                     std::function<Value(Value)> headOf,
                                     std::function<Value(Value)> rowOf)
    : kb(kb), tiling(tiling), in(in), b(b), kvHead(kvHead), rows(rows),
      headOf(std::move(headOf)), rowOf(std::move(rowOf)) {
  module = kb.b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  Type f32 = kb.b.getF32Type();
  Value lanes = kb.index(tiling.vectorWidth), cols = kb.index(tiling.cols);
  Value tile = kb.index(kAttentionKeyTile);
  rowsPadded = kb.muli(kb.ceilDiv(rows, lanes), lanes);
  valuePadded = kb.muli(kb.ceilDiv(in.valueDim, cols), cols);
  bool kF32 = cast<MemRefType>(in.k.getType()).getElementType().isF32();
  bool vF32 = cast<MemRefType>(in.v.getType()).getElementType().isF32();
  valuesInPlace = vF32 ? kb.cmpi(P::eq, valuePadded, in.valueDim)
                       : kb.boolean(false);
  kFlat = kF32 ? flattenBuffer(kb, in.k) : Value();
  vFlat = vF32 ? flattenBuffer(kb, in.v) : Value();

  queriesT = kb.scratch(kb.muli(in.headDim, rowsPadded), f32);
  scoresT = kb.scratch(kb.muli(tile, rowsPadded), f32);
  acc = kb.scratch(kb.muli(rows, valuePadded), f32);
  maxes = kb.scratch(rowsPadded, f32);
  sums = kb.scratch(rowsPadded, f32);
  alphas = kb.scratch(rowsPadded, f32);
  limits = kb.scratch(rowsPadded, kb.b.getI32Type());
  if (!kF32)
    keysPacked = kb.scratch(kb.muli(tile, in.headDim), f32);
  valuesPacked = kb.scratch(
      kb.select(valuesInPlace, kb.index(1), kb.muli(tile, valuePadded)), f32);

  // Q^T with the scale folded in; padding columns are zero. S^T starts
  // zero so that the padding columns of the dot-product path stay finite.
  kb.loop(kb.index(0), in.headDim, kb.index(1), [&](Value p) {
    kb.fill(queriesT, {kb.muli(p, rowsPadded)}, kb.f32(0.0), rowsPadded);
  });
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
    Value head = this->headOf(c), i = this->rowOf(c);
    kb.loop(kb.index(0), in.headDim, kb.index(1), [&](Value p) {
      Value x = kb.load(in.q, {b, head, i, p});
      kb.store(kb.mulf(x, in.scale), queriesT,
               {kb.addi(kb.muli(p, rowsPadded), c)});
    });
  });
  kb.fill(scoresT, {kb.index(0)}, kb.f32(0.0), kb.muli(tile, rowsPadded));
  kb.fill(acc, {kb.index(0)}, kb.f32(0.0), kb.muli(rows, valuePadded));
  kb.fill(maxes, {kb.index(0)}, kb.negInf(), rowsPadded);
  kb.fill(sums, {kb.index(0)}, kb.f32(0.0), rowsPadded);
}

Value AttentionRowBlock::vload(Value buffer, Value at, Type elementType) {
  auto type = VectorType::get({tiling.vectorWidth}, elementType);
  return vector::LoadOp::create(kb.b, kb.loc, type, buffer, ValueRange{at});
}

Value AttentionRowBlock::splat(Value scalar) {
  auto type = VectorType::get({tiling.vectorWidth}, scalar.getType());
  return vector::BroadcastOp::create(kb.b, kb.loc, type, scalar);
}

void AttentionRowBlock::limitKeys(function_ref<Value(Value)> lastKey) {
  // Clamped to [-1, Skv] so that they fit i32 and compare exactly.
  Type i32 = kb.b.getI32Type();
  Value minusOne = kb.index(-1);
  auto clamp = [&](Value v) {
    Value low = kb.select(kb.cmpi(P::slt, v, minusOne), minusOne, v);
    return kb.select(kb.cmpi(P::sgt, low, in.kvLen), in.kvLen, low);
  };
  minLimit = kb.loop(
      kb.index(0), rowsPadded, kb.index(1), {in.kvLen},
      [&](Value c, ValueRange it) -> SmallVector<Value> {
        Value valid = kb.cmpi(P::ult, c, rows);
        Value limit = kb.select(
            valid, clamp(lastKey(kb.minui(c, kb.subi(rows, kb.index(1))))),
            minusOne);
        memref::StoreOp::create(
            kb.b, kb.loc, arith::IndexCastOp::create(kb.b, kb.loc, i32, limit),
            limits, ValueRange{c});
        Value smaller = kb.andi(valid, kb.cmpi(P::slt, limit, it[0]));
        return {kb.select(smaller, limit, it[0])};
      })[0];
}

void AttentionRowBlock::scores(Value j0, Value count) {
  Value headDim = in.headDim;
  Value keyRow0 = kb.muli(kb.addi(kb.muli(kb.addi(kb.muli(b, in.kvHeads),
                                                  kvHead),
                                          in.kvRows),
                                  j0),
                          headDim);
  kb.ifThenElse(
      kb.cmpi(P::ult, rows, kb.index(kMinRowsForProduct)), {},
      [&]() -> SmallVector<Value> {
        kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
          kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
            Value s = kb.dot(in.q, {b, headOf(c), rowOf(c), kb.index(0)},
                             in.k, {b, kvHead, kb.addi(j0, t), kb.index(0)},
                             headDim);
            kb.store(kb.mulf(s, in.scale), scoresT,
                     {kb.addi(kb.muli(t, rowsPadded), c)});
          });
        });
        return {};
      },
      [&]() -> SmallVector<Value> {
        // K rows are A, read in place (or converted to f32 first).
        Value a = kFlat, aOff = keyRow0;
        if (!kFlat) {
          kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
            kb.scaleCopy(keysPacked, {kb.muli(t, headDim)}, kb.f32(1.0),
                         in.k, {b, kvHead, kb.addi(j0, t), kb.index(0)},
                         headDim);
          });
          a = keysPacked;
          aOff = kb.index(0);
        }
        kb.fill(scoresT, {kb.index(0)}, kb.f32(0.0),
                kb.muli(count, rowsPadded));
        // K rows are D apart: a static D folds into the tile's addresses.
        std::optional<int64_t> staticHeadDim;
        int64_t d = cast<MemRefType>(in.q.getType()).getDimSize(3);
        if (!ShapedType::isDynamic(d))
          staticHeadDim = d;
        emitInPlaceProduct(kb, tiling, scoresT, kb.index(0), rowsPadded,
                           TileALayout::RowMajor, a, aOff, headDim,
                           staticHeadDim, queriesT, kb.index(0), rowsPadded,
                           count, rowsPadded, headDim);
        return {};
      });
}

void AttentionRowBlock::logits(
    Value j0, Value count, const std::function<Value(Value, Value)> &visible) {
  Type f32 = kb.b.getF32Type();
  Value lanes = kb.index(tiling.vectorWidth);
  if (in.softcap) {
    Value cap = splat(kb.f32(in.softcap->convertToFloat()));
    kb.loop(kb.index(0), kb.muli(count, rowsPadded), lanes, [&](Value at) {
      Value x = vload(scoresT, at, f32);
      x = kb.mulf(cap, math::TanhOp::create(kb.b, kb.loc, kb.divf(x, cap)));
      vector::StoreOp::create(kb.b, kb.loc, x, scoresT, ValueRange{at});
    });
  }
  if (!in.mask && !visible)
    return;
  kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
    Value j = kb.addi(j0, t);
    kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
      Value at = kb.addi(kb.muli(t, rowsPadded), c);
      Value x = kb.load(scoresT, {at});
      if (in.mask)
        x = in.mask(x, b, headOf(c), rowOf(c), j);
      if (visible)
        x = kb.select(visible(c, j), x, kb.negInf());
      kb.store(x, scoresT, {at});
    });
  });
}

void AttentionRowBlock::softmax(Value j0, Value count, bool applyLimits) {
  Type f32 = kb.b.getF32Type();
  Value lanes = kb.index(tiling.vectorWidth);
  Value negInf = splat(kb.negInf()), zero = splat(kb.f32(0.0));
  // The limits cut only the tiles whose last key passes the lowest one.
  Value masked = kb.boolean(false);
  if (applyLimits && minLimit)
    masked = kb.cmpi(P::sgt, kb.addi(j0, kb.subi(count, kb.index(1))),
                     minLimit);
  kb.loop(kb.index(0), rowsPadded, lanes, [&](Value c0) {
    Value limit = applyLimits && minLimit
                      ? vload(limits, c0, kb.b.getI32Type())
                      : Value();
    Value tileMax = kb.loop(
        kb.index(0), count, kb.index(1), {negInf},
        [&](Value t, ValueRange it) -> SmallVector<Value> {
          Value at = kb.addi(kb.muli(t, rowsPadded), c0);
          Value x = vload(scoresT, at, f32);
          if (limit) {
            x = kb.ifThenElse(
                masked, {x.getType()},
                [&]() -> SmallVector<Value> {
                  Value j = arith::IndexCastOp::create(
                      kb.b, kb.loc, kb.b.getI32Type(), kb.addi(j0, t));
                  Value seen = arith::CmpIOp::create(kb.b, kb.loc, P::sle,
                                                     splat(j), limit);
                  Value y = kb.select(seen, x, negInf);
                  vector::StoreOp::create(kb.b, kb.loc, y, scoresT,
                                          ValueRange{at});
                  return {y};
                },
                [&]() -> SmallVector<Value> { return {x}; })[0];
          }
          return {kb.maxf(it[0], x)};
        })[0];
    Value mOld = vload(maxes, c0, f32);
    Value mNew = kb.maxf(mOld, tileMax);
    // Rows that have seen no key yet keep m = -inf: exponents relative to
    // 0 then give p = 0 rather than NaN.
    Value mSafe = kb.select(kb.cmpf(F::OEQ, mNew, negInf), zero, mNew);
    Value alpha = math::ExpOp::create(kb.b, kb.loc, kb.subf(mOld, mSafe));
    Value sum = kb.loop(
        kb.index(0), count, kb.index(1), {zero},
        [&](Value t, ValueRange it) -> SmallVector<Value> {
          Value at = kb.addi(kb.muli(t, rowsPadded), c0);
          Value p = math::ExpOp::create(
              kb.b, kb.loc, kb.subf(vload(scoresT, at, f32), mSafe));
          vector::StoreOp::create(kb.b, kb.loc, p, scoresT, ValueRange{at});
          return {kb.addf(it[0], p)};
        })[0];
    Value l = kb.addf(kb.mulf(vload(sums, c0, f32), alpha), sum);
    vector::StoreOp::create(kb.b, kb.loc, l, sums, ValueRange{c0});
    vector::StoreOp::create(kb.b, kb.loc, mNew, maxes, ValueRange{c0});
    vector::StoreOp::create(kb.b, kb.loc, alpha, alphas, ValueRange{c0});
  });
  // Rows whose maximum grew rescale what they accumulated.
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
    Value alpha = kb.load(alphas, {c});
    kb.ifThen(kb.cmpf(F::UNE, alpha, kb.f32(1.0)), [&] {
      Value at = kb.muli(c, valuePadded);
      kb.scaleCopy(acc, {at}, alpha, acc, {at}, in.valueDim);
    });
  });
}

void AttentionRowBlock::values(Value j0, Value count) {
  Value cols = kb.index(tiling.cols);
  Type flat = MemRefType::get({ShapedType::kDynamic}, kb.b.getF32Type());
  Type index = kb.b.getIndexType();
  auto packed = [&]() -> SmallVector<Value> {
    kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
      Value to = kb.muli(t, valuePadded);
      kb.scaleCopy(valuesPacked, {to}, kb.f32(1.0), in.v,
                   {b, kvHead, kb.addi(j0, t), kb.index(0)}, in.valueDim);
      kb.fill(valuesPacked, {kb.addi(to, in.valueDim)}, kb.f32(0.0),
              kb.subi(valuePadded, in.valueDim));
    });
    return {valuesPacked, kb.index(0), valuePadded};
  };
  SmallVector<Value> source;
  if (!vFlat) {
    source = packed();
  } else {
    source = kb.ifThenElse(
        valuesInPlace, {flat, index, index},
        [&]() -> SmallVector<Value> {
          Value row = kb.addi(
              kb.muli(kb.addi(kb.muli(b, in.kvHeads), kvHead), in.kvRows), j0);
          return {vFlat, kb.muli(row, in.valueDim), in.valueDim};
        },
        packed);
  }
  forEachRowTile(kb, tiling.rowTiles, rows, [&](Value r, int64_t tileRows) {
    func::FuncOp kernel =
        getOrDeclareMatmulTileKernel(module, tileRows, tiling.cols);
    kb.loop(kb.index(0), valuePadded, cols, [&](Value c0) {
      func::CallOp::create(
          kb.b, kb.loc, kernel,
          ValueRange{count, scoresT, r, rowsPadded, source[0],
                     kb.addi(source[1], c0), source[2], acc,
                     kb.addi(kb.muli(r, valuePadded), c0), valuePadded});
    });
  });
}

void AttentionRowBlock::keys(Value begin, Value end,
                             std::function<Value(Value, Value)> visible) {
  bool applyLimits = !visible;
  if (applyLimits && minLimit) {
    // No key past the highest limit is visible to any row.
    Value maxLimit = kb.loop(
        kb.index(0), rows, kb.index(1), {kb.index(-1)},
        [&](Value c, ValueRange it) -> SmallVector<Value> {
          Value limit = arith::IndexCastOp::create(
              kb.b, kb.loc, kb.b.getIndexType(),
              memref::LoadOp::create(kb.b, kb.loc, limits, ValueRange{c}));
          return {kb.select(kb.cmpi(P::sgt, limit, it[0]), limit, it[0])};
        })[0];
    Value last = kb.addi(maxLimit, kb.index(1));
    end = kb.select(kb.cmpi(P::slt, last, end),
                    kb.select(kb.cmpi(P::slt, last, begin), begin, last), end);
  }
  Value tile = kb.index(kAttentionKeyTile);
  kb.loop(begin, end, tile, [&](Value j0) {
    Value count = kb.minui(tile, kb.subi(end, j0));
    scores(j0, count);
    logits(j0, count, visible);
    softmax(j0, count, applyLimits);
    values(j0, count);
  });
}

void AttentionRowBlock::finish() {
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
    Value l = kb.load(sums, {c});
    Value inv = kb.select(kb.cmpf(F::OGT, l, kb.f32(0.0)),
                          kb.divf(kb.f32(1.0), l), kb.f32(0.0));
    kb.scaleCopy(in.out, {b, headOf(c), rowOf(c), kb.index(0)}, inv, acc,
                 {kb.muli(c, valuePadded)}, in.valueDim);
  });
}

void AttentionRowBlock::exportPartial(Value partials, Value base) {
  // Per row: m, l, then the unnormalised acc.
  Value stride = kb.addi(in.valueDim, kb.index(2));
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
    Value at = kb.addi(base, kb.muli(c, stride));
    kb.store(kb.load(maxes, {c}), partials, {at});
    kb.store(kb.load(sums, {c}), partials, {kb.addi(at, kb.index(1))});
    kb.scaleCopy(partials, {kb.addi(at, kb.index(2))}, kb.f32(1.0), acc,
                 {kb.muli(c, valuePadded)}, in.valueDim);
  });
}

void mlir::hybrid::combinePartials(KernelBuilder &kb, const AttentionInputs &in,
                                   Value partials, Value base,
                                   Value splitStride, Value splits, Value rows,
                                   function_ref<SmallVector<Value>(Value)> outRow) {
  Value stride = kb.addi(in.valueDim, kb.index(2));
  Value negInf = kb.negInf(), zero = kb.f32(0.0);
  Value sum = kb.scratch(in.valueDim, kb.b.getF32Type());
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value c) {
    auto at = [&](Value s) {
      return kb.addi(kb.addi(base, kb.muli(s, splitStride)),
                     kb.muli(c, stride));
    };
    Value m = kb.loop(kb.index(0), splits, kb.index(1), {negInf},
                      [&](Value s, ValueRange it) -> SmallVector<Value> {
                        return {kb.maxf(it[0], kb.load(partials, {at(s)}))};
                      })[0];
    Value mSafe = kb.select(kb.cmpf(F::OEQ, m, negInf), zero, m);
    // The splits' accs weighted by e^{m_s - m}, summed in f32; the
    // normaliser alongside.
    kb.fill(sum, {kb.index(0)}, zero, in.valueDim);
    Value l = kb.loop(
        kb.index(0), splits, kb.index(1), {zero},
        [&](Value s, ValueRange it) -> SmallVector<Value> {
          Value w = kb.exp(kb.subf(kb.load(partials, {at(s)}), mSafe));
          kb.scaleAdd(sum, {kb.index(0)}, kb.f32(1.0), w, partials,
                      {kb.addi(at(s), kb.index(2))}, in.valueDim);
          Value ls = kb.load(partials, {kb.addi(at(s), kb.index(1))});
          return {kb.addf(it[0], kb.mulf(ls, w))};
        })[0];
    Value inv = kb.select(kb.cmpf(F::OGT, l, zero), kb.divf(kb.f32(1.0), l),
                          zero);
    kb.scaleCopy(in.out, outRow(c), inv, sum, {kb.index(0)}, in.valueDim);
  });
}

void TiledAttention::emit(KernelBuilder &kb,
                          const MatmulTiling &tiling) const {
  // Rows of one head per block: all of the block (head-major) or a share
  // of it per head of the KV group (group-packed); never more than there
  // are query rows.
  Value blockRows = kb.index(kAttentionRowsPerBlock);
  Value rowsPerHead =
      groupPacked
          ? kb.maxsi(kb.index(1),
                     kb.divui(blockRows, kb.maxsi(group, kb.index(1))))
          : blockRows;
  rowsPerHead = kb.maxsi(kb.index(1), kb.minui(rowsPerHead, qLen));
  Value headSpace = groupPacked ? kvHeads : qHeads;

  Value ancestors = parents ? buildAncestorBitmap(kb, parents, nodes) : Value();
  Value rowBlocks = kb.ceilDiv(qLen, rowsPerHead);

  // With fewer blocks than tasks (a decode step over few KV heads), the
  // keys are split too, flash-decoding style: each split leaves its rows'
  // (m, l, acc), and a second pass combines them. Splits keep at least
  // four key tiles each.
  Value splits = kb.index(1);
  if (!parents) {
    Value blocks = kb.muli(kb.muli(batch, headSpace), rowBlocks);
    Value wanted = kb.ceilDiv(kb.index(tiling.targetTasks),
                              kb.maxsi(blocks, kb.index(1)));
    Value room = kb.maxsi(
        kb.index(1), kb.divui(kvLen, kb.index(4 * kAttentionKeyTile)));
    splits = kb.minui(wanted, room);
  }
  Value split = kb.cmpi(P::ugt, splits, kb.index(1));
  auto rowsOfBlock = [&](Value blockLen) {
    return groupPacked ? kb.muli(group, blockLen) : blockLen;
  };
  Value rowsMax = rowsOfBlock(rowsPerHead);
  Value splitStride = kb.muli(rowsMax, kb.addi(valueDim, kb.index(2)));
  Value blockStride = kb.muli(splits, splitStride);
  Value partials = kb.alloc(
      {OpFoldResult(kb.select(
          split,
          kb.muli(kb.muli(kb.muli(batch, headSpace), rowBlocks), blockStride),
          kb.index(1)))},
      kb.b.getF32Type());
  auto blockBase = [&](Value b, Value hs, Value rb) {
    return kb.muli(
        kb.addi(kb.muli(kb.addi(kb.muli(b, headSpace), hs), rowBlocks), rb),
        blockStride);
  };

  kb.parallel({batch, headSpace, rowBlocks, splits}, [&](ValueRange ivs) {
    Value b = ivs[0], hs = ivs[1], i0 = kb.muli(ivs[2], rowsPerHead);
    Value blockLen = kb.minui(rowsPerHead, kb.subi(qLen, i0));
    Value kvHead = groupPacked ? hs : kb.divui(hs, group);
    Value rows = rowsOfBlock(blockLen);
    auto headOf = [&, hs, blockLen](Value c) {
      return groupPacked ? kb.addi(kb.muli(hs, group), kb.divui(c, blockLen))
                         : hs;
    };
    auto rowOf = [&, i0, blockLen](Value c) {
      return kb.addi(i0, groupPacked ? kb.remui(c, blockLen) : c);
    };
    AttentionRowBlock block(kb, tiling, *this, b, kvHead, rows, headOf, rowOf);
    if (!parents) {
      if (causal)
        block.limitKeys([&](Value c) { return kb.addi(offset, rowOf(c)); });
      // This split's keys: whole tiles.
      Value tile = kb.index(kAttentionKeyTile);
      Value perSplit =
          kb.muli(kb.ceilDiv(kb.ceilDiv(kvLen, splits), tile), tile);
      Value k0 = kb.minui(kvLen, kb.muli(ivs[3], perSplit));
      block.keys(k0, kb.minui(kvLen, kb.addi(k0, perSplit)));
      kb.ifThenElse(
          split, {},
          [&]() -> SmallVector<Value> {
            block.exportPartial(partials,
                                kb.addi(blockBase(b, hs, ivs[2]),
                                        kb.muli(ivs[3], splitStride)));
            return {};
          },
          [&]() -> SmallVector<Value> {
            block.finish();
            return {};
          });
      return;
    }
    // Tree rows see the whole prefix, then their ancestors among the tree
    // keys; earlier rows their causal range, which ends before the tree.
    Value lastPrefixKey = kb.subi(treeKey0, kb.index(1));
    auto isNode = [&](Value c) { return kb.cmpi(P::uge, rowOf(c), treeRow0); };
    block.limitKeys([&](Value c) -> Value {
      if (!causal)
        return lastPrefixKey;
      Value pos = kb.addi(offset, rowOf(c));
      Value limit = kb.select(kb.cmpi(P::slt, pos, lastPrefixKey), pos,
                              lastPrefixKey);
      return kb.select(isNode(c), lastPrefixKey, limit);
    });
    block.keys(kb.index(0), treeKey0);
    Value anyNode = kb.cmpi(P::uge, kb.addi(i0, blockLen), kb.addi(treeRow0, kb.index(1)));
    kb.ifThen(anyNode, [&] {
      block.keys(treeKey0, kvLen, [&](Value c, Value j) {
        Value node = kb.subi(rowOf(c), treeRow0);
        Value key = kb.subi(j, treeKey0);
        // Non-node rows read a clamped cell and are masked anyway.
        Value cell = kb.addi(kb.muli(kb.minui(node, kb.subi(nodes, kb.index(1))),
                                     nodes),
                             key);
        return kb.andi(isNode(c), kb.isFlagSet(ancestors, cell));
      });
    });
    block.finish();
  });
  if (parents)
    return;
  kb.ifThen(split, [&] {
    kb.parallel({batch, headSpace, rowBlocks}, [&](ValueRange ivs) {
      Value b = ivs[0], hs = ivs[1], i0 = kb.muli(ivs[2], rowsPerHead);
      Value blockLen = kb.minui(rowsPerHead, kb.subi(qLen, i0));
      combinePartials(
          kb, *this, partials, blockBase(b, hs, ivs[2]), splitStride, splits,
          rowsOfBlock(blockLen), [&](Value c) -> SmallVector<Value> {
            Value head = groupPacked ? kb.addi(kb.muli(hs, group),
                                               kb.divui(c, blockLen))
                                     : hs;
            Value row = kb.addi(i0, groupPacked ? kb.remui(c, blockLen) : c);
            return {b, head, row, kb.index(0)};
          });
    });
  });
}
