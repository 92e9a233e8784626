//===- Compiler.cpp - hybrid.compile, hybrid.opt, hybrid.cost_report ------===//
//
// The compiler's entry points for Python: a source (MLIR text, or a path to
// MLIR, ONNX or a Hugging Face folder) to a loaded module; a pass pipeline
// over MLIR text; the cost model as JSON. Diagnostics are collected and
// raised as hybrid.CompileError carrying their text.
//
//===----------------------------------------------------------------------===//

#include "Bindings.h"

#include "hybrid/Analysis/CostModel.h"
#include "hybrid/Import/ImportSource.h"
#include "hybrid/InitAll.h"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/stl.h>

namespace py = pybind11;
using namespace mlir;
/// The compiler's namespace (`hybrid` alone is the runtime's).
namespace compiler = mlir::hybrid;

namespace hybrid::python {
namespace {

/// Collects every diagnostic of a context as "location: severity: text"
/// lines, for the exception a failure raises.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &context)
      : handler(&context, [this](Diagnostic &d) {
          llvm::raw_string_ostream os(text);
          if (auto file = dyn_cast<FileLineColLoc>(d.getLocation()))
            os << file.getFilename().getValue() << ":" << file.getLine()
               << ":" << file.getColumn() << ": ";
          else if (!isa<UnknownLoc>(d.getLocation()))
            os << d.getLocation() << ": ";
          os << (d.getSeverity() == DiagnosticSeverity::Error     ? "error: "
                 : d.getSeverity() == DiagnosticSeverity::Warning ? "warning: "
                                                                  : "note: ")
             << d << "\n";
          for (Diagnostic &note : d.getNotes())
            os << "  note: " << note << "\n";
          return success();
        }) {}

  /// Raises CompileError with what was collected, after `what`.
  [[noreturn]] void raise(const std::string &what) const {
    std::string message = what;
    if (!text.empty())
      message += ":\n" + text;
    while (!message.empty() && message.back() == '\n')
      message.pop_back();
    throw CompileError(message);
  }

private:
  std::string text;
  ScopedDiagnosticHandler handler;
};

/// The module `source` names or holds, and the folder its parameters are
/// relative to ("" for text).
OwningOpRef<ModuleOp> load(const std::string &source, MLIRContext &context,
                           llvm::SourceMgr &sourceMgr,
                           const compiler::HFImportOptions &hf,
                           std::string &folder) {
  if (compiler::isSourcePath(source)) {
    folder = llvm::sys::fs::is_directory(source)
                 ? source
                 : llvm::sys::path::parent_path(source).str();
    if (folder.empty())
      folder = ".";
    return compiler::importSource(source, &context, sourceMgr, hf);
  }
  folder.clear();
  return compiler::parseSourceText(source, "<string>", &context, sourceMgr);
}

compiler::SparseMode sparseMode(const std::string &name) {
  if (name == "none")
    return compiler::SparseMode::None;
  if (name == "auto")
    return compiler::SparseMode::Auto;
  throw py::value_error("sparse must be 'none' or 'auto', not '" + name + "'");
}

} // namespace

std::shared_ptr<Module> compile(const std::string &source,
                                const std::string &sparse, bool parallel,
                                const std::vector<std::string> &entries,
                                int64_t treeSize,
                                const std::string &parameters,
                                const std::string &target) {
  compiler::CompileOptions options;
  if (target == "nvptx")
    options.target = compiler::CompileTarget::NVPTX;
  else if (target != "cpu")
    throw py::value_error("target must be 'cpu' or 'nvptx', not '" + target +
                          "'");
  options.sparse = sparseMode(sparse);
  options.parallel = parallel;
  options.treeSize = treeSize;
  compiler::HFImportOptions hf;
  hf.entries.assign(entries.begin(), entries.end());

  SmallString<128> soPath;
  std::string folder;
  {
    py::gil_scoped_release unlocked; // compiling takes seconds
    MLIRContext context;
    DiagnosticCollector diagnostics(context);
    llvm::SourceMgr sourceMgr;
    OwningOpRef<ModuleOp> module =
        load(source, context, sourceMgr, hf, folder);
    if (!module) {
      py::gil_scoped_acquire locked;
      diagnostics.raise("cannot read the source");
    }
    if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
            "hybrid-python", "so", soPath)) {
      py::gil_scoped_acquire locked;
      throw CompileError("cannot create a temporary file: " + ec.message());
    }
    if (failed(compiler::compileToSharedObject(*module, soPath, options))) {
      llvm::sys::fs::remove(soPath);
      py::gil_scoped_acquire locked;
      diagnostics.raise("compilation failed");
    }
  }
  // Loaded, the file is no longer needed (the mapping stays).
  llvm::FileRemover remove(soPath);
  return Module::load(soPath.str().str(),
                      parameters.empty() ? folder : parameters);
}

/// MLIR text parsed in a context of its own, with its diagnostics
/// collected: what opt() and costReport() work on.
class ParsedText {
public:
  explicit ParsedText(const std::string &text) : diagnostics(context) {
    module = compiler::parseSourceText(text, "<string>", &context, sourceMgr);
    if (!module)
      diagnostics.raise("cannot parse the module");
  }
  MLIRContext context;
  DiagnosticCollector diagnostics;
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module;
};

std::string opt(const std::string &text, const std::string &pipeline) {
  ParsedText parsed(text);
  PassManager pm(&parsed.context);
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  if (failed(parsePassPipeline(pipeline, pm, errorStream)))
    throw py::value_error("pass pipeline '" + pipeline + "': " + error);
  if (failed(pm.run(*parsed.module)))
    parsed.diagnostics.raise("the pipeline failed");
  std::string out;
  llvm::raw_string_ostream os(out);
  parsed.module->print(os);
  return out;
}

std::string importModel(const std::string &path,
                        const std::vector<std::string> &entries) {
  if (!compiler::isSourcePath(path))
    throw py::value_error("import_model takes a path, not MLIR text");
  MLIRContext context;
  DiagnosticCollector diagnostics(context);
  llvm::SourceMgr sourceMgr;
  compiler::HFImportOptions hf;
  hf.entries.assign(entries.begin(), entries.end());
  OwningOpRef<ModuleOp> module =
      compiler::importSource(path, &context, sourceMgr, hf);
  if (!module)
    diagnostics.raise("cannot read " + path);
  std::string out;
  llvm::raw_string_ostream os(out);
  module->print(os);
  return out;
}

std::string costReport(const std::string &text, int64_t contextLength,
                       int64_t treeSize, double chunkSparsity) {
  ParsedText parsed(text);
  std::string out;
  llvm::raw_string_ostream(out) << llvm::json::Value(compiler::costReport(
      *parsed.module, {contextLength, treeSize, chunkSparsity}));
  return out;
}

void bindCompiler(py::module_ &m) {
  // Every hybrid and upstream pass, for opt() pipelines.
  compiler::registerAllPasses();
  m.def("compile", &compile, py::arg("source"), py::kw_only(),
        py::arg("sparse") = "none", py::arg("parallel") = true,
        py::arg("entries") = std::vector<std::string>{},
        py::arg("tree_size") = 0, py::arg("parameters") = "",
        py::arg("target") = "cpu",
        R"doc(Compiles a model into a loaded Module.

`source` is MLIR text, or the path of an .mlir file, an .onnx model or a
Hugging Face checkpoint folder. Weights (ONNX initializers, safetensors)
are bound from the model's folder. `sparse="auto"` turns causal attention
into InfLLM-V2 block-sparse attention; `entries` picks a checkpoint's entry
points (default: all); `tree_size` tells the cost model how many draft
nodes a verification step has. `parameters` is the folder weights are
bound from when `source` is text (an imported model's IR). Raises
CompileError with the diagnostics.)doc");
  m.def("import_model", &importModel, py::arg("path"),
        py::arg("entries") = std::vector<std::string>{},
        R"doc(The MLIR text of an imported model: an .onnx file or a Hugging
Face checkpoint folder (its `entries`, default all). Weights stay in the
model's files as parameters: compile the text with
`parameters=<the model's folder>`.)doc");
  m.def("_opt", &opt, py::arg("text"), py::arg("pipeline"));
  m.def("_cost_report", &costReport, py::arg("text"),
        py::arg("context_length"), py::arg("tree_size"),
        py::arg("chunk_sparsity"));
}

} // namespace hybrid::python
