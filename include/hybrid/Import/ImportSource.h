//===- ImportSource.h - A module from any source the tools take -*- C++ -*-===//
//
// hybrid-run and the Python module take the same sources: a Hugging Face
// checkpoint folder, an ONNX model, or MLIR (a file, or text in memory).
// One function tells them apart and imports or parses each.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_IMPORT_IMPORTSOURCE_H
#define HYBRID_IMPORT_IMPORTSOURCE_H

#include "hybrid/Import/HF/HFImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/Support/SourceMgr.h"

#include <memory>

namespace mlir::hybrid {

/// The module `path` holds: a checkpoint folder (imported with `hf`), an
/// `.onnx` file (imported), or an MLIR file (parsed; its buffer goes into
/// `sourceMgr`, so that a SourceMgrDiagnosticHandler on it shows the
/// lines). Registers the dialects each needs in `context`. Problems are
/// diagnostics, and a null module.
OwningOpRef<ModuleOp> importSource(StringRef path, MLIRContext *context,
                                   llvm::SourceMgr &sourceMgr,
                                   const HFImportOptions &hf = {});

/// MLIR text held in memory (`name` labels diagnostics).
OwningOpRef<ModuleOp> parseSourceText(StringRef text, StringRef name,
                                      MLIRContext *context,
                                      llvm::SourceMgr &sourceMgr);

/// Whether `source` is a path for importSource rather than MLIR text
/// (which always has braces).
bool isSourcePath(StringRef source);

} // namespace mlir::hybrid

#endif // HYBRID_IMPORT_IMPORTSOURCE_H
