//===- HybridAttrs.h - Attributes of the hybrid dialect ---------*- C++ -*-===//
//
// Enums (GQA layout, update rule, router, tree policy) and the sparse config.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_H
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "hybrid/Dialect/Hybrid/IR/HybridEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h.inc"

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_H
