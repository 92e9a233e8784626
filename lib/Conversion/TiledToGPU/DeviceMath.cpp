//===- DeviceMath.cpp - hybrid-gpu-device-math ----------------------------===//
//
// Kernels must not call libdevice (`__nv_expf`, ...): it ships with the
// CUDA toolkit, not with the driver that JIT-compiles the embedded PTX.
// Transcendentals become upstream's polynomials (as on the CPU, so that
// both targets compute the same approximations), and what has a PTX
// instruction (sqrt, abs, floor, fma, ...) becomes the LLVM intrinsic that
// NVPTX selects it for, before convert-gpu-to-nvvm would prefer libdevice.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDGPUDEVICEMATH
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

constexpr StringLiteral kPolynomials[] = {
    "exp", "expm1", "log", "log1p", "log2", "tanh", "erf",
    "sin", "cos", "atan", "atan2", "cbrt"};

bool hasPolynomial(StringRef name) {
  name.consume_front("math.");
  return llvm::is_contained(kPolynomials, name);
}

/// `math.<op>` on a scalar as the LLVM intrinsic `llvm.<name>.<type>`,
/// called by name: convert-gpu-to-nvvm keeps `llvm.intr.*` ops of these
/// illegal (it wants libdevice), but NVPTX selects the intrinsics
/// themselves (cvt.rmi, abs, sqrt.rn, fma.rn).
template <typename MathOp>
struct MathToIntrinsic : OpRewritePattern<MathOp> {
  MathToIntrinsic(MLIRContext *ctx, StringRef name)
      : OpRewritePattern<MathOp>(ctx), name(name) {}

  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    StringRef suffix = type.isF32()    ? "f32"
                       : type.isF16()  ? "f16"
                       : type.isF64()  ? "f64"
                       : type.isBF16() ? "bf16"
                                       : "";
    if (suffix.empty())
      return rewriter.notifyMatchFailure(op, "not a float scalar");
    std::string intrinsic = ("llvm." + name + "." + suffix).str();
    rewriter.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, type, rewriter.getStringAttr(intrinsic), op->getOperands());
    return success();
  }

  std::string name;
};

/// `arith.<op>` on floats as an LLVM intrinsic: convert-gpu-to-nvvm maps
/// maxnumf and minnumf to libdevice too (`__nv_fmaxf`), though PTX has
/// max.f32 and min.f32 (and max.NaN.f32 for maximumf on sm_80).
template <typename ArithOp>
struct ArithToIntrinsic : MathToIntrinsic<ArithOp> {
  using MathToIntrinsic<ArithOp>::MathToIntrinsic;
};

/// remf as x - trunc(x / y) * y (libdevice's fmodf otherwise).
struct RemFToTrunc : OpRewritePattern<arith::RemFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::RemFOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value quotient =
        arith::DivFOp::create(rewriter, loc, op.getLhs(), op.getRhs());
    Value whole = math::TruncOp::create(rewriter, loc, quotient);
    Value product =
        arith::MulFOp::create(rewriter, loc, whole, op.getRhs());
    rewriter.replaceOpWithNewOp<arith::SubFOp>(op, op.getLhs(), product);
    return success();
  }
};

/// rsqrt as 1 / sqrt.rn (rsqrt.approx is off by 2 ulp).
struct RsqrtToSqrt : OpRewritePattern<math::RsqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::RsqrtOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value root = math::SqrtOp::create(rewriter, loc, op.getOperand());
    Value one = arith::ConstantOp::create(
        rewriter, loc, rewriter.getFloatAttr(op.getType(), 1.0));
    rewriter.replaceOpWithNewOp<arith::DivFOp>(op, one, root);
    return success();
  }
};

struct HybridGPUDeviceMath
    : hybrid::impl::HybridGPUDeviceMathBase<HybridGPUDeviceMath> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    {
      // Functions written through others first (pow through exp and log,
      // tan through sin and cos, ...), then the polynomials, in f32.
      RewritePatternSet patterns(ctx);
      math::populateExpansionPatterns(
          patterns, {"powf", "fpowi", "tan", "sinh", "cosh", "asinh",
                     "acosh", "atanh", "exp2"});
      populateMathF32ExpansionPatterns(patterns, hasPolynomial);
      populateMathPolynomialApproximationPatterns(patterns, hasPolynomial);
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    // The rest are PTX instructions: LLVM intrinsics.
    RewritePatternSet patterns(ctx);
    patterns.add<RsqrtToSqrt, RemFToTrunc>(ctx);
    patterns.add<ArithToIntrinsic<arith::MaxNumFOp>>(ctx, "maxnum");
    patterns.add<ArithToIntrinsic<arith::MinNumFOp>>(ctx, "minnum");
    patterns.add<ArithToIntrinsic<arith::MaximumFOp>>(ctx, "maximum");
    patterns.add<ArithToIntrinsic<arith::MinimumFOp>>(ctx, "minimum");
    patterns.add<MathToIntrinsic<math::AbsFOp>>(ctx, "fabs");
    patterns.add<MathToIntrinsic<math::FloorOp>>(ctx, "floor");
    patterns.add<MathToIntrinsic<math::CeilOp>>(ctx, "ceil");
    patterns.add<MathToIntrinsic<math::SqrtOp>>(ctx, "sqrt");
    patterns.add<MathToIntrinsic<math::FmaOp>>(ctx, "fma");
    patterns.add<MathToIntrinsic<math::CopySignOp>>(ctx, "copysign");
    patterns.add<MathToIntrinsic<math::RoundEvenOp>>(ctx, "roundeven");
    patterns.add<MathToIntrinsic<math::RoundOp>>(ctx, "round");
    patterns.add<MathToIntrinsic<math::TruncOp>>(ctx, "trunc");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // Anything left would become a libdevice call that the driver cannot
    // resolve: name it now.
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (!isa<math::MathDialect>(op->getDialect()))
        return WalkResult::advance();
      op->emitError() << "'" << op->getName()
                      << "' has no GPU form without libdevice";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
