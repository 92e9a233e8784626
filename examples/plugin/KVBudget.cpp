//===- KVBudget.cpp - An out-of-tree Hybrid pass, loaded as a plugin ------===//
//
// Follows docs/AddingAPass.md: a Passes.td entry, the generated base class,
// the decision delegated to Hybrid's cost model, a diagnostic that says
// why, and mlirGetPassPluginInfo so that hybrid-opt --load-pass-plugin can
// load it.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Analysis/CostModel.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FormatVariadic.h"

namespace kvbudget {
#define GEN_PASS_DECL
#define GEN_PASS_DEF_KVBUDGET
#define GEN_PASS_REGISTRATION
#include "KVBudget.h.inc"
} // namespace kvbudget

using namespace mlir;

namespace {
struct KVBudget : kvbudget::impl::KVBudgetBase<KVBudget> {
  using Base::Base;

  void runOnOperation() override {
    hybrid::CostModelOptions options;
    options.contextLength = contextLength;
    hybrid::CostModel model(options);
    double budget = budgetMiB * 1024.0 * 1024.0;
    getOperation().walk([&](Operation *op) {
      if (!isa<hybrid::AttentionOp, hybrid::BlockSparseAttentionOp>(op))
        return;
      double bytes = model.estimate(op).kvCacheBytes;
      op->setAttr("kv_budget.bytes",
                  IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                   static_cast<int64_t>(bytes)));
      if (bytes > budget)
        op->emitWarning() << "KV cache of "
                          << llvm::formatv("{0:f1}", bytes / (1024.0 * 1024.0))
                          << " MiB at " << int64_t(contextLength)
                          << " keys exceeds the budget of "
                          << llvm::formatv("{0:f1}", double(budgetMiB))
                          << " MiB";
    });
  }
};
} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "HybridKVBudget", LLVM_VERSION_STRING,
          [] { kvbudget::registerKVBudget(); }};
}
