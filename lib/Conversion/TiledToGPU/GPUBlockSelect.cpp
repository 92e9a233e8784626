//===- GPUBlockSelect.cpp - hybrid.block_select: a block per query --------===//
//
// InfLLM-V2's block selection, a thread block per (query row, KV head,
// batch):
//
//  1. the compressed keys (unless given): a thread per value, beforehand;
//  2. kernel scores: for each query head of the group, the scaled logits
//     against the row's visible kernels (threads stride over the kernels),
//     the softmax's max and sum as block reductions, the probabilities
//     summed over the heads in shared memory;
//  3. block scores: the max-pool of the kernel scores (+inf for the forced
//     initial blocks; the local window and future blocks excluded);
//  4. the top k: a candidate block is kept when fewer than k candidates
//     beat it (a higher score, or an equal one at a lower id), and written
//     at its place among the kept ids in ascending order, -1 after them.
//
// Shared memory holds up to 8192 kernel scores and 2048 block scores (128K
// keys with InfLLM-V2's defaults), checked on the host with the CPU
// kernel's checks. Steps 3-4 are quadratic in the blocks (fine to a few
// hundred; a block-wide sort is next). A draft tree's nodes select at the
// first tree key and then share one selection (the union of theirs, in a
// second launch, or the root's).
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/AttentionShape.h"
#include "hybrid/Conversion/Tiling/CompressedKeys.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

constexpr int64_t kThreads = 256;
constexpr int64_t kMaxKernels = 8192;
constexpr int64_t kMaxBlocks = 2048;

using P = arith::CmpIPredicate;
using F = arith::CmpFPredicate;

} // namespace

LogicalResult lowerBlockSelect(OpBuilder &b, BlockSelectOp op) {
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  KernelIO io(b, loc);
  auto type = cast<RankedTensorType>(op.getType());
  SparseConfigAttr config = op.getConfig();
  Type f32 = b.getF32Type();

  AttentionShape s(kb, op.getQuery(), op.getKey(), /*value=*/Value(),
                   op.getScale(), op.getKeyLength());
  RuntimeChecks checks(kb, "hybrid.block_select");
  s.checkDynamic(kb, checks);
  Value numKernels = kernelsIn(kb, config, s.kvLen);
  Value blockSize = kb.index(config.getBlockSize());
  Value numBlocks = kb.ceilDiv(s.kvLen, blockSize);
  Value given = op.getCompressed() ? kb.buffer(op.getCompressed()) : Value();
  if (given)
    checkCompressedKeys(kb, checks,
                        {kb.dim(given, 0), kb.dim(given, 1), kb.dim(given, 2),
                         kb.dim(given, 3)},
                        s.batch, s.kvHeads, s.headDim, numKernels);
  checks.check(kb.ori(kb.cmpi(P::ugt, numKernels, kb.index(kMaxKernels)),
                      kb.cmpi(P::ugt, numBlocks, kb.index(kMaxBlocks))),
               "the GPU kernel takes up to 8192 kernels and 2048 blocks");
  DraftTreeRows tree(kb, checks, s, op.getParents());
  Value offset = s.queryOffset(kb, checks, op.getOffset());
  int64_t topk = config.getTopk();
  Value slots = type.isDynamicDim(3) ? kb.muli(kb.index(topk), tree.nodes)
                                     : kb.index(type.getDimSize(3));
  SmallVector<Value> outSizes{s.batch, s.kvHeads, s.qLen, slots};
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < 4; ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(outSizes[d]);
  Value out = memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()),
      dynamic);
  Value ok = checks.passed();
  // With a tree, each row's own selection goes to scratch first; the nodes
  // then share one (phase 5).
  Value own = tree.parents
                  ? memref::AllocOp::create(
                        b, loc,
                        MemRefType::get({ShapedType::kDynamic,
                                         ShapedType::kDynamic,
                                         ShapedType::kDynamic, topk},
                                        b.getI32Type()),
                        ValueRange{s.batch, s.kvHeads, s.qLen})
                        .getResult()
                  : Value();
  Value dest = own ? own : out;
  Value destSlots = own ? kb.index(topk) : slots;

  // 1. The compressed keys, unless given.
  Value compressed = given;
  if (!given) {
    compressed = memref::AllocOp::create(
        b, loc,
        MemRefType::get(SmallVector<int64_t>(4, ShapedType::kDynamic), f32),
        ValueRange{s.batch, s.kvHeads, numKernels, s.headDim});
    kb.ifThen(ok, [&] {
      emitCompressedRows(kb, config, s.k, compressed, kb.index(0),
                         numKernels);
    });
  }

  Value rows = kb.select(ok, kb.muli(kb.muli(s.batch, s.kvHeads), s.qLen),
                         kb.index(0));
  Launch launch = createGuardedLaunch(
      b, loc, rows, {s.qLen, s.kvHeads, s.batch}, kThreads,
      {getWorkgroupBufferType({kMaxKernels}, f32),
       getWorkgroupBufferType({kMaxBlocks}, f32),
       getWorkgroupBufferType({32}, f32)});
  Value kernelScores = launch.shared[0], blockScores = launch.shared[1],
        scratch = launch.shared[2];
  Value t = launch.blockX, h = launch.blockY, bi = launch.blockZ;
  Value tid = launch.threadX, step = kb.index(kThreads);
  Value zero = kb.index(0), one = kb.index(1);
  // A draft tree's nodes select as the root does, at the first tree key.
  Value pos = kb.addi(offset, t);
  if (tree.parents)
    pos = kb.select(kb.cmpi(P::uge, t, tree.firstRow), tree.firstKey, pos);
  Value kernel = kb.index(config.getKernelSize());
  // Kernels whose window ends at or before pos.
  Value visible = kb.select(
      kb.cmpi(P::slt, kb.subi(pos, kb.subi(kernel, one)), zero), zero,
      kb.minui(numKernels,
               kb.addi(kb.divui(kb.addi(kb.subi(pos, kernel), one),
                                kb.index(config.getKernelStride())),
                       one)));
  auto strided = [&](Value n, function_ref<void(Value)> body) {
    kb.loop(tid, n, step, body);
  };
  strided(visible, [&](Value c) {
    memref::StoreOp::create(b, loc, kb.f32(0.0), kernelScores, ValueRange{c});
  });

  // 2. Kernel scores: each head's softmax over the visible kernels, summed.
  kb.loop(zero, s.group, one, [&](Value g) {
    Value qh = kb.addi(kb.muli(h, s.group), g);
    auto logit = [&](Value c) {
      Value dot = kb.loop(zero, s.headDim, one, {kb.f32(0.0)},
                          [&](Value d, ValueRange it) -> SmallVector<Value> {
                            Value qv = io.toF32(memref::LoadOp::create(
                                b, loc, s.q, ValueRange{bi, qh, t, d}));
                            Value kv = memref::LoadOp::create(
                                b, loc, compressed, ValueRange{bi, h, c, d});
                            return {kb.addf(it[0], kb.mulf(qv, kv))};
                          })[0];
      return kb.mulf(dot, s.scale);
    };
    Value localMax = kb.loop(tid, visible, step, {kb.negInf()},
                             [&](Value c, ValueRange it) -> SmallVector<Value> {
                               return {kb.maxf(it[0], logit(c))};
                             })[0];
    Value max = blockReduce(b, loc, localMax, tid, scratch, kThreads,
                            Combine::Max);
    Value m = kb.select(kb.cmpf(F::OGT, max, kb.negInf()), max, kb.f32(0.0));
    Value localSum = kb.loop(tid, visible, step, {kb.f32(0.0)},
                             [&](Value c, ValueRange it) -> SmallVector<Value> {
                               return {kb.addf(it[0],
                                               kb.exp(kb.subf(logit(c), m)))};
                             })[0];
    Value sum = blockReduce(b, loc, localSum, tid, scratch, kThreads,
                            Combine::Add);
    Value inv = kb.select(kb.cmpf(F::OGT, sum, kb.f32(0.0)),
                          kb.divf(kb.f32(1.0), sum), kb.f32(0.0));
    strided(visible, [&](Value c) {
      Value p = kb.mulf(kb.exp(kb.subf(logit(c), m)), inv);
      Value old = memref::LoadOp::create(b, loc, kernelScores, ValueRange{c});
      memref::StoreOp::create(b, loc, kb.addf(old, p), kernelScores,
                              ValueRange{c});
    });
  });
  gpu::BarrierOp::create(b, loc);

  // 3. Block scores (-inf: not a candidate).
  Value queryBlock = kb.divui(kb.maxsi(pos, zero), blockSize);
  Value localBlocks = kb.index(config.getLocalBlocks());
  Value poolStride = kb.index(config.getPoolStride());
  Value poolPad = kb.index(config.getPoolPadding());
  Value poolKernel = kb.index(config.getPoolKernel());
  Value initBlocks = kb.index(config.getInitBlocks());
  strided(numBlocks, [&](Value blk) {
    Value excluded = kb.ori(kb.cmpi(P::ugt, blk, queryBlock),
                            kb.cmpi(P::ugt, kb.addi(blk, localBlocks),
                                    queryBlock));
    Value first = kb.subi(kb.muli(blk, poolStride), poolPad);
    Value lo = kb.select(kb.cmpi(P::slt, first, zero), zero, first);
    Value hi = kb.minui(kb.maxsi(kb.addi(first, poolKernel), zero), visible);
    Value pooled = kb.loop(lo, hi, one, {kb.negInf()},
                           [&](Value c, ValueRange acc) -> SmallVector<Value> {
                             return {kb.maxf(acc[0],
                                             memref::LoadOp::create(
                                                 b, loc, kernelScores,
                                                 ValueRange{c}))};
                           })[0];
    Value forced = kb.cmpi(P::ult, blk, initBlocks);
    Value score = kb.select(
        forced, kb.f32(std::numeric_limits<float>::infinity()), pooled);
    memref::StoreOp::create(b, loc, kb.select(excluded, kb.negInf(), score),
                            blockScores, ValueRange{blk});
  });
  gpu::BarrierOp::create(b, loc);

  // 4. The top k by rank, written in ascending block order.
  Value kIdx = kb.index(topk);
  auto scoreOf = [&](Value blk) -> Value {
    return memref::LoadOp::create(b, loc, blockScores, ValueRange{blk});
  };
  auto isCandidate = [&](Value score) {
    return kb.cmpf(F::OGT, score, kb.negInf());
  };
  /// Whether candidate `blk` (score `sc`) is among the top k.
  auto kept = [&](Value blk, Value sc) {
    Value beaten = kb.loop(
        zero, numBlocks, one, {zero},
        [&](Value o, ValueRange it) -> SmallVector<Value> {
          Value so = scoreOf(o);
          Value beats = kb.andi(
              isCandidate(so),
              kb.ori(kb.cmpf(F::OGT, so, sc),
                     kb.andi(kb.cmpf(F::OEQ, so, sc), kb.cmpi(P::ult, o, blk))));
          return {kb.addi(it[0], kb.select(beats, one, zero))};
        })[0];
    return kb.andi(isCandidate(sc), kb.cmpi(P::ult, beaten, kIdx));
  };
  // How many are kept (every thread counts them: slots after are -1).
  Value candidates = kb.loop(zero, numBlocks, one, {zero},
                             [&](Value o, ValueRange it) -> SmallVector<Value> {
                               return {kb.addi(it[0],
                                               kb.select(isCandidate(scoreOf(o)),
                                                         one, zero))};
                             })[0];
  Value count = kb.minui(candidates, kIdx);
  strided(numBlocks, [&](Value blk) {
    Value sc = scoreOf(blk);
    kb.ifThen(kept(blk, sc), [&] {
      // Its slot: the kept blocks with a lower id.
      Value slot = kb.loop(zero, blk, one, {zero},
                           [&](Value o, ValueRange it) -> SmallVector<Value> {
                             return {kb.addi(it[0],
                                             kb.select(kept(o, scoreOf(o)),
                                                       one, zero))};
                           })[0];
      kb.ifThen(kb.cmpi(P::ult, slot, destSlots), [&] {
        kb.storeIndex(blk, dest, {bi, h, t, slot});
      });
    });
  });
  strided(destSlots, [&](Value slot) {
    kb.ifThen(kb.cmpi(P::uge, slot, count),
              [&] { kb.storeIndex(kb.index(-1), dest, {bi, h, t, slot}); });
  });
  b.setInsertionPointAfter(launch.op->getParentOp());

  // 5. A draft tree's nodes share one selection: the union of theirs (in
  // ascending order), or the root's; the other rows keep their own.
  if (tree.parents) {
    bool useRoot = op.getEffectiveTreePolicy() == TreePolicy::Root;
    Launch share = createGuardedLaunch(
        b, loc, rows, {s.qLen, s.kvHeads, s.batch}, kThreads,
        {getWorkgroupBufferType({kMaxBlocks}, b.getI32Type())});
    Value marks = share.shared[0];
    Value t = share.blockX, h = share.blockY, bi = share.blockZ;
    Value tid = share.threadX, step = kb.index(kThreads);
    Value zero = kb.index(0), one = kb.index(1), kIdx = kb.index(topk);
    Value isNode = kb.cmpi(P::uge, t, tree.firstRow);
    auto strided = [&](Value n, function_ref<void(Value)> body) {
      kb.loop(tid, n, step, body);
    };
    Value i32One = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(1));
    Value i32Zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
    auto marked = [&](Value n) {
      return kb.cmpi(P::ne,
                     memref::LoadOp::create(b, loc, marks, ValueRange{n}),
                     i32Zero);
    };
    kb.ifThenElse(
        kb.andi(isNode, kb.boolean(!useRoot)), {},
        [&]() -> SmallVector<Value> {
          strided(numBlocks, [&](Value n) {
            memref::StoreOp::create(b, loc, i32Zero, marks, ValueRange{n});
          });
          gpu::BarrierOp::create(b, loc);
          strided(kb.muli(tree.nodes, kIdx), [&](Value e) {
            Value row = kb.addi(tree.firstRow, kb.divui(e, kIdx));
            Value id = kb.loadIndex(own, {bi, h, row, kb.remui(e, kIdx)});
            kb.ifThen(kb.cmpi(P::sge, id, zero), [&] {
              memref::StoreOp::create(b, loc, i32One, marks, ValueRange{id});
            });
          });
          gpu::BarrierOp::create(b, loc);
          auto countBelow = [&](Value end) {
            return kb.loop(zero, end, one, {zero},
                           [&](Value o, ValueRange it) -> SmallVector<Value> {
                             return {kb.addi(it[0], kb.select(marked(o), one,
                                                              zero))};
                           })[0];
          };
          strided(numBlocks, [&](Value n) {
            kb.ifThen(marked(n), [&] {
              Value slot = countBelow(n);
              kb.ifThen(kb.cmpi(P::ult, slot, slots), [&] {
                kb.storeIndex(n, out, {bi, h, t, slot});
              });
            });
          });
          Value total = countBelow(numBlocks);
          strided(slots, [&](Value slot) {
            kb.ifThen(kb.cmpi(P::uge, slot, total), [&] {
              kb.storeIndex(kb.index(-1), out, {bi, h, t, slot});
            });
          });
          return {};
        },
        [&]() -> SmallVector<Value> {
          Value from = kb.select(isNode, tree.firstRow, t);
          strided(slots, [&](Value slot) {
            Value id = kb.select(
                kb.cmpi(P::ult, slot, kIdx),
                kb.loadIndex(own, {bi, h, from,
                                   kb.minui(slot, kb.subi(kIdx, one))}),
                kb.index(-1));
            kb.storeIndex(id, out, {bi, h, t, slot});
          });
          return {};
        });
    b.setInsertionPointAfter(share.op->getParentOp());
  }
  op.getResult().replaceAllUsesWith(io.result(out, type));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
