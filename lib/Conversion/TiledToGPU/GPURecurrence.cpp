//===- GPURecurrence.cpp - hybrid.linear_recurrence, state on chip --------===//
//
// The step form, with the state kept in registers across the tokens: one
// thread block per (32 value columns, KV head, batch); its 4 warps hold the
// state rows i = warp + 4m of their lane's column, so a [128 x 32] slice of
// the state is 32 registers a thread. Per token:
//
//   S *= exp(g_t)                     (gated rules; per head or per key row)
//   u = beta (v_t - S^T k_t), or v_t  (delta rules: a column sum over rows,
//                                      the 4 warps' partials combined in
//                                      shared memory)
//   S += k_t u^T
//   o_t = scale S^T q_t               for each query head of the group
//
// k_t, q_t and the per-row decays are staged in shared memory (zero-padded
// to a multiple of 4 rows). A draft tree's nodes each start from their
// parent's state (the root from the prefix's), which this block wrote to
// the node-state result earlier, and store their own. The shape checks run
// on the host first, as on the CPU. The chunked (tensor-core) form for long
// prefills is the next step; every token is a step here.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/RecurrenceShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

constexpr int64_t kColumns = 32; // value columns per block (the lanes)
constexpr int64_t kWarps = 4;    // state rows are split over the warps
constexpr int64_t kThreads = kColumns * kWarps;
constexpr int64_t kMaxKeyDim = 128;

using P = arith::CmpIPredicate;

} // namespace

LogicalResult lowerLinearRecurrence(OpBuilder &b, LinearRecurrenceOp op) {
  Location loc = op.getLoc();
  int64_t keyDim = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(3);
  if (ShapedType::isDynamic(keyDim) || keyDim > kMaxKeyDim)
    return op.emitError() << "the GPU recurrence kernel keeps the state in "
                             "registers and needs a static key dimension of "
                             "at most "
                          << kMaxKeyDim;
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  RecurrenceShape r(kb, op);
  RuntimeChecks checks(kb, "hybrid.linear_recurrence");
  r.check(checks);

  auto outType = cast<RankedTensorType>(op.getOutput().getType());
  auto stateType = cast<RankedTensorType>(op.getFinalState().getType());
  auto alloc = [&](RankedTensorType type, ArrayRef<Value> sizes) -> Value {
    SmallVector<Value> dynamic;
    for (auto [d, size] : llvm::enumerate(sizes))
      if (type.isDynamicDim(d))
        dynamic.push_back(size);
    return memref::AllocOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()),
        dynamic);
  };
  Value out = alloc(outType, {r.batch, r.qHeads, r.len, r.valueDim});
  SmallVector<Value> stateSizes{r.batch, r.kvHeads};
  if (r.parents)
    stateSizes.push_back(r.nodes);
  stateSizes.append({r.keyDim, r.valueDim});
  Value states = alloc(stateType, stateSizes);

  int64_t rowsPerThread = llvm::divideCeil(keyDim, kWarps);
  int64_t paddedRows = rowsPerThread * kWarps;
  Type f32 = b.getF32Type();
  Value work = kb.select(
      checks.passed(), kb.muli(kb.muli(r.batch, r.kvHeads), r.valueDim),
      kb.index(0));
  Value columnBlocks =
      arith::CeilDivUIOp::create(b, loc, r.valueDim, kb.index(kColumns));
  Launch launch = createGuardedLaunch(
      b, loc, work, {columnBlocks, r.kvHeads, r.batch}, kThreads,
      {getWorkgroupBufferType({paddedRows}, f32),
       getWorkgroupBufferType({paddedRows}, f32),
       getWorkgroupBufferType({r.perKeyDecay ? paddedRows : 1}, f32),
       getWorkgroupBufferType({kWarps, kColumns}, f32)});
  Value keyRow = launch.shared[0], queryRow = launch.shared[1],
        decayRow = launch.shared[2], partials = launch.shared[3];
  Value tid = launch.threadX, h = launch.blockY, bi = launch.blockZ;
  Value lane = kb.remui(tid, kb.index(kColumns));
  Value warp = kb.divui(tid, kb.index(kColumns));
  Value col = kb.addi(kb.muli(launch.blockX, kb.index(kColumns)), lane);
  Value colValid = kb.cmpi(P::ult, col, r.valueDim);
  Value safeCol = kb.select(colValid, col, kb.index(0));
  auto rowOf = [&](int64_t m) {
    return kb.addi(warp, kb.index(m * kWarps));
  };
  auto inState = [&](Value row) {
    return kb.andi(colValid, kb.cmpi(P::ult, row, r.keyDim));
  };
  auto loadOr0 = [&](Value buffer, SmallVector<Value> at, Value valid) {
    auto branch = scf::IfOp::create(b, loc, TypeRange{f32}, valid, true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    scf::YieldOp::create(
        b, loc, io.toF32(memref::LoadOp::create(b, loc, buffer, at)));
    b.setInsertionPointToStart(&branch.getElseRegion().front());
    scf::YieldOp::create(b, loc, kb.f32(0.0));
    return branch.getResult(0);
  };
  auto storeIf = [&](Value v, Value buffer, SmallVector<Value> at,
                     Value valid) {
    auto branch = scf::IfOp::create(b, loc, valid, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    memref::StoreOp::create(b, loc, v, buffer, at);
  };
  /// Copies a row of Dk values (zero-padded) into a shared row.
  auto stageRow = [&](Value shared, function_ref<Value(Value)> valueAt) {
    auto loop = scf::ForOp::create(b, loc, tid, kb.index(paddedRows),
                                   kb.index(kThreads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    Value inside = kb.cmpi(P::ult, i, r.keyDim);
    auto branch = scf::IfOp::create(b, loc, TypeRange{f32}, inside, true);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      scf::YieldOp::create(b, loc, valueAt(i));
      b.setInsertionPointToStart(&branch.getElseRegion().front());
      scf::YieldOp::create(b, loc, kb.f32(0.0));
    }
    memref::StoreOp::create(b, loc, branch.getResult(0), shared,
                            ValueRange{i});
  };
  /// The column's sum over all state rows of S[i] * row[i]: this warp's
  /// rows, then the 4 warps' partials through shared memory (every thread
  /// gets its column's total).
  auto columnSum = [&](ArrayRef<Value> state, Value row) {
    Value partial = kb.f32(0.0);
    for (int64_t m = 0; m < rowsPerThread; ++m)
      partial = kb.addf(
          partial, kb.mulf(state[m], memref::LoadOp::create(
                                         b, loc, row, ValueRange{rowOf(m)})));
    memref::StoreOp::create(b, loc, partial, partials,
                            ValueRange{warp, lane});
    gpu::BarrierOp::create(b, loc);
    Value total = kb.f32(0.0);
    for (int64_t w = 0; w < kWarps; ++w)
      total = kb.addf(total, memref::LoadOp::create(
                                 b, loc, partials,
                                 ValueRange{kb.index(w), lane}));
    gpu::BarrierOp::create(b, loc);
    return total;
  };

  auto step = [&](Value token, SmallVector<Value> state) {
    gpu::BarrierOp::create(b, loc);
    stageRow(keyRow, [&](Value i) {
      return io.toF32(memref::LoadOp::create(b, loc, r.k,
                                             ValueRange{bi, h, token, i}));
    });
    if (r.gated && r.perKeyDecay)
      stageRow(decayRow, [&](Value i) {
        return math::ExpOp::create(b, loc,
                                   io.toF32(r.logDecay(bi, h, token, i)));
      });
    gpu::BarrierOp::create(b, loc);
    if (r.gated) {
      Value headDecay =
          r.perKeyDecay
              ? Value()
              : math::ExpOp::create(
                    b, loc, io.toF32(r.logDecay(bi, h, token, kb.index(0))))
                    .getResult();
      for (int64_t m = 0; m < rowsPerThread; ++m)
        state[m] = kb.mulf(
            state[m], r.perKeyDecay
                          ? memref::LoadOp::create(b, loc, decayRow,
                                                   ValueRange{rowOf(m)})
                                .getResult()
                          : headDecay);
    }
    Value u = loadOr0(r.v, {bi, h, token, safeCol}, colValid);
    if (r.delta) {
      Value projected = columnSum(state, keyRow);
      u = kb.mulf(io.toF32(r.betaAt(bi, h, token)), kb.subf(u, projected));
    }
    for (int64_t m = 0; m < rowsPerThread; ++m)
      state[m] = kb.addf(state[m],
                         kb.mulf(memref::LoadOp::create(b, loc, keyRow,
                                                        ValueRange{rowOf(m)}),
                                 u));
    // Each query head of the group reads the updated state.
    auto heads = scf::ForOp::create(b, loc, kb.index(0), r.group,
                                    kb.index(1));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(heads.getBody());
      Value qh = kb.addi(kb.muli(h, r.group), heads.getInductionVar());
      gpu::BarrierOp::create(b, loc);
      stageRow(queryRow, [&](Value i) {
        return io.toF32(memref::LoadOp::create(b, loc, r.q,
                                               ValueRange{bi, qh, token, i}));
      });
      gpu::BarrierOp::create(b, loc);
      Value o = kb.mulf(r.scale, columnSum(state, queryRow));
      storeIf(io.fromF32(o, outType.getElementType()), out,
              {bi, qh, token, col},
              kb.andi(colValid, kb.cmpi(P::eq, warp, kb.index(0))));
    }
    return state;
  };

  // The initial state (or zeros), rows warp + 4m of this lane's column.
  SmallVector<Value> state;
  for (int64_t m = 0; m < rowsPerThread; ++m)
    state.push_back(r.init ? loadOr0(r.init, {bi, h, rowOf(m), safeCol},
                                     inState(rowOf(m)))
                           : kb.f32(0.0));
  // The sequence, or the tree's prefix, one token at a time.
  {
    auto tokens = scf::ForOp::create(b, loc, kb.index(0), r.prefixLen,
                                     kb.index(1), state);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(tokens.getBody());
    scf::YieldOp::create(
        b, loc,
        step(tokens.getInductionVar(),
             SmallVector<Value>(tokens.getRegionIterArgs())));
    state.assign(tokens.getResults().begin(), tokens.getResults().end());
  }
  if (!r.parents) {
    for (int64_t m = 0; m < rowsPerThread; ++m)
      storeIf(state[m], states, {bi, h, rowOf(m), safeCol}, inState(rowOf(m)));
  } else {
    // Node n: its parent's state (the root: the prefix's), one step.
    auto nodesLoop = scf::ForOp::create(b, loc, kb.index(0), r.nodes,
                                        kb.index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(nodesLoop.getBody());
    Value n = nodesLoop.getInductionVar();
    Value parent = kb.loadIndex(r.parents, {n});
    Value isRoot = kb.cmpi(P::slt, parent, kb.index(0));
    Value safeParent = kb.select(isRoot, kb.index(0), parent);
    SmallVector<Value> start;
    for (int64_t m = 0; m < rowsPerThread; ++m) {
      Value fromParent = loadOr0(states, {bi, h, safeParent, rowOf(m), safeCol},
                                 kb.andi(inState(rowOf(m)),
                                         kb.cmpi(P::sge, parent, kb.index(0))));
      start.push_back(kb.select(isRoot, state[m], fromParent));
    }
    SmallVector<Value> nodeState = step(kb.addi(r.prefixLen, n), start);
    for (int64_t m = 0; m < rowsPerThread; ++m)
      storeIf(nodeState[m], states, {bi, h, n, rowOf(m), safeCol},
              inState(rowOf(m)));
  }
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getOutput().replaceAllUsesWith(io.result(out, outType));
  op.getFinalState().replaceAllUsesWith(io.result(states, stateType));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
