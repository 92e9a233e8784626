//===- ModelSkeleton.cpp - An ONNX model without its weight bytes ---------===//
//
// Protobuf wire format: a message is a sequence of (tag varint, value)
// fields; tag = field number << 3 | wire type. Length-delimited values
// (type 2) are a varint length and the bytes. Only three levels are
// rewritten: ModelProto.graph (7) -> GraphProto.initializer (5) ->
// TensorProto payloads; every other field is copied byte for byte.
//
//===----------------------------------------------------------------------===//

#include "ModelSkeleton.h"

using namespace mlir::hybrid::onnx_import;

namespace {

constexpr int kModelGraphField = 7;
constexpr int kGraphInitializerField = 5;

enum WireType { Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5 };

/// One field of a message: its number, wire type, whole extent, and the
/// extent of a length-delimited value.
struct Field {
  uint64_t number;
  int wireType;
  const uint8_t *begin, *end;
  const uint8_t *valueBegin, *valueEnd;
};

class Cutter {
public:
  Cutter(const uint8_t *base, uint64_t threshold, ModelSkeleton &out,
         std::string &error)
      : base(base), threshold(threshold), out(out), error(error) {}

  bool model(const uint8_t *p, const uint8_t *end, std::string &dst) {
    return message(p, end, dst, [&](const Field &f, std::string &d) {
      if (f.number != kModelGraphField || f.wireType != LengthDelimited)
        return copy(f, d);
      std::string graph;
      if (!this->graph(f.valueBegin, f.valueEnd, graph))
        return false;
      return nested(f.number, graph, d);
    });
  }

private:
  bool graph(const uint8_t *p, const uint8_t *end, std::string &dst) {
    return message(p, end, dst, [&](const Field &f, std::string &d) {
      if (f.number != kGraphInitializerField || f.wireType != LengthDelimited)
        return copy(f, d);
      std::string tensor;
      out.payloads.emplace_back();
      if (!this->tensor(f.valueBegin, f.valueEnd, tensor))
        return false;
      return nested(f.number, tensor, d);
    });
  }

  bool tensor(const uint8_t *p, const uint8_t *end, std::string &dst) {
    return message(p, end, dst, [&](const Field &f, std::string &d) {
      bool payload = f.wireType == LengthDelimited &&
                     (f.number == kRawDataField ||
                      f.number == kFloatDataField ||
                      f.number == kDoubleDataField);
      uint64_t length = f.valueEnd - f.valueBegin;
      if (!payload || length <= threshold)
        return copy(f, d);
      std::optional<PayloadSpan> &span = out.payloads.back();
      if (span)
        return fail("an initializer's payload is split over several fields");
      span = PayloadSpan{static_cast<uint64_t>(f.valueBegin - base), length,
                         static_cast<int>(f.number)};
      return true;
    });
  }

  template <typename Visit>
  bool message(const uint8_t *p, const uint8_t *end, std::string &dst,
               Visit visit) {
    while (p < end) {
      Field f;
      f.begin = p;
      uint64_t tag;
      if (!varint(p, end, tag))
        return fail("truncated field tag");
      f.number = tag >> 3;
      f.wireType = static_cast<int>(tag & 7);
      f.valueBegin = p;
      switch (f.wireType) {
      case Varint: {
        uint64_t ignored;
        if (!varint(p, end, ignored))
          return fail("truncated varint");
        break;
      }
      case Fixed64:
      case Fixed32: {
        uint64_t size = f.wireType == Fixed64 ? 8 : 4;
        if (static_cast<uint64_t>(end - p) < size)
          return fail("truncated fixed-width field");
        p += size;
        break;
      }
      case LengthDelimited: {
        uint64_t length;
        if (!varint(p, end, length))
          return fail("truncated length");
        if (length > static_cast<uint64_t>(end - p))
          return fail("a field is longer than the bytes that hold it");
        f.valueBegin = p;
        p += length;
        break;
      }
      default:
        return fail("unsupported wire type " + std::to_string(f.wireType));
      }
      if (f.number == 0)
        return fail("field number 0");
      f.end = f.valueEnd = p;
      if (!visit(f, dst))
        return false;
    }
    return true;
  }

  static bool varint(const uint8_t *&p, const uint8_t *end, uint64_t &value) {
    value = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t byte = *p++;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return true;
    }
    return false;
  }

  static void putVarint(uint64_t value, std::string &dst) {
    while (value >= 0x80) {
      dst.push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    dst.push_back(static_cast<char>(value));
  }

  static bool copy(const Field &f, std::string &dst) {
    dst.append(reinterpret_cast<const char *>(f.begin), f.end - f.begin);
    return true;
  }

  static bool nested(uint64_t number, const std::string &value,
                     std::string &dst) {
    putVarint(number << 3 | LengthDelimited, dst);
    putVarint(value.size(), dst);
    dst += value;
    return true;
  }

  bool fail(const std::string &why) {
    error = why;
    return false;
  }

  const uint8_t *base;
  uint64_t threshold;
  ModelSkeleton &out;
  std::string &error;
};

} // namespace

std::optional<ModelSkeleton>
mlir::hybrid::onnx_import::cutLargePayloads(StringRef model,
                                            uint64_t threshold,
                                            std::string &error) {
  ModelSkeleton skeleton;
  auto *begin = reinterpret_cast<const uint8_t *>(model.data());
  Cutter cutter(begin, threshold, skeleton, error);
  if (!cutter.model(begin, begin + model.size(), skeleton.bytes))
    return std::nullopt;
  return skeleton;
}
