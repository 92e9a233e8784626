//===- DeviceBuffers.cpp - hybrid-gpu-device-buffers ----------------------===//
//
// The runtime calls a GPU module's entry points exactly as a CPU module's:
// host buffers in, host buffers out (results owned by the caller). Inside,
// every buffer lives on the device: each entry point copies its arguments
// in once, runs its kernels on device buffers, and copies its results and
// the other arguments it wrote back once. Bound parameters and in-place
// arguments (KV caches) arrive in device memory, kept there by the runtime.
//
//===----------------------------------------------------------------------===//

#include "GPUKernels.h"

#include "hybrid/Conversion/Passes.h"
#include "hybrid/Dialect/Hybrid/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/Support/JSON.h"

namespace mlir::hybrid {
#define GEN_PASS_DEF_HYBRIDGPUDEVICEBUFFERS
#include "hybrid/Conversion/Passes.h.inc"
} // namespace mlir::hybrid

using namespace mlir;

namespace {

/// The entry points' arguments that arrive in device memory, as
/// hybrid-export-entry-points recorded them for the runtime: bound
/// parameters (weights, copied there once) and arguments updated in place
/// (KV caches, recurrent states: kept there between calls, copied back
/// only when the caller reads them).
class DeviceArguments {
public:
  explicit DeviceArguments(ModuleOp module) {
    auto described =
        module->getAttrOfType<StringAttr>(hybrid::kEntryPointsAttrName);
    if (!described)
      return;
    llvm::Expected<llvm::json::Value> parsed =
        llvm::json::parse(described.getValue());
    if (!parsed) {
      llvm::consumeError(parsed.takeError());
      return;
    }
    const llvm::json::Array *entries = parsed->getAsArray();
    for (const llvm::json::Value &entry : entries ? *entries
                                                  : llvm::json::Array()) {
      const llvm::json::Object *object = entry.getAsObject();
      std::optional<StringRef> name = object ? object->getString("name")
                                             : std::nullopt;
      const llvm::json::Array *args = object ? object->getArray("args")
                                             : nullptr;
      if (!name || !args)
        continue;
      for (auto [i, arg] : llvm::enumerate(*args))
        if (const llvm::json::Object *a = arg.getAsObject();
            a && (a->get("parameter") || a->getBoolean("inout") == true))
          arguments[*name].insert(i);
    }
  }

  bool contains(func::FuncOp func, unsigned index) const {
    auto it = arguments.find(func.getSymName());
    return it != arguments.end() && it->second.contains(index);
  }

private:
  llvm::StringMap<DenseSet<unsigned>> arguments;
};

/// The dynamic sizes of `buffer`'s type, read from `buffer`.
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value buffer) {
  SmallVector<Value> sizes;
  auto type = cast<MemRefType>(buffer.getType());
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(memref::DimOp::create(b, loc, buffer, d));
  return sizes;
}

/// The buffer `view` is a view of (itself when it is no view).
Value baseBuffer(Value view) {
  while (auto viewOp = view.getDefiningOp<ViewLikeOpInterface>())
    view = viewOp.getViewSource();
  return view;
}

/// Whether anything but `filler` writes `buffer` (or a view of it): a
/// store, a copy into it, a kernel that stores into it, or a function it
/// is passed to that does. Unknown users count as writers.
bool isWritten(Value buffer, Operation *filler, SymbolTableCollection &symbols,
               DenseSet<Value> &visited) {
  if (!visited.insert(buffer).second)
    return false;
  for (OpOperand &use : buffer.getUses()) {
    Operation *user = use.getOwner();
    if (user == filler)
      continue;
    if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
      if (view.getViewSource() == buffer &&
          isWritten(view->getResult(0), filler, symbols, visited))
        return true;
      continue;
    }
    if (auto call = dyn_cast<CallOpInterface>(user)) {
      auto callee = dyn_cast_or_null<func::FuncOp>(
          call.resolveCallableInTable(&symbols));
      if (!callee || callee.isExternal())
        return true;
      unsigned index = use.getOperandNumber() -
                       call.getArgOperands().getBeginOperandIndex();
      if (isWritten(callee.getArgument(index), filler, symbols, visited))
        return true;
      continue;
    }
    if (auto copy = dyn_cast<gpu::MemcpyOp>(user)) {
      if (copy.getDst() == buffer)
        return true;
      continue;
    }
    if (isa<func::ReturnOp, gpu::DeallocOp, memref::DeallocOp>(user))
      continue;
    auto effects = dyn_cast<MemoryEffectOpInterface>(user);
    // (A kernel's loads and stores are users too: launches capture.)
    if (!effects)
      return true;
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffectsOnValue(buffer, instances);
    if (llvm::any_of(instances, [](const MemoryEffects::EffectInstance &e) {
          return isa<MemoryEffects::Write>(e.getEffect());
        }))
      return true;
  }
  return false;
}

/// Whether `buffer` is only ever read and written by host code: a shape
/// for `memref.reshape`, the pointer and ownership arrays of the
/// deallocation helper. No kernel or copy touches it (through views and
/// calls), so it stays in host memory.
bool usedOnlyOnHost(Value buffer, SymbolTableCollection &symbols,
                    DenseSet<Value> &visited) {
  if (!visited.insert(buffer).second)
    return true;
  for (OpOperand &use : buffer.getUses()) {
    Operation *user = use.getOwner();
    if (user->getParentOfType<gpu::LaunchOp>())
      return false;
    if (auto reshape = dyn_cast<memref::ReshapeOp>(user)) {
      if (use.get() == reshape.getShape())
        continue;
      return false;
    }
    if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
      if (!usedOnlyOnHost(view->getResult(0), symbols, visited))
        return false;
      continue;
    }
    if (auto call = dyn_cast<CallOpInterface>(user)) {
      auto callee = dyn_cast_or_null<func::FuncOp>(
          call.resolveCallableInTable(&symbols));
      if (!callee || callee.isExternal())
        return false;
      unsigned index = use.getOperandNumber() -
                       call.getArgOperands().getBeginOperandIndex();
      if (!usedOnlyOnHost(callee.getArgument(index), symbols, visited))
        return false;
      continue;
    }
    if (!isa<memref::LoadOp, memref::StoreOp, memref::DeallocOp,
             memref::DimOp, memref::ExtractAlignedPointerAsIndexOp>(user))
      return false;
  }
  return true;
}

/// Host allocations, frees, copies and constants move to the device.
void moveBuffersToDevice(func::FuncOp func) {
  OpBuilder b(func.getContext());
  SmallVector<Operation *> ops;
  DenseSet<Value> hostOnly;
  SymbolTableCollection symbols;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<gpu::LaunchOp>(op))
      return WalkResult::skip();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      DenseSet<Value> visited;
      if (!usedOnlyOnHost(alloc, symbols, visited))
        ops.push_back(op);
      else
        hostOnly.insert(alloc.getResult());
    }
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op);
        dealloc && !hostOnly.contains(dealloc.getMemref()))
      ops.push_back(op);
    if (isa<memref::CopyOp>(op))
      ops.push_back(op);
    // Constants move; a mutable global (the error code the runtime reads
    // after a call) stays on the host.
    if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
      auto def = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
          global, global.getNameAttr());
      if (def && def.getConstant())
        ops.push_back(op);
    }
    return WalkResult::advance();
  });
  for (Operation *op : ops) {
    b.setInsertionPoint(op);
    Location loc = op->getLoc();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      auto device = gpu::AllocOp::create(
          b, loc, alloc.getType(), /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange{}, alloc.getDynamicSizes(),
          alloc.getSymbolOperands(), /*hostShared=*/false);
      alloc.replaceAllUsesWith(device.getMemref());
    } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      gpu::DeallocOp::create(b, loc, Type(), ValueRange{},
                             dealloc.getMemref());
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, copy.getTarget(),
                            copy.getSource());
    } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
      // A constant of the module (a small table, a mask): copied to the
      // device where it is used, freed when the function returns.
      b.setInsertionPointAfter(global);
      auto device = gpu::AllocOp::create(b, loc, global.getType(), Type(),
                                         ValueRange{}, ValueRange{},
                                         ValueRange{}, false);
      auto copy = gpu::MemcpyOp::create(b, loc, Type(), ValueRange{},
                                        device.getMemref(), global);
      global.getResult().replaceAllUsesExcept(device.getMemref(), copy);
      func.walk([&](func::ReturnOp ret) {
        b.setInsertionPoint(ret);
        gpu::DeallocOp::create(b, loc, Type(), ValueRange{},
                               device.getMemref());
      });
      continue;
    }
    op->erase();
  }
}

/// Copies an entry point's buffer arguments to the device on entry, and
/// its results and the arguments it writes back to the host on return.
void copyAtBoundary(func::FuncOp func, SymbolTableCollection &symbols,
                    const DeviceArguments &onDevice) {
  OpBuilder b(func.getContext());
  Block &entry = func.front();
  b.setInsertionPointToStart(&entry);
  Location loc = func.getLoc();
  struct ArgumentCopy {
    Value host, device;
    Operation *copyIn;
  };
  SmallVector<ArgumentCopy> copies;
  for (BlockArgument arg : func.getArguments()) {
    if (!isa<MemRefType>(arg.getType()) || arg.use_empty() ||
        onDevice.contains(func, arg.getArgNumber()))
      continue;
    SmallVector<Value> sizes = dynamicSizes(b, loc, arg);
    auto device = gpu::AllocOp::create(b, loc, arg.getType(), Type(),
                                       ValueRange{}, sizes, ValueRange{},
                                       false);
    auto copy = gpu::MemcpyOp::create(b, loc, Type(), ValueRange{},
                                      device.getMemref(), arg);
    SmallPtrSet<Operation *, 4> keep{copy};
    for (Value size : sizes)
      keep.insert(size.getDefiningOp());
    arg.replaceAllUsesExcept(device.getMemref(), keep);
    copies.push_back({arg, device.getMemref(), copy});
  }
  SmallVector<Value> writtenBack;
  for (const ArgumentCopy &copy : copies) {
    DenseSet<Value> visited;
    if (isWritten(copy.device, copy.copyIn, symbols, visited))
      writtenBack.push_back(copy.device);
  }

  func.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    SmallVector<Value> results(ret.getOperands());
    SmallVector<Value> toFree, returnedFromCalls;
    for (Value &result : results) {
      if (!isa<MemRefType>(result.getType()))
        continue;
      auto type = cast<MemRefType>(result.getType());
      auto host = memref::AllocOp::create(b, loc, type,
                                          dynamicSizes(b, loc, result),
                                          b.getI64IntegerAttr(64));
      gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, host, result);
      Value base = baseBuffer(result);
      if (base.getDefiningOp<gpu::AllocOp>()) {
        if (!llvm::is_contained(toFree, base))
          toFree.push_back(base);
      } else if (!isa<BlockArgument>(base) &&
                 !llvm::is_contained(returnedFromCalls, base)) {
        returnedFromCalls.push_back(base);
      }
      result = host;
    }
    for (const ArgumentCopy &copy : copies) {
      if (llvm::is_contained(writtenBack, copy.device))
        gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, copy.host,
                              copy.device);
      if (!llvm::is_contained(toFree, copy.device))
        toFree.push_back(copy.device);
    }
    for (Value buffer : toFree)
      gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, buffer);
    // A buffer a call returned (an outlined kernel's result) was handed to
    // this function's caller; it now has the host copy, so the device one
    // is freed here. Buffer deallocation already freed its base where the
    // result is an offset view into it (their aligned pointers differ).
    for (Value buffer : returnedFromCalls) {
      auto metadata =
          memref::ExtractStridedMetadataOp::create(b, loc, buffer);
      Value basePointer = memref::ExtractAlignedPointerAsIndexOp::create(
          b, loc, metadata.getBaseBuffer());
      Value pointer =
          memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
      Value whole = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          basePointer, pointer);
      auto ifWhole = scf::IfOp::create(b, loc, whole, false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifWhole.getThenRegion().front());
      gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, buffer);
    }
    ret->setOperands(results);
  });
}

/// The buffers that live on the device: allocations (`gpu.alloc`, views
/// of them) and the arguments of functions that some call passes one.
class DeviceBuffers {
public:
  DeviceBuffers(ModuleOp module, const DeviceArguments &onDevice) {
    // Entry points' parameters and in-place arguments arrive in device
    // memory.
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        for (BlockArgument arg : func.getArguments())
          if (onDevice.contains(func, arg.getArgNumber()))
            arguments.insert(arg);
    SymbolTableCollection symbols;
    for (bool changed = true; changed;) {
      changed = false;
      module.walk([&](CallOpInterface call) {
        auto callee = dyn_cast_or_null<func::FuncOp>(
            call.resolveCallableInTable(&symbols));
        if (!callee || callee.isExternal())
          return;
        for (auto [i, operand] : llvm::enumerate(call.getArgOperands()))
          if (isa<MemRefType>(operand.getType()) && contains(operand))
            changed |= arguments.insert(callee.getArgument(i)).second;
      });
    }
  }

  bool contains(Value buffer) const {
    Value base = baseBuffer(buffer);
    if (base.getDefiningOp<gpu::AllocOp>())
      return true;
    auto arg = dyn_cast<BlockArgument>(base);
    return arg && arguments.contains(arg);
  }

private:
  DenseSet<Value> arguments;
};

/// A host load from a device buffer (a check's condition, a position read
/// from an input): a one-thread kernel copies the element into a one-element
/// device buffer, which is copied to the host and read there.
void readBack(memref::LoadOp load) {
  OpBuilder b(load);
  Location loc = load.getLoc();
  Type element = load.getType();
  auto single = MemRefType::get({1}, element);
  auto staging = gpu::AllocOp::create(b, loc, single, Type(), ValueRange{},
                                      ValueRange{}, ValueRange{}, false);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
  {
    OpBuilder::InsertionGuard guard(b);
    Block &body = launch.getBody().front();
    b.setInsertionPointToEnd(&body);
    Value v = memref::LoadOp::create(b, loc, load.getMemRef(),
                                     load.getIndices());
    memref::StoreOp::create(b, loc, v, staging.getMemref(),
                            ValueRange{zero});
    gpu::TerminatorOp::create(b, loc);
  }
  auto func = load->getParentOfType<func::FuncOp>();
  Value host;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.front());
    host = memref::AllocaOp::create(b, loc, single);
  }
  gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, host,
                        staging.getMemref());
  gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, staging.getMemref());
  Value value = memref::LoadOp::create(b, loc, host, ValueRange{zero});
  load.replaceAllUsesWith(value);
  load.erase();
}

/// The outermost host loop around `load` that reads its buffer without
/// anything in it writing device memory (no launch, call, copy or fill):
/// a check walking a draft tree's parents, a path. Null if none.
scf::ForOp readOnlyLoopAround(memref::LoadOp load) {
  scf::ForOp found;
  Value buffer = load.getMemRef();
  for (auto loop = load->getParentOfType<scf::ForOp>(); loop;
       loop = loop->getParentOfType<scf::ForOp>()) {
    if (loop->getParentOfType<gpu::LaunchOp>() ||
        !buffer.getParentRegion()->isAncestor(loop->getParentRegion()) ||
        loop->isAncestor(buffer.getParentBlock()->getParentOp()))
      break;
    bool writes = loop->walk([](Operation *op) {
                        return isa<gpu::LaunchOp, CallOpInterface,
                                   gpu::MemcpyOp, gpu::MemsetOp>(op)
                                   ? WalkResult::interrupt()
                                   : WalkResult::advance();
                      }).wasInterrupted();
    if (writes)
      break;
    found = loop;
  }
  return found;
}

/// Host loads of `buffer` inside `loop` read a host copy of the whole
/// buffer, made before the loop (a kernel stages it contiguously, one
/// copy brings it back) and freed after it: one read-back instead of one
/// per element.
void readBackWhole(Value buffer, scf::ForOp loop,
                   ArrayRef<memref::LoadOp> loads) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  auto type = cast<MemRefType>(buffer.getType());
  auto contiguous = MemRefType::get(type.getShape(), type.getElementType());
  SmallVector<Value> sizes, dynamic;
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d = 0; d < type.getRank(); ++d) {
    sizes.push_back(memref::DimOp::create(b, loc, buffer, d));
    count = arith::MulIOp::create(b, loc, count, sizes.back());
    if (type.isDynamicDim(d))
      dynamic.push_back(sizes.back());
  }
  auto staging = gpu::AllocOp::create(b, loc, contiguous, Type(),
                                      ValueRange{}, dynamic, ValueRange{},
                                      false);
  {
    constexpr int64_t threads = 256;
    Value perBlock = arith::ConstantIndexOp::create(b, loc, threads);
    Value blocks = arith::CeilDivUIOp::create(b, loc, count, perBlock);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    OpBuilder::InsertionGuard guard(b);
    auto launch =
        hybrid::gpu_stage::createGuardedLaunch(b, loc, count, {blocks, one, one},
                                               threads)
            .op;
    Value linear = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, launch.getBlockIds().x, perBlock),
        launch.getThreadIds().x);
    auto inside = scf::IfOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, linear,
                              count),
        false);
    b.setInsertionPointToStart(&inside.getThenRegion().front());
    SmallVector<Value> at =
        hybrid::gpu_stage::KernelIO(b, loc).delinearize(linear, sizes);
    Value v = memref::LoadOp::create(b, loc, buffer, at);
    memref::StoreOp::create(b, loc, v, staging.getMemref(), at);
  }
  Value host = memref::AllocOp::create(b, loc, contiguous, dynamic);
  gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, host,
                        staging.getMemref());
  gpu::DeallocOp::create(b, loc, Type(), ValueRange{}, staging.getMemref());
  for (memref::LoadOp load : loads)
    load->setOperand(0, host);
  b.setInsertionPointAfter(loop);
  memref::DeallocOp::create(b, loc, host);
}

/// Host loads from device buffers are copied back; a host store into one
/// is an error naming the op that still needs a kernel.
LogicalResult fixHostAccesses(ModuleOp module,
                              const DeviceArguments &onDevice) {
  DeviceBuffers device(module, onDevice);
  SmallVector<memref::LoadOp> loads;
  bool failedAny = false;
  module.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
      return WalkResult::skip();
    if (auto load = dyn_cast<memref::LoadOp>(op);
        load && device.contains(load.getMemRef()))
      loads.push_back(load);
    if (auto store = dyn_cast<memref::StoreOp>(op);
        store && device.contains(store.getMemRef())) {
      store.emitError("the host writes a device buffer here: the op this "
                      "comes from has no GPU kernel yet");
      failedAny = true;
    }
    return WalkResult::advance();
  });
  // Loads in a loop that leaves device memory alone share one read-back of
  // their buffer; the others copy their element back.
  llvm::MapVector<std::pair<Value, Operation *>,
                  SmallVector<memref::LoadOp>>
      inLoops;
  for (memref::LoadOp load : loads) {
    if (scf::ForOp loop = readOnlyLoopAround(load))
      inLoops[{load.getMemRef(), loop}].push_back(load);
    else
      readBack(load);
  }
  for (auto &[key, group] : inLoops)
    readBackWhole(key.first, cast<scf::ForOp>(key.second), group);
  return failure(failedAny);
}

struct HybridGPUDeviceBuffers
    : hybrid::impl::HybridGPUDeviceBuffersBase<HybridGPUDeviceBuffers> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    DeviceArguments onDevice(module);
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs)
      if (!func.isExternal())
        moveBuffersToDevice(func);
    for (func::FuncOp func : funcs)
      if (!func.isExternal() && func.isPublic())
        copyAtBoundary(func, symbols, onDevice);
    if (failed(fixHostAccesses(module, onDevice)))
      return signalPassFailure();
  }
};

} // namespace
