//===- LineOps.cpp - The run-time operands of per-line ops ----------------===//

#include "hybrid/Conversion/Tiling/LineOps.h"

using namespace mlir;
using namespace mlir::hybrid;

using P = arith::CmpIPredicate;

Value mlir::hybrid::readCumSumAxis(KernelBuilder &kb, CumSumOp op,
                                   RuntimeChecks &checks) {
  int64_t rank = cast<RankedTensorType>(op.getType()).getRank();
  Value axisBuf = kb.buffer(op.getAxis());
  int64_t axisRank = cast<MemRefType>(axisBuf.getType()).getRank();
  if (axisRank == 1)
    checks.check(kb.cmpi(P::ne, kb.dim(axisBuf, 0), kb.index(1)),
                 "axis must hold one value");
  Value axis =
      kb.loadIndex(axisBuf, SmallVector<Value>(axisRank, kb.index(0)));
  Value r = kb.index(rank);
  axis = kb.select(kb.cmpi(P::slt, axis, kb.index(0)), kb.addi(axis, r), axis);
  checks.check(kb.ori(kb.cmpi(P::slt, axis, kb.index(0)),
                      kb.cmpi(P::sge, axis, r)),
               "axis is out of range [-rank, rank)");
  return axis;
}

Value mlir::hybrid::readTopK(KernelBuilder &kb, TopKOp op, Value x,
                             RuntimeChecks &checks) {
  int64_t rank = op.getInput().getType().getRank();
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
  Value kBuf = kb.buffer(op.getK());
  int64_t kRank = cast<MemRefType>(kBuf.getType()).getRank();
  if (kRank == 1)
    checks.check(kb.cmpi(P::ne, kb.dim(kBuf, 0), kb.index(1)),
                 "k must hold one value");
  Value k = kb.loadIndex(kBuf, SmallVector<Value>(kRank, kb.index(0)));
  checks.check(kb.ori(kb.cmpi(P::slt, k, kb.index(0)),
                      kb.cmpi(P::sgt, k, kb.dim(x, axis))),
               "k is out of range [0, size of the axis]");
  return k;
}

LineSplit mlir::hybrid::splitAtAxis(KernelBuilder &kb, Value x, Value axis) {
  int64_t rank = cast<MemRefType>(x.getType()).getRank();
  LineSplit s{kb.index(1), kb.index(1), kb.index(1)};
  for (int64_t d = 0; d < rank; ++d) {
    Value size = kb.dim(x, d), dIdx = kb.index(d), one = kb.index(1);
    s.outer = kb.muli(s.outer, kb.select(kb.cmpi(P::slt, dIdx, axis), size, one));
    s.len = kb.select(kb.cmpi(P::eq, dIdx, axis), size, s.len);
    s.inner = kb.muli(s.inner, kb.select(kb.cmpi(P::sgt, dIdx, axis), size, one));
  }
  return s;
}
