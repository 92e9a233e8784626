//===- MoEOps.cpp - chunk_moe ---------------------------------------------===//
//
// The router kind decides which router operands exist (BlockFFN: RMSNorm
// weight; DECO: per-expert scale; top-k softmax: the `top_k` attribute).
//
//===----------------------------------------------------------------------===//

#include "VerifierUtils.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::verifier;

LogicalResult ChunkMoEOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &inferred) {
  auto input = getRankedOperand(loc, "input", adaptor.getInput(), 2);
  if (failed(input))
    return failure();
  inferred.push_back(*input);
  return success();
}

LogicalResult ChunkMoEOp::verify() {
  auto x = getInput().getType();
  auto router = getRouterWeight().getType();
  auto up = getExpertUp().getType(), down = getExpertDown().getType();
  NamedDim model = {"input", x, 1, "model dim"};
  NamedDim experts = {"router_weight", router, 0, "expert"};
  // Weights may keep their storage type (a bf16 checkpoint under f32
  // activations): the kernels widen each weight as they read it, so only
  // the experts a chunk activates are ever converted.
  if (failed(verifySameDim(*this, {"router_weight", router, 1, "model dim"},
                           model)) ||
      failed(verifySameDim(*this, {"expert_up", up, 0, "expert"}, experts)) ||
      failed(verifySameDim(*this, {"expert_down", down, 0, "expert"},
                           experts)) ||
      failed(verifySameDim(*this, {"expert_up", up, 2, "model dim"}, model)) ||
      failed(verifySameDim(*this, {"expert_down", down, 1, "model dim"},
                           model)) ||
      failed(verifySameDim(*this, {"expert_down", down, 2, "expert width"},
                           {"expert_up", up, 1, "expert width"})))
    return failure();

  RouterKind kind = getRouter();
  StringRef kindName = stringifyRouterKind(kind);
  auto checkRouterVector = [&](Value v, StringRef name,
                               RouterKind owner) -> LogicalResult {
    if (!v && kind == owner)
      return emitOpError() << "router '" << kindName << "' needs " << name;
    if (v && kind != owner)
      return emitOpError() << "router '" << kindName << "' takes no " << name;
    if (!v)
      return success();
    return verifySameDim(*this, {name, cast<ShapedType>(v.getType()), 0,
                                 "expert"},
                         experts);
  };
  if (failed(checkRouterVector(getRouterNorm(), "router_norm",
                               RouterKind::BlockFFN)) ||
      failed(checkRouterVector(getRouterScale(), "router_scale",
                               RouterKind::Deco)))
    return failure();

  std::optional<int64_t> topK = getTopK();
  if (kind == RouterKind::TopKSoftmax && !topK)
    return emitOpError("router 'topk_softmax' needs top_k");
  if (kind != RouterKind::TopKSoftmax && topK)
    return emitOpError() << "router '" << kindName << "' takes no top_k";
  if (topK) {
    int64_t numExperts = router.getDimSize(0);
    if (*topK < 1 ||
        (!ShapedType::isDynamic(numExperts) && *topK > numExperts))
      return emitOpError() << "top_k " << *topK << " must be in [1, "
                           << numExperts << "] (the number of experts)";
  }

  if (static_cast<bool>(getSharedUp()) != static_cast<bool>(getSharedDown()))
    return emitOpError("the shared expert needs both shared_up and "
                       "shared_down");
  if (Value sharedUp = getSharedUp()) {
    auto su = cast<ShapedType>(sharedUp.getType());
    auto sd = cast<ShapedType>(getSharedDown().getType());
    if (failed(verifySameDim(*this, {"shared_up", su, 1, "model dim"},
                             model)) ||
        failed(verifySameDim(*this, {"shared_down", sd, 0, "model dim"},
                             model)) ||
        failed(verifySameDim(*this, {"shared_down", sd, 1, "shared width"},
                             {"shared_up", su, 0, "shared width"})))
      return failure();
  }

  // The chunk sizes the kernel's per-chunk scratch: bounded so that no
  // allocation size derived from it can wrap.
  if (getChunk() < 1 || getChunk() > (int64_t(1) << 24))
    return emitOpError() << "chunk must be between 1 and 2^24 tokens, not "
                         << getChunk();
  return verifyPositive(*this, "epsilon", getEpsilon());
}
