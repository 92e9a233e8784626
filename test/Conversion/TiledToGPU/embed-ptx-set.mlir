// RUN: hybrid-opt %s --split-input-file --hybrid-gpu-embed-ptx-set --verify-diagnostics | FileCheck %s

// Two chips' PTX become one object, the PTX set the runtime picks from:
// a header, then per chip its name, the PTX's length, the PTX and a NUL.
// CHECK-LABEL: gpu.binary @kernels
// CHECK-SAME:    [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = "HYBRID-PTX-SET\0Asm_80 13\0A.target sm_80\00sm_90 13\0A.target sm_90\00">]
gpu.binary @kernels [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".target sm_80">,
                     #gpu.object<#nvvm.target<chip = "sm_90">, assembly = ".target sm_90">]

// -----

// One object: left as it is.
// CHECK-LABEL: gpu.binary @one
// CHECK-SAME:    [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".target sm_80">]
gpu.binary @one [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".target sm_80">]

// -----

// Only PTX can be a PTX set.
// expected-error @below {{a PTX set takes PTX (format=isa) for NVVM targets only}}
gpu.binary @cubins [#gpu.object<#nvvm.target<chip = "sm_80">, bin = "\01\02">,
                    #gpu.object<#nvvm.target<chip = "sm_90">, bin = "\03\04">]
