//===- hybrid-opt.cpp - The Hybrid optimizer driver -----------------------===//
//
// mlir-opt with the hybrid dialect and passes: every upstream dialect and
// pass, --pass-pipeline, -mlir-print-ir-after-all and the out-of-tree
// --load-pass-plugin / --load-dialect-plugin options all come from
// MlirOptMain.
//
//===----------------------------------------------------------------------===//

#include "hybrid/InitAll.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::hybrid::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Hybrid optimizer driver\n", registry));
}
