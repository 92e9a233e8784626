//===- ONNXImporter.cpp - ONNX models into the hybrid dialect -------------===//

#include "hybrid/Import/ONNX/ONNXImporter.h"

#include "ModelSkeleton.h"
#include "OpTable.h"

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/IR/TensorInferTypeOpInterfaceImpl.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

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

std::optional<SmallVector<int64_t>>
NodeContext::intsAttr(StringRef name) const {
  const onnx::AttributeProto *a = attribute(name);
  if (!a || a->type() != onnx::AttributeProto::INTS)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

std::optional<KnownInts> NodeContext::known(size_t i) const {
  Value v = input(i);
  if (!v)
    return std::nullopt;
  auto it = state.known.find(v);
  if (it != state.known.end())
    return it->second;
  // Small integer constants are known too.
  DenseIntElementsAttr attr;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() > 1 || !matchPattern(v, m_Constant(&attr)) ||
      attr.getNumElements() > 1024)
    return std::nullopt;
  KnownInts ints;
  for (const APInt &x : attr.getValues<APInt>())
    ints.push_back(b.getI64IntegerAttr(
        attr.getElementType().isInteger(1) ? x.getZExtValue()
                                           : x.getSExtValue()));
  return ints;
}

std::optional<SmallVector<int64_t>> NodeContext::constantInts(size_t i) const {
  std::optional<KnownInts> ints = known(i);
  if (!ints)
    return std::nullopt;
  SmallVector<int64_t> values;
  for (OpFoldResult x : *ints) {
    std::optional<int64_t> c = getConstantIntValue(x);
    if (!c)
      return std::nullopt;
    values.push_back(*c);
  }
  return values;
}

Value NodeContext::makeKnown(const KnownInts &ints, RankedTensorType type) {
  Type element = type.getElementType();
  SmallVector<Value> elements;
  for (OpFoldResult x : ints) {
    if (std::optional<int64_t> c = getConstantIntValue(x)) {
      elements.push_back(arith::ConstantOp::create(
          b, loc, IntegerAttr::get(element, *c)));
      continue;
    }
    Value v = cast<Value>(x);
    if (element.isInteger(1))
      elements.push_back(arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ne, v,
          arith::ConstantIndexOp::create(b, loc, 0)));
    else
      elements.push_back(arith::IndexCastOp::create(b, loc, element, v));
  }
  Value t = tensor::FromElementsOp::create(b, loc, type, elements);
  state.known[t] = ints;
  return t;
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
    addElementwiseOps(t);
    addGroupQueryAttention(t);
    addMatMulOps(t);
    addNormOps(t);
    addReduceOps(t);
    addShapeOps(t);
    addSoftmaxOps(t);
    return t;
  }();
  return table;
}

/// The MLIR element type of an ONNX tensor element type, if supported.
Type mlir::hybrid::onnx_import::elementType(Builder &b, int32_t onnxType) {
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

FailureOr<std::string>
mlir::hybrid::onnx_import::inlineTensorBytes(Builder &b, Location l,
                                             const onnx::TensorProto &t,
                                             int64_t expected) {
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
    Type element = elementType(b, t.data_type());
    unsigned width = std::max(1u, element.getIntOrFloatBitWidth() / 8);
    for (int32_t v : t.int32_data())
      raw.append(reinterpret_cast<const char *>(&v), width);
  }
  if (static_cast<int64_t>(raw.size()) != expected)
    return emitError(l)
           << "tensor '" << t.name() << "' holds " << raw.size()
           << " bytes of data where its shape needs " << expected;
  return raw;
}

DenseElementsAttr
mlir::hybrid::onnx_import::denseFromBytes(RankedTensorType type,
                                          StringRef bytes) {
  if (type.getElementType().isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : bytes)
      bits.push_back(c != 0);
    return DenseElementsAttr::get(type, bits);
  }
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(bytes.data(), bytes.size()));
}

FailureOr<DenseElementsAttr>
mlir::hybrid::onnx_import::inlineTensorAttr(Builder &b, Location l,
                                            const onnx::TensorProto &t) {
  Type element = elementType(b, t.data_type());
  if (!element)
    return emitError(l) << "tensor '" << t.name()
                        << "' has an element type that is not supported";
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return emitError(l) << "tensor '" << t.name()
                        << "' keeps its data outside the model";
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > (int64_t(1) << 40) / d))
      return emitError(l) << "tensor '" << t.name()
                          << "' has an invalid shape";
    count *= d;
  }
  int64_t width = std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  FailureOr<std::string> bytes = inlineTensorBytes(b, l, t, count * width);
  if (failed(bytes))
    return failure();
  return denseFromBytes(RankedTensorType::get(shape, element), *bytes);
}

//===----------------------------------------------------------------------===//
// Graph import
//===----------------------------------------------------------------------===//

namespace {

/// Initializers up to this size (shapes, scalars, small tables) become IR
/// constants; larger ones are weights, bound at run time.
constexpr uint64_t kMaxInlineConstantBytes = 4096;

class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, StringRef fileName,
                const ONNXImportOptions &options)
      : b(ctx), fileName(fileName), options(options) {}

  OwningOpRef<ModuleOp> import(const onnx::ModelProto &model,
                               const ModelSkeleton &skeleton);

private:
  Location loc(StringRef what) {
    return NameLoc::get(b.getStringAttr(what),
                        FileLineColLoc::get(b.getStringAttr(fileName), 0, 0));
  }
  /// The tensor type a graph input or output declares.
  FailureOr<RankedTensorType> declaredType(const onnx::ValueInfoProto &info);
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  /// How an initializer enters the function: its type, and either the
  /// bytes of a small constant or the parameter a large one is bound to.
  struct Initializer {
    const onnx::TensorProto *proto;
    RankedTensorType type;
    std::string bytes;
    ParameterAttr parameter;
  };
  FailureOr<Initializer> classify(const onnx::TensorProto &t,
                                  const std::optional<PayloadSpan> &cut);
  /// An external-data initializer: the file checked to lie in the model's
  /// folder and to hold the range; small ones are read.
  LogicalResult bindExternal(Initializer &init, int64_t bytes);
  Value constant(const Initializer &init);

  OpBuilder b;
  /// The model file; parameters name files relative to its folder.
  std::string fileName;
  const ONNXImportOptions &options;
  llvm::StringMap<int64_t> opsets;
  llvm::StringMap<Value> values;
  ImportState state;
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

FailureOr<GraphImporter::Initializer>
GraphImporter::classify(const onnx::TensorProto &t,
                        const std::optional<PayloadSpan> &cut) {
  Location l = loc(t.name());
  Type element = elementType(b, t.data_type());
  if (!element)
    return emitError(l) << "initializer '" << t.name()
                        << "' has an element type that is not supported";
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  int64_t count = 1;
  int64_t width = std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > std::numeric_limits<int64_t>::max() /
                                       width / d))
      return emitError(l) << "initializer '" << t.name()
                          << "' has an invalid shape";
    count *= d;
  }
  Initializer init{&t, RankedTensorType::get(shape, element), {}, {}};
  int64_t bytes = count * width;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    if (failed(bindExternal(init, bytes)))
      return failure();
    return init;
  }
  if (cut) {
    // A payload cut from the skeleton: bound in place from the model file.
    bool fits = cut->field == kRawDataField ||
                (cut->field == kFloatDataField &&
                 t.data_type() == onnx::TensorProto::FLOAT) ||
                (cut->field == kDoubleDataField &&
                 t.data_type() == onnx::TensorProto::DOUBLE);
    if (!fits || static_cast<int64_t>(cut->length) != bytes)
      return emitError(l) << "initializer '" << t.name() << "' holds "
                          << cut->length << " bytes of data for " << count
                          << " elements of " << element;
    init.parameter = ParameterAttr::get(
        b.getContext(), b.getStringAttr(t.name()),
        b.getStringAttr(llvm::sys::path::filename(fileName)),
        static_cast<int64_t>(cut->offset), bytes);
    return init;
  }
  if (bytes > static_cast<int64_t>(kMaxInlineConstantBytes))
    return emitError(l) << "initializer '" << t.name() << "' holds " << bytes
                        << " bytes in a varint field; weights are bound in "
                           "place, so they must be stored as raw_data or as "
                           "external data";
  FailureOr<std::string> raw = inlineTensorBytes(b, l, t, bytes);
  if (failed(raw))
    return failure();
  init.bytes = std::move(*raw);
  return init;
}

LogicalResult GraphImporter::bindExternal(Initializer &init, int64_t bytes) {
  const onnx::TensorProto &t = *init.proto;
  Location l = loc(t.name());
  std::string location;
  int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto &kv : t.external_data()) {
    auto number = [&](int64_t &out) {
      return !StringRef(kv.value()).getAsInteger(10, out) && out >= 0;
    };
    if (kv.key() == "location")
      location = kv.value();
    else if ((kv.key() == "offset" && !number(offset)) ||
             (kv.key() == "length" && !number(length)))
      return emitError(l) << "initializer '" << t.name() << "': external "
                          << kv.key() << " '" << kv.value()
                          << "' is not a byte count";
  }
  if (length < 0)
    length = bytes;
  auto refuse = [&](StringRef why) {
    return emitError(l) << "initializer '" << t.name() << "': external data '"
                        << location << "' " << why;
  };
  if (location.empty())
    return emitError(l) << "initializer '" << t.name()
                        << "' is external but names no location";
  if (length != bytes)
    return refuse("is " + std::to_string(length) + " bytes, but the shape "
                  "needs " + std::to_string(bytes));
  // Relative to the model's folder, and inside it once links are resolved.
  SmallVector<StringRef> parts;
  StringRef(location).split(parts, '/');
  if (llvm::sys::path::is_absolute(location) || llvm::is_contained(parts, ".."))
    return refuse("must be a path inside the model's folder");
  SmallString<256> folder(llvm::sys::path::parent_path(fileName));
  if (folder.empty())
    folder = ".";
  SmallString<256> path(folder);
  llvm::sys::path::append(path, location);
  SmallString<256> realFolder, realPath;
  if (llvm::sys::fs::real_path(folder, realFolder))
    return refuse("cannot be resolved: the model's folder is unreadable");
  if (std::error_code ec = llvm::sys::fs::real_path(path, realPath))
    return refuse("cannot be opened: " + ec.message());
  if (!StringRef(realPath).starts_with((realFolder + "/").str()))
    return refuse("leaves the model's folder through a link");
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(realPath, status) ||
      status.type() != llvm::sys::fs::file_type::regular_file)
    return refuse("is not a regular file");
  if (static_cast<uint64_t>(offset) > status.getSize() ||
      static_cast<uint64_t>(length) > status.getSize() - offset)
    return refuse("is " + std::to_string(status.getSize()) +
                  " bytes, too short for " + std::to_string(length) +
                  " bytes at offset " + std::to_string(offset));
  if (bytes > static_cast<int64_t>(kMaxInlineConstantBytes)) {
    init.parameter = ParameterAttr::get(
        b.getContext(), b.getStringAttr(t.name()),
        b.getStringAttr(llvm::sys::path::convert_to_slash(location)), offset,
        bytes);
    return success();
  }
  auto buffer = llvm::MemoryBuffer::getFileSlice(realPath, length, offset,
                                                 /*IsVolatile=*/false);
  if (!buffer)
    return refuse("cannot be read: " + buffer.getError().message());
  init.bytes = (*buffer)->getBuffer().str();
  return success();
}

Value GraphImporter::constant(const Initializer &init) {
  return arith::ConstantOp::create(b, loc(init.proto->name()),
                                   denseFromBytes(init.type, init.bytes))
      .getResult();
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
  NodeContext nc{b, l, node, label, version, {}, state};
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

OwningOpRef<ModuleOp>
GraphImporter::import(const onnx::ModelProto &model,
                      const ModelSkeleton &skeleton) {
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
  // Initializers: small ones become constants; weights become parameter
  // arguments after the graph inputs. One that is also a graph input is
  // that input's default: the caller's value wins.
  SmallVector<Initializer> constants, parameters;
  for (auto [i, proto] : llvm::enumerate(graph.initializer())) {
    if (llvm::is_contained(argNames, proto.name()))
      continue;
    std::optional<PayloadSpan> cut;
    if (i < skeleton.payloads.size())
      cut = skeleton.payloads[i];
    FailureOr<Initializer> init = classify(proto, cut);
    if (failed(init))
      return nullptr;
    (init->parameter ? parameters : constants).push_back(std::move(*init));
  }
  for (const Initializer &p : parameters)
    argTypes.push_back(p.type);

  std::string name = graph.name().empty() ? "main" : graph.name();
  auto fn = func::FuncOp::create(b, loc(name), name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *body = fn.addEntryBlock();
  for (auto [i, argName] : llvm::enumerate(argNames)) {
    values[argName] = body->getArgument(i);
    fn.setArgAttr(i, "hybrid.arg_name", b.getStringAttr(argName));
  }
  for (auto [i, p] : llvm::enumerate(parameters)) {
    unsigned index = argNames.size() + i;
    values[p.proto->name()] = body->getArgument(index);
    fn.setArgAttr(index, ParameterAttr::getArgAttrName(), p.parameter);
  }
  b.setInsertionPointToStart(body);
  for (const Initializer &c : constants)
    values[c.proto->name()] = constant(c);
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
  // Shape arithmetic the importer folded leaves values nothing reads.
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
    if (isOpTriviallyDead(&op))
      op.erase();
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
                       scf::SCFDialect, tensor::TensorDialect>();
  // Weights stay in the file: only the skeleton is parsed.
  std::string error;
  std::optional<ModelSkeleton> skeleton =
      cutLargePayloads(bytes, kMaxInlineConstantBytes, error);
  if (!skeleton) {
    emitError(FileLineColLoc::get(context, name, 0, 0))
        << "not a valid ONNX model: " << error;
    return nullptr;
  }
  onnx::ModelProto model;
  if (skeleton->bytes.size() >
          static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(skeleton->bytes.data(),
                            static_cast<int>(skeleton->bytes.size()))) {
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
  OwningOpRef<ModuleOp> module = importer.import(model, *skeleton);
  if (!module || !options.raise)
    return module;
  PassManager pm(context);
  pm.addPass(createHybridRaiseAttention());
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
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
  // Sizes of reshapes, read by the import pipeline's dim resolution.
  tensor::registerInferTypeOpInterfaceExternalModels(registry);
}
