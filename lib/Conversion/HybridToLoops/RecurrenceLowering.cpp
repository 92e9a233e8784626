//===- RecurrenceLowering.cpp - Kernel of hybrid.linear_recurrence --------===//
//
// One algorithm covers the four update rules and both schedules. Within a
// chunk [t0, t0 + c) starting from state S0, with Γ_t the cumulative
// log-decay since t0 (per head, or per key dim i):
//
//   u_t = β_t (v_t - Σ_i k_t[i] e^{Γ_t[i]} S0[i,:]
//                  - Σ_{s<t} ⟨k_t, k_s⟩_{Γ_t-Γ_s} u_s)   (delta rules)
//   u_t = v_t                                            (otherwise)
//   o_t = scale (Σ_i q_t[i] e^{Γ_t[i]} S0[i,:] + Σ_{s<=t} ⟨q_t, k_s⟩_{Γ_t-Γ_s} u_s)
//   S   = e^{Γ_last} S0 + Σ_s (k_s e^{Γ_last-Γ_s}) u_s^T
//
// where ⟨x, y⟩_Δ = Σ_i x[i] y[i] e^{Δ[i]}. The delta rule's dependence of
// u_t on earlier u_s is a unit lower-triangular system, solved by forward
// substitution. With c = 1 this is exactly the step form (decode); with
// c = chunk_size it is the chunked form (prefill), which reads the state
// once per chunk instead of once per token.
//
// A draft tree's nodes run the step form from their parent's state, so
// every node keeps its own state and nothing is replayed.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/RecurrenceShape.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"


using namespace mlir;
using namespace mlir::hybrid;

namespace {

using P = arith::CmpIPredicate;

constexpr int64_t kDefaultChunk = 64;

/// Everything the per-(batch, KV head) kernel reads (RecurrenceShape),
/// and the CPU's chunk and step forms over it.
struct Recurrence : RecurrenceShape {
  using RecurrenceShape::RecurrenceShape;

  /// Per-thread scratch of one chunk (capacity `chunk` tokens).
  struct Scratch {
    Value gam;    // [chunk * (Dk or 1)]  cumulative log-decay
    Value u;      // [chunk * Dv]         new values u_t
    Value keys;   // [chunk * Dk]         decayed keys
    Value queries;// [chunk * Dk]         decayed queries
    Value scores; // [chunk * chunk]      intra-chunk weights
    Value out;    // [chunk * Dv]         output accumulators
    Value keysT;  // [Dk * chunk]         the chunk's keys, transposed
    Value steps;  // [chunk]              e^{g_t} = e^{Γ_t - Γ_{t-1}}
    Value outs;   // [G * Dv]             the step form's outputs
    Value capacity;
  };

  Scratch allocScratch(Value chunkSize) {
    Type f32 = kb.b.getF32Type();
    Scratch s;
    s.capacity = chunkSize;
    s.gam = kb.scratch(kb.muli(chunkSize, perKeyDecay ? keyDim : kb.index(1)),
                       f32);
    s.u = kb.scratch(kb.muli(chunkSize, valueDim), f32);
    s.keys = kb.scratch(kb.muli(chunkSize, keyDim), f32);
    s.queries = kb.scratch(kb.muli(chunkSize, keyDim), f32);
    s.scores = kb.scratch(kb.muli(chunkSize, chunkSize), f32);
    s.out = kb.scratch(kb.muli(chunkSize, valueDim), f32);
    s.keysT = kb.scratch(kb.muli(keyDim, chunkSize), f32);
    s.steps = kb.scratch(chunkSize, f32);
    s.outs = kb.scratch(kb.muli(group, valueDim), f32);
    return s;
  }

  /// One chunk of tokens [t0, t0 + c) of (b, h), advancing the state
  /// S[sIdx..., i, :] in place. `tokenOf(t)` maps chunk-local t to the token
  /// index. The three state products are register-blocked matrix products.
  void chunk(Value b, Value h, Value c, function_ref<Value(Value)> tokenOf,
             Value state, ValueRange sIdx, const Scratch &s) {
    using Matrix = KernelBuilder::Matrix;
    Value gw = perKeyDecay ? keyDim : kb.index(1);
    auto gamAt = [&](Value t, Value i) -> Value {
      if (!gated)
        return kb.f32(0.0);
      return kb.load(s.gam,
                     {kb.addi(kb.muli(t, gw), perKeyDecay ? i : kb.index(0))});
    };
    // ⟨x_t, y_s⟩ weighted by e^{Γ_t - Γ_s}.
    auto decayedDot = [&](Value x, ValueRange xIdx, Value y, ValueRange yIdx,
                          Value t, Value s2) -> Value {
      if (!perKeyDecay) {
        Value d = kb.dot(x, xIdx, y, yIdx, keyDim);
        return gated ? kb.mulf(d, kb.exp(kb.subf(gamAt(t, kb.index(0)),
                                                 gamAt(s2, kb.index(0)))))
                     : d;
      }
      return kb.loop(kb.index(0), keyDim, kb.index(1), {kb.f32(0.0)},
                     [&](Value i, ValueRange it) -> SmallVector<Value> {
                       Value w = kb.exp(kb.subf(gamAt(t, i), gamAt(s2, i)));
                       Value xi = kb.load(x, kb.at(xIdx, i));
                       Value yi = kb.load(y, kb.at(yIdx, i));
                       return {kb.addf(it[0], kb.mulf(kb.mulf(xi, yi), w))};
                     })[0];
    };
    auto kRow = [&](Value t) -> SmallVector<Value> {
      return {b, h, tokenOf(t), kb.index(0)};
    };
    auto flatRows = [&](Value buffer, Value stride) {
      return Matrix{buffer, [this, stride](Value r) -> SmallVector<Value> {
                      return {kb.muli(r, stride)};
                    }};
    };
    Matrix S{state, [&](Value i) {
               SmallVector<Value> idx(sIdx);
               idx.append({i, kb.index(0)});
               return idx;
             }};
    Matrix U = flatRows(s.u, valueDim), keys = flatRows(s.keys, keyDim),
           queries = flatRows(s.queries, keyDim),
           scores = flatRows(s.scores, s.capacity),
           out = flatRows(s.out, valueDim);
    // dst[t, i] = sign * src[t, i] * e^{exponent(t, i)}.
    auto decayedRows = [&](Value dst, Value src, function_ref<SmallVector<Value>(Value)> srcRow,
                           function_ref<Value(Value, Value)> exponent, double sign) {
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        if (perKeyDecay) {
          kb.loop(kb.index(0), keyDim, kb.index(1), [&](Value i) {
            Value x = kb.load(src, kb.at(srcRow(t), i));
            Value w = kb.exp(exponent(t, i));
            kb.store(kb.mulf(kb.mulf(x, w), kb.f32(sign)), dst,
                     {kb.addi(kb.muli(t, keyDim), i)});
          });
          return;
        }
        // One factor per token: a vectorised scaled copy.
        Value w = gated ? kb.exp(exponent(t, kb.index(0))) : kb.f32(1.0);
        kb.scaleCopy(dst, {kb.muli(t, keyDim)}, kb.mulf(w, kb.f32(sign)), src,
                     srcRow(t), keyDim);
      });
    };

    // Intra-chunk weights W[t, s] = <x_t, k_s> e^{Γ_t - Γ_s} for s < t (or
    // s <= t when `inclusive`), 0 above: with a per-head decay one product
    // x K^T then a scaling; per-key-dim decays take decayed dot products.
    Matrix keysT = flatRows(s.keysT, s.capacity);
    if (!perKeyDecay) {
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        kb.loop(kb.index(0), keyDim, kb.index(1), [&](Value i) {
          kb.store(kb.load(k, kb.at(kRow(t), i)), s.keysT,
                   {kb.addi(kb.muli(i, s.capacity), t)});
        });
      });
    }
    auto intraChunkWeights = [&](Value x, function_ref<SmallVector<Value>(Value)> xRow,
                                 bool inclusive) {
      auto keep = [&](Value s2, Value t) {
        return kb.cmpi(inclusive ? P::ule : P::ult, s2, t);
      };
      if (perKeyDecay) {
        kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
          kb.loop(kb.index(0), c, kb.index(1), [&](Value s2) {
            Value w = kb.ifThenElse(
                keep(s2, t), {kb.b.getF32Type()},
                [&]() -> SmallVector<Value> {
                  return {decayedDot(x, xRow(t), k, kRow(s2), t, s2)};
                },
                [&]() -> SmallVector<Value> { return {kb.f32(0.0)}; })[0];
            kb.store(w, s.scores, kb.at(scores.rowStart(t), s2));
          });
        });
        return;
      }
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        kb.fill(s.scores, scores.rowStart(t), kb.f32(0.0), c);
      });
      Matrix rowsOfX{x, [&](Value t) { return xRow(t); }};
      kb.matmulAccumulate(scores, rowsOfX, /*transposeA=*/false, keysT, c, c,
                          keyDim);
      // e^{Γ_t - Γ_s} = prod_{u in (s, t]} e^{g_u}: walking each row from
      // the diagonal down multiplies factors <= 1 (no overflow, no exp per
      // pair).
      if (gated)
        kb.loop(kb.index(0), c, kb.index(1), [&](Value u) {
          Value prev = kb.select(kb.cmpi(P::eq, u, kb.index(0)), u,
                                 kb.subi(u, kb.index(1)));
          kb.store(kb.exp(kb.subf(gamAt(u, kb.index(0)),
                                  gamAt(prev, kb.index(0)))),
                   s.steps, {u});
        });
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        kb.loop(kb.index(0), c, kb.index(1), {kb.f32(1.0)},
                [&](Value m, ValueRange it) -> SmallVector<Value> {
                  Value s2 = kb.subi(kb.subi(c, kb.index(1)), m);
                  Value d = kb.load(s.scores, kb.at(scores.rowStart(t), s2));
                  Value inRange = keep(s2, t);
                  kb.store(kb.select(inRange, kb.mulf(d, it[0]), kb.f32(0.0)),
                           s.scores, kb.at(scores.rowStart(t), s2));
                  if (!gated)
                    return {it[0]};
                  // The factor for s2 - 1 once s2 is on or below the row's
                  // diagonal.
                  Value onPath = kb.cmpi(P::ule, s2, t);
                  return {kb.select(onPath,
                                    kb.mulf(it[0], kb.load(s.steps, {s2})),
                                    it[0])};
                });
      });
    };

    // Γ: cumulative log-decay.
    if (gated) {
      kb.loop(kb.index(0), gw, kb.index(1), [&](Value i) {
        kb.loop(kb.index(0), c, kb.index(1), {kb.f32(0.0)},
                [&](Value t, ValueRange it) -> SmallVector<Value> {
                  Value g = kb.addf(it[0], logDecay(b, h, tokenOf(t), i));
                  kb.store(g, s.gam, {kb.addi(kb.muli(t, gw), i)});
                  return {g};
                });
      });
    }

    // u_t = v_t, then for the delta rules u -= (k e^Γ) S and the forward
    // substitution over earlier tokens of the chunk, then u *= β.
    kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
      kb.scaleCopy(s.u, U.rowStart(t), kb.f32(1.0), v, kRowV(b, h, tokenOf(t)),
                   valueDim);
    });
    if (delta) {
      decayedRows(s.keys, k, kRow, gamAt, -1.0);
      kb.matmulAccumulate(U, keys, /*transposeA=*/false, S, c, valueDim,
                          keyDim);
      intraChunkWeights(k, kRow, /*inclusive=*/false);
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        kb.loop(kb.index(0), t, kb.index(1), [&](Value s2) {
          Value l = kb.load(s.scores, kb.at(scores.rowStart(t), s2));
          kb.scaleAdd(s.u, U.rowStart(t), kb.f32(1.0),
                      kb.subf(kb.f32(0.0), l), s.u, U.rowStart(s2), valueDim);
        });
        Value betaT = betaAt(b, h, tokenOf(t));
        kb.scaleCopy(s.u, U.rowStart(t), betaT, s.u, U.rowStart(t), valueDim);
      });
    }

    // Outputs of the group's query heads: (q e^Γ) S + P U.
    kb.loop(kb.index(0), group, kb.index(1), [&](Value g) {
      Value qh = kb.addi(kb.muli(h, group), g);
      auto qRow = [&](Value t) -> SmallVector<Value> {
        return {b, qh, tokenOf(t), kb.index(0)};
      };
      decayedRows(s.queries, q, qRow, gamAt, 1.0);
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        kb.fill(s.out, out.rowStart(t), kb.f32(0.0), valueDim);
      });
      intraChunkWeights(q, qRow, /*inclusive=*/true);
      kb.matmulAccumulate(out, queries, false, S, c, valueDim, keyDim);
      kb.matmulAccumulate(out, scores, false, U, c, valueDim, c);
      kb.loop(kb.index(0), c, kb.index(1), [&](Value t) {
        output(s.out, out.rowStart(t), {b, qh, tokenOf(t), kb.index(0)});
      });
    });

    // The state at the chunk's end: e^{Γ_last} S + (k e^{Γ_last - Γ})^T U.
    Value last = kb.subi(c, kb.index(1));
    if (gated)
      kb.loop(kb.index(0), keyDim, kb.index(1), [&](Value i) {
        kb.scaleCopy(state, S.rowStart(i), kb.exp(gamAt(last, i)), state,
                     S.rowStart(i), valueDim);
      });
    decayedRows(s.keys, k, kRow,
                [&](Value t, Value i) {
                  return kb.subf(gamAt(last, i), gamAt(t, i));
                },
                1.0);
    kb.matmulAccumulate(S, keys, /*transposeA=*/true, U, keyDim, valueDim, c);
  }

  /// One token of (b, h), advancing S[sIdx..., i, :] in place: the step
  /// form as one pass over the state's rows (two with a delta rule), each
  /// row read once from L2 and reused from L1:
  ///   w   = sum_i k[i] a[i] S[i,:]          (delta rules; a = e^{g})
  ///   u   = beta (v - w), or v
  ///   S_i = a[i] S[i,:] + k[i] u;  o_g += q_g[i] S_i
  /// which is the chunk formula with c = 1 without its scratch products.
  void step(Value b, Value h, Value token, Value state, ValueRange sIdx,
            const Scratch &s) {
    Value zero = kb.f32(0.0), one = kb.f32(1.0);
    auto sRow = [&](Value i) {
      SmallVector<Value> idx(sIdx);
      idx.append({i, kb.index(0)});
      return idx;
    };
    auto decayOf = [&](Value i) -> Value {
      return gated ? kb.exp(logDecay(b, h, token, i)) : one;
    };
    Value headDecay = perKeyDecay ? Value() : decayOf(kb.index(0));
    auto decayAt = [&](Value i) { return perKeyDecay ? decayOf(i) : headDecay; };
    auto kAt = [&](Value i) { return kb.load(k, {b, h, token, i}); };
    // u in s.u[0, Dv).
    kb.scaleCopy(s.u, {kb.index(0)}, one, v, {b, h, token, kb.index(0)},
                 valueDim);
    if (delta) {
      kb.fill(s.out, {kb.index(0)}, zero, valueDim);
      kb.loop(kb.index(0), keyDim, kb.index(1), [&](Value i) {
        kb.scaleAdd(s.out, {kb.index(0)}, one, kb.mulf(kAt(i), decayAt(i)),
                    state, sRow(i), valueDim);
      });
      kb.scaleAdd(s.u, {kb.index(0)}, one, kb.f32(-1.0), s.out,
                  {kb.index(0)}, valueDim);
      kb.scaleCopy(s.u, {kb.index(0)}, betaAt(b, h, token), s.u,
                   {kb.index(0)}, valueDim);
    }
    // One pass over the rows: update a row, then let every query head of
    // the group read it while it is in registers.
    Type f32 = kb.b.getF32Type();
    auto vecType = VectorType::get({kb.vectorWidth}, f32);
    Value lanes = kb.index(kb.vectorWidth);
    Value vectorEnd = kb.subi(valueDim, kb.remui(valueDim, lanes));
    kb.fill(s.outs, {kb.index(0)}, zero, kb.muli(group, valueDim));
    auto splat = [&](Value x) {
      return vector::BroadcastOp::create(kb.b, kb.loc, vecType, x).getResult();
    };
    kb.loop(kb.index(0), keyDim, kb.index(1), [&](Value i) {
      Value a = decayAt(i), ki = kAt(i);
      auto qAt = [&](Value g) {
        return kb.load(q, {b, kb.addi(kb.muli(h, group), g), token, i});
      };
      kb.loop(kb.index(0), vectorEnd, lanes, [&](Value d) {
        SmallVector<Value> at = kb.at(sRow(i), d);
        Value sv = vector::LoadOp::create(kb.b, kb.loc, vecType, state, at);
        Value uv = vector::LoadOp::create(kb.b, kb.loc, vecType, s.u,
                                          ValueRange{d});
        sv = vector::FMAOp::create(kb.b, kb.loc, uv, splat(ki),
                                   kb.mulf(sv, splat(a)));
        vector::StoreOp::create(kb.b, kb.loc, sv, state, at);
        kb.loop(kb.index(0), group, kb.index(1), [&](Value g) {
          Value o = kb.addi(kb.muli(g, valueDim), d);
          Value ov = vector::LoadOp::create(kb.b, kb.loc, vecType, s.outs,
                                            ValueRange{o});
          ov = vector::FMAOp::create(kb.b, kb.loc, sv, splat(qAt(g)), ov);
          vector::StoreOp::create(kb.b, kb.loc, ov, s.outs, ValueRange{o});
        });
      });
      kb.loop(vectorEnd, valueDim, kb.index(1), [&](Value d) {
        SmallVector<Value> at = kb.at(sRow(i), d);
        Value sv = kb.addf(kb.mulf(kb.load(state, at), a),
                           kb.mulf(kb.load(s.u, {d}), ki));
        kb.store(sv, state, at);
        kb.loop(kb.index(0), group, kb.index(1), [&](Value g) {
          Value o = kb.addi(kb.muli(g, valueDim), d);
          kb.store(kb.addf(kb.load(s.outs, {o}), kb.mulf(sv, qAt(g))), s.outs,
                   {o});
        });
      });
    });
    kb.loop(kb.index(0), group, kb.index(1), [&](Value g) {
      output(s.outs, {kb.muli(g, valueDim)},
             {b, kb.addi(kb.muli(h, group), g), token, kb.index(0)});
    });
  }

  SmallVector<Value> kRowV(Value b, Value h, Value token) {
    return {b, h, token, kb.index(0)};
  }

  Value out;
  void output(Value acc, ValueRange accIdx, ValueRange outIdx) {
    kb.scaleCopy(out, outIdx, scale, acc, accIdx, valueDim);
  }
};

struct LinearRecurrenceLowering : KernelPattern<LinearRecurrenceOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(LinearRecurrenceOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Type f32 = rewriter.getF32Type();
    Recurrence r(kb, op);
    auto outType = cast<RankedTensorType>(op.getOutput().getType());
    auto stateType = cast<RankedTensorType>(op.getFinalState().getType());
    Value parents = r.parents, nodes = r.nodes, init = r.init;

    r.out = kb.alloc(outType, {r.batch, r.qHeads, r.len, r.valueDim});
    SmallVector<Value> stateDims = {r.batch, r.kvHeads};
    if (parents)
      stateDims.push_back(nodes);
    stateDims.append({r.keyDim, r.valueDim});
    Value finalState = kb.alloc(stateType, stateDims);

    RuntimeChecks checks(kb, "hybrid.linear_recurrence");
    r.check(checks);
    // Without a tree the final state is the working state; with one, the
    // prefix state lives apart and every node's state in the result.
    Value work = parents ? kb.alloc({OpFoldResult(r.batch),
                                     OpFoldResult(r.kvHeads),
                                     OpFoldResult(r.keyDim),
                                     OpFoldResult(r.valueDim)},
                                    f32)
                         : finalState;
    int64_t chunkAttr = op.getChunkSize().value_or(kDefaultChunk);
    // One token at a time takes the step form, whatever the chunk size
    // (a decode step: the chunk formula with c = 1 is about 2x slower).
    if (cast<ShapedType>(op.getQuery().getType()).getDimSize(2) == 1)
      chunkAttr = 1;
    Value chunkSize = kb.index(chunkAttr);
    Value prefixLen = r.prefixLen;

    kb.ifThen(checks.passed(), [&] {
      kb.parallel({r.batch, r.kvHeads}, [&](ValueRange ivs) {
        Value b = ivs[0], h = ivs[1];
        SmallVector<Value> sIdx = {b, h};
        kb.loop(kb.index(0), r.keyDim, kb.index(1), [&](Value i) {
          if (init)
            kb.scaleCopy(work, {b, h, i, kb.index(0)}, kb.f32(1.0), init,
                         {b, h, i, kb.index(0)}, r.valueDim);
          else
            kb.fill(work, {b, h, i, kb.index(0)}, kb.f32(0.0), r.valueDim);
        });
        Recurrence::Scratch scratch = r.allocScratch(chunkSize);
        // The sequence (or the tree's prefix) in chunks.
        kb.loop(kb.index(0), prefixLen, chunkSize, [&](Value t0) {
          if (chunkAttr == 1) {
            r.step(b, h, t0, work, sIdx, scratch);
            return;
          }
          Value c = kb.minui(chunkSize, kb.subi(prefixLen, t0));
          r.chunk(b, h, c, [&](Value t) { return kb.addi(t0, t); }, work,
                  sIdx, scratch);
        });
        if (!parents)
          return;
        // Node n's state starts as its parent's (the root's as the
        // prefix's), then takes one step with the node's token.
        kb.loop(kb.index(0), nodes, kb.index(1), [&](Value n) {
          Value p = kb.loadIndex(parents, {n});
          Value isRoot = kb.cmpi(P::slt, p, kb.index(0));
          kb.loop(kb.index(0), r.keyDim, kb.index(1), [&](Value i) {
            kb.ifThenElse(
                isRoot, {},
                [&]() -> SmallVector<Value> {
                  kb.scaleCopy(finalState, {b, h, n, i, kb.index(0)},
                               kb.f32(1.0), work, {b, h, i, kb.index(0)},
                               r.valueDim);
                  return {};
                },
                [&]() -> SmallVector<Value> {
                  kb.scaleCopy(finalState, {b, h, n, i, kb.index(0)},
                               kb.f32(1.0), finalState,
                               {b, h, p, i, kb.index(0)}, r.valueDim);
                  return {};
                });
          });
          r.step(b, h, kb.addi(prefixLen, n), finalState, {b, h, n}, scratch);
        });
      });
    });
    rewriter.replaceOp(op, {kb.tensor(r.out, outType),
                            kb.tensor(finalState, stateType)});
    return success();
  }
};

} // namespace

void mlir::hybrid::populateRecurrenceLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<LinearRecurrenceLowering>(patterns.getContext(), options);
}
