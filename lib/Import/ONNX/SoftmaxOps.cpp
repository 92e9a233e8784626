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

  auto filled = [&](double v) {
    Value init = emptyLike(b, loc, x, kept, element);
    Value c = arith::ConstantOp::create(b, loc, FloatAttr::get(element, v));
    return linalg::FillOp::create(b, loc, c, init).getResult(0);
  };
  // max over the axis
  Value lowest = filled(-std::numeric_limits<double>::infinity());
  Value max =
      linalg::GenericOp::create(
          b, loc, TypeRange{lowest.getType()}, ValueRange{x},
          ValueRange{lowest},
          ArrayRef<AffineMap>{identity, reduced}, reduceIters,
          [](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::MaximumFOp::create(nb, l, args[0], args[1])});
          })
          .getResult(0);
  // e = exp(x - max), and its sum over the axis
  Value e = linalg::GenericOp::create(
                b, loc, TypeRange{type}, ValueRange{x, max},
                ValueRange{emptyLike(b, loc, x, all, element)},
                ArrayRef<AffineMap>{identity, reduced, identity},
                parallelIters,
                [](OpBuilder &nb, Location l, ValueRange args) {
                  Value d = arith::SubFOp::create(nb, l, args[0], args[1]);
                  linalg::YieldOp::create(
                      nb, l, ValueRange{math::ExpOp::create(nb, l, d)});
                })
                .getResult(0);
  Value zeros = filled(0.0);
  Value sum = linalg::GenericOp::create(
                  b, loc, TypeRange{zeros.getType()}, ValueRange{e},
                  ValueRange{zeros}, ArrayRef<AffineMap>{identity, reduced},
                  reduceIters,
                  [](OpBuilder &nb, Location l, ValueRange args) {
                    linalg::YieldOp::create(
                        nb, l,
                        ValueRange{arith::AddFOp::create(nb, l, args[0],
                                                         args[1])});
                  })
                  .getResult(0);
  Value y = linalg::GenericOp::create(
                b, loc, TypeRange{type}, ValueRange{e, sum},
                ValueRange{emptyLike(b, loc, x, all, element)},
                ArrayRef<AffineMap>{identity, reduced, identity},
                parallelIters,
                [](OpBuilder &nb, Location l, ValueRange args) {
                  linalg::YieldOp::create(
                      nb, l,
                      ValueRange{arith::DivFOp::create(nb, l, args[0],
                                                       args[1])});
                })
                .getResult(0);
  return SmallVector<Value>{y};
}

} // namespace

void mlir::hybrid::onnx_import::addSoftmaxOps(SmallVectorImpl<OpEntry> &table) {
  // Softmax-1/11 flatten to 2-D around the axis: a different op, not yet.
  table.push_back({"", "Softmax", 13, 25, softmax});
}
