// Compiled without OpenMP, the kernels' per-iteration stack scratch must be
// released every iteration: 4 heads x 4096 rows of attention would otherwise
// need ~25 MB of stack and crash the default 8 MB.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; np.random.seed(1); np.save('%t/q.npy', np.random.randn(1, 4, 4096, 64).astype(np.float32)); np.save('%t/k.npy', np.random.randn(1, 2, 4096, 64).astype(np.float32))"
// RUN: hybrid-run %s --sequential --entry attn --input %t/q.npy --input %t/k.npy --input %t/k.npy --output %t/o.npy
// RUN: %python -c "import numpy as np; o = np.load('%t/o.npy'); print('finite' if np.isfinite(o).all() and o.shape == (1, 4, 4096, 64) else 'bad')" | FileCheck %s
// CHECK: finite

func.func @attn(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>)
    -> tensor<1x4x?x64xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}
