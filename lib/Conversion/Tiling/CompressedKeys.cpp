//===- CompressedKeys.cpp - InfLLM-V2's compressed keys, for every target -===//

#include "hybrid/Conversion/Tiling/CompressedKeys.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::hybrid;

using P = arith::CmpIPredicate;

/// The number of full kernel windows in the first `keys` keys.
Value mlir::hybrid::kernelsIn(KernelBuilder &kb, SparseConfigAttr config, Value keys) {
  Value kernel = kb.index(config.getKernelSize());
  return kb.select(
      kb.cmpi(P::uge, keys, kernel),
      kb.addi(kb.divui(kb.subi(keys, kernel),
                       kb.index(config.getKernelStride())),
              kb.index(1)),
      kb.index(0));
}

/// Compressed keys of sizes `dims` ([B, Hkv, rows, D]) must match the
/// key's batch, heads and head dim, and hold `kernels` rows.
void mlir::hybrid::checkCompressedKeys(KernelBuilder &kb, RuntimeChecks &checks,
                         ArrayRef<Value> dims, Value batch, Value kvHeads,
                         Value headDim, Value kernels) {
  checks.check(kb.ori(kb.ori(kb.cmpi(P::ne, dims[0], batch),
                             kb.cmpi(P::ne, dims[1], kvHeads)),
                      kb.cmpi(P::ne, dims[3], headDim)),
               "the compressed keys must be [batch, kv heads, kernels, head "
               "dim] like the key");
  checks.check(kb.cmpi(P::ugt, kernels, dims[2]),
               "the compressed keys have fewer rows than the keys' kernels");
}

Value mlir::hybrid::buildCompressKeys(KernelBuilder &kb, CompressKeysOp op,
                                      CompressedRowsEmitter emitRows) {
  OpBuilder &b = kb.b;
  Location loc = op.getLoc();
  SparseConfigAttr config = op.getConfig();
  Value cache = op.getCompressed();
  Value key = kb.buffer(op.getKey());
  Value batch = kb.dim(key, 0), kvHeads = kb.dim(key, 1),
        headDim = kb.dim(key, 3);
  Value keys = op.getKeyLength() ? op.getKeyLength() : kb.dim(key, 2);
  Value since = op.getSince() ? op.getSince() : kb.index(0);
  SmallVector<Value> cacheDims;
  for (int64_t d = 0; d < 4; ++d)
    cacheDims.push_back(tensor::DimOp::create(b, loc, cache, d));

  RuntimeChecks checks(kb, "hybrid.compress_keys");
  checks.check(kb.cmpi(P::ugt, keys, kb.dim(key, 2)),
               "key_length is outside [0, the key's rows]");
  checks.check(kb.cmpi(P::slt, since, kb.index(0)), "since is negative");
  Value end = kernelsIn(kb, config, keys);
  checkCompressedKeys(kb, checks, cacheDims, batch, kvHeads, headDim, end);
  Value begin = kb.minui(kernelsIn(kb, config, kb.minui(since, keys)), end);
  Value ok = checks.passed();
  auto ifOk = [&](Value v) { return kb.select(ok, v, kb.index(0)); };
  Value first = ifOk(begin);
  SmallVector<Value> sizes = {ifOk(batch), ifOk(kvHeads),
                              ifOk(kb.subi(end, begin)), ifOk(headDim)};
  int64_t dyn = ShapedType::kDynamic;
  auto rowsType = RankedTensorType::get({dyn, dyn, dyn, dyn}, b.getF32Type());
  Value rows = kb.alloc(rowsType, sizes);
  kb.ifThen(ok, [&] { emitRows(kb, config, key, rows, first, sizes[2]); });
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                       first, b.getIndexAttr(0)};
  SmallVector<OpFoldResult> ones(4, b.getIndexAttr(1));
  return tensor::InsertSliceOp::create(b, loc, kb.tensor(rows, rowsType),
                                       cache, offsets,
                                       getAsOpFoldResult(sizes), ones);
}
