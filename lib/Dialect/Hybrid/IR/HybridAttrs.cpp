//===- HybridAttrs.cpp - Attribute verifiers ------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"

#include "llvm/ADT/STLExtras.h"

#include <limits>

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
  // The lengths size the kernels' scratch (top-k slots, windows, blocks):
  // bounded so that no allocation size derived from them can wrap. Real
  // configs are a few thousand at most; dense_len is only compared.
  constexpr int64_t kMaxLength = int64_t(1) << 24;
  for (auto [name, v] : {std::pair<StringRef, int64_t>{"kernel_size", kernelSize},
                         {"kernel_stride", kernelStride},
                         {"block_size", blockSize},
                         {"topk", topk},
                         {"init_blocks", initBlocks},
                         {"window_size", windowSize}})
    if (v > kMaxLength)
      return emitError() << "sparse_config " << name << " " << v
                         << " exceeds 2^24";
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

// The file is resolved under the model's folder at load time; a path that
// could leave it is refused here as well as by the runtime.
LogicalResult
ParameterAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      StringAttr key, StringAttr file, int64_t offset,
                      int64_t length, int64_t panels,
                      DenseI64ArrayAttr permutation, DenseI64ArrayAttr rows) {
  if (!key || key.getValue().empty())
    return emitError() << "parameter key must not be empty";
  if (!file || file.getValue().empty())
    return emitError() << "parameter '" << key.getValue()
                       << "' names no file";
  StringRef path = file.getValue();
  if (path.starts_with("/"))
    return emitError() << "parameter '" << key.getValue() << "' file '"
                       << path << "' must be relative to the model's folder";
  SmallVector<StringRef> parts;
  path.split(parts, '/');
  if (llvm::is_contained(parts, ".."))
    return emitError() << "parameter '" << key.getValue() << "' file '"
                       << path << "' must not leave the model's folder ('..')";
  if (offset < 0 || length < 0 ||
      offset > std::numeric_limits<int64_t>::max() - length)
    return emitError() << "parameter '" << key.getValue()
                       << "' has an invalid byte range (offset " << offset
                       << ", length " << length << ")";
  if (panels < 0)
    return emitError() << "parameter '" << key.getValue()
                       << "' has a negative panel width " << panels;
  if (permutation) {
    ArrayRef<int64_t> perm = permutation.asArrayRef();
    SmallVector<bool> seen(perm.size(), false);
    for (int64_t d : perm) {
      if (d < 0 || d >= int64_t(perm.size()) || seen[d])
        return emitError() << "parameter '" << key.getValue()
                           << "' has an invalid permutation [" << perm << "]";
      seen[d] = true;
    }
  }
  if (int(panels != 0) + int(bool(permutation)) + int(bool(rows)) > 1)
    return emitError() << "parameter '" << key.getValue()
                       << "' has more than one of panels, a permutation and "
                          "rows";
  if (rows && llvm::any_of(rows.asArrayRef(), [](int64_t r) { return r < 0; }))
    return emitError() << "parameter '" << key.getValue()
                       << "' has a negative row";
  return success();
}
