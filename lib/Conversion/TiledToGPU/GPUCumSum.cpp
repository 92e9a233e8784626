//===- GPUCumSum.cpp - hybrid.cumsum: a thread per line -------------------===//
//
// The run-time axis splits the input into outer x axis x inner lines; each
// thread runs one line's running sum in the element type (consecutive
// threads on consecutive inner positions, so the loads coalesce when the
// axis is not the innermost). The axis is read and checked on the host.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/LineOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kLineThreads = 256;

LogicalResult lowerCumSum(OpBuilder &b, CumSumOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  auto type = cast<RankedTensorType>(op.getType());
  Type element = type.getElementType();
  Value x = io.read(op.getInput());
  Value out = io.allocLike(op.getInput());
  RuntimeChecks checks(kb, "hybrid.cumsum");
  Value axis = readCumSumAxis(kb, op, checks);
  LineSplit split = splitAtAxis(kb, x, axis);
  Value lines = kb.select(checks.passed(), kb.muli(split.outer, split.inner),
                          kb.index(0));
  Value threads = kb.index(kLineThreads);
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    sizes.push_back(kb.dim(x, d));
  Launch launch = createGuardedLaunch(
      b, loc, lines,
      {arith::CeilDivUIOp::create(b, loc, lines, threads), kb.index(1),
       kb.index(1)},
      kLineThreads);
  Value line = kb.addi(kb.muli(launch.blockX, threads), launch.threadX);
  auto inRange = scf::IfOp::create(
      b, loc, kb.cmpi(arith::CmpIPredicate::ult, line, lines), false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  Value o = kb.divui(line, split.inner), i = kb.remui(line, split.inner);
  // Element (o, k, i) of the [outer, len, inner] view, at the input's
  // coordinates.
  auto at = [&](Value k) {
    Value flat = kb.addi(kb.muli(kb.addi(kb.muli(o, split.len), k),
                                 split.inner),
                         i);
    return io.delinearize(flat, sizes);
  };
  bool isFloat = isa<FloatType>(element);
  Value zero = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(element)));
  auto loop = scf::ForOp::create(b, loc, kb.index(0), split.len, kb.index(1),
                                 ValueRange{zero});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k = loop.getInductionVar();
    if (op.getReverse())
      k = kb.subi(kb.subi(split.len, kb.index(1)), k);
    SmallVector<Value> where = at(k);
    Value v = memref::LoadOp::create(b, loc, x, where);
    Value before = loop.getRegionIterArgs()[0];
    Value sum = isFloat ? arith::AddFOp::create(b, loc, before, v).getResult()
                        : arith::AddIOp::create(b, loc, before, v).getResult();
    memref::StoreOp::create(b, loc, op.getExclusive() ? before : sum, out,
                            where);
    scf::YieldOp::create(b, loc, sum);
  }
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getResult().replaceAllUsesWith(io.result(out, type));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
