//===- EdgeCasesTest.cpp - NaN, Inf, empty sequences, one-node trees ------===//
//
// Numerical edge cases through the compiled ops (issue 13), each against
// what IEEE arithmetic on semantics.md's formulas gives:
//   - a NaN or an Inf in one input reaches the outputs whose formula reads
//     it, and no other position (a later token never leaks into an earlier
//     one through a recurrence; an attention row that masks a key may see
//     its NaN only through softmax(S) V's product by 0, as the formula and
//     torch give), and never crashes;
//   - zero-length sequences give empty results (and states unchanged);
//   - a draft tree of one node verifies to its root and bonus token.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

#include <cmath>
#include <limits>

using namespace hybrid;
using namespace hybrid::test;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

const char *kModule = R"mlir(
func.func @attn(%q: tensor<1x2x?x16xf32>, %k: tensor<1x1x?x16xf32>,
                %v: tensor<1x1x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x2x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}
func.func @norm(%x: tensor<?x16xf32>, %w: tensor<16xf32>) -> tensor<?x16xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<?x16xf32>, tensor<16xf32>
  return %y : tensor<?x16xf32>
}
func.func @recur(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x?x8xf32>,
                 %v: tensor<1x1x?x8xf32>, %g: tensor<1x1x?xf32>,
                 %s0: tensor<1x1x8x8xf32>)
    -> (tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<1x1x?xf32>)
      state(%s0 : tensor<1x1x8x8xf32>) {chunk_size = 4}
      : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  return %o, %s : tensor<1x1x?x8xf32>, tensor<1x1x8x8xf32>
}
func.func @verify(%p: tensor<?xi32>, %d: tensor<?xi32>, %l: tensor<?x?xf32>)
    -> (tensor<?xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %l
      : tensor<?xi32>, tensor<?xi32>, tensor<?x?xf32>
  return %path, %len, %bonus : tensor<?xi32>, tensor<i32>, tensor<i32>
}
)mlir";

hybrid::Module *module() { return compile(kModule); }

bool isNaN(double x) { return std::isnan(x); }

TEST(EdgeCases, NaNAndInfInAttentionReachOnlyWhatReadsThem) {
  hybrid::Module *m = module();
  ASSERT_TRUE(m);
  std::mt19937 rng(1);
  ref::Array q = randomArray({1, 2, 6, 16}, rng), k = randomArray({1, 1, 6, 16}, rng),
             v = randomArray({1, 1, 6, 16}, rng);
  // Key 3's value: NaN in dim 2, +Inf in dim 5. Causal: rows 3.. read it.
  v.at({0, 0, 3, 2}) = kNaN;
  v.at({0, 0, 3, 5}) = kInf;
  // Query row 1 of head 1 is NaN: its scores, its output.
  q.at({0, 1, 1, 0}) = kNaN;
  ref::Array out = fromTensor(run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32),
                                               toTensor(k, HYBRID_DTYPE_F32),
                                               toTensor(v, HYBRID_DTYPE_F32)})[0]);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t d = 0; d < 16; ++d) {
        double y = out.at({0, h, i, d});
        SCOPED_TRACE("head " + std::to_string(h) + " row " + std::to_string(i) +
                     " dim " + std::to_string(d));
        if (h == 1 && i == 1)
          EXPECT_TRUE(isNaN(y));
        else if (i >= 3 && d == 2)
          EXPECT_TRUE(isNaN(y));
        else if (i >= 3 && d == 5)
          EXPECT_EQ(y, kInf);
        else if (d == 2 || d == 5)
          // Rows before key 3 mask it: softmax(S) V (semantics.md section
          // 1, and torch) multiplies its value by a probability of 0, and
          // 0 x NaN, 0 x Inf are NaN; a kernel that skips the masked key
          // gives a finite number. Either, never anything else.
          EXPECT_TRUE(isNaN(y) || std::isfinite(y));
        else
          EXPECT_TRUE(std::isfinite(y));
      }
}

TEST(EdgeCases, NaNAndInfInRMSNormStayInTheirRow) {
  hybrid::Module *m = module();
  ASSERT_TRUE(m);
  std::mt19937 rng(2);
  ref::Array x = randomArray({4, 16}, rng), w = randomArray({16}, rng);
  x.at({1, 7}) = kNaN;
  x.at({2, 4}) = kInf; // mean of squares Inf: finite x / Inf = 0, Inf / Inf NaN
  ref::Array y = fromTensor(
      run(*m, "norm", {toTensor(x, HYBRID_DTYPE_F32), toTensor(w, HYBRID_DTYPE_F32)})[0]);
  for (int64_t d = 0; d < 16; ++d) {
    EXPECT_TRUE(isNaN(y.at({1, d}))) << d;
    if (d == 4)
      EXPECT_TRUE(isNaN(y.at({2, d})));
    else
      EXPECT_EQ(y.at({2, d}), 0.0) << d;
    EXPECT_TRUE(std::isfinite(y.at({0, d})) && std::isfinite(y.at({3, d})));
  }
}

TEST(EdgeCases, NaNInARecurrenceReachesOnlyLaterTokens) {
  // Token 5's key is NaN: outputs 0-4 (chunk 0 and the first token of
  // chunk 1) stay finite, outputs 5.. and the final state are NaN.
  hybrid::Module *m = module();
  ASSERT_TRUE(m);
  std::mt19937 rng(3);
  ref::Array q = randomArray({1, 1, 10, 8}, rng), k = randomArray({1, 1, 10, 8}, rng),
             v = randomArray({1, 1, 10, 8}, rng), g = randomArray({1, 1, 10}, rng, 0.1),
             s0 = randomArray({1, 1, 8, 8}, rng);
  for (int64_t t = 0; t < 10; ++t)
    g.at({0, 0, t}) = -std::fabs(g.at({0, 0, t})); // log decays
  k.at({0, 0, 5, 3}) = kNaN;
  auto r = run(*m, "recur", {toTensor(q, HYBRID_DTYPE_F32), toTensor(k, HYBRID_DTYPE_F32),
                             toTensor(v, HYBRID_DTYPE_F32), toTensor(g, HYBRID_DTYPE_F32),
                             toTensor(s0, HYBRID_DTYPE_F32)});
  ref::Array o = fromTensor(r[0]);
  for (int64_t t = 0; t < 10; ++t)
    for (int64_t d = 0; d < 8; ++d) {
      SCOPED_TRACE("token " + std::to_string(t) + " dim " + std::to_string(d));
      if (t < 5)
        EXPECT_TRUE(std::isfinite(o.at({0, 0, t, d})));
      else
        EXPECT_TRUE(isNaN(o.at({0, 0, t, d})));
    }
}

TEST(EdgeCases, EmptySequencesGiveEmptyResults) {
  hybrid::Module *m = module();
  ASSERT_TRUE(m);
  std::mt19937 rng(4);
  ref::Array q = randomArray({1, 2, 0, 16}, rng), kv = randomArray({1, 1, 0, 16}, rng);
  auto a = run(*m, "attn", {toTensor(q, HYBRID_DTYPE_F32), toTensor(kv, HYBRID_DTYPE_F32),
                            toTensor(kv, HYBRID_DTYPE_F32)});
  EXPECT_EQ(a[0].shape(), (std::vector<int64_t>{1, 2, 0, 16}));
  ref::Array x = randomArray({0, 16}, rng), w = randomArray({16}, rng);
  auto n = run(*m, "norm", {toTensor(x, HYBRID_DTYPE_F32), toTensor(w, HYBRID_DTYPE_F32)});
  EXPECT_EQ(n[0].shape(), (std::vector<int64_t>{0, 16}));
  // No tokens: no outputs, the state as it came in.
  ref::Array rq = randomArray({1, 1, 0, 8}, rng), g = randomArray({1, 1, 0}, rng),
             s0 = randomArray({1, 1, 8, 8}, rng);
  auto r = run(*m, "recur", {toTensor(rq, HYBRID_DTYPE_F32), toTensor(rq, HYBRID_DTYPE_F32),
                             toTensor(rq, HYBRID_DTYPE_F32), toTensor(g, HYBRID_DTYPE_F32),
                             toTensor(s0, HYBRID_DTYPE_F32)});
  EXPECT_EQ(r[0].shape(), (std::vector<int64_t>{1, 1, 0, 8}));
  EXPECT_TRUE(allClose(fromTensor(r[1]), s0, 0.0));
}

TEST(EdgeCases, ATreeOfOneNodeVerifiesToItsRoot) {
  hybrid::Module *m = module();
  ASSERT_TRUE(m);
  ref::Array logits({1, 5});
  for (int64_t j = 0; j < 5; ++j)
    logits.data[j] = j == 3 ? 2.0 : -1.0;
  auto r = run(*m, "verify", {intTensor({-1}, {1}), intTensor({0}, {1}),
                              toTensor(logits, HYBRID_DTYPE_F32)});
  EXPECT_EQ(intsFromTensor(r[0]), (std::vector<int32_t>{0}));
  EXPECT_EQ(intsFromTensor(r[1]), (std::vector<int32_t>{1}));
  EXPECT_EQ(intsFromTensor(r[2]), (std::vector<int32_t>{3}));
}

} // namespace
