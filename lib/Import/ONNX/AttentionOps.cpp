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

#include "AttentionBuilders.h"
#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

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
  // Every operand 4-D before anything is built from them: the ops' result
  // types are inferred, and inference on a 3-D V aborted the importer
  // (hybrid-fuzz-onnx).
  for (auto [name, value] : {std::pair<StringRef, Value>{"K", k},
                             {"V", v},
                             {"past_key", pastK},
                             {"past_value", pastV}})
    if (value && cast<RankedTensorType>(value.getType()).getRank() != 4)
      return nc.error() << name << " must be 4-D like Q, not "
                        << value.getType();
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
    limits.keyLen = nonpad;
    limits.causal = causal;
    if (pastK)
      limits.past = tensor::DimOp::create(b, loc, pastK, 2);
    mask = structuralMask(b, loc, q, k, mask, limits);
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
  auto op = AttentionOp::create(b, loc, q, k, v, mask, offset,
                                /*key_length=*/Value(), Value(), causal ? b.getUnitAttr() : UnitAttr(), scale,
                                softcap, GQALayoutAttr());
  if (failed(mlir::verify(op)))
    return failure();
  Value y = op.getResult();
  if (rank == 3)
    y = fromHeads(b, loc, y);
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
  return SmallVector<Value>{fromHeads(b, loc, op.getOutput()), state};
}

} // namespace

void mlir::hybrid::onnx_import::addAttentionOps(
    SmallVectorImpl<OpEntry> &table) {
  table.push_back({"", "Attention", 23, 25, attention});
  table.push_back({"", "LinearAttention", 27, 27, linearAttention});
}
