// The GPU module of DeviceMirrorTest: `append` writes a row into a cache
// it updates in place (hybrid.inout, as a KV cache), `total` only reads a
// cache.
func.func @append(%row: tensor<1x64xf32>, %cache: tensor<4x64xf32> {hybrid.inout},
                  %pos: index) -> tensor<1x64xf32> {
  %c = tensor.insert_slice %row into %cache[%pos, 0] [1, 64] [1, 1]
      : tensor<1x64xf32> into tensor<4x64xf32>
  hybrid.write_back %c into %cache : tensor<4x64xf32>
  %e = tensor.empty() : tensor<1x64xf32>
  %r = linalg.negf ins(%row : tensor<1x64xf32>) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  return %r : tensor<1x64xf32>
}

func.func @total(%cache: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %e = tensor.empty() : tensor<4x64xf32>
  %r = linalg.negf ins(%cache : tensor<4x64xf32>) outs(%e : tensor<4x64xf32>) -> tensor<4x64xf32>
  return %r : tensor<4x64xf32>
}
