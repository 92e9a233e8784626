//===- Generator.h - The generation loop ------------------------*- C++ -*-===//
//
// Prefill, then tokens one at a time (plain decoding) or a verified draft
// tree at a time (speculative decoding: the drafter proposes, the target
// verifies the whole tree in one call, acceptPath picks the path, the
// engine commits it in place), until EOS, the token limit or the context
// limit. Tokens are reported as they are emitted.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_GENERATOR_H
#define HYBRID_GENERATE_GENERATOR_H

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Sampler.h"

#include <functional>

namespace hybrid::generate {

struct GenerateOptions {
  int64_t maxNewTokens = 128;
  SamplingOptions sampling;
  uint64_t seed = 0;
  /// Stops after emitting no more tokens once it is drawn (-1: never).
  int64_t eosToken = -1;
  /// With a drafter: the tree verified per step.
  TreeShape tree;
};

struct GenerateStats {
  int64_t promptTokens = 0;
  double prefillSeconds = 0, firstTokenSeconds = 0, decodeSeconds = 0;
  /// Target calls after the prefill (decode or verify), and the tokens
  /// they emitted: mean accepted tokens per step = emitted / steps.
  int64_t steps = 0, stepTokens = 0;
  /// Seconds in the drafter; in the target's verify + commit calls (and
  /// how many), and in its decode calls: the cost of a verification
  /// against one decode step.
  double draftSeconds = 0, verifySeconds = 0, plainSeconds = 0;
  int64_t verifyCalls = 0, plainCalls = 0;
  /// "eos", "length" or "context".
  std::string stop = "length";
  /// Keys the sparse layers attended over the keys there were, summed over
  /// the generated tokens (ModelInfo::attendedKeys): their ratio is the
  /// attended-key fraction (1 without sparse layers).
  double attendedKeys = 0, totalKeys = 0;

  /// Chunk-level MoE activity of the target's calls: in the prefill (its
  /// chunks of tokens) and after it (a decode step's chunk is its token,
  /// a verification's its tree).
  hybrid_moe_activity prefillExperts{0, 0, 0}, decodeExperts{0, 0, 0};

  /// Experts that ran per chunk, and the experts per layer (0 without MoE).
  static double activeExpertsPerChunk(const hybrid_moe_activity &a) {
    return a.chunks ? double(a.active_pairs) / double(a.chunks) : 0.0;
  }
  static double expertsPerLayer(const hybrid_moe_activity &a) {
    return a.chunks ? double(a.pairs) / double(a.chunks) : 0.0;
  }

  double attendedKeyFraction() const {
    return totalKeys > 0 ? attendedKeys / totalKeys : 1.0;
  }

  double meanAccepted() const {
    return steps ? double(stepTokens) / double(steps) : 0.0;
  }
};

/// Generates after `prompt` (the engine starts from empty caches). With a
/// `drafter`, speculative decoding; `onToken` sees each emitted token.
Status generateTokens(Engine &engine, Drafter *drafter,
                const std::vector<int64_t> &prompt,
                const GenerateOptions &options,
                const std::function<void(int64_t)> &onToken,
                std::vector<int64_t> &tokens, GenerateStats &stats,
                const std::function<void(int64_t, int64_t)> &prefillProgress =
                    {});

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_GENERATOR_H
