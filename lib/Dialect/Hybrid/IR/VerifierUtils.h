//===- VerifierUtils.h - Shared checks of the hybrid verifiers --*- C++ -*-===//
//
// Shape relations that several ops share (batch, GQA ratio, head dims, draft
// trees), each failing with a message in the user's terms. Dynamic
// dimensions always pass: they are checked by the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_DIALECT_HYBRID_IR_VERIFIERUTILS_H
#define HYBRID_LIB_DIALECT_HYBRID_IR_VERIFIERUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::hybrid::verifier {

/// A dimension named for messages: `describeDim("key", 2, "sequence")`.
struct NamedDim {
  StringRef tensor;
  ShapedType type;
  unsigned index;
  StringRef meaning;
  int64_t size() const { return type.getDimSize(index); }
};

/// Both sizes static and different.
inline bool dimsConflict(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

/// The static one of two sizes that must agree (dynamic if neither is).
inline int64_t pickStatic(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) ? b : a;
}

/// Fails with "<a.tensor> <a.meaning> size X does not match <b.tensor> ...".
LogicalResult verifySameDim(Operation *op, NamedDim a, NamedDim b);

/// Fails unless `a` has size `expected` (when both are static); `what`
/// explains where the expectation comes from.
LogicalResult verifyDimIs(Operation *op, NamedDim a, int64_t expected,
                          StringRef what);

/// Fails unless the two tensors share an element type.
LogicalResult verifySameElementType(Operation *op, StringRef aName,
                                    ShapedType a, StringRef bName,
                                    ShapedType b);

/// Fails unless the query heads are a multiple of the KV heads.
LogicalResult verifyGQARatio(Operation *op, ShapedType query, ShapedType kv);

/// Fails unless an optional float attribute is strictly positive.
LogicalResult verifyPositive(Operation *op, StringRef name,
                             std::optional<APFloat> value);

/// Checks the draft tree `parents` against the `rows` it annotates (the last
/// N rows of `rowsName`), and its structure when it is a constant.
LogicalResult verifyTreeOperand(Operation *op, Value parents,
                                NamedDim rows);

/// For type inference, which runs before the operand constraints are
/// verified: `value`'s type when it is a ranked tensor of rank `rank`,
/// otherwise an error at `loc`.
FailureOr<RankedTensorType> getRankedOperand(std::optional<Location> loc,
                                             StringRef name, Value value,
                                             int64_t rank);

} // namespace mlir::hybrid::verifier

#endif // HYBRID_LIB_DIALECT_HYBRID_IR_VERIFIERUTILS_H
