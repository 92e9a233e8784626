// Every verifier branch of the hybrid dialect, one case each.
//
// RUN: hybrid-opt %s -split-input-file -verify-diagnostics

// sparse_config: lengths that size kernel scratch are bounded (a topk of
// 2^62 made the compiled kernel's allocation size wrap).
// expected-error @+1 {{sparse_config topk 4611686018427387904 exceeds 2^24}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4611686018427387904, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// expected-error @+1 {{sparse_config window_size 1099511627776 exceeds 2^24}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 1099511627776, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config kernel_size must be positive, not 0}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 0, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config kernel_stride must be positive, not -16}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = -16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config block_size must be positive, not 0}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 0, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config topk must be positive, not 0}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 0, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config init_blocks, window_size and dense_len must not be negative}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = -1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config kernel_stride 16 does not divide kernel_size 40}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 40, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config kernel_stride 16 does not divide block_size 40}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 40, topk = 4, init_blocks = 1, window_size = 120, dense_len = 0>} {
  return
}

// -----

// sparse_config
// expected-error @+1 {{sparse_config block_size 48 does not divide window_size 128}}
func.func @f() attributes {c = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 48, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>} {
  return
}

// -----

// key element type
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf16>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{key element type 'f16' does not match query element type 'f32'}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf32>
  return
}

// -----

// key batch
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<2x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{key batch size 2 does not match query batch size 1}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// GQA ratio
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x3x8x16xf32>, %v: tensor<1x3x8x16xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>
  return
}

// -----

// head dim
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x32xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{key head dim size 32 does not match query head dim size 16}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// value element type
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xbf16>) {
  // expected-error @+1 {{value element type 'bf16' does not match query element type 'f32'}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xbf16>
  return
}

// -----

// value batch
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<3x2x8x16xf32>) {
  // expected-error @+1 {{value batch size 3 does not match query batch size 1}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<3x2x8x16xf32>
  return
}

// -----

// value heads
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x1x8x16xf32>) {
  // expected-error @+1 {{value head size 1 does not match key head size 2}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x1x8x16xf32>
  return
}

// -----

// value length
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x9x16xf32>) {
  // expected-error @+1 {{value sequence size 9 does not match key sequence size 8}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x9x16xf32>
  return
}

// -----

// scale
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{scale must be a positive finite number, not -1}}
  %r = hybrid.attention %q, %k, %v {causal, scale = -1.0 : f32} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// softcap
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{softcap must be a positive finite number, not 0}}
  %r = hybrid.attention %q, %k, %v {softcap = 0.0 : f32} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// tree larger than query
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %t: tensor<9xi32>) {
  // expected-error @+1 {{draft tree has 9 nodes but query has only 8 sequence rows}}
  %r = hybrid.attention %q, %k, %v tree(%t : tensor<9xi32>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// tree larger than keys
func.func @f(%q: tensor<1x4x12x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %t: tensor<10xi32>) {
  // expected-error @+1 {{draft tree has 10 nodes but key has only 8 sequence rows}}
  %r = hybrid.attention %q, %k, %v tree(%t : tensor<10xi32>) {causal} : tensor<1x4x12x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// root parent
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  %t = arith.constant dense<[0, 0, 1]> : tensor<3xi32>
  // expected-error @+1 {{parents do not form a draft tree: the root's parent must be -1, not 0}}
  %r = hybrid.attention %q, %k, %v tree(%t : tensor<3xi32>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// parent after child
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  %t = arith.constant dense<[-1, 2, 0]> : tensor<3xi32>
  // expected-error @+1 {{parents do not form a draft tree: parent of node 1 is 2; it must be in [0, 1)}}
  %r = hybrid.attention %q, %k, %v tree(%t : tensor<3xi32>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// tree without causal
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %t: tensor<3xi32>) {
  // expected-error @+1 {{a draft tree needs causal attention: add 'causal'}}
  %r = hybrid.attention %q, %k, %v tree(%t : tensor<3xi32>)  : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// mask element type
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<8x8xf16>) {
  // expected-error @+1 {{mask element type 'f16' must be i1 or the query element type 'f32'}}
  %r = hybrid.attention %q, %k, %v mask(%m : tensor<8x8xf16>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// mask broadcast
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x3x8x8xi1>) {
  // expected-error @+1 {{mask dimension 1 (size 3) does not broadcast to the head size 4}}
  %r = hybrid.attention %q, %k, %v mask(%m : tensor<1x3x8x8xi1>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// mask key length
func.func @f(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<8x7xi1>) {
  // expected-error @+1 {{mask dimension 1 (size 7) does not broadcast to the key size 8}}
  %r = hybrid.attention %q, %k, %v mask(%m : tensor<8x7xi1>) {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// query rank (inference)
func.func @f(%q: tensor<4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{query must be a rank-4 tensor, not 'tensor<4x8x16xf32>'}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// element type constraint
func.func @f(%q: tensor<1x4x8x16xf64>, %k: tensor<1x2x8x16xf64>, %v: tensor<1x2x8x16xf64>) {
  // expected-error @+1 {{operand #0 must be 4D tensor of f16, bf16 or f32 values}}
  %r = hybrid.attention %q, %k, %v {causal} : tensor<1x4x8x16xf64>, tensor<1x2x8x16xf64>, tensor<1x2x8x16xf64>
  return
}

// -----

// tree_policy without tree
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>) {
  // expected-error @+1 {{tree_policy needs a draft tree operand}}
  %r = hybrid.block_select %q, %k config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) {tree_policy = #hybrid.tree_policy<root>} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// compressed keys of another head count
func.func @f(%k1: tensor<1x3x?x16xf32>, %k: tensor<1x2x?x16xf32>) {
  // expected-error @+1 {{compressed keys head size 3 does not match key head size 2}}
  %r = hybrid.compress_keys %k1, %k config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x3x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// block_select's compressed keys of another head dim
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %k1: tensor<1x2x?x8xf32>) {
  // expected-error @+1 {{compressed keys head dim size 8 does not match key head dim size 16}}
  %r = hybrid.block_select %q, %k compressed(%k1 : tensor<1x2x?x8xf32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// block_select scale
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>) {
  // expected-error @+1 {{scale must be a positive finite number, not 0}}
  %r = hybrid.block_select %q, %k config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) {scale = 0.0 : f32} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// block_select GQA
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x3x?x16xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %r = hybrid.block_select %q, %k config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x3x?x16xf32>
  return
}

// -----

// block_select tree
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>) {
  %t = arith.constant dense<[-1, 0, 5]> : tensor<3xi32>
  // expected-error @+1 {{parents do not form a draft tree: parent of node 2 is 5; it must be in [0, 2)}}
  %r = hybrid.block_select %q, %k tree(%t : tensor<3xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// unknown policy
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %t: tensor<3xi32>) {
  // expected-error @+1 {{unknown tree_policy 'all'; expected one of union, root}}
  %r = hybrid.block_select %q, %k tree(%t : tensor<3xi32>) policy all config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// indices batch
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %i: tensor<2x2x?x4xi32>) {
  // expected-error @+1 {{block_indices batch size 2 does not match query batch size 1}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<2x2x?x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// indices heads
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %i: tensor<1x4x?x4xi32>) {
  // expected-error @+1 {{block_indices head size 4 does not match key head size 2}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<1x4x?x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// indices rows
func.func @f(%q: tensor<1x4x5x16xf32>, %k: tensor<1x2x?x16xf32>, %i: tensor<1x2x6x4xi32>) {
  // expected-error @+1 {{block_indices query size 6 does not match query sequence size 5}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<1x2x6x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x5x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// index out of range
func.func @f(%q: tensor<1x4x2x16xf32>, %k: tensor<1x2x130x16xf32>) {
  %i = arith.constant dense<3> : tensor<1x2x2x4xi32>
  // expected-error @+1 {{block index 3 is out of range: 130 keys in blocks of 64 make 3 blocks (-1 pads)}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<1x2x2x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x2x16xf32>, tensor<1x2x130x16xf32>, tensor<1x2x130x16xf32>
  return
}

// -----

// negative index
func.func @f(%q: tensor<1x4x2x16xf32>, %k: tensor<1x2x130x16xf32>) {
  %i = arith.constant dense<-2> : tensor<1x2x2x4xi32>
  // expected-error @+1 {{block index -2 is out of range: 130 keys in blocks of 64 make 3 blocks (-1 pads)}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<1x2x2x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) : tensor<1x4x2x16xf32>, tensor<1x2x130x16xf32>, tensor<1x2x130x16xf32>
  return
}

// -----

// block_sparse softcap
func.func @f(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %i: tensor<1x2x?x4xi32>) {
  // expected-error @+1 {{softcap must be a positive finite number, not -2}}
  %r = hybrid.block_sparse_attention %q, %k, %k blocks(%i : tensor<1x2x?x4xi32>) config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 4, init_blocks = 1, window_size = 128, dense_len = 0>) {softcap = -2.0 : f32} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return
}

// -----

// lr value element
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf16>) {
  // expected-error @+1 {{value element type 'f16' does not match query element type 'f32'}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf16>
  return
}

// -----

// lr key batch
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{key batch size 1 does not match query batch size 2}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// lr GQA
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x3x?x8xf32>, %v: tensor<2x3x?x6xf32>) {
  // expected-error @+1 {{query heads (4) must be a multiple of key/value heads (3)}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x3x?x8xf32>, tensor<2x3x?x6xf32>
  return
}

// -----

// lr value heads
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x4x?x6xf32>) {
  // expected-error @+1 {{value head size 4 does not match key head size 2}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x4x?x6xf32>
  return
}

// -----

// lr length
func.func @f(%q: tensor<2x4x5x8xf32>, %k: tensor<2x2x6x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{key sequence size 6 does not match query sequence size 5}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x5x8xf32>, tensor<2x2x6x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// lr key dim
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x4xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{key key dim size 4 does not match query key dim size 8}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x4xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// lr scale
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{scale must be a positive finite number, not 0}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v {scale = 0.0 : f32} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// gated without decay
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{update rule 'gated' needs a decay operand or decay_slopes}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// gated_delta without decay
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %b: tensor<2x2x?xf32>) {
  // expected-error @+1 {{update rule 'gated_delta' needs a decay operand or decay_slopes}}
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v beta(%b : tensor<2x2x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// decay and slopes
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x2x?xf32>) {
  // expected-error @+1 {{takes either a decay operand or decay_slopes, not both}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x2x?xf32>) {decay_slopes = array<f32: 1.0, 2.0>} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// linear with decay
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x2x?xf32>) {
  // expected-error @+1 {{update rule 'linear' takes no decay}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v decay(%g : tensor<2x2x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// delta with slopes
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %b: tensor<2x2x?xf32>) {
  // expected-error @+1 {{update rule 'delta' takes no decay}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v beta(%b : tensor<2x2x?xf32>) {decay_slopes = array<f32: 1.0, 2.0>} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// decay rank
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x2xf32>) {
  // expected-error @+1 {{decay must be [B, Hkv, T] (per head) or [B, Hkv, T, Dk] (per key dim), not rank 2}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x2xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// decay batch
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<3x2x?xf32>) {
  // expected-error @+1 {{decay batch size 3 does not match query batch size 2}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<3x2x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// decay per query head
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x4x?xf32>) {
  // expected-error @+1 {{decay head size 4 does not match key head size 2}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x4x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// decay length
func.func @f(%q: tensor<2x4x5x8xf32>, %k: tensor<2x2x5x8xf32>, %v: tensor<2x2x5x6xf32>, %g: tensor<2x2x7xf32>) {
  // expected-error @+1 {{decay sequence size 7 does not match query sequence size 5}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x2x7xf32>) : tensor<2x4x5x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x6xf32>
  return
}

// -----

// decay per value dim
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{decay key dim size 6 does not match key key dim size 8}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x2x?x6xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// slopes count
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{decay_slopes has 3 entries but there are 2 key/value heads}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v {decay_slopes = array<f32: 1.0, 2.0, 3.0>} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// negative slope
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{decay_slopes must be non-negative (the log-decay is -slope)}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v {decay_slopes = array<f32: 1.0, -2.0>} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// delta without beta
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{update rule 'delta' needs beta}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// gated with beta
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %g: tensor<2x2x?xf32>, %b: tensor<2x2x?xf32>) {
  // expected-error @+1 {{update rule 'gated' takes no beta}}
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<2x2x?xf32>) beta(%b : tensor<2x2x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// beta rank
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %b: tensor<2x2x?x1xf32>) {
  // expected-error @+1 {{beta must be [B, Hkv or 1, T], not rank 4}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v beta(%b : tensor<2x2x?x1xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// beta batch
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %b: tensor<1x2x?xf32>) {
  // expected-error @+1 {{beta batch size 1 does not match query batch size 2}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v beta(%b : tensor<1x2x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// beta heads
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %b: tensor<2x4x?xf32>) {
  // expected-error @+1 {{beta head size 4 does not match key head size 2}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v beta(%b : tensor<2x4x?xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// beta length
func.func @f(%q: tensor<2x4x5x8xf32>, %k: tensor<2x2x5x8xf32>, %v: tensor<2x2x5x6xf32>, %b: tensor<2x1x4xf32>) {
  // expected-error @+1 {{beta sequence size 4 does not match query sequence size 5}}
  %o, %s = hybrid.linear_recurrence delta %q, %k, %v beta(%b : tensor<2x1x4xf32>) : tensor<2x4x5x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x6xf32>
  return
}

// -----

// state batch
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %s0: tensor<1x2x8x6xf32>) {
  // expected-error @+1 {{initial_state batch size 1 does not match query batch size 2}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v state(%s0 : tensor<1x2x8x6xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// state heads
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %s0: tensor<2x4x8x6xf32>) {
  // expected-error @+1 {{initial_state head size 4 does not match key head size 2}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v state(%s0 : tensor<2x4x8x6xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// state key dim
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %s0: tensor<2x2x6x6xf32>) {
  // expected-error @+1 {{initial_state key dim size 6 does not match key key dim size 8}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v state(%s0 : tensor<2x2x6x6xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// state value dim
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %s0: tensor<2x2x8x8xf32>) {
  // expected-error @+1 {{initial_state value dim size 8 does not match value value dim size 6}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v state(%s0 : tensor<2x2x8x8xf32>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// state type
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>, %s0: tensor<2x2x8x6xf16>) {
  // expected-error @+1 {{operand #3 must be 4D tensor of 32-bit float values}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v state(%s0 : tensor<2x2x8x6xf16>) : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// chunk size
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{chunk_size must be between 1 and 2^24, not 0}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v {chunk_size = 0} : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// lr tree
func.func @f(%q: tensor<2x4x3x8xf32>, %k: tensor<2x2x3x8xf32>, %v: tensor<2x2x3x6xf32>, %t: tensor<4xi32>) {
  // expected-error @+1 {{draft tree has 4 nodes but query has only 3 sequence rows}}
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v tree(%t : tensor<4xi32>) : tensor<2x4x3x8xf32>, tensor<2x2x3x8xf32>, tensor<2x2x3x6xf32>
  return
}

// -----

// unknown rule
func.func @f(%q: tensor<2x4x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x6xf32>) {
  // expected-error @+1 {{unknown update_rule 'mamba'; expected one of linear, gated, delta, gated_delta}}
  %o, %s = hybrid.linear_recurrence mamba %q, %k, %v : tensor<2x4x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x6xf32>
  return
}

// -----

// router model dim
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x64xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router_weight model dim size 64 does not match input model dim size 32}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x64xf32>
  return
}

// -----

// up experts
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<4x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{expert_up expert size 4 does not match router_weight expert size 8}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<4x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// down experts
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<4x32x16xf32>) {
  // expected-error @+1 {{expert_down expert size 4 does not match router_weight expert size 8}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<4x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// up model dim
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x64xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{expert_up model dim size 64 does not match input model dim size 32}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x64xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// down model dim
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x64x16xf32>) {
  // expected-error @+1 {{expert_down model dim size 64 does not match input model dim size 32}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x64x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// expert width
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x8xf32>) {
  // expected-error @+1 {{expert_down expert width size 8 does not match expert_up expert width size 16}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x8xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// blockffn without norm
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'blockffn' needs router_norm}}
  %y = hybrid.chunk_moe blockffn %x, %wr experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// deco with norm
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'deco' takes no router_norm}}
  %y = hybrid.chunk_moe deco %x, %wr norm(%g : tensor<8xf32>) route_scale(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// deco without scale
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'deco' needs router_scale}}
  %y = hybrid.chunk_moe deco %x, %wr experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// blockffn with scale
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'blockffn' takes no router_scale}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) route_scale(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// norm size
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>, %g4: tensor<4xf32>) {
  // expected-error @+1 {{router_norm expert size 4 does not match router_weight expert size 8}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g4 : tensor<4xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// topk without top_k
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'topk_softmax' needs top_k}}
  %y = hybrid.chunk_moe topk_softmax %x, %wr experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// blockffn with top_k
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{router 'blockffn' takes no top_k}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8, top_k = 2} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// top_k too large
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{top_k 9 must be in [1, 8] (the number of experts)}}
  %y = hybrid.chunk_moe topk_softmax %x, %wr experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8, top_k = 9} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// top_k zero
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{top_k 0 must be in [1, 8] (the number of experts)}}
  %y = hybrid.chunk_moe topk_softmax %x, %wr experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8, top_k = 0} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// shared model dim
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>, %su: tensor<4x16xf32>, %sd: tensor<32x4xf32>) {
  // expected-error @+1 {{shared_up model dim size 16 does not match input model dim size 32}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) shared(%su, %sd : tensor<4x16xf32>, tensor<32x4xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// shared down model dim
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>, %su: tensor<4x32xf32>, %sd: tensor<16x4xf32>) {
  // expected-error @+1 {{shared_down model dim size 16 does not match input model dim size 32}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) shared(%su, %sd : tensor<4x32xf32>, tensor<16x4xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// shared width
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>, %su: tensor<4x32xf32>, %sd: tensor<32x8xf32>) {
  // expected-error @+1 {{shared_down shared width size 8 does not match shared_up shared width size 4}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) shared(%su, %sd : tensor<4x32xf32>, tensor<32x8xf32>) {chunk = 8} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// chunk zero
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{chunk must be between 1 and 2^24 tokens, not 0}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 0} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// epsilon
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>) {
  // expected-error @+1 {{epsilon must be a positive finite number, not 0}}
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<8xf32>) experts(%up, %dn : tensor<8x16x32xf32>, tensor<8x32x16xf32>) {chunk = 8, epsilon = 0.0 : f32} : tensor<?x32xf32>, tensor<8x32xf32>
  return
}

// -----

// shared half (generic form)
func.func @f(%x: tensor<?x32xf32>, %wr: tensor<8x32xf32>, %g: tensor<8xf32>, %up: tensor<8x16x32xf32>, %dn: tensor<8x32x16xf32>, %su: tensor<4x32xf32>) {
  // expected-error @+1 {{the shared expert needs both shared_up and shared_down}}
  %y = "hybrid.chunk_moe"(%x, %wr, %g, %up, %dn, %su) <{chunk = 8 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 1, 1, 0>, router = #hybrid.router<blockffn>}> : (tensor<?x32xf32>, tensor<8x32xf32>, tensor<8xf32>, tensor<8x16x32xf32>, tensor<8x32x16xf32>, tensor<4x32xf32>) -> tensor<?x32xf32>
  return
}

// -----

// draft count
func.func @f(%p: tensor<4xi32>, %d: tensor<5xi32>, %l: tensor<4x10xf32>) {
  // expected-error @+1 {{draft_tokens node size 5 does not match parents node size 4}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<4xi32>, tensor<5xi32>, tensor<4x10xf32>
  return
}

// -----

// target rows
func.func @f(%p: tensor<4xi32>, %d: tensor<4xi32>, %l: tensor<3x10xf32>) {
  // expected-error @+1 {{target node size 3 does not match parents node size 4}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<4xi32>, tensor<4xi32>, tensor<3x10xf32>
  return
}

// -----

// integer logits
func.func @f(%p: tensor<4xi32>, %d: tensor<4xi32>, %l: tensor<4x10xi32>) {
  // expected-error @+1 {{a rank-2 target holds logits [N, V] and must be float, not 'i32'}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<4xi32>, tensor<4xi32>, tensor<4x10xi32>
  return
}

// -----

// float ids
func.func @f(%p: tensor<4xi32>, %d: tensor<4xi32>, %l: tensor<4xf32>) {
  // expected-error @+1 {{a rank-1 target holds argmax token ids and must be an integer tensor}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<4xi32>, tensor<4xi32>, tensor<4xf32>
  return
}

// -----

// verify tree
func.func @f(%d: tensor<3xi32>, %l: tensor<3xi32>) {
  %p = arith.constant dense<[-1, 1, 0]> : tensor<3xi32>
  // expected-error @+1 {{parents do not form a draft tree: parent of node 1 is 1; it must be in [0, 1)}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<3xi32>, tensor<3xi32>, tensor<3xi32>
  return
}

// -----

// empty tree
func.func @f(%d: tensor<0xi32>, %l: tensor<0xi32>) {
  %p = arith.constant dense<> : tensor<0xi32>
  // expected-error @+1 {{parents do not form a draft tree: a draft tree needs at least its root node}}
  %a, %b, %c = hybrid.tree_verify %p, %d, %l : tensor<0xi32>, tensor<0xi32>, tensor<0xi32>
  return
}

// -----

// nothing to compact
func.func @f(%p: tensor<4xi32>, %n: tensor<i32>, %o: index) {
  // expected-error @+1 {{needs at least one KV cache or node state to compact}}
  hybrid.kv_compact %p, %n at %o : tensor<4xi32>, tensor<i32>
  return
}

// -----

// kept state of another head count
func.func @f(%p: tensor<4xi32>, %n: tensor<i32>, %o: index, %s: tensor<1x2x4x8x8xf32>, %k: tensor<1x3x8x8xf32>) {
  // expected-error @+1 {{kept state head size 3 does not match node state head size 2}}
  %r = hybrid.kv_compact %p, %n at %o states(%s : tensor<1x2x4x8x8xf32>) keep(%k : tensor<1x3x8x8xf32>) : tensor<4xi32>, tensor<i32>
  return
}

// -----

// state nodes
func.func @f(%p: tensor<4xi32>, %n: tensor<i32>, %o: index, %s: tensor<1x2x5x8x8xf32>) {
  // expected-error @+1 {{node state node size 5 does not match path node size 4}}
  %r = hybrid.kv_compact %p, %n at %o states(%s : tensor<1x2x5x8x8xf32>) : tensor<4xi32>, tensor<i32>
  return
}

// -----

// axis
func.func @f(%x: tensor<2x3xf32>, %w: tensor<3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for a rank-2 input}}
  %y = hybrid.rms_norm %x, %w {axis = 2} : tensor<2x3xf32>, tensor<3xf32>
  return
}

// -----

// negative axis
func.func @f(%x: tensor<2x3xf32>, %w: tensor<3xf32>) {
  // expected-error @+1 {{axis -3 is out of range for a rank-2 input}}
  %y = hybrid.rms_norm %x, %w {axis = -3} : tensor<2x3xf32>, tensor<3xf32>
  return
}

// -----

// scale rank
func.func @f(%x: tensor<2x3xf32>, %w: tensor<2x3xf32>) {
  // expected-error @+1 {{scale has rank 2 but only 1 dimensions are normalised (axis -1)}}
  %y = hybrid.rms_norm %x, %w : tensor<2x3xf32>, tensor<2x3xf32>
  return
}

// -----

// scale size
func.func @f(%x: tensor<2x3xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{scale dimension 0 (size 4) does not broadcast to input dimension 1 (size 3)}}
  %y = hybrid.rms_norm %x, %w : tensor<2x3xf32>, tensor<4xf32>
  return
}

// -----

// rms epsilon
func.func @f(%x: tensor<2x3xf32>, %w: tensor<3xf32>) {
  // expected-error @+1 {{epsilon must be a positive finite number, not -1}}
  %y = hybrid.rms_norm %x, %w {epsilon = -1.0 : f32} : tensor<2x3xf32>, tensor<3xf32>
  return
}

// -----

// sin type
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x2xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{sin_cache type 'tensor<50x2xf32>' does not match cos_cache type 'tensor<50x4xf32>'}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x2xf32>
  return
}

// -----

// cache element
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf16>, %s: tensor<50x4xf16>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{cos_cache element type 'f16' does not match input element type 'f32'}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) : tensor<2x4x3x8xf32>, tensor<50x4xf16>, tensor<50x4xf16>
  return
}

// -----

// num_heads positive
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{num_heads must be positive, not 0}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {num_heads = 0} : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// num_heads 4d
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{num_heads 2 does not match the input's 4 heads}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {num_heads = 2} : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// 3d without num_heads
func.func @f(%x: tensor<2x3x32xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{a rank-3 input [B, S, H*D] needs num_heads}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) : tensor<2x3x32xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// 3d hidden
func.func @f(%x: tensor<2x3x30xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{hidden size 30 is not a multiple of num_heads 4}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {num_heads = 4} : tensor<2x3x30xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// rotary dim negative
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{rotary_embedding_dim must not be negative, not -2}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {rotary_embedding_dim = -2} : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// rotary dim odd
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{rotary dimension 3 must be even}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {rotary_embedding_dim = 3} : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// rotary dim too large
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x8xf32>, %s: tensor<50x8xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{rotary_embedding_dim 16 exceeds the head size 8}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) {rotary_embedding_dim = 16} : tensor<2x4x3x8xf32>, tensor<50x8xf32>, tensor<50x8xf32>
  return
}

// -----

// cache width
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x2xf32>, %s: tensor<50x2xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{cos_cache last size 2 must be 4 (half the rotary dimension)}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) : tensor<2x4x3x8xf32>, tensor<50x2xf32>, tensor<50x2xf32>
  return
}

// -----

// positions with batch cache
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<2x3x4xf32>, %s: tensor<2x3x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{with position_ids, the caches are [max_position, rotary_dim/2] tables}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x3xi64>) : tensor<2x4x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
  return
}

// -----

// positions batch
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<3x3xi64>) {
  // expected-error @+1 {{position_ids batch size 3 does not match input batch size 2}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<3x3xi64>) : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// positions length
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x5xi64>) {
  // expected-error @+1 {{position_ids sequence size 5 does not match input sequence size 3}}
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<2x5xi64>) : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// table without positions
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<50x4xf32>, %s: tensor<50x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{without position_ids, the caches are [B, S, rotary_dim/2]}}
  %y = hybrid.rotary_embedding %x, %c, %s : tensor<2x4x3x8xf32>, tensor<50x4xf32>, tensor<50x4xf32>
  return
}

// -----

// cache batch
func.func @f(%x: tensor<2x4x3x8xf32>, %c: tensor<3x3x4xf32>, %s: tensor<3x3x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{cos_cache batch size 3 does not match input batch size 2}}
  %y = hybrid.rotary_embedding %x, %c, %s : tensor<2x4x3x8xf32>, tensor<3x3x4xf32>, tensor<3x3x4xf32>
  return
}

// -----

// cache length
func.func @f(%x: tensor<2x3x32xf32>, %c: tensor<2x4x4xf32>, %s: tensor<2x4x4xf32>, %p: tensor<2x3xi64>) {
  // expected-error @+1 {{cos_cache sequence size 4 does not match input sequence size 3}}
  %y = hybrid.rotary_embedding %x, %c, %s {num_heads = 4} : tensor<2x3x32xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>
  return
}

// -----

// attention_scores
func.func @f(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x5x16xf32>) -> tensor<1x4x3x6xf32> {
  // expected-error @+1 {{scores dimension 3 (size 6) must be the key length (5)}}
  %s = hybrid.attention_scores %q, %k {stage = #hybrid.score_stage<logits>}
      : tensor<1x4x3x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x4x3x6xf32>
  return %s : tensor<1x4x3x6xf32>
}

// -----

// attention_scores
func.func @f(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x5x16xf32>, %m: tensor<3x5xf16>) -> tensor<1x4x3x5xf32> {
  // expected-error @+1 {{mask element type 'f16' must be i1 or the query element type 'f32'}}
  %s = hybrid.attention_scores %q, %k mask(%m : tensor<3x5xf16>) {stage = #hybrid.score_stage<biased>}
      : tensor<1x4x3x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x4x3x5xf32>
  return %s : tensor<1x4x3x5xf32>
}

// -----

// attention_scores
func.func @f(%q: tensor<1x3x3x16xf32>, %k: tensor<1x2x5x16xf32>) -> tensor<1x3x3x5xf32> {
  // expected-error @+1 {{query heads (3) must be a multiple of key/value heads (2)}}
  %s = hybrid.attention_scores %q, %k {stage = #hybrid.score_stage<probabilities>}
      : tensor<1x3x3x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x3x3x5xf32>
  return %s : tensor<1x3x3x5xf32>
}

// -----

// cumsum
func.func @f(%x: tensor<4xf32>, %a: tensor<1x1xi64>) -> tensor<4xf32> {
  // expected-error @+1 {{axis must be a 0-D or one-element 1-D tensor}}
  %y = hybrid.cumsum %x, %a : tensor<4xf32>, tensor<1x1xi64>
  return %y : tensor<4xf32>
}

// -----

// topk
func.func @f(%x: tensor<3x4xf32>, %k: tensor<1xi64>) -> (tensor<3x?xf32>, tensor<3x?xi64>) {
  // expected-error @+1 {{axis 2 is out of range for a rank-2 input}}
  %v, %i = hybrid.topk %x, %k {axis = 2 : i64} : tensor<3x4xf32>, tensor<1xi64> -> tensor<3x?xf32>, tensor<3x?xi64>
  return %v, %i : tensor<3x?xf32>, tensor<3x?xi64>
}

// -----

// topk
func.func @f(%x: tensor<3x4xf32>, %k: tensor<1xi64>) -> (tensor<2x?xf32>, tensor<3x?xi64>) {
  // expected-error @+1 {{values dimension 0 must match the input's}}
  %v, %i = hybrid.topk %x, %k {axis = 1 : i64} : tensor<3x4xf32>, tensor<1xi64> -> tensor<2x?xf32>, tensor<3x?xi64>
  return %v, %i : tensor<2x?xf32>, tensor<3x?xi64>
}

// -----

// write_back
func.func @f(%x: tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  // expected-error @+1 {{writes back into}}
  hybrid.write_back %x into %e : tensor<4xf32>
  return
}
