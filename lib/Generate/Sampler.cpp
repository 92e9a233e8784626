//===- Sampler.cpp - Choosing the next token from logits ------------------===//

#include "hybrid/Generate/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace hybrid::generate;

static uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Random::Random(uint64_t seed) {
  for (uint64_t &s : s_)
    s = splitmix64(seed);
}

uint64_t Random::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Random::uniform() { return double(next() >> 11) * 0x1.0p-53; }

int64_t hybrid::generate::argmax(const float *logits, int64_t vocab) {
  return std::max_element(logits, logits + vocab) - logits;
}

std::vector<double>
hybrid::generate::samplingDistribution(const float *logits, int64_t vocab,
                                       const SamplingOptions &options) {
  std::vector<double> probs(vocab, 0.0);
  if (options.greedy()) {
    probs[argmax(logits, vocab)] = 1.0;
    return probs;
  }
  // Tokens by decreasing logit (ties: lower index first), then the top-k
  // and top-p cuts over that order. Only the kept prefix is ordered (a
  // partial sort per token, not the whole vocabulary); without a cut the
  // order does not matter.
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = options.topK > 0 ? std::min(options.topK, vocab) : vocab;
  auto before = [&](int64_t a, int64_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  if (keep < vocab || options.topP < 1.0f)
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      before);
  double top = double(logits[argmax(logits, vocab)]) / options.temperature;
  double total = 0.0;
  std::vector<double> weights(keep);
  for (int64_t i = 0; i < keep; ++i) {
    weights[i] = std::exp(double(logits[order[i]]) / options.temperature - top);
    total += weights[i];
  }
  if (options.topP < 1.0f) {
    double mass = 0.0;
    int64_t nucleus = 0;
    while (nucleus < keep && mass < double(options.topP) * total)
      mass += weights[nucleus++];
    keep = std::max<int64_t>(nucleus, 1);
    total = std::accumulate(weights.begin(), weights.begin() + keep, 0.0);
  }
  for (int64_t i = 0; i < keep; ++i)
    probs[order[i]] = weights[i] / total;
  return probs;
}

int64_t hybrid::generate::draw(const std::vector<double> &probs,
                               Random &random) {
  double u = random.uniform(), mass = 0.0;
  int64_t last = 0;
  for (int64_t i = 0, e = probs.size(); i < e; ++i) {
    if (probs[i] <= 0.0)
      continue;
    mass += probs[i];
    last = i;
    if (u < mass)
      return i;
  }
  return last; // rounding left u above the total mass
}

int64_t hybrid::generate::sampleToken(const float *logits, int64_t vocab,
                                      const SamplingOptions &options,
                                      Random &random) {
  if (options.greedy())
    return argmax(logits, vocab);
  return draw(samplingDistribution(logits, vocab, options), random);
}
