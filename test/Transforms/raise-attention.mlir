// RUN: hybrid-opt %s --hybrid-raise-attention --split-input-file | FileCheck %s

// GQA as exporters spell it: K/V broadcast over a group dimension and
// collapsed to the query heads; scale by a constant; an additive mask.
// CHECK-LABEL: func.func @gqa
// CHECK-SAME: (%[[Q:.*]]: tensor<2x8x?x64xf32>, %[[K:.*]]: tensor<2x2x?x64xf32>, %[[V:.*]]: tensor<2x2x?x64xf32>, %[[M:.*]]: tensor<16x?x?xf32>)
// CHECK: %[[M4:.*]] = tensor.expand_shape %[[M]] {{\[\[}}0, 1], [2], [3]]
// CHECK: %[[A:.*]] = hybrid.attention %[[Q]], %[[K]], %[[V]] mask(%[[M4]] : tensor<2x8x?x?xf32>) {scale = 1.250000e-01 : f32} : tensor<2x8x?x64xf32>, tensor<2x2x?x64xf32>, tensor<2x2x?x64xf32>
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[A]] {{\[\[}}0, 1], [2], [3]] : tensor<2x8x?x64xf32> into tensor<16x?x64xf32>
// CHECK-NOT: linalg.softmax
// CHECK: return %[[R]]
func.func @gqa(%q: tensor<2x8x?x64xf32>, %k: tensor<2x2x?x64xf32>, %v: tensor<2x2x?x64xf32>,
               %mask: tensor<16x?x?xf32>) -> tensor<16x?x64xf32> {
  %c2 = arith.constant 2 : index
  %s = tensor.dim %q, %c2 : tensor<2x8x?x64xf32>
  %t = tensor.dim %k, %c2 : tensor<2x2x?x64xf32>
  %zero = arith.constant 0.0 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x8x?x64xf32> into tensor<16x?x64xf32>
  %kb0 = tensor.empty(%t) : tensor<2x2x4x?x64xf32>
  %kb = linalg.broadcast ins(%k : tensor<2x2x?x64xf32>) outs(%kb0 : tensor<2x2x4x?x64xf32>) dimensions = [2]
  %k3 = tensor.collapse_shape %kb [[0, 1, 2], [3], [4]] : tensor<2x2x4x?x64xf32> into tensor<16x?x64xf32>
  %vb0 = tensor.empty(%t) : tensor<2x2x4x?x64xf32>
  %vb = linalg.broadcast ins(%v : tensor<2x2x?x64xf32>) outs(%vb0 : tensor<2x2x4x?x64xf32>) dimensions = [2]
  %v3 = tensor.collapse_shape %vb [[0, 1, 2], [3], [4]] : tensor<2x2x4x?x64xf32> into tensor<16x?x64xf32>
  %kt0 = tensor.empty(%t) : tensor<16x64x?xf32>
  %kt = linalg.transpose ins(%k3 : tensor<16x?x64xf32>) outs(%kt0 : tensor<16x64x?xf32>) permutation = [0, 2, 1]
  %s0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %scores = linalg.batch_matmul ins(%q3, %kt : tensor<16x?x64xf32>, tensor<16x64x?xf32>) outs(%sz : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %c8 = arith.constant 0.125 : f32
  %sc0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %scale = linalg.fill ins(%c8 : f32) outs(%sc0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %scaled = arith.mulf %scores, %scale : tensor<16x?x?xf32>
  %masked = arith.addf %scaled, %mask : tensor<16x?x?xf32>
  %p0 = tensor.empty(%s, %t) : tensor<16x?x?xf32>
  %p = linalg.softmax dimension(2) ins(%masked : tensor<16x?x?xf32>) outs(%p0 : tensor<16x?x?xf32>) -> tensor<16x?x?xf32>
  %o0 = tensor.empty(%s) : tensor<16x?x64xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<16x?x64xf32>) -> tensor<16x?x64xf32>
  %o = linalg.batch_matmul ins(%p, %v3 : tensor<16x?x?xf32>, tensor<16x?x64xf32>) outs(%oz : tensor<16x?x64xf32>) -> tensor<16x?x64xf32>
  return %o : tensor<16x?x64xf32>
}

// -----

// Plain 3-D operands, scale by division, no mask: one batch, N heads.
// CHECK-LABEL: func.func @plain
// CHECK: tensor.expand_shape %arg0 {{\[\[}}0, 1], [2], [3]] output_shape [1, 4, 5, 8]
// CHECK: hybrid.attention {{.*}} {scale = 5.000000e-01 : f32} : tensor<1x4x5x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>
func.func @plain(%q: tensor<4x5x8xf32>, %k: tensor<4x7x8xf32>, %v: tensor<4x7x8xf32>) -> tensor<4x5x8xf32> {
  %zero = arith.constant 0.0 : f32
  %kt0 = tensor.empty() : tensor<4x8x7xf32>
  %kt = linalg.transpose ins(%k : tensor<4x7x8xf32>) outs(%kt0 : tensor<4x8x7xf32>) permutation = [0, 2, 1]
  %s0 = tensor.empty() : tensor<4x5x7xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %scores = linalg.batch_matmul ins(%q, %kt : tensor<4x5x8xf32>, tensor<4x8x7xf32>) outs(%sz : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %two = arith.constant dense<2.0> : tensor<4x5x7xf32>
  %scaled = arith.divf %scores, %two : tensor<4x5x7xf32>
  %p0 = tensor.empty() : tensor<4x5x7xf32>
  %p = linalg.softmax dimension(2) ins(%scaled : tensor<4x5x7xf32>) outs(%p0 : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %o0 = tensor.empty() : tensor<4x5x8xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<4x5x8xf32>) -> tensor<4x5x8xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<4x5x7xf32>, tensor<4x7x8xf32>) outs(%oz : tensor<4x5x8xf32>) -> tensor<4x5x8xf32>
  return %o : tensor<4x5x8xf32>
}

// -----

// Softmax over the query dimension is not attention: left alone.
// CHECK-LABEL: func.func @wrong_softmax_dim
// CHECK-NOT: hybrid.attention
// CHECK: linalg.softmax dimension(1)
func.func @wrong_softmax_dim(%q: tensor<4x5x8xf32>, %k: tensor<4x7x8xf32>, %v: tensor<4x5x8xf32>) -> tensor<4x7x8xf32> {
  %zero = arith.constant 0.0 : f32
  %kt0 = tensor.empty() : tensor<4x8x7xf32>
  %kt = linalg.transpose ins(%k : tensor<4x7x8xf32>) outs(%kt0 : tensor<4x8x7xf32>) permutation = [0, 2, 1]
  %s0 = tensor.empty() : tensor<4x5x7xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%s0 : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %scores = linalg.batch_matmul ins(%q, %kt : tensor<4x5x8xf32>, tensor<4x8x7xf32>) outs(%sz : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %p0 = tensor.empty() : tensor<4x5x7xf32>
  %p = linalg.softmax dimension(1) ins(%scores : tensor<4x5x7xf32>) outs(%p0 : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %pt0 = tensor.empty() : tensor<4x7x5xf32>
  %pt = linalg.transpose ins(%p : tensor<4x5x7xf32>) outs(%pt0 : tensor<4x7x5xf32>) permutation = [0, 2, 1]
  %o0 = tensor.empty() : tensor<4x7x8xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<4x7x8xf32>) -> tensor<4x7x8xf32>
  %o = linalg.batch_matmul ins(%pt, %v : tensor<4x7x5xf32>, tensor<4x5x8xf32>) outs(%oz : tensor<4x7x8xf32>) -> tensor<4x7x8xf32>
  return %o : tensor<4x7x8xf32>
}

// -----

// An accumulating product (non-zero init) is not Q K^T: left alone.
// CHECK-LABEL: func.func @accumulating
// CHECK-NOT: hybrid.attention
func.func @accumulating(%q: tensor<4x5x8xf32>, %k: tensor<4x7x8xf32>, %v: tensor<4x7x8xf32>,
                        %acc: tensor<4x5x7xf32>) -> tensor<4x5x8xf32> {
  %zero = arith.constant 0.0 : f32
  %kt0 = tensor.empty() : tensor<4x8x7xf32>
  %kt = linalg.transpose ins(%k : tensor<4x7x8xf32>) outs(%kt0 : tensor<4x8x7xf32>) permutation = [0, 2, 1]
  %scores = linalg.batch_matmul ins(%q, %kt : tensor<4x5x8xf32>, tensor<4x8x7xf32>) outs(%acc : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %p0 = tensor.empty() : tensor<4x5x7xf32>
  %p = linalg.softmax dimension(2) ins(%scores : tensor<4x5x7xf32>) outs(%p0 : tensor<4x5x7xf32>) -> tensor<4x5x7xf32>
  %o0 = tensor.empty() : tensor<4x5x8xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%o0 : tensor<4x5x8xf32>) -> tensor<4x5x8xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<4x5x7xf32>, tensor<4x7x8xf32>) outs(%oz : tensor<4x5x8xf32>) -> tensor<4x5x8xf32>
  return %o : tensor<4x5x8xf32>
}

// -----

// RMSNorm spelled out (rsqrt form, mean as a division by the width).
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[Y:.*]] = hybrid.rms_norm %arg0, %arg1 {epsilon = 9.99999997E-7 : f32} : tensor<?x256xf32>, tensor<256xf32>
// CHECK: return %[[Y]]
func.func @rms_norm(%x: tensor<?x256xf32>, %w: tensor<256xf32>) -> tensor<?x256xf32> {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %x, %c0 : tensor<?x256xf32>
  %zero = arith.constant 0.0 : f32
  %sq = arith.mulf %x, %x : tensor<?x256xf32>
  %acc0 = tensor.empty(%t) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.reduce ins(%sq : tensor<?x256xf32>) outs(%acc : tensor<?xf32>) dimensions = [1]
    (%in: f32, %init: f32) {
      %a = arith.addf %in, %init : f32
      linalg.yield %a : f32
    }
  %width = arith.constant 256.0 : f32
  %n = linalg.fill ins(%width : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %mean = arith.divf %sum, %n : tensor<?xf32>
  %epsv = arith.constant 1.0e-6 : f32
  %e = linalg.fill ins(%epsv : f32) outs(%acc0 : tensor<?xf32>) -> tensor<?xf32>
  %var = arith.addf %mean, %e : tensor<?xf32>
  %r = math.rsqrt %var : tensor<?xf32>
  %b0 = tensor.empty(%t) : tensor<?x256xf32>
  %rb = linalg.broadcast ins(%r : tensor<?xf32>) outs(%b0 : tensor<?x256xf32>) dimensions = [1]
  %xn = arith.mulf %x, %rb : tensor<?x256xf32>
  %wb = linalg.broadcast ins(%w : tensor<256xf32>) outs(%b0 : tensor<?x256xf32>) dimensions = [0]
  %y = arith.mulf %xn, %wb : tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// Rotate-half rotary embedding with duplicated cos/sin halves.
// CHECK-LABEL: func.func @rotary
// CHECK: %[[Y:.*]] = hybrid.rotary_embedding %arg0, %arg1, %arg2 : tensor<1x4x?x8xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>
// CHECK: return %[[Y]]
func.func @rotary(%x: tensor<1x4x?x8xf32>, %c: tensor<1x?x4xf32>, %s: tensor<1x?x4xf32>) -> tensor<1x4x?x8xf32> {
  %c2 = arith.constant 2 : index
  %n = tensor.dim %x, %c2 : tensor<1x4x?x8xf32>
  %x1 = tensor.extract_slice %x[0, 0, 0, 0] [1, 4, %n, 4] [1, 1, 1, 1] : tensor<1x4x?x8xf32> to tensor<1x4x?x4xf32>
  %x2 = tensor.extract_slice %x[0, 0, 0, 4] [1, 4, %n, 4] [1, 1, 1, 1] : tensor<1x4x?x8xf32> to tensor<1x4x?x4xf32>
  %nx2 = arith.negf %x2 : tensor<1x4x?x4xf32>
  %rot = tensor.concat dim(3) %nx2, %x1 : (tensor<1x4x?x4xf32>, tensor<1x4x?x4xf32>) -> tensor<1x4x?x8xf32>
  %cos = tensor.concat dim(2) %c, %c : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
  %sin = tensor.concat dim(2) %s, %s : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
  %e = tensor.empty(%n) : tensor<1x4x?x8xf32>
  %cb = linalg.broadcast ins(%cos : tensor<1x?x8xf32>) outs(%e : tensor<1x4x?x8xf32>) dimensions = [1]
  %sb = linalg.broadcast ins(%sin : tensor<1x?x8xf32>) outs(%e : tensor<1x4x?x8xf32>) dimensions = [1]
  %a = arith.mulf %x, %cb : tensor<1x4x?x8xf32>
  %b = arith.mulf %rot, %sb : tensor<1x4x?x8xf32>
  %y = arith.addf %a, %b : tensor<1x4x?x8xf32>
  return %y : tensor<1x4x?x8xf32>
}

// -----

// Tables whose halves may differ are not a rotary embedding the op can
// express: left alone.
// CHECK-LABEL: func.func @rotary_distinct_halves
// CHECK-NOT: hybrid.rotary_embedding
func.func @rotary_distinct_halves(%x: tensor<1x4x3x8xf32>, %cos: tensor<1x3x8xf32>,
                                  %sin: tensor<1x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %x1 = tensor.extract_slice %x[0, 0, 0, 0] [1, 4, 3, 4] [1, 1, 1, 1] : tensor<1x4x3x8xf32> to tensor<1x4x3x4xf32>
  %x2 = tensor.extract_slice %x[0, 0, 0, 4] [1, 4, 3, 4] [1, 1, 1, 1] : tensor<1x4x3x8xf32> to tensor<1x4x3x4xf32>
  %nx2 = arith.negf %x2 : tensor<1x4x3x4xf32>
  %rot = tensor.concat dim(3) %nx2, %x1 : (tensor<1x4x3x4xf32>, tensor<1x4x3x4xf32>) -> tensor<1x4x3x8xf32>
  %e = tensor.empty() : tensor<1x4x3x8xf32>
  %cb = linalg.broadcast ins(%cos : tensor<1x3x8xf32>) outs(%e : tensor<1x4x3x8xf32>) dimensions = [1]
  %sb = linalg.broadcast ins(%sin : tensor<1x3x8xf32>) outs(%e : tensor<1x4x3x8xf32>) dimensions = [1]
  %a = arith.mulf %x, %cb : tensor<1x4x3x8xf32>
  %b = arith.mulf %rot, %sb : tensor<1x4x3x8xf32>
  %y = arith.addf %a, %b : tensor<1x4x3x8xf32>
  return %y : tensor<1x4x3x8xf32>
}
