//===- TileKernels.cpp - Tile kernel declarations and target tilings ------===//

#include "hybrid/Conversion/Tiling/TileKernels.h"

#include "llvm/ADT/Twine.h"

using namespace mlir;
using namespace mlir::hybrid;

func::FuncOp mlir::hybrid::getOrDeclareMatmulTileKernel(ModuleOp module,
                                                        int64_t rows,
                                                        int64_t cols) {
  std::string name =
      ("__hybrid_tile_matmul_" + Twine(rows) + "x" + Twine(cols)).str();
  if (auto fn = module.lookupSymbol<func::FuncOp>(name))
    return fn;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Type index = b.getIndexType();
  Type flat = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
  auto type = b.getFunctionType(
      {index, flat, index, flat, index, index, flat, index, index}, {});
  auto fn = func::FuncOp::create(b, module.getLoc(), name, type);
  fn.setPrivate();
  fn->setAttr(kTileKernelAttrName, b.getStringAttr("matmul"));
  fn->setAttr(kTileRowsAttrName, b.getI64IntegerAttr(rows));
  fn->setAttr(kTileColsAttrName, b.getI64IntegerAttr(cols));
  return fn;
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
  // kc x cols of B (32 KB at kc = 256, cols = 32) plus a rows x kc A panel
  // (12 KB) stay in a 48 KB L1; mc x kc of A (192 KB) in L2.
  t.kc = 256;
  t.mc = t.rows() * 16;
  t.nc = 512;
  t.packThreshold = 2 * t.rows();
  t.inPlaceTaskCols = 4 * t.cols;
  t.targetTasks = 8;
  return t;
}
