//===- hybrid-import.cpp - ONNX models and HF checkpoints to MLIR ---------===//
//
//   hybrid-import model.onnx [-o model.mlir] [--emit-bytecode]
//                 [--dim name=size ...] [--no-raise]
//   hybrid-import CHECKPOINT_DIR [-o model.mlir] [--emit-bytecode]
//
// Prints the imported module. From ONNX: the hybrid dialect where ONNX has
// the op, upstream dialects for the rest, after the import pipeline that
// raises the opset-17 spellings of attention, RMSNorm and rotary
// embeddings to hybrid ops. From a Hugging Face checkpoint folder
// (config.json + safetensors): the decoder's forward pass with its weights
// as parameters. Problems are diagnostics on stderr and a non-zero exit.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Import/HF/HFImporter.h"
#include "hybrid/Import/ONNX/ONNXImporter.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace llvm;

/// This tool's options: --help lists them alone (LLVM's own are hidden,
/// and still parse).
static cl::OptionCategory toolOptions("hybrid-import options");
static cl::opt<std::string> inputPath(cl::cat(toolOptions), cl::Positional, cl::Required,
                                      cl::desc("<model.onnx | checkpoint folder>"));
static cl::opt<std::string> outputPath(cl::cat(toolOptions), "o", cl::init("-"),
                                       cl::desc("Output file (default: stdout)"),
                                       cl::value_desc("file"));
static cl::opt<bool> emitBytecode(cl::cat(toolOptions), "emit-bytecode",
                                  cl::desc("Write MLIR bytecode, not text"));
static cl::list<std::string>
    fixedDims(cl::cat(toolOptions), "dim", cl::desc("Give a symbolic dim a fixed size: "
                              "--dim batch=1 (repeat per dim)"),
              cl::value_desc("name=size"));

static cl::opt<bool>
    noRaise(cl::cat(toolOptions), "no-raise", cl::desc("Stop before the import pipeline: the graph "
                                 "node for node, nothing raised"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv, "Import ONNX models into Hybrid\n");
  mlir::DialectRegistry registry;
  mlir::hybrid::registerONNXImportDialects(registry);
  mlir::hybrid::registerHFImportDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::hybrid::ONNXImportOptions options;
  options.raise = !noRaise;
  for (const std::string &dim : fixedDims) {
    StringRef name, size;
    std::tie(name, size) = StringRef(dim).split('=');
    int64_t value;
    if (name.empty() || size.getAsInteger(10, value) || value < 0) {
      errs() << "hybrid-import: error: --dim expects name=size (a "
                "non-negative integer), got '"
             << dim << "'\n";
      return 1;
    }
    options.fixedDims[name] = value;
  }
  bool folder = sys::fs::is_directory(inputPath);
  if (folder && (!fixedDims.empty() || noRaise)) {
    errs() << "hybrid-import: error: --dim and --no-raise apply to ONNX "
              "models, not to checkpoint folders\n";
    return 1;
  }
  mlir::OwningOpRef<mlir::ModuleOp> module =
      folder ? mlir::hybrid::importHFFolder(inputPath, &context)
             : mlir::hybrid::importONNXFile(inputPath, &context, options);
  if (!module)
    return 1;
  std::string error;
  auto output = mlir::openOutputFile(outputPath, &error);
  if (!output) {
    errs() << "hybrid-import: " << error << "\n";
    return 1;
  }
  if (emitBytecode) {
    if (failed(mlir::writeBytecodeToFile(*module, output->os())))
      return 1;
  } else {
    module->print(output->os());
  }
  output->keep();
  return 0;
}
