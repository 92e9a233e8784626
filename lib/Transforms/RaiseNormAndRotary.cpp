//===- RaiseNormAndRotary.cpp - RMSNorm and rotary embeddings in linalg ---===//
//
// The other two spellings hybrid-raise-attention recognises.
//
// RMSNorm over the last dimension (Pow/ReduceMean/Add/Sqrt/Div/Mul):
//   %sq  = arith.mulf %x, %x
//   %sum = linalg.reduce { arith.addf } ins(%sq) dimensions = [last]
//   %var = arith.addf (arith.divf %sum, N | arith.mulf %sum, 1/N), eps
//   %xn  = arith.mulf %x, broadcast(math.rsqrt %var)
//        | arith.divf %x, broadcast(math.sqrt %var)
//   %y   = arith.mulf %xn, broadcast(%w)          (w over the last dim)
//
// Rotary embedding, Hugging Face's rotate_half, on [B, H, S, D]:
//   %rot = tensor.concat dim(3) (arith.negf x[..., D/2:]), x[..., :D/2]
//   %y   = arith.addf (arith.mulf %x, broadcast(cos)),
//                     (arith.mulf %rot, broadcast(sin))
// where cos and sin are [B, S, D] concatenations of the same [B, S, D/2]
// halves (cos(θ), cos(θ)): the halves become the op's caches.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "MatchUtils.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {


/// The input of a linalg.broadcast that adds exactly `dims`.
Value broadcastSource(Value v, ArrayRef<int64_t> dims) {
  auto broadcast = v.getDefiningOp<linalg::BroadcastOp>();
  if (!broadcast || broadcast.getDimensions() != dims)
    return nullptr;
  return broadcast.getInput();
}

/// A linalg.reduce summing `input` over `dim` from zero.
Value sumOver(Value v, int64_t dim) {
  auto reduce = v.getDefiningOp<linalg::ReduceOp>();
  if (!reduce || reduce.getInputs().size() != 1 ||
      reduce.getDimensions() != ArrayRef<int64_t>{dim} ||
      matchSplat(reduce.getInits()[0]) != 0.0)
    return nullptr;
  Block &body = reduce.getCombiner().front();
  if (body.getOperations().size() != 2 || !isa<arith::AddFOp>(body.front()))
    return nullptr;
  return reduce.getInputs()[0];
}

struct RaiseRMSNorm : OpRewritePattern<arith::MulFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(arith::MulFOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || type.getRank() < 1)
      return failure();
    int64_t last = type.getRank() - 1;
    SmallVector<int64_t> leading;
    for (int64_t d = 0; d < last; ++d)
      leading.push_back(d);
    // y = xn * broadcast(w), the weight on either side.
    Value normalised = op.getLhs(), weight = broadcastSource(op.getRhs(), leading);
    if (!weight) {
      normalised = op.getRhs();
      weight = broadcastSource(op.getLhs(), leading);
    }
    if (!weight)
      return failure();
    // xn = x * bcast(rsqrt(var)) | x * bcast(1 / sqrt(var)) |
    // x / bcast(sqrt(var)); var may carry the reduced dim as a unit dim.
    Value x, var;
    if (auto mul = normalised.getDefiningOp<arith::MulFOp>()) {
      Value r = broadcastSource(mul.getRhs(), {last});
      r = r ? stripUnitReshapes(r) : r;
      if (auto rsqrt = r ? r.getDefiningOp<math::RsqrtOp>() : nullptr) {
        var = rsqrt.getOperand();
      } else if (auto inv = r ? r.getDefiningOp<arith::DivFOp>() : nullptr;
                 inv && matchSplat(inv.getLhs()) == 1.0) {
        auto sqrt = inv.getRhs().getDefiningOp<math::SqrtOp>();
        if (!sqrt)
          return failure();
        var = sqrt.getOperand();
      } else {
        return failure();
      }
      x = mul.getLhs();
    } else if (auto div = normalised.getDefiningOp<arith::DivFOp>()) {
      Value r = broadcastSource(div.getRhs(), {last});
      r = r ? stripUnitReshapes(r) : r;
      auto sqrt = r ? r.getDefiningOp<math::SqrtOp>() : nullptr;
      if (!sqrt)
        return failure();
      x = div.getLhs();
      var = sqrt.getOperand();
    } else {
      return failure();
    }
    // var = mean(x * x) + eps.
    auto addEps = var.getDefiningOp<arith::AddFOp>();
    if (!addEps)
      return failure();
    std::optional<double> eps = matchSplat(addEps.getRhs());
    Value mean = addEps.getLhs();
    if (!eps) {
      eps = matchSplat(addEps.getLhs());
      mean = addEps.getRhs();
    }
    if (!eps || *eps <= 0)
      return failure();
    mean = stripUnitReshapes(mean);
    int64_t width = type.getDimSize(last);
    if (ShapedType::isDynamic(width))
      return failure();
    Value sum;
    if (auto div = mean.getDefiningOp<arith::DivFOp>()) {
      if (matchSplat(div.getRhs()) != double(width))
        return failure();
      sum = div.getLhs();
    } else if (auto mul = mean.getDefiningOp<arith::MulFOp>()) {
      std::optional<double> inv = matchSplat(mul.getRhs());
      if (!inv || std::abs(*inv * width - 1.0) > 1e-6)
        return failure();
      sum = mul.getLhs();
    } else {
      return failure();
    }
    Value squares = sumOver(sum, last);
    auto square = squares ? squares.getDefiningOp<arith::MulFOp>() : nullptr;
    if (!square || square.getLhs() != x || square.getRhs() != x)
      return failure();
    rewriter.replaceOpWithNewOp<RMSNormOp>(
        op, x, weight, /*axis=*/int64_t(-1),
        APFloat(static_cast<float>(*eps)));
    return success();
  }
};

struct RaiseRotaryEmbedding : OpRewritePattern<arith::AddFOp> {
  using OpRewritePattern::OpRewritePattern;

  /// A cos/sin table broadcast over the heads, made of two equal halves:
  /// [B, S, D] (broadcast over dim 1) or [S, D] (over dims 0 and 1), either
  /// `concat(t, t)` or `cos|sin(concat(f, f))` (how Hugging Face builds
  /// it). Sets `half` (t, or the angles f) and whether `fn` is still to be
  /// applied.
  struct HalfTable {
    Value half;
    Operation *fn = nullptr; // math.cos / math.sin to apply to `half`
    bool perBatch = true;    // [B, S, D/2] rather than [S, D/2]
  };
  static std::optional<HalfTable> halfTable(Value v) {
    auto broadcast = v.getDefiningOp<linalg::BroadcastOp>();
    if (!broadcast)
      return std::nullopt;
    HalfTable t;
    ArrayRef<int64_t> dims = broadcast.getDimensions();
    if (dims == ArrayRef<int64_t>{1})
      t.perBatch = true;
    else if (dims == ArrayRef<int64_t>{0, 1})
      t.perBatch = false;
    else
      return std::nullopt;
    Value table = stripUnitReshapes(broadcast.getInput());
    if (isa_and_nonnull<math::CosOp, math::SinOp>(table.getDefiningOp())) {
      t.fn = table.getDefiningOp();
      table = t.fn->getOperand(0);
    }
    auto concat = table.getDefiningOp<tensor::ConcatOp>();
    int64_t rank = cast<RankedTensorType>(table.getType()).getRank();
    if (!concat || rank != (t.perBatch ? 3 : 2) ||
        concat.getDim() != uint64_t(rank - 1) ||
        concat.getInputs().size() != 2 ||
        concat.getInputs()[0] != concat.getInputs()[1])
      return std::nullopt;
    t.half = concat.getInputs()[0];
    return t;
  }

  /// The [B, S, D/2] cache of a half table, for `x` [B, H, S, D].
  static Value cache(PatternRewriter &rewriter, Location loc,
                     const HalfTable &t, Value x) {
    Value half = t.half;
    if (t.fn) {
      OperationState state(loc, t.fn->getName());
      state.addOperands(half);
      state.addTypes(half.getType());
      half = rewriter.create(state)->getResult(0);
    }
    if (t.perBatch)
      return half;
    auto type = cast<RankedTensorType>(half.getType());
    SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(rewriter, loc, x, 0),
                                       tensor::getMixedSize(rewriter, loc, half, 0),
                                       tensor::getMixedSize(rewriter, loc, half, 1)};
    Value init = tensor::EmptyOp::create(rewriter, loc, sizes,
                                         type.getElementType());
    return linalg::BroadcastOp::create(rewriter, loc, half, init,
                                       ArrayRef<int64_t>{0})
        .getResult()[0];
  }

  /// x[..., offset : offset + half] as a unit-stride slice of the last dim.
  static bool isHalfSlice(Value v, Value x, int64_t offset, int64_t half) {
    auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
    if (!slice || slice.getSource() != x || !slice.hasUnitStride())
      return false;
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    for (size_t d = 0; d + 1 < offsets.size(); ++d)
      if (getConstantIntValue(offsets[d]) != 0)
        return false;
    return getConstantIntValue(offsets.back()) == offset &&
           getConstantIntValue(sizes.back()) == half;
  }

  LogicalResult matchAndRewrite(arith::AddFOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type || type.getRank() != 4 || type.isDynamicDim(3) ||
        type.getDimSize(3) % 2 != 0)
      return failure();
    int64_t half = type.getDimSize(3) / 2;
    auto lhs = op.getLhs().getDefiningOp<arith::MulFOp>();
    auto rhs = op.getRhs().getDefiningOp<arith::MulFOp>();
    if (!lhs || !rhs)
      return failure();
    // One product is x * cos, the other rotate_half(x) * sin.
    for (auto [cosMul, sinMul] : {std::pair(lhs, rhs), std::pair(rhs, lhs)}) {
      Value x = cosMul.getLhs();
      std::optional<HalfTable> cosHalf = halfTable(cosMul.getRhs());
      auto rot = sinMul.getLhs().getDefiningOp<tensor::ConcatOp>();
      std::optional<HalfTable> sinHalf = halfTable(sinMul.getRhs());
      if (!cosHalf || !sinHalf || !rot || rot.getDim() != 3 ||
          rot.getInputs().size() != 2 ||
          cosHalf->perBatch != sinHalf->perBatch ||
          (cosHalf->fn && !isa<math::CosOp>(cosHalf->fn)) ||
          (sinHalf->fn && !isa<math::SinOp>(sinHalf->fn)) ||
          bool(cosHalf->fn) != bool(sinHalf->fn))
        continue;
      auto neg = rot.getInputs()[0].getDefiningOp<arith::NegFOp>();
      if (!neg || !isHalfSlice(neg.getOperand(), x, half, half) ||
          !isHalfSlice(rot.getInputs()[1], x, 0, half))
        continue;
      Value cosCache = cache(rewriter, op.getLoc(), *cosHalf, x);
      Value sinCache = cache(rewriter, op.getLoc(), *sinHalf, x);
      rewriter.replaceOpWithNewOp<RotaryEmbeddingOp>(
          op, x, cosCache, sinCache, /*position_ids=*/nullptr,
          /*interleaved=*/false, /*num_heads=*/nullptr,
          /*rotary_embedding_dim=*/nullptr);
      return success();
    }
    return failure();
  }
};

} // namespace

void mlir::hybrid::populateRaiseNormAndRotaryPatterns(
    RewritePatternSet &patterns) {
  patterns.add<RaiseRMSNorm, RaiseRotaryEmbedding>(patterns.getContext());
}
