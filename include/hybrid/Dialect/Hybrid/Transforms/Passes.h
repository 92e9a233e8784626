//===- Passes.h - Hybrid-level transformation passes ------------*- C++ -*-===//

#ifndef HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
#define HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewriterBase;
namespace hybrid {

#define GEN_PASS_DECL
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

/// Replaces a causal, unmasked `op` with block selection + block-sparse
/// attention under `config`; fails (and leaves it) otherwise.
LogicalResult sparsifyAttention(RewriterBase &rewriter, AttentionOp op,
                                SparseConfigAttr config);

/// Wraps `sparse` and the block selection feeding it in
/// `scf.if (Skv < dense_len)` with dense attention on the short side; fails
/// when the selection is not over the same rows and keys.
LogicalResult insertDenseSparseSwitch(RewriterBase &rewriter,
                                      BlockSparseAttentionOp sparse);

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
