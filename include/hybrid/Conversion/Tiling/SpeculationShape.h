//===- SpeculationShape.h - hybrid.tree_verify's run-time checks -*- C++ -*-===//
//
// The relations between hybrid.tree_verify's operands that only the run
// time can check, shared by every target (they raise the module's error
// status).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_SPECULATIONSHAPE_H
#define HYBRID_CONVERSION_TILING_SPECULATIONSHAPE_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"

namespace mlir::hybrid {

/// parents, draft tokens and target ([N, V] logits, or [N] ids when
/// `logits` is false) agree on N > 0; a non-empty vocabulary; a draft tree.
void checkTreeVerify(KernelBuilder &kb, RuntimeChecks &checks, Value parents,
                     Value draft, Value target, bool logits);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_SPECULATIONSHAPE_H
