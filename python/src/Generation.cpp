//===- Generation.cpp - hybrid.load(...).generate(...) --------------------===//
//
// Text generation from Python on the engine hybrid-generate uses (the same
// Session, sampler, drafters and loop), so that both give the same tokens.
// The GIL is released while the model runs; text pieces reach a Python
// callback word by word as they are emitted.
//
// Its own extension module (hybrid._generate): Debian's libsentencepiece
// carries a protobuf of its own that refuses to share a library group with
// the libprotobuf the ONNX importer (in _hybrid) links; Python loads each
// extension's libraries apart (RTLD_LOCAL).
//
//===----------------------------------------------------------------------===//

#include "hybrid/Runtime/Runtime.hpp"

#include "hybrid/Generate/Generator.h"
#include "hybrid/Generate/Session.h"

#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace hybrid::generate;

namespace {

class TextGenerator {
public:
  TextGenerator(const std::string &folder, int64_t context,
                const std::string &sparse, const std::string &draft,
                int64_t treeSize, int64_t draftVocab, int threads,
                const std::string &cacheDir, const std::string &target) {
    if (sparse != "auto" && sparse != "none")
      throw py::value_error("sparse must be 'auto' or 'none', not '" + sparse +
                            "'");
    if (target != "cpu" && target != "nvptx")
      throw py::value_error("target must be 'cpu' or 'nvptx', not '" +
                            target + "'");
    if (context < 1 || treeSize < 1)
      throw py::value_error("context and tree_size must be positive");
    SessionOptions options;
    options.engine.contextLimit = context;
    options.engine.threads = threads;
    options.engine.sparseAttention = sparse == "auto";
    options.engine.cacheDir = cacheDir;
    options.engine.device = target == "nvptx" ? Device::GPU : Device::CPU;
    options.draft = draft;
    options.treeSize = treeSize;
    options.draftVocab = draftVocab;
    hybrid::Status s;
    {
      py::gil_scoped_release unlocked; // compiling takes seconds
      s = Session::open(folder, options, session);
    }
    if (!s)
      throw std::runtime_error(s.message());
  }

  py::dict info() const {
    const ModelInfo &m = session.info();
    py::dict d;
    d["vocab_size"] = m.vocabSize;
    d["bos_token"] = m.bosToken;
    d["eos_token"] = session.eos();
    d["dense_len"] = m.denseLen;
    d["has_tokenizer"] = session.tokenizer() != nullptr;
    d["speculative"] = const_cast<Session &>(session).drafter() != nullptr;
    return d;
  }

  py::dict generate(py::object prompt, int64_t maxNewTokens,
                    float temperature, int64_t topK, float topP,
                    uint64_t seed, bool ignoreEos, bool addBos,
                    int64_t treeSize, int64_t treeDepth,
                    std::function<void(std::string)> onText) {
    std::vector<int64_t> ids;
    if (py::isinstance<py::str>(prompt)) {
      if (hybrid::Status s =
              session.encodePrompt(prompt.cast<std::string>(), addBos, ids);
          !s)
        throw py::value_error(s.message());
    } else {
      ids = prompt.cast<std::vector<int64_t>>();
    }
    if (ids.empty())
      throw py::value_error("the prompt is empty");
    if (hybrid::Status s = session.checkPrompt(ids); !s)
      throw py::value_error(s.message());
    if (maxNewTokens < 0 || temperature < 0 || topK < 0 ||
        !(topP > 0 && topP <= 1) || treeSize < 1 || treeDepth < 1)
      throw py::value_error(
          "sampling needs max_new_tokens >= 0, temperature >= 0, top_k >= 0, "
          "top_p in (0, 1], tree_size and tree_depth >= 1");
    GenerateOptions options;
    options.maxNewTokens = maxNewTokens;
    options.sampling.temperature = temperature;
    options.sampling.topK = topK;
    options.sampling.topP = topP;
    options.seed = seed;
    options.eosToken = ignoreEos ? -1 : session.eos();
    options.tree.size = treeSize;
    options.tree.depth = treeDepth;

    const Tokenizer *tokenizer = session.tokenizer();
    std::optional<WordStream> words;
    if (onText && tokenizer)
      words.emplace(*tokenizer);
    // Python exceptions from the callback end generation and surface here.
    std::exception_ptr callbackError;
    auto emit = [&](const std::string &text) {
      if (text.empty() || callbackError)
        return;
      py::gil_scoped_acquire locked;
      try {
        onText(text);
      } catch (...) {
        callbackError = std::current_exception();
      }
    };
    std::vector<int64_t> tokens;
    GenerateStats stats;
    hybrid::Status s;
    {
      py::gil_scoped_release unlocked;
      s = generateTokens(session.engine(), session.drafter(), ids, options,
                         [&](int64_t token) {
                           if (words)
                             emit(words->push(token));
                         },
                         tokens, stats);
      if (s && words)
        emit(words->finish());
    }
    if (callbackError)
      std::rethrow_exception(callbackError);
    if (!s)
      throw std::runtime_error(s.message());

    std::string text;
    if (tokenizer)
      if (hybrid::Status d = tokenizer->decode(tokens, text); !d)
        throw std::runtime_error(d.message());
    py::dict result;
    result["text"] = tokenizer ? py::object(py::str(text)) : py::none();
    result["tokens"] = tokens;
    result["prompt_tokens"] = ids.size();
    result["stop"] = stats.stop;
    py::dict statistics;
    statistics["prefill_s"] = stats.prefillSeconds;
    statistics["time_to_first_token_s"] = stats.firstTokenSeconds;
    statistics["decode_s"] = stats.decodeSeconds;
    statistics["decode_tokens_per_s"] =
        stats.decodeSeconds > 0 && tokens.size() > 1
            ? double(tokens.size() - 1) / stats.decodeSeconds
            : 0.0;
    statistics["steps"] = stats.steps;
    statistics["mean_accepted"] = stats.meanAccepted();
    statistics["attended_key_fraction"] = stats.attendedKeyFraction();
    statistics["active_experts_per_chunk"] =
        GenerateStats::activeExpertsPerChunk(stats.decodeExperts);
    result["stats"] = statistics;
    return result;
  }

private:
  Session session;
};

} // namespace

PYBIND11_MODULE(_generate, m) {
  m.doc() = "Text generation for `hybrid` (see hybrid.load)";
  py::class_<TextGenerator>(m, "_TextGenerator")
      .def(py::init<const std::string &, int64_t, const std::string &,
                    const std::string &, int64_t, int64_t, int,
                    const std::string &, const std::string &>(),
           py::arg("folder"), py::arg("context"), py::arg("sparse"),
           py::arg("draft"), py::arg("tree_size"), py::arg("draft_vocab"),
           py::arg("threads"), py::arg("cache_dir"), py::arg("target"))
      .def_property_readonly("info", &TextGenerator::info)
      .def("generate", &TextGenerator::generate, py::arg("prompt"),
           py::arg("max_new_tokens"), py::arg("temperature"),
           py::arg("top_k"), py::arg("top_p"), py::arg("seed"),
           py::arg("ignore_eos"), py::arg("add_bos"), py::arg("tree_size"),
           py::arg("tree_depth"), py::arg("on_text"));
}
