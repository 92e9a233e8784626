//===- GPUExperts.cpp - hybrid.chunk_moe: experts per active chunk --------===//
//
// Four launches:
//
//  1. router: a block per token; its threads take the logits (a dot over
//     the model dimension each), then the router kind (BlockFFN's ReLU +
//     RMSNorm, DECO's ReLU x scale, top-k softmax: an expert is chosen
//     when fewer than k beat it) into r[t, e] (f32, device scratch);
//  2. activity: a block per chunk flags the experts some token of the
//     chunk gives a non-zero weight, and counts the active pairs (the
//     module's MoE activity counters, updated on the host);
//  3. experts: a block per (chunk, expert): an inactive pair returns at
//     once, so only the chunk's active union is read. An active one runs
//     each of its tokens: h = SiLU(U_e x_t) with a warp per row of U_e
//     (lanes along the model dimension, coalesced, then a shuffle sum),
//     h in shared memory, then y_t += r_te D_e h with a warp per row of
//     D_e, added atomically into an f32 accumulator (several experts add
//     to a token). The shared expert is one more grid layer, always
//     active, with weight 1;
//  4. the accumulator in the result's element type.
//
// Widths up to 4096 (the shared tile holds h); checked on the host.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"
#include "hybrid/Conversion/Tiling/MoEShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

constexpr int64_t kThreads = 256;
constexpr int64_t kWarpsPerBlock = kThreads / 32;
constexpr int64_t kMaxWidth = 4096;

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;

/// A strided loop `for (i = from; i < to; i += step)` with `body(i)`.
void strided(OpBuilder &b, Location loc, Value from, Value to, Value step,
             function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, loc, from, to, step);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

} // namespace

LogicalResult lowerChunkMoE(OpBuilder &b, ChunkMoEOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  MoEShape s(kb, op);
  Type f32 = b.getF32Type();
  auto type = cast<RankedTensorType>(op.getType());
  Value sharedWidth = s.sharedUp ? kb.dim(s.sharedUp, 0) : kb.index(0);
  RuntimeChecks checks(kb, "hybrid.chunk_moe");
  checks.check(kb.ori(kb.cmpi(P::ugt, s.width, kb.index(kMaxWidth)),
                      kb.cmpi(P::ugt, sharedWidth, kb.index(kMaxWidth))),
               "the GPU kernel takes expert widths up to 4096");
  Value ok = kb.andi(s.passed, checks.passed());
  Value tokens = kb.select(ok, s.tokens, kb.index(0));
  Value chunk = kb.index(op.getChunk());
  Value chunks = kb.ceilDiv(tokens, chunk);
  Value experts = s.experts, model = s.model;
  Value one = kb.index(1), zero = kb.index(0);
  Value threads = kb.index(kThreads);

  auto allocF32 = [&](ArrayRef<Value> sizes) -> Value {
    return memref::AllocOp::create(
        b, loc,
        MemRefType::get(SmallVector<int64_t>(sizes.size(), ShapedType::kDynamic),
                        f32),
        sizes);
  };
  Value logits = allocF32({tokens, experts});
  Value weights = allocF32({tokens, experts});
  Value acc = allocF32({tokens, model});
  Value active = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                              b.getI32Type()),
      ValueRange{chunks, experts});
  Value activeCount =
      memref::AllocOp::create(b, loc, MemRefType::get({1}, b.getI64Type()));
  auto load = [&](Value m, ArrayRef<Value> at) -> Value {
    return io.toF32(memref::LoadOp::create(b, loc, m, at));
  };
  // Each launch leaves the builder inside its body; the next step goes
  // after the launch (its guard).
  Operation *previous = nullptr;

  // 1. Router weights, and the accumulator zeroed: the logits first, then
  // each thread turns its experts' logits into weights, reading the
  // others' logits (never overwritten) for sums and ranks.
  {
    Launch l = createGuardedLaunch(b, loc, tokens, {tokens, one, one},
                                   kThreads);
    previous = l.op->getParentOp();
    Value t = l.blockX, tid = l.threadX;
    strided(b, loc, tid, experts, threads, [&](Value e) {
      Value dot = kb.loop(zero, model, one, {kb.f32(0.0)},
                          [&](Value d, ValueRange it) -> SmallVector<Value> {
                            return {kb.addf(it[0], kb.mulf(load(s.x, {t, d}),
                                                           load(s.router,
                                                                {e, d})))};
                          })[0];
      memref::StoreOp::create(b, loc, dot, logits, ValueRange{t, e});
    });
    strided(b, loc, tid, model, threads, [&](Value d) {
      memref::StoreOp::create(b, loc, kb.f32(0.0), acc, ValueRange{t, d});
    });
    auto firstOfAll = scf::IfOp::create(
        b, loc, kb.andi(kb.cmpi(P::eq, t, zero), kb.cmpi(P::eq, tid, zero)),
        false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&firstOfAll.getThenRegion().front());
      memref::StoreOp::create(
          b, loc, arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)),
          activeCount, ValueRange{zero});
    }
    gpu::BarrierOp::create(b, loc);
    auto logit = [&](Value e) -> Value {
      return memref::LoadOp::create(b, loc, logits, ValueRange{t, e});
    };
    auto relu = [&](Value v) { return kb.maxf(v, kb.f32(0.0)); };
    /// Sum over the experts of f(e).
    auto sumOver = [&](function_ref<Value(Value)> f) {
      return kb.loop(zero, experts, one, {kb.f32(0.0)},
                     [&](Value e, ValueRange it) -> SmallVector<Value> {
                       return {kb.addf(it[0], f(e))};
                     })[0];
    };
    switch (op.getRouter()) {
    case RouterKind::BlockFFN: {
      Value sumSq = sumOver([&](Value e) {
        Value a = relu(logit(e));
        return kb.mulf(a, a);
      });
      Value rstd = math::RsqrtOp::create(
          b, loc,
          kb.addf(kb.divf(sumSq, kb.toF32(experts)),
                  kb.f32(op.getEpsilon().convertToFloat())));
      strided(b, loc, tid, experts, threads, [&](Value e) {
        memref::StoreOp::create(
            b, loc, kb.mulf(kb.mulf(relu(logit(e)), rstd), load(s.norm, {e})),
            weights, ValueRange{t, e});
      });
      break;
    }
    case RouterKind::Deco:
      strided(b, loc, tid, experts, threads, [&](Value e) {
        memref::StoreOp::create(
            b, loc, kb.mulf(relu(logit(e)), load(s.routeScale, {e})), weights,
            ValueRange{t, e});
      });
      break;
    case RouterKind::TopKSoftmax: {
      // Expert e is among the top k when fewer than k experts beat it (a
      // larger logit, or an equal one with a lower index); softmax over
      // those, zero elsewhere. The largest logit is always chosen.
      Value k = kb.index(*op.getTopK());
      auto chosen = [&](Value e) {
        Value le = logit(e);
        Value beaten = kb.loop(
            zero, experts, one, {zero},
            [&](Value o, ValueRange it) -> SmallVector<Value> {
              Value lo = logit(o);
              Value beats = kb.ori(kb.cmpf(F::OGT, lo, le),
                                   kb.andi(kb.cmpf(F::OEQ, lo, le),
                                           kb.cmpi(P::ult, o, e)));
              return {kb.addi(it[0], kb.select(beats, one, zero))};
            })[0];
        return kb.cmpi(P::ult, beaten, k);
      };
      Value maxLogit = kb.loop(zero, experts, one, {kb.negInf()},
                               [&](Value e, ValueRange it) -> SmallVector<Value> {
                                 return {kb.maxf(it[0], logit(e))};
                               })[0];
      auto prob = [&](Value e) {
        return kb.select(chosen(e), kb.exp(kb.subf(logit(e), maxLogit)),
                         kb.f32(0.0));
      };
      Value sum = sumOver(prob);
      strided(b, loc, tid, experts, threads, [&](Value e) {
        memref::StoreOp::create(b, loc, kb.divf(prob(e), sum), weights,
                                ValueRange{t, e});
      });
      break;
    }
    }
  }

  // 2. Which experts each chunk activates, and how many pairs.
  b.setInsertionPointAfter(previous);
  {
    Launch l = createGuardedLaunch(b, loc, chunks, {chunks, one, one},
                                   kThreads);
    previous = l.op->getParentOp();
    Value c = l.blockX;
    Value t0 = kb.muli(c, chunk);
    Value t1 = kb.minui(kb.addi(t0, chunk), tokens);
    strided(b, loc, l.threadX, experts, threads, [&](Value e) {
      Value any = kb.loop(t0, t1, one, {kb.boolean(false)},
                          [&](Value t, ValueRange it) -> SmallVector<Value> {
                            Value r = memref::LoadOp::create(
                                b, loc, weights, ValueRange{t, e});
                            return {kb.ori(it[0], kb.cmpf(F::UNE, r,
                                                          kb.f32(0.0)))};
                          })[0];
      memref::StoreOp::create(
          b, loc, arith::ExtUIOp::create(b, loc, b.getI32Type(), any),
          active, ValueRange{c, e});
      memref::AtomicRMWOp::create(
          b, loc, arith::AtomicRMWKind::addi,
          arith::ExtUIOp::create(b, loc, b.getI64Type(), any), activeCount,
          ValueRange{zero});
    });
  }

  // 3. The experts over their active chunks (the shared expert last).
  b.setInsertionPointAfter(previous);
  Value layers = kb.addi(experts, kb.index(s.sharedUp ? 1 : 0));
  {
    Launch l = createGuardedLaunch(
        b, loc, kb.muli(chunks, layers), {chunks, layers, one}, kThreads,
        {getWorkgroupBufferType({kMaxWidth}, f32)});
    previous = l.op->getParentOp();
    Value c = l.blockX, e = l.blockY, tid = l.threadX;
    Value hidden = l.shared[0];
    Value isShared = kb.cmpi(P::eq, e, experts);
    Value safeE = kb.select(isShared, zero, e);
    Value runs = s.sharedUp
                     ? kb.ori(isShared,
                              kb.cmpi(P::ne,
                                      memref::LoadOp::create(b, loc, active,
                                                             ValueRange{c, safeE}),
                                      arith::ConstantOp::create(
                                          b, loc, b.getI32IntegerAttr(0))))
                     : kb.cmpi(P::ne,
                               memref::LoadOp::create(b, loc, active,
                                                      ValueRange{c, safeE}),
                               arith::ConstantOp::create(
                                   b, loc, b.getI32IntegerAttr(0)));
    auto ifRuns = scf::IfOp::create(b, loc, runs, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifRuns.getThenRegion().front());
    Value width = s.sharedUp ? kb.select(isShared, sharedWidth, s.width)
                             : s.width;
    Value warp = kb.divui(tid, kb.index(32)), lane = kb.remui(tid, kb.index(32));
    Value t0 = kb.muli(c, chunk);
    Value t1 = kb.minui(kb.addi(t0, chunk), tokens);
    // Row j of U (the expert's, or the shared one's) and row d of D.
    auto upAt = [&](Value j, Value d) -> Value {
      if (!s.sharedUp)
        return load(s.up, {e, j, d});
      auto branch = scf::IfOp::create(b, loc, TypeRange{f32}, isShared, true);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      scf::YieldOp::create(b, loc, load(s.sharedUp, {j, d}));
      b.setInsertionPointToStart(&branch.getElseRegion().front());
      scf::YieldOp::create(b, loc, load(s.up, {safeE, j, d}));
      return branch.getResult(0);
    };
    auto downAt = [&](Value d, Value j) -> Value {
      if (!s.sharedUp)
        return load(s.down, {e, d, j});
      auto branch = scf::IfOp::create(b, loc, TypeRange{f32}, isShared, true);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      scf::YieldOp::create(b, loc, load(s.sharedDown, {d, j}));
      b.setInsertionPointToStart(&branch.getElseRegion().front());
      scf::YieldOp::create(b, loc, load(s.down, {safeE, d, j}));
      return branch.getResult(0);
    };
    /// A warp's dot over `n` values of row `row`, lanes striding.
    auto warpDot = [&](Value n, function_ref<Value(Value)> product) {
      auto loop = scf::ForOp::create(b, loc, lane, n, kb.index(32),
                                     ValueRange{kb.f32(0.0)});
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loop.getBody());
        scf::YieldOp::create(
            b, loc,
            kb.addf(loop.getRegionIterArgs()[0],
                    product(loop.getInductionVar())));
      }
      return warpReduce(b, loc, loop.getResult(0), Combine::Add);
    };
    strided(b, loc, t0, t1, one, [&](Value t) {
      Value gate = s.sharedUp
                       ? kb.select(isShared, kb.f32(1.0),
                                   memref::LoadOp::create(b, loc, weights,
                                                          ValueRange{t, safeE}))
                       : memref::LoadOp::create(b, loc, weights,
                                                ValueRange{t, e})
                             .getResult();
      // A token that does not route to the expert adds nothing.
      auto ifGate = scf::IfOp::create(
          b, loc, kb.cmpf(F::UNE, gate, kb.f32(0.0)), false);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&ifGate.getThenRegion().front());
      gpu::BarrierOp::create(b, loc);
      strided(b, loc, warp, width, kb.index(kWarpsPerBlock), [&](Value j) {
        Value g = warpDot(model, [&](Value d) {
          return kb.mulf(upAt(j, d), load(s.x, {t, d}));
        });
        // SiLU(g) = g / (1 + exp(-g)).
        Value silu = kb.divf(
            g, kb.addf(kb.f32(1.0),
                       math::ExpOp::create(b, loc, kb.subf(kb.f32(0.0), g))));
        auto laneZero =
            scf::IfOp::create(b, loc, kb.cmpi(P::eq, lane, zero), false);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&laneZero.getThenRegion().front());
        memref::StoreOp::create(b, loc, silu, hidden, ValueRange{j});
      });
      gpu::BarrierOp::create(b, loc);
      strided(b, loc, warp, model, kb.index(kWarpsPerBlock), [&](Value d) {
        Value y = warpDot(width, [&](Value j) {
          return kb.mulf(downAt(d, j), memref::LoadOp::create(
                                           b, loc, hidden, ValueRange{j}));
        });
        auto laneZero =
            scf::IfOp::create(b, loc, kb.cmpi(P::eq, lane, zero), false);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(&laneZero.getThenRegion().front());
        memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf,
                                    kb.mulf(gate, y), acc, ValueRange{t, d});
      });
    });
  }

  // 4. The result in its element type.
  b.setInsertionPointAfter(previous);
  Value out = io.allocLike(op.getInput());
  {
    Value elements = kb.muli(tokens, model);
    Launch l = createGuardedLaunch(
        b, loc, elements,
        {arith::CeilDivUIOp::create(b, loc, elements, threads), one, one},
        kThreads);
    previous = l.op->getParentOp();
    Value i = kb.addi(kb.muli(l.blockX, threads), l.threadX);
    auto inRange = scf::IfOp::create(b, loc, kb.cmpi(P::ult, i, elements),
                                     false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&inRange.getThenRegion().front());
    Value t = kb.divui(i, model), d = kb.remui(i, model);
    memref::StoreOp::create(
        b, loc,
        io.fromF32(memref::LoadOp::create(b, loc, acc, ValueRange{t, d}),
                   type.getElementType()),
        out, ValueRange{t, d});
  }
  // The module's activity counters (active pairs, chunks, all pairs), on
  // the host: the count is read back from the device.
  b.setInsertionPointAfter(previous);
  Value counters = kb.moduleGlobal(kMoEActivitySymbol,
                                   MemRefType::get({3}, b.getI64Type()));
  // (Without tokens no kernel ran: the count was never written.)
  Value activePairs = kb.select(
      kb.cmpi(P::ugt, chunks, zero),
      memref::LoadOp::create(b, loc, activeCount, ValueRange{zero}),
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
  SmallVector<Value> counts{
      activePairs,
      arith::IndexCastOp::create(b, loc, b.getI64Type(), chunks),
      arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                 kb.muli(chunks, experts))};
  for (auto [slot, count] : llvm::enumerate(counts))
    memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi, count,
                                counters, ValueRange{kb.index(slot)});
  op.getResult().replaceAllUsesWith(io.result(out, type));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
