//===- MoELowering.cpp - Kernel of hybrid.chunk_moe -----------------------===//
//
// 1. Router weights r[t, e] for every token (BlockFFN: RMSNorm of ReLU;
//    DECO: ReLU times a per-expert scale; top-k softmax).
// 2. Per chunk of tokens (in parallel): the active set is the experts with
//    a non-zero weight for some token of the chunk. Each active expert's
//    weights are read once for the whole chunk (row by row, each row used
//    for every token of the chunk that routes to it); inactive experts are
//    never read. The result is exactly the token-level formula.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;

/// SiLU(x) = x / (1 + e^-x).
Value silu(KernelBuilder &kb, Value x) {
  return kb.divf(x, kb.addf(kb.f32(1.0), kb.exp(kb.subf(kb.f32(0.0), x))));
}

struct ChunkMoELowering : KernelPattern<ChunkMoEOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(ChunkMoEOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Type f32 = rewriter.getF32Type();
    auto type = cast<RankedTensorType>(op.getType());
    Value x = kb.buffer(op.getInput());
    Value router = kb.buffer(op.getRouterWeight());
    Value up = kb.buffer(op.getExpertUp()), down = kb.buffer(op.getExpertDown());
    Value norm = op.getRouterNorm() ? kb.buffer(op.getRouterNorm()) : Value();
    Value routeScale =
        op.getRouterScale() ? kb.buffer(op.getRouterScale()) : Value();
    Value sharedUp = op.getSharedUp() ? kb.buffer(op.getSharedUp()) : Value();
    Value sharedDown =
        op.getSharedDown() ? kb.buffer(op.getSharedDown()) : Value();

    Value tokens = kb.dim(x, 0), model = kb.dim(x, 1);
    Value experts = kb.dim(router, 0), width = kb.dim(up, 1);
    RuntimeChecks checks(kb, "hybrid.chunk_moe");
    auto check = [&](Value cond, StringRef what) { checks.check(cond, what); };
    check(kb.ori(kb.cmpi(P::ne, kb.dim(router, 1), model),
                 kb.ori(kb.cmpi(P::ne, kb.dim(up, 2), model),
                        kb.cmpi(P::ne, kb.dim(down, 1), model))),
          "the model dimension of the weights does not match the input");
    check(kb.ori(kb.ori(kb.cmpi(P::ne, kb.dim(up, 0), experts),
                        kb.cmpi(P::ne, kb.dim(down, 0), experts)),
                 kb.cmpi(P::ne, kb.dim(down, 2), width)),
          "expert counts or widths disagree");
    if (std::optional<int64_t> topK = op.getTopK())
      check(kb.cmpi(P::ugt, kb.index(*topK), experts),
            "top_k exceeds the number of experts");

    Value out = kb.alloc(type, {tokens, model});
    Value weights = kb.alloc({OpFoldResult(tokens), OpFoldResult(experts)}, f32);
    Value hidden = kb.alloc({OpFoldResult(tokens), OpFoldResult(width)}, f32);
    Value acc = kb.alloc({OpFoldResult(tokens), OpFoldResult(model)}, f32);
    Value chunk = kb.index(op.getChunk());
    Value numChunks = kb.ceilDiv(tokens, chunk);

    kb.ifThen(checks.passed(), [&] {
      // Router weights.
      kb.parallel({tokens}, [&](ValueRange ivs) {
        Value t = ivs[0];
        kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
          Value logit = kb.dot(x, {t, kb.index(0)}, router, {e, kb.index(0)},
                               model);
          kb.store(logit, weights, {t, e});
        });
        switch (op.getRouter()) {
        case RouterKind::BlockFFN: {
          Value sumSq = kb.loop(
              kb.index(0), experts, kb.index(1), {kb.f32(0.0)},
              [&](Value e, ValueRange it) -> SmallVector<Value> {
                Value a = kb.maxf(kb.load(weights, {t, e}), kb.f32(0.0));
                kb.store(a, weights, {t, e});
                return {kb.addf(it[0], kb.mulf(a, a))};
              })[0];
          Value rstd = math::RsqrtOp::create(
              rewriter, kb.loc,
              kb.addf(kb.divf(sumSq, kb.toF32(experts)),
                      kb.f32(op.getEpsilon().convertToFloat())));
          kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
            kb.store(kb.mulf(kb.mulf(kb.load(weights, {t, e}), rstd),
                             kb.load(norm, {e})),
                     weights, {t, e});
          });
          break;
        }
        case RouterKind::Deco:
          kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
            Value a = kb.maxf(kb.load(weights, {t, e}), kb.f32(0.0));
            kb.store(kb.mulf(a, kb.load(routeScale, {e})), weights, {t, e});
          });
          break;
        case RouterKind::TopKSoftmax: {
          // Keep the top_k largest logits (ties: lower expert), softmax
          // over them, zero elsewhere: mark the chosen ones with +inf-free
          // passes of "largest not yet chosen".
          Value chosen = kb.flags(experts);
          Value maxLogit;
          kb.loop(kb.index(0), kb.index(*op.getTopK()), kb.index(1),
                  [&](Value) {
                    auto best = kb.loop(
                        kb.index(0), experts, kb.index(1),
                        {kb.negInf(), kb.index(-1)},
                        [&](Value e, ValueRange it) -> SmallVector<Value> {
                          Value free = kb.notI(kb.isFlagSet(chosen, e));
                          Value l = kb.load(weights, {t, e});
                          Value better = kb.andi(
                              free, kb.ori(kb.cmpf(F::OGT, l, it[0]),
                                           kb.cmpi(P::slt, it[1],
                                                   kb.index(0))));
                          return {kb.select(better, l, it[0]),
                                  kb.select(better, e, it[1])};
                        });
                    kb.setFlag(chosen, best[1]);
                  });
          maxLogit = kb.loop(
              kb.index(0), experts, kb.index(1), {kb.negInf()},
              [&](Value e, ValueRange it) -> SmallVector<Value> {
                return {kb.maxf(it[0], kb.load(weights, {t, e}))};
              })[0];
          Value sum = kb.loop(
              kb.index(0), experts, kb.index(1), {kb.f32(0.0)},
              [&](Value e, ValueRange it) -> SmallVector<Value> {
                Value isChosen = kb.isFlagSet(chosen, e);
                Value p = kb.select(
                    isChosen,
                    kb.exp(kb.subf(kb.load(weights, {t, e}), maxLogit)),
                    kb.f32(0.0));
                kb.store(p, weights, {t, e});
                return {kb.addf(it[0], p)};
              })[0];
          kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
            kb.store(kb.divf(kb.load(weights, {t, e}), sum), weights, {t, e});
          });
          break;
        }
        }
      });

      // Experts, chunk by chunk.
      kb.parallel({numChunks}, [&](ValueRange ivs) {
        Value t0 = kb.muli(ivs[0], chunk);
        Value t1 = kb.minui(kb.addi(t0, chunk), tokens);
        kb.loop(t0, t1, kb.index(1), [&](Value t) {
          kb.fill(acc, {t, kb.index(0)}, kb.f32(0.0), model);
        });
        // One FFN (up rows, SiLU, down rows) over the chunk's tokens with
        // weight `gate(t)` (0 = token skipped).
        auto ffn = [&](Value upW, SmallVector<Value> upPrefix, Value downW,
                       SmallVector<Value> downPrefix, Value ffnWidth,
                       function_ref<Value(Value)> gate) {
          auto upRow = [&](Value j) {
            SmallVector<Value> idx(upPrefix);
            idx.append({j, kb.index(0)});
            return idx;
          };
          auto downRow = [&](Value m) {
            SmallVector<Value> idx(downPrefix);
            idx.append({m, kb.index(0)});
            return idx;
          };
          kb.loop(kb.index(0), ffnWidth, kb.index(1), [&](Value j) {
            kb.loop(t0, t1, kb.index(1), [&](Value t) {
              kb.ifThen(kb.cmpf(F::UNE, gate(t), kb.f32(0.0)), [&] {
                Value hval = kb.dot(upW, upRow(j), x, {t, kb.index(0)}, model);
                kb.store(silu(kb, hval), hidden, {t, j});
              });
            });
          });
          kb.loop(kb.index(0), model, kb.index(1), [&](Value m) {
            kb.loop(t0, t1, kb.index(1), [&](Value t) {
              Value g = gate(t);
              kb.ifThen(kb.cmpf(F::UNE, g, kb.f32(0.0)), [&] {
                Value y = kb.dot(downW, downRow(m), hidden, {t, kb.index(0)},
                                 ffnWidth);
                kb.store(kb.addf(kb.load(acc, {t, m}), kb.mulf(g, y)), acc,
                         {t, m});
              });
            });
          });
        };
        kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
          Value active = kb.loop(
              t0, t1, kb.index(1), {kb.boolean(false)},
              [&](Value t, ValueRange it) -> SmallVector<Value> {
                return {kb.ori(it[0], kb.cmpf(F::UNE, kb.load(weights, {t, e}),
                                              kb.f32(0.0)))};
              })[0];
          kb.ifThen(active, [&] {
            ffn(up, {e}, down, {e}, width,
                [&](Value t) { return kb.load(weights, {t, e}); });
          });
        });
        if (sharedUp)
          ffn(sharedUp, {}, sharedDown, {}, kb.dim(sharedUp, 0),
              [&](Value) { return kb.f32(1.0); });
        kb.loop(t0, t1, kb.index(1), [&](Value t) {
          kb.scaleCopy(out, {t, kb.index(0)}, kb.f32(1.0), acc,
                       {t, kb.index(0)}, model);
        });
      });
    });
    rewriter.replaceOp(op, kb.tensor(out, type));
    return success();
  }
};

} // namespace

void mlir::hybrid::populateMoELoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<ChunkMoELowering>(patterns.getContext(), options);
}
