//===- TiledAttention.h - Dense attention over blocks of rows ---*- C++ -*-===//
//
// Flash-attention on the CPU: a block of query rows that share a KV head
// meets each 64-key tile once. Scores are one register-blocked product
// (Q x K-tile^T), the online softmax runs per row over the tile, and the
// values are a second product (P x V-tile). The rows of a block are the
// query rows of one head (head-major) or the G heads of a KV group times a
// few query rows (group-packed), so that each K/V byte is read once per
// block instead of once per row.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_TILEDATTENTION_H
#define HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_TILEDATTENTION_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <functional>
#include <optional>

namespace mlir::hybrid {

/// What every attention kernel reads.
struct AttentionInputs {
  // Buffers [B, H, S, D] and sizes.
  Value q, k, v, out;
  Value batch, qHeads, qLen, headDim, kvHeads, kvLen, valueDim, group;
  Value scale;
  std::optional<APFloat> softcap;
  bool causal = true;
  /// pos(i) = offset + i.
  Value offset;
  /// Optional user mask: the logit of (b, head, i, j) given its value x.
  std::function<Value(Value x, Value b, Value head, Value i, Value j)> mask;
};

/// A block of query rows sharing one KV head, with its online-softmax state
/// in stack scratch. Row r is query row `rowOf(r)` of head `headOf(r)`;
/// rows past the query length are computed on a clamped row and dropped.
class AttentionRowBlock {
public:
  AttentionRowBlock(KernelBuilder &kb, const AttentionInputs &in, Value b,
                    Value kvHead, Value rows,
                    std::function<Value(Value)> headOf,
                    std::function<Value(Value)> rowOf);
  /// Attends keys [begin, end) (causality and the mask still apply per row)
  /// in 64-key tiles: scores and values are register-blocked products.
  void keys(Value begin, Value end);
  /// out[b, head, row, :] = acc / l, or 0 for rows that attended nothing.
  void finish();

private:
  KernelBuilder &kb;
  const AttentionInputs &in;
  Value b, kvHead, rows;
  std::function<Value(Value)> headOf, rowOf;
  Value keysT, scores, acc, state;
};

/// Dense attention: every block of rows meets each key tile once.
struct TiledAttention : AttentionInputs {
  /// Pack the G heads of a KV group into one block of rows.
  bool groupPacked = false;

  /// Emits the kernel at the builder's insertion point.
  void emit(KernelBuilder &kb) const;
};

} // namespace mlir::hybrid

#endif // HYBRID_LIB_CONVERSION_HYBRIDTOLOOPS_TILEDATTENTION_H
