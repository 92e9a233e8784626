//===- AttentionOps.cpp - attention, block selection, block-sparse attention ===//
//
// Verifiers and result-type inference of the attention ops and of
// compress_keys. They share the Q/K/V shape contract: query [B, Hq, Sq, D],
// key [B, Hkv, Skv, D], value [B, Hkv, Skv, Dv], Hq a multiple of Hkv.
//
//===----------------------------------------------------------------------===//

#include "VerifierUtils.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::verifier;

/// Checks query against key (and value when given).
static LogicalResult verifyQKV(Operation *op, ShapedType q, ShapedType k,
                               ShapedType v) {
  if (failed(verifySameElementType(op, "key", k, "query", q)) ||
      failed(verifySameDim(op, {"key", k, 0, "batch"}, {"query", q, 0, "batch"})) ||
      failed(verifyGQARatio(op, q, k)) ||
      failed(verifySameDim(op, {"key", k, 3, "head dim"},
                           {"query", q, 3, "head dim"})))
    return failure();
  if (!v)
    return success();
  return failure(
      failed(verifySameElementType(op, "value", v, "query", q)) ||
      failed(verifySameDim(op, {"value", v, 0, "batch"},
                           {"query", q, 0, "batch"})) ||
      failed(verifySameDim(op, {"value", v, 1, "head"}, {"key", k, 1, "head"})) ||
      failed(verifySameDim(op, {"value", v, 2, "sequence"},
                           {"key", k, 2, "sequence"})));
}

/// The static key count: the key's sequence size, unknown under
/// `key_length` (only a prefix of the rows are keys).
template <typename OpTy>
static int64_t staticKeyCount(OpTy op) {
  return op.getKeyLength() ? ShapedType::kDynamic
                           : op.getKey().getType().getDimSize(2);
}

/// The checks that `hybrid.attention` and `hybrid.block_sparse_attention`
/// share: Q/K/V, scale, softcap, and the draft tree over the newest rows.
template <typename OpTy>
static LogicalResult verifyAttentionLike(OpTy op) {
  auto q = op.getQuery().getType(), k = op.getKey().getType(),
       v = op.getValue().getType();
  if (failed(verifyQKV(op, q, k, v)) ||
      failed(verifyPositive(op, "scale", op.getScale())) ||
      failed(verifyPositive(op, "softcap", op.getSoftcap())) ||
      failed(verifyTreeOperand(op, op.getParents(),
                               {"query", q, 2, "sequence"})))
    return failure();
  if (!op.getKeyLength() &&
      failed(verifyTreeOperand(op, op.getParents(), {"key", k, 2, "sequence"})))
    return failure();
  return success();
}

/// [B, Hq, Sq, Dv] in the query's element type.
static LogicalResult inferAttentionOutput(std::optional<Location> loc,
                                          Value query, Value key, Value value,
                                          SmallVectorImpl<Type> &inferred) {
  auto q = getRankedOperand(loc, "query", query, 4);
  auto k = getRankedOperand(loc, "key", key, 4);
  auto v = getRankedOperand(loc, "value", value, 4);
  if (failed(q) || failed(k) || failed(v))
    return failure();
  int64_t batch = pickStatic(q->getDimSize(0),
                             pickStatic(k->getDimSize(0), v->getDimSize(0)));
  inferred.push_back(RankedTensorType::get(
      {batch, q->getDimSize(1), q->getDimSize(2), v->getDimSize(3)},
      q->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  return inferAttentionOutput(loc, adaptor.getQuery(), adaptor.getKey(),
                              adaptor.getValue(), inferred);
}

/// A mask of i1 or the query's element type that broadcasts, right-aligned,
/// to [B, Hq, Sq, Skv].
static LogicalResult verifyMask(Operation *op, Value mask, ShapedType q,
                                int64_t keys) {
  if (mask) {
    auto maskType = cast<ShapedType>(mask.getType());
    if (!maskType.getElementType().isInteger(1) &&
        maskType.getElementType() != q.getElementType())
      return op->emitOpError()
             << "mask element type " << maskType.getElementType()
             << " must be i1 or the query element type " << q.getElementType();
    int64_t target[4] = {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2),
                         keys};
    static constexpr StringLiteral names[4] = {"batch", "head", "query",
                                               "key"};
    int64_t rank = maskType.getRank();
    for (int64_t i = 0; i < rank; ++i) {
      int64_t dim = maskType.getDimSize(i), t = target[4 - rank + i];
      if (dim != 1 && dimsConflict(dim, t))
        return op->emitOpError()
               << "mask dimension " << i << " (size " << dim
               << ") does not broadcast to the " << names[4 - rank + i]
               << " size " << t;
    }
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyAttentionLike(*this)))
    return failure();
  if (getParents() && !getCausal())
    return emitOpError("a draft tree needs causal attention: add 'causal'");
  return verifyMask(*this, getMask(), getQuery().getType(),
                    staticKeyCount(*this));
}

//===----------------------------------------------------------------------===//
// AttentionScoresOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionScoresOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType();
  if (failed(verifyQKV(*this, q, k, nullptr)) ||
      failed(verifyPositive(*this, "scale", getScale())) ||
      failed(verifyPositive(*this, "softcap", getSoftcap())) ||
      failed(verifyMask(*this, getMask(), q, k.getDimSize(2))))
    return failure();
  auto s = getScores().getType();
  int64_t expected[4] = {q.getDimSize(0), q.getDimSize(1), q.getDimSize(2),
                         k.getDimSize(2)};
  static constexpr StringLiteral names[4] = {"batch", "query head",
                                             "query length", "key length"};
  if (s.getElementType() != q.getElementType())
    return emitOpError() << "scores must have the query element type "
                         << q.getElementType();
  for (int64_t d = 0; d < 4; ++d)
    if (dimsConflict(s.getDimSize(d), expected[d]))
      return emitOpError() << "scores dimension " << d << " (size "
                           << s.getDimSize(d) << ") must be the "
                           << names[d] << " (" << expected[d] << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// BlockSelectOp
//===----------------------------------------------------------------------===//

/// Compressed keys [B, Hkv, C, D] of `key` [B, Hkv, Skv, D].
static LogicalResult verifyCompressedKeys(Operation *op, ShapedType compressed,
                                          ShapedType key) {
  return failure(
      failed(verifySameDim(op, {"compressed keys", compressed, 0, "batch"},
                           {"key", key, 0, "batch"})) ||
      failed(verifySameDim(op, {"compressed keys", compressed, 1, "head"},
                           {"key", key, 1, "head"})) ||
      failed(verifySameDim(op, {"compressed keys", compressed, 3, "head dim"},
                           {"key", key, 3, "head dim"})));
}

LogicalResult BlockSelectOp::inferReturnTypes(MLIRContext *context,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  auto q = getRankedOperand(loc, "query", adaptor.getQuery(), 4);
  auto k = getRankedOperand(loc, "key", adaptor.getKey(), 4);
  if (failed(q) || failed(k))
    return failure();
  int64_t slots = adaptor.getConfig().getTopk();
  // The union of N nodes' selections can hold up to N * topk blocks.
  if (Value parents = adaptor.getParents()) {
    auto policy = adaptor.getTreePolicy().value_or(TreePolicy::Union);
    int64_t nodes = cast<ShapedType>(parents.getType()).getDimSize(0);
    if (policy == TreePolicy::Union)
      slots = ShapedType::isDynamic(nodes) ? ShapedType::kDynamic
                                           : slots * nodes;
  }
  inferred.push_back(RankedTensorType::get(
      {pickStatic(q->getDimSize(0), k->getDimSize(0)), k->getDimSize(1),
       q->getDimSize(2), slots},
      IntegerType::get(context, 32)));
  return success();
}

LogicalResult BlockSelectOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType();
  if (failed(verifyQKV(*this, q, k, nullptr)) ||
      failed(verifyPositive(*this, "scale", getScale())) ||
      failed(verifyTreeOperand(*this, getParents(),
                               {"query", q, 2, "sequence"})))
    return failure();
  if (getTreePolicy() && !getParents())
    return emitOpError("tree_policy needs a draft tree operand");
  if (Value compressed = getCompressed())
    return verifyCompressedKeys(*this, cast<ShapedType>(compressed.getType()),
                                k);
  return success();
}

//===----------------------------------------------------------------------===//
// CompressKeysOp
//===----------------------------------------------------------------------===//

LogicalResult CompressKeysOp::verify() {
  return verifyCompressedKeys(*this, getCompressed().getType(),
                              getKey().getType());
}

//===----------------------------------------------------------------------===//
// BlockSparseAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult BlockSparseAttentionOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  return inferAttentionOutput(loc, adaptor.getQuery(), adaptor.getKey(),
                              adaptor.getValue(), inferred);
}

LogicalResult BlockSparseAttentionOp::verify() {
  if (failed(verifyAttentionLike(*this)))
    return failure();
  auto q = getQuery().getType(), k = getKey().getType();
  auto indices = getBlockIndices().getType();
  if (failed(verifySameDim(*this, {"block_indices", indices, 0, "batch"},
                           {"query", q, 0, "batch"})) ||
      failed(verifySameDim(*this, {"block_indices", indices, 1, "head"},
                           {"key", k, 1, "head"})) ||
      failed(verifySameDim(*this, {"block_indices", indices, 2, "query"},
                           {"query", q, 2, "sequence"})))
    return failure();

  // Constant indices against a static key length: report out-of-range
  // blocks now instead of at run time.
  int64_t keys = staticKeyCount(*this);
  DenseIntElementsAttr constant;
  if (ShapedType::isDynamic(keys) ||
      !matchPattern(getBlockIndices(), m_Constant(&constant)))
    return success();
  int64_t blockSize = getConfig().getBlockSize();
  int64_t numBlocks = llvm::divideCeil(keys, blockSize);
  for (const APInt &value : constant.getValues<APInt>()) {
    int64_t index = value.getSExtValue();
    if (index < -1 || index >= numBlocks)
      return emitOpError() << "block index " << index << " is out of range: "
                           << keys << " keys in blocks of " << blockSize
                           << " make " << numBlocks << " blocks (-1 pads)";
  }
  return success();
}
