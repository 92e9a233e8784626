//===- Npy.cpp - Reading and writing .npy files ---------------------------===//
//
// The .npy format (NumPy's NEP 1): magic, version, a little-endian header
// length, a Python-literal header dict padded to 64 bytes, then the raw
// data in C order. Only little-endian, C-order arrays of the runtime's dtypes
// are accepted; anything else is an error that says what was found.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <memory>

using namespace hybrid::runtime;

namespace {

struct FileCloser {
  void operator()(FILE *f) const {
    if (f)
      std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

/// The numpy dtype string of a runtime dtype.
const char *descrOf(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F32: return "<f4";
  case HYBRID_DTYPE_F16: return "<f2";
  case HYBRID_DTYPE_BF16: return "<u2"; // raw 16-bit words
  case HYBRID_DTYPE_F64: return "<f8";
  case HYBRID_DTYPE_I64: return "<i8";
  case HYBRID_DTYPE_I32: return "<i4";
  case HYBRID_DTYPE_I8: return "|i1";
  case HYBRID_DTYPE_BOOL: return "|b1";
  }
  return "";
}

hybrid_status dtypeOfDescr(const std::string &descr, bool u2IsBf16,
                           const char *path, hybrid_dtype *out) {
  if (descr.size() < 2)
    return makeStatus("%s: invalid dtype '%s'", path, descr.c_str());
  char order = descr[0];
  std::string kind = descr.substr(1);
  if (order == '>' && kind != "i1" && kind != "b1" && kind != "u1")
    return makeStatus("%s: big-endian data ('%s') is not supported", path,
                      descr.c_str());
  if (order != '<' && order != '|' && order != '=')
    return makeStatus("%s: invalid dtype '%s'", path, descr.c_str());
  static const struct {
    const char *kind;
    hybrid_dtype dtype;
  } table[] = {{"f4", HYBRID_DTYPE_F32}, {"f2", HYBRID_DTYPE_F16},
               {"f8", HYBRID_DTYPE_F64}, {"i8", HYBRID_DTYPE_I64},
               {"i4", HYBRID_DTYPE_I32}, {"i1", HYBRID_DTYPE_I8},
               {"b1", HYBRID_DTYPE_BOOL}};
  for (const auto &entry : table) {
    if (kind == entry.kind) {
      *out = entry.dtype;
      return nullptr;
    }
  }
  if (kind == "u2") {
    if (!u2IsBf16)
      return makeStatus("%s: dtype '<u2' is only read as raw bf16 words; say "
                        "so with the bf16 flag",
                        path);
    *out = HYBRID_DTYPE_BF16;
    return nullptr;
  }
  return makeStatus("%s: unsupported dtype '%s' (supported: f32, f16, f64, "
                    "i64, i32, i8, bool, and bf16 as '<u2')",
                    path, descr.c_str());
}

/// The text after `'key':` in the header dict, spaces skipped.
const char *findKey(const std::string &header, const char *key) {
  std::string quoted = std::string("'") + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string::npos)
    return nullptr;
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos)
    return nullptr;
  const char *p = header.c_str() + at + 1;
  while (*p == ' ')
    ++p;
  return p;
}

hybrid_status parseHeader(const std::string &header, const char *path,
                          std::string &descr, bool &fortran,
                          std::vector<int64_t> &shape) {
  const char *p = findKey(header, "descr");
  if (!p || *p != '\'')
    return makeStatus("%s: the header has no 'descr' string", path);
  const char *end = std::strchr(p + 1, '\'');
  if (!end)
    return makeStatus("%s: unterminated 'descr' in the header", path);
  descr.assign(p + 1, end);

  p = findKey(header, "fortran_order");
  if (!p)
    return makeStatus("%s: the header has no 'fortran_order'", path);
  if (std::strncmp(p, "True", 4) == 0)
    fortran = true;
  else if (std::strncmp(p, "False", 5) == 0)
    fortran = false;
  else
    return makeStatus("%s: 'fortran_order' must be True or False", path);

  p = findKey(header, "shape");
  if (!p || *p != '(')
    return makeStatus("%s: the header has no 'shape' tuple", path);
  ++p;
  shape.clear();
  while (true) {
    while (*p == ' ' || *p == ',')
      ++p;
    if (*p == ')')
      break;
    if (!std::isdigit(static_cast<unsigned char>(*p)))
      return makeStatus("%s: malformed 'shape' in the header", path);
    char *next = nullptr;
    long long d = std::strtoll(p, &next, 10);
    if (next == p || d < 0)
      return makeStatus("%s: malformed 'shape' in the header", path);
    shape.push_back(d);
    p = next;
    if (shape.size() > 32)
      return makeStatus("%s: rank %zu is too large", path, shape.size());
  }
  return nullptr;
}

} // namespace

extern "C" {

hybrid_status hybrid_tensor_load_npy(const char *path, int u2_is_bf16,
                                     hybrid_tensor **out) {
  if (!path || !out)
    return makeStatus("hybrid_tensor_load_npy: null argument");
  File file(std::fopen(path, "rb"));
  if (!file)
    return makeStatus("%s: cannot open: %s", path, std::strerror(errno));
  unsigned char prefix[10];
  if (std::fread(prefix, 1, 8, file.get()) != 8 ||
      std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    return makeStatus("%s: not a .npy file (bad magic)", path);
  unsigned major = prefix[6];
  size_t headerLen;
  size_t prefixLen;
  if (major == 1) {
    if (std::fread(prefix + 8, 1, 2, file.get()) != 2)
      return makeStatus("%s: truncated header", path);
    headerLen = prefix[8] | (prefix[9] << 8);
    prefixLen = 10;
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    if (std::fread(len, 1, 4, file.get()) != 4)
      return makeStatus("%s: truncated header", path);
    headerLen = len[0] | (len[1] << 8) | (len[2] << 16) |
                (static_cast<size_t>(len[3]) << 24);
    prefixLen = 12;
  } else {
    return makeStatus("%s: unsupported .npy version %u", path, major);
  }
  if (headerLen > (1u << 24))
    return makeStatus("%s: header length %zu is implausible", path,
                      headerLen);
  std::string header(headerLen, '\0');
  if (std::fread(&header[0], 1, headerLen, file.get()) != headerLen)
    return makeStatus("%s: truncated header", path);

  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  if (hybrid_status s = parseHeader(header, path, descr, fortran, shape))
    return s;
  if (fortran)
    return makeStatus("%s: fortran_order arrays are not supported; save a "
                      "C-order array (numpy.ascontiguousarray)",
                      path);
  hybrid_dtype dtype;
  if (hybrid_status s = dtypeOfDescr(descr, u2_is_bf16, path, &dtype))
    return s;
  int64_t bytes = byteSize(shape, dtype);
  if (bytes < 0)
    return makeStatus("%s: shape too large", path);
  // What the header promises must be in the file before anything is
  // allocated: a few bytes claiming a 100 GB array are an error, not an
  // allocation. (So the file holds exactly the data: no trailing bytes.)
  size_t promised = static_cast<size_t>(bytes);
  long here = std::ftell(file.get());
  if (here < 0 || std::fseek(file.get(), 0, SEEK_END) != 0)
    return makeStatus("%s: cannot seek: %s", path, std::strerror(errno));
  long size = std::ftell(file.get());
  if (size < here || std::fseek(file.get(), here, SEEK_SET) != 0)
    return makeStatus("%s: cannot seek: %s", path, std::strerror(errno));
  size_t available = static_cast<size_t>(size - here);
  if (available < promised)
    return makeStatus("%s: truncated data: the header promises %zu bytes "
                      "after %zu header bytes, the file has %zu",
                      path, promised, prefixLen + headerLen, available);
  if (available > promised)
    return makeStatus("%s: trailing bytes after the data", path);

  hybrid_tensor *tensor = nullptr;
  if (hybrid_status s =
          hybrid_tensor_create(dtype, shape.size(), shape.data(), &tensor))
    return s;
  if (std::fread(tensor->data, 1, promised, file.get()) != promised) {
    hybrid_tensor_free(tensor);
    return makeStatus("%s: the file changed while it was read", path);
  }
  *out = tensor;
  return nullptr;
}

hybrid_status hybrid_tensor_save_npy(const hybrid_tensor *tensor,
                                     const char *path) {
  if (!tensor || !path)
    return makeStatus("hybrid_tensor_save_npy: null argument");
  if (hybrid_status s = syncToHost(tensor))
    return s;
  std::string dict = std::string("{'descr': '") + descrOf(tensor->dtype) +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor->shape.size(); ++i)
    dict += std::to_string(tensor->shape[i]) + ", ";
  if (tensor->shape.size() > 1)
    dict.erase(dict.size() - 2); // (2, 3) but (5,) for rank 1
  else if (tensor->shape.size() == 1)
    dict.erase(dict.size() - 1);
  dict += "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  bool v2 = dict.size() > 65535;
  File file(std::fopen(path, "wb"));
  if (!file)
    return makeStatus("%s: cannot create: %s", path, std::strerror(errno));
  std::string prefix = "\x93NUMPY";
  prefix += static_cast<char>(v2 ? 2 : 1);
  prefix += '\0';
  size_t len = dict.size();
  prefix += static_cast<char>(len & 0xff);
  prefix += static_cast<char>((len >> 8) & 0xff);
  if (v2) {
    prefix += static_cast<char>((len >> 16) & 0xff);
    prefix += static_cast<char>((len >> 24) & 0xff);
  }
  size_t bytes = hybrid_tensor_byte_size(tensor);
  if (std::fwrite(prefix.data(), 1, prefix.size(), file.get()) !=
          prefix.size() ||
      std::fwrite(dict.data(), 1, dict.size(), file.get()) != dict.size() ||
      std::fwrite(tensor->data, 1, bytes, file.get()) != bytes)
    return makeStatus("%s: write failed: %s", path, std::strerror(errno));
  return nullptr;
}

} // extern "C"
