//===- ImportSource.cpp - A module from any source the tools take ---------===//

#include "hybrid/Import/ImportSource.h"

#include "hybrid/Import/ONNX/ONNXImporter.h"
#include "hybrid/InitAll.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::hybrid;

OwningOpRef<ModuleOp>
mlir::hybrid::importSource(StringRef path, MLIRContext *context,
                           llvm::SourceMgr &sourceMgr,
                           const HFImportOptions &hf) {
  DialectRegistry registry;
  hybrid::registerAllDialects(registry);
  if (llvm::sys::fs::is_directory(path)) {
    registerHFImportDialects(registry);
    context->appendDialectRegistry(registry);
    return importHFFolder(path, context, hf);
  }
  if (path.ends_with(".onnx")) {
    registerONNXImportDialects(registry);
    context->appendDialectRegistry(registry);
    return importONNXFile(path, context);
  }
  context->appendDialectRegistry(registry);
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = openInputFile(path, &error);
  if (!file) {
    emitError(FileLineColLoc::get(context, path, 0, 0)) << error;
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(context));
}

OwningOpRef<ModuleOp> mlir::hybrid::parseSourceText(StringRef text,
                                                    StringRef name,
                                                    MLIRContext *context,
                                                    llvm::SourceMgr &sourceMgr) {
  DialectRegistry registry;
  hybrid::registerAllDialects(registry);
  context->appendDialectRegistry(registry);
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name),
                               llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(context));
}

bool mlir::hybrid::isSourcePath(StringRef path) {
  // MLIR text always has a body in braces; a path has neither braces nor
  // line breaks.
  return !path.empty() && !path.contains('\n') && !path.contains('{');
}
