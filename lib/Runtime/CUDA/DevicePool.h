//===- DevicePool.h - Device memory reused across calls ---------*- C++ -*-===//
//
// A compiled GPU module allocates and frees dozens of device buffers per
// call (gpu.alloc / gpu.dealloc), and cuMemFree waits for the device. The
// pool keeps freed blocks, by size class, for the next allocation. A block
// freed during a call may still be read by work queued on a stream, so it
// is reusable only once that work is known to be done: when the thread's
// call has finished (the thin runtime says so after the entry point
// returns and the device is synchronised).
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_RUNTIME_CUDA_DEVICEPOOL_H
#define HYBRID_LIB_RUNTIME_CUDA_DEVICEPOOL_H

#include <cstddef>

namespace hybrid::cuda {

/// A block of at least `bytes` (null, recorded, when the device has no
/// memory left even after the pool gave its blocks back).
void *poolAllocate(size_t bytes);
/// `block` (from poolAllocate) is free once the calling thread's call has
/// finished.
void poolRelease(void *block);
/// `block` is free now, nothing reading it any more (cuMemFree).
void poolFreeNow(void *block);
/// Whether the calling thread's call released any block.
bool poolHasReleased();
/// The calling thread's call has finished: what it released is reusable.
void poolCallFinished();

} // namespace hybrid::cuda

#endif // HYBRID_LIB_RUNTIME_CUDA_DEVICEPOOL_H
