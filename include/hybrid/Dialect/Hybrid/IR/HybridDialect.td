//===- HybridDialect.td - The hybrid dialect ---------------*- tablegen -*-===//
//
// The dialect in which the mechanisms of sparse hybrid LLMs (block-sparse
// attention, linear recurrence, chunk-level MoE, draft-tree verification)
// are first-class ops that passes can reason about.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_TD
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Hybrid_Dialect : Dialect {
  let name = "hybrid";
  let cppNamespace = "::mlir::hybrid";
  let summary = "Sparse hybrid LLM operations";
  let description = [{
    The `hybrid` dialect models the four mechanisms that recent efficient
    LLMs mix and that other compilers leave to hand-written kernels:

    * block-sparse attention (InfLLM-V2 in MiniCPM4, NOSA):
      `hybrid.block_select` and `hybrid.block_sparse_attention`;
    * linear recurrence (Lightning Attention, gated DeltaNet, Mamba-2):
      `hybrid.linear_recurrence`;
    * chunk-level MoE activation (BlockFFN, DECO): `hybrid.chunk_moe`;
    * speculative decoding with draft trees (EAGLE-2, Medusa, FR-Spec):
      `hybrid.tree_verify`, `hybrid.kv_compact`, and the `tree` operand of
      the attention and recurrence ops.

    Dense `hybrid.attention`, `hybrid.rms_norm` and
    `hybrid.rotary_embedding` complete the set so that whole models can be
    imported. All ops work on tensors with value semantics; sequence
    dimensions may be dynamic (`?`), so that one compiled module serves every
    length. Tensors are `[B, H, S, D]` (batch, heads, sequence, head dim)
    unless an op says otherwise, and all accumulation is fp32 whatever the
    storage type (f32, f16, bf16).
  }];
  let useDefaultAttributePrinterParser = 1;
  // `hybrid.parameter` on a function argument.
  let hasRegionArgAttrVerify = 1;
}

class Hybrid_Op<string mnemonic, list<Trait> traits = []>
    : Op<Hybrid_Dialect, mnemonic, traits>;

class Hybrid_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Hybrid_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDDIALECT_TD
