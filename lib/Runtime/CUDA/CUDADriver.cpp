//===- CUDADriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "CUDADriver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <type_traits>

using namespace hybrid::cuda;

namespace {

std::mutex errorMutex;
std::string firstError;
/// The entry points, filled by load(); cuGetErrorString is usable once
/// `loaded` is set.
Driver entryPoints{};
bool loaded = false;

/// Loads the library and resolves every entry point; "" on success, else
/// why not. The ABI-versioned names (_v2) are the ones cuda.h maps to.
std::string load(Driver &d) {
  const char *path = std::getenv("HYBRID_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return std::string("no CUDA driver (") + (why ? why : path) + ")";
  }
  std::string missing;
  auto resolve = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(handle, name));
    if (!fn && missing.empty())
      missing = name;
  };
  resolve(d.cuInit, "cuInit");
  resolve(d.cuDeviceGet, "cuDeviceGet");
  resolve(d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(d.cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(d.cuCtxSynchronize, "cuCtxSynchronize");
  resolve(d.cuGetErrorString, "cuGetErrorString");
  resolve(d.cuModuleLoadDataEx, "cuModuleLoadDataEx");
  resolve(d.cuModuleUnload, "cuModuleUnload");
  resolve(d.cuModuleGetFunction, "cuModuleGetFunction");
  resolve(d.cuLaunchKernel, "cuLaunchKernel");
  resolve(d.cuStreamCreate, "cuStreamCreate");
  resolve(d.cuStreamDestroy, "cuStreamDestroy_v2");
  resolve(d.cuStreamSynchronize, "cuStreamSynchronize");
  resolve(d.cuStreamWaitEvent, "cuStreamWaitEvent");
  resolve(d.cuEventCreate, "cuEventCreate");
  resolve(d.cuEventDestroy, "cuEventDestroy_v2");
  resolve(d.cuEventRecord, "cuEventRecord");
  resolve(d.cuEventSynchronize, "cuEventSynchronize");
  resolve(d.cuMemAlloc, "cuMemAlloc_v2");
  resolve(d.cuMemFree, "cuMemFree_v2");
  resolve(d.cuMemcpyAsync, "cuMemcpyAsync");
  resolve(d.cuMemsetD32Async, "cuMemsetD32Async");
  resolve(d.cuMemsetD16Async, "cuMemsetD16Async");
  if (!missing.empty())
    return std::string("the CUDA driver ") + path + " has no " + missing;
  return "";
}

/// The driver's message for `result`.
std::string describe(CUresult result) {
  const char *text = nullptr;
  if (loaded && entryPoints.cuGetErrorString(result, &text) == 0 && text)
    return text;
  return "CUDA error " + std::to_string(result);
}

} // namespace

/// Device 0, whose primary context the runtime uses.
CUdevice theDevice = 0;

const Driver *hybrid::cuda::driver() {
  static CUcontext context = nullptr;
  static const std::string failure = [] {
    std::string why = load(entryPoints);
    if (!why.empty())
      return why;
    loaded = true;
    CUresult r = entryPoints.cuInit(0);
    if (r == 0)
      r = entryPoints.cuDeviceGet(&theDevice, 0);
    if (r == 0)
      r = entryPoints.cuDevicePrimaryCtxRetain(&context, theDevice);
    if (r != 0)
      return "the CUDA driver has no usable device (" + describe(r) + ")";
    return std::string();
  }();
  if (!failure.empty()) {
    recordError(failure);
    return nullptr;
  }
  // The primary context, current on this thread (each thread that calls
  // into a module sets it; the call is cheap when it already is).
  if (CUresult r = entryPoints.cuCtxSetCurrent(context)) {
    recordError("cannot make the CUDA context current", r);
    return nullptr;
  }
  return &entryPoints;
}

int hybrid::cuda::computeCapability() {
  const Driver *d = driver();
  if (!d)
    return -1;
  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR and _MINOR.
  int major = 0, minor = 0;
  CUresult r = d->cuDeviceGetAttribute(&major, 75, theDevice);
  if (r == 0)
    r = d->cuDeviceGetAttribute(&minor, 76, theDevice);
  if (r) {
    recordError("cannot read the GPU's compute capability", r);
    return -1;
  }
  return 10 * major + minor;
}

void hybrid::cuda::recordError(const std::string &what, CUresult result) {
  std::string message = result ? what + ": " + describe(result) : what;
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    firstError = std::move(message);
}

std::string hybrid::cuda::takeError() {
  std::lock_guard<std::mutex> lock(errorMutex);
  std::string error;
  error.swap(firstError);
  return error;
}
