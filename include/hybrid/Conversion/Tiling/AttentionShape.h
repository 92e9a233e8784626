//===- AttentionShape.h - Operands of the attention-family ops --*- C++ -*-===//
//
// The buffers, sizes and scale that hybrid.attention,
// hybrid.block_sparse_attention and hybrid.block_select read from their
// [B, H, S, D] query/key/value operands, the run-time checks of the
// relations between them, and the rows and keys of an optional draft tree.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_ATTENTIONSHAPE_H
#define HYBRID_CONVERSION_TILING_ATTENTIONSHAPE_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/TiledAttention.h"

#include <optional>

namespace mlir::hybrid {

/// The operands of an attention-family op, read into an AttentionInputs
/// (without a value operand, `v` and `valueDim` are null). With a
/// `keyLength` (the op's `key_length`), only the first rows of K/V are keys.
struct AttentionShape : AttentionInputs {
  AttentionShape(KernelBuilder &kb, Value query, Value key, Value value,
                 std::optional<APFloat> scaleAttr, Value keyLength = {});

  /// Checks every relation the verifier could not check statically.
  void checkDynamic(KernelBuilder &kb, RuntimeChecks &checks) const;

  /// pos(i) = offset + i: the op's offset, or bottom-right (Skv - Sq). An
  /// offset outside [-2^62, 2^62] (no cache is that long) is refused, so
  /// that offset + i and the positions derived from it cannot wrap.
  Value queryOffset(KernelBuilder &kb, RuntimeChecks &checks,
                    Value offsetOperand) const;

  /// The [B, Hq, Sq, Dv] result buffer.
  Value allocOutput(KernelBuilder &kb, RankedTensorType type) const;

  /// The user mask applied to logits: checks at run time that `mask` (a
  /// tensor, or null) broadcasts to [B, Hq, Sq, Skv] and returns
  /// mask(x, b, h, i, j) (true/false, or added), or null without a mask.
  std::function<Value(Value, Value, Value, Value, Value)>
  userMask(KernelBuilder &kb, RuntimeChecks &checks, Value maskTensor) const;

  /// The kernel inputs, with the op's options.
  AttentionInputs inputs(Value out, Value offset,
                         std::optional<APFloat> softcap, bool causal) const;
};

/// The draft tree of an attention-family op: its buffer (null without a
/// tree), checked at run time, and where its rows and keys start (the last
/// N of each).
struct DraftTreeRows {
  Value parents, nodes, firstRow, firstKey;

  DraftTreeRows(KernelBuilder &kb, RuntimeChecks &checks,
                const AttentionShape &s, Value parentsTensor);
};

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_ATTENTIONSHAPE_H
