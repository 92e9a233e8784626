//===- MatchUtils.h - Shared matchers of the raising patterns ---*- C++ -*-===//

#ifndef HYBRID_LIB_TRANSFORMS_MATCHUTILS_H
#define HYBRID_LIB_TRANSFORMS_MATCHUTILS_H

#include "mlir/IR/Value.h"

#include <optional>

namespace mlir::hybrid {

/// The value every element of `v` holds: a splat constant, or a linalg.fill
/// of a constant (how dynamic shapes spell a broadcast scalar).
std::optional<double> matchSplat(Value v);

/// `v` without reshapes that only add or drop unit dims (how importers
/// spell Unsqueeze, keepdims and broadcasting's collapses).
Value stripUnitReshapes(Value v);

} // namespace mlir::hybrid

#endif // HYBRID_LIB_TRANSFORMS_MATCHUTILS_H
