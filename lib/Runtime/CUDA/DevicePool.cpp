//===- DevicePool.cpp - Device memory reused across calls -----------------===//

#include "DevicePool.h"

#include "CUDADriver.h"

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

using namespace hybrid::cuda;

namespace {

/// Sizes round up to a power of two from 256 bytes to 1 MiB, then to whole
/// MiB: at most 2x waste for small buffers, little for large ones, and few
/// classes for blocks to match.
size_t sizeClass(size_t bytes) {
  constexpr size_t kMiB = size_t(1) << 20;
  if (bytes > kMiB)
    return (bytes + kMiB - 1) / kMiB * kMiB;
  size_t size = 256;
  while (size < bytes)
    size *= 2;
  return size;
}

struct Pool {
  std::mutex mutex;
  /// Free blocks by size class.
  std::map<size_t, std::vector<void *>> available;
  /// Every block the pool made, with its size class.
  std::unordered_map<void *, size_t> sizes;
};

Pool &pool() {
  static Pool *p = new Pool; // used until the process ends
  return *p;
}

/// What this thread's call released: reusable once the call has finished.
thread_local std::vector<void *> released;

bool driverFree(void *block) {
  const Driver *d = driver();
  if (!d)
    return false;
  if (CUresult r = d->cuMemFree(reinterpret_cast<CUdeviceptr>(block))) {
    recordError("cuMemFree", r);
    return false;
  }
  return true;
}

/// Gives every free block back to the driver (pool mutex held).
void trim(Pool &p) {
  for (auto &[size, blocks] : p.available)
    for (void *block : blocks) {
      driverFree(block);
      p.sizes.erase(block);
    }
  p.available.clear();
}

} // namespace

void *hybrid::cuda::poolAllocate(size_t bytes) {
  size_t size = sizeClass(bytes);
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.available.find(size);
  if (it != p.available.end() && !it->second.empty()) {
    void *block = it->second.back();
    it->second.pop_back();
    return block;
  }
  const Driver *d = driver();
  if (!d)
    return nullptr;
  CUdeviceptr ptr = 0;
  CUresult r = d->cuMemAlloc(&ptr, size);
  if (r) {
    // Out of memory with blocks parked here: give them back and retry.
    trim(p);
    r = d->cuMemAlloc(&ptr, size);
  }
  if (r) {
    recordError("out of GPU memory", r);
    return nullptr;
  }
  void *block = reinterpret_cast<void *>(ptr);
  p.sizes[block] = size;
  return block;
}

void hybrid::cuda::poolRelease(void *block) { released.push_back(block); }

bool hybrid::cuda::poolHasReleased() { return !released.empty(); }

void hybrid::cuda::poolFreeNow(void *block) {
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  if (driverFree(block))
    p.sizes.erase(block);
}

void hybrid::cuda::poolCallFinished() {
  if (released.empty())
    return;
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (void *block : released) {
    auto it = p.sizes.find(block);
    if (it != p.sizes.end())
      p.available[it->second].push_back(block);
  }
  released.clear();
}
