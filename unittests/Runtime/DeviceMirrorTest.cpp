//===- DeviceMirrorTest.cpp - KV caches stay in device memory -------------===//
//
// A GPU module's in-place arguments (KV caches) are kept in device memory
// between its calls, copied back only when the caller reads them, and the
// device memory a call frees is reused by the next (the pool); a module
// built for both chips loads the PTX the device runs. Run on
// a stand-in for the CUDA driver that keeps "device memory" on the host
// and counts the bytes that cross (HostMemoryDriver.cpp): its kernels do
// not run, so the test writes device memory itself where a kernel would.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Runtime/hybrid_runtime.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Traffic {
  size_t toDevice, toDeviceBytes, toHost, toHostBytes, deviceToDevice,
      launches, allocations, frees, synchronizations;
};

// Sizes the runtime's device pool keeps apart (it rounds up to powers of
// two from 256 bytes).
constexpr size_t kCacheBytes = 4 * 64 * sizeof(float);
constexpr size_t kRowBytes = 64 * sizeof(float);

class DeviceMirror : public ::testing::Test {
protected:
  void SetUp() override {
    setenv("HYBRID_CUDA_DRIVER", HYBRID_HOST_DRIVER, 1);
    hybrid_status s = hybrid_module_load(HYBRID_DEVICE_MIRROR_MODULE, &module);
    ASSERT_EQ(s, nullptr) << hybrid_status_message(s);
    // The same library instance the GPU runtime loaded.
    void *driver = dlopen(HYBRID_HOST_DRIVER, RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(driver, nullptr);
    traffic = reinterpret_cast<Traffic *(*)()>(
        dlsym(driver, "hostDriverTraffic"))();
    allocationOfSize = reinterpret_cast<void *(*)(size_t)>(
        dlsym(driver, "hostDriverAllocationOfSize"));
    int64_t cacheShape[] = {4, 64}, rowShape[] = {1, 64};
    ASSERT_EQ(hybrid_tensor_create(HYBRID_DTYPE_F32, 2, cacheShape, &cache),
              nullptr);
    ASSERT_EQ(hybrid_tensor_create(HYBRID_DTYPE_F32, 2, rowShape, &row),
              nullptr);
    ASSERT_EQ(hybrid_tensor_create(HYBRID_DTYPE_I64, 0, nullptr, &position),
              nullptr);
  }

  void TearDown() override {
    hybrid_tensor_free(cache);
    hybrid_tensor_free(row);
    hybrid_tensor_free(position);
    hybrid_module_free(module);
  }

  /// append(row, cache, pos): the cache updated in place.
  void append(int64_t pos) {
    *static_cast<int64_t *>(hybrid_tensor_data(position)) = pos;
    hybrid_tensor *args[] = {row, cache, position};
    hybrid_tensor *result = nullptr;
    hybrid_status s = hybrid_module_invoke(module, "append", args, 3, &result, 1);
    ASSERT_EQ(s, nullptr) << hybrid_status_message(s);
    hybrid_tensor_free(result);
  }

  /// Writes `value` into the cache's device copy, as a kernel would.
  void writeDeviceCache(float value) {
    auto *device = static_cast<float *>(allocationOfSize(kCacheBytes));
    ASSERT_NE(device, nullptr);
    for (size_t i = 0; i < kCacheBytes / sizeof(float); ++i)
      device[i] = value;
  }

  /// The cache's host bytes, through the API.
  std::vector<float> hostCache() {
    auto *data = static_cast<float *>(hybrid_tensor_data(cache));
    return {data, data + kCacheBytes / sizeof(float)};
  }

  hybrid_module *module = nullptr;
  hybrid_tensor *cache = nullptr, *row = nullptr, *position = nullptr;
  Traffic *traffic = nullptr;
  void *(*allocationOfSize)(size_t) = nullptr;
};

TEST_F(DeviceMirror, ACacheIsCopiedToTheDeviceOnceAndNotBack) {
  Traffic before = *traffic;
  append(0);
  // The row and the cache in, the result out.
  EXPECT_EQ(traffic->toDeviceBytes - before.toDeviceBytes,
            kRowBytes + kCacheBytes);
  EXPECT_EQ(traffic->toHostBytes - before.toHostBytes, kRowBytes);
  before = *traffic;
  append(1);
  append(2);
  // Later calls: only the rows in and the results out.
  EXPECT_EQ(traffic->toDeviceBytes - before.toDeviceBytes, 2 * kRowBytes);
  EXPECT_EQ(traffic->toHostBytes - before.toHostBytes, 2 * kRowBytes);
  EXPECT_GT(traffic->launches, before.launches);
}

TEST_F(DeviceMirror, ReadingTheCacheCopiesItBackAndTheNextCallCopiesItAgain) {
  append(0);
  writeDeviceCache(42.0f);
  Traffic before = *traffic;
  for (float v : hostCache())
    ASSERT_EQ(v, 42.0f);
  EXPECT_EQ(traffic->toHostBytes - before.toHostBytes, kCacheBytes);
  // The caller was handed the bytes and may have written them.
  static_cast<float *>(hybrid_tensor_data(cache))[0] = 7.0f;
  before = *traffic;
  append(1);
  EXPECT_EQ(traffic->toDeviceBytes - before.toDeviceBytes,
            kRowBytes + kCacheBytes);
  EXPECT_EQ(static_cast<float *>(allocationOfSize(kCacheBytes))[0], 7.0f);
}

TEST_F(DeviceMirror, AnotherEntryReadsTheCurrentBytes) {
  append(0);
  writeDeviceCache(42.0f);
  Traffic before = *traffic;
  // `total` reads the cache from the host: it is copied back first.
  hybrid_tensor *args[] = {cache};
  hybrid_tensor *result = nullptr;
  hybrid_status s = hybrid_module_invoke(module, "total", args, 1, &result, 1);
  ASSERT_EQ(s, nullptr) << hybrid_status_message(s);
  hybrid_tensor_free(result);
  EXPECT_EQ(traffic->toHostBytes - before.toHostBytes,
            kCacheBytes /* synced */ + kCacheBytes /* result */);
  before = *traffic;
  for (float v : hostCache())
    ASSERT_EQ(v, 42.0f);
  EXPECT_EQ(traffic->toHostBytes, before.toHostBytes);
}

TEST_F(DeviceMirror, SavingTheCacheWritesTheDeviceBytes) {
  append(0);
  writeDeviceCache(3.5f);
  std::string path = ::testing::TempDir() + "device-mirror-cache.npy";
  ASSERT_EQ(hybrid_tensor_save_npy(cache, path.c_str()), nullptr);
  hybrid_tensor *loaded = nullptr;
  ASSERT_EQ(hybrid_tensor_load_npy(path.c_str(), 0, &loaded), nullptr);
  auto *data = static_cast<float *>(hybrid_tensor_data(loaded));
  for (size_t i = 0; i < kCacheBytes / sizeof(float); ++i)
    ASSERT_EQ(data[i], 3.5f);
  hybrid_tensor_free(loaded);
}

TEST_F(DeviceMirror, FreeingTheModuleLeavesTheCacheCurrent) {
  append(0);
  writeDeviceCache(9.0f);
  hybrid_module_free(module);
  module = nullptr;
  EXPECT_EQ(allocationOfSize(kCacheBytes), nullptr); // released
  for (float v : hostCache())
    ASSERT_EQ(v, 9.0f);
}

TEST_F(DeviceMirror, FreeingTheTensorReleasesItsDeviceCopy) {
  append(0);
  ASSERT_NE(allocationOfSize(kCacheBytes), nullptr);
  hybrid_tensor_free(cache);
  cache = nullptr;
  EXPECT_EQ(allocationOfSize(kCacheBytes), nullptr);
}

TEST_F(DeviceMirror, AWrappedCacheGetsTheDeviceBytesWhenItsTensorIsFreed) {
  // As Python passes a numpy array: wrapped for one call, then freed.
  std::vector<float> memory(kCacheBytes / sizeof(float), 0.0f);
  int64_t shape[] = {4, 64};
  hybrid_tensor_free(cache);
  cache = nullptr;
  ASSERT_EQ(hybrid_tensor_wrap(HYBRID_DTYPE_F32, 2, shape, memory.data(),
                               &cache),
            nullptr);
  append(0);
  writeDeviceCache(5.0f);
  hybrid_tensor_free(cache);
  cache = nullptr;
  for (float v : memory)
    ASSERT_EQ(v, 5.0f);
}

TEST_F(DeviceMirror, DeviceMemoryIsReusedAcrossCalls) {
  append(0);
  Traffic before = *traffic;
  append(1);
  append(2);
  // The second and third calls take every buffer from the pool, and give
  // nothing back to the driver; each call ends with one synchronisation.
  EXPECT_EQ(traffic->allocations, before.allocations);
  EXPECT_EQ(traffic->frees, before.frees);
  EXPECT_EQ(traffic->synchronizations - before.synchronizations, 2u);
}

TEST_F(DeviceMirror, AModuleForBothChipsLoadsTheNewestTheDeviceRuns) {
  void *driver = dlopen(HYBRID_HOST_DRIVER, RTLD_NOW | RTLD_NOLOAD);
  auto setCapability = reinterpret_cast<void (*)(int)>(
      dlsym(driver, "hostDriverSetComputeCapability"));
  auto lastTarget = reinterpret_cast<const char *(*)()>(
      dlsym(driver, "hostDriverLastTarget"));
  struct Case {
    int capability;
    const char *loads; // null: refused
  };
  // Hopper, Ada, Blackwell (sm_90 PTX, JIT-compiled), Turing.
  for (Case c : {Case{90, "sm_90"}, Case{89, "sm_80"}, Case{100, "sm_90"},
                 Case{75, nullptr}}) {
    SCOPED_TRACE(c.capability);
    setCapability(c.capability);
    // A copy of its own, so that its load constructors run again.
    std::string copy = ::testing::TempDir() + "both-chips-" +
                       std::to_string(c.capability) + ".so";
    std::string command =
        std::string("cp ") + HYBRID_BOTH_CHIPS_MODULE + " " + copy;
    ASSERT_EQ(std::system(command.c_str()), 0);
    hybrid_module *both = nullptr;
    hybrid_status s = hybrid_module_load(copy.c_str(), &both);
    if (c.loads) {
      ASSERT_EQ(s, nullptr) << hybrid_status_message(s);
      EXPECT_STREQ(lastTarget(), c.loads);
      hybrid_module_free(both);
    } else {
      ASSERT_NE(s, nullptr);
      EXPECT_NE(std::string(hybrid_status_message(s))
                    .find("the module has PTX for sm_80, sm_90, none of "
                          "which this GPU (sm_75) runs"),
                std::string::npos)
          << hybrid_status_message(s);
      hybrid_status_free(s);
    }
  }
  setCapability(90);
}

} // namespace
