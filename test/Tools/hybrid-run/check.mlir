// hybrid.check: a false condition fails the invocation with its message
// (an error status, exit code 1), a true one changes nothing.
// RUN: %python -c "import numpy as np; np.save('%t.x.npy', np.arange(4, dtype=np.float32))"
// RUN: hybrid-run %s --input %t.x.npy --input i64=3 --print | FileCheck %s --check-prefix=PASS
// RUN: not hybrid-run %s --input %t.x.npy --input i64=4 --print 2>&1 | FileCheck %s --check-prefix=FAIL
// PASS: result #0: f32[4] = [0, 1, 2, 3]
// FAIL: hybrid-run: error: 'f' failed: n must be at most 3
// FAIL-NOT: result #0

func.func @f(%x: tensor<4xf32>, %n: tensor<i64>) -> tensor<4xf32> {
  %v = tensor.extract %n[] : tensor<i64>
  %c3 = arith.constant 3 : i64
  %ok = arith.cmpi sle, %v, %c3 : i64
  hybrid.check %ok, "n must be at most 3"
  return %x : tensor<4xf32>
}
