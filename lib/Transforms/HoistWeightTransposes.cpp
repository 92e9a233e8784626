//===- HoistWeightTransposes.cpp - Weights bound transposed ---------------===//
//
// A weight the program only ever reads transposed is transposed by every
// call, though its bytes never change. Here the transpose moves to binding:
// the parameter records the permutation, the runtime lays the file's tensor
// out so once, and the program reads it as it is (IREE hoists such
// constant expressions of globals into initializers for the same reason).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDHOISTWEIGHTTRANSPOSES
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// The transpose that `value` reaches through single-use static reshapes,
/// into a static `tensor.empty`, or null.
linalg::TransposeOp transposeThroughReshapes(Value value) {
  while (value.hasOneUse()) {
    Operation *user = *value.getUsers().begin();
    if (auto transpose = dyn_cast<linalg::TransposeOp>(user)) {
      auto init = transpose.getInit().getDefiningOp<tensor::EmptyOp>();
      return transpose.getInput() == value &&
                     transpose.hasPureTensorSemantics() && init &&
                     init->getNumOperands() == 0
                 ? transpose
                 : linalg::TransposeOp();
    }
    if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(user) ||
        user->getNumOperands() != 1)
      return {};
    value = user->getResult(0);
  }
  return {};
}

/// The ops from `value` to `transpose` (the reshapes, then the transpose).
SmallVector<Operation *> chainTo(Value value, linalg::TransposeOp transpose) {
  SmallVector<Operation *> chain;
  for (Operation *op = transpose; op;) {
    chain.push_back(op);
    Value input = op->getOperand(0);
    op = input == value ? nullptr : input.getDefiningOp();
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

/// Gives argument `index` of `fn` the type of `transpose`, the end of its
/// chain of uses, whose result now reads the argument.
void takeTransposed(func::FuncOp fn, unsigned index,
                    linalg::TransposeOp transpose) {
  BlockArgument arg = fn.getArgument(index);
  SmallVector<Operation *> chain = chainTo(arg, transpose);
  Type bound = transpose.getResult()[0].getType();
  Operation *init = transpose.getInit().getDefiningOp();
  arg.setType(bound);
  transpose.getResult()[0].replaceAllUsesWith(arg);
  for (Operation *op : llvm::reverse(chain))
    op->erase();
  if (init->use_empty())
    init->erase();
  SmallVector<Type> inputs(fn.getArgumentTypes());
  inputs[index] = bound;
  fn.setFunctionType(
      FunctionType::get(fn.getContext(), inputs, fn.getResultTypes()));
}

struct HybridHoistWeightTransposes
    : hybrid::impl::HybridHoistWeightTransposesBase<
          HybridHoistWeightTransposes> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Importers pass a layer's weights to a function shared by the layers:
    // a private function's argument read only transposed takes it
    // transposed, its callers transposing instead, until the transposes
    // reach the entry points' parameters.
    for (bool changed = true; changed;) {
      changed = false;
      for (auto fn : module.getOps<func::FuncOp>())
        if (fn.isPrivate() && !fn.isExternal())
          for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
            changed |= pushToCallers(fn, i);
    }
    for (auto fn : module.getOps<func::FuncOp>())
      if (!fn.isExternal())
        for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
          hoist(fn, i);
  }

  bool pushToCallers(func::FuncOp fn, unsigned index) {
    linalg::TransposeOp transpose =
        transposeThroughReshapes(fn.getArgument(index));
    if (!transpose)
      return false;
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(fn, getOperation());
    if (!uses)
      return false;
    SmallVector<func::CallOp> calls;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call || call.getCallee() != fn.getSymName())
        return false;
      calls.push_back(call);
    }
    SmallVector<Operation *> chain = chainTo(fn.getArgument(index), transpose);
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      IRMapping map;
      map.map(fn.getArgument(index), call.getOperand(index));
      Operation *last = nullptr;
      for (Operation *op : chain) {
        if (op == transpose)
          b.clone(*transpose.getInit().getDefiningOp(), map);
        last = b.clone(*op, map);
      }
      call->setOperand(index, last->getResult(0));
    }
    takeTransposed(fn, index, transpose);
    return true;
  }

  void hoist(func::FuncOp fn, unsigned index) {
    auto param = fn.getArgAttrOfType<ParameterAttr>(
        index, ParameterAttr::getArgAttrName());
    if (!param || !param.isAsStored())
      return;
    linalg::TransposeOp transpose =
        transposeThroughReshapes(fn.getArgument(index));
    if (!transpose ||
        !cast<RankedTensorType>(transpose.getResult()[0].getType())
             .hasStaticShape())
      return;
    // The file holds the transpose's input (reshapes keep the row-major
    // bytes); the argument now takes its result.
    DenseI64ArrayAttr permutation =
        DenseI64ArrayAttr::get(&getContext(), transpose.getPermutation());
    takeTransposed(fn, index, transpose);
    fn.setArgAttr(index, ParameterAttr::getArgAttrName(),
                  ParameterAttr::get(&getContext(), param.getKey(),
                                     param.getFile(), param.getOffset(),
                                     param.getLength(), /*panels=*/0,
                                     permutation, /*rows=*/nullptr));
  }
};

} // namespace
