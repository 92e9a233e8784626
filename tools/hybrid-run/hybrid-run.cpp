//===- hybrid-run.cpp - Compile and run a Hybrid module -------------------===//
//
// hybrid-run MODULE [--entry NAME] --input a.npy ... --output y.npy ...
//
// MODULE is an .mlir/.mlirbc file, an ONNX model or a Hugging Face
// checkpoint folder (compiled with hybrid-cpu-pipeline into a temporary
// shared object), or an already compiled module. Inputs are .npy files or scalar literals (`i64=7`,
// `f32=0.5`), in argument order or by the model's names (`ids=ids.npy`);
// results go to .npy files and/or stdout (--print). A module's parameters
// (weights) are mapped from the model's folder (the checkpoint folder
// itself for a checkpoint). --repeat and --time
// measure invocations.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Import/ImportSource.h"
#include "hybrid/Import/ONNX/ONNXImporter.h"
#include "hybrid/InitAll.h"
#include "hybrid/Runtime/Runtime.hpp"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <cstring>

using namespace llvm;

/// This tool's options: --help lists them alone (LLVM's own are hidden,
/// and still parse).
static cl::OptionCategory toolOptions("hybrid-run options");
static cl::opt<std::string> modulePath(cl::cat(toolOptions), cl::Positional, cl::Required,
                                       cl::desc("<module.mlir | model.onnx | checkpoint folder | module.so>"));
static cl::opt<std::string>
    entryName(cl::cat(toolOptions), "entry", cl::desc("Entry point to run (optional when the "
                                "module has one, or has `forward`)"));
static cl::list<std::string> inputs(cl::cat(toolOptions),
    "input",
    cl::desc("An argument: a .npy file, or a scalar literal such as i64=7 "
             "or f32=0.5, in order or as NAME=VALUE by the model's input "
             "name (repeat per argument)"));
static cl::opt<std::string> parameterFolder(cl::cat(toolOptions),
    "parameters",
    cl::desc("Folder the module's parameter files are relative to (default: "
             "the folder of MODULE)"));
static cl::list<std::string>
    outputs(cl::cat(toolOptions), "output", cl::desc("Where to write a result as .npy (repeat per "
                               "result)"));
static cl::opt<bool> printResults(cl::cat(toolOptions), "print",
                                  cl::desc("Print every result to stdout"));
static cl::opt<bool>
    u2IsBf16(cl::cat(toolOptions), "bf16", cl::desc("Read '<u2' .npy inputs as raw bf16 words"));
static cl::opt<unsigned> repeat(cl::cat(toolOptions), "repeat", cl::init(1),
                                cl::desc("Invocations to run"));
static cl::opt<bool> timeRuns(cl::cat(toolOptions), "time",
                              cl::desc("Print the wall time of every "
                                       "invocation"));
static cl::opt<int> threads(cl::cat(toolOptions), "num-threads", cl::init(0),
                            cl::desc("Threads per invocation (0: all cores)"));
static cl::opt<unsigned> compileThreads(cl::cat(toolOptions),
    "compile-threads", cl::init(0),
    cl::desc("Threads for LLVM optimisation and code generation, each on "
             "a partition of the module's functions (0: one per core, as "
             "many as the module's size repays)"));
static cl::opt<std::string>
    keepSharedObject(cl::cat(toolOptions), "emit-so", cl::desc("Also keep the compiled shared "
                                         "object at this path"));
static cl::opt<bool> verbose(cl::cat(toolOptions),
    "verbose", cl::desc("Print each phase (import or parse, MLIR passes, "
                        "LLVM, link, load, bind) with its time as it ends"));
static cl::opt<bool> compileOnly(cl::cat(toolOptions),
    "compile-only", cl::desc("Stop after compiling MODULE into --emit-so"));
static cl::opt<bool> instrumentAddresses(cl::cat(toolOptions),
    "instrument-addresses",
    cl::desc("Add AddressSanitizer's checks to the compiled module (it then "
             "loads only into a process with the ASan runtime: use with "
             "--compile-only)"));
static cl::opt<bool> sequential(cl::cat(toolOptions), "sequential",
                                cl::desc("Compile without OpenMP parallelism"));
static cl::opt<mlir::hybrid::SparseMode> sparse(cl::cat(toolOptions),
    "sparse", cl::desc("Training-free sparse attention when compiling"),
    cl::init(mlir::hybrid::SparseMode::None),
    cl::values(clEnumValN(mlir::hybrid::SparseMode::None, "none", "as written"),
               clEnumValN(mlir::hybrid::SparseMode::Auto, "auto",
                          "sparsify causal attention")));
/// Where the kernels run: the CPU, or an NVIDIA GPU through the CUDA driver
/// (`nvptx`: PTX for the chosen architecture, embedded in the module).
enum class TargetKind { CPU, NVPTX };
static cl::opt<TargetKind> target(cl::cat(toolOptions),
    "target", cl::desc("Where the compiled kernels run"),
    cl::init(TargetKind::CPU),
    cl::values(clEnumValN(TargetKind::CPU, "cpu", "this machine's cores"),
               clEnumValN(TargetKind::NVPTX, "nvptx",
                          "an NVIDIA GPU, through the CUDA driver")));
static cl::opt<mlir::hybrid::GPUChip> gpuChip(cl::cat(toolOptions),
    "gpu-chip", cl::desc("With --target nvptx: the architecture of the "
                         "embedded PTX (sm_80 PTX runs on sm_90 too)"),
    cl::init(mlir::hybrid::GPUChip::SM80),
    cl::values(clEnumValN(mlir::hybrid::GPUChip::SM80, "sm_80", "Ampere"),
               clEnumValN(mlir::hybrid::GPUChip::SM90, "sm_90", "Hopper"),
               clEnumValN(mlir::hybrid::GPUChip::Both, "both",
                          "PTX for both; the runtime loads the newest the "
                          "device runs")));
static cl::opt<int64_t> treeSize(cl::cat(toolOptions),
    "tree-size", cl::init(0),
    cl::desc("Draft-tree nodes per step, for the GQA layout choice"));

static int fail(const std::string &message) {
  errs() << "hybrid-run: error: " << message << "\n";
  return 1;
}

/// `--verbose`: the time since the previous phase ended.
static void phaseDone(StringRef phase) {
  static auto last = std::chrono::steady_clock::now();
  auto now = std::chrono::steady_clock::now();
  if (verbose && !phase.empty())
    errs() << format("  %-22s %8.1f ms\n", phase.str().c_str(),
                     std::chrono::duration<double, std::milli>(now - last)
                         .count());
  last = now;
}

/// Compiles a model (checkpoint folder, ONNX, MLIR) into `soPath`.
static bool compileModule(StringRef path, StringRef soPath) {
  mlir::MLIRContext context;
  bool imported = path.ends_with(".onnx") || sys::fs::is_directory(path);
  auto sourceMgr = std::make_shared<SourceMgr>();
  mlir::SourceMgrDiagnosticHandler handler(*sourceMgr, &context);
  // A checkpoint's entry points compile on demand: the one to run (named,
  // or `forward`), or all of them for a shared object kept for later.
  mlir::hybrid::HFImportOptions hf;
  if (!entryName.empty())
    hf.entries = {entryName};
  else if (!compileOnly)
    hf.entries = {"forward"};
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::hybrid::importSource(path, &context, *sourceMgr, hf);
  if (!module)
    return false;
  phaseDone(imported ? "import" : "parse");
  mlir::hybrid::CompileOptions options;
  if (verbose)
    options.phaseLog = &errs();
  options.parallel = !sequential;
  options.instrumentAddresses = instrumentAddresses;
  options.compileThreads = compileThreads;
  options.sparse = sparse;
  options.treeSize = treeSize;
  if (target == TargetKind::NVPTX) {
    options.target = mlir::hybrid::CompileTarget::NVPTX;
    options.gpuChip = gpuChip;
  }
  return succeeded(
      mlir::hybrid::compileToSharedObject(*module, soPath, options));
}

/// `dtype=value` scalar literal as a rank-0 tensor.
static hybrid::Status parseScalar(const std::string &text,
                                  hybrid::Tensor &out) {
  size_t eq = text.find('=');
  std::string dtypeName = text.substr(0, eq), value = text.substr(eq + 1);
  if (dtypeName == "index")
    dtypeName = "i64";
  hybrid_dtype dtype;
  hybrid::Status s(hybrid_dtype_from_name(dtypeName.c_str(), &dtype));
  if (!s)
    return s;
  if (!(s = hybrid::Tensor::create(dtype, {}, out)))
    return s;
  char *end = nullptr;
  switch (dtype) {
  case HYBRID_DTYPE_I64:
    *out.data<int64_t>() = std::strtoll(value.c_str(), &end, 10);
    break;
  case HYBRID_DTYPE_I32:
    *out.data<int32_t>() = static_cast<int32_t>(std::strtol(value.c_str(), &end, 10));
    break;
  case HYBRID_DTYPE_F32:
    *out.data<float>() = std::strtof(value.c_str(), &end);
    break;
  case HYBRID_DTYPE_F64:
    *out.data<double>() = std::strtod(value.c_str(), &end);
    break;
  default:
    return hybrid::Status::error("scalar literal '" + text +
                                 "': use i64, i32, f32 or f64");
  }
  if (value.empty() || *end != '\0')
    return hybrid::Status::error("scalar literal '" + text +
                                 "': '" + value + "' is not a number");
  return s;
}

/// Element `i` of `t` as a double, for printing.
static double elementAt(const hybrid::Tensor &t, size_t i) {
  switch (t.dtype()) {
  case HYBRID_DTYPE_F32: return t.data<float>()[i];
  case HYBRID_DTYPE_F64: return t.data<double>()[i];
  case HYBRID_DTYPE_F16: return hybrid_f16_to_f32(t.data<uint16_t>()[i]);
  case HYBRID_DTYPE_BF16: return hybrid_bf16_to_f32(t.data<uint16_t>()[i]);
  case HYBRID_DTYPE_I64: return static_cast<double>(t.data<int64_t>()[i]);
  case HYBRID_DTYPE_I32: return t.data<int32_t>()[i];
  case HYBRID_DTYPE_I8: return t.data<int8_t>()[i];
  case HYBRID_DTYPE_BOOL: return t.data<uint8_t>()[i] != 0;
  }
  return 0;
}

/// `result #0: f32[2, 3] = [[1, 2, 3], [4, 5, 6]]`
static void print(const hybrid::Tensor &t, size_t index) {
  std::vector<int64_t> shape = t.shape();
  outs() << "result #" << index << ": " << hybrid_dtype_name(t.dtype()) << "[";
  for (size_t d = 0; d < shape.size(); ++d)
    outs() << (d ? ", " : "") << shape[d];
  outs() << "] = ";
  size_t n = t.numElements(), i = 0;
  std::function<void(size_t)> rec = [&](size_t dim) {
    if (dim == shape.size()) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.6g", elementAt(t, i++));
      outs() << buf;
      return;
    }
    outs() << "[";
    for (int64_t k = 0; k < shape[dim]; ++k) {
      if (k)
        outs() << ", ";
      rec(dim + 1);
    }
    outs() << "]";
  };
  if (n > 0 || shape.empty())
    rec(0);
  else
    outs() << "[]";
  outs() << "\n";
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv, "Hybrid module runner\n");

  // Compile when given MLIR.
  std::string soPath = modulePath;
  SmallString<128> tempSo;
  bool isFolder = sys::fs::is_directory(modulePath);
  bool isMLIR = StringRef(modulePath).ends_with(".mlir") ||
                StringRef(modulePath).ends_with(".mlirbc") ||
                StringRef(modulePath).ends_with(".onnx") || isFolder;
  if (compileOnly && (!isMLIR || keepSharedObject.empty()))
    return fail("--compile-only compiles an .mlir, .mlirbc or .onnx MODULE "
                "or a checkpoint folder into --emit-so");
  if (isMLIR) {
    if (!keepSharedObject.empty()) {
      soPath = keepSharedObject;
    } else {
      if (sys::fs::createTemporaryFile("hybrid-run", "so", tempSo))
        return fail("cannot create a temporary file");
      soPath = std::string(tempSo);
    }
    if (verbose)
      errs() << "hybrid-run: compiling " << modulePath << "\n";
    phaseDone("");
    if (!compileModule(modulePath, soPath))
      return fail("compiling " + modulePath + " failed");
    // The driver's phases reset the clock: the next phase starts now.
    phaseDone("");
  }
  FileRemover removeSo(tempSo);
  if (compileOnly)
    return 0;

  hybrid::Module module;
  if (hybrid::Status s = hybrid::Module::load(soPath, module); !s)
    return fail(s.message());
  phaseDone("load");
  if (threads > 0)
    if (hybrid::Status s = module.setNumThreads(threads); !s)
      return fail(s.message());

  // The entry: as named, the module's only one, or `forward` (a Hugging
  // Face model's pass over the ids from empty caches).
  std::string entry = entryName;
  if (entry.empty()) {
    std::vector<std::string> entries = module.entryPoints();
    if (entries.size() == 1)
      entry = entries.front();
    else if (llvm::is_contained(entries, "forward"))
      entry = "forward";
    else
      return fail("the module has " + std::to_string(entries.size()) +
                  " entry points: name one with --entry");
  }
  if (std::vector<std::string> entries = module.entryPoints();
      !llvm::is_contained(entries, entry))
    return fail(modulePath + " has no entry point '" + entry + "' (it has: " +
                llvm::join(entries, ", ") + ")");

  // Weights stay in the model's files: mapped, not copied.
  if (module.numParameters() > 0) {
    std::string folder = parameterFolder;
    if (folder.empty() && isFolder)
      folder = modulePath;
    if (folder.empty()) {
      folder = std::string(sys::path::parent_path(modulePath));
      if (folder.empty())
        folder = ".";
    }
    if (hybrid::Status s = module.bindParameters(folder); !s)
      return fail(s.message() + " (--parameters names the model's folder)");
    phaseDone("bind parameters");
  }

  // Inputs by position, or by the model's name for them.
  std::vector<std::string> argNames = module.argNames(entry);
  std::vector<hybrid::Tensor> args(argNames.size());
  std::vector<bool> given(argNames.size(), false);
  size_t nextPositional = 0;
  for (const std::string &input : inputs) {
    std::string value = input;
    size_t slot = std::string::npos;
    size_t eq = input.find('=');
    if (eq != std::string::npos && eq > 0) {
      auto it = std::find(argNames.begin(), argNames.end(), input.substr(0, eq));
      if (it != argNames.end()) {
        slot = it - argNames.begin();
        value = input.substr(eq + 1);
      }
    }
    if (slot == std::string::npos) {
      while (nextPositional < given.size() && given[nextPositional])
        ++nextPositional;
      slot = nextPositional;
    }
    if (slot >= args.size())
      return fail("'" + entry + "' takes " + std::to_string(args.size()) +
                  " arguments; --input '" + input + "' is one too many");
    if (given[slot])
      return fail("argument '" + argNames[slot] + "' is given twice");
    hybrid::Tensor t;
    bool isLiteral = value.find('=') != std::string::npos &&
                     !StringRef(value).ends_with(".npy");
    hybrid::Status s = isLiteral ? parseScalar(value, t)
                                 : hybrid::Tensor::loadNpy(value, u2IsBf16, t);
    if (!s)
      return fail(s.message());
    args[slot] = t;
    given[slot] = true;
  }
  for (size_t i = 0; i < given.size(); ++i)
    if (!given[i])
      return fail("'" + entry + "' argument #" + std::to_string(i) +
                  (argNames[i].empty() ? "" : " ('" + argNames[i] + "')") +
                  " is not given (--input)");

  std::vector<hybrid::Tensor> results;
  std::vector<double> times;
  for (unsigned r = 0; r < std::max(1u, unsigned(repeat)); ++r) {
    auto start = std::chrono::steady_clock::now();
    if (hybrid::Status s = module.invoke(entry, args, results); !s)
      return fail(s.message());
    auto end = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(end - start)
                        .count());
  }
  if (timeRuns) {
    double best = *std::min_element(times.begin(), times.end()), sum = 0;
    for (size_t i = 0; i < times.size(); ++i) {
      outs() << format("invocation %zu: %.3f ms\n", i, times[i]);
      sum += times[i];
    }
    outs() << format("min %.3f ms, mean %.3f ms over %zu invocations\n", best,
                     sum / times.size(), times.size());
  }

  if (outputs.size() > results.size())
    return fail("--output given " + std::to_string(outputs.size()) +
                " times but '" + entry + "' returns " +
                std::to_string(results.size()) + " results");
  for (size_t i = 0; i < outputs.size(); ++i)
    if (hybrid::Status s = results[i].saveNpy(outputs[i]); !s)
      return fail(s.message());
  if (printResults)
    for (size_t i = 0; i < results.size(); ++i)
      print(results[i], i);
  return 0;
}
