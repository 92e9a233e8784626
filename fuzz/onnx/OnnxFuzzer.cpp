//===- OnnxFuzzer.cpp - libFuzzer target: the ONNX importer ---------------===//
//
// Arbitrary bytes as a serialized ModelProto through importONNXModel (the
// skeleton parse, the op table, shape inference and the raising passes):
// a diagnostic or a module, never a crash, an overflow or a huge
// allocation. Accepted modules must verify.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Import/ONNX/ONNXImporter.h"
#include "hybrid/InitAll.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdint>
#include <cstdlib>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MLIRContext *context = [] {
    DialectRegistry registry;
    hybrid::registerAllDialects(registry);
    hybrid::registerONNXImportDialects(registry);
    auto *c = new MLIRContext(registry);
    c->loadAllAvailableDialects();
    // Diagnostics are the expected outcome: swallowed, not printed.
    c->getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
    return c;
  }();
  OwningOpRef<ModuleOp> module = hybrid::importONNXModel(
      StringRef(reinterpret_cast<const char *>(data), size), "fuzz.onnx",
      context);
  if (module && failed(verify(*module)))
    std::abort(); // the importer built invalid IR
  return 0;
}
