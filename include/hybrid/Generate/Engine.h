//===- Engine.h - A compiled checkpoint with its caches ---------*- C++ -*-===//
//
// The generation engine: owns a compiled Hugging Face checkpoint (imported
// and compiled once, then reused from the compiled-model cache), its
// parameters (mapped from the checkpoint's files), and the KV caches and
// recurrent states of every layer, allocated once for the context limit
// and updated in place by the module's prefill and decode entry points.
// Used by hybrid-generate; every error is a Status naming the problem.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_ENGINE_H
#define HYBRID_GENERATE_ENGINE_H

#include "hybrid/Runtime/Runtime.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hybrid::generate {

/// Where the compiled model's kernels run.
enum class Device {
  CPU,
  /// An NVIDIA GPU (--target nvptx): the checkpoint's ops must all have
  /// GPU kernels (dense attention models today; docs/GPUBackend.md).
  GPU,
};

struct EngineOptions {
  /// Tokens the caches hold: prompt and generated tokens together.
  int64_t contextLimit = 4096;
  /// Threads of the compiled kernels (0: every core).
  int threads = 0;
  Device device = Device::CPU;
  /// InfLLM-V2 layers as the checkpoint configures them; false makes them
  /// dense (`--sparse none`).
  bool sparseAttention = true;
  /// Where compiled models are kept ("" picks $HYBRID_CACHE_DIR, else
  /// $XDG_CACHE_HOME/hybrid, else ~/.cache/hybrid).
  std::string cacheDir;
  /// Prompt tokens per prefill call (progress is reported between calls).
  int64_t prefillChunk = 256;
  /// Empty: logits over the whole vocabulary. Else over these token ids
  /// alone, in this order: FR-Spec's frequency-ranked head for a draft
  /// model, whose logits cost a fraction of the whole vocabulary's.
  std::vector<int64_t> headTokens;
  /// Progress lines (compiling, loading), when set.
  std::function<void(const std::string &)> log;
};

/// What the engine reports about the model it runs.
struct ModelInfo {
  int64_t vocabSize = 0;
  /// Logits per token: vocabSize, or as many as the head's tokens.
  int64_t logitColumns = 0;
  /// The token each logit column scores (EngineOptions::headTokens);
  /// empty: column i scores token i.
  std::vector<int64_t> headTokens;
  int64_t attentionLayers = 0, lightningLayers = 0;
  /// From config.json; -1 when absent.
  int64_t bosToken = -1, eosToken = -1;
  /// Bytes of KV caches and recurrent states allocated.
  int64_t cacheBytes = 0;
  /// Keys from which InfLLM-V2 layers attend sparsely (sparse_config's
  /// dense_len; -1 when no layer does, or --sparse none).
  int64_t denseLen = -1;
  /// sparse_config's block size, top-k and local window, for
  /// attendedKeys().
  int64_t blockSize = 0, topk = 0, windowSize = 0;
  /// sparse_config's compression windows, for kernelsIn().
  int64_t kernelSize = 0, kernelStride = 0;

  /// Compressed-key rows an InfLLM-V2 layer keeps for `keys` keys (its
  /// full kernel windows; at least 1).
  int64_t kernelsIn(int64_t keys) const;

  /// Keys an InfLLM-V2 layer attends for a query at `position` (0-based):
  /// every key below dense_len; past it, its top-k blocks (the forced
  /// initial ones among them) and its local window, a budget fixed by
  /// the config, exactly what the kernels read.
  int64_t attendedKeys(int64_t position) const;
  /// Whether the model has verify and commit (speculative decoding).
  bool canVerify = false;
  /// Whether this call compiled the model (false: the cache had it).
  bool compiled = false;
  double compileSeconds = 0.0;
};

class Engine {
public:
  /// Imports and compiles (or finds in the cache) the checkpoint in
  /// `folder`, binds its weights and allocates its caches.
  static Status open(const std::string &folder, const EngineOptions &options,
                     Engine &out);

  const ModelInfo &info() const { return info_; }
  /// Tokens in the caches.
  int64_t position() const { return position_; }
  int64_t contextLimit() const { return options_.contextLimit; }

  /// Runs `ids` after the tokens already cached (in chunks, calling
  /// `progress(done, total)` after each) and returns the logits of the
  /// last one.
  Status prefill(const std::vector<int64_t> &ids, std::vector<float> &logits,
                 const std::function<void(int64_t, int64_t)> &progress = {});
  /// Runs one token after the cached ones; its logits.
  Status decode(int64_t token, std::vector<float> &logits);
  /// Runs a draft tree after the cached tokens (semantics.md section 6):
  /// `tokens[0]` is the root, the last committed token, not yet cached;
  /// `parents[0] = -1`, `parents[i] < i`. Returns every node's logits
  /// (`[N * vocab]`). The caches are not advanced until commit(). A chain
  /// (parents[i] = i - 1) runs as consecutive tokens: exactly what decoding
  /// them one by one computes, sparse layers included; a branching tree's
  /// nodes share one block selection in sparse layers.
  Status verify(const std::vector<int64_t> &tokens,
                const std::vector<int32_t> &parents,
                std::vector<float> &logits);
  /// Keeps `path` (node ids from the root to the accepted node) of the last
  /// verify: those tokens join the cache, in place; the rest is dropped.
  Status commit(const std::vector<int32_t> &path);
  /// Forgets every cached token (the states start from zero again).
  void reset();
  /// Forgets the tokens past `position` (their cache rows are overwritten
  /// by the next step). Only for models without recurrent states, which
  /// cannot be rewound: those restore a saved state instead.
  Status rewind(int64_t position);

  /// The recurrent states and the position, to come back to: a drafter
  /// decodes ahead and returns (the states are small; KV rows past the
  /// position are simply overwritten later).
  struct Saved {
    int64_t position = 0;
    std::vector<Tensor> states;
  };
  Status save(Saved &out) const;
  Status restore(const Saved &saved);

  /// Chunk-level MoE activity of the model's calls since the last reset
  /// (all zero without chunk_moe layers).
  hybrid_moe_activity moeActivity() const { return module_.moeActivity(); }
  Status resetMoEActivity() { return module_.resetMoEActivity(); }

private:
  Status step(const std::string &entry, const std::vector<int64_t> &ids,
              std::vector<float> &logits);

  EngineOptions options_;
  ModelInfo info_;
  Module module_;
  /// prefill's arguments after the ids and the position, in order: the
  /// caches and states.
  std::vector<Tensor> caches_;
  std::vector<std::string> cacheNames_;
  int64_t position_ = 0;
  /// The last verify's per-node lightning states, and its tree size.
  std::vector<Tensor> treeStates_;
  int64_t treeSize_ = 0;
  bool hasChainVerify_ = false;
};

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_ENGINE_H
