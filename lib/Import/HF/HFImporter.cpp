//===- HFImporter.cpp - Hugging Face checkpoints into the hybrid dialect --===//

#include "hybrid/Import/HF/HFImporter.h"

#include "DecoderBuilder.h"
#include "ModelConfig.h"
#include "SafeTensors.h"

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::hybrid;

bool mlir::hybrid::isHFFolder(StringRef path) {
  SmallString<256> config(path);
  llvm::sys::path::append(config, "config.json");
  return llvm::sys::fs::is_directory(path) && llvm::sys::fs::exists(config);
}

OwningOpRef<ModuleOp>
mlir::hybrid::importHFFolder(StringRef folder, MLIRContext *context,
                             const HFImportOptions &options) {
  context->loadDialect<HybridDialect, func::FuncDialect, arith::ArithDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       scf::SCFDialect, tensor::TensorDialect>();
  Location loc = FileLineColLoc::get(context, folder, 0, 0);
  if (!llvm::sys::fs::is_directory(folder)) {
    emitError(loc) << "'" << folder
                   << "' is not a folder (a Hugging Face checkpoint is a "
                      "folder with config.json and safetensors files)";
    return nullptr;
  }
  FailureOr<hf::DecoderConfig> config = hf::readConfig(folder, loc);
  if (failed(config))
    return nullptr;
  if (!options.sparseAttention)
    config->sparse.reset();
  if (!options.headRows.empty()) {
    llvm::SmallDenseSet<int64_t> seen;
    for (int64_t id : options.headRows) {
      if (id < 0 || id >= config->vocabSize) {
        emitError(loc) << "the LM head's token " << id
                       << " is outside the vocabulary of "
                       << config->vocabSize;
        return nullptr;
      }
      if (!seen.insert(id).second) {
        emitError(loc) << "the LM head's token " << id << " is listed twice";
        return nullptr;
      }
    }
    config->headRows.assign(options.headRows.begin(), options.headRows.end());
  }
  FailureOr<hf::Checkpoint> checkpoint = hf::readCheckpoint(folder, loc);
  if (failed(checkpoint))
    return nullptr;
  OpBuilder b(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b, loc);
  if (failed(hf::buildEntryPoints(*module, *config, *checkpoint, loc,
                                  options.entries)))
    return nullptr;
  return module;
}

ArrayRef<StringRef> mlir::hybrid::hfEntryPoints() {
  static constexpr StringRef entries[] = {"forward", "prefill",      "decode",
                                          "verify",  "verify_chain", "commit"};
  return entries;
}

void mlir::hybrid::registerHFImportDialects(DialectRegistry &registry) {
  registry.insert<HybridDialect, func::FuncDialect, arith::ArithDialect,
                  linalg::LinalgDialect, math::MathDialect, scf::SCFDialect,
                  tensor::TensorDialect>();
}
