//===- ONNXImporter.cpp - ONNX models into the hybrid dialect -------------===//

#include "hybrid/Import/ONNX/ONNXImporter.h"

#include "OpTable.h"

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <limits>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

const onnx::AttributeProto *NodeContext::attribute(StringRef name) const {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

std::optional<int64_t> NodeContext::intAttr(StringRef name) const {
  const onnx::AttributeProto *a = attribute(name);
  if (!a || a->type() != onnx::AttributeProto::INT)
    return std::nullopt;
  return a->i();
}

std::optional<float> NodeContext::floatAttr(StringRef name) const {
  const onnx::AttributeProto *a = attribute(name);
  if (!a || a->type() != onnx::AttributeProto::FLOAT)
    return std::nullopt;
  return a->f();
}

InFlightDiagnostic NodeContext::error() const {
  return emitError(loc) << "node " << label << " ("
                        << (node.domain().empty() ? "ai.onnx"
                                                  : node.domain())
                        << "::" << node.op_type() << "-" << version << "): ";
}

ArrayRef<OpEntry> mlir::hybrid::onnx_import::opTable() {
  static SmallVector<OpEntry> table = [] {
    SmallVector<OpEntry> t;
    addAttentionOps(t);
    addNormOps(t);
    addSoftmaxOps(t);
    return t;
  }();
  return table;
}

//===----------------------------------------------------------------------===//
// Graph import
//===----------------------------------------------------------------------===//

namespace {

/// Initializers up to this size (shapes, scalars, small tables) become IR
/// constants; larger ones are weights, bound at run time.
constexpr int64_t kMaxInlineConstantBytes = 4096;

/// The MLIR element type of an ONNX tensor element type, if supported.
Type elementType(Builder &b, int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::INT64:
    return b.getI64Type();
  case onnx::TensorProto::INT32:
    return b.getI32Type();
  case onnx::TensorProto::INT8:
    return b.getI8Type();
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return Type();
  }
}

class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, StringRef fileName,
                const ONNXImportOptions &options)
      : b(ctx), fileName(fileName), options(options) {}

  OwningOpRef<ModuleOp> import(const onnx::ModelProto &model);

private:
  Location loc(StringRef what) {
    return NameLoc::get(b.getStringAttr(what),
                        FileLineColLoc::get(b.getStringAttr(fileName), 0, 0));
  }
  /// The tensor type a graph input or output declares.
  FailureOr<RankedTensorType> declaredType(const onnx::ValueInfoProto &info);
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  /// A small initializer as an `arith.constant` (weights are run-time
  /// parameters, not constants).
  FailureOr<Value> importConstant(const onnx::TensorProto &t);

  OpBuilder b;
  std::string fileName;
  const ONNXImportOptions &options;
  llvm::StringMap<int64_t> opsets;
  llvm::StringMap<Value> values;
};

FailureOr<RankedTensorType>
GraphImporter::declaredType(const onnx::ValueInfoProto &info) {
  Location l = loc(info.name());
  if (!info.type().has_tensor_type())
    return emitError(l) << "'" << info.name()
                        << "' is not a tensor (sequences, maps and optionals "
                           "are not supported)";
  const onnx::TypeProto::Tensor &t = info.type().tensor_type();
  Type element = elementType(b, t.elem_type());
  if (!element)
    return emitError(l) << "'" << info.name() << "' has element type "
                        << onnx::TensorProto::DataType_Name(
                               static_cast<onnx::TensorProto::DataType>(
                                   t.elem_type()))
                        << ", which is not supported";
  if (!t.has_shape())
    return emitError(l) << "'" << info.name()
                        << "' has no shape: the rank must be known";
  SmallVector<int64_t> shape;
  for (const onnx::TensorShapeProto::Dimension &d : t.shape().dim()) {
    auto fixed = d.has_dim_param() ? options.fixedDims.find(d.dim_param())
                                   : options.fixedDims.end();
    shape.push_back(d.has_dim_value()                 ? d.dim_value()
                    : fixed != options.fixedDims.end() ? fixed->second
                                                       : ShapedType::kDynamic);
  }
  return RankedTensorType::get(shape, element);
}

FailureOr<Value> GraphImporter::importConstant(const onnx::TensorProto &t) {
  Location l = loc(t.name());
  Type element = elementType(b, t.data_type());
  if (!element)
    return emitError(l) << "initializer '" << t.name()
                        << "' has an element type that is not supported";
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return emitError(l) << "initializer '" << t.name()
                        << "': external data (weights bound at run time) is "
                           "not supported yet";
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return emitError(l) << "initializer '" << t.name()
                          << "' has a negative dimension";
    count *= d;
  }
  int64_t width = std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  if (count * width > kMaxInlineConstantBytes)
    return emitError(l) << "initializer '" << t.name() << "' holds "
                        << count * width
                        << " bytes: weights bound at run time (parameters) "
                           "are not supported yet (constants up to "
                        << kMaxInlineConstantBytes << " bytes are)";
  // The elements as raw little-endian bytes of the element type.
  std::string raw;
  if (t.has_raw_data()) {
    raw = t.raw_data();
  } else if (t.data_type() == onnx::TensorProto::FLOAT) {
    raw.assign(reinterpret_cast<const char *>(t.float_data().data()),
               t.float_data_size() * 4);
  } else if (t.data_type() == onnx::TensorProto::DOUBLE) {
    raw.assign(reinterpret_cast<const char *>(t.double_data().data()),
               t.double_data_size() * 8);
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    raw.assign(reinterpret_cast<const char *>(t.int64_data().data()),
               t.int64_data_size() * 8);
  } else {
    // int32, int8, bool, f16 and bf16 travel in int32_data.
    for (int32_t v : t.int32_data())
      raw.append(reinterpret_cast<const char *>(&v), width);
  }
  if (static_cast<int64_t>(raw.size()) != count * width)
    return emitError(l) << "initializer '" << t.name() << "' holds "
                        << raw.size() << " bytes of data for " << count
                        << " elements";
  auto type = RankedTensorType::get(shape, element);
  DenseElementsAttr attr;
  if (element.isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : raw)
      bits.push_back(c != 0);
    attr = DenseElementsAttr::get(type, bits);
  } else {
    attr = DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(raw.data(), raw.size()));
  }
  return arith::ConstantOp::create(b, l, attr).getResult();
}

LogicalResult GraphImporter::importNode(const onnx::NodeProto &node,
                                        int index) {
  std::string label = node.name().empty()
                          ? "#" + std::to_string(index) + " (unnamed)"
                          : "'" + node.name() + "'";
  Location l = loc(node.name().empty() ? node.op_type() : node.name());
  StringRef domain = node.domain();
  if (domain == "ai.onnx")
    domain = "";
  auto opset = opsets.find(domain);
  if (opset == opsets.end())
    return emitError(l) << "node " << label << " (" << node.op_type()
                        << ") is in domain '" << node.domain()
                        << "', which the model does not import";
  int64_t version = opset->second;
  const OpEntry *entry = nullptr;
  SmallVector<std::string> supported;
  for (const OpEntry &e : opTable()) {
    if (e.domain != domain || e.opType != node.op_type())
      continue;
    if (version >= e.minVersion && version <= e.maxVersion) {
      entry = &e;
      break;
    }
    supported.push_back(std::to_string(e.minVersion) + "-" +
                        std::to_string(e.maxVersion));
  }
  if (!entry) {
    InFlightDiagnostic diag = emitError(l)
                              << "node " << label << ": "
                              << (domain.empty() ? "ai.onnx" : domain) << "::"
                              << node.op_type() << " at opset " << version
                              << " is not supported";
    if (supported.empty())
      diag << " (the importer does not know this op)";
    else
      diag << " (supported opsets: " << llvm::join(supported, ", ") << ")";
    return diag;
  }
  NodeContext nc{b, l, node, label, version, {}};
  for (const std::string &name : node.input()) {
    if (name.empty()) {
      nc.inputs.push_back(Value());
      continue;
    }
    auto it = values.find(name);
    if (it == values.end())
      return emitError(l) << "node " << label << " reads '" << name
                          << "', which no earlier node, input or initializer "
                             "defines (graphs must be in topological order)";
    nc.inputs.push_back(it->second);
  }
  FailureOr<SmallVector<Value>> results = entry->convert(nc);
  if (failed(results))
    return failure();
  for (auto [i, name] : llvm::enumerate(node.output())) {
    if (name.empty())
      continue;
    Value v = i < results->size() ? (*results)[i] : Value();
    if (!v)
      return nc.error() << "output " << i << " ('" << name
                        << "') is not supported";
    if (values.count(name))
      return emitError(l) << "node " << label << " defines '" << name
                          << "', which is already defined (a graph is in SSA "
                             "form)";
    values[name] = v;
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::import(const onnx::ModelProto &model) {
  const onnx::GraphProto &graph = model.graph();
  for (const onnx::OperatorSetIdProto &o : model.opset_import())
    opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = o.version();

  OwningOpRef<ModuleOp> module = ModuleOp::create(loc(fileName));
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argTypes, resultTypes;
  SmallVector<std::string> argNames;
  for (const onnx::ValueInfoProto &in : graph.input()) {
    FailureOr<RankedTensorType> t = declaredType(in);
    if (failed(t))
      return nullptr;
    argTypes.push_back(*t);
    argNames.push_back(in.name());
  }
  for (const onnx::ValueInfoProto &out : graph.output()) {
    FailureOr<RankedTensorType> t = declaredType(out);
    if (failed(t))
      return nullptr;
    resultTypes.push_back(*t);
  }

  std::string name = graph.name().empty() ? "main" : graph.name();
  auto fn = func::FuncOp::create(b, loc(name), name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *body = fn.addEntryBlock();
  for (auto [i, arg] : llvm::enumerate(body->getArguments())) {
    values[argNames[i]] = arg;
    fn.setArgAttr(i, "hybrid.onnx_name", b.getStringAttr(argNames[i]));
  }
  b.setInsertionPointToStart(body);
  for (const onnx::TensorProto &init : graph.initializer()) {
    // An initializer that is also a graph input is that input's default:
    // the caller's value wins.
    if (values.count(init.name()))
      continue;
    FailureOr<Value> c = importConstant(init);
    if (failed(c))
      return nullptr;
    values[init.name()] = *c;
  }
  for (auto [i, node] : llvm::enumerate(graph.node()))
    if (failed(importNode(node, static_cast<int>(i))))
      return nullptr;
  SmallVector<Value> results;
  for (auto [i, out] : llvm::enumerate(graph.output())) {
    auto it = values.find(out.name());
    if (it == values.end()) {
      emitError(loc(out.name()))
          << "graph output '" << out.name() << "' is never defined";
      return nullptr;
    }
    Value v = it->second;
    // The declared type may be more precise than the computed one.
    if (v.getType() != resultTypes[i])
      v = tensor::CastOp::create(b, loc(out.name()), resultTypes[i], v);
    results.push_back(v);
  }
  func::ReturnOp::create(b, loc(name), results);
  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

} // namespace

OwningOpRef<ModuleOp>
mlir::hybrid::importONNXModel(StringRef bytes, StringRef name,
                              MLIRContext *context,
                              const ONNXImportOptions &options) {
  context->loadDialect<HybridDialect, func::FuncDialect, arith::ArithDialect,
                       linalg::LinalgDialect, math::MathDialect,
                       tensor::TensorDialect>();
  onnx::ModelProto model;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    emitError(FileLineColLoc::get(context, name, 0, 0))
        << "not a valid ONNX model (the protobuf does not parse)";
    return nullptr;
  }
  if (!model.has_graph()) {
    emitError(FileLineColLoc::get(context, name, 0, 0))
        << "the ONNX model has no graph";
    return nullptr;
  }
  GraphImporter importer(context, name, options);
  return importer.import(model);
}

OwningOpRef<ModuleOp>
mlir::hybrid::importONNXFile(StringRef path, MLIRContext *context,
                             const ONNXImportOptions &options) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer) {
    emitError(FileLineColLoc::get(context, path, 0, 0))
        << "cannot read " << path << ": " << buffer.getError().message();
    return nullptr;
  }
  return importONNXModel((*buffer)->getBuffer(), path, context, options);
}

void mlir::hybrid::registerONNXImportDialects(DialectRegistry &registry) {
  registry.insert<HybridDialect, func::FuncDialect, arith::ArithDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect>();
}
