//===- Session.h - A checkpoint ready to generate text ----------*- C++ -*-===//
//
// What hybrid-generate and the Python module share: the engine, the
// tokenizer (when the folder has one), the drafter, how a prompt becomes
// ids and which token ends the text, and word-by-word streaming.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_SESSION_H
#define HYBRID_GENERATE_SESSION_H

#include "hybrid/Generate/Drafter.h"
#include "hybrid/Generate/Engine.h"
#include "hybrid/Generate/Tokenizer.h"

#include <memory>
#include <string>
#include <vector>

namespace hybrid::generate {

struct SessionOptions {
  EngineOptions engine;
  /// "" (plain decoding), "lookup" (prompt lookup) or a draft checkpoint.
  std::string draft;
  /// Draft-tree nodes per step (the draft's caches hold them past the
  /// context limit).
  int64_t treeSize = 16;
  /// FR-Spec: the draft model's head scores only this many of the most
  /// frequent tokens (its folder's frequent_tokens.npy); 0 scores all.
  int64_t draftVocab = 0;
};

class Session {
public:
  /// Opens the checkpoint in `folder` (compiling it, or taking it from the
  /// compiled-model cache), its tokenizer if it has one, and the drafter.
  static Status open(const std::string &folder, const SessionOptions &options,
                     Session &out);

  Engine &engine() { return *engine_; }
  const ModelInfo &info() const { return engine_->info(); }
  /// Null for plain decoding.
  Drafter *drafter() { return drafter_.get(); }
  /// Null when the folder has no tokenizer.model.
  const Tokenizer *tokenizer() const {
    return hasTokenizer_ ? &tokenizer_ : nullptr;
  }
  /// Why there is no tokenizer ("" when there is one).
  const std::string &tokenizerError() const { return tokenizerError_; }

  /// `text` as prompt ids, the model's (or tokenizer's) BOS first unless
  /// `addBos` is false. Needs the tokenizer.
  Status encodePrompt(const std::string &text, bool addBos,
                      std::vector<int64_t> &ids) const;
  /// Every id is inside the vocabulary.
  Status checkPrompt(const std::vector<int64_t> &ids) const;
  /// The token that ends generation: the model's EOS, else the
  /// tokenizer's, else -1 (none).
  int64_t eos() const;

private:
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<Drafter> drafter_;
  Tokenizer tokenizer_;
  bool hasTokenizer_ = false;
  std::string tokenizerError_;
};

/// Text word by word as tokens come: a word's text is final once the next
/// word starts, so each token is decoded once (not the whole output again
/// per token). Words after the first get a separating space, as the
/// tokenizer's decode of the whole output would have.
class WordStream {
public:
  explicit WordStream(const Tokenizer &tokenizer) : tokenizer(tokenizer) {}
  /// The text that `token` finished ("" when none).
  std::string push(int64_t token);
  /// The text of the last word.
  std::string finish();

private:
  std::string flush();
  const Tokenizer &tokenizer;
  std::vector<int64_t> word;
  bool wroteAny = false;
};

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_SESSION_H
