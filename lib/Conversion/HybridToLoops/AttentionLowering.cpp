//===- AttentionLowering.cpp ---------------------------------------------------===//

#include "KernelBuilder.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

using namespace mlir;
using namespace mlir::hybrid;

void mlir::hybrid::populateAttentionLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {}
