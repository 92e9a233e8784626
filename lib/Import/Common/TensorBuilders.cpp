//===- TensorBuilders.cpp - Shapes, broadcasts and splats for converters --===//

#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/Matchers.h"

#include <limits>

using namespace mlir;
using namespace mlir::hybrid::import;

OpFoldResult mlir::hybrid::import::dimOf(OpBuilder &b, Location loc,
                                              Value t, int64_t d) {
  auto type = cast<RankedTensorType>(t.getType());
  if (!type.isDynamicDim(d))
    return b.getIndexAttr(type.getDimSize(d));
  return tensor::DimOp::create(b, loc, t, d).getResult();
}

SmallVector<OpFoldResult>
mlir::hybrid::import::sizesOf(OpBuilder &b, Location loc, Value t) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0, e = cast<RankedTensorType>(t.getType()).getRank(); d < e;
       ++d)
    sizes.push_back(dimOf(b, loc, t, d));
  return sizes;
}

SmallVector<int64_t>
mlir::hybrid::import::staticShape(ArrayRef<OpFoldResult> sizes) {
  SmallVector<int64_t> shape;
  for (OpFoldResult s : sizes) {
    std::optional<int64_t> c = getConstantIntValue(s);
    shape.push_back(c ? *c : ShapedType::kDynamic);
  }
  return shape;
}

Value mlir::hybrid::import::emptyTensor(OpBuilder &b, Location loc,
                                             ArrayRef<OpFoldResult> sizes,
                                             Type element) {
  return tensor::EmptyOp::create(b, loc, sizes, element);
}

Value mlir::hybrid::import::splat(OpBuilder &b, Location loc,
                                       ArrayRef<OpFoldResult> sizes,
                                       TypedAttr scalar) {
  SmallVector<int64_t> shape = staticShape(sizes);
  auto type = RankedTensorType::get(shape, scalar.getType());
  if (type.hasStaticShape())
    return arith::ConstantOp::create(b, loc,
                                     SplatElementsAttr::get(type, scalar));
  Value c = arith::ConstantOp::create(b, loc, scalar);
  return linalg::FillOp::create(b, loc, c,
                                emptyTensor(b, loc, sizes, scalar.getType()))
      .getResult(0);
}

std::optional<TypedAttr> mlir::hybrid::import::splatConstant(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<TypedAttr>();
}

FailureOr<SmallVector<OpFoldResult>> mlir::hybrid::import::broadcastShape(
    OpBuilder &b, Location loc, ArrayRef<Value> operands,
    function_ref<InFlightDiagnostic()> error) {
  int64_t rank = 0;
  for (Value v : operands)
    rank = std::max(rank, cast<RankedTensorType>(v.getType()).getRank());
  SmallVector<OpFoldResult> sizes(rank, b.getIndexAttr(1));
  for (int64_t d = 0; d < rank; ++d) {
    std::optional<int64_t> fixed;
    Value dynamicFrom;
    int64_t dynamicDim = 0;
    for (Value v : operands) {
      auto type = cast<RankedTensorType>(v.getType());
      int64_t vd = d - (rank - type.getRank());
      if (vd < 0)
        continue;
      int64_t size = type.getDimSize(vd);
      if (ShapedType::isDynamic(size)) {
        if (!dynamicFrom) {
          dynamicFrom = v;
          dynamicDim = vd;
        }
        continue;
      }
      if (size == 1)
        continue;
      if (fixed && *fixed != size) {
        error() << "shapes do not broadcast: dim " << d << " is " << *fixed
                << " and " << size;
        return failure();
      }
      fixed = size;
    }
    if (fixed)
      sizes[d] = b.getIndexAttr(*fixed);
    else if (dynamicFrom)
      sizes[d] = tensor::DimOp::create(b, loc, dynamicFrom, dynamicDim)
                     .getResult();
  }
  return sizes;
}

Value mlir::hybrid::import::dropUnitDims(OpBuilder &b, Location loc,
                                              Value x, ArrayRef<int64_t> dims) {
  if (dims.empty())
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<ReassociationIndices> groups;
  SmallVector<int64_t> pending; // dropped dims before the first kept one
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (llvm::is_contained(dims, d)) {
      if (groups.empty())
        pending.push_back(d);
      else
        groups.back().push_back(d);
      continue;
    }
    groups.emplace_back(pending.begin(), pending.end());
    pending.clear();
    groups.back().push_back(d);
    shape.push_back(type.getDimSize(d));
  }
  auto result = RankedTensorType::get(shape, type.getElementType());
  return tensor::CollapseShapeOp::create(b, loc, result, x, groups);
}

Value mlir::hybrid::import::insertUnitDims(OpBuilder &b, Location loc,
                                                Value x,
                                                ArrayRef<int64_t> dims) {
  if (dims.empty())
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank() + dims.size();
  SmallVector<int64_t> shape;
  SmallVector<OpFoldResult> sizes;
  SmallVector<ReassociationIndices> groups;
  SmallVector<int64_t> pending;
  int64_t src = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (llvm::is_contained(dims, d)) {
      shape.push_back(1);
      sizes.push_back(b.getIndexAttr(1));
      if (groups.empty())
        pending.push_back(d);
      else
        groups.back().push_back(d);
      continue;
    }
    groups.emplace_back(pending.begin(), pending.end());
    pending.clear();
    groups.back().push_back(d);
    shape.push_back(type.getDimSize(src));
    sizes.push_back(dimOf(b, loc, x, src));
    ++src;
  }
  auto result = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, result, x, groups, sizes);
}

Value mlir::hybrid::import::broadcastTo(OpBuilder &b, Location loc,
                                             Value x,
                                             ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = sizes.size(), lead = rank - type.getRank();
  SmallVector<int64_t> target = staticShape(sizes);
  // Dims of x that expand from 1, and dims of the result x lacks.
  SmallVector<int64_t> expanding, added;
  for (int64_t d = 0; d < lead; ++d)
    added.push_back(d);
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.getDimSize(d) == 1 && target[lead + d] != 1) {
      expanding.push_back(d);
      added.push_back(lead + d);
    }
  if (added.empty())
    return x;
  Value kept = dropUnitDims(b, loc, x, expanding);
  Value init = emptyTensor(b, loc, sizes, type.getElementType());
  llvm::sort(added);
  return linalg::BroadcastOp::create(b, loc, kept, init, added).getResult()[0];
}

/// Whether every group holds at most one dynamic size of `shape`.
static bool oneDynamicPerGroup(ArrayRef<ReassociationIndices> groups,
                               ArrayRef<int64_t> shape) {
  for (const ReassociationIndices &g : groups)
    if (llvm::count_if(g, [&](int64_t d) {
          return ShapedType::isDynamic(shape[d]);
        }) > 1)
      return false;
  return true;
}

/// A tensor.reshape of `x` to `sizes` through a shape tensor.
static Value reshapeThroughShape(OpBuilder &b, Location loc, Value x,
                                 ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> dims;
  for (OpFoldResult s : sizes)
    dims.push_back(getValueOrCreateConstantIndexOp(b, loc, s));
  Value shape = tensor::FromElementsOp::create(b, loc, dims);
  auto result =
      RankedTensorType::get(staticShape(sizes), type.getElementType());
  return tensor::ReshapeOp::create(b, loc, result, x, shape);
}

Value mlir::hybrid::import::expandGroups(
    OpBuilder &b, Location loc, Value x, ArrayRef<ReassociationIndices> groups,
    ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> target = staticShape(sizes);
  if (!oneDynamicPerGroup(groups, target))
    return reshapeThroughShape(b, loc, x, sizes);
  auto result = RankedTensorType::get(target, type.getElementType());
  return tensor::ExpandShapeOp::create(b, loc, result, x, groups, sizes);
}

Value mlir::hybrid::import::reshapeTo(OpBuilder &b, Location loc, Value x,
                                          ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> target = staticShape(sizes);
  auto result = RankedTensorType::get(target, type.getElementType());
  ArrayRef<int64_t> source = type.getShape();
  if (source == ArrayRef<int64_t>(target) &&
      llvm::count(target, ShapedType::kDynamic) == 0)
    return x;
  if (target.size() < source.size()) {
    std::optional<SmallVector<ReassociationIndices>> groups =
        getReassociationIndicesForCollapse(source, target);
    if (groups && oneDynamicPerGroup(*groups, source))
      return tensor::CollapseShapeOp::create(b, loc, result, x, *groups);
  } else if (target.size() > source.size()) {
    std::optional<SmallVector<ReassociationIndices>> groups =
        getReassociationIndicesForCollapse(target, source);
    if (groups && oneDynamicPerGroup(*groups, target))
      return tensor::ExpandShapeOp::create(b, loc, result, x, *groups, sizes);
  }
  return reshapeThroughShape(b, loc, x, sizes);
}

Value mlir::hybrid::import::reduce(OpBuilder &b, Location loc, Value x,
                                        ArrayRef<int64_t> dims,
                                        Reduction kind) {
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  SmallVector<OpFoldResult> kept;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (!llvm::is_contained(dims, d))
      kept.push_back(dimOf(b, loc, x, d));
  double start = kind == Reduction::Max   ? -std::numeric_limits<double>::infinity()
                 : kind == Reduction::Min ? std::numeric_limits<double>::infinity()
                                          : 0.0;
  Value init = splat(b, loc, kept, FloatAttr::get(element, start));
  return linalg::ReduceOp::create(
             b, loc, ValueRange{x}, ValueRange{init}, dims,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value r;
               if (kind == Reduction::Max)
                 r = arith::MaximumFOp::create(nb, l, args[0], args[1]);
               else if (kind == Reduction::Min)
                 r = arith::MinimumFOp::create(nb, l, args[0], args[1]);
               else
                 r = arith::AddFOp::create(nb, l, args[0], args[1]);
               linalg::YieldOp::create(nb, l, r);
             })
      .getResult(0);
}

Value mlir::hybrid::import::castElements(OpBuilder &b, Location loc,
                                              Value x, Type element) {
  auto type = cast<RankedTensorType>(x.getType());
  Type from = type.getElementType();
  if (from == element)
    return x;
  auto result = type.clone(element);
  if (element.isInteger(1)) {
    // != 0, like ONNX's Cast to bool.
    TypedAttr zero = b.getZeroAttr(from);
    Value zeros = splat(b, loc, sizesOf(b, loc, x), zero);
    if (isa<FloatType>(from))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x, zeros);
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, zeros);
  }
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(element);
  if (fromFloat && toFloat)
    return from.getIntOrFloatBitWidth() < element.getIntOrFloatBitWidth()
               ? arith::ExtFOp::create(b, loc, result, x).getResult()
               : arith::TruncFOp::create(b, loc, result, x).getResult();
  if (fromFloat)
    return arith::FPToSIOp::create(b, loc, result, x);
  if (toFloat)
    return from.isInteger(1)
               ? arith::UIToFPOp::create(b, loc, result, x).getResult()
               : arith::SIToFPOp::create(b, loc, result, x).getResult();
  if (from.getIntOrFloatBitWidth() < element.getIntOrFloatBitWidth())
    return from.isInteger(1)
               ? arith::ExtUIOp::create(b, loc, result, x).getResult()
               : arith::ExtSIOp::create(b, loc, result, x).getResult();
  return arith::TruncIOp::create(b, loc, result, x);
}

Value mlir::hybrid::import::allInRange(OpBuilder &b, Location loc, Value ints,
                                       Value lo, Value hi) {
  auto inRange = [&](OpBuilder &nb, Location l, Value i) -> Value {
    using P = arith::CmpIPredicate;
    return arith::AndIOp::create(nb, l,
                                 arith::CmpIOp::create(nb, l, P::sge, i, lo),
                                 arith::CmpIOp::create(nb, l, P::slt, i, hi));
  };
  auto type = cast<RankedTensorType>(ints.getType());
  if (type.getRank() == 0)
    return inRange(b, loc,
                   tensor::ExtractOp::create(b, loc, ints, ValueRange{}));
  Value yes = arith::ConstantIntOp::create(b, loc, 1, 1);
  Value init =
      linalg::FillOp::create(
          b, loc, yes,
          tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, b.getI1Type())
              .getResult())
          .getResult(0);
  SmallVector<int64_t> dims;
  for (int64_t d = 0; d < type.getRank(); ++d)
    dims.push_back(d);
  Value all = linalg::ReduceOp::create(
                  b, loc, ValueRange{ints}, ValueRange{init}, dims,
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    linalg::YieldOp::create(
                        nb, l,
                        ValueRange{arith::AndIOp::create(
                            nb, l, inRange(nb, l, args[0]), args[1])});
                  })
                  .getResult(0);
  return tensor::ExtractOp::create(b, loc, all, ValueRange{});
}

Value mlir::hybrid::import::toHeads(OpBuilder &b, Location loc, Value x,
                                    int64_t heads) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t d = type.getDimSize(2) / heads;
  OpFoldResult batch = dimOf(b, loc, x, 0), seq = dimOf(b, loc, x, 1);
  Value split = expandGroups(
      b, loc, x, {{0}, {1}, {2, 3}},
      {batch, seq, b.getIndexAttr(heads), b.getIndexAttr(d)});
  Value init = emptyTensor(
      b, loc, {batch, b.getIndexAttr(heads), seq, b.getIndexAttr(d)},
      type.getElementType());
  return linalg::TransposeOp::create(b, loc, split, init,
                                     ArrayRef<int64_t>{0, 2, 1, 3})
      .getResult()[0];
}

Value mlir::hybrid::import::fromHeads(OpBuilder &b, Location loc, Value y) {
  auto type = cast<RankedTensorType>(y.getType());
  Value init = emptyTensor(b, loc,
                           {dimOf(b, loc, y, 0), dimOf(b, loc, y, 2),
                            dimOf(b, loc, y, 1), dimOf(b, loc, y, 3)},
                           type.getElementType());
  Value t = linalg::TransposeOp::create(b, loc, y, init,
                                        ArrayRef<int64_t>{0, 2, 1, 3})
                .getResult()[0];
  return tensor::CollapseShapeOp::create(
      b, loc, t, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

Value mlir::hybrid::import::extractIf(OpBuilder &b, Location loc, Value cond,
                                      Value tensor, ValueRange at,
                                      Value otherwise) {
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{otherwise.getType()}, cond,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(b, loc,
                       tensor::ExtractOp::create(b, loc, tensor, at).getResult());
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(b, loc, otherwise);
  return ifOp.getResult(0);
}

Value mlir::hybrid::import::positionsFrom(OpBuilder &b, Location loc,
                                          Value start,
                                          ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(start.getType());
  Type element = type.getElementType();
  Value init = emptyTensor(b, loc, sizes, element);
  // One start broadcasts to every batch entry.
  AffineExpr batch = type.getDimSize(0) == 1 ? b.getAffineConstantExpr(0)
                                             : b.getAffineDimExpr(0);
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {batch}, b.getContext()),
                                 b.getMultiDimIdentityMap(2)};
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{start},
             ValueRange{init}, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value s = arith::IndexCastOp::create(
                   nb, l, element, linalg::IndexOp::create(nb, l, 1));
               linalg::YieldOp::create(
                   nb, l, ValueRange{arith::AddIOp::create(nb, l, args[0], s)});
             })
      .getResult(0);
}
