//===- OpTable.h - The ONNX ops the importer knows --------------*- C++ -*-===//
//
// One entry per (domain, op type) with the opset versions it implements and
// the function that builds the node's MLIR. A converter sees its node's
// inputs as MLIR values (null for an omitted optional input) and returns
// one value per node output (null for an output it does not produce).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_ONNX_OPTABLE_H
#define HYBRID_LIB_IMPORT_ONNX_OPTABLE_H

#include "hybrid/Import/TensorBuilders.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/DenseMap.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <optional>

namespace mlir::hybrid::onnx_import {

/// The shared tensor builders (hybrid/Import/TensorBuilders.h).
using namespace mlir::hybrid::import;

/// The elements of a small integer tensor (rank 0 or 1) that the importer
/// knows while it imports: constants, or `index` values such as a dynamic
/// dim. Exporters compute shapes with Shape, Gather, Concat, ... on these;
/// knowing them keeps Reshape and Expand results shaped, with dynamic dims
/// as SSA sizes, instead of data-dependent.
using KnownInts = SmallVector<OpFoldResult>;

/// What the importer keeps across nodes.
struct ImportState {
  llvm::DenseMap<Value, KnownInts> known;
};

/// What a converter is given for one node.
struct NodeContext {
  OpBuilder &b;
  Location loc;
  const onnx::NodeProto &node;
  /// How diagnostics name the node: its name, or its index.
  std::string label;
  /// The opset version the model imports for the node's domain.
  int64_t version;
  SmallVector<Value> inputs;
  ImportState &state;

  /// Input `i`, or null when omitted (an empty name or past the end).
  Value input(size_t i) const { return i < inputs.size() ? inputs[i] : Value(); }
  const onnx::AttributeProto *attribute(StringRef name) const;
  std::optional<int64_t> intAttr(StringRef name) const;
  std::optional<float> floatAttr(StringRef name) const;
  /// An INTS attribute.
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) const;
  /// The elements of input `i` when known (see KnownInts).
  std::optional<KnownInts> known(size_t i) const;
  /// Input `i` as constants, when every element is one.
  std::optional<SmallVector<int64_t>> constantInts(size_t i) const;
  /// A tensor of `type` (i64 or i1 elements, rank 0 or 1) holding `ints`,
  /// remembered as known.
  Value makeKnown(const KnownInts &ints, RankedTensorType type);
  /// Reports an error at the node, naming it.
  InFlightDiagnostic error() const;
};

using Converter = std::function<FailureOr<SmallVector<Value>>(NodeContext &)>;

struct OpEntry {
  StringRef domain; // "" is the default ONNX domain
  StringRef opType;
  int64_t minVersion, maxVersion;
  Converter convert;
};

/// The MLIR element type of an ONNX TensorProto data type, or null when
/// unsupported.
Type elementType(Builder &b, int32_t onnxType);

/// The bytes an inline TensorProto holds (raw_data or a typed field),
/// little-endian; `expected` is the size its shape needs.
FailureOr<std::string> inlineTensorBytes(Builder &b, Location loc,
                                         const onnx::TensorProto &t,
                                         int64_t expected);
/// Elements of `type` from little-endian bytes (bools one byte each).
DenseElementsAttr denseFromBytes(RankedTensorType type, StringRef bytes);
/// An inline TensorProto (a Constant node's value) as an attribute.
FailureOr<DenseElementsAttr> inlineTensorAttr(Builder &b, Location loc,
                                              const onnx::TensorProto &t);

/// Every op the importer knows.
ArrayRef<OpEntry> opTable();

/// The op families, one file each.
void addAttentionOps(SmallVectorImpl<OpEntry> &table);
void addGroupQueryAttention(SmallVectorImpl<OpEntry> &table);
void addElementwiseOps(SmallVectorImpl<OpEntry> &table);
void addShapeOps(SmallVectorImpl<OpEntry> &table);
void addReduceOps(SmallVectorImpl<OpEntry> &table);
void addMatMulOps(SmallVectorImpl<OpEntry> &table);
void addNormOps(SmallVectorImpl<OpEntry> &table);
void addSoftmaxOps(SmallVectorImpl<OpEntry> &table);

} // namespace mlir::hybrid::onnx_import

#endif // HYBRID_LIB_IMPORT_ONNX_OPTABLE_H
