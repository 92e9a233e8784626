//===- Tensor.cpp - Statuses, dtypes and tensors of the runtime -----------===//

#include "Internal.h"

#include <cstdint>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

using namespace hybrid::runtime;

hybrid_status hybrid::runtime::makeStatus(const char *format, ...) {
  va_list args;
  va_start(args, format);
  char buffer[1024];
  vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return new hybrid_status_t{buffer};
}

int64_t hybrid::runtime::numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return -1;
    n *= d;
  }
  return n;
}

int64_t hybrid::runtime::byteSize(const std::vector<int64_t> &shape,
                                  hybrid_dtype dtype) {
  int64_t count = numElements(shape);
  int64_t element = static_cast<int64_t>(hybrid_dtype_size(dtype));
  if (count < 0 || element == 0 || count > PTRDIFF_MAX / element)
    return -1;
  return count * element;
}

std::string hybrid::runtime::shapeString(const int64_t *shape, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

extern "C" {

const char *hybrid_status_message(hybrid_status status) {
  return status ? status->message.c_str() : "success";
}

void hybrid_status_free(hybrid_status status) { delete status; }

const char *hybrid_dtype_name(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F32: return "f32";
  case HYBRID_DTYPE_F16: return "f16";
  case HYBRID_DTYPE_BF16: return "bf16";
  case HYBRID_DTYPE_F64: return "f64";
  case HYBRID_DTYPE_I64: return "i64";
  case HYBRID_DTYPE_I32: return "i32";
  case HYBRID_DTYPE_I8: return "i8";
  case HYBRID_DTYPE_BOOL: return "bool";
  }
  return "unknown";
}

size_t hybrid_dtype_size(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F64:
  case HYBRID_DTYPE_I64: return 8;
  case HYBRID_DTYPE_F32:
  case HYBRID_DTYPE_I32: return 4;
  case HYBRID_DTYPE_F16:
  case HYBRID_DTYPE_BF16: return 2;
  case HYBRID_DTYPE_I8:
  case HYBRID_DTYPE_BOOL: return 1;
  }
  return 0;
}

hybrid_status hybrid_dtype_from_name(const char *name, hybrid_dtype *out) {
  if (!name || !out)
    return makeStatus("hybrid_dtype_from_name: null argument");
  for (int d = HYBRID_DTYPE_F32; d <= HYBRID_DTYPE_BOOL; ++d) {
    if (std::strcmp(name, hybrid_dtype_name(static_cast<hybrid_dtype>(d))) ==
        0) {
      *out = static_cast<hybrid_dtype>(d);
      return nullptr;
    }
  }
  return makeStatus("unknown dtype '%s' (expected f32, f16, bf16, f64, i64, "
                    "i32, i8 or bool)",
                    name);
}

static hybrid_status checkShape(hybrid_dtype dtype, size_t rank,
                                const int64_t *shape, const char *what) {
  if (hybrid_dtype_size(dtype) == 0)
    return makeStatus("%s: invalid dtype %d", what, static_cast<int>(dtype));
  if (rank > 0 && !shape)
    return makeStatus("%s: null shape for a rank-%zu tensor", what, rank);
  std::vector<int64_t> dims(shape, shape + rank);
  if (numElements(dims) < 0)
    return makeStatus("%s: invalid shape %s", what,
                      shapeString(shape, rank).c_str());
  if (byteSize(dims, dtype) < 0)
    return makeStatus("%s: shape %s is too large for %s elements", what,
                      shapeString(shape, rank).c_str(),
                      hybrid_dtype_name(dtype));
  return nullptr;
}

hybrid_status hybrid_tensor_create(hybrid_dtype dtype, size_t rank,
                                   const int64_t *shape, hybrid_tensor **out) {
  if (!out)
    return makeStatus("hybrid_tensor_create: null output");
  if (hybrid_status s = checkShape(dtype, rank, shape, "hybrid_tensor_create"))
    return s;
  auto *t = new hybrid_tensor_t{dtype, {shape, shape + rank}};
  size_t bytes = hybrid_tensor_byte_size(t);
  // At least one byte, so that empty tensors still have an address.
  t->allocation = std::calloc(bytes ? bytes : 1, 1);
  if (!t->allocation) {
    delete t;
    return makeStatus("hybrid_tensor_create: out of memory (%zu bytes)",
                      bytes);
  }
  t->data = t->allocation;
  *out = t;
  return nullptr;
}

hybrid_status hybrid_tensor_wrap(hybrid_dtype dtype, size_t rank,
                                 const int64_t *shape, void *data,
                                 hybrid_tensor **out) {
  if (!out)
    return makeStatus("hybrid_tensor_wrap: null output");
  if (hybrid_status s = checkShape(dtype, rank, shape, "hybrid_tensor_wrap"))
    return s;
  auto *t = new hybrid_tensor_t{dtype, {shape, shape + rank}};
  if (!data && hybrid_tensor_byte_size(t) != 0) {
    delete t;
    return makeStatus("hybrid_tensor_wrap: null data for a non-empty tensor");
  }
  t->data = data;
  *out = t;
  return nullptr;
}

void hybrid_tensor_free(hybrid_tensor *tensor) {
  if (!tensor)
    return;
  // Memory the caller owns outlives the tensor (a numpy array wrapped for
  // one call): it gets the bytes a GPU call left in the device copy.
  if (!tensor->allocation)
    if (hybrid_status s = syncToHost(tensor)) {
      std::fprintf(stderr, "hybrid: hybrid_tensor_free: %s\n",
                   hybrid_status_message(s));
      hybrid_status_free(s);
    }
  dropMirror(tensor);
  std::free(tensor->allocation);
  delete tensor;
}

hybrid_dtype hybrid_tensor_dtype(const hybrid_tensor *t) { return t->dtype; }
size_t hybrid_tensor_rank(const hybrid_tensor *t) { return t->shape.size(); }
const int64_t *hybrid_tensor_shape(const hybrid_tensor *t) {
  return t->shape.data();
}
size_t hybrid_tensor_num_elements(const hybrid_tensor *t) {
  return static_cast<size_t>(numElements(t->shape));
}
size_t hybrid_tensor_byte_size(const hybrid_tensor *t) {
  return hybrid_tensor_num_elements(t) * hybrid_dtype_size(t->dtype);
}
void *hybrid_tensor_data(hybrid_tensor *t) {
  // Current bytes, which the caller may then write: a device mirror (a KV
  // cache a GPU call updated) is copied back, and copied again to the
  // device before the next call. A failed copy back (a faulted GPU) is
  // reported and retried at the next access; the module's next call fails.
  if (hybrid_status s = syncToHost(t)) {
    std::fprintf(stderr, "hybrid: hybrid_tensor_data: %s\n",
                 hybrid_status_message(s));
    hybrid_status_free(s);
    return t->data;
  }
  if (t->mirror)
    t->mirror->deviceStale = true;
  return t->data;
}

} // extern "C"
