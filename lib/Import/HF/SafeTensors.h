//===- SafeTensors.h - Hugging Face checkpoints, header only ----*- C++ -*-===//
//
// Reads the headers of a checkpoint's safetensors files: `model.safetensors`,
// or the shards `model.safetensors.index.json` names. Each file is an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data. Only
// headers are read: the weights stay in the files, to be memory-mapped by
// the runtime as the module's parameters. A header that lies (offsets past
// the end, overlapping tensors, a shape that does not match the byte count,
// an unknown dtype) is an error naming the file and the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_LIB_IMPORT_HF_SAFETENSORS_H
#define HYBRID_LIB_IMPORT_HF_SAFETENSORS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <string>

namespace mlir::hybrid::hf {

/// Where one tensor of a checkpoint lives.
struct CheckpointTensor {
  std::string file;  // a file name in the checkpoint's folder
  std::string dtype; // safetensors' spelling: F32, BF16, F16, ...
  SmallVector<int64_t> shape;
  int64_t offset = 0; // from the start of the file
  int64_t length = 0; // bytes
};

using Checkpoint = llvm::StringMap<CheckpointTensor>;

/// Bytes per element of a safetensors dtype; 0 when unknown.
int64_t dtypeSize(StringRef dtype);

/// The tensors of the checkpoint in `folder`; errors are reported at `loc`.
FailureOr<Checkpoint> readCheckpoint(StringRef folder, Location loc);

} // namespace mlir::hybrid::hf

#endif // HYBRID_LIB_IMPORT_HF_SAFETENSORS_H
