//===- hybrid-generate.cpp - Text generation with a compiled checkpoint ---===//
//
// hybrid-generate MODEL_DIR (--prompt TEXT | --prompt-ids ids.npy)
//     [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S]
//     [--draft DRAFT_DIR | --draft lookup] [--tree-size N --tree-depth D]
//     [--draft-vocab N] [--context N] [--sparse auto|none] [--num-threads N] [--stream] [--json]
//     [--output-ids out.npy] [--ignore-eos] [--no-bos]
//
// Tokenizes (or reads ids), prefills, decodes until EOS or the limit, and
// reports prompt length, time to first token and decode speed. The model is
// compiled once and then loaded from the compiled-model cache.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Generator.h"
#include "hybrid/Generate/Sampler.h"
#include "hybrid/Generate/Session.h"
#include "hybrid/Generate/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>


using namespace llvm;
using namespace hybrid;
using namespace hybrid::generate;

/// This tool's options: --help lists them alone (LLVM's own are hidden,
/// and still parse).
static cl::OptionCategory toolOptions("hybrid-generate options");
static cl::opt<std::string> modelDir(cl::cat(toolOptions), cl::Positional, cl::Required,
                                     cl::desc("<checkpoint folder>"));
static cl::opt<std::string> prompt(cl::cat(toolOptions), "prompt", cl::desc("Prompt text (needs "
                                                      "the folder's "
                                                      "tokenizer.model)"));
static cl::opt<std::string>
    promptIds(cl::cat(toolOptions), "prompt-ids", cl::desc("Prompt token ids: an int64 .npy, [T] "
                                     "or [1, T] (no tokenizer needed)"));
static cl::opt<int64_t> maxNewTokens(cl::cat(toolOptions), "max-new-tokens", cl::init(128),
                                     cl::desc("Tokens to generate at most"));
static cl::opt<float> temperature(cl::cat(toolOptions), "temperature", cl::init(0.0f),
                                  cl::desc("Sampling temperature (0: greedy)"));
static cl::opt<int64_t> topK(cl::cat(toolOptions), "top-k", cl::init(0),
                             cl::desc("Sample among the k most likely (0: "
                                      "all)"));
static cl::opt<float> topP(cl::cat(toolOptions), "top-p", cl::init(1.0f),
                           cl::desc("Sample within the top-p nucleus (1: "
                                    "all)"));
static cl::opt<uint64_t> seed(cl::cat(toolOptions), "seed", cl::init(0),
                              cl::desc("Seed of the sampler"));
static cl::opt<int64_t> contextLimit(cl::cat(toolOptions), "context", cl::init(4096),
                                     cl::desc("Context limit: the caches "
                                              "hold this many tokens"));
static cl::opt<std::string> sparse(cl::cat(toolOptions), "sparse", cl::init("auto"),
                                   cl::desc("auto: sparse attention as the "
                                            "checkpoint configures it; "
                                            "none: dense"));
static cl::opt<int> threads(cl::cat(toolOptions), "num-threads", cl::init(0),
                            cl::desc("Threads (0: every core)"));
static cl::opt<std::string> target(cl::cat(toolOptions), "target",
                                   cl::init("cpu"),
                                   cl::desc("Where the model runs: cpu, or "
                                            "nvptx (an NVIDIA GPU)"));
static cl::opt<bool> stream(cl::cat(toolOptions), "stream", cl::desc("Print tokens as they come"));
static cl::opt<bool> jsonOutput(cl::cat(toolOptions), "json", cl::desc("Print one JSON object: text, "
                                           "tokens and statistics"));
static cl::opt<std::string> outputIds(cl::cat(toolOptions), "output-ids",
                                      cl::desc("Write the generated ids as "
                                               "an int64 .npy [1, N]"));
static cl::opt<bool> ignoreEos(cl::cat(toolOptions), "ignore-eos",
                               cl::desc("Do not stop at the end-of-text "
                                        "token"));
static cl::opt<std::string>
    draft(cl::cat(toolOptions), "draft", cl::desc("Speculative decoding: a draft checkpoint folder "
                            "(same tokenizer), or 'lookup' for prompt "
                            "lookup"));
static cl::opt<int64_t> treeSize(cl::cat(toolOptions), "tree-size", cl::init(16),
                                 cl::desc("Draft tree nodes per verification "
                                          "(the root included)"));
static cl::opt<int64_t> treeDepth(cl::cat(toolOptions), "tree-depth", cl::init(6),
                                  cl::desc("Draft tree levels"));
static cl::opt<int64_t> draftVocab(
    cl::cat(toolOptions), "draft-vocab", cl::init(0),
    cl::desc("FR-Spec: the draft model's head scores only its N most "
             "frequent tokens (frequent_tokens.npy in its folder); 0 scores "
             "the whole vocabulary"));
static cl::opt<bool> noBos(cl::cat(toolOptions), "no-bos", cl::desc("Do not start a text prompt "
                                              "with the BOS token"));

static int fail(const std::string &message) {
  errs() << "hybrid-generate: error: " << message << "\n";
  return 1;
}

static Status readIds(const std::string &path, std::vector<int64_t> &ids) {
  Tensor t;
  if (Status s = Tensor::loadNpy(path, false, t); !s)
    return s;
  std::vector<int64_t> shape = t.shape();
  if (t.dtype() != HYBRID_DTYPE_I64 ||
      !(shape.size() == 1 || (shape.size() == 2 && shape[0] == 1)))
    return Status::error("--prompt-ids '" + path +
                         "' must hold int64 ids shaped [T] or [1, T]");
  ids.assign(t.data<int64_t>(), t.data<int64_t>() + t.numElements());
  return Status();
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "Generates text with a Hugging Face checkpoint "
                              "compiled by Hybrid\n");
  if (prompt.getNumOccurrences() == promptIds.getNumOccurrences())
    return fail("give exactly one of --prompt TEXT and --prompt-ids ids.npy");
  if (sparse != "auto" && sparse != "none")
    return fail("--sparse must be auto or none, not '" + sparse + "'");
  if (target != "cpu" && target != "nvptx")
    return fail("--target must be cpu or nvptx, not '" + target + "'");
  if (maxNewTokens < 0)
    return fail("--max-new-tokens must not be negative");
  if (treeSize < 1 || treeDepth < 1)
    return fail("--tree-size and --tree-depth must be at least 1");
  if (temperature < 0 || topK < 0 || !(topP > 0 && topP <= 1))
    return fail("sampling needs --temperature >= 0, --top-k >= 0 and "
                "--top-p in (0, 1]");

  EngineOptions options;
  options.contextLimit = contextLimit;
  options.threads = threads;
  options.sparseAttention = sparse == "auto";
  options.device = target == "nvptx" ? Device::GPU : Device::CPU;
  options.log = [](const std::string &line) {
    errs() << "hybrid-generate: " << line << "\n";
  };
  SessionOptions sessionOptions;
  sessionOptions.engine = options;
  sessionOptions.draft = draft;
  sessionOptions.treeSize = treeSize;
  sessionOptions.draftVocab = draftVocab;
  // A text prompt needs the tokenizer; with ids it only prints text.
  Session session;
  if (Status s = Session::open(modelDir, sessionOptions, session); !s)
    return fail(s.message());
  if (!prompt.empty() && !session.tokenizer())
    return fail(session.tokenizerError());
  const Tokenizer *tokenizer = session.tokenizer();
  const ModelInfo &info = session.info();

  std::vector<int64_t> ids;
  if (!promptIds.empty()) {
    if (Status s = readIds(promptIds, ids); !s)
      return fail(s.message());
  } else if (Status s = session.encodePrompt(prompt, !noBos, ids); !s) {
    return fail(s.message());
  }
  if (Status s = session.checkPrompt(ids); !s)
    return fail(s.message());
  int64_t eos = session.eos();

  GenerateOptions generation;
  generation.maxNewTokens = maxNewTokens;
  generation.sampling.temperature = temperature;
  generation.sampling.topK = topK;
  generation.sampling.topP = topP;
  generation.seed = seed;
  generation.eosToken = ignoreEos ? -1 : eos;
  generation.tree.size = treeSize;
  generation.tree.depth = treeDepth;
  // Streaming prints word by word (WordStream: each token decoded once).
  bool streaming = stream && !jsonOutput && tokenizer;
  std::optional<WordStream> words;
  if (streaming)
    words.emplace(*tokenizer);
  auto onToken = [&](int64_t token) {
    if (!streaming)
      return;
    outs() << words->push(token);
    outs().flush();
  };
  bool showProgress = int64_t(ids.size()) > options.prefillChunk && !jsonOutput;
  GenerateStats stats;
  std::vector<int64_t> tokens;
  Status s = generateTokens(
      session.engine(), session.drafter(), ids, generation, onToken, tokens,
                      stats, [&](int64_t done, int64_t total) {
                        if (showProgress)
                          errs() << "\rhybrid-generate: prefill " << done
                                 << "/" << total << " tokens";
                      });
  if (showProgress)
    errs() << "\n";
  if (!s)
    return fail(s.message());
  if (streaming)
    outs() << words->finish();
  const std::vector<int64_t> &generated = tokens;
  double tokensPerSecond =
      stats.decodeSeconds > 0 ? double(generated.size() - 1) / stats.decodeSeconds
                              : 0;

  std::string text;
  if (tokenizer)
    if (Status d = tokenizer->decode(generated, text); !d)
      return fail(d.message());
  if (!outputIds.empty()) {
    Tensor out;
    if (Status c = Tensor::create(HYBRID_DTYPE_I64,
                                  {1, int64_t(generated.size())}, out);
        !c)
      return fail(c.message());
    std::copy(generated.begin(), generated.end(), out.data<int64_t>());
    if (Status w = out.saveNpy(outputIds); !w)
      return fail(w.message());
  }

  if (jsonOutput) {
    llvm::json::Array tokenList;
    for (int64_t id : generated)
      tokenList.push_back(id);
    llvm::json::Object timings{
        {"compile_s", info.compileSeconds},
        {"prefill_s", stats.prefillSeconds},
        {"time_to_first_token_s", stats.firstTokenSeconds},
        {"decode_s", stats.decodeSeconds},
        {"draft_s", stats.draftSeconds},
        {"verify_s", stats.verifySeconds},
        {"verify_calls", stats.verifyCalls},
        {"plain_decode_s", stats.plainSeconds},
        {"plain_decode_calls", stats.plainCalls},
        {"decode_tokens_per_s", tokensPerSecond}};
    llvm::json::Object result{
        {"text", text},
        {"tokens", std::move(tokenList)},
        {"prompt_tokens", int64_t(ids.size())},
        {"stop", stats.stop},
        {"steps", stats.steps},
        {"attended_key_fraction", stats.attendedKeyFraction()},
        {"experts",
         llvm::json::Object{
             {"per_layer", GenerateStats::expertsPerLayer(stats.prefillExperts)},
             {"prefill_active_per_chunk",
              GenerateStats::activeExpertsPerChunk(stats.prefillExperts)},
             {"decode_active_per_chunk",
              GenerateStats::activeExpertsPerChunk(stats.decodeExperts)}}},
        {"mean_accepted", stats.meanAccepted()},
        {"timings", std::move(timings)}};
    outs() << llvm::json::Value(std::move(result)) << "\n";
    return 0;
  }
  if (!streaming && tokenizer)
    outs() << text;
  outs() << "\n";
  errs() << format("prompt %lld tokens, time to first token %.3f s "
                   "(prefill %.3f s)\n",
                   (long long)ids.size(), stats.firstTokenSeconds,
                   stats.prefillSeconds)
         << format("generated %lld tokens (stop: %s), decode %.1f tokens/s\n",
                   (long long)generated.size(), stats.stop.c_str(),
                   tokensPerSecond);
  if (info.denseLen >= 0)
    errs() << format("sparse attention: %.1f%% of the keys attended (the "
                     "sparse_config's budget per query)\n",
                     100.0 * stats.attendedKeyFraction());
  if (stats.prefillExperts.chunks > 0) {
    double experts = GenerateStats::expertsPerLayer(stats.prefillExperts);
    double prefill = GenerateStats::activeExpertsPerChunk(stats.prefillExperts);
    double decode = GenerateStats::activeExpertsPerChunk(stats.decodeExperts);
    errs() << format("chunk-level MoE: %.1f of %.0f experts active per chunk "
                     "in the prefill (%.0f%%), %.1f in decoding (%.0f%%)\n",
                     prefill, experts, 100.0 * prefill / experts, decode,
                     100.0 * decode / experts);
  }
  if (session.drafter())
    errs() << format("speculation: %lld verification steps, %.2f tokens "
                     "per step (mean accepted), %.3f s drafting\n",
                     (long long)stats.steps, stats.meanAccepted(),
                     stats.draftSeconds);
  return 0;
}
