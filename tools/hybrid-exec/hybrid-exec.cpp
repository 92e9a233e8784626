//===- hybrid-exec.cpp - Run a compiled module with the runtime alone -----===//
//
// hybrid-exec MODULE.so [--entry NAME] [--parameters DIR] [--repeat N]
//             [--input X.npy]... [--output Y.npy]...
//
// Loads a module compiled by hybrid-run --emit-so (CPU or --target nvptx),
// calls one entry point on .npy inputs and writes its results as .npy. It
// links the thin runtime only, so it runs where neither MLIR nor LLVM is
// installed: a deployment, or a GPU machine the modules were compiled for.
// With --repeat, each call's wall time is printed.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Runtime/Runtime.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "hybrid-exec: error: %s\n", message.c_str());
  return 1;
}

const char *kUsage =
    "usage: hybrid-exec MODULE.so [--entry NAME] [--parameters DIR] "
    "[--repeat N] [--input X.npy]... [--output Y.npy]...\n";

} // namespace

int main(int argc, char **argv) {
  std::string modulePath, entry, parameters;
  std::vector<std::string> inputs, outputs;
  int repeat = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char *flag) -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "hybrid-exec: error: %s needs a value\n", flag);
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--entry")
      entry = value("--entry");
    else if (arg == "--parameters")
      parameters = value("--parameters");
    else if (arg == "--input")
      inputs.push_back(value("--input"));
    else if (arg == "--output")
      outputs.push_back(value("--output"));
    else if (arg == "--repeat")
      repeat = std::max(1, std::atoi(value("--repeat")));
    else if (!arg.empty() && arg[0] == '-')
      return fail("unknown option '" + arg + "'\n" + kUsage);
    else if (modulePath.empty())
      modulePath = arg;
    else
      return fail("more than one module given ('" + modulePath + "', '" +
                  arg + "')");
  }
  if (modulePath.empty())
    return fail(std::string("no module given\n") + kUsage);

  hybrid::Module module;
  if (hybrid::Status s = hybrid::Module::load(modulePath, module); !s)
    return fail(s.message());
  std::vector<std::string> entries = module.entryPoints();
  if (entry.empty()) {
    if (entries.size() != 1)
      return fail("the module has " + std::to_string(entries.size()) +
                  " entry points: name one with --entry");
    entry = entries.front();
  }
  if (std::find(entries.begin(), entries.end(), entry) == entries.end())
    return fail(modulePath + " has no entry point '" + entry + "'");
  if (module.numParameters() > 0) {
    if (parameters.empty())
      return fail("the module has parameters: --parameters names their "
                  "folder");
    if (hybrid::Status s = module.bindParameters(parameters); !s)
      return fail(s.message());
  }

  std::vector<hybrid::Tensor> args(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    // numpy has no bf16: a bf16 argument's file holds its raw words ('<u2').
    hybrid_value_info info;
    bool bf16 = module.argInfo(entry, i, info) &&
                info.dtype == HYBRID_DTYPE_BF16;
    if (hybrid::Status s = hybrid::Tensor::loadNpy(inputs[i], bf16, args[i]);
        !s)
      return fail(s.message());
  }
  std::vector<hybrid::Tensor> results;
  for (int r = 0; r < repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    if (hybrid::Status s = module.invoke(entry, args, results); !s)
      return fail(s.message());
    auto end = std::chrono::steady_clock::now();
    if (repeat > 1)
      std::printf("invocation %d: %.3f ms\n", r,
                  std::chrono::duration<double, std::milli>(end - start)
                      .count());
  }
  if (outputs.size() > results.size())
    return fail("--output given " + std::to_string(outputs.size()) +
                " times but '" + entry + "' returns " +
                std::to_string(results.size()) + " results");
  for (size_t i = 0; i < outputs.size(); ++i)
    if (hybrid::Status s = results[i].saveNpy(outputs[i]); !s)
      return fail(s.message());
  return 0;
}
