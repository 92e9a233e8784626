//===- MoELowering.cpp - Kernel of hybrid.chunk_moe -----------------------===//
//
// 1. Router weights r[t, e] for every token (BlockFFN: RMSNorm of ReLU;
//    DECO: ReLU times a per-expert scale; top-k softmax).
// 2. Chunk-level activation: expert e is active for a chunk of tokens when
//    some token of the chunk gives it a non-zero weight. Each expert then
//    runs once over all the tokens of its active chunks (TiledExperts.h),
//    so its weights are read once per call however many chunks use it;
//    inactive (expert, chunk) pairs cost nothing. The result is exactly the
//    token-level formula. The active pairs are added to the module's
//    activity counters (kMoEActivitySymbol).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/MoEShape.h"
#include "hybrid/Conversion/Tiling/TiledExperts.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;

struct ChunkMoELowering : KernelPattern<ChunkMoEOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(ChunkMoEOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Type f32 = rewriter.getF32Type();
    auto type = cast<RankedTensorType>(op.getType());
    MoEShape shape(kb, op);
    Value x = shape.x, router = shape.router, up = shape.up,
          down = shape.down, norm = shape.norm, routeScale = shape.routeScale,
          sharedUp = shape.sharedUp, sharedDown = shape.sharedDown;
    Value tokens = shape.tokens, model = shape.model,
          experts = shape.experts, width = shape.width;

    Value out = kb.alloc(type, {tokens, model});
    Value weights = kb.alloc({OpFoldResult(tokens), OpFoldResult(experts)}, f32);
    Value chunk = kb.index(op.getChunk());

    kb.ifThen(shape.passed, [&] {
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

      // Experts, one after the other, each over every token whose chunk
      // activates it: its weights are read once per call, not once per
      // chunk, and its products run on the tile kernels.
      Value maxWidth = width;
      if (sharedUp)
        maxWidth = kb.select(kb.cmpi(P::ugt, kb.dim(sharedUp, 0), width),
                             kb.dim(sharedUp, 0), width);
      ExpertProducts products(kb, chooseInPlaceTiling(options.vectorWidth), x,
                              tokens, model, maxWidth);
      Value chunks = kb.ceilDiv(tokens, chunk);
      // Active (expert, chunk) pairs, counted in scratch: a loop-carried
      // value would build the loop body before the loop is in the module,
      // where the tile kernels' declarations cannot be found.
      Value activePairs = kb.scratch(kb.index(1), rewriter.getIndexType());
      memref::StoreOp::create(rewriter, kb.loc, kb.index(0), activePairs,
                              ValueRange{kb.index(0)});
      kb.loop(kb.index(0), experts, kb.index(1), [&](Value e) {
        // The expert's runs: the chunks that route to it.
        SmallVector<Value> counts = kb.loop(
            kb.index(0), chunks, kb.index(1), {kb.index(0), kb.index(0)},
            [&](Value c, ValueRange it) -> SmallVector<Value> {
              Value t0 = kb.muli(c, chunk);
              Value t1 = kb.minui(kb.addi(t0, chunk), tokens);
              Value active = kb.loop(
                  t0, t1, kb.index(1), {kb.boolean(false)},
                  [&](Value t, ValueRange a) -> SmallVector<Value> {
                    return {kb.ori(a[0], kb.cmpf(F::UNE, kb.load(weights, {t, e}),
                                                 kb.f32(0.0)))};
                  })[0];
              return kb.ifThenElse(
                  active, {kb.b.getIndexType(), kb.b.getIndexType()},
                  [&]() -> SmallVector<Value> {
                    products.addRun(it[1], it[0], t0, kb.subi(t1, t0));
                    kb.loop(t0, t1, kb.index(1), [&](Value t) {
                      products.setGate(kb.addi(it[0], kb.subi(t, t0)),
                                       kb.load(weights, {t, e}));
                    });
                    return {kb.addi(it[0], kb.subi(t1, t0)),
                            kb.addi(it[1], kb.index(1))};
                  },
                  [&]() -> SmallVector<Value> { return {it[0], it[1]}; });
            });
        kb.ifThen(kb.cmpi(P::ugt, counts[0], kb.index(0)), [&] {
          products.ffn(up, e, down, width, counts[0], counts[1]);
        });
        Value pairs = memref::LoadOp::create(rewriter, kb.loc, activePairs,
                                             ValueRange{kb.index(0)});
        memref::StoreOp::create(rewriter, kb.loc, kb.addi(pairs, counts[1]),
                                activePairs, ValueRange{kb.index(0)});
      });
      // Activity for the caller's statistics (hybrid-generate's active
      // experts per chunk); atomic, as calls may run concurrently.
      Value counters = kb.moduleGlobal(
          kMoEActivitySymbol, MemRefType::get({3}, rewriter.getI64Type()));
      Value active = memref::LoadOp::create(rewriter, kb.loc, activePairs,
                                            ValueRange{kb.index(0)});
      for (auto [slot, count] : llvm::enumerate(
               SmallVector<Value>{active, chunks, kb.muli(chunks, experts)}))
        memref::AtomicRMWOp::create(
            rewriter, kb.loc, arith::AtomicRMWKind::addi,
            arith::IndexCastOp::create(rewriter, kb.loc,
                                       rewriter.getI64Type(), count),
            counters, ValueRange{kb.index(slot)});
      if (sharedUp) {
        products.addRun(kb.index(0), kb.index(0), kb.index(0), tokens);
        kb.loop(kb.index(0), tokens, kb.index(1), [&](Value t) {
          products.setGate(t, kb.f32(1.0));
        });
        products.ffn(sharedUp, Value(), sharedDown, kb.dim(sharedUp, 0),
                     tokens, kb.index(1));
      }
      products.writeOutput(out);
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
