// Every op and attribute form parses, prints, and re-parses to the same
// text, in the custom form, the generic form and bytecode.
//
// RUN: hybrid-opt --allow-unregistered-dialect %s | FileCheck %s
// RUN: hybrid-opt --allow-unregistered-dialect %s > %t.custom && hybrid-opt --allow-unregistered-dialect %t.custom > %t.again && diff %t.custom %t.again
// RUN: hybrid-opt --allow-unregistered-dialect %s --mlir-print-op-generic | hybrid-opt --allow-unregistered-dialect > %t.generic && diff %t.custom %t.generic
// RUN: hybrid-opt --allow-unregistered-dialect %s --emit-bytecode | hybrid-opt --allow-unregistered-dialect > %t.bytecode && diff %t.custom %t.bytecode

//===----------------------------------------------------------------------===//
// Attributes on their own
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @attribute_forms()
// CHECK-SAME: config = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 64, init_blocks = 1, window_size = 2048, dense_len = 8192>
// CHECK-SAME: layout_a = #hybrid.gqa_layout<head_major>
// CHECK-SAME: layout_b = #hybrid.gqa_layout<group_packed>
// CHECK-SAME: policy_a = #hybrid.tree_policy<union>
// CHECK-SAME: policy_b = #hybrid.tree_policy<root>
// CHECK-SAME: router_a = #hybrid.router<blockffn>
// CHECK-SAME: router_b = #hybrid.router<deco>
// CHECK-SAME: router_c = #hybrid.router<topk_softmax>
// CHECK-SAME: rule_a = #hybrid.update_rule<linear>
// CHECK-SAME: rule_b = #hybrid.update_rule<gated>
// CHECK-SAME: rule_c = #hybrid.update_rule<delta>
// CHECK-SAME: rule_d = #hybrid.update_rule<gated_delta>
func.func @attribute_forms() attributes {
  config = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16,
      block_size = 64, topk = 64, init_blocks = 1, window_size = 2048,
      dense_len = 8192>,
  layout_a = #hybrid.gqa_layout<head_major>,
  layout_b = #hybrid.gqa_layout<group_packed>,
  policy_a = #hybrid.tree_policy<union>, policy_b = #hybrid.tree_policy<root>,
  router_a = #hybrid.router<blockffn>, router_b = #hybrid.router<deco>,
  router_c = #hybrid.router<topk_softmax>,
  rule_a = #hybrid.update_rule<linear>, rule_b = #hybrid.update_rule<gated>,
  rule_c = #hybrid.update_rule<delta>, rule_d = #hybrid.update_rule<gated_delta>
} {
  return
}

//===----------------------------------------------------------------------===//
// hybrid.attention
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @attention_forms
func.func @attention_forms(%q: tensor<1x16x?x128xf16>, %k: tensor<1x2x?x128xf16>,
                           %v: tensor<1x2x?x64xf16>, %bm: tensor<?x?xi1>,
                           %fm: tensor<1x16x?x?xf16>, %off: index,
                           %tree: tensor<5xi32>) {
  // CHECK: hybrid.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  %0 = hybrid.attention %q, %k, %v
      : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  // CHECK: hybrid.attention {{.*}} {causal, scale = 1.250000e-01 : f32, softcap = 5.000000e+01 : f32}
  %1 = hybrid.attention %q, %k, %v {causal, scale = 0.125 : f32, softcap = 50.0 : f32}
      : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  // CHECK: hybrid.attention {{.*}} mask(%{{.*}} : tensor<?x?xi1>) offset(%{{.*}}) {causal}
  %2 = hybrid.attention %q, %k, %v mask(%bm : tensor<?x?xi1>) offset(%off) {causal}
      : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  // CHECK: hybrid.attention {{.*}} mask(%{{.*}} : tensor<1x16x?x?xf16>) {layout = #hybrid.gqa_layout<head_major>}
  %3 = hybrid.attention %q, %k, %v mask(%fm : tensor<1x16x?x?xf16>)
      {layout = #hybrid.gqa_layout<head_major>}
      : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  // CHECK: hybrid.attention {{.*}} tree(%{{.*}} : tensor<5xi32>) {causal, layout = #hybrid.gqa_layout<group_packed>}
  %4 = hybrid.attention %q, %k, %v tree(%tree : tensor<5xi32>)
      {causal, layout = #hybrid.gqa_layout<group_packed>}
      : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x64xf16>
  // The result type is inferred: [B, Hq, Sq, Dv].
  // CHECK: "test.use"(%{{.*}}) : (tensor<1x16x?x64xf16>) -> ()
  "test.use"(%4) : (tensor<1x16x?x64xf16>) -> ()
  return
}

// Static shapes, bf16 and f32, ONNX's top-left alignment as offset 0.
// CHECK-LABEL: func.func @attention_static
func.func @attention_static(%q: tensor<2x3x4x8xbf16>, %k: tensor<2x3x6x8xbf16>,
                            %v: tensor<2x3x6x8xbf16>, %q32: tensor<1x4x1x64xf32>,
                            %k32: tensor<1x1x100x64xf32>) {
  %c0 = arith.constant 0 : index
  // CHECK: hybrid.attention {{.*}} offset(%{{.*}}) {causal} : tensor<2x3x4x8xbf16>
  %0 = hybrid.attention %q, %k, %v offset(%c0) {causal}
      : tensor<2x3x4x8xbf16>, tensor<2x3x6x8xbf16>, tensor<2x3x6x8xbf16>
  // CHECK: hybrid.attention {{.*}} : tensor<1x4x1x64xf32>, tensor<1x1x100x64xf32>, tensor<1x1x100x64xf32>
  %1 = hybrid.attention %q32, %k32, %k32 {causal}
      : tensor<1x4x1x64xf32>, tensor<1x1x100x64xf32>, tensor<1x1x100x64xf32>
  return
}

//===----------------------------------------------------------------------===//
// hybrid.block_select / hybrid.block_sparse_attention
//===----------------------------------------------------------------------===//

// A KV cache read in place (key_length) and its compressed keys kept by
// compress_keys.
// CHECK-LABEL: func.func @cache_forms
func.func @cache_forms(%q: tensor<1x16x?x128xf32>, %kc: tensor<1x2x?x128xf32>,
                       %vc: tensor<1x2x?x128xf32>, %k1: tensor<1x2x?x128xf32>,
                       %pos: index, %len: index) -> tensor<1x16x?x128xf32> {
  // CHECK: %[[K1:.*]] = hybrid.compress_keys %{{.*}}, %{{.*}} key_length(%{{.*}}) since(%{{.*}}) config({{.*}}) : tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  %c = hybrid.compress_keys %k1, %kc key_length(%len) since(%pos)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  // CHECK: %[[SEL:.*]] = hybrid.block_select {{.*}} offset(%{{.*}}) key_length(%{{.*}}) compressed(%[[K1]] : tensor<1x2x?x128xf32>) config
  %s = hybrid.block_select %q, %kc offset(%pos) key_length(%len)
      compressed(%c : tensor<1x2x?x128xf32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xf32>, tensor<1x2x?x128xf32>
  // CHECK: hybrid.block_sparse_attention {{.*}} blocks(%[[SEL]] : tensor<1x2x?x16xi32>) offset(%{{.*}}) key_length(%{{.*}}) config
  %o = hybrid.block_sparse_attention %q, %kc, %vc blocks(%s : tensor<1x2x?x16xi32>)
      offset(%pos) key_length(%len)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  // CHECK: hybrid.attention {{.*}} offset(%{{.*}}) key_length(%{{.*}}) {causal}
  %d = hybrid.attention %q, %kc, %vc offset(%pos) key_length(%len) {causal}
      : tensor<1x16x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  return %d : tensor<1x16x?x128xf32>
}

// CHECK-LABEL: func.func @block_sparse_forms
func.func @block_sparse_forms(%q: tensor<1x16x?x128xbf16>, %k: tensor<1x2x?x128xbf16>,
                              %v: tensor<1x2x?x128xbf16>, %off: index,
                              %tree: tensor<4xi32>, %dyntree: tensor<?xi32>) {
  // CHECK: %[[SEL:.*]] = hybrid.block_select %{{.*}}, %{{.*}} config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>) : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>
  %sel = hybrid.block_select %q, %k
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>
  // CHECK: hybrid.block_sparse_attention %{{.*}}, %{{.*}}, %{{.*}} blocks(%[[SEL]] : tensor<1x2x?x16xi32>) config({{.*}}) : tensor<1x16x?x128xbf16>
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%sel : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x128xbf16>

  // A tree shares the union of its nodes' selections: 4 nodes x topk 16.
  // CHECK: %[[UNION:.*]] = hybrid.block_select {{.*}} offset(%{{.*}}) tree(%{{.*}} : tensor<4xi32>) config({{.*}}) {scale = 0.0883883461 : f32}
  %u = hybrid.block_select %q, %k offset(%off) tree(%tree : tensor<4xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      {scale = 0.0883883461 : f32}
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>
  // CHECK: hybrid.block_sparse_attention {{.*}} blocks(%[[UNION]] : tensor<1x2x?x64xi32>) offset(%{{.*}}) tree(%{{.*}} : tensor<4xi32>) config({{.*}}) {layout = #hybrid.gqa_layout<group_packed>, softcap = 3.000000e+01 : f32}
  %t = hybrid.block_sparse_attention %q, %k, %v blocks(%u : tensor<1x2x?x64xi32>)
      offset(%off) tree(%tree : tensor<4xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      {layout = #hybrid.gqa_layout<group_packed>, softcap = 30.0 : f32}
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x128xbf16>
  // The root's selection keeps topk slots; a tree of unknown size unions
  // into an unknown number of slots.
  // CHECK: hybrid.block_select {{.*}} tree(%{{.*}} : tensor<4xi32>) policy root config
  %r = hybrid.block_select %q, %k tree(%tree : tensor<4xi32>) policy root
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>
  // CHECK: hybrid.block_select {{.*}} tree(%{{.*}} : tensor<?xi32>) policy union config
  %d = hybrid.block_select %q, %k tree(%dyntree : tensor<?xi32>) policy union
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>
  // CHECK: "test.use"(%{{.*}}, %{{.*}}) : (tensor<1x2x?x16xi32>, tensor<1x2x?x?xi32>) -> ()
  "test.use"(%r, %d) : (tensor<1x2x?x16xi32>, tensor<1x2x?x?xi32>) -> ()
  return
}

// Constant block indices within range are accepted.
// CHECK-LABEL: func.func @block_sparse_constant_indices
func.func @block_sparse_constant_indices(%q: tensor<1x2x4x16xf32>, %k: tensor<1x1x256x16xf32>) {
  %idx = arith.constant dense<[[[[0, 3], [1, -1], [-1, -1], [2, 0]]]]> : tensor<1x1x4x2xi32>
  // CHECK: hybrid.block_sparse_attention
  %o = hybrid.block_sparse_attention %q, %k, %k blocks(%idx : tensor<1x1x4x2xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 2, init_blocks = 1, window_size = 64, dense_len = 0>)
      : tensor<1x2x4x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// hybrid.linear_recurrence
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @linear_recurrence_forms
func.func @linear_recurrence_forms(%q: tensor<2x8x?x64xf32>, %k: tensor<2x4x?x64xf32>,
                                   %v: tensor<2x4x?x32xf32>, %gh: tensor<2x4x?xf32>,
                                   %gk: tensor<2x4x?x64xf32>, %beta: tensor<2x4x?xf32>,
                                   %beta1: tensor<2x1x?xf32>, %s0: tensor<2x4x64x32xf32>,
                                   %tree: tensor<6xi32>) {
  // CHECK: %{{.*}}, %{{.*}} = hybrid.linear_recurrence linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x?x64xf32>
  %o0, %s0_ = hybrid.linear_recurrence linear %q, %k, %v
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // CHECK: hybrid.linear_recurrence gated {{.*}} decay(%{{.*}} : tensor<2x4x?xf32>) {chunk_size = 64 : i64, scale = 1.250000e-01 : f32}
  %o1, %s1 = hybrid.linear_recurrence gated %q, %k, %v decay(%gh : tensor<2x4x?xf32>)
      {chunk_size = 64, scale = 0.125 : f32}
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // CHECK: hybrid.linear_recurrence gated {{.*}} decay(%{{.*}} : tensor<2x4x?x64xf32>) state(%{{.*}} : tensor<2x4x64x32xf32>)
  %o2, %s2 = hybrid.linear_recurrence gated %q, %k, %v decay(%gk : tensor<2x4x?x64xf32>)
      state(%s0 : tensor<2x4x64x32xf32>)
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // Lightning Attention: a constant per-head decay.
  // CHECK: hybrid.linear_recurrence gated {{.*}} {decay_slopes = array<f32: 5.000000e-01, 2.500000e-01, 1.250000e-01, 6.250000e-02>}
  %o3, %s3 = hybrid.linear_recurrence gated %q, %k, %v
      {decay_slopes = array<f32: 0.5, 0.25, 0.125, 0.0625>}
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // CHECK: hybrid.linear_recurrence delta {{.*}} beta(%{{.*}} : tensor<2x1x?xf32>)
  %o4, %s4 = hybrid.linear_recurrence delta %q, %k, %v beta(%beta1 : tensor<2x1x?xf32>)
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // CHECK: hybrid.linear_recurrence gated_delta {{.*}} decay(%{{.*}} : tensor<2x4x?xf32>) beta(%{{.*}} : tensor<2x4x?xf32>) state(%{{.*}} : tensor<2x4x64x32xf32>) tree(%{{.*}} : tensor<6xi32>)
  %o5, %s5 = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%gh : tensor<2x4x?xf32>)
      beta(%beta : tensor<2x4x?xf32>) state(%s0 : tensor<2x4x64x32xf32>)
      tree(%tree : tensor<6xi32>)
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  // Inferred: output [B, Hq, T, Dv], state [B, Hkv, Dk, Dv], per-node
  // states [B, Hkv, N, Dk, Dv] with a tree.
  // CHECK: "test.use"({{.*}}) : (tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>, tensor<2x4x6x64x32xf32>) -> ()
  "test.use"(%o0, %s0_, %s5) : (tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>, tensor<2x4x6x64x32xf32>) -> ()
  return
}

// Half-precision storage keeps an f32 state.
// CHECK-LABEL: func.func @linear_recurrence_f16
func.func @linear_recurrence_f16(%q: tensor<1x16x?x128xf16>, %k: tensor<1x16x?x128xf16>) {
  // CHECK: hybrid.linear_recurrence linear
  %o, %s = hybrid.linear_recurrence linear %q, %k, %k
      : tensor<1x16x?x128xf16>, tensor<1x16x?x128xf16>, tensor<1x16x?x128xf16>
  // CHECK: "test.use"({{.*}}) : (tensor<1x16x?x128xf16>, tensor<1x16x128x128xf32>) -> ()
  "test.use"(%o, %s) : (tensor<1x16x?x128xf16>, tensor<1x16x128x128xf32>) -> ()
  return
}

//===----------------------------------------------------------------------===//
// hybrid.chunk_moe
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @chunk_moe_forms
func.func @chunk_moe_forms(%x: tensor<?x1024xf32>, %wr: tensor<64x1024xf32>,
                           %gamma: tensor<64xf32>, %up: tensor<64x128x1024xf32>,
                           %down: tensor<64x1024x128xf32>, %su: tensor<256x1024xf32>,
                           %sd: tensor<1024x256xf32>) {
  // CHECK: hybrid.chunk_moe blockffn %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<64xf32>) experts(%{{.*}}, %{{.*}} : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>) {chunk = 8 : i64} : tensor<?x1024xf32>, tensor<64x1024xf32>
  %0 = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<64xf32>)
      experts(%up, %down : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>)
      {chunk = 8} : tensor<?x1024xf32>, tensor<64x1024xf32>
  // CHECK: hybrid.chunk_moe blockffn {{.*}} {chunk = 1 : i64, epsilon = 9.99999974E-6 : f32}
  %1 = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<64xf32>)
      experts(%up, %down : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>)
      {chunk = 1, epsilon = 1.0e-5 : f32} : tensor<?x1024xf32>, tensor<64x1024xf32>
  // CHECK: hybrid.chunk_moe deco {{.*}} route_scale(%{{.*}} : tensor<64xf32>) experts({{.*}}) shared(%{{.*}}, %{{.*}} : tensor<256x1024xf32>, tensor<1024x256xf32>) {chunk = 16 : i64}
  %2 = hybrid.chunk_moe deco %x, %wr route_scale(%gamma : tensor<64xf32>)
      experts(%up, %down : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>)
      shared(%su, %sd : tensor<256x1024xf32>, tensor<1024x256xf32>)
      {chunk = 16} : tensor<?x1024xf32>, tensor<64x1024xf32>
  // CHECK: hybrid.chunk_moe topk_softmax {{.*}} {chunk = 8 : i64, top_k = 2 : i64}
  %3 = hybrid.chunk_moe topk_softmax %x, %wr
      experts(%up, %down : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>)
      {chunk = 8, top_k = 2} : tensor<?x1024xf32>, tensor<64x1024xf32>
  // CHECK: "test.use"({{.*}}) : (tensor<?x1024xf32>) -> ()
  "test.use"(%3) : (tensor<?x1024xf32>) -> ()
  return
}

// Weights in their storage type under f32 activations.
// CHECK-LABEL: func.func @chunk_moe_bf16_weights
func.func @chunk_moe_bf16_weights(%x: tensor<?x32xf32>, %wr: tensor<8x32xbf16>,
                                  %g: tensor<8xbf16>, %up: tensor<8x16x32xbf16>,
                                  %dn: tensor<8x32x16xf16>) -> tensor<?x32xf32> {
  // CHECK: hybrid.chunk_moe blockffn {{.*}} experts(%{{.*}}, %{{.*}} : tensor<8x16x32xbf16>, tensor<8x32x16xf16>) {chunk = 8 : i64} : tensor<?x32xf32>, tensor<8x32xbf16>
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xbf16>)
      experts(%up, %dn : tensor<8x16x32xbf16>, tensor<8x32x16xf16>)
      {chunk = 8} : tensor<?x32xf32>, tensor<8x32xbf16>
  return %y : tensor<?x32xf32>
}

//===----------------------------------------------------------------------===//
// hybrid.tree_verify / hybrid.kv_compact
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @speculation_forms
func.func @speculation_forms(%draft: tensor<8xi32>, %logits: tensor<8x32000xf16>,
                             %ids: tensor<8xi32>, %ids64: tensor<?xi64>,
                             %dparents: tensor<?xi32>, %ddraft: tensor<?xi32>,
                             %kc: tensor<1x2x?x128xf16>, %vc: tensor<1x2x?x128xf16>,
                             %states: tensor<1x4x8x64x64xf32>, %prefix: index) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = hybrid.tree_verify %{{.*}}, %{{.*}}, %{{.*}} : tensor<8xi32>, tensor<8xi32>, tensor<8x32000xf16>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %logits
      : tensor<8xi32>, tensor<8xi32>, tensor<8x32000xf16>
  // CHECK: hybrid.tree_verify {{.*}} : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
  %p1, %l1, %b1 = hybrid.tree_verify %parents, %draft, %ids
      : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
  // CHECK: hybrid.tree_verify {{.*}} : tensor<?xi32>, tensor<?xi32>, tensor<?xi64>
  %p2, %l2, %b2 = hybrid.tree_verify %dparents, %ddraft, %ids64
      : tensor<?xi32>, tensor<?xi32>, tensor<?xi64>
  // CHECK: hybrid.kv_compact %{{.*}}, %{{.*}} at %{{.*}} caches(%{{.*}}, %{{.*}} : tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>) states(%{{.*}} : tensor<1x4x8x64x64xf32>) : tensor<8xi32>, tensor<i32>
  %k2, %v2, %s = hybrid.kv_compact %path, %len at %prefix
      caches(%kc, %vc : tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>)
      states(%states : tensor<1x4x8x64x64xf32>) : tensor<8xi32>, tensor<i32>
  // CHECK: hybrid.kv_compact {{.*}} caches(%{{.*}} : tensor<1x2x?x128xf16>) : tensor<8xi32>, tensor<i32>
  %k3 = hybrid.kv_compact %path, %len at %prefix caches(%kc : tensor<1x2x?x128xf16>)
      : tensor<8xi32>, tensor<i32>
  // CHECK: hybrid.kv_compact {{.*}} states(%{{.*}} : tensor<1x4x8x64x64xf32>) : tensor<8xi32>, tensor<i32>
  %s3 = hybrid.kv_compact %path, %len at %prefix states(%states : tensor<1x4x8x64x64xf32>)
      : tensor<8xi32>, tensor<i32>
  // A failed commit keeps the committed state.
  // CHECK: hybrid.kv_compact {{.*}} states(%{{.*}} : tensor<1x4x8x64x64xf32>) keep(%{{.*}} : tensor<1x4x64x64xf32>) : tensor<8xi32>, tensor<i32>
  %s4 = hybrid.kv_compact %path, %len at %prefix states(%states : tensor<1x4x8x64x64xf32>)
      keep(%s3 : tensor<1x4x64x64xf32>) : tensor<8xi32>, tensor<i32>
  // CHECK: "test.use"({{.*}}) : (tensor<8xi32>, tensor<i32>, tensor<i32>, tensor<?xi32>, tensor<1x2x?x128xf16>, tensor<1x4x64x64xf32>) -> ()
  "test.use"(%path, %len, %bonus, %p2, %k2, %s) : (tensor<8xi32>, tensor<i32>, tensor<i32>, tensor<?xi32>, tensor<1x2x?x128xf16>, tensor<1x4x64x64xf32>) -> ()
  return
}

//===----------------------------------------------------------------------===//
// hybrid.rms_norm / hybrid.rotary_embedding
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @norm_forms
func.func @norm_forms(%x: tensor<2x?x1024xbf16>, %w: tensor<1024xbf16>,
                      %x4: tensor<2x3x4x5xf32>, %w2: tensor<4x5xf32>) {
  // The default axis (-1) and epsilon (1e-5) are elided.
  // CHECK: hybrid.rms_norm %{{.*}}, %{{.*}} : tensor<2x?x1024xbf16>, tensor<1024xbf16>
  %0 = hybrid.rms_norm %x, %w : tensor<2x?x1024xbf16>, tensor<1024xbf16>
  // CHECK: hybrid.rms_norm %{{.*}}, %{{.*}} {axis = 2 : i64, epsilon = 9.99999997E-7 : f32} : tensor<2x3x4x5xf32>, tensor<4x5xf32>
  %1 = hybrid.rms_norm %x4, %w2 {axis = 2, epsilon = 1.0e-6 : f32}
      : tensor<2x3x4x5xf32>, tensor<4x5xf32>
  // CHECK: hybrid.rms_norm %{{.*}}, %{{.*}} {axis = -2 : i64} : tensor<2x3x4x5xf32>, tensor<4x5xf32>
  %2 = hybrid.rms_norm %x4, %w2 {axis = -2} : tensor<2x3x4x5xf32>, tensor<4x5xf32>
  return
}

// CHECK-LABEL: func.func @rotary_forms
func.func @rotary_forms(%x4: tensor<2x4x?x8xf32>, %x3: tensor<2x?x32xf32>,
                        %cos: tensor<50x4xf32>, %sin: tensor<50x4xf32>,
                        %cos2: tensor<50x2xf32>, %sin2: tensor<50x2xf32>,
                        %pos: tensor<2x?xi64>, %bcos: tensor<2x?x4xf32>,
                        %bsin: tensor<2x?x4xf32>) {
  // CHECK: hybrid.rotary_embedding %{{.*}}, %{{.*}}, %{{.*}} positions(%{{.*}} : tensor<2x?xi64>) : tensor<2x4x?x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  %0 = hybrid.rotary_embedding %x4, %cos, %sin positions(%pos : tensor<2x?xi64>)
      : tensor<2x4x?x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  // CHECK: hybrid.rotary_embedding {{.*}} positions({{.*}}) {interleaved, rotary_embedding_dim = 4 : i64}
  %1 = hybrid.rotary_embedding %x4, %cos2, %sin2 positions(%pos : tensor<2x?xi64>)
      {interleaved, rotary_embedding_dim = 4}
      : tensor<2x4x?x8xf32>, tensor<50x2xf32>, tensor<50x2xf32>
  // CHECK: hybrid.rotary_embedding {{.*}} {num_heads = 4 : i64} : tensor<2x?x32xf32>
  %2 = hybrid.rotary_embedding %x3, %cos, %sin positions(%pos : tensor<2x?xi64>)
      {num_heads = 4} : tensor<2x?x32xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  // CHECK: hybrid.rotary_embedding %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x?x8xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>
  %3 = hybrid.rotary_embedding %x4, %bcos, %bsin
      : tensor<2x4x?x8xf32>, tensor<2x?x4xf32>, tensor<2x?x4xf32>
  return
}

// hybrid.attention_scores
// CHECK-LABEL: func.func @scores
// CHECK: hybrid.attention_scores %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<4x6xi1>) offset(%{{.*}}) {causal, stage = #hybrid.score_stage<probabilities>} : tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32> -> tensor<1x8x4x6xf32>
func.func @scores(%q: tensor<1x8x4x64xf32>, %k: tensor<1x2x6x64xf32>, %m: tensor<4x6xi1>, %o: index) -> tensor<1x8x4x6xf32> {
  %s = hybrid.attention_scores %q, %k mask(%m : tensor<4x6xi1>) offset(%o) {causal, stage = #hybrid.score_stage<probabilities>}
      : tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32> -> tensor<1x8x4x6xf32>
  return %s : tensor<1x8x4x6xf32>
}

// hybrid.cumsum
// CHECK-LABEL: func.func @cumsum
// CHECK: hybrid.cumsum %{{.*}}, %{{.*}} {exclusive, reverse} : tensor<2x?xf64>, tensor<1xi32>
func.func @cumsum(%x: tensor<2x?xf64>, %a: tensor<1xi32>) -> tensor<2x?xf64> {
  %y = hybrid.cumsum %x, %a {exclusive, reverse} : tensor<2x?xf64>, tensor<1xi32>
  return %y : tensor<2x?xf64>
}

// hybrid.topk
// CHECK-LABEL: func.func @topk
// CHECK: hybrid.topk %{{.*}}, %{{.*}} {axis = 1 : i64, largest} : tensor<3x4xf32>, tensor<1xi64> -> tensor<3x?xf32>, tensor<3x?xi64>
func.func @topk(%x: tensor<3x4xf32>, %k: tensor<1xi64>) -> (tensor<3x?xf32>, tensor<3x?xi64>) {
  %v, %i = hybrid.topk %x, %k {axis = 1 : i64, largest} : tensor<3x4xf32>, tensor<1xi64> -> tensor<3x?xf32>, tensor<3x?xi64>
  return %v, %i : tensor<3x?xf32>, tensor<3x?xi64>
}

// hybrid.check, hybrid.write_back (the entry-point interface)
// CHECK-LABEL: func.func @entry_interface
// CHECK: hybrid.check %{{.*}}, "position out of range"
// CHECK: hybrid.write_back %{{.*}} into %{{.*}} : tensor<4x?xf32>
func.func @entry_interface(%cache: tensor<4x?xf32> {hybrid.inout}, %x: tensor<4x1xf32>, %p: index) {
  %c4 = arith.constant 4 : index
  %ok = arith.cmpi ult, %p, %c4 : index
  hybrid.check %ok, "position out of range"
  %u = tensor.insert_slice %x into %cache[0, %p] [4, 1] [1, 1] : tensor<4x1xf32> into tensor<4x?xf32>
  hybrid.write_back %u into %cache : tensor<4x?xf32>
  return
}
