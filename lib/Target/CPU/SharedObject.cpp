//===- SharedObject.cpp - Compile a module into a loadable .so ------------===//

#include "hybrid/Target/CPU/SharedObject.h"

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"
#include "hybrid/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Transforms/Instrumentation/AddressSanitizer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <chrono>

using namespace mlir;
using namespace mlir::hybrid;

//===----------------------------------------------------------------------===//
// LLVM IR additions: packed entry wrappers and the metadata string
//===----------------------------------------------------------------------===//

/// `void _hybrid_entry_<name>(void **slots)` calls `_mlir_ciface_<name>`:
/// pointer parameters (result struct, memref descriptors) receive the slot
/// itself, scalars are loaded from it. One uniform signature lets the
/// runtime call any entry without knowing it at build time.
static LogicalResult addPackedWrapper(llvm::Module &mod, StringRef name,
                                      ModuleOp module) {
  llvm::Function *ciface = mod.getFunction(("_mlir_ciface_" + name).str());
  if (!ciface)
    return module.emitError() << "no C interface was emitted for @" << name;
  llvm::LLVMContext &ctx = mod.getContext();
  auto *ptrType = llvm::PointerType::getUnqual(ctx);
  auto *wrapperType =
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrType}, false);
  auto *wrapper =
      llvm::Function::Create(wrapperType, llvm::GlobalValue::ExternalLinkage,
                             (kEntryPrefix + name).str(), mod);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  SmallVector<llvm::Value *> args;
  for (auto [i, param] : llvm::enumerate(ciface->args())) {
    llvm::Value *slotAddr =
        b.CreateConstGEP1_64(ptrType, wrapper->getArg(0), i);
    llvm::Value *slot = b.CreateLoad(ptrType, slotAddr);
    args.push_back(param.getType()->isPointerTy()
                       ? slot
                       : b.CreateLoad(param.getType(), slot));
  }
  b.CreateCall(ciface, args);
  b.CreateRetVoid();
  return success();
}

static void addMetadataString(llvm::Module &mod, StringRef json) {
  llvm::LLVMContext &ctx = mod.getContext();
  llvm::Constant *text =
      llvm::ConstantDataArray::getString(ctx, json, /*AddNull=*/true);
  new llvm::GlobalVariable(mod, text->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, text,
                           kMetadataSymbol);
}

//===----------------------------------------------------------------------===//
// Native code
//===----------------------------------------------------------------------===//

static std::unique_ptr<llvm::TargetMachine>
createHostTargetMachine(ModuleOp module, unsigned optLevel) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    module.emitError() << "no LLVM target for " << triple.str() << ": "
                       << error;
    return nullptr;
  }
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures())
    features += (feature.second ? "+" : "-") + feature.first().str() + ",";
  llvm::TargetOptions targetOptions;
  auto level = optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                               : llvm::CodeGenOptLevel::None;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features, targetOptions,
      llvm::Reloc::PIC_, std::nullopt, level));
}

/// Optimises `mod` at `optLevel`, then with `instrumentAddresses` adds
/// AddressSanitizer's checks to every function, as clang's
/// -fsanitize=address does after optimisation.
static void optimize(llvm::Module &mod, llvm::TargetMachine &tm,
                     unsigned optLevel, bool instrumentAddresses) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel >= 3   ? llvm::OptimizationLevel::O3
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                                  : llvm::OptimizationLevel::O0;
  llvm::ModulePassManager mpm =
      optLevel == 0 ? pb.buildO0DefaultPipeline(level)
                    : pb.buildPerModuleDefaultPipeline(level);
  if (instrumentAddresses) {
    for (llvm::Function &fn : mod)
      if (!fn.isDeclaration())
        fn.addFnAttr(llvm::Attribute::SanitizeAddress);
    mpm.addPass(llvm::AddressSanitizerPass(llvm::AddressSanitizerOptions()));
  }
  mpm.run(mod, mam);
}

/// Writes `mod`'s object code to `path`; an error message, or "".
static std::string emitObject(llvm::Module &mod, llvm::TargetMachine &tm,
                              StringRef path) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return ("cannot write " + path + ": " + ec.message()).str();
  llvm::legacy::PassManager codegen;
  if (tm.addPassesToEmitFile(codegen, out, nullptr,
                             llvm::CodeGenFileType::ObjectFile))
    return "the target machine cannot emit object files";
  codegen.run(mod);
  return "";
}

/// Instructions per partition below which splitting the module costs more
/// (a bitcode round trip, a target machine per thread) than it saves.
static constexpr size_t kMinInstructionsPerPart = 4000;

/// Optimises `mod` and generates its code into object files, one per
/// partition of its functions, the partitions on threads of their own (each
/// in its own LLVMContext, as LLVM's parallel code generation does): the
/// two phases are most of a model's compile time and single-threaded
/// otherwise. Kernels are called, never inlined, across partitions
/// (outlined kernels and tile kernels are noinline), so splitting loses no
/// optimisation that matters.
static LogicalResult optimizeAndEmit(ModuleOp module, llvm::Module &mod,
                                     unsigned optLevel,
                                     bool instrumentAddresses, unsigned threads,
                                     SmallVectorImpl<std::string> &objects,
                                     SmallVectorImpl<llvm::FileRemover> &removers) {
  // `threads` partitions when asked for; else one per core, as the
  // module's size repays.
  unsigned parts = threads;
  if (!parts) {
    size_t instructions = 0;
    for (const llvm::Function &fn : mod)
      instructions += fn.getInstructionCount();
    parts = std::max<size_t>(
        1, std::min<size_t>(llvm::hardware_concurrency().compute_thread_count(),
                            instructions / kMinInstructionsPerPart));
  }
  auto newObject = [&]() -> FailureOr<std::string> {
    SmallString<128> path;
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "hybrid-module", "o", path))
      return module.emitError() << "cannot create a temporary object file: "
                                << ec.message();
    removers.emplace_back(path);
    objects.push_back(path.str().str());
    return objects.back();
  };

  if (parts == 1) {
    std::unique_ptr<llvm::TargetMachine> tm =
        createHostTargetMachine(module, optLevel);
    FailureOr<std::string> path = newObject();
    if (!tm || failed(path))
      return failure();
    optimize(mod, *tm, optLevel, instrumentAddresses);
    std::string error = emitObject(mod, *tm, *path);
    if (!error.empty())
      return module.emitError(error);
    return success();
  }

  // Partitions balanced by size, as bitcode: each thread parses its own.
  SmallVector<SmallString<0>> bitcode;
  llvm::SplitModule(
      mod, parts,
      [&](std::unique_ptr<llvm::Module> part) {
        bitcode.emplace_back();
        llvm::raw_svector_ostream os(bitcode.back());
        llvm::WriteBitcodeToFile(*part, os);
      },
      /*PreserveLocals=*/false, /*RoundRobin=*/true);
  // Target machines and files are made here: errors go to the MLIR module,
  // which the threads do not touch.
  SmallVector<std::unique_ptr<llvm::TargetMachine>> machines;
  SmallVector<std::string> paths;
  for (size_t i = 0; i < bitcode.size(); ++i) {
    machines.push_back(createHostTargetMachine(module, optLevel));
    FailureOr<std::string> path = newObject();
    if (!machines.back() || failed(path))
      return failure();
    paths.push_back(*path);
  }
  SmallVector<std::string> errors(bitcode.size());
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(parts));
    for (size_t i = 0; i < bitcode.size(); ++i)
      pool.async([&, i] {
        llvm::LLVMContext context;
        llvm::Expected<std::unique_ptr<llvm::Module>> part =
            llvm::parseBitcodeFile(
                llvm::MemoryBufferRef(bitcode[i].str(), "partition"), context);
        if (!part) {
          errors[i] = llvm::toString(part.takeError());
          return;
        }
        optimize(**part, *machines[i], optLevel, instrumentAddresses);
        errors[i] = emitObject(**part, *machines[i], paths[i]);
      });
    pool.wait();
  }
  for (const std::string &error : errors)
    if (!error.empty())
      return module.emitError() << "code generation failed: " << error;
  return success();
}

/// Links `objects` into the shared object `output` with the system C
/// compiler driver, against the OpenMP runtime of this LLVM (parallel CPU
/// code) or Hybrid's GPU runtime (a GPU module's host code).
static LogicalResult link(ModuleOp module, ArrayRef<std::string> objects,
                          StringRef output, bool parallel, bool gpuRuntime) {
  llvm::ErrorOr<std::string> driver = llvm::sys::findProgramByName("cc");
  if (!driver)
    driver = llvm::sys::findProgramByName("clang-22");
  if (!driver)
    return module.emitError("no system linker driver ('cc') on PATH");
  std::string ompDir = HYBRID_OPENMP_LIBRARY_DIR;
  SmallVector<std::string> args = {*driver, "-shared", "-o", output.str()};
  args.append(objects.begin(), objects.end());
  if (parallel) {
    args.push_back("-L" + ompDir);
    args.push_back("-Wl,-rpath," + ompDir);
    args.push_back("-lomp");
  }
  if (gpuRuntime) {
    std::string runtimeDir = HYBRID_RUNTIME_LIBRARY_DIR;
    args.push_back("-L" + runtimeDir);
    args.push_back("-Wl,-rpath," + runtimeDir);
    args.push_back("-lhybrid_runtime_cuda");
  }
  args.push_back("-lm");
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string errorMessage;
  int rc = llvm::sys::ExecuteAndWait(*driver, argRefs, std::nullopt, {}, 0, 0,
                                     &errorMessage);
  if (rc != 0)
    return module.emitError() << "linking " << output << " failed ("
                              << (errorMessage.empty() ? "exit code " +
                                                             std::to_string(rc)
                                                       : errorMessage)
                              << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

LogicalResult mlir::hybrid::compileToSharedObject(
    ModuleOp module, StringRef outputPath, const CompileOptions &options) {
  MLIRContext *ctx = module.getContext();

  // Phase timings for --verbose: a long compile shows where it is.
  auto phaseStart = std::chrono::steady_clock::now();
  auto phaseDone = [&](StringRef phase) {
    auto now = std::chrono::steady_clock::now();
    if (options.phaseLog) {
      *options.phaseLog << llvm::format(
          "  %-22s %8.1f ms\n", phase.str().c_str(),
          std::chrono::duration<double, std::milli>(now - phaseStart).count());
      options.phaseLog->flush();
    }
    phaseStart = now;
  };

  PassManager pm(ctx);
  bool gpu = options.target == CompileTarget::NVPTX;
  if (gpu) {
    HybridGPUPipelineOptions pipelineOptions;
    pipelineOptions.chip = options.gpuChip;
    buildHybridGPUPipeline(pm, pipelineOptions);
  } else {
    HybridCPUPipelineOptions pipelineOptions;
    pipelineOptions.parallel = options.parallel;
    pipelineOptions.vectorWidth = options.vectorWidth;
    pipelineOptions.sparse = options.sparse;
    pipelineOptions.gqaLayout = options.gqaLayout;
    pipelineOptions.contextLength = options.contextLength;
    pipelineOptions.treeSize = options.treeSize;
    if (options.vectorWidth <= 0) {
      llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
      pipelineOptions.vectorWidth = features.lookup("avx512f") ? 16 : 8;
    }
    buildHybridCPUPipeline(pm, pipelineOptions);
  }
  if (failed(pm.run(module)))
    return failure();
  phaseDone("MLIR passes");

  // The entry points' signatures, as hybrid-export-entry-points recorded
  // them (tensor level, after the passes that choose parameter layouts).
  auto described = module->getAttrOfType<StringAttr>(kEntryPointsAttrName);
  llvm::Expected<llvm::json::Value> parsed =
      described ? llvm::json::parse(described.getValue())
                : llvm::Expected<llvm::json::Value>(llvm::json::Value(nullptr));
  if (!parsed)
    return module.emitError() << "malformed " << kEntryPointsAttrName << ": "
                              << llvm::toString(parsed.takeError());
  std::optional<llvm::json::Array> entries;
  if (llvm::json::Array *array = parsed->getAsArray())
    entries = std::move(*array);
  if (!entries)
    return module.emitError()
           << "the pipeline recorded no entry points (" << kEntryPointsAttrName
           << ")";
  for (llvm::json::Value &entry : *entries) {
    llvm::json::Object &object = *entry.getAsObject();
    object["symbol"] = (kEntryPrefix + *object.getString("name")).str();
  }

  llvm::json::Array errors;
  if (auto messages = module->getAttrOfType<ArrayAttr>(kErrorMessagesAttrName))
    for (auto message : messages.getAsRange<StringAttr>())
      errors.push_back(message.getValue());

  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // gpu.binary: a global holding the PTX and a constructor that loads it
  // through the runtime (mgpuModuleLoadJIT).
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  ctx->appendDialectRegistry(registry);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> mod =
      translateModuleToLLVMIR(module, llvmContext, "hybrid_module");
  if (!mod)
    return module.emitError("translation to LLVM IR failed");
  phaseDone("translation to LLVM IR");

  std::unique_ptr<llvm::TargetMachine> tm =
      createHostTargetMachine(module, options.optLevel);
  if (!tm)
    return failure();
  mod->setTargetTriple(tm->getTargetTriple());
  mod->setDataLayout(tm->createDataLayout());

  llvm::StringSet<> entryNames;
  for (const llvm::json::Value &entry : *entries) {
    StringRef name = *entry.getAsObject()->getString("name");
    entryNames.insert(name);
    if (failed(addPackedWrapper(*mod, name, module)))
      return failure();
  }
  llvm::json::Object metadata{
      {"format", "hybrid-module"},
      {"version", 1},
      {"target", tm->getTargetTriple().str()},
      {"cpu", tm->getTargetCPU().str()},
      {"parallel", !gpu && options.parallel},
      {"device", gpu ? getGPUChipName(options.gpuChip).str() : "cpu"},
      {"entries", std::move(*entries)},
      {"errors", std::move(errors)}};
  std::string json;
  llvm::raw_string_ostream(json) << llvm::json::Value(std::move(metadata));
  addMetadataString(*mod, json);

  // Only the packed entries, the metadata, the error code and cell setter
  // and the MoE activity counters are the module's interface. Everything else is hidden, so that a user function
  // named like a libc symbol (`select`, `free`) binds to itself.
  for (llvm::GlobalValue &value : mod->global_values()) {
    if (value.isDeclaration() || value.hasLocalLinkage())
      continue;
    StringRef name = value.getName();
    if (name.starts_with(kEntryPrefix) || name == kMetadataSymbol ||
        name == kErrorCodeSymbol || name == kSetErrorCellSymbol ||
        name == kMoEActivitySymbol)
      continue;
    value.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }

  // Glue (entry points, their wrappers, layer functions) moves descriptors
  // between calls in long basic blocks, where the post-RA scheduler of the
  // host's tuning is quadratic and gains nothing; the kernels keep it.
  // The entry points and their C wrappers are straight-line descriptor
  // shuffles around calls, hundreds of stores long for a deep model, where
  // the DAG combiner's store merging is quadratic (45 s of a 24-layer
  // MiniCPM4's code generation): they are compiled without optimisation.
  for (llvm::Function &fn : *mod) {
    if (fn.isDeclaration() || fn.getName().starts_with("__hybrid_"))
      continue;
    fn.addFnAttr("tune-cpu", "generic");
    StringRef name = fn.getName();
    if (name.starts_with(kEntryPrefix))
      name = name.drop_front(kEntryPrefix.size());
    else if (name.starts_with("_mlir_ciface_"))
      name = name.drop_front(strlen("_mlir_ciface_"));
    if (entryNames.contains(name)) {
      fn.removeFnAttr(llvm::Attribute::AlwaysInline);
      fn.addFnAttr(llvm::Attribute::NoInline);
      fn.addFnAttr(llvm::Attribute::OptimizeNone);
    }
  }

  SmallVector<std::string> objects;
  SmallVector<llvm::FileRemover> removers;
  if (failed(optimizeAndEmit(module, *mod, options.optLevel,
                             options.instrumentAddresses,
                             options.compileThreads, objects, removers)))
    return failure();
  phaseDone(("LLVM opt + codegen (" + Twine(objects.size()) + " thread" +
             (objects.size() == 1 ? ")" : "s)"))
                .str());
  if (failed(link(module, objects, outputPath, !gpu && options.parallel,
                  /*gpuRuntime=*/gpu)))
    return failure();
  phaseDone("link");
  return success();
}
