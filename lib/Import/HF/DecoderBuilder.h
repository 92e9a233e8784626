//===- DecoderBuilder.h - A decoder LM as hybrid-dialect IR -----*- C++ -*-===//
//
// Builds the forward pass of the decoders ModelConfig describes (Llama,
// Qwen3, dense MiniCPM), written from transformers' modeling code: token
// embedding, per layer RMSNorm -> GQA attention with rotate-half RoPE
// (Qwen3: per-head RMSNorm of Q and K first) -> residual -> RMSNorm ->
// SwiGLU MLP -> residual, a final RMSNorm and the LM head. Attention,
// norms and rotary are hybrid ops; the projections are linalg matmuls.
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
///   prefill(input_ids [B, T], position, cache...) -> (logits, cache...)
///   decode(input_ids [B, 1], position, cache...) -> (logits, cache...)
///       a step after the `position` tokens the caches hold: per layer a
///       key and a value cache [B, Hkv, capacity, D] f32 (cache.L.key,
///       cache.L.value), returned with the step's rows written at
///       [position, position + T) (destination-passing style: in place
///       once bufferized). A step that does not fit, or an id outside the
///       vocabulary, fails the call (hybrid.check).
/// Checks that the checkpoint holds every weight the config implies, with
/// its shape and a float dtype; errors are reported at `loc`.
LogicalResult buildEntryPoints(ModuleOp module, const DecoderConfig &config,
                               const Checkpoint &checkpoint, Location loc);

} // namespace mlir::hybrid::hf

#endif // HYBRID_LIB_IMPORT_HF_DECODERBUILDER_H
