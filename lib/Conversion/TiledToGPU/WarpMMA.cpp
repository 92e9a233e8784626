//===- WarpMMA.cpp - Tensor-core fragments (mma.sync m16n8k16) ------------===//
//
// The operand registers of `mma.sync.aligned.m16n8k16` with f16/bf16 inputs
// and f32 accumulators, shared by the tiled GEMM and flash attention. In a
// warp, lane (group = lane / 4, inGroup = lane % 4) holds
//
//   A (16 x 16, row):  rows group, group + 8; columns 2 inGroup (+1), +8
//   B (16 x 8, col):   column group; rows 2 inGroup (+1), +8
//   C (16 x 8, f32):   rows group, group + 8; columns 2 inGroup, +1
//
// (PTX ISA, "Matrix Fragments for mma.m16n8k16"). Two consecutive 16-bit
// elements along K make one operand register.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

/// vector<2xf16> as is; a bf16 pair as the i32 that NVVM's bf16 fragments
/// take.
static Value asOperandRegister(OpBuilder &b, Location loc, Value pair) {
  auto type = cast<VectorType>(pair.getType());
  if (type.getElementType().isF16())
    return pair;
  Value word = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), pair);
  return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
}

Value loadMMAPair(OpBuilder &b, Location loc, Value tile, Value row,
                  Value col) {
  Type elt = cast<MemRefType>(tile.getType()).getElementType();
  Value next = arith::AddIOp::create(
      b, loc, col, arith::ConstantIndexOp::create(b, loc, 1));
  Value lo = memref::LoadOp::create(b, loc, tile, ValueRange{row, col});
  Value hi = memref::LoadOp::create(b, loc, tile, ValueRange{row, next});
  return asOperandRegister(
      b, loc,
      vector::FromElementsOp::create(b, loc, VectorType::get({2}, elt),
                                     ValueRange{lo, hi}));
}

Value packMMAPair(OpBuilder &b, Location loc, Value lo, Value hi,
                  Type elementType) {
  lo = arith::TruncFOp::create(b, loc, elementType, lo);
  hi = arith::TruncFOp::create(b, loc, elementType, hi);
  return asOperandRegister(
      b, loc,
      vector::FromElementsOp::create(
          b, loc, VectorType::get({2}, elementType), ValueRange{lo, hi}));
}

SmallVector<Value, 4> mmaSync16816(OpBuilder &b, Location loc,
                                   ArrayRef<Value> a, ArrayRef<Value> bFrag,
                                   ArrayRef<Value> c, Type elementType) {
  Type f32 = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                     {f32, f32, f32, f32});
  NVVM::MMATypes ptxType =
      elementType.isF16() ? NVVM::MMATypes::f16 : NVVM::MMATypes::bf16;
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, a, bFrag, c, {16, 8, 16}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value, 4> result;
  for (int64_t i = 0; i < 4; ++i)
    result.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return result;
}

} // namespace mlir::hybrid::gpu_stage
