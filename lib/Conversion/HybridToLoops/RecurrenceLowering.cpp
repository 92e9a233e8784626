//===- RecurrenceLowering.cpp ---------------------------------------------------===//

#include "KernelBuilder.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;

void mlir::hybrid::populateRecurrenceLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {}
