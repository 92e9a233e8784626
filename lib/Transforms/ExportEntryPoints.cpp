//===- ExportEntryPoints.cpp - Mark runtime entry points ------------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDEXPORTENTRYPOINTS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {
struct HybridExportEntryPoints
    : hybrid::impl::HybridExportEntryPointsBase<HybridExportEntryPoints> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
      // Importers' notes on arguments (an ONNX input's name) do not travel
      // into the compiled code.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        SmallVector<StringAttr> notes;
        for (NamedAttribute attr : mlir::function_interface_impl::getArgAttrs(
                 func, i))
          if (attr.getName().strref().starts_with("hybrid."))
            notes.push_back(attr.getName());
        for (StringAttr name : notes)
          func.removeArgAttr(i, name);
      }
    }
  }
};
} // namespace
