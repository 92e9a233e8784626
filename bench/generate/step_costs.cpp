//===- step_costs.cpp - What each generation call costs -------------------===//
//
// Speculative decoding pays when a verification of n drafted tokens costs
// little more than one decode step. This measures both on a checkpoint at
// a given context: the median time of a decode step, of verify (a chain
// of n tokens, and a branching tree of n nodes while the caches are below
// the sparse layers' dense_len) and of the commit that follows, and of a
// draft checkpoint's decode step and its prefill of the committed tokens.
//
//   hybrid-step-costs MODEL [--context N] [--draft DIR] [--draft-vocab N]
//       [--repeat R] [--num-threads T]
//
// The prompt is random token ids (the costs do not depend on the text).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"

#include "llvm/Support/CommandLine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

using namespace hybrid;
using namespace hybrid::generate;
namespace cl = llvm::cl;

static cl::OptionCategory category("hybrid-step-costs options");
static cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                     cl::desc("<checkpoint folder>"),
                                     cl::cat(category));
static cl::opt<int64_t> context("context", cl::init(1024),
                                cl::desc("Tokens cached before the calls"),
                                cl::cat(category));
static cl::opt<std::string> draftDir("draft", cl::init(""),
                                     cl::desc("A draft checkpoint to time too"),
                                     cl::cat(category));
static cl::opt<int64_t> draftVocab(
    "draft-vocab", cl::init(0),
    cl::desc("Time the draft with FR-Spec's head over its N most frequent "
             "tokens too"),
    cl::cat(category));
static cl::opt<int> repeat("repeat", cl::init(20),
                           cl::desc("Calls per measurement (the median)"),
                           cl::cat(category));
static cl::opt<int64_t> onlyChain(
    "only-chain", cl::init(0),
    cl::desc("Run only chains of this many tokens (verify + commit), "
             "--repeat times, untimed: for a profiler"),
    cl::cat(category));
static cl::opt<int> threads("num-threads", cl::init(0),
                            cl::desc("Kernel threads (0: every core)"),
                            cl::cat(category));

namespace {

using Clock = std::chrono::steady_clock;

double medianMs(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return 1e3 * seconds[seconds.size() / 2];
}

[[noreturn]] void fail(const Status &s) {
  std::fprintf(stderr, "hybrid-step-costs: %s\n", s.message().c_str());
  std::exit(1);
}

void check(const Status &s) {
  if (!s)
    fail(s);
}

Engine open(const std::string &folder, int64_t limit,
            std::vector<int64_t> headTokens = {}) {
  EngineOptions options;
  options.contextLimit = limit;
  options.threads = threads;
  options.headTokens = std::move(headTokens);
  Engine engine;
  check(Engine::open(folder, options, engine));
  return engine;
}

std::vector<int64_t> randomIds(std::mt19937 &rng, int64_t vocab, int64_t n) {
  std::uniform_int_distribution<int64_t> id(3, vocab - 1);
  std::vector<int64_t> ids(n);
  for (int64_t &t : ids)
    t = id(rng);
  return ids;
}

} // namespace

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "What each generation call costs\n");
  // Room for the calls after the context.
  int64_t limit = context + 64 * repeat + 128;
  Engine target = open(modelDir, limit);
  int64_t vocab = target.info().vocabSize;
  std::mt19937 rng(1);
  std::vector<float> logits;
  check(target.prefill(randomIds(rng, vocab, context), logits));

  if (onlyChain > 0) {
    std::vector<int32_t> parents(onlyChain);
    for (int64_t i = 0; i < onlyChain; ++i)
      parents[i] = int32_t(i - 1);
    for (int r = 0; r < repeat; ++r) {
      check(target.verify(randomIds(rng, vocab, onlyChain), parents, logits));
      check(target.commit({0}));
    }
    return 0;
  }
  std::printf("| call | tokens | median ms | per token | vs decode |\n");
  std::printf("|---|---|---|---|---|\n");
  std::vector<double> times;
  // Warm: the first calls after a prefill fault pages in and wake threads.
  for (int r = 0; r < 5; ++r)
    check(target.decode(randomIds(rng, vocab, 1)[0], logits));
  for (int r = 0; r < repeat; ++r) {
    auto t0 = Clock::now();
    check(target.decode(randomIds(rng, vocab, 1)[0], logits));
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  double decode = medianMs(times);
  auto row = [&](const std::string &call, int64_t n, double ms) {
    std::printf("| %s | %lld | %.3f | %.3f | %.2fx |\n", call.c_str(),
                static_cast<long long>(n), ms, ms / n, ms / decode);
  };
  row("decode", 1, decode);
  // Trees first: their nodes must stay below the sparse layers' dense_len
  // (past it the generator drafts chains).
  for (bool chain : {false, true}) {
    for (int64_t n : {2, 4, 8, 16}) {
      int64_t denseLen = target.info().denseLen;
      if (!chain && denseLen >= 0 && target.position() + repeat + n > denseLen)
        continue;
      std::vector<double> verify, commit;
      for (int r = 0; r < repeat; ++r) {
        std::vector<int32_t> parents(n);
        for (int64_t i = 0; i < n; ++i)
          parents[i] = chain || i == 0 ? int32_t(i - 1) : int32_t((i - 1) / 2);
        auto t0 = Clock::now();
        check(target.verify(randomIds(rng, vocab, n), parents, logits));
        auto t1 = Clock::now();
        check(target.commit({0}));
        auto t2 = Clock::now();
        verify.push_back(std::chrono::duration<double>(t1 - t0).count());
        commit.push_back(std::chrono::duration<double>(t2 - t1).count());
      }
      row(chain ? "verify (chain)" : "verify (binary tree)", n,
          medianMs(verify));
      row(chain ? "commit (chain)" : "commit (binary tree)", n,
          medianMs(commit));
    }
  }
  // The draft's decode step and its prefill of 2 and 4 committed tokens;
  // `label` names the head.
  auto timeDraft = [&](Engine draft, const std::string &label) {
    check(draft.prefill(randomIds(rng, vocab, context), logits));
    for (int r = 0; r < 5; ++r)
      check(draft.decode(randomIds(rng, vocab, 1)[0], logits));
    times.clear();
    for (int r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      check(draft.decode(randomIds(rng, vocab, 1)[0], logits));
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    row("draft decode" + label, 1, medianMs(times));
    for (int64_t n : {2, 4}) {
      times.clear();
      for (int r = 0; r < repeat; ++r) {
        auto t0 = Clock::now();
        check(draft.prefill(randomIds(rng, vocab, n), logits));
        times.push_back(
            std::chrono::duration<double>(Clock::now() - t0).count());
      }
      row("draft prefill" + label, n, medianMs(times));
    }
  };
  if (!draftDir.empty()) {
    timeDraft(open(draftDir, limit), "");
    if (draftVocab > 0) {
      std::vector<int64_t> head;
      check(readFrequentTokens(draftDir, vocab, draftVocab, head));
      timeDraft(open(draftDir, limit, std::move(head)),
                " (FR-Spec " + std::to_string(draftVocab) + ")");
    }
  }
  return 0;
}
