//===- Engine.cpp - A compiled checkpoint with its caches -----------------===//

#include "hybrid/Generate/Engine.h"

#include "CompiledModel.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstring>
#include <malloc.h>

using namespace hybrid;
using namespace hybrid::generate;

/// vocab_size, bos_token_id / eos_token_id of config.json (-1 when absent;
/// the first of a list) and sparse_config's dense_len.
static void readConfigFields(const std::string &folder, ModelInfo &info) {
  auto buffer = llvm::MemoryBuffer::getFile(folder + "/config.json");
  if (!buffer)
    return;
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    llvm::consumeError(json.takeError());
    return;
  }
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return;
  auto token = [&](llvm::StringRef key) -> int64_t {
    const llvm::json::Value *v = root->get(key);
    if (!v)
      return -1;
    if (const llvm::json::Array *list = v->getAsArray())
      v = list->empty() ? nullptr : &list->front();
    std::optional<int64_t> id = v ? v->getAsInteger() : std::nullopt;
    return id.value_or(-1);
  };
  info.vocabSize = root->getInteger("vocab_size").value_or(0);
  info.bosToken = token("bos_token_id");
  info.eosToken = token("eos_token_id");
  if (const llvm::json::Object *sparse = root->getObject("sparse_config")) {
    info.denseLen = sparse->getInteger("dense_len").value_or(0);
    info.blockSize = sparse->getInteger("block_size").value_or(0);
    info.topk = sparse->getInteger("topk").value_or(0);
    info.windowSize = sparse->getInteger("window_size").value_or(0);
    info.kernelSize = sparse->getInteger("kernel_size").value_or(0);
    info.kernelStride = sparse->getInteger("kernel_stride").value_or(0);
  }
}

int64_t ModelInfo::kernelsIn(int64_t keys) const {
  if (kernelSize <= 0 || kernelStride <= 0 || keys < kernelSize)
    return 1;
  return (keys - kernelSize) / kernelStride + 1;
}

int64_t ModelInfo::attendedKeys(int64_t position) const {
  int64_t keys = position + 1;
  if (denseLen < 0 || keys < denseLen || blockSize <= 0)
    return keys;
  // Blocks qb - local < k <= qb are the local window; the candidates are
  // the blocks before it, of which the top-k are attended.
  int64_t queryBlock = position / blockSize;
  int64_t localBlocks = windowSize / blockSize;
  int64_t firstLocal = std::max<int64_t>(0, queryBlock - localBlocks + 1);
  return std::min(firstLocal, topk) * blockSize + (keys - firstLocal * blockSize);
}

Status Engine::open(const std::string &folder, const EngineOptions &options,
                    Engine &out) {
  if (options.contextLimit <= 0)
    return Status::error("the context limit must be positive, not " +
                         std::to_string(options.contextLimit));
  // A step allocates its intermediates afresh (a prefill chunk's
  // activations: megabytes). glibc serves blocks past its mmap threshold
  // with fresh mappings, so every step page-faults them in again; kept on
  // the heap they are reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CompiledModel compiled;
  if (Status s = compiledCheckpoint(folder, options.sparseAttention,
                                    options.headTokens, options.device,
                                    options.cacheDir, options.log, compiled);
      !s)
    return s;
  Engine e;
  e.options_ = options;
  e.info_.compiled = compiled.compiled;
  e.info_.compileSeconds = compiled.compileSeconds;
  if (Status s = Module::load(compiled.sharedObject, e.module_); !s)
    return s;
  if (Status s = e.module_.bindParameters(folder); !s)
    return s;
  if (options.threads > 0)
    if (Status s = e.module_.setNumThreads(options.threads); !s)
      return s;
  std::vector<std::string> entries = e.module_.entryPoints();
  for (const char *entry : {"prefill", "decode"})
    if (std::find(entries.begin(), entries.end(), entry) == entries.end())
      return Status::error("the compiled model has no '" + std::string(entry) +
                           "' entry point");

  readConfigFields(folder, e.info_);
  // The caches and states: prefill's arguments after ids and position,
  // shaped by the module (batch 1, every dynamic length the context limit,
  // the compressed keys' the kernel windows in it), zeroed: a fresh state
  // is zero, and caches must hold finite values.
  std::vector<std::string> names = e.module_.argNames("prefill");
  for (size_t i = 2; i < names.size(); ++i) {
    hybrid_value_info arg;
    if (Status s = e.module_.argInfo("prefill", i, arg); !s)
      return s;
    std::vector<int64_t> shape(arg.shape, arg.shape + arg.rank);
    bool compressed = llvm::StringRef(names[i]).ends_with(".compressed_key");
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] < 0)
        shape[d] = d == 0       ? 1
                   : compressed ? e.info_.kernelsIn(options.contextLimit)
                                : options.contextLimit;
    Tensor t;
    if (Status s = Tensor::create(arg.dtype, shape, t); !s)
      return Status::error("cannot allocate '" + names[i] + "' for " +
                           std::to_string(options.contextLimit) +
                           " tokens: " + s.message());
    size_t bytes = t.numElements() * hybrid_dtype_size(arg.dtype);
    std::memset(t.data(), 0, bytes);
    e.info_.cacheBytes += bytes;
    llvm::StringRef name(names[i]);
    e.info_.lightningLayers += name.starts_with("state.");
    e.info_.attentionLayers += name.starts_with("cache.") &&
                               name.ends_with(".key");
    e.caches_.push_back(std::move(t));
    e.cacheNames_.push_back(names[i]);
  }
  auto has = [&](const char *entry) {
    return std::find(entries.begin(), entries.end(), entry) != entries.end();
  };
  e.info_.canVerify = has("verify") && has("commit");
  e.hasChainVerify_ = has("verify_chain");
  hybrid_value_info logits;
  if (Status s(hybrid_module_entry_result(e.module_.get(), "prefill", 0,
                                          &logits));
      !s)
    return s;
  e.info_.logitColumns = logits.shape[logits.rank - 1];
  e.info_.headTokens = options.headTokens;
  if (options.headTokens.empty())
    e.info_.vocabSize = e.info_.logitColumns;
  if (!options.sparseAttention)
    e.info_.denseLen = -1;
  out = std::move(e);
  return Status();
}

Status Engine::step(const std::string &entry, const std::vector<int64_t> &ids,
                    std::vector<float> &logits) {
  int64_t n = ids.size();
  Tensor idTensor, position;
  if (Status s = Tensor::create(HYBRID_DTYPE_I64, {1, n}, idTensor); !s)
    return s;
  std::copy(ids.begin(), ids.end(), idTensor.data<int64_t>());
  if (Status s = Tensor::create(HYBRID_DTYPE_I64, {}, position); !s)
    return s;
  *position.data<int64_t>() = position_;
  std::vector<Tensor> args = {idTensor, position};
  args.insert(args.end(), caches_.begin(), caches_.end());
  std::vector<Tensor> results;
  if (Status s = module_.invoke(entry, args, results); !s)
    return s;
  const Tensor &all = results[0]; // [1, n, vocab]
  const float *last = all.data<float>() + (n - 1) * info_.logitColumns;
  logits.assign(last, last + info_.logitColumns);
  position_ += n;
  return Status();
}

Status Engine::prefill(const std::vector<int64_t> &ids,
                       std::vector<float> &logits,
                       const std::function<void(int64_t, int64_t)> &progress) {
  int64_t total = ids.size();
  if (total == 0)
    return Status::error("the prompt is empty: give at least one token");
  if (total > options_.contextLimit - position_)
    return Status::error(
        "the prompt (" + std::to_string(total) + " tokens" +
        (position_ ? " after " + std::to_string(position_) + " cached" : "") +
        ") does not fit the context limit of " +
        std::to_string(options_.contextLimit) +
        " tokens: raise the limit (--context)");
  for (int64_t done = 0; done < total;) {
    int64_t n = std::min(options_.prefillChunk, total - done);
    std::vector<int64_t> chunk(ids.begin() + done, ids.begin() + done + n);
    if (Status s = step("prefill", chunk, logits); !s)
      return s;
    done += n;
    if (progress)
      progress(done, total);
  }
  return Status();
}

Status Engine::decode(int64_t token, std::vector<float> &logits) {
  if (position_ >= options_.contextLimit)
    return Status::error("the context limit of " +
                         std::to_string(options_.contextLimit) +
                         " tokens is reached");
  return step("decode", {token}, logits);
}

Status Engine::verify(const std::vector<int64_t> &tokens,
                      const std::vector<int32_t> &parents,
                      std::vector<float> &logits) {
  int64_t n = tokens.size();
  if (!info_.canVerify)
    return Status::error("the compiled model has no verify/commit entry "
                         "points: it cannot check draft trees");
  if (n == 0 || parents.size() != tokens.size())
    return Status::error("a draft tree needs one parent per token, and at "
                         "least the root");
  if (n > options_.contextLimit - position_)
    return Status::error("a draft tree of " + std::to_string(n) +
                         " nodes after " + std::to_string(position_) +
                         " tokens does not fit the context limit of " +
                         std::to_string(options_.contextLimit));
  Tensor ids, parentTensor, position;
  if (Status s = Tensor::create(HYBRID_DTYPE_I64, {1, n}, ids); !s)
    return s;
  std::copy(tokens.begin(), tokens.end(), ids.data<int64_t>());
  if (Status s = Tensor::create(HYBRID_DTYPE_I32, {n}, parentTensor); !s)
    return s;
  std::copy(parents.begin(), parents.end(), parentTensor.data<int32_t>());
  if (Status s = Tensor::create(HYBRID_DTYPE_I64, {}, position); !s)
    return s;
  *position.data<int64_t>() = position_;
  // A chain verifies as consecutive tokens (verify_chain): its sparse
  // layers then select blocks per token exactly as decode does, where a
  // branching tree's nodes share one selection.
  bool chain = hasChainVerify_;
  for (int64_t i = 0; i < n && chain; ++i)
    chain = parents[i] == i - 1;
  std::vector<Tensor> args = {ids};
  if (!chain)
    args.push_back(parentTensor);
  args.push_back(position);
  args.insert(args.end(), caches_.begin(), caches_.end());
  std::vector<Tensor> results;
  if (Status s = module_.invoke(chain ? "verify_chain" : "verify", args,
                                results);
      !s)
    return s;
  const float *all = results[0].data<float>();
  logits.assign(all, all + n * info_.logitColumns);
  treeStates_.assign(results.begin() + 1, results.end());
  treeSize_ = n;
  return Status();
}

Status Engine::commit(const std::vector<int32_t> &path) {
  int64_t length = path.size();
  if (treeSize_ == 0)
    return Status::error("commit without a verified draft tree");
  if (length < 1 || length > treeSize_ || path[0] != 0)
    return Status::error("a committed path starts at the root and has at "
                         "most the tree's nodes");
  Tensor pathTensor, lengthTensor, position;
  if (Status s = Tensor::create(HYBRID_DTYPE_I32, {treeSize_}, pathTensor); !s)
    return s;
  std::fill_n(pathTensor.data<int32_t>(), treeSize_, -1);
  std::copy(path.begin(), path.end(), pathTensor.data<int32_t>());
  if (Status s = Tensor::create(HYBRID_DTYPE_I32, {}, lengthTensor); !s)
    return s;
  *lengthTensor.data<int32_t>() = int32_t(length);
  if (Status s = Tensor::create(HYBRID_DTYPE_I64, {}, position); !s)
    return s;
  *position.data<int64_t>() = position_;
  // commit's arguments by name: the caches and states, and the tree
  // states in lightning-layer order.
  std::vector<Tensor> args = {pathTensor, lengthTensor, position};
  std::vector<std::string> names = module_.argNames("commit");
  size_t treeState = 0;
  for (size_t i = 3; i < names.size(); ++i) {
    if (llvm::StringRef(names[i]).starts_with("tree_state.")) {
      if (treeState >= treeStates_.size())
        return Status::error("commit needs more tree states than verify "
                             "returned");
      args.push_back(treeStates_[treeState++]);
      continue;
    }
    auto it = std::find(cacheNames_.begin(), cacheNames_.end(), names[i]);
    if (it == cacheNames_.end())
      return Status::error("commit takes '" + names[i] +
                           "', which prefill does not");
    args.push_back(caches_[it - cacheNames_.begin()]);
  }
  std::vector<Tensor> results;
  if (Status s = module_.invoke("commit", args, results); !s)
    return s;
  position_ += length;
  treeSize_ = 0;
  treeStates_.clear();
  return Status();
}

Status Engine::rewind(int64_t position) {
  if (info_.lightningLayers > 0)
    return Status::error("a model with recurrent states cannot be rewound");
  if (position < 0 || position > position_)
    return Status::error("cannot rewind to " + std::to_string(position) +
                         " from " + std::to_string(position_));
  position_ = position;
  treeSize_ = 0;
  treeStates_.clear();
  return Status();
}

Status Engine::save(Saved &out) const {
  out.position = position_;
  // A Saved of this engine's states is reused: a drafter saves every step.
  size_t k = 0;
  for (size_t i = 0; i < caches_.size(); ++i) {
    if (!llvm::StringRef(cacheNames_[i]).starts_with("state."))
      continue;
    if (k == out.states.size() ||
        out.states[k].shape() != caches_[i].shape() ||
        out.states[k].dtype() != caches_[i].dtype()) {
      out.states.resize(k);
      Tensor copy;
      if (Status s =
              Tensor::create(caches_[i].dtype(), caches_[i].shape(), copy);
          !s)
        return s;
      out.states.push_back(std::move(copy));
    }
    std::memcpy(out.states[k++].data(), caches_[i].data(),
                caches_[i].numElements() * hybrid_dtype_size(caches_[i].dtype()));
  }
  out.states.resize(k);
  return Status();
}

Status Engine::restore(const Saved &saved) {
  if (saved.position > position_)
    return Status::error("cannot restore a later position");
  size_t k = 0;
  for (size_t i = 0; i < caches_.size(); ++i) {
    if (!llvm::StringRef(cacheNames_[i]).starts_with("state."))
      continue;
    if (k >= saved.states.size())
      return Status::error("the saved states do not match the model");
    std::memcpy(caches_[i].data(), saved.states[k++].data(),
                caches_[i].numElements() * hybrid_dtype_size(caches_[i].dtype()));
  }
  position_ = saved.position;
  treeSize_ = 0;
  treeStates_.clear();
  return Status();
}

void Engine::reset() {
  position_ = 0;
  treeSize_ = 0;
  treeStates_.clear();
  for (size_t i = 0; i < caches_.size(); ++i)
    if (llvm::StringRef(cacheNames_[i]).starts_with("state."))
      std::memset(caches_[i].data(), 0,
                  caches_[i].numElements() *
                      hybrid_dtype_size(caches_[i].dtype()));
}
