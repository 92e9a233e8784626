//===- ReduceOps.cpp - ONNX reductions as linalg.reduce -------------------===//
//
// ReduceSum/Mean/Max/Min: one linalg.reduce over the axes from a filled
// init (the form hybrid-raise-norm-and-rotary recognises in an RMSNorm
// spelled out), a division by the element count for the mean, and the
// reduced dims re-inserted as unit dims under keepdims.
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

enum class Kind { Sum, Mean, Max, Min };

Converter reduction(Kind kind, int64_t axesInputSince) {
  return [kind, axesInputSince](NodeContext &nc) -> FailureOr<SmallVector<Value>> {
    OpBuilder &b = nc.b;
    Location loc = nc.loc;
    Value x = nc.input(0);
    auto type = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
    if (!type || !isa<FloatType>(type.getElementType()))
      return nc.error() << "expects a float tensor";
    int64_t rank = type.getRank();
    std::optional<SmallVector<int64_t>> axes;
    if (nc.version >= axesInputSince) {
      if (nc.input(1))
        axes = nc.constantInts(1);
      else
        axes = SmallVector<int64_t>{};
      if (!axes)
        return nc.error() << "axes computed at run time are not supported";
    } else {
      axes = nc.intsAttr("axes").value_or(SmallVector<int64_t>{});
    }
    if (axes->empty()) {
      if (nc.intAttr("noop_with_empty_axes").value_or(0))
        return SmallVector<Value>{x};
      for (int64_t d = 0; d < rank; ++d)
        axes->push_back(d);
    }
    SmallVector<int64_t> dims;
    for (int64_t a : *axes) {
      if (a < -rank || a >= rank)
        return nc.error() << "axis " << a << " is out of range";
      int64_t d = a < 0 ? a + rank : a;
      if (!llvm::is_contained(dims, d))
        dims.push_back(d);
    }
    llvm::sort(dims);
    Type element = type.getElementType();
    SmallVector<OpFoldResult> kept;
    for (int64_t d = 0; d < rank; ++d)
      if (!llvm::is_contained(dims, d))
        kept.push_back(dimOf(b, loc, x, d));
    Value result = onnx_import::reduce(
        b, loc, x, dims,
        kind == Kind::Max   ? Reduction::Max
        : kind == Kind::Min ? Reduction::Min
                            : Reduction::Sum);
    if (kind == Kind::Mean) {
      // The count, a splat constant when static.
      int64_t count = 1;
      bool isStatic = true;
      for (int64_t d : dims) {
        isStatic &= !type.isDynamicDim(d);
        if (!type.isDynamicDim(d))
          count *= type.getDimSize(d);
      }
      Value divisor;
      if (isStatic) {
        divisor = splat(b, loc, kept,
                        FloatAttr::get(element, static_cast<double>(count)));
      } else {
        Value n = arith::ConstantIndexOp::create(b, loc, 1);
        for (int64_t d : dims)
          n = arith::MulIOp::create(b, loc, n,
                                    tensor::DimOp::create(b, loc, x, d));
        Value f = arith::SIToFPOp::create(
            b, loc, element,
            arith::IndexCastOp::create(b, loc, b.getI64Type(), n));
        divisor = linalg::FillOp::create(b, loc, f,
                                         emptyTensor(b, loc, kept, element))
                      .getResult(0);
      }
      result = arith::DivFOp::create(b, loc, result, divisor);
    }
    if (nc.intAttr("keepdims").value_or(1))
      result = insertUnitDims(b, loc, result, dims);
    return SmallVector<Value>{result};
  };
}

} // namespace

void mlir::hybrid::onnx_import::addReduceOps(SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "ReduceSum", 13, 25, reduction(Kind::Sum, 13)});
  table.push_back({"", "ReduceMean", 13, 25, reduction(Kind::Mean, 18)});
  table.push_back({"", "ReduceMax", 13, 25, reduction(Kind::Max, 18)});
  table.push_back({"", "ReduceMin", 13, 25, reduction(Kind::Min, 18)});
}
