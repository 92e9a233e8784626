//===- KernelBuilder.cpp - Building blocks of the hybrid kernels ----------===//

#include "hybrid/Conversion/Tiling/KernelBuilder.h"

#include <limits>

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::hybrid;

SmallVector<Value> KernelBuilder::at(ValueRange idx, Value d) {
  SmallVector<Value> result(idx);
  result.back() = addi(result.back(), d);
  return result;
}

SmallVector<Value> mlir::hybrid::indices(std::initializer_list<Value> head,
                                         ValueRange tail) {
  SmallVector<Value> result(head);
  result.append(tail.begin(), tail.end());
  return result;
}

//===----------------------------------------------------------------------===//
// Constants and arithmetic
//===----------------------------------------------------------------------===//

Value KernelBuilder::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}
Value KernelBuilder::f32(double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
Value KernelBuilder::i32(int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}
Value KernelBuilder::indexCast(Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}
Value KernelBuilder::addi(Value a, Value c) {
  return arith::AddIOp::create(b, loc, a, c);
}
Value KernelBuilder::subi(Value a, Value c) {
  return arith::SubIOp::create(b, loc, a, c);
}
Value KernelBuilder::muli(Value a, Value c) {
  return arith::MulIOp::create(b, loc, a, c);
}
Value KernelBuilder::divui(Value a, Value c) {
  return arith::DivUIOp::create(b, loc, a, c);
}
Value KernelBuilder::remui(Value a, Value c) {
  return arith::RemUIOp::create(b, loc, a, c);
}
Value KernelBuilder::ceilDiv(Value a, Value c) {
  return arith::CeilDivUIOp::create(b, loc, a, c);
}
Value KernelBuilder::minui(Value a, Value c) {
  return arith::MinUIOp::create(b, loc, a, c);
}
Value KernelBuilder::maxsi(Value a, Value c) {
  return arith::MaxSIOp::create(b, loc, a, c);
}
Value KernelBuilder::cmpi(arith::CmpIPredicate p, Value a, Value c) {
  return arith::CmpIOp::create(b, loc, p, a, c);
}
Value KernelBuilder::addf(Value a, Value c) {
  return arith::AddFOp::create(b, loc, a, c);
}
Value KernelBuilder::subf(Value a, Value c) {
  return arith::SubFOp::create(b, loc, a, c);
}
Value KernelBuilder::mulf(Value a, Value c) {
  return arith::MulFOp::create(b, loc, a, c);
}
Value KernelBuilder::divf(Value a, Value c) {
  return arith::DivFOp::create(b, loc, a, c);
}
Value KernelBuilder::maxf(Value a, Value c) {
  return arith::MaximumFOp::create(b, loc, a, c);
}
Value KernelBuilder::exp(Value a) { return math::ExpOp::create(b, loc, a); }
Value KernelBuilder::logitScale(std::optional<APFloat> scale, Value headDim) {
  if (scale)
    return f32(scale->convertToFloat());
  return divf(f32(1.0), math::SqrtOp::create(b, loc, toF32(headDim)));
}
Value KernelBuilder::select(Value cond, Value a, Value c) {
  return arith::SelectOp::create(b, loc, cond, a, c);
}
Value KernelBuilder::cmpf(arith::CmpFPredicate p, Value a, Value c) {
  return arith::CmpFOp::create(b, loc, p, a, c);
}
Value KernelBuilder::toF32(Value v) {
  Value i64 = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), v);
  return arith::UIToFPOp::create(b, loc, b.getF32Type(), i64);
}
Value KernelBuilder::negInf() {
  return f32(-std::numeric_limits<double>::infinity());
}
Value KernelBuilder::boolean(bool v) {
  return arith::ConstantIntOp::create(b, loc, v ? 1 : 0, 1);
}
Value KernelBuilder::notI(Value cond) {
  return arith::XOrIOp::create(b, loc, cond, boolean(true));
}
Value KernelBuilder::andi(Value a, Value c) {
  return arith::AndIOp::create(b, loc, a, c);
}
Value KernelBuilder::ori(Value a, Value c) {
  return arith::OrIOp::create(b, loc, a, c);
}

//===----------------------------------------------------------------------===//
// Tensor/buffer boundary
//===----------------------------------------------------------------------===//

Value KernelBuilder::buffer(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                           /*read_only=*/true);
}

Value KernelBuilder::alloc(RankedTensorType type, ValueRange sizes) {
  assert(static_cast<int64_t>(sizes.size()) == type.getRank() &&
         "one size per dimension");
  SmallVector<Value> dynSizes;
  for (auto [d, size] : llvm::enumerate(sizes))
    if (type.isDynamicDim(d))
      dynSizes.push_back(size);
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return memref::AllocOp::create(b, loc, memrefType, dynSizes,
                                 b.getI64IntegerAttr(64));
}

Value KernelBuilder::allocLike(RankedTensorType type, Value like) {
  // Static sizes are never read: leave them null rather than emit dims.
  SmallVector<Value> sizes;
  for (int64_t d = 0, e = type.getRank(); d < e; ++d)
    sizes.push_back(type.isDynamicDim(d) ? dim(like, d) : Value());
  return alloc(type, sizes);
}

Value KernelBuilder::alloc(ArrayRef<OpFoldResult> sizes, Type elementType) {
  SmallVector<int64_t> shape;
  SmallVector<Value> dynSizes;
  for (OpFoldResult size : sizes) {
    if (std::optional<int64_t> c = getConstantIntValue(size)) {
      shape.push_back(*c);
    } else {
      shape.push_back(ShapedType::kDynamic);
      dynSizes.push_back(cast<Value>(size));
    }
  }
  return memref::AllocOp::create(b, loc, MemRefType::get(shape, elementType),
                                 dynSizes, b.getI64IntegerAttr(64));
}

Value KernelBuilder::scratchF32(int64_t size) {
  return memref::AllocaOp::create(
      b, loc, MemRefType::get({size}, b.getF32Type()), ValueRange{},
      b.getI64IntegerAttr(64));
}

Value KernelBuilder::scratch(Value size, Type elementType) {
  return memref::AllocaOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, elementType),
      ValueRange{size}, b.getI64IntegerAttr(64));
}

Value KernelBuilder::tensor(Value buffer, RankedTensorType type) {
  return bufferization::ToTensorOp::create(b, loc, type, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

Value KernelBuilder::dim(Value shaped, int64_t d) {
  if (isa<MemRefType>(shaped.getType()))
    return memref::DimOp::create(b, loc, shaped, d);
  return b.createOrFold<mlir::tensor::DimOp>(loc, shaped, d);
}

SmallVector<OpFoldResult> KernelBuilder::sizes(Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<OpFoldResult> result;
  for (int64_t d = 0, e = type.getRank(); d < e; ++d) {
    if (type.isDynamicDim(d))
      result.push_back(dim(buffer, d));
    else
      result.push_back(b.getIndexAttr(type.getDimSize(d)));
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Element access
//===----------------------------------------------------------------------===//

Value KernelBuilder::load(Value buffer, ValueRange idx) {
  Value v = memref::LoadOp::create(b, loc, buffer, idx);
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

void KernelBuilder::store(Value value, Value buffer, ValueRange idx) {
  Type elementType = cast<MemRefType>(buffer.getType()).getElementType();
  if (value.getType() != elementType)
    value = arith::TruncFOp::create(b, loc, elementType, value);
  memref::StoreOp::create(b, loc, value, buffer, idx);
}

Value KernelBuilder::loadIndex(Value buffer, ValueRange idx) {
  return indexCast(memref::LoadOp::create(b, loc, buffer, idx));
}

void KernelBuilder::storeIndex(Value value, Value buffer, ValueRange idx) {
  Type elementType = cast<MemRefType>(buffer.getType()).getElementType();
  if (!elementType.isIndex())
    value = arith::IndexCastOp::create(b, loc, elementType, value);
  memref::StoreOp::create(b, loc, value, buffer, idx);
}

//===----------------------------------------------------------------------===//
// Structured control flow
//===----------------------------------------------------------------------===//

void KernelBuilder::parallel(ValueRange upperBounds,
                             function_ref<void(ValueRange)> body) {
  SmallVector<Value> zeros(upperBounds.size(), index(0));
  SmallVector<Value> ones(upperBounds.size(), index(1));
  auto op = scf::ParallelOp::create(b, loc, zeros, upperBounds, ones);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(op.getBody());
  body(op.getInductionVars());
}

void KernelBuilder::forall(ValueRange upperBounds,
                           function_ref<void(ValueRange)> body) {
  SmallVector<OpFoldResult> ubs(upperBounds.begin(), upperBounds.end());
  auto op = scf::ForallOp::create(b, loc, ubs, ValueRange{}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op.getBody()->getTerminator());
  body(op.getInductionVars());
}

void KernelBuilder::loop(Value lb, Value ub, Value step,
                         function_ref<void(Value)> body) {
  auto op = scf::ForOp::create(b, loc, lb, ub, step);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op.getBody()->getTerminator());
  body(op.getInductionVar());
}

SmallVector<Value> KernelBuilder::loop(
    Value lb, Value ub, Value step, ValueRange inits,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto op = scf::ForOp::create(
      b, loc, lb, ub, step, inits,
      [&](OpBuilder &nested, Location, Value iv, ValueRange iters) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        SmallVector<Value> results = body(iv, iters);
        scf::YieldOp::create(b, loc, results);
      });
  return SmallVector<Value>(op.getResults());
}

void KernelBuilder::ifThen(Value cond, function_ref<void()> thenBody) {
  auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op.thenBlock()->getTerminator());
  thenBody();
}

SmallVector<Value>
KernelBuilder::ifThenElse(Value cond, TypeRange types,
                          function_ref<SmallVector<Value>()> thenBody,
                          function_ref<SmallVector<Value>()> elseBody) {
  auto op = scf::IfOp::create(b, loc, types, cond, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  // Without results the builder adds empty yields; the bodies replace them.
  for (Block *block : {op.thenBlock(), op.elseBlock()})
    if (!block->empty())
      block->back().erase();
  b.setInsertionPointToEnd(op.thenBlock());
  scf::YieldOp::create(b, loc, thenBody());
  b.setInsertionPointToEnd(op.elseBlock());
  scf::YieldOp::create(b, loc, elseBody());
  return SmallVector<Value>(op.getResults());
}

//===----------------------------------------------------------------------===//
// Vectorised helpers
//===----------------------------------------------------------------------===//

Value KernelBuilder::vectorRead(Value buffer, ValueRange idx, Value d) {
  Type elementType = cast<MemRefType>(buffer.getType()).getElementType();
  auto type = VectorType::get({vectorWidth}, elementType);
  Value v = vector::LoadOp::create(b, loc, type, buffer, at(idx, d));
  if (elementType.isF32())
    return v;
  return arith::ExtFOp::create(
      b, loc, VectorType::get({vectorWidth}, b.getF32Type()), v);
}

void KernelBuilder::vectorWrite(Value value, Value buffer, ValueRange idx,
                                Value d) {
  Type elementType = cast<MemRefType>(buffer.getType()).getElementType();
  if (!elementType.isF32())
    value = arith::TruncFOp::create(
        b, loc, VectorType::get({vectorWidth}, elementType), value);
  vector::StoreOp::create(b, loc, value, buffer, at(idx, d));
}

void KernelBuilder::vectorLoop(Value len,
                               function_ref<void(Value)> vectorBody,
                               function_ref<void(Value)> scalarBody) {
  Value width = index(vectorWidth);
  Value vectorEnd = subi(len, remui(len, width));
  loop(index(0), vectorEnd, width, vectorBody);
  loop(vectorEnd, len, index(1), scalarBody);
}

Value KernelBuilder::dot(Value a, ValueRange aIdx, Value c, ValueRange cIdx,
                         Value len) {
  return dots(a, aIdx, {c}, {SmallVector<Value>(cIdx)}, len)[0];
}

SmallVector<Value> KernelBuilder::dots(Value a, ValueRange aIdx,
                                       ArrayRef<Value> cs,
                                       ArrayRef<SmallVector<Value>> cIdxs,
                                       Value len) {
  auto vecType = VectorType::get({vectorWidth}, b.getF32Type());
  Value width = index(vectorWidth);
  Value vectorEnd = subi(len, remui(len, width));
  Value zeroVec = arith::ConstantOp::create(
      b, loc, vecType, DenseElementsAttr::get(vecType, 0.0f));
  SmallVector<Value> accs = loop(
      index(0), vectorEnd, width, SmallVector<Value>(cs.size(), zeroVec),
      [&](Value d, ValueRange iters) -> SmallVector<Value> {
        Value va = vectorRead(a, aIdx, d);
        SmallVector<Value> next;
        for (auto [i, c] : llvm::enumerate(cs))
          next.push_back(vector::FMAOp::create(
              b, loc, va, vectorRead(c, cIdxs[i], d), iters[i]));
        return next;
      });
  SmallVector<Value> sums;
  for (Value acc : accs)
    sums.push_back(
        vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc));
  return loop(vectorEnd, len, index(1), sums,
              [&](Value d, ValueRange iters) -> SmallVector<Value> {
                Value x = load(a, at(aIdx, d));
                SmallVector<Value> next;
                for (auto [i, c] : llvm::enumerate(cs))
                  next.push_back(arith::AddFOp::create(
                      b, loc, iters[i], mulf(x, load(c, at(cIdxs[i], d)))));
                return next;
              });
}

void KernelBuilder::scaleAdd(Value acc, ValueRange accIdx, Value alpha,
                             Value beta, Value src, ValueRange srcIdx,
                             Value len) {
  auto vecType = VectorType::get({vectorWidth}, b.getF32Type());
  vectorLoop(
      len,
      [&](Value d) {
        Value va = vectorRead(acc, accIdx, d);
        Value vs = vectorRead(src, srcIdx, d);
        Value alphaV = vector::BroadcastOp::create(b, loc, vecType, alpha);
        Value betaV = vector::BroadcastOp::create(b, loc, vecType, beta);
        Value r = vector::FMAOp::create(b, loc, vs, betaV,
                                        mulf(va, alphaV));
        vectorWrite(r, acc, accIdx, d);
      },
      [&](Value d) {
        Value x = load(acc, at(accIdx, d));
        Value y = load(src, at(srcIdx, d));
        store(addf(mulf(x, alpha), mulf(y, beta)), acc,
              at(accIdx, d));
      });
}

void KernelBuilder::scaleCopy(Value dst, ValueRange dstIdx, Value scale,
                              Value src, ValueRange srcIdx, Value len) {
  auto vecType = VectorType::get({vectorWidth}, b.getF32Type());
  vectorLoop(
      len,
      [&](Value d) {
        Value vs = vectorRead(src, srcIdx, d);
        Value scaleV = vector::BroadcastOp::create(b, loc, vecType, scale);
        vectorWrite(mulf(vs, scaleV), dst, dstIdx, d);
      },
      [&](Value d) {
        Value y = load(src, at(srcIdx, d));
        store(mulf(y, scale), dst, at(dstIdx, d));
      });
}

void KernelBuilder::fill(Value buffer, ValueRange idx, Value value,
                         Value len) {
  auto vecType = VectorType::get({vectorWidth}, b.getF32Type());
  vectorLoop(
      len,
      [&](Value d) {
        vectorWrite(vector::BroadcastOp::create(b, loc, vecType, value),
                    buffer, idx, d);
      },
      [&](Value d) { store(value, buffer, at(idx, d)); });
}

//===----------------------------------------------------------------------===//
// Register-blocked matrix product
//===----------------------------------------------------------------------===//

void KernelBuilder::matmulAccumulate(const Matrix &c, const Matrix &a,
                                     bool transposeA, const Matrix &bm,
                                     Value m, Value n, Value k) {
  constexpr int64_t kRows = 8;
  auto aAt = [&](Value i, Value p) {
    return transposeA ? load(a.buffer, at(a.rowStart(p), i))
                      : load(a.buffer, at(a.rowStart(i), p));
  };
  auto vecType = VectorType::get({vectorWidth}, b.getF32Type());
  Value width = index(vectorWidth);
  // rows x vectors register tile at (i0, j0), reduced over p in [0, k).
  auto tile = [&](Value i0, int64_t rows, Value j0, int64_t vectors) {
    SmallVector<Value> acc;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v)
        acc.push_back(vectorRead(c.buffer, c.rowStart(addi(i0, index(r))),
                                 addi(j0, index(v * vectorWidth))));
    SmallVector<Value> result = loop(
        index(0), k, index(1), acc,
        [&](Value p, ValueRange it) -> SmallVector<Value> {
          SmallVector<Value> bv;
          for (int64_t v = 0; v < vectors; ++v)
            bv.push_back(vectorRead(bm.buffer, bm.rowStart(p),
                                    addi(j0, index(v * vectorWidth))));
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value s = vector::BroadcastOp::create(b, loc, vecType,
                                                  aAt(addi(i0, index(r)), p));
            for (int64_t v = 0; v < vectors; ++v)
              next.push_back(vector::FMAOp::create(b, loc, s, bv[v],
                                                   it[r * vectors + v]));
          }
          return next;
        });
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v)
        vectorWrite(result[r * vectors + v], c.buffer,
                    c.rowStart(addi(i0, index(r))),
                    addi(j0, index(v * vectorWidth)));
  };
  Value vectorized = cmpi(arith::CmpIPredicate::eq, remui(n, width), index(0));
  ifThenElse(
      vectorized, {},
      [&]() -> SmallVector<Value> {
        Value pair = index(2 * vectorWidth);
        Value pairedCols = subi(n, remui(n, pair));
        Value blockedRows = subi(m, remui(m, index(kRows)));
        loop(index(0), pairedCols, pair, [&](Value j0) {
          loop(index(0), blockedRows, index(kRows),
               [&](Value i0) { tile(i0, kRows, j0, 2); });
          loop(blockedRows, m, index(1), [&](Value i) { tile(i, 1, j0, 2); });
        });
        // A last single vector of columns.
        loop(pairedCols, n, width, [&](Value j0) {
          loop(index(0), m, index(1), [&](Value i) { tile(i, 1, j0, 1); });
        });
        return {};
      },
      [&]() -> SmallVector<Value> {
        loop(index(0), m, index(1), [&](Value i) {
          loop(index(0), n, index(1), [&](Value j) {
            Value sum = loop(index(0), k, index(1),
                             {load(c.buffer, at(c.rowStart(i), j))},
                             [&](Value p, ValueRange it) -> SmallVector<Value> {
                               Value x = load(bm.buffer, at(bm.rowStart(p), j));
                               return {addf(it[0], mulf(aAt(i, p), x))};
                             })[0];
            store(sum, c.buffer, at(c.rowStart(i), j));
          });
        });
        return {};
      });
}

//===----------------------------------------------------------------------===//
// Flags
//===----------------------------------------------------------------------===//

Value KernelBuilder::flags(Value n) {
  Value buffer = scratch(maxsi(n, index(1)), b.getI8Type());
  Value zero = arith::ConstantIntOp::create(b, loc, 0, 8);
  loop(index(0), n, index(1), [&](Value i) {
    memref::StoreOp::create(b, loc, zero, buffer, ValueRange{i});
  });
  return buffer;
}

void KernelBuilder::setFlag(Value flags, Value i) {
  memref::StoreOp::create(b, loc, arith::ConstantIntOp::create(b, loc, 1, 8),
                          flags, ValueRange{i});
}

Value KernelBuilder::isFlagSet(Value flags, Value i) {
  Value byte = memref::LoadOp::create(b, loc, flags, ValueRange{i});
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, byte,
                               arith::ConstantIntOp::create(b, loc, 0, 8));
}

//===----------------------------------------------------------------------===//
// Module state: run-time errors and counters
//===----------------------------------------------------------------------===//

/// A zero-initialised public global of `type` named `name` in `module`,
/// created on first use.
static void getOrCreateZeroGlobal(ModuleOp module, StringRef name,
                                  MemRefType type) {
  if (module.lookupSymbol(name))
    return;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  auto tensorType =
      RankedTensorType::get(type.getShape(), type.getElementType());
  memref::GlobalOp::create(b, module.getLoc(), name,
                           /*sym_visibility=*/b.getStringAttr("public"), type,
                           DenseElementsAttr::get(
                               tensorType, b.getZeroAttr(type.getElementType())),
                           /*constant=*/false, /*alignment=*/nullptr);
}

static ModuleOp enclosingModule(OpBuilder &b) {
  return b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
}

Value KernelBuilder::moduleGlobal(StringRef name, MemRefType type) {
  getOrCreateZeroGlobal(enclosingModule(b), name, type);
  return memref::GetGlobalOp::create(b, loc, type, name);
}

/// The thread-local error cell (an `!llvm.ptr`, null unless a call set it)
/// and its exported setter, created on first use.
static constexpr StringLiteral kErrorCellSymbol = "__hybrid_error_cell";

static void getOrCreateErrorCell(ModuleOp module) {
  if (module.lookupSymbol(kErrorCellSymbol))
    return;
  MLIRContext *ctx = module.getContext();
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto cell = LLVM::GlobalOp::create(
      b, loc, ptr, /*isConstant=*/false, LLVM::Linkage::Internal,
      kErrorCellSymbol, /*value=*/Attribute(), /*alignment=*/0,
      /*addrSpace=*/0, /*dsoLocal=*/true, /*threadLocal=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&cell.getInitializerRegion());
    LLVM::ReturnOp::create(b, loc, LLVM::ZeroOp::create(b, loc, ptr));
  }
  auto setter = LLVM::LLVMFuncOp::create(
      b, loc, kSetErrorCellSymbol,
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}));
  Block *body = setter.addEntryBlock(b);
  b.setInsertionPointToStart(body);
  Value address = LLVM::AddressOfOp::create(b, loc, cell);
  LLVM::StoreOp::create(b, loc, body->getArgument(0), address);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
}

/// The function that records an error code, created on first use:
/// `__hybrid_raise(code, cell)` stores it into the call's cell, or, where
/// there is none (null), into the module's global code, unless an earlier
/// check of the call already failed: the first failure names the problem
/// (a wrong shape before the out-of-range values it leads to).
static func::FuncOp getOrCreateRaiseFunction(ModuleOp module) {
  if (auto fn = module.lookupSymbol<func::FuncOp>("__hybrid_raise"))
    return fn;
  MLIRContext *ctx = module.getContext();
  auto codeType = MemRefType::get({}, IntegerType::get(ctx, 32));
  getOrCreateZeroGlobal(module, kErrorCodeSymbol, codeType);
  getOrCreateErrorCell(module);
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Location loc = module.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto fn = func::FuncOp::create(b, loc, "__hybrid_raise",
                                 b.getFunctionType({b.getI32Type(), ptr}, {}));
  fn.setPrivate();
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value code = body->getArgument(0), cell = body->getArgument(1);
  Value none = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, cell,
                                    LLVM::ZeroOp::create(b, loc, ptr));
  Value global = memref::GetGlobalOp::create(b, loc, codeType,
                                             kErrorCodeSymbol);
  Value globalInt = arith::IndexCastUIOp::create(
      b, loc, b.getI64Type(),
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, global));
  Value globalAddress = LLVM::IntToPtrOp::create(b, loc, ptr, globalInt);
  Value target = LLVM::SelectOp::create(b, loc, none, globalAddress, cell);
  // Atomic accesses: workers of one call may fail at once (then either
  // code stays; both are the call's).
  auto monotonic = LLVM::AtomicOrdering::monotonic;
  Value earlier = LLVM::LoadOp::create(b, loc, b.getI32Type(), target,
                                       /*alignment=*/4, false, false, false,
                                       false, monotonic);
  Value first = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::eq, earlier,
      arith::ConstantIntOp::create(b, loc, 0, 32));
  scf::IfOp::create(b, loc, first, [&](OpBuilder &nb, Location l) {
    LLVM::StoreOp::create(nb, l, code, target, /*alignment=*/4, false, false,
                          false, monotonic);
    scf::YieldOp::create(nb, l);
  });
  func::ReturnOp::create(b, loc);
  return fn;
}

/// The error cell of the call running the function around `b`'s insertion
/// point: read once at the function's entry (on the calling thread; the
/// value reaches the workers of its parallel loops), or null outside a
/// function.
static Value errorCell(OpBuilder &b, Location loc) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Operation *parent = b.getInsertionBlock()->getParentOp();
  auto fn = isa<func::FuncOp>(parent) ? cast<func::FuncOp>(parent)
                                      : parent->getParentOfType<func::FuncOp>();
  if (!fn)
    return LLVM::ZeroOp::create(b, loc, ptr);
  Block &entry = fn.getBody().front();
  for (auto load : entry.getOps<LLVM::LoadOp>())
    if (auto address = load.getAddr().getDefiningOp<LLVM::AddressOfOp>();
        address && address.getGlobalName() == kErrorCellSymbol)
      return load;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&entry);
  auto global = cast<LLVM::GlobalOp>(
      enclosingModule(b).lookupSymbol(kErrorCellSymbol));
  Value address = LLVM::AddressOfOp::create(b, loc, global);
  return LLVM::LoadOp::create(b, loc, ptr, address);
}

void KernelBuilder::raiseIf(Value cond, StringRef message) {
  ModuleOp module = enclosingModule(b);
  func::FuncOp raise = getOrCreateRaiseFunction(module);
  SmallVector<Attribute> messages;
  if (auto existing = module->getAttrOfType<ArrayAttr>(kErrorMessagesAttrName))
    messages.assign(existing.begin(), existing.end());
  auto *it = llvm::find(messages, b.getStringAttr(message));
  int64_t code = (it - messages.begin()) + 1;
  if (it == messages.end())
    messages.push_back(b.getStringAttr(message));
  module->setAttr(kErrorMessagesAttrName, b.getArrayAttr(messages));
  Value cell = errorCell(b, loc);
  ifThen(cond, [&] {
    func::CallOp::create(b, loc, raise, ValueRange{i32(code), cell});
  });
}

//===----------------------------------------------------------------------===//
// RuntimeChecks
//===----------------------------------------------------------------------===//

RuntimeChecks::RuntimeChecks(KernelBuilder &kb, StringRef opName)
    : kb(kb), opName(opName.str()), failed(kb.boolean(false)) {}

void RuntimeChecks::check(Value cond, const Twine &what) {
  kb.raiseIf(cond, (opName + ": " + what).str());
  failed = kb.ori(failed, cond);
}

void RuntimeChecks::checkDraftTree(Value parents) {
  using P = arith::CmpIPredicate;
  Value notTree = kb.loop(
      kb.index(0), kb.dim(parents, 0), kb.index(1), {kb.boolean(false)},
      [&](Value i, ValueRange it) -> SmallVector<Value> {
        Value p = kb.loadIndex(parents, {i});
        Value wrong = kb.select(kb.cmpi(P::eq, i, kb.index(0)),
                                kb.cmpi(P::ne, p, kb.index(-1)),
                                kb.ori(kb.cmpi(P::slt, p, kb.index(0)),
                                       kb.cmpi(P::sge, p, i)));
        return {kb.ori(it[0], wrong)};
      })[0];
  check(notTree, "parents do not form a draft tree (parents[0] = -1, "
                 "0 <= parents[i] < i)");
}

Value RuntimeChecks::passed() const { return kb.notI(failed); }
