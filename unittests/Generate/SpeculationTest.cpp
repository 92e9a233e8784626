//===- SpeculationTest.cpp - Accepting a path of a draft tree -------------===//
//
// acceptPath against semantics.md: the greedy rule of section 6 on a
// hand-made tree, and section 8's promise that speculative sampling keeps
// the target's distribution, checked by chi-squared tests over seeded
// walks of a fixed tree on a 4-token vocabulary.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Speculation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace hybrid::generate;

namespace {

constexpr int64_t kVocab = 4;

/// Logits per node, [N * kVocab].
std::vector<float> logitsOf(const std::vector<std::vector<float>> &rows) {
  std::vector<float> out;
  for (const auto &r : rows)
    out.insert(out.end(), r.begin(), r.end());
  return out;
}

// Tree:        0 (root)
//            /   \
//       1 (t2)   2 (t1)
//        |         |   \
//    3 (t0)    4 (t3)  5 (t2)
// Target argmax: root -> 1, node 2 -> 2, node 5 -> 0, others -> 3.
// Node 2 (token 1) is correct (argmax of the root); node 5 (token 2) is
// correct (argmax of node 2): the path is 0 -> 2 -> 5, the bonus node 5's
// argmax 0. Node 1 (token 2) is wrong, so its child 3 never counts.
TEST(Speculation, GreedyAcceptsTheDeepestCorrectPath) {
  DraftTree tree;
  tree.add(9, -1);
  tree.add(2, 0);
  tree.add(1, 0);
  tree.add(0, 1);
  tree.add(3, 2);
  tree.add(2, 2);
  std::vector<float> logits = logitsOf({{0, 5, 1, 2},
                                        {0, 0, 0, 4},
                                        {1, 0, 6, 2},
                                        {0, 0, 0, 1},
                                        {0, 0, 0, 1},
                                        {7, 1, 0, 0}});
  Random random(0);
  Acceptance a = acceptPath(tree, logits, kVocab, {}, random);
  EXPECT_EQ(a.path, (std::vector<int32_t>{0, 2, 5}));
  EXPECT_EQ(a.bonus, 0);

  // No child matches: the root's argmax is the bonus.
  DraftTree wrong;
  wrong.add(9, -1);
  wrong.add(3, 0);
  Acceptance b = acceptPath(wrong, logits, kVocab, {}, random);
  EXPECT_EQ(b.path, (std::vector<int32_t>{0}));
  EXPECT_EQ(b.bonus, 1);
}

double chiSquared(const std::vector<int> &counts, const std::vector<double> &p,
                  int n) {
  double chi2 = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0)
      chi2 += std::pow(counts[i] - n * p[i], 2) / (n * p[i]);
    else
      EXPECT_EQ(counts[i], 0) << "token " << i << " has no mass";
  return chi2;
}

// Sampling at temperature 0.8 with top-p 0.95 (section 8's order). The
// root has two drafted children (tokens 2 and 0) and node 1 one (token 1).
// Over 40000 seeded walks, the first emitted token (the first child
// accepted, else the bonus) follows the root's target distribution, and
// the token after an accepted node-1 follows node 1's. Pearson's
// chi-squared stays below 16.3, the 0.999 quantile for 3 degrees of
// freedom (the test is deterministic: the seeds are fixed).
TEST(Speculation, SamplingKeepsTheTargetDistribution) {
  DraftTree tree;
  tree.add(3, -1);
  tree.add(2, 0);
  tree.add(0, 0);
  tree.add(1, 1);
  std::vector<float> logits = logitsOf({{0.5f, 1.0f, 1.5f, -0.5f},
                                        {1.0f, 0.2f, 0.0f, 0.7f},
                                        {0.0f, 0.0f, 0.0f, 0.0f},
                                        {0.3f, 0.1f, 0.9f, 0.4f}});
  SamplingOptions sampling;
  sampling.temperature = 0.8f;
  sampling.topP = 0.95f;
  std::vector<double> root = samplingDistribution(logits.data(), kVocab,
                                                  sampling);
  std::vector<double> afterNode1 =
      samplingDistribution(logits.data() + kVocab, kVocab, sampling);
  const int n = 40000;
  std::vector<int> first(kVocab), second(kVocab);
  int viaNode1 = 0;
  for (int seed = 0; seed < n; ++seed) {
    Random random(seed);
    Acceptance a = acceptPath(tree, logits, kVocab, sampling, random);
    int64_t t1 = a.path.size() > 1 ? tree.tokens[a.path[1]] : a.bonus;
    ++first[t1];
    if (a.path.size() > 1 && a.path[1] == 1) {
      ++viaNode1;
      ++second[a.path.size() > 2 ? tree.tokens[a.path[2]] : a.bonus];
    }
  }
  EXPECT_LT(chiSquared(first, root, n), 16.3);
  ASSERT_GT(viaNode1, 1000);
  EXPECT_LT(chiSquared(second, afterNode1, viaNode1), 16.3);
}

} // namespace
