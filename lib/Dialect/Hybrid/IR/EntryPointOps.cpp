//===- EntryPointOps.cpp - The entry-point interface ops ------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

using namespace mlir;
using namespace mlir::hybrid;

LogicalResult WriteBackOp::verify() {
  auto arg = dyn_cast<BlockArgument>(getArgument());
  auto func = (*this)->getParentOfType<func::FuncOp>();
  if (!arg || !func || arg.getOwner() != &func.getBody().front())
    return emitOpError("writes back into '")
           << getArgument()
           << "', which is not an argument of the enclosing function";
  return success();
}
