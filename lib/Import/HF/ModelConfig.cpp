//===- ModelConfig.cpp - A checkpoint's config.json -----------------------===//

#include "ModelConfig.h"

#include "hybrid/Dialect/Hybrid/IR/HybridAttrs.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using namespace mlir::hybrid;
using namespace mlir::hybrid::hf;

/// Layers a config may declare: deeper than any released model by far,
/// small enough that a hostile config cannot make the importer allocate
/// per-layer state without bound.
static constexpr int64_t kMaxLayers = 4096;

namespace {

/// Reads fields of config.json, reporting the first problem.
struct ConfigReader {
  const llvm::json::Object &json;
  Location loc;
  /// How messages name this object's fields ("sparse_config." inside it).
  std::string prefix;
  bool ok = true;

  InFlightDiagnostic error() {
    ok = false;
    return emitError(loc) << "config.json: ";
  }
  bool has(StringRef key) {
    const llvm::json::Value *v = json.get(key);
    return v && v->kind() != llvm::json::Value::Null;
  }
  int64_t integer(StringRef key, std::optional<int64_t> fallback = {}) {
    if (!has(key)) {
      if (!fallback && ok)
        error() << "'" << prefix << key << "' is missing";
      return fallback.value_or(0);
    }
    std::optional<int64_t> v = json.getInteger(key);
    if (!v || *v <= 0) {
      if (ok)
        error() << "'" << prefix << key << "' must be a positive integer";
      // Never a size to build with (-1 layers became 2^64 - 1).
      return 0;
    }
    return *v;
  }
  /// A required integer that may be 0.
  int64_t count(StringRef key) {
    if (!has(key)) {
      if (ok)
        error() << "'" << prefix << key << "' is missing";
      return 0;
    }
    std::optional<int64_t> v = json.getInteger(key);
    if (!v || *v < 0) {
      if (ok)
        error() << "'" << prefix << key << "' must be a non-negative integer";
      return 0;
    }
    return *v;
  }
  double number(StringRef key, double fallback) {
    if (!has(key))
      return fallback;
    std::optional<double> v = json.getNumber(key);
    if (!v && ok)
      error() << "'" << prefix << key << "' must be a number";
    return v.value_or(fallback);
  }
  bool boolean(StringRef key, bool fallback) {
    if (!has(key))
      return fallback;
    std::optional<bool> v = json.getBoolean(key);
    if (!v && ok)
      error() << "'" << prefix << key << "' must be true or false";
    return v.value_or(fallback);
  }
  /// A boolean field that must be false (or absent): the importer has no
  /// code for it being set.
  void mustBeFalse(StringRef key) {
    if (boolean(key, false) && ok)
      error() << "'" << prefix << key << "' = true is not supported";
  }
  /// A string field that must have `expected` (or be absent).
  void mustBe(StringRef key, StringRef expected) {
    if (!has(key))
      return;
    std::optional<StringRef> v = json.getString(key);
    if ((!v || *v != expected) && ok)
      error() << "'" << prefix << key << "' = "
              << (v ? ("'" + *v + "'").str() : std::string("a non-string"))
              << " is not supported (only '" << expected << "')";
  }
};

/// rope_theta and the RoPE scaling, from the old spelling (rope_theta,
/// rope_scaling) or the new one (rope_parameters). Default, linear, Llama
/// 3.1 and LongRoPE are implemented; partial rotation is not.
void readRope(ConfigReader &r, DecoderConfig &c) {
  c.ropeTheta = r.number("rope_theta", 10000.0);
  if (r.ok && r.number("partial_rotary_factor", 1.0) != 1.0)
    r.error() << "'partial_rotary_factor' other than 1 is not supported yet";
  for (StringRef key : {"rope_scaling", "rope_parameters"}) {
    if (!r.has(key))
      continue;
    const llvm::json::Object *json = r.json.getObject(key);
    if (!json) {
      r.error() << "'" << key << "' must be an object";
      return;
    }
    ConfigReader rope{*json, r.loc, (key + ".").str()};
    std::optional<StringRef> type = json->getString("rope_type");
    if (!type)
      type = json->getString("type");
    c.ropeTheta = rope.number("rope_theta", c.ropeTheta);
    RopeScaling &s = c.rope;
    auto factors = [&](StringRef name, SmallVector<double> &out) {
      const llvm::json::Array *a = json->getArray(name);
      if (!a || int64_t(a->size()) != c.headDim / 2) {
        if (rope.ok)
          rope.error() << "'" << rope.prefix << name << "' must list "
                       << c.headDim / 2 << " numbers (head_dim / 2)";
        return;
      }
      for (const llvm::json::Value &v : *a) {
        std::optional<double> x = v.getAsNumber();
        if ((!x || *x <= 0) && rope.ok)
          rope.error() << "'" << rope.prefix << name
                       << "' must hold positive numbers";
        out.push_back(x.value_or(1.0));
      }
    };
    if (!type || *type == "default") {
      s.kind = RopeScaling::Kind::Default;
    } else if (*type == "linear") {
      s.kind = RopeScaling::Kind::Linear;
      s.factor = rope.number("factor", 0.0);
      if (rope.ok && s.factor <= 0)
        rope.error() << "'" << rope.prefix << "factor' must be positive";
    } else if (*type == "llama3") {
      s.kind = RopeScaling::Kind::Llama3;
      s.factor = rope.number("factor", 0.0);
      s.lowFreqFactor = rope.number("low_freq_factor", 0.0);
      s.highFreqFactor = rope.number("high_freq_factor", 0.0);
      s.originalMaxPositions = rope.integer("original_max_position_embeddings");
      if (rope.ok && (s.factor <= 0 || s.lowFreqFactor <= 0 ||
                      s.highFreqFactor <= s.lowFreqFactor))
        rope.error() << "llama3 scaling needs factor > 0 and "
                        "high_freq_factor > low_freq_factor > 0";
    } else if (*type == "longrope") {
      s.kind = RopeScaling::Kind::LongRope;
      s.originalMaxPositions = rope.integer("original_max_position_embeddings");
      factors("short_factor", s.shortFactor);
      factors("long_factor", s.longFactor);
      // transformers: factor defaults to max_position_embeddings / the
      // original, and the attention factor to sqrt(1 + ln f / ln orig).
      double maxPositions = r.number("max_position_embeddings", 0.0);
      s.factor = rope.number("factor", s.originalMaxPositions > 0
                                           ? maxPositions /
                                                 s.originalMaxPositions
                                           : 1.0);
      double fallback =
          s.factor <= 1.0 || s.originalMaxPositions <= 1
              ? 1.0
              : std::sqrt(1.0 + std::log(s.factor) /
                                    std::log(double(s.originalMaxPositions)));
      s.attentionFactor = rope.number("attention_factor", fallback);
    } else {
      rope.error() << "'" << key << "' of type '" << *type
                   << "' is not supported yet (default, linear, llama3, "
                      "longrope)";
    }
    if (!rope.ok) {
      r.ok = false;
      return;
    }
  }
}

/// MiniCPM4's sparse_config; every field is required except use_nope,
/// which must be false (compressed keys from the RoPE'd keys).
void readSparseConfig(ConfigReader &r, DecoderConfig &c) {
  const llvm::json::Object *json = r.json.getObject("sparse_config");
  if (!json) {
    r.error() << "'sparse_config' must be an object";
    return;
  }
  ConfigReader sparse{*json, r.loc, "sparse_config."};
  SparseAttentionConfig s;
  s.kernelSize = sparse.integer("kernel_size");
  s.kernelStride = sparse.integer("kernel_stride");
  s.blockSize = sparse.integer("block_size");
  s.topk = sparse.integer("topk");
  s.initBlocks = sparse.count("init_blocks");
  s.windowSize = sparse.count("window_size");
  s.denseLen = sparse.count("dense_len");
  s.useNope = sparse.boolean("use_nope", false);
  // The dialect's own rules (divisibility of the windows and blocks).
  if (sparse.ok &&
      failed(SparseConfigAttr::verify(
          [&] { return sparse.error(); }, s.kernelSize, s.kernelStride,
          s.blockSize, s.topk, s.initBlocks, s.windowSize, s.denseLen)))
    sparse.ok = false;
  if (!sparse.ok) {
    r.ok = false;
    return;
  }
  c.sparse = s;
}

/// BlockFFN's MLP fields (thunlp/BlockFFN's MiniCPMConfig): ffn_type,
/// num_experts, expert_size, router_act, norm_after_router; the paper's
/// router (ReLU, then RMSNorm) is the one hybrid.chunk_moe implements.
void readFFNType(ConfigReader &r, DecoderConfig &c) {
  std::optional<StringRef> type = r.json.getString("ffn_type");
  if (r.has("ffn_type") && !type) {
    r.error() << "'ffn_type' must be a string";
    return;
  }
  if (!type || *type == "vanilla") {
    r.mustBe("attention_type", "vanilla");
    if (!r.boolean("ffn_gated", true) && r.ok)
      r.error() << "'ffn_gated' = false is not supported";
    return;
  }
  if (*type != "block" && *type != "block_linear") {
    r.error() << "'ffn_type' = '" << *type
              << "' is not supported ('vanilla', 'block', 'block_linear')";
    return;
  }
  r.mustBe("attention_type", "vanilla");
  r.mustBe("router_act", "relu");
  // transformers' MiniCPMConfig defaults norm_after_router to "sum".
  std::optional<StringRef> norm = r.json.getString("norm_after_router");
  if (r.ok && (!norm || *norm != "rms"))
    r.error() << "'norm_after_router' = '" << (norm ? *norm : "sum")
              << "' is not supported (only 'rms', BlockFFN's router)";
  BlockFFNConfig f;
  f.numExperts = r.integer("num_experts");
  f.expertSize = r.integer("expert_size");
  f.linearLayout = *type == "block_linear";
  if (r.ok)
    c.blockFFN = f;
}

/// MiniCPM-SALA's layer mix and Lightning Attention fields, as the
/// checkpoint's config.json spells them: `mixer_types` (one per layer:
/// "minicpm4" for an attention layer, "lightning-attn" for a lightning
/// one), HyPE's `attn_use_rope` / `lightning_use_rope`, `lightning_nh`,
/// `lightning_nkv`, `lightning_head_dim`, `lightning_scale`, `qk_norm`,
/// `use_output_norm`, `use_output_gate`, `attn_use_output_gate`. Absent
/// fields take the defaults of the published SALA ports.
void readMixers(ConfigReader &r, DecoderConfig &c) {
  const llvm::json::Array *types = r.json.getArray("mixer_types");
  if (!types || int64_t(types->size()) != c.numLayers) {
    r.error() << "'mixer_types' must list one mixer per layer ("
              << c.numLayers << " layers)";
    return;
  }
  for (auto [i, v] : llvm::enumerate(*types)) {
    std::optional<StringRef> type = v.getAsString();
    if (type == "minicpm4") {
      c.mixers[i] = MixerKind::Attention;
    } else if (type == "lightning-attn" || type == "lightning_attn" ||
               type == "lightning") {
      c.mixers[i] = MixerKind::Lightning;
    } else {
      r.error() << "'mixer_types[" << i << "]' = "
                << (type ? ("'" + *type + "'").str()
                         : std::string("a non-string"))
                << " is not supported ('minicpm4', 'lightning-attn')";
      return;
    }
  }
  c.attentionRope = r.boolean("attn_use_rope", false);
  c.attentionOutputGate = r.boolean("attn_use_output_gate", false);
  LightningConfig l;
  l.numHeads = r.integer("lightning_nh", c.numHeads);
  l.numKVHeads = r.integer("lightning_nkv", c.numKVHeads);
  l.headDim = r.integer("lightning_head_dim", c.headDim);
  l.rope = r.boolean("lightning_use_rope", true);
  l.qkNorm = r.boolean("qk_norm", false);
  l.outputNorm = r.boolean("use_output_norm", false);
  l.outputGate = r.boolean("use_output_gate", false);
  if (!r.ok)
    return;
  if (l.numHeads % l.numKVHeads != 0) {
    r.error() << "lightning_nh " << l.numHeads
              << " is not a multiple of lightning_nkv " << l.numKVHeads;
    return;
  }
  if (l.rope && l.headDim != c.headDim) {
    r.error() << "'lightning_head_dim' " << l.headDim
              << " differs from head_dim " << c.headDim
              << " with lightning_use_rope: not supported yet";
    return;
  }
  std::optional<StringRef> scale = r.json.getString("lightning_scale");
  if (r.has("lightning_scale") && !scale) {
    r.error() << "'lightning_scale' must be a string";
    return;
  }
  if (!scale || *scale == "1/sqrt(d)")
    l.scale = 1.0 / std::sqrt(double(l.headDim));
  else if (*scale == "1/d")
    l.scale = 1.0 / double(l.headDim);
  else if (*scale == "1")
    l.scale = 1.0;
  else {
    r.error() << "'lightning_scale' = '" << *scale
              << "' is not supported ('1/sqrt(d)', '1/d', '1')";
    return;
  }
  if (llvm::is_contained(c.mixers, MixerKind::Lightning))
    c.lightning = l;
}

} // namespace

FailureOr<DecoderConfig> mlir::hybrid::hf::readConfig(StringRef folder,
                                                      Location loc) {
  SmallString<256> path(folder);
  llvm::sys::path::append(path, "config.json");
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return emitError(loc) << "cannot read '" << path
                          << "': a Hugging Face checkpoint folder has a "
                             "config.json";
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return emitError(loc) << "config.json is not JSON ("
                          << llvm::toString(json.takeError()) << ")";
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return emitError(loc) << "config.json is not a JSON object";
  ConfigReader r{*root, loc, ""};
  DecoderConfig c;

  const llvm::json::Array *archs = root->getArray("architectures");
  if (!archs || archs->size() != 1 || !(*archs)[0].getAsString())
    return emitError(loc)
           << "config.json: 'architectures' must name one architecture";
  c.architecture = (*archs)[0].getAsString()->str();
  bool llama = c.architecture == "LlamaForCausalLM",
       qwen3 = c.architecture == "Qwen3ForCausalLM",
       sala = c.architecture == "MiniCPMSALAForCausalLM",
       minicpm = sala || c.architecture == "MiniCPMForCausalLM";
  if (!llama && !qwen3 && !minicpm)
    return emitError(loc) << "config.json: architecture '" << c.architecture
                          << "' is not supported (LlamaForCausalLM, "
                             "Qwen3ForCausalLM, MiniCPMForCausalLM, "
                             "MiniCPMSALAForCausalLM)";

  c.vocabSize = r.integer("vocab_size");
  c.hiddenSize = r.integer("hidden_size");
  // BlockFFN checkpoints need no intermediate_size.
  c.intermediateSize = r.integer("intermediate_size", 1);
  c.numLayers = r.integer("num_hidden_layers");
  // A bound on what a header can make the importer allocate.
  if (r.ok && c.numLayers > kMaxLayers)
    r.error() << "'num_hidden_layers' " << c.numLayers
              << " is implausible (at most " << kMaxLayers << ")";
  c.mixers.assign(r.ok ? c.numLayers : 0, MixerKind::Attention);
  c.numHeads = r.integer("num_attention_heads");
  c.numKVHeads = r.integer("num_key_value_heads", c.numHeads);
  if (r.ok && c.hiddenSize % c.numHeads != 0 && !r.has("head_dim"))
    r.error() << "hidden_size " << c.hiddenSize << " is not a multiple of "
              << c.numHeads << " heads, and there is no head_dim";
  c.headDim = r.integer("head_dim", r.ok ? c.hiddenSize / c.numHeads : 1);
  if (r.ok && c.numHeads % c.numKVHeads != 0)
    r.error() << "num_attention_heads " << c.numHeads
              << " is not a multiple of num_key_value_heads " << c.numKVHeads;
  if (r.ok && c.headDim % 2 != 0)
    r.error() << "head_dim " << c.headDim << " is odd: RoPE pairs features";
  c.rmsNormEps = r.number("rms_norm_eps", 1e-6);
  // transformers' defaults per architecture when the field is absent.
  c.tieWordEmbeddings = r.boolean("tie_word_embeddings", minicpm);
  r.mustBe("hidden_act", "silu");
  r.mustBeFalse("attention_bias");
  r.mustBeFalse("mlp_bias");
  readRope(r, c);
  if (qwen3) {
    c.qkNorm = true;
    r.mustBeFalse("use_sliding_window");
  }
  if (minicpm) {
    if (r.has("sparse_config"))
      readSparseConfig(r, c);
    if (r.has("use_mup") && !r.boolean("use_mup", true) && r.ok)
      r.error() << "'use_mup' = false is not supported";
    readFFNType(r, c);
    if (r.ok && (sala || r.has("mixer_types")))
      readMixers(r, c);
    if (r.ok && c.sparse && c.sparse->useNope && c.attentionRope)
      r.error() << "'sparse_config.use_nope' = true with RoPE'd attention "
                   "layers is not supported yet";
    c.embeddingScale = r.number("scale_emb", 1.0);
    c.residualScale =
        r.number("scale_depth", 1.0) / std::sqrt(double(c.numLayers));
    c.logitInputScale =
        r.number("dim_model_base", double(c.hiddenSize)) / double(c.hiddenSize);
  }
  if (!r.ok)
    return failure();
  return c;
}
