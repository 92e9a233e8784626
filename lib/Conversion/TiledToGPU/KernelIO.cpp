//===- KernelIO.cpp - A hybrid op's buffers, before bufferization ---------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

Value KernelIO::index(int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value KernelIO::read(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  MemRefType buffer = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(
          b.getContext(), ShapedType::kDynamic,
          SmallVector<int64_t>(type.getRank(), ShapedType::kDynamic)));
  return bufferization::ToBufferOp::create(b, loc, buffer, tensor,
                                           /*read_only=*/true);
}

Value KernelIO::allocLike(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<Value> sizes;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, tensor, d));
  return memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), sizes);
}

Value KernelIO::result(Value buffer, Type tensorType) {
  return bufferization::ToTensorOp::create(b, loc, tensorType, buffer,
                                           /*restrict=*/b.getUnitAttr(),
                                           /*writable=*/b.getUnitAttr());
}

SmallVector<Value> KernelIO::delinearize(Value linear,
                                         ArrayRef<Value> sizes) {
  SmallVector<Value> coords(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    if (d == 0) {
      coords[d] = linear;
      break;
    }
    coords[d] = arith::RemUIOp::create(b, loc, linear, sizes[d]);
    linear = arith::DivUIOp::create(b, loc, linear, sizes[d]);
  }
  return coords;
}

Value KernelIO::fma(Value x, Value y, Value acc) {
  auto contract = arith::FastMathFlags::contract;
  return arith::AddFOp::create(
      b, loc, acc, arith::MulFOp::create(b, loc, x, y, contract), contract);
}

Value KernelIO::toF32(Value value) {
  if (value.getType().isF32())
    return value;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), value);
}

Value KernelIO::fromF32(Value value, Type type) {
  if (type.isF32())
    return value;
  return arith::TruncFOp::create(b, loc, type, value);
}

} // namespace mlir::hybrid::gpu_stage
