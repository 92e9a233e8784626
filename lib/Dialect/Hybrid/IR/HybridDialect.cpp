//===- HybridDialect.cpp - The hybrid dialect -----------------------------===//
//
// Registers ops and attributes; the generated definitions live here and in
// HybridOps.cpp so that each is compiled once.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::hybrid;

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.cpp.inc"
#include "hybrid/Dialect/Hybrid/IR/HybridEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.cpp.inc"

void HybridDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "hybrid/Dialect/Hybrid/IR/HybridOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.cpp.inc"
      >();
}
