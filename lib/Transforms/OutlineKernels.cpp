//===- OutlineKernels.cpp - One function per distinct kernel --------------===//
//
// A decoder repeats the same layer dozens of times: the same projections,
// norms and attention on the same types. Lowered in place, each copy becomes
// its own loop nests, and LLVM optimises and code-generates every copy
// (compile time and memory linear in the layers, with a large constant).
// Outlined, each distinct kernel is a private function, lowered once and
// called per layer; a call costs nanoseconds against kernels of
// microseconds or more.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridDialect.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDOUTLINEKERNELS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// The ops that become one kernel with `root`, in program order: the
/// `tensor.empty` and constant `linalg.fill` inits that only it uses (a
/// product then fills C inside its tasks, and no empty tensor crosses a
/// call), the `linalg.unpack`s of prepacked weights that only it reads,
/// then the root itself.
SmallVector<Operation *> clusterOf(Operation *root) {
  SmallVector<Operation *> ops;
  auto addEmpty = [&](Value v) {
    if (auto empty = v.getDefiningOp<tensor::EmptyOp>(); empty && empty->hasOneUse())
      ops.push_back(empty);
  };
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(root))
    for (Value init : dps.getDpsInits()) {
      auto fill = init.getDefiningOp<linalg::FillOp>();
      if (fill && fill->hasOneUse() &&
          matchPattern(fill.getInputs()[0], m_Constant())) {
        addEmpty(fill.getOutputs()[0]);
        ops.push_back(fill);
        continue;
      }
      addEmpty(init);
    }
  // A weight bound in the product's panels (hybrid-prepack-weights) is read
  // through its unpack, which the product's lowering folds away: it goes
  // with the product, so that the kernel takes the panels themselves.
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(root))
    for (OpOperand *input : dps.getDpsInputOperands()) {
      auto unpack = input->get().getDefiningOp<linalg::UnPackOp>();
      if (!unpack || !unpack->hasOneUse())
        continue;
      addEmpty(unpack.getDest());
      ops.push_back(unpack);
    }
  ops.push_back(root);
  return ops;
}

/// Hybrid ops, linalg ops on tensors and elementwise ops on tensors: the
/// ops that become loop nests.
bool isKernelRoot(Operation *op) {
  if (isa<CheckOp, WriteBackOp>(op)) // the entry point's interface
    return false;
  if (isa_and_nonnull<HybridDialect>(op->getDialect()))
    return true;
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return linalgOp.hasPureTensorSemantics();
  return op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
         isa<RankedTensorType>(op->getResult(0).getType());
}

struct HybridOutlineKernels
    : hybrid::impl::HybridOutlineKernelsBase<HybridOutlineKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    kernels.clear();
    SmallVector<Operation *> roots;
    module.walk([&](Operation *op) {
      if (isKernelRoot(op))
        roots.push_back(op);
    });
    // An init that a later kernel takes in is not a kernel of its own.
    llvm::SmallPtrSet<Operation *, 16> absorbed;
    for (Operation *root : roots)
      for (Operation *op : clusterOf(root))
        if (op != root)
          absorbed.insert(op);
    for (Operation *root : roots)
      if (!absorbed.contains(root))
        outline(module, root);
  }

  void outline(ModuleOp module, Operation *root) {
    SmallVector<Operation *> cluster = clusterOf(root);
    llvm::SmallPtrSet<Operation *, 4> inCluster(cluster.begin(),
                                                cluster.end());
    // Values from outside: constants are cloned in, the rest are arguments.
    // Values from outside, as operands or captured by a region (a
    // linalg.generic body reading a scalar): constants are cloned in, the
    // rest become arguments.
    llvm::SetVector<Value> arguments;
    llvm::SetVector<Operation *> constants;
    auto capture = [&](Value value) {
      Operation *def = value.getDefiningOp();
      if (def && inCluster.contains(def))
        return;
      if (def && def->getNumOperands() == 0 && matchPattern(def, m_Constant()))
        constants.insert(def);
      else
        arguments.insert(value);
    };
    for (Operation *op : cluster) {
      for (Value operand : op->getOperands())
        capture(operand);
      llvm::SetVector<Value> above;
      for (Region &region : op->getRegions())
        getUsedValuesDefinedAbove(region, above);
      for (Value value : above)
        capture(value);
    }

    OpBuilder b(module.getContext());
    b.setInsertionPointToEnd(module.getBody());
    auto type = b.getFunctionType(TypeRange(arguments.getArrayRef()),
                                  root->getResultTypes());
    auto fn = func::FuncOp::create(b, root->getLoc(), "__hybrid_kernel", type);
    fn.setPrivate();
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    IRMapping map;
    for (auto [value, arg] : llvm::zip(arguments, body->getArguments()))
      map.map(value, arg);
    for (Operation *constant : constants)
      b.clone(*constant, map);
    for (Operation *op : cluster)
      b.clone(*op, map);
    SmallVector<Value> results;
    for (Value r : root->getResults())
      results.push_back(map.lookup(r));
    func::ReturnOp::create(b, root->getLoc(), results);

    // Identical kernels print identically (the name is still the
    // placeholder, locations are not printed).
    std::string key;
    llvm::raw_string_ostream os(key);
    fn->print(os, OpPrintingFlags().useLocalScope());
    auto [it, inserted] = kernels.try_emplace(key, fn);
    if (inserted) {
      std::string name = ("__hybrid_kernel_" + root->getName().stripDialect() +
                          "_" + Twine(kernels.size() - 1))
                             .str();
      fn.setSymName(name);
      // Kept out of line down to machine code (LLVM's inliner would copy
      // small kernels back into every layer).
      fn->setAttr("passthrough",
                  b.getArrayAttr({b.getStringAttr("noinline")}));
    } else {
      fn.erase();
      fn = it->second;
    }

    b.setInsertionPoint(root);
    auto call = func::CallOp::create(b, root->getLoc(), fn,
                                     arguments.getArrayRef());
    root->replaceAllUsesWith(call.getResults());
    for (Operation *op : llvm::reverse(cluster))
      if (op->use_empty())
        op->erase();
  }

  llvm::StringMap<func::FuncOp> kernels;
};

} // namespace
