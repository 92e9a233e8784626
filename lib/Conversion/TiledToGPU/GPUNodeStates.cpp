//===- GPUNodeStates.cpp - kv_compact's per-node recurrent states ---------===//
//
// After a verification over a draft tree, hybrid.kv_compact selects the
// accepted node's recurrent state from the per-node states
// [B, H, N, Dk, Dv]. On the GPU this part is a kernel of its own, a thread
// per state value: it checks the path and length it reads on the device
// (a path from the root down, a length in [1, N]) and takes the accepted
// node's value, else the kept state when one of the result's shape is
// given, else 0 (as the CPU kernel does on a failed call). The caches'
// part stays a kv_compact of its own (checks and row moves on the host).
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kStateThreads = 256;

LogicalResult lowerKVCompactStates(OpBuilder &b, KVCompactOp op) {
  if (op.getNodeStates().empty())
    return success();
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  using P = arith::CmpIPredicate;
  Value path = kb.buffer(op.getPath());
  Value lengthBuf = kb.buffer(op.getLength());
  Value nodes = kb.dim(path, 0);
  Value zero = kb.index(0), one = kb.index(1);
  unsigned numCaches = op.getCaches().size();
  SmallVector<Value> stateResults;
  for (auto [i, statesTensor] : llvm::enumerate(op.getNodeStates())) {
    auto type = cast<RankedTensorType>(op.getResultTypes()[numCaches + i]);
    Value states = kb.buffer(statesTensor);
    SmallVector<Value> sizes{kb.dim(states, 0), kb.dim(states, 1),
                             kb.dim(states, 3), kb.dim(states, 4)};
    Value kept = op.getKeptStates().empty()
                     ? Value()
                     : kb.buffer(op.getKeptStates()[i]);
    Value keptFits = kb.boolean(false);
    if (kept) {
      keptFits = kb.boolean(true);
      for (auto [d, size] : llvm::enumerate(sizes))
        keptFits = kb.andi(keptFits, kb.cmpi(P::eq, kb.dim(kept, d), size));
    }
    Value out = kb.alloc(type, sizes);
    Value elements =
        kb.muli(kb.muli(sizes[0], sizes[1]), kb.muli(sizes[2], sizes[3]));
    Value threads = kb.index(kStateThreads);
    OpBuilder::InsertionGuard guard(b);
    Launch l = createGuardedLaunch(
        b, loc, elements,
        {arith::CeilDivUIOp::create(b, loc, elements, threads), one, one},
        kStateThreads);
    Operation *launchGuard = l.op->getParentOp();
    Value flat = kb.addi(kb.muli(l.blockX, threads), l.threadX);
    auto inRange =
        scf::IfOp::create(b, loc, kb.cmpi(P::ult, flat, elements), false);
    b.setInsertionPointToStart(&inRange.getThenRegion().front());
    SmallVector<Value> at = io.delinearize(flat, sizes);
    Value length = kb.loadIndex(lengthBuf, {});
    Value lengthOk = kb.andi(kb.cmpi(P::sge, length, one),
                             kb.cmpi(P::sle, length, nodes));
    Value safeLength = kb.select(lengthOk, length, zero);
    // The path from the root (node 0) down: increasing ids below N.
    Value pathOk = kb.loop(
        zero, safeLength, one, {kb.boolean(true), kb.index(-1)},
        [&](Value d, ValueRange it) -> SmallVector<Value> {
          Value n = kb.loadIndex(path, {d});
          Value inTree = kb.andi(kb.cmpi(P::sge, n, zero),
                                 kb.cmpi(P::slt, n, nodes));
          Value ordered = kb.select(kb.cmpi(P::eq, d, zero),
                                    kb.cmpi(P::eq, n, zero),
                                    kb.cmpi(P::sgt, n, it[1]));
          return {kb.andi(it[0], kb.andi(inTree, ordered)), n};
        })[0];
    Value valid = kb.andi(lengthOk, pathOk);
    Value node = kb.select(
        valid, kb.loadIndex(path, {kb.subi(safeLength, one)}), zero);
    auto value = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()}, valid,
                                   true);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&value.getThenRegion().front());
      scf::YieldOp::create(
          b, loc,
          memref::LoadOp::create(b, loc, states,
                                 ValueRange{at[0], at[1], node, at[2], at[3]})
              .getResult());
      b.setInsertionPointToStart(&value.getElseRegion().front());
      Value fallback = kb.f32(0.0);
      if (kept) {
        auto fromKept = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()},
                                          keptFits, true);
        b.setInsertionPointToStart(&fromKept.getThenRegion().front());
        scf::YieldOp::create(
            b, loc, memref::LoadOp::create(b, loc, kept, at).getResult());
        b.setInsertionPointToStart(&fromKept.getElseRegion().front());
        scf::YieldOp::create(b, loc, kb.f32(0.0));
        b.setInsertionPointAfter(fromKept);
        fallback = fromKept.getResult(0);
      }
      scf::YieldOp::create(b, loc, fallback);
    }
    memref::StoreOp::create(b, loc, value.getResult(0), out, at);
    b.setInsertionPointAfter(launchGuard);
    stateResults.push_back(io.result(out, type));
  }
  // The caches' part, as a kv_compact of its own.
  b.setInsertionPoint(op);
  auto caches = KVCompactOp::create(
      b, loc, TypeRange(op.getResultTypes()).take_front(numCaches),
      op.getPath(),
      op.getLength(), op.getPrefixLen(), op.getCaches(), ValueRange{},
      ValueRange{});
  for (unsigned i = 0; i < numCaches; ++i)
    op.getResult(i).replaceAllUsesWith(caches.getResult(i));
  for (auto [i, state] : llvm::enumerate(stateResults))
    op.getResult(numCaches + i).replaceAllUsesWith(state);
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
