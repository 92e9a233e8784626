//===- SpeculationOps.cpp - tree_verify, kv_compact -----------------------===//
//
// The two ops of a speculative-decoding step that follow the target model's
// forward pass over a draft tree: accept a path, then commit it.
//
//===----------------------------------------------------------------------===//

#include "VerifierUtils.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::verifier;

//===----------------------------------------------------------------------===//
// TreeVerifyOp
//===----------------------------------------------------------------------===//

LogicalResult TreeVerifyOp::inferReturnTypes(MLIRContext *context,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &inferred) {
  auto parents = getRankedOperand(loc, "parents", adaptor.getParents(), 1);
  if (failed(parents))
    return failure();
  Type i32 = IntegerType::get(context, 32);
  inferred.push_back(RankedTensorType::get(parents->getShape(), i32));
  inferred.push_back(RankedTensorType::get({}, i32));
  inferred.push_back(RankedTensorType::get({}, i32));
  return success();
}

LogicalResult TreeVerifyOp::verify() {
  auto parents = getParents().getType();
  auto draft = getDraftTokens().getType();
  auto target = getTarget().getType();
  NamedDim nodes = {"parents", parents, 0, "node"};
  if (failed(verifySameDim(*this, {"draft_tokens", draft, 0, "node"}, nodes)) ||
      failed(verifySameDim(*this, {"target", target, 0, "node"}, nodes)) ||
      failed(verifyTreeOperand(*this, getParents(), nodes)))
    return failure();
  bool isFloat = isa<FloatType>(target.getElementType());
  if (target.getRank() == 2 && !isFloat)
    return emitOpError() << "a rank-2 target holds logits [N, V] and must be "
                            "float, not "
                         << target.getElementType();
  if (target.getRank() == 1 && isFloat)
    return emitOpError("a rank-1 target holds argmax token ids and must be "
                       "an integer tensor");
  return success();
}

//===----------------------------------------------------------------------===//
// KVCompactOp
//===----------------------------------------------------------------------===//

LogicalResult KVCompactOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  for (Value cache : adaptor.getCaches())
    inferred.push_back(cache.getType());
  // A per-node state [B, H, N, Dk, Dv] becomes the accepted node's [B, H, Dk, Dv].
  for (Value states : adaptor.getNodeStates()) {
    auto type = getRankedOperand(loc, "node state", states, 5);
    if (failed(type))
      return failure();
    SmallVector<int64_t> shape(type->getShape());
    shape.erase(shape.begin() + 2);
    inferred.push_back(RankedTensorType::get(shape, type->getElementType()));
  }
  return success();
}

LogicalResult KVCompactOp::verify() {
  if (getCaches().empty() && getNodeStates().empty())
    return emitOpError("needs at least one KV cache or node state to compact");
  auto path = getPath().getType();
  for (Value states : getNodeStates()) {
    auto type = cast<ShapedType>(states.getType());
    if (failed(verifySameDim(*this, {"node state", type, 2, "node"},
                             {"path", path, 0, "node"})))
      return failure();
  }
  if (getKeptStates().empty())
    return success();
  if (getKeptStates().size() != getNodeStates().size())
    return emitOpError() << "keeps " << getKeptStates().size()
                         << " states for " << getNodeStates().size()
                         << " node states: give one per node state";
  for (auto [nodes, kept] : llvm::zip(getNodeStates(), getKeptStates())) {
    auto n = cast<ShapedType>(nodes.getType());
    auto k = cast<ShapedType>(kept.getType());
    static constexpr StringLiteral names[4] = {"batch", "head", "key dim",
                                               "value dim"};
    for (auto [d, nd] : llvm::enumerate(ArrayRef<int64_t>{0, 1, 3, 4}))
      if (failed(verifySameDim(*this, {"kept state", k, unsigned(d), names[d]},
                               {"node state", n, unsigned(nd), names[d]})))
        return failure();
  }
  return success();
}
