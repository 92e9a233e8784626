//===- NormOps.cpp - ONNX normalisations, rotary embeddings, CumSum -------===//

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

/// RotaryEmbedding-23: hybrid.rotary_embedding has its semantics (input
/// [B, H, S, D] or [B, S, H*D] with num_heads, caches indexed by
/// position_ids or per token, interleaved or rotate-half pairs).
static FailureOr<SmallVector<Value>> rotaryEmbedding(NodeContext &nc) {
  Value x = nc.input(0), cos = nc.input(1), sin = nc.input(2),
        positions = nc.input(3);
  if (!x || !cos || !sin)
    return nc.error() << "expects inputs X, cos_cache and sin_cache";
  auto optionalInt = [&](StringRef name) -> IntegerAttr {
    std::optional<int64_t> v = nc.intAttr(name);
    return v ? nc.b.getI64IntegerAttr(*v) : IntegerAttr();
  };
  // 0 means "all of the head" in ONNX; the op spells that by omission.
  IntegerAttr rotaryDim = optionalInt("rotary_embedding_dim");
  if (rotaryDim && rotaryDim.getInt() == 0)
    rotaryDim = IntegerAttr();
  IntegerAttr numHeads = optionalInt("num_heads");
  if (numHeads && numHeads.getInt() == 0)
    numHeads = IntegerAttr();
  auto op = RotaryEmbeddingOp::create(
      nc.b, nc.loc, x.getType(), x, cos, sin, positions,
      nc.intAttr("interleaved").value_or(0) != 0, numHeads, rotaryDim);
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getResult()};
}

/// CumSum-11/14: hybrid.cumsum (the axis is a run-time input, checked at
/// run time).
static FailureOr<SmallVector<Value>> cumSum(NodeContext &nc) {
  Value x = nc.input(0), axis = nc.input(1);
  if (!x || !axis)
    return nc.error() << "expects inputs x and axis";
  auto op = CumSumOp::create(nc.b, nc.loc, x.getType(), x, axis,
                             nc.intAttr("exclusive").value_or(0)
                                 ? nc.b.getUnitAttr()
                                 : UnitAttr(),
                             nc.intAttr("reverse").value_or(0)
                                 ? nc.b.getUnitAttr()
                                 : UnitAttr());
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getResult()};
}

/// TopK-11/24: hybrid.topk (k is a run-time input, checked at run time;
/// the results' axis is dynamic until the graph's declared type).
static FailureOr<SmallVector<Value>> topK(NodeContext &nc) {
  Value x = nc.input(0), k = nc.input(1);
  if (!x || !k)
    return nc.error() << "expects inputs X and K";
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  int64_t axis = nc.intAttr("axis").value_or(-1);
  if (axis < -rank || axis >= rank)
    return nc.error() << "axis " << axis << " is out of range for rank " << rank;
  if (axis < 0)
    axis += rank;
  SmallVector<int64_t> shape(type.getShape());
  shape[axis] = ShapedType::kDynamic;
  auto op = TopKOp::create(
      nc.b, nc.loc, RankedTensorType::get(shape, type.getElementType()),
      RankedTensorType::get(shape, nc.b.getI64Type()), x, k,
      nc.b.getI64IntegerAttr(axis),
      nc.intAttr("largest").value_or(1) ? nc.b.getUnitAttr() : UnitAttr());
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getValues(), op.getIndices()};
}

void mlir::hybrid::onnx_import::addNormOps(SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "TopK", 11, 25, topK});
  table.push_back({"", "CumSum", 11, 25, cumSum});
  table.push_back({"", "RMSNormalization", 23, 25, rmsNormalization});
  table.push_back({"", "RotaryEmbedding", 23, 25, rotaryEmbedding});
}
