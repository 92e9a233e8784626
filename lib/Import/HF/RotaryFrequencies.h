//===- RotaryFrequencies.h - RoPE inverse frequencies of a config -*- C++ -*-===//
//
// The inverse frequencies RoPE rotates by, with the config's scaling
// (default, linear, Llama 3.1, LongRoPE), computed at import in f32 in the
// order of operations of transformers' modeling_rope_utils, so that the
// angles match the reference's to the last bit where it can.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_HF_ROTARYFREQUENCIES_H
#define HYBRID_LIB_IMPORT_HF_ROTARYFREQUENCIES_H

#include "ModelConfig.h"

namespace mlir::hybrid::hf {

struct RotaryFrequencies {
  /// head_dim / 2 inverse frequencies.
  SmallVector<float> invFreq;
  /// LongRoPE: the frequencies for a step whose sequence (position + new
  /// tokens) is longer than `longAbove`; empty otherwise.
  SmallVector<float> longInvFreq;
  int64_t longAbove = 0;
  /// Multiplies cos and sin (LongRoPE's attention factor; 1 otherwise).
  float attentionFactor = 1.0f;
};

RotaryFrequencies rotaryFrequencies(const DecoderConfig &config);

} // namespace mlir::hybrid::hf

#endif // HYBRID_LIB_IMPORT_HF_ROTARYFREQUENCIES_H
