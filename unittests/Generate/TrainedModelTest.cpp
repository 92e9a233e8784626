//===- TrainedModelTest.cpp - The bundled model, plain and speculative ----===//
//
// models/sala-kjv (MiniCPM-SALA-style, trained by models/train_sala.py) and
// its draft models/sala-kjv-draft:
//   - the engine's logits over a prompt equal the torch reference's
//     (models/make_references.py: test/HF/reference_modeling.py on the same
//     bf16 weights) within 1e-4, and its 32 greedy tokens are the
//     reference's; prefill + decode equals one prefill of everything;
//   - greedy speculative decoding emits exactly the tokens of plain greedy
//     decoding, 128 new tokens after each of the 10 prompts of
//     test/Generate/prompts.txt (the last 9 run past dense_len, so the
//     sparse layer selects blocks), for trees of 1, 4, 16 and 64 nodes
//     from the draft model and for prompt lookup, with sparse attention on
//     and off;
//   - a draft with another vocabulary is refused.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Generator.h"
#include "hybrid/Generate/Tokenizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

using namespace hybrid;
using namespace hybrid::generate;

namespace {

const std::string kModel = std::string(HYBRID_MODELS_DIR) + "/sala-kjv";
const std::string kDraft = std::string(HYBRID_MODELS_DIR) + "/sala-kjv-draft";
const std::string kData = HYBRID_GENERATE_DATA_DIR;

EngineOptions options(int64_t context, bool sparse = true) {
  EngineOptions o;
  o.contextLimit = context;
  o.sparseAttention = sparse;
  o.cacheDir = HYBRID_TEST_CACHE_DIR;
  return o;
}

Tensor npy(const std::string &path) {
  Tensor t;
  EXPECT_TRUE(Tensor::loadNpy(path, false, t).ok()) << path;
  return t;
}

std::vector<std::vector<int64_t>> prompts() {
  Tokenizer tokenizer;
  EXPECT_TRUE(Tokenizer::load(kModel, tokenizer).ok());
  std::ifstream file(kData + "/prompts.txt");
  std::vector<std::vector<int64_t>> out;
  for (std::string line; std::getline(file, line);) {
    std::vector<int64_t> ids;
    EXPECT_TRUE(tokenizer.encode(line, ids).ok());
    ids.insert(ids.begin(), tokenizer.bos());
    out.push_back(ids);
  }
  return out;
}

TEST(TrainedModel, MatchesTheTorchReference) {
  Engine engine;
  Status s = Engine::open(kModel, options(256), engine);
  ASSERT_TRUE(s.ok()) << s.message();
  Tensor ids = npy(kData + "/sala-kjv/prompt_ids.npy");
  Tensor want = npy(kData + "/sala-kjv/logits.npy");
  Tensor greedy = npy(kData + "/sala-kjv/greedy_ids.npy");
  int64_t len = ids.shape()[1], vocab = want.shape()[2];
  std::vector<int64_t> prompt(ids.data<int64_t>(), ids.data<int64_t>() + len);
  // Prefill half, then decode the rest: each row against the reference.
  std::vector<float> logits;
  ASSERT_TRUE(engine.prefill({prompt.begin(), prompt.begin() + len / 2},
                             logits)
                  .ok());
  double worst = 0;
  auto compare = [&](int64_t row) {
    for (int64_t v = 0; v < vocab; ++v)
      worst = std::max(worst, double(std::fabs(
                                  logits[v] -
                                  want.data<float>()[row * vocab + v])));
  };
  compare(len / 2 - 1);
  for (int64_t p = len / 2; p < len; ++p) {
    ASSERT_TRUE(engine.decode(prompt[p], logits).ok());
    compare(p);
  }
  EXPECT_LE(worst, 1e-4) << "max |logit error|";
  for (int64_t j = 0; j < greedy.shape()[1]; ++j) {
    int64_t next = argmax(logits.data(), vocab);
    ASSERT_EQ(next, greedy.data<int64_t>()[j]) << "greedy step " << j;
    ASSERT_TRUE(engine.decode(next, logits).ok());
  }
}

class Speculative : public ::testing::TestWithParam<bool> {};

TEST_P(Speculative, GreedyEqualsPlainGreedy) {
  bool sparse = GetParam();
  Engine engine;
  Status s = Engine::open(kModel, options(512, sparse), engine);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<Drafter> draft;
  s = openModelDrafter(kDraft, options(512 + 64, sparse),
                       engine.info().vocabSize, /*draftVocab=*/0, draft);
  ASSERT_TRUE(s.ok()) << s.message();
  // FR-Spec: the same draft scoring its 512 most frequent tokens.
  std::unique_ptr<Drafter> frequent;
  s = openModelDrafter(kDraft, options(512 + 64, sparse),
                       engine.info().vocabSize, /*draftVocab=*/512, frequent);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<Drafter> lookup = makeLookupDrafter();
  GenerateOptions o;
  o.maxNewTokens = 128;
  double accepted = 0, acceptedFrequent = 0;
  int64_t runs = 0, runsFrequent = 0;
  for (const std::vector<int64_t> &prompt : prompts()) {
    std::vector<int64_t> plain, spec;
    GenerateStats stats;
    ASSERT_TRUE(generateTokens(engine, nullptr, prompt, o, {}, plain, stats).ok());
    ASSERT_EQ(plain.size(), 128u);
    for (int64_t size : {1, 4, 16, 64}) {
      o.tree.size = size;
      o.tree.depth = std::min<int64_t>(6, size);
      s = generateTokens(engine, draft.get(), prompt, o, {}, spec, stats);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(spec, plain) << "tree size " << size << ", prompt of "
                             << prompt.size() << " tokens";
      accepted += stats.meanAccepted();
      ++runs;
    }
    for (int64_t size : {4, 16}) {
      o.tree.size = size;
      o.tree.depth = std::min<int64_t>(6, size);
      s = generateTokens(engine, frequent.get(), prompt, o, {}, spec, stats);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(spec, plain) << "FR-Spec draft, tree size " << size;
      acceptedFrequent += stats.meanAccepted();
      ++runsFrequent;
    }
    o.tree = TreeShape();
    ASSERT_TRUE(generateTokens(engine, lookup.get(), prompt, o, {}, spec, stats)
                    .ok());
    EXPECT_EQ(spec, plain) << "prompt lookup";
  }
  // The draft agrees with the target often enough to matter.
  EXPECT_GT(accepted / runs, 1.2) << "mean accepted tokens per step";
  EXPECT_GT(acceptedFrequent / runsFrequent, 1.2)
      << "mean accepted tokens per step of the FR-Spec draft";
}

INSTANTIATE_TEST_SUITE_P(Sparse, Speculative, ::testing::Values(true, false),
                         [](const auto &info) {
                           return info.param ? "SparseAuto" : "SparseNone";
                         });

TEST(TrainedModel, DraftWithAnotherVocabularyIsRefused) {
  std::unique_ptr<Drafter> draft;
  Status s = openModelDrafter(std::string(HYBRID_HF_CHECKPOINTS_DIR) +
                                  "/minicpm-sala-tiny",
                              options(256), 2048, 0, draft);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("a draft must share the target's tokenizer"),
            std::string::npos)
      << s.message();
}


/// FR-Spec asks for the draft's token ranking and a strict subset of the
/// vocabulary.
TEST(TrainedModel, DraftVocabularyNeedsARankingAndASubset) {
  std::unique_ptr<Drafter> draft;
  Status s = openModelDrafter(kDraft, options(256), 2048, 2048, draft);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is not a subset of the 2048-token vocabulary"),
            std::string::npos)
      << s.message();
  s = openModelDrafter(std::string(HYBRID_HF_CHECKPOINTS_DIR) +
                           "/minicpm-sala-tiny",
                       options(256), 128, 16, draft);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("needs the draft's token ids by frequency"),
            std::string::npos)
      << s.message();
}
} // namespace
