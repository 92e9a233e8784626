//===- VerifierUtils.cpp - Shared checks of the hybrid verifiers ----------===//

#include "VerifierUtils.h"

#include "hybrid/Dialect/Hybrid/IR/DraftTree.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::hybrid;

LogicalResult verifier::verifySameDim(Operation *op, NamedDim a, NamedDim b) {
  if (!dimsConflict(a.size(), b.size()))
    return success();
  return op->emitOpError() << a.tensor << " " << a.meaning << " size "
                           << a.size() << " does not match " << b.tensor << " "
                           << b.meaning << " size " << b.size();
}

LogicalResult verifier::verifyDimIs(Operation *op, NamedDim a, int64_t expected,
                                  StringRef what) {
  if (!dimsConflict(a.size(), expected))
    return success();
  return op->emitOpError() << a.tensor << " " << a.meaning << " size "
                           << a.size() << " must be " << expected << " ("
                           << what << ")";
}

LogicalResult verifier::verifySameElementType(Operation *op, StringRef aName,
                                            ShapedType a, StringRef bName,
                                            ShapedType b) {
  if (a.getElementType() == b.getElementType())
    return success();
  return op->emitOpError() << aName << " element type " << a.getElementType()
                           << " does not match " << bName << " element type "
                           << b.getElementType();
}

LogicalResult verifier::verifyGQARatio(Operation *op, ShapedType query,
                                     ShapedType kv) {
  int64_t hq = query.getDimSize(1), hkv = kv.getDimSize(1);
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv))
    return success();
  if (hkv > 0 && hq % hkv == 0)
    return success();
  return op->emitOpError() << "query heads (" << hq
                           << ") must be a multiple of key/value heads ("
                           << hkv << ")";
}

LogicalResult verifier::verifyPositive(Operation *op, StringRef name,
                                     std::optional<APFloat> value) {
  if (!value || (value->isFiniteNonZero() && !value->isNegative()))
    return success();
  return op->emitOpError() << name << " must be a positive finite number, not "
                           << value->convertToDouble();
}

LogicalResult verifier::verifyTreeOperand(Operation *op, Value parents,
                                        NamedDim rows) {
  if (!parents)
    return success();
  auto type = cast<ShapedType>(parents.getType());
  int64_t nodes = type.getDimSize(0);
  if (!ShapedType::isDynamic(nodes) && !ShapedType::isDynamic(rows.size()) &&
      nodes > rows.size())
    return op->emitOpError() << "draft tree has " << nodes << " nodes but "
                             << rows.tensor << " has only " << rows.size()
                             << " " << rows.meaning << " rows";
  DenseIntElementsAttr constant;
  if (!matchPattern(parents, m_Constant(&constant)))
    return success();
  SmallVector<int64_t> values;
  for (const APInt &v : constant.getValues<APInt>())
    values.push_back(v.getSExtValue());
  if (std::optional<std::string> why = describeDraftTreeError(values))
    return op->emitOpError() << "parents do not form a draft tree: " << *why;
  return success();
}

FailureOr<RankedTensorType>
verifier::getRankedOperand(std::optional<Location> loc, StringRef name,
                         Value value, int64_t rank) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (type && type.getRank() == rank)
    return type;
  return emitOptionalError(loc, name, " must be a rank-", rank,
                           " tensor, not ", value.getType());
}
