//===- LinalgToGPU.cpp - hybrid-linalg-to-gpu -----------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDLINALGTOGPU
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

struct HybridLinalgToGPU
    : hybrid::impl::HybridLinalgToGPUBase<HybridLinalgToGPU> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    OpBuilder b(&getContext());
    SmallVector<linalg::LinalgOp> ops;
    bool failedAny = false;
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
        ops.push_back(linalgOp);
        return WalkResult::skip();
      }
      if (isa<linalg::LinalgDialect>(op->getDialect())) {
        op->emitError() << "'" << op->getName()
                        << "' has no GPU lowering yet";
        failedAny = true;
      }
      return WalkResult::advance();
    });
    if (failedAny)
      return signalPassFailure();
    for (linalg::LinalgOp op : ops) {
      if (succeeded(hybrid::gpu_stage::emitContraction(b, op)))
        continue;
      if (failed(hybrid::gpu_stage::emitPointwise(b, op)))
        return signalPassFailure();
    }
  }
};

} // namespace
