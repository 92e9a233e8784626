//===- GPUKernels.h - Kernels of the GPU stage ------------------*- C++ -*-===//
//
// The GPU stage turns each linalg op of a bufferized module into a kernel
// launch (`gpu.launch`, outlined later by gpu-kernel-outlining). Two forms:
//
//  - contractions (matmul, batch matmul, any linalg op whose maps infer as
//    one m, one n and one k dimension): one thread block per output tile,
//    K staged through shared memory, per-thread register tiles (f32) or
//    per-warp tensor-core tiles (`nvvm.mma.sync` m16n8k16, f16/bf16 in,
//    f32 accumulate; bf16 x f32 with the f32 operand split in two bf16
//    parts);
//  - everything else: one thread per point of the parallel loops, which
//    runs the op's reduction loops itself.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUKERNELS_H
#define HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUKERNELS_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::hybrid::gpu_stage {

/// A kernel launch under construction: `body` is positioned inside the
/// launch region, before its terminator.
struct Launch {
  gpu::LaunchOp op;
  Value blockX, blockY, blockZ, threadX;
  /// The shared-memory buffers asked for, in order.
  SmallVector<Value, 4> shared;
};

/// Emits at `b`'s insertion point, when `work` (an index) is positive,
/// a launch of `grid` blocks of `threads` threads with the given shared
/// memory buffers (`getWorkgroupBufferType`), and leaves `b` inside its
/// body. A launch of zero blocks is a CUDA error, hence the guard.
Launch createGuardedLaunch(OpBuilder &b, Location loc, Value work,
                           std::array<Value, 3> grid, int64_t threads,
                           TypeRange workgroupBuffers = {});

/// The memref type of a shared-memory buffer.
MemRefType getWorkgroupBufferType(ArrayRef<int64_t> shape, Type elementType);

/// A hybrid op's kernel is built on its tensors, before bufferization:
/// it reads its operands' buffers (`bufferization.to_buffer`), writes new
/// ones, and hands them back as tensors, which bufferization then resolves.
struct KernelIO {
  OpBuilder &b;
  Location loc;

  KernelIO(OpBuilder &b, Location loc) : b(b), loc(loc) {}
  Value index(int64_t value);
  /// The buffer `tensor` is read from, in whatever layout bufferization
  /// gives it (strided, fully dynamic).
  Value read(Value tensor);
  /// A new buffer shaped like `tensor`, identity layout.
  Value allocLike(Value tensor);
  /// The tensor a kernel wrote into `buffer`.
  Value result(Value buffer, Type tensorType);
  /// `linear` as coordinates over `sizes`, the last fastest (the first is
  /// not reduced: `linear` is below the product).
  SmallVector<Value> delinearize(Value linear, ArrayRef<Value> sizes);
  /// acc + x * y, marked `contract` so that NVPTX emits one fma.rn.f32.
  Value fma(Value x, Value y, Value acc);
  /// A float as f32, and back.
  Value toF32(Value value);
  Value fromF32(Value value, Type type);
};

/// How a reduction across threads combines (f32 values).
enum class Combine { Add, Max };

/// `value` combined over the 32 lanes of each warp (butterfly shuffles):
/// every lane gets the result.
Value warpReduce(OpBuilder &b, Location loc, Value value, Combine how);

/// `value` combined over the `threads` threads of the block (a multiple of
/// 32), through `scratch` (a workgroup `memref<32xf32>`): every thread gets
/// the result. Contains barriers: call it from every thread.
Value blockReduce(OpBuilder &b, Location loc, Value value, Value tid,
                  Value scratch, int64_t threads, Combine how);

/// Tensor-core fragments of `mma.sync.aligned.m16n8k16` (WarpMMA.cpp).
/// tile[row, col] and tile[row, col + 1] (a 16-bit shared-memory tile) as
/// one operand register.
Value loadMMAPair(OpBuilder &b, Location loc, Value tile, Value row,
                  Value col);
/// Two f32 values rounded to `elementType` (f16 or bf16) as one operand
/// register.
Value packMMAPair(OpBuilder &b, Location loc, Value lo, Value hi,
                  Type elementType);
/// D = A B + C for one warp: `a` 4 registers, `bFrag` 2, `c` 4 f32.
SmallVector<Value, 4> mmaSync16816(OpBuilder &b, Location loc,
                                   ArrayRef<Value> a, ArrayRef<Value> bFrag,
                                   ArrayRef<Value> c, Type elementType);

/// Replaces `op` (a contraction on buffers with one m, n and k dimension
/// and at most one batch dimension) by a tiled GEMM launch; failure when it
/// is not one.
LogicalResult emitContraction(OpBuilder &b, linalg::LinalgOp op);

/// Hybrid ops on the GPU, each replaced by a launch over its operands'
/// buffers (see KernelIO).
LogicalResult lowerRMSNorm(OpBuilder &b, RMSNormOp op);
LogicalResult lowerAttention(OpBuilder &b, AttentionOp op);
LogicalResult lowerBlockSparseAttention(OpBuilder &b,
                                        BlockSparseAttentionOp op);
LogicalResult lowerRotaryEmbedding(OpBuilder &b, RotaryEmbeddingOp op);
LogicalResult lowerLinearRecurrence(OpBuilder &b, LinearRecurrenceOp op);
LogicalResult lowerChunkMoE(OpBuilder &b, ChunkMoEOp op);
LogicalResult lowerCumSum(OpBuilder &b, CumSumOp op);
LogicalResult lowerTopK(OpBuilder &b, TopKOp op);
LogicalResult lowerAttentionScores(OpBuilder &b, AttentionScoresOp op);
LogicalResult lowerCompressKeys(OpBuilder &b, CompressKeysOp op);
LogicalResult lowerBlockSelect(OpBuilder &b, BlockSelectOp op);
LogicalResult lowerTreeVerify(OpBuilder &b, TreeVerifyOp op);
/// kv_compact's node states as a kernel, leaving a kv_compact of the caches
/// alone (lowered on the host); nothing without node states.
LogicalResult lowerKVCompactStates(OpBuilder &b, KVCompactOp op);

/// rows[b, h, r, :] = the mean of the key's kernel window (first + r), a
/// thread per value (CompressedRowsEmitter for the GPU).
void emitCompressedRows(KernelBuilder &kb, SparseConfigAttr config, Value key,
                        Value rows, Value first, Value count);

/// Replaces any linalg op on buffers by a launch of one thread per point of
/// its parallel loops.
LogicalResult emitPointwise(OpBuilder &b, linalg::LinalgOp op);

} // namespace mlir::hybrid::gpu_stage

#endif // HYBRID_LIB_CONVERSION_TILEDTOGPU_GPUKERNELS_H
