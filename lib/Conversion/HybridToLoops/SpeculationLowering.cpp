//===- SpeculationLowering.cpp - tree_verify and kv_compact kernels -------===//
//
// tree_verify: the target's argmax per node (parallel over nodes when given
// logits), then one pass in node order, since parents precede children:
// a node is accepted iff its draft token equals its parent's argmax and its
// parent is accepted; the deepest accepted node (lowest index on ties) wins.
//
// kv_compact: each cache is copied and the accepted path's rows moved to
// prefix_len + d; the accepted node's recurrent state is selected.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Conversion/Tiling/SpeculationShape.h"
#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "Lowerings.h"
#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::hybrid;

namespace {

using P = arith::CmpIPredicate;

struct TreeVerifyLowering : KernelPattern<TreeVerifyOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(TreeVerifyOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Type indexType = rewriter.getIndexType();
    Value parents = kb.buffer(op.getParents());
    Value draft = kb.buffer(op.getDraftTokens());
    Value target = kb.buffer(op.getTarget());
    bool logits = cast<MemRefType>(target.getType()).getRank() == 2;
    Value nodes = kb.dim(parents, 0);

    auto pathType = cast<RankedTensorType>(op.getPath().getType());
    auto scalarType = cast<RankedTensorType>(op.getLength().getType());
    Value path = kb.alloc(pathType, {nodes});
    Value length = kb.alloc(scalarType, {});
    Value bonus = kb.alloc(scalarType, {});

    RuntimeChecks checks(kb, "hybrid.tree_verify");
    checkTreeVerify(kb, checks, parents, draft, target, logits);

    kb.ifThen(checks.passed(), [&] {
      // a[i]: the target's token after node i (first maximum on ties).
      Value argmax = kb.alloc({OpFoldResult(nodes)}, indexType);
      kb.parallel({nodes}, [&](ValueRange ivs) {
        Value i = ivs[0];
        Value best;
        if (logits) {
          best = kb.loop(kb.index(1), kb.dim(target, 1), kb.index(1),
                         {kb.load(target, {i, kb.index(0)}), kb.index(0)},
                         [&](Value vIdx, ValueRange it) -> SmallVector<Value> {
                           Value x = kb.load(target, {i, vIdx});
                           Value better =
                               kb.cmpf(arith::CmpFPredicate::OGT, x, it[0]);
                           return {kb.select(better, x, it[0]),
                                   kb.select(better, vIdx, it[1])};
                         })[1];
        } else {
          best = kb.loadIndex(target, {i});
        }
        memref::StoreOp::create(rewriter, kb.loc, best, argmax, ValueRange{i});
      });
      auto argmaxOf = [&](Value i) {
        return memref::LoadOp::create(rewriter, kb.loc, argmax, ValueRange{i})
            .getResult();
      };
      // Acceptance and depth in node order.
      Value depth = kb.alloc({OpFoldResult(nodes)}, indexType);
      memref::StoreOp::create(rewriter, kb.loc, kb.index(0), depth,
                              ValueRange{kb.index(0)});
      auto result = kb.loop(
          kb.index(1), nodes, kb.index(1), {kb.index(0), kb.index(0)},
          [&](Value i, ValueRange it) -> SmallVector<Value> {
            Value p = kb.loadIndex(parents, {i});
            Value parentDepth = memref::LoadOp::create(rewriter, kb.loc, depth,
                                                       ValueRange{p});
            // depth < 0 marks a rejected node.
            Value parentOk = kb.cmpi(P::sge, parentDepth, kb.index(0));
            Value correct =
                kb.cmpi(P::eq, kb.loadIndex(draft, {i}), argmaxOf(p));
            Value ok = kb.andi(parentOk, correct);
            Value d = kb.select(ok, kb.addi(parentDepth, kb.index(1)),
                                kb.index(-1));
            memref::StoreOp::create(rewriter, kb.loc, d, depth,
                                    ValueRange{i});
            Value deeper = kb.cmpi(P::sgt, d, it[1]);
            return {kb.select(deeper, i, it[0]), kb.select(deeper, d, it[1])};
          });
      Value best = result[0], bestDepth = result[1];
      // The path root..best, padded with -1.
      kb.loop(kb.index(0), nodes, kb.index(1), [&](Value i) {
        kb.storeIndex(kb.index(-1), path, {i});
      });
      kb.loop(kb.index(0), kb.addi(bestDepth, kb.index(1)), kb.index(1),
              {best}, [&](Value s, ValueRange it) -> SmallVector<Value> {
                kb.storeIndex(it[0], path, {kb.subi(bestDepth, s)});
                return {kb.loadIndex(parents, {it[0]})};
              });
      kb.storeIndex(kb.addi(bestDepth, kb.index(1)), length, {});
      kb.storeIndex(argmaxOf(best), bonus, {});
    });
    rewriter.replaceOp(op, {kb.tensor(path, pathType),
                            kb.tensor(length, scalarType),
                            kb.tensor(bonus, scalarType)});
    return success();
  }
};

struct KVCompactLowering : KernelPattern<KVCompactOp> {
  using KernelPattern::KernelPattern;

  LogicalResult matchAndRewrite(KVCompactOp op,
                                PatternRewriter &rewriter) const override {
    KernelBuilder kb(rewriter, op.getLoc(), options.vectorWidth);
    Value path = kb.buffer(op.getPath());
    Value length = kb.loadIndex(kb.buffer(op.getLength()), {});
    Value prefix = op.getPrefixLen();
    Value nodes = kb.dim(path, 0);

    RuntimeChecks checks(kb, "hybrid.kv_compact");
    auto check = [&](Value cond, StringRef what) { checks.check(cond, what); };
    check(kb.ori(kb.cmpi(P::slt, length, kb.index(1)),
                 kb.cmpi(P::sgt, length, nodes)),
          "the accepted length must be in [1, number of tree nodes]");
    Value safeLength = kb.select(checks.passed(), length, kb.index(0));
    // A path runs from the root down the tree, so its node ids start at 0
    // and increase (a node's ancestors have lower ids): the in-place row
    // moves below rely on it (row path[d] >= d is read before any move
    // overwrites it).
    SmallVector<Value> pathScan = kb.loop(
        kb.index(0), safeLength, kb.index(1),
        {kb.boolean(false), kb.boolean(false), kb.index(-1)},
        [&](Value d, ValueRange it) -> SmallVector<Value> {
          Value n = kb.loadIndex(path, {d});
          Value outside = kb.ori(kb.cmpi(P::slt, n, kb.index(0)),
                                 kb.cmpi(P::sge, n, nodes));
          Value unordered = kb.select(kb.cmpi(P::eq, d, kb.index(0)),
                                      kb.cmpi(P::ne, n, kb.index(0)),
                                      kb.cmpi(P::sle, n, it[2]));
          return {kb.ori(it[0], outside), kb.ori(it[1], unordered), n};
        });
    check(pathScan[0], "the accepted path names a node outside the tree");
    check(pathScan[1], "the accepted path must start at the root (node 0) "
                       "and go down the tree (increasing node ids)");
    for (Value cache : op.getCaches()) {
      Value s = kb.dim(cache, 2);
      // prefix + nodes > S, without the add that wraps for a huge prefix.
      check(kb.ori(kb.cmpi(P::sgt, prefix, s),
                   kb.cmpi(P::sgt, nodes, kb.subi(s, prefix))),
            "prefix_len + tree nodes exceeds a cache's length");
    }
    check(kb.cmpi(P::slt, prefix, kb.index(0)), "prefix_len is negative");

    // The caches stay tensors, updated by one insert_slice per moved row
    // (destination-passing style): once bufferized the rows move inside
    // the cache's own buffer, so a commit costs the accepted rows, not the
    // cache. Rows move in path order; path[d] >= d (a node's depth is at
    // most its index), so no row is overwritten before it moves.
    Location loc = op.getLoc();
    Value moves = kb.select(checks.passed(), length, kb.index(0));
    SmallVector<Value> results;
    for (auto [cacheTensor, resultType] :
         llvm::zip(op.getCaches(), op.getResultTypes())) {
      auto cacheType = cast<RankedTensorType>(cacheTensor.getType());
      SmallVector<OpFoldResult> rowSizes = {
          tensor::getMixedSize(rewriter, loc, cacheTensor, 0),
          tensor::getMixedSize(rewriter, loc, cacheTensor, 1),
          rewriter.getIndexAttr(1),
          tensor::getMixedSize(rewriter, loc, cacheTensor, 3)};
      SmallVector<OpFoldResult> ones(4, rewriter.getIndexAttr(1));
      auto loop = scf::ForOp::create(
          rewriter, loc, kb.index(1), moves, kb.index(1),
          ValueRange{cacheTensor},
          [&](OpBuilder &b, Location l, Value d, ValueRange iter) {
            Value node = arith::IndexCastOp::create(
                b, l, b.getIndexType(),
                memref::LoadOp::create(b, l, path, ValueRange{d}));
            auto at = [&](Value row) -> SmallVector<OpFoldResult> {
              return {b.getIndexAttr(0), b.getIndexAttr(0),
                      arith::AddIOp::create(b, l, prefix, row).getResult(),
                      b.getIndexAttr(0)};
            };
            Value rowValue = tensor::ExtractSliceOp::create(
                b, l, iter[0], at(node), rowSizes, ones);
            Value moved = tensor::InsertSliceOp::create(
                b, l, rowValue, iter[0], at(d), rowSizes, ones);
            scf::YieldOp::create(b, l, moved);
          });
      Value result = loop.getResult(0);
      if (cacheType != resultType)
        result = tensor::CastOp::create(rewriter, loc, resultType, result);
      results.push_back(result);
    }
    unsigned numCaches = op.getCaches().size();
    for (auto [i, statesTensor] : llvm::enumerate(op.getNodeStates())) {
      auto type = cast<RankedTensorType>(op.getResultTypes()[numCaches + i]);
      Value states = kb.buffer(statesTensor);
      // [B, H, N, Dk, Dv] -> [B, H, Dk, Dv]: the accepted node's state.
      Value batch = kb.dim(states, 0), heads = kb.dim(states, 1),
            dk = kb.dim(states, 3), dv = kb.dim(states, 4);
      Value out = kb.alloc(type, {batch, heads, dk, dv});
      // The accepted node's state; when the call fails its checks, the
      // kept state if it has the result's shape, else zeros (never
      // uninitialised memory).
      Value kept = op.getKeptStates().empty()
                       ? Value()
                       : kb.buffer(op.getKeptStates()[i]);
      Value keptFits = kb.boolean(false);
      if (kept) {
        keptFits = kb.boolean(true);
        for (auto [d, size] :
             llvm::enumerate(SmallVector<Value>{batch, heads, dk, dv}))
          keptFits =
              kb.andi(keptFits, kb.cmpi(P::eq, kb.dim(kept, d), size));
      }
      Value passed = checks.passed();
      kb.parallel({batch, heads, dk}, [&](ValueRange ivs) {
        SmallVector<Value> row = {ivs[0], ivs[1], ivs[2], kb.index(0)};
        kb.ifThenElse(
            passed, {},
            [&]() -> SmallVector<Value> {
              Value node =
                  kb.loadIndex(path, {kb.subi(length, kb.index(1))});
              kb.scaleCopy(out, row, kb.f32(1.0), states,
                           {ivs[0], ivs[1], node, ivs[2], kb.index(0)}, dv);
              return {};
            },
            [&]() -> SmallVector<Value> {
              kb.ifThenElse(
                  keptFits, {},
                  [&]() -> SmallVector<Value> {
                    if (kept) // keptFits is false without one
                      kb.scaleCopy(out, row, kb.f32(1.0), kept, row, dv);
                    return {};
                  },
                  [&]() -> SmallVector<Value> {
                    kb.fill(out, row, kb.f32(0.0), dv);
                    return {};
                  });
              return {};
            });
      });
      results.push_back(kb.tensor(out, type));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void mlir::hybrid::populateSpeculationLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<TreeVerifyLowering>(patterns.getContext(), options);
  populateKVCompactLoweringPatterns(patterns, options);
}

void mlir::hybrid::populateKVCompactLoweringPatterns(
    RewritePatternSet &patterns, const HybridToLoopsOptions &options) {
  patterns.add<KVCompactLowering>(patterns.getContext(), options);
}
