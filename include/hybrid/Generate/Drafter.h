//===- Drafter.h - Proposing draft trees ------------------------*- C++ -*-===//
//
// A drafter proposes a tree over the last committed token for the target to
// verify in one call, and is told which tokens were committed:
//   - ModelDrafter: a small checkpoint with the target's tokenizer, run
//     through its own Engine; the tree grows level by level as EAGLE-2's
//     dynamic expansion does: each level runs the draft over the tree so
//     far and keeps the children (the draft's top tokens of the frontier
//     nodes) with the highest cumulative draft probability.
//   - LookupDrafter: prompt lookup (n-gram) drafting, no model: the tokens
//     that followed the most recent earlier occurrence of the context's
//     last n-gram, as a chain.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_DRAFTER_H
#define HYBRID_GENERATE_DRAFTER_H

#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Speculation.h"

#include <memory>

namespace hybrid::generate {

struct TreeShape {
  /// Nodes, the root included.
  int64_t size = 16;
  /// Levels below the root.
  int64_t depth = 6;
  /// One child per node: the generator asks for chains once sparse layers
  /// select blocks (a chain verifies exactly as decoding; a branching
  /// tree's nodes would share one selection).
  bool chain = false;
};

class Drafter {
public:
  virtual ~Drafter() = default;
  /// Called once with the prompt, before any proposal.
  virtual Status start(const std::vector<int64_t> &prompt) = 0;
  /// A tree of at most `shape` nodes over `root` (the last committed
  /// token); `history` holds every committed token before it.
  virtual Status propose(int64_t root, const std::vector<int64_t> &history,
                         const TreeShape &shape, DraftTree &tree) = 0;
  /// The tokens committed by the last step (the root first).
  virtual Status committed(const std::vector<int64_t> &tokens) = 0;
};

/// Opens the draft checkpoint in `folder`; its vocabulary must be the
/// target's (`vocab`). With `draftVocab` > 0 its head scores only the
/// `draftVocab` most frequent tokens (FR-Spec), those listed first in the
/// folder's frequent_tokens.npy (every token id once, int64, most frequent
/// first; models/train_sala.py writes it).
Status openModelDrafter(const std::string &folder, const EngineOptions &options,
                        int64_t vocab, int64_t draftVocab,
                        std::unique_ptr<Drafter> &out);

/// The first `count` ids of `folder`/frequent_tokens.npy, checked: ids of a
/// `vocab`-token vocabulary, each once (FR-Spec's draft head).
Status readFrequentTokens(const std::string &folder, int64_t vocab,
                          int64_t count, std::vector<int64_t> &out);

/// Prompt lookup over n-grams of at most `maxNgram` tokens.
std::unique_ptr<Drafter> makeLookupDrafter(int64_t maxNgram = 3);

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_DRAFTER_H
