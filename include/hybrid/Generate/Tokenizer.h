//===- Tokenizer.h - A checkpoint's SentencePiece tokenizer -----*- C++ -*-===//
//
// `tokenizer.model` of a checkpoint folder, through Debian's
// libsentencepiece. Errors are Status values: a missing or unreadable
// model, text the model cannot encode.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_GENERATE_TOKENIZER_H
#define HYBRID_GENERATE_TOKENIZER_H

#include "hybrid/Runtime/Runtime.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
} // namespace sentencepiece

namespace hybrid::generate {

class Tokenizer {
public:
  /// Loads `folder`/tokenizer.model.
  static Status load(const std::string &folder, Tokenizer &out);

  Status encode(const std::string &text, std::vector<int64_t> &ids) const;
  /// The text of `ids`; ids outside the vocabulary are an error.
  Status decode(const std::vector<int64_t> &ids, std::string &text) const;

  /// Whether token `id` starts a word (its piece begins with the word
  /// boundary mark): the text before it is final, for streaming.
  bool startsWord(int64_t id) const;

  int64_t vocabSize() const;
  /// -1 when the model has none.
  int64_t bos() const;
  int64_t eos() const;

private:
  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

} // namespace hybrid::generate

#endif // HYBRID_GENERATE_TOKENIZER_H
