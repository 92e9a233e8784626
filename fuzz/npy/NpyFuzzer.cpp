//===- NpyFuzzer.cpp - libFuzzer target: the runtime's .npy reader --------===//
//
// Feeds arbitrary bytes to hybrid_tensor_load_npy (through a memfd, since
// the reader takes a path), with and without the bf16 flag, and writes
// back what it accepts. Under ASan and UBSan: any crash, overflow or leak
// is a bug; a refusal with a status is the expected outcome.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Runtime/hybrid_runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = memfd_create("npy", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) !=
                                              static_cast<ssize_t>(size))
    return 0;
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    hybrid_tensor *tensor = nullptr;
    if (hybrid_status s = hybrid_tensor_load_npy(path.c_str(), bf16, &tensor)) {
      hybrid_status_free(s);
      continue;
    }
    // What was accepted round-trips.
    static int out = memfd_create("npy-out", 0);
    std::string outPath = "/proc/self/fd/" + std::to_string(out);
    if (hybrid_status s = hybrid_tensor_save_npy(tensor, outPath.c_str()))
      hybrid_status_free(s);
    hybrid_tensor_free(tensor);
  }
  return 0;
}
