//===- KernelOpEffects.cpp - Memory effects of kernel-only ops ------------===//
//
// Hybrid ops become kernels before bufferization (convert-hybrid-to-gpu),
// so the ownership-based buffer deallocation walks their bodies, and it
// refuses any op that does not say how it touches memory; upstream's
// gpu.barrier and nvvm.mma.sync say nothing.
//  - A barrier orders the block's memory accesses: it is modelled as
//    reading and writing memory, which also keeps every other pass from
//    moving accesses across it or erasing it.
//  - mma.sync computes on registers only: no effect.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/TiledToGPU/TiledToGPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace {
struct BarrierMemoryEffects
    : MemoryEffectOpInterface::ExternalModel<BarrierMemoryEffects,
                                             gpu::BarrierOp> {
  void getEffects(
      Operation *,
      SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
          &effects) const {
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};

struct RegisterOnlyEffects
    : MemoryEffectOpInterface::ExternalModel<RegisterOnlyEffects,
                                             NVVM::MmaOp> {
  void getEffects(
      Operation *,
      SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &)
      const {}
};
} // namespace

void mlir::hybrid::registerGPUStageExtensions(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, gpu::GPUDialect *) {
    gpu::BarrierOp::attachInterface<BarrierMemoryEffects>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, NVVM::NVVMDialect *) {
    NVVM::MmaOp::attachInterface<RegisterOnlyEffects>(*ctx);
  });
}
