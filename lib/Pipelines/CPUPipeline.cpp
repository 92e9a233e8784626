//===- CPUPipeline.cpp - hybrid-cpu-pipeline ------------------------------===//

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Conversion/Tiling/TileKernels.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"
#include "hybrid/Pipelines/Pipelines.h"
#include "Stages.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::hybrid::buildHybridCPUPipeline(
    OpPassManager &pm, const HybridCPUPipelineOptions &options) {
  // Hybrid-level decisions first, on the cost model's view of one step.
  if (options.sparse == SparseMode::Auto) {
    pm.addPass(createHybridSparsifyAttention());
    pm.addPass(createHybridDenseSparseSwitch());
  }
  if (options.speculate == SpeculateMode::Tree)
    pm.addPass(createHybridFuseSparseSpeculation());
  if (options.gqaLayout == LayoutMode::Auto) {
    HybridSelectGQALayoutOptions layout;
    layout.contextLength = options.contextLength;
    layout.treeSize = options.treeSize;
    pm.addPass(createHybridSelectGQALayout(layout));
  }

  // Weights read only transposed are bound transposed, and weights that
  // products read as B in the product's panels
  // (packed once at load time instead of every call), before the entry
  // points' signatures are recorded for the runtime.
  HybridPrepackWeightsOptions prepack;
  prepack.panelCols = chooseMatmulTiling(options.vectorWidth).cols;
  pm.addPass(createHybridHoistWeightTransposes());
  pm.addPass(createHybridPrepackWeights(prepack));
  // Hybrid ops become kernels over buffers; the rest of the tensor program
  // is upstream linalg/tensor/arith.
  pm.addPass(createHybridExportEntryPoints());
  // Softmaxes that raising left (not inside an attention).
  pm.addPass(createHybridDecomposeSoftmax());
  // Repeated layers share their kernels: lowered and compiled once each.
  pm.addPass(createHybridOutlineKernels());
  ConvertHybridToLoopsOptions toLoops;
  toLoops.vectorWidth = options.vectorWidth;
  pm.addPass(createConvertHybridToLoops(toLoops));
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  // The tiled stage's tasks become parallel loops (OpenMP further down).
  pm.addPass(createForallToParallelLoopPass());
  // In-place arguments (a KV cache): written in the caller's buffer.
  pm.addPass(createHybridMaterializeWriteBacks());

  addBufferizationPasses(pm);

  // The CPU stage: register tiles for the tile kernels, inline vector exp.
  HybridCPUTileKernelsOptions tileKernels;
  tileKernels.vectorWidth = options.vectorWidth;
  pm.addPass(createHybridCPUTileKernels(tileKernels));
  pm.addPass(createHybridCPUApproximateMath());

  // Loops -> LLVM.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  if (options.parallel)
    pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(createLowerAffinePass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  // expand-strided-metadata computes strides and offsets with affine.apply.
  pm.addPass(createLowerAffinePass());
  // Per-iteration scratch is released per iteration, then memref lowering
  // inlines the alloca scopes (which must stay single-block until then).
  pm.addPass(createScopeLoopAllocas());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  // Without rollback the conversion rewrites in one walk: the rollback
  // mode's bookkeeping took 800 MB and most of the MLIR time on a 24-layer
  // module.
  SCFToControlFlowPassOptions scfToCF;
  scfToCF.allowPatternRollback = false;
  pm.addPass(createSCFToControlFlowPass(scfToCF));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  if (options.parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void mlir::hybrid::registerHybridPipelines() {
  PassPipelineRegistration<HybridCPUPipelineOptions>(
      "hybrid-cpu-pipeline",
      "Lower hybrid and upstream tensor IR to the LLVM dialect for the CPU",
      buildHybridCPUPipeline);
  PassPipelineRegistration<HybridGPUPipelineOptions>(
      "hybrid-gpu-pipeline",
      "Lower hybrid and upstream tensor IR to NVPTX kernels (embedded PTX) "
      "and host code calling the GPU runtime",
      buildHybridGPUPipeline);
}
