//===- GPURotary.cpp - hybrid.rotary_embedding: a thread per element ------===//
//
// Each output element is its input rotated with its pair partner
// (`(i, i + R/2)`, or `(2i, 2i + 1)` interleaved) by the angle of its
// token's cache row, or copied past the rotary dimension: one thread per
// element, consecutive threads on consecutive features. The shape checks
// the CPU kernel makes at run time are made on the host before the launch
// (the module's error status); a position id outside the cache reads row 0
// of it, on the device, where no error can be raised yet.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/RotaryShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kRotaryThreads = 256;

LogicalResult lowerRotaryEmbedding(OpBuilder &b, RotaryEmbeddingOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelIO io(b, loc);
  auto type = cast<RankedTensorType>(op.getType());
  Value x = io.read(op.getInput());
  Value cosT = io.read(op.getCosCache());
  Value sinT = io.read(op.getSinCache());
  Value positions =
      op.getPositionIds() ? io.read(op.getPositionIds()) : Value();
  Value out = io.allocLike(op.getInput());

  // The CPU kernel's shape checks, on the host.
  KernelBuilder k(b, loc, /*vectorWidth=*/1);
  RotaryShape shape = checkRotaryShape(k, op, x, cosT, sinT, positions);
  Value batch = shape.batch, seq = shape.seq, heads = shape.heads;
  Value headDim = shape.headDim, rotary = shape.rotary, half = shape.half;
  using P = arith::CmpIPredicate;
  Value cacheRows = k.dim(cosT, 0);

  // Elements in [B, S, H, D] order, whatever the layout.
  Value elements = k.muli(k.muli(batch, seq), k.muli(heads, headDim));
  Value work = k.select(shape.passed, elements, k.index(0));
  Value threads = io.index(kRotaryThreads);
  Value blocks = arith::CeilDivUIOp::create(b, loc, elements, threads);
  Launch launch = createGuardedLaunch(b, loc, work, {blocks, io.index(1),
                                                    io.index(1)},
                                      kRotaryThreads);
  Value element = k.addi(k.muli(launch.blockX, threads), launch.threadX);
  auto inRange = scf::IfOp::create(b, loc, k.cmpi(P::ult, element, elements),
                                   false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  SmallVector<Value> coords =
      io.delinearize(element, {batch, seq, heads, headDim});
  Value bi = coords[0], si = coords[1], hi = coords[2], d = coords[3];
  auto at = [&](Value feature) { return shape.at(k, bi, si, hi, feature); };
  Type elementType = type.getElementType();
  Value xd = io.toF32(memref::LoadOp::create(b, loc, x, at(d)));
  auto rotated = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()},
                                   k.cmpi(P::ult, d, rotary), true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&rotated.getThenRegion().front());
    // The pair (first, second) this feature belongs to, and its angle i.
    Value first, i;
    if (op.getInterleaved()) {
      i = k.divui(d, k.index(2));
      first = k.cmpi(P::eq, k.remui(d, k.index(2)), k.index(0));
    } else {
      first = k.cmpi(P::ult, d, half);
      i = k.select(first, d, k.subi(d, half));
    }
    Value partnerOffset = op.getInterleaved() ? k.index(1) : half;
    Value partner = k.select(first, k.addi(d, partnerOffset),
                             k.subi(d, partnerOffset));
    Value xp = io.toF32(memref::LoadOp::create(b, loc, x, at(partner)));
    SmallVector<Value> cacheAt;
    if (positions) {
      Value pos = k.loadIndex(positions, {bi, si});
      cacheAt = {k.select(k.cmpi(P::ult, pos, cacheRows), pos, k.index(0))};
    } else {
      cacheAt = {bi, si};
    }
    cacheAt.push_back(i);
    Value c = io.toF32(memref::LoadOp::create(b, loc, cosT, cacheAt));
    Value s = io.toF32(memref::LoadOp::create(b, loc, sinT, cacheAt));
    // first: x c - partner s; second: x c + partner s.
    Value xs = arith::MulFOp::create(b, loc, xp, s);
    Value xc = arith::MulFOp::create(b, loc, xd, c);
    Value y = k.select(first, arith::SubFOp::create(b, loc, xc, xs),
                       arith::AddFOp::create(b, loc, xc, xs));
    scf::YieldOp::create(b, loc, y);
    b.setInsertionPointToStart(&rotated.getElseRegion().front());
    scf::YieldOp::create(b, loc, xd);
  }
  memref::StoreOp::create(b, loc, io.fromF32(rotated.getResult(0), elementType),
                          out, at(d));
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getResult().replaceAllUsesWith(io.result(out, type));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
