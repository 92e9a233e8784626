//===- DecoderBuilder.cpp - A decoder LM as hybrid-dialect IR -------------===//

#include "DecoderBuilder.h"
#include "RotaryFrequencies.h"

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Import/HF/HFImporter.h"
#include "hybrid/Import/TensorBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::hf;
using namespace mlir::hybrid::import;

namespace {

/// Tokens per chunk_moe chunk: BlockFFN's chunk-level sparsity is measured
/// over 8 consecutive tokens. A schedule choice: results are token-level.
constexpr int64_t kMoEChunk = 8;

/// Tokens per chunk of the recurrence's chunked (prefill) form, as
/// Lightning Attention's kernels use: a schedule choice, never a result.
constexpr int64_t kRecurrenceChunk = 64;

/// One weight the architecture reads: its checkpoint name and shape.
/// A subset of a tensor's rows has a name of its own and names its
/// `source` tensor (of `sourceShape`), of which it takes `rows`.
struct WeightSpec {
  std::string name;
  SmallVector<int64_t> shape;
  std::string source = {};
  SmallVector<int64_t> sourceShape = {};
  ArrayRef<int64_t> rows = {};

  StringRef tensor() const { return source.empty() ? name : source; }
  ArrayRef<int64_t> tensorShape() const {
    return source.empty() ? shape : sourceShape;
  }
};

/// The parameter of the LM head restricted to `headRows`: distinct from
/// its source tensor's (which the embeddings may read whole).
constexpr StringLiteral kHeadRowsKey = "lm_head.frequent_rows";

/// The weight the LM head multiplies by.
StringRef headWeight(const DecoderConfig &c) {
  return c.headRows.empty() ? c.headTensor() : StringRef(kHeadRowsKey);
}

/// The weights of `c`, in argument order.
std::vector<WeightSpec> weightSpecs(const DecoderConfig &c) {
  int64_t h = c.hiddenSize, q = c.numHeads * c.headDim,
          ffn = c.intermediateSize;
  std::vector<WeightSpec> specs = {
      {"model.embed_tokens.weight", {c.vocabSize, h}}};
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    specs.push_back({p + "input_layernorm.weight", {h}});
    std::string a = p + "self_attn.";
    // Q, K, V and O of `heads` / `kvHeads` heads of `d`, with per-head
    // norms of Q and K when `qkNorm`.
    auto projections = [&](int64_t heads, int64_t kvHeads, int64_t d,
                           bool qkNorm) {
      specs.push_back({a + "q_proj.weight", {heads * d, h}});
      specs.push_back({a + "k_proj.weight", {kvHeads * d, h}});
      specs.push_back({a + "v_proj.weight", {kvHeads * d, h}});
      specs.push_back({a + "o_proj.weight", {h, heads * d}});
      if (qkNorm) {
        specs.push_back({a + "q_norm.weight", {d}});
        specs.push_back({a + "k_norm.weight", {d}});
      }
    };
    if (c.isLightning(i)) {
      const LightningConfig &l = *c.lightning;
      projections(l.numHeads, l.numKVHeads, l.headDim, l.qkNorm);
      if (l.outputNorm)
        specs.push_back({a + "o_norm.weight", {l.numHeads * l.headDim}});
      if (l.outputGate)
        specs.push_back({a + "z_proj.weight", {l.numHeads * l.headDim, h}});
    } else {
      projections(c.numHeads, c.numKVHeads, c.headDim, c.qkNorm);
      if (c.attentionOutputGate)
        specs.push_back({a + "o_gate.weight", {q, h}});
    }
    specs.push_back({p + "post_attention_layernorm.weight", {h}});
    if (const std::optional<BlockFFNConfig> &f = c.blockFFN) {
      int64_t e = f->numExperts, be = f->expertSize;
      specs.push_back({p + "mlp.router_proj.weight", {e, h}});
      specs.push_back({p + "mlp.router_norm.weight", {e}});
      if (f->linearLayout) {
        specs.push_back({p + "mlp.up_proj", {e * be, h}});
        specs.push_back({p + "mlp.down_proj", {h, e * be}});
      } else {
        specs.push_back({p + "mlp.up_proj", {e, be, h}});
        specs.push_back({p + "mlp.down_proj", {e, h, be}});
      }
      continue;
    }
    specs.push_back({p + "mlp.gate_proj.weight", {ffn, h}});
    specs.push_back({p + "mlp.up_proj.weight", {ffn, h}});
    specs.push_back({p + "mlp.down_proj.weight", {h, ffn}});
  }
  specs.push_back({"model.norm.weight", {h}});
  if (!c.headRows.empty())
    specs.push_back({kHeadRowsKey.str(),
                     {int64_t(c.headRows.size()), h},
                     c.headTensor().str(),
                     {c.vocabSize, h},
                     c.headRows});
  else if (!c.tieWordEmbeddings)
    specs.push_back({"lm_head.weight", {c.vocabSize, h}});
  return specs;
}

/// Lightning Attention's decay: the ALiBi slopes of `heads` heads (Press
/// et al.: 2^(-8/n)^(i+1) for a power of two n; otherwise those of the
/// power of two below, then every other slope of twice that), each head's
/// state decaying by exp(-slope) per token.
SmallVector<float> alibiSlopes(int64_t heads) {
  auto powerOfTwo = [](int64_t n) {
    SmallVector<float> slopes;
    double start = std::pow(2.0, -8.0 / double(n));
    for (int64_t i = 0; i < n; ++i)
      slopes.push_back(float(std::pow(start, double(i + 1))));
    return slopes;
  };
  int64_t below = int64_t(1) << llvm::Log2_64(uint64_t(heads));
  SmallVector<float> slopes = powerOfTwo(below);
  SmallVector<float> twice = powerOfTwo(2 * below);
  for (int64_t i = 0; int64_t(slopes.size()) < heads; i += 2)
    slopes.push_back(twice[i]);
  return slopes;
}

/// `state` with its rows replaced by `next` when `fits` (an insert of
/// every row, in place once bufferized), else unchanged (an empty insert):
/// a mismatched batch is never written out of bounds.
Value replaceRows(Value state, Value next, Value fits, OpBuilder &b,
                  Location loc) {
  auto type = cast<RankedTensorType>(state.getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value rows = arith::SelectOp::create(
      b, loc, fits, tensor::DimOp::create(b, loc, next, 0), zero);
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, next);
  sizes[0] = rows;
  SmallVector<OpFoldResult> origin(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> one(type.getRank(), b.getIndexAttr(1));
  Value part =
      tensor::ExtractSliceOp::create(b, loc, next, origin, sizes, one);
  return tensor::InsertSliceOp::create(b, loc, part, state, origin, sizes,
                                       one);
}

/// A step over caches: the `position` tokens before it are in the caches
/// (an index), and for verification over a draft tree the tree's parents
/// [N] i32 (semantics.md section 6): node i sits at position + depth(i)
/// and attends the prefix, its ancestors and itself. Null for `forward`,
/// which starts from empty caches.
struct Step {
  Value position;
  Value parents;
  /// The tree is a chain (parents[i] = i - 1, verify_chain): attention and
  /// RoPE run as for consecutive tokens (a chain's tree mask is causal, and
  /// sparse layers then select blocks per token as decode does); only the
  /// lightning layers keep every node's state.
  bool chain = false;

  /// The parents attention and RoPE see: none for a chain.
  Value treeParents() const { return chain ? Value() : parents; }
};

/// What one layer reads and returns across steps:
///   attention: its key and value caches [B, Hkv, capacity, D], the first
///     `position` rows valid; it writes the step's rows at [position,
///     position + T) (tensor.insert_slice: destination-passing style, in
///     place once bufferized) and returns both; a sparse layer also keeps
///     its compressed keys [B, Hkv, kernels, D] (hybrid.compress_keys);
///   lightning: its recurrent state [B, H, Dk, Dv] f32 after `position`
///     tokens; it returns the state after the step, or, over a draft tree,
///     every node's state [B, H, N, Dk, Dv] (the caller commits one).
struct LayerCaches {
  SmallVector<Value> in, out;
};

/// `sparse_config` as the ops' attribute, or null for dense attention.
static SparseConfigAttr sparseConfigAttr(MLIRContext *context,
                                         const DecoderConfig &c) {
  if (!c.sparse)
    return {};
  const SparseAttentionConfig &s = *c.sparse;
  return SparseConfigAttr::get(context, s.kernelSize, s.kernelStride,
                               s.blockSize, s.topk, s.initBlocks, s.windowSize,
                               s.denseLen);
}

/// Builds the body of an entry point.
class Decoder {
public:
  Decoder(OpBuilder &b, Location loc, const DecoderConfig &c,
          const llvm::StringMap<Value> &weights)
      : b(b), loc(loc), c(c), weights(weights), f32(b.getF32Type()) {}

  /// Runs layer `i` on x (see layer()); lets the caller call a function
  /// built once for every layer instead of inlining each.
  using LayerStep =
      function_ref<Value(int64_t i, Value x, Value cos, Value sin)>;

  /// Logits [B, T, vocab] of `ids` [B, T]: from empty caches (no `step`),
  /// or after the `step->position` tokens the caches hold.
  Value forward(Value ids, const Step *step, LayerStep layerStep) {
    checkVocabulary(ids);
    Value x = embed(ids);
    Value depths =
        step && step->treeParents() ? treeDepths(step->treeParents())
                                    : Value();
    auto [cos, sin] =
        rotaryCaches(ids, step ? step->position : Value(), depths);
    for (int64_t i = 0; i < c.numLayers; ++i)
      x = layerStep(i, x, cos, sin);
    x = rmsNorm(x, weight("model.norm.weight"));
    if (c.logitInputScale != 1.0)
      x = scaled(x, c.logitInputScale);
    return linear(x, weights.lookup(headWeight(c)));
  }

  /// Decoder layer `i` (weights `model.layers.<i>.*`; with a `step`, its
  /// `caches`): the token mixer (attention or lightning) and MLP blocks
  /// with their residuals.
  Value layer(Value x, Value cos, Value sin, const Step *step,
              LayerCaches *caches, int64_t i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    Value h = rmsNorm(x, weight(p + "input_layernorm.weight"));
    Value mixed = c.isLightning(i)
                      ? lightning(h, p + "self_attn.", cos, sin, step, caches)
                      : attention(h, p + "self_attn.", cos, sin, step, caches);
    x = residual(x, mixed);
    h = rmsNorm(x, weight(p + "post_attention_layernorm.weight"));
    return residual(x, mlp(h, p + "mlp."));
  }

private:
  OpBuilder &b;
  Location loc;
  const DecoderConfig &c;
  const llvm::StringMap<Value> &weights;
  Type f32;

  SparseConfigAttr sparseConfig() {
    return sparseConfigAttr(b.getContext(), c);
  }

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
  /// the vocabulary (reported by checkVocabulary) reads the nearest row.
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

  /// RoPE's cos and sin of token t's position (`position` + t, or t; for
  /// a draft tree `position` + depth(t)),
  /// [B, T, head_dim/2], as transformers computes them in f32: angle =
  /// position * inv_freq[i] (the config's scaling folded into inv_freq;
  /// LongRoPE picks its long table once the sequence passes the original
  /// length, and scales cos and sin).
  std::pair<Value, Value> rotaryCaches(Value ids, Value position,
                                       Value depths) {
    RotaryFrequencies freqs = rotaryFrequencies(c);
    int64_t half = c.headDim / 2;
    auto freqType = RankedTensorType::get({half}, f32);
    auto table = [&](ArrayRef<float> values) -> Value {
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(freqType, values));
    };
    SmallVector<Value> tables = {table(freqs.invFreq)};
    Value useLong;
    if (!freqs.longInvFreq.empty()) {
      tables.push_back(table(freqs.longInvFreq));
      Value length = tensor::DimOp::create(b, loc, ids, 1);
      if (position)
        length = arith::AddIOp::create(b, loc, length, position);
      useLong = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::sgt, length,
          arith::ConstantIndexOp::create(b, loc, freqs.longAbove));
    }
    SmallVector<OpFoldResult> sizes = {dimOf(b, loc, ids, 0),
                                       dimOf(b, loc, ids, 1),
                                       b.getIndexAttr(half)};
    Value init = emptyTensor(b, loc, sizes, f32);
    AffineMap perFreq =
        AffineMap::get(3, 0, {b.getAffineDimExpr(2)}, b.getContext());
    SmallVector<AffineMap> maps(tables.size(), perFreq);
    SmallVector<Value> ins(tables);
    if (depths) {
      ins.push_back(depths);
      maps.push_back(
          AffineMap::get(3, 0, {b.getAffineDimExpr(1)}, b.getContext()));
    }
    maps.append({b.getMultiDimIdentityMap(3), b.getMultiDimIdentityMap(3)});
    SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType(), init.getType()}, ins,
        ValueRange{init, init}, maps, iters,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          // Token t sits at t, or at its depth in a draft tree.
          Value index = depths ? arith::IndexCastOp::create(
                                     nb, l, nb.getIndexType(),
                                     args[tables.size()])
                                     .getResult()
                               : linalg::IndexOp::create(nb, l, 1).getResult();
          if (position)
            index = arith::AddIOp::create(nb, l, index, position);
          Value t = arith::UIToFPOp::create(
              nb, l, f32,
              arith::IndexCastOp::create(nb, l, nb.getI64Type(), index));
          Value freq = useLong ? arith::SelectOp::create(nb, l, useLong,
                                                         args[1], args[0])
                                     .getResult()
                               : args[0];
          Value angle = arith::MulFOp::create(nb, l, t, freq);
          Value cos = math::CosOp::create(nb, l, angle);
          Value sin = math::SinOp::create(nb, l, angle);
          if (freqs.attentionFactor != 1.0f) {
            Value factor = constant(nb, l, freqs.attentionFactor);
            cos = arith::MulFOp::create(nb, l, cos, factor);
            sin = arith::MulFOp::create(nb, l, sin, factor);
          }
          linalg::YieldOp::create(nb, l, ValueRange{cos, sin});
        });
    return {generic.getResult(0), generic.getResult(1)};
  }

  /// depth(i) of each node of a draft tree ([N] i64): depth(parent) + 1,
  /// the root 0. Parents are read clamped into [0, i) so that a malformed
  /// tree (which the attention op reports) reads nothing out of bounds.
  Value treeDepths(Value parents) {
    Type i64 = b.getI64Type();
    Value n = tensor::DimOp::create(b, loc, parents, 0);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value zeroDepth = arith::ConstantIntOp::create(b, loc, i64, 0);
    Value init = linalg::FillOp::create(
                     b, loc, zeroDepth,
                     emptyTensor(b, loc, {OpFoldResult(n)}, i64))
                     .getResult(0);
    auto loop = scf::ForOp::create(
        b, loc, one, n, one, ValueRange{init},
        [&](OpBuilder &nb, Location l, Value i, ValueRange iter) {
          Value p = arith::IndexCastOp::create(
              nb, l, nb.getIndexType(),
              tensor::ExtractOp::create(nb, l, parents, ValueRange{i}));
          Value last = arith::SubIOp::create(nb, l, i, one);
          p = arith::MaxSIOp::create(nb, l, zero,
                                     arith::MinSIOp::create(nb, l, p, last));
          Value d = arith::AddIOp::create(
              nb, l,
              tensor::ExtractOp::create(nb, l, iter[0], ValueRange{p}),
              arith::ConstantIntOp::create(nb, l, i64, 1));
          scf::YieldOp::create(nb, l,
                               ValueRange{tensor::InsertOp::create(
                                   nb, l, d, iter[0], ValueRange{i})});
        });
    return loop.getResult(0);
  }

  Value rmsNorm(Value x, Value scale) {
    return RMSNormOp::create(b, loc, x.getType(), x, scale,
                             b.getI64IntegerAttr(-1),
                             b.getF32FloatAttr(float(c.rmsNormEps)));
  }

  /// x [B, T, K] as tokens along columns, [K, B*T]: the B operand of the
  /// projections below. Made once per input and shared by every
  /// projection of it (Q, K and V; gate and up).
  Value tokensT(Value x) {
    int64_t k = cast<RankedTensorType>(x.getType()).getDimSize(2);
    Value rows = tokenCount(x);
    Value flat = reshapeTo(b, loc, x, {rows, b.getIndexAttr(k)});
    return linalg::TransposeOp::create(
               b, loc, flat,
               emptyTensor(b, loc, {b.getIndexAttr(k), rows}, f32),
               ArrayRef<int64_t>{1, 0})
        .getResult()[0];
  }

  /// B*T of x [B, T, ...].
  Value tokenCount(Value x) {
    return arith::MulIOp::create(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, dimOf(b, loc, x, 0)),
        getValueOrCreateConstantIndexOp(b, loc, dimOf(b, loc, x, 1)));
  }

  /// x [B, T, K] times W^T, W [N, K] as stored by nn.Linear -> [B, T, N],
  /// computed as (W x^T)^T from `xT = tokensT(x)`: the weight is the
  /// product's row-major A, read in place in its stored dtype (the tiled
  /// product accumulates in f32), and only activations are transposed.
  Value project(Value x, Value xT, Value w) {
    int64_t n = cast<RankedTensorType>(w.getType()).getDimSize(0);
    Value rows = tokenCount(x);
    Value zero = splat(b, loc, {b.getIndexAttr(n), rows}, b.getF32FloatAttr(0));
    Value yT = linalg::MatmulOp::create(b, loc, ValueRange{w, xT},
                                        ValueRange{zero})
                   .getResult(0);
    Value y = linalg::TransposeOp::create(
                  b, loc, yT,
                  emptyTensor(b, loc, {rows, b.getIndexAttr(n)}, f32),
                  ArrayRef<int64_t>{1, 0})
                  .getResult()[0];
    return expandGroups(b, loc, y, {{0, 1}, {2}},
                        {dimOf(b, loc, x, 0), dimOf(b, loc, x, 1),
                         b.getIndexAttr(n)});
  }

  /// One projection of an input that has no other.
  Value linear(Value x, Value w) { return project(x, tokensT(x), w); }

  Value rotate(Value t, Value cos, Value sin) {
    return RotaryEmbeddingOp::create(b, loc, t.getType(), t, cos, sin,
                                     Value(), false, IntegerAttr(),
                                     IntegerAttr());
  }

  /// o * sigmoid(x W^T): SALA's output gates, on the heads' concatenated
  /// output before o_proj.
  Value gated(Value o, Value x, Value xT, Value gateWeight) {
    Value gate = project(x, xT, gateWeight);
    return elementwise({o, gate}, [&](OpBuilder &nb, Location l,
                                      ValueRange a) -> Value {
      Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[1]));
      return arith::DivFOp::create(
          nb, l, a[0], arith::AddFOp::create(nb, l, constant(nb, l, 1.0), e));
    });
  }

  /// Q [B, heads, T, D], K and V [B, kvHeads, T, D] of x (`xT` its
  /// transpose): the `p` q/k/v projections split into heads, then with
  /// `qkNorm` a per-head RMSNorm of Q and K (p's q_norm, k_norm), with
  /// `rope` rotate-half RoPE of both.
  std::tuple<Value, Value, Value>
  queryKeyValue(Value x, Value xT, const std::string &p, int64_t heads,
                int64_t kvHeads, bool qkNorm, bool rope, Value cos,
                Value sin) {
    auto headsOf = [&](StringRef name, int64_t n) {
      return toHeads(b, loc, project(x, xT, weights.lookup(p + name.str())),
                     n);
    };
    Value q = headsOf("q_proj.weight", heads);
    Value k = headsOf("k_proj.weight", kvHeads);
    Value v = headsOf("v_proj.weight", kvHeads);
    if (qkNorm) {
      q = rmsNorm(q, weight(p + "q_norm.weight"));
      k = rmsNorm(k, weight(p + "k_norm.weight"));
    }
    if (rope) {
      q = rotate(q, cos, sin);
      k = rotate(k, cos, sin);
    }
    return {q, k, v};
  }

  Value attention(Value x, const std::string &p, Value cos, Value sin,
                  const Step *step, LayerCaches *caches) {
    Value xT = tokensT(x);
    // MiniCPM-SALA's HyPE: attention layers may use no positions at all.
    auto [q, k, v] = queryKeyValue(x, xT, p, c.numHeads, c.numKVHeads,
                                   c.qkNorm, c.attentionRope, cos, sin);
    Value offset, keyLength, compressed;
    Value parents = step ? step->treeParents() : Value();
    SparseConfigAttr sparse = sparseConfig();
    if (step) {
      // The kernels read the caches in place: their first `keyLength` rows
      // are the keys (the op's key_length), the rest is free capacity.
      Value keys = caches->in[0], values = caches->in[1];
      Value fits = checkCapacity(k, keys, values, step->position);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      offset = arith::SelectOp::create(b, loc, fits, step->position, zero);
      Value newK = appendToCache(keys, k, offset, fits);
      Value newV = appendToCache(values, v, offset, fits);
      keyLength = arith::SelectOp::create(
          b, loc, fits,
          arith::AddIOp::create(b, loc, offset,
                                tensor::DimOp::create(b, loc, k, 2)),
          zero);
      caches->out = {newK, newV};
      k = newK, v = newV;
      if (sparse) {
        // The compressed keys of the step's new kernel windows join their
        // cache: block selection then reads no key it does not score.
        compressed = CompressKeysOp::create(b, loc, caches->in[2], newK,
                                            keyLength, offset, sparse);
        caches->out.push_back(compressed);
      }
    }
    Value o;
    if (sparse) {
      // InfLLM-V2: the blocks each query attends beyond its local window,
      // chosen from the compressed keys; dense below dense_len keys. A
      // draft tree's nodes share one selection (the union: the op's
      // default policy).
      Value blocks = BlockSelectOp::create(b, loc, q, k, offset, keyLength,
                                           compressed, parents, sparse,
                                           FloatAttr(), TreePolicyAttr());
      o = BlockSparseAttentionOp::create(b, loc, q, k, v, blocks, offset,
                                         keyLength, parents, sparse,
                                         FloatAttr(), FloatAttr(),
                                         GQALayoutAttr());
    } else {
      o = AttentionOp::create(b, loc, q, k, v, Value(), offset, keyLength,
                              parents, b.getUnitAttr(), FloatAttr(),
                              FloatAttr(), GQALayoutAttr());
    }
    o = fromHeads(b, loc, o);
    if (c.attentionOutputGate)
      o = gated(o, x, xT, weights.lookup(p + "o_gate.weight"));
    return linear(o, weights.lookup(p + "o_proj.weight"));
  }

  /// MiniCPM-SALA's Lightning Attention: Q/K/V projections, per-head
  /// RMSNorm of Q and K (qk_norm), RoPE (lightning_use_rope), then
  /// hybrid.linear_recurrence (gated, decay exp(-slope_h) with the ALiBi
  /// slopes, queries scaled by lightning_scale; S = decay * S + k v^T,
  /// o = S^T q), RMSNorm of the heads' output (use_output_norm), the
  /// sigmoid gate z_proj (use_output_gate) and o_proj. Fewer K/V heads are
  /// repeated per query head: the slopes are per query head.
  Value lightning(Value x, const std::string &p, Value cos, Value sin,
                  const Step *step, LayerCaches *caches) {
    const LightningConfig &l = *c.lightning;
    Value xT = tokensT(x);
    auto [q, k, v] = queryKeyValue(x, xT, p, l.numHeads, l.numKVHeads,
                                   l.qkNorm, l.rope, cos, sin);
    if (l.numKVHeads != l.numHeads) {
      k = repeatHeads(k, l.numHeads);
      v = repeatHeads(v, l.numHeads);
    }
    Value initial, fits, parents = step ? step->parents : Value();
    if (step) {
      Value batch = tensor::DimOp::create(b, loc, q, 0);
      fits = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq,
          tensor::DimOp::create(b, loc, caches->in[0], 0), batch);
      // Read in place: the recurrence itself fails the call, unread, for a
      // state of another shape; `fits` keeps its write-back in bounds.
      initial = caches->in[0];
    }
    auto rec = LinearRecurrenceOp::create(
        b, loc, q, k, v, Value(), Value(), initial, parents,
        UpdateRuleAttr::get(b.getContext(), UpdateRule::Gated),
        b.getF32FloatAttr(float(l.scale)),
        b.getDenseF32ArrayAttr(alibiSlopes(l.numHeads)),
        b.getI64IntegerAttr(kRecurrenceChunk));
    if (step)
      caches->out = {parents ? rec.getFinalState()
                             : replaceRows(caches->in[0], rec.getFinalState(),
                                           fits, b, loc)};
    Value o = fromHeads(b, loc, rec.getOutput());
    if (l.outputNorm)
      o = rmsNorm(o, weight(p + "o_norm.weight"));
    if (l.outputGate)
      o = gated(o, x, xT, weights.lookup(p + "z_proj.weight"));
    return linear(o, weights.lookup(p + "o_proj.weight"));
  }

  /// x [B, Hkv, T, D] with each head repeated for the `heads / Hkv` query
  /// heads of its group (repeat_kv's order): [B, heads, T, D].
  Value repeatHeads(Value x, int64_t heads) {
    int64_t kvHeads = cast<RankedTensorType>(x.getType()).getDimSize(1);
    SmallVector<OpFoldResult> sizes = sizesOf(b, loc, x);
    sizes[1] = b.getIndexAttr(heads);
    Value init = emptyTensor(b, loc, sizes, f32);
    MLIRContext *ctx = b.getContext();
    AffineExpr d0 = b.getAffineDimExpr(0), d1 = b.getAffineDimExpr(1),
               d2 = b.getAffineDimExpr(2), d3 = b.getAffineDimExpr(3);
    SmallVector<AffineMap> maps = {
        AffineMap::get(4, 0, {d0, d1.floorDiv(heads / kvHeads), d2, d3}, ctx),
        b.getMultiDimIdentityMap(4)};
    SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{x},
               ValueRange{init}, maps, iters,
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 linalg::YieldOp::create(nb, l, args[0]);
               })
        .getResult(0);
  }

  /// The cache with `x` [B, Hkv, T, D] written at rows [at, at + T).
  /// When the step does not fit (hybrid.check reports it) nothing is
  /// written (an empty slice at row 0), so that nothing reads or writes
  /// out of bounds. Straight-line code, no scf.if: bufferization then
  /// writes the caller's cache in place.
  Value appendToCache(Value cacheTensor, Value x, Value at, Value fits) {
    auto keysType = RankedTensorType::get(
        {ShapedType::kDynamic, c.numKVHeads, ShapedType::kDynamic, c.headDim},
        f32);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    auto pick = [&](Value ifFits, Value otherwise) {
      return arith::SelectOp::create(b, loc, fits, ifFits, otherwise)
          .getResult();
    };
    Value batch = tensor::DimOp::create(b, loc, x, 0);
    Value rows = pick(batch, arith::MinSIOp::create(
                                 b, loc, batch,
                                 tensor::DimOp::create(b, loc, cacheTensor, 0)));
    Value len = pick(tensor::DimOp::create(b, loc, x, 2), zero);
    SmallVector<OpFoldResult> origin(4, b.getIndexAttr(0));
    SmallVector<OpFoldResult> one(4, b.getIndexAttr(1));
    SmallVector<OpFoldResult> piece = {rows, b.getIndexAttr(c.numKVHeads),
                                       len, b.getIndexAttr(c.headDim)};
    Value part = tensor::ExtractSliceOp::create(b, loc, keysType, x, origin,
                                                piece, one);
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                         at, b.getIndexAttr(0)};
    return tensor::InsertSliceOp::create(b, loc, part, cacheTensor, offsets,
                                         piece, one);
  }

  /// Whether this layer's step fits its caches, reported through
  /// hybrid.check when not: 0 <= position, position + T <= capacity, and
  /// both caches have the step's batch and one capacity. Each layer checks
  /// its own caches: one long chain of conditions in the entry point made
  /// LLVM's constraint elimination superlinear.
  Value checkCapacity(Value x, Value keys, Value values, Value position) {
    using P = arith::CmpIPredicate;
    Value newLen = tensor::DimOp::create(b, loc, x, 2);
    Value batch = tensor::DimOp::create(b, loc, x, 0);
    Value capacity = tensor::DimOp::create(b, loc, keys, 2);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    auto cmp = [&](P p, Value l, Value r) {
      return arith::CmpIOp::create(b, loc, p, l, r).getResult();
    };
    // position <= capacity - T rather than position + T <= capacity: a
    // position near the integer limit must not wrap into "fits".
    Value fits = cmp(P::sge, position, zero);
    for (Value cond :
         {cmp(P::sle, newLen, capacity),
          cmp(P::sle, position,
              arith::SubIOp::create(b, loc, capacity, newLen)),
          cmp(P::eq, tensor::DimOp::create(b, loc, keys, 0), batch),
          cmp(P::eq, tensor::DimOp::create(b, loc, values, 0), batch),
          cmp(P::eq, tensor::DimOp::create(b, loc, values, 2), capacity)})
      fits = arith::AndIOp::create(b, loc, fits, cond);
    CheckOp::create(b, loc, fits,
                    "the step does not fit the KV cache: position must be at "
                    "least 0, position + new tokens at most the caches' "
                    "capacity, and every cache must have the ids' batch and "
                    "one capacity");
    return fits;
  }

  /// Reports, through hybrid.check, a token id outside the vocabulary.
  void checkVocabulary(Value ids) {
    Type element = cast<RankedTensorType>(ids.getType()).getElementType();
    Value zero = arith::ConstantIntOp::create(b, loc, element, 0);
    Value vocab = arith::ConstantIntOp::create(b, loc, element, c.vocabSize);
    CheckOp::create(b, loc, allInRange(b, loc, ids, zero, vocab),
                    "a token id is outside the vocabulary [0, " +
                        std::to_string(c.vocabSize) + ")");
  }

  /// BlockFFN: hybrid.chunk_moe over the tokens of the step, flattened to
  /// [B*T, H], in chunks of kMoEChunk consecutive tokens.
  Value blockFFN(Value x, const std::string &p) {
    const BlockFFNConfig &f = *c.blockFFN;
    int64_t e = f.numExperts, be = f.expertSize, h = c.hiddenSize;
    OpFoldResult batch = dimOf(b, loc, x, 0), seq = dimOf(b, loc, x, 1);
    Value tokens = reshapeTo(b, loc, x, {tokenCount(x), b.getIndexAttr(h)});
    // The experts stay in the checkpoint's dtype: chunk_moe widens only
    // the experts a chunk activates. Linear-layout transposes are hoisted
    // to binding (hybrid-hoist-weight-transposes).
    Value up = weights.lookup(p + "up_proj"),
          down = weights.lookup(p + "down_proj");
    Type storage = cast<RankedTensorType>(down.getType()).getElementType();
    if (f.linearLayout) {
      // [E*Be, H] -> [E, Be, H]; [H, E*Be] -> [H, E, Be] -> [E, H, Be].
      up = expandGroups(b, loc, up, {{0, 1}, {2}},
                        {b.getIndexAttr(e), b.getIndexAttr(be),
                         b.getIndexAttr(h)});
      Value split = expandGroups(b, loc, down, {{0}, {1, 2}},
                                 {b.getIndexAttr(h), b.getIndexAttr(e),
                                  b.getIndexAttr(be)});
      down = linalg::TransposeOp::create(
                 b, loc, split,
                 emptyTensor(b, loc,
                             {b.getIndexAttr(e), b.getIndexAttr(h),
                              b.getIndexAttr(be)},
                             storage),
                 ArrayRef<int64_t>{1, 0, 2})
                 .getResult()[0];
    }
    Value y = ChunkMoEOp::create(
        b, loc, tokens, weight(p + "router_proj.weight"),
        weight(p + "router_norm.weight"), Value(), up, down, Value(), Value(),
        RouterKindAttr::get(b.getContext(), RouterKind::BlockFFN),
        b.getI64IntegerAttr(kMoEChunk), IntegerAttr(),
        b.getF32FloatAttr(float(c.rmsNormEps)));
    return expandGroups(b, loc, y, {{0, 1}, {2}},
                        {batch, seq, b.getIndexAttr(h)});
  }

  /// down(silu(gate(x)) * up(x)), or BlockFFN's experts.
  Value mlp(Value x, const std::string &p) {
    if (c.blockFFN)
      return blockFFN(x, p);
    Value xT = tokensT(x);
    Value gate = project(x, xT, weights.lookup(p + "gate_proj.weight"));
    Value up = project(x, xT, weights.lookup(p + "up_proj.weight"));
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

/// The spec indices of each layer's weights, in order.
static SmallVector<SmallVector<size_t>>
layerWeights(const DecoderConfig &config, ArrayRef<WeightSpec> specs) {
  SmallVector<SmallVector<size_t>> layers(config.numLayers);
  for (int64_t l = 0; l < config.numLayers; ++l) {
    std::string prefix = "model.layers." + std::to_string(l) + ".";
    for (auto [i, spec] : llvm::enumerate(specs))
      if (StringRef(spec.name).starts_with(prefix))
        layers[l].push_back(i);
  }
  return layers;
}

/// Types an entry point passes around: ids, hidden states, RoPE tables,
/// KV caches, recurrent states (one, or a draft tree's per node), logits.
struct EntryTypes {
  RankedTensorType ids, hidden, rope, cache, state, treeState, logits,
      parents;
  EntryTypes(OpBuilder &b, const DecoderConfig &config, int64_t seqLen) {
    Type f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    ids = RankedTensorType::get({dyn, seqLen}, b.getI64Type());
    hidden = RankedTensorType::get({dyn, seqLen, config.hiddenSize}, f32);
    rope = RankedTensorType::get({dyn, seqLen, config.headDim / 2}, f32);
    cache = RankedTensorType::get(
        {dyn, config.numKVHeads, dyn, config.headDim}, f32);
    if (const std::optional<LightningConfig> &l = config.lightning) {
      state = RankedTensorType::get(
          {dyn, l->numHeads, l->headDim, l->headDim}, f32);
      treeState = RankedTensorType::get(
          {dyn, l->numHeads, seqLen, l->headDim, l->headDim}, f32);
    }
    logits = RankedTensorType::get(
        {dyn, seqLen,
         config.headRows.empty() ? config.vocabSize
                                 : int64_t(config.headRows.size())},
        f32);
    parents = RankedTensorType::get({dyn}, b.getI32Type());
  }

  /// The tensors layer `i` reads across steps (LayerCaches::in).
  SmallVector<Type> cachesIn(const DecoderConfig &config, int64_t i) const {
    if (config.isLightning(i))
      return {state};
    if (config.sparse)
      return {cache, cache, cache};
    return {cache, cache};
  }
  /// Those it returns (LayerCaches::out); over a tree, a lightning layer
  /// returns every node's state.
  SmallVector<Type> cachesOut(const DecoderConfig &config, int64_t i,
                              bool tree) const {
    if (config.isLightning(i))
      return {tree ? treeState : state};
    return cachesIn(config, i);
  }
};

/// Parents [T] i32 of a chain over the ids [B, T]: -1, 0, 1, ..., T - 2.
static Value chainParents(OpBuilder &b, Location loc, Value ids) {
  Value len = tensor::DimOp::create(b, loc, ids, 1);
  Type i32 = b.getI32Type();
  auto gen = tensor::GenerateOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic}, i32),
      ValueRange{len}, [&](OpBuilder &nb, Location l, ValueRange idx) {
        Value i = arith::IndexCastOp::create(nb, l, i32, idx[0]);
        Value one = arith::ConstantIntOp::create(nb, l, i32, 1);
        tensor::YieldOp::create(nb, l,
                                Value(arith::SubIOp::create(nb, l, i, one)));
      });
  return gen.getResult();
}

static Value castTo(OpBuilder &b, Location loc, Value v, Type type) {
  return v.getType() == type ? v
                             : tensor::CastOp::create(b, loc, type, v)
                                   .getResult();
}

/// `<entry>_layer` (`<entry>_lightning_layer` for lightning layers): one
/// decoder layer of the kind of layer `r`, built once and called for every
/// layer of that kind (structurally identical layers compile once, so
/// compile time stays linear in depth with a small slope):
///   (x, cos, sin, [position, caches..., [parents]], weights...)
///     -> (x, [caches...])
/// The weights are layer r's types, which every layer of the kind shares.
static func::FuncOp buildLayerFunction(OpBuilder &b, Location loc,
                                       StringRef name,
                                       const DecoderConfig &config,
                                       ArrayRef<WeightSpec> specs,
                                       ArrayRef<Type> weightTypes,
                                       ArrayRef<size_t> layerR, int64_t r,
                                       const EntryTypes &types,
                                       bool withCache, bool tree, bool chain) {
  SmallVector<Type> argTypes = {types.hidden, types.rope, types.rope};
  SmallVector<Type> resultTypes = {types.hidden};
  SmallVector<Type> in = types.cachesIn(config, r);
  bool perNode = tree || chain;
  if (withCache) {
    argTypes.push_back(b.getIndexType());
    argTypes.append(in);
    resultTypes.append(types.cachesOut(config, r, perNode));
  }
  if (perNode)
    argTypes.push_back(types.parents);
  size_t firstWeight = argTypes.size();
  for (size_t i : layerR)
    argTypes.push_back(weightTypes[i]);
  std::string fnName =
      (name + (config.isLightning(r) ? "_lightning_layer" : "_layer")).str();
  auto fn = func::FuncOp::create(b, loc, fnName,
                                 b.getFunctionType(argTypes, resultTypes));
  fn.setPrivate();
  Block *body = fn.addEntryBlock();
  llvm::StringMap<Value> weights;
  for (auto [k, i] : llvm::enumerate(layerR))
    weights[specs[i].name] = body->getArgument(firstWeight + k);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(body);
  Decoder decoder(b, loc, config, weights);
  Step step;
  LayerCaches caches;
  if (withCache) {
    step.position = body->getArgument(3);
    for (size_t k = 0; k < in.size(); ++k)
      caches.in.push_back(body->getArgument(4 + k));
    if (perNode)
      step.parents = body->getArgument(4 + in.size());
    step.chain = chain;
  }
  Value x = decoder.layer(body->getArgument(0), body->getArgument(1),
                          body->getArgument(2), withCache ? &step : nullptr,
                          &caches, r);
  SmallVector<Value> results = {x};
  llvm::append_range(results, caches.out);
  for (auto [v, type] : llvm::zip(results, resultTypes))
    v = castTo(b, loc, v, type);
  func::ReturnOp::create(b, loc, results);
  return fn;
}

/// Adds one entry point. `seqLen` is the static length of its ids, or
/// dynamic; `withCache` adds the position and each layer's caches
/// (attention: `cache.L.key`, `cache.L.value`, and for sparse layers
/// `cache.L.compressed_key`; lightning: `state.L`),
/// updated in place; `tree` the draft tree's parents (verification: the
/// lightning states are read, and every node's state is returned after
/// the logits, one result per lightning layer); `chain` verifies the ids
/// as a chain (no parents argument), with the same results.
static void buildEntry(OpBuilder &b, Location loc, StringRef name,
                       const DecoderConfig &config,
                       ArrayRef<WeightSpec> specs, ArrayRef<Type> weightTypes,
                       ArrayRef<ParameterAttr> params, int64_t seqLen,
                       bool withCache, bool tree = false, bool chain = false) {
  bool perNode = tree || chain;
  EntryTypes types(b, config, seqLen);
  SmallVector<SmallVector<size_t>> layers = layerWeights(config, specs);
  // One layer function per mixer kind, for the first layer of the kind.
  SmallVector<int64_t> representative(config.numLayers);
  llvm::SmallDenseMap<unsigned, std::pair<int64_t, func::FuncOp>> byKind;
  auto module = cast<ModuleOp>(b.getBlock()->getParentOp());
  for (int64_t l = 0; l < config.numLayers; ++l) {
    auto [it, added] = byKind.try_emplace(unsigned(config.mixers[l]), l,
                                          func::FuncOp());
    if (!added) {
      representative[l] = it->second.first;
      continue;
    }
    // A chain's attention layer is prefill's (same signature, same
    // computation): compiled once for both.
    if (chain && !config.isLightning(l))
      it->second.second = module.lookupSymbol<func::FuncOp>("prefill_layer");
    if (!it->second.second)
      it->second.second = buildLayerFunction(
          b, loc, name, config, specs, weightTypes, layers[l], l, types,
          withCache, tree, chain);
    representative[l] = it->second.first;
  }
  SmallVector<Type> argTypes = {types.ids}, resultTypes = {types.logits};
  SmallVector<std::string> argNames = {"input_ids"};
  if (tree) {
    argTypes.push_back(types.parents);
    argNames.push_back("parents");
  }
  size_t positionArg = argTypes.size();
  // Each layer's first cache argument, and whether the call writes it.
  SmallVector<size_t> firstCacheArg(config.numLayers);
  SmallVector<bool> inout;
  if (withCache) {
    argTypes.push_back(RankedTensorType::get({}, b.getI64Type()));
    argNames.push_back("position");
    inout.push_back(false);
    for (int64_t l = 0; l < config.numLayers; ++l) {
      firstCacheArg[l] = argTypes.size();
      llvm::append_range(argTypes, types.cachesIn(config, l));
      bool lightning = config.isLightning(l);
      if (lightning) {
        argNames.push_back(("state." + Twine(l)).str());
        if (perNode)
          resultTypes.push_back(types.treeState);
      } else {
        argNames.push_back(("cache." + Twine(l) + ".key").str());
        argNames.push_back(("cache." + Twine(l) + ".value").str());
        if (config.sparse)
          argNames.push_back(("cache." + Twine(l) + ".compressed_key").str());
      }
      // A tree's lightning states are committed by the caller, which
      // picks the accepted node's.
      inout.resize(argTypes.size() - positionArg, !(lightning && perNode));
    }
  }
  size_t firstWeight = argTypes.size();
  argTypes.append(weightTypes.begin(), weightTypes.end());
  auto fn = func::FuncOp::create(b, loc, name,
                                 b.getFunctionType(argTypes, resultTypes));
  Block *body = fn.addEntryBlock();
  for (auto [i, argName] : llvm::enumerate(argNames))
    fn.setArgAttr(i, "hybrid.arg_name", b.getStringAttr(argName));
  for (auto [i, written] : llvm::enumerate(inout))
    if (written)
      fn.setArgAttr(positionArg + i, "hybrid.inout", b.getUnitAttr());
  llvm::StringMap<Value> weights;
  for (auto [i, spec] : llvm::enumerate(specs)) {
    fn.setArgAttr(firstWeight + i, ParameterAttr::getArgAttrName(), params[i]);
    weights[spec.name] = body->getArgument(firstWeight + i);
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(body);
  Decoder decoder(b, loc, config, weights);
  Step step;
  SmallVector<LayerCaches> caches(config.numLayers);
  if (withCache) {
    step.position = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        tensor::ExtractOp::create(b, loc, body->getArgument(positionArg),
                                  ValueRange{}));
    for (int64_t l = 0; l < config.numLayers; ++l)
      for (size_t k = 0; k < types.cachesIn(config, l).size(); ++k)
        caches[l].in.push_back(body->getArgument(firstCacheArg[l] + k));
    if (tree)
      step.parents = body->getArgument(1);
    if (chain) {
      step.parents = chainParents(b, loc, body->getArgument(0));
      step.chain = true;
    }
  }
  // Each layer calls its kind's layer function, unless its weights' types
  // differ from that layer's (a checkpoint that mixes dtypes): then it is
  // inlined.
  auto layerStep = [&](int64_t l, Value x, Value cos, Value sin) -> Value {
    const Step *s = withCache ? &step : nullptr;
    int64_t r = representative[l];
    func::FuncOp layerFn = byKind.lookup(unsigned(config.mixers[l])).second;
    SmallVector<Value> args = {castTo(b, loc, x, types.hidden),
                               castTo(b, loc, cos, types.rope),
                               castTo(b, loc, sin, types.rope)};
    if (withCache) {
      args.push_back(step.position);
      llvm::append_range(args, caches[l].in);
    }
    // Only per-node layers take the parents (a chain's attention layer is
    // prefill's).
    if (perNode && (tree || config.isLightning(l)))
      args.push_back(step.parents);
    bool shared = layers[l].size() == layers[r].size();
    for (auto [k, i] : llvm::enumerate(layers[l])) {
      shared = shared && weightTypes[i] == weightTypes[layers[r][k]];
      args.push_back(body->getArgument(firstWeight + i));
    }
    if (!shared)
      return decoder.layer(x, cos, sin, s, &caches[l], l);
    auto call = func::CallOp::create(b, loc, layerFn, args);
    if (withCache)
      caches[l].out.assign(call.getResults().begin() + 1, call.getResults().end());
    return call.getResult(0);
  };
  SmallVector<Value> results = {
      decoder.forward(body->getArgument(0), withCache ? &step : nullptr,
                      layerStep)};
  if (withCache)
    for (int64_t l = 0; l < config.numLayers; ++l) {
      SmallVector<Type> out = types.cachesOut(config, l, perNode);
      for (auto [k, v] : llvm::enumerate(caches[l].out)) {
        v = castTo(b, loc, v, out[k]);
        if (config.isLightning(l) && perNode)
          results.push_back(v);
        else
          WriteBackOp::create(b, loc, v, caches[l].in[k]);
      }
    }
  for (auto [v, type] : llvm::zip(results, resultTypes))
    v = castTo(b, loc, v, type);
  func::ReturnOp::create(b, loc, results);
}

/// `commit(path [N] i32, length i32, position, caches..., tree states...)`:
/// after `verify` over an N-node tree at `position`, keeps the accepted
/// path (`path[0 .. length)`, node ids from the root, as tree_verify
/// returns it): its K/V rows move to [position, position + length) of each
/// attention layer's caches, and each lightning layer's state becomes the
/// accepted node's (`tree_state.L`, verify's result). One
/// hybrid.kv_compact, whose rows move inside the caches' buffers: the
/// commit costs the accepted rows, whatever the cache's capacity. Sparse
/// layers then recompute the compressed keys of the windows that end in
/// the committed rows.
static void buildCommit(OpBuilder &b, Location loc,
                        const DecoderConfig &config) {
  EntryTypes types(b, config, ShapedType::kDynamic);
  SmallVector<Type> argTypes = {types.parents,
                                RankedTensorType::get({}, b.getI32Type()),
                                RankedTensorType::get({}, b.getI64Type())};
  SmallVector<std::string> argNames = {"path", "length", "position"};
  SmallVector<unsigned> cacheArgs, compressedArgs, stateArgs, treeStateArgs;
  for (int64_t l = 0; l < config.numLayers; ++l) {
    if (config.isLightning(l)) {
      stateArgs.push_back(argTypes.size());
      argTypes.push_back(types.state);
      argNames.push_back(("state." + Twine(l)).str());
      treeStateArgs.push_back(argTypes.size());
      argTypes.push_back(types.treeState);
      argNames.push_back(("tree_state." + Twine(l)).str());
      continue;
    }
    for (StringRef kind : {"key", "value"}) {
      cacheArgs.push_back(argTypes.size());
      argTypes.push_back(types.cache);
      argNames.push_back(("cache." + Twine(l) + "." + kind).str());
    }
    if (config.sparse) {
      compressedArgs.push_back(argTypes.size());
      argTypes.push_back(types.cache);
      argNames.push_back(("cache." + Twine(l) + ".compressed_key").str());
    }
  }
  auto fn = func::FuncOp::create(b, loc, "commit",
                                 b.getFunctionType(argTypes, {}));
  Block *body = fn.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames))
    fn.setArgAttr(i, "hybrid.arg_name", b.getStringAttr(name));
  for (unsigned i :
       llvm::concat<unsigned>(cacheArgs, compressedArgs, stateArgs))
    fn.setArgAttr(i, "hybrid.inout", b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(body);
  auto args = [&](ArrayRef<unsigned> indices) {
    return llvm::to_vector(llvm::map_range(
        indices, [&](unsigned i) -> Value { return body->getArgument(i); }));
  };
  Value position = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      tensor::ExtractOp::create(b, loc, body->getArgument(2), ValueRange{}));
  // A failed commit (a malformed path) keeps the committed states.
  auto compact = KVCompactOp::create(b, loc, body->getArgument(0),
                                     body->getArgument(1), position,
                                     args(cacheArgs), args(treeStateArgs),
                                     args(stateArgs));
  Value committed = arith::AddIOp::create(
      b, loc, position,
      arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          tensor::ExtractOp::create(b, loc, body->getArgument(1),
                                    ValueRange{})));
  for (auto [i, result] : llvm::enumerate(compact.getResults())) {
    if (i < cacheArgs.size()) {
      Value cache = body->getArgument(cacheArgs[i]);
      // Caches come as (key, value) pairs; a sparse layer's key cache
      // feeds its compressed keys.
      if (!compressedArgs.empty() && i % 2 == 0) {
        Value k1 = body->getArgument(compressedArgs[i / 2]);
        Value updated =
            CompressKeysOp::create(b, loc, k1, result, committed, position,
                                   sparseConfigAttr(b.getContext(), config));
        WriteBackOp::create(b, loc, updated, k1);
      }
      WriteBackOp::create(b, loc, castTo(b, loc, result, cache.getType()),
                          cache);
      continue;
    }
    Value state = body->getArgument(stateArgs[i - cacheArgs.size()]);
    Value fits = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        tensor::DimOp::create(b, loc, state, 0),
        tensor::DimOp::create(b, loc, result, 0));
    CheckOp::create(b, loc, fits,
                    "a tree state's batch differs from its recurrent state's");
    WriteBackOp::create(b, loc, replaceRows(state, result, fits, b, loc),
                        state);
  }
  func::ReturnOp::create(b, loc);
}

LogicalResult mlir::hybrid::hf::buildEntryPoints(ModuleOp module,
                                                 const DecoderConfig &config,
                                                 const Checkpoint &checkpoint,
                                                 Location loc,
                                                 ArrayRef<std::string> entries) {
  for (const std::string &entry : entries)
    if (!llvm::is_contained(hfEntryPoints(), entry))
      return emitError(loc) << "no entry point '" << entry
                            << "': a checkpoint has "
                            << llvm::join(hfEntryPoints(), ", ");
  auto wanted = [&](StringRef entry) {
    return entries.empty() || llvm::is_contained(entries, entry);
  };
  OpBuilder b(module.getBodyRegion());
  std::vector<WeightSpec> specs = weightSpecs(config);
  SmallVector<Type> weightTypes;
  SmallVector<ParameterAttr> params;
  for (const WeightSpec &spec : specs) {
    auto it = checkpoint.find(spec.tensor());
    if (it == checkpoint.end())
      return emitError(loc) << "the checkpoint has no tensor '"
                            << spec.tensor() << "', which "
                            << config.architecture
                            << " with this config.json needs";
    const CheckpointTensor &t = it->second;
    if (ArrayRef<int64_t>(t.shape) != spec.tensorShape())
      return emitError(loc)
             << "tensor '" << spec.tensor() << "' has shape ["
             << llvm::make_range(t.shape.begin(), t.shape.end())
             << "], but config.json implies [" << spec.tensorShape() << "]";
    FailureOr<Type> element = elementTypeOf(b, t.dtype);
    if (failed(element))
      return emitError(loc) << "tensor '" << spec.tensor() << "' is "
                            << t.dtype << "; weights must be F32, BF16 or F16";
    weightTypes.push_back(RankedTensorType::get(spec.shape, *element));
    params.push_back(ParameterAttr::get(
        b.getContext(), b.getStringAttr(spec.name), b.getStringAttr(t.file),
        t.offset, t.length, /*panels=*/0, /*permutation=*/nullptr,
        spec.rows.empty() ? DenseI64ArrayAttr()
                          : b.getDenseI64ArrayAttr(spec.rows)));
  }
  int64_t dynamic = ShapedType::kDynamic;
  if (wanted("forward"))
    buildEntry(b, loc, "forward", config, specs, weightTypes, params, dynamic,
               /*withCache=*/false);
  if (wanted("prefill"))
    buildEntry(b, loc, "prefill", config, specs, weightTypes, params, dynamic,
               /*withCache=*/true);
  if (wanted("decode"))
    buildEntry(b, loc, "decode", config, specs, weightTypes, params, 1,
               /*withCache=*/true);
  if (wanted("verify"))
    buildEntry(b, loc, "verify", config, specs, weightTypes, params, dynamic,
               /*withCache=*/true, /*tree=*/true);
  if (wanted("verify_chain"))
    buildEntry(b, loc, "verify_chain", config, specs, weightTypes, params,
               dynamic, /*withCache=*/true, /*tree=*/false, /*chain=*/true);
  if (wanted("commit"))
    buildCommit(b, loc, config);
  for (auto fn : module.getOps<func::FuncOp>())
    if (failed(mlir::verify(fn)))
      return failure();
  return success();
}
