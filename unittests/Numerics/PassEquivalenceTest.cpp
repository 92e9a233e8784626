//===- PassEquivalenceTest.cpp - Passes keep (or knowingly change) results ===//
//
// Each hybrid pass runs on a module; the original and the transformed module
// are compiled and run on the same inputs. Layout choice and the dense-sparse
// switch must not change results (f32 tolerance 1e-5 x norm); sparsification
// equals dense attention below dense_len and the block-sparse reference above.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

/// Causal attention with `qHeads` query and `kvHeads` key/value heads.
std::string denseModule(int64_t qHeads = 4, int64_t kvHeads = 2) {
  std::string q = tensorType({1, qHeads, -1, 64}, "f32");
  std::string kv = tensorType({1, kvHeads, -1, 64}, "f32");
  return "func.func @attn(%q: " + q + ", %k: " + kv + ", %v: " + kv + ") -> " +
         q + " {\n  %o = hybrid.attention %q, %k, %v {causal} : " + q + ", " +
         kv + ", " + kv + "\n  return %o : " + q + "\n}\n";
}

struct Inputs {
  ref::Array q, k, v;
  std::vector<hybrid::Tensor> tensors;
};

Inputs makeInputs(int64_t qHeads, int64_t kvHeads, int64_t qLen, int64_t kvLen,
                  std::mt19937 &rng) {
  Inputs in{randomArray({1, qHeads, qLen, 64}, rng),
            randomArray({1, kvHeads, kvLen, 64}, rng),
            randomArray({1, kvHeads, kvLen, 64}, rng),
            {}};
  in.tensors = {toTensor(in.q, HYBRID_DTYPE_F32), toTensor(in.k, HYBRID_DTYPE_F32),
                toTensor(in.v, HYBRID_DTYPE_F32)};
  return in;
}

ref::Array runOnce(const std::string &text, Inputs &in) {
  hybrid::Module *m = compile(text);
  if (!m)
    return {};
  auto r = run(*m, "attn", in.tensors);
  return r.size() == 1 ? fromTensor(r[0]) : ref::Array();
}

TEST(PassEquivalence, GQALayoutChoiceKeepsResults) {
  std::mt19937 rng(80);
  std::string chosen =
      applyPasses(denseModule(16, 2), "hybrid-select-gqa-layout{tree-size=8}");
  ASSERT_NE(chosen.find("group_packed"), std::string::npos) << chosen;
  for (int64_t qLen : {1, 8, 30}) {
    Inputs in = makeInputs(16, 2, qLen, 300, rng);
    EXPECT_TRUE(
        allClose(runOnce(chosen, in), runOnce(denseModule(16, 2), in), 1e-5));
  }
}

TEST(PassEquivalence, SparsifiedAttentionIsExactBelowDenseLen) {
  std::mt19937 rng(81);
  std::string sparse = applyPasses(
      denseModule(),
      "hybrid-sparsify-attention{topk=2 window-size=64 dense-len=1000}");
  ASSERT_NE(sparse.find("hybrid.block_sparse_attention"), std::string::npos)
      << sparse;
  Inputs in = makeInputs(4, 2, 9, 500, rng);
  EXPECT_TRUE(allClose(runOnce(sparse, in), runOnce(denseModule(), in), 1e-5));
}

TEST(PassEquivalence, SparsifiedAttentionAttendsTheSelectedBlocksAbove) {
  std::mt19937 rng(82);
  std::string sparse = applyPasses(
      denseModule(),
      "hybrid-sparsify-attention{kernel-size=4 kernel-stride=2 block-size=8 "
      "topk=2 window-size=16 dense-len=0}");
  Inputs in = makeInputs(4, 2, 12, 150, rng);
  ref::Array got = runOnce(sparse, in);
  ref::SparseConfig c{4, 2, 8, 2, 1, 16, 0};
  int64_t slots = 0;
  std::vector<int32_t> blocks = ref::blockSelect(in.q, in.k, c, std::nullopt,
                                                 std::nullopt, nullptr, false, &slots);
  EXPECT_TRUE(allClose(got,
                       ref::blockSparseAttention(in.q, in.k, in.v, blocks, slots, c,
                                                 std::nullopt, std::nullopt,
                                                 std::nullopt, nullptr),
                       1e-5));
  // And it is an approximation: not the dense result.
  EXPECT_FALSE(allClose(got, runOnce(denseModule(), in), 1e-3));
}

TEST(PassEquivalence, DenseSparseSwitchKeepsResultsOnBothSides) {
  std::mt19937 rng(83);
  std::string sparse = applyPasses(
      denseModule(),
      "hybrid-sparsify-attention{kernel-size=4 kernel-stride=2 block-size=8 "
      "topk=2 window-size=16 dense-len=100}");
  std::string switched =
      applyPasses(sparse, "hybrid-dense-sparse-switch");
  ASSERT_NE(switched.find("scf.if"), std::string::npos) << switched;
  for (int64_t kvLen : {60, 140}) { // below and above dense_len
    SCOPED_TRACE(kvLen);
    Inputs in = makeInputs(4, 2, 10, kvLen, rng);
    EXPECT_TRUE(allClose(runOnce(switched, in), runOnce(sparse, in), 1e-5));
  }
}

} // namespace
