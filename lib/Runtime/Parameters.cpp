//===- Parameters.cpp - Weights bound at load time ------------------------===//
//
// A module's parameters are the weights its entry points read but callers
// do not pass. The metadata names each by key, with the byte range of a
// file relative to the model's folder; binding maps those files read-only
// (one mapping per file, shared by its parameters) so that gigabytes of
// weights cost page cache, not copies. A file must stay inside the folder:
// absolute paths, `..` and links that lead out are refused.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>

using namespace hybrid::runtime;

/// Where an empty parameter points: bound, but nothing to read.
alignas(64) static const char kEmpty[64] = {};

/// The file's shape of a parameter the entry points take as `bound`
/// through `layout`, or an empty vector when the bytes do not fit it:
/// `bound` itself; for column panels [P, K, panels] the [K, N] with
/// ceil(N / panels) = P; for a permutation the shape whose dim
/// permutation[i] is bound[i]; for rows [R, ...] the [V, ...] that
/// `length` holds, every row below V.
static std::vector<int64_t> fileShape(const std::vector<int64_t> &bound,
                                      size_t elementSize, uint64_t length,
                                      const ParameterLayout &layout) {
  int64_t panels = layout.panels;
  const std::vector<int64_t> &permutation = layout.permutation;
  const std::vector<int64_t> &rows = layout.rows;
  if (!rows.empty()) {
    if (panels || !permutation.empty() || bound.empty() ||
        bound[0] != static_cast<int64_t>(rows.size()))
      return {};
    std::vector<int64_t> row(bound.begin() + 1, bound.end());
    int64_t rowElements = numElements(row);
    if (rowElements <= 0)
      return {};
    uint64_t rowBytes = static_cast<uint64_t>(rowElements) * elementSize;
    if (length % rowBytes != 0)
      return {};
    int64_t fileRows = static_cast<int64_t>(length / rowBytes);
    for (int64_t r : rows)
      if (r < 0 || r >= fileRows)
        return {};
    row.insert(row.begin(), fileRows);
    return row;
  }
  if (!panels) {
    int64_t count = numElements(bound);
    if (count < 0 || static_cast<uint64_t>(count) * elementSize != length)
      return {};
    if (permutation.empty())
      return bound;
    if (permutation.size() != bound.size())
      return {};
    std::vector<int64_t> shape(bound.size(), -1);
    for (size_t i = 0; i < bound.size(); ++i) {
      int64_t d = permutation[i];
      if (d < 0 || d >= static_cast<int64_t>(bound.size()) || shape[d] != -1)
        return {};
      shape[d] = bound[i];
    }
    return shape;
  }
  if (!permutation.empty())
    return {};
  if (bound.size() != 3 || bound[2] != panels || bound[1] <= 0 ||
      numElements(bound) < 0)
    return {};
  uint64_t rowBytes = static_cast<uint64_t>(bound[1]) * elementSize;
  if (length % rowBytes != 0)
    return {};
  int64_t cols = static_cast<int64_t>(length / rowBytes);
  if ((cols + panels - 1) / panels != bound[0])
    return {};
  return {bound[1], cols};
}

/// The row-major [K, N] at `src` as column panels at `dst`:
/// dst[(j K + p) panels + l] = src[p N + j panels + l], zero past N.
static void packPanels(const char *src, char *dst, int64_t rows, int64_t cols,
                       int64_t panels, size_t elementSize) {
  size_t panelRow = panels * elementSize;
  for (int64_t j = 0; j * panels < cols; ++j) {
    size_t width = std::min(panels, cols - j * panels) * elementSize;
    for (int64_t p = 0; p < rows; ++p) {
      char *to = dst + (j * rows + p) * panelRow;
      std::memcpy(to, src + (p * cols + j * panels) * elementSize, width);
      std::memset(to + width, 0, panelRow - width);
    }
  }
}

/// The row-major `shape` at `src` transposed into `dst`: dst's dim i is
/// src's dim permutation[i]. Rows of the last dim are copied whole when it
/// stays last.
static void transposeInto(const char *src, char *dst,
                          const std::vector<int64_t> &shape,
                          const std::vector<int64_t> &permutation,
                          size_t elementSize) {
  size_t rank = shape.size();
  std::vector<int64_t> srcStrides(rank, 1);
  for (size_t d = rank; d-- > 1;)
    srcStrides[d - 1] = srcStrides[d] * shape[d];
  std::vector<int64_t> dstShape(rank), strides(rank);
  for (size_t i = 0; i < rank; ++i) {
    dstShape[i] = shape[permutation[i]];
    strides[i] = srcStrides[permutation[i]];
  }
  // The innermost run copied at once: a contiguous row when the last dim
  // stays last, else one element.
  bool rows = rank > 0 && permutation[rank - 1] == static_cast<int64_t>(rank) - 1;
  size_t outer = rows ? rank - 1 : rank;
  size_t run = (rows ? dstShape[rank - 1] : 1) * elementSize;
  if (numElements(dstShape) == 0)
    return;
  std::vector<int64_t> at(outer, 0);
  for (char *to = dst;; to += run) {
    int64_t from = 0;
    for (size_t i = 0; i < outer; ++i)
      from += at[i] * strides[i];
    std::memcpy(to, src + from * elementSize, run);
    size_t i = outer;
    while (i > 0 && ++at[i - 1] == dstShape[i - 1])
      at[--i] = 0;
    if (i == 0)
      return;
  }
}

/// Memory `p` owns for `size` bytes: on 2 MB pages where the kernel allows
/// it (transparent huge pages on madvise) when large, since the products
/// stream it and with 4 KB pages every 4 KB of a cold weight is a TLB miss.
static void *allocateLaidOut(size_t size) {
  constexpr size_t kHuge = size_t(2) << 20;
  size_t align = size >= kHuge ? kHuge : 64;
  size_t rounded = std::max(align, (size + align - 1) / align * align);
  void *memory = std::aligned_alloc(align, rounded);
  if (memory && align == kHuge)
    madvise(memory, rounded, MADV_HUGEPAGE); // advice: failure is harmless
  return memory;
}

/// Binds `p` to `bytes` (its file's layout): in place, or laid out
/// (packed into panels, transposed, or its rows gathered) or copied when
/// misaligned into memory `p` owns.
static hybrid_status bindBytes(Parameter &p, const char *bytes) {
  std::free(p.copy);
  p.copy = nullptr;
  size_t elementSize = hybrid_dtype_size(p.dtype);
  const ParameterLayout &layout = p.layout;
  if (!layout.asStored()) {
    p.copy = allocateLaidOut(numElements(p.boundShape) * elementSize);
    if (!p.copy)
      return makeStatus("out of memory laying out parameter '%s'",
                        p.key.c_str());
    char *to = static_cast<char *>(p.copy);
    if (!layout.rows.empty()) {
      size_t rowBytes = p.length / p.shape[0];
      for (int64_t r : layout.rows)
        to = static_cast<char *>(std::memcpy(to, bytes + r * rowBytes,
                                             rowBytes)) +
             rowBytes;
    } else if (!layout.permutation.empty()) {
      transposeInto(bytes, to, p.shape, layout.permutation, elementSize);
    } else {
      packPanels(bytes, to, p.shape[0], p.shape[1], layout.panels,
                 elementSize);
    }
    p.data = p.copy;
    return nullptr;
  }
  // The kernels load elements at their natural alignment; a payload that
  // protobuf placed at an odd offset is copied once.
  if (reinterpret_cast<uintptr_t>(bytes) % elementSize != 0) {
    p.copy = std::aligned_alloc(64, (p.length + 63) / 64 * 64);
    if (!p.copy)
      return makeStatus("out of memory copying parameter '%s'",
                        p.key.c_str());
    std::memcpy(p.copy, bytes, p.length);
    bytes = static_cast<const char *>(p.copy);
  }
  p.data = p.length ? bytes : kEmpty;
  return nullptr;
}

hybrid_status hybrid::runtime::registerParameter(
    hybrid_module_t &m, const std::string &entry, ValueInfo &arg,
    const std::string &key, const std::string &file, uint64_t offset,
    uint64_t length, const ParameterLayout &layout) {
  if (arg.kind != HYBRID_VALUE_TENSOR)
    return makeStatus("%s: '%s' parameter '%s' is not a tensor",
                      m.path.c_str(), entry.c_str(), key.c_str());
  if (layout.panels < 0)
    return makeStatus("%s: '%s' parameter '%s' has panels of %lld columns",
                      m.path.c_str(), entry.c_str(), key.c_str(),
                      static_cast<long long>(layout.panels));
  std::vector<int64_t> shape =
      fileShape(arg.shape, hybrid_dtype_size(arg.dtype), length, layout);
  if (shape.empty())
    return makeStatus("%s: '%s' parameter '%s' is %llu bytes, which does not "
                      "fit its shape %s%s",
                      m.path.c_str(), entry.c_str(), key.c_str(),
                      static_cast<unsigned long long>(length),
                      shapeString(arg.shape.data(), arg.shape.size()).c_str(),
                      layout.panels ? " in column panels"
                      : !layout.permutation.empty()
                          ? " transposed (or its permutation is invalid)"
                      : !layout.rows.empty()
                          ? " as rows of it (or a row is past its end)"
                          : "");
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    const Parameter &p = m.parameters[i];
    if (p.key != key)
      continue;
    if (p.dtype != arg.dtype || p.boundShape != arg.shape || p.file != file ||
        p.offset != offset || p.length != length || !(p.layout == layout))
      return makeStatus("%s: entry points disagree on parameter '%s'",
                        m.path.c_str(), key.c_str());
    arg.parameter = static_cast<int>(i);
    return nullptr;
  }
  Parameter p;
  p.key = key;
  p.file = file;
  p.offset = offset;
  p.length = length;
  p.dtype = arg.dtype;
  p.shape = std::move(shape);
  p.layout = layout;
  p.boundShape = arg.shape;
  arg.parameter = static_cast<int>(m.parameters.size());
  m.parameters.push_back(std::move(p));
  return nullptr;
}

void hybrid::runtime::releaseParameters(hybrid_module_t &m) {
  for (Parameter &p : m.parameters) {
    std::free(p.copy);
    if (p.device && m.gpuRelease)
      m.gpuRelease(p.device);
  }
  for (const Mapping &map : m.mappings)
    if (map.address && map.size)
      munmap(map.address, map.size);
  m.parameters.clear();
  m.mappings.clear();
}

/// `file` resolved under `folder`: a regular file inside it, mapped.
static hybrid_status mapFile(const std::string &folder,
                             const std::string &file, Mapping &out,
                             uint64_t &size) {
  if (file.empty() || file[0] == '/')
    return makeStatus("parameter file '%s' must be relative to the model's "
                      "folder", file.c_str());
  for (size_t at = 0; at != std::string::npos;) {
    size_t slash = file.find('/', at);
    if (file.compare(at, slash == std::string::npos ? std::string::npos
                                                    : slash - at,
                     "..") == 0)
      return makeStatus("parameter file '%s' must not leave the model's "
                        "folder ('..')", file.c_str());
    at = slash == std::string::npos ? slash : slash + 1;
  }
  char realFolder[PATH_MAX], realFile[PATH_MAX];
  if (!realpath(folder.c_str(), realFolder))
    return makeStatus("parameter folder '%s': %s", folder.c_str(),
                      std::strerror(errno));
  std::string path = folder + "/" + file;
  if (!realpath(path.c_str(), realFile))
    return makeStatus("parameter file '%s': %s", path.c_str(),
                      std::strerror(errno));
  std::string inside = std::string(realFolder) + "/";
  if (std::strncmp(realFile, inside.c_str(), inside.size()) != 0)
    return makeStatus("parameter file '%s' leaves the folder '%s' through a "
                      "link", file.c_str(), folder.c_str());
  int fd = open(realFile, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return makeStatus("parameter file '%s': %s", path.c_str(),
                      std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return makeStatus("parameter file '%s' is not a regular file",
                      path.c_str());
  }
  size = static_cast<uint64_t>(st.st_size);
  out = Mapping{};
  if (size > 0) {
    void *address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      close(fd);
      return makeStatus("cannot map parameter file '%s': %s", path.c_str(),
                        std::strerror(errno));
    }
    out = Mapping{address, static_cast<size_t>(size)};
  }
  close(fd);
  return nullptr;
}

extern "C" {

size_t hybrid_module_num_parameters(const hybrid_module *m) {
  return m ? m->parameters.size() : 0;
}

const char *hybrid_module_parameter_key(const hybrid_module *m,
                                        size_t index) {
  if (!m || index >= m->parameters.size())
    return nullptr;
  return m->parameters[index].key.c_str();
}

hybrid_status hybrid_module_parameter_info(const hybrid_module *m,
                                           size_t index,
                                           hybrid_value_info *out) {
  if (!m || !out || index >= m->parameters.size())
    return makeStatus("the module has no parameter #%zu", index);
  const Parameter &p = m->parameters[index];
  *out = {HYBRID_VALUE_TENSOR, p.dtype, p.shape.size(), p.shape.data()};
  return nullptr;
}

hybrid_status hybrid_module_bind_parameters_from_folder(hybrid_module *m,
                                                        const char *folder) {
  if (!m || !folder)
    return makeStatus("hybrid_module_bind_parameters_from_folder: null "
                      "argument");
  std::unique_lock<std::shared_mutex> lock(m->mutex);
  // Every file first, so that an error binds nothing.
  struct Mapped {
    Mapping mapping;
    uint64_t size;
  };
  std::map<std::string, Mapped> files;
  auto unmapAll = [&] {
    for (auto &[name, f] : files)
      if (f.mapping.address)
        munmap(f.mapping.address, f.mapping.size);
  };
  for (const Parameter &p : m->parameters) {
    if (p.data || files.count(p.file))
      continue;
    Mapped f;
    if (hybrid_status s = mapFile(folder, p.file, f.mapping, f.size)) {
      unmapAll();
      return s;
    }
    files[p.file] = f;
  }
  for (const Parameter &p : m->parameters) {
    if (p.data)
      continue;
    const Mapped &f = files[p.file];
    if (p.offset > f.size || p.length > f.size - p.offset) {
      hybrid_status s = makeStatus(
          "parameter '%s': '%s' is %llu bytes, too short for %llu bytes at "
          "offset %llu",
          p.key.c_str(), p.file.c_str(),
          static_cast<unsigned long long>(f.size),
          static_cast<unsigned long long>(p.length),
          static_cast<unsigned long long>(p.offset));
      unmapAll();
      return s;
    }
  }
  for (Parameter &p : m->parameters) {
    if (p.data)
      continue;
    const char *bytes =
        static_cast<const char *>(files[p.file].mapping.address) + p.offset;
    if (hybrid_status s = bindBytes(p, bytes)) {
      unmapAll();
      return s;
    }
  }
  for (auto &[name, f] : files)
    m->mappings.push_back(f.mapping);
  return nullptr;
}

hybrid_status hybrid_module_bind_parameter(hybrid_module *m, const char *key,
                                           const hybrid_tensor *value) {
  if (!m || !key || !value)
    return makeStatus("hybrid_module_bind_parameter: null argument");
  std::unique_lock<std::shared_mutex> lock(m->mutex);
  for (Parameter &p : m->parameters) {
    if (p.key != key)
      continue;
    if (value->dtype != p.dtype || value->shape != p.shape)
      return makeStatus("parameter '%s' is %s%s, not %s%s", key,
                        hybrid_dtype_name(p.dtype),
                        shapeString(p.shape.data(), p.shape.size()).c_str(),
                        hybrid_dtype_name(value->dtype),
                        shapeString(value->shape.data(), value->shape.size())
                            .c_str());
    if (!value->data && p.length)
      return makeStatus("parameter '%s': the tensor has no data", key);
    if (hybrid_status s = syncToHost(value))
      return s;
    if (!p.layout.asStored())
      return bindBytes(p, static_cast<const char *>(value->data));
    std::free(p.copy);
    p.copy = nullptr;
    p.data = value->data ? value->data : kEmpty;
    return nullptr;
  }
  return makeStatus("the module has no parameter '%s'", key);
}

} // extern "C"
