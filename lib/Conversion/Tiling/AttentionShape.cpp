//===- AttentionShape.cpp - Operands of the attention-family ops ----------===//

#include "hybrid/Conversion/Tiling/AttentionShape.h"

using namespace mlir;
using namespace mlir::hybrid;

using P = arith::CmpIPredicate;

AttentionShape::AttentionShape(KernelBuilder &kb, Value query, Value key,
                               Value value, std::optional<APFloat> scaleAttr,
                               Value keyLength) {
  q = kb.buffer(query);
  k = kb.buffer(key);
  v = value ? kb.buffer(value) : Value();
  batch = kb.dim(q, 0);
  qHeads = kb.dim(q, 1);
  qLen = kb.dim(q, 2);
  headDim = kb.dim(q, 3);
  kvHeads = kb.dim(k, 1);
  kvRows = kb.dim(k, 2);
  kvLen = keyLength ? keyLength : kvRows;
  valueDim = v ? kb.dim(v, 3) : Value();
  group = kb.divui(qHeads, kb.maxsi(kvHeads, kb.index(1)));
  scale = kb.logitScale(scaleAttr, headDim);
}

void AttentionShape::checkDynamic(KernelBuilder &kb,
                                  RuntimeChecks &checks) const {
  auto check = [&](Value cond, const Twine &what) { checks.check(cond, what); };
  check(kb.cmpi(P::ne, kb.dim(k, 0), batch),
        "key batch size does not match the query's");
  check(kb.cmpi(P::ne, kb.dim(k, 3), headDim),
        "key head dim does not match the query's");
  check(kb.ori(kb.cmpi(P::eq, kvHeads, kb.index(0)),
               kb.cmpi(P::ne, kb.remui(qHeads, kb.maxsi(kvHeads, kb.index(1))),
                       kb.index(0))),
        "query heads must be a multiple of key/value heads");
  // Unsigned: a negative key_length is out of range too.
  check(kb.cmpi(P::ugt, kvLen, kvRows),
        "key_length is outside [0, the key's rows]");
  if (v) {
    check(kb.cmpi(P::ne, kb.dim(v, 0), batch),
          "value batch size does not match the query's");
    check(kb.cmpi(P::ne, kb.dim(v, 1), kvHeads),
          "value heads do not match key heads");
    check(kb.cmpi(P::ne, kb.dim(v, 2), kvRows),
          "value length does not match key length");
  }
}

Value AttentionShape::queryOffset(KernelBuilder &kb, RuntimeChecks &checks,
                                  Value offsetOperand) const {
  if (!offsetOperand)
    return kb.subi(kvLen, qLen);
  constexpr int64_t kLimit = int64_t(1) << 62;
  checks.check(kb.ori(kb.cmpi(P::sgt, offsetOperand, kb.index(kLimit)),
                      kb.cmpi(P::slt, offsetOperand, kb.index(-kLimit))),
               "the query offset is outside [-2^62, 2^62]");
  return offsetOperand;
}

Value AttentionShape::allocOutput(KernelBuilder &kb,
                                  RankedTensorType type) const {
  return kb.alloc(type, {batch, qHeads, qLen, valueDim});
}

std::function<Value(Value, Value, Value, Value, Value)>
AttentionShape::userMask(KernelBuilder &kb, RuntimeChecks &checks,
                         Value maskTensor) const {
  if (!maskTensor)
    return nullptr;
  Value mask = kb.buffer(maskTensor);
  auto type = cast<MemRefType>(mask.getType());
  int64_t rank = type.getRank();
  bool isBool = type.getElementType().isInteger(1);
  Value target[4] = {batch, qHeads, qLen, kvLen};
  for (int64_t d = 0; d < rank; ++d) {
    Value size = kb.dim(mask, d), t = target[4 - rank + d];
    checks.check(kb.andi(kb.cmpi(P::ne, size, kb.index(1)),
                         kb.cmpi(P::ne, size, t)),
                 "the mask does not broadcast to [batch, heads, query, key]");
  }
  return [&kb, mask, rank, isBool](Value x, Value b, Value h, Value i,
                                   Value j) -> Value {
    Value coords[4] = {b, h, i, j};
    SmallVector<Value> idx;
    for (int64_t d = 0; d < rank; ++d) {
      Value size = kb.dim(mask, d);
      idx.push_back(kb.select(kb.cmpi(P::eq, size, kb.index(1)), kb.index(0),
                              coords[4 - rank + d]));
    }
    Value m = memref::LoadOp::create(kb.b, kb.loc, mask, idx);
    if (isBool)
      return kb.select(m, x, kb.negInf());
    if (!m.getType().isF32())
      m = arith::ExtFOp::create(kb.b, kb.loc, kb.b.getF32Type(), m);
    return kb.addf(x, m);
  };
}

AttentionInputs AttentionShape::inputs(Value out, Value offset,
                                       std::optional<APFloat> softcap,
                                       bool causal) const {
  AttentionInputs in = *this;
  in.out = out;
  in.offset = offset;
  in.softcap = softcap;
  in.causal = causal;
  return in;
}

DraftTreeRows::DraftTreeRows(KernelBuilder &kb, RuntimeChecks &checks,
                             const AttentionShape &s, Value parentsTensor) {
  parents = parentsTensor ? kb.buffer(parentsTensor) : Value();
  nodes = parents ? kb.dim(parents, 0) : kb.index(0);
  if (parents) {
    checks.checkDraftTree(parents);
    checks.check(kb.ori(kb.cmpi(P::ugt, nodes, s.qLen),
                        kb.cmpi(P::ugt, nodes, s.kvLen)),
                 "the draft tree has more nodes than query rows or keys");
  }
  firstRow = kb.subi(s.qLen, nodes);
  firstKey = kb.subi(s.kvLen, nodes);
}
