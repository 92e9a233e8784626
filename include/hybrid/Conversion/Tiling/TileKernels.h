//===- TileKernels.h - The contract between the tiled stage and targets -*- C++ -*-===//
//
// The tiled stage cuts every product into tiles and calls one *tile kernel*
// per register tile; it never says how a tile runs. A tile kernel is a
// private `func.func` declaration carrying the attributes below. Each target
// stage gives the declarations bodies: the CPU stage
// (`hybrid-cpu-tile-kernels`) with a register tile of broadcasts and FMAs,
// a GPU stage with warps and `mma.sync`. A new target adds a stage, not a
// copy of every kernel.
//
// The one kernel so far, `matmul`, computes on a rows x cols tile
//
//   C[r, j] += sum_{p < kc} A(r, p) * B[p * ldb + j]
//   (C[r, j] at c[cOff + r * ldc + j]; A, B offset by aOff, bOff)
//
// where A is read in one of two layouts (`hybrid.tile_a_layout`):
//   k_major:   A(r, p) = a[aOff + p * lda + r]  a packed panel (lda = rows)
//              or a transposed matrix, e.g. attention's S^T as P
//   row_major: A(r, p) = a[aOff + r * lda + p]  a matrix read in place,
//              e.g. the K cache rows in S^T = K Q^T
// B is either a packed panel (ldb = cols) or a matrix read in place; C is
// row-major. All three are flat f32 buffers.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_TILEKERNELS_H
#define HYBRID_CONVERSION_TILING_TILEKERNELS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::hybrid {

/// Attribute naming a tile kernel declaration's kind ("matmul").
inline constexpr llvm::StringLiteral kTileKernelAttrName = "hybrid.tile_kernel";
/// How a `matmul` tile reads A: "k_major" or "row_major" (see above).
inline constexpr llvm::StringLiteral kTileALayoutAttrName =
    "hybrid.tile_a_layout";
/// Optional: lda known when the tiled stage emits the call (an attention
/// head dimension, say). The target may then ignore the `lda` argument and
/// fold the row offsets into addresses.
inline constexpr llvm::StringLiteral kTileStaticLdaAttrName =
    "hybrid.tile_lda";

/// Optional (unit): B streams from memory and is used by this tile alone
/// (a product of few rows reading a weight's panels), so the target may
/// fetch it ahead. Where B stays in cache for many row tiles the
/// prefetches would only take issue slots from the FMAs.
inline constexpr llvm::StringLiteral kTileStreamBAttrName =
    "hybrid.tile_stream_b";

/// The two layouts a `matmul` tile kernel reads A in.
enum class TileALayout { KMajor, RowMajor };
/// Its register tile: rows and columns (i64 attributes).
inline constexpr llvm::StringLiteral kTileRowsAttrName = "hybrid.tile_rows";
inline constexpr llvm::StringLiteral kTileColsAttrName = "hybrid.tile_cols";

/// The `matmul` tile kernel for a rows x cols register tile reading A in
/// `layout`, declared in `module` on first use. Its arguments, in order:
/// kc, a, aOff, lda, b, bOff, ldb, c, cOff, ldc (buffers `memref<?xf32>`,
/// the rest `index`).
func::FuncOp
getOrDeclareMatmulTileKernel(ModuleOp module, int64_t rows, int64_t cols,
                             TileALayout layout = TileALayout::KMajor,
                             std::optional<int64_t> staticLda = std::nullopt,
                             bool streamB = false);
/// The layout named by a declaration's `hybrid.tile_a_layout` (k_major when
/// absent); failure for an unknown name.
FailureOr<TileALayout> getTileALayout(func::FuncOp kernel);
/// The type every `matmul` tile kernel has.
FunctionType getMatmulTileKernelType(MLIRContext *ctx);

/// How the tiled stage cuts a product C[M x N] += A[M x K] B[K x N] for a
/// target: the register tile, the cache blocks around it and the work split
/// across threads. Chosen per target by `chooseMatmulTiling`.
struct MatmulTiling {
  /// f32 lanes of one vector register.
  int64_t vectorWidth;
  /// Register tile: `rows` x `cols` accumulators (cols a multiple of the
  /// vector width). `rowTiles` lists the row counts used, largest first,
  /// ending in 1, so that the rows left over by full tiles still use
  /// registers rather than a padded tile.
  int64_t cols;
  SmallVector<int64_t, 3> rowTiles;
  /// Cache blocks: kc steps of K keep a B panel (kc x cols) in L1 and the
  /// A block (mc x kc) in L2; nc columns of packed B live in L2/L3.
  int64_t kc, mc, nc;
  /// Below this many rows, B is read in place instead of packed: each of
  /// its elements is then used by too few rows to repay a copy.
  int64_t packThreshold;
  /// Columns per task when B is read in place (few rows): 512 on AVX-512,
  /// so that each visit to a row of B (a new page every k step) reads 2 KB;
  /// narrower when that would leave fewer than `targetTasks` tasks.
  int64_t inPlaceTaskCols;
  /// K steps per block when B is read in place: each row of B is then a
  /// stream that the column sweep advances a register tile at a time, and
  /// `inPlaceKc` concurrent streams stay within what the hardware
  /// prefetcher follows (a long block touches hundreds of rows, a new page
  /// each, per tile, and every access misses).
  int64_t inPlaceKc;
  /// Tasks to aim for when M is large: enough to balance a few threads.
  int64_t targetTasks;
  /// Below this many rows (with B in f32) tasks split K instead: a GEMV
  /// streams B's rows whole.
  int64_t splitKRows;

  int64_t rows() const { return rowTiles.front(); }
};

/// The tiling of packed products (linalg.matmul: Goto's loop nest) for a
/// CPU whose vector registers hold `vectorWidth` f32 (16: AVX-512, 8 x 48
/// tiles; 8: AVX2, 6 x 16 tiles; else scaled down).
MatmulTiling chooseMatmulTiling(int64_t vectorWidth);
/// The tiling of in-place products, whose operands are already laid out
/// for the tile (attention's S^T = K Q^T and P V, the experts, block
/// selection's scores): 12 x 32 on AVX-512, as packed products elsewhere.
MatmulTiling chooseInPlaceTiling(int64_t vectorWidth);

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_TILEKERNELS_H
