//===- ExportEntryPoints.cpp - Mark runtime entry points ------------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDEXPORTENTRYPOINTS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {
struct HybridExportEntryPoints
    : hybrid::impl::HybridExportEntryPointsBase<HybridExportEntryPoints> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(&getContext()));
  }
};
} // namespace
