//===- MoEShape.h - hybrid.chunk_moe's operands -----------------*- C++ -*-===//
//
// What every target's expert kernels read: the operands' buffers, their
// run-time sizes, and the run-time checks of what the verifier could not
// check statically (they raise the module's error status).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_MOESHAPE_H
#define HYBRID_CONVERSION_TILING_MOESHAPE_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

namespace mlir::hybrid {

struct MoEShape {
  Value x, router, up, down, norm, routeScale, sharedUp, sharedDown;
  /// Tokens, model dimension, experts and their width.
  Value tokens, model, experts, width;
  /// True when every run-time check passed.
  Value passed;

  /// Reads the op's operand buffers and sizes at `kb` and emits the
  /// checks.
  MoEShape(KernelBuilder &kb, ChunkMoEOp op);
};

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_MOESHAPE_H
