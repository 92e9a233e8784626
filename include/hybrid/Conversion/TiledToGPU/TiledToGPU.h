//===- TiledToGPU.h - The GPU stage's registrations -------------*- C++ -*-===//

#ifndef HYBRID_CONVERSION_TILEDTOGPU_TILEDTOGPU_H
#define HYBRID_CONVERSION_TILEDTOGPU_TILEDTOGPU_H

namespace mlir {
class DialectRegistry;
namespace hybrid {

/// What the GPU stage needs of upstream dialects beyond their own
/// registration: `gpu.barrier` declares that it reads and writes memory, so
/// that buffer deallocation (which refuses ops of unknown effects) can run
/// over kernels built before bufferization. convert-hybrid-to-gpu adds it
/// to its context (as a dependent registration).
void registerGPUStageExtensions(DialectRegistry &registry);

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_CONVERSION_TILEDTOGPU_TILEDTOGPU_H
