//===- Passes.h - Conversions out of the hybrid dialect ---------*- C++ -*-===//

#ifndef HYBRID_CONVERSION_PASSES_H
#define HYBRID_CONVERSION_PASSES_H

#include "hybrid/Conversion/HybridToLoops/HybridToLoops.h"

namespace mlir::hybrid {

#define GEN_PASS_DECL_CONVERTSTRIDEDCOPIESTOLOOPS
#define GEN_PASS_DECL_SCOPELOOPALLOCAS
#define GEN_PASS_DECL_HYBRIDCPUTILEKERNELS
#define GEN_PASS_DECL_HYBRIDCPUAPPROXIMATEMATH
#define GEN_PASS_DECL_HYBRIDGPUCHECKSUPPORTED
#define GEN_PASS_DECL_CONVERTHYBRIDTOGPU
#define GEN_PASS_DECL_HYBRIDLINALGTOGPU
#define GEN_PASS_DECL_HYBRIDGPUDEVICEBUFFERS
#define GEN_PASS_DECL_HYBRIDGPUDEVICEMATH
#define GEN_PASS_DECL_HYBRIDGPUEMBEDPTXSET
#include "hybrid/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "hybrid/Conversion/Passes.h.inc"

} // namespace mlir::hybrid

#endif // HYBRID_CONVERSION_PASSES_H
