//===- GPUCompressedKeys.cpp - hybrid.compress_keys: a thread per value ---===//
//
// The new rows of the compressed-key cache, one thread per (batch, head,
// row, feature): the mean of the key's kernel window at that feature
// (consecutive threads on consecutive features, coalesced). Which rows are
// new, the checks and the in-place insertion into the cache are shared
// with the CPU (buildCompressKeys).
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Tiling/CompressedKeys.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {
constexpr int64_t kThreads = 256;
} // namespace

void emitCompressedRows(KernelBuilder &kb, SparseConfigAttr config, Value key,
                   Value rows, Value first, Value count) {
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  KernelIO io(b, loc);
  SmallVector<Value> sizes{kb.dim(rows, 0), kb.dim(rows, 1), count,
                           kb.dim(rows, 3)};
  Value elements = kb.muli(kb.muli(sizes[0], sizes[1]),
                           kb.muli(sizes[2], sizes[3]));
  Value threads = kb.index(kThreads);
  OpBuilder::InsertionGuard guard(b);
  Launch launch = createGuardedLaunch(
      b, loc, elements,
      {arith::CeilDivUIOp::create(b, loc, elements, threads), kb.index(1),
       kb.index(1)},
      kThreads);
  Value flat = kb.addi(kb.muli(launch.blockX, threads), launch.threadX);
  auto inRange = scf::IfOp::create(
      b, loc, kb.cmpi(arith::CmpIPredicate::ult, flat, elements), false);
  b.setInsertionPointToStart(&inRange.getThenRegion().front());
  SmallVector<Value> at = io.delinearize(flat, sizes);
  Value start = kb.muli(kb.addi(first, at[2]),
                        kb.index(config.getKernelStride()));
  Value sum = kb.loop(
      kb.index(0), kb.index(config.getKernelSize()), kb.index(1),
      {kb.f32(0.0)}, [&](Value w, ValueRange it) -> SmallVector<Value> {
        Value v = io.toF32(memref::LoadOp::create(
            b, loc, key, ValueRange{at[0], at[1], kb.addi(start, w), at[3]}));
        return {kb.addf(it[0], v)};
      })[0];
  memref::StoreOp::create(
      b, loc, kb.mulf(sum, kb.f32(1.0 / config.getKernelSize())), rows, at);
}

LogicalResult lowerCompressKeys(OpBuilder &b, CompressKeysOp op) {
  b.setInsertionPoint(op);
  KernelBuilder kb(b, op.getLoc(), /*vectorWidth=*/1);
  op.getResult().replaceAllUsesWith(buildCompressKeys(kb, op, emitCompressedRows));
  op.erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
