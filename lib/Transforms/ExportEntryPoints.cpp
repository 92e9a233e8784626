//===- ExportEntryPoints.cpp - Mark runtime entry points ------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"

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
      // Importers' notes on arguments (an input's name, a parameter's
      // source) do not travel into the compiled code. Bufferization writes
      // only into arguments the entry point updates in place
      // (`hybrid.inout`, written by hybrid.write_back): parameters are
      // mapped read-only, and callers keep their inputs.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        if (isa<TensorType>(func.getArgumentTypes()[i]))
          func.setArgAttr(i, "bufferization.writable",
                          BoolAttr::get(&getContext(),
                                        bool(func.getArgAttr(i, "hybrid.inout"))));
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
