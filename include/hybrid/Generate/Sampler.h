//===- Sampler.h - Choosing the next token from logits ----------*- C++ -*-===//
//
// Greedy, temperature, top-k and top-p sampling with a seeded generator
// whose stream is the same on every platform (xoshiro256**, not the
// implementation-defined std:: distributions), so that a seed reproduces a
// generation anywhere. The distribution a draw uses is exposed: speculative
// sampling compares the target's and the draft's.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_SAMPLER_H
#define HYBRID_GENERATE_SAMPLER_H

#include <cstdint>
#include <vector>

namespace hybrid::generate {

/// xoshiro256** seeded through splitmix64.
class Random {
public:
  explicit Random(uint64_t seed);
  uint64_t next();
  /// Uniform in [0, 1), 53 bits.
  double uniform();

private:
  uint64_t s_[4];
};

struct SamplingOptions {
  /// 0 is greedy (the argmax, lowest index on ties).
  float temperature = 0.0f;
  /// Keep the k most likely tokens (0: all).
  int64_t topK = 0;
  /// Keep the smallest set of most likely tokens whose mass reaches top_p
  /// (1: all).
  float topP = 1.0f;

  bool greedy() const { return temperature <= 0.0f; }
};

/// The index of the largest logit (the lowest on ties).
int64_t argmax(const float *logits, int64_t vocab);

/// The distribution a draw uses: softmax(logits / temperature), restricted
/// to the top-k tokens and then to the top-p nucleus, renormalised; for
/// greedy sampling, all mass on the argmax. Computed in double.
std::vector<double> samplingDistribution(const float *logits, int64_t vocab,
                                         const SamplingOptions &options);

/// A draw from `probs` (summing to 1): the first index whose cumulative
/// mass exceeds a uniform draw.
int64_t draw(const std::vector<double> &probs, Random &random);

/// samplingDistribution, then draw (greedy draws nothing).
int64_t sampleToken(const float *logits, int64_t vocab,
                    const SamplingOptions &options, Random &random);

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_SAMPLER_H
