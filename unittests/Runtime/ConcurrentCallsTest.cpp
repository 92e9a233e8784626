//===- ConcurrentCallsTest.cpp - One module called from many threads ------===//
//
// Built with ThreadSanitizer, together with the runtime's own sources (so
// that its code is instrumented; the compiled module and libomp are not),
// and run on concurrent-calls.mlir compiled at build time:
//   - calls from several threads at once, on one handle and on two handles
//     of the same shared object, give exactly the serial calls' results;
//   - each call gets its own status: calls whose position ids run past the
//     RoPE cache (raised inside the kernel's parallel loop, on the OpenMP
//     workers too) fail with the kernel's message, the valid calls running
//     beside them succeed;
//   - rebinding a parameter while calls run is race-free: each call sees
//     the old or the new weights, never a mixture.
// ThreadSanitizer aborts the test on any data race it sees.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Runtime/Runtime.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

extern "C" const char *__tsan_default_options() {
  return "halt_on_error=1:abort_on_error=1";
}

// libomp is not instrumented: ThreadSanitizer sees its own pthread calls
// (locks it initialises in one thread and takes in another, synchronised
// by its atomics, which TSan cannot see) as races. Outside the project, so
// only what it calls through the interceptors is ignored.
extern "C" const char *__tsan_default_suppressions() {
  return "called_from_lib:libomp.so\n";
}

namespace {

const std::string kModule = HYBRID_CONCURRENT_CALLS_MODULE;
constexpr int kThreads = 4, kCallsPerThread = 40;

hybrid::Tensor f32(std::vector<int64_t> shape, std::mt19937 &rng) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, shape, t).ok());
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < t.numElements(); ++i)
    t.data<float>()[i] = u(rng);
  return t;
}

hybrid::Tensor positions(int64_t tokens, int64_t first) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {1, tokens}, t).ok());
  for (int64_t i = 0; i < tokens; ++i)
    t.data<int64_t>()[i] = first + i;
  return t;
}

bool sameValues(const hybrid::Tensor &a, const hybrid::Tensor &b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), a.numElements() * sizeof(float)) == 0;
}

/// One rotate call's inputs: a valid one (positions inside the cache), or
/// one whose last position is past it.
struct RotateCall {
  std::vector<hybrid::Tensor> args;
  bool valid;
  hybrid::Tensor expected; // the serial result, for a valid call
};

std::vector<RotateCall> rotateCalls(int count) {
  std::mt19937 rng(7);
  hybrid::Tensor cos = f32({64, 4}, rng), sin = f32({64, 4}, rng);
  std::vector<RotateCall> calls;
  for (int i = 0; i < count; ++i) {
    int64_t tokens = 1 + i % 16;
    bool valid = i % 3 != 2;
    int64_t first = valid ? i % (64 - tokens + 1) : 64 - tokens + 1 + i % 5;
    calls.push_back({{f32({1, 4, tokens, 8}, rng), cos, sin,
                      positions(tokens, first)},
                     valid,
                     {}});
  }
  return calls;
}

hybrid::Module load() {
  hybrid::Module m;
  hybrid::Status s = hybrid::Module::load(kModule, m);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(m.setNumThreads(2).ok());
  return m;
}

TEST(ConcurrentCalls, EachCallHasItsOwnResultsAndStatus) {
  // Two handles of one shared object share its globals: a module-wide
  // error code would hand one call's error to another.
  hybrid::Module first = load(), second = load();
  std::vector<RotateCall> calls = rotateCalls(kThreads * kCallsPerThread);
  for (RotateCall &c : calls) {
    std::vector<hybrid::Tensor> out;
    hybrid::Status s = first.invoke("rotate", c.args, out);
    ASSERT_EQ(s.ok(), c.valid) << s.message();
    if (c.valid)
      c.expected = out[0];
  }
  std::atomic<int> wrong{0}, checked{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      hybrid::Module &m = t % 2 ? second : first;
      for (int round = 0; round < 3; ++round)
        for (int i = t; i < int(calls.size()); i += kThreads) {
          const RotateCall &c = calls[(i + round * 7) % calls.size()];
          std::vector<hybrid::Tensor> out;
          hybrid::Status s = m.invoke("rotate", c.args, out);
          bool right =
              c.valid ? s.ok() && sameValues(out[0], c.expected)
                      : !s.ok() && s.message().find("a position id is outside "
                                                    "the cos/sin cache") !=
                                       std::string::npos;
          wrong += !right;
          ++checked;
        }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(checked, 3 * int(calls.size()));
  EXPECT_EQ(wrong, 0) << "calls with another call's result or status";
}

TEST(ConcurrentCalls, RebindingAParameterWhileCallsRun) {
  std::string folder = ::testing::TempDir() + "/hybrid-concurrent-calls";
  std::string mkdir = "mkdir -p " + folder;
  ASSERT_EQ(std::system(mkdir.c_str()), 0);
  std::mt19937 rng(11);
  hybrid::Tensor w = f32({8, 8}, rng), other = f32({8, 8}, rng),
                 x = f32({5, 8}, rng);
  std::ofstream(folder + "/w.bin", std::ios::binary)
      .write(static_cast<const char *>(w.data()), 256);
  hybrid::Module m = load();
  ASSERT_TRUE(m.bindParameters(folder).ok());
  // The results with either weight, serially.
  std::vector<hybrid::Tensor> withW, withOther;
  ASSERT_TRUE(m.invoke("project", {x}, withW).ok());
  ASSERT_TRUE(m.bindParameter("w", other).ok());
  ASSERT_TRUE(m.invoke("project", {x}, withOther).ok());
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads - 1; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        std::vector<hybrid::Tensor> out;
        hybrid::Status s = m.invoke("project", {x}, out);
        wrong += !s.ok() || !(sameValues(out[0], withW[0]) ||
                              sameValues(out[0], withOther[0]));
      }
    });
  std::thread binder([&] {
    for (int i = 0; !done; ++i)
      EXPECT_TRUE(m.bindParameter("w", i % 2 ? w : other).ok());
  });
  for (std::thread &t : callers)
    t.join();
  done = true;
  binder.join();
  EXPECT_EQ(wrong, 0);
}

} // namespace
