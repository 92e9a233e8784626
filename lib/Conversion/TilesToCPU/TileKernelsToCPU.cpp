//===- TileKernelsToCPU.cpp - Register tiles of the CPU stage -------------===//
//
// Gives each tile kernel declared by the tiled stage its CPU body. The
// `matmul` tile is the outer-product form of a contraction (as upstream's
// vector.contract lowering and IREE's x86 mmt4d micro-kernels): rows x
// (cols / lanes) accumulator vectors live in registers for the whole K loop;
// each step loads cols of B as vectors and broadcasts one A value per row
// into an FMA (from a packed panel, or from `rows` rows of a matrix read in
// place). K is unrolled so that the loop overhead and the pointer
// updates amortise over several steps.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/TileKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDCPUTILEKERNELS
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// K steps per iteration of the tile's main loop.
constexpr int64_t kUnroll = 4;
/// How far ahead a streamed B is fetched, in k steps: 32 steps of a
/// 32-column panel are 4 KB, about a memory latency of FMAs ahead
/// (16 x 8192 x 2048 on prepacked panels: 2.6 -> 2.25 ms; 16 steps gained
/// less).
constexpr int64_t kStreamAhead = 32;

LogicalResult defineMatmulTile(func::FuncOp fn, int64_t vectorWidth) {
  auto rowsAttr = fn->getAttrOfType<IntegerAttr>(kTileRowsAttrName);
  auto colsAttr = fn->getAttrOfType<IntegerAttr>(kTileColsAttrName);
  if (!rowsAttr || !colsAttr)
    return fn.emitError("tile kernel without ") << kTileRowsAttrName
                                                << " and " << kTileColsAttrName;
  int64_t rows = rowsAttr.getInt(), cols = colsAttr.getInt();
  if (rows < 1 || cols < vectorWidth || cols % vectorWidth != 0)
    return fn.emitError("matmul tile ")
           << rows << "x" << cols << " is not whole vectors of "
           << vectorWidth << " lanes";
  int64_t vectors = cols / vectorWidth;
  FunctionType expected = getMatmulTileKernelType(fn.getContext());
  if (fn.getFunctionType() != expected)
    return fn.emitError("matmul tile kernel must have type ") << expected;
  FailureOr<TileALayout> layout = getTileALayout(fn);
  if (failed(layout))
    return fn.emitError("unknown ") << kTileALayoutAttrName << " "
                                    << fn->getAttr(kTileALayoutAttrName);

  OpBuilder builder(fn.getContext());
  Block *body = fn.addEntryBlock();
  builder.setInsertionPointToStart(body);
  KernelBuilder kb(builder, fn.getLoc(), vectorWidth);
  Value kc = body->getArgument(0), a = body->getArgument(1),
        aOff = body->getArgument(2), lda = body->getArgument(3),
        b = body->getArgument(4), bOff = body->getArgument(5),
        ldb = body->getArgument(6), c = body->getArgument(7),
        cOff = body->getArgument(8), ldc = body->getArgument(9);
  if (auto staticLda = fn->getAttrOfType<IntegerAttr>(kTileStaticLdaAttrName))
    lda = kb.index(staticLda.getInt());
  bool streamB = fn->hasAttr(kTileStreamBAttrName);
  auto vecType = VectorType::get({vectorWidth}, builder.getF32Type());
  auto cAt = [&](int64_t r, int64_t v) {
    return kb.addi(kb.addi(cOff, kb.muli(kb.index(r), ldc)),
                   kb.index(v * vectorWidth));
  };

  SmallVector<Value> acc;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < vectors; ++v)
      acc.push_back(vector::LoadOp::create(builder, kb.loc, vecType, c,
                                           ValueRange{cAt(r, v)}));
  // One K step: acc[r][v] += A[p][r] * B[p][v].
  auto step = [&](Value p, SmallVector<Value> in) {
    Value bRow = kb.addi(bOff, kb.muli(p, ldb));
    SmallVector<Value> bv;
    for (int64_t v = 0; v < vectors; ++v)
      bv.push_back(vector::LoadOp::create(
          builder, kb.loc, vecType, b,
          ValueRange{kb.addi(bRow, kb.index(v * vectorWidth))}));
    // A streamed B: one prefetch per line, kStreamAhead k steps ahead.
    if (streamB) {
      Value ahead = kb.addi(bRow, kb.muli(kb.index(kStreamAhead), ldb));
      for (int64_t v = 0; v < vectors; ++v)
        memref::PrefetchOp::create(
            builder, kb.loc, b,
            ValueRange{kb.addi(ahead, kb.index(v * vectorWidth))},
            /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
    }
    for (int64_t r = 0; r < rows; ++r) {
      Value at = *layout == TileALayout::KMajor
                     ? kb.addi(kb.addi(aOff, kb.muli(p, lda)), kb.index(r))
                     : kb.addi(kb.addi(aOff, kb.muli(kb.index(r), lda)), p);
      Value s = memref::LoadOp::create(builder, kb.loc, a, ValueRange{at});
      Value splat = vector::BroadcastOp::create(builder, kb.loc, vecType, s);
      for (int64_t v = 0; v < vectors; ++v)
        in[r * vectors + v] = vector::FMAOp::create(builder, kb.loc, splat,
                                                    bv[v], in[r * vectors + v]);
    }
    return in;
  };
  Value unroll = kb.index(kUnroll);
  Value mainEnd = kb.subi(kc, kb.remui(kc, unroll));
  acc = kb.loop(kb.index(0), mainEnd, unroll, acc,
                [&](Value p, ValueRange it) -> SmallVector<Value> {
                  SmallVector<Value> cur(it);
                  for (int64_t u = 0; u < kUnroll; ++u)
                    cur = step(kb.addi(p, kb.index(u)), cur);
                  return cur;
                });
  acc = kb.loop(mainEnd, kc, kb.index(1), acc,
                [&](Value p, ValueRange it) -> SmallVector<Value> {
                  return step(p, SmallVector<Value>(it));
                });
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t v = 0; v < vectors; ++v)
      vector::StoreOp::create(builder, kb.loc, acc[r * vectors + v], c,
                              ValueRange{cAt(r, v)});
  func::ReturnOp::create(builder, kb.loc);
  return success();
}

struct HybridCPUTileKernels
    : hybrid::impl::HybridCPUTileKernelsBase<HybridCPUTileKernels> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1) {
      getOperation().emitError("vector-width must be positive");
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      auto kind = fn->getAttrOfType<StringAttr>(kTileKernelAttrName);
      if (!kind || !fn.isDeclaration())
        continue;
      if (kind.getValue() != "matmul") {
        fn.emitError("no CPU body for tile kernel '") << kind.getValue() << "'";
        return signalPassFailure();
      }
      if (failed(defineMatmulTile(fn, vectorWidth)))
        return signalPassFailure();
      // Defined: the contract attributes have served their purpose.
      for (StringRef attr : {kTileKernelAttrName, kTileRowsAttrName,
                             kTileColsAttrName, kTileALayoutAttrName,
                             kTileStaticLdaAttrName, kTileStreamBAttrName})
        fn->removeAttr(attr);
      // One body per tile, called from every product: inlined at each call
      // site it would multiply the code LLVM optimises (compile time grew
      // with the number of products) for a call that costs a few cycles
      // against hundreds of FMAs.
      fn->setAttr("passthrough",
                  ArrayAttr::get(&getContext(),
                                 {StringAttr::get(&getContext(), "noinline")}));
    }
  }
};

} // namespace
