//===- ExportEntryPoints.cpp - Mark runtime entry points ------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
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
      // Importers' notes on arguments (an ONNX input's name, a parameter's
      // source) do not travel into the compiled code. A parameter is mapped
      // read-only: bufferization must never write into it.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        if (func.getArgAttr(i, hybrid::ParameterAttr::getArgAttrName()))
          func.setArgAttr(i, "bufferization.writable",
                          BoolAttr::get(&getContext(), false));
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
