// --target nvptx compiles a module into host code with the kernels as
// embedded PTX, linked against the GPU runtime. Without a CUDA driver (or
// a device) loading it is a clear error, not an abort: the module-load
// constructors run inside dlopen.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: hybrid-run %s --target nvptx --gpu-chip sm_90 --compile-only --emit-so %t/mlp.so
// RUN: llvm-readelf --dynamic-table %t/mlp.so | FileCheck %s --check-prefix=LINKS
// RUN: llvm-readelf --string-dump=.rodata %t/mlp.so | FileCheck %s --check-prefix=PTX
// RUN: %python -c "import numpy as np; np.save('%t/x.npy', np.ones((3, 64), np.float32)); np.save('%t/w.npy', np.ones((64, 128), np.float32)); np.save('%t/b.npy', np.ones(128, np.float32))"
// RUN: env HYBRID_CUDA_DRIVER=%t/no-libcuda.so.1 not hybrid-run %t/mlp.so --input %t/x.npy --input %t/w.npy --input %t/b.npy 2>&1 | FileCheck %s --check-prefix=NODRIVER
// RUN: env HYBRID_CUDA_DRIVER=%t/no-libcuda.so.1 not hybrid-run %s --target nvptx --input %t/x.npy --input %t/w.npy --input %t/b.npy 2>&1 | FileCheck %s --check-prefix=NODRIVER

// The module needs Hybrid's GPU runtime, never CUDA itself.
// LINKS: NEEDED{{.*}}libhybrid_runtime_cuda.so
// LINKS-NOT: libcuda

// PTX for the chosen chip, embedded in the host object.
// PTX: .target sm_90

// NODRIVER: hybrid-run: error: cannot load module {{.*}}: no CUDA driver ({{.*}}no-libcuda.so.1

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
  return %r : tensor<?x128xf32>
}
