//===- SpeculationLowering.cpp ---------------------------------------------------===//

#include "KernelBuilder.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;

void mlir::hybrid::populateSpeculationLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {}
