//===- Passes.h - Hybrid-level transformation passes ------------*- C++ -*-===//

#ifndef HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
#define HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::hybrid {

#define GEN_PASS_DECL
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

} // namespace mlir::hybrid

#endif // HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
