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

/// What the embedded PTX targets: one chip, or both (a PTX set, from which
/// the runtime loads the newest the device runs).
enum class GPUChip { SM80, SM90, Both };

struct HybridGPUPipelineOptions
    : public PassPipelineOptions<HybridGPUPipelineOptions> {
  PassOptions::Option<GPUChip> chip{
      *this, "chip",
      llvm::cl::desc("NVIDIA architecture the embedded PTX targets (the "
                     "driver JIT-compiles sm_80 PTX for sm_90 too)"),
      llvm::cl::init(GPUChip::SM80),
      llvm::cl::values(clEnumValN(GPUChip::SM80, "sm_80", "Ampere (A100)"),
                       clEnumValN(GPUChip::SM90, "sm_90", "Hopper (H100)"),
                       clEnumValN(GPUChip::Both, "both",
                                  "PTX for sm_80 and sm_90; the runtime "
                                  "loads the newest the device runs"))};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features; CUDA 13 needs at least +ptx80"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int64_t> optLevel{
      *this, "opt-level", llvm::cl::desc("NVPTX optimisation level (0-3)"),
      llvm::cl::init(3)};
};

/// The `chip` option's spelling (sm_80, sm_90, both).
StringRef getGPUChipName(GPUChip chip);

/// hybrid + upstream tensor-level IR -> host LLVM dialect calling the
/// mgpu* runtime, with the kernels embedded as PTX (gpu.binary).
void buildHybridGPUPipeline(OpPassManager &pm,
                            const HybridGPUPipelineOptions &options);

/// Registers `hybrid-cpu-pipeline` and `hybrid-gpu-pipeline`.
void registerHybridPipelines();

} // namespace hybrid
} // namespace mlir

#endif // HYBRID_PIPELINES_PIPELINES_H
