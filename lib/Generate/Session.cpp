//===- Session.cpp - A checkpoint ready to generate text ------------------===//

#include "hybrid/Generate/Session.h"

using namespace hybrid;
using namespace hybrid::generate;

Status Session::open(const std::string &folder, const SessionOptions &options,
                     Session &out) {
  Session s;
  Status tokenizerStatus = Tokenizer::load(folder, s.tokenizer_);
  s.hasTokenizer_ = tokenizerStatus.ok();
  if (!s.hasTokenizer_)
    s.tokenizerError_ = tokenizerStatus.message();
  if (!options.engine.headTokens.empty())
    return Status::error("the target's logits must cover the whole "
                         "vocabulary (a subset of the head is for drafts)");
  if (options.draftVocab && (options.draft.empty() || options.draft == "lookup"))
    return Status::error("a draft vocabulary (FR-Spec) needs a draft model "
                         "(--draft DRAFT_DIR)");
  s.engine_ = std::make_shared<Engine>();
  if (Status e = Engine::open(folder, options.engine, *s.engine_); !e)
    return e;
  const ModelInfo &info = s.engine_->info();
  if (s.hasTokenizer_ && s.tokenizer_.vocabSize() > info.vocabSize)
    return Status::error("the tokenizer has " +
                         std::to_string(s.tokenizer_.vocabSize()) +
                         " tokens, the model's vocabulary " +
                         std::to_string(info.vocabSize));
  if (options.draft == "lookup") {
    s.drafter_ = makeLookupDrafter();
  } else if (!options.draft.empty()) {
    EngineOptions draftOptions = options.engine;
    // The draft's caches also hold the tree it grows past the context.
    draftOptions.contextLimit = options.engine.contextLimit + options.treeSize;
    std::unique_ptr<Drafter> drafter;
    if (Status d = openModelDrafter(options.draft, draftOptions,
                                    info.vocabSize, options.draftVocab,
                                    drafter);
        !d)
      return d;
    s.drafter_ = std::move(drafter);
  }
  out = std::move(s);
  return Status();
}

Status Session::encodePrompt(const std::string &text, bool addBos,
                             std::vector<int64_t> &ids) const {
  if (!hasTokenizer_)
    return Status::error(tokenizerError_);
  if (Status s = tokenizer_.encode(text, ids); !s)
    return s;
  int64_t bos = info().bosToken >= 0 ? info().bosToken : tokenizer_.bos();
  if (addBos && bos >= 0)
    ids.insert(ids.begin(), bos);
  return Status();
}

Status Session::checkPrompt(const std::vector<int64_t> &ids) const {
  for (int64_t id : ids)
    if (id < 0 || id >= info().vocabSize)
      return Status::error("prompt token " + std::to_string(id) +
                           " is outside the vocabulary [0, " +
                           std::to_string(info().vocabSize) + ")");
  return Status();
}

int64_t Session::eos() const {
  if (info().eosToken >= 0)
    return info().eosToken;
  return hasTokenizer_ ? tokenizer_.eos() : -1;
}

std::string WordStream::push(int64_t token) {
  std::string text = tokenizer.startsWord(token) ? flush() : "";
  word.push_back(token);
  return text;
}

std::string WordStream::finish() { return flush(); }

std::string WordStream::flush() {
  std::string text;
  if (!word.empty() && tokenizer.decode(word, text)) {
    if (wroteAny)
      text = " " + text;
    wroteAny = true;
  }
  word.clear();
  return text;
}
