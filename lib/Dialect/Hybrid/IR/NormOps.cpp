//===- NormOps.cpp - rms_norm, rotary_embedding ---------------------------===//
//
// Both match their ONNX opset-23 counterparts so that the importer maps them
// 1:1 and ONNX's conformance data checks the lowering.
//
//===----------------------------------------------------------------------===//

#include "VerifierUtils.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::verifier;

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  auto x = getInput().getType();
  auto scale = getScale().getType();
  int64_t rank = x.getRank();
  if (getAxis() < -rank || getAxis() >= rank)
    return emitOpError() << "axis " << getAxis()
                         << " is out of range for a rank-" << rank << " input";
  // The scale broadcasts, right-aligned, to the normalised dims [axis, rank).
  int64_t axis = getNormalizedAxis();
  int64_t normRank = rank - axis;
  if (scale.getRank() > normRank)
    return emitOpError() << "scale has rank " << scale.getRank()
                         << " but only " << normRank
                         << " dimensions are normalised (axis " << getAxis()
                         << ")";
  for (int64_t i = 0, e = scale.getRank(); i < e; ++i) {
    int64_t s = scale.getDimSize(i);
    int64_t t = x.getDimSize(rank - e + i);
    if (s != 1 && dimsConflict(s, t))
      return emitOpError() << "scale dimension " << i << " (size " << s
                           << ") does not broadcast to input dimension "
                           << rank - e + i << " (size " << t << ")";
  }
  return verifyPositive(*this, "epsilon", getEpsilon());
}

//===----------------------------------------------------------------------===//
// RotaryEmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryEmbeddingOp::verify() {
  auto x = getInput().getType();
  auto cosType = getCosCache().getType(), sinType = getSinCache().getType();
  if (cosType != sinType)
    return emitOpError() << "sin_cache type " << sinType
                         << " does not match cos_cache type " << cosType;
  if (failed(verifySameElementType(*this, "cos_cache", cosType, "input", x)))
    return failure();

  // Per-head feature count D and sequence dim of the two input layouts.
  int64_t headDim;
  unsigned seqDim;
  std::optional<int64_t> numHeads = getNumHeads();
  if (numHeads && *numHeads < 1)
    return emitOpError() << "num_heads must be positive, not " << *numHeads;
  if (x.getRank() == 4) {
    seqDim = 2;
    headDim = x.getDimSize(3);
    if (numHeads && dimsConflict(*numHeads, x.getDimSize(1)))
      return emitOpError() << "num_heads " << *numHeads
                           << " does not match the input's " << x.getDimSize(1)
                           << " heads";
  } else {
    seqDim = 1;
    if (!numHeads)
      return emitOpError("a rank-3 input [B, S, H*D] needs num_heads");
    int64_t hidden = x.getDimSize(2);
    if (!ShapedType::isDynamic(hidden) && hidden % *numHeads != 0)
      return emitOpError() << "hidden size " << hidden
                           << " is not a multiple of num_heads " << *numHeads;
    headDim = ShapedType::isDynamic(hidden) ? hidden : hidden / *numHeads;
  }

  int64_t rotaryDim = getRotaryEmbeddingDim().value_or(0);
  if (rotaryDim < 0)
    return emitOpError() << "rotary_embedding_dim must not be negative, not "
                         << rotaryDim;
  if (rotaryDim == 0)
    rotaryDim = headDim; // ONNX: 0 or absent rotates the whole head.
  if (!ShapedType::isDynamic(rotaryDim)) {
    if (rotaryDim % 2 != 0)
      return emitOpError() << "rotary dimension " << rotaryDim
                           << " must be even";
    if (!ShapedType::isDynamic(headDim) && rotaryDim > headDim)
      return emitOpError() << "rotary_embedding_dim " << rotaryDim
                           << " exceeds the head size " << headDim;
  }
  int64_t half = ShapedType::isDynamic(rotaryDim) ? rotaryDim : rotaryDim / 2;
  NamedDim cacheLast = {"cos_cache", cosType,
                        static_cast<unsigned>(cosType.getRank() - 1),
                        "last"};
  if (failed(verifyDimIs(*this, cacheLast, half, "half the rotary dimension")))
    return failure();

  if (Value positions = getPositionIds()) {
    auto p = cast<ShapedType>(positions.getType());
    if (cosType.getRank() != 2)
      return emitOpError("with position_ids, the caches are [max_position, "
                         "rotary_dim/2] tables");
    return failure(
        failed(verifySameDim(*this, {"position_ids", p, 0, "batch"},
                             {"input", x, 0, "batch"})) ||
        failed(verifySameDim(*this, {"position_ids", p, 1, "sequence"},
                             {"input", x, seqDim, "sequence"})));
  }
  if (cosType.getRank() != 3)
    return emitOpError("without position_ids, the caches are "
                       "[B, S, rotary_dim/2]");
  return failure(
      failed(verifySameDim(*this, {"cos_cache", cosType, 0, "batch"},
                           {"input", x, 0, "batch"})) ||
      failed(verifySameDim(*this, {"cos_cache", cosType, 1, "sequence"},
                           {"input", x, seqDim, "sequence"})));
}

//===----------------------------------------------------------------------===//
// CumSumOp
//===----------------------------------------------------------------------===//

LogicalResult CumSumOp::verify() {
  auto axis = cast<ShapedType>(getAxis().getType());
  if (!axis.hasRank() || axis.getRank() > 1 ||
      (axis.getRank() == 1 && dimsConflict(axis.getDimSize(0), 1)))
    return emitOpError("axis must be a 0-D or one-element 1-D tensor");
  if (getInput().getType().getRank() == 0)
    return emitOpError("input must have at least one dimension");
  return success();
}

//===----------------------------------------------------------------------===//
// TopKOp
//===----------------------------------------------------------------------===//

LogicalResult TopKOp::verify() {
  auto x = getInput().getType();
  int64_t rank = x.getRank();
  if (getAxis() < -rank || getAxis() >= rank)
    return emitOpError() << "axis " << getAxis() << " is out of range for a rank-"
                         << rank << " input";
  int64_t axis = getAxis() < 0 ? getAxis() + rank : getAxis();
  auto k = cast<ShapedType>(getK().getType());
  if (!k.hasRank() || k.getRank() > 1 ||
      (k.getRank() == 1 && dimsConflict(k.getDimSize(0), 1)))
    return emitOpError("k must be a 0-D or one-element 1-D tensor");
  for (auto [name, result] : {std::pair<StringRef, ShapedType>{"values", getValues().getType()},
                              {"indices", getIndices().getType()}}) {
    if (result.getRank() != rank)
      return emitOpError() << name << " must have the input's rank " << rank;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && dimsConflict(result.getDimSize(d), x.getDimSize(d)))
        return emitOpError() << name << " dimension " << d
                             << " must match the input's";
  }
  if (getValues().getType().getElementType() != x.getElementType())
    return emitOpError("values must have the input's element type");
  return success();
}
