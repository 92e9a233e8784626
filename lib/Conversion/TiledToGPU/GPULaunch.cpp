//===- GPULaunch.cpp - Guarded kernel launches ----------------------------===//

#include "GPUKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace mlir::hybrid::gpu_stage {

MemRefType getWorkgroupBufferType(ArrayRef<int64_t> shape, Type elementType) {
  MLIRContext *ctx = elementType.getContext();
  return MemRefType::get(
      shape, elementType, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
}

// Shared-memory buffers are module globals (`memref.global` in the
// workgroup address space) read in the kernel with `memref.get_global`;
// gpu-kernel-outlining copies them into the kernel's module. Not launch
// attributions: buffer deallocation gives every block argument of memref
// type an ownership flag, which would corrupt a launch built before
// bufferization.
Launch createGuardedLaunch(OpBuilder &b, Location loc, Value work,
                           std::array<Value, 3> grid, int64_t threads,
                           TypeRange workgroupBuffers) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, work,
                                    zero);
  auto guard = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value threadCount = arith::ConstantIndexOp::create(b, loc, threads);
  auto launch = gpu::LaunchOp::create(b, loc, grid[0], grid[1], grid[2],
                                      threadCount, one, one);
  Block &body = launch.getBody().front();
  if (body.empty() || !body.back().hasTrait<OpTrait::IsTerminator>()) {
    b.setInsertionPointToEnd(&body);
    gpu::TerminatorOp::create(b, loc);
  }
  b.setInsertionPoint(body.getTerminator());
  SmallVector<Value, 4> shared;
  for (Type type : workgroupBuffers) {
    auto memrefType = cast<MemRefType>(type);
    // Built detached, so that the symbol table can rename it on insertion.
    OpBuilder detached(b.getContext());
    auto global = memref::GlobalOp::create(
        detached, loc, b.getStringAttr("__hybrid_shared"),
        b.getStringAttr("private"), TypeAttr::get(memrefType),
        /*initial_value=*/b.getUnitAttr(), /*constant=*/UnitAttr(),
        b.getI64IntegerAttr(16));
    std::string name =
        SymbolTable(module).insert(global, module.getBody()->begin()).str();
    shared.push_back(
        memref::GetGlobalOp::create(b, loc, memrefType, name));
  }
  gpu::KernelDim3 blocks = launch.getBlockIds();
  gpu::KernelDim3 threadIds = launch.getThreadIds();
  return Launch{launch, blocks.x, blocks.y, blocks.z, threadIds.x, shared};
}

} // namespace mlir::hybrid::gpu_stage
