//===- MatmulLowering.cpp - linalg.matmul on the register-blocked kernel --===//
//
// Models mix hybrid ops with plain projections. linalg.matmul with the
// default maps would otherwise reach LLVM as a scalar triple loop; this
// pattern gives it the same register-blocked product the recurrence uses,
// parallel over blocks of 64 rows.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
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
    Value init = kb.buffer(op.getOutputs()[0]);
    Value m = kb.dim(a, 0), k = kb.dim(a, 1), n = kb.dim(b, 1);
    Value c = kb.alloc(type, {m, n});
    memref::CopyOp::create(rewriter, kb.loc, init, c);

    Value rows = kb.index(64);
    kb.parallel({kb.ceilDiv(m, rows)}, [&](ValueRange ivs) {
      Value r0 = kb.muli(ivs[0], rows);
      Value count = kb.minui(rows, kb.subi(m, r0));
      auto rowsOf = [&](Value buffer, Value base) {
        return KernelBuilder::Matrix{
            buffer, [&kb, base](Value r) -> SmallVector<Value> {
              return {kb.addi(base, r), kb.index(0)};
            }};
      };
      kb.matmulAccumulate(rowsOf(c, r0), rowsOf(a, r0), /*transposeA=*/false,
                          rowsOf(b, kb.index(0)), count, n, k);
    });
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
