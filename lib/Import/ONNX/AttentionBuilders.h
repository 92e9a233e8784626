//===- AttentionBuilders.h - Heads, KV caches and key masks -----*- C++ -*-===//
//
// What the attention-family converters (ONNX Attention, LinearAttention,
// com.microsoft GroupQueryAttention) share: moving between [B, S, H*D] and
// [B, H, S, D], growing a KV cache, and the additive mask for the key limits
// that hybrid.attention's own causal limit cannot express.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_ONNX_ATTENTIONBUILDERS_H
#define HYBRID_LIB_IMPORT_ONNX_ATTENTIONBUILDERS_H

#include "OpTable.h"

namespace mlir::hybrid::onnx_import {

/// [B, S, H*D] -> [B, H, S, D] (toHeads); an error when H*D is not a
/// known multiple of `heads`. fromHeads joins them back.
FailureOr<Value> splitHeads(NodeContext &nc, Value x, int64_t heads);
/// concat(past, x) along the sequence dim (2) of [B, H, S, D] tensors.
Value concatSequence(OpBuilder &b, Location loc, Value past, Value x);

/// Which keys query row i of batch b may see, beyond what hybrid.attention's
/// own causal limit expresses: per-batch key lengths (an external cache or
/// a padded batch) and sliding windows around the row's position `pos`.
struct KeyLimits {
  Value keyLen;        // [B] integers: keys j >= keyLen[b] are hidden; or null
  Value pastLen;       // [B] i64: pos = i + pastLen[b]; or null
  Value past;          // index: pos = i + past; or null
  bool causal = false; // j <= pos
  int64_t left = -1;   // j >= pos - left when >= 0
  int64_t right = -1;  // j <= pos + right when >= 0
  // Without pastLen or past, pos = i + keyLen[b] - Sq when keyLen is set
  // (the queries are an external cache's newest tokens), else i.
};

/// The additive mask [B, Hm, Sq, Skv] (0 or -inf, Q's float type) that
/// applies `limits` and the user mask (bool, or added when float; any rank,
/// right-aligned, a dynamic dim taken at full size). Hm is the user mask's
/// head dim, or 1. `q` is [B, Hq, Sq, D], `k` [B, Hkv, Skv, D].
Value structuralMask(OpBuilder &b, Location loc, Value q, Value k, Value user,
                     const KeyLimits &limits);

} // namespace mlir::hybrid::onnx_import

#endif // HYBRID_LIB_IMPORT_ONNX_ATTENTIONBUILDERS_H
