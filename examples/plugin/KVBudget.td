//===- KVBudget.td - An out-of-tree Hybrid pass ------------*- tablegen -*-===//

#ifndef HYBRID_EXAMPLES_PLUGIN_KVBUDGET_TD
#define HYBRID_EXAMPLES_PLUGIN_KVBUDGET_TD

include "mlir/Pass/PassBase.td"

def KVBudget : Pass<"hybrid-kv-budget", "::mlir::ModuleOp"> {
  let summary = "Flag attention ops whose KV cache exceeds a budget";
  let description = [{
    An example of a pass built outside Hybrid and loaded into hybrid-opt with
    --load-pass-plugin. It asks Hybrid's cost model for each attention op's
    KV-cache bytes at the given context length, records them in a
    `kv_budget.bytes` attribute, and warns when they exceed `budget-mib`.
  }];
  let options = [
    Option<"contextLength", "context-length", "int64_t", "32768",
           "Keys in the KV cache">,
    Option<"budgetMiB", "budget-mib", "double", "64.0",
           "KV-cache budget per attention op, in MiB">,
  ];
}

#endif // HYBRID_EXAMPLES_PLUGIN_KVBUDGET_TD
