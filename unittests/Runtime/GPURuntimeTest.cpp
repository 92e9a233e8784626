//===- GPURuntimeTest.cpp - The GPU runtime without a usable driver -------===//
//
// A GPU module's runtime must not abort where there is no driver, a broken
// one, or no device: every mgpu* call records what went wrong and does
// nothing, and hybrid_cuda_take_error hands the first failure to the thin
// runtime, which turns it into an error status. Each case runs in a child
// process of its own (the driver is loaded once per process), with
// HYBRID_CUDA_DRIVER naming what stands for the machine's libcuda.so.1, so
// that the cases behave the same on a machine with a GPU.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" {
size_t hybrid_cuda_take_error(char *buffer, size_t capacity);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate();
void mgpuStreamSynchronize(void *stream);
void mgpuStreamDestroy(void *stream);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool isHostShared);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
void mgpuMemFree(void *ptr, void *stream);
void *hybrid_cuda_upload(const void *host, size_t bytes);
void hybrid_cuda_release(void *device);
}

namespace {

std::string takeError() {
  char buffer[1024];
  size_t length = hybrid_cuda_take_error(buffer, sizeof(buffer));
  return length ? std::string(buffer) : std::string();
}

/// What a compiled GPU module does on a machine with the given "driver":
/// load its PTX (its constructor), look its kernel up, allocate, copy,
/// launch, synchronise. Prints each failure taken, then exits 0 (it did
/// not crash).
[[noreturn]] void runModuleWith(const char *driverLibrary) {
  setenv("HYBRID_CUDA_DRIVER", driverLibrary, 1);
  char ptx[] = ".version 8.0\n.target sm_80\n.address_size 64\n";
  void *module = mgpuModuleLoadJIT(ptx, 2);
  std::fprintf(stderr, "load: %s|%s\n", module ? "module" : "null",
               takeError().c_str());
  std::fprintf(stderr, "taken twice: '%s'\n", takeError().c_str());
  void *kernel = mgpuModuleGetFunction(module, "add");
  std::fprintf(stderr, "function: %s|%s\n", kernel ? "kernel" : "null",
               takeError().c_str());
  void *stream = mgpuStreamCreate();
  float host[4] = {1, 2, 3, 4};
  void *device = mgpuMemAlloc(sizeof(host), stream, false);
  mgpuMemcpy(device, host, sizeof(host), stream);
  void *params[] = {&device};
  mgpuLaunchKernel(kernel, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr, 1);
  mgpuStreamSynchronize(stream);
  mgpuMemFree(device, stream);
  mgpuStreamDestroy(stream);
  std::fprintf(stderr, "run: %s\n", takeError().c_str());
  void *shared = mgpuMemAlloc(16, nullptr, true);
  std::fprintf(stderr, "shared: %s|%s\n", shared ? "memory" : "null",
               takeError().c_str());
  // A parameter kept in device memory (the thin runtime's upload).
  void *weights = hybrid_cuda_upload(host, sizeof(host));
  std::fprintf(stderr, "upload: %s|%s\n", weights ? "device" : "null",
               takeError().c_str());
  hybrid_cuda_release(weights);
  std::exit(0);
}

TEST(GPURuntime, NoDriverIsAnErrorNotACrash) {
  EXPECT_EXIT(runModuleWith("/nonexistent/libcuda.so.1"),
              ::testing::ExitedWithCode(0),
              "load: null\\|no CUDA driver \\(/nonexistent/libcuda.so.1: "
              "cannot open shared object file[^\n]*\\)\n"
              "taken twice: ''\n"
              "function: null\\|kernel 'add' is in a GPU module that did not "
              "load\n"
              "run: no CUDA driver \\(/nonexistent/libcuda.so.1[^\n]*\n"
              "shared: null\\|host-shared GPU allocations are not supported\n"
              "upload: null\\|no CUDA driver");
}

TEST(GPURuntime, ALibraryThatIsNotTheDriverIsRefusedByName) {
  EXPECT_EXIT(runModuleWith("libm.so.6"), ::testing::ExitedWithCode(0),
              "load: null\\|the CUDA driver libm.so.6 has no cuInit\n");
}

} // namespace
