//===- HybridToGPU.cpp - convert-hybrid-to-gpu ----------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"
#include "hybrid/Conversion/TiledToGPU/TiledToGPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/TypeSwitch.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_CONVERTHYBRIDTOGPU
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

struct ConvertHybridToGPU
    : hybrid::impl::ConvertHybridToGPUBase<ConvertHybridToGPU> {
  // The kernels' barriers must declare their effects before the buffer
  // deallocation further down the pipeline meets them.
  void getDependentDialects(DialectRegistry &registry) const override {
    ConvertHybridToGPUBase::getDependentDialects(registry);
    hybrid::registerGPUStageExtensions(registry);
  }

  void runOnOperation() override {
    getOperation()->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                            UnitAttr::get(&getContext()));
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<hybrid::RMSNormOp, hybrid::AttentionOp,
              hybrid::RotaryEmbeddingOp, hybrid::LinearRecurrenceOp,
              hybrid::ChunkMoEOp, hybrid::CumSumOp, hybrid::TopKOp,
              hybrid::AttentionScoresOp, hybrid::BlockSparseAttentionOp,
              hybrid::CompressKeysOp, hybrid::BlockSelectOp,
              hybrid::TreeVerifyOp>(op))
        ops.push_back(op);
    });
    // kv_compact's node states get a kernel; the caches' part stays a
    // (smaller) kv_compact for the host patterns below.
    SmallVector<hybrid::KVCompactOp> compacts;
    getOperation().walk([&](hybrid::KVCompactOp op) { compacts.push_back(op); });
    {
      OpBuilder b(&getContext());
      for (hybrid::KVCompactOp op : compacts)
        if (failed(hybrid::gpu_stage::lowerKVCompactStates(b, op)))
          return signalPassFailure();
    }
    OpBuilder b(&getContext());
    for (Operation *op : ops) {
      LogicalResult lowered =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](hybrid::RMSNormOp norm) {
                return hybrid::gpu_stage::lowerRMSNorm(b, norm);
              })
              .Case([&](hybrid::AttentionOp attention) {
                return hybrid::gpu_stage::lowerAttention(b, attention);
              })
              .Case([&](hybrid::RotaryEmbeddingOp rotary) {
                return hybrid::gpu_stage::lowerRotaryEmbedding(b, rotary);
              })
              .Case([&](hybrid::LinearRecurrenceOp recurrence) {
                return hybrid::gpu_stage::lowerLinearRecurrence(b, recurrence);
              })
              .Case([&](hybrid::ChunkMoEOp moe) {
                return hybrid::gpu_stage::lowerChunkMoE(b, moe);
              })
              .Case([&](hybrid::CumSumOp cumsum) {
                return hybrid::gpu_stage::lowerCumSum(b, cumsum);
              })
              .Case([&](hybrid::TopKOp topk) {
                return hybrid::gpu_stage::lowerTopK(b, topk);
              })
              .Case([&](hybrid::AttentionScoresOp scores) {
                return hybrid::gpu_stage::lowerAttentionScores(b, scores);
              })
              .Case([&](hybrid::BlockSparseAttentionOp sparse) {
                return hybrid::gpu_stage::lowerBlockSparseAttention(b, sparse);
              })
              .Case([&](hybrid::CompressKeysOp compress) {
                return hybrid::gpu_stage::lowerCompressKeys(b, compress);
              })
              .Case([&](hybrid::BlockSelectOp select) {
                return hybrid::gpu_stage::lowerBlockSelect(b, select);
              })
              .Case([&](hybrid::TreeVerifyOp verify) {
                return hybrid::gpu_stage::lowerTreeVerify(b, verify);
              });
      if (failed(lowered))
        return signalPassFailure();
    }
    // Control ops run on the host, as on the CPU: checks raise the
    // module's error status (a condition read from device memory is copied
    // back by hybrid-gpu-device-buffers), kv_compact moves rows with tensor
    // slices (kernels once bufferized).
    RewritePatternSet patterns(&getContext());
    hybrid::populateHostControlLoweringPatterns(patterns, {});
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
