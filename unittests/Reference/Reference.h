//===- Reference.h - Straightforward reference of every hybrid op ---------===//
//
// Written from shared/reference/semantics.md and nothing else, in double
// precision with the most direct loops: the independent side of every
// numeric test. Used only by tests.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_UNITTESTS_REFERENCE_REFERENCE_H
#define HYBRID_UNITTESTS_REFERENCE_REFERENCE_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hybrid::ref {

/// A dense row-major array of doubles.
struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data;

  Array() = default;
  explicit Array(std::vector<int64_t> s);
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(size_t i) const { return shape[i]; }
  double &at(std::initializer_list<int64_t> idx);
  double at(std::initializer_list<int64_t> idx) const;
};

//===--- Attention (§1, §3) -----------------------------------------------===//

struct AttentionParams {
  bool causal = true;
  std::optional<int64_t> offset; // default Skv - Sq
  std::optional<double> scale;   // default 1/sqrt(D)
  std::optional<double> softcap;
  /// Additive (isBool = false) or boolean (non-zero = visible) mask,
  /// broadcast right-aligned to [B, Hq, Sq, Skv].
  const Array *mask = nullptr;
  bool maskIsBool = false;
  /// Draft tree over the last N rows and keys.
  const std::vector<int32_t> *parents = nullptr;
};

/// Dense attention: softmax(scale Q K^T + mask) V, fully masked rows = 0.
Array attention(const Array &q, const Array &k, const Array &v,
                const AttentionParams &params);

/// The [B, Hq, Sq, Skv] scores of that attention at one stage: the
/// (softcapped) logits; plus the mask and the causal limit (-inf where a key
/// is not visible); or the softmax (0 in a row that sees no key).
enum class ScoreStage { Logits, Biased, Probabilities };
Array attentionScores(const Array &q, const Array &k,
                      const AttentionParams &params, ScoreStage stage);

struct SparseConfig {
  int64_t kernelSize, kernelStride, blockSize, topk, initBlocks, windowSize,
      denseLen;
};

/// InfLLM-V2 block selection; [B, Hkv, Sq, slots] with -1 padding. With a
/// tree, node rows share the union (or root's) selection.
std::vector<int32_t> blockSelect(const Array &q, const Array &k,
                                 const SparseConfig &config,
                                 std::optional<int64_t> offset,
                                 std::optional<double> scale,
                                 const std::vector<int32_t> *parents,
                                 bool rootPolicy, int64_t *slotsOut);

/// Block-sparse attention, as dense attention under the mask that the
/// selected blocks, the local window and causality define.
Array blockSparseAttention(const Array &q, const Array &k, const Array &v,
                           const std::vector<int32_t> &blocks, int64_t slots,
                           const SparseConfig &config,
                           std::optional<int64_t> offset,
                           std::optional<double> scale,
                           std::optional<double> softcap,
                           const std::vector<int32_t> *parents);

//===--- Linear recurrence (§4, §6) ---------------------------------------===//

enum class Rule { Linear, Gated, Delta, GatedDelta };

struct RecurrenceParams {
  Rule rule = Rule::Linear;
  const Array *decay = nullptr;        // [B, H, T] or [B, H, T, Dk]
  std::vector<double> slopes;          // Lightning: g = -slope_h
  const Array *beta = nullptr;         // [B, H or 1, T]
  const Array *initialState = nullptr; // [B, H, Dk, Dv]
  std::optional<double> scale;
  const std::vector<int32_t> *parents = nullptr;
};

/// Step form. `state` gets [B, H, Dk, Dv], or [B, H, N, Dk, Dv] with a tree.
Array linearRecurrence(const Array &q, const Array &k, const Array &v,
                       const RecurrenceParams &params, Array &state);

//===--- Chunk-level MoE (§5) ---------------------------------------------===//

enum class Router { BlockFFN, Deco, TopKSoftmax };

struct MoEParams {
  Router router = Router::BlockFFN;
  const Array *routerNorm = nullptr;  // [E]
  const Array *routerScale = nullptr; // [E]
  const Array *sharedUp = nullptr;    // [Bs, Dm]
  const Array *sharedDown = nullptr;  // [Dm, Bs]
  int64_t topK = 0;
  double epsilon = 1e-6;
};

/// The token-level formula; `weights` (optional) gets r [T, E].
Array chunkMoE(const Array &x, const Array &routerWeight, const Array &up,
               const Array &down, const MoEParams &params,
               Array *weights = nullptr);

//===--- Speculation (§6) -------------------------------------------------===//

struct Verification {
  std::vector<int32_t> path; // padded with -1
  int32_t length;
  int32_t bonus;
};

Verification treeVerify(const std::vector<int32_t> &parents,
                        const std::vector<int32_t> &draft,
                        const std::vector<int32_t> &targetArgmax);

/// Argmax per row, first maximum on ties.
std::vector<int32_t> argmaxRows(const Array &logits);

/// [B, H, S, D] cache with the accepted rows moved to prefix + d.
Array kvCompact(const Array &cache, const std::vector<int32_t> &path,
                int32_t length, int64_t prefix);

//===--- Upstream ops the kernels also cover ------------------------------===//

/// C + A B for row-major matrices.
Array matmul(const Array &a, const Array &b, const Array &c);

//===--- Normalisation (ONNX) ---------------------------------------------===//

Array rmsNorm(const Array &x, const Array &scale, int64_t axis,
              double epsilon);

/// 4-D input [B, H, S, D]; caches [P, R/2] with positions [B, S].
Array rotaryEmbedding(const Array &x, const Array &cos, const Array &sin,
                      const std::vector<int64_t> &positions, bool interleaved,
                      int64_t rotaryDim);

} // namespace hybrid::ref

#endif // HYBRID_UNITTESTS_REFERENCE_REFERENCE_H
