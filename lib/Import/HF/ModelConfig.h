//===- ModelConfig.h - A checkpoint's config.json ---------------*- C++ -*-===//
//
// The decoder an HF `config.json` describes, for the architectures the
// importer builds. Every field that changes the computation is read; a value
// the importer does not implement (an unknown architecture, a RoPE scaling,
// biases, another activation) is an error naming the field and the value,
// never a guess.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_HF_MODELCONFIG_H
#define HYBRID_LIB_IMPORT_HF_MODELCONFIG_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <string>

namespace mlir::hybrid::hf {

/// `rope_scaling` / `rope_parameters`, as transformers'
/// modeling_rope_utils reads them.
struct RopeScaling {
  enum class Kind { Default, Linear, Llama3, LongRope } kind = Kind::Default;
  double factor = 1.0;
  /// Llama 3.1's smoothing band.
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;
  int64_t originalMaxPositions = 0;
  /// LongRoPE: per-frequency divisors for sequences up to, and past,
  /// originalMaxPositions; cos and sin are scaled by attentionFactor.
  SmallVector<double> shortFactor, longFactor;
  double attentionFactor = 1.0;
};

/// MiniCPM4's `sparse_config` (InfLLM-V2): attention layers become
/// hybrid.block_select + hybrid.block_sparse_attention.
struct SparseAttentionConfig {
  int64_t kernelSize = 0, kernelStride = 0, blockSize = 0, topk = 0,
          initBlocks = 0, windowSize = 0, denseLen = 0;
  /// Block scores from un-rotated keys: only where the layers use no RoPE
  /// at all (MiniCPM-SALA's attention layers), so that it changes nothing.
  bool useNope = false;
};

/// BlockFFN's MLP (MiniCPM with ffn_type "block" or "block_linear"): a
/// ReLU router normalised by RMSNorm over `numExperts` experts of
/// `expertSize`, each SiLU(x U_e^T) W_e^T: hybrid.chunk_moe.
struct BlockFFNConfig {
  int64_t numExperts = 0, expertSize = 0;
  /// "block_linear": up_proj [E*Be, H] and down_proj [H, E*Be]; "block":
  /// [E, Be, H] and [E, H, Be].
  bool linearLayout = false;
};

/// MiniCPM-SALA's Lightning Attention layers (`lightning_*`, `qk_norm`,
/// `use_output_norm`, `use_output_gate`): hybrid.linear_recurrence with the
/// `gated` rule and a constant per-head decay exp(-slope_h), the ALiBi
/// slopes of `numHeads`.
struct LightningConfig {
  int64_t numHeads = 0, numKVHeads = 0, headDim = 0;
  /// Multiplies the queries: `lightning_scale` "1/sqrt(d)", "1/d" or "1".
  double scale = 1.0;
  bool rope = true, qkNorm = false, outputNorm = false, outputGate = false;
};

/// What mixes the tokens in one decoder layer.
enum class MixerKind {
  /// Softmax attention over a KV cache (dense, or InfLLM-V2 sparse with a
  /// `sparse_config`).
  Attention,
  /// Lightning Attention over a recurrent state.
  Lightning,
};

struct DecoderConfig {
  std::string architecture; // e.g. LlamaForCausalLM
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0, numLayers = 0,
          numHeads = 0, numKVHeads = 0, headDim = 0;
  double rmsNormEps = 1e-6, ropeTheta = 10000.0;
  RopeScaling rope;
  bool tieWordEmbeddings = false;
  /// Qwen3: RMSNorm over each head of Q and K before RoPE.
  bool qkNorm = false;
  /// MiniCPM's muP scalings: embeddings times `embeddingScale`, each
  /// residual branch times `residualScale`, the final hidden state times
  /// `logitInputScale` before lm_head (1 for the others).
  double embeddingScale = 1.0, residualScale = 1.0, logitInputScale = 1.0;
  /// MiniCPM4: every attention layer is InfLLM-V2 sparse.
  std::optional<SparseAttentionConfig> sparse;
  /// BlockFFN MLPs in every layer, instead of SwiGLU.
  std::optional<BlockFFNConfig> blockFFN;
  /// One entry per layer (MiniCPM-SALA's `mixer_types`); every layer is
  /// Attention for the other architectures.
  SmallVector<MixerKind> mixers;
  /// The lightning layers' settings, when some layer is Lightning.
  std::optional<LightningConfig> lightning;
  /// MiniCPM-SALA's HyPE: attention layers may skip RoPE
  /// (`attn_use_rope`) and gate their output with sigmoid(x W_g^T)
  /// (`attn_use_output_gate`).
  bool attentionRope = true, attentionOutputGate = false;
  /// Not config.json's: an import choice. Empty: the LM head computes
  /// every token's logit. Else only these vocabulary ids', in this order
  /// (FR-Spec's frequency-ranked subset for a draft model's head).
  SmallVector<int64_t> headRows;

  /// The checkpoint tensor the LM head multiplies by: the embeddings when
  /// they are tied.
  StringRef headTensor() const {
    return tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  bool isLightning(int64_t layer) const {
    return mixers[layer] == MixerKind::Lightning;
  }
};

/// Reads `folder`/config.json; errors are reported at `loc`.
FailureOr<DecoderConfig> readConfig(StringRef folder, Location loc);

} // namespace mlir::hybrid::hf

#endif // HYBRID_LIB_IMPORT_HF_MODELCONFIG_H
