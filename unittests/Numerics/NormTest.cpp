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
