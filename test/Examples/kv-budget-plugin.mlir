// The out-of-tree example pass (examples/plugin) loads into hybrid-opt as a
// plugin and queries Hybrid's cost model.
//
// RUN: hybrid-opt %s --load-pass-plugin=%hybrid_lib_dir/HybridKVBudgetPlugin.so \
// RUN:   --pass-pipeline="builtin.module(hybrid-kv-budget{context-length=32768 budget-mib=16})" \
// RUN:   -verify-diagnostics | FileCheck %s

// 2 (K, V) x 2 heads x 32768 keys x 128 x 2 B = 32 MiB.
// CHECK-LABEL: func.func @big
// CHECK: hybrid.attention {{.*}}kv_budget.bytes = 33554432 : i64
func.func @big(%q: tensor<1x16x1x128xf16>, %k: tensor<1x2x?x128xf16>) -> tensor<1x16x1x128xf16> {
  // expected-warning @+1 {{KV cache of 32.0 MiB at 32768 keys exceeds the budget of 16.0 MiB}}
  %o = hybrid.attention %q, %k, %k {causal}
      : tensor<1x16x1x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>
  return %o : tensor<1x16x1x128xf16>
}

// 2 x 1 head x 4096 static keys x 64 x 4 B = 2 MiB: within budget.
// CHECK-LABEL: func.func @small
// CHECK: kv_budget.bytes = 2097152 : i64
func.func @small(%q: tensor<1x4x1x64xf32>, %k: tensor<1x1x4096x64xf32>) -> tensor<1x4x1x64xf32> {
  %o = hybrid.attention %q, %k, %k {causal}
      : tensor<1x4x1x64xf32>, tensor<1x1x4096x64xf32>, tensor<1x1x4096x64xf32>
  return %o : tensor<1x4x1x64xf32>
}
