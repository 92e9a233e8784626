//===- DraftTreeTest.cpp - The draft-tree structure check -----------------===//

#include "hybrid/Dialect/Hybrid/IR/DraftTree.h"

#include <gtest/gtest.h>

using mlir::hybrid::describeDraftTreeError;

TEST(DraftTree, AcceptsChainsAndWideTrees) {
  EXPECT_FALSE(describeDraftTreeError({-1}));
  EXPECT_FALSE(describeDraftTreeError({-1, 0, 1, 2, 3}));
  EXPECT_FALSE(describeDraftTreeError({-1, 0, 0, 0, 0}));
  EXPECT_FALSE(describeDraftTreeError({-1, 0, 0, 1, 1, 2, 3, 6}));
}

TEST(DraftTree, NamesTheBrokenNode) {
  EXPECT_EQ(describeDraftTreeError({}).value_or(""),
            "a draft tree needs at least its root node");
  EXPECT_EQ(describeDraftTreeError({0, 0}).value_or(""),
            "the root's parent must be -1, not 0");
  EXPECT_EQ(describeDraftTreeError({-1, 0, 2}).value_or(""),
            "parent of node 2 is 2; it must be in [0, 2)");
  EXPECT_EQ(describeDraftTreeError({-1, -1}).value_or(""),
            "parent of node 1 is -1; it must be in [0, 1)");
}
