//===- PrepackWeights.cpp - Weights bound in the product's panels ---------===//
//
// The tiled product packs B into column panels (kc x cols, k-major) so that
// its register tile streams them. For a weight that is a waste: every call
// packs the same bytes again (ONNX Runtime prepacks its initializers for
// the same reason). Here a weight parameter read only as B takes that
// layout at load time: the runtime packs the file's rows once when it
// binds it, and the product reads the panels in place. This is IREE's
// data tiling (a relayout at the graph level, `linalg.pack`/`unpack`),
// with the pack hoisted out of the program into parameter binding.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDPREPACKWEIGHTS
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;
using namespace mlir::hybrid;

namespace {

/// `use` is the right operand of a plain f32 product on tensors (the form
/// the tiled product lowers).
bool isProductB(OpOperand &use) {
  auto matmul = dyn_cast<linalg::MatmulOp>(use.getOwner());
  if (!matmul || use.getOperandNumber() != 1 ||
      !matmul.hasPureTensorSemantics() || matmul->getNumResults() != 1 ||
      matmul.getIndexingMapsArray() !=
          matmul.getDefaultIndexingMaps(matmul.getContext()))
    return false;
  return getElementTypeOrSelf(matmul->getResult(0).getType()).isF32();
}

struct HybridPrepackWeights
    : hybrid::impl::HybridPrepackWeightsBase<HybridPrepackWeights> {
  using Base::Base;

  void runOnOperation() override {
    if (panelCols < 1) {
      getOperation().emitError("panel-cols must be positive");
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn.isExternal())
        for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
          prepack(fn, i);
  }

  void prepack(func::FuncOp fn, unsigned index) {
    auto param = fn.getArgAttrOfType<ParameterAttr>(
        index, ParameterAttr::getArgAttrName());
    BlockArgument arg = fn.getArgument(index);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!param || !param.isAsStored() ||
        !type || type.getRank() != 2 ||
        !type.hasStaticShape() || !type.getElementType().isF32() ||
        type.getDimSize(1) < panelCols || arg.use_empty() ||
        !llvm::all_of(arg.getUses(), isProductB))
      return;
    int64_t k = type.getDimSize(0), n = type.getDimSize(1);
    auto packed = RankedTensorType::get(
        {static_cast<int64_t>(llvm::divideCeil(n, panelCols)), k, panelCols},
        type.getElementType());
    MLIRContext *ctx = &getContext();
    SmallVector<OpOperand *> uses =
        llvm::map_to_vector(arg.getUses(), [](OpOperand &u) { return &u; });
    arg.setType(packed);
    for (OpOperand *use : uses) {
      OpBuilder b(use->getOwner());
      Location loc = use->getOwner()->getLoc();
      Value dest = tensor::EmptyOp::create(b, loc, type.getShape(),
                                           type.getElementType());
      Value unpacked = linalg::UnPackOp::create(
          b, loc, arg, dest, /*innerDimsPos=*/{1},
          /*innerTiles=*/{b.getIndexAttr(panelCols)},
          /*outerDimsPerm=*/{1, 0});
      use->set(unpacked);
    }
    SmallVector<Type> inputs(fn.getArgumentTypes());
    inputs[index] = packed;
    fn.setFunctionType(FunctionType::get(ctx, inputs, fn.getResultTypes()));
    fn.setArgAttr(index, ParameterAttr::getArgAttrName(),
                  ParameterAttr::get(ctx, param.getKey(), param.getFile(),
                                     param.getOffset(), param.getLength(),
                                     panelCols, /*permutation=*/nullptr,
                                     /*rows=*/nullptr));
  }
};

} // namespace
