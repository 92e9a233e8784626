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

enum class SparseMode { None, Auto };
enum class LayoutMode { Auto, Keep };
enum class SpeculateMode { None, Tree };

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
  // Hybrid-level passes run first, on the cost model's view of one step.
  PassOptions::Option<LayoutMode> gqaLayout{
      *this, "gqa-layout", llvm::cl::desc("GQA layout of attention ops"),
      llvm::cl::init(LayoutMode::Auto),
      llvm::cl::values(
          clEnumValN(LayoutMode::Auto, "auto",
                     "hybrid-select-gqa-layout picks each op's layout"),
          clEnumValN(LayoutMode::Keep, "keep", "leave layouts as written"))};
  PassOptions::Option<SparseMode> sparse{
      *this, "sparse", llvm::cl::desc("Training-free sparse attention"),
      llvm::cl::init(SparseMode::None),
      llvm::cl::values(
          clEnumValN(SparseMode::None, "none", "keep attention as written"),
          clEnumValN(SparseMode::Auto, "auto",
                     "sparsify causal attention (MiniCPM4's config) and "
                     "switch dense/sparse on the run-time length"))};
  PassOptions::Option<SpeculateMode> speculate{
      *this, "speculate", llvm::cl::desc("Speculative verification"),
      llvm::cl::init(SpeculateMode::None),
      llvm::cl::values(
          clEnumValN(SpeculateMode::None, "none", "as written"),
          clEnumValN(SpeculateMode::Tree, "tree",
                     "fuse sparsity with draft-tree verification "
                     "(hybrid-fuse-sparse-speculation)"))};
  PassOptions::Option<int64_t> contextLength{
      *this, "context-length",
      llvm::cl::desc("Cost model: keys for dynamic key lengths"),
      llvm::cl::init(4096)};
  PassOptions::Option<int64_t> treeSize{
      *this, "tree-size",
      llvm::cl::desc("Cost model: draft-tree nodes per step (0: decoding)"),
      llvm::cl::init(0)};
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
