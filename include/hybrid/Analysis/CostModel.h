//===- CostModel.h - The cost model every Hybrid pass queries ---*- C++ -*-===//
//
// FLOPs, bytes moved, KV-cache and recurrent-state bytes, and the work that
// sparsity saves, per op, for one model step at a given context length and
// draft-tree size. The formulas follow the Cost-Optimal GQA paper
// (shared/reference/semantics.md, section 7): per layer and token, KV-cache
// bytes = 2 Hkv D Skv bytes, dense attention FLOPs ~ 4 Hq D Skv, and sparse
// attention replaces Skv with the attended keys.
//
// Dynamic sizes take the step's values: key/sequence lengths the context
// length, query lengths the step's query tokens (the tree size when
// verifying, else 1).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_ANALYSIS_COSTMODEL_H
#define HYBRID_ANALYSIS_COSTMODEL_H

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "llvm/Support/JSON.h"

#include <optional>

namespace mlir::hybrid {

struct CostModelOptions {
  /// Keys in the KV cache (and tokens of recurrent history).
  int64_t contextLength = 4096;
  /// Draft-tree nodes verified per step (0: plain decoding).
  int64_t treeSize = 0;
  /// Chunk-level sparsity of MoE layers (fraction of experts a chunk skips).
  double chunkSparsity = 0.7;
  /// Query tokens of one step.
  int64_t queryTokens() const { return treeSize > 0 ? treeSize : 1; }
};

/// The estimate for one op.
struct OpCost {
  double flops = 0;
  /// Bytes read and written from memory (weights, caches, activations).
  double bytes = 0;
  double kvCacheBytes = 0;
  double stateBytes = 0;
  /// Attention: keys a dense op would attend, and keys this op attends
  /// (per query row, averaged).
  double denseKeys = 0, attendedKeys = 0;
  /// MoE: experts read per chunk, of how many.
  double activeExperts = 0, experts = 0;

  OpCost &operator+=(const OpCost &o);
  llvm::json::Object toJSON() const;
};

/// Sizes of an attention op's operands, dynamic ones resolved.
struct AttentionSizes {
  int64_t batch, qHeads, kvHeads, qLen, kvLen, headDim, valueDim,
      bytesPerElement;
  int64_t group() const { return qHeads / std::max<int64_t>(kvHeads, 1); }
};

class CostModel {
public:
  explicit CostModel(CostModelOptions options = {}) : options(options) {}

  /// The estimate of a hybrid op (zero for other ops).
  OpCost estimate(Operation *op) const;
  /// The sum over every hybrid op under `root`.
  OpCost estimateAll(Operation *root) const;

  /// Sizes of an attention-family op's [B, H, S, D] operands; without a
  /// value operand (hybrid.block_select) the value dim is the head dim.
  AttentionSizes attentionSizes(Value query, Value key,
                                Value value = {}) const;

  /// Bytes of K and V an attention kernel reads under `layout`: a block of
  /// rows (one head's query rows, or the G heads of a group) meets every K/V
  /// tile once, so reads scale with the number of blocks.
  double attentionKVReadBytes(const AttentionSizes &sizes,
                              GQALayout layout) const;

  const CostModelOptions &getOptions() const { return options; }

private:
  int64_t resolve(int64_t size, int64_t dynamicValue) const;
  CostModelOptions options;
};

/// The cost model's estimate of every hybrid op under `root` (one JSON
/// object each: op, loc and the OpCost fields), then the total (op
/// "module", with the options' context length and tree size):
/// hybrid-cost-report's lines, for callers that want them as values.
llvm::json::Array costReport(Operation *root, const CostModelOptions &options);

} // namespace mlir::hybrid

#endif // HYBRID_ANALYSIS_COSTMODEL_H
