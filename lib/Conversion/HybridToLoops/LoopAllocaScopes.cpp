//===- LoopAllocaScopes.cpp - Per-iteration stack scratch -----------------===//

#include "hybrid/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_SCOPELOOPALLOCAS
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

/// Saves the stack pointer at the start of `body` and restores it before
/// its terminator: what lowering `memref.alloca_scope` produces, without a
/// region (which would become multi-block inside a structured loop).
static void releaseStackPerIteration(Block &body) {
  OpBuilder b = OpBuilder::atBlockBegin(&body);
  Location loc = body.getParentOp()->getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value saved = LLVM::StackSaveOp::create(b, loc, ptrType);
  b.setInsertionPoint(body.getTerminator());
  LLVM::StackRestoreOp::create(b, loc, saved);
}

namespace {
struct ScopeLoopAllocas
    : hybrid::impl::ScopeLoopAllocasBase<ScopeLoopAllocas> {
  void runOnOperation() override {
    SmallVector<Block *> bodies;
    getOperation().walk([&](Operation *op) {
      if (!isa<scf::ForOp, scf::ParallelOp>(op))
        return;
      Block &body = op->getRegion(0).front();
      if (llvm::any_of(body, [](Operation &o) { return isa<memref::AllocaOp>(o); }))
        bodies.push_back(&body);
    });
    for (Block *body : bodies)
      releaseStackPerIteration(*body);
  }
};
} // namespace
