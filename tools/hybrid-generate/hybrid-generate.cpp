//===- hybrid-generate.cpp - Text generation with a compiled checkpoint ---===//
//
// hybrid-generate MODEL_DIR (--prompt TEXT | --prompt-ids ids.npy)
//     [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S]
//     [--context N] [--sparse auto|none] [--num-threads N] [--stream] [--json]
//     [--output-ids out.npy] [--ignore-eos] [--no-bos]
//
// Tokenizes (or reads ids), prefills, decodes until EOS or the limit, and
// reports prompt length, time to first token and decode speed. The model is
// compiled once and then loaded from the compiled-model cache.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Sampler.h"
#include "hybrid/Generate/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;
using namespace hybrid;
using namespace hybrid::generate;

static cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                     cl::desc("<checkpoint folder>"));
static cl::opt<std::string> prompt("prompt", cl::desc("Prompt text (needs "
                                                      "the folder's "
                                                      "tokenizer.model)"));
static cl::opt<std::string>
    promptIds("prompt-ids", cl::desc("Prompt token ids: an int64 .npy, [T] "
                                     "or [1, T] (no tokenizer needed)"));
static cl::opt<int64_t> maxNewTokens("max-new-tokens", cl::init(128),
                                     cl::desc("Tokens to generate at most"));
static cl::opt<float> temperature("temperature", cl::init(0.0f),
                                  cl::desc("Sampling temperature (0: greedy)"));
static cl::opt<int64_t> topK("top-k", cl::init(0),
                             cl::desc("Sample among the k most likely (0: "
                                      "all)"));
static cl::opt<float> topP("top-p", cl::init(1.0f),
                           cl::desc("Sample within the top-p nucleus (1: "
                                    "all)"));
static cl::opt<uint64_t> seed("seed", cl::init(0),
                              cl::desc("Seed of the sampler"));
static cl::opt<int64_t> contextLimit("context", cl::init(4096),
                                     cl::desc("Context limit: the caches "
                                              "hold this many tokens"));
static cl::opt<std::string> sparse("sparse", cl::init("auto"),
                                   cl::desc("auto: sparse attention as the "
                                            "checkpoint configures it; "
                                            "none: dense"));
static cl::opt<int> threads("num-threads", cl::init(0),
                            cl::desc("Threads (0: every core)"));
static cl::opt<bool> stream("stream", cl::desc("Print tokens as they come"));
static cl::opt<bool> jsonOutput("json", cl::desc("Print one JSON object: text, "
                                           "tokens and statistics"));
static cl::opt<std::string> outputIds("output-ids",
                                      cl::desc("Write the generated ids as "
                                               "an int64 .npy [1, N]"));
static cl::opt<bool> ignoreEos("ignore-eos",
                               cl::desc("Do not stop at the end-of-text "
                                        "token"));
static cl::opt<bool> noBos("no-bos", cl::desc("Do not start a text prompt "
                                              "with the BOS token"));

static int fail(const std::string &message) {
  errs() << "hybrid-generate: error: " << message << "\n";
  return 1;
}

static double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
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
  cl::ParseCommandLineOptions(argc, argv,
                              "Generates text with a Hugging Face checkpoint "
                              "compiled by Hybrid\n");
  if (prompt.getNumOccurrences() == promptIds.getNumOccurrences())
    return fail("give exactly one of --prompt TEXT and --prompt-ids ids.npy");
  if (sparse != "auto" && sparse != "none")
    return fail("--sparse must be auto or none, not '" + sparse + "'");
  if (maxNewTokens < 0)
    return fail("--max-new-tokens must not be negative");
  if (temperature < 0 || topK < 0 || !(topP > 0 && topP <= 1))
    return fail("sampling needs --temperature >= 0, --top-k >= 0 and "
                "--top-p in (0, 1]");

  // The tokenizer: needed for a text prompt; with ids, only to print text.
  Tokenizer tokenizer;
  Status tokenizerStatus = Tokenizer::load(modelDir, tokenizer);
  if (!prompt.empty() && !tokenizerStatus)
    return fail(tokenizerStatus.message());

  EngineOptions options;
  options.contextLimit = contextLimit;
  options.threads = threads;
  options.sparseAttention = sparse == "auto";
  options.log = [](const std::string &line) {
    errs() << "hybrid-generate: " << line << "\n";
  };
  Engine engine;
  if (Status s = Engine::open(modelDir, options, engine); !s)
    return fail(s.message());
  const ModelInfo &info = engine.info();
  if (tokenizerStatus && tokenizer.vocabSize() > info.vocabSize)
    return fail("the tokenizer has " + std::to_string(tokenizer.vocabSize()) +
                " tokens, the model's vocabulary " +
                std::to_string(info.vocabSize));

  std::vector<int64_t> ids;
  if (!promptIds.empty()) {
    if (Status s = readIds(promptIds, ids); !s)
      return fail(s.message());
  } else {
    if (Status s = tokenizer.encode(prompt, ids); !s)
      return fail(s.message());
    int64_t bos = info.bosToken >= 0 ? info.bosToken : tokenizer.bos();
    if (!noBos && bos >= 0)
      ids.insert(ids.begin(), bos);
  }
  for (int64_t id : ids)
    if (id < 0 || id >= info.vocabSize)
      return fail("prompt token " + std::to_string(id) +
                  " is outside the vocabulary [0, " +
                  std::to_string(info.vocabSize) + ")");
  int64_t eos = info.eosToken >= 0 ? info.eosToken
                                   : (tokenizerStatus ? tokenizer.eos() : -1);

  // Prefill, with a progress line when it takes several calls.
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  bool showProgress = int64_t(ids.size()) > options.prefillChunk && !jsonOutput;
  Status s = engine.prefill(ids, logits, [&](int64_t done, int64_t total) {
    if (showProgress)
      errs() << "\rhybrid-generate: prefill " << done << "/" << total
             << " tokens";
  });
  if (showProgress)
    errs() << "\n";
  if (!s)
    return fail(s.message());
  double prefillSeconds = secondsSince(start);

  SamplingOptions sampling;
  sampling.temperature = temperature;
  sampling.topK = topK;
  sampling.topP = topP;
  Random random(seed);
  std::vector<int64_t> generated;
  std::string printed, stopReason = "length";
  double firstTokenSeconds = 0;
  auto decodeStart = std::chrono::steady_clock::now();
  auto emit = [&]() {
    if (!stream || jsonOutput || !tokenizerStatus)
      return;
    std::string text;
    if (tokenizer.decode(generated, text) && text.size() > printed.size() &&
        text.compare(0, printed.size(), printed) == 0) {
      outs() << text.substr(printed.size());
      outs().flush();
      printed = text;
    }
  };
  while (int64_t(generated.size()) < maxNewTokens) {
    int64_t next =
        sampleToken(logits.data(), info.vocabSize, sampling, random);
    if (generated.empty()) {
      firstTokenSeconds = secondsSince(start);
      decodeStart = std::chrono::steady_clock::now();
    }
    if (next == eos && !ignoreEos) {
      stopReason = "eos";
      break;
    }
    generated.push_back(next);
    emit();
    if (int64_t(generated.size()) == maxNewTokens)
      break;
    if (engine.position() >= engine.contextLimit()) {
      stopReason = "context";
      break;
    }
    if (Status d = engine.decode(next, logits); !d)
      return fail(d.message());
  }
  double decodeSeconds = generated.size() > 1 ? secondsSince(decodeStart) : 0;
  double tokensPerSecond =
      decodeSeconds > 0 ? double(generated.size() - 1) / decodeSeconds : 0;

  std::string text;
  if (tokenizerStatus)
    if (Status d = tokenizer.decode(generated, text); !d)
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
    llvm::json::Array tokens;
    for (int64_t id : generated)
      tokens.push_back(id);
    llvm::json::Object timings{
        {"compile_s", info.compileSeconds},
        {"prefill_s", prefillSeconds},
        {"time_to_first_token_s", firstTokenSeconds},
        {"decode_s", decodeSeconds},
        {"decode_tokens_per_s", tokensPerSecond}};
    llvm::json::Object result{
        {"text", text},
        {"tokens", std::move(tokens)},
        {"prompt_tokens", int64_t(ids.size())},
        {"stop", stopReason},
        {"mean_accepted", 1.0},
        {"timings", std::move(timings)}};
    outs() << llvm::json::Value(std::move(result)) << "\n";
    return 0;
  }
  if (!stream && tokenizerStatus)
    outs() << text;
  outs() << "\n";
  errs() << format("prompt %lld tokens, time to first token %.3f s "
                   "(prefill %.3f s)\n",
                   (long long)ids.size(), firstTokenSeconds, prefillSeconds)
         << format("generated %lld tokens (stop: %s), decode %.1f tokens/s\n",
                   (long long)generated.size(), stopReason.c_str(),
                   tokensPerSecond);
  return 0;
}
