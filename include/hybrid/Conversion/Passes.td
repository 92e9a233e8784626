//===- Passes.td - Conversions out of the hybrid dialect ---*- tablegen -*-===//

#ifndef HYBRID_CONVERSION_PASSES_TD
#define HYBRID_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertHybridToLoops : Pass<"convert-hybrid-to-loops", "ModuleOp"> {
  let summary = "Lower hybrid ops to parallel loops over buffers";
  let description = [{
    Each hybrid op becomes a kernel written in upstream dialects: its tensor
    operands are read through `bufferization.to_buffer`, its results are
    fresh `memref.alloc`s returned through `bufferization.to_tensor
    restrict`, and the body is `scf.parallel` over the independent work
    (batches, heads, rows) with `scf.for` and `vector` ops inside,
    accumulating in f32. One-shot bufferization then removes the tensor
    level.

    The kernels do the work the ops exist to save: softmax is online (no
    `Sq x Skv` score matrix), block-sparse attention visits only the
    selected blocks and the window, `chunk_moe` reads only the experts
    active in a chunk, and `linear_recurrence` uses the chunked form when
    there are more tokens than a chunk and the step form otherwise.

    Dynamic constraints that the verifier could not check (sizes known only
    at run time, block indices in range) raise a run-time error through
    `@__hybrid_raise(code)`; the messages are listed in the module attribute
    `hybrid.error_messages`, and the runtime turns them into error statuses.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes of the vector ops along the head dimension">,
    Option<"matmulKernels", "matmul-kernels", "bool", /*default=*/"true",
           "Also lower plain linalg.matmul ops (the model's projections) to "
           "the register-blocked product">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::func::FuncDialect", "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect", "mlir::vector::VectorDialect",
  ];
}

def ConvertStridedCopiesToLoops
    : Pass<"convert-strided-copies-to-loops", "ModuleOp"> {
  let summary = "Copy between non-contiguous buffers with loops";
  let description = [{
    `memref.copy` between buffers that are not both contiguous lowers to a
    call to MLIR's C runner library (`memrefCopy`), which a compiled module
    must not depend on: the runtime loads modules without MLIR. This pass
    rewrites such copies into `linalg.copy`, which becomes loops.
    Contiguous copies stay `memref.copy` (a memcpy).
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def ScopeLoopAllocas : Pass<"scope-loop-allocas", "ModuleOp"> {
  let summary = "Release a loop iteration's stack allocations at its end";
  let description = [{
    Every `scf.for` and `scf.parallel` whose body allocates on the stack
    (`memref.alloca`) saves the stack pointer at the start of an iteration
    and restores it at the end (`llvm.intr.stacksave`/`stackrestore`).
    Loops are automatic allocation scopes in MLIR, but lowering them to
    branches does not restore the stack, so a kernel's per-row scratch
    would otherwise grow the stack with the trip count when the loops run
    sequentially. (OpenMP-lowered parallel loops get their own scope.)
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

//===----------------------------------------------------------------------===//
// CPU stage: how a tile runs on a CPU
//===----------------------------------------------------------------------===//

def HybridCPUTileKernels : Pass<"hybrid-cpu-tile-kernels", "ModuleOp"> {
  let summary = "Give the tile kernels their CPU register-tile bodies";
  let description = [{
    The tiled stage cuts products into register tiles and calls one tile
    kernel per tile: a private `func.func` declaration marked
    `hybrid.tile_kernel` (see `TileKernels.h`). This pass defines each
    declaration for the CPU. A `matmul` tile of rows x cols keeps
    rows x (cols / vector-width) accumulator vectors in registers over the
    whole K loop (unrolled by 4); each K step loads the B row as vectors and
    broadcasts one packed A value per row into the FMAs, the outer-product
    form of a contraction.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes of one vector register">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
  ];
}

def HybridCPUApproximateMath : Pass<"hybrid-cpu-approximate-math"> {
  let summary = "Inline polynomial approximations of exp and friends";
  let description = [{
    `math.exp` on f32 scalars and vectors would otherwise lower to a libm
    call per element (through the PLT, and one lane at a time for vectors).
    This pass applies upstream's polynomial approximations (Cody-Waite range
    reduction and a minimax polynomial, a few ulp from libm) to exp, expm1,
    log, log1p, tanh and erf, so that the softmax and gating loops stay in
    vector registers.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::vector::VectorDialect",
  ];
}

#endif // HYBRID_CONVERSION_PASSES_TD
