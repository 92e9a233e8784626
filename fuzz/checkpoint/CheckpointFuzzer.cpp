//===- CheckpointFuzzer.cpp - libFuzzer target: checkpoint headers --------===//
//
// A Hugging Face checkpoint's own files, from arbitrary bytes: the input's
// first byte picks the file (model.safetensors, or config.json), the rest
// is its content, and the reader (readCheckpoint or readConfig) must give a
// diagnostic or a result, never a crash, an overflow or a huge allocation.
// The folder lives in /dev/shm (or $TMPDIR), rewritten per input.
//
//===----------------------------------------------------------------------===//

#include "../../lib/Import/HF/ModelConfig.h"
#include "../../lib/Import/HF/SafeTensors.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace mlir;

static const std::string &folder() {
  static const std::string path = [] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string dir = base + "/hybrid-fuzz-checkpoint-XXXXXX";
    if (!mkdtemp(dir.data()))
      std::abort();
    return dir;
  }();
  return path;
}

static void write(const std::string &name, const uint8_t *data, size_t size) {
  std::string path = folder() + "/" + name;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (size)
    std::fwrite(data, 1, size, f);
  std::fclose(f);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  static MLIRContext *context = [] {
    auto *c = new MLIRContext();
    // Diagnostics are the expected outcome: swallowed, not printed.
    c->getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
    return c;
  }();
  Location loc = UnknownLoc::get(context);
  bool config = data[0] & 1;
  std::string other = folder() + (config ? "/model.safetensors" : "/config.json");
  std::remove(other.c_str());
  if (config) {
    write("config.json", data + 1, size - 1);
    (void)hybrid::hf::readConfig(folder(), loc);
  } else {
    write("model.safetensors", data + 1, size - 1);
    (void)hybrid::hf::readCheckpoint(folder(), loc);
  }
  return 0;
}
