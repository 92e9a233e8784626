//===- CUDADriver.h - The CUDA driver API, loaded at run time -*- C++ -*-===//
//
// The few driver entry points the GPU runtime calls, resolved with dlopen
// from libcuda.so.1 on first use. Nothing links against CUDA: the runtime
// builds, loads and reports a clear error on a machine without a driver or
// a device. Types are the driver's ABI (handles are opaque pointers,
// CUresult an int), declared here so that no CUDA header is needed.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_RUNTIME_CUDA_CUDADRIVER_H
#define HYBRID_LIB_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <string>

namespace hybrid::cuda {

using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUdeviceptr = unsigned long long;

/// The driver's functions (null until loaded).
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t,
                               CUstream);
};

/// The driver with device 0's primary context current on the calling
/// thread, or null after recording why not (no libcuda.so.1, a symbol
/// missing, no device, initialisation failed). Loaded once per process;
/// HYBRID_CUDA_DRIVER names another library file (tests use it to stand
/// for a machine without a driver).
const Driver *driver();

/// The device's compute capability as 10 major + minor (90 for Hopper), or
/// -1 after recording why not.
int computeCapability();

/// Records a failure of the GPU runtime (the first one is kept until
/// taken), with the driver's own message for `result` when there is one.
void recordError(const std::string &what, CUresult result = 0);

/// The recorded failure, cleared; "" when there was none.
std::string takeError();

} // namespace hybrid::cuda

#endif // HYBRID_LIB_RUNTIME_CUDA_CUDADRIVER_H
