//===- KernelBuilder.h - Building blocks of the hybrid kernels --*- C++ -*-===//
//
// The kernels that replace hybrid ops are loop nests over buffers. This
// helper keeps them readable: f32 loads and stores whatever the storage
// type, structured loops with lambdas, vectorised dot products and
// scale-adds along a contiguous dimension, and run-time error raising.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_KERNELBUILDER_H
#define HYBRID_CONVERSION_TILING_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <optional>

namespace mlir::hybrid {

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &builder, Location loc, int64_t vectorWidth)
      : b(builder), loc(loc), vectorWidth(vectorWidth) {}

  OpBuilder &b;
  Location loc;
  int64_t vectorWidth;

  //===--- Constants and arithmetic ---------------------------------------===//
  Value index(int64_t v);
  Value f32(double v);
  Value i32(int64_t v);
  Value indexCast(Value v); // integer -> index
  Value addi(Value a, Value c);
  Value subi(Value a, Value c);
  Value muli(Value a, Value c);
  Value divui(Value a, Value c);
  Value remui(Value a, Value c);
  Value ceilDiv(Value a, Value c);
  Value minui(Value a, Value c);
  Value maxsi(Value a, Value c);
  Value cmpi(arith::CmpIPredicate p, Value a, Value c);
  Value addf(Value a, Value c);
  Value subf(Value a, Value c);
  Value mulf(Value a, Value c);
  Value divf(Value a, Value c);
  Value maxf(Value a, Value c);
  Value exp(Value a);
  Value select(Value cond, Value a, Value c);
  Value cmpf(arith::CmpFPredicate p, Value a, Value c);
  Value toF32(Value index); // index -> f32
  /// An op's logit scale: `scale` when given, else 1/sqrt(headDim).
  Value logitScale(std::optional<APFloat> scale, Value headDim);
  Value negInf();
  Value boolean(bool v);
  Value notI(Value cond); // logical not of an i1
  Value andi(Value a, Value c);
  Value ori(Value a, Value c);

  //===--- Tensor/buffer boundary -----------------------------------------===//
  /// The buffer of a tensor operand (identity layout).
  Value buffer(Value tensor);
  /// A new buffer of `type`'s shape; `sizes` holds every dimension's size,
  /// of which only the dynamic ones are read.
  Value alloc(RankedTensorType type, ValueRange sizes);
  /// A new buffer of `type`'s shape, dynamic sizes read from the buffer
  /// `like` of the same shape.
  Value allocLike(RankedTensorType type, Value like);
  /// A buffer with the given sizes (static where constant) and element type.
  Value alloc(ArrayRef<OpFoldResult> sizes, Type elementType);
  /// Stack scratch of `size` f32 (a constant size).
  Value scratchF32(int64_t size);
  /// Stack scratch of a run-time number of elements.
  Value scratch(Value size, Type elementType);
  /// The tensor that a kernel's result buffer becomes.
  Value tensor(Value buffer, RankedTensorType type);
  Value dim(Value shaped, int64_t d);
  /// All sizes of a buffer, static ones as attributes.
  SmallVector<OpFoldResult> sizes(Value buffer);

  //===--- Element access in f32 ------------------------------------------===//
  Value load(Value buffer, ValueRange idx);
  void store(Value value, Value buffer, ValueRange idx);
  /// Loads an integer element as an index.
  Value loadIndex(Value buffer, ValueRange idx);
  /// Stores an index into an integer buffer.
  void storeIndex(Value value, Value buffer, ValueRange idx);

  //===--- Structured control flow ----------------------------------------===//
  void parallel(ValueRange upperBounds,
                function_ref<void(ValueRange ivs)> body);
  /// Independent tasks over [0, upperBounds) (scf.forall): the tiled stage's
  /// unit of work, which a target stage maps to threads or thread blocks.
  void forall(ValueRange upperBounds, function_ref<void(ValueRange ivs)> body);
  void loop(Value lb, Value ub, Value step, function_ref<void(Value iv)> body);
  SmallVector<Value>
  loop(Value lb, Value ub, Value step, ValueRange inits,
       function_ref<SmallVector<Value>(Value iv, ValueRange iters)> body);
  void ifThen(Value cond, function_ref<void()> thenBody);
  SmallVector<Value> ifThenElse(Value cond, TypeRange types,
                                function_ref<SmallVector<Value>()> thenBody,
                                function_ref<SmallVector<Value>()> elseBody);

  //===--- Vectorised along a contiguous innermost dimension --------------===//
  // Index lists name the first element: every dimension, the innermost one
  // being the start of the run of `len` contiguous elements.

  /// `idx` with `d` added to its innermost index.
  SmallVector<Value> at(ValueRange idx, Value d);
  /// One vector of the run at `idx + d`, widened to f32.
  Value vectorRead(Value buffer, ValueRange idx, Value d);
  /// sum_d a[aIdx + d] * c[cIdx + d] for d in [0, len), in f32.
  Value dot(Value a, ValueRange aIdx, Value c, ValueRange cIdx, Value len);
  /// a[aIdx..., 0:len] against each of cs[i][cIdxs[i]..., 0:len] in one
  /// pass (each vector of `a` read once): one sum per operand.
  SmallVector<Value> dots(Value a, ValueRange aIdx, ArrayRef<Value> cs,
                          ArrayRef<SmallVector<Value>> cIdxs, Value len);
  /// acc[accIdx + d] = alpha * acc[accIdx + d] + beta * src[srcIdx + d].
  void scaleAdd(Value acc, ValueRange accIdx, Value alpha, Value beta,
                Value src, ValueRange srcIdx, Value len);
  /// dst[dstIdx + d] = scale * src[srcIdx + d] (converting types).
  void scaleCopy(Value dst, ValueRange dstIdx, Value scale, Value src,
                 ValueRange srcIdx, Value len);
  /// buffer[idx + d] = value for d in [0, len).
  void fill(Value buffer, ValueRange idx, Value value, Value len);

  //===--- Register-blocked matrix product --------------------------------===//
  /// A row-major matrix inside a buffer: `rowStart(r)` is the index of
  /// element (r, 0); columns are contiguous.
  struct Matrix {
    Value buffer;
    std::function<SmallVector<Value>(Value row)> rowStart;
  };
  /// C[M x N] += A[M x K] B[K x N], with A read transposed (A(i, p) =
  /// a[p][i]) when `transposeA`. 8 x (2 vectors) register tiles when N is a
  /// multiple of the vector width, scalar loops otherwise.
  void matmulAccumulate(const Matrix &c, const Matrix &a, bool transposeA,
                        const Matrix &bm, Value m, Value n, Value k);

  //===--- Flags over [0, n): a stack byte array ----------------------------===//
  /// `n` cleared flags (at least one byte, so that n = 0 is fine).
  Value flags(Value n);
  void setFlag(Value flags, Value i);
  /// Whether flag i is set (an i1).
  Value isFlagSet(Value flags, Value i);

  //===--- Run-time errors -------------------------------------------------===//
  /// When `cond` holds at run time, the invocation fails with `message`.
  void raiseIf(Value cond, StringRef message);

  //===--- Module state ----------------------------------------------------===//
  /// The module's public global `name` of `type` (zero-initialised,
  /// created on first use), read by the runtime through dlsym: the error
  /// code, the MoE activity counters.
  Value moduleGlobal(StringRef name, MemRefType type);

private:
  void vectorWrite(Value value, Value buffer, ValueRange idx, Value d);
  /// Splits [0, len) into a vector part and a scalar tail.
  void vectorLoop(Value len, function_ref<void(Value d)> vectorBody,
                  function_ref<void(Value d)> scalarBody);
};

/// The run-time checks of one op's kernel: a failed check raises
/// "<op>: <what>" and marks the kernel to be skipped, so that it never reads
/// out of bounds on the inputs that failed.
class RuntimeChecks {
public:
  RuntimeChecks(KernelBuilder &kb, StringRef opName);
  /// Raises `what` when `cond` holds.
  void check(Value cond, const Twine &what);
  /// parents[0] = -1 and 0 <= parents[i] < i (which also bounds every
  /// ancestor walk).
  void checkDraftTree(Value parents);
  /// True when every check passed.
  Value passed() const;

private:
  KernelBuilder &kb;
  std::string opName;
  Value failed;
};

/// Index list helper: `concat({a, b}, rest)`.
SmallVector<Value> indices(std::initializer_list<Value> head,
                           ValueRange tail = {});

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_KERNELBUILDER_H
