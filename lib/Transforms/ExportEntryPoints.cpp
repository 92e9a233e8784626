//===- ExportEntryPoints.cpp - Mark runtime entry points ------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/Support/JSON.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDEXPORTENTRYPOINTS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

//===----------------------------------------------------------------------===//
// Entry-point metadata, read from the tensor-level signatures
//===----------------------------------------------------------------------===//

/// The runtime's dtype name of an element type, or "" when unsupported.
static std::string dtypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isF64())
    return "f64";
  if (type.isIndex() || type.isInteger(64))
    return "i64";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(8))
    return "i8";
  if (type.isInteger(1))
    return "bool";
  return "";
}

/// One argument or result: a ranked tensor, or (arguments only) a scalar.
static FailureOr<llvm::json::Object>
describeValue(func::FuncOp func, Type type, bool isResult, unsigned index) {
  llvm::json::Object desc;
  auto fail = [&](StringRef why) {
    return func.emitError() << "entry point @" << func.getSymName() << " "
                            << (isResult ? "result" : "argument") << " #"
                            << index << " of type " << type << ": " << why;
  };
  if (auto tensor = dyn_cast<RankedTensorType>(type)) {
    std::string dtype = dtypeName(tensor.getElementType());
    if (dtype.empty())
      return fail("unsupported element type");
    llvm::json::Array shape;
    for (int64_t d : tensor.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
    desc["kind"] = "tensor";
    desc["dtype"] = dtype;
    desc["shape"] = std::move(shape);
    return desc;
  }
  if (isResult)
    return fail("entry points return ranked tensors only");
  if (isa<IndexType, IntegerType, FloatType>(type)) {
    std::string dtype = dtypeName(type);
    if (dtype.empty() || dtype == "bool")
      return fail("unsupported scalar type");
    desc["kind"] = "scalar";
    desc["dtype"] = dtype;
    return desc;
  }
  return fail("entry points take ranked tensors and scalars only");
}

static FailureOr<llvm::json::Array> describeEntryPoints(ModuleOp module) {
  llvm::json::Array entries;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    llvm::json::Array args, results;
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
      auto desc = describeValue(func, type, /*isResult=*/false, i);
      if (failed(desc))
        return failure();
      // The model's name for the argument (set by the importers), and where
      // a weight lives.
      if (auto name = func.getArgAttrOfType<StringAttr>(i, "hybrid.arg_name"))
        (*desc)["name"] = name.getValue();
      // Updated in place by the call (hybrid.write_back): a KV cache.
      if (func.getArgAttr(i, "hybrid.inout"))
        (*desc)["inout"] = true;
      if (auto param = func.getArgAttrOfType<ParameterAttr>(
              i, ParameterAttr::getArgAttrName())) {
        llvm::json::Object source{{"key", param.getKey().getValue()},
                                  {"file", param.getFile().getValue()},
                                  {"offset", param.getOffset()},
                                  {"length", param.getLength()}};
        // Bound in column panels (hybrid-prepack-weights): the runtime
        // lays the file's rows out so.
        if (param.getPanels())
          source["panels"] = param.getPanels();
        // Bound transposed (hybrid-hoist-weight-transposes).
        if (DenseI64ArrayAttr perm = param.getPermutation())
          source["permutation"] = llvm::json::Array(perm.asArrayRef());
        // Some rows of the file's tensor (FR-Spec's draft head).
        if (DenseI64ArrayAttr rows = param.getRows())
          source["rows"] = llvm::json::Array(rows.asArrayRef());
        (*desc)["parameter"] = std::move(source);
      }
      args.push_back(std::move(*desc));
    }
    for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
      auto desc = describeValue(func, type, /*isResult=*/true, i);
      if (failed(desc))
        return failure();
      results.push_back(std::move(*desc));
    }
    entries.push_back(llvm::json::Object{
        {"name", func.getSymName()},
        {"args", std::move(args)},
        {"results", std::move(results)}});
  }
  if (entries.empty())
    return module.emitError("the module has no public function to export");
  return entries;
}

namespace {
struct HybridExportEntryPoints
    : hybrid::impl::HybridExportEntryPointsBase<HybridExportEntryPoints> {
  void runOnOperation() override {
    // The runtime's view first: the notes below are dropped.
    FailureOr<llvm::json::Array> entries = describeEntryPoints(getOperation());
    if (failed(entries))
      return signalPassFailure();
    std::string json;
    llvm::raw_string_ostream(json) << llvm::json::Value(std::move(*entries));
    getOperation()->setAttr(kEntryPointsAttrName,
                            StringAttr::get(&getContext(), json));
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
      // Importers' notes on arguments (an input's name, a parameter's
      // source) do not travel into the compiled code. Bufferization writes
      // only into arguments the entry point updates in place
      // (`hybrid.inout`, written by hybrid.write_back): parameters are
      // mapped read-only, and callers keep their inputs.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        if (isa<TensorType>(func.getArgumentTypes()[i]))
          func.setArgAttr(i, "bufferization.writable",
                          BoolAttr::get(&getContext(),
                                        bool(func.getArgAttr(i, "hybrid.inout"))));
        SmallVector<StringAttr> notes;
        for (NamedAttribute attr : mlir::function_interface_impl::getArgAttrs(
                 func, i))
          if (attr.getName().strref().starts_with("hybrid."))
            notes.push_back(attr.getName());
        for (StringAttr name : notes)
          func.removeArgAttr(i, name);
      }
    }
  }
};
} // namespace
