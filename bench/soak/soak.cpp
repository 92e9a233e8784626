//===- soak.cpp - A serving process's long run, for leaks and growth ------===//
//
// hybrid-soak MODULE.so MODEL_DIR [--calls N] [--steps N] [--draft DIR]
//             [--no-growth-check]
//
// What a process serving for weeks does, compressed (issue 13's soak):
//   1. N runtime invocations (10,000) of MODULE.so's `rotate` entry
//      (unittests/Runtime/concurrent-calls.mlir): every third call fails
//      its run-time check, the others succeed; results are freed;
//   2. N generation steps (1,000) on MODEL_DIR: greedy generation of 125
//      tokens per prompt, with speculative decoding when --draft is given
//      (verify, commit, the draft's own engine), prompts over and over,
//      one Session for the whole run.
// The resident set is sampled through each phase; it must stay flat past
// the warm-up (the first tenth): the growth from there to the end is
// printed, and more than 1 MB of it fails the run (--no-growth-check only
// prints it: under ASan, its quarantine of freed memory grows the resident
// set by design). Run under LSan (the sanitized build, scripts/soak.sh) any
// leak fails the run at exit.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Generator.h"
#include "hybrid/Generate/Session.h"
#include "hybrid/Runtime/Runtime.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace hybrid;
using namespace hybrid::generate;

namespace {

/// The process's resident set, in KB (/proc/self/statm).
long residentKB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "hybrid-soak: error: %s\n", message.c_str());
  std::exit(1);
}

/// Samples the resident set over a phase of `total` units and judges its
/// growth past the warm-up.
struct Growth {
  const char *phase;
  long total, warm = -1, last = 0;
  void sample(long done) {
    if (done == total / 10)
      warm = residentKB();
    if (done % (total / 10 > 0 ? total / 10 : 1) == 0 || done == total) {
      last = residentKB();
      std::printf("%s: %ld of %ld, resident %ld KB\n", phase, done, total,
                  last);
      std::fflush(stdout);
    }
  }
  bool flat() const {
    long growth = last - warm;
    std::printf("%s: resident growth after the warm-up: %ld KB\n", phase,
                growth);
    return growth <= 1024;
  }
};

Tensor f32(std::vector<int64_t> shape, std::mt19937 &rng) {
  Tensor t;
  if (Status s = Tensor::create(HYBRID_DTYPE_F32, shape, t); !s)
    fail(s.message());
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < t.numElements(); ++i)
    t.data<float>()[i] = u(rng);
  return t;
}

bool soakCalls(const std::string &path, long calls) {
  Module m;
  if (Status s = Module::load(path, m); !s)
    fail(s.message());
  std::mt19937 rng(3);
  Tensor cos = f32({64, 4}, rng), sin = f32({64, 4}, rng);
  Growth g{"runtime calls", calls};
  long failed = 0;
  for (long i = 1; i <= calls; ++i) {
    int64_t tokens = 1 + i % 16;
    bool valid = i % 3 != 0;
    Tensor positions;
    if (Status s = Tensor::create(HYBRID_DTYPE_I64, {1, tokens}, positions); !s)
      fail(s.message());
    for (int64_t t = 0; t < tokens; ++t)
      positions.data<int64_t>()[t] = (valid ? 0 : 64) + t;
    std::vector<Tensor> out;
    Status s = m.invoke("rotate", {f32({1, 4, tokens, 8}, rng), cos, sin,
                                   positions},
                        out);
    if (s.ok() != valid)
      fail("call " + std::to_string(i) + ": " +
           (valid ? s.message() : "an invalid call succeeded"));
    failed += !valid;
    g.sample(i);
  }
  std::printf("runtime calls: %ld, %ld refused as expected\n", calls, failed);
  return g.flat();
}

bool soakGeneration(const std::string &folder, const std::string &draft,
                    long steps) {
  SessionOptions options;
  options.engine.contextLimit = 1024;
  options.draft = draft;
  options.treeSize = 4;
  Session session;
  if (Status s = Session::open(folder, options, session); !s)
    fail(s.message());
  const char *prompts[] = {"And God said", "In the beginning",
                           "The LORD is my shepherd", "Blessed are"};
  Growth g{"generation steps", steps};
  long done = 0;
  for (int p = 0; done < steps; ++p) {
    std::vector<int64_t> ids;
    if (Status s = session.encodePrompt(prompts[p % 4], true, ids); !s)
      fail(s.message());
    GenerateOptions o;
    o.maxNewTokens = 125;
    o.tree.size = 4;
    o.tree.depth = 3;
    std::vector<int64_t> tokens;
    GenerateStats stats;
    if (Status s = generateTokens(session.engine(), session.drafter(), ids, o,
                                  {}, tokens, stats);
        !s)
      fail(s.message());
    // A step is a decode or a verification: what the target runs.
    for (long k = 0; k < stats.steps && done < steps; ++k)
      g.sample(++done);
  }
  return g.flat();
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> positional;
  long calls = 10000, steps = 1000;
  std::string draft;
  bool checkGrowth = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-growth-check") {
      checkGrowth = false;
    } else if ((a == "--calls" || a == "--steps" || a == "--draft") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--draft")
        draft = v;
      else
        (a == "--calls" ? calls : steps) = std::atol(v.c_str());
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2 || calls < 10 || steps < 10)
    fail("usage: hybrid-soak MODULE.so MODEL_DIR [--calls N>=10] "
         "[--steps N>=10] [--draft DIR] [--no-growth-check]");
  bool flat = soakCalls(positional[0], calls);
  flat &= soakGeneration(positional[1], draft, steps);
  if (checkGrowth && !flat)
    fail("the resident set grew by more than 1 MB after the warm-up");
  std::printf(checkGrowth ? "soak: done, memory flat\n" : "soak: done\n");
  return 0;
}
