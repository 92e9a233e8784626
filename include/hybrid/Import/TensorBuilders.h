//===- TensorBuilders.h - Shapes, broadcasts and splats for converters -*- C++ -*-===//
//
// The importers (ONNX, Hugging Face) build upstream tensor IR in one
// canonical form, the one
// the raising passes (hybrid-raise-attention, hybrid-raise-norm-and-rotary)
// recognise: numpy broadcasting made explicit as `linalg.broadcast` (after
// collapsing the unit dims it expands), scalar operands as splats
// (`arith.constant` or a `linalg.fill`), elementwise math as `arith`/`math`
// ops on tensors of one shape.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_IMPORT_TENSORBUILDERS_H
#define HYBRID_IMPORT_TENSORBUILDERS_H

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>

namespace mlir::hybrid::import {

/// Size of dim `d` of `t` (static when known).
OpFoldResult dimOf(OpBuilder &b, Location loc, Value t, int64_t d);
/// Every size of `t`.
SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value t);
/// The static shape of `sizes` (dynamic where a size is a value).
SmallVector<int64_t> staticShape(ArrayRef<OpFoldResult> sizes);

/// An empty tensor of `sizes`.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type element);
/// A tensor of `sizes` filled with `scalar` (a constant when static).
Value splat(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
            TypedAttr scalar);
/// The scalar of a splat constant (any rank), if `v` is one.
std::optional<TypedAttr> splatConstant(Value v);

/// The numpy broadcast of the shapes of `operands`. A dynamic dim is taken
/// to be the size (not a 1 that broadcasts); static sizes that differ and
/// are not 1 are an error, reported through `error`.
FailureOr<SmallVector<OpFoldResult>>
broadcastShape(OpBuilder &b, Location loc, ArrayRef<Value> operands,
               function_ref<InFlightDiagnostic()> error);
/// `x` broadcast to `sizes` (right-aligned): unit dims that expand are
/// collapsed away, then one linalg.broadcast adds them at full size. `x`
/// itself when it already has the shape.
Value broadcastTo(OpBuilder &b, Location loc, Value x,
                  ArrayRef<OpFoldResult> sizes);
/// `x` without the unit dims `dims` (a tensor.collapse_shape).
Value dropUnitDims(OpBuilder &b, Location loc, Value x,
                   ArrayRef<int64_t> dims);
/// `x` with unit dims inserted so that they sit at `dims` of the result.
Value insertUnitDims(OpBuilder &b, Location loc, Value x,
                     ArrayRef<int64_t> dims);

/// `x` reshaped to `sizes` (same element count): a collapse or an expand
/// of adjacent dims when it is one with at most one dynamic size per group
/// (MLIR 22's expand-strided-metadata crashes on two), else a
/// tensor.reshape to a shape tensor.
Value reshapeTo(OpBuilder &b, Location loc, Value x,
                ArrayRef<OpFoldResult> sizes);

/// `x` expanded by `groups` to `sizes`: a tensor.expand_shape, or a
/// tensor.reshape when a group holds two dynamic sizes (see reshapeTo).
Value expandGroups(OpBuilder &b, Location loc, Value x,
                   ArrayRef<ReassociationIndices> groups,
                   ArrayRef<OpFoldResult> sizes);

/// A float reduction over `dims` of `x` (dims dropped): one linalg.reduce
/// from a filled init.
enum class Reduction { Sum, Max, Min };
Value reduce(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> dims,
             Reduction kind);

/// [B, S, H*D] -> [B, H, S, D] (an expand, then a transpose); the last dim
/// must be a static multiple of `heads`.
Value toHeads(OpBuilder &b, Location loc, Value x, int64_t heads);
/// [B, H, S, D] -> [B, S, H*D].
Value fromHeads(OpBuilder &b, Location loc, Value y);

/// Positions [B, S] counting up from `start` (integers, [B] or one
/// element for every batch entry): start[b] + s, in start's type.
Value positionsFrom(OpBuilder &b, Location loc, Value start,
                    ArrayRef<OpFoldResult> sizes);

/// `tensor[at]` when `cond` holds, else `otherwise`: the read happens only
/// under the condition (an scf.if), so an index the condition rules out
/// never touches memory. For gathers inside linalg.generic bodies.
Value extractIf(OpBuilder &b, Location loc, Value cond, Value tensor,
                ValueRange at, Value otherwise);

/// Whether every element of the integer tensor `ints` (any rank) lies in
/// [lo, hi), scalars of its element type: an i1, for a run-time check.
Value allInRange(OpBuilder &b, Location loc, Value ints, Value lo, Value hi);

/// Converts a tensor's elements to `element` (int/float/bool casts, each
/// rounding like ONNX Cast).
Value castElements(OpBuilder &b, Location loc, Value x, Type element);

} // namespace mlir::hybrid::import

#endif // HYBRID_IMPORT_TENSORBUILDERS_H
