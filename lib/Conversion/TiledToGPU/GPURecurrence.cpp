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
// on the host first, as on the CPU.
//
// The prefix runs in chunks of 16 tokens (every rule: Lightning Attention,
// DeltaNet, Gated DeltaNet, GLA-style per-key decays), the state still in
// registers: with Γ_t the cumulative log-decay since the chunk's start (per
// key dim with per-key decays, where e^{Γ_t - Γ_s} weighs each dim),
//
//   u_t = β_t (v_t - e^{Γ_t} k_t S0 - Σ_{s<t} e^{Γ_t - Γ_s} <k_t, k_s> u_s)
//                         (delta rules: a forward substitution; else u = v)
//   o_t = scale (e^{Γ_t} q_t S0 + Σ_{s<=t} e^{Γ_t - Γ_s} <q_t, k_s> u_s)
//   S   = e^{Γ_last} S0 + Σ_s e^{Γ_last - Γ_s} k_s u_s^T
//
// (semantics.md's chunked form): the chunk's keys, values and queries are
// staged once, the intra-chunk weights are a block-wide product, and the
// chunk costs a handful of barriers where 16 steps cost 16 times as many.
// The remaining tokens, decode and a draft tree's nodes take the step
// form. The products are f32 on FMAs.
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
constexpr int64_t kChunk = 16;   // tokens per chunk of the chunked form

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
  SmallVector<Type> sharedTypes{
      getWorkgroupBufferType({paddedRows}, f32),
      getWorkgroupBufferType({paddedRows}, f32),
      getWorkgroupBufferType({r.perKeyDecay ? paddedRows : 1}, f32),
      getWorkgroupBufferType({kWarps, kColumns}, f32)};
  // The chunk's keys and queries (a float of padding per row), values,
  // intra-chunk weights, Γ_t, e^{Γ_t} and e^{Γ_last - Γ_t}, and each warp's
  // partial q_t S0 per token.
  sharedTypes.append(
      {getWorkgroupBufferType({kChunk, paddedRows + 1}, f32),
       getWorkgroupBufferType({kChunk, paddedRows + 1}, f32),
       getWorkgroupBufferType({kChunk, kColumns}, f32),
       getWorkgroupBufferType({kChunk, kChunk + 1}, f32),
       getWorkgroupBufferType({3, kChunk}, f32),
       getWorkgroupBufferType({kWarps, kChunk, kColumns}, f32)});
  // Per-key decays: Γ_t per key dim.
  if (r.perKeyDecay)
    sharedTypes.push_back(
        getWorkgroupBufferType({kChunk, paddedRows + 1}, f32));
  Launch launch = createGuardedLaunch(
      b, loc, work, {columnBlocks, r.kvHeads, r.batch}, kThreads,
      sharedTypes);
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

  // Tokens [t0, t0 + 16) in one chunk (the chunked form, above).
  auto chunkStep = [&](Value t0, SmallVector<Value> state) {
    Value keys = launch.shared[4], queries = launch.shared[5],
          values = launch.shared[6], weights = launch.shared[7],
          decays = launch.shared[8], tokenPartials = launch.shared[9];
    Value keyGammas = r.perKeyDecay ? launch.shared[10] : Value();
    Value zero = kb.index(0), one = kb.index(1), chunk = kb.index(kChunk);
    auto strided = [&](Value count, function_ref<void(Value)> body) {
      auto loop = scf::ForOp::create(b, loc, tid, count, kb.index(kThreads));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVar());
    };
    auto load = [&](Value buffer, ValueRange at) -> Value {
      return memref::LoadOp::create(b, loc, buffer, at);
    };
    auto store = [&](Value v, Value buffer, ValueRange at) {
      memref::StoreOp::create(b, loc, v, buffer, at);
    };
    auto fma = [&](Value x, Value y, Value acc) { return io.fma(x, y, acc); };
    // Rows of Dk values of `source` at the chunk's tokens, zero-padded.
    auto stageRows = [&](Value shared, Value source, Value head) {
      strided(kb.index(kChunk * paddedRows), [&](Value e) {
        Value t = kb.divui(e, kb.index(paddedRows));
        Value i = kb.remui(e, kb.index(paddedRows));
        store(loadOr0(source, {bi, head, kb.addi(t0, t), i},
                      kb.cmpi(P::ult, i, r.keyDim)),
              shared, {t, i});
      });
    };
    gpu::BarrierOp::create(b, loc);
    stageRows(keys, r.k, h);
    strided(kb.index(kChunk * kColumns), [&](Value e) {
      Value t = kb.divui(e, kb.index(kColumns));
      Value c = kb.remui(e, kb.index(kColumns));
      Value column = kb.addi(kb.muli(launch.blockX, kb.index(kColumns)), c);
      Value valid = kb.cmpi(P::ult, column, r.valueDim);
      store(loadOr0(r.v, {bi, h, kb.addi(t0, t),
                          kb.select(valid, column, zero)},
                    valid),
            values, {t, c});
    });
    // Γ_t, e^{Γ_t} and e^{Γ_last - Γ_t} (a per-head decay or none): the
    // first thread sums the log-decays.
    if (!r.perKeyDecay) {
      auto first = scf::IfOp::create(b, loc, kb.cmpi(P::eq, tid, zero), false);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&first.getThenRegion().front());
        SmallVector<Value> gamma;
        Value sum = kb.f32(0.0);
        for (int64_t t = 0; t < kChunk; ++t) {
          if (r.gated)
            sum = kb.addf(sum, io.toF32(r.logDecay(
                                   bi, h, kb.addi(t0, kb.index(t)), zero)));
          gamma.push_back(sum);
        }
        for (int64_t t = 0; t < kChunk; ++t) {
          store(gamma[t], decays, {zero, kb.index(t)});
          store(kb.exp(gamma[t]), decays, {one, kb.index(t)});
          store(kb.exp(kb.subf(gamma.back(), gamma[t])), decays,
                {kb.index(2), kb.index(t)});
        }
      }
    }
    // Per-key decays: Γ_t[i], a thread per key dim summing over the chunk.
    if (r.perKeyDecay)
      strided(kb.index(paddedRows), [&](Value i) {
        Value inside = kb.cmpi(P::ult, i, r.keyDim);
        Value safe = kb.select(inside, i, zero);
        Value sum = kb.f32(0.0);
        for (int64_t t = 0; t < kChunk; ++t) {
          Value g = io.toF32(r.logDecay(bi, h, kb.addi(t0, kb.index(t)), safe));
          sum = kb.addf(sum, kb.select(inside, g, kb.f32(0.0)));
          store(sum, keyGammas, {kb.index(t), i});
        }
      });
    gpu::BarrierOp::create(b, loc);
    // e^{Γ_t[i] - Γ_s[i]} of key dim i (per-key decays).
    auto keyDecay = [&](Value t, Value s2, Value i) {
      return kb.exp(
          kb.subf(load(keyGammas, {t, i}), load(keyGammas, {s2, i})));
    };

    // weights[t, s] = <x_t, k_s> weighted by e^{Γ_t - Γ_s} (per key dim
    // with per-key decays) for s < t (s <= t when `inclusive`), else 0; a
    // thread per pair.
    auto chunkWeights = [&](Value rows, bool inclusive) {
      strided(kb.index(kChunk * kChunk), [&](Value e) {
        Value t = kb.divui(e, chunk), s2 = kb.remui(e, chunk);
        Value dot = kb.loop(zero, kb.index(paddedRows), one, {kb.f32(0.0)},
                            [&](Value i, ValueRange it) -> SmallVector<Value> {
                              Value x = load(rows, {t, i});
                              if (r.perKeyDecay)
                                x = kb.mulf(x, keyDecay(t, s2, i));
                              return {fma(x, load(keys, {s2, i}), it[0])};
                            })[0];
        // From the log-decays: e^{Γ_s} alone may underflow to 0. (Above the
        // diagonal the decays may overflow; the select drops them.)
        if (!r.perKeyDecay)
          dot = kb.mulf(dot, kb.exp(kb.subf(load(decays, {zero, t}),
                                            load(decays, {zero, s2}))));
        store(kb.select(kb.cmpi(inclusive ? P::ule : P::ult, s2, t), dot,
                        kb.f32(0.0)),
              weights, {t, s2});
      });
    };
    // This warp's rows of (x_t e^{Γ_t}) S0, for every token of the chunk.
    auto stateProducts = [&](Value rows) {
      kb.loop(zero, chunk, one, [&](Value t) {
        Value partial = kb.f32(0.0);
        for (int64_t m = 0; m < rowsPerThread; ++m) {
          Value x = load(rows, {t, rowOf(m)});
          if (r.perKeyDecay)
            x = kb.mulf(x, kb.exp(load(keyGammas, {t, rowOf(m)})));
          partial = fma(x, state[m], partial);
        }
        if (!r.perKeyDecay)
          partial = kb.mulf(partial, load(decays, {one, t}));
        store(partial, tokenPartials, {warp, t, lane});
      });
    };

    if (r.delta) {
      // The delta rules' new values, in place of the chunk's values:
      //   u_t = β_t (v_t - e^{Γ_t} k_t S0 - Σ_{s<t} e^{Γ_t - Γ_s} <k_t, k_s> u_s)
      // a forward substitution over the chunk, run by the first warp (a
      // lane per column).
      chunkWeights(keys, /*inclusive=*/false);
      stateProducts(keys);
      gpu::BarrierOp::create(b, loc);
      auto firstWarp =
          scf::IfOp::create(b, loc, kb.cmpi(P::eq, warp, zero), false);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&firstWarp.getThenRegion().front());
        kb.loop(zero, chunk, one, [&](Value t) {
          Value w = load(values, {t, lane});
          for (int64_t k = 0; k < kWarps; ++k)
            w = kb.subf(w, load(tokenPartials, {kb.index(k), t, lane}));
          w = kb.loop(zero, t, one, {w},
                      [&](Value s2, ValueRange it) -> SmallVector<Value> {
                        return {kb.subf(it[0],
                                        kb.mulf(load(weights, {t, s2}),
                                                load(values, {s2, lane})))};
                      })[0];
          store(kb.mulf(io.toF32(r.betaAt(bi, h, kb.addi(t0, t))), w),
                values, {t, lane});
        });
      }
      gpu::BarrierOp::create(b, loc);
    }

    auto heads = scf::ForOp::create(b, loc, zero, r.group, one);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(heads.getBody());
      Value qh = kb.addi(kb.muli(h, r.group), heads.getInductionVar());
      gpu::BarrierOp::create(b, loc);
      stageRows(queries, r.q, qh);
      gpu::BarrierOp::create(b, loc);
      chunkWeights(queries, /*inclusive=*/true);
      stateProducts(queries);
      gpu::BarrierOp::create(b, loc);
      // Token t = warp + 4j of this lane's column: the warps' partials and
      // the chunk's own contributions.
      for (int64_t j = 0; j < kChunk / kWarps; ++j) {
        Value t = kb.addi(warp, kb.index(j * kWarps));
        Value o = kb.f32(0.0);
        for (int64_t w = 0; w < kWarps; ++w)
          o = kb.addf(o, load(tokenPartials, {kb.index(w), t, lane}));
        o = kb.loop(zero, chunk, one, {o},
                    [&](Value s2, ValueRange it) -> SmallVector<Value> {
                      return {fma(load(weights, {t, s2}),
                                     load(values, {s2, lane}), it[0])};
                    })[0];
        storeIf(io.fromF32(kb.mulf(r.scale, o), outType.getElementType()),
                out, {bi, qh, kb.addi(t0, t), col}, colValid);
      }
    }
    // S = e^{Γ_last} S0 + Σ_s e^{Γ_last - Γ_s} k_s u_s^T (u = v without a
    // delta rule; the decays per key dim, row by row, with per-key decays).
    Value last = kb.index(kChunk - 1);
    for (int64_t m = 0; m < rowsPerThread; ++m)
      state[m] = kb.mulf(state[m],
                         r.perKeyDecay
                             ? kb.exp(load(keyGammas, {last, rowOf(m)}))
                             : load(decays, {one, last}));
    SmallVector<Value> updated = kb.loop(
        zero, chunk, one, state,
        [&](Value s2, ValueRange it) -> SmallVector<Value> {
          Value u = load(values, {s2, lane});
          Value weighted =
              r.perKeyDecay ? u
                            : kb.mulf(load(decays, {kb.index(2), s2}), u);
          SmallVector<Value> next;
          for (int64_t m = 0; m < rowsPerThread; ++m) {
            Value key = load(keys, {s2, rowOf(m)});
            if (r.perKeyDecay)
              key = kb.mulf(key, keyDecay(last, s2, rowOf(m)));
            next.push_back(fma(key, weighted, it[m]));
          }
          return next;
        });
    return updated;
  };

  // The initial state (or zeros), rows warp + 4m of this lane's column.
  SmallVector<Value> state;
  for (int64_t m = 0; m < rowsPerThread; ++m)
    state.push_back(r.init ? loadOr0(r.init, {bi, h, rowOf(m), safeCol},
                                     inState(rowOf(m)))
                           : kb.f32(0.0));
  // The sequence, or the tree's prefix: whole chunks, then one token at a
  // time.
  Value chunks = kb.divui(r.prefixLen, kb.index(kChunk));
  {
    auto loop = scf::ForOp::create(b, loc, kb.index(0), chunks, kb.index(1),
                                   state);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    scf::YieldOp::create(
        b, loc,
        chunkStep(kb.muli(loop.getInductionVar(), kb.index(kChunk)),
                  SmallVector<Value>(loop.getRegionIterArgs())));
    state.assign(loop.getResults().begin(), loop.getResults().end());
  }
  Value stepsFrom = kb.muli(chunks, kb.index(kChunk));
  {
    auto tokens = scf::ForOp::create(b, loc, stepsFrom, r.prefixLen,
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
