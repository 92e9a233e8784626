//===- RecurrenceOps.cpp - linear_recurrence ------------------------------===//
//
// The update rule decides which operands exist: gated rules need a decay
// (operand or constant slopes), delta rules need beta, the others must not
// have them. The shapes follow ONNX LinearAttention-27 in 4-D form.
//
//===----------------------------------------------------------------------===//

#include "VerifierUtils.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::verifier;

LogicalResult LinearRecurrenceOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  auto q = getRankedOperand(loc, "query", adaptor.getQuery(), 4);
  auto k = getRankedOperand(loc, "key", adaptor.getKey(), 4);
  auto v = getRankedOperand(loc, "value", adaptor.getValue(), 4);
  if (failed(q) || failed(k) || failed(v))
    return failure();
  int64_t batch = pickStatic(q->getDimSize(0), k->getDimSize(0));
  inferred.push_back(RankedTensorType::get(
      {batch, q->getDimSize(1), q->getDimSize(2), v->getDimSize(3)},
      q->getElementType()));
  SmallVector<int64_t> state = {batch, k->getDimSize(1),
                                pickStatic(q->getDimSize(3), k->getDimSize(3)),
                                v->getDimSize(3)};
  // With a draft tree every node keeps its own state.
  if (Value parents = adaptor.getParents())
    state.insert(state.begin() + 2,
                 cast<ShapedType>(parents.getType()).getDimSize(0));
  inferred.push_back(RankedTensorType::get(state, Float32Type::get(context)));
  return success();
}

LogicalResult LinearRecurrenceOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  if (failed(verifySameElementType(*this, "key", k, "query", q)) ||
      failed(verifySameElementType(*this, "value", v, "query", q)) ||
      failed(verifySameDim(*this, {"key", k, 0, "batch"},
                           {"query", q, 0, "batch"})) ||
      failed(verifySameDim(*this, {"value", v, 0, "batch"},
                           {"query", q, 0, "batch"})) ||
      failed(verifyGQARatio(*this, q, k)) ||
      failed(verifySameDim(*this, {"value", v, 1, "head"},
                           {"key", k, 1, "head"})) ||
      failed(verifySameDim(*this, {"key", k, 2, "sequence"},
                           {"query", q, 2, "sequence"})) ||
      failed(verifySameDim(*this, {"value", v, 2, "sequence"},
                           {"query", q, 2, "sequence"})) ||
      failed(verifySameDim(*this, {"key", k, 3, "key dim"},
                           {"query", q, 3, "key dim"})) ||
      failed(verifyPositive(*this, "scale", getScale())) ||
      failed(verifyTreeOperand(*this, getParents(),
                               {"query", q, 2, "sequence"})))
    return failure();

  StringRef rule = stringifyUpdateRule(getUpdateRule());
  std::optional<ArrayRef<float>> slopes = getDecaySlopes();
  if (isGated()) {
    if (!getDecay() && !slopes)
      return emitOpError() << "update rule '" << rule
                           << "' needs a decay operand or decay_slopes";
    if (getDecay() && slopes)
      return emitOpError("takes either a decay operand or decay_slopes, not "
                         "both");
  } else if (getDecay() || slopes) {
    return emitOpError() << "update rule '" << rule << "' takes no decay";
  }

  if (Value decay = getDecay()) {
    auto d = cast<ShapedType>(decay.getType());
    if (d.getRank() != 3 && d.getRank() != 4)
      return emitOpError() << "decay must be [B, Hkv, T] (per head) or "
                              "[B, Hkv, T, Dk] (per key dim), not rank "
                           << d.getRank();
    if (failed(verifySameDim(*this, {"decay", d, 0, "batch"},
                             {"query", q, 0, "batch"})) ||
        failed(verifySameDim(*this, {"decay", d, 1, "head"},
                             {"key", k, 1, "head"})) ||
        failed(verifySameDim(*this, {"decay", d, 2, "sequence"},
                             {"query", q, 2, "sequence"})) ||
        (d.getRank() == 4 &&
         failed(verifySameDim(*this, {"decay", d, 3, "key dim"},
                              {"key", k, 3, "key dim"}))))
      return failure();
  }
  if (slopes) {
    int64_t heads = k.getDimSize(1);
    if (!ShapedType::isDynamic(heads) &&
        static_cast<int64_t>(slopes->size()) != heads)
      return emitOpError() << "decay_slopes has " << slopes->size()
                           << " entries but there are " << heads
                           << " key/value heads";
    if (llvm::any_of(*slopes, [](float s) { return !(s >= 0.0f); }))
      return emitOpError("decay_slopes must be non-negative (the log-decay "
                         "is -slope)");
  }

  if (isDelta() && !getBeta())
    return emitOpError() << "update rule '" << rule << "' needs beta";
  if (!isDelta() && getBeta())
    return emitOpError() << "update rule '" << rule << "' takes no beta";
  if (Value beta = getBeta()) {
    auto b = cast<ShapedType>(beta.getType());
    if (b.getRank() != 3)
      return emitOpError() << "beta must be [B, Hkv or 1, T], not rank "
                           << b.getRank();
    if (failed(verifySameDim(*this, {"beta", b, 0, "batch"},
                             {"query", q, 0, "batch"})) ||
        (b.getDimSize(1) != 1 &&
         failed(verifySameDim(*this, {"beta", b, 1, "head"},
                              {"key", k, 1, "head"}))) ||
        failed(verifySameDim(*this, {"beta", b, 2, "sequence"},
                             {"query", q, 2, "sequence"})))
      return failure();
  }

  if (Value init = getInitialState()) {
    auto s = cast<ShapedType>(init.getType());
    if (failed(verifySameDim(*this, {"initial_state", s, 0, "batch"},
                             {"query", q, 0, "batch"})) ||
        failed(verifySameDim(*this, {"initial_state", s, 1, "head"},
                             {"key", k, 1, "head"})) ||
        failed(verifySameDim(*this, {"initial_state", s, 2, "key dim"},
                             {"key", k, 3, "key dim"})) ||
        failed(verifySameDim(*this, {"initial_state", s, 3, "value dim"},
                             {"value", v, 3, "value dim"})))
      return failure();
  }

  // The chunk sizes the kernel's [chunk, chunk] scratch: bounded so that
  // no allocation size derived from it can wrap.
  if (std::optional<int64_t> chunk = getChunkSize();
      chunk && (*chunk < 1 || *chunk > (int64_t(1) << 24)))
    return emitOpError() << "chunk_size must be between 1 and 2^24, not "
                         << *chunk;
  return success();
}
