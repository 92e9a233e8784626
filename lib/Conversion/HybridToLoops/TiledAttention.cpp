//===- TiledAttention.cpp - Dense attention over blocks of rows -----------===//

#include "TiledAttention.h"

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {
constexpr int64_t kKeyTile = kAttentionKeyTile;
constexpr int64_t kRowsPerBlock = kAttentionRowsPerBlock;
/// Below this many rows, scores are dot products instead of a product with
/// the transposed K tile.
constexpr int64_t kMinRowsForProduct = 4;
} // namespace

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;
using Matrix = KernelBuilder::Matrix;

AttentionRowBlock::AttentionRowBlock(KernelBuilder &kb,
                                     const AttentionInputs &in, Value b,
                                     Value kvHead, Value rows,
                                     std::function<Value(Value)> headOf,
                                     std::function<Value(Value)> rowOf)
    : kb(kb), in(in), b(b), kvHead(kvHead), rows(rows),
      headOf(std::move(headOf)), rowOf(std::move(rowOf)) {
  Type f32 = kb.b.getF32Type();
  Value tile = kb.index(kKeyTile);
  keysT = kb.scratch(kb.muli(in.headDim, tile), f32);
  scores = kb.scratch(kb.muli(rows, tile), f32);
  acc = kb.scratch(kb.muli(rows, in.valueDim), f32);
  state = kb.scratch(kb.muli(rows, kb.index(2)), f32); // m, l per row
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value r) {
    kb.fill(acc, {kb.muli(r, in.valueDim)}, kb.f32(0.0), in.valueDim);
    kb.store(kb.negInf(), state, {kb.muli(r, kb.index(2))});
    kb.store(kb.f32(0.0), state,
             {kb.addi(kb.muli(r, kb.index(2)), kb.index(1))});
  });
}

void AttentionRowBlock::keys(Value begin, Value end) {
  Value tile = kb.index(kKeyTile);
  auto mAt = [&](Value r) { return kb.muli(r, kb.index(2)); };
  auto lAt = [&](Value r) {
    return kb.addi(kb.muli(r, kb.index(2)), kb.index(1));
  };
  Matrix Q{in.q, [&](Value r) -> SmallVector<Value> {
             Value i = kb.minui(rowOf(r), kb.subi(in.qLen, kb.index(1)));
             return {b, headOf(r), i, kb.index(0)};
           }};
  Matrix KT{keysT, [&](Value p) -> SmallVector<Value> {
              return {kb.muli(p, tile)};
            }};
  Matrix S{scores, [&](Value r) -> SmallVector<Value> {
             return {kb.muli(r, tile)};
           }};
  Matrix O{acc, [&](Value r) -> SmallVector<Value> {
             return {kb.muli(r, in.valueDim)};
           }};

  kb.loop(begin, end, tile, [&](Value j0) {
    Value count = kb.minui(tile, kb.subi(end, j0));
    // Scores S = Q K-tile^T. A few rows (a group's heads at one position)
    // take dot products; more rows amortise transposing the tile for the
    // register-blocked product.
    kb.ifThenElse(
        kb.cmpi(P::ult, rows, kb.index(kMinRowsForProduct)), {},
        [&]() -> SmallVector<Value> {
          kb.loop(kb.index(0), rows, kb.index(1), [&](Value r) {
            kb.loop(kb.index(0), count, kb.index(1), [&](Value t) {
              Value s = kb.dot(in.q, Q.rowStart(r), in.k,
                               {b, kvHead, kb.addi(j0, t), kb.index(0)},
                               in.headDim);
              kb.store(s, scores, kb.at(S.rowStart(r), t));
            });
          });
          return {};
        },
        [&]() -> SmallVector<Value> {
          // K tile, transposed to [D, 64] (zeros past the last key).
          kb.loop(kb.index(0), tile, kb.index(1), [&](Value t) {
            Value valid = kb.cmpi(P::ult, t, count);
            Value j = kb.minui(kb.addi(j0, t), kb.subi(in.kvLen, kb.index(1)));
            kb.loop(kb.index(0), in.headDim, kb.index(1), [&](Value p) {
              Value x = kb.load(in.k, {b, kvHead, j, p});
              kb.store(kb.select(valid, x, kb.f32(0.0)), keysT,
                       {kb.addi(kb.muli(p, tile), t)});
            });
          });
          kb.loop(kb.index(0), rows, kb.index(1), [&](Value r) {
            kb.fill(scores, S.rowStart(r), kb.f32(0.0), tile);
          });
          kb.matmulAccumulate(S, Q, /*transposeA=*/false, KT, rows, tile,
                              in.headDim);
          return {};
        });

    // Online softmax per row; the scores become the probabilities P.
    kb.loop(kb.index(0), rows, kb.index(1), [&](Value r) {
      Value head = headOf(r), i = rowOf(r);
      Value rowValid = kb.cmpi(P::ult, i, in.qLen);
      Value pos = kb.addi(in.offset, i);
      Value tileMax = kb.loop(
          kb.index(0), count, kb.index(1), {kb.negInf()},
          [&](Value t, ValueRange it) -> SmallVector<Value> {
            Value j = kb.addi(j0, t);
            Value x =
                kb.mulf(kb.load(scores, kb.at(S.rowStart(r), t)), in.scale);
            if (in.softcap) {
              Value c = kb.f32(in.softcap->convertToFloat());
              x = kb.mulf(c, math::TanhOp::create(kb.b, kb.loc, kb.divf(x, c)));
            }
            if (in.mask)
              x = in.mask(x, b, head,
                          kb.minui(i, kb.subi(in.qLen, kb.index(1))), j);
            Value visible = rowValid;
            if (in.causal)
              visible = kb.andi(visible, kb.cmpi(P::sle, j, pos));
            x = kb.select(visible, x, kb.negInf());
            kb.store(x, scores, kb.at(S.rowStart(r), t));
            return {kb.maxf(it[0], x)};
          })[0];
      kb.ifThenElse(
          kb.cmpf(F::OGT, tileMax, kb.negInf()), {},
          [&]() -> SmallVector<Value> {
            Value m = kb.load(state, {mAt(r)});
            Value mNew = kb.maxf(m, tileMax);
            Value alpha = kb.exp(kb.subf(m, mNew));
            Value sum = kb.loop(
                kb.index(0), count, kb.index(1), {kb.f32(0.0)},
                [&](Value t, ValueRange it) -> SmallVector<Value> {
                  Value p = kb.exp(kb.subf(
                      kb.load(scores, kb.at(S.rowStart(r), t)), mNew));
                  kb.store(p, scores, kb.at(S.rowStart(r), t));
                  return {kb.addf(it[0], p)};
                })[0];
            kb.scaleCopy(acc, O.rowStart(r), alpha, acc, O.rowStart(r),
                         in.valueDim);
            kb.store(kb.addf(kb.mulf(kb.load(state, {lAt(r)}), alpha), sum),
                     state, {lAt(r)});
            kb.store(mNew, state, {mAt(r)});
            return {};
          },
          [&]() -> SmallVector<Value> {
            kb.fill(scores, S.rowStart(r), kb.f32(0.0), count);
            return {};
          });
    });
    Matrix V{in.v, [&](Value t) -> SmallVector<Value> {
               return {b, kvHead, kb.addi(j0, t), kb.index(0)};
             }};
    kb.matmulAccumulate(O, S, /*transposeA=*/false, V, rows, in.valueDim,
                        count);
  });
}

void AttentionRowBlock::finish() {
  kb.loop(kb.index(0), rows, kb.index(1), [&](Value r) {
    Value i = rowOf(r);
    kb.ifThen(kb.cmpi(P::ult, i, in.qLen), [&] {
      Value l = kb.load(state, {kb.addi(kb.muli(r, kb.index(2)), kb.index(1))});
      Value inv = kb.select(kb.cmpf(F::OGT, l, kb.f32(0.0)),
                            kb.divf(kb.f32(1.0), l), kb.f32(0.0));
      kb.scaleCopy(in.out, {b, headOf(r), i, kb.index(0)}, inv, acc,
                   {kb.muli(r, in.valueDim)}, in.valueDim);
    });
  });
}

void TiledAttention::emit(KernelBuilder &kb) const {
  // Rows of one head per block: up to kRowsPerBlock (shared with the G
  // heads when packed), never more than there are query rows.
  Value rowsPerHead =
      groupPacked ? kb.maxsi(kb.index(1), kb.divui(kb.index(kRowsPerBlock),
                                                   kb.maxsi(group, kb.index(1))))
                  : kb.index(kRowsPerBlock);
  rowsPerHead = kb.maxsi(kb.index(1), kb.minui(rowsPerHead, qLen));
  Value rows = groupPacked ? kb.muli(group, rowsPerHead) : rowsPerHead;
  Value headSpace = groupPacked ? kvHeads : qHeads;
  kb.parallel({batch, headSpace, kb.ceilDiv(qLen, rowsPerHead)},
              [&](ValueRange ivs) {
    Value b = ivs[0], hs = ivs[1], i0 = kb.muli(ivs[2], rowsPerHead);
    Value kvHead = groupPacked ? hs : kb.divui(hs, group);
    AttentionRowBlock block(
        kb, *this, b, kvHead, rows,
        [&, hs](Value r) {
          return groupPacked
                     ? kb.addi(kb.muli(hs, group), kb.divui(r, rowsPerHead))
                     : hs;
        },
        [&, i0](Value r) { return kb.addi(i0, kb.remui(r, rowsPerHead)); });
    // Keys that some row of the block may see.
    Value keyEnd = kvLen;
    if (causal) {
      Value last = kb.minui(kb.addi(i0, rowsPerHead), qLen);
      Value limit = kb.addi(offset, last);
      keyEnd = kb.minui(kvLen, kb.select(kb.cmpi(P::slt, limit, kb.index(0)),
                                         kb.index(0), limit));
    }
    block.keys(kb.index(0), keyEnd);
    block.finish();
  });
}
