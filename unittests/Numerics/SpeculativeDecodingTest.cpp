//===- SpeculativeDecodingTest.cpp - Fused verification = greedy decoding ===//
//
// A one-layer hybrid model (GQA attention over a KV cache, a Lightning
// recurrence, an LM head) with a plain decode step and a verification step
// over an 8-node draft tree. After hybrid-fuse-sparse-speculation, one
// verification step gives the same logits, accepted path, bonus token,
// committed KV cache and committed recurrent state as decoding the accepted
// tokens one at a time (f32, 1e-5 x norm). Without the fusion the committed
// state is wrong: the plain recurrence runs through every node as a chain.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

const char *kModel = R"mlir(
// A one-layer hybrid model: GQA attention over a KV cache plus a Lightning
// recurrence, residual, LM head. Dm = 16, Hq = 2, Hkv = 1, D = 8, V = 12.
func.func private @heads(%x: tensor<?x16xf32>, %w: tensor<16x16xf32>) -> tensor<1x2x?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x16xf32>) -> tensor<?x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<?x16xf32>, tensor<16x16xf32>) outs(%z : tensor<?x16xf32>) -> tensor<?x16xf32>
  %s = tensor.expand_shape %p [[0, 1], [2, 3]] output_shape [1, %n, 2, 8] : tensor<?x16xf32> into tensor<1x?x2x8xf32>
  %te = tensor.empty(%n) : tensor<1x2x?x8xf32>
  %t = linalg.transpose ins(%s : tensor<1x?x2x8xf32>) outs(%te : tensor<1x2x?x8xf32>) permutation = [0, 2, 1, 3]
  return %t : tensor<1x2x?x8xf32>
}
func.func private @kvhead(%x: tensor<?x16xf32>, %w: tensor<16x8xf32>) -> tensor<1x1x?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %p = linalg.matmul ins(%x, %w : tensor<?x16xf32>, tensor<16x8xf32>) outs(%z : tensor<?x8xf32>) -> tensor<?x8xf32>
  %s = tensor.expand_shape %p [[0, 1, 2], [3]] output_shape [1, 1, %n, 8] : tensor<?x8xf32> into tensor<1x1x?x8xf32>
  return %s : tensor<1x1x?x8xf32>
}
func.func private @merge(%h: tensor<1x2x?x8xf32>) -> tensor<?x16xf32> {
  %c2 = arith.constant 2 : index
  %n = tensor.dim %h, %c2 : tensor<1x2x?x8xf32>
  %te = tensor.empty(%n) : tensor<1x?x2x8xf32>
  %t = linalg.transpose ins(%h : tensor<1x2x?x8xf32>) outs(%te : tensor<1x?x2x8xf32>) permutation = [0, 2, 1, 3]
  %m = tensor.collapse_shape %t [[0, 1], [2, 3]] : tensor<1x?x2x8xf32> into tensor<?x16xf32>
  return %m : tensor<?x16xf32>
}
func.func private @head(%h: tensor<?x16xf32>, %wo: tensor<16x12xf32>) -> tensor<?x12xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %h, %c0 : tensor<?x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?x12xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x12xf32>) -> tensor<?x12xf32>
  %l = linalg.matmul ins(%h, %wo : tensor<?x16xf32>, tensor<16x12xf32>) outs(%z : tensor<?x12xf32>) -> tensor<?x12xf32>
  return %l : tensor<?x12xf32>
}

// One token after `prefix` cached ones.
func.func @step(%x: tensor<?x16xf32>, %kc: tensor<1x1x?x8xf32>, %vc: tensor<1x1x?x8xf32>,
                %s: tensor<1x1x8x8xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x8xf32>,
                %wv: tensor<16x8xf32>, %wo: tensor<16x12xf32>)
    -> (tensor<?x12xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>) {
  %q = func.call @heads(%x, %wq) : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<1x2x?x8xf32>
  %k = func.call @kvhead(%x, %wk) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<1x1x?x8xf32>
  %v = func.call @kvhead(%x, %wv) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<1x1x?x8xf32>
  %kc2 = tensor.concat dim(2) %kc, %k : (tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %vc2 = tensor.concat dim(2) %vc, %v : (tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %a = hybrid.attention %q, %kc2, %vc2 {causal}
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  %r, %s2 = hybrid.linear_recurrence gated %q, %k, %v state(%s : tensor<1x1x8x8xf32>)
      {decay_slopes = array<f32: 0.3>}
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  %ar = arith.addf %a, %r : tensor<1x2x?x8xf32>
  %m = func.call @merge(%ar) : (tensor<1x2x?x8xf32>) -> tensor<?x16xf32>
  %h = arith.addf %m, %x : tensor<?x16xf32>
  %l = func.call @head(%h, %wo) : (tensor<?x16xf32>, tensor<16x12xf32>) -> tensor<?x12xf32>
  return %l, %kc2, %vc2, %s2 : tensor<?x12xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>
}

// One verification step over an 8-node draft tree, written plainly: the
// fusion pass makes the recurrence tree-aware and commits its state.
func.func @verify(%x: tensor<8x16xf32>, %kc: tensor<1x1x?x8xf32>, %vc: tensor<1x1x?x8xf32>,
                  %s: tensor<1x1x8x8xf32>, %draft: tensor<8xi32>, %prefix: index,
                  %wq: tensor<16x16xf32>, %wk: tensor<16x8xf32>,
                  %wv: tensor<16x8xf32>, %wo: tensor<16x12xf32>)
    -> (tensor<?x12xf32>, tensor<8xi32>, tensor<i32>, tensor<i32>,
        tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  %xd = tensor.cast %x : tensor<8x16xf32> to tensor<?x16xf32>
  %q = func.call @heads(%xd, %wq) : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<1x2x?x8xf32>
  %k = func.call @kvhead(%xd, %wk) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<1x1x?x8xf32>
  %v = func.call @kvhead(%xd, %wv) : (tensor<?x16xf32>, tensor<16x8xf32>) -> tensor<1x1x?x8xf32>
  %kc2 = tensor.concat dim(2) %kc, %k : (tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %vc2 = tensor.concat dim(2) %vc, %v : (tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %a = hybrid.attention %q, %kc2, %vc2 tree(%parents : tensor<8xi32>) {causal}
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  %q8 = tensor.cast %q : tensor<1x2x?x8xf32> to tensor<1x2x8x8xf32>
  %k8 = tensor.cast %k : tensor<1x1x?x8xf32> to tensor<1x1x8x8xf32>
  %v8 = tensor.cast %v : tensor<1x1x?x8xf32> to tensor<1x1x8x8xf32>
  %r8, %s2 = hybrid.linear_recurrence gated %q8, %k8, %v8 state(%s : tensor<1x1x8x8xf32>)
      {decay_slopes = array<f32: 0.3>}
      : tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>
  %r = tensor.cast %r8 : tensor<1x2x8x8xf32> to tensor<1x2x?x8xf32>
  %ar = arith.addf %a, %r : tensor<1x2x?x8xf32>
  %m = func.call @merge(%ar) : (tensor<1x2x?x8xf32>) -> tensor<?x16xf32>
  %h = arith.addf %m, %xd : tensor<?x16xf32>
  %l = func.call @head(%h, %wo) : (tensor<?x16xf32>, tensor<16x12xf32>) -> tensor<?x12xf32>
  %l8 = tensor.cast %l : tensor<?x12xf32> to tensor<8x12xf32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %l8
      : tensor<8xi32>, tensor<8xi32>, tensor<8x12xf32>
  %kc3, %vc3 = hybrid.kv_compact %path, %len at %prefix
      caches(%kc2, %vc2 : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) : tensor<8xi32>, tensor<i32>
  return %l, %path, %len, %bonus, %kc3, %vc3, %s2
      : tensor<?x12xf32>, tensor<8xi32>, tensor<i32>, tensor<i32>,
        tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>
}
)mlir";

constexpr int64_t kVocab = 12, kModelDim = 16;

struct State {
  hybrid::Tensor k, v, s;
};

int32_t argmax(const ref::Array &logits, int64_t row) {
  int64_t best = 0;
  for (int64_t j = 1; j < kVocab; ++j)
    if (logits.at({row, j}) > logits.at({row, best}))
      best = j;
  return static_cast<int32_t>(best);
}

struct Model {
  hybrid::Module *module = nullptr;
  ref::Array embedding, wq, wk, wv, wo;
  std::vector<hybrid::Tensor> weights;

  hybrid::Tensor embed(const std::vector<int32_t> &tokens) {
    ref::Array x({int64_t(tokens.size()), kModelDim});
    for (size_t t = 0; t < tokens.size(); ++t)
      for (int64_t d = 0; d < kModelDim; ++d)
        x.at({int64_t(t), d}) = embedding.at({tokens[t], d});
    return toTensor(x, HYBRID_DTYPE_F32);
  }

  /// One token through the plain model; returns its logits row.
  ref::Array step(int32_t token, State &st) {
    std::vector<hybrid::Tensor> args = {embed({token}), st.k, st.v, st.s};
    args.insert(args.end(), weights.begin(), weights.end());
    auto r = run(*module, "step", args);
    EXPECT_EQ(r.size(), 4u);
    st = {r[1], r[2], r[3]};
    return fromTensor(r[0]);
  }
};

TEST(SpeculativeDecoding, FusedVerifyStepEqualsGreedyDecoding) {
  std::mt19937 rng(90);
  Model plain, fused;
  std::string fusedText = applyPasses(kModel, "hybrid-fuse-sparse-speculation");
  ASSERT_NE(fusedText.find("tree(%"), std::string::npos);
  plain.module = compile(kModel);
  fused.module = compile(fusedText);
  ASSERT_TRUE(plain.module && fused.module);
  ref::Array embedding = randomArray({kVocab, kModelDim}, rng),
             wq = randomArray({16, 16}, rng, 0.3), wk = randomArray({16, 8}, rng, 0.3),
             wv = randomArray({16, 8}, rng, 0.3), wo = randomArray({16, kVocab}, rng);
  std::vector<hybrid::Tensor> weights = {
      toTensor(wq, HYBRID_DTYPE_F32), toTensor(wk, HYBRID_DTYPE_F32),
      toTensor(wv, HYBRID_DTYPE_F32), toTensor(wo, HYBRID_DTYPE_F32)};
  for (Model *m : {&plain, &fused}) {
    m->embedding = embedding;
    m->weights = weights;
  }

  // A prefix of 5 tokens from empty caches and a zero state.
  State st;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {1, 1, 0, 8}, st.k).ok());
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {1, 1, 0, 8}, st.v).ok());
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {1, 1, 8, 8}, st.s).ok());
  ref::Array logits;
  for (int32_t token : {3, 7, 1, 9, 4})
    logits = plain.step(token, st);
  int64_t prefix = 5;
  State afterPrefix = st;
  int32_t root = argmax(logits, 0);

  // Greedy decoding from the root: the reference for everything below.
  std::vector<int32_t> greedy;
  std::vector<ref::Array> greedyLogits;
  State seq = afterPrefix;
  int32_t token = root;
  for (int i = 0; i < 4; ++i) {
    ref::Array l = plain.step(token, seq);
    greedyLogits.push_back(l);
    token = argmax(l, 0);
    greedy.push_back(token);
  }
  // Tree [-1, 0, 0, 1, 1, 2, 3, 6]: the chain 0 -> 1 -> 3 -> 6 drafts the
  // greedy tokens, the siblings and node 7 draft wrong ones.
  auto wrong = [](int32_t right) { return int32_t((right + 1) % kVocab); };
  std::vector<int32_t> draft = {root,      greedy[0], wrong(greedy[0]),
                                greedy[1], wrong(greedy[1]), 5,
                                greedy[2], wrong(greedy[3])};
  std::vector<hybrid::Tensor> args = {fused.embed(draft), afterPrefix.k,
                                      afterPrefix.v, afterPrefix.s,
                                      intTensor(draft, {8}), indexScalar(prefix)};
  args.insert(args.end(), weights.begin(), weights.end());
  auto r = run(*fused.module, "verify", args);
  ASSERT_EQ(r.size(), 7u);

  std::vector<int32_t> path = intsFromTensor(r[1]);
  int32_t length = intsFromTensor(r[2])[0];
  ASSERT_EQ(length, 4);
  EXPECT_EQ(std::vector<int32_t>(path.begin(), path.begin() + 4),
            (std::vector<int32_t>{0, 1, 3, 6}));
  EXPECT_EQ(intsFromTensor(r[3])[0], greedy[3]); // the bonus token

  ref::Array treeLogits = fromTensor(r[0]);
  for (int64_t d = 0; d < length; ++d) {
    ref::Array row({1, kVocab});
    for (int64_t j = 0; j < kVocab; ++j)
      row.at({0, j}) = treeLogits.at({path[d], j});
    EXPECT_TRUE(allClose(row, greedyLogits[d], 1e-5)) << "depth " << d;
  }
  // The committed cache holds the prefix and the accepted path's rows.
  ref::Array k = fromTensor(r[4]), v = fromTensor(r[5]);
  ref::Array seqK = fromTensor(seq.k), seqV = fromTensor(seq.v);
  ASSERT_EQ(seqK.dim(2), prefix + length);
  for (int64_t j = 0; j < prefix + length; ++j)
    for (int64_t d = 0; d < 8; ++d) {
      EXPECT_NEAR(k.at({0, 0, j, d}), seqK.at({0, 0, j, d}), 1e-5);
      EXPECT_NEAR(v.at({0, 0, j, d}), seqV.at({0, 0, j, d}), 1e-5);
    }
  EXPECT_TRUE(allClose(fromTensor(r[6]), fromTensor(seq.s), 1e-5));

  // Without the fusion the plain verify step commits a chain's state.
  auto unfused = run(*plain.module, "verify", args);
  ASSERT_EQ(unfused.size(), 7u);
  EXPECT_FALSE(allClose(fromTensor(unfused[6]), fromTensor(seq.s), 1e-3));
}

} // namespace
