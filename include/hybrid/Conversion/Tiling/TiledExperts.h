//===- TiledExperts.h - An expert's FFN over gathered tokens ----*- C++ -*-===//
//
// The tiled form of a mixture-of-experts layer's expensive part. One expert
// runs over the tokens routed to it, gathered as the columns of a panel
// (tokens along the vector lanes), as two products on the `matmul` tile
// kernels with the weights read in place (row-major A):
//
//   H^T[width x n] = U[width x model] X^T[model x n]
//   H^T            = SiLU(H^T) * gate            (lane-wise, per token)
//   Y^T[model x n] = D[model x width] H^T
//   sum^T[:, token(c)] += Y^T[:, c]
//
// The tokens of an expert come in runs (the chunks that route to it), so
// gathering X^T columns and adding Y^T back are vector copies along the
// rows of the transposed input and sum.
// Each product splits the weight rows into tasks, so every core streams a
// share of the expert's weights, once per call however many chunks route
// to it.
//
// An expert with at most kFewTokens tokens (a decode step, a short chain's
// verification) skips the panels: a tile of vector lanes of tokens would
// be mostly padding. Each weight row is read once, in its storage type,
// against every token's row (one dot product per token), so no weight is
// converted or padded.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_CONVERSION_TILING_TILEDEXPERTS_H
#define HYBRID_CONVERSION_TILING_TILEDEXPERTS_H

#include "hybrid/Conversion/Tiling/KernelBuilder.h"
#include "hybrid/Conversion/Tiling/TileKernels.h"

namespace mlir::hybrid {

class ExpertProducts {
public:
  /// `x` is the [tokens, model] input (any float storage); experts are at
  /// most `maxWidth` wide. Transposes x once (tokens along the lanes) and
  /// zeroes the transposed sum.
  ExpertProducts(KernelBuilder &kb, const MatmulTiling &tiling, Value x,
                 Value tokens, Value model, Value maxWidth);

  /// The next expert's columns [col, col + len) are tokens [t, t + len);
  /// this is its `run`-th run.
  void addRun(Value run, Value col, Value t, Value len);
  /// Column `col` of the next expert carries weight `gate`.
  void setGate(Value col, Value gate);

  /// Adds the FFN of one expert over its `runs` runs (`n` columns): `up`
  /// is [E, width, model] and `down` [E, model, width] with expert index
  /// `e`, or, with a null `e`, [width, model] and [model, width].
  void ffn(Value up, Value e, Value down, Value width, Value n, Value runs);

  /// Tokens of an expert computed by dot products rather than panels.
  static constexpr int64_t kFewTokens = 4;

  /// out[t, :] = the sum over the experts, transposed back.
  void writeOutput(Value out);

private:
  /// ffn on the panels and the tile kernels.
  void panelFFN(Value up, Value e, Value down, Value width, Value n,
                Value runs);
  /// ffn by dot products, for n <= kFewTokens.
  void fewTokensFFN(Value up, Value e, Value down, Value width, Value n,
                    Value runs);
  /// Calls body(r0, r1) on tasks that split [0, rows) into whole row tiles.
  void rowTasks(Value rows, function_ref<void(Value r0, Value r1)> body);
  /// An expert's weight matrix as a flat f32 buffer and the offset of its
  /// first element: in place when stored as f32, else converted.
  std::pair<Value, Value> weightsF32(Value w, Value e, Value rows, Value cols);
  /// Calls body(col, t, len) for each run of the current expert.
  void forEachRun(Value runs, function_ref<void(Value, Value, Value)> body);

  KernelBuilder &kb;
  MatmulTiling tiling;
  Value x, tokens, model;
  // The token of each column of a few-token expert.
  Value columnToken;
  // Transposed input and sum [model x tokens]; the current expert's runs
  // and gates; panels [model or width x columns] reused by every expert.
  Value xT, sumT, runCol, runToken, runLen, gates, panel, hidden, outT;
};

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_TILING_TILEDEXPERTS_H
