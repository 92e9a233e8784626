//===- RaiseAttention.cpp - Recognise attention spelled in linalg ---------===//
//
// Exporters spell attention as MatMul, scale, mask add, Softmax, MatMul, with
// K and V repeated (or broadcast) to the query heads under GQA. In linalg /
// tensor form the recognised chain is, over [N = B x heads, S, D] tensors:
//
//   %kt = linalg.transpose ins(%k3) permutation = [0, 2, 1]
//   %s  = linalg.batch_matmul ins(%q3, %kt) outs(zero fill)
//   %x  = arith.mulf %s, splat(c)  |  arith.divf %s, splat(c)   (optional)
//   %m  = arith.addf %x, %mask                                   (optional)
//   %p  = linalg.softmax dimension(2) ins(%m)
//   %o  = linalg.batch_matmul ins(%p, %v3) outs(zero fill)
//
// where %q3/%k3/%v3 are collapses of [B, H, S, D] tensors, K and V possibly
// `linalg.broadcast` over a new group dimension first (GQA's repeat), or
// plain 3-D tensors (one batch). The chain becomes one hybrid.attention on
// the 4-D sources, with the scale and the mask carried over.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "MatchUtils.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDRAISEATTENTION
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// A batch matmul that computes exactly A x B (default maps, zero init).
bool isPlainBatchMatmul(linalg::BatchMatmulOp op) {
  if (!op.hasPureTensorSemantics() ||
      op.getIndexingMapsArray() != op.getDefaultIndexingMaps(op.getContext()))
    return false;
  auto fill = op.getOutputs()[0].getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

/// A [B, H, S, D] source of a [B*H, S, D] operand, with the KV-group size
/// when the heads were broadcast from fewer (GQA).
struct HeadSource {
  Value tensor;      // rank 4
  int64_t group = 1; // G: heads repeated per source head
};

/// Finds the 4-D source of a 3-D attention operand: a collapse of [B, H, S,
/// D], a collapse of a broadcast [B, Hkv, G, S, D] of [B, Hkv, S, D], or
/// nothing (then the 3-D value is used with batch 1).
std::optional<HeadSource> findHeadSource(Value v3) {
  auto collapse = v3.getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse)
    return std::nullopt;
  SmallVector<ReassociationIndices> groups = collapse.getReassociationIndices();
  Value src = collapse.getSrc();
  auto srcType = cast<RankedTensorType>(src.getType());
  if (srcType.getRank() == 4 && groups.size() == 3 &&
      groups[0] == ReassociationIndices{0, 1})
    return HeadSource{src, 1};
  auto broadcast = src.getDefiningOp<linalg::BroadcastOp>();
  if (srcType.getRank() == 5 && groups.size() == 3 &&
      groups[0] == ReassociationIndices{0, 1, 2} && broadcast &&
      broadcast.getDimensions() == ArrayRef<int64_t>{2} &&
      !srcType.isDynamicDim(2))
    return HeadSource{broadcast.getInput(), srcType.getDimSize(2)};
  return std::nullopt;
}


/// [N, S, D] -> [1, N, S, D].
Value expandToHeads(PatternRewriter &rewriter, Location loc, Value v3) {
  auto type = cast<RankedTensorType>(v3.getType());
  SmallVector<int64_t> shape = {1};
  llvm::append_range(shape, type.getShape());
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(1)};
  for (int64_t d = 0; d < 3; ++d)
    sizes.push_back(tensor::getMixedSize(rewriter, loc, v3, d));
  return tensor::ExpandShapeOp::create(
      rewriter, loc, RankedTensorType::get(shape, type.getElementType()), v3,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}}, sizes);
}

struct RaiseAttentionPattern : OpRewritePattern<linalg::BatchMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::BatchMatmulOp pv,
                                PatternRewriter &rewriter) const override {
    if (!isPlainBatchMatmul(pv))
      return rewriter.notifyMatchFailure(pv, "not a plain batch matmul");
    auto softmax = pv.getInputs()[0].getDefiningOp<linalg::SoftmaxOp>();
    if (!softmax || softmax.getDimension() != 2 ||
        !softmax->getResult(0).hasOneUse())
      return rewriter.notifyMatchFailure(pv, "not fed by a softmax over keys");

    // Optional mask add, then optional scaling, then Q K^T.
    Value logits = softmax.getInput();
    Value mask;
    if (auto add = logits.getDefiningOp<arith::AddFOp>()) {
      Value lhs = add.getLhs(), rhs = add.getRhs();
      bool lhsChain = lhs.getDefiningOp<arith::MulFOp>() ||
                      lhs.getDefiningOp<arith::DivFOp>() ||
                      lhs.getDefiningOp<linalg::BatchMatmulOp>();
      logits = lhsChain ? lhs : rhs;
      mask = lhsChain ? rhs : lhs;
    }
    double scale = 1.0;
    if (auto mul = logits.getDefiningOp<arith::MulFOp>()) {
      std::optional<double> rhs = matchSplat(mul.getRhs());
      std::optional<double> lhs = matchSplat(mul.getLhs());
      if (!rhs && !lhs)
        return rewriter.notifyMatchFailure(pv, "scale is not a constant");
      scale = rhs ? *rhs : *lhs;
      logits = rhs ? mul.getLhs() : mul.getRhs();
    } else if (auto div = logits.getDefiningOp<arith::DivFOp>()) {
      std::optional<double> divisor = matchSplat(div.getRhs());
      if (!divisor)
        return rewriter.notifyMatchFailure(pv, "divisor is not a constant");
      scale = 1.0 / *divisor;
      logits = div.getLhs();
    }
    auto qk = logits.getDefiningOp<linalg::BatchMatmulOp>();
    if (!qk || !isPlainBatchMatmul(qk))
      return rewriter.notifyMatchFailure(pv, "no Q x K^T product");
    auto transpose = qk.getInputs()[1].getDefiningOp<linalg::TransposeOp>();
    if (!transpose ||
        transpose.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
      return rewriter.notifyMatchFailure(pv, "K is not transposed");
    Value q3 = qk.getInputs()[0], k3 = transpose.getInput(),
          v3 = pv.getInputs()[1];

    // The 4-D sources, so that GQA's repeat disappears into Hq = G x Hkv.
    Location loc = pv.getLoc();
    std::optional<HeadSource> q = findHeadSource(q3), k = findHeadSource(k3),
                              v = findHeadSource(v3);
    Value q4, k4, v4;
    if (q && k && v && q->group == 1 && k->group == v->group) {
      q4 = q->tensor;
      k4 = k->tensor;
      v4 = v->tensor;
    } else {
      q4 = expandToHeads(rewriter, loc, q3);
      k4 = expandToHeads(rewriter, loc, k3);
      v4 = expandToHeads(rewriter, loc, v3);
    }
    auto qType = cast<RankedTensorType>(q4.getType());
    Value mask4;
    if (mask) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      if (maskType.getRank() != 3 ||
          maskType.getElementType() != qType.getElementType())
        return rewriter.notifyMatchFailure(pv, "unsupported mask");
      // [B*H, S, T] -> [B, H, S, T], as the query was split.
      SmallVector<OpFoldResult> sizes = {
          tensor::getMixedSize(rewriter, loc, q4, 0),
          tensor::getMixedSize(rewriter, loc, q4, 1),
          tensor::getMixedSize(rewriter, loc, mask, 1),
          tensor::getMixedSize(rewriter, loc, mask, 2)};
      SmallVector<int64_t> shape = {qType.getDimSize(0), qType.getDimSize(1),
                                    maskType.getDimSize(1),
                                    maskType.getDimSize(2)};
      mask4 = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get(shape, maskType.getElementType()),
          mask, ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}}, sizes);
    }
    auto attention = AttentionOp::create(
        rewriter, loc, q4, k4, v4, mask4, /*offset=*/nullptr,
        /*key_length=*/nullptr, /*parents=*/nullptr, /*causal=*/false,
        rewriter.getF32FloatAttr(static_cast<float>(scale)),
        /*softcap=*/nullptr, /*layout=*/nullptr);
    Value result = tensor::CollapseShapeOp::create(
        rewriter, loc, pv.getResultTypes()[0], attention.getResult(),
        ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
    rewriter.replaceOp(pv, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The 4-D form: what ONNX importers make of an exporter's attention
//===----------------------------------------------------------------------===//

/// The [B, H, ...] tensor a [B*H, ...] batch-matmul operand collapses.
Value unfoldHeads(Value v3) {
  auto collapse = v3.getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse || cast<RankedTensorType>(collapse.getSrc().getType()).getRank() != 4)
    return nullptr;
  SmallVector<ReassociationIndices> groups = collapse.getReassociationIndices();
  if (groups.size() != 3 || groups[0] != ReassociationIndices{0, 1})
    return nullptr;
  return collapse.getSrc();
}

/// The KV heads [B, Hkv, S, D] of a [B, Hkv*G, S, D] operand repeated to
/// the query heads (repeat_kv: Unsqueeze, Expand, Reshape), or the operand
/// itself with G = 1.
HeadSource kvHeads(Value v4) {
  auto collapse = v4.getDefiningOp<tensor::CollapseShapeOp>();
  if (!collapse)
    return {v4, 1};
  auto broadcast = collapse.getSrc().getDefiningOp<linalg::BroadcastOp>();
  auto type = cast<RankedTensorType>(collapse.getSrc().getType());
  SmallVector<ReassociationIndices> groups = collapse.getReassociationIndices();
  if (!broadcast || type.getRank() != 5 || type.isDynamicDim(2) ||
      broadcast.getDimensions() != ArrayRef<int64_t>{2} ||
      groups != SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}})
    return {v4, 1};
  Value source = stripUnitReshapes(broadcast.getInput());
  if (cast<RankedTensorType>(source.getType()).getRank() != 4)
    return {v4, 1};
  return {source, type.getDimSize(2)};
}

/// The [B*H, S, T] -> [B, H, S, T] expansion of a batch matmul, if `v` is
/// one (an expand_shape, or a tensor.reshape when B and H are both
/// dynamic).
linalg::BatchMatmulOp expandedProduct(Value v) {
  Value src;
  if (auto expand = v.getDefiningOp<tensor::ExpandShapeOp>()) {
    if (expand.getReassociationIndices() !=
        SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}})
      return nullptr;
    src = expand.getSrc();
  } else if (auto reshape = v.getDefiningOp<tensor::ReshapeOp>()) {
    if (cast<RankedTensorType>(reshape.getType()).getRank() != 4)
      return nullptr;
    src = reshape.getSource();
  }
  auto product = src ? src.getDefiningOp<linalg::BatchMatmulOp>() : nullptr;
  return product && isPlainBatchMatmul(product) ? product : nullptr;
}

/// An additive mask that hides exactly the keys after each query row
/// (torch's `full(min).triu(1)`, imported as Trilu over a fill): causal
/// with the queries and keys aligned at the start.
bool isCausalMask(Value mask) {
  if (auto b = mask.getDefiningOp<linalg::BroadcastOp>())
    mask = b.getInput();
  auto generic = stripUnitReshapes(mask).getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1)
    return false;
  std::optional<double> fill = matchSplat(generic.getDpsInputs()[0]);
  if (!fill || *fill > -1e30)
    return false;
  // The body: keep x where (j - i) >= 1, else 0.
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto select = yield.getOperand(0).getDefiningOp<arith::SelectOp>();
  if (!select || select.getTrueValue() != body.getArgument(0) ||
      !matchPattern(select.getFalseValue(), m_AnyZeroFloat()))
    return false;
  auto cmp = select.getCondition().getDefiningOp<arith::CmpIOp>();
  if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::sge ||
      !matchPattern(cmp.getRhs(), m_One()))
    return false;
  auto diff = cmp.getLhs().getDefiningOp<arith::SubIOp>();
  if (!diff)
    return false;
  auto j = diff.getLhs().getDefiningOp<linalg::IndexOp>();
  auto i = diff.getRhs().getDefiningOp<linalg::IndexOp>();
  int64_t rank = generic.getNumLoops();
  return i && j && i.getDim() == uint64_t(rank - 2) &&
         j.getDim() == uint64_t(rank - 1);
}

/// expand(PV) <- collapse(softmax(scale * expand(Q K^T) + mask)) x V, on
/// [B, H, S, D] tensors with K and V repeated from their KV heads, as
/// imported from MatMul, Div, Add, Softmax, MatMul.
struct RaiseAttention4DPattern : RewritePattern {
  RaiseAttention4DPattern(MLIRContext *ctx)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/2, ctx) {}

  LogicalResult matchAndRewrite(Operation *root,
                                PatternRewriter &rewriter) const override {
    if (!isa<tensor::ExpandShapeOp, tensor::ReshapeOp>(root))
      return failure();
    linalg::BatchMatmulOp pv = expandedProduct(root->getResult(0));
    if (!pv)
      return failure();
    Value p4 = unfoldHeads(pv.getInputs()[0]), v4 = unfoldHeads(pv.getInputs()[1]);
    auto softmax = p4 ? p4.getDefiningOp<linalg::SoftmaxOp>() : nullptr;
    if (!softmax || !v4 || softmax.getDimension() != 3 ||
        !llvm::all_of(softmax->getUsers(), [&](Operation *user) {
          return user == pv.getInputs()[0].getDefiningOp() ||
                 isa<tensor::DimOp>(user);
        }))
      return rewriter.notifyMatchFailure(root, "not softmax(scores) x V");
    Value logits = softmax.getInput(), mask;
    if (auto add = logits.getDefiningOp<arith::AddFOp>()) {
      bool lhsScores = expandedProduct(add.getLhs()) ||
                       add.getLhs().getDefiningOp<arith::DivFOp>() ||
                       add.getLhs().getDefiningOp<arith::MulFOp>();
      logits = lhsScores ? add.getLhs() : add.getRhs();
      mask = lhsScores ? add.getRhs() : add.getLhs();
    }
    double scale = 1.0;
    if (auto div = logits.getDefiningOp<arith::DivFOp>()) {
      std::optional<double> c = matchSplat(div.getRhs());
      if (!c || *c == 0)
        return rewriter.notifyMatchFailure(root, "divisor is not a constant");
      scale = 1.0 / *c;
      logits = div.getLhs();
    } else if (auto mul = logits.getDefiningOp<arith::MulFOp>()) {
      std::optional<double> l = matchSplat(mul.getLhs()), r = matchSplat(mul.getRhs());
      if (!l && !r)
        return rewriter.notifyMatchFailure(root, "scale is not a constant");
      scale = r ? *r : *l;
      logits = r ? mul.getLhs() : mul.getRhs();
    }
    linalg::BatchMatmulOp qk = expandedProduct(logits);
    if (!qk)
      return rewriter.notifyMatchFailure(root, "no Q x K^T product");
    Value q4 = unfoldHeads(qk.getInputs()[0]), kt4 = unfoldHeads(qk.getInputs()[1]);
    auto transpose = kt4 ? kt4.getDefiningOp<linalg::TransposeOp>() : nullptr;
    if (!q4 || !transpose ||
        transpose.getPermutation() != ArrayRef<int64_t>{0, 1, 3, 2})
      return rewriter.notifyMatchFailure(root, "K is not transposed");
    HeadSource k = kvHeads(transpose.getInput()), v = kvHeads(v4);
    auto qType = cast<RankedTensorType>(q4.getType());
    auto kType = cast<RankedTensorType>(k.tensor.getType());
    if (k.group != v.group || qType.isDynamicDim(1) || kType.isDynamicDim(1) ||
        qType.getDimSize(1) != kType.getDimSize(1) * k.group)
      return rewriter.notifyMatchFailure(root, "heads do not line up");

    Location loc = root->getLoc();
    bool causal = false;
    Value mask4, offset;
    if (mask) {
      if (isCausalMask(mask)) {
        causal = true;
        offset = arith::ConstantIndexOp::create(rewriter, loc, 0);
      } else {
        // Broadcast over leading dims only: the source aligns right.
        mask4 = mask;
        if (auto b = mask.getDefiningOp<linalg::BroadcastOp>();
            b && llvm::equal(b.getDimensions(),
                             llvm::seq<int64_t>(0, b.getDimensions().size())))
          mask4 = b.getInput();
        auto maskType = cast<RankedTensorType>(mask4.getType());
        if (maskType.getElementType() != qType.getElementType() ||
            maskType.getRank() < 2)
          return rewriter.notifyMatchFailure(root, "unsupported mask");
      }
    }
    auto attention = AttentionOp::create(
        rewriter, loc, q4, k.tensor, v.tensor, mask4, offset,
        /*key_length=*/nullptr, /*parents=*/nullptr, causal,
        rewriter.getF32FloatAttr(static_cast<float>(scale)),
        /*softcap=*/nullptr, /*layout=*/nullptr);
    Value result = attention.getResult();
    if (result.getType() != root->getResult(0).getType())
      result = tensor::CastOp::create(rewriter, loc, root->getResult(0).getType(),
                                      result);
    rewriter.replaceOp(root, result);
    return success();
  }
};

/// tensor.dim of an elementwise op on tensors is the dim of its first
/// tensor operand (they share one shape): importers size their results
/// from intermediate values, and those reads must not keep a replaced chain
/// alive.
struct DimOfElementwise : OpRewritePattern<tensor::DimOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::DimOp dim,
                                PatternRewriter &rewriter) const override {
    Operation *def = dim.getSource().getDefiningOp();
    if (!def || !def->hasTrait<OpTrait::Elementwise>())
      return failure();
    for (Value operand : def->getOperands())
      if (isa<RankedTensorType>(operand.getType()) &&
          cast<RankedTensorType>(operand.getType()).getShape() ==
              cast<RankedTensorType>(dim.getSource().getType()).getShape()) {
        rewriter.modifyOpInPlace(
            dim, [&] { dim.getSourceMutable().assign(operand); });
        return success();
      }
    return failure();
  }
};

struct HybridRaiseAttention
    : hybrid::impl::HybridRaiseAttentionBase<HybridRaiseAttention> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseAttentionPatterns(patterns);
    populateRaiseNormAndRotaryPatterns(patterns);
    // Sizes read from the ops being replaced (an importer's tensor.dim of a
    // softmax) are read from their sources instead, so nothing keeps the
    // replaced chain alive.
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    tensor::DimOp::getCanonicalizationPatterns(patterns, &getContext());
    patterns.add<DimOfElementwise>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::hybrid::populateRaiseAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<RaiseAttentionPattern, RaiseAttention4DPattern>(
      patterns.getContext());
}
