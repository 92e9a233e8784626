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
    `@__hybrid_raise(code, cell)` (the call's error cell, read once per
    function from a thread-local the runtime sets, `__hybrid_set_error_cell`);
    the messages are listed in the module attribute
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
    "mlir::func::FuncDialect", "mlir::LLVM::LLVMDialect",
    "mlir::math::MathDialect",
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

//===----------------------------------------------------------------------===//
// GPU stage: how a tile runs on an NVIDIA GPU
//===----------------------------------------------------------------------===//

def HybridGPUCheckSupported : Pass<"hybrid-gpu-check-supported", "ModuleOp"> {
  let summary = "Reject, by name, the ops the GPU stage cannot lower yet";
  let description = [{
    Runs first in `hybrid-gpu-pipeline`, on the tensor program: every op
    that the GPU stage has no kernel for (hybrid ops not yet ported) is
    reported with its location and the pass fails, instead of a confusing
    failure in bufferization or a silently wrong kernel further down.
  }];
}

def ConvertHybridToGPU : Pass<"convert-hybrid-to-gpu", "ModuleOp"> {
  let summary = "Lower hybrid ops to GPU kernels, on their tensors";
  let description = [{
    Each hybrid op that has a GPU kernel becomes a `gpu.launch` over its
    operands' buffers (`bufferization.to_buffer`), writing a new buffer
    that becomes its result again (`bufferization.to_tensor restrict`), so
    that One-Shot Bufferize resolves the rest of the program around it.

    - `hybrid.rms_norm`: one thread block per row; 256 threads stride over
      the row for the sum of squares (f32, warp shuffles and one
      shared-memory step), then scale and store.
    - `hybrid.attention`: flash-style, one thread block per (KV head,
      rows of its packed query group, batch); K/V tiles in shared memory
      serve all G heads of the group; online softmax in registers; causal
      limit, key length, mask, softcap and draft tree on the tile; key
      tiles past the causal limit skipped. f16/bf16 Q, K and V on tensor
      cores (64 rows, 4 warps, `mma.sync` m16n8k16 for Q K^T and P V, f32
      accumulators), f32 on FMAs (32 rows). Static head dimensions up to
      128. `hybrid.block_sparse_attention` on the same
      kernel: a block's rows are a query's G heads, the key loop over its
      selected blocks and window (all keys below dense_len).
    - `hybrid.block_select` (a block per query: kernel scores, max-pool,
      top k by rank) and `hybrid.compress_keys` (a thread per value).
    - `hybrid.rotary_embedding`: one thread per element (rotated with its
      pair partner, or copied past the rotary dimension); the shape checks
      on the host, before the launch.
    - `hybrid.linear_recurrence`: the state in registers, one block per
      (32 value columns, KV head, batch), the state rows split over 4
      warps; the prefix in chunks of 16 tokens (the delta rules by
      forward substitution within a chunk, per-key decays weighing each
      key dim), the step form for the rest; draft-tree
      nodes start from their parent's stored state. Static key dimension
      up to 128.
    - `hybrid.chunk_moe`: router weights a block per token, then a block
      per (chunk, expert) that returns at once when the chunk does not
      activate the expert; warp-per-row expert products added atomically.
    - `hybrid.cumsum` (a thread per line), `hybrid.topk` (a thread per
      element, placed at its rank), `hybrid.attention_scores` (a block per
      query row).
    - `hybrid.check` and `hybrid.kv_compact` (caches) as on the CPU, on the
      host (`populateHostControlLoweringPatterns`).
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::gpu::GPUDialect", "mlir::LLVM::LLVMDialect",
    "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
    "mlir::NVVM::NVVMDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect", "mlir::vector::VectorDialect",
  ];
}

def HybridLinalgToGPU : Pass<"hybrid-linalg-to-gpu", "ModuleOp"> {
  let summary = "Launch every linalg op on buffers as a tiled GPU kernel";
  let description = [{
    The GPU stage of the tiled design. Each linalg op of a bufferized
    module's host functions becomes a `gpu.launch`:

    - a contraction (matmul, batch matmul, any op whose maps infer one m,
      one n and one k loop) becomes a tiled GEMM: one thread block per
      64 x 64 tile of the output, K staged through shared memory, and per
      thread a 4 x 4 register tile of FMAs (f32), or per warp 2 x 2
      tensor-core fragments (`mma.sync.m16n8k16`, f16 or bf16 operands,
      f32 accumulators);
    - any other op (elementwise, fill, broadcast, transpose, reductions)
      runs one thread per point of its parallel loops, the thread running
      the reduction loops.

    Copies between non-contiguous buffers arrive as `linalg.copy`
    (`convert-strided-copies-to-loops`) and become kernels too; contiguous
    ones are left to `hybrid-gpu-device-buffers` (a `gpu.memcpy`).
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::affine::AffineDialect",
    "mlir::gpu::GPUDialect", "mlir::LLVM::LLVMDialect",
    "mlir::memref::MemRefDialect", "mlir::NVVM::NVVMDialect",
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
  ];
}

def HybridGPUDeviceBuffers : Pass<"hybrid-gpu-device-buffers", "ModuleOp"> {
  let summary = "Keep buffers on the device; entry points copy in and out";
  let description = [{
    After `hybrid-linalg-to-gpu`, host code only allocates, copies and
    launches. This pass puts every buffer on the device: allocations become
    `gpu.alloc`, frees `gpu.dealloc`, contiguous copies `gpu.memcpy`, and a
    constant global is copied to the device where it is used. Each public
    function copies its buffer arguments to the device on entry and its
    results (and any other argument it writes) back to host memory before
    it returns, so that the runtime's calling convention is the CPU's.
    Two kinds of arguments arrive in device memory instead, as the entry
    points' metadata declares them: bound parameters (`hybrid.parameter`,
    copied there once by the runtime) and arguments updated in place
    (`hybrid.inout`: KV caches and states, which the runtime keeps there
    between calls and copies back only when the caller reads them). A
    host load from a device buffer (a check's condition, a position read
    from an input) is copied back through a one-thread kernel, or, in a
    host loop that leaves device memory alone (a check walking a draft
    tree), through one copy of the whole buffer made before the loop; a
    host store into one is an error.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::gpu::GPUDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
  ];
}

def HybridGPUDeviceMath : Pass<"hybrid-gpu-device-math"> {
  let summary = "Math in kernels without libdevice";
  let description = [{
    `convert-gpu-to-nvvm` lowers `math.exp` and its kin to calls of
    libdevice (`__nv_expf`), which is part of the CUDA toolkit and absent
    where a compiled module runs. This pass gives them inline forms first:
    upstream's polynomial approximations for exp, expm1, log, log1p, tanh,
    erf, sin and cos (the CPU stage's, so both targets agree), and
    `pow` expanded through exp and log. What is left (sqrt, rsqrt, abs,
    floor, ceil, fma) maps onto PTX instructions through LLVM intrinsics.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::LLVM::LLVMDialect",
  ];
}

def HybridGPUEmbedPTXSet : Pass<"hybrid-gpu-embed-ptx-set", "ModuleOp"> {
  let summary = "One embedded object holding the PTX of every chip";
  let description = [{
    After `gpu-module-to-binary` on modules with several NVVM targets
    (`hybrid-gpu-pipeline{chip=both}`), a `gpu.binary` holds one PTX object
    per chip, of which the embedding would keep only the first. This pass
    merges them into one object, a PTX set that the GPU runtime's module
    loader reads (`lib/Runtime/CUDA/GPURuntime.cpp`):

        HYBRID-PTX-SET\n
        sm_80 <bytes>\n <PTX> \0
        sm_90 <bytes>\n <PTX> \0

    and loads the PTX of the newest chip the device runs (sm_90 on Hopper
    and later, sm_80 on Ampere and Ada). A binary that is not all PTX for
    NVVM targets is an error.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

#endif // HYBRID_CONVERSION_PASSES_TD
