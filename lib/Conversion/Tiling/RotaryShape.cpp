//===- RotaryShape.cpp - hybrid.rotary_embedding's run-time shape ---------===//

#include "hybrid/Conversion/Tiling/RotaryShape.h"

using namespace mlir;
using namespace mlir::hybrid;

SmallVector<Value> RotaryShape::at(KernelBuilder &k, Value b, Value s,
                                   Value h, Value d) const {
  if (is4D)
    return {b, h, s, d};
  return {b, s, k.addi(k.muli(h, headDim), d)};
}

RotaryShape mlir::hybrid::checkRotaryShape(KernelBuilder &k,
                                           RotaryEmbeddingOp op, Value x,
                                           Value cosT, Value sinT,
                                           Value positions) {
  RotaryShape shape;
  shape.is4D = cast<ShapedType>(op.getType()).getRank() == 4;
  bool is4D = shape.is4D;
  shape.batch = k.dim(x, 0);
  shape.seq = k.dim(x, is4D ? 2 : 1);
  shape.heads = is4D ? k.dim(x, 1) : k.index(*op.getNumHeads());
  shape.headDim = is4D ? k.dim(x, 3) : k.divui(k.dim(x, 2), shape.heads);
  int64_t rotaryAttr = op.getRotaryEmbeddingDim().value_or(0);
  shape.rotary = rotaryAttr > 0 ? k.index(rotaryAttr) : shape.headDim;
  shape.half = k.divui(shape.rotary, k.index(2));
  Value batch = shape.batch, seq = shape.seq, half = shape.half;

  using P = arith::CmpIPredicate;
  RuntimeChecks checks(k, "hybrid.rotary_embedding");
  int64_t cacheRank = cast<MemRefType>(cosT.getType()).getRank();
  checks.check(k.ori(k.cmpi(P::ne, k.dim(cosT, cacheRank - 1), half),
                     k.cmpi(P::ne, k.dim(sinT, cacheRank - 1), half)),
               "the cos/sin caches must hold rotary_dim / 2 values per row");
  checks.check(k.cmpi(P::ugt, shape.rotary, shape.headDim),
               "the rotary dimension exceeds the head size");
  checks.check(k.cmpi(P::ne, k.dim(sinT, 0), k.dim(cosT, 0)),
               "the cos and sin caches differ in size");
  if (!is4D)
    checks.check(k.cmpi(P::ne, k.remui(k.dim(x, 2), shape.heads), k.index(0)),
                 "the hidden size is not a multiple of num_heads");
  if (positions) {
    checks.check(k.ori(k.cmpi(P::ne, k.dim(positions, 0), batch),
                       k.cmpi(P::ne, k.dim(positions, 1), seq)),
                 "position_ids must be [batch, sequence]");
    // A position outside the cache reads its row 0 after raising (so that
    // the loop stays in bounds): the cache must have one, when there are
    // tokens to rotate.
    Value tokens = k.muli(batch, seq);
    checks.check(k.andi(k.cmpi(P::eq, k.dim(cosT, 0), k.index(0)),
                        k.cmpi(P::ne, tokens, k.index(0))),
                 "the cos/sin cache is empty");
  } else {
    checks.check(k.ori(k.cmpi(P::ne, k.dim(cosT, 0), batch),
                       k.ori(k.cmpi(P::ne, k.dim(cosT, 1), seq),
                             k.ori(k.cmpi(P::ne, k.dim(sinT, 0), batch),
                                   k.cmpi(P::ne, k.dim(sinT, 1), seq)))),
                 "without position_ids the caches must be [batch, "
                 "sequence, rotary_dim / 2]");
  }
  shape.passed = checks.passed();
  return shape;
}
