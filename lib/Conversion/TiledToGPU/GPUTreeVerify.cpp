//===- GPUTreeVerify.cpp - hybrid.tree_verify: argmax blocks, one walker --===//
//
// Greedy acceptance over a draft tree in two launches: a block per node
// takes the target's argmax over the vocabulary (the maximum by a block
// reduction, then the lowest index holding it by another), and one thread
// walks the nodes in order (a node is accepted when its parent is and its
// draft token is the parent's argmax; the deepest accepted node wins, the
// lowest index on ties) and writes the path, its length and the bonus
// token. The walk is sequential by nature and touches N values. The
// shape and tree checks run on the host, as on the CPU.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/SpeculationShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kArgmaxThreads = 256;

LogicalResult lowerTreeVerify(OpBuilder &b, TreeVerifyOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  using P = arith::CmpIPredicate;
  using F = arith::CmpFPredicate;
  Value parents = kb.buffer(op.getParents());
  Value draft = kb.buffer(op.getDraftTokens());
  Value target = kb.buffer(op.getTarget());
  bool logits = cast<MemRefType>(target.getType()).getRank() == 2;
  Value nodes = kb.dim(parents, 0);
  RuntimeChecks checks(kb, "hybrid.tree_verify");
  checkTreeVerify(kb, checks, parents, draft, target, logits);
  Value ok = checks.passed();

  auto pathType = cast<RankedTensorType>(op.getPath().getType());
  auto scalarType = cast<RankedTensorType>(op.getLength().getType());
  Value path = kb.alloc(pathType, {nodes});
  Value length = kb.alloc(scalarType, {});
  Value bonus = kb.alloc(scalarType, {});
  Value argmax = kb.alloc({OpFoldResult(nodes)}, b.getIndexType());
  Value depth = kb.alloc({OpFoldResult(nodes)}, b.getIndexType());
  Value zero = kb.index(0), one = kb.index(1);
  Value work = kb.select(ok, nodes, zero);
  Operation *previous = nullptr;

  // a[i]: the target's token after node i (the first maximum).
  {
    Launch l = createGuardedLaunch(
        b, loc, work, {work, one, one}, logits ? kArgmaxThreads : 1,
        {getWorkgroupBufferType({32}, b.getF32Type())});
    previous = l.op->getParentOp();
    Value i = l.blockX, tid = l.threadX;
    if (logits) {
      Value vocab = kb.dim(target, 1), step = kb.index(kArgmaxThreads);
      auto x = [&](Value v) {
        return io.toF32(memref::LoadOp::create(b, loc, target, ValueRange{i, v}));
      };
      Value localMax = kb.loop(tid, vocab, step, {kb.negInf()},
                               [&](Value v, ValueRange it) -> SmallVector<Value> {
                                 return {kb.maxf(it[0], x(v))};
                               })[0];
      Value max = blockReduce(b, loc, localMax, tid, l.shared[0],
                              kArgmaxThreads, Combine::Max);
      // The lowest index holding it: a maximum of -index (exact in f32
      // below 2^24 entries).
      Value none = kb.f32(-16777216.0);
      Value localFirst = kb.loop(
          tid, vocab, step, {none},
          [&](Value v, ValueRange it) -> SmallVector<Value> {
            Value at = kb.subf(kb.f32(0.0), kb.toF32(v));
            Value hit = kb.cmpf(F::OEQ, x(v), max);
            return {kb.select(hit, kb.maxf(it[0], at), it[0])};
          })[0];
      Value first = blockReduce(b, loc, localFirst, tid, l.shared[0],
                                kArgmaxThreads, Combine::Max);
      kb.ifThen(kb.cmpi(P::eq, tid, zero), [&] {
        Value index = arith::FPToUIOp::create(
            b, loc, b.getI64Type(), kb.subf(kb.f32(0.0), first));
        memref::StoreOp::create(
            b, loc, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), index),
            argmax, ValueRange{i});
      });
    } else {
      memref::StoreOp::create(b, loc, kb.loadIndex(target, {i}), argmax,
                              ValueRange{i});
    }
  }
  b.setInsertionPointAfter(previous);

  // The walk, on one thread.
  {
    Launch l = createGuardedLaunch(b, loc, work, {one, one, one}, 1);
    previous = l.op->getParentOp();
    auto argmaxOf = [&](Value i) -> Value {
      return memref::LoadOp::create(b, loc, argmax, ValueRange{i});
    };
    memref::StoreOp::create(b, loc, zero, depth, ValueRange{zero});
    SmallVector<Value> result = kb.loop(
        one, nodes, one, {zero, zero},
        [&](Value i, ValueRange it) -> SmallVector<Value> {
          Value p = kb.loadIndex(parents, {i});
          Value parentDepth =
              memref::LoadOp::create(b, loc, depth, ValueRange{p});
          // depth < 0 marks a rejected node.
          Value accepted = kb.andi(kb.cmpi(P::sge, parentDepth, zero),
                                   kb.cmpi(P::eq, kb.loadIndex(draft, {i}),
                                           argmaxOf(p)));
          Value d = kb.select(accepted, kb.addi(parentDepth, one),
                              kb.index(-1));
          memref::StoreOp::create(b, loc, d, depth, ValueRange{i});
          Value deeper = kb.cmpi(P::sgt, d, it[1]);
          return {kb.select(deeper, i, it[0]), kb.select(deeper, d, it[1])};
        });
    Value best = result[0], bestDepth = result[1];
    kb.loop(zero, nodes, one,
            [&](Value i) { kb.storeIndex(kb.index(-1), path, {i}); });
    kb.loop(zero, kb.addi(bestDepth, one), one, {best},
            [&](Value s, ValueRange it) -> SmallVector<Value> {
              kb.storeIndex(it[0], path, {kb.subi(bestDepth, s)});
              return {kb.loadIndex(parents, {it[0]})};
            });
    kb.storeIndex(kb.addi(bestDepth, one), length, {});
    kb.storeIndex(argmaxOf(best), bonus, {});
  }
  b.setInsertionPointAfter(previous);
  op.getPath().replaceAllUsesWith(io.result(path, pathType));
  op.getLength().replaceAllUsesWith(io.result(length, scalarType));
  op.getBonus().replaceAllUsesWith(io.result(bonus, scalarType));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
