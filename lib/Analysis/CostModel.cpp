//===- CostModel.cpp - The cost model every Hybrid pass queries -----------===//

#include "hybrid/Analysis/CostModel.h"

#include "hybrid/Conversion/Tiling/TiledAttention.h"

#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::hybrid;

OpCost &OpCost::operator+=(const OpCost &o) {
  flops += o.flops;
  bytes += o.bytes;
  kvCacheBytes += o.kvCacheBytes;
  stateBytes += o.stateBytes;
  denseKeys += o.denseKeys;
  attendedKeys += o.attendedKeys;
  activeExperts += o.activeExperts;
  experts += o.experts;
  return *this;
}

llvm::json::Object OpCost::toJSON() const {
  llvm::json::Object o{{"flops", flops},
                       {"bytes", bytes},
                       {"kv_cache_bytes", kvCacheBytes},
                       {"state_bytes", stateBytes}};
  if (denseKeys > 0) {
    o["dense_keys"] = denseKeys;
    o["attended_keys"] = attendedKeys;
  }
  if (experts > 0) {
    o["active_experts"] = activeExperts;
    o["experts"] = experts;
  }
  return o;
}

int64_t CostModel::resolve(int64_t size, int64_t dynamicValue) const {
  return ShapedType::isDynamic(size) ? dynamicValue : size;
}

static int64_t bytesOf(Type elementType) {
  return std::max<int64_t>(1, elementType.getIntOrFloatBitWidth() / 8);
}

AttentionSizes CostModel::attentionSizes(Value query, Value key,
                                         Value value) const {
  auto q = cast<ShapedType>(query.getType());
  auto k = cast<ShapedType>(key.getType());
  AttentionSizes s;
  s.batch = resolve(q.getDimSize(0), 1);
  s.qHeads = resolve(q.getDimSize(1), 1);
  s.kvHeads = resolve(k.getDimSize(1), 1);
  s.qLen = resolve(q.getDimSize(2), options.queryTokens());
  s.kvLen = resolve(k.getDimSize(2), options.contextLength);
  s.headDim = resolve(q.getDimSize(3), 128);
  s.valueDim =
      value ? resolve(cast<ShapedType>(value.getType()).getDimSize(3), s.headDim)
            : s.headDim;
  s.bytesPerElement = bytesOf(q.getElementType());
  return s;
}

double CostModel::attentionKVReadBytes(const AttentionSizes &s,
                                       GQALayout layout) const {
  int64_t group = s.group();
  int64_t rowsPerHead =
      layout == GQALayout::GroupPacked
          ? std::max<int64_t>(1, kAttentionRowsPerBlock / std::max<int64_t>(group, 1))
          : kAttentionRowsPerBlock;
  rowsPerHead = std::max<int64_t>(1, std::min(rowsPerHead, s.qLen));
  int64_t rowBlocks = (s.qLen + rowsPerHead - 1) / rowsPerHead;
  int64_t heads = layout == GQALayout::GroupPacked ? s.kvHeads : s.qHeads;
  double perBlock = double(s.kvLen) * (s.headDim + s.valueDim) *
                    s.bytesPerElement;
  return double(s.batch) * heads * rowBlocks * perBlock;
}

/// Attention of `attended` keys per row (average) on resolved sizes.
static OpCost attentionCost(const AttentionSizes &s, double attended,
                            double kvReadBytes) {
  OpCost c;
  double rows = double(s.batch) * s.qHeads * s.qLen;
  c.flops = 2.0 * rows * attended * (s.headDim + s.valueDim);
  c.kvCacheBytes = double(s.batch) * s.kvHeads * s.kvLen *
                   (s.headDim + s.valueDim) * s.bytesPerElement;
  c.bytes = kvReadBytes +
            rows * (s.headDim + s.valueDim) * s.bytesPerElement; // q and out
  c.denseKeys = s.kvLen;
  c.attendedKeys = attended;
  return c;
}

OpCost CostModel::estimate(Operation *op) const {
  return llvm::TypeSwitch<Operation *, OpCost>(op)
      .Case<AttentionOp>([&](AttentionOp a) {
        AttentionSizes s =
            attentionSizes(a.getQuery(), a.getKey(), a.getValue());
        // Causal rows see on average the keys up to their position.
        double attended =
            a.getCausal() ? std::max(1.0, s.kvLen - (s.qLen - 1) / 2.0)
                          : double(s.kvLen);
        GQALayout layout = a.getLayout().value_or(GQALayout::HeadMajor);
        OpCost c = attentionCost(s, attended,
                                 attentionKVReadBytes(s, layout) *
                                     attended / s.kvLen);
        return c;
      })
      .Case<BlockSparseAttentionOp>([&](BlockSparseAttentionOp a) {
        AttentionSizes s =
            attentionSizes(a.getQuery(), a.getKey(), a.getValue());
        SparseConfigAttr cfg = a.getConfig();
        double attended =
            s.kvLen < cfg.getDenseLen()
                ? double(s.kvLen)
                : std::min<double>(s.kvLen, double(cfg.getTopk() +
                                                   cfg.getLocalBlocks()) *
                                                cfg.getBlockSize());
        // The G heads of a group share the row's blocks (group-packed).
        double reads = double(s.batch) * s.kvHeads * s.qLen * attended *
                       (s.headDim + s.valueDim) * s.bytesPerElement;
        return attentionCost(s, attended, reads);
      })
      .Case<BlockSelectOp>([&](BlockSelectOp a) {
        AttentionSizes s = attentionSizes(a.getQuery(), a.getKey());
        SparseConfigAttr cfg = a.getConfig();
        double kernels = s.kvLen >= cfg.getKernelSize()
                             ? double(s.kvLen - cfg.getKernelSize()) /
                                       cfg.getKernelStride() + 1
                             : 0.0;
        double scores = 2.0 * s.batch * s.qHeads * s.qLen * kernels * s.headDim;
        OpCost c;
        if (a.getCompressed()) {
          // Compressed keys read from their cache (f32).
          c.flops = scores;
          c.bytes = double(s.batch) * s.kvHeads * kernels * s.headDim * 4.0;
          return c;
        }
        double keys = double(s.batch) * s.kvHeads * s.kvLen * s.headDim;
        c.flops = scores + keys; // scores + compression
        c.bytes = keys * s.bytesPerElement;
        return c;
      })
      .Case<CompressKeysOp>([&](CompressKeysOp k) {
        // The windows that end in a step's new rows: one per stride.
        auto key = cast<ShapedType>(k.getKey().getType());
        SparseConfigAttr cfg = k.getConfig();
        double windows = std::ceil(double(options.queryTokens()) /
                                   cfg.getKernelStride());
        double values = resolve(key.getDimSize(0), 1) *
                        resolve(key.getDimSize(1), 1) * windows *
                        cfg.getKernelSize() * resolve(key.getDimSize(3), 128);
        OpCost c;
        c.flops = values;
        c.bytes = values * bytesOf(key.getElementType());
        return c;
      })
      .Case<LinearRecurrenceOp>([&](LinearRecurrenceOp r) {
        auto q = cast<ShapedType>(r.getQuery().getType());
        auto k = cast<ShapedType>(r.getKey().getType());
        auto v = cast<ShapedType>(r.getValue().getType());
        int64_t batch = resolve(q.getDimSize(0), 1),
                hq = resolve(q.getDimSize(1), 1),
                hkv = resolve(k.getDimSize(1), 1),
                t = resolve(q.getDimSize(2), options.queryTokens()),
                dk = resolve(q.getDimSize(3), 128),
                dv = resolve(v.getDimSize(3), dk);
        double perToken = 2.0 * dk * dv * (1 + (r.isDelta() ? 1 : 0)) * hkv +
                          2.0 * dk * dv * hq;
        OpCost c;
        c.flops = batch * t * perToken;
        c.stateBytes = 4.0 * batch * hkv * dk * dv;
        int64_t bytes = bytesOf(q.getElementType());
        c.bytes = 2 * c.stateBytes +
                  double(batch) * t * (hq * (dk + dv) + hkv * (dk + dv)) * bytes;
        return c;
      })
      .Case<ChunkMoEOp>([&](ChunkMoEOp m) {
        auto x = cast<ShapedType>(m.getInput().getType());
        auto up = cast<ShapedType>(m.getExpertUp().getType());
        int64_t t = resolve(x.getDimSize(0), options.queryTokens()),
                dm = resolve(x.getDimSize(1), 1024),
                e = resolve(up.getDimSize(0), 1),
                width = resolve(up.getDimSize(1), 1);
        int64_t bytes = bytesOf(x.getElementType());
        double chunks = std::ceil(double(t) / std::max<int64_t>(1, m.getChunk()));
        double active = (1.0 - options.chunkSparsity) * e;
        OpCost c;
        c.experts = e;
        c.activeExperts = active;
        c.flops = 2.0 * t * e * dm + 4.0 * t * active * dm * width;
        c.bytes = chunks * active * 2.0 * dm * width * bytes +
                  double(e) * dm * bytes + 2.0 * t * dm * bytes;
        return c;
      })
      .Case<TreeVerifyOp>([&](TreeVerifyOp v) {
        auto target = cast<ShapedType>(v.getTarget().getType());
        OpCost c;
        if (target.getRank() == 2) {
          double n = resolve(target.getDimSize(0), options.queryTokens()),
                 vocab = resolve(target.getDimSize(1), 32000);
          c.flops = n * vocab;
          c.bytes = n * vocab * bytesOf(target.getElementType());
        }
        return c;
      })
      .Case<KVCompactOp>([&](KVCompactOp k) {
        OpCost c;
        for (Value cache : k.getCaches()) {
          auto t = cast<ShapedType>(cache.getType());
          c.bytes += 2.0 * resolve(t.getDimSize(0), 1) *
                     resolve(t.getDimSize(1), 1) * options.queryTokens() *
                     resolve(t.getDimSize(3), 128) *
                     bytesOf(t.getElementType());
        }
        return c;
      })
      .Case<RMSNormOp, RotaryEmbeddingOp>([&](Operation *o) {
        auto t = cast<ShapedType>(o->getResult(0).getType());
        double n = 1;
        for (int64_t d : t.getShape())
          n *= resolve(d, options.queryTokens());
        OpCost c;
        c.flops = 4 * n;
        c.bytes = 2 * n * bytesOf(t.getElementType());
        return c;
      })
      .Default([](Operation *) { return OpCost(); });
}

OpCost CostModel::estimateAll(Operation *root) const {
  OpCost total;
  root->walk([&](Operation *op) {
    if (isa_and_nonnull<HybridDialect>(op->getDialect()))
      total += estimate(op);
  });
  return total;
}

llvm::json::Array mlir::hybrid::costReport(Operation *root,
                                           const CostModelOptions &options) {
  CostModel model(options);
  OpCost total;
  llvm::json::Array lines;
  root->walk([&](Operation *op) {
    if (!isa_and_nonnull<HybridDialect>(op->getDialect()))
      return;
    OpCost cost = model.estimate(op);
    total += cost;
    llvm::json::Object line = cost.toJSON();
    line["op"] = op->getName().getStringRef();
    std::string loc;
    llvm::raw_string_ostream(loc) << op->getLoc();
    line["loc"] = loc;
    lines.push_back(std::move(line));
  });
  llvm::json::Object summary = total.toJSON();
  summary["op"] = "module";
  summary["context_length"] = options.contextLength;
  summary["tree_size"] = options.treeSize;
  lines.push_back(std::move(summary));
  return lines;
}
