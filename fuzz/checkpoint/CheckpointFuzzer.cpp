//===- CheckpointFuzzer.cpp - libFuzzer target: checkpoint headers --------===//
//
// A Hugging Face checkpoint's own files, from arbitrary bytes: the input's
// first byte picks the file (odd: config.json; else bit 1 set:
// tokenizer.model; else model.safetensors), the rest is its content, and
// the reader (readConfig, the engine's Tokenizer over libsentencepiece, or
// readCheckpoint) must give a diagnostic or a result, never a crash, an
// overflow or a huge allocation. A tokenizer that loads then encodes and
// decodes a text, and names every piece. The folder lives in /dev/shm (or
// $TMPDIR), rewritten per input.
//
//===----------------------------------------------------------------------===//

#include "../../lib/Import/HF/ModelConfig.h"
#include "../../lib/Import/HF/SafeTensors.h"
#include "hybrid/Generate/Tokenizer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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
  bool tokenizer = !config && (data[0] & 2);
  for (const char *name : {"/model.safetensors", "/config.json",
                           "/tokenizer.model"})
    std::remove((folder() + name).c_str());
  if (tokenizer) {
    write("tokenizer.model", data + 1, size - 1);
    ::hybrid::generate::Tokenizer t;
    if (!::hybrid::generate::Tokenizer::load(folder(), t))
      return 0;
    std::vector<int64_t> ids;
    std::string text;
    if (t.encode("In the beginning God created the heaven", ids))
      (void)t.decode(ids, text);
    for (int64_t id = -1; id <= t.vocabSize(); ++id)
      (void)t.startsWord(id);
    (void)t.decode({-1, t.vocabSize()}, text); // ids outside: refused
    return 0;
  }
  if (config) {
    write("config.json", data + 1, size - 1);
    (void)mlir::hybrid::hf::readConfig(folder(), loc);
  } else {
    write("model.safetensors", data + 1, size - 1);
    (void)mlir::hybrid::hf::readCheckpoint(folder(), loc);
  }
  return 0;
}
