//===- NormOps.cpp - ONNX normalisations, rotary embeddings, CumSum, TopK -===//

#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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

/// com.microsoft RotaryEmbedding-1 (ORT's exporters): inputs (input,
/// position_ids, cos_cache, sin_cache), position_ids [B, S] or one offset
/// the S positions count up from; a 3-D input without num_heads has heads
/// of twice the caches' width. `scale` only matters to ORT's CUDA kernel
/// when it rebuilds caches too short for the sequence; it never changes
/// what the CPU kernel, the reference here, computes.
static FailureOr<SmallVector<Value>> contribRotaryEmbedding(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value x = nc.input(0), positions = nc.input(1), cos = nc.input(2),
        sin = nc.input(3);
  if (!x || !positions || !cos || !sin)
    return nc.error()
           << "expects inputs input, position_ids, cos_cache and sin_cache";
  if (nc.intAttr("is_packed_batching").value_or(0) != 0)
    return nc.error() << "is_packed_batching is not supported yet";
  auto type = cast<RankedTensorType>(x.getType());
  int64_t numHeads = nc.intAttr("num_heads").value_or(0);
  int64_t rotaryDim = nc.intAttr("rotary_embedding_dim").value_or(0);
  if (rotaryDim > 0 && numHeads <= 0)
    return nc.error() << "rotary_embedding_dim needs num_heads";
  if (type.getRank() == 3 && numHeads <= 0) {
    int64_t half = cast<RankedTensorType>(cos.getType()).getDimSize(1),
            hidden = type.getDimSize(2);
    if (ShapedType::isDynamic(half) || ShapedType::isDynamic(hidden) ||
        hidden % (2 * half) != 0)
      return nc.error() << "without num_heads, the hidden size " << hidden
                        << " must be a known multiple of twice the cache "
                           "width "
                        << half;
    numHeads = hidden / (2 * half);
  }
  // One offset: position s of every batch entry is offset + s.
  auto posType = cast<RankedTensorType>(positions.getType());
  if (posType.getRank() == 1) {
    if (posType.getDimSize(0) != 1)
      return nc.error() << "position_ids must be [B, S] or one offset";
    int64_t seqDim = type.getRank() == 3 ? 1 : 2;
    positions = positionsFrom(b, loc, positions,
                              {dimOf(b, loc, x, 0), dimOf(b, loc, x, seqDim)});
  }
  auto op = RotaryEmbeddingOp::create(
      b, loc, x.getType(), x, cos, sin, positions,
      nc.intAttr("interleaved").value_or(0) != 0,
      type.getRank() == 3 ? b.getI64IntegerAttr(numHeads) : IntegerAttr(),
      rotaryDim > 0 ? b.getI64IntegerAttr(rotaryDim) : IntegerAttr());
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

/// LayerNormalization-17: (x - mean) / sqrt(var + eps) * scale + bias over
/// dims [axis, rank), in the input's type; Mean and InvStdDev keep the
/// reduced dims as 1s.
static FailureOr<SmallVector<Value>> layerNormalization(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value x = nc.input(0), scale = nc.input(1), bias = nc.input(2);
  auto type = x ? dyn_cast<RankedTensorType>(x.getType()) : nullptr;
  if (!type || !scale || !isa<FloatType>(type.getElementType()))
    return nc.error() << "expects a float X and a scale";
  int64_t rank = type.getRank();
  int64_t axis = nc.intAttr("axis").value_or(-1);
  if (axis < -rank || axis >= rank)
    return nc.error() << "axis " << axis << " is out of range";
  if (axis < 0)
    axis += rank;
  Type element = type.getElementType();
  float eps = nc.floatAttr("epsilon").value_or(1e-5f);
  SmallVector<int64_t> dims;
  for (int64_t d = axis; d < rank; ++d)
    dims.push_back(d);
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x), kept(sizes.begin(),
                                                             sizes.begin() + axis);
  // The element count of the normalised dims, as a splat of the kept shape.
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d : dims)
    count = arith::MulIOp::create(b, loc, count,
                                  tensor::DimOp::create(b, loc, x, d));
  Value n = arith::SIToFPOp::create(
      b, loc, element, arith::IndexCastOp::create(b, loc, b.getI64Type(), count));
  auto perRow = [&](Value scalar) {
    return linalg::FillOp::create(b, loc, scalar,
                                  emptyTensor(b, loc, kept, element))
        .getResult(0);
  };
  auto back = [&](Value rowValue) { return broadcastTo(b, loc, insertUnitDims(b, loc, rowValue, dims), sizes); };
  Value mean = arith::DivFOp::create(
      b, loc, reduce(b, loc, x, dims, Reduction::Sum), perRow(n));
  Value centred = arith::SubFOp::create(b, loc, x, back(mean));
  Value var = arith::DivFOp::create(
      b, loc,
      reduce(b, loc, arith::MulFOp::create(b, loc, centred, centred), dims,
             Reduction::Sum),
      perRow(n));
  Value eq = arith::ConstantOp::create(b, loc, FloatAttr::get(element, eps));
  Value invStd =
      math::RsqrtOp::create(b, loc, arith::AddFOp::create(b, loc, var, perRow(eq)));
  Value y = arith::MulFOp::create(b, loc, centred, back(invStd));
  y = arith::MulFOp::create(b, loc, y, broadcastTo(b, loc, scale, sizes));
  if (bias)
    y = arith::AddFOp::create(b, loc, y, broadcastTo(b, loc, bias, sizes));
  return SmallVector<Value>{y, insertUnitDims(b, loc, mean, dims),
                            insertUnitDims(b, loc, invStd, dims)};
}

/// SimplifiedLayerNormalization (ORT's exporters, default domain): RMSNorm
/// over dims [axis, rank).
static FailureOr<SmallVector<Value>> simplifiedLayerNorm(NodeContext &nc) {
  Value x = nc.input(0), scale = nc.input(1);
  if (!x || !scale)
    return nc.error() << "expects inputs X and scale";
  if (nc.node.output_size() > 1 && !nc.node.output(1).empty())
    return nc.error() << "the inv_std_var output is not supported";
  auto op = RMSNormOp::create(
      nc.b, nc.loc, x.getType(), x, scale,
      nc.b.getI64IntegerAttr(nc.intAttr("axis").value_or(-1)),
      nc.b.getF32FloatAttr(nc.floatAttr("epsilon").value_or(1e-5f)));
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getResult()};
}

/// com.microsoft SkipSimplifiedLayerNormalization: s = input + skip
/// (+ bias); output = RMSNorm(s) * gamma over the last dim; output 3 is s.
static FailureOr<SmallVector<Value>> skipSimplifiedLayerNorm(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Value x = nc.input(0), skip = nc.input(1), gamma = nc.input(2),
        bias = nc.input(3);
  if (!x || !skip || !gamma || x.getType() != skip.getType())
    return nc.error() << "expects input and skip of one type, and gamma";
  for (int i = 1; i < 3; ++i)
    if (nc.node.output_size() > i && !nc.node.output(i).empty())
      return nc.error() << "output " << i
                        << " (mean, inv_std_var) is not supported";
  Value sum = arith::AddFOp::create(b, nc.loc, x, skip);
  if (bias)
    sum = arith::AddFOp::create(
        b, nc.loc, sum, broadcastTo(b, nc.loc, bias, sizesOf(b, nc.loc, x)));
  auto op = RMSNormOp::create(
      b, nc.loc, x.getType(), sum, gamma, b.getI64IntegerAttr(-1),
      b.getF32FloatAttr(nc.floatAttr("epsilon").value_or(1e-5f)));
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{op.getResult(), Value(), Value(), sum};
}

void mlir::hybrid::onnx_import::addNormOps(SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "TopK", 11, 25, topK});
  table.push_back({"", "CumSum", 11, 25, cumSum});
  table.push_back({"", "RMSNormalization", 23, 25, rmsNormalization});
  table.push_back({"", "RotaryEmbedding", 23, 25, rotaryEmbedding});
  table.push_back({"com.microsoft", "RotaryEmbedding", 1, 1,
                   contribRotaryEmbedding});
  table.push_back({"", "LayerNormalization", 17, 25, layerNormalization});
  table.push_back({"", "SimplifiedLayerNormalization", 1, 25,
                   simplifiedLayerNorm});
  table.push_back({"com.microsoft", "SkipSimplifiedLayerNormalization", 1, 1,
                   skipSimplifiedLayerNorm});
}
