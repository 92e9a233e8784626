// RUN: hybrid-opt %s --hybrid-select-gqa-layout="context-length=8192" --split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-select-gqa-layout="context-length=8192 report=true" --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: hybrid-opt %s --hybrid-select-gqa-layout="tree-size=64" --split-input-file | FileCheck %s --check-prefix=TREE64

// Decode (one query row), G = 8: the group's heads share each K/V tile.
// CHECK-LABEL: func.func @decode
// CHECK: layout = #hybrid.gqa_layout<group_packed>
// REMARK: remark: group_packed: K/V reads {{.*}} B group-packed vs {{.*}} B head-major (G = 8, query rows 1, keys 8192)
func.func @decode(%q: tensor<1x16x1x128xf16>, %k: tensor<1x2x?x128xf16>,
                  %v: tensor<1x2x?x128xf16>) -> tensor<1x16x1x128xf16> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x16x1x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>
  return %o : tensor<1x16x1x128xf16>
}

// -----

// Verification of an 8-node tree (dynamic rows take the tree size), G = 16.
// CHECK-LABEL: func.func @verify
// CHECK: layout = #hybrid.gqa_layout<group_packed>
// With a 64-node tree, blocks of 96 rows hold 6 rows of each of the 16
// heads: 11 blocks per KV head read K/V 22 times, 32 heads of 64 rows 32.
// TREE64-LABEL: func.func @verify
// TREE64: layout = #hybrid.gqa_layout<group_packed>
func.func @verify(%q: tensor<1x32x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                  %v: tensor<1x2x?x128xf32>) -> tensor<1x32x?x128xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x32x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  return %o : tensor<1x32x?x128xf32>
}

// -----

// Prefill: blocks of 12 rows x 8 heads read K/V as often as blocks of 96
// rows of one head, give or take the last block (measured within 3% of each
// other); multi-head attention (G = 1) stays head-major.
// CHECK-LABEL: func.func @prefill
// CHECK: layout = #hybrid.gqa_layout<group_packed>
// CHECK: layout = #hybrid.gqa_layout<head_major>
func.func @prefill(%q: tensor<1x16x4096x128xf32>, %k: tensor<1x2x4096x128xf32>,
                   %mq: tensor<1x4x1x64xf32>, %mk: tensor<1x4x?x64xf32>)
    -> (tensor<1x16x4096x128xf32>, tensor<1x4x1x64xf32>) {
  %o = hybrid.attention %q, %k, %k {causal}
      : tensor<1x16x4096x128xf32>, tensor<1x2x4096x128xf32>, tensor<1x2x4096x128xf32>
  %m = hybrid.attention %mq, %mk, %mk {causal}
      : tensor<1x4x1x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %o, %m : tensor<1x16x4096x128xf32>, tensor<1x4x1x64xf32>
}

// -----

// A layout the user chose is kept.
// CHECK-LABEL: func.func @kept
// CHECK: layout = #hybrid.gqa_layout<head_major>
func.func @kept(%q: tensor<1x16x1x128xf32>, %k: tensor<1x2x?x128xf32>) -> tensor<1x16x1x128xf32> {
  %o = hybrid.attention %q, %k, %k {causal, layout = #hybrid.gqa_layout<head_major>}
      : tensor<1x16x1x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  return %o : tensor<1x16x1x128xf32>
}
