//===- SoftmaxOps.cpp - ONNX Softmax as linalg reductions -----------------===//

#include "OpTable.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

/// An empty tensor of `shape` with `x`'s sizes for the kept dims.
Value emptyLike(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> dims,
                Type element) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape;
  SmallVector<Value> dynamic;
  for (int64_t d : dims) {
    shape.push_back(type.getDimSize(d));
    if (type.isDynamicDim(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, d));
  }
  return tensor::EmptyOp::create(b, loc, shape, element, dynamic);
}

/// Softmax-13: exp(x - max) / sum over one axis, as three linalg.generic
/// ops (max, exp and sum, divide) that lower through upstream's loops.
FailureOr<SmallVector<Value>> softmax(NodeContext &nc) {
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
  Type element = type.getElementType();

  SmallVector<int64_t> all, kept;
  SmallVector<AffineExpr> keptExprs;
  for (int64_t d = 0; d < rank; ++d) {
    all.push_back(d);
    if (d != axis) {
      kept.push_back(d);
      keptExprs.push_back(b.getAffineDimExpr(d));
    }
  }
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap reduced = AffineMap::get(rank, 0, keptExprs, b.getContext());
  SmallVector<utils::IteratorType> reduceIters(rank,
                                               utils::IteratorType::parallel);
  reduceIters[axis] = utils::IteratorType::reduction;
  SmallVector<utils::IteratorType> parallelIters(
      rank, utils::IteratorType::parallel);

  using Combine = function_ref<Value(OpBuilder &, Location, Value, Value)>;
  // fold(src) over the axis, starting from `init` everywhere.
  auto reduce = [&](Value src, double init, Combine combine) {
    Value empty = emptyLike(b, loc, x, kept, element);
    Value c = arith::ConstantOp::create(b, loc, FloatAttr::get(element, init));
    Value acc = linalg::FillOp::create(b, loc, c, empty).getResult(0);
    return linalg::GenericOp::create(
               b, loc, TypeRange{acc.getType()}, ValueRange{src},
               ValueRange{acc}, ArrayRef<AffineMap>{identity, reduced},
               reduceIters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, l, ValueRange{combine(nb, l, args[0], args[1])});
               })
        .getResult(0);
  };
  // f(full[i], perRow[i without the axis]) for every element.
  auto map = [&](Value full, Value perRow, Combine f) {
    return linalg::GenericOp::create(
               b, loc, TypeRange{type}, ValueRange{full, perRow},
               ValueRange{emptyLike(b, loc, x, all, element)},
               ArrayRef<AffineMap>{identity, reduced, identity}, parallelIters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, l, ValueRange{f(nb, l, args[0], args[1])});
               })
        .getResult(0);
  };
  Value max = reduce(x, -std::numeric_limits<double>::infinity(),
                     [](OpBuilder &nb, Location l, Value a, Value m) -> Value {
                       return arith::MaximumFOp::create(nb, l, a, m);
                     });
  Value e = map(x, max, [](OpBuilder &nb, Location l, Value v, Value m) -> Value {
    return math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, v, m));
  });
  Value sum = reduce(e, 0.0,
                     [](OpBuilder &nb, Location l, Value a, Value s) -> Value {
                       return arith::AddFOp::create(nb, l, a, s);
                     });
  Value y = map(e, sum, [](OpBuilder &nb, Location l, Value v, Value s) -> Value {
    return arith::DivFOp::create(nb, l, v, s);
  });
  return SmallVector<Value>{y};
}

} // namespace

void mlir::hybrid::onnx_import::addSoftmaxOps(SmallVectorImpl<OpEntry> &table) {
  // Softmax-1/11 flatten to 2-D around the axis: a different op, not yet.
  table.push_back({"", "Softmax", 13, 25, softmax});
}
