//===- HybridOps.cpp - Generated op definitions ---------------------------===//
//
// The verifiers and type inference live in one file per op family
// (AttentionOps.cpp, RecurrenceOps.cpp, MoEOps.cpp, SpeculationOps.cpp,
// NormOps.cpp); this file only instantiates what ODS generates.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::hybrid;

//===----------------------------------------------------------------------===//
// custom<EnumKeyword>: an enum attribute spelled as its bare keyword
//===----------------------------------------------------------------------===//

template <typename EnumAttrT>
static ParseResult parseEnumKeyword(OpAsmParser &parser, EnumAttrT &attr) {
  using EnumT = decltype(std::declval<EnumAttrT>().getValue());
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  if (std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword)) {
    attr = EnumAttrT::get(parser.getContext(), *value);
    return success();
  }
  auto diag = parser.emitError(loc) << "unknown " << EnumAttrT::getMnemonic()
                                    << " '" << keyword << "'; expected one of";
  // Cases are numbered densely from 0; stringify gives "" past the last.
  for (uint32_t i = 0; !stringifyEnum(static_cast<EnumT>(i)).empty(); ++i)
    diag << (i ? ", " : " ") << stringifyEnum(static_cast<EnumT>(i));
  return diag;
}

template <typename EnumAttrT>
static void printEnumKeyword(OpAsmPrinter &printer, Operation *,
                             EnumAttrT attr) {
  printer << stringifyEnum(attr.getValue());
}

#define GET_OP_CLASSES
#include "hybrid/Dialect/Hybrid/IR/HybridOps.cpp.inc"
