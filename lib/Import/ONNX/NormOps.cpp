//===- NormOps.cpp - ONNX normalisations ----------------------------------===//

#include "OpTable.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

/// RMSNormalization-23: hybrid.rms_norm has its semantics, attribute for
/// attribute (the mean over [axis, rank) in fp32, scale broadcast).
static FailureOr<SmallVector<Value>> rmsNormalization(NodeContext &nc) {
  Value x = nc.input(0), scale = nc.input(1);
  if (!x || !scale)
    return nc.error() << "expects inputs X and scale";
  if (std::optional<int64_t> stash = nc.intAttr("stash_type");
      stash && *stash != onnx::TensorProto::FLOAT)
    return nc.error() << "stash_type " << *stash
                      << " is not supported (only 1: float)";
  auto op = RMSNormOp::create(
      nc.b, nc.loc, x.getType(), x, scale,
      nc.b.getI64IntegerAttr(nc.intAttr("axis").value_or(-1)),
      nc.b.getF32FloatAttr(nc.floatAttr("epsilon").value_or(1e-5f)));
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getResult()};
}

void mlir::hybrid::onnx_import::addNormOps(SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "RMSNormalization", 23, 25, rmsNormalization});
}
