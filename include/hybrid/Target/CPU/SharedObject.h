//===- SharedObject.h - Compile a module into a loadable .so ----*- C++ -*-===//
//
// The library driver: runs hybrid-cpu-pipeline (or hybrid-gpu-pipeline,
// whose kernels are embedded as PTX), translates to LLVM IR, optimises and
// emits native code for the host with LLVM's target machine, and links a
// shared object with the system linker. The shared object
// carries its own metadata (entry points, dtypes, shapes, error messages),
// so the runtime loads it without MLIR or LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_TARGET_CPU_SHAREDOBJECT_H
#define HYBRID_TARGET_CPU_SHAREDOBJECT_H

#include "hybrid/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir::hybrid {

/// Where a module's kernels run.
enum class CompileTarget {
  /// The host CPU (hybrid-cpu-pipeline).
  CPU,
  /// An NVIDIA GPU (hybrid-gpu-pipeline): the host code calls the GPU
  /// runtime (libhybrid_runtime_cuda, which the module links), the kernels
  /// are PTX that the driver JIT-compiles when the module loads.
  NVPTX,
};

struct CompileOptions {
  CompileTarget target = CompileTarget::CPU;
  /// With the NVPTX target: the architecture the PTX targets.
  GPUChip gpuChip = GPUChip::SM80;
  /// Run parallel loops on all cores (OpenMP).
  bool parallel = true;
  /// f32 lanes of the kernels' vector ops; 0 picks the host's widest
  /// (16 with AVX-512, else 8).
  int64_t vectorWidth = 0;
  /// LLVM optimisation level (0-3).
  unsigned optLevel = 3;
  /// AddressSanitizer's checks on every load and store of the module (CPU
  /// target): an out-of-bounds access of a kernel is reported where it
  /// happens. Such a module loads only into a process that has the ASan
  /// runtime (a fuzz target, a tool of the sanitized build).
  bool instrumentAddresses = false;
  /// Threads for LLVM optimisation and code generation, each on a partition
  /// of the module's functions (0: one per core, as many as the module's
  /// size repays; a small module takes one).
  unsigned compileThreads = 0;
  /// Hybrid-level passes of hybrid-cpu-pipeline (see Pipelines.h).
  SparseMode sparse = SparseMode::None;
  LayoutMode gqaLayout = LayoutMode::Auto;
  int64_t contextLength = 4096;
  int64_t treeSize = 0;
  /// When set, one line per phase (MLIR passes, translation, LLVM
  /// optimisation, code generation, link) with its wall time, as it ends.
  llvm::raw_ostream *phaseLog = nullptr;
};

/// Symbol of the NUL-terminated JSON metadata inside a compiled module.
inline constexpr llvm::StringLiteral kMetadataSymbol = "hybrid_module_metadata";
/// Prefix of the packed entry wrappers: `void _hybrid_entry_<name>(void **)`.
inline constexpr llvm::StringLiteral kEntryPrefix = "_hybrid_entry_";

/// Compiles `module` (consumed: it is lowered in place) into the shared
/// object `outputPath`. Problems are reported as diagnostics on the module.
LogicalResult compileToSharedObject(ModuleOp module, StringRef outputPath,
                                    const CompileOptions &options);

} // namespace mlir::hybrid

#endif // HYBRID_TARGET_CPU_SHAREDOBJECT_H
