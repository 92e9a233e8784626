//===- CheckSupported.cpp - Ops the GPU stage has no kernel for -----------===//
//
// The GPU stage lowers linalg and elementwise ops (projections, norms and
// activations written out by the importers, softmax decomposed); the
// hybrid ops are ported one by one. Until an op is, the GPU pipeline says
// which op stops it, where, before bufferization would fail on it with a
// message about buffers.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDGPUCHECKSUPPORTED
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

/// Ops of the hybrid dialect that lower on the GPU (convert-hybrid-to-gpu,
/// or, for write_back, bufferization).
bool hasGPULowering(Operation *op) {
  return isa<hybrid::WriteBackOp, hybrid::CheckOp, hybrid::KVCompactOp,
             hybrid::RMSNormOp, hybrid::AttentionOp,
             hybrid::RotaryEmbeddingOp, hybrid::LinearRecurrenceOp,
             hybrid::ChunkMoEOp, hybrid::CumSumOp, hybrid::TopKOp,
             hybrid::AttentionScoresOp, hybrid::BlockSparseAttentionOp,
             hybrid::CompressKeysOp, hybrid::BlockSelectOp,
             hybrid::TreeVerifyOp>(op);
}

struct HybridGPUCheckSupported
    : hybrid::impl::HybridGPUCheckSupportedBase<HybridGPUCheckSupported> {
  void runOnOperation() override {
    bool failed = false;
    getOperation().walk([&](Operation *op) {
      bool unsupported =
          (isa<hybrid::HybridDialect>(op->getDialect()) &&
           !hasGPULowering(op)) ||
          isa<linalg::PackOp, linalg::UnPackOp>(op);
      if (!unsupported)
        return;
      op->emitError() << "'" << op->getName()
                      << "' has no GPU lowering yet; compile this module "
                         "for the CPU (hybrid-cpu-pipeline, --target cpu)";
      failed = true;
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
