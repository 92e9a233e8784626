//===- Lowerings.h - The per-family kernel patterns -------------*- C++ -*-===//
//
// Each op family's kernels live in their own file; the pass collects them.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_LOWERINGS_H
#define HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_LOWERINGS_H

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::hybrid {

void populateAttentionLoweringPatterns(RewritePatternSet &patterns,
                                       const HybridToLoopsOptions &options);
void populateBlockSelectLoweringPatterns(RewritePatternSet &patterns,
                                         const HybridToLoopsOptions &options);
void populateRecurrenceLoweringPatterns(RewritePatternSet &patterns,
                                        const HybridToLoopsOptions &options);
void populateMoELoweringPatterns(RewritePatternSet &patterns,
                                 const HybridToLoopsOptions &options);
void populateSpeculationLoweringPatterns(RewritePatternSet &patterns,
                                         const HybridToLoopsOptions &options);
void populateKVCompactLoweringPatterns(RewritePatternSet &patterns,
                                       const HybridToLoopsOptions &options);
void populateNormLoweringPatterns(RewritePatternSet &patterns,
                                  const HybridToLoopsOptions &options);
void populateCheckLoweringPatterns(RewritePatternSet &patterns,
                                   const HybridToLoopsOptions &options);

/// Base of the kernel patterns: carries the options.
template <typename OpTy>
struct KernelPattern : OpRewritePattern<OpTy> {
  KernelPattern(MLIRContext *ctx, const HybridToLoopsOptions &options)
      : OpRewritePattern<OpTy>(ctx), options(options) {}
  HybridToLoopsOptions options;
};

} // namespace mlir::hybrid

#endif // HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_LOWERINGS_H
