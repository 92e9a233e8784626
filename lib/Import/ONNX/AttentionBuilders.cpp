//===- AttentionBuilders.cpp - Heads, KV caches and key masks -------------===//

#include "AttentionBuilders.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::hybrid::onnx_import;

FailureOr<Value> mlir::hybrid::onnx_import::splitHeads(NodeContext &nc,
                                                      Value x, int64_t heads) {
  // Every caller's operand, checked here (a 1-D key read past its shape,
  // hybrid-fuzz-onnx).
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() != 3)
    return nc.error() << "expects 3-D [batch, sequence, hidden] inputs, not "
                      << x.getType();
  int64_t hidden = type.getDimSize(2);
  if (ShapedType::isDynamic(hidden) || hidden % heads != 0)
    return nc.error() << "the hidden size " << hidden
                      << " is not a known multiple of " << heads << " heads";
  return toHeads(nc.b, nc.loc, x, heads);
}

Value mlir::hybrid::onnx_import::concatSequence(OpBuilder &b, Location loc, Value past, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  OpFoldResult pastLen = dimOf(b, loc, past, 2), newLen = dimOf(b, loc, x, 2);
  std::optional<int64_t> p = getConstantIntValue(pastLen),
                         n = getConstantIntValue(newLen);
  OpFoldResult total =
      p && n ? OpFoldResult(b.getIndexAttr(*p + *n))
             : OpFoldResult(arith::AddIOp::create(
                                b, loc, getValueOrCreateConstantIndexOp(b, loc, pastLen),
                                getValueOrCreateConstantIndexOp(b, loc, newLen))
                                .getResult());
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, x, 0), dimOf(b, loc, x, 1),
                                     total, dimOf(b, loc, x, 3)};
  Value out = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  SmallVector<OpFoldResult> zero(4, b.getIndexAttr(0)), one(4,
                                                           b.getIndexAttr(1));
  SmallVector<OpFoldResult> pastSizes = {dimOf(b, loc, past, 0),
                                         dimOf(b, loc, past, 1), pastLen,
                                         dimOf(b, loc, past, 3)};
  out = tensor::InsertSliceOp::create(b, loc, past, out, zero, pastSizes, one);
  SmallVector<OpFoldResult> at = {b.getIndexAttr(0), b.getIndexAttr(0),
                                  pastLen, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> newSizes = {dimOf(b, loc, x, 0),
                                        dimOf(b, loc, x, 1), newLen,
                                        dimOf(b, loc, x, 3)};
  return tensor::InsertSliceOp::create(b, loc, x, out, at, newSizes, one);
}

Value mlir::hybrid::onnx_import::structuralMask(OpBuilder &b, Location loc,
                                                Value q, Value k, Value user,
                                                const KeyLimits &limits) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto userType = user ? cast<RankedTensorType>(user.getType()) : nullptr;
  OpFoldResult heads = b.getIndexAttr(1);
  if (userType && userType.getRank() >= 3)
    heads = dimOf(b, loc, user, userType.getRank() - 3);
  Type element = qType.getElementType();
  Type i64 = b.getI64Type();
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, q, 0), heads,
                                     dimOf(b, loc, q, 2), dimOf(b, loc, k, 2)};
  auto toI64 = [&](OpBuilder &nb, Location l, Value index) {
    return arith::IndexCastOp::create(nb, l, i64, index).getResult();
  };
  // Scalars the body reads, made outside it.
  Value qLen = toI64(b, loc, getValueOrCreateConstantIndexOp(b, loc, sizes[2]));
  Value past = limits.past ? toI64(b, loc, limits.past) : Value();

  // (b, h, i, j) -> keyLen[b], pastLen[b]; the user mask's element,
  // right-aligned, size-1 dims broadcast.
  SmallVector<AffineMap> maps;
  SmallVector<Value> ins;
  auto perBatch = AffineMap::get(4, 0, {b.getAffineDimExpr(0)}, b.getContext());
  for (Value v : {limits.keyLen, limits.pastLen})
    if (v) {
      ins.push_back(v);
      maps.push_back(perBatch);
    }
  if (user) {
    SmallVector<AffineExpr> exprs;
    int64_t rank = userType.getRank();
    for (int64_t d = 0; d < rank; ++d)
      exprs.push_back(userType.getDimSize(d) == 1
                          ? b.getAffineConstantExpr(0)
                          : b.getAffineDimExpr(4 - rank + d));
    maps.push_back(AffineMap::get(4, 0, exprs, b.getContext()));
    ins.push_back(user);
  }
  maps.push_back(b.getMultiDimIdentityMap(4));
  Value init = emptyTensor(b, loc, sizes, element);
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        using P = arith::CmpIPredicate;
        auto constant = [&](int64_t v) {
          return arith::ConstantIntOp::create(nb, l, i64, v).getResult();
        };
        auto index = [&](int64_t d) {
          return toI64(nb, l, linalg::IndexOp::create(nb, l, d));
        };
        auto both = [&](Value a, Value c) {
          return arith::AndIOp::create(nb, l, a, c).getResult();
        };
        auto add = [&](Value a, Value c) {
          return arith::AddIOp::create(nb, l, a, c).getResult();
        };
        auto asI64 = [&](Value v) {
          return v.getType().isInteger(64)
                     ? v
                     : arith::ExtSIOp::create(nb, l, i64, v).getResult();
        };
        Value i = index(2), j = index(3);
        Value visible = arith::ConstantIntOp::create(nb, l, 1, 1);
        size_t arg = 0;
        Value pos = i;
        if (limits.keyLen) {
          Value len = asI64(args[arg++]);
          visible = both(visible, arith::CmpIOp::create(nb, l, P::slt, j, len));
          if (!limits.pastLen && !past)
            pos = add(i, arith::SubIOp::create(nb, l, len, qLen));
        }
        if (limits.pastLen)
          pos = add(i, args[arg++]);
        else if (past)
          pos = add(i, past);
        if (limits.causal)
          visible = both(visible, arith::CmpIOp::create(nb, l, P::sle, j, pos));
        if (limits.left >= 0)
          visible = both(visible,
                         arith::CmpIOp::create(
                             nb, l, P::sge, j,
                             arith::SubIOp::create(nb, l, pos,
                                                   constant(limits.left))));
        if (limits.right >= 0)
          visible = both(visible, arith::CmpIOp::create(
                                      nb, l, P::sle, j,
                                      add(pos, constant(limits.right))));
        Value bias =
            arith::ConstantOp::create(nb, l, FloatAttr::get(element, 0.0));
        Value negInf = arith::ConstantOp::create(
            nb, l,
            FloatAttr::get(element, -std::numeric_limits<double>::infinity()));
        if (user) {
          Value m = args[arg];
          if (m.getType().isInteger(1)) {
            visible = both(visible, m);
          } else {
            if (m.getType() != element)
              m = arith::ExtFOp::create(nb, l, element, m);
            bias = m;
          }
        }
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, visible, bias, negInf)});
      });
  return generic.getResult(0);
}
