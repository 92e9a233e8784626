//===- SpeculationShape.cpp - hybrid.tree_verify's run-time checks --------===//

#include "hybrid/Conversion/Tiling/SpeculationShape.h"

using namespace mlir;
using namespace mlir::hybrid;

void mlir::hybrid::checkTreeVerify(KernelBuilder &kb, RuntimeChecks &checks,
                                   Value parents, Value draft, Value target,
                                   bool logits) {
  using P = arith::CmpIPredicate;
  Value nodes = kb.dim(parents, 0);
  checks.check(kb.ori(kb.cmpi(P::ne, kb.dim(draft, 0), nodes),
                      kb.cmpi(P::ne, kb.dim(target, 0), nodes)),
               "parents, draft tokens and target disagree on the node count");
  checks.check(kb.cmpi(P::eq, nodes, kb.index(0)), "the draft tree is empty");
  if (logits)
    checks.check(kb.cmpi(P::eq, kb.dim(target, 1), kb.index(0)),
                 "the vocabulary is empty");
  checks.checkDraftTree(parents);
}
