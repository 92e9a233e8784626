//===- Harness.cpp - Compile, run, and compare against the reference ------===//

#include "Harness.h"

#include "hybrid/InitAll.h"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace hybrid;
using namespace hybrid::test;

hybrid::Module *hybrid::test::compile(const std::string &mlirText) {
  static std::map<std::string, hybrid::Module> cache;
  auto it = cache.find(mlirText);
  if (it != cache.end())
    return &it->second;
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  mlir::SourceMgrDiagnosticHandler handler(*sourceMgr, &context, os);
  sourceMgr->AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(mlirText),
                                llvm::SMLoc());
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module) {
    ADD_FAILURE() << "parse failed:\n" << diagnostics << "\n" << mlirText;
    return nullptr;
  }
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createTemporaryFile("hybrid-test", "so", path)) {
    ADD_FAILURE() << "cannot create a temporary file";
    return nullptr;
  }
  if (failed(mlir::hybrid::compileToSharedObject(
          *module, path, mlir::hybrid::CompileOptions()))) {
    ADD_FAILURE() << "compilation failed:\n" << diagnostics << "\n" << mlirText;
    return nullptr;
  }
  hybrid::Module loaded;
  hybrid::Status s = hybrid::Module::load(std::string(path), loaded);
  llvm::sys::fs::remove(path); // the mapping stays valid
  if (!s) {
    ADD_FAILURE() << s.message();
    return nullptr;
  }
  return &cache.emplace(mlirText, loaded).first->second;
}

std::string hybrid::test::applyPasses(const std::string &mlirText,
                                      const std::string &passes) {
  static bool registered = [] {
    mlir::hybrid::registerAllPasses();
    return true;
  }();
  (void)registered;
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    os << d << "\n";
    return mlir::success();
  });
  auto module = mlir::parseSourceString<mlir::ModuleOp>(mlirText, &context);
  mlir::PassManager pm(&context);
  if (!module || failed(mlir::parsePassPipeline(passes, pm)) ||
      failed(pm.run(*module))) {
    ADD_FAILURE() << "running " << passes << " failed:\n" << diagnostics;
    return "";
  }
  std::string text;
  llvm::raw_string_ostream out(text);
  module->print(out);
  return text;
}

std::string hybrid::test::tensorType(const std::vector<int64_t> &shape,
                                     const std::string &elementType) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += (d < 0 ? std::string("?") : std::to_string(d)) + "x";
  return s + elementType + ">";
}

ref::Array hybrid::test::randomArray(std::vector<int64_t> shape,
                                     std::mt19937 &rng, double scale) {
  ref::Array a(std::move(shape));
  std::normal_distribution<double> dist(0.0, scale);
  for (double &x : a.data)
    x = dist(rng);
  return a;
}

hybrid::Tensor hybrid::test::toTensor(ref::Array &a, hybrid_dtype dtype) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(dtype, a.shape, t).ok());
  for (size_t i = 0; i < a.data.size(); ++i) {
    float f = static_cast<float>(a.data[i]);
    switch (dtype) {
    case HYBRID_DTYPE_F32:
      t.data<float>()[i] = f;
      a.data[i] = f;
      break;
    case HYBRID_DTYPE_F16:
      t.data<uint16_t>()[i] = hybrid_f32_to_f16(f);
      a.data[i] = hybrid_f16_to_f32(t.data<uint16_t>()[i]);
      break;
    case HYBRID_DTYPE_BF16:
      t.data<uint16_t>()[i] = hybrid_f32_to_bf16(f);
      a.data[i] = hybrid_bf16_to_f32(t.data<uint16_t>()[i]);
      break;
    default:
      ADD_FAILURE() << "toTensor: not a float dtype";
    }
  }
  return t;
}

hybrid::Tensor hybrid::test::intTensor(const std::vector<int32_t> &values,
                                       std::vector<int64_t> shape) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I32, shape, t).ok());
  std::memcpy(t.data(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

hybrid::Tensor hybrid::test::indexScalar(int64_t value) {
  hybrid::Tensor t;
  EXPECT_TRUE(hybrid::Tensor::create(HYBRID_DTYPE_I64, {}, t).ok());
  *t.data<int64_t>() = value;
  return t;
}

ref::Array hybrid::test::fromTensor(const hybrid::Tensor &t) {
  ref::Array a(t.shape());
  for (size_t i = 0; i < a.data.size(); ++i) {
    switch (t.dtype()) {
    case HYBRID_DTYPE_F32: a.data[i] = t.data<float>()[i]; break;
    case HYBRID_DTYPE_F16: a.data[i] = hybrid_f16_to_f32(t.data<uint16_t>()[i]); break;
    case HYBRID_DTYPE_BF16: a.data[i] = hybrid_bf16_to_f32(t.data<uint16_t>()[i]); break;
    case HYBRID_DTYPE_I32: a.data[i] = t.data<int32_t>()[i]; break;
    default: ADD_FAILURE() << "fromTensor: unsupported dtype";
    }
  }
  return a;
}

std::vector<int32_t> hybrid::test::intsFromTensor(const hybrid::Tensor &t) {
  std::vector<int32_t> v(t.numElements());
  std::memcpy(v.data(), t.data(), v.size() * sizeof(int32_t));
  return v;
}

std::vector<hybrid::Tensor>
hybrid::test::run(hybrid::Module &module, const std::string &entry,
                  const std::vector<hybrid::Tensor> &args) {
  std::vector<hybrid::Tensor> results;
  hybrid::Status s = module.invoke(entry, args, results);
  EXPECT_TRUE(s.ok()) << s.message();
  return results;
}

::testing::AssertionResult
hybrid::test::allClose(const ref::Array &actual, const ref::Array &expected,
                       double rtol, double atol) {
  if (actual.shape != expected.shape)
    return ::testing::AssertionFailure() << "shape mismatch";
  double norm = 0, worst = 0;
  size_t worstAt = 0;
  for (size_t i = 0; i < expected.data.size(); ++i) {
    norm = std::max(norm, std::abs(expected.data[i]));
    double err = std::abs(actual.data[i] - expected.data[i]);
    if (!(err <= worst)) { // NaN counts as the worst
      worst = err;
      worstAt = i;
    }
  }
  if (worst <= rtol * norm + atol)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max error " << worst << " at flat index " << worstAt << " (got "
         << actual.data[worstAt] << ", want " << expected.data[worstAt]
         << "), allowed " << rtol * norm + atol << " = " << rtol << " x norm "
         << norm << " + " << atol;
}

double hybrid::test::tolerance(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F16: return 2e-3;
  case HYBRID_DTYPE_BF16: return 1.6e-2;
  default: return 1e-5;
  }
}

const char *hybrid::test::mlirType(hybrid_dtype dtype) {
  switch (dtype) {
  case HYBRID_DTYPE_F16: return "f16";
  case HYBRID_DTYPE_BF16: return "bf16";
  default: return "f32";
  }
}
