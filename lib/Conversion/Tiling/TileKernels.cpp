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
                                                        std::optional<int64_t> staticLda) {
  std::string name =
      ("__hybrid_tile_matmul_" + Twine(rows) + "x" + Twine(cols) +
       (layout == TileALayout::RowMajor ? "_rowA" : "") +
       (staticLda ? "_lda" + Twine(*staticLda) : Twine()))
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

MatmulTiling mlir::hybrid::chooseMatmulTiling(int64_t vectorWidth) {
  MatmulTiling t;
  t.vectorWidth = vectorWidth;
  // Two vectors of columns; rows so that rows x 2 accumulators plus the two
  // B vectors and a broadcast fit the register file (32 zmm with AVX-512:
  // 12 x 2 = 24; 16 ymm with AVX2: 6 x 2 = 12).
  t.cols = 2 * vectorWidth;
  if (vectorWidth >= 16)
    t.rowTiles = {12, 4, 1};
  else if (vectorWidth >= 8)
    t.rowTiles = {6, 2, 1};
  else
    t.rowTiles = {4, 1};
  // kc x cols of B (48 KB at kc = 384, cols = 32) is streamed from L1/L2
  // once per row tile; a rows x kc A panel (18 KB) stays in L1, mc x kc of
  // A (288 KB) in L2, kc x nc of packed B (3 MB) in L3. Measured on a
  // 2-core Zen 5 (48 KB L1d, 1 MB L2): kc 256-512 and nc 1024-2048 are
  // within noise of each other; kc 192 and mc 96 are slower.
  t.kc = 384;
  t.mc = t.rows() * 16;
  t.nc = 2048;
  // Measured crossover on 1B up-projections (x @ W, K 2048, N 8192): read
  // in place with inPlaceKc / packed, 64 rows 11.2 / 13.1 ms, 96 rows
  // 15.8 / 18.0, 128 rows 22.7 / 21.2, 192 rows 32.9 / 28.9.
  t.packThreshold = 112;
  t.inPlaceTaskCols = 16 * t.cols;
  // 1B projections at 16 rows (x @ W, W [2048 x 8192] read in place): kc 384
  // 10.0 ms, 64 4.6 ms, 48 4.1-5.4 ms, 32 4.1-4.4 ms, 16 8.1 ms.
  t.inPlaceKc = 32;
  t.targetTasks = 4;
  t.splitKRows = 4;
  return t;
}
