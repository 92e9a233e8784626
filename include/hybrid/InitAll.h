//===- InitAll.h - Register everything Hybrid provides ----------*- C++ -*-===//
//
// The one place a tool (hybrid-opt, the library driver, tests) registers the
// hybrid dialect and passes together with every upstream dialect and pass.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_INITALL_H
#define HYBRID_INITALL_H

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"
#include "hybrid/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

namespace mlir::hybrid {

/// Adds the hybrid dialect to `registry`.
inline void registerHybridDialects(DialectRegistry &registry) {
  registry.insert<HybridDialect>();
}

/// Adds every upstream dialect and extension plus ours to `registry`.
inline void registerAllDialects(DialectRegistry &registry) {
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // The GPU stage serialises gpu.module to PTX in a pass
  // (gpu-module-to-binary), which translates the kernels to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerHybridDialects(registry);
}

/// Registers every upstream pass, ours, and our named pipelines with the
/// global pass registry.
inline void registerAllPasses() {
  mlir::registerAllPasses();
  registerHybridTransformsPasses();
  registerHybridConversionPasses();
  registerHybridPipelines();
}

} // namespace mlir::hybrid

#endif // HYBRID_INITALL_H
