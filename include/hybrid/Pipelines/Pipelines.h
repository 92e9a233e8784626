//===- Pipelines.h - Named compilation pipelines ----------------*- C++ -*-===//
//
// A pipeline is one build function, registered under a name for hybrid-opt
// and called by the library driver, so that both always run the same passes.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_PIPELINES_PIPELINES_H
#define HYBRID_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace hybrid {

struct HybridCPUPipelineOptions
    : public PassPipelineOptions<HybridCPUPipelineOptions> {
  PassOptions::Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run independent work (batches, heads, rows) on all "
                     "cores through OpenMP"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes of the kernels' vector ops"),
      llvm::cl::init(8)};
};

/// hybrid + upstream tensor-level IR -> LLVM dialect, with every public
/// function exported through the C interface.
void buildHybridCPUPipeline(OpPassManager &pm,
                            const HybridCPUPipelineOptions &options);

/// Registers `hybrid-cpu-pipeline`.
void registerHybridPipelines();

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_PIPELINES_PIPELINES_H
