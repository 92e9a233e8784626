//===- DecoderBuilder.cpp - A decoder LM as hybrid-dialect IR -------------===//

#include "DecoderBuilder.h"

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::hf;
using namespace mlir::hybrid::import;

namespace {

/// One weight the architecture reads: its checkpoint name and shape.
struct WeightSpec {
  std::string name;
  SmallVector<int64_t> shape;
};

/// The weights of `c`, in argument order.
std::vector<WeightSpec> weightSpecs(const DecoderConfig &c) {
  int64_t h = c.hiddenSize, q = c.numHeads * c.headDim,
          kv = c.numKVHeads * c.headDim, ffn = c.intermediateSize;
  std::vector<WeightSpec> specs = {
      {"model.embed_tokens.weight", {c.vocabSize, h}}};
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    specs.push_back({p + "input_layernorm.weight", {h}});
    specs.push_back({p + "self_attn.q_proj.weight", {q, h}});
    specs.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    specs.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    specs.push_back({p + "self_attn.o_proj.weight", {h, q}});
    if (c.qkNorm) {
      specs.push_back({p + "self_attn.q_norm.weight", {c.headDim}});
      specs.push_back({p + "self_attn.k_norm.weight", {c.headDim}});
    }
    specs.push_back({p + "post_attention_layernorm.weight", {h}});
    specs.push_back({p + "mlp.gate_proj.weight", {ffn, h}});
    specs.push_back({p + "mlp.up_proj.weight", {ffn, h}});
    specs.push_back({p + "mlp.down_proj.weight", {h, ffn}});
  }
  specs.push_back({"model.norm.weight", {h}});
  if (!c.tieWordEmbeddings)
    specs.push_back({"lm_head.weight", {c.vocabSize, h}});
  return specs;
}

/// Builds the body of `forward`.
class Decoder {
public:
  Decoder(OpBuilder &b, Location loc, const DecoderConfig &c,
          const llvm::StringMap<Value> &weights)
      : b(b), loc(loc), c(c), weights(weights), f32(b.getF32Type()) {}

  Value forward(Value ids) {
    Value x = embed(ids);
    auto [cos, sin] = rotaryCaches(ids);
    for (int64_t i = 0; i < c.numLayers; ++i) {
      std::string p = "model.layers." + std::to_string(i) + ".";
      Value h = rmsNorm(x, weight(p + "input_layernorm.weight"));
      x = residual(x, attention(h, p + "self_attn.", cos, sin));
      h = rmsNorm(x, weight(p + "post_attention_layernorm.weight"));
      x = residual(x, mlp(h, p + "mlp."));
    }
    x = rmsNorm(x, weight("model.norm.weight"));
    if (c.logitInputScale != 1.0)
      x = scaled(x, c.logitInputScale);
    return linear(x, weights.lookup(c.tieWordEmbeddings
                                        ? "model.embed_tokens.weight"
                                        : "lm_head.weight"));
  }

private:
  OpBuilder &b;
  Location loc;
  const DecoderConfig &c;
  const llvm::StringMap<Value> &weights;
  Type f32;

  /// A weight in f32 (converted from its stored dtype when needed).
  Value weight(StringRef name) { return toF32(weights.lookup(name)); }

  Value toF32(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    if (type.getElementType() == f32)
      return x;
    return castElements(b, loc, x, f32);
  }

  /// One linalg.generic over `inputs` (all of the first one's shape),
  /// element by element.
  Value elementwise(ValueRange inputs,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
    Value init = emptyTensor(b, loc, sizesOf(b, loc, inputs[0]), f32);
    int64_t rank = cast<RankedTensorType>(init.getType()).getRank();
    SmallVector<AffineMap> maps(inputs.size() + 1,
                                b.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iters(rank,
                                           utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, inputs, ValueRange{init},
               maps, iters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, l, fn(nb, l, args.drop_back()));
               })
        .getResult(0);
  }

  Value constant(OpBuilder &nb, Location l, double v) {
    return arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(float(v)));
  }

  Value scaled(Value x, double factor) {
    return elementwise({x}, [&](OpBuilder &nb, Location l, ValueRange a) {
      return arith::MulFOp::create(nb, l, a[0], constant(nb, l, factor));
    });
  }

  /// x + branch (MiniCPM: x + branch * scale_depth / sqrt(layers)).
  Value residual(Value x, Value branch) {
    return elementwise({x, branch},
                       [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                         Value r = a[1];
                         if (c.residualScale != 1.0)
                           r = arith::MulFOp::create(
                               nb, l, r, constant(nb, l, c.residualScale));
                         return arith::AddFOp::create(nb, l, a[0], r);
                       });
  }

  /// Rows of the embedding table ([B, T] ids -> [B, T, H]); an id outside
  /// the vocabulary reads the nearest row (the runtime cannot report it
  /// from inside a kernel yet).
  Value embed(Value ids) {
    Value table = weights.lookup("model.embed_tokens.weight");
    SmallVector<OpFoldResult> sizes = {dimOf(b, loc, ids, 0),
                                       dimOf(b, loc, ids, 1),
                                       b.getIndexAttr(c.hiddenSize)};
    Value init = emptyTensor(b, loc, sizes, f32);
    MLIRContext *ctx = b.getContext();
    SmallVector<AffineMap> maps = {
        AffineMap::get(3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(1)},
                       ctx),
        b.getMultiDimIdentityMap(3)};
    SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{ids},
               ValueRange{init}, maps, iters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value id = arith::IndexCastOp::create(nb, l,
                                                       nb.getIndexType(),
                                                       args[0]);
                 Value zero = arith::ConstantIndexOp::create(nb, l, 0);
                 Value last =
                     arith::ConstantIndexOp::create(nb, l, c.vocabSize - 1);
                 id = arith::MaxSIOp::create(
                     nb, l, zero, arith::MinSIOp::create(nb, l, id, last));
                 Value e = tensor::ExtractOp::create(
                     nb, l, table,
                     ValueRange{id, linalg::IndexOp::create(nb, l, 2)});
                 if (e.getType() != f32)
                   e = arith::ExtFOp::create(nb, l, f32, e);
                 if (c.embeddingScale != 1.0)
                   e = arith::MulFOp::create(nb, l, e,
                                             constant(nb, l, c.embeddingScale));
                 linalg::YieldOp::create(nb, l, e);
               })
        .getResult(0);
  }

  /// RoPE's cos and sin of position t, [B, T, head_dim/2], as
  /// transformers computes them in f32: inv_freq[i] = 1 / theta^(2i/D),
  /// angle = t * inv_freq[i].
  std::pair<Value, Value> rotaryCaches(Value ids) {
    int64_t half = c.headDim / 2;
    SmallVector<float> invFreq;
    for (int64_t i = 0; i < half; ++i)
      invFreq.push_back(
          1.0f / std::pow(float(c.ropeTheta), float(2 * i) / float(c.headDim)));
    auto freqType = RankedTensorType::get({half}, f32);
    Value freqs = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(freqType, ArrayRef<float>(invFreq)));
    SmallVector<OpFoldResult> sizes = {dimOf(b, loc, ids, 0),
                                       dimOf(b, loc, ids, 1),
                                       b.getIndexAttr(half)};
    Value init = emptyTensor(b, loc, sizes, f32);
    SmallVector<AffineMap> maps = {
        AffineMap::get(3, 0, {b.getAffineDimExpr(2)}, b.getContext()),
        b.getMultiDimIdentityMap(3), b.getMultiDimIdentityMap(3)};
    SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType(), init.getType()}, ValueRange{freqs},
        ValueRange{init, init}, maps, iters,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value t = arith::UIToFPOp::create(
              nb, l, f32,
              arith::IndexCastOp::create(nb, l, nb.getI64Type(),
                                         linalg::IndexOp::create(nb, l, 1)));
          Value angle = arith::MulFOp::create(nb, l, t, args[0]);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{math::CosOp::create(nb, l, angle),
                         math::SinOp::create(nb, l, angle)});
        });
    return {generic.getResult(0), generic.getResult(1)};
  }

  Value rmsNorm(Value x, Value scale) {
    return RMSNormOp::create(b, loc, x.getType(), x, scale,
                             b.getI64IntegerAttr(-1),
                             b.getF32FloatAttr(float(c.rmsNormEps)));
  }

  /// x [B, T, K] times W^T, W [N, K] as stored by nn.Linear -> [B, T, N].
  Value linear(Value x, Value w) {
    auto wType = cast<RankedTensorType>(w.getType());
    int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
    w = toF32(w);
    Value wT = linalg::TransposeOp::create(
                   b, loc, w,
                   emptyTensor(b, loc, {b.getIndexAttr(k), b.getIndexAttr(n)},
                               f32),
                   ArrayRef<int64_t>{1, 0})
                   .getResult()[0];
    OpFoldResult batch = dimOf(b, loc, x, 0), seq = dimOf(b, loc, x, 1);
    Value rows = arith::MulIOp::create(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, batch),
        getValueOrCreateConstantIndexOp(b, loc, seq));
    Value flat = reshapeTo(b, loc, x, {rows, b.getIndexAttr(k)});
    Value zero = splat(b, loc, {rows, b.getIndexAttr(n)}, b.getF32FloatAttr(0));
    Value y = linalg::MatmulOp::create(b, loc, ValueRange{flat, wT},
                                       ValueRange{zero})
                  .getResult(0);
    return expandGroups(b, loc, y, {{0, 1}, {2}},
                        {batch, seq, b.getIndexAttr(n)});
  }

  /// [B, T, N*D] -> [B, N, T, D].
  Value splitHeads(Value x, int64_t heads) {
    OpFoldResult batch = dimOf(b, loc, x, 0), seq = dimOf(b, loc, x, 1);
    Value s = expandGroups(
        b, loc, x, {{0}, {1}, {2, 3}},
        {batch, seq, b.getIndexAttr(heads), b.getIndexAttr(c.headDim)});
    Value init = emptyTensor(
        b, loc,
        {batch, b.getIndexAttr(heads), seq, b.getIndexAttr(c.headDim)}, f32);
    return linalg::TransposeOp::create(b, loc, s, init,
                                       ArrayRef<int64_t>{0, 2, 1, 3})
        .getResult()[0];
  }

  /// [B, N, T, D] -> [B, T, N*D].
  Value joinHeads(Value y) {
    OpFoldResult batch = dimOf(b, loc, y, 0), seq = dimOf(b, loc, y, 2);
    Value init = emptyTensor(b, loc,
                             {batch, seq, b.getIndexAttr(c.numHeads),
                              b.getIndexAttr(c.headDim)},
                             f32);
    Value t = linalg::TransposeOp::create(b, loc, y, init,
                                          ArrayRef<int64_t>{0, 2, 1, 3})
                  .getResult()[0];
    return reshapeTo(b, loc, t,
                     {batch, seq, b.getIndexAttr(c.numHeads * c.headDim)});
  }

  Value attention(Value x, const std::string &p, Value cos, Value sin) {
    Value q = splitHeads(linear(x, weights.lookup(p + "q_proj.weight")),
                         c.numHeads);
    Value k = splitHeads(linear(x, weights.lookup(p + "k_proj.weight")),
                         c.numKVHeads);
    Value v = splitHeads(linear(x, weights.lookup(p + "v_proj.weight")),
                         c.numKVHeads);
    if (c.qkNorm) {
      q = rmsNorm(q, weight(p + "q_norm.weight"));
      k = rmsNorm(k, weight(p + "k_norm.weight"));
    }
    auto rotate = [&](Value t) -> Value {
      return RotaryEmbeddingOp::create(b, loc, t.getType(), t, cos, sin,
                                       Value(), false, IntegerAttr(),
                                       IntegerAttr());
    };
    Value o = AttentionOp::create(b, loc, rotate(q), rotate(k), v, Value(),
                                  Value(), Value(), b.getUnitAttr(),
                                  FloatAttr(), FloatAttr(), GQALayoutAttr());
    return linear(joinHeads(o), weights.lookup(p + "o_proj.weight"));
  }

  /// down(silu(gate(x)) * up(x)).
  Value mlp(Value x, const std::string &p) {
    Value gate = linear(x, weights.lookup(p + "gate_proj.weight"));
    Value up = linear(x, weights.lookup(p + "up_proj.weight"));
    Value act = elementwise({gate, up}, [&](OpBuilder &nb, Location l,
                                            ValueRange a) -> Value {
      Value g = a[0];
      Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, g));
      Value silu = arith::DivFOp::create(
          nb, l, g, arith::AddFOp::create(nb, l, constant(nb, l, 1.0), e));
      return arith::MulFOp::create(nb, l, silu, a[1]);
    });
    return linear(act, weights.lookup(p + "down_proj.weight"));
  }
};

FailureOr<Type> elementTypeOf(OpBuilder &b, StringRef dtype) {
  if (dtype == "F32")
    return Type(b.getF32Type());
  if (dtype == "BF16")
    return Type(b.getBF16Type());
  if (dtype == "F16")
    return Type(b.getF16Type());
  return failure();
}

} // namespace

LogicalResult mlir::hybrid::hf::buildForward(ModuleOp module,
                                             const DecoderConfig &config,
                                             const Checkpoint &checkpoint,
                                             Location loc) {
  OpBuilder b(module.getBodyRegion());
  std::vector<WeightSpec> specs = weightSpecs(config);
  SmallVector<Type> argTypes = {RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic}, b.getI64Type())};
  SmallVector<ParameterAttr> params;
  for (const WeightSpec &spec : specs) {
    auto it = checkpoint.find(spec.name);
    if (it == checkpoint.end())
      return emitError(loc) << "the checkpoint has no tensor '" << spec.name
                            << "', which " << config.architecture
                            << " with this config.json needs";
    const CheckpointTensor &t = it->second;
    if (ArrayRef<int64_t>(t.shape) != ArrayRef<int64_t>(spec.shape))
      return emitError(loc)
             << "tensor '" << spec.name << "' has shape ["
             << llvm::make_range(t.shape.begin(), t.shape.end())
             << "], but config.json implies ["
             << llvm::make_range(spec.shape.begin(), spec.shape.end()) << "]";
    FailureOr<Type> element = elementTypeOf(b, t.dtype);
    if (failed(element))
      return emitError(loc) << "tensor '" << spec.name << "' is " << t.dtype
                            << "; weights must be F32, BF16 or F16";
    argTypes.push_back(RankedTensorType::get(spec.shape, *element));
    params.push_back(ParameterAttr::get(
        b.getContext(), b.getStringAttr(spec.name), b.getStringAttr(t.file),
        t.offset, t.length));
  }
  auto logits = RankedTensorType::get(
      {ShapedType::kDynamic, ShapedType::kDynamic, config.vocabSize},
      b.getF32Type());
  auto fn = func::FuncOp::create(b, loc, "forward",
                                 b.getFunctionType(argTypes, {logits}));
  Block *body = fn.addEntryBlock();
  fn.setArgAttr(0, "hybrid.arg_name", b.getStringAttr("input_ids"));
  llvm::StringMap<Value> weights;
  for (auto [i, spec] : llvm::enumerate(specs)) {
    fn.setArgAttr(i + 1, ParameterAttr::getArgAttrName(), params[i]);
    weights[spec.name] = body->getArgument(i + 1);
  }
  b.setInsertionPointToStart(body);
  Decoder decoder(b, loc, config, weights);
  Value y = decoder.forward(body->getArgument(0));
  func::ReturnOp::create(b, loc, y);
  return mlir::verify(fn);
}
