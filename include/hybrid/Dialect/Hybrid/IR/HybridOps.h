//===- HybridOps.h - Operations of the hybrid dialect -----------*- C++ -*-===//
//
// The one header a user of the dialect includes: dialect, attributes, ops.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_H
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_H

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h.inc"

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_H
