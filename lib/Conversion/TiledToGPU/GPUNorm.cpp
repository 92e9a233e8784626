//===- GPUNorm.cpp - hybrid.rms_norm: a thread block per row --------------===//
//
// Each block takes one row (the dimensions before `axis`) and its 256
// threads stride over the row's elements twice: once for the sum of
// squares (in f32, combined by warp shuffles and one shared-memory step),
// once to scale and store. A decode step's single row still uses a whole
// block, and a long row is read by all its threads at once.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kNormThreads = 256;

LogicalResult lowerRMSNorm(OpBuilder &b, RMSNormOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelIO io(b, loc);
  Value input = io.read(op.getInput());
  Value scale = io.read(op.getScale());
  Value output = io.allocLike(op.getInput());
  auto inputType = cast<MemRefType>(input.getType());
  int64_t rank = inputType.getRank(), axis = op.getNormalizedAxis();
  int64_t scaleRank = cast<MemRefType>(scale.getType()).getRank();

  SmallVector<Value> sizes;
  for (int64_t d = 0; d < rank; ++d)
    sizes.push_back(memref::DimOp::create(b, loc, input, d));
  SmallVector<Value> scaleSizes;
  for (int64_t d = 0; d < scaleRank; ++d)
    scaleSizes.push_back(memref::DimOp::create(b, loc, scale, d));
  Value rows = io.index(1), cols = io.index(1);
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? rows : cols) = arith::MulIOp::create(
        b, loc, d < axis ? rows : cols, sizes[d]);

  Launch launch = createGuardedLaunch(
      b, loc, rows, {rows, io.index(1), io.index(1)}, kNormThreads,
      {getWorkgroupBufferType({32}, b.getF32Type())});
  Value scratch = launch.shared[0];
  Value tid = launch.threadX;
  SmallVector<Value> rowIndex = io.delinearize(
      launch.blockX, ArrayRef<Value>(sizes).take_front(axis));
  auto elementAt = [&](Value col) {
    SmallVector<Value> at(rowIndex);
    llvm::append_range(at, io.delinearize(
                               col, ArrayRef<Value>(sizes).drop_front(axis)));
    return at;
  };
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  Value step = io.index(kNormThreads);

  auto sumLoop = scf::ForOp::create(b, loc, tid, cols, step, zero);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(sumLoop.getBody());
    Value x = io.toF32(memref::LoadOp::create(
        b, loc, input, elementAt(sumLoop.getInductionVar())));
    Value sq = arith::MulFOp::create(b, loc, x, x);
    scf::YieldOp::create(
        b, loc,
        arith::AddFOp::create(b, loc, sumLoop.getRegionIterArgs()[0], sq)
            .getResult());
  }
  Value sum = blockReduce(b, loc, sumLoop.getResult(0), tid, scratch,
                          kNormThreads, Combine::Add);
  Value colsF = arith::UIToFPOp::create(
      b, loc, f32,
      arith::IndexCastUIOp::create(b, loc, b.getI64Type(), cols));
  Value eps = arith::ConstantOp::create(b, loc, op.getEpsilonAttr());
  Value rstd = math::RsqrtOp::create(
      b, loc,
      arith::AddFOp::create(b, loc, arith::DivFOp::create(b, loc, sum, colsF),
                            eps));

  auto scaleLoop = scf::ForOp::create(b, loc, tid, cols, step);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(scaleLoop.getBody());
    Value col = scaleLoop.getInductionVar();
    SmallVector<Value> at = elementAt(col);
    // The scale broadcasts to the normalised dims: a size-1 dim of it is
    // read at 0 (the coordinate clamped to its size).
    SmallVector<Value> scaleAt;
    for (int64_t i = 0; i < scaleRank; ++i) {
      Value coord = at[rank - scaleRank + i];
      Value last = arith::SubIOp::create(b, loc, scaleSizes[i], io.index(1));
      scaleAt.push_back(arith::MinUIOp::create(b, loc, coord, last));
    }
    Value x = io.toF32(memref::LoadOp::create(b, loc, input, at));
    Value w = io.toF32(memref::LoadOp::create(b, loc, scale, scaleAt));
    Value y = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, rstd), w);
    memref::StoreOp::create(b, loc, io.fromF32(y, inputType.getElementType()),
                            output, at);
  }
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getResult().replaceAllUsesWith(io.result(output, op.getType()));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
