//===- Speculation.cpp - Draft trees and their acceptance -----------------===//

#include "hybrid/Generate/Speculation.h"

#include <numeric>

using namespace hybrid::generate;

Acceptance hybrid::generate::acceptPath(const DraftTree &tree,
                                        const std::vector<float> &logits,
                                        int64_t vocab,
                                        const SamplingOptions &sampling,
                                        Random &random) {
  int64_t n = tree.size();
  std::vector<std::vector<int32_t>> children(n);
  for (int32_t i = 1; i < n; ++i)
    children[tree.parents[i]].push_back(i);
  Acceptance result;
  result.path = {0};
  int32_t node = 0;
  while (true) {
    std::vector<double> p =
        samplingDistribution(logits.data() + node * vocab, vocab, sampling);
    int32_t next = -1;
    for (int32_t child : children[node]) {
      int64_t x = tree.tokens[child];
      double px = p[x];
      // Greedy: p is one-hot, accept exactly the argmax (no draw, so the
      // random stream does not depend on the drafts).
      bool accept = sampling.greedy() ? px >= 1.0
                                      : px > 0.0 && random.uniform() < px;
      if (accept) {
        next = child;
        break;
      }
      // Rejected: the residual max(0, p - q) with q the point mass at x.
      double rest = 1.0 - px;
      p[x] = 0.0;
      if (rest <= 0.0)
        break;
      for (double &v : p)
        v /= rest;
    }
    if (next < 0) {
      result.bonus = sampling.greedy()
                         ? argmax(logits.data() + node * vocab, vocab)
                         : draw(p, random);
      return result;
    }
    result.path.push_back(next);
    node = next;
  }
}
