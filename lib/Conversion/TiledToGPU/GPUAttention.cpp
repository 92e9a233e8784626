//===- GPUAttention.cpp - hybrid.attention, flash-style -------------------===//
//
// One thread block per (KV head, block of 32 rows of its query group, batch):
// the rows of all G query heads that share the KV head are packed together
// (row r of the group is head r / Sq, query r % Sq), so each K/V tile staged
// in shared memory serves every head of the group. Per key tile of 16:
//
//   S = (scale Q) K^T   each row's 16 scores split over 4 threads (4 each)
//   softcap, mask, causal limit and draft-tree ancestry applied on the tile
//   online softmax      row max and sum by shuffles among the row's threads
//   acc = acc * alpha + P V   each thread owns Dv / 4 interleaved columns,
//                             P shared through shared memory
//
// Q is staged once, scaled. Key tiles past the block's causal limit are not
// visited. The shape checks run on the host first, as on the CPU. Rows
// whose keys are all masked give 0. This is the f32 form, on FMAs (f16/bf16
// operands of the block-sparse op are widened when staged); the dense op
// with f16/bf16 operands takes the tensor-core form (GPUAttentionMMA.cpp).
//
//===----------------------------------------------------------------------===//

#include "GPUAttention.h"

#include "hybrid/Conversion/Tiling/AttentionShape.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

Value AttentionEmitter::loadOr0(Value m, ValueRange at, Value inBounds,
                                Type type) {
  Type resultType = type ? type : b.getF32Type();
  auto branch =
      scf::IfOp::create(b, loc, TypeRange{resultType}, inBounds, true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&branch.getThenRegion().front());
  Value v = load(m, at);
  scf::YieldOp::create(b, loc, type ? v : io.toF32(v));
  b.setInsertionPointToStart(&branch.getElseRegion().front());
  scf::YieldOp::create(
      b, loc,
      arith::ConstantOp::create(b, loc,
                                cast<TypedAttr>(b.getZeroAttr(resultType)))
          .getResult());
  return branch.getResult(0);
}

Value AttentionEmitter::quadReduce(Value v, bool max) {
  for (int32_t offset : {1, 2}) {
    auto other =
        gpu::ShuffleOp::create(b, loc, v, offset, 32, gpu::ShuffleMode::XOR);
    v = max ? maxf(v, other.getShuffleResult())
            : addf(v, other.getShuffleResult());
  }
  return v;
}


AttentionRow packedRow(AttentionEmitter &e, const AttentionOperands &ops,
                       Value kvHead, Value firstRow, Value r) {
  Value gr = e.add(firstRow, r);
  Value valid = e.ult(gr, ops.groupRows);
  Value safe = e.select(valid, gr, e.idx(0));
  return {valid, e.add(e.mul(kvHead, ops.group), e.div(safe, ops.qLen)),
          e.rem(safe, ops.qLen)};
}

// Its rows span heads only if they reach the group's last query.
Value causalKeyEnd(AttentionEmitter &e, const AttentionOperands &ops,
                   Value firstRow, int64_t rows) {
  OpBuilder &b = e.b;
  Value qLen = ops.qLen;
  Value lastRow = e.sub(
      arith::MinUIOp::create(b, e.loc, e.add(firstRow, e.idx(rows)),
                             ops.groupRows),
      e.idx(1));
  Value sameHead = e.cmp(arith::CmpIPredicate::eq, e.div(firstRow, qLen),
                         e.div(lastRow, qLen));
  Value maxQuery =
      e.select(sameHead, e.rem(lastRow, qLen), e.sub(qLen, e.idx(1)));
  Value limit = arith::MaxSIOp::create(
      b, e.loc, e.add(e.add(ops.offset, maxQuery), e.idx(1)), e.idx(0));
  return arith::MinSIOp::create(b, e.loc, limit, ops.keys);
}

/// Whether tree node `key` is `node` or one of its ancestors: walks up
/// from `node` through `parents` (at most N steps).
static Value isAncestorOrSelf(AttentionEmitter &e, Value parents,
                              Value treeSize, Value node, Value key) {
  OpBuilder &b = e.b;
  Value no = arith::ConstantOp::create(b, e.loc, b.getBoolAttr(false));
  auto walk = scf::ForOp::create(b, e.loc, e.idx(0), treeSize, e.idx(1),
                                 ValueRange{node, no});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(walk.getBody());
    Value at = walk.getRegionIterArgs()[0];
    Value found = walk.getRegionIterArgs()[1];
    Value here = e.cmp(arith::CmpIPredicate::eq, at, key);
    Value inTree = e.cmp(arith::CmpIPredicate::sge, at, e.idx(0));
    Value safe = e.select(inTree, at, e.idx(0));
    Value parent = arith::IndexCastOp::create(
        b, e.loc, b.getIndexType(), e.load(parents, ValueRange{safe}));
    Value next = e.select(inTree, parent, e.idx(-1));
    scf::YieldOp::create(
        b, e.loc,
        ValueRange{next, arith::OrIOp::create(b, e.loc, found, here)});
  }
  return walk.getResult(1);
}

Value visibleScore(AttentionEmitter &e, const AttentionOperands &ops,
                   Value batchIndex, const AttentionRow &row, Value kj,
                   Value keyEnd, Value s) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  if (ops.softcap) {
    Value cap = e.f32(*ops.softcap);
    s = e.mulf(cap, math::TanhOp::create(
                        b, loc, arith::DivFOp::create(b, loc, s, cap)));
  }
  Value visible = e.andI(row.valid, e.ult(kj, keyEnd));
  if (ops.causal)
    visible = e.andI(visible, e.cmp(arith::CmpIPredicate::sle, kj,
                                    e.add(ops.offset, row.query)));
  if (Value parents = ops.parents) {
    // Tree rows see a tree key only if it is an ancestor or the node.
    Value treeSize = ops.treeSize;
    Value treeRow = e.cmp(arith::CmpIPredicate::sge, row.query,
                          e.sub(ops.qLen, treeSize));
    Value treeKey =
        e.cmp(arith::CmpIPredicate::sge, kj, e.sub(ops.keys, treeSize));
    auto inTree = scf::IfOp::create(b, loc, TypeRange{b.getI1Type()},
                                    e.andI(treeRow, treeKey), true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&inTree.getThenRegion().front());
    Value node = e.sub(row.query, e.sub(ops.qLen, treeSize));
    Value keyNode = e.sub(kj, e.sub(ops.keys, treeSize));
    scf::YieldOp::create(
        b, loc, isAncestorOrSelf(e, parents, treeSize, node, keyNode));
    b.setInsertionPointToStart(&inTree.getElseRegion().front());
    scf::YieldOp::create(
        b, loc,
        arith::ConstantOp::create(b, loc, b.getBoolAttr(true)).getResult());
    b.setInsertionPointAfter(inTree);
    visible = e.andI(visible, inTree.getResult(0));
  }
  if (Value mask = ops.mask) {
    // Broadcast to [B, Hq, Sq, Skv] from the right; a size-1 dim is read
    // at 0 (the coordinate clamped to its size).
    Value safeKey = e.select(e.ult(kj, ops.keys), kj, e.idx(0));
    SmallVector<Value> full{batchIndex, row.head, row.query, safeKey};
    SmallVector<Value> at;
    int64_t rank = ops.maskSizes.size();
    for (int64_t j = 0; j < rank; ++j)
      at.push_back(arith::MinUIOp::create(
          b, loc, full[4 - rank + j], e.sub(ops.maskSizes[j], e.idx(1))));
    Value mv = e.load(mask, at);
    if (mv.getType().isInteger(1))
      visible = e.andI(visible, mv);
    else
      s = e.addf(s, e.io.toF32(mv));
  }
  Value negInf = e.f32(-std::numeric_limits<float>::infinity());
  return e.select(visible, s, negInf);
}

namespace {

using Emitter = AttentionEmitter;

constexpr int64_t kRows = 32;  // query rows per block
constexpr int64_t kKeys = 16;  // keys per tile
constexpr int64_t kParts = 4;  // threads per row
constexpr int64_t kThreads = kRows * kParts;
constexpr int64_t kMaxHeadDim = 128;

/// The block-sparse form's key ranges: per query row, the selected blocks
/// before the local window (each once), then the window; everything below
/// dense_len (InfLLM-V2's dense-sparse switch).
struct SparseKeys {
  Value blocks, slots, dense, blockSize, localBlocks;
};

Value maskOf(AttentionOp op) { return op.getMask(); }
Value maskOf(BlockSparseAttentionOp) { return Value(); }
bool causalOf(AttentionOp op) { return op.getCausal(); }
bool causalOf(BlockSparseAttentionOp) { return true; }

/// The flash kernel of both attention ops. Dense: a block's 32 rows are
/// packed from the G heads x Sq queries of a KV group, over the keys up to
/// the causal limit. Block-sparse: a block's rows are the G heads at one
/// query (they share its selection), over that query's key ranges; a
/// draft tree's nodes also over the tree's keys, under the ancestor mask.
template <typename OpT>
LogicalResult emitAttention(OpBuilder &b, OpT op,
                            function_ref<std::optional<SparseKeys>(
                                KernelBuilder &, RuntimeChecks &,
                                const AttentionShape &)>
                                sparseKeys) {
  Location loc = op.getLoc();
  auto qType = cast<RankedTensorType>(op.getQuery().getType());
  auto vType = cast<RankedTensorType>(op.getValue().getType());
  int64_t headDim = qType.getDimSize(3), valueDim = vType.getDimSize(3);
  if (ShapedType::isDynamic(headDim) || ShapedType::isDynamic(valueDim) ||
      headDim > kMaxHeadDim || valueDim > kMaxHeadDim)
    return op.emitError() << "the GPU attention kernel needs static head "
                             "dimensions of at most "
                          << kMaxHeadDim << "; got "
                          << (ShapedType::isDynamic(headDim)
                                  ? std::string("?")
                                  : std::to_string(headDim))
                          << " and "
                          << (ShapedType::isDynamic(valueDim)
                                  ? std::string("?")
                                  : std::to_string(valueDim));
  // Each of a row's 4 threads owns every 4th output column; V's tile is
  // as wide as the columns they own (the last ones unused when Dv is not a
  // multiple of 4).
  int64_t accCount = llvm::divideCeil(valueDim, kParts);

  b.setInsertionPoint(op);
  KernelIO io(b, loc);
  Emitter e{b, loc, io};
  // The CPU kernel's run-time checks, on the host: shapes that disagree,
  // a mask that does not broadcast, a key_length past the stored rows, a
  // malformed draft tree, an offset that could wrap. A failed call
  // launches nothing.
  KernelBuilder kb(b, loc, /*vectorWidth=*/1);
  AttentionShape shape(kb, op.getQuery(), op.getKey(), op.getValue(),
                       op.getScale(), op.getKeyLength());
  RuntimeChecks checks(kb, op->getName().getStringRef());
  shape.checkDynamic(kb, checks);
  (void)shape.userMask(kb, checks, maskOf(op));
  DraftTreeRows treeRows(kb, checks, shape, op.getParents());
  (void)shape.queryOffset(kb, checks, op.getOffset());
  std::optional<SparseKeys> sparse = sparseKeys(kb, checks, shape);
  Value query = io.read(op.getQuery());
  Value key = io.read(op.getKey());
  Value value = io.read(op.getValue());
  Value mask = maskOf(op) ? io.read(maskOf(op)) : Value();
  Value parents = op.getParents() ? io.read(op.getParents()) : Value();

  auto dimOf = [&](Value m, int64_t d) -> Value {
    return memref::DimOp::create(b, loc, m, d);
  };
  Value batch = dimOf(query, 0), qHeads = dimOf(query, 1);
  Value qLen = dimOf(query, 2), kvHeads = dimOf(key, 1);
  Value storedKeys = dimOf(key, 2);
  // Keys past `key_length` are storage (checked to be at most the rows
  // stored; clamped as well, so that no index is out of bounds).
  Value keys = op.getKeyLength()
                   ? arith::MinUIOp::create(b, loc, op.getKeyLength(),
                                            storedKeys)
                         .getResult()
                   : storedKeys;
  Value offset = op.getOffset() ? op.getOffset() : e.sub(keys, qLen);
  Value group = e.div(qHeads, kvHeads);
  Value groupRows = e.mul(group, qLen);
  Value treeSize = parents ? dimOf(parents, 0) : Value();
  SmallVector<Value> maskSizes;
  if (mask)
    for (int64_t d = 0; d < cast<MemRefType>(mask.getType()).getRank(); ++d)
      maskSizes.push_back(dimOf(mask, d));
  float scale = op.getScale() ? op.getScale()->convertToFloat()
                              : 1.0f / std::sqrt(static_cast<float>(headDim));

  SmallVector<Value> outSizes{batch, qHeads, qLen};
  auto outType = cast<RankedTensorType>(op.getType());
  SmallVector<Value> dynamicOut;
  for (int64_t d = 0; d < 3; ++d)
    if (outType.isDynamicDim(d))
      dynamicOut.push_back(outSizes[d]);
  Value output = memref::AllocOp::create(
      b, loc, MemRefType::get(outType.getShape(), outType.getElementType()),
      dynamicOut);

  AttentionOperands ops{query,   key,       value,     mask,
                        parents, output,    batch,     qLen,
                        kvHeads, keys,      offset,    group,
                        groupRows, treeSize, maskSizes, scale,
                        std::nullopt, causalOf(op), headDim, valueDim,
                        outType.getElementType()};
  if (op.getSoftcap())
    ops.softcap = op.getSoftcap()->convertToFloat();
  Value work = e.select(checks.passed(),
                        e.mul(e.mul(groupRows, kvHeads), batch), e.idx(0));
  Type qElement = qType.getElementType();
  if (!sparse && (qElement.isF16() || qElement.isBF16()) &&
      getElementTypeOrSelf(op.getKey().getType()) == qElement &&
      vType.getElementType() == qElement) {
    emitTensorCoreAttention(e, ops, work);
    b.setInsertionPoint(op);
    op.getResult().replaceAllUsesWith(io.result(output, outType));
    op.erase();
    return success();
  }

  Type f32 = b.getF32Type();
  Value rowBlocks =
      sparse ? qLen
             : arith::CeilDivUIOp::create(b, loc, groupRows, e.idx(kRows))
                   .getResult();
  Launch launch = createGuardedLaunch(
      b, loc, work, {rowBlocks, kvHeads, batch}, kThreads,
      {getWorkgroupBufferType({kRows, headDim + 1}, f32),
       getWorkgroupBufferType({kKeys, headDim + 1}, f32),
       getWorkgroupBufferType({kKeys, accCount * kParts + 1}, f32),
       getWorkgroupBufferType({kRows, kKeys + 1}, f32)});
  auto shared = launch.shared;
  Value qTile = shared[0], kTile = shared[1], vTile = shared[2],
        pTile = shared[3];
  Value tid = launch.threadX, kvHead = launch.blockY, b0 = launch.blockZ;
  Value firstRow = e.mul(launch.blockX, e.idx(kRows));
  Value row = e.div(tid, e.idx(kParts)), part = e.rem(tid, e.idx(kParts));
  // The group row and (head, query) of block row r.
  auto rowAt = [&](Value r) -> std::tuple<Value, Value, Value> {
    if (sparse) {
      Value valid = e.ult(r, group);
      return {valid, e.add(e.mul(kvHead, group), e.select(valid, r, e.idx(0))),
              launch.blockX};
    }
    AttentionRow packed = packedRow(e, ops, kvHead, firstRow, r);
    return {packed.valid, packed.head, packed.query};
  };
  auto [rowValid, head, qi] = rowAt(row);

  // Q, scaled, once: row-major with one float of padding per row.
  {
    auto loop = scf::ForOp::create(b, loc, tid, e.idx(kRows * headDim),
                                   e.idx(kThreads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    Value r = e.div(i, e.idx(headDim)), d = e.rem(i, e.idx(headDim));
    auto [valid, h, query_i] = rowAt(r);
    Value q = e.loadOr0(query, ValueRange{b0, h, query_i, d}, valid);
    e.store(e.mulf(q, e.f32(scale)), qTile, ValueRange{r, d});
  }

  // Keys this block can see: with a causal limit, none past the last
  // row's (its rows span heads only if they reach the group's last query).
  Value keyEnd = keys;
  // Block-sparse: all the block's rows are one query, which selects at its
  // position; a draft tree's nodes select as the root does (at the first
  // tree key), and no row sees the tree's keys through its ranges.
  Value sparsePos, isNode;
  if (sparse) {
    sparsePos = e.add(offset, launch.blockX);
    Value bound = keys;
    if (parents) {
      Value firstKey = e.sub(keys, treeSize);
      isNode = e.cmp(arith::CmpIPredicate::sge, launch.blockX,
                     e.sub(qLen, treeSize));
      sparsePos = e.select(isNode, firstKey, sparsePos);
      bound = arith::MinSIOp::create(b, loc, keys, firstKey);
    }
    Value limit = arith::MaxSIOp::create(b, loc, e.add(sparsePos, e.idx(1)),
                                         e.idx(0));
    keyEnd = arith::MinSIOp::create(b, loc, limit, bound);
  } else if (causalOf(op)) {
    keyEnd = causalKeyEnd(e, ops, firstRow, kRows);
  }

  Value negInf = e.f32(-std::numeric_limits<float>::infinity());
  SmallVector<Value> init{negInf, e.f32(0)};
  init.append(accCount, e.f32(0));
  // Key ranges: one (everything up to the causal limit), or the sparse
  // form's selected blocks then the window (an unselected slot is empty).
  // With a tree, one more: a node's tree keys, under the ancestor mask.
  Value ranges = sparse ? e.add(sparse->slots, e.idx(parents ? 2 : 1))
                        : e.idx(1);
  auto rangeLoop = scf::ForOp::create(b, loc, e.idx(0), ranges, e.idx(1), init);
  b.setInsertionPointToStart(rangeLoop.getBody());
  Value rangeStart = e.idx(0), rangeEnd = keyEnd;
  if (sparse) {
    Value slot = rangeLoop.getInductionVar();
    Value isWindow = e.cmp(arith::CmpIPredicate::eq, slot, sparse->slots);
    Value pos = arith::MaxSIOp::create(b, loc, sparsePos, e.idx(0));
    Value queryBlock = e.div(pos, sparse->blockSize);
    Value windowStart = e.select(
        e.ult(queryBlock, sparse->localBlocks), e.idx(0),
        e.add(e.sub(queryBlock, sparse->localBlocks), e.idx(1)));
    Value safeSlot = e.select(e.ult(slot, sparse->slots), slot, e.idx(0));
    auto blockAt = [&](Value sl) -> Value {
      return arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          e.load(sparse->blocks, ValueRange{b0, kvHead, launch.blockX, sl}));
    };
    Value blk = blockAt(safeSlot);
    // A block listed twice is attended once.
    Value seen = kb.loop(e.idx(0), safeSlot, e.idx(1),
                         {kb.boolean(false)},
                         [&](Value o, ValueRange it) -> SmallVector<Value> {
                           return {kb.ori(it[0], e.cmp(arith::CmpIPredicate::eq,
                                                       blockAt(o), blk))};
                         })[0];
    Value take = e.andI(e.andI(e.cmp(arith::CmpIPredicate::sge, blk, e.idx(0)),
                               e.cmp(arith::CmpIPredicate::slt, blk,
                                     windowStart)),
                        kb.notI(seen));
    Value j0 = e.mul(blk, sparse->blockSize);
    Value blockStart = e.select(take, arith::MinUIOp::create(b, loc, j0, keyEnd),
                                e.idx(0));
    Value blockEnd = e.select(
        take,
        arith::MinUIOp::create(b, loc, e.add(j0, sparse->blockSize), keyEnd),
        e.idx(0));
    Value windowFirst = arith::MinUIOp::create(
        b, loc, e.mul(windowStart, sparse->blockSize), keyEnd);
    // Below dense_len: one range, every key up to the causal limit.
    rangeStart = e.select(sparse->dense, e.idx(0),
                          e.select(isWindow, windowFirst, blockStart));
    rangeEnd = e.select(sparse->dense, e.select(isWindow, keyEnd, e.idx(0)),
                        e.select(isWindow, keyEnd, blockEnd));
    if (parents) {
      Value isTree = e.cmp(arith::CmpIPredicate::eq, slot,
                           e.add(sparse->slots, e.idx(1)));
      Value treeFrom = e.select(isNode, e.sub(keys, treeSize), e.idx(0));
      Value treeTo = e.select(isNode, keys, e.idx(0));
      rangeStart = e.select(isTree, treeFrom, rangeStart);
      rangeEnd = e.select(isTree, treeTo, rangeEnd);
    }
  }
  auto keyLoop = scf::ForOp::create(b, loc, rangeStart, rangeEnd,
                                    e.idx(kKeys),
                                    rangeLoop.getRegionIterArgs());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(keyLoop.getBody());
    Value k0 = keyLoop.getInductionVar();
    Value m = keyLoop.getRegionIterArgs()[0];
    Value l = keyLoop.getRegionIterArgs()[1];
    SmallVector<Value> acc(keyLoop.getRegionIterArgs().drop_front(2));

    // Stage the K and V tiles (zero past the keys).
    gpu::BarrierOp::create(b, loc);
    auto stage = [&](Value source, Value tile, int64_t dim) {
      auto loop = scf::ForOp::create(b, loc, tid, e.idx(kKeys * dim),
                                     e.idx(kThreads));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value i = loop.getInductionVar();
      Value kk = e.div(i, e.idx(dim)), d = e.rem(i, e.idx(dim));
      Value kj = e.add(k0, kk);
      Value inKeys = e.ult(kj, keys);
      Value safe = e.select(inKeys, kj, e.idx(0));
      e.store(e.loadOr0(source, ValueRange{b0, kvHead, safe, d}, inKeys),
              tile, ValueRange{kk, d});
    };
    stage(key, kTile, headDim);
    stage(value, vTile, valueDim);
    gpu::BarrierOp::create(b, loc);

    // This thread's scores: keys part, part + 4, part + 8, part + 12.
    constexpr int64_t perThread = kKeys / kParts;
    SmallVector<Value> zeros(perThread, e.f32(0));
    auto dot = scf::ForOp::create(b, loc, e.idx(0), e.idx(headDim), e.idx(1),
                                  zeros);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(dot.getBody());
      Value d = dot.getInductionVar();
      Value q = e.load(qTile, ValueRange{row, d});
      SmallVector<Value> next;
      for (int64_t t = 0; t < perThread; ++t) {
        Value kk = e.add(part, e.idx(t * kParts));
        next.push_back(
            e.fma(q, e.load(kTile, ValueRange{kk, d}), dot.getRegionIterArgs()[t]));
      }
      scf::YieldOp::create(b, loc, next);
    }
    SmallVector<Value> scores;
    for (int64_t t = 0; t < perThread; ++t) {
      Value kj = e.add(k0, e.add(part, e.idx(t * kParts)));
      scores.push_back(visibleScore(e, ops, b0, {rowValid, head, qi}, kj,
                                    rangeEnd, dot.getResult(t)));
    }

    // Online softmax over the row's 16 scores (4 per thread).
    Value tileMax = scores[0];
    for (int64_t t = 1; t < perThread; ++t)
      tileMax = e.maxf(tileMax, scores[t]);
    tileMax = e.quadReduce(tileMax, /*max=*/true);
    Value mNew = e.maxf(m, tileMax);
    // Nothing visible yet: subtract 0, so that exp(-inf - m) is 0, not NaN.
    Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mNew,
                                       negInf);
    Value mUse = e.select(none, e.f32(0), mNew);
    Value rowSum = e.f32(0);
    for (int64_t t = 0; t < perThread; ++t) {
      Value p = math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, scores[t], mUse));
      rowSum = e.addf(rowSum, p);
      e.store(p, pTile, ValueRange{row, e.add(part, e.idx(t * kParts))});
    }
    rowSum = e.quadReduce(rowSum, /*max=*/false);
    Value alpha =
        math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, m, mUse));
    Value lNew = e.addf(e.mulf(l, alpha), rowSum);
    gpu::BarrierOp::create(b, loc);

    // acc = acc * alpha + P V over this thread's columns part + 4u.
    SmallVector<Value> scaled;
    for (Value a : acc)
      scaled.push_back(e.mulf(a, alpha));
    auto pv = scf::ForOp::create(b, loc, e.idx(0), e.idx(kKeys), e.idx(1),
                                 scaled);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(pv.getBody());
      Value kk = pv.getInductionVar();
      Value p = e.load(pTile, ValueRange{row, kk});
      SmallVector<Value> next;
      for (int64_t u = 0; u < accCount; ++u) {
        Value col = e.add(part, e.idx(u * kParts));
        next.push_back(e.fma(p, e.load(vTile, ValueRange{kk, col}),
                             pv.getRegionIterArgs()[u]));
      }
      scf::YieldOp::create(b, loc, next);
    }
    SmallVector<Value> yielded{mNew, lNew};
    llvm::append_range(yielded, pv.getResults());
    scf::YieldOp::create(b, loc, yielded);
  }

  scf::YieldOp::create(b, loc, keyLoop.getResults());
  b.setInsertionPointAfter(rangeLoop);
  // out = acc / l; a row that saw no key gives 0.
  auto ifValid = scf::IfOp::create(b, loc, rowValid, false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifValid.getThenRegion().front());
    Value l = rangeLoop.getResult(1);
    Value empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, l,
                                        e.f32(0));
    Value inv = e.select(empty, e.f32(0),
                         arith::DivFOp::create(b, loc, e.f32(1), l));
    for (int64_t u = 0; u < accCount; ++u) {
      Value col = e.add(part, e.idx(u * kParts));
      Value o = io.fromF32(e.mulf(rangeLoop.getResult(2 + u), inv),
                           outType.getElementType());
      if ((u + 1) * kParts <= valueDim) {
        e.store(o, output, ValueRange{b0, head, qi, col});
        continue;
      }
      auto inRange =
          scf::IfOp::create(b, loc, e.ult(col, e.idx(valueDim)), false);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(&inRange.getThenRegion().front());
      e.store(o, output, ValueRange{b0, head, qi, col});
    }
  }
  b.setInsertionPointAfter(launch.op->getParentOp());
  op.getResult().replaceAllUsesWith(io.result(output, outType));
  op.erase();
  return success();
}

/// Whether any of `blocks`' indices lies outside [-1, numBlocks): one
/// thread block scans them on the device (a max over its threads), and the
/// host reads one flag back rather than every index.
Value anyBlockOutOfRange(OpBuilder &b, Location loc, Value blocks,
                         Value numBlocks) {
  constexpr int64_t threads = 256;
  KernelIO io(b, loc);
  Emitter e{b, loc, io};
  Value flag =
      memref::AllocOp::create(b, loc, MemRefType::get({1}, b.getI32Type()));
  SmallVector<Value> sizes;
  Value total = e.idx(1);
  for (int64_t d = 0; d < 4; ++d) {
    sizes.push_back(memref::DimOp::create(b, loc, blocks, d));
    total = e.mul(total, sizes.back());
  }
  OpBuilder::InsertionGuard guard(b);
  Launch launch = createGuardedLaunch(
      b, loc, e.idx(1), {e.idx(1), e.idx(1), e.idx(1)}, threads,
      {getWorkgroupBufferType({32}, b.getF32Type())});
  Value tid = launch.threadX;
  auto scan = scf::ForOp::create(b, loc, tid, total, e.idx(threads),
                                 ValueRange{e.f32(0)});
  {
    OpBuilder::InsertionGuard inLoop(b);
    b.setInsertionPointToStart(scan.getBody());
    Value index = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        e.load(blocks, io.delinearize(scan.getInductionVar(), sizes)));
    Value bad = arith::OrIOp::create(
        b, loc, e.cmp(arith::CmpIPredicate::slt, index, e.idx(-1)),
        e.cmp(arith::CmpIPredicate::sge, index, numBlocks));
    scf::YieldOp::create(
        b, loc,
        e.maxf(scan.getRegionIterArgs()[0], e.select(bad, e.f32(1), e.f32(0))));
  }
  Value any = blockReduce(b, loc, scan.getResult(0), tid, launch.shared[0],
                          threads, Combine::Max);
  auto first = scf::IfOp::create(
      b, loc, e.cmp(arith::CmpIPredicate::eq, tid, e.idx(0)), false);
  b.setInsertionPointToStart(&first.getThenRegion().front());
  Value word = arith::FPToSIOp::create(b, loc, b.getI32Type(), any);
  e.store(word, flag, ValueRange{e.idx(0)});
  b.setInsertionPointAfter(launch.op->getParentOp());
  Value read = e.load(flag, ValueRange{e.idx(0)});
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  // (Buffer deallocation frees the flag.)
  return e.cmp(arith::CmpIPredicate::ne, read, zero);
}

} // namespace

LogicalResult lowerAttention(OpBuilder &b, AttentionOp op) {
  return emitAttention(b, op, [](KernelBuilder &, RuntimeChecks &,
                                 const AttentionShape &) {
    return std::optional<SparseKeys>();
  });
}

LogicalResult lowerBlockSparseAttention(OpBuilder &b,
                                        BlockSparseAttentionOp op) {
  return emitAttention(
      b, op,
      [&](KernelBuilder &kb, RuntimeChecks &checks,
          const AttentionShape &shape) -> std::optional<SparseKeys> {
        using P = arith::CmpIPredicate;
        SparseConfigAttr config = op.getConfig();
        SparseKeys keys;
        keys.blocks = kb.buffer(op.getBlockIndices());
        keys.slots = kb.dim(keys.blocks, 3);
        checks.check(
            kb.ori(kb.ori(kb.cmpi(P::ne, kb.dim(keys.blocks, 0), shape.batch),
                          kb.cmpi(P::ne, kb.dim(keys.blocks, 1),
                                  shape.kvHeads)),
                   kb.cmpi(P::ne, kb.dim(keys.blocks, 2), shape.qLen)),
            "block_indices must be [batch, kv heads, query rows, slots]");
        // A block's rows are the G heads at one query.
        checks.check(kb.cmpi(P::ugt, shape.group, kb.index(kRows)),
                     "the GPU kernel takes at most 32 query heads per key/"
                     "value head");
        keys.blockSize = kb.index(config.getBlockSize());
        keys.localBlocks = kb.index(config.getLocalBlocks());
        // As on the CPU, before anything reads the keys.
        checks.check(anyBlockOutOfRange(
                         kb.b, kb.loc, keys.blocks,
                         kb.ceilDiv(shape.kvLen, keys.blockSize)),
                     "a block index is out of range [-1, ceil(Skv / "
                     "block_size))");
        keys.dense =
            kb.cmpi(P::slt, shape.kvLen, kb.index(config.getDenseLen()));
        return keys;
      });
}

} // namespace mlir::hybrid::gpu_stage
