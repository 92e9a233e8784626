//===- MoEShape.cpp - hybrid.chunk_moe's operands -------------------------===//

#include "hybrid/Conversion/Tiling/MoEShape.h"

using namespace mlir;
using namespace mlir::hybrid;

MoEShape::MoEShape(KernelBuilder &kb, ChunkMoEOp op) {
  using P = arith::CmpIPredicate;
  x = kb.buffer(op.getInput());
  router = kb.buffer(op.getRouterWeight());
  up = kb.buffer(op.getExpertUp());
  down = kb.buffer(op.getExpertDown());
  norm = op.getRouterNorm() ? kb.buffer(op.getRouterNorm()) : Value();
  routeScale = op.getRouterScale() ? kb.buffer(op.getRouterScale()) : Value();
  sharedUp = op.getSharedUp() ? kb.buffer(op.getSharedUp()) : Value();
  sharedDown = op.getSharedDown() ? kb.buffer(op.getSharedDown()) : Value();
  tokens = kb.dim(x, 0);
  model = kb.dim(x, 1);
  experts = kb.dim(router, 0);
  width = kb.dim(up, 1);
  RuntimeChecks checks(kb, "hybrid.chunk_moe");
  auto check = [&](Value cond, StringRef what) { checks.check(cond, what); };
  check(kb.ori(kb.cmpi(P::ne, kb.dim(router, 1), model),
               kb.ori(kb.cmpi(P::ne, kb.dim(up, 2), model),
                      kb.cmpi(P::ne, kb.dim(down, 1), model))),
        "the model dimension of the weights does not match the input");
  check(kb.ori(kb.ori(kb.cmpi(P::ne, kb.dim(up, 0), experts),
                      kb.cmpi(P::ne, kb.dim(down, 0), experts)),
               kb.cmpi(P::ne, kb.dim(down, 2), width)),
        "expert counts or widths disagree");
  if (std::optional<int64_t> topK = op.getTopK())
    check(kb.cmpi(P::ugt, kb.index(*topK), experts),
          "top_k exceeds the number of experts");
  passed = checks.passed();
}
