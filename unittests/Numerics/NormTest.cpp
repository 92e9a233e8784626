//===- NormTest.cpp - rms_norm and rotary_embedding against the reference -===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

TEST(RMSNorm, AxesAndBroadcastScales) {
  std::mt19937 rng(50);
  struct Case {
    std::vector<int64_t> x, scale;
    int64_t axis;
  };
  for (const Case &c : std::vector<Case>{{{3, 37}, {37}, -1},
                                         {{2, 3, 4, 5}, {3, 4, 5}, 1},
                                         {{2, 3, 4, 5}, {4, 1}, 2},
                                         {{4, 6}, {4, 6}, 0}}) {
    std::vector<int64_t> dynX(c.x.size(), -1), dynS(c.scale.size(), -1);
    std::string xt = tensorType(dynX, "f32"), st = tensorType(dynS, "f32");
    std::string text = "func.func @norm(%x: " + xt + ", %s: " + st + ") -> " + xt +
                       " {\n  %y = hybrid.rms_norm %x, %s {axis = " +
                       std::to_string(c.axis) + ", epsilon = 1.0e-3 : f32} : " +
                       xt + ", " + st + "\n  return %y : " + xt + "\n}\n";
    hybrid::Module *m = compile(text);
    ASSERT_TRUE(m);
    ref::Array x = randomArray(c.x, rng), s = randomArray(c.scale, rng);
    auto r = run(*m, "norm", {toTensor(x, HYBRID_DTYPE_F32), toTensor(s, HYBRID_DTYPE_F32)});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(allClose(fromTensor(r[0]), ref::rmsNorm(x, s, c.axis, 1e-3), 1e-5));
  }
}

TEST(RotaryEmbedding, HalvesAndInterleavedWithPartialRotation) {
  std::mt19937 rng(51);
  for (bool interleaved : {false, true})
    for (int64_t rotary : {0, 4}) {
      SCOPED_TRACE(testing::Message() << interleaved << " " << rotary);
      int64_t half = (rotary ? rotary : 8) / 2;
      std::string attrs = "{";
      if (interleaved)
        attrs += "interleaved";
      if (rotary)
        attrs += std::string(interleaved ? ", " : "") +
                 "rotary_embedding_dim = " + std::to_string(rotary);
      attrs += "}";
      std::string xt = "tensor<?x?x?x8xf32>", ct = "tensor<?x?xf32>";
      std::string text = "func.func @rope(%x: " + xt + ", %c: " + ct + ", %s: " + ct +
                         ", %p: tensor<?x?xi64>) -> " + xt +
                         " {\n  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : "
                         "tensor<?x?xi64>) " + attrs + " : " + xt + ", " + ct + ", " + ct +
                         "\n  return %y : " + xt + "\n}\n";
      hybrid::Module *m = compile(text);
      ASSERT_TRUE(m);
      ref::Array x = randomArray({2, 3, 5, 8}, rng), c = randomArray({20, half}, rng),
                 s = randomArray({20, half}, rng);
      std::vector<int64_t> pos(10);
      hybrid::Tensor posT;
      ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {2, 5}, posT).ok());
      for (size_t i = 0; i < pos.size(); ++i)
        posT.data<int64_t>()[i] = pos[i] = rng() % 20;
      auto r = run(*m, "rope", {toTensor(x, HYBRID_DTYPE_F32), toTensor(c, HYBRID_DTYPE_F32),
                                toTensor(s, HYBRID_DTYPE_F32), posT});
      ASSERT_EQ(r.size(), 1u);
      EXPECT_TRUE(allClose(fromTensor(r[0]),
                           ref::rotaryEmbedding(x, c, s, pos, interleaved, rotary), 1e-5));
    }
}

} // namespace

namespace {

TEST(CumSum, IntegersAddExactlyAndABadAxisIsAnErrorStatus) {
  // int64 sums past 2^53 stay exact (no float detour); reverse exclusive
  // along axis -1; an axis outside [-rank, rank) is an error status.
  hybrid::Module *m = compile(
      "func.func @cs(%x: tensor<2x3xi64>, %a: tensor<i64>) -> tensor<2x3xi64> {\n"
      "  %y = hybrid.cumsum %x, %a {exclusive, reverse} : tensor<2x3xi64>, tensor<i64>\n"
      "  return %y : tensor<2x3xi64>\n}\n");
  ASSERT_TRUE(m);
  hybrid::Tensor x, axis;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {2, 3}, x).ok());
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {}, axis).ok());
  const int64_t big = int64_t(1) << 60;
  int64_t values[6] = {big, 1, 2, 3, big, 5};
  std::copy(values, values + 6, x.data<int64_t>());
  axis.data<int64_t>()[0] = -1;
  std::vector<hybrid::Tensor> results;
  ASSERT_TRUE(m->invoke("cs", {x, axis}, results).ok());
  // Row 0 from the end, exclusive: [1 + 2, 2, 0]; row 1: [big + 5, 5, 0].
  const int64_t want[6] = {3, 2, 0, big + 5, 5, 0};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(results[0].data<int64_t>()[i], want[i]) << "at " << i;
  axis.data<int64_t>()[0] = 2;
  hybrid::Status s = m->invoke("cs", {x, axis}, results);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("hybrid.cumsum: axis is out of range"),
            std::string::npos)
      << s.message();
}

} // namespace

namespace {

TEST(TopK, TiesByLowerIndexAndABadKIsAnErrorStatus) {
  hybrid::Module *m = compile(
      "func.func @tk(%x: tensor<6xf32>, %k: tensor<1xi64>) -> (tensor<?xf32>, tensor<?xi64>) {\n"
      "  %v, %i = hybrid.topk %x, %k {axis = 0 : i64, largest} : tensor<6xf32>, tensor<1xi64> -> tensor<?xf32>, tensor<?xi64>\n"
      "  return %v, %i : tensor<?xf32>, tensor<?xi64>\n}\n");
  ASSERT_TRUE(m);
  hybrid::Tensor x, k;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {6}, x).ok());
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {1}, k).ok());
  const float in[6] = {1, 5, 3, 5, -2, 3};
  std::copy(in, in + 6, x.data<float>());
  k.data<int64_t>()[0] = 4;
  std::vector<hybrid::Tensor> r;
  ASSERT_TRUE(m->invoke("tk", {x, k}, r).ok());
  ASSERT_EQ(r[0].shape(), std::vector<int64_t>{4});
  const float values[4] = {5, 5, 3, 3};
  const int64_t indices[4] = {1, 3, 2, 5};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r[0].data<float>()[i], values[i]) << i;
    EXPECT_EQ(r[1].data<int64_t>()[i], indices[i]) << i;
  }
  k.data<int64_t>()[0] = 7;
  hybrid::Status s = m->invoke("tk", {x, k}, r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("hybrid.topk: k is out of range"), std::string::npos)
      << s.message();
}

} // namespace

namespace {

TEST(Runtime, AValueReturnedTwiceGivesTwoIndependentTensors) {
  // One allocation behind two results: each tensor must own its memory
  // (freeing both used to be a double free).
  hybrid::Module *m = compile(
      "func.func @twice(%x: tensor<2x4xf32>, %w: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {\n"
      "  %y = hybrid.rms_norm %x, %w : tensor<2x4xf32>, tensor<4xf32>\n"
      "  return %y, %y : tensor<2x4xf32>, tensor<2x4xf32>\n}\n");
  ASSERT_TRUE(m);
  std::mt19937 rng(40);
  ref::Array x = randomArray({2, 4}, rng), w = randomArray({4}, rng);
  for (int round = 0; round < 3; ++round) {
    std::vector<hybrid::Tensor> r;
    ASSERT_TRUE(m->invoke("twice", {toTensor(x, HYBRID_DTYPE_F32),
                                    toTensor(w, HYBRID_DTYPE_F32)},
                          r)
                    .ok());
    ASSERT_EQ(r.size(), 2u);
    EXPECT_NE(r[0].data<float>(), r[1].data<float>());
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(r[0].data<float>()[i], r[1].data<float>()[i]);
    r[0].data<float>()[0] = 42.0f; // independent storage
    EXPECT_NE(r[1].data<float>()[0], 42.0f);
  }
}

} // namespace

namespace {

TEST(Runtime, AnAbsurdThreadCountIsAnErrorStatus) {
  // libomp aborted the process when asked for 100000 threads.
  hybrid::Module *m = compile(
      "func.func @n(%x: tensor<2x4xf32>, %w: tensor<4xf32>) -> tensor<2x4xf32> {\n"
      "  %y = hybrid.rms_norm %x, %w : tensor<2x4xf32>, tensor<4xf32>\n"
      "  return %y : tensor<2x4xf32>\n}\n");
  ASSERT_TRUE(m);
  hybrid::Status s = m->setNumThreads(100000);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("between 1 and 1024, not 100000"), std::string::npos)
      << s.message();
  EXPECT_FALSE(m->setNumThreads(0).ok());
  EXPECT_TRUE(m->setNumThreads(2).ok());
}

} // namespace
