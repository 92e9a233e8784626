//===- BlockReduce.cpp - Sums and maxima across a warp and a block --------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

static Value combine(OpBuilder &b, Location loc, Value x, Value y,
                     Combine how) {
  if (how == Combine::Add)
    return arith::AddFOp::create(b, loc, x, y);
  return arith::MaxNumFOp::create(b, loc, x, y);
}

Value warpReduce(OpBuilder &b, Location loc, Value value, Combine how) {
  for (int32_t offset = 16; offset >= 1; offset /= 2) {
    auto other = gpu::ShuffleOp::create(b, loc, value, offset, /*width=*/32,
                                        gpu::ShuffleMode::XOR);
    value = combine(b, loc, value, other.getShuffleResult(), how);
  }
  return value;
}

Value blockReduce(OpBuilder &b, Location loc, Value value, Value tid,
                  Value scratch, int64_t threads, Combine how) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Type f32 = b.getF32Type();
  Value identity = arith::ConstantOp::create(
      b, loc,
      b.getF32FloatAttr(how == Combine::Add
                            ? 0.0f
                            : -std::numeric_limits<float>::infinity()));
  // The scratch may still be read by a previous reduction's last step.
  gpu::BarrierOp::create(b, loc);
  value = warpReduce(b, loc, value, how);
  Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
  Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                      index(0));
  auto ifFirst = scf::IfOp::create(b, loc, first, false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifFirst.getThenRegion().front());
    memref::StoreOp::create(b, loc, value, scratch, ValueRange{warp});
  }
  gpu::BarrierOp::create(b, loc);
  // Every warp combines the warps' partials itself: all threads end with
  // the result, without a second barrier.
  Value hasPartial = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           lane, index(threads / 32));
  auto partial = scf::IfOp::create(b, loc, TypeRange{f32}, hasPartial, true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&partial.getThenRegion().front());
    scf::YieldOp::create(
        b, loc,
        memref::LoadOp::create(b, loc, scratch, ValueRange{lane}).getResult());
    b.setInsertionPointToStart(&partial.getElseRegion().front());
    scf::YieldOp::create(b, loc, identity);
  }
  return warpReduce(b, loc, partial.getResult(0), how);
}

} // namespace mlir::hybrid::gpu_stage
