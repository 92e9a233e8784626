//===- AttentionOps.cpp - ONNX Attention and LinearAttention --------------===//
//
// Attention-23/24/25 on hybrid.attention: 3-D inputs ([B, S, H*D] with
// q_num_heads/kv_num_heads) are split into heads first and joined after;
// past_key/past_value are concatenated in front of K/V (and returned as
// present_key/present_value); a causal mask is aligned so that query i sees
// keys up to past + i (ONNX's offset), a user mask shorter than the keys is
// padded as masked; nonpad_kv_seqlen (an external cache) and opset 25's
// sliding windows become an additive mask; the qk_matmul_output is
// hybrid.attention_scores at the mode's stage.
//
//===----------------------------------------------------------------------===//

#include "OpTable.h"
#include "TensorBuilders.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"

#include <limits>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

/// [B, S, H*D] -> [B, H, S, D].
FailureOr<Value> splitHeads(NodeContext &nc, Value x, int64_t heads) {
  OpBuilder &b = nc.b;
  auto type = cast<RankedTensorType>(x.getType());
  int64_t hidden = type.getDimSize(2);
  if (ShapedType::isDynamic(hidden) || hidden % heads != 0)
    return nc.error() << "the hidden size " << hidden
                      << " is not a known multiple of " << heads << " heads";
  int64_t d = hidden / heads;
  auto split = RankedTensorType::get(
      {type.getDimSize(0), type.getDimSize(1), heads, d},
      type.getElementType());
  Value s = tensor::ExpandShapeOp::create(
      b, nc.loc, split, x, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
      ArrayRef<OpFoldResult>{dimOf(b, nc.loc, x, 0), dimOf(b, nc.loc, x, 1),
                             b.getIndexAttr(heads), b.getIndexAttr(d)});
  Value init = tensor::EmptyOp::create(
      b, nc.loc,
      ArrayRef<OpFoldResult>{dimOf(b, nc.loc, x, 0), b.getIndexAttr(heads),
                             dimOf(b, nc.loc, x, 1), b.getIndexAttr(d)},
      type.getElementType());
  return linalg::TransposeOp::create(b, nc.loc, s, init,
                                     ArrayRef<int64_t>{0, 2, 1, 3})
      .getResult()[0];
}

/// [B, H, S, D] -> [B, S, H*D].
Value joinHeads(OpBuilder &b, Location loc, Value y) {
  auto type = cast<RankedTensorType>(y.getType());
  Value init = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{dimOf(b, loc, y, 0), dimOf(b, loc, y, 2),
                             dimOf(b, loc, y, 1), dimOf(b, loc, y, 3)},
      type.getElementType());
  Value t = linalg::TransposeOp::create(b, loc, y, init,
                                        ArrayRef<int64_t>{0, 2, 1, 3})
                .getResult()[0];
  return tensor::CollapseShapeOp::create(
      b, loc, t, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// concat(past, x) along the sequence dim (2) of [B, H, S, D] tensors.
Value concatSequence(OpBuilder &b, Location loc, Value past, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  OpFoldResult pastLen = dimOf(b, loc, past, 2), newLen = dimOf(b, loc, x, 2);
  std::optional<int64_t> p = getConstantIntValue(pastLen),
                         n = getConstantIntValue(newLen);
  OpFoldResult total =
      p && n ? OpFoldResult(b.getIndexAttr(*p + *n))
             : OpFoldResult(arith::AddIOp::create(
                                b, loc, getValueOrCreateConstantIndexOp(b, loc, pastLen),
                                getValueOrCreateConstantIndexOp(b, loc, newLen))
                                .getResult());
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, x, 0), dimOf(b, loc, x, 1),
                                     total, dimOf(b, loc, x, 3)};
  Value out = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  SmallVector<OpFoldResult> zero(4, b.getIndexAttr(0)), one(4,
                                                           b.getIndexAttr(1));
  SmallVector<OpFoldResult> pastSizes = {dimOf(b, loc, past, 0),
                                         dimOf(b, loc, past, 1), pastLen,
                                         dimOf(b, loc, past, 3)};
  out = tensor::InsertSliceOp::create(b, loc, past, out, zero, pastSizes, one);
  SmallVector<OpFoldResult> at = {b.getIndexAttr(0), b.getIndexAttr(0),
                                  pastLen, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> newSizes = {dimOf(b, loc, x, 0),
                                        dimOf(b, loc, x, 1), newLen,
                                        dimOf(b, loc, x, 3)};
  return tensor::InsertSliceOp::create(b, loc, x, out, at, newSizes, one);
}

/// Which keys each query row may see, beyond what hybrid.attention's own
/// causal limit expresses: per-batch key lengths (an external cache) and
/// sliding windows.
struct KeyLimits {
  Value nonpad;           // [B] key lengths, or null
  bool causal = false;    // j <= pos
  int64_t past = 0;       // pos = i + past (or i + nonpad[b] - Sq)
  int64_t left = -1;      // j >= pos - left when >= 0
  int64_t right = -1;     // j <= pos + right when >= 0
};

/// The additive mask [B, Hm, Sq, Skv] (0 or -inf, Q's float type) that
/// applies `limits` and the user mask (bool, or added when float; any rank,
/// right-aligned). Hm is the user mask's head dim, or 1.
FailureOr<Value> structuralMask(NodeContext &nc, Value q, Value k, Value user,
                                const KeyLimits &limits) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  auto qType = cast<RankedTensorType>(q.getType());
  auto kType = cast<RankedTensorType>(k.getType());
  int64_t batch = qType.getDimSize(0), qLen = qType.getDimSize(2),
          kvLen = kType.getDimSize(2);
  auto userType = user ? cast<RankedTensorType>(user.getType()) : nullptr;
  int64_t heads = userType && userType.getRank() >= 3
                      ? userType.getDimSize(userType.getRank() - 3)
                      : 1;
  if (!qType.hasStaticShape() || !kType.hasStaticShape() ||
      (userType && !userType.hasStaticShape()))
    return nc.error() << "nonpad_kv_seqlen or windows with dynamic shapes "
                         "are not supported yet";
  Type element = qType.getElementType();
  auto maskType = RankedTensorType::get({batch, heads, qLen, kvLen}, element);
  // (b, h, i, j) -> nonpad[b]; the user mask's element, right-aligned,
  // size-1 dims broadcast.
  SmallVector<AffineMap> maps;
  SmallVector<Value> ins;
  if (limits.nonpad) {
    ins.push_back(limits.nonpad);
    maps.push_back(
        AffineMap::get(4, 0, {b.getAffineDimExpr(0)}, b.getContext()));
  }
  if (user) {
    SmallVector<AffineExpr> exprs;
    int64_t rank = userType.getRank();
    for (int64_t d = 0; d < rank; ++d)
      exprs.push_back(userType.getDimSize(d) == 1
                          ? b.getAffineConstantExpr(0)
                          : b.getAffineDimExpr(4 - rank + d));
    maps.push_back(AffineMap::get(4, 0, exprs, b.getContext()));
    ins.push_back(user);
  }
  maps.push_back(b.getMultiDimIdentityMap(4));
  Value init = tensor::EmptyOp::create(b, loc, maskType.getShape(), element);
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{maskType}, ins, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Type i64 = nb.getI64Type();
        using P = arith::CmpIPredicate;
        auto constant = [&](int64_t v) {
          return arith::ConstantIntOp::create(nb, l, i64, v).getResult();
        };
        auto index = [&](int64_t d) {
          return arith::IndexCastOp::create(
                     nb, l, i64, linalg::IndexOp::create(nb, l, d))
              .getResult();
        };
        auto both = [&](Value a, Value c) {
          return arith::AndIOp::create(nb, l, a, c).getResult();
        };
        Value j = index(3);
        Value visible = arith::ConstantIntOp::create(nb, l, 1, 1);
        // pos = i + past, or i + nonpad[b] - Sq for an external cache.
        Value pos = arith::AddIOp::create(nb, l, index(2), constant(limits.past));
        size_t arg = 0;
        if (limits.nonpad) {
          Value len = args[arg++];
          if (!len.getType().isInteger(64))
            len = arith::ExtSIOp::create(nb, l, i64, len);
          visible = both(visible, arith::CmpIOp::create(nb, l, P::slt, j, len));
          if (limits.past == 0)
            pos = arith::AddIOp::create(
                nb, l, index(2),
                arith::SubIOp::create(nb, l, len, constant(qLen)));
        }
        if (limits.causal)
          visible = both(visible, arith::CmpIOp::create(nb, l, P::sle, j, pos));
        if (limits.left >= 0)
          visible = both(visible, arith::CmpIOp::create(
                                      nb, l, P::sge, j,
                                      arith::SubIOp::create(
                                          nb, l, pos, constant(limits.left))));
        if (limits.right >= 0)
          visible = both(visible, arith::CmpIOp::create(
                                      nb, l, P::sle, j,
                                      arith::AddIOp::create(
                                          nb, l, pos, constant(limits.right))));
        Value bias =
            arith::ConstantOp::create(nb, l, FloatAttr::get(element, 0.0));
        Value negInf = arith::ConstantOp::create(
            nb, l,
            FloatAttr::get(element, -std::numeric_limits<double>::infinity()));
        if (user) {
          Value m = args[arg];
          if (m.getType().isInteger(1)) {
            visible = both(visible, m);
          } else {
            if (m.getType() != element)
              m = arith::ExtFOp::create(nb, l, element, m);
            bias = m;
          }
        }
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, visible, bias, negInf)});
      });
  return generic.getResult(0);
}

FailureOr<SmallVector<Value>> attention(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value q = nc.input(0), k = nc.input(1), v = nc.input(2), mask = nc.input(3),
        pastK = nc.input(4), pastV = nc.input(5), nonpad = nc.input(6);
  if (!q || !k || !v)
    return nc.error() << "expects inputs Q, K and V";
  if (bool(pastK) != bool(pastV))
    return nc.error() << "past_key and past_value come together";

  int64_t rank = cast<RankedTensorType>(q.getType()).getRank();
  if (rank == 3) {
    std::optional<int64_t> qHeads = nc.intAttr("q_num_heads"),
                           kvHeads = nc.intAttr("kv_num_heads");
    if (!qHeads || !kvHeads || *qHeads <= 0 || *kvHeads <= 0)
      return nc.error()
             << "3-D inputs need positive q_num_heads and kv_num_heads";
    FailureOr<Value> q4 = splitHeads(nc, q, *qHeads),
                     k4 = splitHeads(nc, k, *kvHeads),
                     v4 = splitHeads(nc, v, *kvHeads);
    if (failed(q4) || failed(k4) || failed(v4))
      return failure();
    q = *q4, k = *k4, v = *v4;
  } else if (rank != 4) {
    return nc.error() << "expects 3-D or 4-D inputs";
  }
  if (pastK) {
    k = concatSequence(b, loc, pastK, k);
    v = concatSequence(b, loc, pastV, v);
  }

  // A mask shorter than the keys covers the first ones; the rest are
  // masked (ONNX pads with -inf or false).
  if (mask) {
    auto maskType = cast<RankedTensorType>(mask.getType());
    int64_t maskKeys = maskType.getShape().back();
    int64_t keys = cast<RankedTensorType>(k.getType()).getDimSize(2);
    if (ShapedType::isDynamic(maskKeys) || ShapedType::isDynamic(keys))
      return nc.error() << "a mask with dynamic key length is not supported yet";
    if (maskKeys > keys)
      return nc.error() << "the mask covers " << maskKeys
                        << " keys but there are " << keys;
    if (maskKeys < keys) {
      Type element = maskType.getElementType();
      TypedAttr fillAttr =
          element.isInteger(1)
              ? TypedAttr(b.getBoolAttr(false))
              : TypedAttr(FloatAttr::get(
                    element, -std::numeric_limits<double>::infinity()));
      Value fill = arith::ConstantOp::create(b, loc, fillAttr);
      SmallVector<OpFoldResult> low(maskType.getRank(), b.getIndexAttr(0)),
          high(maskType.getRank(), b.getIndexAttr(0));
      high.back() = b.getIndexAttr(keys - maskKeys);
      SmallVector<int64_t> shape(maskType.getShape());
      shape.back() = keys;
      mask = tensor::PadOp::create(b, loc,
                                   RankedTensorType::get(shape, element), mask,
                                   low, high, fill);
    }
  }

  // Causal: query i sees keys up to past + i.
  Value offset;
  bool causal = nc.intAttr("is_causal").value_or(0) != 0;
  KeyLimits limits;
  limits.left = nc.intAttr("left_window_size").value_or(-1);
  limits.right = nc.intAttr("right_window_size").value_or(-1);
  if (nonpad || limits.left >= 0 || limits.right >= 0) {
    // Per-batch key lengths (an external cache: without a past, the causal
    // frontier is per batch too) and sliding windows go into one mask.
    limits.nonpad = nonpad;
    limits.causal = causal;
    if (pastK) {
      int64_t past = cast<RankedTensorType>(pastK.getType()).getDimSize(2);
      if (ShapedType::isDynamic(past))
        return nc.error() << "windows with a dynamic past are not supported yet";
      limits.past = past;
    }
    FailureOr<Value> combined = structuralMask(nc, q, k, mask, limits);
    if (failed(combined))
      return failure();
    mask = *combined;
    causal = false;
  }
  if (causal)
    offset = pastK ? tensor::DimOp::create(b, loc, pastK, 2).getResult()
                   : arith::ConstantIndexOp::create(b, loc, 0).getResult();
  FloatAttr scale, softcap;
  if (std::optional<float> s = nc.floatAttr("scale"))
    scale = b.getF32FloatAttr(*s);
  if (std::optional<float> c = nc.floatAttr("softcap"); c && *c > 0)
    softcap = b.getF32FloatAttr(*c);
  auto op = AttentionOp::create(b, loc, q, k, v, mask, offset, Value(),
                                causal ? b.getUnitAttr() : UnitAttr(), scale,
                                softcap, GQALayoutAttr());
  if (failed(mlir::verify(op)))
    return failure();
  Value y = op.getResult();
  if (rank == 3)
    y = joinHeads(b, loc, y);
  SmallVector<Value> results = {y, k, v};
  if (nc.node.output_size() > 3 && !nc.node.output(3).empty()) {
    // qk_matmul_output: modes 0 and 1 are the (softcapped) logits, 2 adds
    // the mask and the causal limit, 3 is the softmax.
    int64_t mode = nc.intAttr("qk_matmul_output_mode").value_or(0);
    if (mode < 0 || mode > 3)
      return nc.error() << "qk_matmul_output_mode " << mode
                        << " is not supported (0 to 3)";
    ScoreStage stage = mode <= 1   ? ScoreStage::Logits
                       : mode == 2 ? ScoreStage::Biased
                                   : ScoreStage::Probabilities;
    auto qType = cast<RankedTensorType>(q.getType());
    auto scoresType = RankedTensorType::get(
        {qType.getDimSize(0), qType.getDimSize(1), qType.getDimSize(2),
         cast<RankedTensorType>(k.getType()).getDimSize(2)},
        qType.getElementType());
    auto scores = AttentionScoresOp::create(
        b, loc, scoresType, q, k, mask, offset,
        causal ? b.getUnitAttr() : UnitAttr(), scale, softcap,
        ScoreStageAttr::get(b.getContext(), stage));
    if (failed(mlir::verify(scores)))
      return failure();
    results.push_back(scores.getResult());
  }
  return results;
}

/// [B, T, H] -> [B, H, T] (a per-head scalar per token).
Value headsFirst(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  Value init = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{dimOf(b, loc, x, 0), dimOf(b, loc, x, 2),
                             dimOf(b, loc, x, 1)},
      type.getElementType());
  return linalg::TransposeOp::create(b, loc, x, init,
                                     ArrayRef<int64_t>{0, 2, 1})
      .getResult()[0];
}

/// LinearAttention-27 on hybrid.linear_recurrence: 3-D Q/K/V split into
/// heads, decay per head ([B, T, Hkv]) or per key dim ([B, T, Hkv*Dk]) and
/// beta ([B, T, Hkv or 1]) moved heads-first; past_state is the initial
/// state and present_state the final one. Not yet: erase_gate.
FailureOr<SmallVector<Value>> linearAttention(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value q = nc.input(0), k = nc.input(1), v = nc.input(2),
        past = nc.input(3), decay = nc.input(4), beta = nc.input(5);
  if (!q || !k || !v)
    return nc.error() << "expects inputs query, key and value";
  if (nc.input(6))
    return nc.error() << "erase_gate is not supported yet";
  std::string ruleName = "gated_delta";
  if (const onnx::AttributeProto *a = nc.attribute("update_rule"))
    ruleName = a->s();
  std::optional<UpdateRule> rule = symbolizeUpdateRule(ruleName);
  if (!rule)
    return nc.error() << "update_rule '" << ruleName << "' is not supported";
  std::optional<int64_t> qHeads = nc.intAttr("q_num_heads"),
                         kvHeads = nc.intAttr("kv_num_heads");
  if (!qHeads || !kvHeads || *qHeads <= 0 || *kvHeads <= 0)
    return nc.error() << "needs positive q_num_heads and kv_num_heads";
  for (Value x : {q, k, v})
    if (cast<RankedTensorType>(x.getType()).getRank() != 3)
      return nc.error() << "query, key and value must be [B, T, H*D]";
  if (past && !cast<RankedTensorType>(past.getType()).getElementType().isF32())
    return nc.error() << "a past_state that is not f32 is not supported yet";
  FailureOr<Value> q4 = splitHeads(nc, q, *qHeads),
                   k4 = splitHeads(nc, k, *kvHeads),
                   v4 = splitHeads(nc, v, *kvHeads);
  if (failed(q4) || failed(k4) || failed(v4))
    return failure();
  int64_t keyDim = cast<RankedTensorType>(k4->getType()).getDimSize(3);
  if (decay) {
    int64_t last = cast<RankedTensorType>(decay.getType()).getDimSize(2);
    if (last == *kvHeads) {
      decay = headsFirst(b, loc, decay);
    } else if (last == *kvHeads * keyDim) {
      FailureOr<Value> d4 = splitHeads(nc, decay, *kvHeads);
      if (failed(d4))
        return failure();
      decay = *d4;
    } else {
      return nc.error() << "decay's last dim " << last << " is neither "
                        << *kvHeads << " nor " << *kvHeads * keyDim;
    }
  }
  if (beta)
    beta = headsFirst(b, loc, beta);
  FloatAttr scale;
  if (std::optional<float> s = nc.floatAttr("scale"); s && *s != 0.0f)
    scale = b.getF32FloatAttr(*s);
  auto op = LinearRecurrenceOp::create(
      b, loc, *q4, *k4, *v4, decay, beta, past, Value(),
      UpdateRuleAttr::get(b.getContext(), *rule), scale,
      DenseF32ArrayAttr(), IntegerAttr());
  if (failed(mlir::verify(op)))
    return failure();
  Value state = op.getFinalState();
  // Without a past state ONNX returns the state in the query's dtype.
  Type queryElement = cast<RankedTensorType>(q.getType()).getElementType();
  if (!past && !queryElement.isF32()) {
    auto type = cast<RankedTensorType>(state.getType()).clone(queryElement);
    state = arith::TruncFOp::create(b, loc, type, state);
  }
  return SmallVector<Value>{joinHeads(b, loc, op.getOutput()), state};
}

} // namespace

void mlir::hybrid::onnx_import::addAttentionOps(
    SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "Attention", 23, 25, attention});
  table.push_back({"", "LinearAttention", 27, 27, linearAttention});
}
