// RUN: hybrid-opt %s --hybrid-gpu-device-buffers --verify-diagnostics

// A host op still reading a device buffer element by element is named
// (it would fault at run time).
func.func @host_read(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{the host reads a device buffer here}}
  %v = memref.load %x[%c0] : memref<4xf32>
  return %v : f32
}
