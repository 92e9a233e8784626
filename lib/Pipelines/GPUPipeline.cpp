//===- GPUPipeline.cpp - hybrid-gpu-pipeline ------------------------------===//
//
// The second target of the tiled design: the same tensor program, the same
// outlining and bufferization as the CPU, then the GPU stage (kernels as
// thread blocks over shared-memory tiles), NVVM for the kernels, host code
// calling the mgpu* runtime (lib/Runtime/CUDA), and the kernels embedded as
// PTX, which the driver JIT-compiles: no CUDA toolkit is needed to compile
// or to run.
//
//===----------------------------------------------------------------------===//

#include "Stages.h"

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"
#include "hybrid/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

StringRef mlir::hybrid::getGPUChipName(GPUChip chip) {
  switch (chip) {
  case GPUChip::SM80:
    return "sm_80";
  case GPUChip::SM90:
    return "sm_90";
  case GPUChip::Both:
    return "both";
  }
  llvm_unreachable("unknown chip");
}

void mlir::hybrid::buildHybridGPUPipeline(
    OpPassManager &pm, const HybridGPUPipelineOptions &options) {
  // What the GPU stage cannot lower yet is named here, on the tensor
  // program.
  pm.addPass(createHybridGPUCheckSupported());
  // Weights read only transposed are bound so (the runtime transposes them
  // before uploading), before the entry signatures are recorded.
  pm.addPass(createHybridHoistWeightTransposes());
  pm.addPass(createHybridExportEntryPoints());
  pm.addPass(createHybridDecomposeSoftmax());
  pm.addPass(createHybridOutlineKernels());
  // Hybrid ops become kernels on their tensors' buffers.
  pm.addPass(createConvertHybridToGPU());
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createHybridMaterializeWriteBacks());
  addBufferizationPasses(pm);

  // The GPU stage: every linalg op a kernel launch, every buffer on the
  // device, the entry points copying in and out.
  pm.addPass(createHybridLinalgToGPU());
  pm.addPass(createHybridGPUDeviceBuffers());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createGpuKernelOutliningPass());
  // The kernels' shared-memory globals now live in their gpu.modules; the
  // host's originals are unused.
  pm.addPass(createSymbolDCEPass());

  // Kernels -> NVVM, for one chip or both (each gpu.module gets a target
  // per chip).
  SmallVector<GPUChip, 2> chips;
  if (options.chip == GPUChip::Both)
    chips = {GPUChip::SM80, GPUChip::SM90};
  else
    chips = {options.chip};
  for (GPUChip chip : chips) {
    GpuNVVMAttachTargetOptions target;
    target.chip = getGPUChipName(chip).str();
    target.features = options.features;
    target.optLevel = options.optLevel;
    pm.addPass(createGpuNVVMAttachTarget(target));
  }
  pm.addNestedPass<gpu::GPUModuleOp>(createHybridGPUDeviceMath());
  pm.addNestedPass<gpu::GPUModuleOp>(createLowerAffinePass());
  pm.addNestedPass<gpu::GPUModuleOp>(createSCFToControlFlowPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createConvertGpuOpsToNVVMOps());
  pm.addNestedPass<gpu::GPUModuleOp>(createCanonicalizerPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCSEPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createReconcileUnrealizedCastsPass());

  // Host code: GPU ops on one stream per function, then LLVM.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createLowerAffinePass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  SCFToControlFlowPassOptions scfToCF;
  scfToCF.allowPatternRollback = false;
  pm.addPass(createSCFToControlFlowPass(scfToCF));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());

  // The kernels as PTX inside the module, JIT-compiled by the driver.
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
  if (chips.size() > 1)
    pm.addPass(createHybridGPUEmbedPTXSet());
}
