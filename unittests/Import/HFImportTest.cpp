//===- HFImportTest.cpp - Hugging Face checkpoints through Hybrid ---------===//
//
// The tiny checkpoints of test/HF (make_checkpoints.py: torch references
// written from transformers' modeling code) imported, compiled and run
// through the runtime's entry points:
//   - forward over the prompt equals the reference logits;
//   - prefill of all but the last 4 tokens, then decode of those one at a
//     time through the KV cache, equals the same logits row for row;
//   - 16 greedy steps (prefill, then decode feeding back our own argmax)
//     choose the reference's tokens, with its logits;
//   - verify over a 7-node draft tree rooted at the last prompt token (the
//     rest of the prompt prefilled) gives each node the logits of its path,
//     and a lightning layer's state for every node; commit of one path then
//     decode of a child of its last node gives that child's logits;
//   - a step past the cache's capacity and an id outside the vocabulary
//     fail with their messages.
// f32 logits within 1e-4 x max(1, max |reference|).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Import/HF/HFImporter.h"
#include "hybrid/InitAll.h"
#include "hybrid/Runtime/Runtime.hpp"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

namespace {

const std::string kCheckpoints = HYBRID_HF_CHECKPOINTS_DIR;
constexpr int64_t kCapacity = 64;

/// A checkpoint compiled and bound, with its reference data.
struct Model {
  std::string dir;
  hybrid::Module module;
  hybrid::Tensor ids, logits, greedyIds, greedyLogits;
  int64_t vocab = 0;
  /// Lightning layers: verify returns each one's per-node states.
  int64_t lightningLayers = 0;
};

::testing::AssertionResult
load(const std::string &name, Model &m,
     const mlir::hybrid::HFImportOptions &importOptions = {}) {
  m.dir = kCheckpoints + "/" + name;
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::hybrid::registerHFImportDialects(registry);
  mlir::MLIRContext context(registry);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  auto module = mlir::hybrid::importHFFolder(m.dir, &context, importOptions);
  if (!module)
    return ::testing::AssertionFailure() << "import: " << diagnostics;
  // Lightning layers: prefill's `state.L` arguments.
  auto prefill = module->lookupSymbol<mlir::func::FuncOp>("prefill");
  for (unsigned i = 0; prefill && i < prefill.getNumArguments(); ++i)
    if (auto name =
            prefill.getArgAttrOfType<mlir::StringAttr>(i, "hybrid.arg_name"))
      m.lightningLayers += name.getValue().starts_with("state.");
  llvm::SmallString<128> so;
  if (llvm::sys::fs::createTemporaryFile("hybrid-hf", "so", so))
    return ::testing::AssertionFailure() << "no temporary file";
  mlir::hybrid::CompileOptions options;
  if (failed(mlir::hybrid::compileToSharedObject(*module, so, options)))
    return ::testing::AssertionFailure() << "compile: " << diagnostics;
  hybrid::Status loaded = hybrid::Module::load(std::string(so), m.module);
  llvm::sys::fs::remove(so);
  if (!loaded)
    return ::testing::AssertionFailure() << "load: " << loaded.message();
  if (hybrid::Status s = m.module.bindParameters(m.dir); !s)
    return ::testing::AssertionFailure() << "bind: " << s.message();
  for (auto [file, tensor] :
       {std::pair{"input_ids", &m.ids}, {"logits", &m.logits},
        {"greedy_ids", &m.greedyIds}, {"greedy_logits", &m.greedyLogits}})
    if (hybrid::Status s = hybrid::Tensor::loadNpy(
            m.dir + "/" + file + ".npy", false, *tensor);
        !s)
      return ::testing::AssertionFailure() << s.message();
  m.vocab = m.logits.shape()[2];
  return ::testing::AssertionSuccess();
}

hybrid::Tensor make(hybrid_dtype dtype, std::vector<int64_t> shape) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(dtype, shape, t).ok());
  std::memset(t.data(), 0, t.numElements() * hybrid_dtype_size(dtype));
  return t;
}

hybrid::Tensor scalar(int64_t v) {
  hybrid::Tensor t = make(HYBRID_DTYPE_I64, {});
  *t.data<int64_t>() = v;
  return t;
}

/// Columns [from, to) of ids [B, T].
hybrid::Tensor columns(const hybrid::Tensor &ids, int64_t from, int64_t to) {
  int64_t batch = ids.shape()[0], len = ids.shape()[1];
  hybrid::Tensor t = make(HYBRID_DTYPE_I64, {batch, to - from});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = from; j < to; ++j)
      t.data<int64_t>()[b * (to - from) + j - from] =
          ids.data<int64_t>()[b * len + j];
  return t;
}

/// Max abs difference of row `row` of got [B, T, V] and `want` [B, Tw, V]
/// at `wantRow`, relative to the tolerance; reports into `worst`.
void compareRow(const hybrid::Tensor &got, int64_t row,
                const hybrid::Tensor &want, int64_t wantRow, double &worst) {
  int64_t batch = got.shape()[0], t = got.shape()[1], v = got.shape()[2];
  int64_t tw = want.shape()[1];
  double scale = 1.0;
  for (size_t i = 0; i < want.numElements(); ++i)
    scale = std::max(scale, double(std::fabs(want.data<float>()[i])));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t k = 0; k < v; ++k) {
      double d = std::fabs(
          double(got.data<float>()[(b * t + row) * v + k]) -
          double(want.data<float>()[(b * tw + wantRow) * v + k]));
      worst = std::max(worst, std::isnan(d) ? INFINITY : d / (1e-4 * scale));
    }
}

/// InfLLM-V2's compressed-key rows for `keys` keys: full windows of
/// `sparse_config`'s kernel_size, kernel_stride (0 without one).
int64_t compressedRows(const std::string &dir, int64_t keys) {
  auto buffer = llvm::MemoryBuffer::getFile(dir + "/config.json");
  if (!buffer)
    return 0;
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    llvm::consumeError(json.takeError());
    return 0;
  }
  const llvm::json::Object *sparse =
      json->getAsObject() ? json->getAsObject()->getObject("sparse_config")
                          : nullptr;
  if (!sparse)
    return 0;
  int64_t kernel = sparse->getInteger("kernel_size").value_or(0);
  int64_t stride = sparse->getInteger("kernel_stride").value_or(1);
  return keys < kernel ? 0 : (keys - kernel) / stride + 1;
}

/// Max abs difference of rows [0, rows) of caches [B, H, S, D], relative
/// to 1e-4 of the larger magnitude.
double compareCacheRows(const hybrid::Tensor &got, const hybrid::Tensor &want,
                        int64_t rows) {
  std::vector<int64_t> shape = got.shape();
  double scale = 1.0, worst = 0.0;
  for (int64_t bh = 0; bh < shape[0] * shape[1]; ++bh)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < shape[3]; ++d) {
        size_t at = (bh * shape[2] + r) * shape[3] + d;
        scale = std::max(scale, double(std::fabs(want.data<float>()[at])));
        worst = std::max(worst, double(std::fabs(got.data<float>()[at] -
                                                 want.data<float>()[at])));
      }
  return worst / (1e-4 * scale);
}

class HFCheckpoint : public ::testing::TestWithParam<const char *> {};

TEST_P(HFCheckpoint, EntryPointsMatchTheReference) {
  Model m;
  ASSERT_TRUE(load(GetParam(), m));
  int64_t batch = m.ids.shape()[0], len = m.ids.shape()[1];

  // forward over the prompt.
  std::vector<hybrid::Tensor> results;
  ASSERT_TRUE(m.module.invoke("forward", {m.ids}, results).ok());
  double worst = 0;
  for (int64_t r = 0; r < len; ++r)
    compareRow(results[0], r, m.logits, r, worst);
  EXPECT_LE(worst, 1.0) << "forward: error / tolerance";

  // prefill all but 4 tokens, then decode the rest one by one.
  int64_t split = std::max<int64_t>(len - 4, 1);
  // Every cache and state prefill takes (its arguments after the ids and
  // the position), shaped from the module's own signature: a dynamic
  // batch is the prompt's, a dynamic length the capacity.
  auto emptyCaches = [&] {
    std::vector<hybrid::Tensor> caches;
    std::vector<std::string> names = m.module.argNames("prefill");
    for (size_t i = 2; i < names.size(); ++i) {
      hybrid_value_info info;
      EXPECT_TRUE(m.module.argInfo("prefill", i, info).ok());
      EXPECT_TRUE(m.module.argIsInOut("prefill", i)) << names[i];
      std::vector<int64_t> shape(info.shape, info.shape + info.rank);
      for (size_t d = 0; d < shape.size(); ++d)
        if (shape[d] < 0)
          shape[d] = d == 0 ? batch : kCapacity;
      caches.push_back(make(info.dtype, shape));
      // KV caches hold finite junk, not zeros: rows past the step must
      // never count. A fresh recurrent state is zero.
      if (names[i].rfind("cache.", 0) == 0)
        std::fill_n(caches.back().data<float>(), caches.back().numElements(),
                    7.0f);
      else
        EXPECT_EQ(names[i].rfind("state.", 0), 0u) << names[i];
    }
    return caches;
  };
  auto step = [&](const std::string &entry, hybrid::Tensor ids,
                  int64_t position, std::vector<hybrid::Tensor> &caches,
                  hybrid::Tensor &logits) -> hybrid::Status {
    std::vector<hybrid::Tensor> args = {ids, scalar(position)};
    args.insert(args.end(), caches.begin(), caches.end());
    std::vector<hybrid::Tensor> out;
    hybrid::Status s = m.module.invoke(entry, args, out);
    if (!s)
      return s;
    if (out.size() != 1)
      return hybrid::Status::error(entry + " returned " +
                                   std::to_string(out.size()) +
                                   " results, not the logits alone");
    logits = out[0]; // the caches were updated in place
    return s;
  };
  // Commits the first `accepted` nodes of `pathNodes` (node ids from the
  // root, -1 padded to the tree's size) of a verify at `position` whose
  // results were `verified` (logits, then each lightning layer's node
  // states) into `caches`.
  auto commit = [&](const std::vector<int32_t> &pathNodes, int32_t accepted,
                    int64_t position, std::vector<hybrid::Tensor> &caches,
                    const std::vector<hybrid::Tensor> &verified)
      -> hybrid::Status {
    std::vector<std::string> prefillNames = m.module.argNames("prefill");
    std::map<std::string, hybrid::Tensor> byName;
    for (size_t i = 2; i < prefillNames.size(); ++i)
      byName[prefillNames[i]] = caches[i - 2];
    hybrid::Tensor path = make(HYBRID_DTYPE_I32, {int64_t(pathNodes.size())});
    std::copy(pathNodes.begin(), pathNodes.end(), path.data<int32_t>());
    hybrid::Tensor length = make(HYBRID_DTYPE_I32, {});
    *length.data<int32_t>() = accepted;
    std::vector<hybrid::Tensor> args = {path, length, scalar(position)};
    std::vector<std::string> commitNames = m.module.argNames("commit");
    size_t lightning = 0;
    for (size_t i = 3; i < commitNames.size(); ++i) {
      bool treeState = commitNames[i].rfind("tree_state.", 0) == 0;
      if (treeState ? 1 + lightning >= verified.size()
                    : !byName.count(commitNames[i]))
        return hybrid::Status::error("no tensor for commit's " +
                                     commitNames[i]);
      args.push_back(treeState ? verified[1 + lightning++]
                               : byName[commitNames[i]]);
    }
    std::vector<hybrid::Tensor> none;
    return m.module.invoke("commit", args, none);
  };
  std::vector<hybrid::Tensor> caches = emptyCaches();
  hybrid::Tensor logits;
  ASSERT_TRUE(
      step("prefill", columns(m.ids, 0, split), 0, caches, logits).ok());
  worst = 0;
  for (int64_t r = 0; r < split; ++r)
    compareRow(logits, r, m.logits, r, worst);
  for (int64_t p = split; p < len; ++p) {
    hybrid::Status s = step("decode", columns(m.ids, p, p + 1), p, caches,
                            logits);
    ASSERT_TRUE(s.ok()) << s.message();
    compareRow(logits, 0, m.logits, p, worst);
  }
  EXPECT_LE(worst, 1.0) << "prefill + decode: error / tolerance";

  // 16 greedy steps from our own choices.
  caches = emptyCaches();
  ASSERT_TRUE(step("prefill", m.ids, 0, caches, logits).ok());
  int64_t steps = m.greedyIds.shape()[1];
  worst = 0;
  for (int64_t j = 0; j < steps; ++j) {
    int64_t row = j == 0 ? len - 1 : 0;
    compareRow(logits, row, m.greedyLogits, j, worst);
    hybrid::Tensor next = make(HYBRID_DTYPE_I64, {batch, 1});
    for (int64_t b = 0; b < batch; ++b) {
      const float *l =
          logits.data<float>() + (b * logits.shape()[1] + row) * m.vocab;
      next.data<int64_t>()[b] = std::max_element(l, l + m.vocab) - l;
      EXPECT_EQ(next.data<int64_t>()[b], m.greedyIds.data<int64_t>()[b * steps + j])
          << "batch " << b << ", step " << j;
    }
    if (j + 1 < steps)
      ASSERT_TRUE(step("decode", next, len + j, caches, logits).ok());
  }
  EXPECT_LE(worst, 1.0) << "greedy: error / tolerance";

  // verify_chain over the last prompt token and the first 4 greedy tokens
  // (a chain: sparse layers select blocks per token, as decode does) gives
  // the greedy steps' logits; committing 3 of the 5 nodes and decoding the
  // next greedy token continues them.
  {
    caches = emptyCaches();
    ASSERT_TRUE(
        step("prefill", columns(m.ids, 0, len - 1), 0, caches, logits).ok());
    int64_t chainLen = 5;
    hybrid::Tensor chain = make(HYBRID_DTYPE_I64, {batch, chainLen});
    for (int64_t b = 0; b < batch; ++b) {
      chain.data<int64_t>()[b * chainLen] =
          m.ids.data<int64_t>()[b * len + len - 1];
      for (int64_t j = 1; j < chainLen; ++j)
        chain.data<int64_t>()[b * chainLen + j] =
            m.greedyIds.data<int64_t>()[b * steps + j - 1];
    }
    std::vector<hybrid::Tensor> args = {chain, scalar(len - 1)};
    args.insert(args.end(), caches.begin(), caches.end());
    std::vector<hybrid::Tensor> out;
    hybrid::Status s = m.module.invoke("verify_chain", args, out);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(int64_t(out.size()), 1 + m.lightningLayers);
    worst = 0;
    for (int64_t j = 0; j < chainLen; ++j)
      compareRow(out[0], j, m.greedyLogits, j, worst);
    EXPECT_LE(worst, 1.0) << "verify_chain: error / tolerance";
    std::vector<int32_t> path(chainLen, -1);
    for (int32_t j = 0; j < 3; ++j)
      path[j] = j;
    s = commit(path, 3, len - 1, caches, out);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(step("decode", columns(m.greedyIds, 2, 3), len + 2, caches,
                     logits)
                    .ok());
    worst = 0;
    compareRow(logits, 0, m.greedyLogits, 3, worst);
    EXPECT_LE(worst, 1.0) << "verify_chain, commit, decode: error / tolerance";
  }

  // A draft tree over the last prompt token (dense models: a sparse tree
  // shares one block selection, a policy its op-level tests cover).
  if (llvm::sys::fs::exists(m.dir + "/tree_ids.npy")) {
    hybrid::Tensor treeIds, parents, treeLogits;
    ASSERT_TRUE(hybrid::Tensor::loadNpy(m.dir + "/tree_ids.npy", false, treeIds).ok());
    ASSERT_TRUE(
        hybrid::Tensor::loadNpy(m.dir + "/tree_parents.npy", false, parents).ok());
    ASSERT_TRUE(
        hybrid::Tensor::loadNpy(m.dir + "/tree_logits.npy", false, treeLogits).ok());
    caches = emptyCaches();
    ASSERT_TRUE(
        step("prefill", columns(m.ids, 0, len - 1), 0, caches, logits).ok());
    std::vector<hybrid::Tensor> args = {treeIds, parents, scalar(len - 1)};
    args.insert(args.end(), caches.begin(), caches.end());
    std::vector<hybrid::Tensor> out;
    hybrid::Status s = m.module.invoke("verify", args, out);
    ASSERT_TRUE(s.ok()) << s.message();
    // The logits, then every node's state [B, H, N, Dk, Dv] per lightning
    // layer (the node's logits depend on its state: o = S^T q).
    ASSERT_EQ(int64_t(out.size()), 1 + m.lightningLayers);
    for (size_t i = 1; i < out.size(); ++i) {
      ASSERT_EQ(out[i].shape().size(), 5u);
      EXPECT_EQ(out[i].shape()[2], treeIds.shape()[1]);
    }
    worst = 0;
    for (int64_t i = 0; i < treeIds.shape()[1]; ++i)
      compareRow(out[0], i, treeLogits, i, worst);
    EXPECT_LE(worst, 1.0) << "verify: error / tolerance";

    // Commit the path root -> 1 -> 4 (parents 0 and 1): its K/V rows move
    // down to [len - 1, len + 2) and the lightning states become node 4's.
    // Decoding node 6 (a child of 4) then gives node 6's reference logits.
    std::vector<int32_t> path(treeIds.shape()[1], -1);
    path[0] = 0, path[1] = 1, path[2] = 4;
    s = commit(path, 3, len - 1, caches, out);
    ASSERT_TRUE(s.ok()) << s.message();
    hybrid::Tensor node6 = make(HYBRID_DTYPE_I64, {batch, 1});
    for (int64_t b = 0; b < batch; ++b)
      node6.data<int64_t>()[b] =
          treeIds.data<int64_t>()[b * treeIds.shape()[1] + 6];
    ASSERT_TRUE(step("decode", node6, len + 2, caches, logits).ok());
    worst = 0;
    compareRow(logits, 0, treeLogits, 6, worst);
    EXPECT_LE(worst, 1.0) << "commit, then decode: error / tolerance";

    // A path that does not go down the tree is refused, and the refused
    // commit leaves the recurrent states as they were.
    std::vector<std::string> names = m.module.argNames("prefill");
    std::vector<std::vector<float>> before(caches.size());
    for (size_t i = 0; i < caches.size(); ++i)
      if (names[i + 2].rfind("state.", 0) == 0)
        before[i].assign(caches[i].data<float>(),
                         caches[i].data<float>() + caches[i].numElements());
    path[1] = 4, path[2] = 1;
    s = commit(path, 3, len - 1, caches, out);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("increasing node ids"), std::string::npos)
        << s.message();
    for (size_t i = 0; i < caches.size(); ++i)
      if (!before[i].empty())
        EXPECT_TRUE(std::equal(before[i].begin(), before[i].end(),
                               caches[i].data<float>()))
            << names[i + 2] << " changed by a refused commit";
  }

  // A committed tree path whose rows move (root -> 2 -> 3, parents 0 and
  // 2) leaves the first attention layer's caches as prefilling the path's
  // tokens does: its K/V rows, and for InfLLM-V2 layers the compressed
  // keys of every window that ends in them (verify compressed the tree's
  // rows in tree order; commit recomputes them). The first attention
  // layer's inputs are exact over a tree (its keys depend on no sparse
  // selection).
  {
    std::vector<int32_t> treeParents = {-1, 0, 0, 2};
    int64_t nodes = treeParents.size();
    hybrid::Tensor treeIds = make(HYBRID_DTYPE_I64, {batch, nodes});
    hybrid::Tensor pathIds = make(HYBRID_DTYPE_I64, {batch, 3});
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < nodes; ++i)
        treeIds.data<int64_t>()[b * nodes + i] =
            m.ids.data<int64_t>()[b * len + i + 1];
      for (int64_t j = 0; j < 3; ++j)
        pathIds.data<int64_t>()[b * 3 + j] =
            treeIds.data<int64_t>()[b * nodes + (j == 0 ? 0 : j + 1)];
    }
    hybrid::Tensor parents = make(HYBRID_DTYPE_I32, {nodes});
    std::copy(treeParents.begin(), treeParents.end(), parents.data<int32_t>());
    std::vector<hybrid::Tensor> committed = emptyCaches();
    ASSERT_TRUE(step("prefill", columns(m.ids, 0, len - 1), 0, committed,
                     logits)
                    .ok());
    std::vector<hybrid::Tensor> args = {treeIds, parents, scalar(len - 1)};
    args.insert(args.end(), committed.begin(), committed.end());
    std::vector<hybrid::Tensor> out;
    hybrid::Status s = m.module.invoke("verify", args, out);
    ASSERT_TRUE(s.ok()) << s.message();
    s = commit({0, 2, 3, -1}, 3, len - 1, committed, out);
    ASSERT_TRUE(s.ok()) << s.message();
    std::vector<std::string> prefillNames = m.module.argNames("prefill");

    std::vector<hybrid::Tensor> prefilled = emptyCaches();
    ASSERT_TRUE(step("prefill", columns(m.ids, 0, len - 1), 0, prefilled,
                     logits)
                    .ok());
    ASSERT_TRUE(step("prefill", pathIds, len - 1, prefilled, logits).ok());
    size_t first = 2;
    while (first < prefillNames.size() &&
           prefillNames[first].rfind("cache.", 0) != 0)
      ++first;
    ASSERT_LT(first, prefillNames.size());
    std::string layer = prefillNames[first].substr(
        0, prefillNames[first].rfind('.') + 1);
    int64_t keys = len + 2;
    for (size_t i = first; i < prefillNames.size() &&
                           prefillNames[i].rfind(layer, 0) == 0;
         ++i) {
      bool compressed =
          llvm::StringRef(prefillNames[i]).ends_with(".compressed_key");
      int64_t rows = compressed ? compressedRows(m.dir, keys) : keys;
      if (compressed)
        EXPECT_GT(rows, compressedRows(m.dir, len - 1)) << "no window ends "
                                                           "in the path";
      EXPECT_LE(compareCacheRows(committed[i - 2], prefilled[i - 2], rows), 1.0)
          << prefillNames[i] << " after commit: error / tolerance";
    }
  }

  // A recurrent state for another batch fails the call, unread.
  if (m.lightningLayers > 0) {
    std::vector<hybrid::Tensor> mismatched = emptyCaches();
    std::vector<std::string> names = m.module.argNames("prefill");
    for (size_t i = 2; i < names.size(); ++i)
      if (names[i].rfind("state.", 0) == 0) {
        std::vector<int64_t> shape = mismatched[i - 2].shape();
        shape[0] = batch + 1;
        mismatched[i - 2] = make(HYBRID_DTYPE_F32, shape);
      }
    hybrid::Status other = step("decode", columns(m.ids, 0, 1), 0,
                                mismatched, logits);
    EXPECT_FALSE(other.ok());
    EXPECT_NE(other.message().find("the initial state is not [batch"),
              std::string::npos)
        << "got: " << other.message();
  }

  // A step past the capacity, and an id outside the vocabulary.
  hybrid::Status full = step("decode", columns(m.ids, 0, 1), kCapacity,
                             caches, logits);
  EXPECT_FALSE(full.ok());
  EXPECT_NE(full.message().find("does not fit the KV cache"), std::string::npos)
      << full.message();
  // A position whose sum with the step's length would wrap around.
  hybrid::Status huge =
      step("decode", columns(m.ids, 0, 1),
           std::numeric_limits<int64_t>::max(), caches, logits);
  EXPECT_FALSE(huge.ok());
  EXPECT_NE(huge.message().find("does not fit the KV cache"), std::string::npos)
      << huge.message();
  hybrid::Tensor bad = columns(m.ids, 0, 1);
  bad.data<int64_t>()[0] = m.vocab;
  std::vector<hybrid::Tensor> out;
  hybrid::Status oov = m.module.invoke("forward", {bad}, out);
  EXPECT_FALSE(oov.ok());
  EXPECT_NE(oov.message().find("outside the vocabulary"), std::string::npos)
      << oov.message();
}

/// FR-Spec's head: logits of some vocabulary ids alone, in the order
/// given, equal those columns of the reference logits; the head's rows are
/// gathered when the weights are bound, from the embeddings when they are
/// tied (their full table still embeds the ids).
TEST(HFHeadRows, LogitsOfTheListedTokensInTheirOrder) {
  for (const char *name : {"llama-tiny", "qwen3-tiny-sharded",
                           "minicpm-sala-blockffn-tiny-bf16"}) {
    SCOPED_TRACE(name);
    mlir::hybrid::HFImportOptions options;
    options.entries = {"forward"};
    Model full;
    ASSERT_TRUE(load(name, full, options));
    int64_t vocab = full.vocab;
    // Out of order, both ends of the vocabulary, neighbours.
    options.headRows = {vocab - 1, 3, 0, vocab / 2, 4, vocab / 2 + 1};
    Model m;
    ASSERT_TRUE(load(name, m, options));
    std::vector<hybrid::Tensor> results;
    ASSERT_TRUE(m.module.invoke("forward", {m.ids}, results).ok());
    const hybrid::Tensor &got = results[0];
    int64_t k = options.headRows.size();
    ASSERT_EQ(got.shape(), (std::vector<int64_t>{m.ids.shape()[0],
                                                 m.ids.shape()[1], k}));
    double scale = 1.0, worst = 0.0;
    for (size_t i = 0; i < m.logits.numElements(); ++i)
      scale = std::max(scale, double(std::fabs(m.logits.data<float>()[i])));
    int64_t rows = m.ids.shape()[0] * m.ids.shape()[1];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < k; ++j)
        worst = std::max(
            worst, double(std::fabs(
                       got.data<float>()[r * k + j] -
                       m.logits.data<float>()[r * vocab +
                                              options.headRows[j]])));
    EXPECT_LE(worst, 1e-4 * scale);
  }
}

/// A head row outside the vocabulary, or listed twice, is refused at
/// import.
TEST(HFHeadRows, RowsOutsideTheVocabularyOrRepeatedAreRefused) {
  mlir::hybrid::HFImportOptions options;
  options.headRows = {0, 1 << 20};
  Model m;
  ::testing::AssertionResult imported = load("llama-tiny", m, options);
  EXPECT_FALSE(imported);
  EXPECT_NE(std::string(imported.message())
                .find("the LM head's token 1048576 is outside the vocabulary"),
            std::string::npos)
      << imported.message();
  options.headRows = {5, 2, 5};
  imported = load("llama-tiny", m, options);
  EXPECT_FALSE(imported);
  EXPECT_NE(std::string(imported.message())
                .find("the LM head's token 5 is listed twice"),
            std::string::npos)
      << imported.message();
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, HFCheckpoint,
                         ::testing::Values("llama-tiny", "qwen3-tiny-sharded",
                                           "minicpm4-sparse-tiny",
                                           "llama3-rope-tiny",
                                           "minicpm-longrope-tiny",
                                           "minicpm-blockffn-tiny",
                                           "minicpm-blockffn-linear-tiny",
                                           "minicpm-tiny-bf16",
                                           "minicpm-sala-tiny",
                                           "minicpm-sala-blockffn-tiny-bf16"),
                         [](const auto &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
