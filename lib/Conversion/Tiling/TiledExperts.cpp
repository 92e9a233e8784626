//===- TiledExperts.cpp - An expert's FFN over gathered tokens ------------===//

#include "hybrid/Conversion/Tiling/TiledExperts.h"
#include "hybrid/Conversion/Tiling/TiledMatmul.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <tuple>

using namespace mlir;
using namespace mlir::hybrid;

ExpertProducts::ExpertProducts(KernelBuilder &kb, const MatmulTiling &tiling,
                               Value x, Value tokens, Value model,
                               Value maxWidth)
    : kb(kb), tiling(tiling), x(x), tokens(tokens), model(model) {
  Type f32 = kb.b.getF32Type(), index = kb.b.getIndexType();
  auto alloc = [&](Value size, Type type) {
    return kb.alloc({OpFoldResult(kb.maxsi(size, kb.index(1)))}, type);
  };
  Value cols = kb.index(tiling.cols);
  Value columns = kb.muli(kb.ceilDiv(tokens, cols), cols);
  xT = alloc(kb.muli(model, tokens), f32);
  sumT = alloc(kb.muli(model, tokens), f32);
  runCol = alloc(tokens, index);
  runToken = alloc(tokens, index);
  runLen = alloc(tokens, index);
  columnToken = kb.alloc({OpFoldResult(kb.b.getIndexAttr(kFewTokens))}, index);
  gates = alloc(columns, f32);
  panel = alloc(kb.muli(model, columns), f32);
  hidden = alloc(kb.muli(maxWidth, columns), f32);
  outT = alloc(kb.muli(model, columns), f32);
  rowTasks(model, [&](Value m0, Value m1) {
    kb.loop(m0, m1, kb.index(1), [&](Value m) {
      Value row = kb.muli(m, tokens);
      kb.fill(sumT, {row}, kb.f32(0.0), tokens);
      kb.loop(kb.index(0), tokens, kb.index(1), [&](Value t) {
        kb.store(kb.load(x, {t, m}), xT, {kb.addi(row, t)});
      });
    });
  });
}

void ExpertProducts::addRun(Value run, Value col, Value t, Value len) {
  memref::StoreOp::create(kb.b, kb.loc, col, runCol, ValueRange{run});
  memref::StoreOp::create(kb.b, kb.loc, t, runToken, ValueRange{run});
  memref::StoreOp::create(kb.b, kb.loc, len, runLen, ValueRange{run});
}

void ExpertProducts::setGate(Value col, Value gate) {
  kb.store(gate, gates, {col});
}

void ExpertProducts::forEachRun(Value runs,
                                function_ref<void(Value, Value, Value)> body) {
  kb.loop(kb.index(0), runs, kb.index(1), [&](Value i) {
    auto load = [&](Value buffer) {
      return memref::LoadOp::create(kb.b, kb.loc, buffer, ValueRange{i})
          .getResult();
    };
    body(load(runCol), load(runToken), load(runLen));
  });
}

void ExpertProducts::rowTasks(Value rows,
                              function_ref<void(Value, Value)> body) {
  Value unit = kb.index(tiling.rows());
  Value perTask = kb.muli(
      kb.maxsi(kb.ceilDiv(kb.ceilDiv(rows, kb.index(tiling.targetTasks)), unit),
               kb.index(1)),
      unit);
  kb.parallel({kb.ceilDiv(rows, perTask)}, [&](ValueRange ivs) {
    Value r0 = kb.muli(ivs[0], perTask);
    body(r0, kb.minui(rows, kb.addi(r0, perTask)));
  });
}

std::pair<Value, Value> ExpertProducts::weightsF32(Value w, Value e,
                                                   Value rows, Value cols) {
  auto type = cast<MemRefType>(w.getType());
  Value size = kb.muli(rows, cols);
  if (type.getElementType().isF32())
    return {flattenBuffer(kb, w), e ? kb.muli(e, size) : kb.index(0)};
  Value converted = kb.alloc({OpFoldResult(size)}, kb.b.getF32Type());
  rowTasks(rows, [&](Value r0, Value r1) {
    kb.loop(r0, r1, kb.index(1), [&](Value r) {
      SmallVector<Value> from = {r, kb.index(0)};
      if (e)
        from.insert(from.begin(), e);
      kb.scaleCopy(converted, {kb.muli(r, cols)}, kb.f32(1.0), w, from, cols);
    });
  });
  return {converted, kb.index(0)};
}

void ExpertProducts::ffn(Value up, Value e, Value down, Value width, Value n,
                         Value runs) {
  kb.ifThenElse(
      kb.cmpi(arith::CmpIPredicate::ule, n, kb.index(kFewTokens)), {},
      [&]() -> SmallVector<Value> {
        fewTokensFFN(up, e, down, width, n, runs);
        return {};
      },
      [&]() -> SmallVector<Value> {
        panelFFN(up, e, down, width, n, runs);
        return {};
      });
}

void ExpertProducts::fewTokensFFN(Value up, Value e, Value down, Value width,
                                  Value n, Value runs) {
  // Each column's token; columns past n repeat column 0's with gate 0
  // (their sums are computed, never added; a stale gate could be a
  // denormal, which slows every FMA that reads it tenfold).
  forEachRun(runs, [&](Value col, Value t, Value len) {
    kb.loop(kb.index(0), len, kb.index(1), [&](Value i) {
      kb.storeIndex(kb.addi(t, i), columnToken, {kb.addi(col, i)});
    });
  });
  kb.loop(n, kb.index(kFewTokens), kb.index(1), [&](Value c) {
    kb.storeIndex(kb.loadIndex(columnToken, {kb.index(0)}), columnToken, {c});
    kb.store(kb.f32(0.0), gates, {c});
  });
  SmallVector<Value> token, gate;
  for (int64_t c = 0; c < kFewTokens; ++c) {
    token.push_back(kb.loadIndex(columnToken, {kb.index(c)}));
    gate.push_back(kb.load(gates, {kb.index(c)}));
  }
  auto rowOf = [&](Value row) {
    return e ? SmallVector<Value>{e, row, kb.index(0)}
             : SmallVector<Value>{row, kb.index(0)};
  };
  // h[c, j] = SiLU(U[j, :] . x[token c]) * gate c.
  SmallVector<Value> xs(kFewTokens, x), hs(kFewTokens, hidden);
  SmallVector<SmallVector<Value>> xRows, hRows;
  for (int64_t c = 0; c < kFewTokens; ++c) {
    xRows.push_back({token[c], kb.index(0)});
    hRows.push_back({kb.muli(kb.index(c), width)});
  }
  rowTasks(width, [&](Value j0, Value j1) {
    kb.loop(j0, j1, kb.index(1), [&](Value j) {
      SmallVector<Value> sums = kb.dots(up, rowOf(j), xs, xRows, model);
      for (int64_t c = 0; c < kFewTokens; ++c) {
        Value h = sums[c];
        Value expNeg = kb.exp(arith::NegFOp::create(kb.b, kb.loc, h));
        Value silu = kb.divf(h, kb.addf(kb.f32(1.0), expNeg));
        kb.store(kb.mulf(silu, gate[c]), hidden,
                 {kb.addi(kb.muli(kb.index(c), width), j)});
      }
    });
  });
  // sum^T[m, token c] += D[m, :] . h[c, :].
  rowTasks(model, [&](Value m0, Value m1) {
    kb.loop(m0, m1, kb.index(1), [&](Value m) {
      SmallVector<Value> sums = kb.dots(down, rowOf(m), hs, hRows, width);
      for (int64_t c = 0; c < kFewTokens; ++c)
        kb.ifThen(kb.cmpi(arith::CmpIPredicate::ult, kb.index(c), n), [&] {
          Value at = kb.addi(kb.muli(m, tokens), token[c]);
          kb.store(kb.addf(kb.load(sumT, {at}), sums[c]), sumT, {at});
        });
    });
  });
}

void ExpertProducts::panelFFN(Value up, Value e, Value down, Value width,
                              Value n, Value runs) {
  Type f32 = kb.b.getF32Type();
  int64_t lanes = tiling.vectorWidth;
  Value one = kb.f32(1.0);
  // Columns: the tokens, padded to whole vectors.
  Value nPad = kb.muli(kb.ceilDiv(n, kb.index(lanes)), kb.index(lanes));
  kb.fill(gates, {n}, kb.f32(0.0), kb.subi(nPad, n));
  auto staticDim = [](Value w) -> std::optional<int64_t> {
    auto type = cast<MemRefType>(w.getType());
    int64_t d = type.getDimSize(type.getRank() - 1);
    return ShapedType::isDynamic(d) ? std::nullopt : std::optional(d);
  };
  // Plain values, not structured bindings: the lambdas below capture them
  // (C++17 cannot capture a structured binding).
  Value upW, upOff, downW, downOff;
  std::tie(upW, upOff) = weightsF32(up, e, width, model);
  std::tie(downW, downOff) = weightsF32(down, e, model, width);
  // dst[r0:r1, :nPad] = W[r0:r1, :] B, W read in place from wOff.
  auto rowsProduct = [&](Value dst, Value r0, Value r1, Value w, Value wOff,
                         Value lda, std::optional<int64_t> staticLda, Value b,
                         Value k) {
    Value cOff = kb.muli(r0, nPad);
    kb.fill(dst, {cOff}, kb.f32(0.0), kb.muli(kb.subi(r1, r0), nPad));
    emitInPlaceProduct(kb, tiling, dst, cOff, nPad, TileALayout::RowMajor, w,
                       kb.addi(wOff, kb.muli(r0, lda)), lda, staticLda, b,
                       kb.index(0), nPad, kb.subi(r1, r0), nPad, k);
  };

  // X^T of the expert's tokens, run by run; padding columns are zero.
  rowTasks(model, [&](Value m0, Value m1) {
    kb.loop(m0, m1, kb.index(1), [&](Value m) {
      Value row = kb.muli(m, nPad);
      forEachRun(runs, [&](Value col, Value t, Value len) {
        kb.scaleCopy(panel, {kb.addi(row, col)}, one, xT,
                     {kb.addi(kb.muli(m, tokens), t)}, len);
      });
      kb.fill(panel, {kb.addi(row, n)}, kb.f32(0.0), kb.subi(nPad, n));
    });
  });
  // H^T = SiLU(U X^T) * gate, by blocks of the expert's rows.
  auto vecType = VectorType::get({lanes}, f32);
  Value ones = vector::BroadcastOp::create(kb.b, kb.loc, vecType, one);
  rowTasks(width, [&](Value j0, Value j1) {
    rowsProduct(hidden, j0, j1, upW, upOff, model, staticDim(up), panel,
                model);
    kb.loop(j0, j1, kb.index(1), [&](Value j) {
      kb.loop(kb.index(0), nPad, kb.index(lanes), [&](Value c0) {
        Value at = kb.addi(kb.muli(j, nPad), c0);
        Value h = vector::LoadOp::create(kb.b, kb.loc, vecType, hidden,
                                         ValueRange{at});
        Value g = vector::LoadOp::create(kb.b, kb.loc, vecType, gates,
                                         ValueRange{c0});
        Value expNeg = math::ExpOp::create(
            kb.b, kb.loc, arith::NegFOp::create(kb.b, kb.loc, h));
        Value silu = kb.divf(h, kb.addf(ones, expNeg));
        vector::StoreOp::create(kb.b, kb.loc, kb.mulf(silu, g), hidden,
                                ValueRange{at});
      });
    });
  });
  // Y^T = D H^T by blocks of model rows, added into the same rows of the
  // transposed sum, run by run.
  rowTasks(model, [&](Value m0, Value m1) {
    rowsProduct(outT, m0, m1, downW, downOff, width, staticDim(down), hidden,
                width);
    kb.loop(m0, m1, kb.index(1), [&](Value m) {
      forEachRun(runs, [&](Value col, Value t, Value len) {
        Value at = kb.addi(kb.muli(m, tokens), t);
        kb.scaleAdd(sumT, {at}, one, one, outT,
                    {kb.addi(kb.muli(m, nPad), col)}, len);
      });
    });
  });
}

void ExpertProducts::writeOutput(Value out) {
  kb.parallel({tokens}, [&](ValueRange ivs) {
    Value t = ivs[0];
    kb.loop(kb.index(0), model, kb.index(1), [&](Value m) {
      kb.store(kb.load(sumT, {kb.addi(kb.muli(m, tokens), t)}), out,
               {t, m});
    });
  });
}
