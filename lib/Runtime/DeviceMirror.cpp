//===- DeviceMirror.cpp - In-place arguments kept in device memory --------===//
//
// A GPU module's entry points take the arguments they update in place (KV
// caches, recurrent states) in device memory. The runtime keeps each such
// tensor's device copy between calls, so that a generation loop moves
// only its tokens and logits: the copy is refreshed from the host only
// after the caller was handed the host bytes (hybrid_tensor_data: it may
// have written them), and copied back only when the caller asks for them
// (hybrid_tensor_data, saving, binding, a call of another module).
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <algorithm>

using namespace hybrid::runtime;

// (Defined here, not in Module.cpp: syncing a mirror needs it, and the
// tensor functions link without the module's code in the .npy fuzzer.)
std::string hybrid::runtime::takeGPUError(hybrid_module_t &m) {
  if (!m.takeGPUError)
    return "";
  char message[2048];
  size_t length = m.takeGPUError(message, sizeof(message));
  if (length == 0)
    return "";
  return length < sizeof(message) ? std::string(message)
                                  : std::string(message) + "...";
}

hybrid_status hybrid::runtime::syncToHost(const hybrid_tensor_t *t) {
  DeviceMirror *mirror = t->mirror;
  if (!mirror || !mirror->hostStale)
    return nullptr;
  hybrid_module_t &m = *mirror->module;
  if (!m.gpuDownload(t->data, mirror->device, mirror->bytes))
    return makeStatus("cannot copy a tensor back from the GPU: %s",
                      takeGPUError(m).c_str());
  mirror->hostStale = false;
  return nullptr;
}

void hybrid::runtime::dropMirror(hybrid_tensor_t *t) {
  DeviceMirror *mirror = t->mirror;
  if (!mirror)
    return;
  hybrid_module_t &m = *mirror->module;
  m.gpuRelease(mirror->device);
  m.mirrored.erase(std::remove(m.mirrored.begin(), m.mirrored.end(), t),
                   m.mirrored.end());
  delete mirror;
  t->mirror = nullptr;
}

hybrid_status hybrid::runtime::deviceCopyFor(hybrid_module_t &m,
                                             hybrid_tensor_t *t,
                                             void **device) {
  size_t bytes = hybrid_tensor_byte_size(t);
  if (t->mirror && (t->mirror->module != &m || t->mirror->bytes != bytes)) {
    if (hybrid_status s = syncToHost(t))
      return s;
    dropMirror(t);
  }
  // The caller was handed the host bytes: they are copied anew below.
  if (t->mirror && t->mirror->deviceStale)
    dropMirror(t);
  if (!t->mirror) {
    void *copy = m.gpuUpload(t->data, bytes);
    if (std::string gpu = takeGPUError(m); !copy || !gpu.empty()) {
      if (copy)
        m.gpuRelease(copy);
      return makeStatus("cannot copy an in-place argument to the GPU: %s",
                        gpu.empty() ? "no memory" : gpu.c_str());
    }
    t->mirror = new DeviceMirror{&m, copy, bytes, false, false};
    m.mirrored.push_back(t);
  }
  *device = t->mirror->device;
  return nullptr;
}

void hybrid::runtime::releaseMirrors(hybrid_module_t &m) {
  // The tensors outlive the module: their host bytes become the only copy.
  while (!m.mirrored.empty()) {
    hybrid_tensor_t *t = m.mirrored.back();
    if (hybrid_status s = syncToHost(t)) {
      std::fprintf(stderr, "hybrid: %s\n", hybrid_status_message(s));
      hybrid_status_free(s);
    }
    dropMirror(t);
  }
}
