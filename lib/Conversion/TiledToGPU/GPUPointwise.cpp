//===- GPUPointwise.cpp - One thread per point of the parallel loops ------===//
//
// Elementwise ops, fills, broadcasts, transposes and the reductions that
// softmax decomposition and the importers leave (a row's max or sum) run as
// one thread per point of the op's parallel loops; the thread runs the
// reduction loops itself and keeps the outputs in registers meanwhile.
// Consecutive threads take consecutive points of the innermost parallel
// loop, so an elementwise op reads and writes coalesced.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {
namespace {

constexpr int64_t kThreadsPerBlock = 256;

/// The indices `map` gives for the loop values `ivs`.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map,
                            ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  for (unsigned i = 0, e = map.getNumResults(); i < e; ++i) {
    AffineExpr expr = map.getResult(i);
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      indices.push_back(ivs[dim.getPosition()]);
    else if (auto cst = dyn_cast<AffineConstantExpr>(expr))
      indices.push_back(
          arith::ConstantIndexOp::create(b, loc, cst.getValue()));
    else
      indices.push_back(affine::AffineApplyOp::create(
          b, loc, map.getSubMap({i}), ivs));
  }
  return indices;
}

/// The value of `operand` at the loop values `ivs` (a scalar operand is
/// its own value).
Value readOperand(OpBuilder &b, Location loc, linalg::LinalgOp op,
                  OpOperand &operand, ArrayRef<Value> ivs) {
  Value source = operand.get();
  if (!isa<MemRefType>(source.getType()))
    return source;
  AffineMap map = op.getMatchingIndexingMap(&operand);
  return memref::LoadOp::create(b, loc, source, applyMap(b, loc, map, ivs));
}

/// The op's body at `ivs`, with the inits' block arguments bound to
/// `outputs`: the yielded values.
SmallVector<Value> emitBody(OpBuilder &b, Location loc, linalg::LinalgOp op,
                            ArrayRef<Value> ivs, ValueRange outputs) {
  Block *body = op.getBlock();
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(body->getArgument(input->getOperandNumber()),
                readOperand(b, loc, op, *input, ivs));
  for (auto [i, init] : llvm::enumerate(op.getDpsInitsMutable()))
    mapping.map(body->getArgument(init.getOperandNumber()), outputs[i]);
  for (Operation &inner : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(inner, mapping);
  }
  SmallVector<Value> yielded;
  for (Value v : body->getTerminator()->getOperands())
    yielded.push_back(mapping.lookupOrDefault(v));
  return yielded;
}

} // namespace

LogicalResult emitPointwise(OpBuilder &b, linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics())
    return op->emitError("the GPU stage expects linalg ops on buffers");
  Location loc = op.getLoc();
  b.setInsertionPoint(op);
  SmallVector<Range> ranges = op.createLoopRanges(b, loc);
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> parallel, reduction;
  for (auto [d, it] : llvm::enumerate(iterators))
    (it == utils::IteratorType::parallel ? parallel : reduction).push_back(d);
  auto sizeOf = [&](unsigned d) {
    return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
  };

  Value points = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned d : parallel)
    points = arith::MulIOp::create(b, loc, points, sizeOf(d));
  Value threads = arith::ConstantIndexOp::create(b, loc, kThreadsPerBlock);
  Value blocks = arith::CeilDivUIOp::create(b, loc, points, threads);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Launch launch =
      createGuardedLaunch(b, loc, points, {blocks, one, one}, kThreadsPerBlock);

  // This thread's point, the innermost parallel loop fastest.
  Value point = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, launch.blockX, threads),
      launch.threadX);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, point, points);
  auto ifInRange = scf::IfOp::create(b, loc, inRange, false);
  b.setInsertionPointToStart(&ifInRange.getThenRegion().front());
  SmallVector<Value> ivs(iterators.size());
  Value rest = point;
  for (unsigned d : llvm::reverse(parallel)) {
    if (d == parallel.front()) {
      ivs[d] = rest; // below its size: point < points
      break;
    }
    Value size = sizeOf(d);
    ivs[d] = arith::RemUIOp::create(b, loc, rest, size);
    rest = arith::DivUIOp::create(b, loc, rest, size);
  }

  // The outputs' current values, carried through the reduction loops.
  SmallVector<Value> outputs;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    if (op.payloadUsesValueFromOperand(&init))
      outputs.push_back(readOperand(b, loc, op, init, ivs));
    else
      outputs.push_back(arith::ConstantOp::create(
          b, loc,
          cast<TypedAttr>(b.getZeroAttr(
              getElementTypeOrSelf(init.get().getType())))));
  }
  std::function<SmallVector<Value>(unsigned, ValueRange)> reduce =
      [&](unsigned level, ValueRange carried) -> SmallVector<Value> {
    if (level == reduction.size())
      return emitBody(b, loc, op, ivs, carried);
    unsigned d = reduction[level];
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    auto loop = scf::ForOp::create(b, loc, zero, sizeOf(d), one, carried);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ivs[d] = loop.getInductionVar();
    SmallVector<Value> next = reduce(level + 1, loop.getRegionIterArgs());
    scf::YieldOp::create(b, loc, next);
    return SmallVector<Value>(loop.getResults());
  };
  SmallVector<Value> results = reduce(0, outputs);
  for (auto [init, value] : llvm::zip(op.getDpsInitsMutable(), results)) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    memref::StoreOp::create(b, loc, value, init.get(),
                            applyMap(b, loc, map, ivs));
  }
  op->erase();
  return success();
}

} // namespace mlir::hybrid::gpu_stage
