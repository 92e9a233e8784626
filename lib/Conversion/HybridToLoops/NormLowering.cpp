//===- NormLowering.cpp - Kernels of rms_norm and rotary_embedding --------===//
//
// Both are row-parallel: one pass (rotary) or two passes (RMS: sum of
// squares, then scale) over each row, in f32.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/LineOps.h"
#include "hybrid/Conversion/Tiling/RotaryShape.h"
#include "hybrid/Conversion/Tiling/TiledMatmul.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::hybrid;

/// A buffer of any rank viewed as its flat, contiguous 1-D form.
static Value flatten(KernelBuilder &k, Value buffer) {
  ReassociationIndices all;
  for (int64_t d = 0, e = cast<MemRefType>(buffer.getType()).getRank(); d < e;
       ++d)
    all.push_back(d);
  return memref::CollapseShapeOp::create(k.b, k.loc, buffer,
                                         ArrayRef<ReassociationIndices>{all});
}

namespace {

struct RMSNormLowering : KernelPattern<RMSNormOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder k(rewriter, op.getLoc(), options.vectorWidth);
    auto type = cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank(), axis = op.getNormalizedAxis();
    Value x = k.buffer(op.getInput());
    Value scale = k.buffer(op.getScale());
    Value out = k.allocLike(type, x);

    Value outer = k.index(1), inner = k.index(1);
    SmallVector<Value> normDims;
    for (int64_t d = 0; d < rank; ++d) {
      Value size = k.dim(x, d);
      if (d < axis) {
        outer = k.muli(outer, size);
      } else {
        inner = k.muli(inner, size);
        normDims.push_back(size);
      }
    }

    // The scale, broadcast to the normalised dims and flattened once, so
    // that the row loop reads it contiguously.
    auto scaleType = cast<MemRefType>(scale.getType());
    int64_t scaleRank = scaleType.getRank();
    int64_t normRank = static_cast<int64_t>(normDims.size());
    for (int64_t i = 0; i < scaleRank; ++i) {
      if (scaleType.getDimSize(i) == 1)
        continue;
      Value s = k.dim(scale, i), n = normDims[normRank - scaleRank + i];
      k.raiseIf(k.andi(k.cmpi(arith::CmpIPredicate::ne, s, n),
                       k.cmpi(arith::CmpIPredicate::ne, s, k.index(1))),
                "hybrid.rms_norm: the scale does not broadcast to the "
                "normalised dimensions");
    }
    Value scaleFlat = k.alloc({OpFoldResult(inner)}, rewriter.getF32Type());
    k.loop(k.index(0), inner, k.index(1), [&](Value n) {
      SmallVector<Value> scaleIdx(scaleRank);
      Value rest = n;
      for (int64_t j = normRank - 1; j >= 0; --j) {
        Value coord = k.remui(rest, normDims[j]);
        rest = k.divui(rest, normDims[j]);
        int64_t i = j - (normRank - scaleRank);
        if (i < 0)
          continue;
        // A size-1 scale dim broadcasts: clamp the coordinate to it.
        Value scaleDim = k.dim(scale, i);
        scaleIdx[i] = k.minui(coord, k.subi(scaleDim, k.index(1)));
      }
      k.store(k.load(scale, scaleIdx), scaleFlat, {n});
    });

    Value xFlat = flatten(k, x), outFlat = flatten(k, out);
    Value eps = k.f32(op.getEpsilon().convertToFloat());
    Value innerF = k.toF32(inner);
    k.parallel({outer}, [&](ValueRange ivs) {
      Value start = k.muli(ivs[0], inner);
      Value sumSq = k.dot(xFlat, {start}, xFlat, {start}, inner);
      Value rstd = math::RsqrtOp::create(rewriter, k.loc,
                                         k.addf(k.divf(sumSq, innerF), eps));
      k.loop(k.index(0), inner, k.index(1), [&](Value n) {
        Value i = k.addi(start, n);
        Value v = k.mulf(k.mulf(k.load(xFlat, {i}), rstd),
                         k.load(scaleFlat, {n}));
        k.store(v, outFlat, {i});
      });
    });
    rewriter.replaceOp(op, k.tensor(out, type));
    return success();
  }
};

struct RotaryEmbeddingLowering : KernelPattern<RotaryEmbeddingOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(RotaryEmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder k(rewriter, op.getLoc(), options.vectorWidth);
    auto type = cast<RankedTensorType>(op.getType());
    Value x = k.buffer(op.getInput());
    Value cosT = k.buffer(op.getCosCache());
    Value sinT = k.buffer(op.getSinCache());
    Value positions = op.getPositionIds() ? k.buffer(op.getPositionIds())
                                          : Value();
    Value out = k.allocLike(type, x);

    // Both layouts as [B, S, H, D] coordinates, the sizes checked.
    RotaryShape shape = checkRotaryShape(k, op, x, cosT, sinT, positions);
    Value batch = shape.batch, seq = shape.seq, heads = shape.heads;
    Value headDim = shape.headDim, rotary = shape.rotary, half = shape.half;
    auto at = [&](Value bi, Value si, Value hi, Value d) {
      return shape.at(k, bi, si, hi, d);
    };

    k.ifThen(shape.passed, [&] {
    k.parallel({batch, seq, heads}, [&](ValueRange ivs) {
      Value bi = ivs[0], si = ivs[1], hi = ivs[2];
      // The cache row of this token.
      SmallVector<Value> cachePrefix;
      if (positions) {
        Value pos = k.loadIndex(positions, {bi, si});
        Value rows = k.dim(cosT, 0);
        Value outside = k.cmpi(arith::CmpIPredicate::uge, pos, rows);
        k.raiseIf(outside, "hybrid.rotary_embedding: a position id is "
                           "outside the cos/sin cache");
        cachePrefix = {k.select(outside, k.index(0), pos)};
      } else {
        cachePrefix = {bi, si};
      }
      k.loop(k.index(0), half, k.index(1), [&](Value i) {
        Value i1 = op.getInterleaved() ? k.muli(i, k.index(2)) : i;
        Value i2 = op.getInterleaved() ? k.addi(i1, k.index(1))
                                       : k.addi(i, half);
        Value x1 = k.load(x, at(bi, si, hi, i1));
        Value x2 = k.load(x, at(bi, si, hi, i2));
        SmallVector<Value> cacheIdx(cachePrefix);
        cacheIdx.push_back(i);
        Value c = k.load(cosT, cacheIdx);
        Value s = k.load(sinT, cacheIdx);
        k.store(k.subf(k.mulf(x1, c), k.mulf(x2, s)), out, at(bi, si, hi, i1));
        k.store(k.addf(k.mulf(x2, c), k.mulf(x1, s)), out, at(bi, si, hi, i2));
      });
      k.loop(rotary, headDim, k.index(1), [&](Value d) {
        k.store(k.load(x, at(bi, si, hi, d)), out, at(bi, si, hi, d));
      });
    });
    });
    rewriter.replaceOp(op, k.tensor(out, type));
    return success();
  }
};

} // namespace

namespace {

/// hybrid.cumsum: the run-time axis splits the input into outer x axis x
/// inner; each (outer, inner) line is one running sum, in the element type.
struct CumSumLowering : KernelPattern<CumSumOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(CumSumOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    auto type = cast<RankedTensorType>(op.getType());
    Type element = type.getElementType();
    Value x = kb.buffer(op.getInput());
    Value out = kb.allocLike(type, x);
    RuntimeChecks checks(kb, "hybrid.cumsum");

    Value axis = readCumSumAxis(kb, op, checks);

    kb.ifThen(checks.passed(), [&] {
      LineSplit split = splitAtAxis(kb, x, axis);
      Value outer = split.outer, len = split.len, inner = split.inner;
      Value xf = flattenBuffer(kb, x), of = flattenBuffer(kb, out);
      bool isFloat = isa<FloatType>(element);
      Value zero = arith::ConstantOp::create(
          rewriter, kb.loc,
          isFloat ? TypedAttr(FloatAttr::get(element, 0.0))
                  : TypedAttr(IntegerAttr::get(element, 0)));
      kb.parallel({outer, inner}, [&](ValueRange ivs) {
        Value base = kb.addi(kb.muli(kb.muli(ivs[0], len), inner), ivs[1]);
        kb.loop(kb.index(0), len, kb.index(1), {zero},
                [&](Value k, ValueRange it) -> SmallVector<Value> {
                  Value kk = op.getReverse()
                                 ? kb.subi(kb.subi(len, kb.index(1)), k)
                                 : k;
                  Value at = kb.addi(base, kb.muli(kk, inner));
                  Value v = memref::LoadOp::create(rewriter, kb.loc, xf,
                                                   ValueRange{at});
                  Value sum =
                      isFloat ? arith::AddFOp::create(rewriter, kb.loc, it[0], v)
                                    .getResult()
                              : arith::AddIOp::create(rewriter, kb.loc, it[0], v)
                                    .getResult();
                  memref::StoreOp::create(rewriter, kb.loc,
                                          op.getExclusive() ? it[0] : sum, of,
                                          ValueRange{at});
                  return {sum};
                });
      });
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

/// hybrid.topk: per line along the axis, k passes that each take the best
/// element not yet taken (strict comparison, so equal values go by lower
/// index): the order ONNX asks for, at O(k x n) per line.
struct TopKLowering : KernelPattern<TopKOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(TopKOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    using P = arith::CmpIPredicate;
    auto inType = op.getInput().getType();
    auto valuesType = cast<RankedTensorType>(op.getValues().getType());
    auto indicesType = cast<RankedTensorType>(op.getIndices().getType());
    Type element = inType.getElementType();
    int64_t rank = inType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    Value x = kb.buffer(op.getInput());
    RuntimeChecks checks(kb, "hybrid.topk");
    Value k = readTopK(kb, op, x, checks);
    Value len = kb.dim(x, axis);
    // Results: the input's sizes with the axis sized k (0 when k is bad).
    Value kSafe = kb.select(checks.passed(), k, kb.index(0));
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(d == axis ? kSafe : kb.dim(x, d));
    Value values = kb.alloc(valuesType, sizes);
    Value indices = kb.alloc(indicesType, sizes);

    kb.ifThen(checks.passed(), [&] {
      Value outer = kb.index(1), inner = kb.index(1);
      for (int64_t d = 0; d < rank; ++d) {
        if (d < axis)
          outer = kb.muli(outer, kb.dim(x, d));
        if (d > axis)
          inner = kb.muli(inner, kb.dim(x, d));
      }
      Value xf = flattenBuffer(kb, x), vf = flattenBuffer(kb, values),
            idf = flattenBuffer(kb, indices);
      bool isFloat = isa<FloatType>(element);
      auto better = [&](Value a, Value b) -> Value {
        if (isFloat)
          return arith::CmpFOp::create(rewriter, kb.loc,
                                       op.getLargest()
                                           ? arith::CmpFPredicate::OGT
                                           : arith::CmpFPredicate::OLT,
                                       a, b);
        return arith::CmpIOp::create(rewriter, kb.loc,
                                     op.getLargest() ? P::sgt : P::slt, a, b);
      };
      kb.parallel({outer, inner}, [&](ValueRange ivs) {
        Value taken = kb.flags(len);
        Value inBase = kb.addi(kb.muli(kb.muli(ivs[0], len), inner), ivs[1]);
        Value outBase = kb.addi(kb.muli(kb.muli(ivs[0], k), inner), ivs[1]);
        auto load = [&](Value j) {
          return memref::LoadOp::create(
                     rewriter, kb.loc, xf,
                     ValueRange{kb.addi(inBase, kb.muli(j, inner))})
              .getResult();
        };
        kb.loop(kb.index(0), k, kb.index(1), [&](Value r) {
          Value best = kb.loop(
              kb.index(0), len, kb.index(1), {kb.index(-1)},
              [&](Value j, ValueRange it) -> SmallVector<Value> {
                Value free = kb.notI(kb.isFlagSet(taken, j));
                Value none = kb.cmpi(P::slt, it[0], kb.index(0));
                Value bestAt = kb.select(none, j, it[0]);
                Value take = kb.andi(free, kb.ori(none, better(load(j),
                                                               load(bestAt))));
                return {kb.select(take, j, it[0])};
              })[0];
          kb.setFlag(taken, best);
          Value at = kb.addi(outBase, kb.muli(r, inner));
          memref::StoreOp::create(rewriter, kb.loc, load(best), vf,
                                  ValueRange{at});
          memref::StoreOp::create(
              rewriter, kb.loc,
              arith::IndexCastOp::create(rewriter, kb.loc,
                                         rewriter.getI64Type(), best),
              idf, ValueRange{at});
        });
      });
    });
    rewriter.replaceOp(op, {kb.tensor(values, valuesType),
                            kb.tensor(indices, indicesType)});
    return success();
  }
};

} // namespace

void mlir::hybrid::populateNormLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<CumSumLowering, RMSNormLowering, RotaryEmbeddingLowering,
               TopKLowering>(
      patterns.getContext(), options);
}
