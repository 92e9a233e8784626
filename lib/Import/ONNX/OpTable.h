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

#include "mlir/IR/Builders.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <optional>

namespace mlir::hybrid::onnx_import {

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

  /// Input `i`, or null when omitted (an empty name or past the end).
  Value input(size_t i) const { return i < inputs.size() ? inputs[i] : Value(); }
  const onnx::AttributeProto *attribute(StringRef name) const;
  std::optional<int64_t> intAttr(StringRef name) const;
  std::optional<float> floatAttr(StringRef name) const;
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

/// Every op the importer knows.
ArrayRef<OpEntry> opTable();

/// The op families, one file each.
void addAttentionOps(SmallVectorImpl<OpEntry> &table);
void addMatMulOps(SmallVectorImpl<OpEntry> &table);
void addNormOps(SmallVectorImpl<OpEntry> &table);
void addSoftmaxOps(SmallVectorImpl<OpEntry> &table);

} // namespace mlir::hybrid::onnx_import

#endif // HYBRID_LIB_IMPORT_ONNX_OPTABLE_H
