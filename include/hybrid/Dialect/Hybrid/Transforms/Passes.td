//===- Passes.td - Hybrid-level transformation passes ------*- tablegen -*-===//

#ifndef HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD
#define HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def HybridExportEntryPoints : Pass<"hybrid-export-entry-points", "ModuleOp"> {
  let summary = "Mark public functions as runtime entry points";
  let description = [{
    Every public `func.func` with a body becomes an entry point of the
    compiled module: it gets `llvm.emit_c_interface`, so the runtime can call
    it through the stable C ABI (`_mlir_ciface_<name>`, memref descriptors by
    pointer), whatever its signature.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD
