//===- Generator.cpp - The generation loop --------------------------------===//

#include "hybrid/Generate/Generator.h"

#include <chrono>

using namespace hybrid;
using namespace hybrid::generate;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
} // namespace

Status hybrid::generate::generateTokens(
    Engine &engine, Drafter *drafter, const std::vector<int64_t> &prompt,
    const GenerateOptions &options, const std::function<void(int64_t)> &onToken,
    std::vector<int64_t> &tokens, GenerateStats &stats,
    const std::function<void(int64_t, int64_t)> &prefillProgress) {
  tokens.clear();
  stats = GenerateStats();
  stats.promptTokens = prompt.size();
  if (options.maxNewTokens < 0)
    return Status::error("the number of new tokens must not be negative");
  if (drafter && !engine.info().canVerify)
    return Status::error("the model cannot verify draft trees");
  if (drafter && (options.tree.size < 1 || options.tree.depth < 1))
    return Status::error("a draft tree needs at least one node and one "
                         "level");
  engine.reset();
  Random random(options.seed);
  if (Status s = engine.resetMoEActivity(); !s)
    return s;
  auto start = Clock::now();
  std::vector<float> logits;
  if (Status s = engine.prefill(prompt, logits, prefillProgress); !s)
    return s;
  stats.prefillSeconds = since(start);
  stats.prefillExperts = engine.moeActivity();
  if (Status s = engine.resetMoEActivity(); !s)
    return s;
  if (drafter) {
    auto draftStart = Clock::now();
    if (Status s = drafter->start(prompt); !s)
      return s;
    stats.draftSeconds += since(draftStart);
  }
  if (options.maxNewTokens == 0)
    return Status();

  // Emits `token`; false once generation must stop.
  auto emit = [&](int64_t token) {
    if (token == options.eosToken) {
      stats.stop = "eos";
      return false;
    }
    // The token was predicted by a query at the last cached position.
    int64_t at = int64_t(prompt.size() + tokens.size()) - 1;
    stats.attendedKeys += double(engine.info().attendedKeys(at));
    stats.totalKeys += double(at + 1);
    tokens.push_back(token);
    if (onToken)
      onToken(token);
    return int64_t(tokens.size()) < options.maxNewTokens;
  };
  int64_t vocab = engine.info().logitColumns;
  int64_t next = sampleToken(logits.data(), vocab, options.sampling, random);
  stats.firstTokenSeconds = since(start);
  auto decodeStart = Clock::now();
  std::vector<int64_t> history(prompt);
  bool going = emit(next);
  while (going) {
    // `next` is emitted, not yet cached: decode it, or verify a tree over it.
    if (engine.position() >= engine.contextLimit()) {
      stats.stop = "context";
      break;
    }
    DraftTree tree;
    if (drafter) {
      auto draftStart = Clock::now();
      TreeShape shape = options.tree;
      shape.size = std::min(shape.size,
                            engine.contextLimit() - engine.position());
      int64_t denseLen = engine.info().denseLen;
      shape.chain = shape.chain ||
                    (denseLen >= 0 && engine.position() + shape.size >= denseLen);
      if (Status s = drafter->propose(next, history, shape, tree); !s)
        return s;
      stats.draftSeconds += since(draftStart);
    }
    ++stats.steps;
    if (tree.size() <= 1) {
      // Nothing drafted: a plain step.
      auto callStart = Clock::now();
      if (Status s = engine.decode(next, logits); !s)
        return s;
      stats.plainSeconds += since(callStart);
      ++stats.plainCalls;
      history.push_back(next);
      if (drafter)
        if (Status s = drafter->committed({next}); !s)
          return s;
      next = sampleToken(logits.data(), vocab, options.sampling, random);
      ++stats.stepTokens;
      going = emit(next);
      continue;
    }
    auto callStart = Clock::now();
    if (Status s = engine.verify(tree.tokens, tree.parents, logits); !s)
      return s;
    Acceptance accepted =
        acceptPath(tree, logits, vocab, options.sampling, random);
    if (Status s = engine.commit(accepted.path); !s)
      return s;
    stats.verifySeconds += since(callStart);
    ++stats.verifyCalls;
    std::vector<int64_t> committed;
    for (int32_t node : accepted.path)
      committed.push_back(tree.tokens[node]);
    history.insert(history.end(), committed.begin(), committed.end());
    auto draftStart = Clock::now();
    if (Status s = drafter->committed(committed); !s)
      return s;
    stats.draftSeconds += since(draftStart);
    stats.stepTokens += accepted.path.size();
    for (size_t j = 1; j < committed.size() && going; ++j)
      going = emit(committed[j]);
    next = accepted.bonus;
    if (going)
      going = emit(next);
  }
  stats.decodeSeconds = since(decodeStart);
  stats.decodeExperts = engine.moeActivity();
  return Status();
}
