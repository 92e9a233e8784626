//===- MoETest.cpp - chunk_moe against the token-level formula ------------===//
//
// Every router kind and chunk sizes 1..T (including sizes that do not
// divide T): chunking never changes the result. Tolerance 1e-5 x the
// reference's L-inf norm. The module's activity counters count the
// (expert, chunk) pairs the reference router activates.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

#include <optional>

using namespace hybrid;
using namespace hybrid::test;

namespace {

struct MoESizes {
  int64_t tokens = 13, model = 32, experts = 8, width = 12, sharedWidth = 6;
  /// Weights with static shapes (the kernels then fold their strides).
  bool staticWeights = false;
};

std::string moeModule(const std::string &router, int64_t chunk,
                      const std::string &extraAttrs, bool shared,
                      const std::string &dtype, const MoESizes &sz,
                      const std::string &weightDtype) {
  auto dims = [&](std::initializer_list<int64_t> ds) {
    std::string t = "tensor<";
    for (int64_t d : ds)
      t += (sz.staticWeights ? std::to_string(d) : std::string("?")) + "x";
    return t + weightDtype + ">";
  };
  std::string x = "tensor<?x?x" + dtype + ">", v = dims({sz.experts}),
              wr = dims({sz.experts, sz.model}),
              up = dims({sz.experts, sz.width, sz.model}),
              down = dims({sz.experts, sz.model, sz.width});
  std::string args = "%x: " + x + ", %wr: " + wr + ", %r: " + v + ", %up: " + up +
                     ", %down: " + down;
  std::string routerOperand = router == "blockffn" ? " norm(%r : " + v + ")"
                              : router == "deco"   ? " route_scale(%r : " + v + ")"
                                                   : "";
  std::string sharedOps;
  if (shared) {
    std::string su = dims({sz.sharedWidth, sz.model}),
                sd = dims({sz.model, sz.sharedWidth});
    args += ", %su: " + su + ", %sd: " + sd;
    sharedOps = " shared(%su, %sd : " + su + ", " + sd + ")";
  }
  return "func.func @moe(" + args + ") -> " + x + " {\n  %y = hybrid.chunk_moe " +
         router + " %x, %wr" + routerOperand + " experts(%up, %down : " + up +
         ", " + down + ")" + sharedOps + " {chunk = " + std::to_string(chunk) +
         extraAttrs + "} : " + x + ", " + wr + "\n  return %y : " + x + "\n}\n";
}

/// `weightDtype` (the weights' storage, by default the input's) may differ
/// from the input's `dtype`.
void checkMoE(const std::string &router, ref::Router kind, int64_t chunk,
              bool shared, std::mt19937 &rng,
              hybrid_dtype dtype = HYBRID_DTYPE_F32, const MoESizes &sz = {},
              std::optional<hybrid_dtype> weightStorage = std::nullopt) {
  hybrid_dtype wdtype = weightStorage.value_or(dtype);
  SCOPED_TRACE(testing::Message() << router << " chunk=" << chunk
                                  << (shared ? " shared" : "") << " "
                                  << mlirType(dtype) << " weights "
                                  << mlirType(wdtype) << " tokens "
                                  << sz.tokens);
  int64_t T = sz.tokens, Dm = sz.model, E = sz.experts, Be = sz.width,
          Bs = sz.sharedWidth, topK = 2;
  hybrid::Module *m = compile(moeModule(
      router, chunk, kind == ref::Router::TopKSoftmax ? ", top_k = 2" : "",
      shared, mlirType(dtype), sz, mlirType(wdtype)));
  ASSERT_TRUE(m);
  ref::Array x = randomArray({T, Dm}, rng), wr = randomArray({E, Dm}, rng, 0.3),
             r = randomArray({E}, rng), up = randomArray({E, Be, Dm}, rng, 0.2),
             down = randomArray({E, Dm, Be}, rng, 0.2),
             su = randomArray({Bs, Dm}, rng, 0.2), sd = randomArray({Dm, Bs}, rng, 0.2);
  for (double &g : r.data)
    g = std::abs(g) + 0.1;
  std::vector<hybrid::Tensor> a = {toTensor(x, dtype), toTensor(wr, wdtype),
                                   toTensor(r, wdtype), toTensor(up, wdtype),
                                   toTensor(down, wdtype)};
  if (shared) {
    a.push_back(toTensor(su, wdtype));
    a.push_back(toTensor(sd, wdtype));
  }
  ASSERT_TRUE(m->resetMoEActivity().ok());
  auto results = run(*m, "moe", a);
  ASSERT_EQ(results.size(), 1u);
  ref::MoEParams p;
  p.router = kind;
  p.routerNorm = &r;
  p.routerScale = &r;
  p.topK = topK;
  if (shared) {
    p.sharedUp = &su;
    p.sharedDown = &sd;
  }
  ref::Array weights;
  ref::Array y = ref::chunkMoE(x, wr, up, down, p, &weights);
  EXPECT_TRUE(allClose(fromTensor(results[0]), y,
                       std::max(tolerance(dtype), tolerance(wdtype))));
  // The routers are sparse, so that chunking has something to skip.
  int64_t zeros = 0;
  for (double w : weights.data)
    zeros += w == 0;
  EXPECT_GT(zeros, 0);
  // The activity counters: (expert, chunk) pairs with a token routed to the
  // expert (shared experts are not counted), chunks, all pairs.
  int64_t chunks = (T + chunk - 1) / chunk, active = 0;
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t e = 0; e < E; ++e) {
      bool routed = false;
      for (int64_t t = c * chunk; t < std::min(T, (c + 1) * chunk); ++t)
        routed = routed || weights.at({t, e}) != 0;
      active += routed;
    }
  hybrid_moe_activity activity = m->moeActivity();
  EXPECT_EQ(activity.active_pairs, active);
  EXPECT_EQ(activity.chunks, chunks);
  EXPECT_EQ(activity.pairs, chunks * E);
  if (chunk == 1) // token-level zeros are inactive pairs
    EXPECT_LT(active, chunks * E);
}

TEST(ChunkMoE, EveryChunkSizeEqualsTheTokenLevelFormula) {
  std::mt19937 rng(30);
  for (int64_t chunk : {1, 3, 8, 13, 64})
    checkMoE("blockffn", ref::Router::BlockFFN, chunk, false, rng);
}

TEST(ChunkMoE, HalfPrecisionStorage) {
  std::mt19937 rng(32);
  checkMoE("blockffn", ref::Router::BlockFFN, 8, false, rng, HYBRID_DTYPE_F16);
  checkMoE("deco", ref::Router::Deco, 3, true, rng, HYBRID_DTYPE_BF16);
}

TEST(ChunkMoE, ExpertsOverManyTokensInRegisterTiles) {
  // Experts over more tokens than one register tile of columns (runs of
  // chunks, padded columns), widths and model sizes that are not whole
  // tiles, static weight shapes (folded strides) and dynamic ones.
  std::mt19937 rng(33);
  MoESizes sz{/*tokens=*/150, /*model=*/100, /*experts=*/16, /*width=*/40,
              /*sharedWidth=*/20, /*staticWeights=*/true};
  checkMoE("blockffn", ref::Router::BlockFFN, 8, true, rng, HYBRID_DTYPE_F32, sz);
  sz.staticWeights = false;
  checkMoE("deco", ref::Router::Deco, 5, false, rng, HYBRID_DTYPE_F32, sz);
  checkMoE("blockffn", ref::Router::BlockFFN, 16, false, rng, HYBRID_DTYPE_BF16, sz);
}

TEST(ChunkMoE, FewTokensByDotProducts) {
  // Experts with at most four tokens (a decode step, a short chain's
  // verification) run by dot products, not panels: one to five tokens,
  // the shared expert too, a model dim that is not whole vectors, and
  // bf16 weights under f32 activations (a bf16 checkpoint's experts, read
  // in place).
  std::mt19937 rng(34);
  for (int64_t tokens : {1, 2, 3, 4, 5}) {
    MoESizes sz{tokens, /*model=*/37, /*experts=*/6, /*width=*/20,
                /*sharedWidth=*/9};
    checkMoE("blockffn", ref::Router::BlockFFN, tokens, true, rng,
             HYBRID_DTYPE_F32, sz);
    checkMoE("topk_softmax", ref::Router::TopKSoftmax, 1, false, rng,
             HYBRID_DTYPE_F32, sz, HYBRID_DTYPE_BF16);
  }
}

TEST(ChunkMoE, DecoWithSharedExpertAndTopKSoftmax) {
  std::mt19937 rng(31);
  checkMoE("deco", ref::Router::Deco, 4, true, rng);
  checkMoE("topk_softmax", ref::Router::TopKSoftmax, 5, false, rng);
}

} // namespace
