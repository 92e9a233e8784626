//===- CompiledModel.h - Compiled checkpoints, cached -----------*- C++ -*-===//
//
// Importing and compiling a checkpoint takes seconds; its weights are bound
// at load time, so the shared object depends only on the module's IR (the
// config and the tensors' names, dtypes and byte ranges) and on the
// compiler. Both are hashed into the cache key: a checkpoint compiled once
// loads from the cache afterwards, and a rebuilt compiler recompiles.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_GENERATE_COMPILEDMODEL_H
#define HYBRID_LIB_GENERATE_COMPILEDMODEL_H

#include "hybrid/Generate/Engine.h"
#include "hybrid/Runtime/Runtime.hpp"

#include <functional>
#include <string>

namespace hybrid::generate {

struct CompiledModel {
  std::string sharedObject;
  /// Whether it was compiled now (false: found in the cache).
  bool compiled = false;
  double compileSeconds = 0.0;
};

/// The shared object of the checkpoint in `folder` (sparse layers dense
/// unless `sparseAttention`; logits of `headTokens` alone unless empty) for
/// `device`, from `cacheDir` ("" picks the default) or compiled into it.
/// Import and compile errors carry their diagnostics.
Status compiledCheckpoint(const std::string &folder, bool sparseAttention,
                          const std::vector<int64_t> &headTokens,
                          Device device,
                          const std::string &cacheDir,
                          const std::function<void(const std::string &)> &log,
                          CompiledModel &out);

} // namespace hybrid::generate

#endif // HYBRID_LIB_GENERATE_COMPILEDMODEL_H
