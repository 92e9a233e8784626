//===- TiledAttention.h - Attention as tiles of two products ----*- C++ -*-===//
//
// Flash attention in the tiled design. A block of query rows that share a
// KV head (one head's rows, or the G heads of a KV group times a few rows)
// meets each tile of keys once, as two products on the `matmul` tile
// kernels (TileKernels.h):
//
//   S^T[keys x rows] = K[keys x D] Q^T[D x rows]   K read in place (row-major
//                                                   A), Q^T packed once per
//                                                   block with the scale
//   acc[rows x Dv]  += P[rows x keys] V[keys x Dv] P is S^T read k-major, V
//                                                   in place
//
// Keeping S transposed puts the query rows along the vector lanes, so the
// online softmax (max, exp, sum per row) is lane-wise vector code with no
// horizontal reduction, and K is never transposed. Causal limits cost a
// vector select on the tiles that straddle them and nothing elsewhere;
// arbitrary masks (a user mask, a draft tree's ancestors) run on the tiles
// that carry them.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_TILEDATTENTION_H
#define HYBRID_CONVERSION_TILING_TILEDATTENTION_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/TileKernels.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <functional>
#include <optional>

namespace mlir::hybrid {

/// Query rows in one block of an attention kernel (all heads of the block
/// together): a whole number of row tiles and of column vectors on AVX-512
/// (12 x 32) and AVX2 (6 x 16). The cost model reasons with it.
inline constexpr int64_t kAttentionRowsPerBlock = 96;
/// Keys per tile: a whole number of row tiles; S^T (keys x 96 rows) stays
/// in L1.
inline constexpr int64_t kAttentionKeyTile = 48;

/// What every attention kernel reads.
struct AttentionInputs {
  // Buffers [B, H, S, D] and sizes. K and V hold kvRows rows per head, of
  // which the first kvLen are keys (the rest: a KV cache's free rows).
  Value q, k, v, out;
  Value batch, qHeads, qLen, headDim, kvHeads, kvLen, kvRows, valueDim, group;
  Value scale;
  std::optional<APFloat> softcap;
  bool causal = true;
  /// pos(i) = offset + i.
  Value offset;
  /// Optional user mask: the logit of (b, head, i, j) given its value x.
  std::function<Value(Value x, Value b, Value head, Value i, Value j)> mask;
};

/// A block of query rows sharing one KV head, with its online-softmax state
/// in stack scratch. Column c of the block (a query row) is row `rowOf(c)`
/// of head `headOf(c)`; every column is a valid row.
class AttentionRowBlock {
public:
  AttentionRowBlock(KernelBuilder &kb, const MatmulTiling &tiling,
                    const AttentionInputs &in, Value b, Value kvHead,
                    Value rows, std::function<Value(Value)> headOf,
                    std::function<Value(Value)> rowOf);

  /// Key j is visible to column c only when j <= lastKey(c) (signed);
  /// without a call every key is.
  void limitKeys(function_ref<Value(Value col)> lastKey);

  /// Attends keys [begin, end) in tiles. Visibility is the limits above, or,
  /// when `visible` is given, `visible(col, key)` (an i1) instead. The user
  /// mask applies either way.
  void keys(Value begin, Value end,
            std::function<Value(Value col, Value key)> visible = nullptr);

  /// out[b, head, row, :] = acc / l, or 0 for rows that attended nothing.
  void finish();
  /// Instead of finishing: row c's (m, l, acc[0:Dv]) at
  /// partials[base + c * (Dv + 2)], for combinePartials.
  void exportPartial(Value partials, Value base);

private:
  Value vload(Value buffer, Value at, Type elementType);
  Value splat(Value scalar);
  /// S^T for keys [j0, j0 + count).
  void scores(Value j0, Value count);
  /// Logits in place: softcap and masks; returns nothing, S^T holds them.
  void logits(Value j0, Value count,
              const std::function<Value(Value, Value)> &visible);
  /// Online softmax over the tile (S^T becomes P), acc rescaled.
  void softmax(Value j0, Value count, bool applyLimits);
  /// acc += P V for keys [j0, j0 + count).
  void values(Value j0, Value count);

  KernelBuilder &kb;
  const MatmulTiling &tiling;
  const AttentionInputs &in;
  ModuleOp module;
  Value b, kvHead, rows;
  std::function<Value(Value)> headOf, rowOf;
  // Columns of S^T: rows rounded up to whole vectors.
  Value rowsPadded;
  // Value columns rounded up to the register tile; V read in place when
  // they need no padding and V is f32.
  Value valuePadded, valuesInPlace;
  Value kFlat, vFlat;
  Value queriesT, scoresT, acc, maxes, sums, alphas, limits, minLimit;
  Value keysPacked, valuesPacked;
};

/// Combines the partial results of `splits` key ranges of one block of
/// `rows` rows (AttentionRowBlock::exportPartial, split s at base + s *
/// splitStride) into out[outRow(c)] = sum_s e^{m_s - m} acc_s / sum_s
/// e^{m_s - m} l_s.
void combinePartials(KernelBuilder &kb, const AttentionInputs &in,
                     Value partials, Value base, Value splitStride,
                     Value splits, Value rows,
                     function_ref<SmallVector<Value>(Value)> outRow);

/// A draft tree's ancestor relation as an i8 buffer of nodes x nodes, built
/// once: cell [n * nodes + a] is set when tree key a is node n or one of its
/// ancestors.
Value buildAncestorBitmap(KernelBuilder &kb, Value parents, Value nodes);

/// Dense attention: every block of rows meets each key tile once.
struct TiledAttention : AttentionInputs {
  /// Pack the G heads of a KV group into one block of rows.
  bool groupPacked = false;
  /// Draft tree (null when none): its parents, node count, and the first
  /// tree row and key (the last `nodes` of each).
  Value parents, nodes, treeRow0, treeKey0;

  /// Emits the kernel at the builder's insertion point.
  void emit(KernelBuilder &kb, const MatmulTiling &tiling) const;
};

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_TILEDATTENTION_H
