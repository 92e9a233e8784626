//===- Speculation.h - Draft trees and their acceptance ---------*- C++ -*-===//
//
// A draft tree (semantics.md section 6: tokens[0] the root, the last
// committed token; parents[0] = -1, parents[i] < i) and the rule that
// accepts a path of it from the target's logits of every node (section 8):
// at a node with target distribution p, children are visited in index
// order; a child with token x, drawn deterministically by the drafter,
// is accepted with probability p(x), else p becomes norm(p without x);
// on acceptance the walk descends; the bonus token is drawn from the final
// p. The emitted tokens have exactly the target's sampling distribution;
// with greedy sampling this is the greedy rule (siblings carry distinct
// tokens, so at most one child matches the argmax).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_SPECULATION_H
#define HYBRID_GENERATE_SPECULATION_H

#include "hybrid/Generate/Sampler.h"

#include <cstdint>
#include <vector>

namespace hybrid::generate {

struct DraftTree {
  std::vector<int64_t> tokens;
  std::vector<int32_t> parents;

  int64_t size() const { return tokens.size(); }
  /// Adds a node under `parent` (-1 for the root); returns its id.
  int32_t add(int64_t token, int32_t parent) {
    tokens.push_back(token);
    parents.push_back(parent);
    return int32_t(tokens.size() - 1);
  }
};

struct Acceptance {
  /// Node ids from the root (0) to the accepted node.
  std::vector<int32_t> path;
  /// The token after the accepted node, drawn from the target.
  int64_t bonus = 0;
};

/// Walks `tree` with the target's `logits` ([N * vocab], node order).
Acceptance acceptPath(const DraftTree &tree, const std::vector<float> &logits,
                      int64_t vocab, const SamplingOptions &sampling,
                      Random &random);

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_SPECULATION_H
