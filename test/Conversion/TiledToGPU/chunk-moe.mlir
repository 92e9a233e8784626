// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// BlockFFN with a shared expert: the router (a block per token), the
// chunks' active experts (a block per chunk, counting the active pairs),
// the experts (a block per (chunk, expert + the shared one) that returns
// at once unless the chunk activates the expert), then the result's type.
// (The shape checks fold away: the shapes are static.)
// CHECK-LABEL: func @blockffn
// Router: logits, then ReLU + RMSNorm over the experts.
// CHECK:       gpu.launch
// CHECK:         gpu.barrier
// CHECK:         math.rsqrt
// Activity: a flag per (chunk, expert), the pairs counted atomically.
// CHECK:       gpu.launch
// CHECK:         memref.atomic_rmw addi
// Experts: a grid layer per expert plus the shared one (16 + 1).
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %c17, {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         scf.if
// Warp-per-row products: shuffle sums; SiLU; atomic accumulation.
// CHECK:           gpu.shuffle xor
// CHECK:           math.exp
// CHECK:           gpu.barrier
// CHECK:           memref.atomic_rmw addf
// The result in bf16.
// CHECK:       gpu.launch
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// The module's activity counters, on the host.
// CHECK:       memref.get_global @__hybrid_moe_activity
// CHECK:       bufferization.to_tensor
func.func @blockffn(%x: tensor<?x256xbf16>, %wr: tensor<16x256xbf16>, %gamma: tensor<16xbf16>,
                    %up: tensor<16x64x256xbf16>, %down: tensor<16x256x64xbf16>,
                    %su: tensor<128x256xbf16>, %sd: tensor<256x128xbf16>) -> tensor<?x256xbf16> {
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<16xbf16>)
      experts(%up, %down : tensor<16x64x256xbf16>, tensor<16x256x64xbf16>)
      shared(%su, %sd : tensor<128x256xbf16>, tensor<256x128xbf16>)
      {chunk = 8} : tensor<?x256xbf16>, tensor<16x256xbf16>
  return %y : tensor<?x256xbf16>
}

// Top-k softmax: an expert is chosen when fewer than k others beat it.
// CHECK-LABEL: func @topk
// CHECK:       gpu.launch
// CHECK:         scf.for {{.*}} -> (index)
// CHECK:         math.exp
func.func @topk(%x: tensor<?x64xf32>, %wr: tensor<8x64xf32>, %up: tensor<8x32x64xf32>,
                %down: tensor<8x64x32xf32>) -> tensor<?x64xf32> {
  %y = hybrid.chunk_moe topk_softmax %x, %wr
      experts(%up, %down : tensor<8x32x64xf32>, tensor<8x64x32xf32>)
      {chunk = 4, top_k = 2} : tensor<?x64xf32>, tensor<8x64xf32>
  return %y : tensor<?x64xf32>
}
