//===- HFImporter.h - Hugging Face checkpoints into the hybrid dialect -*- C++ -*-===//
//
// Reads a Hugging Face checkpoint folder (config.json, model.safetensors or
// shards named by model.safetensors.index.json) and builds a module whose
// weights are parameters bound from the safetensors files at load time
// (memory-mapped by the runtime, never copied into the IR or the .so).
// Architectures: LlamaForCausalLM, Qwen3ForCausalLM, MiniCPMForCausalLM
// (dense, MiniCPM4 sparse, BlockFFN) and MiniCPMSALAForCausalLM (see
// docs/HFImport.md). A config value or checkpoint the importer does not
// take is a diagnostic naming the field, the tensor or the file.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_IMPORT_HF_HFIMPORTER_H
#define HYBRID_IMPORT_HF_HFIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"

namespace mlir::hybrid {

struct HFImportOptions {
  /// InfLLM-V2 layers as the checkpoint's sparse_config asks; when false
  /// they attend densely (`hybrid-generate --sparse none`).
  bool sparseAttention = true;
  /// The entry points to build (forward, prefill, decode, verify,
  /// verify_chain, commit); empty builds all. Each costs compile time: a
  /// caller that runs `forward` alone compiles a fraction of the module.
  SmallVector<std::string> entries;
  /// Empty: the logits cover the whole vocabulary. Else the LM head computes
  /// only these vocabulary ids' logits, in this order (FR-Spec: a draft
  /// model's head over its most frequent tokens, a fraction of the cost);
  /// the weight's rows are gathered once, when it is bound.
  SmallVector<int64_t> headRows;
};

/// The entry points an imported checkpoint can have, in module order.
ArrayRef<StringRef> hfEntryPoints();

/// Imports the checkpoint in `folder`. The module's entry point
/// `forward(input_ids: [B, T] i64) -> logits [B, T, vocab] f32` runs one
/// pass over the sequence from empty caches; prefill, decode and verify
/// step through caches (docs/HFImport.md). Problems are reported as
/// diagnostics and yield a null module.
OwningOpRef<ModuleOp> importHFFolder(StringRef folder, MLIRContext *context,
                                     const HFImportOptions &options = {});

/// Whether `path` is a folder holding a config.json.
bool isHFFolder(StringRef path);

/// Registers the dialects the importer produces.
void registerHFImportDialects(DialectRegistry &registry);

} // namespace mlir::hybrid

#endif // HYBRID_IMPORT_HF_HFIMPORTER_H
