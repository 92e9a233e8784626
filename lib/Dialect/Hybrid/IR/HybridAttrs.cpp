//===- HybridAttrs.cpp - Attribute verifiers ------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"

using namespace mlir;
using namespace mlir::hybrid;

// The pooling from kernel scores to block scores needs integral ratios
// between the three lengths; everything downstream relies on it.
LogicalResult
SparseConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         int64_t kernelSize, int64_t kernelStride,
                         int64_t blockSize, int64_t topk, int64_t initBlocks,
                         int64_t windowSize, int64_t denseLen) {
  auto positive = [&](StringRef name, int64_t v) -> LogicalResult {
    if (v > 0)
      return success();
    return emitError() << "sparse_config " << name << " must be positive, not "
                       << v;
  };
  if (failed(positive("kernel_size", kernelSize)) ||
      failed(positive("kernel_stride", kernelStride)) ||
      failed(positive("block_size", blockSize)) ||
      failed(positive("topk", topk)))
    return failure();
  if (initBlocks < 0 || windowSize < 0 || denseLen < 0)
    return emitError() << "sparse_config init_blocks, window_size and "
                          "dense_len must not be negative";
  if (kernelSize % kernelStride != 0)
    return emitError() << "sparse_config kernel_stride " << kernelStride
                       << " does not divide kernel_size " << kernelSize;
  if (blockSize % kernelStride != 0)
    return emitError() << "sparse_config kernel_stride " << kernelStride
                       << " does not divide block_size " << blockSize;
  if (windowSize % blockSize != 0)
    return emitError() << "sparse_config block_size " << blockSize
                       << " does not divide window_size " << windowSize;
  return success();
}
