//===- MatMulOps.cpp - ONNX MatMul as linalg products ---------------------===//
//
// MatMul-13 multiplies the last two dims, batching over the others. The
// shapes decoders use map onto upstream's named products, which the tiled
// stage lowers: activations [..., M, K] times a weight [K, N] fold their
// leading dims into M (one linalg.matmul), and equal batch dims on both
// sides fold into one batch (linalg.batch_matmul). f16/bf16 accumulate in
// f32 and round once.
//
//===----------------------------------------------------------------------===//

#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

/// Folds the leading `merged` dims of `x` into one: [a, b, K] -> [a*b, K].
Value collapseLeading(OpBuilder &b, Location loc, Value x, int64_t merged) {
  auto type = cast<RankedTensorType>(x.getType());
  if (merged == 1)
    return x;
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < merged; ++d)
    groups[0].push_back(d);
  for (int64_t d = merged; d < type.getRank(); ++d)
    groups.push_back({d});
  return tensor::CollapseShapeOp::create(b, loc, x, groups);
}

/// The inverse of collapseLeading, with the leading sizes taken from
/// `like` (dims [0, merged)) and the rest from `x`.
Value expandLeading(OpBuilder &b, Location loc, Value x, Value like,
                    int64_t merged) {
  if (merged == 1)
    return x;
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, like);
  sizes.resize(merged);
  SmallVector<OpFoldResult> rest = sizesOf(b, loc, x);
  sizes.append(rest.begin() + 1, rest.end());
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < merged; ++d)
    groups[0].push_back(d);
  for (int64_t d = merged; d < static_cast<int64_t>(sizes.size()); ++d)
    groups.push_back({d});
  return expandGroups(b, loc, x, groups, sizes);
}

/// A zero f32 (or f64) accumulator of `sizes`.
Value zeros(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
            Type element) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, element);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(element));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

FailureOr<SmallVector<Value>> matmul(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value a = nc.input(0), w = nc.input(1);
  auto aType = a ? dyn_cast<RankedTensorType>(a.getType()) : nullptr;
  auto wType = w ? dyn_cast<RankedTensorType>(w.getType()) : nullptr;
  if (!aType || !wType)
    return nc.error() << "expects two ranked tensors";
  Type element = aType.getElementType();
  if (element != wType.getElementType() || !isa<FloatType>(element))
    return nc.error() << "expects two float tensors of one type, not "
                      << aType << " and " << wType;
  int64_t rankA = aType.getRank(), rankW = wType.getRank();
  if (rankA < 2 || rankW < 2)
    return nc.error() << "1-D operands (vector products) are not supported "
                         "yet";
  int64_t kA = aType.getDimSize(rankA - 1), kW = wType.getDimSize(rankW - 2);
  if (!ShapedType::isDynamic(kA) && !ShapedType::isDynamic(kW) && kA != kW)
    return nc.error() << "inner dims differ: " << aType << " x " << wType;
  Type acc = element.isF64() ? element : b.getF32Type();

  Value product;
  if (rankW == 2) {
    // [..., M, K] x [K, N]: one matrix product over all rows.
    Value rows = collapseLeading(b, loc, a, rankA - 1);
    SmallVector<OpFoldResult> sizes = {
        dimOf(b, loc, rows, 0), dimOf(b, loc, w, 1)};
    Value init = zeros(b, loc, sizes, acc);
    product = linalg::MatmulOp::create(b, loc, ValueRange{rows, w},
                                       ValueRange{init})
                  .getResult(0);
    product = expandLeading(b, loc, product, a, rankA - 1);
  } else {
    // Batch dims broadcast (numpy rules) to one shape, then one batched
    // product. A dynamic dim is taken to be the size, not a 1.
    int64_t batchRank = std::max(rankA, rankW) - 2;
    SmallVector<OpFoldResult> batch;
    for (int64_t d = 0; d < batchRank; ++d) {
      int64_t da = d - (batchRank - (rankA - 2)),
              dw = d - (batchRank - (rankW - 2));
      int64_t sa = da >= 0 ? aType.getDimSize(da) : 1,
              sw = dw >= 0 ? wType.getDimSize(dw) : 1;
      if (sa != 1 && sw != 1 && !ShapedType::isDynamic(sa) &&
          !ShapedType::isDynamic(sw) && sa != sw)
        return nc.error() << "batch dims do not broadcast: " << aType << " x "
                          << wType;
      if (!ShapedType::isDynamic(sa) && sa != 1)
        batch.push_back(b.getIndexAttr(sa));
      else if (!ShapedType::isDynamic(sw) && sw != 1)
        batch.push_back(b.getIndexAttr(sw));
      else if (ShapedType::isDynamic(sa))
        batch.push_back(dimOf(b, loc, a, da));
      else if (ShapedType::isDynamic(sw))
        batch.push_back(dimOf(b, loc, w, dw));
      else
        batch.push_back(b.getIndexAttr(1));
    }
    auto withBatch = [&](Value v) {
      SmallVector<OpFoldResult> sizes(batch);
      int64_t r = cast<RankedTensorType>(v.getType()).getRank();
      sizes.push_back(dimOf(b, loc, v, r - 2));
      sizes.push_back(dimOf(b, loc, v, r - 1));
      return broadcastTo(b, loc, v, sizes);
    };
    a = withBatch(a);
    w = withBatch(w);
    rankA = rankW = batchRank + 2;
    Value lhs = collapseLeading(b, loc, a, rankA - 2);
    Value rhs = collapseLeading(b, loc, w, rankW - 2);
    SmallVector<OpFoldResult> l = sizesOf(b, loc, lhs), r = sizesOf(b, loc, rhs);
    Value init = zeros(b, loc, {l[0], l[1], r[2]}, acc);
    product = linalg::BatchMatmulOp::create(b, loc, ValueRange{lhs, rhs},
                                            ValueRange{init})
                  .getResult(0);
    // [batch, M, N] back to the batch dims.
    if (rankA > 3) {
      SmallVector<OpFoldResult> sizes = sizesOf(b, loc, a);
      sizes[rankA - 2] = l[1];
      sizes[rankA - 1] = r[2];
      SmallVector<ReassociationIndices> groups(1);
      for (int64_t d = 0; d < rankA - 2; ++d)
        groups[0].push_back(d);
      groups.push_back({rankA - 2});
      groups.push_back({rankA - 1});
      product = expandGroups(b, loc, product, groups, sizes);
    }
  }
  if (acc != element) {
    auto type = cast<RankedTensorType>(product.getType());
    product = arith::TruncFOp::create(b, loc, type.clone(element), product);
  }
  return SmallVector<Value>{product};
}

/// Gemm-13: alpha * A' B' + beta * C, with A' and B' transposed on request.
FailureOr<SmallVector<Value>> gemm(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value a = nc.input(0), w = nc.input(1), c = nc.input(2);
  auto aType = a ? dyn_cast<RankedTensorType>(a.getType()) : nullptr;
  auto wType = w ? dyn_cast<RankedTensorType>(w.getType()) : nullptr;
  if (!aType || !wType || aType.getRank() != 2 || wType.getRank() != 2 ||
      aType.getElementType() != wType.getElementType() ||
      !aType.getElementType().isF32())
    return nc.error() << "expects two f32 matrices";
  auto transpose = [&](Value m) {
    SmallVector<OpFoldResult> sizes = {dimOf(b, loc, m, 1), dimOf(b, loc, m, 0)};
    Value init = emptyTensor(b, loc, sizes, aType.getElementType());
    return linalg::TransposeOp::create(b, loc, m, init, ArrayRef<int64_t>{1, 0})
        .getResult()[0];
  };
  if (nc.intAttr("transA").value_or(0))
    a = transpose(a);
  if (nc.intAttr("transB").value_or(0))
    w = transpose(w);
  Type f32 = b.getF32Type();
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, a, 0), dimOf(b, loc, w, 1)};
  Value y = linalg::MatmulOp::create(b, loc, ValueRange{a, w},
                                     ValueRange{zeros(b, loc, sizes, f32)})
                .getResult(0);
  float alpha = nc.floatAttr("alpha").value_or(1.0f),
        beta = nc.floatAttr("beta").value_or(1.0f);
  if (alpha != 1.0f)
    y = arith::MulFOp::create(b, loc, y,
                              splat(b, loc, sizes, b.getF32FloatAttr(alpha)));
  if (c && beta != 0.0f) {
    Value bias = broadcastTo(b, loc, c, sizes);
    if (beta != 1.0f)
      bias = arith::MulFOp::create(
          b, loc, bias, splat(b, loc, sizes, b.getF32FloatAttr(beta)));
    y = arith::AddFOp::create(b, loc, y, bias);
  }
  return SmallVector<Value>{y};
}

} // namespace

void mlir::hybrid::onnx_import::addMatMulOps(SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "MatMul", 13, 25, matmul});
  table.push_back({"", "Gemm", 13, 25, gemm});
}
