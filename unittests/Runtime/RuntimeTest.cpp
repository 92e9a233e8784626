//===- RuntimeTest.cpp - Bad calls become error statuses ------------------===//
//
// Every misuse of the C API returns a status whose message names the
// argument or the problem; nothing aborts the process.
//
//===----------------------------------------------------------------------===//

#include "../Numerics/Harness.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

using namespace hybrid;
using namespace hybrid::test;

namespace {

const char *kModule = R"mlir(
func.func @attn(%q: tensor<1x2x?x8xf32>, %k: tensor<1x1x?x8xf32>, %v: tensor<1x1x?x8xf32>)
    -> tensor<1x2x?x8xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}
)mlir";

// A simpler second entry: returns its input (the result must still be a
// fresh buffer the runtime owns).
const char *kIdentity = R"mlir(
func.func @identity(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  return %x : tensor<?x3xf32>
}
func.func @constant() -> tensor<2xf32> {
  %c = arith.constant dense<[1.5, 2.5]> : tensor<2xf32>
  return %c : tensor<2xf32>
}
)mlir";

hybrid::Module *attentionModule() {
  return compile(kModule);
}

std::string invokeError(hybrid::Module &m, const std::string &entry,
                        const std::vector<hybrid::Tensor> &args) {
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = m.invoke(entry, args, results);
  return s.ok() ? "" : s.message();
}

TEST(Runtime, ListsEntryPointsAndSignatures) {
  hybrid::Module *m = attentionModule();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->entryPoints(), std::vector<std::string>{"attn"});
  hybrid_value_info info;
  ASSERT_EQ(hybrid_module_entry_arg(m->get(), "attn", 1, &info), nullptr);
  EXPECT_EQ(info.kind, HYBRID_VALUE_TENSOR);
  EXPECT_EQ(info.dtype, HYBRID_DTYPE_F32);
  ASSERT_EQ(info.rank, 4u);
  EXPECT_EQ(info.shape[2], -1); // dynamic sequence length
  EXPECT_EQ(info.shape[3], 8);
}

TEST(Runtime, BadCallsNameTheArgument) {
  hybrid::Module *m = attentionModule();
  ASSERT_TRUE(m);
  std::mt19937 rng(60);
  ref::Array q = randomArray({1, 2, 3, 8}, rng), k = randomArray({1, 1, 5, 8}, rng),
             v = randomArray({1, 1, 5, 8}, rng), v6 = randomArray({1, 1, 6, 8}, rng),
             q16 = randomArray({1, 2, 3, 16}, rng), q3 = randomArray({2, 3, 8}, rng);
  auto Q = toTensor(q, HYBRID_DTYPE_F32), K = toTensor(k, HYBRID_DTYPE_F32),
       V = toTensor(v, HYBRID_DTYPE_F32);
  EXPECT_EQ(invokeError(*m, "attn", {Q, K}), "'attn' takes 3 arguments, got 2");
  EXPECT_EQ(invokeError(*m, "attn", {toTensor(q, HYBRID_DTYPE_F16), K, V}),
            "'attn' argument #0: expected dtype f32, got f16");
  EXPECT_EQ(invokeError(*m, "attn", {toTensor(q3, HYBRID_DTYPE_F32), K, V}),
            "'attn' argument #0: expected rank 4, got rank 3");
  EXPECT_EQ(invokeError(*m, "attn", {toTensor(q16, HYBRID_DTYPE_F32), K, V}),
            "'attn' argument #0: expected shape [1, 2, ?, 8], got [1, 2, 3, 16] "
            "(dimension 3 differs)");
  EXPECT_EQ(invokeError(*m, "attn", {Q, hybrid::Tensor(), V}),
            "'attn' argument #1: null tensor");
  // A dynamic size that violates the op: K and V lengths differ.
  EXPECT_EQ(invokeError(*m, "attn", {Q, K, toTensor(v6, HYBRID_DTYPE_F32)}),
            "'attn' failed: hybrid.attention: value length does not match key "
            "length");
  std::string unknown = invokeError(*m, "attention", {Q, K, V});
  EXPECT_NE(unknown.find("no entry point 'attention' (it has: attn)"),
            std::string::npos)
      << unknown;
  // The module still works after all that.
  EXPECT_EQ(invokeError(*m, "attn", {Q, K, V}), "");
}

// block_select shares the attention ops' operand checks: a draft tree that
// is malformed, or longer than the keys, is an error, not a negative index.
// Block indices with fewer rows than the queries (found by
// hybrid-fuzz-runtime: the range check read past them) are named as a
// shape error, even when their values are out of range too: the first
// failed check names the problem.
TEST(Runtime, BlockSparseAttentionNamesAWrongBlockIndexShape) {
  hybrid::Module *m = compile(R"mlir(
#cfg = #hybrid.sparse_config<kernel_size = 4, kernel_stride = 2, block_size = 8,
    topk = 2, init_blocks = 1, window_size = 16, dense_len = 0>
func.func @sparse(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>,
                  %v: tensor<1x2x?x8xf32>, %blocks: tensor<1x2x?x?xi32>)
    -> tensor<1x4x?x8xf32> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%blocks : tensor<1x2x?x?xi32>)
      config(#cfg) : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}
)mlir");
  ASSERT_TRUE(m);
  std::mt19937 rng(5);
  ref::Array qa = randomArray({1, 4, 15, 8}, rng),
             kva = randomArray({1, 2, 13, 8}, rng);
  auto q = toTensor(qa, HYBRID_DTYPE_F32), kv = toTensor(kva, HYBRID_DTYPE_F32);
  std::vector<int32_t> rows8(1 * 2 * 8 * 3, 99);
  EXPECT_EQ(invokeError(*m, "sparse", {q, kv, kv, intTensor(rows8, {1, 2, 8, 3})}),
            "'sparse' failed: hybrid.block_sparse_attention: block_indices "
            "must be [batch, kv heads, query rows, slots]");
  std::vector<int32_t> rows15(1 * 2 * 15 * 3, 99);
  EXPECT_EQ(invokeError(*m, "sparse", {q, kv, kv, intTensor(rows15, {1, 2, 15, 3})}),
            "'sparse' failed: hybrid.block_sparse_attention: a block index is "
            "out of range [-1, ceil(Skv / block_size))");
  std::vector<int32_t> valid(1 * 2 * 15 * 3, -1);
  EXPECT_EQ(invokeError(*m, "sparse", {q, kv, kv, intTensor(valid, {1, 2, 15, 3})}),
            "");
}

// RoPE by position ids over an empty cos/sin cache (found by
// hybrid-fuzz-runtime: a position outside the cache read its row 0, which
// an empty cache does not have) is an error.
TEST(Runtime, RotaryEmbeddingRefusesAnEmptyCache) {
  hybrid::Module *m = compile(R"mlir(
func.func @rotate(%x: tensor<1x4x?x8xf32>, %cos: tensor<?x4xf32>,
                  %sin: tensor<?x4xf32>, %pos: tensor<1x?xi64>)
    -> tensor<1x4x?x8xf32> {
  %0 = hybrid.rotary_embedding %x, %cos, %sin positions(%pos : tensor<1x?xi64>)
      : tensor<1x4x?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>
  return %0 : tensor<1x4x?x8xf32>
}
)mlir");
  ASSERT_TRUE(m);
  std::mt19937 rng(9);
  ref::Array xa = randomArray({1, 4, 3, 8}, rng), none = randomArray({0, 4}, rng),
             xe = randomArray({1, 4, 0, 8}, rng);
  hybrid::Tensor positions;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {1, 3}, positions).ok());
  std::fill_n(positions.data<int64_t>(), 3, 0);
  auto x = toTensor(xa, HYBRID_DTYPE_F32), empty = toTensor(none, HYBRID_DTYPE_F32);
  EXPECT_EQ(invokeError(*m, "rotate", {x, empty, empty, positions}),
            "'rotate' failed: hybrid.rotary_embedding: the cos/sin cache is "
            "empty");
  // No tokens: nothing to read, nothing refused.
  hybrid::Tensor noPositions;
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {1, 0}, noPositions).ok());
  EXPECT_EQ(invokeError(*m, "rotate", {toTensor(xe, HYBRID_DTYPE_F32), empty,
                                       empty, noPositions}),
            "");
}

// An attention offset near the integer limits made offset + i wrap, and
// every row silently came out zero: now an error.
TEST(Runtime, AttentionRefusesAnOffsetThatCouldWrap) {
  hybrid::Module *m = compile(R"mlir(
func.func @attn(%q: tensor<1x2x?x8xf32>, %k: tensor<1x1x?x8xf32>,
                %v: tensor<1x1x?x8xf32>, %off: index) -> tensor<1x2x?x8xf32> {
  %o = hybrid.attention %q, %k, %v offset(%off) {causal}
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}
)mlir");
  ASSERT_TRUE(m);
  std::mt19937 rng(8);
  ref::Array qa = randomArray({1, 2, 3, 8}, rng), ka = randomArray({1, 1, 5, 8}, rng);
  auto q = toTensor(qa, HYBRID_DTYPE_F32), k = toTensor(ka, HYBRID_DTYPE_F32);
  for (int64_t offset : {std::numeric_limits<int64_t>::max() - 1,
                         std::numeric_limits<int64_t>::min(),
                         (int64_t(1) << 62) + 1})
    EXPECT_EQ(invokeError(*m, "attn", {q, k, k, indexScalar(offset)}),
              "'attn' failed: hybrid.attention: the query offset is outside "
              "[-2^62, 2^62]")
        << offset;
  // A large offset inside the bound sees every key, as causal masking
  // says.
  EXPECT_EQ(invokeError(*m, "attn", {q, k, k, indexScalar(int64_t(1) << 62)}), "");
}

TEST(Runtime, BlockSelectChecksItsDraftTree) {
  hybrid::Module *m = compile(R"mlir(
#cfg = #hybrid.sparse_config<kernel_size = 4, kernel_stride = 2, block_size = 8,
    topk = 2, init_blocks = 1, window_size = 16, dense_len = 0>
func.func @select(%q: tensor<1x2x?x8xf32>, %k: tensor<1x1x?x8xf32>, %p: tensor<?xi32>)
    -> tensor<1x1x?x?xi32> {
  %s = hybrid.block_select %q, %k tree(%p : tensor<?xi32>) policy union config(#cfg)
      : tensor<1x2x?x8xf32>, tensor<1x1x?x8xf32>
  return %s : tensor<1x1x?x?xi32>
}
)mlir");
  ASSERT_TRUE(m);
  std::mt19937 rng(62);
  ref::Array qa = randomArray({1, 2, 6, 8}, rng),
             k32a = randomArray({1, 1, 32, 8}, rng),
             k3a = randomArray({1, 1, 3, 8}, rng);
  auto q = toTensor(qa, HYBRID_DTYPE_F32), k32 = toTensor(k32a, HYBRID_DTYPE_F32),
       k3 = toTensor(k3a, HYBRID_DTYPE_F32);
  EXPECT_EQ(invokeError(*m, "select", {q, k32, intTensor({-1, 0, 0, 1}, {4})}),
            "");
  EXPECT_EQ(invokeError(*m, "select", {q, k3, intTensor({-1, 0, 0, 1}, {4})}),
            "'select' failed: hybrid.block_select: the draft tree has more "
            "nodes than query rows or keys");
  EXPECT_EQ(invokeError(*m, "select", {q, k32, intTensor({-1, 0, 2, 1}, {4})}),
            "'select' failed: hybrid.block_select: parents do not form a draft "
            "tree (parents[0] = -1, 0 <= parents[i] < i)");
}

TEST(Runtime, ThreadCountDoesNotChangeResults) {
  hybrid::Module *m = attentionModule();
  ASSERT_TRUE(m);
  std::mt19937 rng(61);
  ref::Array q = randomArray({1, 2, 40, 8}, rng), k = randomArray({1, 1, 90, 8}, rng),
             v = randomArray({1, 1, 90, 8}, rng);
  std::vector<hybrid::Tensor> args = {toTensor(q, HYBRID_DTYPE_F32),
                                      toTensor(k, HYBRID_DTYPE_F32),
                                      toTensor(v, HYBRID_DTYPE_F32)};
  ASSERT_TRUE(m->setNumThreads(1).ok());
  auto one = run(*m, "attn", args);
  ASSERT_TRUE(m->setNumThreads(2).ok());
  auto two = run(*m, "attn", args);
  ASSERT_EQ(one.size(), 1u);
  ASSERT_EQ(two.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(one[0]), fromTensor(two[0]), 0.0));
  EXPECT_FALSE(m->setNumThreads(0).ok());
}

TEST(Runtime, ResultsNeverAliasInputsOrConstants) {
  hybrid::Module *m = compile(kIdentity);
  ASSERT_TRUE(m);
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  hybrid::Tensor in;
  ASSERT_TRUE(hybrid::Tensor::wrap(HYBRID_DTYPE_F32, {2, 3}, data.data(), in).ok());
  auto r = run(*m, "identity", {in});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].data<float>(), data.data());
  EXPECT_EQ(r[0].data<float>()[5], 6.0f);
  auto c1 = run(*m, "constant", {});
  auto c2 = run(*m, "constant", {});
  ASSERT_EQ(c1.size(), 1u);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_NE(c1[0].data<float>(), c2[0].data<float>());
  EXPECT_EQ(c2[0].data<float>()[1], 2.5f);
}

// In-place arguments: an entry updates a caller's buffer (a KV cache)
// through hybrid.write_back, without returning it or copying it.
const char *kInPlace = R"mlir(
func.func @append(%cache: tensor<?x4xf32> {hybrid.inout}, %row: tensor<1x4xf32>,
                  %at: tensor<i64>) -> tensor<1x4xf32> {
  %i = tensor.extract %at[] : tensor<i64>
  %p = arith.index_cast %i : i64 to index
  %u = tensor.insert_slice %row into %cache[%p, 0] [1, 4] [1, 1]
      : tensor<1x4xf32> into tensor<?x4xf32>
  hybrid.write_back %u into %cache : tensor<?x4xf32>
  %twice = arith.addf %row, %row : tensor<1x4xf32>
  return %twice : tensor<1x4xf32>
}
)mlir";

TEST(Runtime, InOutArgumentsAreUpdatedInPlaceAndInputsAreNot) {
  hybrid::Module *m = compile(kInPlace);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->argIsInOut("append", 0));
  EXPECT_FALSE(m->argIsInOut("append", 1));
  EXPECT_FALSE(m->argIsInOut("append", 7));
  std::vector<float> cache(12, 0.0f), row = {1, 2, 3, 4};
  hybrid::Tensor c, r, at;
  ASSERT_TRUE(hybrid::Tensor::wrap(HYBRID_DTYPE_F32, {3, 4}, cache.data(), c).ok());
  ASSERT_TRUE(hybrid::Tensor::wrap(HYBRID_DTYPE_F32, {1, 4}, row.data(), r).ok());
  ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {}, at).ok());
  *at.data<int64_t>() = 1;
  auto out = run(*m, "append", {c, r, at});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data<float>()[3], 8.0f);
  // Row 1 of the caller's own buffer holds the row; the rest is untouched.
  EXPECT_EQ(c.data<float>(), cache.data());
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(cache[4 + j], row[j]);
    EXPECT_EQ(cache[j], 0.0f);
    EXPECT_EQ(cache[8 + j], 0.0f);
  }
  // An input that is not in-out keeps its values, though the entry added
  // it to itself.
  EXPECT_EQ(row[3], 4.0f);
}

// Parameters: two entries read weight "w"; callers pass only x. The
// runtime binds w once, by key; an entry returning it hands out a copy.
const char *kParameters = R"mlir(
func.func @norm(%x: tensor<?x8xf32>, %w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 32>})
    -> tensor<?x8xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<?x8xf32>, tensor<8xf32>
  return %y : tensor<?x8xf32>
}
func.func @weights(%w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 32>})
    -> tensor<8xf32> {
  return %w : tensor<8xf32>
}
)mlir";

TEST(Runtime, ParametersAreBoundOnceByKey) {
  hybrid::Module *m = compile(kParameters);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->numParameters(), 1u);
  EXPECT_STREQ(hybrid_module_parameter_key(m->get(), 0), "w");
  size_t numArgs = 9;
  ASSERT_EQ(hybrid_module_entry_signature(m->get(), "norm", &numArgs, nullptr),
            nullptr);
  EXPECT_EQ(numArgs, 1u); // the caller passes x only
  std::mt19937 rng(7);
  ref::Array x = randomArray({3, 8}, rng), w = randomArray({8}, rng);
  auto X = toTensor(x, HYBRID_DTYPE_F32), W = toTensor(w, HYBRID_DTYPE_F32);
  EXPECT_EQ(invokeError(*m, "norm", {X}),
            "'norm' reads parameter 'w', which is not bound (bind the model's "
            "files with hybrid_module_bind_parameters_from_folder)");
  EXPECT_EQ(m->bindParameter("w", toTensor(x, HYBRID_DTYPE_F32)).message(),
            "parameter 'w' is f32[8], not f32[3, 8]");
  EXPECT_EQ(m->bindParameter("v", W).message(),
            "the module has no parameter 'v'");
  ASSERT_TRUE(m->bindParameter("w", W).ok());
  auto y = run(*m, "norm", {X});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_TRUE(allClose(fromTensor(y[0]), ref::rmsNorm(x, w, -1, 1e-5), 1e-5));
  auto copy = run(*m, "weights", {});
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_NE(copy[0].data<float>(), W.data<float>());
  EXPECT_TRUE(allClose(fromTensor(copy[0]), w, 0.0));
  // Only unbound parameters are mapped: nothing is left to look for.
  EXPECT_TRUE(m->bindParameters("/nonexistent-folder").ok());
}

TEST(Runtime, ParameterFilesAreCheckedWhenBound) {
  // Its own module: compile() shares one per text, and this one must start
  // unbound.
  hybrid::Module *m = compile(std::string(kParameters) + "// from files\n");
  ASSERT_TRUE(m);
  std::string folder = ::testing::TempDir() + "/hybrid-params";
  std::string cmd = "mkdir -p " + folder;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  {
    std::ofstream f(folder + "/w.bin", std::ios::binary);
    float w[4] = {1, 2, 3, 4}; // 16 bytes: too short for 32
    f.write(reinterpret_cast<const char *>(w), sizeof(w));
  }
  EXPECT_EQ(m->bindParameters(folder + "/missing").message().find(
                "parameter folder '" + folder + "/missing'"),
            0u);
  EXPECT_EQ(m->bindParameters(folder).message(),
            "parameter 'w': 'w.bin' is 16 bytes, too short for 32 bytes at "
            "offset 0");
  EXPECT_EQ(invokeError(*m, "weights", {}).find("'weights' reads parameter "
                                                "'w', which is not bound"),
            0u);
  {
    std::ofstream f(folder + "/w.bin", std::ios::binary);
    std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8};
    f.write(reinterpret_cast<const char *>(w.data()), 32);
  }
  ASSERT_TRUE(m->bindParameters(folder).ok());
  auto copy = run(*m, "weights", {});
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0].data<float>()[7], 8.0f);
}

// A weight that the product reads as B is bound in its column panels
// (hybrid-prepack-weights): the file holds [70, 50] row-major at an offset
// misaligned for f32; the runtime packs it when binding, from the folder or
// from a caller's tensor, and the products (rows below and above the
// packing threshold, one row tile and many) read the panels.
const char *kPanelWeight = R"mlir(
func.func @proj(%x: tensor<?x70xf32>, %w: tensor<70x50xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 2, length = 14000>})
    -> tensor<?x50xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x70xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty(%m) : tensor<?x50xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x50xf32>) -> tensor<?x50xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x70xf32>, tensor<70x50xf32>)
                     outs(%f : tensor<?x50xf32>) -> tensor<?x50xf32>
  return %y : tensor<?x50xf32>
}
)mlir";

/// The shape a caller binds parameter `index` with (the file's), or an
/// empty shape with a failure.
std::vector<int64_t> parameterShape(hybrid::Module &m, size_t index) {
  hybrid_value_info info;
  hybrid_status s = hybrid_module_parameter_info(m.get(), index, &info);
  EXPECT_EQ(s, nullptr);
  if (s) {
    hybrid_status_free(s);
    return {};
  }
  return std::vector<int64_t>(info.shape, info.shape + info.rank);
}

TEST(Runtime, WeightsReadAsBAreBoundInPanels) {
  hybrid::Module *m = compile(kPanelWeight);
  ASSERT_TRUE(m);
  // Callers see the file's shape, not the panels'.
  ASSERT_EQ(m->numParameters(), 1u);
  EXPECT_EQ(parameterShape(*m, 0), (std::vector<int64_t>{70, 50}));

  std::mt19937 rng(11);
  ref::Array w = randomArray({70, 50}, rng);
  std::string folder = ::testing::TempDir() + "/hybrid-panel-params";
  std::string cmd = "mkdir -p " + folder;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  {
    std::vector<float> values(w.data.begin(), w.data.end());
    std::ofstream f(folder + "/w.bin", std::ios::binary);
    f.write("..", 2);
    f.write(reinterpret_cast<const char *>(values.data()), 14000);
  }
  ASSERT_TRUE(m->bindParameters(folder).ok());
  auto check = [&] {
    for (int64_t rows : {1, 5, 13, 130}) {
      ref::Array x = randomArray({rows, 70}, rng);
      auto y = run(*m, "proj", {toTensor(x, HYBRID_DTYPE_F32)});
      ASSERT_EQ(y.size(), 1u);
      ref::Array zero({rows, 50});
      EXPECT_TRUE(allClose(fromTensor(y[0]), ref::matmul(x, w, zero), 1e-4))
          << rows << " rows";
    }
  };
  check();
  // Rebinding from a caller's tensor packs it too (the tensor may go).
  w = randomArray({70, 50}, rng);
  {
    hybrid::Tensor W = toTensor(w, HYBRID_DTYPE_F32);
    ASSERT_TRUE(m->bindParameter("w", W).ok());
  }
  check();
}

/// A new folder under the test's temporary directory holding `values` as
/// the parameter file w.bin.
std::string weightFolder(const std::string &name,
                         const std::vector<float> &values) {
  std::string folder = ::testing::TempDir() + "/" + name;
  std::string cmd = "mkdir -p " + folder;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::ofstream(folder + "/w.bin", std::ios::binary)
      .write(reinterpret_cast<const char *>(values.data()),
             values.size() * sizeof(float));
  return folder;
}

// Weights read only transposed are bound transposed
// (hybrid-hoist-weight-transposes): the entry returns them as it reads
// them, `a` through a reshape with its rows kept whole, `b` element by
// element; callers see and pass the transposes' inputs (the files' bytes,
// `a` as reshaped).
const char *kTransposedWeights = R"mlir(
func.func @relaid(
    %a: tensor<4x6xf32> {hybrid.parameter =
        #hybrid.parameter<key = "a", file = "w.bin", offset = 0, length = 96>},
    %b: tensor<4x2x3xf32> {hybrid.parameter =
        #hybrid.parameter<key = "b", file = "w.bin", offset = 96, length = 96>})
    -> (tensor<2x4x3xf32>, tensor<3x4x2xf32>) {
  %s = tensor.expand_shape %a [[0], [1, 2]] output_shape [4, 2, 3]
      : tensor<4x6xf32> into tensor<4x2x3xf32>
  %ea = tensor.empty() : tensor<2x4x3xf32>
  %ta = linalg.transpose ins(%s : tensor<4x2x3xf32>)
      outs(%ea : tensor<2x4x3xf32>) permutation = [1, 0, 2]
  %eb = tensor.empty() : tensor<3x4x2xf32>
  %tb = linalg.transpose ins(%b : tensor<4x2x3xf32>)
      outs(%eb : tensor<3x4x2xf32>) permutation = [2, 0, 1]
  return %ta, %tb : tensor<2x4x3xf32>, tensor<3x4x2xf32>
}
)mlir";

TEST(Runtime, WeightsReadTransposedAreBoundTransposed) {
  hybrid::Module *m = compile(kTransposedWeights);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->numParameters(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(parameterShape(*m, i), (std::vector<int64_t>{4, 2, 3}))
        << hybrid_module_parameter_key(m->get(), i);
  std::vector<float> file(48);
  for (size_t i = 0; i < file.size(); ++i)
    file[i] = float(i);
  std::string folder = weightFolder("hybrid-transposed-params", file);
  ASSERT_TRUE(m->bindParameters(folder).ok());
  // a[r, g, c] (the file's [4, 6] as [4, 2, 3]) at [g, r, c]; b[r, g, c]
  // at [c, r, g].
  auto check = [&](const float *a, const float *b) {
    auto y = run(*m, "relaid", {});
    ASSERT_EQ(y.size(), 2u);
    for (int r = 0; r < 4; ++r)
      for (int g = 0; g < 2; ++g)
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(y[0].data<float>()[(g * 4 + r) * 3 + c], a[r * 6 + g * 3 + c]);
          EXPECT_EQ(y[1].data<float>()[(c * 4 + r) * 2 + g], b[r * 6 + g * 3 + c]);
        }
  };
  check(file.data(), file.data() + 24);
  // From a caller's tensor of the file's shape (which may go at once).
  std::vector<float> other(24);
  for (size_t i = 0; i < other.size(); ++i)
    other[i] = -float(i) - 1;
  {
    hybrid::Tensor B;
    ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {4, 2, 3}, B).ok());
    std::copy(other.begin(), other.end(), B.data<float>());
    ASSERT_TRUE(m->bindParameter("b", B).ok());
  }
  check(file.data(), other.data());
}

/// Rows 4, 0 and 2 of the file's [5, 3] (FR-Spec's draft head), and the
/// whole table under its own key.
const char *kRowWeights = R"mlir(
func.func @rows(
    %some: tensor<3x3xf32> {hybrid.parameter =
        #hybrid.parameter<key = "head", file = "w.bin", offset = 0,
                          length = 60, rows = [4, 0, 2]>},
    %all: tensor<5x3xf32> {hybrid.parameter =
        #hybrid.parameter<key = "table", file = "w.bin", offset = 0,
                          length = 60>})
    -> (tensor<3x3xf32>, tensor<5x3xf32>) {
  return %some, %all : tensor<3x3xf32>, tensor<5x3xf32>
}
)mlir";

TEST(Runtime, SomeRowsOfAWeightAreGatheredWhenBound) {
  hybrid::Module *m = compile(kRowWeights);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->numParameters(), 2u);
  // A caller binds the file's whole tensor.
  EXPECT_EQ(parameterShape(*m, 0), (std::vector<int64_t>{5, 3}));
  std::vector<float> file(15);
  for (size_t i = 0; i < file.size(); ++i)
    file[i] = float(i);
  std::string folder = weightFolder("hybrid-row-params", file);
  ASSERT_TRUE(m->bindParameters(folder).ok());
  auto check = [&](const float *table) {
    auto y = run(*m, "rows", {});
    ASSERT_EQ(y.size(), 2u);
    const int rows[] = {4, 0, 2};
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(y[0].data<float>()[i * 3 + c], table[rows[i] * 3 + c]);
    for (int i = 0; i < 15; ++i)
      EXPECT_EQ(y[1].data<float>()[i], file[i]);
  };
  check(file.data());
  std::vector<float> other(15);
  for (size_t i = 0; i < other.size(); ++i)
    other[i] = -float(i) - 1;
  {
    hybrid::Tensor t;
    ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {5, 3}, t).ok());
    std::copy(other.begin(), other.end(), t.data<float>());
    ASSERT_TRUE(m->bindParameter("head", t).ok());
    // Only the file's shape binds.
    hybrid::Tensor three;
    ASSERT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_F32, {3, 3}, three).ok());
    hybrid::Status s = m->bindParameter("head", three);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("parameter 'head' is f32[5, 3]"),
              std::string::npos)
        << s.message();
  }
  check(other.data());
}

TEST(Runtime, LoadingSomethingElseFails) {
  hybrid_module *m = nullptr;
  hybrid_status s = hybrid_module_load("/nonexistent/module.so", &m);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(std::string(hybrid_status_message(s)).find("cannot load module"),
            std::string::npos);
  hybrid_status_free(s);
  s = hybrid_module_load("libm.so.6", &m);
  ASSERT_NE(s, nullptr);
  hybrid_status_free(s);
  EXPECT_EQ(m, nullptr);
}

//===----------------------------------------------------------------------===//
// .npy
//===----------------------------------------------------------------------===//

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/hybrid-npy-" + name;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A v1.0 .npy file with the given header dict and payload.
std::string npyBytes(const std::string &dict, const std::string &payload) {
  std::string header = dict;
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + payload;
}

std::string loadError(const std::string &path, bool bf16 = false) {
  hybrid::Tensor t;
  hybrid::Status s = hybrid::Tensor::loadNpy(path, bf16, t);
  return s.ok() ? "" : s.message();
}

TEST(Tensor, ShapesWhoseByteSizeWrapsAreRefused) {
  // 2^62 f32 elements are 2^64 bytes: the size wrapped to 0, and the
  // tensor got a 1-byte buffer for 2^62 elements (found by hybrid-fuzz-npy).
  hybrid_tensor *t = nullptr;
  int64_t huge[] = {int64_t(1) << 62};
  hybrid_status s = hybrid_tensor_create(HYBRID_DTYPE_F32, 1, huge, &t);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(std::string(hybrid_status_message(s)).find("too large for f32"),
            std::string::npos);
  hybrid_status_free(s);
  EXPECT_EQ(t, nullptr);
  float x = 0;
  s = hybrid_tensor_wrap(HYBRID_DTYPE_F32, 1, huge, &x, &t);
  ASSERT_NE(s, nullptr);
  hybrid_status_free(s);
  // The same count of bytes is fine as far as sizes go.
  int64_t bytes[] = {int64_t(1) << 40};
  s = hybrid_tensor_wrap(HYBRID_DTYPE_I8, 1, bytes, &x, &t);
  EXPECT_EQ(s, nullptr);
  hybrid_tensor_free(t);
}

TEST(Npy, RoundTripsEveryDtypeAndRanksZeroToSix) {
  std::vector<hybrid_dtype> dtypes = {HYBRID_DTYPE_F32, HYBRID_DTYPE_F16, HYBRID_DTYPE_BF16,
                                      HYBRID_DTYPE_F64, HYBRID_DTYPE_I64, HYBRID_DTYPE_I32,
                                      HYBRID_DTYPE_I8, HYBRID_DTYPE_BOOL};
  for (hybrid_dtype dtype : dtypes)
    for (size_t rank = 0; rank <= 6; ++rank) {
      std::vector<int64_t> shape;
      for (size_t d = 0; d < rank; ++d)
        shape.push_back(1 + (d % 3));
      hybrid::Tensor t;
      ASSERT_TRUE(hybrid::Tensor::create(dtype, shape, t).ok());
      auto *bytes = t.data<uint8_t>();
      size_t n = hybrid_tensor_byte_size(t.get());
      for (size_t i = 0; i < n; ++i)
        bytes[i] = dtype == HYBRID_DTYPE_BOOL ? (i % 2) : static_cast<uint8_t>(i * 7 + 1);
      std::string path = tempPath("rt.npy");
      ASSERT_TRUE(t.saveNpy(path).ok());
      hybrid::Tensor back;
      ASSERT_TRUE(hybrid::Tensor::loadNpy(path, dtype == HYBRID_DTYPE_BF16, back).ok())
          << hybrid_dtype_name(dtype) << " rank " << rank;
      EXPECT_EQ(back.dtype(), dtype);
      EXPECT_EQ(back.shape(), shape);
      EXPECT_EQ(0, std::memcmp(back.data(), t.data(), n));
    }
}

TEST(Npy, MalformedFilesAreRejectedWithAReason) {
  std::string p = tempPath("bad.npy");
  writeBytes(p, "not numpy at all");
  EXPECT_NE(loadError(p).find("not a .npy file"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                         std::string(16, '\0')));
  EXPECT_NE(loadError(p).find("fortran_order"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                         std::string(8, '\0')));
  EXPECT_NE(loadError(p).find("big-endian"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                         std::string(8, '\0')));
  EXPECT_NE(loadError(p).find("truncated data"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                         std::string(8, '\0')));
  EXPECT_NE(loadError(p).find("trailing bytes"), std::string::npos);
  // A header that claims 400 GB over 8 bytes of data: refused from the
  // file's size, before anything is allocated.
  writeBytes(p, npyBytes("{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (100000, 100000, 10), }",
                         std::string(8, '\0')));
  EXPECT_NE(loadError(p).find("promises 400000000000 bytes"), std::string::npos)
      << loadError(p);
  EXPECT_NE(loadError(p).find("the file has 8"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }",
                         std::string(2, '\0')));
  EXPECT_NE(loadError(p).find("bf16 flag"), std::string::npos);
  EXPECT_EQ(loadError(p, /*bf16=*/true), "");
  writeBytes(p, npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                         std::string(8, '\0')));
  EXPECT_NE(loadError(p).find("unsupported dtype"), std::string::npos);
  writeBytes(p, npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", ""));
  EXPECT_NE(loadError(p).find("malformed 'shape'"), std::string::npos);
  EXPECT_NE(loadError(tempPath("missing.npy")).find("cannot open"), std::string::npos);
}

} // namespace

namespace {

TEST(HalfPrecision, ConversionsRoundToNearestEvenAndKeepSpecials) {
  EXPECT_EQ(hybrid_f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(hybrid_f32_to_f16(65504.0f), 0x7bff);         // largest normal
  EXPECT_EQ(hybrid_f32_to_f16(1e6f), 0x7c00);             // overflow -> inf
  EXPECT_EQ(hybrid_f32_to_f16(5.9604645e-8f), 0x0001);    // smallest subnormal
  EXPECT_EQ(hybrid_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); // tie to even
  EXPECT_EQ(hybrid_f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(hybrid_f16_to_f32(0x0001), 5.9604645e-8f);
  EXPECT_TRUE(std::isnan(hybrid_f16_to_f32(hybrid_f32_to_f16(NAN))));
  EXPECT_EQ(hybrid_f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(hybrid_bf16_to_f32(0xbf80), -1.0f);
  EXPECT_EQ(hybrid_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80); // tie to even
  EXPECT_TRUE(std::isnan(hybrid_bf16_to_f32(hybrid_f32_to_bf16(NAN))));
}

} // namespace
