//===- EmbedPTXSet.cpp - hybrid-gpu-embed-ptx-set -------------------------===//
//
// A gpu.binary's PTX objects for several chips merged into one object, the
// PTX set the GPU runtime's loader picks from by the device's compute
// capability (the pass description in Passes.td gives the layout).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDGPUEMBEDPTXSET
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

struct HybridGPUEmbedPTXSet
    : hybrid::impl::HybridGPUEmbedPTXSetBase<HybridGPUEmbedPTXSet> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    WalkResult result = getOperation().walk([&](gpu::BinaryOp binary) {
      ArrayRef<Attribute> objects = binary.getObjects().getValue();
      if (objects.size() < 2)
        return WalkResult::advance();
      std::string set = "HYBRID-PTX-SET\n";
      for (Attribute attr : objects) {
        auto object = cast<gpu::ObjectAttr>(attr);
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
        if (!target || object.getFormat() != gpu::CompilationTarget::Assembly) {
          binary.emitError("a PTX set takes PTX (format=isa) for NVVM "
                           "targets only");
          return WalkResult::interrupt();
        }
        StringRef ptx = object.getObject().getValue();
        set += target.getChip().str() + " " + std::to_string(ptx.size()) +
               "\n";
        set += ptx.str();
        set += '\0';
      }
      auto first = cast<gpu::ObjectAttr>(objects.front());
      auto merged = gpu::ObjectAttr::get(
          ctx, first.getTarget(), gpu::CompilationTarget::Assembly,
          StringAttr::get(ctx, set), first.getProperties(),
          first.getKernels());
      binary.setObjectsAttr(ArrayAttr::get(ctx, {merged}));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
