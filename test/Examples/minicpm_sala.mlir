// The bundled example (the demo's module) parses, verifies and round-trips.
//
// RUN: hybrid-opt %hybrid_src_root/examples/minicpm_sala.mlir --verify-each > %t.mlir
// RUN: hybrid-opt %t.mlir | diff %t.mlir -
// RUN: FileCheck %s < %t.mlir
// CHECK-LABEL: func.func @sparse_attention_layer
// CHECK: hybrid.block_select
// CHECK: hybrid.block_sparse_attention
// CHECK-LABEL: func.func @lightning_layer
// CHECK: hybrid.linear_recurrence gated
// CHECK-LABEL: func.func @gated_delta_layer
// CHECK: hybrid.linear_recurrence gated_delta
// CHECK-LABEL: func.func @blockffn
// CHECK: hybrid.chunk_moe blockffn
// CHECK-LABEL: func.func @stack
// CHECK-COUNT-1: call @sparse_attention_layer
// CHECK-COUNT-2: call @lightning_layer
// CHECK-LABEL: func.func @verify_step
// CHECK: hybrid.tree_verify
// CHECK: hybrid.kv_compact
