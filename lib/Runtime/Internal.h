//===- Internal.h - Runtime object layouts ----------------------*- C++ -*-===//
//
// The structs behind the C API's opaque handles, shared by the runtime's
// source files. No MLIR or LLVM here: the runtime stands alone.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_RUNTIME_INTERNAL_H
#define HYBRID_LIB_RUNTIME_INTERNAL_H

#include "hybrid/Runtime/hybrid_runtime.h"

#include <cstdarg>
#include <cstdio>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

struct hybrid_status_t {
  std::string message;
};

namespace hybrid::runtime {
struct DeviceMirror;
} // namespace hybrid::runtime

struct hybrid_tensor_t {
  hybrid_dtype dtype;
  std::vector<int64_t> shape;
  void *data = nullptr;
  /// What free() releases when the tensor owns its memory, else null.
  void *allocation = nullptr;
  /// Its copy in a GPU module's device memory, when a call of that module
  /// updates it in place (a KV cache), or null (DeviceMirror.cpp).
  hybrid::runtime::DeviceMirror *mirror = nullptr;
};

namespace hybrid::runtime {

/// A tensor's copy in a GPU module's device memory, kept between the
/// module's calls that update it in place. At most one side is stale: the
/// host after a call wrote the device copy, the device after the caller
/// was handed the host bytes (it may write them).
struct DeviceMirror {
  hybrid_module_t *module = nullptr;
  void *device = nullptr;
  size_t bytes = 0;
  bool hostStale = false;
  bool deviceStale = false;
};

/// The tensor's host bytes made current (copied back from its device
/// mirror if a call wrote it); an error if the copy fails.
hybrid_status syncToHost(const hybrid_tensor_t *t);
/// The device copy of `t` that module `m`'s call updates in place: made or
/// refreshed from the host bytes when needed (a mirror on another module is
/// synced and dropped first).
hybrid_status deviceCopyFor(hybrid_module_t &m, hybrid_tensor_t *t,
                            void **device);
/// Releases the tensor's mirror (its host bytes are not synced).
void dropMirror(hybrid_tensor_t *t);
/// At a module's end: every tensor it mirrors synced and released.
void releaseMirrors(hybrid_module_t &m);

/// One argument or result of an entry point, as the metadata declares it.
struct ValueInfo {
  hybrid_value_kind kind;
  hybrid_dtype dtype;
  std::vector<int64_t> shape;
  /// The importer's name for an argument (an ONNX input), or empty.
  std::string name;
  /// For an argument the runtime binds: its index in the module's
  /// parameters; -1 for one the caller passes.
  int parameter = -1;
  /// An argument the call updates in place (a KV cache).
  bool inout = false;
};

struct Entry {
  std::string name;
  void (*function)(void **) = nullptr;
  /// Every argument of the compiled function, parameters included.
  std::vector<ValueInfo> args;
  /// The positions in `args` of those the caller passes, in order.
  std::vector<size_t> callerArgs;
  std::vector<ValueInfo> results;
};

/// How the entry points take a parameter's file tensor: as it is, or laid
/// out once when it is bound. `rows` applies first; panels and a
/// permutation exclude each other and rows (the verifier's rule).
struct ParameterLayout {
  /// 0: no panels. Else the entry points take the file's [K, N] in column
  /// panels of this width, [ceil(N / panels), K, panels], the last
  /// zero-padded (hybrid-prepack-weights).
  int64_t panels = 0;
  /// Empty: no transpose. Else the entry points take the file's tensor
  /// transposed, their dim i being the file's dim permutation[i]
  /// (hybrid-hoist-weight-transposes).
  std::vector<int64_t> permutation;
  /// Empty: every row. Else the entry points take these rows of the file's
  /// tensor, in this order (FR-Spec's frequent-token head of a draft).
  std::vector<int64_t> rows;

  bool asStored() const {
    return !panels && permutation.empty() && rows.empty();
  }
  bool operator==(const ParameterLayout &o) const {
    return panels == o.panels && permutation == o.permutation &&
           rows == o.rows;
  }
};

/// A weight the module reads from its model's files.
struct Parameter {
  std::string key;
  /// Relative to the model's folder.
  std::string file;
  uint64_t offset = 0, length = 0;
  hybrid_dtype dtype;
  /// As the file holds it (and as hybrid_module_bind_parameter takes it).
  std::vector<int64_t> shape;
  /// Laid out at binding: the panels, the transpose or the rows.
  ParameterLayout layout;
  /// What the entry points take: `shape`, or its layout's.
  std::vector<int64_t> boundShape;
  /// The bound bytes (read-only), or null while unbound.
  const void *data = nullptr;
  /// Owned bytes: the laid-out tensor, or a copy of mapped
  /// bytes that are misaligned for the dtype.
  void *copy = nullptr;
  /// A GPU module's copy in device memory, made on first use from
  /// `deviceSource` (the bound bytes then; a parameter bound again is
  /// copied again), or null.
  void *device = nullptr;
  const void *deviceSource = nullptr;
};

/// A read-only memory mapping of one parameter file.
struct Mapping {
  void *address = nullptr;
  size_t size = 0;
};

} // namespace hybrid::runtime

struct hybrid_module_t {
  void *handle = nullptr;
  std::string path;
  std::vector<hybrid::runtime::Entry> entries;
  std::vector<hybrid::runtime::Parameter> parameters;
  std::vector<hybrid::runtime::Mapping> mappings;
  std::vector<std::string> errors;
  /// __hybrid_error_code: set where a raise had no call's error cell.
  int32_t *errorCode = nullptr;
  /// __hybrid_set_error_cell: points the calling thread's error cell at a
  /// call's own code (null for a module that never raises).
  void (*setErrorCell)(int32_t *) = nullptr;
  /// __hybrid_moe_activity (i64[3]), or null without a chunk_moe.
  int64_t *moeActivity = nullptr;
  /// omp_set_num_threads of the module's OpenMP runtime; it sets the
  /// calling thread's count, so every call applies `numThreads` (0: the
  /// runtime's default).
  void (*setNumThreads)(int) = nullptr;
  std::atomic<int> numThreads{0};
  /// hybrid_cuda_take_error of a GPU module's runtime, or null.
  size_t (*takeGPUError)(char *, size_t) = nullptr;
  /// A GPU module's parameters live in device memory: copied there on
  /// first use and released with the module (hybrid_cuda_upload/release).
  void *(*gpuUpload)(const void *, size_t) = nullptr;
  void (*gpuRelease)(void *) = nullptr;
  /// hybrid_cuda_download: device bytes to the host (1 on success).
  int (*gpuDownload)(void *, const void *, size_t) = nullptr;
  /// hybrid_cuda_call_finished: after each call, so that the device memory
  /// the call freed is reused.
  void (*gpuCallFinished)() = nullptr;
  /// The tensors whose device mirrors this module holds.
  std::vector<hybrid_tensor_t *> mirrored;
  /// Calls share it (they run concurrently: each has its own error cell);
  /// binding parameters takes it alone. A GPU module's calls take it alone
  /// too (its parameters are copied to the device on first use, and its
  /// error is the GPU runtime's).
  std::shared_mutex mutex;

  const hybrid::runtime::Entry *find(const char *name) const {
    for (const hybrid::runtime::Entry &e : entries)
      if (name && e.name == name)
        return &e;
    return nullptr;
  }
  ~hybrid_module_t();
};

namespace hybrid::runtime {

/// A status carrying a printf-formatted message.
hybrid_status makeStatus(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/// Elements of a shape, or -1 if a dimension is negative or the product
/// overflows.
int64_t numElements(const std::vector<int64_t> &shape);

/// Bytes of a `dtype` tensor of `shape`, or -1 when a dimension is negative
/// or the size does not fit a pointer difference (2^62 f32 elements are
/// 2^64 bytes: the size must be refused, not wrapped).
int64_t byteSize(const std::vector<int64_t> &shape, hybrid_dtype dtype);

/// Adds a parameter argument's description to the module's parameters
/// (one per key; every use must agree on dtype, shape and source).
hybrid_status registerParameter(hybrid_module_t &m, const std::string &entry,
                                ValueInfo &arg, const std::string &key,
                                const std::string &file, uint64_t offset,
                                uint64_t length,
                                const ParameterLayout &layout);

/// Reads the module metadata `text` (JSON) into `m`'s entries, parameters
/// and error messages, resolving entry symbols in `m.handle`.
hybrid_status parseMetadata(hybrid_module_t &m, const char *text);

/// The GPU runtime's recorded failure, cleared ("" for a CPU module).
std::string takeGPUError(hybrid_module_t &m);

/// Unmaps the parameter files and frees the copies.
void releaseParameters(hybrid_module_t &m);

/// "[2, 3, ?]"-style rendering for messages.
std::string shapeString(const int64_t *shape, size_t rank);

} // namespace hybrid::runtime

#endif // HYBRID_LIB_RUNTIME_INTERNAL_H
