// .npy in, .npy out, compared with numpy; bad calls are clear errors.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; np.random.seed(0); np.save('%t/x.npy', np.random.randn(5, 7).astype(np.float32)); np.save('%t/w.npy', np.random.rand(7).astype(np.float32))"
// RUN: hybrid-run %s --entry norm --input %t/x.npy --input %t/w.npy --output %t/y.npy --repeat 3 --time | FileCheck %s --check-prefix=TIME
// RUN: %python -c "import numpy as np; x = np.load('%t/x.npy').astype(np.float64); w = np.load('%t/w.npy'); y = np.load('%t/y.npy'); r = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w; err = np.abs(y - r).max() / np.abs(r).max(); print('relative error ok' if err < 1e-6 else 'relative error %g' % err)" | FileCheck %s --check-prefix=NUMPY
// RUN: not hybrid-run %s --entry norm --input %t/x.npy 2>&1 | FileCheck %s --check-prefix=ARITY
// RUN: not hybrid-run %s --entry norm --input %t/x.npy --input %t/w.npy --input %t/w.npy 2>&1 | FileCheck %s --check-prefix=EXTRA
// RUN: not hybrid-run %s --entry norm --input %t/w.npy --input %t/w.npy 2>&1 | FileCheck %s --check-prefix=RANK
// RUN: not hybrid-run %s --entry missing 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: not hybrid-run %s --entry norm --input %t/nothing.npy 2>&1 | FileCheck %s --check-prefix=FILE

// TIME: invocation 0: {{[0-9.]+}} ms
// TIME: invocation 2: {{[0-9.]+}} ms
// TIME: min {{[0-9.]+}} ms, mean {{[0-9.]+}} ms over 3 invocations
// NUMPY: relative error ok
// ARITY: hybrid-run: error: 'norm' argument #1 is not given (--input)
// EXTRA: hybrid-run: error: 'norm' takes 2 arguments; --input '{{.*}}w.npy' is one too many
// RANK: hybrid-run: error: 'norm' argument #0: expected rank 2, got rank 1
// ENTRY: hybrid-run: error: {{.*}} has no entry point 'missing' (it has: norm)
// FILE: hybrid-run: error: {{.*}}nothing.npy: cannot open

func.func @norm(%x: tensor<?x7xf32>, %w: tensor<7xf32>) -> tensor<?x7xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<?x7xf32>, tensor<7xf32>
  return %y : tensor<?x7xf32>
}
