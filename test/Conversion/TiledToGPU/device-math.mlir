// RUN: hybrid-opt %s --hybrid-gpu-device-math | FileCheck %s

// No libdevice where the module runs: transcendentals become polynomials,
// the rest the LLVM intrinsics NVPTX has instructions for.
// CHECK-LABEL: func @math
// CHECK-NOT:     math.
// CHECK:         llvm.call_intrinsic "llvm.floor.f32"
// CHECK:         llvm.call_intrinsic "llvm.sqrt.f32"
// CHECK:         arith.divf
// CHECK:         llvm.call_intrinsic "llvm.fabs.f16"
// CHECK-NOT:     math.
// CHECK:         llvm.call_intrinsic "llvm.maxnum.f32"
// CHECK:         llvm.call_intrinsic "llvm.trunc.f32"
// CHECK:         return
func.func @math(%x: f32, %h: f16) -> (f32, f32, f32, f16, f32, f32, f32) {
  %e = math.exp %x : f32
  %s = math.sqrt %x : f32
  %r = math.rsqrt %x : f32
  %a = math.absf %h : f16
  %p = math.powf %x, %x : f32
  // PTX has max.f32; fmod is written out with trunc.
  %m = arith.maxnumf %x, %e : f32
  %q = arith.remf %x, %e : f32
  return %e, %s, %r, %a, %p, %m, %q : f32, f32, f32, f16, f32, f32, f32
}
