//===- RecurrenceShape.h - hybrid.linear_recurrence's operands -*- C++ -*-===//
//
// What every target's recurrence kernel reads: the operands' buffers, their
// run-time sizes, the rule's flags, the per-token log-decay and beta, and
// the run-time checks of what the verifier could not check statically
// (they raise the module's error status).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_RECURRENCESHAPE_H
#define HYBRID_CONVERSION_TILING_RECURRENCESHAPE_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

namespace mlir::hybrid {

struct RecurrenceShape {
  KernelBuilder &kb;
  LinearRecurrenceOp op;
  Value q, k, v, decay, beta, init, parents;
  Value batch, qHeads, len, keyDim, kvHeads, valueDim, group, scale;
  /// Tree nodes (0 without a tree) and the tokens before them.
  Value nodes, prefixLen;
  bool gated, delta, perKeyDecay;
  std::optional<ArrayRef<float>> slopes;

  /// Reads the op's operand buffers and sizes at `kb`.
  RecurrenceShape(KernelBuilder &kb, LinearRecurrenceOp op);

  /// The log-decay g_t of (b, h, token t), key dim i when per key dim.
  Value logDecay(Value b, Value h, Value t, Value i);
  /// beta of (b, h, token): per head, or shared by the heads.
  Value betaAt(Value b, Value h, Value token);
  /// Emits the run-time checks (sizes, the initial state's shape, the
  /// draft tree) into `checks`.
  void check(RuntimeChecks &checks);
};

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_RECURRENCESHAPE_H
