//===- DraftTree.h - Draft-tree structure checks ----------------*- C++ -*-===//
//
// A draft tree is a parent array (`parents[0] = -1`, `0 <= parents[i] < i`).
// The verifiers check constant trees with it; the runtime checks the trees it
// is handed at run time with the same function, so both say the same thing.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_DRAFTTREE_H
#define HYBRID_DIALECT_HYBRID_IR_DRAFTTREE_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::hybrid {

/// Returns why `parents` is not a draft tree, or nothing when it is one.
std::optional<std::string> describeDraftTreeError(llvm::ArrayRef<int64_t> parents);

} // namespace mlir::hybrid

#endif // HYBRID_DIALECT_HYBRID_IR_DRAFTTREE_H
