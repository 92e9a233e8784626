/*===- hybrid_runtime.h - The Hybrid runtime C API ------------------------===*
 *
 * Loads modules compiled by Hybrid (shared objects with embedded metadata),
 * lists their entry points, and invokes them on tensors. Plain C ABI, usable
 * from C, C++ and Python; the library depends on neither MLIR nor LLVM.
 *
 * Conventions:
 *  - A function returning hybrid_status returns NULL on success; otherwise a
 *    status whose message names the problem. Free it with
 *    hybrid_status_free. Nothing in this API aborts the process.
 *  - Every argument of an entry point is a tensor; a scalar argument (an
 *    index, i32, i64 or f32) is passed as a rank-0 tensor of its dtype.
 *  - Results are new tensors owned by the caller (hybrid_tensor_free).
 *  - Invocations are reentrant: threads may invoke one module (or several
 *    handles of one shared object) at once, and each call gets its own
 *    status (a run-time error travels with the call). Binding parameters
 *    waits for the calls in flight. A GPU module runs one invocation at a
 *    time. The work inside an invocation runs on the module's threads.
 *  - A GPU module keeps the tensors its calls update in place (KV caches,
 *    recurrent states) in device memory between calls. Their host bytes
 *    are brought up to date by hybrid_tensor_data (and by saving the
 *    tensor, binding it or passing it to another module), not before:
 *    read them through a pointer taken after the last call.
 *
 *===----------------------------------------------------------------------===*/

#ifndef HYBRID_RUNTIME_HYBRID_RUNTIME_H
#define HYBRID_RUNTIME_HYBRID_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HYBRID_RUNTIME_API __attribute__((visibility("default")))
#else
#define HYBRID_RUNTIME_API
#endif

typedef enum hybrid_dtype {
  HYBRID_DTYPE_F32 = 0,
  HYBRID_DTYPE_F16 = 1,
  HYBRID_DTYPE_BF16 = 2,
  HYBRID_DTYPE_F64 = 3,
  HYBRID_DTYPE_I64 = 4,
  HYBRID_DTYPE_I32 = 5,
  HYBRID_DTYPE_I8 = 6,
  HYBRID_DTYPE_BOOL = 7
} hybrid_dtype;

typedef enum hybrid_value_kind {
  HYBRID_VALUE_TENSOR = 0,
  HYBRID_VALUE_SCALAR = 1
} hybrid_value_kind;

typedef struct hybrid_status_t *hybrid_status;
typedef struct hybrid_tensor_t hybrid_tensor;
typedef struct hybrid_module_t hybrid_module;

/* One argument or result of an entry point. `shape` has `rank` entries,
 * -1 for a dynamic dimension; it lives as long as the module. */
typedef struct hybrid_value_info {
  hybrid_value_kind kind;
  hybrid_dtype dtype;
  size_t rank;
  const int64_t *shape;
} hybrid_value_info;

/*--- Version ------------------------------------------------------------*/
/* The runtime's version, "major.minor.patch" (the project's). */
HYBRID_RUNTIME_API const char *hybrid_runtime_version(void);

/*--- Status -------------------------------------------------------------*/
HYBRID_RUNTIME_API const char *hybrid_status_message(hybrid_status status);
HYBRID_RUNTIME_API void hybrid_status_free(hybrid_status status);

/*--- Dtypes -------------------------------------------------------------*/
HYBRID_RUNTIME_API const char *hybrid_dtype_name(hybrid_dtype dtype);
HYBRID_RUNTIME_API size_t hybrid_dtype_size(hybrid_dtype dtype);
HYBRID_RUNTIME_API hybrid_status hybrid_dtype_from_name(const char *name,
                                                        hybrid_dtype *out);

/*--- Half-precision conversions (round to nearest even) -----------------*/
HYBRID_RUNTIME_API float hybrid_f16_to_f32(uint16_t bits);
HYBRID_RUNTIME_API uint16_t hybrid_f32_to_f16(float value);
HYBRID_RUNTIME_API float hybrid_bf16_to_f32(uint16_t bits);
HYBRID_RUNTIME_API uint16_t hybrid_f32_to_bf16(float value);

/*--- Tensors (row-major, contiguous) ------------------------------------*/
/* A new zero-filled tensor that owns its memory. */
HYBRID_RUNTIME_API hybrid_status hybrid_tensor_create(hybrid_dtype dtype,
                                                      size_t rank,
                                                      const int64_t *shape,
                                                      hybrid_tensor **out);
/* A tensor over caller-owned memory, which must outlive it. */
HYBRID_RUNTIME_API hybrid_status hybrid_tensor_wrap(hybrid_dtype dtype,
                                                    size_t rank,
                                                    const int64_t *shape,
                                                    void *data,
                                                    hybrid_tensor **out);
HYBRID_RUNTIME_API void hybrid_tensor_free(hybrid_tensor *tensor);
HYBRID_RUNTIME_API hybrid_dtype hybrid_tensor_dtype(const hybrid_tensor *t);
HYBRID_RUNTIME_API size_t hybrid_tensor_rank(const hybrid_tensor *t);
HYBRID_RUNTIME_API const int64_t *hybrid_tensor_shape(const hybrid_tensor *t);
HYBRID_RUNTIME_API size_t hybrid_tensor_num_elements(const hybrid_tensor *t);
HYBRID_RUNTIME_API size_t hybrid_tensor_byte_size(const hybrid_tensor *t);
/* The tensor's bytes, current (copied back from a GPU module's device
 * memory if a call updated them there); the caller may write them. */
HYBRID_RUNTIME_API void *hybrid_tensor_data(hybrid_tensor *t);

/* .npy files. bf16 travels as raw 16-bit words ('<u2'): pass
 * `u2_is_bf16 = 1` to read '<u2' as bf16; bf16 tensors are written as '<u2'. */
HYBRID_RUNTIME_API hybrid_status hybrid_tensor_load_npy(const char *path,
                                                        int u2_is_bf16,
                                                        hybrid_tensor **out);
HYBRID_RUNTIME_API hybrid_status
hybrid_tensor_save_npy(const hybrid_tensor *tensor, const char *path);

/*--- Modules ------------------------------------------------------------*/
HYBRID_RUNTIME_API hybrid_status hybrid_module_load(const char *path,
                                                    hybrid_module **out);
HYBRID_RUNTIME_API void hybrid_module_free(hybrid_module *module);
HYBRID_RUNTIME_API size_t hybrid_module_num_entries(const hybrid_module *m);
HYBRID_RUNTIME_API const char *hybrid_module_entry_name(const hybrid_module *m,
                                                        size_t index);
HYBRID_RUNTIME_API hybrid_status hybrid_module_entry_signature(
    const hybrid_module *m, const char *entry, size_t *num_args,
    size_t *num_results);
HYBRID_RUNTIME_API hybrid_status hybrid_module_entry_arg(
    const hybrid_module *m, const char *entry, size_t index,
    hybrid_value_info *out);
HYBRID_RUNTIME_API hybrid_status hybrid_module_entry_result(
    const hybrid_module *m, const char *entry, size_t index,
    hybrid_value_info *out);
/* The name the model gives argument `index` (an ONNX graph input's name),
 * or NULL when it has none. */
HYBRID_RUNTIME_API const char *
hybrid_module_entry_arg_name(const hybrid_module *m, const char *entry,
                             size_t index);
/* 1 when the call updates argument `index` in place (a KV cache: the
 * caller's buffer holds the new contents after the call, and it is not
 * returned), 0 otherwise. Other arguments are never written. */
HYBRID_RUNTIME_API int
hybrid_module_entry_arg_is_inout(const hybrid_module *m, const char *entry,
                                 size_t index);

/*--- Parameters ---------------------------------------------------------*/
/* Weights the entry points read but callers do not pass: each has a key
 * and a byte range of a file relative to the model's folder (an ONNX
 * model's own .onnx or its external-data files). Entry signatures list
 * only the caller's arguments. Bind every parameter before invoking an
 * entry that reads it. */
HYBRID_RUNTIME_API size_t hybrid_module_num_parameters(const hybrid_module *m);
HYBRID_RUNTIME_API const char *
hybrid_module_parameter_key(const hybrid_module *m, size_t index);
HYBRID_RUNTIME_API hybrid_status hybrid_module_parameter_info(
    const hybrid_module *m, size_t index, hybrid_value_info *out);
/* Binds every unbound parameter to its file under `folder`, memory-mapped
 * read-only: no copy, unless a payload is misaligned for its dtype. A file
 * must be a regular file inside `folder` once links are resolved, and hold
 * the parameter's range; on any error nothing is bound. */
HYBRID_RUNTIME_API hybrid_status
hybrid_module_bind_parameters_from_folder(hybrid_module *m,
                                          const char *folder);
/* Binds parameter `key` to the memory of `value` (same dtype and shape),
 * which must outlive the module or the next binding of `key`. A weight the
 * module takes in the tiled product's column panels (hybrid-prepack-weights)
 * or transposed (hybrid-hoist-weight-transposes) is laid out so in memory
 * of the module's own instead, here and when bound from a folder: `value`
 * may then go at once. */
HYBRID_RUNTIME_API hybrid_status hybrid_module_bind_parameter(
    hybrid_module *m, const char *key, const hybrid_tensor *value);

/* Threads used inside each invocation, whichever thread makes it (default:
 * all cores). */
HYBRID_RUNTIME_API hybrid_status
hybrid_module_set_num_threads(hybrid_module *m, int num_threads);
/* Chunk-level MoE activity summed over every hybrid.chunk_moe the module ran
 * since it was loaded or last reset: (expert, chunk) pairs that ran, chunks,
 * and all (expert, chunk) pairs. All zero for a module without MoE. The
 * counters are the module's, shared by every handle of the same file. */
typedef struct hybrid_moe_activity {
  int64_t active_pairs, chunks, pairs;
} hybrid_moe_activity;
HYBRID_RUNTIME_API hybrid_status
hybrid_module_moe_activity(const hybrid_module *m, hybrid_moe_activity *out);
HYBRID_RUNTIME_API hybrid_status
hybrid_module_reset_moe_activity(hybrid_module *m);
/* Runs `entry`. `results` receives `num_results` new tensors; on error it is
 * left untouched. */
HYBRID_RUNTIME_API hybrid_status hybrid_module_invoke(
    hybrid_module *m, const char *entry, hybrid_tensor *const *args,
    size_t num_args, hybrid_tensor **results, size_t num_results);

#ifdef __cplusplus
}
#endif

#endif /* HYBRID_RUNTIME_HYBRID_RUNTIME_H */
