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
#include <string>
#include <vector>

struct hybrid_status_t {
  std::string message;
};

struct hybrid_tensor_t {
  hybrid_dtype dtype;
  std::vector<int64_t> shape;
  void *data = nullptr;
  /// What free() releases when the tensor owns its memory, else null.
  void *allocation = nullptr;
};

namespace hybrid::runtime {

/// A status carrying a printf-formatted message.
hybrid_status makeStatus(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

/// Elements of a shape, or -1 if a dimension is negative or the product
/// overflows.
int64_t numElements(const std::vector<int64_t> &shape);

/// "[2, 3, ?]"-style rendering for messages.
std::string shapeString(const int64_t *shape, size_t rank);

} // namespace hybrid::runtime

#endif // HYBRID_LIB_RUNTIME_INTERNAL_H
