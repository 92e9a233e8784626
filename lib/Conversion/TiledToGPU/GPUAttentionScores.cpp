//===- GPUAttentionScores.cpp - hybrid.attention_scores: a block per row --===//
//
// The inspection output of an attention: the [B, Hq, Sq, Skv] scores at
// one stage. A thread block per (query row, head, batch); its threads
// stride over the keys, each computing its keys' logits (softcap, then for
// the later stages the mask and the causal limit) straight into the result
// row. For probabilities the row's max and sum are block reductions, and
// each thread rescales the entries it wrote. A row that sees no key gives 0.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/AttentionShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

constexpr int64_t kScoreThreads = 128;

LogicalResult lowerAttentionScores(OpBuilder &b, AttentionScoresOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  using P = arith::CmpIPredicate;
  using F = arith::CmpFPredicate;
  auto type = cast<RankedTensorType>(op.getType());
  AttentionShape s(kb, op.getQuery(), op.getKey(), Value(), op.getScale());
  RuntimeChecks checks(kb, "hybrid.attention_scores");
  s.checkDynamic(kb, checks);
  auto applyMask = s.userMask(kb, checks, op.getMask());
  Value offset = s.queryOffset(kb, checks, op.getOffset());
  SmallVector<Value> dynamic;
  SmallVector<Value> sizes{s.batch, s.qHeads, s.qLen, s.kvLen};
  for (int64_t d = 0; d < 4; ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(sizes[d]);
  Value out = memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()),
      dynamic);
  Value rows = kb.select(checks.passed(),
                         kb.muli(kb.muli(s.batch, s.qHeads), s.qLen),
                         kb.index(0));
  Launch launch = createGuardedLaunch(
      b, loc, rows, {s.qLen, s.qHeads, s.batch}, kScoreThreads,
      {getWorkgroupBufferType({32}, b.getF32Type())});
  Value i = launch.blockX, h = launch.blockY, bi = launch.blockZ;
  Value tid = launch.threadX, scratch = launch.shared[0];
  Value kvHead = kb.divui(h, s.group);
  Value pos = kb.addi(offset, i);
  Value step = kb.index(kScoreThreads);
  ScoreStage stage = op.getStage();
  std::optional<APFloat> softcap = op.getSoftcap();
  Type element = type.getElementType();
  auto at = [&](Value j) { return SmallVector<Value>{bi, h, i, j}; };

  // Logits (and bias), written in place; this thread's max on the way.
  auto logits = scf::ForOp::create(b, loc, tid, s.kvLen, step,
                                   ValueRange{kb.negInf()});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(logits.getBody());
    Value j = logits.getInductionVar();
    Value x = kb.loop(kb.index(0), s.headDim, kb.index(1), {kb.f32(0.0)},
                      [&](Value d, ValueRange it) -> SmallVector<Value> {
                        Value qv = io.toF32(memref::LoadOp::create(
                            b, loc, s.q, ValueRange{bi, h, i, d}));
                        Value kv = io.toF32(memref::LoadOp::create(
                            b, loc, s.k, ValueRange{bi, kvHead, j, d}));
                        return {kb.addf(it[0], kb.mulf(qv, kv))};
                      })[0];
    x = kb.mulf(x, s.scale);
    if (softcap) {
      Value c = kb.f32(softcap->convertToFloat());
      x = kb.mulf(c, math::TanhOp::create(b, loc, kb.divf(x, c)));
    }
    if (stage != ScoreStage::Logits) {
      if (applyMask)
        x = applyMask(x, bi, h, i, j);
      if (op.getCausal())
        x = kb.select(kb.cmpi(P::sle, j, pos), x, kb.negInf());
    }
    memref::StoreOp::create(b, loc, io.fromF32(x, element), out, at(j));
    scf::YieldOp::create(b, loc, kb.maxf(logits.getRegionIterArgs()[0], x));
  }
  if (stage == ScoreStage::Probabilities) {
    Value max = blockReduce(b, loc, logits.getResult(0), tid, scratch,
                            kScoreThreads, Combine::Max);
    Value seen = kb.cmpf(F::OGT, max, kb.negInf());
    Value m = kb.select(seen, max, kb.f32(0.0));
    Value localSum = kb.loop(
        tid, s.kvLen, step, {kb.f32(0.0)},
        [&](Value j, ValueRange it) -> SmallVector<Value> {
          Value x = io.toF32(memref::LoadOp::create(b, loc, out, at(j)));
          Value p = kb.exp(kb.subf(x, m));
          memref::StoreOp::create(b, loc, io.fromF32(p, element), out, at(j));
          return {kb.addf(it[0], p)};
        })[0];
    Value sum = blockReduce(b, loc, localSum, tid, scratch, kScoreThreads,
                            Combine::Add);
    Value inv = kb.select(kb.cmpf(F::OGT, sum, kb.f32(0.0)),
                          kb.divf(kb.f32(1.0), sum), kb.f32(0.0));
    kb.loop(tid, s.kvLen, step, [&](Value j) {
      Value p = io.toF32(memref::LoadOp::create(b, loc, out, at(j)));
      memref::StoreOp::create(b, loc, io.fromF32(kb.mulf(p, inv), element),
                              out, at(j));
    });
  }
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getResult().replaceAllUsesWith(io.result(out, type));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
