//===- TiledMatmul.h - Matrix products cut into tiles -----------*- C++ -*-===//
//
// The tiled form of C += A B that every dense product of the kernels goes
// through: tasks over blocks of C (scf.forall), K cut into cache blocks,
// operands packed into panels, and one tile kernel call per register tile
// (see TileKernels.h). What a tile costs is the target stage's business.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_TILEDMATMUL_H
#define HYBRID_CONVERSION_TILING_TILEDMATMUL_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/TileKernels.h"

namespace mlir::hybrid {

/// Emits C[m x n] += A[m x k] B[k x n] on row-major buffers with identity
/// layouts: `c` f32, `a` and `b` f32, f16 or bf16 (converted to f32 when
/// packed). The work is split into tasks of an `scf.forall` as `tiling`
/// says: over column blocks (and row blocks when there are too few
/// columns); B is packed per task when m reaches `tiling.packThreshold`,
/// read in place otherwise. With `fill` (an f32), C starts as that value
/// instead of its contents. With `bPanels`, `b` is f32 already in the
/// tiled product's column panels (`[ceil(n / tiling.cols), k, tiling.cols]`,
/// the last zero-padded: a weight prepacked at load time) and is read as
/// it is, never packed.
void emitTiledMatmul(KernelBuilder &kb, const MatmulTiling &tiling, Value c,
                     Value a, Value b, Value m, Value n, Value k,
                     Value fill = Value(), bool bPanels = false);

/// A buffer of any rank with the identity layout, seen as `memref<?xT>`.
Value flattenBuffer(KernelBuilder &kb, Value buffer);

/// Calls `body(rowStart, rows)` for the row tiles that cover [0, count):
/// full tiles of each size in `rowTiles` (largest first, ending in 1).
void forEachRowTile(KernelBuilder &kb, ArrayRef<int64_t> rowTiles,
                    Value count,
                    function_ref<void(Value rowStart, int64_t rows)> body);

/// C[rows x cols] += A[rows x k] B[k x cols] with every operand read in
/// place: A in `layout` (row-major: rows `lda` apart, `staticLda` when
/// known; k-major: k steps `lda` apart), B and C row-major flat f32 buffers
/// (`ldb`, `ldc`), `cols` a multiple of the vector width (whole register
/// tiles, then one vector). No packing: the form of products whose
/// operands are already laid out for the tile (attention's S^T = K Q^T,
/// an expert's U X^T, a recurrence's chunk against its state).
void emitInPlaceProduct(KernelBuilder &kb, const MatmulTiling &tiling,
                        Value c, Value cOff, Value ldc, TileALayout layout,
                        Value a, Value aOff, Value lda,
                        std::optional<int64_t> staticLda, Value b, Value bOff,
                        Value ldb, Value rows, Value cols, Value k);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_TILEDMATMUL_H
