//===- GPUTopK.cpp - hybrid.topk: a thread per element, by rank -----------===//
//
// Element e of a line is selected when fewer than k elements of the line
// beat it (a better value, or an equal one at a lower index): its rank is
// its place in the result. One thread per element counts the elements that
// beat it and, when its rank is below k, writes its value and index there.
// No element waits for another and nothing is allocated per line; the cost
// is the line's length squared, fine for the lines ONNX models sort
// (experts, beams), not for a vocabulary (a block-wide sort is next). NaNs
// beat nothing and are beaten by nothing, so they rank by index.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/LineOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kTopKThreads = 256;

LogicalResult lowerTopK(OpBuilder &b, TopKOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  using P = arith::CmpIPredicate;
  auto inType = op.getInput().getType();
  auto valuesType = cast<RankedTensorType>(op.getValues().getType());
  auto indicesType = cast<RankedTensorType>(op.getIndices().getType());
  int64_t rank = inType.getRank();
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
  Value x = io.read(op.getInput());
  RuntimeChecks checks(kb, "hybrid.topk");
  Value k = readTopK(kb, op, x, checks);
  Value kSafe = kb.select(checks.passed(), k, kb.index(0));
  SmallVector<Value> sizes, outSizes;
  for (int64_t d = 0; d < rank; ++d) {
    sizes.push_back(kb.dim(x, d));
    outSizes.push_back(d == axis ? kSafe : sizes.back());
  }
  auto alloc = [&](RankedTensorType t) -> Value {
    SmallVector<Value> dynamic;
    for (int64_t d = 0; d < rank; ++d)
      if (t.isDynamicDim(d))
        dynamic.push_back(outSizes[d]);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(t.getShape(), t.getElementType()), dynamic);
  };
  Value values = alloc(valuesType), indices = alloc(indicesType);

  Value elements = kb.index(1);
  for (Value s : sizes)
    elements = kb.muli(elements, s);
  Value work = kb.select(kb.cmpi(P::sgt, kSafe, kb.index(0)), elements,
                         kb.index(0));
  Value threads = kb.index(kTopKThreads);
  Launch launch = createGuardedLaunch(
      b, loc, work,
      {arith::CeilDivUIOp::create(b, loc, work, threads), kb.index(1),
       kb.index(1)},
      kTopKThreads);
  Value flat = kb.addi(kb.muli(launch.blockX, threads), launch.threadX);
  auto inRange = scf::IfOp::create(b, loc, kb.cmpi(P::ult, flat, work), false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  SmallVector<Value> at = io.delinearize(flat, sizes);
  Value e = at[axis];
  Value mine = memref::LoadOp::create(b, loc, x, at);
  bool isFloat = isa<FloatType>(inType.getElementType());
  auto better = [&](Value a, Value c) -> Value {
    if (isFloat)
      return arith::CmpFOp::create(b, loc,
                                   op.getLargest() ? arith::CmpFPredicate::OGT
                                                   : arith::CmpFPredicate::OLT,
                                   a, c);
    return arith::CmpIOp::create(b, loc, op.getLargest() ? P::sgt : P::slt, a,
                                 c);
  };
  auto equal = [&](Value a, Value c) -> Value {
    if (isFloat)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, a, c);
    return arith::CmpIOp::create(b, loc, P::eq, a, c);
  };
  Value rankOf = kb.loop(
      kb.index(0), sizes[axis], kb.index(1), {kb.index(0)},
      [&](Value j, ValueRange it) -> SmallVector<Value> {
        SmallVector<Value> other(at);
        other[axis] = j;
        Value v = memref::LoadOp::create(b, loc, x, other);
        Value beats = kb.ori(better(v, mine),
                             kb.andi(equal(v, mine), kb.cmpi(P::ult, j, e)));
        return {kb.addi(it[0], kb.select(beats, kb.index(1), kb.index(0)))};
      })[0];
  auto selected = scf::IfOp::create(b, loc, kb.cmpi(P::ult, rankOf, kSafe),
                                    false);
  b.setInsertionPointToStart(&selected.getThenRegion().front());
  SmallVector<Value> outAt(at);
  outAt[axis] = rankOf;
  memref::StoreOp::create(b, loc, mine, values, outAt);
  memref::StoreOp::create(
      b, loc, arith::IndexCastOp::create(b, loc, b.getI64Type(), e), indices,
      outAt);
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getValues().replaceAllUsesWith(io.result(values, valuesType));
  op.getIndices().replaceAllUsesWith(io.result(indices, indicesType));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
