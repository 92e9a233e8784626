//===- ONNXImporter.h - ONNX models into the hybrid dialect -----*- C++ -*-===//
//
// Reads an ONNX ModelProto (parsed with Debian's libonnx protobuf
// definitions; ONNX's own schemas, checker and shape inference stop at
// opset 17 and are not used) and builds one `func.func` named after the
// graph: graph inputs are its arguments (symbolic dims become dynamic),
// graph outputs its results. Each node goes through the importer's own op
// table, keyed by (domain, op type) and the opset the model imports for
// that domain; a node outside the table is an error that names the node,
// the op, its domain and version, and the versions supported.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_IMPORT_ONNX_ONNXIMPORTER_H
#define HYBRID_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::hybrid {

/// Choices the importer leaves to its user.
struct ONNXImportOptions {
  /// Symbolic dims (`dim_param`) given a fixed size, by name; the others
  /// stay dynamic.
  llvm::StringMap<int64_t> fixedDims;
  /// Run the import pipeline after the graph: hybrid-raise-attention, which
  /// turns the opset-17 spellings of attention, RMSNorm and rotary
  /// embeddings into hybrid ops. Off, the module is the graph node for node.
  bool raise = true;
};

/// Imports the ONNX model at `path`. Problems are reported as diagnostics
/// (with the file as location) and yield a null module.
OwningOpRef<ModuleOp> importONNXFile(StringRef path, MLIRContext *context,
                                     const ONNXImportOptions &options = {});

/// Imports a serialized ModelProto held in memory; `name` labels
/// diagnostics.
OwningOpRef<ModuleOp> importONNXModel(StringRef bytes, StringRef name,
                                      MLIRContext *context,
                                      const ONNXImportOptions &options = {});

/// Registers the dialects the importer produces.
void registerONNXImportDialects(DialectRegistry &registry);

} // namespace mlir::hybrid

#endif // HYBRID_IMPORT_ONNX_ONNXIMPORTER_H
