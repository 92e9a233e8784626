//===- DecoderBuilder.h - A decoder LM as hybrid-dialect IR -----*- C++ -*-===//
//
// Builds the forward pass of the decoders ModelConfig describes (Llama,
// Qwen3, MiniCPM, MiniCPM4, BlockFFN, MiniCPM-SALA), written from their
// modeling code: token embedding, per layer RMSNorm -> token mixer (GQA
// attention with rotate-half RoPE, dense or InfLLM-V2 sparse; or SALA's
// Lightning Attention over a recurrent state) -> residual -> RMSNorm ->
// SwiGLU MLP or BlockFFN experts -> residual, a final RMSNorm and the LM
// head. Mixers, norms, rotary and experts are hybrid ops; the projections
// are linalg matmuls.
// Weights are entry arguments bound as parameters from the checkpoint's
// safetensors files, in their stored dtype; the arithmetic is f32.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_HF_DECODERBUILDER_H
#define HYBRID_LIB_IMPORT_HF_DECODERBUILDER_H

#include "ModelConfig.h"
#include "SafeTensors.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::hybrid::hf {

/// Adds the entry points a generation engine needs to `module`:
///   forward(input_ids [B, T]) -> logits [B, T, vocab]
///       one pass over the sequence from empty caches;
///   prefill(input_ids [B, T], position, caches...) -> logits
///   decode(input_ids [B, 1], position, caches...) -> logits
///       a step after the `position` tokens the caches hold: per attention
///       layer a key and a value cache [B, Hkv, capacity, D] f32
///       (cache.L.key, cache.L.value) with the step's rows written at
///       [position, position + T), per lightning layer its recurrent
///       state [B, H, D, D] f32 (state.L) advanced past the step; all
///       updated in place (hybrid.inout, hybrid.write_back). A step that
///       does not fit, or an id outside the vocabulary, fails the call
///       (hybrid.check);
///   verify(input_ids [B, N], parents [N], position, caches...)
///       -> (logits, per lightning layer [B, H, N, D, D])
///       a draft tree after `position` tokens: K/V rows written at
///       [position, position + N), states read, every node's state
///       returned.
/// Checks that the checkpoint holds every weight the config implies, with
/// its shape and a float dtype; errors are reported at `loc`.
/// Builds `entries` (every one of hfEntryPoints() when empty).
LogicalResult buildEntryPoints(ModuleOp module, const DecoderConfig &config,
                               const Checkpoint &checkpoint, Location loc,
                               ArrayRef<std::string> entries = {});

} // namespace mlir::hybrid::hf

#endif // HYBRID_LIB_IMPORT_HF_DECODERBUILDER_H
