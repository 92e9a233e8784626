//===- HFImporter.h - Hugging Face checkpoints into the hybrid dialect -*- C++ -*-===//
//
// Reads a Hugging Face checkpoint folder (config.json, model.safetensors or
// shards named by model.safetensors.index.json) and builds a module whose
// weights are parameters bound from the safetensors files at load time
// (memory-mapped by the runtime, never copied into the IR or the .so).
// Architectures: LlamaForCausalLM, Qwen3ForCausalLM, dense
// MiniCPMForCausalLM. A config value or checkpoint the importer does not
// take is a diagnostic naming the field, the tensor or the file.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_IMPORT_HF_HFIMPORTER_H
#define HYBRID_IMPORT_HF_HFIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

namespace mlir::hybrid {

/// Imports the checkpoint in `folder`. The module's entry point
/// `forward(input_ids: [B, T] i64) -> logits [B, T, vocab] f32` runs one
/// pass over the sequence from empty caches. Problems are reported as
/// diagnostics and yield a null module.
OwningOpRef<ModuleOp> importHFFolder(StringRef folder, MLIRContext *context);

/// Whether `path` is a folder holding a config.json.
bool isHFFolder(StringRef path);

/// Registers the dialects the importer produces.
void registerHFImportDialects(DialectRegistry &registry);

} // namespace mlir::hybrid

#endif // HYBRID_IMPORT_HF_HFIMPORTER_H
