//===- LineOps.h - The run-time operands of per-line ops --------*- C++ -*-===//
//
// hybrid.cumsum and hybrid.topk work line by line along an axis; their
// run-time operands (cumsum's axis, topk's k) are read and checked the same
// way on every target (the checks raise the module's error status).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_LINEOPS_H
#define HYBRID_CONVERSION_TILING_LINEOPS_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

namespace mlir::hybrid {

/// cumsum's axis, made non-negative, checked into `checks`.
Value readCumSumAxis(KernelBuilder &kb, CumSumOp op, RuntimeChecks &checks);

/// topk's k, checked against the axis of `x` (its buffer) into `checks`.
Value readTopK(KernelBuilder &kb, TopKOp op, Value x, RuntimeChecks &checks);

/// The sizes before, along and after a run-time `axis` of `x`.
struct LineSplit {
  Value outer, len, inner;
};
LineSplit splitAtAxis(KernelBuilder &kb, Value x, Value axis);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_LINEOPS_H
