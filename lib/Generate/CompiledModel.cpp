//===- CompiledModel.cpp - Compiled checkpoints, cached -------------------===//

#include "CompiledModel.h"

#include "hybrid/Import/HF/HFImporter.h"
#include "hybrid/InitAll.h"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>

using namespace hybrid;
using namespace hybrid::generate;

/// The compiler's identity: name, size and modification time of every
/// Hybrid library beside the one that compiles (a rebuilt pass changes
/// the code a module compiles to).
static std::string compilerIdentity() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&mlir::hybrid::compileToSharedObject),
              &info) ||
      !info.dli_fname)
    return "unknown";
  llvm::StringRef dir = llvm::sys::path::parent_path(info.dli_fname);
  std::string identity;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    // The compiler's libraries, not the engine's own.
    if (!name.starts_with("libHybrid") || name.starts_with("libHybridGenerate"))
      continue;
    llvm::sys::fs::file_status status;
    if (llvm::sys::fs::status(it->path(), status))
      continue;
    identity += name.str() + ":" + std::to_string(status.getSize()) + ":" +
                std::to_string(status.getLastModificationTime()
                                   .time_since_epoch()
                                   .count()) +
                ";";
  }
  return identity;
}

static std::string defaultCacheDir() {
  if (const char *dir = std::getenv("HYBRID_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *dir = std::getenv("XDG_CACHE_HOME"); dir && *dir)
    return std::string(dir) + "/hybrid";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/hybrid";
  return "/tmp/hybrid-cache";
}

Status hybrid::generate::compiledCheckpoint(
    const std::string &folder, bool sparseAttention,
    const std::vector<int64_t> &headTokens, Device device,
    const std::string &cacheDir,
    const std::function<void(const std::string &)> &log, CompiledModel &out) {
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::hybrid::registerHFImportDialects(registry);
  mlir::MLIRContext context(registry);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += (diagnostics.empty() ? "" : "\n") + d.str();
    return mlir::success();
  });
  mlir::hybrid::HFImportOptions importOptions;
  importOptions.sparseAttention = sparseAttention;
  importOptions.headRows.assign(headTokens.begin(), headTokens.end());
  // What the engine calls (not `forward`): fewer kernels to compile.
  importOptions.entries = {"prefill", "decode", "verify", "verify_chain",
                           "commit"};
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::hybrid::importHFFolder(folder, &context, importOptions);
  if (!module)
    return Status::error("cannot import '" + folder + "': " + diagnostics);

  std::string ir;
  llvm::raw_string_ostream os(ir);
  module->print(os);
  std::string key = llvm::utohexstr(
      llvm::xxh3_64bits(ir + "\n" + compilerIdentity() +
                        (device == Device::GPU ? "\nnvptx" : "")),
      /*LowerCase=*/true);
  std::string dir = cacheDir.empty() ? defaultCacheDir() : cacheDir;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return Status::error("cannot create the compiled-model cache '" + dir +
                         "': " + ec.message());
  out.sharedObject = dir + "/" + key + ".so";
  out.compiled = false;
  if (llvm::sys::fs::exists(out.sharedObject))
    return Status();

  if (log)
    log("compiling " + folder + " (once; cached in " + dir + ")");
  auto start = std::chrono::steady_clock::now();
  // Compiled beside its final name, then renamed: a concurrent or
  // interrupted compile never leaves a partial file under the key.
  llvm::SmallString<256> partial;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          dir + "/" + key + "-%%%%%%.so.partial", fd, partial))
    return Status::error("cannot write into '" + dir + "': " + ec.message());
  ::close(fd);
  mlir::hybrid::CompileOptions options;
  if (device == Device::GPU)
    options.target = mlir::hybrid::CompileTarget::NVPTX;
  if (failed(mlir::hybrid::compileToSharedObject(*module, partial, options))) {
    llvm::sys::fs::remove(partial);
    return Status::error("cannot compile '" + folder + "': " + diagnostics);
  }
  if (std::error_code ec = llvm::sys::fs::rename(partial, out.sharedObject)) {
    llvm::sys::fs::remove(partial);
    return Status::error("cannot store the compiled model in '" + dir +
                         "': " + ec.message());
  }
  out.compiled = true;
  out.compileSeconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  return Status();
}
