//===- EngineTest.cpp - The generation engine against torch ---------------===//
//
// The engine over test/HF/minicpm-sala-tiny (a MiniCPM-SALA checkpoint with
// torch reference logits, make_checkpoints.py): prefill then decode, token
// by token, reproduces the reference's logits and its 16 greedy tokens;
// reset starts over; the compiled-model cache is used on a second open;
// bad input is a clear error; speculative sampling keeps the distribution
// of the generated tokens.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Generator.h"
#include "hybrid/Generate/Sampler.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>

using namespace hybrid;
using namespace hybrid::generate;

namespace {

const std::string kSala = std::string(HYBRID_HF_CHECKPOINTS_DIR) +
                          "/minicpm-sala-tiny";

/// One compiled-model cache for every test process.
std::string cacheDir() { return HYBRID_TEST_CACHE_DIR; }

EngineOptions options(int64_t context = 64) {
  EngineOptions o;
  o.contextLimit = context;
  o.cacheDir = cacheDir();
  return o;
}

Tensor npy(const std::string &path) {
  Tensor t;
  EXPECT_TRUE(Tensor::loadNpy(path, false, t).ok()) << path;
  return t;
}

/// Row `row` of batch entry 0 of logits [B, T, V].
std::vector<float> row(const Tensor &logits, int64_t row) {
  int64_t v = logits.shape()[2];
  const float *p = logits.data<float>() + row * v;
  return {p, p + v};
}

double maxError(const std::vector<float> &a, const std::vector<float> &b) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  return worst;
}

TEST(Engine, PrefillAndDecodeMatchTheReference) {
  Engine engine;
  Status s = Engine::open(kSala, options(), engine);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(engine.info().lightningLayers, 3);
  EXPECT_EQ(engine.info().attentionLayers, 1);
  EXPECT_EQ(engine.info().vocabSize, 128);

  Tensor ids = npy(kSala + "/input_ids.npy"), want = npy(kSala + "/logits.npy");
  int64_t len = ids.shape()[1], split = len - 6;
  std::vector<int64_t> prompt(ids.data<int64_t>(), ids.data<int64_t>() + len);
  std::vector<float> logits;
  // Prefill in chunks of 16 (past dense_len 24: the sparse layer selects
  // blocks), then decode the rest one token at a time.
  EngineOptions chunked = options();
  chunked.prefillChunk = 16;
  ASSERT_TRUE(Engine::open(kSala, chunked, engine).ok());
  int64_t calls = 0;
  s = engine.prefill({prompt.begin(), prompt.begin() + split}, logits,
                     [&](int64_t done, int64_t total) {
                       ++calls;
                       EXPECT_EQ(total, split);
                       EXPECT_LE(done, total);
                     });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(calls, (split + 15) / 16);
  EXPECT_LE(maxError(logits, row(want, split - 1)), 1e-4);
  for (int64_t p = split; p < len; ++p) {
    ASSERT_TRUE(engine.decode(prompt[p], logits).ok());
    EXPECT_LE(maxError(logits, row(want, p)), 1e-4) << "position " << p;
  }
  EXPECT_EQ(engine.position(), len);

  // 16 greedy steps from our own choices, after a reset.
  engine.reset();
  ASSERT_TRUE(engine.prefill(prompt, logits).ok());
  Tensor greedy = npy(kSala + "/greedy_ids.npy");
  for (int64_t j = 0; j < greedy.shape()[1]; ++j) {
    int64_t next = argmax(logits.data(), logits.size());
    EXPECT_EQ(next, greedy.data<int64_t>()[j]) << "step " << j;
    ASSERT_TRUE(engine.decode(next, logits).ok());
  }
}

TEST(Engine, SecondOpenUsesTheCompiledModelCache) {
  Engine first, second;
  ASSERT_TRUE(Engine::open(kSala, options(), first).ok());
  ASSERT_TRUE(Engine::open(kSala, options(), second).ok());
  EXPECT_FALSE(second.info().compiled);
}

TEST(Engine, DenseModeDiffersPastDenseLen) {
  // --sparse none: the InfLLM-V2 layer attends every key, so the rows past
  // dense_len (24) differ from the sparse reference and the first do not.
  EngineOptions dense = options();
  dense.sparseAttention = false;
  Engine engine;
  ASSERT_TRUE(Engine::open(kSala, dense, engine).ok());
  Tensor ids = npy(kSala + "/input_ids.npy"), want = npy(kSala + "/logits.npy");
  std::vector<int64_t> prompt(ids.data<int64_t>(),
                              ids.data<int64_t>() + ids.shape()[1]);
  std::vector<float> logits;
  ASSERT_TRUE(engine.prefill({prompt.begin(), prompt.begin() + 20}, logits)
                  .ok());
  EXPECT_LE(maxError(logits, row(want, 19)), 1e-4);
  ASSERT_TRUE(engine.prefill({prompt.begin() + 20, prompt.end()}, logits)
                  .ok());
  EXPECT_GT(maxError(logits, row(want, prompt.size() - 1)), 1e-3);
}

TEST(Engine, BadInputIsAClearError) {
  Engine engine;
  ASSERT_TRUE(Engine::open(kSala, options(8), engine).ok());
  std::vector<float> logits;
  Status empty = engine.prefill({}, logits);
  EXPECT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("the prompt is empty"), std::string::npos);
  Status tooLong = engine.prefill(std::vector<int64_t>(9, 1), logits);
  EXPECT_FALSE(tooLong.ok());
  EXPECT_NE(tooLong.message().find("does not fit the context limit of 8"),
            std::string::npos)
      << tooLong.message();
  ASSERT_TRUE(engine.prefill(std::vector<int64_t>(8, 1), logits).ok());
  Status full = engine.decode(1, logits);
  EXPECT_FALSE(full.ok());
  EXPECT_NE(full.message().find("context limit of 8 tokens is reached"),
            std::string::npos);
  Status oov = Engine::open(kSala, options(), engine).ok()
                   ? engine.prefill({1, 500}, logits)
                   : Status::error("open");
  EXPECT_FALSE(oov.ok());
  EXPECT_NE(oov.message().find("outside the vocabulary"), std::string::npos)
      << oov.message();

  Engine none;
  Status missing = Engine::open("/nonexistent/checkpoint", options(), none);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("not a folder"), std::string::npos)
      << missing.message();
  Status badContext = Engine::open(kSala, options(0), none);
  EXPECT_FALSE(badContext.ok());
}


// Speculative sampling end to end (prefill, a drafted tree, verify,
// acceptPath, commit, the bonus): with the tiny SALA checkpoint sampled at
// temperature 1 and top-k 4, the first two generated tokens have the same
// joint distribution with a draft (the bf16 SALA checkpoint, same
// vocabulary, 4-node trees) as without. 3000 seeded runs each; a
// two-sample chi-squared test over the pairs seen at least 20 times in
// all, with the threshold at the 0.999 quantile for its degrees of
// freedom (Wilson-Hilferty), so a correct engine fails once in a thousand
// seed sets (the seeds are fixed: the test is deterministic).
TEST(Engine, SpeculativeSamplingKeepsTheTargetDistribution) {
  Engine engine;
  ASSERT_TRUE(Engine::open(kSala, options(), engine).ok());
  std::unique_ptr<Drafter> draft;
  ASSERT_TRUE(openModelDrafter(std::string(HYBRID_HF_CHECKPOINTS_DIR) +
                                   "/minicpm-sala-blockffn-tiny-bf16",
                               options(64 + 8), 128, 0, draft)
                  .ok());
  Tensor ids = npy(kSala + "/input_ids.npy");
  std::vector<int64_t> prompt(ids.data<int64_t>(), ids.data<int64_t>() + 12);
  GenerateOptions o;
  o.maxNewTokens = 2;
  o.sampling.temperature = 1.0f;
  o.sampling.topK = 4;
  o.tree.size = 4;
  o.tree.depth = 2;
  const int runs = 3000;
  std::map<std::pair<int64_t, int64_t>, std::array<int, 2>> counts;
  int64_t accepted = 0;
  for (int spec = 0; spec < 2; ++spec)
    for (int seed = 0; seed < runs; ++seed) {
      o.seed = 1000 + seed;
      std::vector<int64_t> tokens;
      GenerateStats stats;
      ASSERT_TRUE(generateTokens(engine, spec ? draft.get() : nullptr, prompt,
                                 o, {}, tokens, stats)
                      .ok());
      ASSERT_EQ(tokens.size(), 2u);
      ++counts[{tokens[0], tokens[1]}][spec];
      accepted += spec && stats.stepTokens > 1;
    }
  // The drafts are accepted often enough for the test to mean something.
  EXPECT_GT(accepted, runs / 10);
  double chi2 = 0;
  int bins = 0, restA = 0, restB = 0;
  for (auto &[pair, c] : counts) {
    if (c[0] + c[1] < 20) {
      restA += c[0], restB += c[1];
      continue;
    }
    chi2 += std::pow(c[0] - c[1], 2) / double(c[0] + c[1]);
    ++bins;
  }
  if (restA + restB > 0) {
    chi2 += std::pow(restA - restB, 2) / double(restA + restB);
    ++bins;
  }
  int dof = bins - 1;
  ASSERT_GT(dof, 3);
  double z = 3.09, h = 2.0 / (9.0 * dof);
  double threshold = dof * std::pow(1 - h + z * std::sqrt(h), 3);
  EXPECT_LT(chi2, threshold) << dof << " degrees of freedom";
}


// The attended-key count of semantics.md sections 2-3 for
// minicpm-sala-tiny's sparse_config (blocks of 8, top-2, a window of one
// block, dense below 24 keys), worked by hand: at position 39 the query's
// block is 4 (its window), blocks 0-3 are candidates, 2 of them attended:
// 16 keys + 8 in the window; at 25, 2 of blocks 0-2 and 2 keys of block 3.
TEST(Engine, AttendedKeysFollowTheSparseBudget) {
  Engine engine;
  ASSERT_TRUE(Engine::open(kSala, options(), engine).ok());
  const ModelInfo &info = engine.info();
  EXPECT_EQ(info.attendedKeys(10), 11);
  EXPECT_EQ(info.attendedKeys(22), 23);
  EXPECT_EQ(info.attendedKeys(25), 18);
  EXPECT_EQ(info.attendedKeys(39), 24);
  EngineOptions dense = options();
  dense.sparseAttention = false;
  ASSERT_TRUE(Engine::open(kSala, dense, engine).ok());
  EXPECT_EQ(engine.info().attendedKeys(39), 40);
}

} // namespace
