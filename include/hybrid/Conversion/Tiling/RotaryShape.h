//===- RotaryShape.h - hybrid.rotary_embedding's run-time shape -*- C++ -*-===//
//
// Both targets' RoPE kernels index the input as [B, S, H, D] whatever its
// layout, and check at run time what the verifier could not (dynamic
// sizes); the checks raise the module's error status.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_ROTARYSHAPE_H
#define HYBRID_CONVERSION_TILING_ROTARYSHAPE_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

namespace mlir::hybrid {

struct RotaryShape {
  bool is4D;
  Value batch, seq, heads, headDim;
  /// The rotated features per head, and half of them (the angles).
  Value rotary, half;
  /// True when every run-time check passed.
  Value passed;

  /// The input index of (batch, token, head, feature): [B, H, S, D], or
  /// [B, S, H*D] for 3-D inputs.
  SmallVector<Value> at(KernelBuilder &k, Value b, Value s, Value h,
                        Value d) const;
};

/// The sizes of `op` on its buffers (x, the caches, the optional
/// positions), with the run-time checks emitted at `k`.
RotaryShape checkRotaryShape(KernelBuilder &k, RotaryEmbeddingOp op, Value x,
                             Value cosT, Value sinT, Value positions);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_ROTARYSHAPE_H
