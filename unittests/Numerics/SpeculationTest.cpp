//===- SpeculationTest.cpp - tree_verify and kv_compact on worked trees ---===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

const char *kModule = R"mlir(
func.func @verify(%p: tensor<?xi32>, %d: tensor<?xi32>, %a: tensor<?xi32>)
    -> (tensor<?xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %a
      : tensor<?xi32>, tensor<?xi32>, tensor<?xi32>
  return %path, %len, %bonus : tensor<?xi32>, tensor<i32>, tensor<i32>
}
func.func @verify_logits(%p: tensor<?xi32>, %d: tensor<?xi32>, %l: tensor<?x?xf32>)
    -> (tensor<?xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %l
      : tensor<?xi32>, tensor<?xi32>, tensor<?x?xf32>
  return %path, %len, %bonus : tensor<?xi32>, tensor<i32>, tensor<i32>
}
func.func @compact(%path: tensor<?xi32>, %len: tensor<i32>, %prefix: index,
                   %k: tensor<?x?x?x?xf32>, %s: tensor<?x?x?x?x?xf32>)
    -> (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) {
  %k2, %s2 = hybrid.kv_compact %path, %len at %prefix
      caches(%k : tensor<?x?x?x?xf32>) states(%s : tensor<?x?x?x?x?xf32>)
      : tensor<?xi32>, tensor<i32>
  return %k2, %s2 : tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>
}
)mlir";

struct Worked {
  const char *name;
  std::vector<int32_t> parents, draft, argmax;
  std::vector<int32_t> path;
  int32_t length, bonus;
};

TEST(TreeVerify, HandWorkedTrees) {
  hybrid::Module *m = compile(kModule);
  ASSERT_TRUE(m);
  // argmax[i] is the target's token after node i.
  std::vector<Worked> trees = {
      // A chain, fully accepted: 3 drafts + bonus.
      {"chain-full", {-1, 0, 1, 2}, {0, 5, 6, 7}, {5, 6, 7, 8}, {0, 1, 2, 3}, 4, 8},
      // A chain rejected at the first draft: the bonus alone.
      {"chain-none", {-1, 0, 1, 2}, {0, 9, 6, 7}, {5, 6, 7, 8}, {0, -1, -1, -1}, 1, 5},
      // A wide tree: the second child of the root is right.
      {"wide", {-1, 0, 0, 0, 0}, {0, 1, 2, 3, 4}, {3, 0, 0, 7, 0}, {0, 3, -1, -1, -1}, 2, 7},
      // Two accepted branches of equal depth: the lower index wins.
      {"tie", {-1, 0, 0, 1, 2}, {0, 4, 4, 6, 6}, {4, 6, 6, 1, 2}, {0, 1, 3, -1, -1}, 3, 1},
      // The deeper branch wins over the shallower one.
      {"deeper", {-1, 0, 0, 2, 3}, {0, 4, 4, 9, 3}, {4, 0, 9, 3, 5}, {0, 2, 3, 4, -1}, 4, 5},
  };
  for (const Worked &w : trees) {
    SCOPED_TRACE(w.name);
    int64_t n = w.parents.size();
    auto r = run(*m, "verify", {intTensor(w.parents, {n}), intTensor(w.draft, {n}),
                                intTensor(w.argmax, {n})});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(intsFromTensor(r[0]), w.path);
    EXPECT_EQ(intsFromTensor(r[1])[0], w.length);
    EXPECT_EQ(intsFromTensor(r[2])[0], w.bonus);
    ref::Verification expected = ref::treeVerify(w.parents, w.draft, w.argmax);
    EXPECT_EQ(expected.path, w.path);
    EXPECT_EQ(expected.length, w.length);
    EXPECT_EQ(expected.bonus, w.bonus);
  }
}

TEST(TreeVerify, LogitsMatchArgmaxIds) {
  hybrid::Module *m = compile(kModule);
  ASSERT_TRUE(m);
  std::mt19937 rng(40);
  std::vector<int32_t> parents = {-1, 0, 0, 1, 1, 2, 3, 6};
  ref::Array logits = randomArray({8, 50}, rng);
  std::vector<int32_t> a = ref::argmaxRows(logits);
  std::vector<int32_t> draft = {0, a[0], (a[0] + 1) % 50, a[1], (a[1] + 2) % 50,
                                a[2], a[3], a[6]};
  auto r = run(*m, "verify_logits", {intTensor(parents, {8}), intTensor(draft, {8}),
                                     toTensor(logits, HYBRID_DTYPE_F32)});
  ASSERT_EQ(r.size(), 3u);
  ref::Verification expected = ref::treeVerify(parents, draft, a);
  EXPECT_EQ(intsFromTensor(r[0]), expected.path);
  EXPECT_EQ(intsFromTensor(r[1])[0], expected.length);
  EXPECT_EQ(intsFromTensor(r[2])[0], expected.bonus);
  EXPECT_EQ(expected.length, 5); // root, 1, 3, 6, 7
}

TEST(KVCompact, MovesExactlyTheAcceptedRows) {
  hybrid::Module *m = compile(kModule);
  ASSERT_TRUE(m);
  std::mt19937 rng(41);
  int64_t prefix = 5, nodes = 6;
  ref::Array cache = randomArray({2, 3, prefix + nodes + 2, 16}, rng);
  ref::Array states = randomArray({2, 3, nodes, 4, 5}, rng);
  std::vector<int32_t> path = {0, 2, 5, -1, -1, -1};
  int32_t length = 3;
  auto r = run(*m, "compact", {intTensor(path, {nodes}), intTensor({length}, {}),
                               indexScalar(prefix), toTensor(cache, HYBRID_DTYPE_F32),
                               toTensor(states, HYBRID_DTYPE_F32)});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(allClose(fromTensor(r[0]), ref::kvCompact(cache, path, length, prefix), 0.0));
  ref::Array selected({2, 3, 4, 5});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t d = 0; d < 5; ++d)
          selected.at({b, h, i, d}) = states.at({b, h, 5, i, d});
  EXPECT_TRUE(allClose(fromTensor(r[1]), selected, 0.0));
}

TEST(KVCompact, RejectsALengthOutsideTheTree) {
  hybrid::Module *m = compile(kModule);
  ASSERT_TRUE(m);
  std::mt19937 rng(42);
  ref::Array cache = randomArray({1, 1, 8, 4}, rng), states = randomArray({1, 1, 3, 2, 2}, rng);
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m->invoke(
      "compact",
      {intTensor({0, 1, 2}, {3}), intTensor({4}, {}), indexScalar(2),
       toTensor(cache, HYBRID_DTYPE_F32), toTensor(states, HYBRID_DTYPE_F32)},
      results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("accepted length"), std::string::npos) << s.message();
}

TEST(KVCompact, AHugePrefixIsAnErrorNotAWrappedIndex) {
  // prefix + nodes overflowed the signed add: the check passed and the
  // kernel read before the cache.
  hybrid::Module *m = compile(kModule);
  ASSERT_TRUE(m);
  std::mt19937 rng(43);
  ref::Array cache = randomArray({1, 1, 8, 4}, rng), states = randomArray({1, 1, 3, 2, 2}, rng);
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m->invoke(
      "compact",
      {intTensor({0, 1, 2}, {3}), intTensor({2}, {}),
       indexScalar(std::numeric_limits<int64_t>::max() - 1),
       toTensor(cache, HYBRID_DTYPE_F32), toTensor(states, HYBRID_DTYPE_F32)},
      results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("exceeds a cache's length"), std::string::npos)
      << s.message();
}

} // namespace
