//===- AttentionTest.cpp - Attention kernels against the reference --------===//
//
// Random shapes (lengths that are not multiples of the key tile or the block
// size), GQA ratios 1, 2, 4, 16, head dims 64 and 128, f32/f16/bf16 storage.
// Tolerances: L-inf error <= 1e-5 x the reference's L-inf norm for f32
// (2e-3 for f16, 1.6e-2 for bf16 outputs).
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

const std::vector<int64_t> kDyn4 = {-1, -1, -1, -1};

std::string attentionModule(hybrid_dtype dtype, const std::string &attrs,
                            const std::string &extraArgs = "",
                            const std::string &extraOperands = "") {
  std::string t = tensorType(kDyn4, mlirType(dtype));
  return "func.func @attn(%q: " + t + ", %k: " + t + ", %v: " + t + extraArgs +
         ") -> " + t + " {\n  %o = hybrid.attention %q, %k, %v" +
         extraOperands + " " + attrs + " : " + t + ", " + t + ", " + t +
         "\n  return %o : " + t + "\n}\n";
}

struct Shape {
  int64_t batch, kvHeads, group, qLen, kvLen, headDim;
};

void checkDense(hybrid_dtype dtype, const Shape &s, bool causal,
                std::mt19937 &rng, bool groupPacked = false) {
  SCOPED_TRACE(testing::Message()
               << mlirType(dtype) << " B=" << s.batch << " Hkv=" << s.kvHeads
               << " G=" << s.group << " Sq=" << s.qLen << " Skv=" << s.kvLen
               << " D=" << s.headDim << (causal ? " causal" : "")
               << (groupPacked ? " group-packed" : ""));
  std::string attrs = causal ? "causal" : "";
  if (groupPacked)
    attrs += std::string(causal ? ", " : "") +
             "layout = #hybrid.gqa_layout<group_packed>";
  hybrid::Module *m = compile(attentionModule(dtype, "{" + attrs + "}"));
  ASSERT_TRUE(m);
  int64_t hq = s.kvHeads * s.group;
  ref::Array q = randomArray({s.batch, hq, s.qLen, s.headDim}, rng);
  ref::Array k = randomArray({s.batch, s.kvHeads, s.kvLen, s.headDim}, rng);
  ref::Array v = randomArray({s.batch, s.kvHeads, s.kvLen, s.headDim}, rng);
  auto results = run(*m, "attn",
                     {toTensor(q, dtype), toTensor(k, dtype), toTensor(v, dtype)});
  ASSERT_EQ(results.size(), 1u);
  ref::AttentionParams p;
  p.causal = causal;
  EXPECT_TRUE(allClose(fromTensor(results[0]),
                       ref::attention(q, k, v, p), tolerance(dtype)));
}

TEST(Attention, DenseMatchesReferenceAcrossGQAAndHeadDims) {
  std::mt19937 rng(1);
  for (int64_t group : {1, 2, 4, 16})
    for (int64_t headDim : {64, 128}) {
      Shape s{1, group == 16 ? 1 : 2, group,
              static_cast<int64_t>(1 + rng() % 37),
              static_cast<int64_t>(40 + rng() % 150), headDim};
      checkDense(HYBRID_DTYPE_F32, s, /*causal=*/true, rng);
    }
}

TEST(Attention, DenseNonCausalAndBatched) {
  std::mt19937 rng(2);
  checkDense(HYBRID_DTYPE_F32, {3, 2, 2, 5, 77, 64}, /*causal=*/false, rng);
  // More queries than keys: the first rows see no key and give 0.
  checkDense(HYBRID_DTYPE_F32, {1, 1, 2, 9, 4, 64}, /*causal=*/true, rng);
  // Odd head dim: the vector loops' scalar tails.
  checkDense(HYBRID_DTYPE_F32, {1, 2, 1, 7, 33, 13}, /*causal=*/true, rng);
}

TEST(Attention, GroupPackedLayoutComputesTheSameResult) {
  std::mt19937 rng(12);
  for (int64_t group : {1, 2, 4, 16})
    checkDense(HYBRID_DTYPE_F32,
               {1, 2, group, static_cast<int64_t>(1 + rng() % 20),
                static_cast<int64_t>(30 + rng() % 100), 64},
               /*causal=*/true, rng, /*groupPacked=*/true);
}

TEST(Attention, HalfPrecisionStorage) {
  std::mt19937 rng(3);
  checkDense(HYBRID_DTYPE_F16, {1, 2, 4, 17, 130, 64}, true, rng);
  checkDense(HYBRID_DTYPE_BF16, {1, 2, 4, 17, 130, 128}, true, rng);
}

TEST(Attention, BlocksOfRowsAndKeyTilesAcrossTheirEdges) {
  // Blocks hold up to 96 query rows (12 rows x 8 heads when group-packed)
  // and meet 48-key tiles: several blocks, a partial last block and tile,
  // causal limits inside tiles, value columns that are not whole register
  // tiles (72: V is packed), and half-precision K/V converted per tile.
  std::mt19937 rng(13);
  for (bool packed : {false, true}) {
    checkDense(HYBRID_DTYPE_F32, {1, 2, 8, 200, 230, 72}, true, rng, packed);
    checkDense(HYBRID_DTYPE_F32, {2, 1, 3, 150, 150, 128}, false, rng, packed);
    checkDense(HYBRID_DTYPE_BF16, {1, 2, 4, 120, 300, 64}, true, rng, packed);
  }
  // A block of 5-16 rows: S^T takes one vector of columns.
  checkDense(HYBRID_DTYPE_F32, {1, 2, 2, 7, 100, 64}, true, rng, true);
}

TEST(Attention, DecodeSplitsLongKeyRangesAcrossTasks) {
  // Fewer blocks of rows than tasks: the keys are split (flash-decoding)
  // into ranges of whole tiles and the partial results combined, including
  // rows that see no key of some ranges (causal, Sq > 1).
  std::mt19937 rng(15);
  checkDense(HYBRID_DTYPE_F32, {1, 1, 4, 3, 1000, 64}, true, rng, true);
  checkDense(HYBRID_DTYPE_F32, {2, 1, 2, 1, 700, 128}, true, rng, true);
  checkDense(HYBRID_DTYPE_F32, {1, 1, 1, 1, 500, 64}, false, rng);
  checkDense(HYBRID_DTYPE_BF16, {1, 1, 8, 2, 900, 64}, true, rng, true);
}

TEST(Attention, MasksSoftcapScaleAndTopLeftOffset) {
  std::mt19937 rng(4);
  std::string t = tensorType(kDyn4, "f32");
  // ONNX without past_key: causal aligned top-left (offset 0), additive
  // 2-D mask, explicit scale and softcap.
  std::string text =
      "func.func @attn(%q: " + t + ", %k: " + t + ", %v: " + t +
      ", %m: tensor<?x?xf32>) -> " + t +
      " {\n  %c0 = arith.constant 0 : index\n"
      "  %o = hybrid.attention %q, %k, %v mask(%m : tensor<?x?xf32>) "
      "offset(%c0) {causal, scale = 0.2 : f32, softcap = 3.0 : f32} : " +
      t + ", " + t + ", " + t + "\n  return %o : " + t + "\n}\n";
  hybrid::Module *m = compile(text);
  ASSERT_TRUE(m);
  ref::Array q = randomArray({2, 4, 6, 64}, rng), k = randomArray({2, 2, 9, 64}, rng),
             v = randomArray({2, 2, 9, 64}, rng), mask = randomArray({6, 9}, rng);
  mask.at({2, 0}) = -std::numeric_limits<double>::infinity();
  auto results = run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                                  toTensor(v, HYBRID_DTYPE_F32), toTensor(mask, HYBRID_DTYPE_F32)});
  ref::AttentionParams p;
  p.offset = 0;
  p.scale = 0.2;
  p.softcap = 3.0;
  p.mask = &mask;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(results[0]), ref::attention(q, k, v, p), 1e-5));
}

TEST(Attention, BooleanMaskAndFullyMaskedRows) {
  std::mt19937 rng(5);
  std::string t = tensorType(kDyn4, "f32");
  std::string maskType = "tensor<?x?x?x?xi1>";
  hybrid::Module *m = compile(attentionModule(
      HYBRID_DTYPE_F32, "", ", %m: " + maskType, " mask(%m : " + maskType + ")"));
  ASSERT_TRUE(m);
  ref::Array q = randomArray({1, 2, 5, 64}, rng), k = randomArray({1, 1, 8, 64}, rng),
             v = randomArray({1, 1, 8, 64}, rng);
  ref::Array mask({1, 2, 5, 8});
  hybrid::Tensor maskT;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_BOOL, {1, 2, 5, 8}, maskT).ok());
  for (int64_t i = 0; i < mask.size(); ++i) {
    bool on = rng() % 3 != 0 && i / 8 != 3; // row 3 of head 0 fully masked
    mask.data[i] = on;
    maskT.data<uint8_t>()[i] = on;
  }
  auto results = run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                                  toTensor(v, HYBRID_DTYPE_F32), maskT});
  ref::AttentionParams p;
  p.causal = false;
  p.mask = &mask;
  p.maskIsBool = true;
  ASSERT_EQ(results.size(), 1u);
  ref::Array out = fromTensor(results[0]);
  EXPECT_TRUE(allClose(out, ref::attention(q, k, v, p), 1e-5));
  for (int64_t d = 0; d < 64; ++d)
    EXPECT_EQ(out.at({0, 0, 3, d}), 0.0); // not NaN
}

TEST(Attention, ScoresAtEachStage) {
  // hybrid.attention_scores: GQA, an additive mask, causal from an explicit
  // offset, scale and softcap; -inf exactly where the reference masks.
  std::mt19937 rng(16);
  const std::pair<const char *, ref::ScoreStage> stages[] = {
      {"logits", ref::ScoreStage::Logits},
      {"biased", ref::ScoreStage::Biased},
      {"probabilities", ref::ScoreStage::Probabilities}};
  for (auto [name, stage] : stages) {
    SCOPED_TRACE(name);
    std::string t = tensorType(kDyn4, "f32");
    hybrid::Module *m = compile(
        "func.func @scores(%q: " + t + ", %k: " + t +
        ", %m: tensor<?x?xf32>) -> " + t +
        " {\n  %c2 = arith.constant 2 : index\n"
        "  %s = hybrid.attention_scores %q, %k mask(%m : tensor<?x?xf32>) "
        "offset(%c2) {causal, scale = 0.3 : f32, softcap = 5.0 : f32, "
        "stage = #hybrid.score_stage<" +
        name + ">} : " + t + ", " + t + " -> " + t + "\n  return %s : " + t +
        "\n}\n");
    ASSERT_TRUE(m);
    ref::Array q = randomArray({2, 4, 5, 16}, rng),
               k = randomArray({2, 2, 9, 16}, rng),
               mask = randomArray({5, 9}, rng);
    mask.at({1, 0}) = -std::numeric_limits<double>::infinity();
    auto results = run(*m, "scores", {toTensor(q, HYBRID_DTYPE_F32),
                                      toTensor(k, HYBRID_DTYPE_F32),
                                      toTensor(mask, HYBRID_DTYPE_F32)});
    ASSERT_EQ(results.size(), 1u);
    ref::AttentionParams p;
    p.offset = 2;
    p.scale = 0.3;
    p.softcap = 5.0;
    p.mask = &mask;
    ref::Array want = ref::attentionScores(q, k, p, stage),
               got = fromTensor(results[0]);
    int64_t masked = 0;
    for (size_t i = 0; i < want.data.size(); ++i)
      if (std::isinf(want.data[i])) {
        ++masked;
        EXPECT_EQ(got.data[i], want.data[i]) << "at flat index " << i;
        got.data[i] = want.data[i] = 0.0;
      }
    EXPECT_EQ(masked > 0, stage == ref::ScoreStage::Biased);
    EXPECT_TRUE(allClose(got, want, 1e-5));
  }
}

TEST(Attention, DraftTreeRowsAttendPrefixAndAncestors) {
  std::mt19937 rng(6);
  std::vector<int32_t> parents = {-1, 0, 0, 1, 1, 2, 3, 6};
  std::string t = tensorType(kDyn4, "f32");
  hybrid::Module *m = compile(attentionModule(
      HYBRID_DTYPE_F32, "{causal}", ", %p: tensor<?xi32>", " tree(%p : tensor<?xi32>)"));
  ASSERT_TRUE(m);
  // 3 ordinary rows before the 8 tree rows; 50 prefix keys.
  ref::Array q = randomArray({1, 4, 11, 64}, rng), k = randomArray({1, 2, 58, 64}, rng),
             v = randomArray({1, 2, 58, 64}, rng);
  auto results = run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                                  toTensor(v, HYBRID_DTYPE_F32), intTensor(parents, {8})});
  ref::AttentionParams p;
  p.parents = &parents;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(results[0]), ref::attention(q, k, v, p), 1e-5));
}

TEST(Attention, LargeDraftTreeInBlocksOfRows) {
  // 70 tree nodes after 5 ordinary rows, 200 prefix keys, G = 4: the node
  // rows span several blocks in both layouts, and the tree keys span two
  // key tiles masked by the ancestor relation.
  std::mt19937 rng(14);
  std::vector<int32_t> parents(70);
  parents[0] = -1;
  for (int32_t i = 1; i < 70; ++i)
    parents[i] = static_cast<int32_t>(rng() % i);
  for (const char *layout : {"head_major", "group_packed"}) {
    SCOPED_TRACE(layout);
    hybrid::Module *m = compile(attentionModule(
        HYBRID_DTYPE_F32,
        std::string("{causal, softcap = 4.0 : f32, layout = #hybrid.gqa_layout<") +
            layout + ">}",
        ", %p: tensor<?xi32>", " tree(%p : tensor<?xi32>)"));
    ASSERT_TRUE(m);
    ref::Array q = randomArray({1, 8, 75, 64}, rng),
               k = randomArray({1, 2, 270, 64}, rng),
               v = randomArray({1, 2, 270, 64}, rng);
    auto results =
        run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                         toTensor(v, HYBRID_DTYPE_F32), intTensor(parents, {70})});
    ref::AttentionParams p;
    p.parents = &parents;
    p.softcap = 4.0;
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(allClose(fromTensor(results[0]), ref::attention(q, k, v, p), 1e-5));
  }
}

//===----------------------------------------------------------------------===//
// Block selection and block-sparse attention
//===----------------------------------------------------------------------===//

std::string configAttr(const ref::SparseConfig &c) {
  return "#hybrid.sparse_config<kernel_size = " + std::to_string(c.kernelSize) +
         ", kernel_stride = " + std::to_string(c.kernelStride) +
         ", block_size = " + std::to_string(c.blockSize) +
         ", topk = " + std::to_string(c.topk) +
         ", init_blocks = " + std::to_string(c.initBlocks) +
         ", window_size = " + std::to_string(c.windowSize) +
         ", dense_len = " + std::to_string(c.denseLen) + ">";
}

/// select + sparse attention in one module; with `tree`, both take it.
std::string sparseModule(const ref::SparseConfig &c, bool tree, bool root) {
  std::string t = tensorType(kDyn4, "f32");
  std::string idx = "tensor<?x?x?x?xi32>";
  std::string treeArg = tree ? ", %p: tensor<?xi32>" : "";
  std::string treeOp = tree ? " tree(%p : tensor<?xi32>)" : "";
  std::string policy = tree ? (root ? " policy root" : " policy union") : "";
  std::string cfg = "config(" + configAttr(c) + ")";
  return "func.func @select(%q: " + t + ", %k: " + t + treeArg + ") -> " + idx +
         " {\n  %s = hybrid.block_select %q, %k" + treeOp + policy + " " + cfg +
         " : " + t + ", " + t + "\n  %c = tensor.cast %s : tensor<?x?x?x" +
         (tree && !root ? std::string("?") : std::to_string(c.topk)) + "xi32> to " + idx +
         "\n  return %c : " + idx + "\n}\n" + "func.func @sparse(%q: " + t +
         ", %k: " + t + ", %v: " + t + ", %s: " + idx + treeArg + ") -> " + t +
         " {\n  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : " + idx +
         ")" + treeOp + " " + cfg + " : " + t + ", " + t + ", " + t +
         "\n  return %o : " + t + "\n}\n";
}

void checkSparse(const ref::SparseConfig &c, int64_t group, int64_t qLen,
                 int64_t kvLen, int64_t headDim, std::mt19937 &rng,
                 const std::vector<int32_t> *parents = nullptr,
                 bool root = false) {
  SCOPED_TRACE(testing::Message() << "G=" << group << " Sq=" << qLen
                                  << " Skv=" << kvLen << " D=" << headDim
                                  << " block=" << c.blockSize
                                  << (parents ? " tree" : ""));
  hybrid::Module *m = compile(sparseModule(c, parents != nullptr, root));
  ASSERT_TRUE(m);
  int64_t kvHeads = 2;
  ref::Array q = randomArray({1, kvHeads * group, qLen, headDim}, rng);
  ref::Array k = randomArray({1, kvHeads, kvLen, headDim}, rng);
  ref::Array v = randomArray({1, kvHeads, kvLen, headDim}, rng);
  std::vector<hybrid::Tensor> selArgs = {toTensor(q, HYBRID_DTYPE_F32),
                                         toTensor(k, HYBRID_DTYPE_F32)};
  if (parents)
    selArgs.push_back(intTensor(*parents, {int64_t(parents->size())}));
  auto sel = run(*m, "select", selArgs);
  ASSERT_EQ(sel.size(), 1u);
  int64_t slots = 0;
  std::vector<int32_t> expected = ref::blockSelect(
      q, k, c, std::nullopt, std::nullopt, parents, root, &slots);
  EXPECT_EQ(sel[0].shape().back(), slots);
  std::vector<int32_t> got = intsFromTensor(sel[0]);
  EXPECT_EQ(got, expected) << "block selection differs";

  std::vector<hybrid::Tensor> args = {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                                      toTensor(v, HYBRID_DTYPE_F32), sel[0]};
  if (parents)
    args.push_back(intTensor(*parents, {int64_t(parents->size())}));
  auto out = run(*m, "sparse", args);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(out[0]),
                       ref::blockSparseAttention(q, k, v, got, slots, c,
                                                 std::nullopt, std::nullopt,
                                                 std::nullopt, parents),
                       1e-5));
}

TEST(BlockSparse, SelectionAndAttentionEqualDenseUnderTheMask) {
  std::mt19937 rng(7);
  ref::SparseConfig small{4, 2, 8, 3, 1, 16, 0};
  for (int64_t group : {1, 2, 4, 16}) {
    int64_t kvLen = 50 + rng() % 70; // not a multiple of the block size
    checkSparse(small, group, 1 + rng() % 20, kvLen, group == 16 ? 64 : 128,
                rng);
  }
  // MiniCPM4's kernel/stride/block with a short window.
  ref::SparseConfig minicpm{32, 16, 64, 4, 1, 128, 0};
  checkSparse(minicpm, 2, 40, 700, 64, rng);
}

TEST(BlockSparse, PrefillRowCountsWithBlocksOf64) {
  // MiniCPM4's block size with prefill-like row counts, and its dense
  // fallback.
  std::mt19937 rng(13);
  ref::SparseConfig c{32, 16, 64, 3, 1, 128, 0};
  for (int64_t group : {1, 4, 16})
    checkSparse(c, group, 37 + rng() % 40, 500 + rng() % 300,
                group == 16 ? 64 : 128, rng);
  ref::SparseConfig denseBelow{32, 16, 64, 3, 1, 128, 100000};
  checkSparse(denseBelow, 2, 20, 300, 64, rng);
}

TEST(BlockSparse, DenseBelowDenseLen) {
  std::mt19937 rng(8);
  ref::SparseConfig c{4, 2, 8, 2, 1, 8, /*denseLen=*/1000};
  checkSparse(c, 2, 12, 90, 64, rng);
}

TEST(BlockSparse, TreeSharesOneSelection) {
  std::mt19937 rng(9);
  std::vector<int32_t> parents = {-1, 0, 0, 1, 2, 2};
  ref::SparseConfig c{4, 2, 8, 2, 1, 16, 0};
  checkSparse(c, 2, 6, 70, 64, rng, &parents, /*root=*/false);
  checkSparse(c, 2, 6, 70, 64, rng, &parents, /*root=*/true);
}

/// The first `rows` rows of dim 2 of a [B, H, S, D] array.
ref::Array firstRows(const ref::Array &a, int64_t rows) {
  ref::Array out({a.dim(0), a.dim(1), rows, a.dim(3)});
  for (int64_t b = 0; b < a.dim(0); ++b)
    for (int64_t h = 0; h < a.dim(1); ++h)
      for (int64_t s = 0; s < rows; ++s)
        for (int64_t d = 0; d < a.dim(3); ++d)
          out.at({b, h, s, d}) = a.at({b, h, s, d});
  return out;
}

TEST(BlockSparse, CacheReadInPlaceWithCompressedKeys) {
  // A KV cache of 120 rows holding 90 keys (the rest junk), read in place
  // through key_length, and the compressed-key cache kept incrementally:
  // kernels of the first 61 keys (odd: a window straddles the next step),
  // then those of the next 29, into a cache of junk rows.
  std::mt19937 rng(12);
  ref::SparseConfig c{4, 2, 8, 3, 1, 16, 0};
  std::string t = tensorType(kDyn4, "f32");
  std::string idx = "tensor<?x?x?x?xi32>";
  std::string cfg = "config(" + configAttr(c) + ")";
  hybrid::Module *m = compile(
      "func.func @compress(%k1: " + t + ", %k: " + t +
      ", %len: index, %since: index) -> " + t +
      " {\n  %r = hybrid.compress_keys %k1, %k key_length(%len) since(%since) " +
      cfg + " : " + t + ", " + t + "\n  return %r : " + t + "\n}\n" +
      "func.func @select(%q: " + t + ", %k: " + t + ", %k1: " + t +
      ", %len: index, %off: index) -> " + idx +
      " {\n  %s = hybrid.block_select %q, %k offset(%off) key_length(%len) "
      "compressed(%k1 : " + t + ") " + cfg + " : " + t + ", " + t +
      "\n  %c = tensor.cast %s : tensor<?x?x?x3xi32> to " + idx +
      "\n  return %c : " + idx + "\n}\n" +
      "func.func @sparse(%q: " + t + ", %k: " + t + ", %v: " + t + ", %s: " +
      idx + ", %len: index, %off: index) -> " + t +
      " {\n  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : " + idx +
      ") offset(%off) key_length(%len) " + cfg + " : " + t + ", " + t + ", " +
      t + "\n  return %o : " + t + "\n}\n" +
      "func.func @dense(%q: " + t + ", %k: " + t + ", %v: " + t +
      ", %len: index, %off: index) -> " + t +
      " {\n  %o = hybrid.attention %q, %k, %v offset(%off) key_length(%len) "
      "{causal} : " + t + ", " + t + ", " + t + "\n  return %o : " + t +
      "\n}\n");
  ASSERT_TRUE(m);
  int64_t kvHeads = 2, group = 2, d = 64, capacity = 120, keys = 90, rows = 5;
  ref::Array q = randomArray({1, kvHeads * group, rows, d}, rng);
  ref::Array kc = randomArray({1, kvHeads, capacity, d}, rng, 50.0);
  ref::Array vc = randomArray({1, kvHeads, capacity, d}, rng, 50.0);
  ref::Array k = firstRows(kc, keys), v = firstRows(vc, keys);
  int64_t kernels = (keys - c.kernelSize) / c.kernelStride + 1;
  ref::Array junk({1, kvHeads, kernels + 3, d});
  std::fill(junk.data.begin(), junk.data.end(), 7.0);

  auto compressed = run(*m, "compress", {toTensor(junk, HYBRID_DTYPE_F32),
                                         toTensor(kc, HYBRID_DTYPE_F32),
                                         indexScalar(61), indexScalar(0)});
  ASSERT_EQ(compressed.size(), 1u);
  ref::Array partial = fromTensor(compressed[0]);
  compressed = run(*m, "compress", {toTensor(partial, HYBRID_DTYPE_F32),
                                    toTensor(kc, HYBRID_DTYPE_F32),
                                    indexScalar(keys), indexScalar(61)});
  ASSERT_EQ(compressed.size(), 1u);
  // semantics.md section 2, step 1: K1[c] = mean(K[c*stride, c*stride +
  // kernel)); rows past the kernels keep their junk.
  ref::Array want = junk;
  for (int64_t h = 0; h < kvHeads; ++h)
    for (int64_t r = 0; r < kernels; ++r)
      for (int64_t e = 0; e < d; ++e) {
        double sum = 0;
        for (int64_t w = 0; w < c.kernelSize; ++w)
          sum += k.at({0, h, r * c.kernelStride + w, e});
        want.at({0, h, r, e}) = sum / c.kernelSize;
      }
  EXPECT_TRUE(allClose(fromTensor(compressed[0]), want, 1e-5));

  int64_t offset = keys - rows;
  auto sel = run(*m, "select", {toTensor(q, HYBRID_DTYPE_F32),
                                toTensor(kc, HYBRID_DTYPE_F32), compressed[0],
                                indexScalar(keys), indexScalar(offset)});
  ASSERT_EQ(sel.size(), 1u);
  int64_t slots = 0;
  std::vector<int32_t> expected = ref::blockSelect(
      q, k, c, offset, std::nullopt, nullptr, false, &slots);
  std::vector<int32_t> got = intsFromTensor(sel[0]);
  EXPECT_EQ(got, expected) << "block selection differs";

  auto out = run(*m, "sparse", {toTensor(q, HYBRID_DTYPE_F32),
                                toTensor(kc, HYBRID_DTYPE_F32),
                                toTensor(vc, HYBRID_DTYPE_F32), sel[0],
                                indexScalar(keys), indexScalar(offset)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(out[0]),
                       ref::blockSparseAttention(q, k, v, got, slots, c, offset,
                                                 std::nullopt, std::nullopt,
                                                 nullptr),
                       1e-5));
  out = run(*m, "dense", {toTensor(q, HYBRID_DTYPE_F32),
                          toTensor(kc, HYBRID_DTYPE_F32),
                          toTensor(vc, HYBRID_DTYPE_F32), indexScalar(keys),
                          indexScalar(offset)});
  ASSERT_EQ(out.size(), 1u);
  ref::AttentionParams p;
  p.offset = offset;
  EXPECT_TRUE(allClose(fromTensor(out[0]), ref::attention(q, k, v, p), 1e-5));

  // More keys than rows, and a compressed cache too short for the kernels.
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m->invoke(
      "dense", {toTensor(q, HYBRID_DTYPE_F32), toTensor(kc, HYBRID_DTYPE_F32),
                toTensor(vc, HYBRID_DTYPE_F32), indexScalar(capacity + 1),
                indexScalar(offset)},
      results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("key_length is outside"), std::string::npos)
      << s.message();
  ref::Array shortCache({1, kvHeads, kernels - 1, d});
  s = m->invoke("compress", {toTensor(shortCache, HYBRID_DTYPE_F32),
                             toTensor(kc, HYBRID_DTYPE_F32), indexScalar(keys),
                             indexScalar(0)},
                results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fewer rows than the keys' kernels"),
            std::string::npos)
      << s.message();
}

TEST(BlockSparse, HandWrittenIndicesWithPaddingAndDuplicates) {
  std::mt19937 rng(10);
  ref::SparseConfig c{4, 2, 8, 3, 1, 8, 0};
  hybrid::Module *m = compile(sparseModule(c, false, false));
  ASSERT_TRUE(m);
  ref::Array q = randomArray({1, 2, 3, 64}, rng), k = randomArray({1, 1, 40, 64}, rng),
             v = randomArray({1, 1, 40, 64}, rng);
  std::vector<int32_t> blocks = {0, 2, 2, -1, -1, -1, 1, 0, -1};
  auto out = run(*m, "sparse", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                                toTensor(v, HYBRID_DTYPE_F32), intTensor(blocks, {1, 1, 3, 3})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(out[0]),
                       ref::blockSparseAttention(q, k, v, blocks, 3, c, std::nullopt,
                                                 std::nullopt, std::nullopt, nullptr),
                       1e-5));
}

TEST(BlockSparse, OutOfRangeIndexIsAnErrorStatus) {
  std::mt19937 rng(11);
  ref::SparseConfig c{4, 2, 8, 3, 1, 8, 0};
  hybrid::Module *m = compile(sparseModule(c, false, false));
  ASSERT_TRUE(m);
  ref::Array q = randomArray({1, 2, 2, 64}, rng), k = randomArray({1, 1, 20, 64}, rng),
             v = randomArray({1, 1, 20, 64}, rng);
  std::vector<int32_t> blocks = {0, 3, -1, 0, 1, -1}; // 20 keys: 3 blocks
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m->invoke(
      "sparse",
      {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32), toTensor(v, HYBRID_DTYPE_F32),
       intTensor(blocks, {1, 1, 2, 3})},
      results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("block index is out of range"), std::string::npos)
      << s.message();
}

} // namespace
