// hybrid-cpu-pipeline composes the hybrid passes with the lowering.
//
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="sparse=auto" \
// RUN:   -mlir-print-ir-after=hybrid-select-gqa-layout -o /dev/null 2>&1 | FileCheck %s
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="gqa-layout=keep" | FileCheck %s --check-prefix=LLVM
// RUN: not hybrid-opt %s --hybrid-cpu-pipeline="sparse=always" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: hybrid-opt %s --hybrid-cpu-pipeline="sparse=auto speculate=tree" \
// RUN:   -mlir-print-ir-after=hybrid-fuse-sparse-speculation -o /dev/null 2>&1 | FileCheck %s --check-prefix=SPEC
// SPEC: IR Dump After HybridFuseSparseSpeculation

// CHECK: IR Dump After HybridSelectGQALayout
// CHECK: scf.if
// CHECK: hybrid.attention {{.*}}layout = #hybrid.gqa_layout<group_packed>
// CHECK: hybrid.block_select
// CHECK: hybrid.block_sparse_attention

// LLVM: llvm.func @_mlir_ciface_decode
// LLVM-NOT: hybrid.

// BAD: Cannot find option named 'always'
func.func @decode(%q: tensor<1x16x1x64xf32>, %k: tensor<1x2x?x64xf32>)
    -> tensor<1x16x1x64xf32> {
  %o = hybrid.attention %q, %k, %k {causal}
      : tensor<1x16x1x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x16x1x64xf32>
}
