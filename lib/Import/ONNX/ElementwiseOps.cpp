//===- ElementwiseOps.cpp - ONNX elementwise ops as arith/math on tensors -===//
//
// Binary ops broadcast their operands explicitly (TensorBuilders.h), then
// apply one `arith`/`math` op to tensors of one shape, which the CPU
// pipeline's elementwise-to-linalg conversion fuses into loops. Scalar
// constants become splats, so that the raising passes see `x / splat(4)`.
// When every operand is a known small integer tensor (shape arithmetic,
// see KnownInts), the result is computed at import instead.
//
//===----------------------------------------------------------------------===//

#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

using Result = FailureOr<SmallVector<Value>>;
/// Builds the op on operands of one shape.
using Apply = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// The operands broadcast to one shape (splat constants re-made at that
/// shape), then `apply`.
FailureOr<Value> broadcastAndApply(NodeContext &nc, ArrayRef<Value> operands,
                                   Apply apply) {
  for (Value v : operands)
    if (!v || !isa<RankedTensorType>(v.getType()))
      return nc.error() << "expects ranked tensor inputs";
  FailureOr<SmallVector<OpFoldResult>> sizes =
      broadcastShape(nc.b, nc.loc, operands, [&] { return nc.error(); });
  if (failed(sizes))
    return failure();
  SmallVector<Value> same;
  for (Value v : operands) {
    std::optional<TypedAttr> scalar = splatConstant(v);
    same.push_back(scalar ? splat(nc.b, nc.loc, *sizes, *scalar)
                          : broadcastTo(nc.b, nc.loc, v, *sizes));
  }
  return apply(nc.b, nc.loc, same);
}

Type elementOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

//===----------------------------------------------------------------------===//
// Known integers
//===----------------------------------------------------------------------===//

/// One element of a binary op on known integers, or null when it cannot
/// be computed at import (an unknown comparison).
using KnownCombine =
    function_ref<OpFoldResult(OpBuilder &, Location, OpFoldResult, OpFoldResult)>;

/// Elementwise over two known lists (numpy broadcasting of rank <= 1).
std::optional<KnownInts> combineKnown(NodeContext &nc, const KnownInts &a,
                                      const KnownInts &b, KnownCombine f) {
  size_t n = std::max(a.size(), b.size());
  if ((a.size() != n && a.size() != 1) || (b.size() != n && b.size() != 1))
    return std::nullopt;
  KnownInts out;
  for (size_t i = 0; i < n; ++i) {
    OpFoldResult r = f(nc.b, nc.loc, a[a.size() == 1 ? 0 : i],
                       b[b.size() == 1 ? 0 : i]);
    if (!r)
      return std::nullopt;
    out.push_back(r);
  }
  return out;
}

/// Integer arithmetic on index values, folded when both are constants.
OpFoldResult knownArith(OpBuilder &b, Location loc, OpFoldResult x,
                        OpFoldResult y, StringRef op) {
  std::optional<int64_t> cx = getConstantIntValue(x), cy = getConstantIntValue(y);
  if (cx && cy) {
    int64_t r = op == "add"   ? *cx + *cy
                : op == "sub" ? *cx - *cy
                : op == "mul" ? *cx * *cy
                : *cy != 0    ? *cx / *cy
                              : 0;
    if (op == "div" && *cy == 0)
      return OpFoldResult();
    return b.getI64IntegerAttr(r);
  }
  Value vx = getValueOrCreateConstantIndexOp(b, loc, x),
        vy = getValueOrCreateConstantIndexOp(b, loc, y);
  if (op == "add")
    return arith::AddIOp::create(b, loc, vx, vy).getResult();
  if (op == "sub")
    return arith::SubIOp::create(b, loc, vx, vy).getResult();
  if (op == "mul")
    return arith::MulIOp::create(b, loc, vx, vy).getResult();
  return arith::DivSIOp::create(b, loc, vx, vy).getResult();
}

/// Whether a value is a tensor size (never negative).
bool isSize(OpFoldResult x) {
  auto v = dyn_cast<Value>(x);
  return v && v.getDefiningOp<tensor::DimOp>();
}

/// ==, <, > on known elements: decided when both are constants, when both
/// are one value, or when a size meets a negative constant (how exporters
/// test a shape entry against -1).
OpFoldResult knownCompare(OpBuilder &b, OpFoldResult x, OpFoldResult y,
                          StringRef op) {
  std::optional<int64_t> cx = getConstantIntValue(x), cy = getConstantIntValue(y);
  std::optional<bool> r;
  if (cx && cy)
    r = op == "eq" ? *cx == *cy : op == "lt" ? *cx < *cy : *cx > *cy;
  else if (x == y)
    r = op == "eq" ? true : false;
  else if (isSize(x) && cy && *cy < 0)
    r = op == "gt";
  else if (isSize(y) && cx && *cx < 0)
    r = op == "lt";
  if (!r)
    return OpFoldResult();
  return b.getI64IntegerAttr(*r);
}

/// The result of a binary op on known integer inputs, if it can be had.
std::optional<Value> tryKnownBinary(NodeContext &nc, StringRef op) {
  std::optional<KnownInts> a = nc.known(0), b = nc.known(1);
  if (!a || !b || !isa<IntegerType>(elementOf(nc.input(0))) ||
      !isa<IntegerType>(elementOf(nc.input(1))))
    return std::nullopt;
  bool compare = op == "eq" || op == "lt" || op == "gt";
  std::optional<KnownInts> r = combineKnown(
      nc, *a, *b,
      [&](OpBuilder &ob, Location l, OpFoldResult x, OpFoldResult y) {
        return compare ? knownCompare(ob, x, y, op)
                       : knownArith(ob, l, x, y, op);
      });
  if (!r)
    return std::nullopt;
  auto ta = cast<RankedTensorType>(nc.input(0).getType()),
       tb = cast<RankedTensorType>(nc.input(1).getType());
  int64_t rank = std::max(ta.getRank(), tb.getRank());
  SmallVector<int64_t> shape;
  if (rank == 1)
    shape.push_back(r->size());
  Type element = compare ? nc.b.getI1Type() : ta.getElementType();
  return nc.makeKnown(*r, RankedTensorType::get(shape, element));
}

//===----------------------------------------------------------------------===//
// Converters
//===----------------------------------------------------------------------===//

/// Add, Sub, Mul, Div: float or integer.
Converter arithmetic(StringRef op) {
  return [op](NodeContext &nc) -> Result {
    if (std::optional<Value> known = tryKnownBinary(nc, op))
      return SmallVector<Value>{*known};
    Value a = nc.input(0), b = nc.input(1);
    if (!a || !b || elementOf(a) != elementOf(b))
      return nc.error() << "expects two inputs of one element type";
    bool isFloat = isa<FloatType>(elementOf(a));
    FailureOr<Value> r = broadcastAndApply(
        nc, {a, b}, [&](OpBuilder &ob, Location l, ValueRange v) -> Value {
          if (op == "add")
            return isFloat ? arith::AddFOp::create(ob, l, v[0], v[1]).getResult()
                           : arith::AddIOp::create(ob, l, v[0], v[1]).getResult();
          if (op == "sub")
            return isFloat ? arith::SubFOp::create(ob, l, v[0], v[1]).getResult()
                           : arith::SubIOp::create(ob, l, v[0], v[1]).getResult();
          if (op == "mul")
            return isFloat ? arith::MulFOp::create(ob, l, v[0], v[1]).getResult()
                           : arith::MulIOp::create(ob, l, v[0], v[1]).getResult();
          return isFloat ? arith::DivFOp::create(ob, l, v[0], v[1]).getResult()
                         : arith::DivSIOp::create(ob, l, v[0], v[1]).getResult();
        });
    if (failed(r))
      return failure();
    return SmallVector<Value>{*r};
  };
}

/// Equal, Less, Greater, LessOrEqual, GreaterOrEqual: bool tensors.
Converter comparison(StringRef op) {
  return [op](NodeContext &nc) -> Result {
    if (op == "eq" || op == "lt" || op == "gt")
      if (std::optional<Value> known = tryKnownBinary(nc, op))
        return SmallVector<Value>{*known};
    Value a = nc.input(0), b = nc.input(1);
    if (!a || !b || elementOf(a) != elementOf(b))
      return nc.error() << "expects two inputs of one element type";
    bool isFloat = isa<FloatType>(elementOf(a));
    auto fp = op == "eq"   ? arith::CmpFPredicate::OEQ
              : op == "lt" ? arith::CmpFPredicate::OLT
              : op == "gt" ? arith::CmpFPredicate::OGT
              : op == "le" ? arith::CmpFPredicate::OLE
                           : arith::CmpFPredicate::OGE;
    auto ip = op == "eq"   ? arith::CmpIPredicate::eq
              : op == "lt" ? arith::CmpIPredicate::slt
              : op == "gt" ? arith::CmpIPredicate::sgt
              : op == "le" ? arith::CmpIPredicate::sle
                           : arith::CmpIPredicate::sge;
    FailureOr<Value> r = broadcastAndApply(
        nc, {a, b}, [&](OpBuilder &ob, Location l, ValueRange v) -> Value {
          if (isFloat)
            return arith::CmpFOp::create(ob, l, fp, v[0], v[1]);
          return arith::CmpIOp::create(ob, l, ip, v[0], v[1]);
        });
    if (failed(r))
      return failure();
    return SmallVector<Value>{*r};
  };
}

/// And, Or, Xor on bool tensors.
Converter logical(StringRef op) {
  return [op](NodeContext &nc) -> Result {
    Value a = nc.input(0), b = nc.input(1);
    if (!a || !b || !elementOf(a).isInteger(1) || !elementOf(b).isInteger(1))
      return nc.error() << "expects two bool inputs";
    FailureOr<Value> r = broadcastAndApply(
        nc, {a, b}, [&](OpBuilder &ob, Location l, ValueRange v) -> Value {
          if (op == "and")
            return arith::AndIOp::create(ob, l, v[0], v[1]);
          if (op == "or")
            return arith::OrIOp::create(ob, l, v[0], v[1]);
          return arith::XOrIOp::create(ob, l, v[0], v[1]);
        });
    if (failed(r))
      return failure();
    return SmallVector<Value>{*r};
  };
}

Result notOp(NodeContext &nc) {
  Value x = nc.input(0);
  if (!x || !elementOf(x).isInteger(1))
    return nc.error() << "expects a bool input";
  Value ones = splat(nc.b, nc.loc, sizesOf(nc.b, nc.loc, x),
                     nc.b.getBoolAttr(true));
  return SmallVector<Value>{arith::XOrIOp::create(nc.b, nc.loc, x, ones)};
}

/// Where(cond, x, y): arith.select on broadcast operands.
Result where(NodeContext &nc) {
  Value c = nc.input(0), x = nc.input(1), y = nc.input(2);
  if (!c || !x || !y || !elementOf(c).isInteger(1) ||
      elementOf(x) != elementOf(y))
    return nc.error() << "expects a bool condition and two inputs of one "
                         "element type";
  // Known shape entries: select at import.
  std::optional<KnownInts> kc = nc.known(0), kx = nc.known(1), ky = nc.known(2);
  if (kc && kx && ky && isa<IntegerType>(elementOf(x))) {
    size_t n = std::max({kc->size(), kx->size(), ky->size()});
    KnownInts out;
    bool ok = true;
    for (size_t i = 0; ok && i < n; ++i) {
      auto at = [&](const KnownInts &k) { return k[k.size() == 1 ? 0 : i]; };
      std::optional<int64_t> cond = getConstantIntValue(at(*kc));
      ok = cond.has_value() && (kc->size() == n || kc->size() == 1) &&
           (kx->size() == n || kx->size() == 1) &&
           (ky->size() == n || ky->size() == 1);
      if (ok)
        out.push_back(*cond ? at(*kx) : at(*ky));
    }
    if (ok) {
      auto tx = cast<RankedTensorType>(x.getType());
      SmallVector<int64_t> shape;
      if (tx.getRank() == 1 || cast<RankedTensorType>(c.getType()).getRank() == 1)
        shape.push_back(n);
      return SmallVector<Value>{
          nc.makeKnown(out, RankedTensorType::get(shape, tx.getElementType()))};
    }
  }
  FailureOr<Value> r = broadcastAndApply(
      nc, {c, x, y}, [&](OpBuilder &ob, Location l, ValueRange v) -> Value {
        return arith::SelectOp::create(ob, l, v[0], v[1], v[2]);
      });
  if (failed(r))
    return failure();
  return SmallVector<Value>{*r};
}

/// max(a, b) or min(a, b), NaN-propagating for floats (ONNX Max/Min/Clip),
/// signed for integers.
Value maxOrMin(OpBuilder &b, Location loc, bool max, bool isFloat, Value a,
               Value c) {
  if (isFloat)
    return max ? arith::MaximumFOp::create(b, loc, a, c).getResult()
               : arith::MinimumFOp::create(b, loc, a, c).getResult();
  return max ? arith::MaxSIOp::create(b, loc, a, c).getResult()
             : arith::MinSIOp::create(b, loc, a, c).getResult();
}

/// Max / Min over any number of inputs.
Converter extremum(bool max) {
  return [max](NodeContext &nc) -> Result {
    Value acc = nc.input(0);
    if (!acc)
      return nc.error() << "expects at least one input";
    bool isFloat = isa<FloatType>(elementOf(acc));
    for (size_t i = 1; i < nc.inputs.size(); ++i) {
      FailureOr<Value> r = broadcastAndApply(
          nc, {acc, nc.input(i)},
          [&](OpBuilder &ob, Location l, ValueRange v) {
            return maxOrMin(ob, l, max, isFloat, v[0], v[1]);
          });
      if (failed(r))
        return failure();
      acc = *r;
    }
    return SmallVector<Value>{acc};
  };
}

/// Clip-13: min and max are optional scalar inputs.
Result clip(NodeContext &nc) {
  Value x = nc.input(0);
  if (!x)
    return nc.error() << "expects an input";
  bool isFloat = isa<FloatType>(elementOf(x));
  for (auto bounds : {std::pair(1, false), std::pair(2, true)}) {
    bool max = bounds.second;
    Value bound = nc.input(bounds.first);
    if (!bound)
      continue;
    FailureOr<Value> r = broadcastAndApply(
        nc, {x, bound}, [&](OpBuilder &ob, Location l, ValueRange v) {
          // An upper bound takes the minimum, a lower one the maximum.
          return maxOrMin(ob, l, !max, isFloat, v[0], v[1]);
        });
    if (failed(r))
      return failure();
    x = *r;
  }
  return SmallVector<Value>{x};
}

/// Pow: x * x for a constant exponent 2 (how RMSNorm's mean square is
/// written), sqrt for 0.5, else math.powf.
Result powOp(NodeContext &nc) {
  Value x = nc.input(0), y = nc.input(1);
  if (!x || !y)
    return nc.error() << "expects a base and an exponent";
  if (!isa<FloatType>(elementOf(x)))
    return nc.error() << "integer bases are not supported";
  if (std::optional<TypedAttr> e = splatConstant(y)) {
    double exponent = 0;
    if (auto f = dyn_cast<FloatAttr>(*e))
      exponent = f.getValueAsDouble();
    else if (auto i = dyn_cast<IntegerAttr>(*e))
      exponent = static_cast<double>(i.getInt());
    bool sameShape = cast<RankedTensorType>(y.getType()).getRank() <=
                     cast<RankedTensorType>(x.getType()).getRank();
    if (sameShape && exponent == 2.0)
      return SmallVector<Value>{arith::MulFOp::create(nc.b, nc.loc, x, x)};
    if (sameShape && exponent == 1.0)
      return SmallVector<Value>{x};
    if (sameShape && exponent == 0.5)
      return SmallVector<Value>{math::SqrtOp::create(nc.b, nc.loc, x)};
  }
  if (!isa<FloatType>(elementOf(y)))
    y = castElements(nc.b, nc.loc, y, elementOf(x));
  FailureOr<Value> r = broadcastAndApply(
      nc, {x, y}, [&](OpBuilder &ob, Location l, ValueRange v) -> Value {
        return math::PowFOp::create(ob, l, v[0], v[1]);
      });
  if (failed(r))
    return failure();
  return SmallVector<Value>{*r};
}

/// A float unary op, built from the input and splats of its shape.
Converter unary(std::function<Value(OpBuilder &, Location, Value,
                                    function_ref<Value(double)>)>
                    build) {
  return [build](NodeContext &nc) -> Result {
    Value x = nc.input(0);
    if (!x || !isa<RankedTensorType>(x.getType()) ||
        !isa<FloatType>(elementOf(x)))
      return nc.error() << "expects a float tensor";
    SmallVector<OpFoldResult> sizes;
    auto constant = [&](double c) {
      if (sizes.empty())
        sizes = sizesOf(nc.b, nc.loc, x);
      return splat(nc.b, nc.loc, sizes, FloatAttr::get(elementOf(x), c));
    };
    return SmallVector<Value>{build(nc.b, nc.loc, x, constant)};
  };
}

template <typename MathOp>
Converter mathOp() {
  return unary([](OpBuilder &b, Location l, Value x, auto) -> Value {
    return MathOp::create(b, l, x);
  });
}

Result neg(NodeContext &nc) {
  Value x = nc.input(0);
  if (!x)
    return nc.error() << "expects an input";
  if (isa<FloatType>(elementOf(x)))
    return SmallVector<Value>{arith::NegFOp::create(nc.b, nc.loc, x)};
  Value zeros = splat(nc.b, nc.loc, sizesOf(nc.b, nc.loc, x),
                      nc.b.getZeroAttr(elementOf(x)));
  return SmallVector<Value>{arith::SubIOp::create(nc.b, nc.loc, zeros, x)};
}

Value sigmoid(OpBuilder &b, Location l, Value x,
              function_ref<Value(double)> c) {
  Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
  return arith::DivFOp::create(b, l, c(1.0), arith::AddFOp::create(b, l, c(1.0), e));
}

/// Gelu-20: exact (erf) or tanh approximation.
Result gelu(NodeContext &nc) {
  std::string approximate = "none";
  if (const onnx::AttributeProto *a = nc.attribute("approximate"))
    approximate = a->s();
  if (approximate != "none" && approximate != "tanh")
    return nc.error() << "approximate '" << approximate
                      << "' is not 'none' or 'tanh'";
  return unary([&](OpBuilder &b, Location l, Value x,
                   function_ref<Value(double)> c) -> Value {
    Value inner;
    if (approximate == "none") {
      inner = math::ErfOp::create(
          b, l, arith::MulFOp::create(b, l, x, c(M_SQRT1_2)));
    } else {
      Value x3 = arith::MulFOp::create(
          b, l, x, arith::MulFOp::create(b, l, x, x));
      Value poly = arith::AddFOp::create(
          b, l, x, arith::MulFOp::create(b, l, x3, c(0.044715)));
      inner = math::TanhOp::create(
          b, l, arith::MulFOp::create(b, l, poly, c(std::sqrt(2.0 / M_PI))));
    }
    Value half = arith::MulFOp::create(b, l, x, c(0.5));
    return arith::MulFOp::create(b, l, half,
                                 arith::AddFOp::create(b, l, c(1.0), inner));
  })(nc);
}

/// Cast-13/19: float, integer and bool conversions; known integers stay
/// known through integer casts.
Result castOp(NodeContext &nc) {
  Value x = nc.input(0);
  std::optional<int64_t> to = nc.intAttr("to");
  if (!x || !to)
    return nc.error() << "expects an input and 'to'";
  Type element = elementType(nc.b, static_cast<int32_t>(*to));
  if (!element)
    return nc.error() << "cannot cast to ONNX type " << *to;
  auto type = cast<RankedTensorType>(x.getType());
  std::optional<KnownInts> k = nc.known(0);
  if (k && isa<IntegerType>(element) && !element.isInteger(1))
    return SmallVector<Value>{nc.makeKnown(*k, type.clone(element))};
  Value r = castElements(nc.b, nc.loc, x, element);
  // An integral float (a length cast for Range) stays known.
  if (k && isa<FloatType>(element))
    nc.state.known[r] = *k;
  return SmallVector<Value>{r};
}

Result identity(NodeContext &nc) {
  if (!nc.input(0))
    return nc.error() << "expects an input";
  return SmallVector<Value>{nc.input(0)};
}

} // namespace

void mlir::hybrid::onnx_import::addElementwiseOps(
    SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "Add", 7, 25, arithmetic("add")});
  table.push_back({"", "Sub", 7, 25, arithmetic("sub")});
  table.push_back({"", "Mul", 7, 25, arithmetic("mul")});
  table.push_back({"", "Div", 7, 25, arithmetic("div")});
  table.push_back({"", "Equal", 11, 25, comparison("eq")});
  table.push_back({"", "Less", 9, 25, comparison("lt")});
  table.push_back({"", "Greater", 9, 25, comparison("gt")});
  table.push_back({"", "LessOrEqual", 12, 25, comparison("le")});
  table.push_back({"", "GreaterOrEqual", 12, 25, comparison("ge")});
  table.push_back({"", "And", 7, 25, logical("and")});
  table.push_back({"", "Or", 7, 25, logical("or")});
  table.push_back({"", "Xor", 7, 25, logical("xor")});
  table.push_back({"", "Not", 1, 25, notOp});
  table.push_back({"", "Where", 9, 25, where});
  table.push_back({"", "Max", 12, 25, extremum(true)});
  table.push_back({"", "Min", 12, 25, extremum(false)});
  table.push_back({"", "Clip", 13, 25, clip});
  table.push_back({"", "Pow", 12, 25, powOp});
  table.push_back({"", "Neg", 6, 25, neg});
  table.push_back({"", "Sqrt", 6, 25, mathOp<math::SqrtOp>()});
  table.push_back({"", "Exp", 6, 25, mathOp<math::ExpOp>()});
  table.push_back({"", "Log", 6, 25, mathOp<math::LogOp>()});
  table.push_back({"", "Tanh", 6, 25, mathOp<math::TanhOp>()});
  table.push_back({"", "Erf", 9, 25, mathOp<math::ErfOp>()});
  table.push_back({"", "Cos", 7, 25, mathOp<math::CosOp>()});
  table.push_back({"", "Sin", 7, 25, mathOp<math::SinOp>()});
  table.push_back({"", "Abs", 6, 25, mathOp<math::AbsFOp>()});
  table.push_back({"", "Reciprocal", 6, 25,
                   unary([](OpBuilder &b, Location l, Value x,
                            function_ref<Value(double)> c) -> Value {
                     return arith::DivFOp::create(b, l, c(1.0), x);
                   })});
  table.push_back({"", "Sigmoid", 6, 25, unary(sigmoid)});
  table.push_back({"", "Relu", 6, 25,
                   unary([](OpBuilder &b, Location l, Value x,
                            function_ref<Value(double)> c) -> Value {
                     return arith::MaximumFOp::create(b, l, x, c(0.0));
                   })});
  table.push_back({"", "Gelu", 20, 25, gelu});
  table.push_back({"", "Cast", 13, 25, castOp});
  table.push_back({"", "Identity", 13, 25, identity});
}
