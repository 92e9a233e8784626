//===- GroupQueryAttention.cpp - com.microsoft GroupQueryAttention --------===//
//
// ORT's GroupQueryAttention-1 (what ORT's LLM exporters emit), with the
// semantics of ORT's CPU kernel: batch entry b holds L_b = seqlens_k[b] + 1
// tokens after this step, the last S of them new. On the first prompt (S
// equals total_sequence_length T) nothing comes before them; otherwise the
// first L_b - S come from past_key/past_value, which are right-padded to
// their buffer length. So:
//   past_b     = S == T ? 0 : L_b - S
//   present[b] = past[b, :, :past_b] ++ new[b], zeros after, over max(T, P)
//   row s      sees keys up to pos = past_b + s, the last local_window_size
//              of them when that is positive
// with Q and K rotated at positions past_b + s first when do_rotary is set.
// A batch of one with no window needs no mask: the causal offset is past_0.
//
//===----------------------------------------------------------------------===//

#include "AttentionBuilders.h"
#include "OpTable.h"
#include "hybrid/Import/TensorBuilders.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::onnx_import;

namespace {

using P = arith::CmpIPredicate;

/// The element of a one-element integer tensor as an index: known at import
/// when it is (a constant or a dim), read at run time otherwise.
Value scalarIndex(NodeContext &nc, size_t input) {
  OpBuilder &b = nc.b;
  if (std::optional<KnownInts> ints = nc.known(input); ints && ints->size() == 1)
    return getValueOrCreateConstantIndexOp(b, nc.loc, (*ints)[0]);
  Value t = nc.input(input);
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<Value> at(type.getRank(),
                        arith::ConstantIndexOp::create(b, nc.loc, 0));
  Value x = tensor::ExtractOp::create(b, nc.loc, t, at);
  return arith::IndexCastOp::create(b, nc.loc, b.getIndexType(), x);
}

/// L_b = seqlens_k[b] + 1 and past_b = (first prompt ? 0 : L_b - S), as
/// [B] i64 tensors.
std::pair<Value, Value> lengths(OpBuilder &b, Location loc, Value seqlens,
                                Value firstPrompt, Value newLen) {
  Type i64 = b.getI64Type();
  SmallVector<OpFoldResult> batch = {dimOf(b, loc, seqlens, 0)};
  Value init = emptyTensor(b, loc, batch, i64);
  SmallVector<AffineMap> maps(3, b.getMultiDimIdentityMap(1));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType(), init.getType()}, ValueRange{seqlens},
      ValueRange{init, init}, maps, {utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value n = args[0];
        if (!n.getType().isInteger(64))
          n = arith::ExtSIOp::create(nb, l, i64, n);
        Value keyLen = arith::AddIOp::create(
            nb, l, n, arith::ConstantIntOp::create(nb, l, i64, 1));
        Value past = arith::SelectOp::create(
            nb, l, firstPrompt, arith::ConstantIntOp::create(nb, l, i64, 0),
            arith::SubIOp::create(nb, l, keyLen, newLen));
        linalg::YieldOp::create(nb, l, ValueRange{keyLen, past});
      });
  return {generic.getResult(0), generic.getResult(1)};
}

/// The present cache [B, H, presentLen, D]: past[b, :, t] for t < pastLen[b]
/// (and t < the past buffer's length), then x[b, :, t - pastLen[b]] for the
/// S new tokens, zeros after. Reads stay in bounds for any pastLen.
Value presentCache(OpBuilder &b, Location loc, Value past, Value x,
                   Value pastLen, Value presentLen) {
  auto type = cast<RankedTensorType>(x.getType());
  Type element = type.getElementType();
  SmallVector<OpFoldResult> sizes = {dimOf(b, loc, x, 0), dimOf(b, loc, x, 1),
                                     presentLen, dimOf(b, loc, x, 3)};
  Value init = emptyTensor(b, loc, sizes, element);
  Type i64 = b.getI64Type();
  Value newLen = arith::IndexCastOp::create(
      b, loc, i64, tensor::DimOp::create(b, loc, x, 2));
  Value bufferLen =
      past ? arith::IndexCastOp::create(b, loc, i64,
                                        tensor::DimOp::create(b, loc, past, 2))
                 .getResult()
           : Value();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps = {
      AffineMap::get(4, 0, {b.getAffineDimExpr(0)}, ctx),
      b.getMultiDimIdentityMap(4)};
  SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{pastLen},
             ValueRange{init}, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value bi = linalg::IndexOp::create(nb, l, 0),
                     h = linalg::IndexOp::create(nb, l, 1),
                     t = linalg::IndexOp::create(nb, l, 2),
                     d = linalg::IndexOp::create(nb, l, 3);
               Value t64 = arith::IndexCastOp::create(nb, l, i64, t);
               Value pastB = args[0];
               auto cmp = [&](P p, Value a, Value c) {
                 return arith::CmpIOp::create(nb, l, p, a, c).getResult();
               };
               Value zero = arith::ConstantOp::create(
                   nb, l, FloatAttr::get(element, 0.0));
               // New tokens: pastB <= t < pastB + S.
               Value rel = arith::SubIOp::create(nb, l, t64, pastB);
               Value isNew = arith::AndIOp::create(
                   nb, l,
                   cmp(P::sge, rel,
                       arith::ConstantIntOp::create(nb, l, i64, 0)),
                   cmp(P::slt, rel, newLen));
               Value relIndex = arith::IndexCastOp::create(
                   nb, l, nb.getIndexType(), rel);
               Value result =
                   extractIf(nb, l, isNew, x, ValueRange{bi, h, relIndex, d},
                             zero);
               if (past) {
                 Value isPast = arith::AndIOp::create(
                     nb, l, cmp(P::slt, t64, pastB),
                     cmp(P::slt, t64, bufferLen));
                 result = extractIf(nb, l, isPast, past,
                                    ValueRange{bi, h, t, d}, result);
               }
               linalg::YieldOp::create(nb, l, ValueRange{result});
             })
      .getResult(0);
}

/// Q and K rotated at `pos` ([B, S] i64) by the [max_pos, rotary_dim/2]
/// caches, on [B, H, S, D] tensors.
FailureOr<Value> rotate(NodeContext &nc, Value x, Value cos, Value sin,
                        Value pos) {
  auto headDim = cast<RankedTensorType>(x.getType()).getDimSize(3);
  auto half = cast<RankedTensorType>(cos.getType()).getDimSize(1);
  IntegerAttr rotaryDim;
  if (!ShapedType::isDynamic(half) && 2 * half != headDim)
    rotaryDim = nc.b.getI64IntegerAttr(2 * half);
  auto op = RotaryEmbeddingOp::create(
      nc.b, nc.loc, x.getType(), x, cos, sin, pos,
      nc.intAttr("rotary_interleaved").value_or(0) != 0, IntegerAttr(),
      rotaryDim);
  if (failed(mlir::verify(op)))
    return failure();
  return op.getResult();
}

FailureOr<SmallVector<Value>> groupQueryAttention(NodeContext &nc) {
  OpBuilder &b = nc.b;
  Location loc = nc.loc;
  Value q = nc.input(0), k = nc.input(1), v = nc.input(2),
        pastK = nc.input(3), pastV = nc.input(4), seqlens = nc.input(5),
        total = nc.input(6), cos = nc.input(7), sin = nc.input(8);
  if (!q || !seqlens || !total)
    return nc.error()
           << "expects inputs query, seqlens_k and total_sequence_length";
  // seqlens_k is [batch] of integers (a 0-D one crashed the importer,
  // hybrid-fuzz-onnx).
  auto seqlensType = cast<RankedTensorType>(seqlens.getType());
  if (seqlensType.getRank() != 1 ||
      !seqlensType.getElementType().isSignlessInteger())
    return nc.error() << "seqlens_k must be a 1-D integer tensor [batch], not "
                      << seqlens.getType();
  if (bool(k) != bool(v))
    return nc.error() << "key and value come together (or neither, for a "
                         "packed query)";
  if (bool(pastK) != bool(pastV))
    return nc.error() << "past_key and past_value come together";
  static constexpr std::pair<size_t, const char *> unsupportedInputs[] = {
      {9, "position_ids"}, {10, "attention_bias"}, {11, "head_sink"}};
  for (auto [i, name] : unsupportedInputs)
    if (nc.input(i))
      return nc.error() << "input " << name << " is not supported yet";
  if (nc.intAttr("smooth_softmax").value_or(0) != 0)
    return nc.error() << "smooth_softmax is not supported yet";
  if (nc.intAttr("qk_output").value_or(0) != 0 ||
      (nc.node.output_size() > 3 && !nc.node.output(3).empty()))
    return nc.error() << "the output_qk output is not supported yet";
  std::optional<int64_t> heads = nc.intAttr("num_heads"),
                         kvHeads = nc.intAttr("kv_num_heads");
  if (!heads || !kvHeads || *heads <= 0 || *kvHeads <= 0 ||
      *heads % *kvHeads != 0)
    return nc.error() << "needs positive num_heads and kv_num_heads, the "
                         "first a multiple of the second";
  auto qType = cast<RankedTensorType>(q.getType());
  if (qType.getRank() != 3)
    return nc.error() << "query must be [B, S, hidden]";

  // A packed query holds Q, K and V heads along its hidden dim.
  if (!k) {
    int64_t hidden = qType.getDimSize(2), parts = *heads + 2 * *kvHeads;
    if (ShapedType::isDynamic(hidden) || hidden % parts != 0)
      return nc.error() << "the packed hidden size " << hidden
                        << " is not a known multiple of " << parts << " heads";
    int64_t d = hidden / parts;
    auto slice = [&](int64_t from, int64_t count) -> Value {
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                           b.getIndexAttr(from * d)};
      SmallVector<OpFoldResult> sizes = {dimOf(b, loc, q, 0),
                                         dimOf(b, loc, q, 1),
                                         b.getIndexAttr(count * d)};
      SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(b, loc, q, offsets, sizes, strides);
    };
    k = slice(*heads, *kvHeads);
    v = slice(*heads + *kvHeads, *kvHeads);
    q = slice(0, *heads);
  }
  FailureOr<Value> q4 = splitHeads(nc, q, *heads),
                   k4 = splitHeads(nc, k, *kvHeads),
                   v4 = splitHeads(nc, v, *kvHeads);
  if (failed(q4) || failed(k4) || failed(v4))
    return failure();

  // past_b per batch entry, from seqlens_k and whether this is the first
  // prompt.
  Type i64 = b.getI64Type();
  Value newLen = tensor::DimOp::create(b, loc, *q4, 2);
  Value totalLen = scalarIndex(nc, 6);
  Value firstPrompt =
      arith::CmpIOp::create(b, loc, P::eq, newLen, totalLen);
  Value newLen64 = arith::IndexCastOp::create(b, loc, i64, newLen);
  auto [keyLen, pastLen] = lengths(b, loc, seqlens, firstPrompt, newLen64);

  if (nc.intAttr("do_rotary").value_or(0) != 0) {
    if (!cos || !sin)
      return nc.error() << "do_rotary needs cos_cache and sin_cache";
    Value pos = positionsFrom(b, loc, pastLen,
                          {dimOf(b, loc, *q4, 0), dimOf(b, loc, *q4, 2)});
    FailureOr<Value> qr = rotate(nc, *q4, cos, sin, pos),
                     kr = rotate(nc, *k4, cos, sin, pos);
    if (failed(qr) || failed(kr))
      return failure();
    q4 = *qr, k4 = *kr;
  }

  Value bufferLen = pastK ? tensor::DimOp::create(b, loc, pastK, 2).getResult()
                          : arith::ConstantIndexOp::create(b, loc, 0).getResult();
  Value presentLen = arith::MaxSIOp::create(b, loc, totalLen, bufferLen);
  Value presentK = presentCache(b, loc, pastK, *k4, pastLen, presentLen);
  Value presentV = presentCache(b, loc, pastV, *v4, pastLen, presentLen);

  int64_t window = nc.intAttr("local_window_size").value_or(-1);
  Value mask, offset;
  bool causal = true;
  if (cast<RankedTensorType>(q.getType()).getDimSize(0) == 1 && window <= 0) {
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    offset = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        tensor::ExtractOp::create(b, loc, pastLen, ValueRange{zero}));
  } else {
    KeyLimits limits;
    limits.keyLen = keyLen;
    limits.pastLen = pastLen;
    limits.causal = true;
    limits.left = window > 0 ? window - 1 : -1;
    mask = structuralMask(b, loc, *q4, presentK, Value(), limits);
    causal = false;
  }
  FloatAttr scale, softcap;
  if (std::optional<float> s = nc.floatAttr("scale"); s && *s != 0.0f)
    scale = b.getF32FloatAttr(*s);
  if (std::optional<float> c = nc.floatAttr("softcap"); c && *c > 0)
    softcap = b.getF32FloatAttr(*c);
  auto op = AttentionOp::create(b, loc, *q4, presentK, presentV, mask, offset,
                                /*key_length=*/Value(), Value(), causal ? b.getUnitAttr() : UnitAttr(),
                                scale, softcap, GQALayoutAttr());
  if (failed(mlir::verify(op)))
    return failure();
  return SmallVector<Value>{fromHeads(b, loc, op.getResult()), presentK,
                            presentV};
}

} // namespace

void mlir::hybrid::onnx_import::addGroupQueryAttention(
    SmallVectorImpl<OpEntry> &table) {
  table.push_back({"com.microsoft", "GroupQueryAttention", 1, 1,
                   groupQueryAttention});
}
