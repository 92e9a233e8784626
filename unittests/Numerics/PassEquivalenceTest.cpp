//===- PassEquivalenceTest.cpp - Passes keep (or knowingly change) results ===//
//
// Each hybrid pass runs on a module; the original and the transformed module
// are compiled and run on the same inputs. Layout choice and the dense-sparse
// switch must not change results (f32 tolerance 1e-5 x norm); sparsification
// equals dense attention below dense_len and the block-sparse reference above.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

#include <numeric>

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

/// out[b, h, t, :] = a[b, h, rows[t], :] for t < count: the rows of a
/// [B, H, S, D] array along a draft-tree path.
ref::Array rowsAlong(const ref::Array &a, const std::vector<int32_t> &rows,
                     int64_t count) {
  ref::Array out({a.dim(0), a.dim(1), count, a.dim(3)});
  for (int64_t b = 0; b < a.dim(0); ++b)
    for (int64_t h = 0; h < a.dim(1); ++h)
      for (int64_t t = 0; t < count; ++t)
        for (int64_t d = 0; d < a.dim(3); ++d)
          out.at({b, h, t, d}) = a.at({b, h, rows[t], d});
  return out;
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

namespace {

/// The fused verify step commits exactly the state that running the
/// accepted tokens one at a time produces, and each accepted node's output
/// is the sequential output of its token (no replay needed).
TEST(PassEquivalence, FusedRecurrenceCommitsTheSequentialState) {
  std::mt19937 rng(84);
  const char *text = R"mlir(
func.func @verify(%q: tensor<1x2x8x16xf32>, %k: tensor<1x1x8x16xf32>,
                  %v: tensor<1x1x8x16xf32>, %s0: tensor<1x1x16x16xf32>,
                  %draft: tensor<8xi32>, %ids: tensor<8xi32>)
    -> (tensor<1x2x8x16xf32>, tensor<1x1x16x16xf32>, tensor<8xi32>, tensor<i32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x1x8xf32>)
      beta(%b : tensor<1x1x8xf32>) state(%s0 : tensor<1x1x16x16xf32>)
      : tensor<1x2x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %ids
      : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
  return %o, %s, %path, %len
      : tensor<1x2x8x16xf32>, tensor<1x1x16x16xf32>, tensor<8xi32>, tensor<i32>
}
)mlir";
  // Decay and beta as constants of the module.
  std::string module = text;
  std::string constants =
      "  %g = arith.constant dense<[[[-0.1, -0.2, -0.05, -0.3, -0.1, -0.2, "
      "-0.15, -0.25]]]> : tensor<1x1x8xf32>\n"
      "  %b = arith.constant dense<[[[0.9, 0.5, 0.7, 0.3, 0.6, 0.8, 0.4, "
      "0.5]]]> : tensor<1x1x8xf32>\n";
  module.insert(module.find("  %o, %s"), constants);
  std::string fused = applyPasses(module, "hybrid-fuse-sparse-speculation");
  ASSERT_NE(fused.find("hybrid.kv_compact"), std::string::npos) << fused;
  hybrid::Module *m = compile(fused);
  ASSERT_TRUE(m);

  ref::Array q = randomArray({1, 2, 8, 16}, rng, 0.5),
             k = randomArray({1, 1, 8, 16}, rng, 0.25),
             v = randomArray({1, 1, 8, 16}, rng),
             s0 = randomArray({1, 1, 16, 16}, rng, 0.1);
  // Target argmax ids: node 0 -> 5, 1 -> 6, 3 -> 7, 6 -> 9; the drafts on
  // the path 0 -> 1 -> 3 -> 6 match them, the others do not.
  std::vector<int32_t> draft = {0, 5, 4, 6, 1, 2, 7, 3};
  std::vector<int32_t> ids = {5, 6, 0, 7, 0, 0, 9, 0};
  auto r = run(*m, "verify",
               {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                toTensor(v, HYBRID_DTYPE_F32), toTensor(s0, HYBRID_DTYPE_F32),
                intTensor(draft, {8}), intTensor(ids, {8})});
  ASSERT_EQ(r.size(), 4u);
  std::vector<int32_t> path = intsFromTensor(r[2]);
  ASSERT_EQ(intsFromTensor(r[3])[0], 4);
  ASSERT_EQ(std::vector<int32_t>(path.begin(), path.begin() + 4),
            (std::vector<int32_t>{0, 1, 3, 6}));

  // The accepted tokens, one at a time, through the plain recurrence.
  std::vector<int32_t> accepted = {0, 1, 3, 6};
  double gAll[8] = {-0.1, -0.2, -0.05, -0.3, -0.1, -0.2, -0.15, -0.25};
  double bAll[8] = {0.9, 0.5, 0.7, 0.3, 0.6, 0.8, 0.4, 0.5};
  ref::Array sq = rowsAlong(q, accepted, 4), sk = rowsAlong(k, accepted, 4),
             sv = rowsAlong(v, accepted, 4), sg({1, 1, 4}), sb({1, 1, 4});
  for (int64_t t = 0; t < 4; ++t) {
    sg.at({0, 0, t}) = static_cast<float>(gAll[accepted[t]]);
    sb.at({0, 0, t}) = static_cast<float>(bAll[accepted[t]]);
  }
  ref::RecurrenceParams p;
  p.rule = ref::Rule::GatedDelta;
  p.decay = &sg;
  p.beta = &sb;
  p.initialState = &s0;
  ref::Array state;
  ref::Array sequential = ref::linearRecurrence(sq, sk, sv, p, state);
  EXPECT_TRUE(allClose(fromTensor(r[1]), state, 1e-5));
  EXPECT_TRUE(
      allClose(rowsAlong(fromTensor(r[0]), accepted, 4), sequential, 1e-5));
}

} // namespace

namespace {

/// Tree attention over the KV cache, verification and compaction, fused:
/// the accepted nodes' outputs and the committed cache equal decoding the
/// accepted tokens one at a time (dense regime: below dense_len the nodes'
/// shared selection does not change what they attend).
TEST(PassEquivalence, FusedTreeAttentionEqualsSequentialDecoding) {
  std::mt19937 rng(85);
  const char *text = R"mlir(
#cfg = #hybrid.sparse_config<kernel_size = 4, kernel_stride = 2, block_size = 8,
    topk = 2, init_blocks = 1, window_size = 16, dense_len = 100000>
func.func @verify(%q: tensor<1x2x8x16xf32>, %kc: tensor<1x1x?x16xf32>,
                  %vc: tensor<1x1x?x16xf32>, %prefix: index,
                  %draft: tensor<8xi32>, %ids: tensor<8xi32>)
    -> (tensor<1x2x8x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>,
        tensor<8xi32>, tensor<i32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  %sel = hybrid.block_select %q, %kc config(#cfg)
      : tensor<1x2x8x16xf32>, tensor<1x1x?x16xf32>
  %o = hybrid.block_sparse_attention %q, %kc, %vc blocks(%sel : tensor<1x1x8x2xi32>)
      tree(%parents : tensor<8xi32>) config(#cfg)
      : tensor<1x2x8x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %ids
      : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
  %k2, %v2 = hybrid.kv_compact %path, %len at %prefix
      caches(%kc, %vc : tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>)
      : tensor<8xi32>, tensor<i32>
  return %o, %k2, %v2, %path, %len
      : tensor<1x2x8x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>,
        tensor<8xi32>, tensor<i32>
}
)mlir";
  std::string fused = applyPasses(text, "hybrid-fuse-sparse-speculation");
  ASSERT_NE(fused.find("policy union"), std::string::npos) << fused;
  hybrid::Module *m = compile(fused);
  ASSERT_TRUE(m);

  int64_t prefix = 37, total = prefix + 8;
  ref::Array q = randomArray({1, 2, 8, 16}, rng),
             kc = randomArray({1, 1, total, 16}, rng),
             vc = randomArray({1, 1, total, 16}, rng);
  std::vector<int32_t> draft = {0, 5, 4, 6, 1, 2, 7, 3};
  std::vector<int32_t> ids = {5, 6, 0, 7, 0, 0, 9, 0};
  auto r = run(*m, "verify",
               {toTensor(q, HYBRID_DTYPE_F32), toTensor(kc, HYBRID_DTYPE_F32),
                toTensor(vc, HYBRID_DTYPE_F32), indexScalar(prefix),
                intTensor(draft, {8}), intTensor(ids, {8})});
  ASSERT_EQ(r.size(), 5u);
  std::vector<int32_t> path = intsFromTensor(r[3]);
  int32_t length = intsFromTensor(r[4])[0];
  ASSERT_EQ(length, 4);

  // The committed cache: the accepted rows moved behind the prefix.
  ref::Array k2 = ref::kvCompact(kc, path, length, prefix);
  ref::Array v2 = ref::kvCompact(vc, path, length, prefix);
  EXPECT_TRUE(allClose(fromTensor(r[1]), k2, 0.0));
  EXPECT_TRUE(allClose(fromTensor(r[2]), v2, 0.0));

  // Decoding the accepted tokens one at a time over the committed cache.
  std::vector<int32_t> committed(prefix + length);
  std::iota(committed.begin(), committed.end(), 0);
  ref::Array seqQ = rowsAlong(q, path, length),
             seqK = rowsAlong(k2, committed, prefix + length),
             seqV = rowsAlong(v2, committed, prefix + length);
  ref::AttentionParams p;
  p.offset = prefix;
  ref::Array sequential = ref::attention(seqQ, seqK, seqV, p);
  EXPECT_TRUE(
      allClose(rowsAlong(fromTensor(r[0]), path, length), sequential, 1e-5));
}

} // namespace

namespace {

/// The linalg spelling of GQA attention (broadcast K/V, constant scale,
/// additive mask, softmax, two batch matmuls) raised to hybrid.attention
/// computes the attention reference on the KV heads.
TEST(PassEquivalence, RaisedAttentionComputesTheReference) {
  std::mt19937 rng(86);
  const char *text = R"mlir(
func.func @gqa(%q: tensor<2x8x?x64xf32>, %k: tensor<2x2x?x64xf32>, %v: tensor<2x2x?x64xf32>,
               %mask: tensor<16x?x?xf32>) -> tensor<16x?x64xf32> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<2x8x?x64xf32>
  %t = tensor.dim %k, %c2 : tensor<2x2x?x64xf32>
  %zero = arith.constant 0.0 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x8x?x64xf32> into tensor<16x?x64xf32>
  %kb0 = tensor.empty(%t) : tensor<2x2x4x?x64xf32>
  %kb = linalg.broadcast ins(%k : tensor<2x2x?x64xf32>) outs(%kb0 : tensor<2x2x4x?x64xf32>) dimensions = [2]
  %k3 = tensor.collapse_shape %kb [[0, 1, 2], [3], [4]] : tensor<2x2x4x?x64xf32> into tensor<16x?x64xf32>
  %vb0 = tensor.empty(%t) : tensor<2x2x4x?x64xf32>
  %vb = linalg.broadcast ins(%v : tensor<2x2x?x64xf32>) outs(%vb0 : tensor<2x2x4x?x64xf32>) dimensions = [2]
  %v3 = tensor.collapse_shape %vb [[0, 1, 2], [3], [4]] : tensor<2x2x4x?x64xf32> into tensor<16x?x64xf32>
  %kt0 = tensor.empty(%t) : tensor<16x64x?xf32>
  %kt = linalg.transpose ins(%k3 : tensor<16x?x64xf32>) outs(%kt0 : tensor<16x64x?xf32>) permutation = [0, 2, 1]
  %s0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %scores = linalg.batch_matmul ins(%q3, %kt : tensor<16x?x64xf32>, tensor<16x64x?xf32>) outs(%sz : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %c8 = arith.constant 0.125 : f32
  %sc0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %scale = linalg.fill ins(%c8 : f32) outs(%sc0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %scaled = arith.mulf %scores, %scale : tensor<16x?x?xf32>
  %masked = arith.addf %scaled, %mask : tensor<16x?x?xf32>
  %p0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %p = linalg.softmax dimension(2) ins(%masked : tensor<16x?x?xf32>) outs(%p0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %o0 = tensor.empty(%s) : tensor<16x?x64xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<16x?x64xf32>) -> tensor<16x?x64xf32>
  %o = linalg.batch_matmul ins(%p, %v3 : tensor<16x?x?xf32>, tensor<16x?x64xf32>) outs(%oz : tensor<16x?x64xf32>) -> tensor<16x?x64xf32>
  return %o : tensor<16x?x64xf32>
}
)mlir";
  std::string raised = applyPasses(text, "hybrid-raise-attention");
  ASSERT_NE(raised.find("hybrid.attention"), std::string::npos) << raised;
  ASSERT_EQ(raised.find("linalg.softmax"), std::string::npos) << raised;
  hybrid::Module *m = compile(raised);
  ASSERT_TRUE(m);
  int64_t s = 5, t = 11;
  ref::Array q = randomArray({2, 8, s, 64}, rng), k = randomArray({2, 2, t, 64}, rng),
             v = randomArray({2, 2, t, 64}, rng), mask = randomArray({16, s, t}, rng);
  auto r = run(*m, "gqa", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                           toTensor(v, HYBRID_DTYPE_F32), toTensor(mask, HYBRID_DTYPE_F32)});
  ASSERT_EQ(r.size(), 1u);
  ref::Array mask4 = mask;
  mask4.shape = {2, 8, s, t};
  ref::AttentionParams p;
  p.causal = false;
  p.scale = 0.125;
  p.mask = &mask4;
  ref::Array expected = ref::attention(q, k, v, p);
  expected.shape = {16, s, 64};
  EXPECT_TRUE(allClose(fromTensor(r[0]), expected, 1e-5));
}

} // namespace

namespace {

/// The spelled-out RMSNorm and rotate-half rotary embedding, raised, compute
/// the ONNX references.
TEST(PassEquivalence, RaisedNormAndRotaryComputeTheReferences) {
  std::mt19937 rng(87);
  const char *text = R"mlir(
func.func @rms_norm(%x: tensor<?x256xf32>, %w: tensor<256xf32>) -> tensor<?x256xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %sq = arith.mulf %x, %x : tensor<?x256xf32>
  %acc0 = tensor.empty(%t) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.reduce ins(%sq : tensor<?x256xf32>) outs(%acc : tensor<?xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %a = arith.addf %in, %init : f32
      linalg.yield %a : f32
    }
  %width = arith.constant 256.0 : f32
  %n = linalg.fill ins(%width : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %mean = arith.divf %sum, %n : tensor<?xf32>
  %epsv = arith.constant 1.0e-6 : f32
  %e = linalg.fill ins(%epsv : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %var = arith.addf %mean, %e : tensor<?xf32>
  %r = math.rsqrt %var : tensor<?xf32>
  %b0 = tensor.empty(%t) : tensor<?x256xf32>
  %rb = linalg.broadcast ins(%r : tensor<?xf32>) outs(%b0 : tensor<?x256xf32>) dimensions = [1]
  %xn = arith.mulf %x, %rb : tensor<?x256xf32>
  %wb = linalg.broadcast ins(%w : tensor<256xf32>) outs(%b0 : tensor<?x256xf32>) dimensions = [0]
  %y = arith.mulf %xn, %wb : tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
func.func @rotary(%x: tensor<1x4x?x8xf32>, %c: tensor<1x?x4xf32>, %s: tensor<1x?x4xf32>) -> tensor<1x4x?x8xf32> {
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c2 : tensor<1x4x?x8xf32>
  %x1 = tensor.extract_slice %x[0, 0, 0, 0] [1, 4, %n, 4] [1, 1, 1, 1] : tensor<1x4x?x8xf32> to tensor<1x4x?x4xf32>
  %x2 = tensor.extract_slice %x[0, 0, 0, 4] [1, 4, %n, 4] [1, 1, 1, 1] : tensor<1x4x?x8xf32> to tensor<1x4x?x4xf32>
  %nx2 = arith.negf %x2 : tensor<1x4x?x4xf32>
  %rot = tensor.concat dim(3) %nx2, %x1 : (tensor<1x4x?x4xf32>, tensor<1x4x?x4xf32>) -> tensor<1x4x?x8xf32>
  %cos = tensor.concat dim(2) %c, %c : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
  %sin = tensor.concat dim(2) %s, %s : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
  %e = tensor.empty(%n) : tensor<1x4x?x8xf32>
  %cb = linalg.broadcast ins(%cos : tensor<1x?x8xf32>) outs(%e : tensor<1x4x?x8xf32>) dimensions = [1]
  %sb = linalg.broadcast ins(%sin : tensor<1x?x8xf32>) outs(%e : tensor<1x4x?x8xf32>) dimensions = [1]
  %a = arith.mulf %x, %cb : tensor<1x4x?x8xf32>
  %b = arith.mulf %rot, %sb : tensor<1x4x?x8xf32>
  %y = arith.addf %a, %b : tensor<1x4x?x8xf32>
  return %y : tensor<1x4x?x8xf32>
}
)mlir";
  std::string raised = applyPasses(text, "hybrid-raise-attention");
  ASSERT_NE(raised.find("hybrid.rms_norm"), std::string::npos) << raised;
  ASSERT_NE(raised.find("hybrid.rotary_embedding"), std::string::npos) << raised;
  hybrid::Module *m = compile(raised);
  ASSERT_TRUE(m);

  ref::Array x = randomArray({5, 256}, rng), w = randomArray({256}, rng);
  auto norm = run(*m, "rms_norm", {toTensor(x, HYBRID_DTYPE_F32), toTensor(w, HYBRID_DTYPE_F32)});
  ASSERT_EQ(norm.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(norm[0]), ref::rmsNorm(x, w, -1, 1e-6), 1e-5));

  int64_t s = 6;
  ref::Array xr = randomArray({1, 4, s, 8}, rng), c = randomArray({1, s, 4}, rng),
             sn = randomArray({1, s, 4}, rng);
  auto rot = run(*m, "rotary", {toTensor(xr, HYBRID_DTYPE_F32), toTensor(c, HYBRID_DTYPE_F32),
                                toTensor(sn, HYBRID_DTYPE_F32)});
  ASSERT_EQ(rot.size(), 1u);
  // One batch: the [1, S, 4] tables are [S, 4] tables at positions 0..S-1.
  ref::Array table = c, tableSin = sn;
  table.shape = tableSin.shape = {s, 4};
  std::vector<int64_t> positions(s);
  for (int64_t i = 0; i < s; ++i)
    positions[i] = i;
  EXPECT_TRUE(allClose(fromTensor(rot[0]),
                       ref::rotaryEmbedding(xr, table, tableSin, positions,
                                            /*interleaved=*/false, 0),
                       1e-5));
}

} // namespace
