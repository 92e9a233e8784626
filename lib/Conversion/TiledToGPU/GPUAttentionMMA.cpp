//===- GPUAttentionMMA.cpp - hybrid.attention on tensor cores -------------===//
//
// The dense op with f16 or bf16 Q, K and V, FlashAttention-2 style. One
// thread block per (KV head, 64 rows of its packed query group, batch), 4
// warps of 16 rows each. Per key tile of 32:
//
//   S = Q K^T     per warp, 16 x 32 as 4 mma.sync m16n8k16 fragments (f32),
//                 over the head dimension in steps of 16
//   scale, softcap, mask, causal limit and tree ancestry on the fragments
//   online softmax  a lane holds 2 rows (group, group + 8); a row's max and
//                 sum combine the 4 lanes of its group by shuffles
//   O += P V      P's f32 fragments are already laid out as the A operand
//                 of the next mma (rounded to the input type), V^T staged
//
// Q, K and V^T sit in shared memory in the input type, rows padded by 8
// halves so that a warp's fragment loads hit distinct banks; Q and K are
// zero-padded to a multiple of 16 along the head dimension, V to 8 along
// its own. Accumulation and softmax are f32.
//
//===----------------------------------------------------------------------===//

#include "GPUAttention.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

constexpr int64_t kWarps = 4;
constexpr int64_t kRows = 16 * kWarps; // query rows per block
constexpr int64_t kKeys = 16;          // keys per tile
constexpr int64_t kPad = 8;            // halves of padding per shared row
constexpr int64_t kScoreFrags = kKeys / 8;

} // namespace

void emitTensorCoreAttention(AttentionEmitter &e,
                             const AttentionOperands &ops, Value work) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type elt = cast<MemRefType>(ops.query.getType()).getElementType();
  int64_t dk = llvm::alignTo(ops.headDim, 16);
  int64_t dv = llvm::alignTo(ops.valueDim, 8);
  int64_t valueFrags = dv / 8;
  Value rowBlocks =
      arith::CeilDivUIOp::create(b, loc, ops.groupRows, e.idx(kRows));
  Launch launch = createGuardedLaunch(
      b, loc, work, {rowBlocks, ops.kvHeads, ops.batch}, kWarps * 32,
      {getWorkgroupBufferType({kRows, dk + kPad}, elt),
       getWorkgroupBufferType({kKeys, dk + kPad}, elt),
       getWorkgroupBufferType({dv, kKeys + kPad}, elt)});
  Value qTile = launch.shared[0], kTile = launch.shared[1],
        vtTile = launch.shared[2];
  Value tid = launch.threadX, kvHead = launch.blockY, b0 = launch.blockZ;
  Value firstRow = e.mul(launch.blockX, e.idx(kRows));
  Value lane = e.rem(tid, e.idx(32));
  Value group = e.div(lane, e.idx(4)), inGroup = e.rem(lane, e.idx(4));
  Value warpRow = e.mul(e.div(tid, e.idx(32)), e.idx(16));
  Value twiceInGroup = e.mul(inGroup, e.idx(2));

  // Stages `count` elements of a tile, a thread every 128th: element i is
  // (i / width, i % width) of the tile, read from `source` when `inBounds`.
  auto stage = [&](int64_t count, int64_t width,
                   function_ref<void(Value r, Value c)> copy) {
    auto loop =
        scf::ForOp::create(b, loc, tid, e.idx(count), e.idx(kWarps * 32));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    copy(e.div(i, e.idx(width)), e.rem(i, e.idx(width)));
  };
  stage(kRows * dk, dk, [&](Value r, Value d) {
    AttentionRow row = packedRow(e, ops, kvHead, firstRow, r);
    Value in = e.andI(row.valid, e.ult(d, e.idx(ops.headDim)));
    e.store(e.loadOr0(ops.query, ValueRange{b0, row.head, row.query, d}, in,
                      elt),
            qTile, ValueRange{r, d});
  });

  // This lane's two rows of the warp's 16.
  Value rowIndex[2] = {e.add(warpRow, group),
                       e.add(warpRow, e.add(group, e.idx(8)))};
  AttentionRow rows[2] = {packedRow(e, ops, kvHead, firstRow, rowIndex[0]),
                          packedRow(e, ops, kvHead, firstRow, rowIndex[1])};
  Value keyEnd =
      ops.causal ? causalKeyEnd(e, ops, firstRow, kRows) : ops.keys;

  Value negInf = e.f32(-std::numeric_limits<float>::infinity());
  // Carried: the two rows' max and sum, then O's fragments.
  SmallVector<Value> init{negInf, negInf, e.f32(0), e.f32(0)};
  init.append(valueFrags * 4, e.f32(0));
  auto keyLoop =
      scf::ForOp::create(b, loc, e.idx(0), keyEnd, e.idx(kKeys), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(keyLoop.getBody());
    Value k0 = keyLoop.getInductionVar();
    ValueRange carried = keyLoop.getRegionIterArgs();
    Value m[2] = {carried[0], carried[1]}, l[2] = {carried[2], carried[3]};
    SmallVector<Value> acc(carried.drop_front(4));

    gpu::BarrierOp::create(b, loc);
    auto keyAt = [&](Value kk) -> std::pair<Value, Value> {
      Value kj = e.add(k0, kk);
      Value in = e.ult(kj, ops.keys);
      return {in, e.select(in, kj, e.idx(0))};
    };
    stage(kKeys * dk, dk, [&](Value kk, Value d) {
      auto [in, kj] = keyAt(kk);
      Value ok = e.andI(in, e.ult(d, e.idx(ops.headDim)));
      e.store(e.loadOr0(ops.key, ValueRange{b0, kvHead, kj, d}, ok, elt),
              kTile, ValueRange{kk, d});
    });
    // V transposed: the B operand of P V is K(eys)-contiguous per column.
    stage(kKeys * dv, dv, [&](Value kk, Value d) {
      auto [in, kj] = keyAt(kk);
      Value ok = e.andI(in, e.ult(d, e.idx(ops.valueDim)));
      e.store(e.loadOr0(ops.value, ValueRange{b0, kvHead, kj, d}, ok, elt),
              vtTile, ValueRange{d, kk});
    });
    gpu::BarrierOp::create(b, loc);

    // S = Q K^T: fragment j holds keys 8j .. 8j + 7. A loop over the head
    // dimension, not unrolled: unrolled, the fragment loads of every step
    // are scheduled together and spill.
    SmallVector<Value> zeros(kScoreFrags * 4, e.f32(0));
    auto dot = scf::ForOp::create(b, loc, e.idx(0), e.idx(dk), e.idx(16),
                                  zeros);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(dot.getBody());
      Value kLo = e.add(dot.getInductionVar(), twiceInGroup);
      Value kHi = e.add(kLo, e.idx(8));
      SmallVector<Value, 4> a{loadMMAPair(b, loc, qTile, rowIndex[0], kLo),
                              loadMMAPair(b, loc, qTile, rowIndex[1], kLo),
                              loadMMAPair(b, loc, qTile, rowIndex[0], kHi),
                              loadMMAPair(b, loc, qTile, rowIndex[1], kHi)};
      SmallVector<Value> carried(dot.getRegionIterArgs());
      SmallVector<Value> next;
      for (int64_t j = 0; j < kScoreFrags; ++j) {
        Value keyRow = e.add(e.idx(8 * j), group);
        SmallVector<Value, 2> kFrag{loadMMAPair(b, loc, kTile, keyRow, kLo),
                                    loadMMAPair(b, loc, kTile, keyRow, kHi)};
        llvm::append_range(
            next, mmaSync16816(b, loc, a, kFrag,
                               ArrayRef<Value>(carried).slice(4 * j, 4),
                               elt));
      }
      scf::YieldOp::create(b, loc, next);
    }
    SmallVector<SmallVector<Value, 4>> score;
    for (int64_t j = 0; j < kScoreFrags; ++j)
      score.emplace_back(dot.getResults().slice(4 * j, 4).begin(),
                         dot.getResults().slice(4 * j, 4).end());
    // Element i of fragment j: row i / 2, key 8j + 2 inGroup + i % 2.
    for (int64_t j = 0; j < kScoreFrags; ++j)
      for (int64_t i = 0; i < 4; ++i) {
        Value kj = e.add(k0, e.add(e.idx(8 * j + i % 2), twiceInGroup));
        score[j][i] = visibleScore(e, ops, b0, rows[i / 2], kj, keyEnd,
                                   e.mulf(score[j][i], e.f32(ops.scale)));
      }

    // Online softmax, per row.
    Value mNext[2], lNext[2], alpha[2];
    for (int64_t r = 0; r < 2; ++r) {
      Value tileMax = negInf;
      for (int64_t j = 0; j < kScoreFrags; ++j)
        for (int64_t i = 2 * r; i < 2 * r + 2; ++i)
          tileMax = e.maxf(tileMax, score[j][i]);
      mNext[r] = e.maxf(m[r], e.quadReduce(tileMax, /*max=*/true));
      // Nothing visible yet: subtract 0, so that exp(-inf) is 0, not NaN.
      Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                         mNext[r], negInf);
      Value mUse = e.select(none, e.f32(0), mNext[r]);
      Value sum = e.f32(0);
      for (int64_t j = 0; j < kScoreFrags; ++j)
        for (int64_t i = 2 * r; i < 2 * r + 2; ++i) {
          score[j][i] =
              math::ExpOp::create(b, loc, e.subf(score[j][i], mUse));
          sum = e.addf(sum, score[j][i]);
        }
      alpha[r] = math::ExpOp::create(b, loc, e.subf(m[r], mUse));
      lNext[r] = e.addf(e.mulf(l[r], alpha[r]),
                        e.quadReduce(sum, /*max=*/false));
    }
    for (int64_t c = 0; c < valueFrags; ++c)
      for (int64_t i = 0; i < 4; ++i)
        acc[c * 4 + i] = e.mulf(acc[c * 4 + i], alpha[i / 2]);

    // O += P V, 16 keys per step: score fragments 2s and 2s + 1 are the
    // A operand's columns 0-7 and 8-15.
    for (int64_t step = 0; step < kKeys / 16; ++step) {
      ArrayRef<Value> lo = score[2 * step], hi = score[2 * step + 1];
      SmallVector<Value, 4> p{packMMAPair(b, loc, lo[0], lo[1], elt),
                              packMMAPair(b, loc, lo[2], lo[3], elt),
                              packMMAPair(b, loc, hi[0], hi[1], elt),
                              packMMAPair(b, loc, hi[2], hi[3], elt)};
      Value kLo = e.add(e.idx(16 * step), twiceInGroup);
      Value kHi = e.add(kLo, e.idx(8));
      for (int64_t c = 0; c < valueFrags; ++c) {
        Value column = e.add(e.idx(8 * c), group);
        SmallVector<Value, 2> vFrag{loadMMAPair(b, loc, vtTile, column, kLo),
                                    loadMMAPair(b, loc, vtTile, column, kHi)};
        SmallVector<Value, 4> d = mmaSync16816(
            b, loc, p, vFrag, ArrayRef<Value>(acc).slice(c * 4, 4), elt);
        llvm::copy(d, acc.begin() + c * 4);
      }
    }
    SmallVector<Value> yielded{mNext[0], mNext[1], lNext[0], lNext[1]};
    llvm::append_range(yielded, acc);
    scf::YieldOp::create(b, loc, yielded);
  }

  // O / l; a row that saw no key gives 0. Element i of fragment c: row
  // i / 2, column 8c + 2 inGroup + i % 2.
  Value inverse[2];
  for (int64_t r = 0; r < 2; ++r) {
    Value l = keyLoop.getResult(2 + r);
    Value empty =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, l, e.f32(0));
    inverse[r] = e.select(empty, e.f32(0),
                          arith::DivFOp::create(b, loc, e.f32(1), l));
  }
  for (int64_t c = 0; c < valueFrags; ++c)
    for (int64_t i = 0; i < 4; ++i) {
      const AttentionRow &row = rows[i / 2];
      Value column = e.add(e.idx(8 * c + i % 2), twiceInGroup);
      auto inRange = scf::IfOp::create(
          b, loc, e.andI(row.valid, e.ult(column, e.idx(ops.valueDim))),
          false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&inRange.getThenRegion().front());
      Value o = e.mulf(keyLoop.getResult(4 + c * 4 + i), inverse[i / 2]);
      e.store(e.io.fromF32(o, ops.outputType), ops.output,
              ValueRange{b0, row.head, row.query, column});
    }
  b.setInsertionPointAfter(launch.op->getParentOp());
}

} // namespace mlir::hybrid::gpu_stage
