//===- TileKernels.cpp - Tile kernel declarations and target tilings ------===//

#include "hybrid/Conversion/Tiling/TileKernels.h"

#include "llvm/ADT/Twine.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {
StringRef layoutName(TileALayout layout) {
  return layout == TileALayout::KMajor ? "k_major" : "row_major";
}
} // namespace

func::FuncOp mlir::hybrid::getOrDeclareMatmulTileKernel(ModuleOp module,
                                                        int64_t rows,
                                                        int64_t cols,
                                                        TileALayout layout,
                                                        std::optional<int64_t> staticLda,
                                                        bool streamB) {
  std::string name =
      ("__hybrid_tile_matmul_" + Twine(rows) + "x" + Twine(cols) +
       (layout == TileALayout::RowMajor ? "_rowA" : "") +
       (staticLda ? "_lda" + Twine(*staticLda) : Twine()) +
       (streamB ? "_streamB" : ""))
          .str();
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto fn = func::FuncOp::create(b, module.getLoc(), name,
                                 getMatmulTileKernelType(b.getContext()));
  fn.setPrivate();
  fn->setAttr(kTileKernelAttrName, b.getStringAttr("matmul"));
  fn->setAttr(kTileRowsAttrName, b.getI64IntegerAttr(rows));
  fn->setAttr(kTileColsAttrName, b.getI64IntegerAttr(cols));
  fn->setAttr(kTileALayoutAttrName, b.getStringAttr(layoutName(layout)));
  if (staticLda)
    fn->setAttr(kTileStaticLdaAttrName, b.getI64IntegerAttr(*staticLda));
  if (streamB)
    fn->setAttr(kTileStreamBAttrName, b.getUnitAttr());
  return fn;
}

FailureOr<TileALayout> mlir::hybrid::getTileALayout(func::FuncOp kernel) {
  auto attr = kernel->getAttrOfType<StringAttr>(kTileALayoutAttrName);
  if (!attr)
    return TileALayout::KMajor;
  for (TileALayout layout : {TileALayout::KMajor, TileALayout::RowMajor})
    if (attr.getValue() == layoutName(layout))
      return layout;
  return failure();
}

FunctionType mlir::hybrid::getMatmulTileKernelType(MLIRContext *ctx) {
  Builder b(ctx);
  Type index = b.getIndexType();
  Type flat = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
  return b.getFunctionType(
      {index, flat, index, index, flat, index, index, flat, index, index}, {});
}

/// The tiling with the given register tile; the cache blocks and the work
/// split are the same for both kinds of product.
static MatmulTiling tilingWith(int64_t vectorWidth, int64_t vectors,
                               SmallVector<int64_t, 3> rowTiles) {
  MatmulTiling t;
  t.vectorWidth = vectorWidth;
  t.cols = vectors * vectorWidth;
  t.rowTiles = std::move(rowTiles);
  // kc x cols of B (48-72 KB at kc = 384) is streamed from L1/L2 once per
  // row tile; a rows x kc A panel (12-18 KB) stays in L1, mc x kc of A in
  // L2, kc x nc of packed B (3 MB) in L2/L3. Measured on a 2-core Zen 5
  // (48 KB L1d, 1 MB L2): kc 256-512 and nc 1024-2048 are within noise of
  // each other; kc 192 and mc 96 are slower. On a 2-core Xeon (48 KB L1d,
  // 2 MB L2) with 8 x 48 tiles, kc 256 and 384, nc 512-2048 are within
  // noise too.
  t.kc = 384;
  t.mc = t.rows() * 16;
  // A whole number of register tiles: the packed B block holds nc / cols
  // panels.
  t.nc = 2048 / t.cols * t.cols;
  // Measured crossover on 1B up-projections (x @ W, K 2048, N 8192): read
  // in place with inPlaceKc / packed, 64 rows 11.2 / 13.1 ms, 96 rows
  // 15.8 / 18.0, 128 rows 22.7 / 21.2, 192 rows 32.9 / 28.9.
  t.packThreshold = 112;
  t.inPlaceTaskCols = 32 * vectorWidth;
  // 1B projections at 16 rows (x @ W, W [2048 x 8192] read in place): kc 384
  // 10.0 ms, 64 4.6 ms, 48 4.1-5.4 ms, 32 4.1-4.4 ms, 16 8.1 ms.
  t.inPlaceKc = 32;
  t.targetTasks = 4;
  t.splitKRows = 4;
  return t;
}

// Register tiles: rows x vectors accumulators plus the B vectors and a
// broadcast fit the register file (32 zmm with AVX-512, 16 ymm with AVX2).

MatmulTiling mlir::hybrid::chooseMatmulTiling(int64_t vectorWidth) {
  // 8 x 48 on AVX-512 (24 accumulators; per k step 3 loads of B and 8
  // broadcasts for 24 FMAs, where 12 x 32 needs 2 + 12): measured against
  // 12 x 32 (2 threads, f32), 2048^3 58-60 vs 61-66 ms, 256 x 1024 x 8192
  // 16.7 vs 18.6 ms, 100 x 1000 x 1000 0.99 vs 1.30 ms, a prepacked
  // 256 x 2048 x 8192 32.6 vs 35.1 ms.
  if (vectorWidth >= 16)
    return tilingWith(vectorWidth, 3, {8, 4, 1});
  if (vectorWidth >= 8)
    return tilingWith(vectorWidth, 2, {6, 2, 1});
  return tilingWith(vectorWidth, 2, {4, 1});
}

MatmulTiling mlir::hybrid::chooseInPlaceTiling(int64_t vectorWidth) {
  // 12 x 32 on AVX-512: attention's blocks are 96 rows (8 row tiles of 12,
  // or 3 column tiles of 32); with 8 x 48 causal prefill at 4K tokens took
  // 294 ms instead of 275, tree verification 17.8 instead of 16.5.
  if (vectorWidth >= 16)
    return tilingWith(vectorWidth, 2, {12, 4, 1});
  return chooseMatmulTiling(vectorWidth);
}
