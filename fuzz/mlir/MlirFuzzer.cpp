//===- MlirFuzzer.cpp - libFuzzer target: MLIR text through the compiler --===//
//
// Arbitrary text as an MLIR module: parsed and verified, then, when it
// verifies, through hybrid-cpu-pipeline down to the LLVM dialect (the
// hybrid passes on the way: sparsification and the dense-sparse switch,
// speculative fusion, GQA layouts, weight transposes and panels, entry
// points, kernel outlining, the lowering to loops and tiles). The first
// byte picks the pipeline's options (sparse=auto, speculate=tree). A
// diagnostic is the expected outcome; a crash, a sanitizer report or a
// pass that leaves invalid IR is a bug.
//
// The compiler's libraries are linked as built, without the fuzzer's
// coverage instrumentation: coverage guides the mutations only through
// the text the parser accepts (the seeds and the dictionary do the rest).
//
//===----------------------------------------------------------------------===//

#include "hybrid/InitAll.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MLIRContext *context = [] {
    hybrid::registerAllPasses();
    DialectRegistry registry;
    hybrid::registerAllDialects(registry);
    auto *c = new MLIRContext(registry, MLIRContext::Threading::DISABLED);
    c->loadAllAvailableDialects();
    // Diagnostics are the expected outcome: swallowed, not printed.
    c->getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
    return c;
  }();
  if (size == 0)
    return 0;
  uint8_t options = data[0];
  std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, context);
  if (!module)
    return 0;
  std::string pipeline =
      std::string("hybrid-cpu-pipeline{sparse=") +
      (options & 1 ? "auto" : "none") +
      " speculate=" + (options & 2 ? "tree" : "none") + "}";
  PassManager pm(context);
  if (failed(parsePassPipeline(pipeline, pm)))
    std::abort();
  // A failed pass (with its diagnostic) is fine; a pipeline that succeeds
  // must leave valid IR (invalid IR in between shows as a crash of a later
  // pass, or here).
  pm.enableVerifier(false);
  if (succeeded(pm.run(*module)) && failed(verify(*module)))
    std::abort();
  return 0;
}
