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
    for (llvm::json::Value &line :
         costReport(getOperation(), {contextLength, treeSize, chunkSparsity}))
      llvm::outs() << line << "\n";
    llvm::outs().flush();
    markAllAnalysesPreserved();
  }
};
} // namespace
