//===- SelectGQALayout.cpp - Choose the GQA layout from the cost model ----===//

#include "hybrid/Analysis/CostModel.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDSELECTGQALAYOUT
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {
struct HybridSelectGQALayout
    : hybrid::impl::HybridSelectGQALayoutBase<HybridSelectGQALayout> {
  using Base::Base;

  void runOnOperation() override {
    CostModel model({contextLength, treeSize, chunkSparsity});
    getOperation().walk([&](AttentionOp op) {
      if (op.getLayout() && !force)
        return;
      AttentionSizes sizes = model.attentionSizes(op.getQuery(), op.getKey(), op.getValue());
      double headMajor =
          model.attentionKVReadBytes(sizes, GQALayout::HeadMajor);
      double packed = model.attentionKVReadBytes(sizes, GQALayout::GroupPacked);
      GQALayout choice =
          packed < headMajor ? GQALayout::GroupPacked : GQALayout::HeadMajor;
      op.setLayoutAttr(GQALayoutAttr::get(&getContext(), choice));
      if (report)
        op.emitRemark() << stringifyGQALayout(choice) << ": K/V reads "
                        << llvm::formatv("{0:e2}", packed).str()
                        << " B group-packed vs "
                        << llvm::formatv("{0:e2}", headMajor).str()
                        << " B head-major (G = " << sizes.group()
                        << ", query rows " << sizes.qLen << ", keys "
                        << sizes.kvLen << ")";
    });
  }
};
} // namespace
