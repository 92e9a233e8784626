//===- MatmulLowering.cpp - linalg.matmul on the tiled product -----------===//
//
// Models mix hybrid ops with plain projections. linalg.matmul with the
// default maps goes through the tiled stage's product (TiledMatmul.h):
// packed panels, cache blocks, tasks over blocks of C, register tiles.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/TiledMatmul.h"
#include "Lowerings.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// `b` as the unpack of column panels `cols` wide
/// (`[ceil(N/cols), K, cols]` -> `[K, N]`, hybrid-prepack-weights' form),
/// or null. `cols` 0 accepts any width.
linalg::UnPackOp panelUnpack(Value b, int64_t cols) {
  auto unpack = b.getDefiningOp<linalg::UnPackOp>();
  if (!unpack)
    return {};
  auto source = dyn_cast<RankedTensorType>(unpack.getSource().getType());
  auto result = dyn_cast<RankedTensorType>(unpack.getResult().getType());
  ArrayRef<int64_t> tiles = unpack.getStaticInnerTiles();
  if (!source || !result || source.getRank() != 3 || result.getRank() != 2 ||
      !source.getElementType().isF32() || !result.hasStaticShape() ||
      unpack.getOuterDimsPerm() != ArrayRef<int64_t>{1, 0} ||
      unpack.getInnerDimsPos() != ArrayRef<int64_t>{1} || tiles.size() != 1 ||
      ShapedType::isDynamic(tiles[0]) || (cols && tiles[0] != cols))
    return {};
  return unpack;
}

/// A plain C += A B on tensors: default maps, one ranked f32 result, float
/// storage the kernel reads (f32/f16/bf16).
bool isPlainProduct(linalg::MatmulOp op) {
  if (!op.hasPureTensorSemantics() || op->getNumResults() != 1 ||
      op.getIndexingMapsArray() != op.getDefaultIndexingMaps(op.getContext()))
    return false;
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  auto isStorage = [](Type t) { return t.isF32() || t.isF16() || t.isBF16(); };
  return type && type.getElementType().isF32() &&
         isStorage(getElementTypeOrSelf(op.getInputs()[0].getType())) &&
         isStorage(getElementTypeOrSelf(op.getInputs()[1].getType()));
}

struct MatmulLowering : OpRewritePattern<linalg::MatmulOp> {
  MatmulLowering(MLIRContext *ctx, const HybridToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    // f32 accumulation.
    if (!isPlainProduct(op))
      return rewriter.notifyMatchFailure(op, "not a plain tensor matmul");
    auto type = cast<RankedTensorType>(op->getResult(0).getType());

    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    MatmulTiling tiling = chooseMatmulTiling(options.vectorWidth);
    // A prepacked weight: its panels are read where they are.
    linalg::UnPackOp panels = panelUnpack(op.getInputs()[1], tiling.cols);
    Value a = kb.buffer(op.getInputs()[0]);
    Value b = kb.buffer(panels ? panels.getSource() : op.getInputs()[1]);
    Value m = kb.dim(a, 0), k = kb.dim(a, 1);
    Value n = panels ? kb.index(panels.getDestType().getDimSize(1))
                     : kb.dim(b, 1);
    Value c = kb.alloc(type, {m, n});
    // A product into a filled tensor (the usual `outs`) starts from the
    // fill value in its tasks; anything else is copied in first.
    Value fill;
    if (auto fillOp = op.getOutputs()[0].getDefiningOp<linalg::FillOp>())
      if (fillOp.getInputs()[0].getType().isF32())
        fill = fillOp.getInputs()[0];
    if (!fill)
      memref::CopyOp::create(rewriter, kb.loc,
                             kb.buffer(op.getOutputs()[0]), c);
    emitTiledMatmul(kb, tiling, c, a, b, m, n, k, fill, bool(panels));
    rewriter.replaceOp(op, kb.tensor(c, type));
    // The unpack was never materialised; nothing else reads it now.
    if (panels && panels->use_empty()) {
      Operation *dest = panels.getDest().getDefiningOp();
      rewriter.eraseOp(panels);
      if (dest && isa<tensor::EmptyOp>(dest) && dest->use_empty())
        rewriter.eraseOp(dest);
    }
    return success();
  }

  HybridToLoopsOptions options;
};

/// The panels of a prepacked weight back to `[K, N]`, where something other
/// than the tiled product reads it: panel by panel, row by row.
struct PanelUnpackLowering : OpRewritePattern<linalg::UnPackOp> {
  PanelUnpackLowering(MLIRContext *ctx, const HybridToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(linalg::UnPackOp op,
                                PatternRewriter &rewriter) const override {
    if (!panelUnpack(op.getResult(), /*cols=*/0))
      return rewriter.notifyMatchFailure(op, "not column panels");
    int64_t tile = op.getStaticInnerTiles()[0];
    int64_t productCols = chooseMatmulTiling(options.vectorWidth).cols;
    bool readInPlace =
        options.matmulKernels && tile == productCols &&
        llvm::all_of(op->getUses(), [](OpOperand &use) {
          auto matmul = dyn_cast<linalg::MatmulOp>(use.getOwner());
          return matmul && use.getOperandNumber() == 1 &&
                 isPlainProduct(matmul);
        });
    if (readInPlace)
      return rewriter.notifyMatchFailure(op, "the products read the panels");

    RankedTensorType type = op.getDestType();
    int64_t k = type.getDimSize(0), n = type.getDimSize(1);
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Value src = flattenBuffer(kb, kb.buffer(op.getSource()));
    Value dst = kb.alloc(type, {});
    Value dstFlat = flattenBuffer(kb, dst);
    Value one = kb.f32(1.0), width = kb.index(tile), rows = kb.index(k),
          cols = kb.index(n);
    kb.loop(kb.index(0), cols, width, [&](Value j0) {
      Value len = kb.minui(width, kb.subi(cols, j0));
      Value panel = kb.muli(kb.divui(j0, width), kb.muli(rows, width));
      kb.loop(kb.index(0), rows, kb.index(1), [&](Value p) {
        kb.scaleCopy(dstFlat, {kb.addi(kb.muli(p, cols), j0)}, one, src,
                     {kb.addi(panel, kb.muli(p, width))}, len);
      });
    });
    rewriter.replaceOp(op, kb.tensor(dst, type));
    return success();
  }

  HybridToLoopsOptions options;
};

} // namespace

void mlir::hybrid::populatePanelUnpackLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<PanelUnpackLowering>(patterns.getContext(), options);
}

void mlir::hybrid::populateMatmulLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<MatmulLowering>(patterns.getContext(), options);
}
