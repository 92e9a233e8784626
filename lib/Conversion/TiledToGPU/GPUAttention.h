//===- GPUAttention.h - What both flash tile forms share --------*- C++ -*-===//
//
// hybrid.attention on the GPU has two tile forms over the same host-side
// setup (checks, operands, sizes): f32 on FMAs (GPUAttention.cpp) and
// f16/bf16 on tensor cores (GPUAttentionMMA.cpp). Both mask a score the
// same way, through `visibleScore`.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUATTENTION_H
#define HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUATTENTION_H

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <optional>

namespace mlir::hybrid::gpu_stage {

/// Index and f32 arithmetic of the attention kernels.
struct AttentionEmitter {
  OpBuilder &b;
  Location loc;
  KernelIO &io;

  Value idx(int64_t v) { return io.index(v); }
  Value f32(float v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value ult(Value x, Value y) { return cmp(arith::CmpIPredicate::ult, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fma(Value x, Value y, Value acc) { return io.fma(x, y, acc); }
  Value maxf(Value x, Value y) {
    return arith::MaxNumFOp::create(b, loc, x, y);
  }
  Value load(Value m, ValueRange at) {
    return memref::LoadOp::create(b, loc, m, at);
  }
  void store(Value v, Value m, ValueRange at) {
    memref::StoreOp::create(b, loc, v, m, at);
  }
  /// `m[at]` when `inBounds`, else 0; widened to f32, or as `type`.
  Value loadOr0(Value m, ValueRange at, Value inBounds, Type type = {});
  /// Combines `v` over the 4 lanes 4r .. 4r + 3 of a warp (xor shuffles).
  Value quadReduce(Value v, bool max);
};

/// The kernel's operands and sizes, set up on the host.
struct AttentionOperands {
  Value query, key, value, mask, parents, output;
  Value batch, qLen, kvHeads, keys, offset, group, groupRows, treeSize;
  SmallVector<Value> maskSizes;
  float scale;
  std::optional<float> softcap;
  bool causal;
  int64_t headDim, valueDim;
  Type outputType;
};

/// A query row of a block: whether it exists, its head and its query.
struct AttentionRow {
  Value valid, head, query;
};

/// Row `r` of a block whose rows are the KV head's query group packed
/// (group row g is head g / Sq, query g % Sq), starting at `firstRow`.
AttentionRow packedRow(AttentionEmitter &e, const AttentionOperands &ops,
                       Value kvHead, Value firstRow, Value r);

/// The end of the keys a block of packed rows [firstRow, firstRow + rows)
/// can see: the causal limit of its last query, at most the keys.
Value causalKeyEnd(AttentionEmitter &e, const AttentionOperands &ops,
                   Value firstRow, int64_t rows);

/// Score `s` (already scaled) of `row` against key `kj`: softcapped, the
/// mask added, and -inf where the key is not visible (past `keyEnd`, past
/// the causal limit, a tree key that is not an ancestor, a false mask).
Value visibleScore(AttentionEmitter &e, const AttentionOperands &ops,
                   Value batchIndex, const AttentionRow &row, Value kj,
                   Value keyEnd, Value s);

/// The dense op's flash kernel on tensor cores: f16 or bf16 Q, K and V
/// (mma.sync m16n8k16, f32 accumulators and softmax), launched over
/// `work` > 0.
void emitTensorCoreAttention(AttentionEmitter &e,
                             const AttentionOperands &ops, Value work);

} // namespace mlir::hybrid::gpu_stage

#endif // HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUATTENTION_H
