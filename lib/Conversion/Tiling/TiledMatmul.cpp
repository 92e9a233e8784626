//===- TiledMatmul.cpp - Matrix products cut into tiles -------------------===//
//
// The loop nest is Goto's (as in BLIS, OpenBLAS and IREE's mmt4d path):
//
//   forall tasks (row block x column block of C)
//     for pc in K step kc          B panel kc x cols stays in L1
//       pack B[pc.., task cols]    (when m is large enough to repay it;
//                                   else B is read in place with a short
//                                   kc: kc row streams swept left to right)
//       for ic in task rows step mc
//         pack A[ic.., pc..]       A block mc x kc stays in L2
//         for jr in task cols step cols
//           for each row tile      one tile kernel call
//
// Packing turns B's row-strided reads (a new page every k step) into one
// contiguous stream and A's rows into the broadcast order of the register
// tile. Rows left over by full tiles use smaller row tiles, never padding;
// columns left over go through a zero-padded copy of the C tile.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/TiledMatmul.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::hybrid;

Value mlir::hybrid::flattenBuffer(KernelBuilder &kb, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  Value flat = buffer;
  if (type.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    flat = memref::CollapseShapeOp::create(kb.b, kb.loc, buffer,
                                           ArrayRef<ReassociationIndices>{all});
  }
  auto dynamic =
      MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  if (flat.getType() == dynamic)
    return flat;
  return memref::CastOp::create(kb.b, kb.loc, dynamic, flat);
}

void mlir::hybrid::forEachRowTile(KernelBuilder &kb,
                                  ArrayRef<int64_t> rowTiles, Value count,
                                  function_ref<void(Value, int64_t)> body) {
  Value start = kb.index(0);
  for (int64_t rows : rowTiles) {
    Value size = kb.index(rows);
    Value tiles = kb.divui(kb.subi(count, start), size);
    Value end = kb.addi(start, kb.muli(tiles, size));
    kb.loop(start, end, size, [&](Value rowStart) { body(rowStart, rows); });
    start = end;
  }
}

/// K steps per block of an in-place product.
static constexpr int64_t kRowMajorAKBlock = 256;

void mlir::hybrid::emitInPlaceProduct(
    KernelBuilder &kb, const MatmulTiling &tiling, Value c, Value cOff,
    Value ldc, TileALayout layout, Value a, Value aOff, Value lda,
    std::optional<int64_t> staticLda, Value b, Value bOff, Value ldb,
    Value rows, Value cols, Value k) {
  auto module =
      kb.b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  // Whole register tiles of columns, then one vector for the rest.
  Value tile = kb.index(tiling.cols);
  Value wholeCols = kb.muli(kb.divui(cols, tile), tile);
  // K in blocks so that a column strip of B (kc x cols) stays in L1 next
  // to the rows of A it meets (kc = 256: 32 KB + 12 KB at 12 x 32).
  Value kc = kb.index(kRowMajorAKBlock);
  kb.loop(kb.index(0), k, kc, [&](Value p0) {
    Value kcur = kb.minui(kc, kb.subi(k, p0));
    forEachRowTile(kb, tiling.rowTiles, rows, [&](Value r, int64_t tileRows) {
      Value aRow = layout == TileALayout::RowMajor
                       ? kb.addi(kb.addi(aOff, kb.muli(r, lda)), p0)
                       : kb.addi(kb.addi(aOff, kb.muli(p0, lda)), r);
      Value bRow = kb.addi(bOff, kb.muli(p0, ldb));
      Value cRow = kb.addi(cOff, kb.muli(r, ldc));
      auto call = [&](int64_t colTile, Value c0) {
        func::FuncOp kernel = getOrDeclareMatmulTileKernel(
            module, tileRows, colTile, layout, staticLda);
        func::CallOp::create(kb.b, kb.loc, kernel,
                             ValueRange{kcur, a, aRow, lda, b,
                                        kb.addi(bRow, c0), ldb, c,
                                        kb.addi(cRow, c0), ldc});
      };
      kb.loop(kb.index(0), wholeCols, tile,
              [&](Value c0) { call(tiling.cols, c0); });
      kb.loop(wholeCols, cols, kb.index(tiling.vectorWidth),
              [&](Value c0) { call(tiling.vectorWidth, c0); });
    });
  });
}

namespace {

/// One task's share of the product and the emission of its loop nest.
class MatmulTask {
public:
  MatmulTask(KernelBuilder &kb, const MatmulTiling &tiling, ModuleOp module,
             Value c, Value a, Value b, bool bPanels, Value n, Value k)
      : kb(kb), t(tiling), module(module), c(c), a(a), b(b), bPanels(bPanels),
        n(n), k(k) {}

  /// C[r0:r1, c0:c1] += A[r0:r1, :] B[:, c0:c1]; B packed when `packB`
  /// (never when B is already in panels).
  void emit(Value r0, Value r1, Value c0, Value c1, Value packB,
            Value fill);

private:
  /// Packs B[pc:pc+kcur, col0:col0+width) into one zero-padded panel of
  /// `t.cols` columns at `dst[dstOff]` (k-major).
  void packBPanel(Value dst, Value dstOff, Value pc, Value kcur, Value col0,
                  Value width);
  /// Packs A[row0:row0+count, pc:pc+kcur) into row-tile panels at `dst`.
  void packA(Value dst, Value row0, Value count, Value pc, Value kcur);
  /// One register tile: rows at `row` (absolute) of the packed A block at
  /// `aOff`, columns [col, col+width) from (bBuf, bOff, ldb); with
  /// `streamB` (an i1, or null) the kernel that fetches B ahead.
  void tile(int64_t rows, Value kcur, Value aPacked, Value aOff, Value bBuf,
            Value bOff, Value ldb, Value row, Value col, Value width,
            Value streamB);

  KernelBuilder &kb;
  const MatmulTiling &t;
  ModuleOp module;
  Value c, a, b;
  /// B is already in column panels of t.cols (a prepacked weight).
  bool bPanels;
  Value n, k;
};

} // namespace

void MatmulTask::packBPanel(Value dst, Value dstOff, Value pc, Value kcur,
                            Value col0, Value width) {
  Value cols = kb.index(t.cols);
  Value one = kb.f32(1.0);
  kb.loop(kb.index(0), kcur, kb.index(1), [&](Value p) {
    Value to = kb.addi(dstOff, kb.muli(p, cols));
    Value from = kb.addi(kb.muli(kb.addi(pc, p), n), col0);
    kb.scaleCopy(dst, {to}, one, b, {from}, width);
    kb.fill(dst, {kb.addi(to, width)}, kb.f32(0.0), kb.subi(cols, width));
  });
}

void MatmulTask::packA(Value dst, Value row0, Value count, Value pc,
                       Value kcur) {
  forEachRowTile(kb, t.rowTiles, count, [&](Value rowStart, int64_t rows) {
    Value base = kb.muli(rowStart, kcur);
    SmallVector<Value> from;
    for (int64_t r = 0; r < rows; ++r)
      from.push_back(kb.addi(
          kb.muli(kb.addi(row0, kb.addi(rowStart, kb.index(r))), k), pc));
    // One k step of the tile's rows per iteration: `rows` streams read,
    // one contiguous run written.
    kb.loop(kb.index(0), kcur, kb.index(1), [&](Value p) {
      Value to = kb.addi(base, kb.muli(p, kb.index(rows)));
      for (int64_t r = 0; r < rows; ++r)
        kb.store(kb.load(a, {kb.addi(from[r], p)}), dst,
                 {kb.addi(to, kb.index(r))});
    });
  });
}

void MatmulTask::tile(int64_t rows, Value kcur, Value aPacked, Value aOff,
                      Value bBuf, Value bOff, Value ldb, Value row, Value col,
                      Value width, Value streamB) {
  func::FuncOp plain = getOrDeclareMatmulTileKernel(module, rows, t.cols);
  auto callKernel = [&](ValueRange operands) {
    if (!streamB) {
      func::CallOp::create(kb.b, kb.loc, plain, operands);
      return;
    }
    func::FuncOp streaming = getOrDeclareMatmulTileKernel(
        module, rows, t.cols, TileALayout::KMajor, std::nullopt,
        /*streamB=*/true);
    kb.ifThenElse(
        streamB, {},
        [&]() -> SmallVector<Value> {
          func::CallOp::create(kb.b, kb.loc, streaming, operands);
          return {};
        },
        [&]() -> SmallVector<Value> {
          func::CallOp::create(kb.b, kb.loc, plain, operands);
          return {};
        });
  };
  Value cOff = kb.addi(kb.muli(row, n), col);
  Value full = kb.cmpi(arith::CmpIPredicate::eq, width, kb.index(t.cols));
  kb.ifThenElse(
      full, {},
      [&]() -> SmallVector<Value> {
        callKernel(ValueRange{kcur, aPacked, aOff, kb.index(rows), bBuf, bOff,
                              ldb, c, cOff, n});
        return {};
      },
      [&]() -> SmallVector<Value> {
        // The last columns: through a zero-padded copy of the C tile.
        Value cols = kb.index(t.cols);
        Value scratch = kb.scratch(kb.index(rows * t.cols), kb.b.getF32Type());
        Value one = kb.f32(1.0);
        for (int64_t r = 0; r < rows; ++r) {
          Value to = kb.index(r * t.cols);
          Value from = kb.addi(cOff, kb.muli(kb.index(r), n));
          kb.scaleCopy(scratch, {to}, one, c, {from}, width);
          kb.fill(scratch, {kb.addi(to, width)}, kb.f32(0.0),
                  kb.subi(cols, width));
        }
        callKernel(ValueRange{kcur, aPacked, aOff, kb.index(rows), bBuf, bOff,
                              ldb, scratch, kb.index(0), cols});
        for (int64_t r = 0; r < rows; ++r)
          kb.scaleCopy(c, {kb.addi(cOff, kb.muli(kb.index(r), n))}, one,
                       scratch, {kb.index(r * t.cols)}, width);
        return {};
      });
}

void MatmulTask::emit(Value r0, Value r1, Value c0, Value c1, Value packB,
                      Value fill) {
  using P = arith::CmpIPredicate;
  Type f32 = kb.b.getF32Type();
  Value cols = kb.index(t.cols);
  // Panels (packed here or prepacked) are contiguous in k: long blocks. A
  // single row with prepacked panels (a decode step's GEMV) runs each panel
  // whole: one contiguous stream, the accumulators kept throughout (more
  // rows take several row tiles, which would each stream the panel again).
  Value kc = kb.select(packB, kb.index(t.kc), kb.index(t.inPlaceKc));
  if (bPanels)
    kc = kb.select(kb.cmpi(P::eq, kb.subi(r1, r0), kb.index(1)), k,
                   kb.index(t.kc));
  Value mc = kb.index(t.mc);
  Value nc = kb.index(t.nc);
  // Scratch of this task: the packed A block and, unless B comes in panels,
  // the packed B block and one padded panel for the last columns of an
  // in-place B.
  Value aPacked = kb.alloc(
      {OpFoldResult(kb.muli(kb.minui(mc, kb.subi(r1, r0)), kc))}, f32);
  Value bPacked, bEdge;
  if (!bPanels) {
    bPacked = kb.alloc({OpFoldResult(kb.muli(nc, kc))}, f32);
    bEdge = kb.alloc({OpFoldResult(kb.muli(cols, kc))}, f32);
  }
  bool bIsF32 =
      cast<MemRefType>(b.getType()).getElementType().isF32();
  // Prepacked panels that few rows read come from memory once per task:
  // fetched ahead (with many rows each chunk stays in cache for them all).
  Value streamB;
  if (bPanels)
    streamB = kb.cmpi(P::ult, kb.subi(r1, r0), kb.index(t.packThreshold));


  // The task's block of C starts as `fill` (when the product's init is a
  // constant), written here rather than copied in: in parallel, and once.
  if (fill)
    kb.loop(r0, r1, kb.index(1), [&](Value r) {
      kb.fill(c, {kb.addi(kb.muli(r, n), c0)}, fill, kb.subi(c1, c0));
    });
  // Column blocks of nc keep the packed B block (kc x nc) in L2/L3.
  kb.loop(c0, c1, nc, [&](Value jc) {
  Value width = kb.minui(nc, kb.subi(c1, jc));
  kb.loop(kb.index(0), k, kc, [&](Value pc) {
    Value kcur = kb.minui(kc, kb.subi(k, pc));
    if (!bPanels)
    kb.ifThen(packB, [&] {
      // Row by row of B (contiguous reads), scattered to the panels.
      kb.loop(kb.index(0), kcur, kb.index(1), [&](Value p) {
        kb.loop(kb.index(0), width, cols, [&](Value j) {
          packBPanel(bPacked, kb.addi(kb.muli(j, kcur), kb.muli(p, cols)),
                     kb.addi(pc, p), kb.index(1), kb.addi(jc, j),
                     kb.minui(cols, kb.subi(width, j)));
        });
      });
    });
    kb.loop(r0, r1, mc, [&](Value ic) {
      Value mcur = kb.minui(mc, kb.subi(r1, ic));
      packA(aPacked, ic, mcur, pc, kcur);
      kb.loop(kb.index(0), width, cols, [&](Value j) {
        Value col = kb.addi(jc, j);
        Value w = kb.minui(cols, kb.subi(width, j));
        // Where this column panel of B is read from.
        SmallVector<Value> source;
        if (bPanels) {
          // Panel col / cols, k steps from pc.
          source = {b,
                    kb.addi(kb.muli(kb.divui(col, cols), kb.muli(k, cols)),
                            kb.muli(pc, cols)),
                    cols};
        } else if (!bIsF32) {
          source = {bPacked, kb.muli(j, kcur), cols};
        } else {
          Value inPlace =
              kb.andi(kb.notI(packB), kb.cmpi(P::eq, w, cols));
          Type flatType = bPacked.getType();
          Type index = kb.b.getIndexType();
          source = kb.ifThenElse(
              inPlace, {flatType, index, index},
              [&]() -> SmallVector<Value> {
                return {b, kb.addi(kb.muli(pc, n), col), n};
              },
              [&]() -> SmallVector<Value> {
                return kb.ifThenElse(
                    packB, {flatType, index, index},
                    [&]() -> SmallVector<Value> {
                      return {bPacked, kb.muli(j, kcur), cols};
                    },
                    [&]() -> SmallVector<Value> {
                      packBPanel(bEdge, kb.index(0), pc, kcur, col, w);
                      return {bEdge, kb.index(0), cols};
                    });
              });
        }
        forEachRowTile(kb, t.rowTiles, mcur, [&](Value rowStart, int64_t rows) {
          tile(rows, kcur, aPacked, kb.muli(rowStart, kcur), source[0],
               source[1], source[2], kb.addi(ic, rowStart), col, w, streamB);
        });
      });
    });
  });
  });
}

/// Rows of B per pass of the split-K product.
static constexpr int64_t kSplitKUnroll = 4;

/// A product of a few rows (a decode step's GEMV): tasks split K, so each
/// streams whole rows of B (contiguous, where a split of N would start a
/// new page every k step) into its own partial C; the partials are then
/// added into C by column blocks.
static void emitSplitKProduct(KernelBuilder &kb, const MatmulTiling &tiling,
                              Value c, Value a, Value b, Value m, Value n,
                              Value k, Value fill) {
  Value tasks = kb.index(tiling.targetTasks);
  Value perTask = kb.ceilDiv(k, tasks);
  Value rowsTimesCols = kb.muli(m, n);
  Value partials = kb.alloc(
      {OpFoldResult(kb.maxsi(kb.muli(tasks, rowsTimesCols), kb.index(1)))},
      kb.b.getF32Type());
  Value one = kb.f32(1.0);
  kb.forall({tasks}, [&](ValueRange ivs) {
    Value p0 = kb.minui(k, kb.muli(ivs[0], perTask));
    Value p1 = kb.minui(k, kb.addi(p0, perTask));
    Value base = kb.muli(ivs[0], rowsTimesCols);
    kb.fill(partials, {base}, kb.f32(0.0), rowsTimesCols);
    // Four rows of B per pass over the partial row: 4 FMAs per partial
    // vector loaded and stored.
    Value unroll = kb.index(kSplitKUnroll);
    Value p4 = kb.subi(p1, kb.remui(kb.subi(p1, p0), unroll));
    Value lanes = kb.index(tiling.vectorWidth);
    Value nVec = kb.subi(n, kb.remui(n, lanes));
    auto vecType = VectorType::get({tiling.vectorWidth}, kb.b.getF32Type());
    kb.loop(kb.index(0), m, kb.index(1), [&](Value r) {
      Value row = kb.addi(base, kb.muli(r, n));
      kb.loop(p0, p4, unroll, [&](Value p) {
        SmallVector<Value> xs, bRows;
        for (int64_t u = 0; u < kSplitKUnroll; ++u) {
          Value pu = kb.addi(p, kb.index(u));
          xs.push_back(vector::BroadcastOp::create(
              kb.b, kb.loc, vecType, kb.load(a, {kb.addi(kb.muli(r, k), pu)})));
          bRows.push_back(kb.muli(pu, n));
        }
        kb.loop(kb.index(0), nVec, lanes, [&](Value j) {
          Value at = kb.addi(row, j);
          Value acc = vector::LoadOp::create(kb.b, kb.loc, vecType, partials,
                                             ValueRange{at});
          for (int64_t u = 0; u < kSplitKUnroll; ++u) {
            Value bv = vector::LoadOp::create(
                kb.b, kb.loc, vecType, b, ValueRange{kb.addi(bRows[u], j)});
            acc = vector::FMAOp::create(kb.b, kb.loc, bv, xs[u], acc);
          }
          vector::StoreOp::create(kb.b, kb.loc, acc, partials, ValueRange{at});
        });
        for (int64_t u = 0; u < kSplitKUnroll; ++u)
          kb.scaleAdd(partials, {kb.addi(row, nVec)}, one,
                      kb.load(a, {kb.addi(kb.muli(r, k), kb.addi(p, kb.index(u)))}),
                      b, {kb.addi(bRows[u], nVec)}, kb.subi(n, nVec));
      });
      kb.loop(p4, p1, kb.index(1), [&](Value p) {
        Value x = kb.load(a, {kb.addi(kb.muli(r, k), p)});
        kb.scaleAdd(partials, {row}, one, x, b, {kb.muli(p, n)}, n);
      });
    });
  });
  Value blockCols = kb.index(tiling.inPlaceTaskCols);
  kb.forall({kb.ceilDiv(n, blockCols)}, [&](ValueRange ivs) {
    Value j0 = kb.muli(ivs[0], blockCols);
    Value width = kb.minui(blockCols, kb.subi(n, j0));
    kb.loop(kb.index(0), m, kb.index(1), [&](Value r) {
      Value at = kb.addi(kb.muli(r, n), j0);
      if (fill)
        kb.fill(c, {at}, fill, width);
      kb.loop(kb.index(0), tasks, kb.index(1), [&](Value t) {
        kb.scaleAdd(c, {at}, one, one, partials,
                    {kb.addi(kb.muli(t, rowsTimesCols), at)}, width);
      });
    });
  });
}

/// Widest C handled as a few columns (a decode step's projection computed
/// as y^T = W x^T has as many columns as tokens; a draft chain's
/// verification a few more).
static constexpr int64_t kFewColumns = 16;
/// Rows of A and columns of C per pass of the few-column product: 4 x 4
/// accumulators, 4 A vectors and a B vector stay in registers.
static constexpr int64_t kFewColumnsRows = 4;
static constexpr int64_t kFewColumnsCols = 4;

/// A product with a few columns and many rows (the weights as A): packing
/// A would copy every weight with scalar code for one use. Instead each
/// task streams its rows of A, four rows per pass, against four contiguous
/// columns of B at a time (B transposed once, it is small): sixteen
/// independent vector FMA chains, so A is read once per four columns; the
/// last columns one at a time.
static void emitFewColumnsProduct(KernelBuilder &kb,
                                  const MatmulTiling &tiling, Value c,
                                  Value a, Value b, Value m, Value n, Value k,
                                  Value fill) {
  Type f32 = kb.b.getF32Type();
  Value bt = kb.alloc({OpFoldResult(kb.maxsi(kb.muli(n, k), kb.index(1)))},
                      f32);
  kb.loop(kb.index(0), n, kb.index(1), [&](Value j) {
    kb.loop(kb.index(0), k, kb.index(1), [&](Value p) {
      kb.store(kb.load(b, {kb.addi(kb.muli(p, n), j)}), bt,
               {kb.addi(kb.muli(j, k), p)});
    });
  });
  auto vecType = VectorType::get({tiling.vectorWidth}, f32);
  Value zeroVec = arith::ConstantOp::create(
      kb.b, kb.loc, vecType, DenseElementsAttr::get(vecType, 0.0f));
  Value lanes = kb.index(tiling.vectorWidth);
  Value kVec = kb.subi(k, kb.remui(k, lanes));
  Value quad = kb.index(kFewColumnsRows);
  Value colGroup = kb.index(kFewColumnsCols);
  Value nGroups = kb.subi(n, kb.remui(n, colGroup));
  // Row blocks of whole passes, several per thread for balance.
  Value tasks = kb.index(4 * tiling.targetTasks);
  Value rowsPerTask =
      kb.muli(kb.ceilDiv(kb.ceilDiv(m, tasks), quad), quad);
  kb.forall({kb.ceilDiv(m, rowsPerTask)}, [&](ValueRange ivs) {
    Value r0 = kb.muli(ivs[0], rowsPerTask);
    Value r1 = kb.minui(m, kb.addi(r0, rowsPerTask));
    Value rQuads = kb.subi(r1, kb.remui(kb.subi(r1, r0), quad));
    // C = fill + A B, or C += A B when C holds the product's `outs`.
    auto finish = [&](Value row, Value j, Value sum) {
      Value at = kb.addi(kb.muli(row, n), j);
      sum = arith::AddFOp::create(kb.b, kb.loc, sum,
                                  fill ? fill : kb.load(c, {at}));
      kb.store(sum, c, {at});
    };
    // The scalar tail of row `rowStart` . column `bRow` past kVec.
    auto tail = [&](Value sum, Value rowStart, Value bRow) {
      return kb.loop(kVec, k, kb.index(1), {sum},
                     [&](Value p, ValueRange iters) -> SmallVector<Value> {
                       Value x = kb.load(a, {kb.addi(rowStart, p)});
                       Value y = kb.load(bt, {kb.addi(bRow, p)});
                       return {arith::AddFOp::create(kb.b, kb.loc, iters[0],
                                                     kb.mulf(x, y))};
                     })[0];
    };
    auto bRowsOf = [&](Value j0, int64_t cols) {
      SmallVector<Value> bRows;
      for (int64_t j = 0; j < cols; ++j)
        bRows.push_back(kb.muli(kb.addi(j0, kb.index(j)), k));
      return bRows;
    };
    // Rows [r, r + 4) against columns [j0, j0 + cols): each vector of A
    // used for every column (4 x cols FMA chains), one reduction each.
    auto quadColumns = [&](Value r, ArrayRef<Value> rowStarts, Value j0,
                           int64_t cols) {
      SmallVector<Value> bRows = bRowsOf(j0, cols);
      SmallVector<Value> inits(kFewColumnsRows * cols, zeroVec);
      SmallVector<Value> accs = kb.loop(
          kb.index(0), kVec, lanes, inits,
          [&](Value p, ValueRange iters) -> SmallVector<Value> {
            SmallVector<Value> av;
            for (int64_t i = 0; i < kFewColumnsRows; ++i)
              av.push_back(kb.vectorRead(a, {rowStarts[i]}, p));
            SmallVector<Value> next(iters.begin(), iters.end());
            for (int64_t j = 0; j < cols; ++j) {
              Value bv = kb.vectorRead(bt, {bRows[j]}, p);
              for (int64_t i = 0; i < kFewColumnsRows; ++i)
                next[i * cols + j] = vector::FMAOp::create(
                    kb.b, kb.loc, av[i], bv, iters[i * cols + j]);
            }
            return next;
          });
      for (int64_t i = 0; i < kFewColumnsRows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          Value sum = vector::ReductionOp::create(
              kb.b, kb.loc, vector::CombiningKind::ADD, accs[i * cols + j]);
          finish(kb.addi(r, kb.index(i)), kb.addi(j0, kb.index(j)),
                 tail(sum, rowStarts[i], bRows[j]));
        }
    };
    // Four rows of A at a time against every column (groups of four, then
    // the last columns one at a time): the rows come from memory once and
    // stay in L1/L2 for the other groups (the transposed B is small and
    // stays there too). Column groups outside would stream A once per
    // group.
    kb.loop(r0, rQuads, quad, [&](Value r) {
      SmallVector<Value> rowStarts;
      for (int64_t i = 0; i < kFewColumnsRows; ++i)
        rowStarts.push_back(kb.muli(kb.addi(r, kb.index(i)), k));
      kb.loop(kb.index(0), nGroups, colGroup, [&](Value j0) {
        quadColumns(r, rowStarts, j0, kFewColumnsCols);
      });
      kb.loop(nGroups, n, kb.index(1),
              [&](Value j) { quadColumns(r, rowStarts, j, 1); });
    });
    // The rows left over by whole quads: one dot product per column.
    kb.loop(rQuads, r1, kb.index(1), [&](Value r) {
      kb.loop(kb.index(0), n, kb.index(1), [&](Value j) {
        finish(r, j, kb.dot(a, {kb.muli(r, k)}, bt, {kb.muli(j, k)}, k));
      });
    });
  });
}

/// The general product: tasks over blocks of C, packed panels, tiles.
static void emitPackedProduct(KernelBuilder &kb, const MatmulTiling &tiling,
                              Value cFlat, Value aFlat, Value bFlat,
                              bool bIsF32, bool bPanels, Value m, Value n,
                              Value k, Value fill) {
  using P = arith::CmpIPredicate;
  auto module =
      kb.b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();

  // The task grid. With B packed, `targetTasks` tasks split into row x
  // column blocks so that packing copies least: each column block packs
  // all of its rows of A, each row block all of its columns of B, so the
  // split minimises m * colTasks + n * rowTasks. With B read in place (few
  // rows), narrow column blocks only.
  // (Prepacked panels are split as a packed B would be: for many rows in
  // both directions, so that A is packed least; for few rows, narrow
  // column blocks.)
  Value packB = kb.cmpi(P::uge, m, kb.index(tiling.packThreshold));
  if (!bIsF32)
    packB = kb.boolean(true);
  Value colTasks = kb.index(1), best = Value();
  for (int64_t cTasks = 1; cTasks <= tiling.targetTasks; cTasks *= 2) {
    int64_t rTasks = std::max<int64_t>(1, tiling.targetTasks / cTasks);
    Value cost = kb.addi(kb.muli(m, kb.index(cTasks)),
                         kb.muli(n, kb.index(rTasks)));
    if (!best) {
      best = cost;
      continue;
    }
    Value better = kb.cmpi(P::ult, cost, best);
    colTasks = kb.select(better, kb.index(cTasks), colTasks);
    best = kb.select(better, cost, best);
  }
  Value rowTasks = kb.maxsi(
      kb.divui(kb.index(tiling.targetTasks), colTasks), kb.index(1));
  colTasks = kb.select(packB, colTasks,
                       kb.maxsi(kb.ceilDiv(n, kb.index(tiling.inPlaceTaskCols)),
                                kb.minui(kb.index(tiling.targetTasks),
                                         kb.ceilDiv(n, kb.index(tiling.cols)))));
  rowTasks = kb.select(packB, rowTasks, kb.index(1));
  // Block sizes: positive multiples of the register tile.
  auto blockOf = [&](Value size, Value tasks, int64_t unit) {
    Value units = kb.ceilDiv(kb.ceilDiv(size, kb.maxsi(tasks, kb.index(1))),
                             kb.index(unit));
    return kb.muli(kb.maxsi(units, kb.index(1)), kb.index(unit));
  };
  Value rowsPerTask = blockOf(m, rowTasks, tiling.rows());
  Value taskCols = blockOf(n, colTasks, tiling.cols);
  rowTasks = kb.ceilDiv(m, rowsPerTask);
  colTasks = kb.ceilDiv(n, taskCols);

  MatmulTask task(kb, tiling, module, cFlat, aFlat, bFlat, bPanels, n, k);
  kb.forall({rowTasks, colTasks}, [&](ValueRange ivs) {
    Value r0 = kb.muli(ivs[0], rowsPerTask);
    Value r1 = kb.minui(m, kb.addi(r0, rowsPerTask));
    Value c0 = kb.muli(ivs[1], taskCols);
    Value c1 = kb.minui(n, kb.addi(c0, taskCols));
    task.emit(r0, r1, c0, c1, packB, fill);
  });
}

void mlir::hybrid::emitTiledMatmul(KernelBuilder &kb,
                                   const MatmulTiling &tiling, Value c,
                                   Value a, Value b, Value m, Value n, Value k,
                                   Value fill, bool bPanels) {
  Value cFlat = flattenBuffer(kb, c), aFlat = flattenBuffer(kb, a),
        bFlat = flattenBuffer(kb, b);
  bool bIsF32 = cast<MemRefType>(b.getType()).getElementType().isF32();
  if (!bIsF32 || bPanels) {
    emitPackedProduct(kb, tiling, cFlat, aFlat, bFlat, bIsF32, bPanels, m, n,
                      k, fill);
    return;
  }
  using P = arith::CmpIPredicate;
  kb.ifThenElse(
      kb.cmpi(P::ult, m, kb.index(tiling.splitKRows)), {},
      [&]() -> SmallVector<Value> {
        emitSplitKProduct(kb, tiling, cFlat, aFlat, bFlat, m, n, k, fill);
        return {};
      },
      [&]() -> SmallVector<Value> {
        kb.ifThenElse(
            kb.cmpi(P::ule, n, kb.index(kFewColumns)), {},
            [&]() -> SmallVector<Value> {
              emitFewColumnsProduct(kb, tiling, cFlat, aFlat, bFlat, m, n, k,
                                    fill);
              return {};
            },
            [&]() -> SmallVector<Value> {
              emitPackedProduct(kb, tiling, cFlat, aFlat, bFlat, bIsF32,
                                /*bPanels=*/false, m, n, k, fill);
              return {};
            });
        return {};
      });
}
