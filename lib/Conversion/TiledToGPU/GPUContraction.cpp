//===- GPUContraction.cpp - Tiled GEMM: thread blocks, shared memory ------===//
//
// The GPU form of the tiled product (`TiledMatmul` on the CPU): the task is
// one thread block's BM x BN tile of C, the cache block is a BK slice of K
// staged through shared memory (zero-padded at the edges, so the inner
// loop has no bounds checks), and the register tile is
//
//  - f32 (and mixed) operands: each of 256 threads keeps a 4 x 4 tile of C
//    in registers, BM = BN = 64, BK = 16; products and sums carry the
//    `contract` flag so that NVPTX emits `fma.rn.f32`;
//  - f16 x f16 or bf16 x bf16: each of 8 warps keeps a 32 x 16 tile of C
//    as 2 x 2 tensor-core fragments (`mma.sync.m16n8k16`, f32
//    accumulators), BM = BN = 64, BK = 32. A sits in shared memory row by
//    row and B column by column (K contiguous in both), each row padded by
//    8 halves so that a warp's fragment loads touch 32 distinct banks;
//  - bf16 x f32 (a bf16 checkpoint's weights against f32 activations): the
//    same tensor-core tiles, the f32 operand staged as two bf16 tiles, its
//    rounding and what the rounding lost (x = hi + lo to about 2^-16), and
//    both multiplied by the bf16 operand, which is exact: two mma.sync per
//    fragment for nearly f32 products.
//
// Batch matmuls take one grid layer (blockIdx.z) per batch.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

/// Where the product's dimensions are among the op's loops, and the loop
/// values of one point: operands are indexed through their maps.
struct ContractionLoops {
  mutable linalg::LinalgOp op;
  std::optional<unsigned> batch;
  unsigned m, n, k;

  SmallVector<Value> indices(OpOperand &operand, Value b, Value i, Value j,
                             Value p) const {
    SmallVector<Value> ivs(op.getNumLoops());
    if (batch)
      ivs[*batch] = b;
    ivs[m] = i;
    ivs[n] = j;
    ivs[k] = p;
    SmallVector<Value> result;
    for (AffineExpr e : op.getMatchingIndexingMap(&operand).getResults())
      result.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    return result;
  }
};

struct Builder {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, index(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, index(y));
  }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }

  /// `value` as `type` (floats only: extended or truncated).
  Value castFloat(Value value, Type type) {
    Type from = value.getType();
    if (from == type)
      return value;
    if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, type, value);
    return arith::TruncFOp::create(b, loc, type, value);
  }

  /// memref[indices] when `inBounds`, else zero; as `type`.
  Value loadOrZero(Value memref, ValueRange indices, Value inBounds,
                   Type type) {
    auto branch = scf::IfOp::create(b, loc, TypeRange{type}, inBounds,
                                    /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      Value v = memref::LoadOp::create(b, loc, memref, indices);
      scf::YieldOp::create(b, loc, castFloat(v, type));
      b.setInsertionPointToStart(&branch.getElseRegion().front());
      scf::YieldOp::create(b, loc,
                           arith::ConstantOp::create(
                               b, loc, cast<TypedAttr>(b.getZeroAttr(type)))
                               .getResult());
    }
    return branch.getResult(0);
  }

  Value fma(Value a, Value x, Value acc) {
    return KernelIO(b, loc).fma(a, x, acc);
  }
};

/// The tile sizes of both register-tile forms.
struct GemmTiling {
  int64_t bm, bn, bk, threads;
};
constexpr GemmTiling kSimtTiling{64, 64, 16, 256};
constexpr int64_t kSimtRows = 4, kSimtCols = 4;
constexpr GemmTiling kMmaTiling{64, 64, 32, 256};
constexpr int64_t kMmaPad = 8;
constexpr int64_t kWarpRows = 32, kWarpCols = 16;

/// Adds `acc` into C[row, col] when in bounds.
void accumulateInto(Builder &e, const ContractionLoops &loops, Value batch,
                    Value row, Value col, Value rows, Value cols, Value acc) {
  OpBuilder &b = e.b;
  OpOperand &c = *loops.op.getDpsInitOperand(0);
  auto ifIn = scf::IfOp::create(b, e.loc, e.both(e.lt(row, rows),
                                                 e.lt(col, cols)),
                                false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifIn.getThenRegion().front());
  SmallVector<Value> at = loops.indices(c, batch, row, col, Value());
  Value old = memref::LoadOp::create(b, e.loc, c.get(), at);
  Value sum = arith::AddFOp::create(b, e.loc, old,
                                    e.castFloat(acc, old.getType()));
  memref::StoreOp::create(b, e.loc, sum, c.get(), at);
}

/// A slice of A (rows m, columns k) or B (rows k, columns n) to stage into
/// shared memory: `width` columns from (rowOrigin, colOrigin), zero past
/// (rowBound, colBound), stored in the tile as sliced or transposed.
/// Thread `tid` copies `perThread` elements: slice element
/// tid * perThread + i (a run along a row), or i * threads + tid when
/// `interleaved` (consecutive threads on consecutive columns, coalesced
/// when the slice's columns are the operand's contiguous dimension).
struct Slice {
  OpOperand &operand;
  bool isB;
  Value tile;
  /// For an f32 operand staged as two bf16 tiles: where the part the
  /// rounding into `tile` lost goes (null otherwise).
  Value loTile;
  bool transposed;
  int64_t width, perThread, threads;
  bool interleaved;
  Value rowOrigin, rowBound, colOrigin, colBound;
};

void stage(Builder &e, const ContractionLoops &loops, Value batch, Value tid,
           const Slice &s, Type type) {
  for (int64_t i = 0; i < s.perThread; ++i) {
    Value lin = s.interleaved
                    ? e.add(e.index(i * s.threads), tid)
                    : e.add(e.mul(tid, e.index(s.perThread)), e.index(i));
    Value r = e.div(lin, s.width), c = e.rem(lin, s.width);
    Value row = e.add(s.rowOrigin, r), col = e.add(s.colOrigin, c);
    SmallVector<Value> at =
        s.isB ? loops.indices(s.operand, batch, {}, col, row)
              : loops.indices(s.operand, batch, row, {}, col);
    Value inBounds = e.both(e.lt(row, s.rowBound), e.lt(col, s.colBound));
    SmallVector<Value, 2> tileAt{r, c};
    if (s.transposed)
      std::swap(tileAt[0], tileAt[1]);
    if (!s.loTile) {
      Value v = e.loadOrZero(s.operand.get(), at, inBounds, type);
      memref::StoreOp::create(e.b, e.loc, v, s.tile, tileAt);
      continue;
    }
    Value v = e.loadOrZero(s.operand.get(), at, inBounds, e.b.getF32Type());
    Value hi = e.castFloat(v, type);
    Value lo = e.castFloat(
        arith::SubFOp::create(e.b, e.loc, v, e.castFloat(hi, v.getType())),
        type);
    memref::StoreOp::create(e.b, e.loc, hi, s.tile, tileAt);
    memref::StoreOp::create(e.b, e.loc, lo, s.loTile, tileAt);
  }
}

void emitSimtTiles(Builder &e, const ContractionLoops &loops, Launch &launch,
                   Value M, Value N, Value K) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const GemmTiling t = kSimtTiling;
  Type f32 = b.getF32Type();
  OpOperand &a = *loops.op.getDpsInputOperand(0);
  OpOperand &bOp = *loops.op.getDpsInputOperand(1);
  Value aTile = launch.shared[0];
  Value bTile = launch.shared[1];
  Value tid = launch.threadX;
  Value tx = e.rem(tid, t.bn / kSimtCols);
  Value ty = e.div(tid, t.bn / kSimtCols);
  Value m0 = e.mul(launch.blockY, e.index(t.bm));
  Value n0 = e.mul(launch.blockX, e.index(t.bn));
  Value batch = launch.blockZ;
  Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kSimtRows * kSimtCols, zeroF);

  auto loop = scf::ForOp::create(b, loc, e.index(0), K, e.index(t.bk), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // Stage A (BM x BK, stored k-major) and B (BK x BN): each thread copies
    // BM * BK / threads elements of each, zero outside the matrices.
    stage(e, loops, batch, tid,
          Slice{a, false, aTile, Value(), true, t.bk,
                t.bm * t.bk / t.threads,
                t.threads, false, m0, M, k0, K},
          f32);
    stage(e, loops, batch, tid,
          Slice{bOp, true, bTile, Value(), false, t.bn,
                t.bk * t.bn / t.threads,
                t.threads, false, k0, K, n0, N},
          f32);
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> acc(loop.getRegionIterArgs());
    Value rowBase = e.mul(ty, e.index(kSimtRows));
    Value colBase = e.mul(tx, e.index(kSimtCols));
    for (int64_t kk = 0; kk < t.bk; ++kk) {
      Value kIdx = e.index(kk);
      SmallVector<Value> av, bv;
      for (int64_t i = 0; i < kSimtRows; ++i)
        av.push_back(memref::LoadOp::create(
            b, loc, aTile, ValueRange{kIdx, e.add(rowBase, e.index(i))}));
      for (int64_t j = 0; j < kSimtCols; ++j)
        bv.push_back(memref::LoadOp::create(
            b, loc, bTile, ValueRange{kIdx, e.add(colBase, e.index(j))}));
      for (int64_t i = 0; i < kSimtRows; ++i)
        for (int64_t j = 0; j < kSimtCols; ++j)
          acc[i * kSimtCols + j] = e.fma(av[i], bv[j], acc[i * kSimtCols + j]);
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }
  Value rowBase = e.add(m0, e.mul(ty, e.index(kSimtRows)));
  Value colBase = e.add(n0, e.mul(tx, e.index(kSimtCols)));
  for (int64_t i = 0; i < kSimtRows; ++i)
    for (int64_t j = 0; j < kSimtCols; ++j)
      accumulateInto(e, loops, batch, e.add(rowBase, e.index(i)),
                     e.add(colBase, e.index(j)), M, N,
                     loop.getResult(i * kSimtCols + j));
}

/// Shared tiles of the tensor-core form: A's and B's in the 16-bit type,
/// then the low parts of whichever operands are split (f32 as hi + lo).
struct MmaTiles {
  Value a, b, aLo, bLo;
};

void emitTensorCoreTiles(Builder &e, const ContractionLoops &loops,
                         Launch &launch, Value M, Value N, Value K,
                         Type elementType, const MmaTiles &tiles) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const GemmTiling t = kMmaTiling;
  OpOperand &a = *loops.op.getDpsInputOperand(0);
  OpOperand &bOp = *loops.op.getDpsInputOperand(1);
  Value tid = launch.threadX;
  Value warp = e.div(tid, 32), lane = e.rem(tid, 32);
  Value group = e.div(lane, 4), inGroup = e.rem(lane, 4);
  constexpr int64_t warpsPerRow = 64 / kWarpCols;
  Value warpRow = e.mul(e.div(warp, warpsPerRow), e.index(kWarpRows));
  Value warpCol = e.mul(e.rem(warp, warpsPerRow), e.index(kWarpCols));
  Value m0 = e.mul(launch.blockY, e.index(t.bm));
  Value n0 = e.mul(launch.blockX, e.index(t.bn));
  Value batch = launch.blockZ;
  constexpr int64_t fragRows = kWarpRows / 16, fragCols = kWarpCols / 8;
  Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(fragRows * fragCols * 4, zeroF);
  // The (A, B) tile pairs multiplied: hi x hi, and a split operand's low
  // part against the other's (lo x lo is below the f32 rounding).
  SmallVector<std::pair<Value, Value>> products{{tiles.a, tiles.b}};
  if (tiles.aLo)
    products.push_back({tiles.aLo, tiles.b});
  if (tiles.bLo)
    products.push_back({tiles.a, tiles.bLo});

  auto loop = scf::ForOp::create(b, loc, e.index(0), K, e.index(t.bk), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k0 = loop.getInductionVar();
    // A row by row (a thread copies a run of K); B read with consecutive
    // threads on consecutive columns (coalesced) and stored transposed, K
    // contiguous per column.
    int64_t perThread = t.bm * t.bk / t.threads;
    stage(e, loops, batch, tid,
          Slice{a, false, tiles.a, tiles.aLo, false, t.bk, perThread,
                t.threads, false, m0, M, k0, K},
          elementType);
    stage(e, loops, batch, tid,
          Slice{bOp, true, tiles.b, tiles.bLo, true, t.bn, perThread,
                t.threads, true, k0, K, n0, N},
          elementType);
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> acc(loop.getRegionIterArgs());
    for (int64_t ks = 0; ks < t.bk; ks += 16) {
      Value kLo = e.add(e.index(ks), e.mul(inGroup, e.index(2)));
      Value kHi = e.add(kLo, e.index(8));
      auto aFragments = [&](Value tile) {
        SmallVector<SmallVector<Value, 4>> frags;
        for (int64_t fr = 0; fr < fragRows; ++fr) {
          Value r0 = e.add(warpRow, e.add(e.index(fr * 16), group));
          Value r1 = e.add(r0, e.index(8));
          frags.push_back({loadMMAPair(b, loc, tile, r0, kLo),
                           loadMMAPair(b, loc, tile, r1, kLo),
                           loadMMAPair(b, loc, tile, r0, kHi),
                           loadMMAPair(b, loc, tile, r1, kHi)});
        }
        return frags;
      };
      auto bFragments = [&](Value tile) {
        SmallVector<SmallVector<Value, 4>> frags;
        for (int64_t fc = 0; fc < fragCols; ++fc) {
          Value col = e.add(warpCol, e.add(e.index(fc * 8), group));
          frags.push_back({loadMMAPair(b, loc, tile, col, kLo),
                           loadMMAPair(b, loc, tile, col, kHi)});
        }
        return frags;
      };
      for (auto [aTile, bTile] : products) {
        SmallVector<SmallVector<Value, 4>> aFrag = aFragments(aTile);
        SmallVector<SmallVector<Value, 4>> bFrag = bFragments(bTile);
        for (int64_t fr = 0; fr < fragRows; ++fr)
          for (int64_t fc = 0; fc < fragCols; ++fc) {
            int64_t base = (fr * fragCols + fc) * 4;
            SmallVector<Value, 4> d =
                mmaSync16816(b, loc, aFrag[fr], bFrag[fc],
                             ArrayRef<Value>(acc).slice(base, 4), elementType);
            for (int64_t i = 0; i < 4; ++i)
              acc[base + i] = d[i];
          }
      }
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }
  // Fragment (fr, fc) of C: lane (group, inGroup) holds rows group and
  // group + 8, columns 2 * inGroup and 2 * inGroup + 1.
  for (int64_t fr = 0; fr < fragRows; ++fr)
    for (int64_t fc = 0; fc < fragCols; ++fc) {
      Value r0 = e.add(m0, e.add(warpRow, e.add(e.index(fr * 16), group)));
      Value c0 = e.add(n0, e.add(warpCol, e.add(e.index(fc * 8),
                                                e.mul(inGroup, e.index(2)))));
      int64_t base = (fr * fragCols + fc) * 4;
      for (int64_t i = 0; i < 4; ++i) {
        Value row = i < 2 ? r0 : e.add(r0, e.index(8));
        Value col = e.add(c0, e.index(i % 2));
        accumulateInto(e, loops, batch, row, col, M, N, loop.getResult(base + i));
      }
    }
}

} // namespace

LogicalResult emitContraction(OpBuilder &b, linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return failure();
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
      dims->k.size() != 1 || dims->batch.size() > 1)
    return failure();
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !isa<FloatType>(type.getElementType()) ||
        !op.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return failure();
  }
  ContractionLoops loops{op,
                         dims->batch.empty()
                             ? std::nullopt
                             : std::optional<unsigned>(dims->batch[0]),
                         dims->m[0], dims->n[0], dims->k[0]};
  Type aType = getElementTypeOrSelf(op.getDpsInputOperand(0)->get().getType());
  Type bType = getElementTypeOrSelf(op.getDpsInputOperand(1)->get().getType());
  // bf16 against f32: the f32 operand split into two bf16 parts.
  bool splitA = aType.isF32() && bType.isBF16();
  bool splitB = aType.isBF16() && bType.isF32();
  bool tensorCores = (aType == bType && (aType.isF16() || aType.isBF16())) ||
                     splitA || splitB;
  Type mmaType = splitA ? bType : aType;
  const GemmTiling t = tensorCores ? kMmaTiling : kSimtTiling;

  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  Builder e{b, loc};
  SmallVector<Range> ranges = op.createLoopRanges(b, loc);
  auto size = [&](unsigned d) {
    return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
  };
  Value M = size(loops.m), N = size(loops.n), K = size(loops.k);
  Value batches = loops.batch ? size(*loops.batch) : e.index(1);
  Value work = e.mul(e.mul(M, N), batches);
  std::array<Value, 3> grid{
      arith::CeilDivUIOp::create(b, loc, N, e.index(t.bn)),
      arith::CeilDivUIOp::create(b, loc, M, e.index(t.bm)), batches};
  SmallVector<Type, 4> shared;
  if (tensorCores) {
    Type aTile = getWorkgroupBufferType({t.bm, t.bk + kMmaPad}, mmaType);
    Type bTile = getWorkgroupBufferType({t.bn, t.bk + kMmaPad}, mmaType);
    shared.append({aTile, bTile});
    if (splitA)
      shared.push_back(aTile);
    if (splitB)
      shared.push_back(bTile);
  } else {
    shared.push_back(getWorkgroupBufferType({t.bk, t.bm}, b.getF32Type()));
    shared.push_back(getWorkgroupBufferType({t.bk, t.bn}, b.getF32Type()));
  }
  Launch launch = createGuardedLaunch(b, loc, work, grid, t.threads, shared);
  if (tensorCores)
    emitTensorCoreTiles(e, loops, launch, M, N, K, mmaType,
                        MmaTiles{launch.shared[0], launch.shared[1],
                                 splitA ? launch.shared[2] : Value(),
                                 splitB ? launch.shared[2] : Value()});
  else
    emitSimtTiles(e, loops, launch, M, N, K);
  op->erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
