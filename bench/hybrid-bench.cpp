//===- hybrid-bench.cpp - Time the compiled kernels on realistic shapes ---===//
//
// Compiles each case with hybrid-cpu-pipeline, generates inputs, runs one
// warm-up and then `--repeat` timed invocations through the runtime, and
// prints one JSON line per case: op, variant, shape, best and median time,
// achieved GFLOP/s, and the work the case skips (attended-key or
// active-expert fraction). A benchmark, not a test: it asserts nothing.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"
#include "hybrid/InitAll.h"
#include "hybrid/Runtime/Runtime.hpp"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace llvm;

/// This tool's options: --help lists them alone (LLVM's own are hidden,
/// and still parse).
static cl::OptionCategory toolOptions("hybrid-bench options");
static cl::opt<unsigned> repeat(cl::cat(toolOptions), "repeat", cl::init(3),
                                cl::desc("Timed invocations per case"));
static cl::list<std::string>
    only(cl::cat(toolOptions), "case", cl::desc("Run only the cases whose name contains this"));
static cl::opt<int> threads(cl::cat(toolOptions), "num-threads", cl::init(0),
                            cl::desc("Threads (0: all cores)"));
static cl::opt<int64_t>
    printDecoder(cl::cat(toolOptions), "print-decoder",
                 cl::desc("Print the compile case's Llama-like decoder of "
                          "this many layers and exit"),
                 cl::init(0));
static cl::opt<int64_t> vectorWidth(cl::cat(toolOptions), "vector-width", cl::init(0),
                                    cl::desc("f32 lanes of the kernels (0: "
                                             "the compiler's choice)"));

namespace {

bool selected(const std::string &name) {
  if (only.empty())
    return true;
  for (const std::string &o : only)
    if (name.find(o) != std::string::npos)
      return true;
  return false;
}

bool compileModule(const std::string &text, hybrid::Module &out) {
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
  if (!module)
    return false;
  SmallString<128> path;
  if (sys::fs::createTemporaryFile("hybrid-bench", "so", path))
    return false;
  mlir::hybrid::CompileOptions options;
  if (vectorWidth > 0)
    options.vectorWidth = vectorWidth;
  bool ok = succeeded(
      mlir::hybrid::compileToSharedObject(*module, path, options));
  ok = ok && hybrid::Module::load(std::string(path), out).ok();
  sys::fs::remove(path);
  if (ok && threads > 0)
    ok = out.setNumThreads(threads).ok();
  return ok;
}

/// An index argument (a rank-0 i64 tensor).
hybrid::Tensor scalarIndex(int64_t value) {
  hybrid::Tensor t;
  hybrid::Tensor::create(HYBRID_DTYPE_I64, {}, t);
  *t.data<int64_t>() = value;
  return t;
}

hybrid::Tensor randomTensor(std::vector<int64_t> shape, std::mt19937 &rng,
                            float scale = 1.0f) {
  hybrid::Tensor t;
  hybrid::Tensor::create(HYBRID_DTYPE_F32, shape, t);
  std::normal_distribution<float> dist(0.0f, scale);
  for (size_t i = 0; i < t.numElements(); ++i)
    t.data<float>()[i] = dist(rng);
  return t;
}

std::string shapeJson(const std::vector<std::pair<std::string, int64_t>> &s) {
  std::string out = "{";
  for (size_t i = 0; i < s.size(); ++i)
    out += (i ? ", \"" : "\"") + s[i].first + "\": " + std::to_string(s[i].second);
  return out + "}";
}

/// Times `entry` and prints the JSON line; returns the best time in ms.
double timeCase(hybrid::Module &m, const std::string &op,
                const std::string &variant, const std::string &shape,
                const std::string &entry,
                const std::vector<hybrid::Tensor> &args, double flops,
                const std::string &extra = "") {
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m.invoke(entry, args, results); // warm-up
  if (!s) {
    errs() << "hybrid-bench: " << op << " " << variant << ": " << s.message()
           << "\n";
    return -1;
  }
  std::vector<double> times;
  for (unsigned r = 0; r < std::max(1u, unsigned(repeat)); ++r) {
    auto start = std::chrono::steady_clock::now();
    m.invoke(entry, args, results);
    auto end = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(times.begin(), times.end());
  double best = times.front(), median = times[times.size() / 2];
  outs() << "{\"op\": \"" << op << "\", \"variant\": \"" << variant
         << "\", \"shape\": " << shape
         << format(", \"best_ms\": %.3f, \"median_ms\": %.3f, \"gflops\": %.2f",
                   best, median, flops / (best * 1e6))
         << extra << "}\n";
  outs().flush();
  return best;
}

std::string t4(int64_t a, int64_t b, const std::string &c, int64_t d) {
  return "tensor<" + std::to_string(a) + "x" + std::to_string(b) + "x" + c +
         "x" + std::to_string(d) + "xf32>";
}

//===----------------------------------------------------------------------===//
// Cases
//===----------------------------------------------------------------------===//

void denseAttentionPrefill() {
  if (!selected("attention_prefill"))
    return;
  int64_t B = 1, Hq = 16, Hkv = 2, S = 4096, D = 128;
  std::string q = t4(B, Hq, "?", D), kv = t4(B, Hkv, "?", D);
  std::mt19937 rng(1);
  std::vector<hybrid::Tensor> args = {randomTensor({B, Hq, S, D}, rng),
                                      randomTensor({B, Hkv, S, D}, rng),
                                      randomTensor({B, Hkv, S, D}, rng)};
  double keys = double(S) * (S + 1) / 2; // causal pairs per head
  for (const char *layout : {"head_major", "group_packed"}) {
    std::string text =
        "func.func @attn(%q: " + q + ", %k: " + kv + ", %v: " + kv + ") -> " +
        q + " {\n  %o = hybrid.attention %q, %k, %v {causal, layout = "
        "#hybrid.gqa_layout<" + layout + ">} : " + q + ", " + kv + ", " + kv +
        "\n  return %o : " + q + "\n}\n";
    hybrid::Module m;
    if (!compileModule(text, m))
      return;
    timeCase(m, "attention_prefill", std::string("dense_causal_") + layout,
             shapeJson({{"B", B}, {"Hq", Hq}, {"Hkv", Hkv}, {"S", S}, {"D", D}}),
             "attn", args, 4.0 * B * Hq * D * keys);
  }
}

/// Dense against block-sparse attention for Sq = 16 rows over Skv keys, and
/// block selection: compressing every key (the op alone) or reading the
/// compressed-key cache a decode step keeps (compress_keys adds the step's
/// windows: timed too).
void sparseVersusDense(int64_t Skv) {
  std::string op = "attention_" + std::to_string(Skv / 1024) + "k";
  if (!selected(op))
    return;
  int64_t B = 1, Hq = 16, Hkv = 2, Sq = 16, D = 128;
  std::string cfg = "#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, "
                    "block_size = 64, topk = 16, init_blocks = 1, window_size = 256, "
                    "dense_len = 8192>";
  std::string q = t4(B, Hq, "?", D), kv = t4(B, Hkv, "?", D),
              idx = "tensor<1x2x?x16xi32>";
  std::string text =
      "func.func @dense(%q: " + q + ", %k: " + kv + ", %v: " + kv + ") -> " + q +
      " {\n  %o = hybrid.attention %q, %k, %v {causal} : " + q + ", " + kv + ", " +
      kv + "\n  return %o : " + q + "\n}\n" +
      "func.func @select(%q: " + q + ", %k: " + kv + ") -> " + idx +
      " {\n  %s = hybrid.block_select %q, %k config(" + cfg + ") : " + q + ", " +
      kv + "\n  return %s : " + idx + "\n}\n" +
      "func.func @sparse(%q: " + q + ", %k: " + kv + ", %v: " + kv + ", %s: " + idx +
      ") -> " + q + " {\n  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : " +
      idx + ") config(" + cfg + ") : " + q + ", " + kv + ", " + kv +
      "\n  return %o : " + q + "\n}\n" +
      "func.func @compress(%k1: " + kv + ", %k: " + kv + ", %since: index) -> " +
      kv + " {\n  %c = hybrid.compress_keys %k1, %k since(%since) config(" +
      cfg + ") : " + kv + ", " + kv + "\n  return %c : " + kv + "\n}\n" +
      "func.func @select_cached(%q: " + q + ", %k: " + kv + ", %k1: " + kv +
      ") -> " + idx + " {\n  %s = hybrid.block_select %q, %k compressed(%k1 : " +
      kv + ") config(" + cfg + ") : " + q + ", " + kv + "\n  return %s : " +
      idx + "\n}\n";
  hybrid::Module m;
  if (!compileModule(text, m))
    return;
  std::mt19937 rng(2);
  hybrid::Tensor tq = randomTensor({B, Hq, Sq, D}, rng),
                 tk = randomTensor({B, Hkv, Skv, D}, rng),
                 tv = randomTensor({B, Hkv, Skv, D}, rng);
  std::string shape = shapeJson({{"B", B}, {"Hq", Hq}, {"Hkv", Hkv}, {"Sq", Sq},
                                 {"Skv", Skv}, {"D", D}, {"block", 64},
                                 {"topk", 16}, {"window_blocks", 4}});
  double denseKeys = 0;
  for (int64_t i = 0; i < Sq; ++i)
    denseKeys += Skv - Sq + i + 1;
  double dense = timeCase(m, op, "dense", shape, "dense",
                          {tq, tk, tv}, 4.0 * B * Hq * D * denseKeys);
  std::vector<hybrid::Tensor> sel;
  m.invoke("select", {tq, tk}, sel);
  timeCase(m, op, "block_select", shape, "select", {tq, tk},
           2.0 * B * Hq * D * Sq * (Skv / 16.0));
  int64_t kernels = (Skv - 32) / 16 + 1;
  hybrid::Tensor k1 = randomTensor({B, Hkv, kernels, D}, rng);
  std::vector<hybrid::Tensor> compressed;
  m.invoke("compress", {k1, tk, scalarIndex(0)}, compressed);
  timeCase(m, op, "compress_keys_step", shape, "compress",
           {compressed[0], tk, scalarIndex(Skv - Sq)}, 0.0);
  std::vector<hybrid::Tensor> cachedSel;
  m.invoke("select_cached", {tq, tk, compressed[0]}, cachedSel);
  if (cachedSel.empty() || std::memcmp(cachedSel[0].data(), sel[0].data(),
                                       sel[0].numElements() * 4) != 0)
    errs() << op << ": the cached selection differs from the op's own\n";
  timeCase(m, op, "block_select_cached", shape, "select_cached",
           {tq, tk, compressed[0]}, 2.0 * B * Hq * D * Sq * (Skv / 16.0));
  // Keys each row attends: selected blocks (not in the window) + window.
  double attended = 0;
  const int32_t *ids = sel[0].data<int32_t>();
  for (int64_t h = 0; h < Hkv; ++h)
    for (int64_t i = 0; i < Sq; ++i) {
      int64_t pos = Skv - Sq + i, qb = pos / 64;
      double keys = pos + 1 - std::max<int64_t>(0, qb - 3) * 64;
      for (int s = 0; s < 16; ++s) {
        int32_t b = ids[(h * Sq + i) * 16 + s];
        if (b >= 0 && b < qb - 3)
          keys += 64;
      }
      attended += keys * (Hq / Hkv);
    }
  double fraction = attended / (denseKeys * Hq);
  double sparse = timeCase(
      m, op, "block_sparse", shape, "sparse",
      {tq, tk, tv, sel[0]}, 4.0 * B * D * attended,
      formatv("{0}", format(", \"attended_key_fraction\": %.4f, \"ideal_speedup\": %.1f",
             fraction, 1.0 / fraction))
          .str());
  if (dense > 0 && sparse > 0)
    outs() << format("{\"op\": \"%s\", \"variant\": \"summary\", "
                     "\"speedup\": %.2f, \"ideal_speedup\": %.2f, "
                     "\"fraction_of_ideal\": %.2f}\n",
                     op.c_str(), dense / sparse, 1.0 / fraction,
                     dense / sparse * fraction);
}

void recurrenceChunkedVersusStep() {
  if (!selected("linear_recurrence"))
    return;
  int64_t B = 1, H = 16, T = 8192, D = 128;
  std::string t = t4(B, H, "?", D);
  for (const char *rule : {"gated", "gated_delta"}) {
    bool delta = std::strcmp(rule, "gated_delta") == 0;
    std::string gt = "tensor<1x16x?xf32>";
    auto module = [&](int64_t chunk) {
      return "func.func @rec(%q: " + t + ", %k: " + t + ", %v: " + t + ", %g: " +
             gt + (delta ? ", %b: " + gt : "") + ") -> " + t +
             " {\n  %o, %s = hybrid.linear_recurrence " + rule +
             " %q, %k, %v decay(%g : " + gt + ")" +
             (delta ? " beta(%b : " + gt + ")" : "") + " {chunk_size = " +
             std::to_string(chunk) + "} : " + t + ", " + t + ", " + t +
             "\n  return %o : " + t + "\n}\n";
    };
    std::mt19937 rng(3);
    std::vector<hybrid::Tensor> args = {
        randomTensor({B, H, T, D}, rng, 0.1f), randomTensor({B, H, T, D}, rng, 0.09f),
        randomTensor({B, H, T, D}, rng)};
    hybrid::Tensor g, beta;
    hybrid::Tensor::create(HYBRID_DTYPE_F32, {B, H, T}, g);
    hybrid::Tensor::create(HYBRID_DTYPE_F32, {B, H, T}, beta);
    for (size_t i = 0; i < g.numElements(); ++i) {
      g.data<float>()[i] = -0.01f;
      beta.data<float>()[i] = 0.5f;
    }
    args.push_back(g);
    if (delta)
      args.push_back(beta);
    std::string shape = shapeJson({{"B", B}, {"H", H}, {"T", T}, {"D", D}});
    // Recurrent FLOPs per token and head: update, output (and delta read).
    double flops = double(B) * H * T * D * D * (delta ? 6.0 : 4.0);
    double times[2] = {0, 0};
    int64_t chunks[2] = {1, 64};
    for (int c = 0; c < 2; ++c) {
      hybrid::Module m;
      if (!compileModule(module(chunks[c]), m))
        return;
      times[c] = timeCase(m, std::string("linear_recurrence_") + rule,
                          chunks[c] == 1 ? "step" : "chunked_64", shape, "rec",
                          args, flops);
    }
    if (times[0] > 0 && times[1] > 0)
      outs() << format("{\"op\": \"linear_recurrence_%s\", \"variant\": "
                       "\"summary\", \"chunked_speedup_over_step\": %.2f}\n",
                       rule, times[0] / times[1]);
  }
}

void chunkMoEVersusDense() {
  if (!selected("chunk_moe"))
    return;
  int64_t T = 256, Dm = 1024, E = 64, Be = 128, chunk = 8, groups = 8;
  std::string x = "tensor<?x1024xf32>";
  std::string text =
      "func.func @moe(%x: " + x + ", %wr: tensor<64x1024xf32>, %g: tensor<64xf32>, "
      "%up: tensor<64x128x1024xf32>, %down: tensor<64x1024x128xf32>) -> " + x +
      " {\n  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<64xf32>) "
      "experts(%up, %down : tensor<64x128x1024xf32>, tensor<64x1024x128xf32>) "
      "{chunk = 8} : " + x + ", tensor<64x1024xf32>\n  return %y : " + x + "\n}\n";
  hybrid::Module m;
  if (!compileModule(text, m))
    return;
  std::mt19937 rng(4);
  // Chunk c's tokens carry a one-hot feature of group c % 8; the router
  // sends group g to its own 30% of the experts (BlockFFN's ~70% chunk
  // sparsity), the other features add noise too small to flip a ReLU.
  hybrid::Tensor xt = randomTensor({T, Dm}, rng, 0.01f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t f = 0; f < groups; ++f)
      xt.data<float>()[t * Dm + f] = f == (t / chunk) % groups ? 1.0f : 0.0f;
  auto router = [&](double activeShare) {
    hybrid::Tensor wr = randomTensor({E, Dm}, rng, 0.01f);
    std::vector<int64_t> order(E);
    for (int64_t f = 0; f < groups; ++f) {
      for (int64_t e = 0; e < E; ++e)
        order[e] = e;
      std::shuffle(order.begin(), order.end(), rng);
      for (int64_t i = 0; i < E; ++i)
        wr.data<float>()[order[i] * Dm + f] =
            i < int64_t(activeShare * E + 0.5) ? 1.0f : -1.0f;
    }
    return wr;
  };
  hybrid::Tensor gamma = randomTensor({E}, rng);
  for (size_t i = 0; i < gamma.numElements(); ++i)
    gamma.data<float>()[i] = 1.0f;
  hybrid::Tensor up = randomTensor({E, Be, Dm}, rng, 0.03f),
                 down = randomTensor({E, Dm, Be}, rng, 0.03f);
  std::string shape = shapeJson({{"T", T}, {"Dm", Dm}, {"E", E}, {"expert_width", Be},
                                 {"chunk", chunk}});
  double perExpertToken = 4.0 * Dm * Be;
  double dense = timeCase(m, "chunk_moe", "dense_all_experts", shape, "moe",
                          {xt, router(1.0), gamma, up, down},
                          perExpertToken * T * E,
                          ", \"active_expert_fraction\": 1.0");
  double active = int64_t(0.3 * E + 0.5) / double(E);
  double sparse = timeCase(
      m, "chunk_moe", "chunk_sparse", shape, "moe",
      {xt, router(0.3), gamma, up, down}, perExpertToken * T * E * active,
      formatv("{0}", format(", \"active_expert_fraction\": %.3f, \"chunk_sparsity\": %.3f",
             active, 1 - active))
          .str());
  if (dense > 0 && sparse > 0)
    outs() << format("{\"op\": \"chunk_moe\", \"variant\": \"summary\", "
                     "\"speedup_over_dense\": %.2f, \"ideal_speedup\": %.2f}\n",
                     dense / sparse, 1.0 / active);
}

/// Verification of a 64-node draft tree against one decode step at the
/// same context (8K keys, Hq 16, Hkv 2, D 128), in the layout the pass picks.
void treeVerifyVersusDecode() {
  if (!selected("tree_verify"))
    return;
  int64_t Hq = 16, Hkv = 2, prefix = 8192, nodes = 64, D = 128;
  std::string q = t4(1, Hq, "?", D), kv = t4(1, Hkv, "?", D);
  std::string head = "func.func @attn(%q: " + q + ", %k: " + kv + ", %v: " + kv;
  std::string tail = " : " + q + ", " + kv + ", " + kv + "\n  return %o : " + q + "\n}\n";
  std::string decodeText = head + ") -> " + q +
                           " {\n  %o = hybrid.attention %q, %k, %v {causal, layout = "
                           "#hybrid.gqa_layout<group_packed>}" + tail;
  std::string treeText = head + ", %p: tensor<?xi32>) -> " + q +
                         " {\n  %o = hybrid.attention %q, %k, %v tree(%p : tensor<?xi32>) "
                         "{causal, layout = #hybrid.gqa_layout<group_packed>}" + tail;
  std::mt19937 rng(9);
  hybrid::Tensor parents;
  hybrid::Tensor::create(HYBRID_DTYPE_I32, {nodes}, parents);
  parents.data<int32_t>()[0] = -1;
  for (int64_t i = 1; i < nodes; ++i) // a bushy tree: parents among the last 4
    parents.data<int32_t>()[i] = int32_t(i - 1 - int64_t(rng() % std::min<int64_t>(i, 4)));
  hybrid::Module decode, verify;
  if (!compileModule(decodeText, decode) || !compileModule(treeText, verify))
    return;
  std::string shape = shapeJson({{"Hq", Hq}, {"Hkv", Hkv}, {"prefix", prefix},
                                 {"nodes", nodes}, {"D", D}});
  double step = timeCase(
      decode, "tree_verify", "decode_step", shape, "attn",
      {randomTensor({1, Hq, 1, D}, rng), randomTensor({1, Hkv, prefix + 1, D}, rng),
       randomTensor({1, Hkv, prefix + 1, D}, rng)},
      4.0 * Hq * D * (prefix + 1));
  double tree = timeCase(
      verify, "tree_verify", "tree_64", shape, "attn",
      {randomTensor({1, Hq, nodes, D}, rng), randomTensor({1, Hkv, prefix + nodes, D}, rng),
       randomTensor({1, Hkv, prefix + nodes, D}, rng), parents},
      4.0 * Hq * D * nodes * prefix);
  if (step > 0 && tree > 0)
    outs() << format("{\"op\": \"tree_verify\", \"variant\": \"summary\", "
                     "\"verify_over_decode_step\": %.2f}\n", tree / step);
}

/// Decode (1 query row) and verification (tree-size rows) with G = 8 and
/// 16: both layouts timed, and the layout hybrid-select-gqa-layout picks.
void gqaLayoutChoice() {
  if (!selected("gqa_layout"))
    return;
  int64_t Hkv = 2, Skv = 8192, D = 128;
  for (int64_t G : {8, 16})
    for (int64_t rows : {1, 8, 64}) {
      int64_t Hq = G * Hkv;
      std::string q = t4(1, Hq, "?", D), kv = t4(1, Hkv, "?", D);
      auto text = [&](const std::string &layout) {
        std::string attrs = layout.empty()
                                ? "{causal}"
                                : "{causal, layout = #hybrid.gqa_layout<" +
                                      layout + ">}";
        return "func.func @attn(%q: " + q + ", %k: " + kv + ", %v: " + kv +
               ") -> " + q + " {\n  %o = hybrid.attention %q, %k, %v " + attrs +
               " : " + q + ", " + kv + ", " + kv + "\n  return %o : " + q +
               "\n}\n";
      };
      // What the pass chooses for this step.
      std::string choice;
      {
        mlir::DialectRegistry registry;
        mlir::hybrid::registerAllDialects(registry);
        mlir::MLIRContext context(registry);
        auto module = mlir::parseSourceString<mlir::ModuleOp>(text(""), &context);
        mlir::PassManager pm(&context);
        mlir::hybrid::HybridSelectGQALayoutOptions options;
        options.contextLength = Skv;
        options.treeSize = rows > 1 ? rows : 0;
        pm.addPass(mlir::hybrid::createHybridSelectGQALayout(options));
        if (!module || failed(pm.run(*module)))
          return;
        module->walk([&](mlir::hybrid::AttentionOp op) {
          choice = mlir::hybrid::stringifyGQALayout(*op.getLayout()).str();
        });
      }
      std::mt19937 rng(5);
      std::vector<hybrid::Tensor> args = {randomTensor({1, Hq, rows, D}, rng),
                                          randomTensor({1, Hkv, Skv, D}, rng),
                                          randomTensor({1, Hkv, Skv, D}, rng)};
      std::string shape = shapeJson({{"Hq", Hq}, {"Hkv", Hkv}, {"G", G},
                                     {"Sq", rows}, {"Skv", Skv}, {"D", D}});
      double flops = 4.0 * Hq * D * rows * Skv;
      double times[2];
      const char *layouts[2] = {"head_major", "group_packed"};
      for (int i = 0; i < 2; ++i) {
        hybrid::Module m;
        if (!compileModule(text(layouts[i]), m))
          return;
        times[i] = timeCase(m, "gqa_layout", layouts[i], shape, "attn", args, flops);
      }
      const char *faster = times[1] < times[0] ? "group_packed" : "head_major";
      double gap = std::max(times[0], times[1]) / std::min(times[0], times[1]);
      outs() << "{\"op\": \"gqa_layout\", \"variant\": \"summary\", \"shape\": "
             << shape << ", \"pass_choice\": \"" << choice
             << "\", \"faster\": \"" << faster << "\""
             << format(", \"speedup_of_faster\": %.2f", gap)
             << ", \"choice_is_faster_or_within_5pct\": "
             << ((choice == faster || gap < 1.05) ? "true" : "false") << "}\n";
    }
}

/// A Llama-like decoder of `layers` layers (hidden 1024, 16 query and 4 KV
/// heads of 64, MLP 2816): RMSNorm, projections, RoPE, causal GQA, SiLU MLP,
/// residuals; each layer's weights are arguments of their own, as an
/// importer binds them.
std::string llamaModule(int64_t layers) {
  const int64_t H = 1024, F = 2816, KV = 256;
  auto mat = [](int64_t rows, int64_t cols) {
    return "tensor<" + std::to_string(rows) + "x" + std::to_string(cols) + "xf32>";
  };
  auto act = [](int64_t cols) { return "tensor<?x" + std::to_string(cols) + "xf32>"; };
  std::string out;
  raw_string_ostream os(out);
  os << "func.func @decoder(%x0: " << act(H)
     << ", %cos: tensor<32768x32xf32>, %sin: tensor<32768x32xf32>, %pos: tensor<1x?xi64>";
  for (int64_t l = 0; l < layers; ++l) {
    std::string p = ", %l" + std::to_string(l) + "_";
    os << p << "n1: tensor<1024xf32>" << p << "wq: " << mat(H, H) << p << "wk: " << mat(H, KV)
       << p << "wv: " << mat(H, KV) << p << "wo: " << mat(H, H) << p
       << "n2: tensor<1024xf32>" << p << "wg: " << mat(H, F) << p << "wu: " << mat(H, F) << p
       << "wd: " << mat(F, H);
  }
  os << ") -> " << act(H) << " {\n"
     << "  %c0 = arith.constant 0 : index\n  %t = tensor.dim %x0, %c0 : " << act(H)
     << "\n  %zero = arith.constant 0.0 : f32\n  %one = arith.constant 1.0 : f32\n";
  auto matmul = [&](const std::string &name, const std::string &a, const std::string &b,
                    int64_t k, int64_t n) {
    os << "  %" << name << "_e = tensor.empty(%t) : " << act(n) << "\n  %" << name
       << "_f = linalg.fill ins(%zero : f32) outs(%" << name << "_e : " << act(n) << ") -> "
       << act(n) << "\n  %" << name << " = linalg.matmul ins(%" << a << ", %" << b << " : "
       << act(k) << ", " << mat(k, n) << ") outs(%" << name << "_f : " << act(n) << ") -> "
       << act(n) << "\n";
  };
  auto heads = [&](const std::string &name, const std::string &src, int64_t n) {
    std::string split = "tensor<1x?x" + std::to_string(n) + "x64xf32>";
    std::string hd = "tensor<1x" + std::to_string(n) + "x?x64xf32>";
    os << "  %" << name << "_s = tensor.expand_shape %" << src
       << " [[0, 1], [2, 3]] output_shape [1, %t, " << n << ", 64] : " << act(n * 64)
       << " into " << split << "\n  %" << name << "_e = tensor.empty(%t) : " << hd
       << "\n  %" << name << " = linalg.transpose ins(%" << name << "_s : " << split
       << ") outs(%" << name << "_e : " << hd << ") permutation = [0, 2, 1, 3]\n";
    return hd;
  };
  for (int64_t l = 0; l < layers; ++l) {
    std::string L = std::to_string(l), x = "x" + L, p = "l" + L + "_";
    os << "  %" << p << "h = hybrid.rms_norm %" << x << ", %" << p << "n1 : " << act(H)
       << ", tensor<1024xf32>\n";
    matmul(p + "q", p + "h", p + "wq", H, H);
    matmul(p + "k", p + "h", p + "wk", H, KV);
    matmul(p + "v", p + "h", p + "wv", H, KV);
    std::string qt = heads(p + "qh", p + "q", 16), kt = heads(p + "kh", p + "k", 4);
    heads(p + "vh", p + "v", 4);
    os << "  %" << p << "qr = hybrid.rotary_embedding %" << p << "qh, %cos, %sin positions(%pos : "
       << "tensor<1x?xi64>) : " << qt << ", tensor<32768x32xf32>, tensor<32768x32xf32>\n";
    os << "  %" << p << "kr = hybrid.rotary_embedding %" << p << "kh, %cos, %sin positions(%pos : "
       << "tensor<1x?xi64>) : " << kt << ", tensor<32768x32xf32>, tensor<32768x32xf32>\n";
    os << "  %" << p << "a = hybrid.attention %" << p << "qr, %" << p << "kr, %" << p
       << "vh {causal} : " << qt << ", " << kt << ", " << kt << "\n";
    os << "  %" << p << "at_e = tensor.empty(%t) : tensor<1x?x16x64xf32>\n  %" << p
       << "at = linalg.transpose ins(%" << p << "a : " << qt << ") outs(%" << p
       << "at_e : tensor<1x?x16x64xf32>) permutation = [0, 2, 1, 3]\n  %" << p
       << "af = tensor.collapse_shape %" << p << "at [[0, 1], [2, 3]] : "
       << "tensor<1x?x16x64xf32> into " << act(H) << "\n";
    matmul(p + "o", p + "af", p + "wo", H, H);
    os << "  %" << p << "r = arith.addf %" << x << ", %" << p << "o : " << act(H) << "\n";
    os << "  %" << p << "h2 = hybrid.rms_norm %" << p << "r, %" << p << "n2 : " << act(H)
       << ", tensor<1024xf32>\n";
    matmul(p + "g", p + "h2", p + "wg", H, F);
    matmul(p + "u", p + "h2", p + "wu", H, F);
    // SiLU(g) * u, elementwise on tensors.
    os << "  %" << p << "ng = arith.negf %" << p << "g : " << act(F) << "\n  %" << p
       << "eg = math.exp %" << p << "ng : " << act(F) << "\n  %" << p << "ones_e = "
       << "tensor.empty(%t) : " << act(F) << "\n  %" << p << "ones = linalg.fill ins(%one : "
       << "f32) outs(%" << p << "ones_e : " << act(F) << ") -> " << act(F) << "\n  %" << p
       << "den = arith.addf %" << p << "eg, %" << p << "ones : " << act(F) << "\n  %" << p
       << "sg = arith.divf %" << p << "g, %" << p << "den : " << act(F) << "\n  %" << p
       << "m = arith.mulf %" << p << "sg, %" << p << "u : " << act(F) << "\n";
    matmul(p + "d", p + "m", p + "wd", F, H);
    os << "  %x" << (l + 1) << " = arith.addf %" << p << "r, %" << p << "d : " << act(H) << "\n";
  }
  os << "  return %x" << layers << " : " << act(H) << "\n}\n";
  return out;
}

/// Peak resident memory since the last reset, in MB (Linux: VmHWM, reset
/// by writing 5 to clear_refs).
double peakRSSMegabytes(bool reset) {
  if (reset) {
    if (FILE *f = fopen("/proc/self/clear_refs", "w")) {
      fputs("5", f);
      fclose(f);
    }
    return 0;
  }
  double mb = -1;
  if (FILE *f = fopen("/proc/self/status", "r")) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "VmHWM:", 6))
        mb = atof(line + 6) / 1024.0;
    fclose(f);
  }
  return mb;
}

/// Compile time and peak memory of the Llama-like decoder at 1, 6 and 24
/// layers: the whole path to a shared object (hybrid pipeline, LLVM
/// optimisation and code generation, link).
void compileTime() {
  if (!selected("compile"))
    return;
  double perLayer1 = 0;
  for (int64_t layers : {1, 6, 24}) {
    mlir::DialectRegistry registry;
    mlir::hybrid::registerAllDialects(registry);
    mlir::MLIRContext context(registry);
    peakRSSMegabytes(/*reset=*/true);
    double before = peakRSSMegabytes(false);
    auto start = std::chrono::steady_clock::now();
    auto module = mlir::parseSourceString<mlir::ModuleOp>(llamaModule(layers), &context);
    SmallString<128> path;
    if (!module || sys::fs::createTemporaryFile("hybrid-bench", "so", path))
      return;
    mlir::hybrid::CompileOptions options;
    bool ok = succeeded(mlir::hybrid::compileToSharedObject(*module, path, options));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sys::fs::remove(path);
    if (!ok) {
      errs() << "hybrid-bench: compile: " << layers << " layers failed\n";
      return;
    }
    if (layers == 1)
      perLayer1 = seconds;
    outs() << format("{\"op\": \"compile\", \"variant\": \"llama_like\", \"shape\": "
                     "{\"layers\": %lld, \"hidden\": 1024}, \"seconds\": %.2f, "
                     "\"peak_rss_mb\": %.0f, \"process_rss_before_mb\": %.0f, "
                     "\"over_one_layer\": %.1f}\n",
                     (long long)layers, seconds, peakRSSMegabytes(false), before,
                     perLayer1 > 0 ? seconds / perLayer1 : 0.0);
    outs().flush();
  }
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv, "Hybrid kernel benchmarks\n");
  if (printDecoder > 0) {
    outs() << llamaModule(printDecoder);
    return 0;
  }
  denseAttentionPrefill();
  sparseVersusDense(32768);
  sparseVersusDense(65536);
  recurrenceChunkedVersusStep();
  chunkMoEVersusDense();
  gqaLayoutChoice();
  treeVerifyVersusDecode();
  compileTime();
  return 0;
}
