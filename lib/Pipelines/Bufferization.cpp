//===- Bufferization.cpp - Tensors to buffers, shared by the pipelines ----===//

#include "Stages.h"

#include "hybrid/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::hybrid::addBufferizationPasses(OpPassManager &pm) {
  // Tensors -> buffers. Every buffer a public function returns is owned by
  // its caller (the runtime frees it), so results never alias inputs or
  // constants.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // A loop that updated a buffer in place (kv_compact's row moves) still
  // returns it as a new value until canonicalisation forwards its unchanged
  // iteration argument; only then is the function's result visibly its
  // argument.
  pm.addPass(createCanonicalizerPass());
  // A private function (a layer) returning a buffer it was given in place
  // stops returning it, so that a write-back of that result into the
  // argument becomes a self-copy, which canonicalisation erases.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  // Once more: the pass visits functions in order, so a layer that returns
  // what an outlined kernel updated in place (compress_keys' cache) only
  // returns its own argument after the kernel's turn.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  // Upstream's deallocation pipeline minus its simplification pass, which
  // compares every pair of deallocations in a block: half the MLIR time of
  // a 24-layer module, to save a few run-time ownership checks.
  pm.addPass(memref::createExpandReallocPass(
      memref::ExpandReallocPassOptions{/*emitDeallocs=*/false}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createConvertStridedCopiesToLoops());
}
