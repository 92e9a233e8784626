//===- HybridToLoops.h - Lower hybrid ops to loops over buffers -*- C++ -*-===//

#ifndef HYBRID_CONVERSION_HYBRIDTOLOOPS_HYBRIDTOLOOPS_H
#define HYBRID_CONVERSION_HYBRIDTOLOOPS_HYBRIDTOLOOPS_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace hybrid {

#define GEN_PASS_DECL_CONVERTHYBRIDTOLOOPS
#include "hybrid/Conversion/Passes.h.inc"

/// Knobs of the generated kernels.
struct HybridToLoopsOptions {
  /// f32 lanes of the vector ops along the head dimension.
  int64_t vectorWidth = 8;
  /// Plain linalg.matmul ops are lowered too (populateMatmulLoweringPatterns).
  bool matmulKernels = true;
};

/// Adds one pattern per hybrid op, each rewriting it into its kernel.
void populateHybridToLoopsPatterns(RewritePatternSet &patterns,
                                   const HybridToLoopsOptions &options);

/// The host-side control ops, lowered the same way for every target (the
/// GPU stage uses them too): `hybrid.check` (the module's error status) and
/// `hybrid.kv_compact` (its checks, then one tensor slice move per accepted
/// row, in place once bufferized).
void populateHostControlLoweringPatterns(RewritePatternSet &patterns,
                                         const HybridToLoopsOptions &options);

/// Rewrites plain tensor `linalg.matmul` (f32 result) into the
/// register-blocked matrix-product kernel.
void populateMatmulLoweringPatterns(RewritePatternSet &patterns,
                                    const HybridToLoopsOptions &options);

/// Rewrites `linalg.unpack` of a prepacked weight's column panels
/// (hybrid-prepack-weights) into a copy loop, except where every reader is
/// a product that reads the panels in place.
void populatePanelUnpackLoweringPatterns(RewritePatternSet &patterns,
                                         const HybridToLoopsOptions &options);

/// Name of the module attribute listing run-time error messages; error code
/// `i` means entry `i - 1`.
inline constexpr llvm::StringLiteral kErrorMessagesAttrName =
    "hybrid.error_messages";
/// Symbol of the i32 global the compiled code sets on a run-time error
/// raised where no call's error cell is in reach (see kSetErrorCellSymbol).
inline constexpr llvm::StringLiteral kErrorCodeSymbol = "__hybrid_error_code";
/// Symbol of the exported `void (int32_t *cell)` that makes `cell` the
/// calling thread's error cell: the runtime points it at each call's own
/// code before the call, so that concurrent calls (of one handle or of
/// several handles of one shared object) each get their own error. Each
/// function that raises reads the cell once on entry, on the calling
/// thread, so its parallel loops' workers write the call's cell too.
inline constexpr llvm::StringLiteral kSetErrorCellSymbol =
    "__hybrid_set_error_cell";
/// Symbol of the i64[3] global every hybrid.chunk_moe adds its activity to
/// (atomically): active (expert, chunk) pairs, chunks, (expert, chunk)
/// pairs. The runtime reads it (hybrid_module_moe_activity).
inline constexpr llvm::StringLiteral kMoEActivitySymbol =
    "__hybrid_moe_activity";

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_CONVERSION_HYBRIDTOLOOPS_HYBRIDTOLOOPS_H
