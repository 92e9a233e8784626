//===- ModelSkeleton.h - An ONNX model without its weight bytes -*- C++ -*-===//
//
// A real model's initializers hold gigabytes. Parsing the ModelProto as is
// would copy all of them into memory, and protobuf refuses messages over
// 2 GB. The skeleton is the same protobuf with every large initializer
// payload cut out, re-encoded at the wire level without reading the
// payload bytes; where each payload lay in the file is kept, so that the
// runtime can memory-map it in place.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_ONNX_MODELSKELETON_H
#define HYBRID_LIB_IMPORT_ONNX_MODELSKELETON_H

#include "mlir/Support/LLVM.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::hybrid::onnx_import {

/// Where one initializer's payload lies in the model bytes.
struct PayloadSpan {
  uint64_t offset = 0;
  uint64_t length = 0;
  /// The TensorProto field it was in: raw_data, or packed float/double.
  int field = 0;
};

struct ModelSkeleton {
  /// The ModelProto without the cut payloads.
  std::string bytes;
  /// Per initializer of the main graph, in order: the payload that was cut,
  /// if any.
  std::vector<std::optional<PayloadSpan>> payloads;
};

/// TensorProto fields whose bytes are the elements, little-endian.
constexpr int kRawDataField = 9;
constexpr int kFloatDataField = 4;
constexpr int kDoubleDataField = 10;

/// Cuts the payloads of the main graph's initializers longer than
/// `threshold` bytes. On malformed input, returns nullopt and sets `error`.
std::optional<ModelSkeleton> cutLargePayloads(StringRef model,
                                              uint64_t threshold,
                                              std::string &error);

} // namespace mlir::hybrid::onnx_import

#endif // HYBRID_LIB_IMPORT_ONNX_MODELSKELETON_H
