// REQUIRES: ptxas
// ptxas (CUDA toolkit) assembles every kernel of hybrid-gpu-pipeline for
// sm_80 and sm_90; the lines list each kernel's registers, shared memory
// and spills (the resource figures of docs/GPUBackend.md).
//
// RUN: hybrid-opt %s --hybrid-gpu-pipeline=chip=sm_80 | %python %S/../../Tools/ptxas_check.py --ptxas %ptxas --arch sm_80 | FileCheck %s
// RUN: hybrid-opt %s --hybrid-gpu-pipeline=chip=sm_90 | %python %S/../../Tools/ptxas_check.py --ptxas %ptxas --arch sm_90 | FileCheck %s
// chip=both: every kernel's object holds both chips' PTX, and ptxas
// accepts each for its own chip.
// RUN: hybrid-opt %s --hybrid-gpu-pipeline=chip=both | %python %S/../../Tools/ptxas_check.py --ptxas %ptxas --arch both | FileCheck %s --check-prefix=BOTH
// BOTH-DAG: sm_80 kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 27904 bytes smem
// BOTH-DAG: sm_90 kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 27904 bytes smem
// BOTH-DAG: sm_80 kernel __hybrid_kernel_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 15360 bytes smem
// BOTH-DAG: sm_90 kernel __hybrid_kernel_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 15360 bytes smem

// The f32 GEMM: 8 KB of shared tiles, no spills.
// CHECK-DAG: kernel __hybrid_kernel_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 8192 bytes smem, 1 barriers, spills 0/0 bytes
// The tensor-core GEMMs (f16, bf16 batched): 10 KB of padded tiles.
// CHECK-DAG: kernel __hybrid_kernel_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 10240 bytes smem, 1 barriers, spills 0/0 bytes
// CHECK-DAG: kernel __hybrid_kernel_batch_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 10240 bytes smem, 1 barriers, spills 0/0 bytes
// bf16 weights against f32 activations on tensor cores: a third tile for
// the activations' low bf16 parts.
// CHECK-DAG: kernel __hybrid_kernel_matmul_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 15360 bytes smem, 1 barriers, spills 0/0 bytes
// Elementwise with exp and tanh, and the softmax's reductions: no
// libdevice (ptxas would reject an unresolved __nv_expf).
// CHECK-DAG: kernel __hybrid_kernel_tanh_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 0 bytes smem, 0 barriers, spills 0/0 bytes
// CHECK-DAG: kernel __hybrid_kernel_generic_{{[0-9]+}}_kernel:
// RMSNorm: a block per row, 32 floats of shared scratch.
// The recurrence: the state in registers (Dk 64: 16 rows a thread), the
// prefix in chunks of 16 tokens, which stage their keys, values, queries
// and weights, the rest in steps (key, query and decay rows and the warps'
// partials): 20 KB at Dk 64, 29 KB at Dk 128. Per-key decays keep Γ per
// key dim too: 24.5 KB at Dk 64 (gated delta; 92 bytes spilled on sm_80,
// where ptxas stops at 168 registers).
// CHECK-DAG: kernel __hybrid_kernel_linear_recurrence_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 25088 bytes smem, 1 barriers
// CHECK-DAG: kernel __hybrid_kernel_linear_recurrence_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 20864 bytes smem, 1 barriers, spills 0/0 bytes
// CHECK-DAG: kernel __hybrid_kernel_linear_recurrence_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 29568 bytes smem, 1 barriers, spills 0/0 bytes
// Gated DeltaNet (a per-head decay), its forward substitution included
// (Dk 128, bf16: 4 bytes spilled on sm_80).
// CHECK-DAG: kernel __hybrid_kernel_linear_recurrence_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 29568 bytes smem, 1 barriers
// Block-sparse attention: the flash kernel over the selected ranges.
// CHECK-DAG: kernel __hybrid_kernel_block_sparse_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 35200 bytes smem, 1 barriers, spills 0/0 bytes
// Tree verification: argmax blocks (a block reduction), then one walker.
// CHECK-DAG: kernel __hybrid_kernel_tree_verify_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 128 bytes smem, 1 barriers, spills 0/0 bytes
// RoPE: a thread per element.
// CHECK-DAG: kernel __hybrid_kernel_rotary_embedding_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 0 bytes smem, 0 barriers, spills 0/0 bytes
// CHECK-DAG: kernel __hybrid_kernel_rms_norm_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 128 bytes smem, 1 barriers, spills 0/0 bytes
// Attention on tensor cores (f16, head dim 128): Q, K and V^T tiles in
// f16, 27 KB, no spills; with bf16, a draft tree, a float mask and softcap
// at head dim 64: 14 KB.
// CHECK-DAG: kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 27904 bytes smem, 1 barriers, spills 0/0 bytes
// CHECK-DAG: kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 14592 bytes smem, 1 barriers
// Attention on FMAs (f32): Q, K, V and P tiles (head dim 64: 18 KB; the
// tree, mask and softcap variant spills 12 bytes on sm_80, none on sm_90).
// CHECK-DAG: kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 18816 bytes smem, 1 barriers
// ONNX's head sizes 8 (keys) and 10 (values): V's tile is 13 floats wide.
// CHECK-DAG: kernel __hybrid_kernel_attention_{{[0-9]+}}_kernel: {{[0-9]+}} registers, 4736 bytes smem, 1 barriers, spills 0/0 bytes

func.func @mlp(%x: tensor<?x64xf32>, %w: tensor<64x128xf32>, %b: tensor<128xf32>) -> tensor<?x128xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%m) : tensor<?x128xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x128xf32>) -> tensor<?x128xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x64xf32>, tensor<64x128xf32>) outs(%f : tensor<?x128xf32>) -> tensor<?x128xf32>
  %bb = linalg.broadcast ins(%b : tensor<128xf32>) outs(%e : tensor<?x128xf32>) dimensions = [0]
  %s = arith.addf %y, %bb : tensor<?x128xf32>
  %r = math.tanh %s : tensor<?x128xf32>
  %e2 = tensor.empty(%m) : tensor<?x128xf32>
  %sm = linalg.softmax dimension(1) ins(%r : tensor<?x128xf32>) outs(%e2 : tensor<?x128xf32>) -> tensor<?x128xf32>
  return %sm : tensor<?x128xf32>
}

func.func @mm_f16(%a: tensor<?x?xf16>, %b: tensor<?x?xf16>) -> tensor<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c0 : tensor<?x?xf16>
  %n = tensor.dim %b, %c1 : tensor<?x?xf16>
  %e = tensor.empty(%m, %n) : tensor<?x?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %y = linalg.matmul ins(%a, %b : tensor<?x?xf16>, tensor<?x?xf16>) outs(%f : tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

func.func @bmm_bf16(%a: tensor<4x?x64xbf16>, %b: tensor<4x64x32xbf16>) -> tensor<4x?x32xf32> {
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c1 : tensor<4x?x64xbf16>
  %e = tensor.empty(%m) : tensor<4x?x32xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x?x32xf32>) -> tensor<4x?x32xf32>
  %y = linalg.batch_matmul ins(%a, %b : tensor<4x?x64xbf16>, tensor<4x64x32xbf16>) outs(%f : tensor<4x?x32xf32>) -> tensor<4x?x32xf32>
  return %y : tensor<4x?x32xf32>
}

func.func @mm_bf16_f32(%w: tensor<128x64xbf16>, %x: tensor<64x?xf32>) -> tensor<128x?xf32> {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %x, %c1 : tensor<64x?xf32>
  %e = tensor.empty(%n) : tensor<128x?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<128x?xf32>) -> tensor<128x?xf32>
  %y = linalg.matmul ins(%w, %x : tensor<128x64xbf16>, tensor<64x?xf32>) outs(%f : tensor<128x?xf32>) -> tensor<128x?xf32>
  return %y : tensor<128x?xf32>
}

func.func @norm(%x: tensor<?x128xf32>, %w: tensor<128xf32>) -> tensor<?x128xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<?x128xf32>, tensor<128xf32>
  return %y : tensor<?x128xf32>
}

func.func @gqa_causal(%q: tensor<1x16x?x128xf16>, %k: tensor<1x2x?x128xf16>, %v: tensor<1x2x?x128xf16>) -> tensor<1x16x?x128xf16> {
  %o = hybrid.attention %q, %k, %v {causal} : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>
  return %o : tensor<1x16x?x128xf16>
}

func.func @tree_mask_softcap(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>, %m: tensor<?x?xi1>, %p: tensor<?xi32>) -> tensor<1x4x?x64xf32> {
  %o = hybrid.attention %q, %k, %v mask(%m : tensor<?x?xi1>) tree(%p : tensor<?xi32>) {causal, softcap = 30.0 : f32}
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}

func.func @tree_mask_softcap_bf16(%q: tensor<1x8x?x64xbf16>, %k: tensor<1x2x?x64xbf16>, %v: tensor<1x2x?x64xbf16>, %m: tensor<1x1x?x?xbf16>, %p: tensor<?xi32>) -> tensor<1x8x?x64xbf16> {
  %o = hybrid.attention %q, %k, %v mask(%m : tensor<1x1x?x?xbf16>) tree(%p : tensor<?xi32>) {causal, softcap = 30.0 : f32}
      : tensor<1x8x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>
  return %o : tensor<1x8x?x64xbf16>
}

func.func @odd_value_dim(%q: tensor<2x3x4x8xf32>, %k: tensor<2x3x6x8xf32>, %v: tensor<2x3x6x10xf32>) -> tensor<2x3x4x10xf32> {
  %o = hybrid.attention %q, %k, %v : tensor<2x3x4x8xf32>, tensor<2x3x6x8xf32>, tensor<2x3x6x10xf32>
  return %o : tensor<2x3x4x10xf32>
}

func.func @rope(%x: tensor<1x8x?x64xf16>, %c: tensor<?x32xf16>, %s: tensor<?x32xf16>, %p: tensor<1x?xi64>) -> tensor<1x8x?x64xf16> {
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<1x?xi64>) : tensor<1x8x?x64xf16>, tensor<?x32xf16>, tensor<?x32xf16>
  return %y : tensor<1x8x?x64xf16>
}

func.func @gated_delta(%q: tensor<2x8x?x64xf32>, %k: tensor<2x4x?x64xf32>, %v: tensor<2x4x?x32xf32>,
                       %g: tensor<2x4x?x64xf32>, %beta: tensor<2x4x?xf32>, %s0: tensor<2x4x64x32xf32>)
    -> (tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<2x4x?x64xf32>) beta(%beta : tensor<2x4x?xf32>) state(%s0 : tensor<2x4x64x32xf32>)
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  return %o, %s : tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>
}

func.func @lightning_tree(%q: tensor<1x2x?x64xbf16>, %k: tensor<1x2x?x64xbf16>, %v: tensor<1x2x?x64xbf16>, %p: tensor<?xi32>)
    -> (tensor<1x2x?x64xbf16>, tensor<1x2x?x64x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v tree(%p : tensor<?xi32>) {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>
  return %o, %s : tensor<1x2x?x64xbf16>, tensor<1x2x?x64x64xf32>
}

func.func @sparse(%q: tensor<1x16x?x128xbf16>, %k: tensor<1x2x?x128xbf16>, %v: tensor<1x2x?x128xbf16>,
                  %s: tensor<1x2x?x16xi32>) -> tensor<1x16x?x128xbf16> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x128xbf16>
  return %o : tensor<1x16x?x128xbf16>
}

func.func @lightning_prefill(%q: tensor<1x4x?x128xf32>, %k: tensor<1x2x?x128xf32>, %v: tensor<1x2x?x64xf32>) -> (tensor<1x4x?x64xf32>, tensor<1x2x128x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v {decay_slopes = array<f32: 0.5, 0.25>}
      : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x4x?x64xf32>, tensor<1x2x128x64xf32>
}

func.func @gated_deltanet(%q: tensor<1x4x?x128xbf16>, %k: tensor<1x2x?x128xbf16>, %v: tensor<1x2x?x128xbf16>,
                          %g: tensor<1x2x?xf32>, %beta: tensor<1x2x?xf32>)
    -> (tensor<1x4x?x128xbf16>, tensor<1x2x128x128xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x2x?xf32>) beta(%beta : tensor<1x2x?xf32>)
      : tensor<1x4x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x128xbf16>
  return %o, %s : tensor<1x4x?x128xbf16>, tensor<1x2x128x128xf32>
}

func.func @verify(%p: tensor<8xi32>, %d: tensor<8xi32>, %t: tensor<8x32000xf16>) -> (tensor<8xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %t : tensor<8xi32>, tensor<8xi32>, tensor<8x32000xf16>
  return %path, %len, %bonus : tensor<8xi32>, tensor<i32>, tensor<i32>
}
