// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// One block per row (the dims before `axis`), 256 threads striding over
// the row: sum of squares, a block reduction (warp shuffles, then the
// warps' partials through 32 floats of shared memory), then scale.
// (Canonicalisation reads the tensors in place of their to_buffer loads:
// bufferization turns them back into loads of the same buffers.)
// CHECK:       memref.global "private" @[[S:.*]] : memref<32xf32, #gpu.address_space<workgroup>> = uninitialized
// CHECK-LABEL: func @norm
// CHECK:       %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x8x64xf16>
// CHECK:       %[[ROWS:.*]] = arith.muli %{{.*}}, %c8
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %[[ROWS]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         %[[SCRATCH:.*]] = memref.get_global @[[S]]
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c64 step %c256 iter_args
// CHECK:           arith.extf
// CHECK:         gpu.barrier
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK:         memref.store %{{.*}}, %[[SCRATCH]]
// CHECK:         gpu.barrier
// CHECK:         memref.load %[[SCRATCH]]
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK:         math.rsqrt
// CHECK:         scf.for
// The scale broadcasts: its coordinate is clamped to its size.
// CHECK:           arith.minui %{{.*}}, %c63
// CHECK:           arith.truncf {{.*}} : f32 to f16
// CHECK:           memref.store {{.*}}, %[[Y]]
// CHECK:       %[[R:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// CHECK:       return %[[R]]
func.func @norm(%x: tensor<?x8x64xf16>, %w: tensor<64xf16>) -> tensor<?x8x64xf16> {
  %y = hybrid.rms_norm %x, %w {epsilon = 1.0e-6 : f32} : tensor<?x8x64xf16>, tensor<64xf16>
  return %y : tensor<?x8x64xf16>
}
