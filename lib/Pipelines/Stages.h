//===- Stages.h - Pass sequences the pipelines share ------------*- C++ -*-===//

#ifndef HYBRID_LIB_PIPELINES_STAGES_H
#define HYBRID_LIB_PIPELINES_STAGES_H

namespace mlir {
class OpPassManager;
namespace hybrid {

/// Tensors -> buffers, with deallocations, for the CPU and GPU pipelines
/// alike: what a public function returns is owned by its caller.
void addBufferizationPasses(OpPassManager &pm);

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_LIB_PIPELINES_STAGES_H
