//===- RuntimeFuzzer.cpp - libFuzzer target: the runtime and its calls ----===//
//
// What a caller or a module file can hand the runtime, against module.mlir
// compiled with AddressSanitizer's checks (so that a kernel's
// out-of-bounds access is reported where it happens, not only a crash):
//   - the first byte even: the rest is module metadata (JSON), read by the
//     runtime's parser against the real module's symbols;
//   - odd: a call of one of its entry points, every argument's dtype,
//     rank, sizes and contents drawn from the input (mostly the declared
//     dtype and rank, with sizes from 0 to 23, sometimes 2^57 to 2^62), index
//     scalars anything. A refusal with a status is the expected outcome
//     of a bad call; a crash, a sanitizer report or a hang is a bug.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "hybrid/Runtime/hybrid_runtime.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// Reads the input front to back; past its end, zeros.
struct Bytes {
  const uint8_t *data;
  size_t size, at = 0;
  uint8_t next() { return at < size ? data[at++] : 0; }
  uint64_t next64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t(next()) << (8 * i);
    return v;
  }
};

hybrid_module *module() {
  static hybrid_module *m = [] {
    hybrid_module *loaded = nullptr;
    if (hybrid_status s =
            hybrid_module_load(HYBRID_FUZZ_RUNTIME_MODULE, &loaded)) {
      std::fprintf(stderr, "hybrid-fuzz-runtime: %s\n",
                   hybrid_status_message(s));
      std::abort();
    }
    hybrid_module_set_num_threads(loaded, 1);
    return loaded;
  }();
  return m;
}

/// Reads `text` as metadata against the real module's symbols.
void parseMetadata(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  hybrid_module_t m;
  m.path = "fuzz";
  m.handle = module()->handle;
  if (hybrid_status s = hybrid::runtime::parseMetadata(m, text.c_str()))
    hybrid_status_free(s);
  m.handle = nullptr; // the real module keeps it
}

/// Bytes a call's tensors may take in all: a bigger call is skipped (a
/// size whose byte count wraps is still tried on hybrid_tensor_create,
/// which must refuse it).
constexpr int64_t kMaxCallBytes = 1 << 20;

void call(Bytes &in) {
  hybrid_module *m = module();
  size_t entries = hybrid_module_num_entries(m);
  const char *entry = hybrid_module_entry_name(m, in.next() % entries);
  size_t numArgs = 0, numResults = 0;
  if (hybrid_status s =
          hybrid_module_entry_signature(m, entry, &numArgs, &numResults)) {
    hybrid_status_free(s);
    return;
  }
  std::vector<hybrid_tensor *> args;
  int64_t total = 0;
  bool skip = false;
  for (size_t i = 0; i < numArgs && !skip; ++i) {
    hybrid_value_info info;
    if (hybrid_status s = hybrid_module_entry_arg(m, entry, i, &info)) {
      hybrid_status_free(s);
      skip = true;
      break;
    }
    uint8_t how = in.next();
    // Mostly the declared dtype and rank; sometimes anything.
    hybrid_dtype dtype = (how & 0x30) == 0x30
                             ? static_cast<hybrid_dtype>(in.next() % 8)
                             : info.dtype;
    size_t rank = (how & 0x40) ? in.next() % 6 : info.rank;
    std::vector<int64_t> shape(rank);
    for (size_t d = 0; d < rank; ++d) {
      bool declared = d < info.rank && info.shape[d] >= 0 && !(how & 0x80);
      if (declared) {
        shape[d] = info.shape[d];
        continue;
      }
      uint8_t size = in.next();
      shape[d] = size < 250 ? size % 24 : int64_t(1) << (size - 250 + 57);
    }
    // A byte size past 2^63 (it wraps) must be refused; one that fits but
    // exceeds what a call may take here is skipped unallocated.
    uint64_t bytes = hybrid_dtype_size(dtype);
    bool wraps = false;
    if (std::find(shape.begin(), shape.end(), 0) != shape.end())
      bytes = 0; // empty, however large the other sizes
    for (int64_t d : shape)
      wraps |= __builtin_mul_overflow(bytes, uint64_t(d), &bytes);
    wraps |= bytes > uint64_t(INT64_MAX);
    if (!wraps && total + int64_t(bytes) > kMaxCallBytes) {
      skip = true;
      break;
    }
    hybrid_tensor *t = nullptr;
    if (hybrid_status s =
            hybrid_tensor_create(dtype, rank, shape.data(), &t)) {
      hybrid_status_free(s);
      skip = true;
      break;
    }
    if (wraps) {
      std::fprintf(stderr, "hybrid_tensor_create took a size that wraps\n");
      std::abort();
    }
    args.push_back(t);
    total += bytes;
    // Contents: scalars (positions, lengths, offsets) anything; tensors
    // the input's bytes from here on, over and over.
    auto *out = static_cast<uint8_t *>(hybrid_tensor_data(t));
    if (rank == 0 && bytes <= 8) {
      uint64_t v = in.next64();
      std::memcpy(out, &v, bytes);
    } else if (in.size > in.at) {
      size_t left = in.size - in.at;
      for (size_t b = 0; b < bytes; ++b)
        out[b] = in.data[in.at + b % left];
    }
  }
  // HYBRID_FUZZ_VERBOSE=1 prints each call, to turn a crash into a test.
  static const bool verbose = std::getenv("HYBRID_FUZZ_VERBOSE");
  if (verbose && !skip) {
    std::fprintf(stderr, "call %s:", entry);
    for (hybrid_tensor *t : args) {
      std::fprintf(stderr, " %s[", hybrid_dtype_name(hybrid_tensor_dtype(t)));
      for (size_t d = 0; d < hybrid_tensor_rank(t); ++d)
        std::fprintf(stderr, "%s%lld", d ? "," : "",
                     static_cast<long long>(hybrid_tensor_shape(t)[d]));
      std::fprintf(stderr, "]");
      if (hybrid_tensor_num_elements(t) <= 16 &&
          (hybrid_tensor_dtype(t) == HYBRID_DTYPE_I64 ||
           hybrid_tensor_dtype(t) == HYBRID_DTYPE_I32)) {
        std::fprintf(stderr, "=");
        for (size_t e = 0; e < hybrid_tensor_num_elements(t); ++e)
          std::fprintf(
              stderr, "%s%lld", e ? "," : "",
              hybrid_tensor_dtype(t) == HYBRID_DTYPE_I64
                  ? static_cast<long long>(
                        static_cast<int64_t *>(hybrid_tensor_data(t))[e])
                  : static_cast<long long>(
                        static_cast<int32_t *>(hybrid_tensor_data(t))[e]));
      }
    }
    std::fprintf(stderr, "\n");
  }
  if (!skip) {
    std::vector<hybrid_tensor *> results(numResults, nullptr);
    if (hybrid_status s = hybrid_module_invoke(m, entry, args.data(),
                                               args.size(), results.data(),
                                               numResults))
      hybrid_status_free(s);
    for (hybrid_tensor *r : results)
      hybrid_tensor_free(r);
  }
  for (hybrid_tensor *t : args)
    hybrid_tensor_free(t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] % 2 == 0) {
    parseMetadata(data + 1, size - 1);
    return 0;
  }
  Bytes in{data + 1, size - 1};
  call(in);
  return 0;
}
