//===- GPURuntime.cpp - The symbols gpu-to-llvm calls, on the driver ------===//
//
// MLIR's `gpu-to-llvm` lowers a module's host side to calls of `mgpu*`
// functions (LLVM 22's ABI below); upstream implements them in
// libmlir_cuda_runtime, which Debian does not ship and which links against
// CUDA. These implement them on the driver API loaded at run time
// (CUDADriver.h). A failure never aborts: the first one is recorded, the
// call does nothing (or returns null), and the thin runtime turns the
// record into an error status after loading a module or running an entry
// point (`hybrid_cuda_take_error`). That includes the module-load
// constructors, which run inside dlopen on a machine that may have no GPU.
//
//===----------------------------------------------------------------------===//

#include "CUDADriver.h"
#include "DevicePool.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace hybrid::cuda;

#define HYBRID_GPU_API extern "C" __attribute__((visibility("default")))

namespace {

/// Runs `call` on the driver; false (recorded) when there is no driver or
/// the call fails.
template <typename Call>
bool check(const char *what, Call call) {
  const Driver *d = driver();
  if (!d)
    return false;
  if (CUresult r = call(*d)) {
    recordError(what, r);
    return false;
  }
  return true;
}

/// cuModuleLoadDataEx's JIT options (CUjit_option values of cuda.h).
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSize = 6;
constexpr int kJitOptimizationLevel = 7;

} // namespace

/// The recorded failure of the GPU runtime, cleared: its length (0 when
/// there was none), copied NUL-terminated into `buffer` up to `capacity`.
HYBRID_GPU_API size_t hybrid_cuda_take_error(char *buffer, size_t capacity) {
  std::string error = takeError();
  if (buffer && capacity) {
    size_t n = std::min(error.size(), capacity - 1);
    std::memcpy(buffer, error.data(), n);
    buffer[n] = '\0';
  }
  return error.size();
}

namespace {
/// The PTX to load from a module's object: itself, or, from a PTX set
/// (hybrid-gpu-embed-ptx-set: "HYBRID-PTX-SET\n" then "sm_XY <bytes>\n"
/// <PTX> '\0' per chip), the newest chip's the device runs. Null (recorded)
/// when the set has none it runs.
const char *choosePTX(const char *object) {
  static constexpr char kMagic[] = "HYBRID-PTX-SET\n";
  if (std::strncmp(object, kMagic, sizeof(kMagic) - 1) != 0)
    return object;
  int device = computeCapability();
  if (device < 0)
    return nullptr;
  const char *best = nullptr;
  int bestChip = -1;
  std::string chips;
  for (const char *p = object + sizeof(kMagic) - 1; *p;) {
    int chip = 0;
    unsigned long long size = 0;
    int consumed = 0;
    if (std::sscanf(p, "sm_%d %llu\n%n", &chip, &size, &consumed) != 2 ||
        consumed == 0) {
      recordError("the module's PTX set is malformed");
      return nullptr;
    }
    const char *ptx = p + consumed;
    chips += (chips.empty() ? "sm_" : ", sm_") + std::to_string(chip);
    if (chip <= device && chip > bestChip) {
      best = ptx;
      bestChip = chip;
    }
    p = ptx + size + 1;
  }
  if (!best)
    recordError("the module has PTX for " + chips +
                ", none of which this GPU (sm_" + std::to_string(device) +
                ") runs");
  return best;
}
} // namespace

/// PTX (NUL-terminated) or a PTX set, compiled for the device by the
/// driver's JIT: no CUDA toolkit is needed where the module runs.
HYBRID_GPU_API void *mgpuModuleLoadJIT(void *data, int optLevel) {
  CUmodule module = nullptr;
  char log[4096] = "";
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize,
                   kJitOptimizationLevel};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  const Driver *d = driver();
  if (!d)
    return nullptr;
  const char *ptx = choosePTX(static_cast<const char *>(data));
  if (!ptx)
    return nullptr;
  if (CUresult r = d->cuModuleLoadDataEx(&module, ptx, 3, options, values)) {
    recordError(std::string("the CUDA driver cannot load the module's PTX") +
                    (*log ? std::string(" (") + log + ")" : ""),
                r);
    return nullptr;
  }
  return module;
}

/// A cubin or fatbin image.
HYBRID_GPU_API void *mgpuModuleLoad(void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  if (!check("the CUDA driver cannot load the module's binary",
             [&](const Driver &d) {
               return d.cuModuleLoadDataEx(&module, data, 0, nullptr,
                                           nullptr);
             }))
    return nullptr;
  return module;
}

HYBRID_GPU_API void mgpuModuleUnload(void *module) {
  if (module)
    check("cuModuleUnload", [&](const Driver &d) {
      return d.cuModuleUnload(static_cast<CUmodule>(module));
    });
}

HYBRID_GPU_API void *mgpuModuleGetFunction(void *module, const char *name) {
  if (!module) {
    recordError(std::string("kernel '") + name +
                "' is in a GPU module that did not load");
    return nullptr;
  }
  CUfunction function = nullptr;
  if (!check("cuModuleGetFunction", [&](const Driver &d) {
        return d.cuModuleGetFunction(&function, static_cast<CUmodule>(module),
                                     name);
      }))
    return nullptr;
  return function;
}

HYBRID_GPU_API void mgpuLaunchKernel(void *function, intptr_t gridX,
                                     intptr_t gridY, intptr_t gridZ,
                                     intptr_t blockX, intptr_t blockY,
                                     intptr_t blockZ, int32_t sharedBytes,
                                     void *stream, void **params,
                                     void **extra, size_t /*paramsCount*/) {
  if (!function)
    return; // recorded where the function was looked up
  check("a kernel launch failed", [&](const Driver &d) {
    return d.cuLaunchKernel(static_cast<CUfunction>(function), gridX, gridY,
                            gridZ, blockX, blockY, blockZ, sharedBytes,
                            static_cast<CUstream>(stream), params, extra);
  });
}

namespace {
/// Streams this thread made and gave back. gpu-to-llvm's host code makes a
/// stream for every chain of GPU operations and destroys it once the chain
/// is waited for: dozens per call. Reusing them saves a driver call pair
/// each; a reused stream may still hold work of its last chain, which only
/// orders the new chain after it. Kept per thread, so that concurrent calls
/// never share one; they outlive the thread (the driver reclaims them with
/// its context).
thread_local std::vector<CUstream> freeStreams;
} // namespace

HYBRID_GPU_API void *mgpuStreamCreate() {
  if (!freeStreams.empty()) {
    CUstream stream = freeStreams.back();
    freeStreams.pop_back();
    return stream;
  }
  CUstream stream = nullptr;
  check("cuStreamCreate",
        [&](const Driver &d) { return d.cuStreamCreate(&stream, 0); });
  return stream;
}

HYBRID_GPU_API void mgpuStreamDestroy(void *stream) {
  if (stream)
    freeStreams.push_back(static_cast<CUstream>(stream));
}

/// Where a kernel's fault surfaces: an illegal address, a trap.
HYBRID_GPU_API void mgpuStreamSynchronize(void *stream) {
  check("the GPU stream failed", [&](const Driver &d) {
    return d.cuStreamSynchronize(static_cast<CUstream>(stream));
  });
}

HYBRID_GPU_API void mgpuStreamWaitEvent(void *stream, void *event) {
  if (event)
    check("cuStreamWaitEvent", [&](const Driver &d) {
      return d.cuStreamWaitEvent(static_cast<CUstream>(stream),
                                 static_cast<CUevent>(event), 0);
    });
}

HYBRID_GPU_API void *mgpuEventCreate() {
  CUevent event = nullptr;
  // CU_EVENT_DISABLE_TIMING: events only order work here.
  check("cuEventCreate",
        [&](const Driver &d) { return d.cuEventCreate(&event, 0x2); });
  return event;
}

HYBRID_GPU_API void mgpuEventDestroy(void *event) {
  if (event)
    check("cuEventDestroy", [&](const Driver &d) {
      return d.cuEventDestroy(static_cast<CUevent>(event));
    });
}

HYBRID_GPU_API void mgpuEventSynchronize(void *event) {
  if (event)
    check("the GPU stream failed", [&](const Driver &d) {
      return d.cuEventSynchronize(static_cast<CUevent>(event));
    });
}

HYBRID_GPU_API void mgpuEventRecord(void *event, void *stream) {
  if (event)
    check("cuEventRecord", [&](const Driver &d) {
      return d.cuEventRecord(static_cast<CUevent>(event),
                             static_cast<CUstream>(stream));
    });
}

/// Device memory from the pool (`isHostShared`, managed memory, is not
/// offered: a module that asks gets an error rather than memory of another
/// kind).
HYBRID_GPU_API void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/,
                                  bool isHostShared) {
  if (isHostShared) {
    recordError("host-shared GPU allocations are not supported");
    return nullptr;
  }
  if (bytes == 0)
    return nullptr;
  return poolAllocate(bytes);
}

/// Back to the pool, reusable once this thread's call has finished (work
/// still queued may read the block until then).
HYBRID_GPU_API void mgpuMemFree(void *ptr, void * /*stream*/) {
  if (ptr)
    poolRelease(ptr);
}

/// The thin runtime's word that this thread's call has returned: once the
/// device has finished its work, the blocks the call freed are reused.
HYBRID_GPU_API void hybrid_cuda_call_finished() {
  // (Nothing to reuse: no need to wait for the device.)
  if (!poolHasReleased())
    return;
  if (check("the GPU failed",
            [](const Driver &d) { return d.cuCtxSynchronize(); }))
    poolCallFinished();
}

/// A copy of `bytes` host bytes in device memory (a parameter or a KV cache
/// kept resident between calls), or null (recorded) on failure.
HYBRID_GPU_API void *hybrid_cuda_upload(const void *host, size_t bytes) {
  void *device = mgpuMemAlloc(bytes ? bytes : 1, nullptr, false);
  if (!device)
    return nullptr;
  bool copied =
      !bytes || (check("copying a parameter to the GPU failed",
                       [&](const Driver &d) {
                         return d.cuMemcpyAsync(
                             reinterpret_cast<CUdeviceptr>(device),
                             reinterpret_cast<CUdeviceptr>(host), bytes,
                             nullptr);
                       }) &&
                 check("copying a parameter to the GPU failed",
                       [](const Driver &d) {
                         return d.cuStreamSynchronize(nullptr);
                       }));
  if (!copied) {
    poolFreeNow(device);
    return nullptr;
  }
  return device;
}

/// Copies `bytes` of device memory to the host and waits (a KV cache the
/// caller reads); 0 (recorded) on failure.
HYBRID_GPU_API int hybrid_cuda_download(void *host, const void *device,
                                        size_t bytes) {
  if (!bytes)
    return 1;
  return check("copying a tensor back from the GPU failed",
               [&](const Driver &d) {
                 return d.cuMemcpyAsync(
                     reinterpret_cast<CUdeviceptr>(host),
                     reinterpret_cast<CUdeviceptr>(device), bytes, nullptr);
               }) &&
         check("copying a tensor back from the GPU failed",
               [](const Driver &d) { return d.cuStreamSynchronize(nullptr); });
}

/// Releases what hybrid_cuda_upload returned (outside any call: nothing
/// queued reads it).
HYBRID_GPU_API void hybrid_cuda_release(void *device) {
  if (device)
    poolFreeNow(device);
}

/// Either side may be host memory (unified addressing).
HYBRID_GPU_API void mgpuMemcpy(void *dst, void *src, size_t bytes,
                               void *stream) {
  if (!bytes)
    return;
  if (!dst || !src) {
    recordError("a GPU copy with a null buffer (an allocation failed)");
    return;
  }
  check("a GPU copy failed", [&](const Driver &d) {
    return d.cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                           reinterpret_cast<CUdeviceptr>(src), bytes,
                           static_cast<CUstream>(stream));
  });
}

HYBRID_GPU_API void mgpuMemset32(void *dst, unsigned value, size_t count,
                                 void *stream) {
  if (dst && count)
    check("a GPU fill failed", [&](const Driver &d) {
      return d.cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                count, static_cast<CUstream>(stream));
    });
}

HYBRID_GPU_API void mgpuMemset16(void *dst, unsigned short value,
                                 size_t count, void *stream) {
  if (dst && count)
    check("a GPU fill failed", [&](const Driver &d) {
      return d.cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value,
                                count, static_cast<CUstream>(stream));
    });
}
