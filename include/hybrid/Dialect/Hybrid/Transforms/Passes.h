//===- Passes.h - Hybrid-level transformation passes ------------*- C++ -*-===//

#ifndef HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
#define HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class DominanceInfo;
class RewritePatternSet;
class RewriterBase;
namespace hybrid {

#define GEN_PASS_DECL
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"

/// Module attribute where hybrid-export-entry-points records the entry
/// points' signatures (a JSON array: name, args, results, with parameters,
/// in-out arguments and input names), the runtime's metadata.
inline constexpr llvm::StringLiteral kEntryPointsAttrName =
    "hybrid.entry_points";

/// Replaces a causal, unmasked `op` with block selection + block-sparse
/// attention under `config`; fails (and leaves it) otherwise.
LogicalResult sparsifyAttention(RewriterBase &rewriter, AttentionOp op,
                                SparseConfigAttr config);

/// Wraps `sparse` and the block selection feeding it in
/// `scf.if (Skv < dense_len)` with dense attention on the short side; fails
/// when the selection is not over the same rows and keys.
LogicalResult insertDenseSparseSwitch(RewriterBase &rewriter,
                                      BlockSparseAttentionOp sparse);

/// Sparsity x speculation (hybrid-fuse-sparse-speculation), one rewrite per
/// mechanism; each fails and leaves the IR alone when the op does not fit.
/// The tree's nodes share one block selection under `policy`.
LogicalResult shareTreeSelection(RewriterBase &rewriter,
                                 BlockSparseAttentionOp sparse,
                                 TreePolicy policy);
/// A MoE over exactly the tree's nodes takes them as its chunk.
LogicalResult chunkMoEByTree(RewriterBase &rewriter, ChunkMoEOp moe,
                             Value parents);
/// A recurrence over exactly the tree's nodes keeps per-node states; its
/// committed state becomes the accepted node's (kv_compact after `verify`).
LogicalResult recurOverTree(RewriterBase &rewriter, LinearRecurrenceOp rec,
                            TreeVerifyOp verify, DominanceInfo &dominance);

/// The pattern of hybrid-raise-attention: MatMul, scale, mask, Softmax,
/// MatMul (with GQA's broadcast K/V) -> hybrid.attention.
void populateRaiseAttentionPatterns(RewritePatternSet &patterns);
/// The RMSNorm and rotary-embedding spellings hybrid-raise-attention also
/// recognises (see RaiseNormAndRotary.cpp for the forms).
void populateRaiseNormAndRotaryPatterns(RewritePatternSet &patterns);

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_H
