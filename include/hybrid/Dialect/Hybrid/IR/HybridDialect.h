//===- HybridDialect.h - The hybrid dialect ---------------------*- C++ -*-===//
//
// Declares the dialect class; include HybridOps.h for the ops themselves.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_H
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_H

#include "mlir/IR/Dialect.h"

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h.inc"

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_H
