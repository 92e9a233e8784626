//===- DraftTree.cpp - Draft-tree structure checks ------------------------===//

#include "hybrid/Dialect/Hybrid/IR/DraftTree.h"

#include "llvm/Support/FormatVariadic.h"

std::optional<std::string>
mlir::hybrid::describeDraftTreeError(llvm::ArrayRef<int64_t> parents) {
  if (parents.empty())
    return std::string("a draft tree needs at least its root node");
  if (parents[0] != -1)
    return llvm::formatv("the root's parent must be -1, not {0}", parents[0])
        .str();
  for (size_t i = 1; i < parents.size(); ++i) {
    // Parents precede their children, which also rules out cycles.
    if (parents[i] < 0 || parents[i] >= static_cast<int64_t>(i))
      return llvm::formatv("parent of node {0} is {1}; it must be in [0, {0})",
                           i, parents[i])
          .str();
  }
  return std::nullopt;
}
