//===- SafeTensors.cpp - Hugging Face checkpoints, header only ------------===//

#include "SafeTensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::hybrid::hf;

int64_t mlir::hybrid::hf::dtypeSize(StringRef dtype) {
  return llvm::StringSwitch<int64_t>(dtype)
      .Cases({"F64", "I64", "U64"}, 8)
      .Cases({"F32", "I32", "U32"}, 4)
      .Cases({"F16", "BF16", "I16", "U16"}, 2)
      .Cases({"I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}, 1)
      .Default(0);
}

/// A header's largest plausible size: real ones are kilobytes to a few
/// megabytes; this bounds what a corrupt length makes us read.
static constexpr uint64_t kMaxHeaderBytes = 256u << 20;

/// Reads the header of one safetensors file into `out`.
static LogicalResult readFile(StringRef folder, StringRef file, Location loc,
                              Checkpoint &out) {
  SmallString<256> path(folder);
  llvm::sys::path::append(path, file);
  uint64_t size = 0;
  if (llvm::sys::fs::file_size(path, size))
    return emitError(loc) << "cannot read '" << path << "'";
  auto error = [&]() -> InFlightDiagnostic {
    return emitError(loc) << "'" << file << "' is not a valid safetensors file: ";
  };
  if (size < 8)
    return error() << "it has " << size << " bytes, fewer than its 8-byte "
                   << "header length";
  auto lengthBytes = llvm::MemoryBuffer::getFileSlice(path, 8, 0);
  if (!lengthBytes)
    return emitError(loc) << "cannot read '" << path << "'";
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) |
                static_cast<uint8_t>((*lengthBytes)->getBufferStart()[i]);
  if (headerLen > size - 8 || headerLen > kMaxHeaderBytes)
    return error() << "its header length " << headerLen << " exceeds the "
                   << size - 8 << " bytes after it";
  auto headerBytes = llvm::MemoryBuffer::getFileSlice(path, headerLen, 8);
  if (!headerBytes)
    return emitError(loc) << "cannot read '" << path << "'";
  llvm::Expected<llvm::json::Value> header =
      llvm::json::parse((*headerBytes)->getBuffer());
  if (!header)
    return error() << "its header is not JSON ("
                   << llvm::toString(header.takeError()) << ")";
  const llvm::json::Object *entries = header->getAsObject();
  if (!entries)
    return error() << "its header is not a JSON object";
  int64_t dataStart = 8 + static_cast<int64_t>(headerLen);
  int64_t dataSize = static_cast<int64_t>(size) - dataStart;
  struct Span {
    int64_t begin, end;
    StringRef name;
  };
  SmallVector<Span> spans;
  for (const auto &[key, value] : *entries) {
    StringRef name = key;
    if (name == "__metadata__")
      continue;
    auto bad = [&]() -> InFlightDiagnostic {
      return error() << "tensor '" << name << "': ";
    };
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return bad() << "its entry is not an object";
    std::optional<StringRef> dtype = entry->getString("dtype");
    const llvm::json::Array *shape = entry->getArray("shape");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!dtype || !shape || !offsets)
      return bad() << "needs dtype, shape and data_offsets";
    int64_t width = dtypeSize(*dtype);
    if (width == 0)
      return bad() << "unknown dtype '" << *dtype << "'";
    CheckpointTensor t;
    t.file = file.str();
    t.dtype = dtype->str();
    int64_t count = 1;
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> n = d.getAsInteger();
      if (!n || *n < 0)
        return bad() << "its shape holds something other than sizes";
      if (*n != 0 && count > std::numeric_limits<int64_t>::max() / 8 / *n)
        return bad() << "its shape is too large";
      count *= *n;
      t.shape.push_back(*n);
    }
    std::optional<int64_t> begin, end;
    if (offsets->size() == 2) {
      begin = (*offsets)[0].getAsInteger();
      end = (*offsets)[1].getAsInteger();
    }
    if (!begin || !end || *begin < 0 || *end < *begin)
      return bad() << "data_offsets must be [begin, end] with begin <= end";
    if (*end > dataSize)
      return bad() << "its data [" << *begin << ", " << *end
                   << ") runs past the " << dataSize << " bytes of data";
    if (*end - *begin != count * width)
      return bad() << "shape [" << llvm::make_range(t.shape.begin(), t.shape.end())
                   << "] of " << *dtype << " needs " << count * width
                   << " bytes, but data_offsets hold " << *end - *begin;
    t.offset = dataStart + *begin;
    t.length = *end - *begin;
    spans.push_back({*begin, *end, name});
    if (!out.try_emplace(name, std::move(t)).second)
      return emitError(loc) << "tensor '" << name
                            << "' is in more than one safetensors file";
  }
  llvm::sort(spans, [](const Span &a, const Span &b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      return error() << "tensors '" << spans[i - 1].name << "' and '"
                     << spans[i].name << "' overlap";
  return success();
}

FailureOr<Checkpoint> mlir::hybrid::hf::readCheckpoint(StringRef folder,
                                                       Location loc) {
  Checkpoint checkpoint;
  SmallString<256> single(folder), index(folder);
  llvm::sys::path::append(single, "model.safetensors");
  llvm::sys::path::append(index, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(single)) {
    if (failed(readFile(folder, "model.safetensors", loc, checkpoint)))
      return failure();
    return checkpoint;
  }
  if (!llvm::sys::fs::exists(index))
    return emitError(loc) << "'" << folder
                          << "' has neither model.safetensors nor "
                             "model.safetensors.index.json";
  auto buffer = llvm::MemoryBuffer::getFile(index);
  if (!buffer)
    return emitError(loc) << "cannot read '" << index << "'";
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return emitError(loc) << "model.safetensors.index.json is not JSON ("
                          << llvm::toString(json.takeError()) << ")";
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Object *weightMap =
      root ? root->getObject("weight_map") : nullptr;
  if (!weightMap)
    return emitError(loc)
           << "model.safetensors.index.json has no weight_map object";
  // Each shard once, in a stable order.
  std::vector<std::string> shards;
  for (const auto &[name, file] : *weightMap) {
    std::optional<StringRef> f = file.getAsString();
    if (!f)
      return emitError(loc) << "weight_map['" << StringRef(name)
                            << "'] is not a file name";
    if (f->empty() || f->contains('/') || f->contains('\\') || *f == "." ||
        *f == "..")
      return emitError(loc) << "weight_map['" << StringRef(name) << "'] = '"
                            << *f
                            << "' is not a file name in the checkpoint folder";
    shards.push_back(f->str());
  }
  llvm::sort(shards);
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  for (const std::string &shard : shards)
    if (failed(readFile(folder, shard, loc, checkpoint)))
      return failure();
  for (const auto &[name, file] : *weightMap) {
    auto it = checkpoint.find(StringRef(name));
    if (it == checkpoint.end() || it->second.file != *file.getAsString())
      return emitError(loc) << "weight_map puts '" << StringRef(name)
                            << "' in '" << *file.getAsString()
                            << "', which does not hold it";
  }
  return checkpoint;
}
