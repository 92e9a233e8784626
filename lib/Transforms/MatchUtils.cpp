//===- MatchUtils.cpp - Shared matchers of the raising patterns -----------===//

#include "MatchUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

std::optional<double> mlir::hybrid::matchSplat(Value v) {
  DenseFPElementsAttr splat;
  if (matchPattern(v, m_Constant(&splat)) && splat.isSplat())
    return splat.getSplatValue<APFloat>().convertToDouble();
  if (auto fill = v.getDefiningOp<linalg::FillOp>()) {
    FloatAttr scalar;
    if (matchPattern(fill.getInputs()[0], m_Constant(&scalar)))
      return scalar.getValueAsDouble();
  }
  return std::nullopt;
}

/// The sizes of a shape other than its static 1s.
static SmallVector<int64_t> nonUnit(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> kept;
  for (int64_t d : shape)
    if (d != 1)
      kept.push_back(d);
  return kept;
}

Value mlir::hybrid::stripUnitReshapes(Value v) {
  while (true) {
    Value src;
    if (auto c = v.getDefiningOp<tensor::CollapseShapeOp>())
      src = c.getSrc();
    else if (auto e = v.getDefiningOp<tensor::ExpandShapeOp>())
      src = e.getSrc();
    if (!src)
      return v;
    auto from = cast<RankedTensorType>(src.getType());
    auto to = cast<RankedTensorType>(v.getType());
    if (nonUnit(from.getShape()) != nonUnit(to.getShape()))
      return v;
    v = src;
  }
}
