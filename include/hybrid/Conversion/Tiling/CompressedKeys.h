//===- CompressedKeys.h - InfLLM-V2's compressed keys, for every target -*- C++ -*-===//
//
// hybrid.compress_keys keeps a cache of compressed keys (a window mean per
// kernel) up to date: what every target shares is which rows are new, the
// run-time checks, and the in-place update (the new rows inserted into the
// cache with one tensor.insert_slice). The targets compute the rows.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_COMPRESSEDKEYS_H
#define HYBRID_CONVERSION_TILING_COMPRESSEDKEYS_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

namespace mlir::hybrid {

/// The number of full kernel windows in the first `keys` keys.
Value kernelsIn(KernelBuilder &kb, SparseConfigAttr config, Value keys);

/// Compressed keys of sizes `dims` ([B, Hkv, rows, D]) must match the
/// key's batch, heads and head dim, and hold `kernels` rows.
void checkCompressedKeys(KernelBuilder &kb, RuntimeChecks &checks,
                         ArrayRef<Value> dims, Value batch, Value kvHeads,
                         Value headDim, Value kernels);

/// Computes rows[b, h, r, :] = mean(key[b, h, (first + r) * stride + w,
/// :], w < kernel) for r < count (the target's kernel).
using CompressedRowsEmitter = function_ref<void(
    KernelBuilder &kb, SparseConfigAttr config, Value key, Value rows,
    Value first, Value count)>;

/// The result of `op`: its checks, the new rows computed by `emitRows`,
/// inserted into the cache tensor.
Value buildCompressKeys(KernelBuilder &kb, CompressKeysOp op,
                        CompressedRowsEmitter emitRows);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_COMPRESSEDKEYS_H
