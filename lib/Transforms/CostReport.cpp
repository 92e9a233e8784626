//===- CostReport.cpp - Print the cost model as JSON ----------------------===//

#include "hybrid/Analysis/CostModel.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDCOSTREPORT
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {
struct HybridCostReport
    : hybrid::impl::HybridCostReportBase<HybridCostReport> {
  using Base::Base;

  void runOnOperation() override {
    CostModel model({contextLength, treeSize, chunkSparsity});
    OpCost total;
    getOperation().walk([&](Operation *op) {
      if (!isa_and_nonnull<HybridDialect>(op->getDialect()))
        return;
      OpCost cost = model.estimate(op);
      total += cost;
      llvm::json::Object line = cost.toJSON();
      line["op"] = op->getName().getStringRef();
      std::string loc;
      llvm::raw_string_ostream(loc) << op->getLoc();
      line["loc"] = loc;
      llvm::outs() << llvm::json::Value(std::move(line)) << "\n";
    });
    llvm::json::Object summary = total.toJSON();
    summary["op"] = "module";
    summary["context_length"] = int64_t(contextLength);
    summary["tree_size"] = int64_t(treeSize);
    llvm::outs() << llvm::json::Value(std::move(summary)) << "\n";
    llvm::outs().flush();
    markAllAnalysesPreserved();
  }
};
} // namespace
