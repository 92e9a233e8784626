//===- HybridDialect.cpp - The hybrid dialect -----------------------------===//
//
// Registers ops and attributes; the generated definitions live here and in
// HybridOps.cpp so that each is compiled once.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Interfaces/FunctionInterfaces.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::hybrid;

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.cpp.inc"
#include "hybrid/Dialect/Hybrid/IR/HybridEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.cpp.inc"

void HybridDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "hybrid/Dialect/Hybrid/IR/HybridOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.cpp.inc"
      >();
}

/// A parameter argument is a static tensor whose bytes are exactly the
/// range the attribute names.
LogicalResult HybridDialect::verifyRegionArgAttribute(Operation *op,
                                                      unsigned regionIndex,
                                                      unsigned argIndex,
                                                      NamedAttribute attr) {
  if (attr.getName() != ParameterAttr::getArgAttrName())
    return success();
  auto param = dyn_cast<ParameterAttr>(attr.getValue());
  if (!param)
    return op->emitError() << "'" << attr.getName().getValue()
                           << "' must be a #hybrid.parameter";
  auto fn = dyn_cast<FunctionOpInterface>(op);
  if (!fn || regionIndex != 0)
    return op->emitError() << "'" << attr.getName().getValue()
                           << "' belongs on a function argument";
  Type type = fn.getArgumentTypes()[argIndex];
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() ||
      !tensor.getElementType().isIntOrFloat())
    return op->emitError() << "parameter '" << param.getKey().getValue()
                           << "' (argument #" << argIndex
                           << ") must be a statically shaped tensor of "
                              "numbers, not "
                           << type;
  int64_t width =
      std::max<int64_t>(1, tensor.getElementType().getIntOrFloatBitWidth() / 8);
  if (int64_t panels = param.getPanels()) {
    // The file's [K, N] as ceil(N / panels) panels of K x panels.
    ArrayRef<int64_t> shape = tensor.getShape();
    int64_t rowBytes = shape.size() == 3 ? shape[1] * width : 0;
    int64_t cols = rowBytes > 0 ? param.getLength() / rowBytes : 0;
    if (shape.size() != 3 || shape[2] != panels || rowBytes <= 0 ||
        param.getLength() % rowBytes != 0 ||
        (cols + panels - 1) / panels != shape[0])
      return op->emitError()
             << "parameter '" << param.getKey().getValue() << "' of "
             << param.getLength() << " bytes in panels of " << panels
             << " columns cannot be bound to " << type
             << " (expected tensor<ceil(N/" << panels << ")xKx" << panels
             << "> for the file's [K, N])";
    return success();
  }
  if (DenseI64ArrayAttr rows = param.getRows()) {
    // `rows` rows of the file's [V, ...], each below V.
    ArrayRef<int64_t> shape = tensor.getShape();
    int64_t rowBytes =
        shape.empty() ? 0
                      : ShapedType::getNumElements(shape.drop_front()) * width;
    if (shape.empty() || shape[0] != rows.size() || rowBytes <= 0 ||
        param.getLength() % rowBytes != 0)
      return op->emitError()
             << "parameter '" << param.getKey().getValue() << "' of "
             << param.getLength() << " bytes cannot give " << rows.size()
             << " rows as " << type;
    int64_t fileRows = param.getLength() / rowBytes;
    for (int64_t r : rows.asArrayRef())
      if (r >= fileRows)
        return op->emitError()
               << "parameter '" << param.getKey().getValue() << "' takes row "
               << r << " of a file tensor of " << fileRows << " rows";
    return success();
  }
  if (DenseI64ArrayAttr perm = param.getPermutation();
      perm && perm.size() != tensor.getRank())
    return op->emitError() << "parameter '" << param.getKey().getValue()
                           << "' has a permutation of " << perm.size()
                           << " dims for its argument " << type;
  if (tensor.getNumElements() * width != param.getLength())
    return op->emitError() << "parameter '" << param.getKey().getValue()
                           << "' is " << param.getLength()
                           << " bytes, but its argument " << type << " needs "
                           << tensor.getNumElements() * width;
  return success();
}
