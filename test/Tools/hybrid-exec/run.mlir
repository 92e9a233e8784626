// hybrid-exec runs a compiled module with the thin runtime alone (no MLIR,
// no LLVM linked): what a GPU machine or a deployment without the compiler
// uses.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: hybrid-run %s --compile-only --emit-so %t/scale.so
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.arange(6, dtype=np.float32).reshape(2, 3))"
// RUN: hybrid-exec %t/scale.so --input %t/x.npy --output %t/y.npy --repeat 3 | FileCheck %s --check-prefix=TIME
// RUN: %python -c "import numpy as np; y = np.load('%t/y.npy'); print(y.tolist())" | FileCheck %s
// RUN: llvm-readelf --dynamic-table %hybrid_tools_dir/hybrid-exec | FileCheck %s --check-prefix=LINKS
// RUN: not hybrid-exec %t/scale.so 2>&1 | FileCheck %s --check-prefix=ARITY
// RUN: not hybrid-exec %t/missing.so 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not hybrid-exec %t/scale.so --frobnicate 2>&1 | FileCheck %s --check-prefix=OPTION

// TIME: invocation 0: {{[0-9.]+}} ms
// TIME: invocation 2: {{[0-9.]+}} ms
// CHECK: {{\[\[}}0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
// LINKS: libhybrid_runtime.so
// LINKS-NOT: libMLIR
// LINKS-NOT: libLLVM
// ARITY: hybrid-exec: error: {{.*}}argument
// MISSING: hybrid-exec: error: cannot load module {{.*}}missing.so
// OPTION: hybrid-exec: error: unknown option '--frobnicate'

func.func @scale(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = arith.addf %x, %x : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
