//===- RecurrenceShape.cpp - hybrid.linear_recurrence's operands ----------===//

#include "hybrid/Conversion/Tiling/RecurrenceShape.h"

using namespace mlir;
using namespace mlir::hybrid;

using P = arith::CmpIPredicate;

RecurrenceShape::RecurrenceShape(KernelBuilder &kb, LinearRecurrenceOp op)
    : kb(kb), op(op) {
  q = kb.buffer(op.getQuery());
  k = kb.buffer(op.getKey());
  v = kb.buffer(op.getValue());
  decay = op.getDecay() ? kb.buffer(op.getDecay()) : Value();
  beta = op.getBeta() ? kb.buffer(op.getBeta()) : Value();
  init = op.getInitialState() ? kb.buffer(op.getInitialState()) : Value();
  parents = op.getParents() ? kb.buffer(op.getParents()) : Value();
  batch = kb.dim(q, 0);
  qHeads = kb.dim(q, 1);
  len = kb.dim(q, 2);
  keyDim = kb.dim(q, 3);
  kvHeads = kb.dim(k, 1);
  valueDim = kb.dim(v, 3);
  group = kb.divui(qHeads, kb.maxsi(kvHeads, kb.index(1)));
  scale = kb.logitScale(op.getScale(), keyDim);
  nodes = parents ? kb.dim(parents, 0) : kb.index(0);
  prefixLen = kb.subi(len, nodes);
  gated = op.isGated();
  delta = op.isDelta();
  perKeyDecay = decay && cast<MemRefType>(decay.getType()).getRank() == 4;
  slopes = op.getDecaySlopes();
}

Value RecurrenceShape::logDecay(Value b, Value h, Value t, Value i) {
  if (decay)
    return perKeyDecay ? kb.load(decay, {b, h, t, i})
                       : kb.load(decay, {b, h, t});
  // Lightning Attention: g = -slope_h, a constant per head.
  Value table = kb.f32(0.0);
  for (auto [idx, slope] : llvm::enumerate(*slopes))
    table = kb.select(kb.cmpi(P::eq, h, kb.index(idx)), kb.f32(-slope),
                      table);
  return table;
}

Value RecurrenceShape::betaAt(Value b, Value h, Value token) {
  return kb.load(
      beta, {b,
             cast<MemRefType>(beta.getType()).getDimSize(1) == 1
                 ? kb.index(0)
                 : kb.select(kb.cmpi(P::eq, kb.dim(beta, 1), kb.index(1)),
                             kb.index(0), h),
             token});
}

void RecurrenceShape::check(RuntimeChecks &checks) {
  auto check = [&](Value cond, StringRef what) { checks.check(cond, what); };
  check(kb.ori(kb.cmpi(P::eq, kvHeads, kb.index(0)),
               kb.cmpi(P::ne, kb.remui(qHeads, kb.maxsi(kvHeads, kb.index(1))),
                       kb.index(0))),
        "query heads must be a multiple of key/value heads");
  check(kb.ori(kb.ori(kb.cmpi(P::ne, kb.dim(k, 2), len),
                      kb.cmpi(P::ne, kb.dim(v, 2), len)),
               kb.ori(kb.cmpi(P::ne, kb.dim(k, 0), batch),
                      kb.cmpi(P::ne, kb.dim(v, 0), batch))),
        "query, key and value disagree on batch or length");
  check(kb.ori(kb.cmpi(P::ne, kb.dim(k, 3), keyDim),
               kb.cmpi(P::ne, kb.dim(v, 1), kvHeads)),
        "key dim or value heads mismatch");
  if (decay)
    check(kb.cmpi(P::ne, kb.dim(decay, 2), len),
          "decay length does not match the tokens");
  if (beta)
    check(kb.cmpi(P::ne, kb.dim(beta, 2), len),
          "beta length does not match the tokens");
  // The initial state is read as [B, Hkv, Dk, Dv]: any other shape (a
  // caller's state for another batch) fails the call unread.
  if (init)
    check(kb.ori(kb.ori(kb.cmpi(P::ne, kb.dim(init, 0), batch),
                        kb.cmpi(P::ne, kb.dim(init, 1), kvHeads)),
                 kb.ori(kb.cmpi(P::ne, kb.dim(init, 2), keyDim),
                        kb.cmpi(P::ne, kb.dim(init, 3), valueDim))),
          "the initial state is not [batch, key/value heads, key dim, value "
          "dim]");
  if (parents) {
    check(kb.cmpi(P::ugt, nodes, len),
          "the draft tree has more nodes than tokens");
    checks.checkDraftTree(parents);
  }
}
