//===- HostMemoryDriver.cpp - A CUDA driver stand-in on host memory -------===//
//
// What HYBRID_CUDA_DRIVER names in the device-residency test: the driver
// functions the GPU runtime calls, with "device memory" allocated on the
// host and kernels that do not run (a launch is only counted). It accepts
// any PTX (and remembers its .target) and reports the compute capability
// the test sets. The test reads its counters to see which bytes crossed
// between host and device, and writes "device memory" itself to stand for
// what a kernel would have written.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;

/// Live allocations: start -> size.
std::map<uintptr_t, size_t> &allocations() {
  static std::map<uintptr_t, size_t> live;
  return live;
}

bool isDevice(CUdeviceptr p) {
  auto &live = allocations();
  auto it = live.upper_bound(static_cast<uintptr_t>(p));
  if (it == live.begin())
    return false;
  --it;
  return p < it->first + it->second;
}

/// Counters the test reads.
struct Traffic {
  size_t toDevice, toDeviceBytes, toHost, toHostBytes, deviceToDevice,
      launches, allocations, frees, synchronizations;
} traffic;

int handle; // what opaque handles point at

/// The compute capability reported (10 major + minor), and the `.target`
/// of the last PTX loaded.
int capability = 90;
char lastTarget[16] = "";

} // namespace

extern "C" {

__attribute__((visibility("default"))) Traffic *hostDriverTraffic() {
  return &traffic;
}

/// The live allocation of exactly `bytes`, latest first; null if none.
__attribute__((visibility("default"))) void *
hostDriverAllocationOfSize(size_t bytes) {
  auto &live = allocations();
  for (auto it = live.rbegin(); it != live.rend(); ++it)
    if (it->second == bytes)
      return reinterpret_cast<void *>(it->first);
  return nullptr;
}

#define HOST_DRIVER_API __attribute__((visibility("default")))

__attribute__((visibility("default"))) void
hostDriverSetComputeCapability(int value) {
  capability = value;
}

__attribute__((visibility("default"))) const char *hostDriverLastTarget() {
  return lastTarget;
}

HOST_DRIVER_API CUresult cuInit(unsigned) { return 0; }
HOST_DRIVER_API CUresult cuDeviceGetAttribute(int *value, int attribute,
                                              int) {
  if (attribute == 75) // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    *value = capability / 10;
  else if (attribute == 76) // ..._MINOR
    *value = capability % 10;
  else
    return 1; // CUDA_ERROR_INVALID_VALUE
  return 0;
}
HOST_DRIVER_API CUresult cuDeviceGet(int *device, int) {
  *device = 0;
  return 0;
}
HOST_DRIVER_API CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &handle;
  return 0;
}
HOST_DRIVER_API CUresult cuCtxSetCurrent(void *) { return 0; }
HOST_DRIVER_API CUresult cuCtxSynchronize() {
  ++traffic.synchronizations;
  return 0;
}
HOST_DRIVER_API CUresult cuGetErrorString(CUresult, const char **text) {
  *text = "host-memory driver error";
  return 0;
}
HOST_DRIVER_API CUresult cuModuleLoadDataEx(void **module, const void *image,
                                            unsigned, int *, void **) {
  const char *target = std::strstr(static_cast<const char *>(image),
                                   ".target ");
  std::snprintf(lastTarget, sizeof(lastTarget), "%.5s",
                target ? target + 8 : "");
  *module = &handle;
  return 0;
}
HOST_DRIVER_API CUresult cuModuleUnload(void *) { return 0; }
HOST_DRIVER_API CUresult cuModuleGetFunction(void **function, void *,
                                             const char *) {
  *function = &handle;
  return 0;
}
HOST_DRIVER_API CUresult cuLaunchKernel(void *, unsigned, unsigned, unsigned,
                                        unsigned, unsigned, unsigned,
                                        unsigned, void *, void **, void **) {
  ++traffic.launches;
  return 0;
}
HOST_DRIVER_API CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = &handle;
  return 0;
}
HOST_DRIVER_API CUresult cuStreamDestroy_v2(void *) { return 0; }
HOST_DRIVER_API CUresult cuStreamSynchronize(void *) { return 0; }
HOST_DRIVER_API CUresult cuStreamWaitEvent(void *, void *, unsigned) {
  return 0;
}
HOST_DRIVER_API CUresult cuEventCreate(void **event, unsigned) {
  *event = &handle;
  return 0;
}
HOST_DRIVER_API CUresult cuEventDestroy_v2(void *) { return 0; }
HOST_DRIVER_API CUresult cuEventRecord(void *, void *) { return 0; }
HOST_DRIVER_API CUresult cuEventSynchronize(void *) { return 0; }
HOST_DRIVER_API CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  void *memory = std::calloc(bytes ? bytes : 1, 1);
  if (!memory)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  allocations()[reinterpret_cast<uintptr_t>(memory)] = bytes;
  ++traffic.allocations;
  *ptr = reinterpret_cast<CUdeviceptr>(memory);
  return 0;
}
HOST_DRIVER_API CUresult cuMemFree_v2(CUdeviceptr ptr) {
  allocations().erase(static_cast<uintptr_t>(ptr));
  ++traffic.frees;
  std::free(reinterpret_cast<void *>(ptr));
  return 0;
}
HOST_DRIVER_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src,
                                       size_t bytes, void *) {
  bool toDevice = isDevice(dst), fromDevice = isDevice(src);
  if (toDevice && fromDevice) {
    ++traffic.deviceToDevice;
  } else if (toDevice) {
    ++traffic.toDevice;
    traffic.toDeviceBytes += bytes;
  } else if (fromDevice) {
    ++traffic.toHost;
    traffic.toHostBytes += bytes;
  }
  std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src),
              bytes);
  return 0;
}
HOST_DRIVER_API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value,
                                          size_t count, void *) {
  auto *p = reinterpret_cast<uint32_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return 0;
}
HOST_DRIVER_API CUresult cuMemsetD16Async(CUdeviceptr dst,
                                          unsigned short value, size_t count,
                                          void *) {
  auto *p = reinterpret_cast<uint16_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return 0;
}

} // extern "C"
