//===- Tokenizer.cpp - A checkpoint's SentencePiece tokenizer -------------===//

#include "hybrid/Generate/Tokenizer.h"

#include "llvm/ADT/StringRef.h"

#include <sentencepiece_processor.h>

#include <sys/stat.h>

#include <exception>

using namespace hybrid;
using namespace hybrid::generate;

Status Tokenizer::load(const std::string &folder, Tokenizer &out) {
  std::string path = folder + "/tokenizer.model";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::error("no tokenizer: '" + path +
                         "' does not exist (pass token ids with "
                         "--prompt-ids, or add the checkpoint's "
                         "SentencePiece tokenizer.model)");
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  // libsentencepiece reports most malformed models with a status, but its
  // trie builder throws on some (found by hybrid-fuzz-checkpoint): both
  // are an error here, never an exception through the caller.
  sentencepiece::util::Status s;
  try {
    s = sp->Load(path);
  } catch (const std::exception &e) {
    return Status::error("cannot load the tokenizer '" + path +
                         "': " + e.what());
  } catch (...) {
    return Status::error("cannot load the tokenizer '" + path + "'");
  }
  if (!s.ok())
    return Status::error("cannot load the tokenizer '" + path +
                         "': " + s.ToString());
  out.sp_ = std::move(sp);
  return Status();
}

Status Tokenizer::encode(const std::string &text,
                         std::vector<int64_t> &ids) const {
  std::vector<int> pieces;
  sentencepiece::util::Status s = sp_->Encode(text, &pieces);
  if (!s.ok())
    return Status::error("cannot tokenize the prompt: " + s.ToString());
  ids.assign(pieces.begin(), pieces.end());
  return Status();
}

Status Tokenizer::decode(const std::vector<int64_t> &ids,
                         std::string &text) const {
  std::vector<int> pieces;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocabSize())
      return Status::error("token id " + std::to_string(id) +
                           " is outside the tokenizer's vocabulary [0, " +
                           std::to_string(vocabSize()) + ")");
    pieces.push_back(int(id));
  }
  sentencepiece::util::Status s = sp_->Decode(pieces, &text);
  if (!s.ok())
    return Status::error("cannot detokenize: " + s.ToString());
  return Status();
}

bool Tokenizer::startsWord(int64_t id) const {
  return id >= 0 && id < vocabSize() &&
         llvm::StringRef(sp_->IdToPiece(int(id))).starts_with("\xe2\x96\x81");
}

int64_t Tokenizer::vocabSize() const { return sp_->GetPieceSize(); }
int64_t Tokenizer::bos() const { return sp_->bos_id(); }
int64_t Tokenizer::eos() const { return sp_->eos_id(); }
