//===- SoftmaxOps.cpp - ONNX Softmax and LogSoftmax -----------------------===//

#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

/// Softmax-13: linalg.softmax over one axis (what hybrid-raise-attention
/// looks for; hybrid-decompose-softmax lowers the ones left).
FailureOr<SmallVector<Value>> softmax(NodeContext &nc) {
  Value x = nc.input(0);
  auto type = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
  if (!type || !isa<FloatType>(type.getElementType()))
    return nc.error() << "expects a float tensor";
  int64_t rank = type.getRank();
  int64_t axis = nc.intAttr("axis").value_or(-1);
  if (axis < -rank || axis >= rank)
    return nc.error() << "axis " << axis << " is out of range for rank "
                      << rank;
  if (axis < 0)
    axis += rank;
  Value init = emptyTensor(nc.b, nc.loc, sizesOf(nc.b, nc.loc, x),
                           type.getElementType());
  return SmallVector<Value>{
      linalg::SoftmaxOp::create(nc.b, nc.loc, type, x, init, axis)
          .getResult()[0]};
}

/// LogSoftmax-13: x - max - log(sum(exp(x - max))) over one axis (not
/// log(softmax), which loses rows whose probabilities underflow).
FailureOr<SmallVector<Value>> logSoftmax(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value x = nc.input(0);
  auto type = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
  if (!type || !isa<FloatType>(type.getElementType()))
    return nc.error() << "expects a float tensor";
  int64_t rank = type.getRank();
  int64_t axis = nc.intAttr("axis").value_or(-1);
  if (axis < -rank || axis >= rank)
    return nc.error() << "axis " << axis << " is out of range for rank "
                      << rank;
  if (axis < 0)
    axis += rank;
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
  auto back = [&](Value row) {
    return broadcastTo(b, loc, insertUnitDims(b, loc, row, {axis}), sizes);
  };
  Value shifted = arith::SubFOp::create(
      b, loc, x, back(reduce(b, loc, x, {axis}, Reduction::Max)));
  Value sum = reduce(b, loc, math::ExpOp::create(b, loc, shifted), {axis},
                     Reduction::Sum);
  return SmallVector<Value>{arith::SubFOp::create(
      b, loc, shifted, back(math::LogOp::create(b, loc, sum)))};
}

} // namespace

void mlir::hybrid::onnx_import::addSoftmaxOps(SmallVectorImpl<OpEntry> &table) {
  // Softmax-1/11 flatten to 2-D around the axis: a different op, not yet.
  table.push_back({"", "Softmax", 13, 25, softmax});
  table.push_back({"", "LogSoftmax", 13, 25, logSoftmax});
}
