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

using namespace mlir;
using namespace mlir::hybrid;

namespace {

struct MatmulLowering : OpRewritePattern<linalg::MatmulOp> {
  MatmulLowering(MLIRContext *ctx, const HybridToLoopsOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(linalg::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    // Plain C += A B on tensors: default maps, one ranked result, float
    // storage the kernel reads (f32/f16/bf16), f32 accumulation.
    if (!op.hasPureTensorSemantics() || op->getNumResults() != 1 ||
        op.getIndexingMapsArray() != op.getDefaultIndexingMaps(op.getContext()))
      return rewriter.notifyMatchFailure(op, "not a plain tensor matmul");
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    auto isStorage = [](Type t) { return t.isF32() || t.isF16() || t.isBF16(); };
    if (!type || !type.getElementType().isF32() ||
        !isStorage(getElementTypeOrSelf(op.getInputs()[0].getType())) ||
        !isStorage(getElementTypeOrSelf(op.getInputs()[1].getType())))
      return rewriter.notifyMatchFailure(op, "unsupported element types");

    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Value a = kb.buffer(op.getInputs()[0]), b = kb.buffer(op.getInputs()[1]);
    Value m = kb.dim(a, 0), k = kb.dim(a, 1), n = kb.dim(b, 1);
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
    emitTiledMatmul(kb, chooseMatmulTiling(options.vectorWidth), c, a, b, m,
                    n, k, fill);
    rewriter.replaceOp(op, kb.tensor(c, type));
    return success();
  }

  HybridToLoopsOptions options;
};

} // namespace

void mlir::hybrid::populateMatmulLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<MatmulLowering>(patterns.getContext(), options);
}
