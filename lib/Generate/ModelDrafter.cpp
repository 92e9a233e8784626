//===- ModelDrafter.cpp - Draft trees from a small model ------------------===//

#include "hybrid/Generate/Drafter.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace hybrid;
using namespace hybrid::generate;

namespace {

/// log softmax of one row.
std::vector<double> logProbabilities(const float *logits, int64_t vocab) {
  double top = *std::max_element(logits, logits + vocab), total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += std::exp(double(logits[i]) - top);
  std::vector<double> out(vocab);
  double log = std::log(total);
  for (int64_t i = 0; i < vocab; ++i)
    out[i] = double(logits[i]) - top - log;
  return out;
}

class ModelDrafter : public Drafter {
public:
  explicit ModelDrafter(Engine engine) : engine_(std::move(engine)) {}

  /// The token logit column `column` scores (FR-Spec's head scores a
  /// subset, in frequency order).
  int64_t tokenOf(int64_t column) const {
    const std::vector<int64_t> &head = engine_.info().headTokens;
    return head.empty() ? column : head[column];
  }

  Status start(const std::vector<int64_t> &prompt) override {
    // The draft caches what the target caches: the whole prompt (the
    // first root is the token sampled after it).
    engine_.reset();
    std::vector<float> logits;
    return engine_.prefill(prompt, logits);
  }

  Status propose(int64_t root, const std::vector<int64_t> &,
                 const TreeShape &shape, DraftTree &tree) override {
    if (shape.chain)
      return proposeChain(root, shape, tree);
    chain_.clear();
    tree = DraftTree();
    tree.add(root, -1);
    std::vector<double> score = {0.0}; // cumulative draft log-probability
    std::vector<int32_t> frontier = {0};
    int64_t size = std::min(shape.size,
                            engine_.contextLimit() - engine_.position());
    // Children kept per level: enough to spend the node budget over the
    // levels, at least one.
    int64_t width =
        shape.chain ? 1
                    : std::max<int64_t>(1, (size - 1 + shape.depth - 1) /
                                               std::max<int64_t>(shape.depth,
                                                                 1));
    int64_t columns = engine_.info().logitColumns;
    std::vector<float> logits;
    for (int64_t level = 0; level < shape.depth && tree.size() < size &&
                            !frontier.empty();
         ++level) {
      if (Status s = engine_.verify(tree.tokens, tree.parents, logits); !s)
        return s;
      // Candidates: each frontier node's top `width` tokens.
      struct Candidate {
        double score;
        int32_t parent;
        int64_t token;
        size_t position = 0; // in the sequence being sorted
      };
      std::vector<Candidate> candidates;
      for (int32_t f : frontier) {
        std::vector<double> lp =
            logProbabilities(logits.data() + f * columns, columns);
        std::vector<int64_t> order(columns);
        std::iota(order.begin(), order.end(), 0);
        int64_t k = std::min(width, columns);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int64_t a, int64_t b) {
                            return lp[a] > lp[b] || (lp[a] == lp[b] && a < b);
                          });
        for (int64_t j = 0; j < k; ++j)
          candidates.push_back(
              {score[f] + lp[order[j]], f, tokenOf(order[j]), 0});
      }
      // Best first; equal scores keep their order (std::sort with the
      // position as the last key: libstdc++'s stable_sort uses the
      // deprecated get_temporary_buffer).
      for (size_t j = 0; j < candidates.size(); ++j)
        candidates[j].position = j;
      std::sort(candidates.begin(), candidates.end(),
                [](const Candidate &a, const Candidate &b) {
                  return a.score > b.score ||
                         (a.score == b.score && a.position < b.position);
                });
      int64_t keep = std::min<int64_t>(
          {int64_t(candidates.size()), width, size - tree.size()});
      // Children in the order of their parents, so that node ids grow
      // down the tree (parents[i] < i) and siblings stay together.
      for (int64_t j = 0; j < keep; ++j)
        candidates[j].position = j;
      std::sort(candidates.begin(), candidates.begin() + keep,
                [](const Candidate &a, const Candidate &b) {
                  return a.parent < b.parent ||
                         (a.parent == b.parent && a.position < b.position);
                });
      frontier.clear();
      for (int64_t j = 0; j < keep; ++j) {
        frontier.push_back(tree.add(candidates[j].token, candidates[j].parent));
        score.push_back(candidates[j].score);
      }
    }
    return Status();
  }

  Status committed(const std::vector<int64_t> &tokens) override {
    std::vector<float> logits;
    // After a decoded chain the draft's cache already holds the chain's
    // rows: keep those the target accepted, prefill the rest. A draft with
    // recurrent states takes back the states it saved after the last of
    // them.
    size_t kept = 0;
    if (!chain_.empty()) {
      while (kept < tokens.size() && kept < chain_.size() &&
             tokens[kept] == chain_[kept])
        ++kept;
      // The committed path starts at the chain's root.
      if (kept == 0)
        return Status::error("the committed tokens do not start with the "
                             "drafted chain's root");
      if (engine_.info().lightningLayers > 0) {
        if (Status s = engine_.restore(after_[kept - 1]); !s)
          return s;
      } else if (Status s = engine_.rewind(chainStart_ + kept); !s) {
        return s;
      }
      chain_.clear();
    }
    if (kept == tokens.size())
      return Status();
    return engine_.prefill({tokens.begin() + kept, tokens.end()}, logits);
  }

private:
  /// A chain: greedy decode steps (one new token per call, not the whole
  /// tree again); afterwards the cache rewinds to the tokens the target
  /// accepts, or, with recurrent states, the states saved after the last
  /// of them come back.
  Status proposeChain(int64_t root, const TreeShape &shape, DraftTree &tree) {
    tree = DraftTree();
    tree.add(root, -1);
    chainStart_ = engine_.position();
    chain_ = {root};
    int64_t size = std::min({shape.size, shape.depth + 1,
                             engine_.contextLimit() - engine_.position()});
    std::vector<float> logits;
    int64_t columns = engine_.info().logitColumns;
    bool recurrent = engine_.info().lightningLayers > 0;
    after_.resize(std::max<size_t>(after_.size(), size));
    for (int64_t token = root; tree.size() < size;) {
      if (Status s = engine_.decode(token, logits); !s)
        return s;
      // Snapshots (the states are small) let committed() keep the tokens
      // the target accepts instead of running them again.
      if (recurrent)
        if (Status s = engine_.save(after_[tree.size() - 1]); !s)
          return s;
      token = tokenOf(argmax(logits.data(), columns));
      tree.add(token, tree.size() - 1);
      chain_.push_back(token);
    }
    // The last token was proposed, not run: its row is not cached.
    chain_.pop_back();
    return Status();
  }

  Engine engine_;
  /// The decoded chain (root first) whose rows the cache holds from
  /// chainStart_, while a proposal is pending.
  std::vector<int64_t> chain_;
  int64_t chainStart_ = 0;
  /// The recurrent states after each token of the chain.
  std::vector<Engine::Saved> after_;
};

} // namespace

Status hybrid::generate::readFrequentTokens(const std::string &folder,
                                            int64_t vocab, int64_t count,
                                            std::vector<int64_t> &out) {
  std::string path = folder + "/frequent_tokens.npy";
  Tensor ranked;
  if (Status s = Tensor::loadNpy(path, false, ranked); !s)
    return Status::error("a draft vocabulary (FR-Spec) needs the draft's "
                         "token ids by frequency: " +
                         s.message());
  if (ranked.dtype() != HYBRID_DTYPE_I64 || ranked.shape().size() != 1)
    return Status::error(path + " must hold a 1-D int64 array of token ids");
  if (count <= 0 || count > ranked.shape()[0])
    return Status::error("a draft vocabulary of " + std::to_string(count) +
                         " tokens: " + path + " ranks " +
                         std::to_string(ranked.shape()[0]));
  const int64_t *ids = ranked.data<int64_t>();
  std::vector<bool> seen(vocab, false);
  for (int64_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab || seen[ids[i]])
      return Status::error(path + ": entry " + std::to_string(i) + " (" +
                           std::to_string(ids[i]) +
                           ") is not a token of the " + std::to_string(vocab) +
                           "-token vocabulary, or is listed twice");
    seen[ids[i]] = true;
  }
  out.assign(ids, ids + count);
  return Status();
}

Status hybrid::generate::openModelDrafter(const std::string &folder,
                                          const EngineOptions &options,
                                          int64_t vocab, int64_t draftVocab,
                                          std::unique_ptr<Drafter> &out) {
  EngineOptions draftOptions = options;
  if (draftVocab < 0)
    return Status::error("the draft vocabulary must be positive (0: the "
                         "whole vocabulary), not " +
                         std::to_string(draftVocab));
  if (draftVocab >= vocab)
    return Status::error("a draft vocabulary of " +
                         std::to_string(draftVocab) +
                         " tokens is not a subset of the " +
                         std::to_string(vocab) + "-token vocabulary");
  if (draftVocab > 0)
    if (Status s = readFrequentTokens(folder, vocab, draftVocab,
                                      draftOptions.headTokens);
        !s)
      return Status::error("draft model: " + s.message());
  Engine engine;
  if (Status s = Engine::open(folder, draftOptions, engine); !s)
    return Status::error("draft model: " + s.message());
  if (engine.info().vocabSize != vocab)
    return Status::error("the draft model's vocabulary has " +
                         std::to_string(engine.info().vocabSize) +
                         " tokens, the target's " + std::to_string(vocab) +
                         ": a draft must share the target's tokenizer");
  if (!engine.info().canVerify)
    return Status::error("the draft model cannot run draft trees (no "
                         "verify entry point)");
  out = std::make_unique<ModelDrafter>(std::move(engine));
  return Status();
}
