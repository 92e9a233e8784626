//===- Module.cpp - Loading and invoking compiled modules -----------------===//
//
// A compiled module is a shared object exporting, per entry point, a packed
// wrapper `void _hybrid_entry_<name>(void **slots)` over MLIR's C interface,
// plus `hybrid_module_metadata` (JSON: entries, dtypes, shapes, error
// messages) and `__hybrid_set_error_cell` (each call points the calling
// thread's error cell at its own code, which the kernels set on a run-time
// error: calls run concurrently, each with its own status). Slot layout:
// the result struct first (if any), then one slot per argument: a memref
// descriptor's address for tensors, the value's address for scalars.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <type_traits>

using namespace hybrid::runtime;

/// `j` as an integer of type T: nlohmann's own conversion casts a float
/// (5e67) or a negative number into T, out of range (found by
/// hybrid-fuzz-runtime); malformed metadata is an error instead.
template <typename T> static T integer(const nlohmann::json &j) {
  if (!j.is_number_integer() ||
      (std::is_unsigned_v<T> && !j.is_number_unsigned()))
    throw std::runtime_error("expected an integer, got " + j.dump());
  return j.get<T>();
}

/// `j`[key] as an integer (`fallback` when absent).
template <typename T>
static T integer(const nlohmann::json &j, const char *key, T fallback) {
  return j.contains(key) ? integer<T>(j.at(key)) : fallback;
}

/// `j`[key] as a list of integers (empty when absent).
static std::vector<int64_t> integers(const nlohmann::json &j, const char *key) {
  std::vector<int64_t> out;
  if (!j.contains(key))
    return out;
  for (const auto &v : j.at(key))
    out.push_back(integer<int64_t>(v));
  return out;
}

/// Parses one argument/result description of the metadata.
static hybrid_status parseValueInfo(const nlohmann::json &j, ValueInfo &out,
                                    const std::string &where) {
  if (!j.is_object() || !j.contains("kind") || !j.contains("dtype"))
    return makeStatus("%s: malformed value description", where.c_str());
  std::string kind = j["kind"].get<std::string>();
  std::string dtype = j["dtype"].get<std::string>();
  if (hybrid_status s = hybrid_dtype_from_name(dtype.c_str(), &out.dtype)) {
    hybrid_status_free(s);
    return makeStatus("%s: unknown dtype '%s'", where.c_str(), dtype.c_str());
  }
  if (j.contains("name"))
    out.name = j["name"].get<std::string>();
  if (j.contains("inout"))
    out.inout = j["inout"].get<bool>();
  if (kind == "scalar") {
    out.kind = HYBRID_VALUE_SCALAR;
    return nullptr;
  }
  if (kind != "tensor" || !j.contains("shape") || !j["shape"].is_array())
    return makeStatus("%s: malformed value description", where.c_str());
  out.kind = HYBRID_VALUE_TENSOR;
  for (const auto &d : j["shape"])
    out.shape.push_back(integer<int64_t>(d));
  return nullptr;
}

hybrid_status hybrid::runtime::parseMetadata(hybrid_module_t &m,
                                             const char *text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.value("format", "") != "hybrid-module" ||
        integer<int64_t>(j, "version", 0) != 1)
      return makeStatus("%s: unsupported module format", m.path.c_str());
    for (const auto &e : j.at("entries")) {
      Entry entry;
      entry.name = e.at("name").get<std::string>();
      std::string symbol = e.at("symbol").get<std::string>();
      entry.function =
          reinterpret_cast<void (*)(void **)>(dlsym(m.handle, symbol.c_str()));
      if (!entry.function)
        return makeStatus("%s: entry point '%s' has no symbol '%s'",
                          m.path.c_str(), entry.name.c_str(), symbol.c_str());
      for (const auto &a : e.at("args")) {
        entry.args.emplace_back();
        ValueInfo &arg = entry.args.back();
        if (hybrid_status s =
                parseValueInfo(a, arg, m.path + ": " + entry.name))
          return s;
        if (!a.contains("parameter")) {
          entry.callerArgs.push_back(entry.args.size() - 1);
          continue;
        }
        const auto &p = a["parameter"];
        ParameterLayout layout;
        layout.panels = integer<int64_t>(p, "panels", 0);
        layout.permutation = integers(p, "permutation");
        layout.rows = integers(p, "rows");
        if (hybrid_status s = registerParameter(
                m, entry.name, arg, p.at("key").get<std::string>(),
                p.at("file").get<std::string>(),
                integer<uint64_t>(p.at("offset")),
                integer<uint64_t>(p.at("length")), layout))
          return s;
      }
      for (const auto &r : e.at("results")) {
        entry.results.emplace_back();
        if (hybrid_status s = parseValueInfo(r, entry.results.back(),
                                             m.path + ": " + entry.name))
          return s;
      }
      m.entries.push_back(std::move(entry));
    }
    for (const auto &message : j.at("errors"))
      m.errors.push_back(message.get<std::string>());
  } catch (const std::exception &e) {
    return makeStatus("%s: malformed module metadata: %s", m.path.c_str(),
                      e.what());
  }
  return nullptr;
}

/// Row-major memref descriptor: {allocated, aligned, offset, sizes, strides}.
static std::vector<int64_t> makeDescriptor(hybrid_tensor *t) {
  size_t rank = t->shape.size();
  std::vector<int64_t> d(3 + 2 * rank);
  d[0] = reinterpret_cast<int64_t>(t->data);
  d[1] = reinterpret_cast<int64_t>(t->data);
  d[2] = 0;
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    d[3 + i] = t->shape[i];
    d[3 + rank + i] = stride;
    stride *= t->shape[i];
  }
  return d;
}

/// Checks `t` against what the entry point declares; the message names the
/// argument.
static hybrid_status checkArgument(const Entry &entry, size_t i,
                                   const hybrid_tensor *t) {
  const ValueInfo &info = entry.args[entry.callerArgs[i]];
  const char *name = entry.name.c_str();
  if (!t)
    return makeStatus("'%s' argument #%zu: null tensor", name, i);
  if (t->dtype != info.dtype)
    return makeStatus("'%s' argument #%zu: expected dtype %s, got %s", name, i,
                      hybrid_dtype_name(info.dtype),
                      hybrid_dtype_name(t->dtype));
  size_t rank = info.kind == HYBRID_VALUE_SCALAR ? 0 : info.shape.size();
  if (t->shape.size() != rank)
    return makeStatus("'%s' argument #%zu: expected rank %zu%s, got rank %zu",
                      name, i, rank,
                      info.kind == HYBRID_VALUE_SCALAR ? " (a scalar)" : "",
                      t->shape.size());
  for (size_t d = 0; d < rank; ++d)
    if (info.shape[d] >= 0 && info.shape[d] != t->shape[d])
      return makeStatus("'%s' argument #%zu: expected shape %s, got %s "
                        "(dimension %zu differs)",
                        name, i,
                        shapeString(info.shape.data(), rank).c_str(),
                        shapeString(t->shape.data(), rank).c_str(), d);
  if (t->data == nullptr && hybrid_tensor_byte_size(t) != 0)
    return makeStatus("'%s' argument #%zu: tensor has no data", name, i);
  return nullptr;
}

extern "C" {

const char *hybrid_runtime_version(void) { return HYBRID_VERSION; }

hybrid_status hybrid_module_load(const char *path, hybrid_module **out) {
  if (!path || !out)
    return makeStatus("hybrid_module_load: null argument");
  auto m = std::make_unique<hybrid_module_t>();
  m->path = path;
  // dlopen searches the library path for names without a slash; a module
  // path always means a file.
  std::string file = std::strchr(path, '/') ? path : std::string("./") + path;
  m->handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->handle)
    return makeStatus("cannot load module %s: %s", path, dlerror());
  auto *metadata =
      static_cast<const char *>(dlsym(m->handle, "hybrid_module_metadata"));
  if (!metadata)
    return makeStatus("%s is not a Hybrid module (no metadata)", path);
  if (hybrid_status s = parseMetadata(*m, metadata))
    return s;
  m->errorCode = static_cast<int32_t *>(dlsym(m->handle, "__hybrid_error_code"));
  m->setErrorCell = reinterpret_cast<void (*)(int32_t *)>(
      dlsym(m->handle, "__hybrid_set_error_cell"));
  m->moeActivity =
      static_cast<int64_t *>(dlsym(m->handle, "__hybrid_moe_activity"));
  // The module's own OpenMP runtime, if it was compiled parallel.
  m->setNumThreads = reinterpret_cast<void (*)(int)>(
      dlsym(m->handle, "omp_set_num_threads"));
  // A GPU module's runtime (libhybrid_runtime_cuda, which it links): its
  // module-load constructors ran inside dlopen, on a machine that may have
  // no driver or no device.
  m->takeGPUError = reinterpret_cast<size_t (*)(char *, size_t)>(
      dlsym(m->handle, "hybrid_cuda_take_error"));
  m->gpuUpload = reinterpret_cast<void *(*)(const void *, size_t)>(
      dlsym(m->handle, "hybrid_cuda_upload"));
  m->gpuRelease =
      reinterpret_cast<void (*)(void *)>(dlsym(m->handle, "hybrid_cuda_release"));
  m->gpuDownload = reinterpret_cast<int (*)(void *, const void *, size_t)>(
      dlsym(m->handle, "hybrid_cuda_download"));
  m->gpuCallFinished = reinterpret_cast<void (*)()>(
      dlsym(m->handle, "hybrid_cuda_call_finished"));
  if (std::string gpu = takeGPUError(*m); !gpu.empty())
    return makeStatus("cannot load module %s: %s", path, gpu.c_str());
  *out = m.release();
  return nullptr;
}

void hybrid_module_free(hybrid_module *module) { delete module; }

hybrid_module_t::~hybrid_module_t() {
  releaseMirrors(*this);
  releaseParameters(*this);
  if (handle)
    dlclose(handle);
}

size_t hybrid_module_num_entries(const hybrid_module *m) {
  return m ? m->entries.size() : 0;
}

const char *hybrid_module_entry_name(const hybrid_module *m, size_t index) {
  if (!m || index >= m->entries.size())
    return nullptr;
  return m->entries[index].name.c_str();
}

static hybrid_status findEntry(const hybrid_module *m, const char *entry,
                               const Entry **out) {
  if (!m || !entry)
    return makeStatus("null module or entry name");
  if ((*out = m->find(entry)))
    return nullptr;
  std::string names;
  for (const Entry &e : m->entries)
    names += (names.empty() ? "" : ", ") + e.name;
  return makeStatus("%s has no entry point '%s' (it has: %s)",
                    m->path.c_str(), entry, names.c_str());
}

hybrid_status hybrid_module_entry_signature(const hybrid_module *m,
                                            const char *entry,
                                            size_t *num_args,
                                            size_t *num_results) {
  const Entry *e;
  if (hybrid_status s = findEntry(m, entry, &e))
    return s;
  if (num_args)
    *num_args = e->callerArgs.size();
  if (num_results)
    *num_results = e->results.size();
  return nullptr;
}

static hybrid_status describe(const hybrid_module *m, const char *entry,
                              size_t index, bool result,
                              hybrid_value_info *out) {
  const Entry *e;
  if (hybrid_status s = findEntry(m, entry, &e))
    return s;
  size_t count = result ? e->results.size() : e->callerArgs.size();
  if (index >= count || !out)
    return makeStatus("'%s' has no %s #%zu", entry,
                      result ? "result" : "argument", index);
  const ValueInfo &info =
      result ? e->results[index] : e->args[e->callerArgs[index]];
  *out = {info.kind, info.dtype, info.shape.size(), info.shape.data()};
  return nullptr;
}

hybrid_status hybrid_module_entry_arg(const hybrid_module *m,
                                      const char *entry, size_t index,
                                      hybrid_value_info *out) {
  return describe(m, entry, index, false, out);
}

const char *hybrid_module_entry_arg_name(const hybrid_module *m,
                                         const char *entry, size_t index) {
  const Entry *e = m && entry ? m->find(entry) : nullptr;
  if (!e || index >= e->callerArgs.size())
    return nullptr;
  const std::string &name = e->args[e->callerArgs[index]].name;
  return name.empty() ? nullptr : name.c_str();
}

int hybrid_module_entry_arg_is_inout(const hybrid_module *m,
                                     const char *entry, size_t index) {
  const Entry *e = m && entry ? m->find(entry) : nullptr;
  if (!e || index >= e->callerArgs.size())
    return 0;
  return e->args[e->callerArgs[index]].inout ? 1 : 0;
}

hybrid_status hybrid_module_entry_result(const hybrid_module *m,
                                         const char *entry, size_t index,
                                         hybrid_value_info *out) {
  return describe(m, entry, index, true, out);
}

hybrid_status hybrid_module_set_num_threads(hybrid_module *m,
                                            int num_threads) {
  if (!m)
    return makeStatus("hybrid_module_set_num_threads: null module");
  // The OpenMP runtime aborts the process when it cannot start the threads
  // it is asked for; a bound keeps an absurd request an error status.
  constexpr int kMaxThreads = 1024;
  if (num_threads < 1 || num_threads > kMaxThreads)
    return makeStatus("the thread count must be between 1 and %d, not %d",
                      kMaxThreads, num_threads);
  // Applied by every call, in its own thread.
  m->numThreads.store(num_threads, std::memory_order_relaxed);
  return nullptr;
}

hybrid_status hybrid_module_moe_activity(const hybrid_module *m,
                                         hybrid_moe_activity *out) {
  if (!m || !out)
    return makeStatus("hybrid_module_moe_activity: null argument");
  int64_t *c = m->moeActivity;
  *out = c ? hybrid_moe_activity{__atomic_load_n(&c[0], __ATOMIC_RELAXED),
                                 __atomic_load_n(&c[1], __ATOMIC_RELAXED),
                                 __atomic_load_n(&c[2], __ATOMIC_RELAXED)}
           : hybrid_moe_activity{0, 0, 0};
  return nullptr;
}

hybrid_status hybrid_module_reset_moe_activity(hybrid_module *m) {
  if (!m)
    return makeStatus("hybrid_module_reset_moe_activity: null module");
  if (int64_t *c = m->moeActivity)
    for (int i = 0; i < 3; ++i)
      __atomic_store_n(&c[i], 0, __ATOMIC_RELAXED);
  return nullptr;
}

hybrid_status hybrid_module_invoke(hybrid_module *m, const char *entry,
                                   hybrid_tensor *const *args, size_t num_args,
                                   hybrid_tensor **results,
                                   size_t num_results) {
  const Entry *e;
  if (hybrid_status s = findEntry(m, entry, &e))
    return s;
  if (num_args != e->callerArgs.size())
    return makeStatus("'%s' takes %zu arguments, got %zu", entry,
                      e->callerArgs.size(), num_args);
  if (num_results != e->results.size())
    return makeStatus("'%s' returns %zu results, %zu were asked for", entry,
                      e->results.size(), num_results);
  if ((num_args && !args) || (num_results && !results))
    return makeStatus("'%s': null argument or result array", entry);
  for (size_t i = 0; i < num_args; ++i)
    if (hybrid_status s = checkArgument(*e, i, args[i]))
      return s;

  // CPU calls run concurrently; a GPU module's one at a time.
  std::shared_lock<std::shared_mutex> shared(m->mutex, std::defer_lock);
  std::unique_lock<std::shared_mutex> alone(m->mutex, std::defer_lock);
  if (m->gpuUpload)
    alone.lock();
  else
    shared.lock();
  // Every argument in the function's order: the caller's, and the bound
  // parameters (read-only: the compiled code never writes them).
  std::vector<hybrid_tensor_t> parameterViews;
  parameterViews.reserve(e->args.size());
  std::vector<hybrid_tensor *> all(e->args.size(), nullptr);
  for (size_t i = 0; i < num_args; ++i)
    all[e->callerArgs[i]] = args[i];
  for (size_t i = 0; i < e->args.size(); ++i) {
    if (e->args[i].parameter < 0)
      continue;
    Parameter &p = m->parameters[e->args[i].parameter];
    if (!p.data)
      return makeStatus("'%s' reads parameter '%s', which is not bound "
                        "(bind the model's files with "
                        "hybrid_module_bind_parameters_from_folder)",
                        entry, p.key.c_str());
    void *data = const_cast<void *>(p.data);
    if (m->gpuUpload) {
      // A GPU module reads its parameters in device memory: copied once
      // (again only when the parameter is bound anew), not every call.
      if (!p.device || p.deviceSource != p.data) {
        if (p.device && m->gpuRelease)
          m->gpuRelease(p.device);
        size_t bytes = numElements(p.boundShape) * hybrid_dtype_size(p.dtype);
        p.device = m->gpuUpload(p.data, bytes);
        p.deviceSource = p.device ? p.data : nullptr;
        if (std::string gpu = takeGPUError(*m); !p.device || !gpu.empty())
          return makeStatus("'%s': cannot copy parameter '%s' to the GPU: %s",
                            entry, p.key.c_str(),
                            gpu.empty() ? "no memory" : gpu.c_str());
      }
      data = p.device;
    }
    parameterViews.push_back(
        hybrid_tensor_t{p.dtype, p.boundShape, data, nullptr});
    all[i] = &parameterViews.back();
  }
  // A GPU module takes its in-place arguments (KV caches) in device memory,
  // kept there between calls; any other argument is read from the host,
  // current again if a GPU call wrote its mirror.
  std::vector<hybrid_tensor *> updatedOnDevice;
  for (size_t i : e->callerArgs) {
    hybrid_tensor *t = all[i];
    if (e->args[i].kind != HYBRID_VALUE_TENSOR)
      continue;
    if (m->gpuDownload && e->args[i].inout) {
      void *device = nullptr;
      if (hybrid_status s = deviceCopyFor(*m, t, &device))
        return s;
      parameterViews.push_back(
          hybrid_tensor_t{t->dtype, t->shape, device, nullptr});
      all[i] = &parameterViews.back();
      updatedOnDevice.push_back(t);
      continue;
    }
    if (hybrid_status s = syncToHost(t))
      return s;
    // Written on the host (a CPU module's cache, a GPU module's copy back):
    // a device mirror elsewhere is stale.
    if (e->args[i].inout && t->mirror)
      t->mirror->deviceStale = true;
  }

  // Descriptors and slots.
  std::vector<std::vector<int64_t>> descriptors;
  descriptors.reserve(all.size());
  std::vector<void *> slots;
  size_t resultWords = 0;
  for (const ValueInfo &r : e->results)
    resultWords += 3 + 2 * r.shape.size();
  std::vector<int64_t> resultStruct(resultWords ? resultWords : 1, 0);
  if (num_results)
    slots.push_back(resultStruct.data());
  for (size_t i = 0; i < all.size(); ++i) {
    if (e->args[i].kind == HYBRID_VALUE_SCALAR) {
      slots.push_back(all[i]->data);
    } else {
      descriptors.push_back(makeDescriptor(all[i]));
      slots.push_back(descriptors.back().data());
    }
  }

  // The error travels with the call: the kernels write this call's code.
  int32_t code = 0;
  if (m->setErrorCell)
    m->setErrorCell(&code);
  if (int threads = m->numThreads.load(std::memory_order_relaxed);
      threads && m->setNumThreads)
    m->setNumThreads(threads);
  e->function(slots.data());
  if (m->gpuCallFinished)
    m->gpuCallFinished();
  if (m->setErrorCell)
    m->setErrorCell(nullptr);
  // A raise with no cell in reach (a module without one) set the module's
  // global code.
  if (!code && m->errorCode)
    code = __atomic_exchange_n(m->errorCode, 0, __ATOMIC_ACQ_REL);
  std::string gpuError = takeGPUError(*m);
  for (hybrid_tensor *t : updatedOnDevice)
    t->mirror->hostStale = true;

  // Results: each descriptor's allocation now belongs to a tensor. An entry
  // that returns one value twice hands out one allocation twice: the later
  // results get copies, so that every tensor frees only its own memory.
  std::vector<hybrid_tensor *> made;
  std::vector<void *> claimed;
  size_t at = 0;
  for (const ValueInfo &r : e->results) {
    size_t rank = r.shape.size();
    const int64_t *d = resultStruct.data() + at;
    at += 3 + 2 * rank;
    auto *t = new hybrid_tensor_t{r.dtype, {d + 3, d + 3 + rank}};
    void *allocation = reinterpret_cast<void *>(d[0]);
    char *data =
        reinterpret_cast<char *>(d[1]) + d[2] * hybrid_dtype_size(r.dtype);
    if (allocation &&
        std::find(claimed.begin(), claimed.end(), allocation) != claimed.end()) {
      size_t bytes = hybrid_tensor_num_elements(t) * hybrid_dtype_size(r.dtype);
      t->allocation = std::malloc(bytes ? bytes : 1);
      std::memcpy(t->allocation, data, bytes);
      t->data = static_cast<char *>(t->allocation);
    } else {
      claimed.push_back(allocation);
      t->allocation = allocation;
      t->data = data;
    }
    made.push_back(t);
  }
  if (!gpuError.empty()) {
    for (hybrid_tensor *t : made)
      hybrid_tensor_free(t);
    return makeStatus("'%s' failed on the GPU: %s", entry, gpuError.c_str());
  }
  if (code != 0) {
    for (hybrid_tensor *t : made)
      hybrid_tensor_free(t);
    const char *message =
        code > 0 && static_cast<size_t>(code) <= m->errors.size()
            ? m->errors[code - 1].c_str()
            : "unknown run-time error";
    return makeStatus("'%s' failed: %s", entry, message);
  }
  for (size_t i = 0; i < num_results; ++i)
    results[i] = made[i];
  return nullptr;
}

} // extern "C"
