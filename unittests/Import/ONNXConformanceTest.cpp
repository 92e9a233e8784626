//===- ONNXConformanceTest.cpp - ONNX's node tests through Hybrid ---------===//
//
// ONNX's own single-node test cases (test/ONNX/node, listed in
// MANIFEST.tsv): each supported case is imported, compiled with the CPU
// pipeline, run through the runtime on the case's inputs and compared with
// its expected outputs (f32: max abs error <= 1e-4 x max(1, max|expected|);
// f16: 1e-2). Every case must pass, or be refused by the importer with a
// diagnostic that names what is not supported yet; the counts per op are
// printed.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Import/ONNX/ONNXImporter.h"
#include "hybrid/InitAll.h"
#include "hybrid/Runtime/Runtime.hpp"
#include "hybrid/Target/CPU/SharedObject.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace {

/// The case folders: ONNX 1.23's cases of the hybrid ops (vendored), and
/// ONNX 1.12's cases of the ops torch exports (generated here from Debian's
/// python3-onnx generators).
const std::string kHybridOpsDir = HYBRID_ONNX_NODE_DIR;
const std::string kExportOpsDir = HYBRID_ONNX_NODE_OPSET17_DIR;
/// Cases of ONNX Runtime's contrib ops for LLMs, with ORT 1.30's outputs.
const std::string kContribOpsDir = HYBRID_ONNX_NODE_CONTRIB_DIR;

/// The ops whose every case must pass (the others may refuse a case with a
/// diagnostic, never compute a wrong result).
const std::set<std::string> kImported = {
    "Attention", "CumSum", "LinearAttention", "RMSNormalization",
    "RotaryEmbedding", "Softmax"}; // TopK: uint64 is refused

struct Case {
  std::string name, op;
  int64_t inputs, outputs;
};

std::vector<Case> manifest(const std::string &dir) {
  std::vector<Case> cases;
  std::ifstream in(dir + "/MANIFEST.tsv");
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Case c;
    std::string opset, nIn, nOut;
    std::getline(fields, c.name, '\t');
    std::getline(fields, c.op, '\t');
    std::getline(fields, opset, '\t');
    std::getline(fields, nIn, '\t');
    std::getline(fields, nOut, '\t');
    c.inputs = std::stoll(nIn);
    c.outputs = std::stoll(nOut);
    cases.push_back(c);
  }
  return cases;
}

/// A TensorProto file as a runtime tensor (raw or typed data).
::testing::AssertionResult readTensor(const std::string &path,
                                      hybrid::Tensor &out) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return ::testing::AssertionFailure() << "cannot read " << path;
  onnx::TensorProto t;
  if (!t.ParseFromArray((*buffer)->getBufferStart(),
                        static_cast<int>((*buffer)->getBufferSize())))
    return ::testing::AssertionFailure() << path << " does not parse";
  std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
  hybrid_dtype dtype;
  size_t width;
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT:
    dtype = HYBRID_DTYPE_F32, width = 4;
    break;
  case onnx::TensorProto::FLOAT16:
    dtype = HYBRID_DTYPE_F16, width = 2;
    break;
  case onnx::TensorProto::DOUBLE:
    dtype = HYBRID_DTYPE_F64, width = 8;
    break;
  case onnx::TensorProto::INT64:
    dtype = HYBRID_DTYPE_I64, width = 8;
    break;
  case onnx::TensorProto::INT32:
    dtype = HYBRID_DTYPE_I32, width = 4;
    break;
  case onnx::TensorProto::BOOL:
    dtype = HYBRID_DTYPE_BOOL, width = 1;
    break;
  case onnx::TensorProto::INT8:
    dtype = HYBRID_DTYPE_I8, width = 1;
    break;
  case onnx::TensorProto::BFLOAT16:
  // ONNX 1.12's generators store bf16 data as uint16 words (numpy has no
  // bf16); the models declare bfloat16.
  case onnx::TensorProto::UINT16:
    dtype = HYBRID_DTYPE_BF16, width = 2;
    break;
  default:
    return ::testing::AssertionFailure()
           << path << ": element type " << t.data_type() << " not handled";
  }
  if (!hybrid::Tensor::create(dtype, shape, out).ok())
    return ::testing::AssertionFailure() << "cannot allocate " << path;
  size_t count = out.numElements();
  auto *dst = out.data<char>();
  if (t.has_raw_data()) {
    if (t.raw_data().size() != count * width)
      return ::testing::AssertionFailure() << path << ": raw_data size";
    std::memcpy(dst, t.raw_data().data(), count * width);
  } else if (dtype == HYBRID_DTYPE_F32 && t.float_data_size() == int(count)) {
    std::memcpy(dst, t.float_data().data(), count * width);
  } else if (dtype == HYBRID_DTYPE_F64 && t.double_data_size() == int(count)) {
    std::memcpy(dst, t.double_data().data(), count * width);
  } else if (dtype == HYBRID_DTYPE_I64 && t.int64_data_size() == int(count)) {
    std::memcpy(dst, t.int64_data().data(), count * width);
  } else if (t.int32_data_size() == int(count)) {
    // int32, bool and f16 (as 16-bit words) travel in int32_data.
    for (size_t i = 0; i < count; ++i) {
      int32_t v = t.int32_data(int(i));
      std::memcpy(dst + i * width, &v, width);
    }
  } else {
    return ::testing::AssertionFailure() << path << ": no data";
  }
  return ::testing::AssertionSuccess();
}

float toFloat(const hybrid::Tensor &t, size_t i) {
  if (t.dtype() == HYBRID_DTYPE_F32)
    return t.data<float>()[i];
  if (t.dtype() == HYBRID_DTYPE_F64)
    return float(t.data<double>()[i]);
  if (t.dtype() == HYBRID_DTYPE_I64)
    return float(t.data<int64_t>()[i]);
  if (t.dtype() == HYBRID_DTYPE_I32)
    return float(t.data<int32_t>()[i]);
  if (t.dtype() == HYBRID_DTYPE_F16)
    return hybrid_f16_to_f32(t.data<uint16_t>()[i]);
  if (t.dtype() == HYBRID_DTYPE_BF16)
    return hybrid_bf16_to_f32(t.data<uint16_t>()[i]);
  if (t.dtype() == HYBRID_DTYPE_I8)
    return float(t.data<int8_t>()[i]);
  return float(t.data<uint8_t>()[i]);
}

enum class Outcome { Passed, Refused, Failed };

/// A compiled, loaded module and its entry point.
struct Compiled {
  hybrid::Module module;
  std::string entry;
};

/// Imports `bytes` (a model read from `path`) and compiles it with the CPU
/// pipeline. A model the importer refuses with a diagnostic (an op, opset,
/// input or attribute not supported yet) is Refused; anything else that
/// goes wrong is Failed.
Outcome compile(const std::string &bytes, const std::string &path,
                Compiled &out, std::string &why) {
  mlir::DialectRegistry registry;
  mlir::hybrid::registerAllDialects(registry);
  mlir::hybrid::registerONNXImportDialects(registry);
  mlir::MLIRContext context(registry);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  auto module = mlir::hybrid::importONNXModel(bytes, path, &context);
  if (!module) {
    why = diagnostics;
    return diagnostics.find("not supported") != std::string::npos
               ? Outcome::Refused
               : Outcome::Failed;
  }
  out.entry =
      (*module->getOps<mlir::func::FuncOp>().begin()).getSymName().str();
  llvm::SmallString<128> so;
  if (llvm::sys::fs::createTemporaryFile("hybrid-onnx", "so", so)) {
    why = "no temporary file";
    return Outcome::Failed;
  }
  mlir::hybrid::CompileOptions options;
  if (failed(mlir::hybrid::compileToSharedObject(*module, so, options))) {
    why = "compile: " + diagnostics;
    return Outcome::Failed;
  }
  hybrid::Status loaded = hybrid::Module::load(std::string(so), out.module);
  llvm::sys::fs::remove(so);
  if (!loaded) {
    why = "load: " + loaded.message();
    return Outcome::Failed;
  }
  return Outcome::Passed;
}

/// Runs `compiled` on the inputs of case `c` in `dir` (but those in
/// `baked`) and compares every output with the case's.
Outcome check(Compiled &compiled, const std::string &dir, const Case &c,
              const std::set<int64_t> &baked, std::string &why) {
  auto fail = [&](const std::string &what) {
    why = what;
    return Outcome::Failed;
  };
  std::vector<hybrid::Tensor> args, results;
  for (int64_t i = 0; i < c.inputs; ++i) {
    if (baked.count(i))
      continue;
    args.emplace_back();
    if (auto r = readTensor(dir + "/test_data_set_0/input_" +
                                std::to_string(i) + ".pb",
                            args.back());
        !r)
      return fail(r.message());
  }
  if (hybrid::Status s = compiled.module.invoke(compiled.entry, args, results);
      !s)
    return fail("run: " + s.message());
  if (int64_t(results.size()) != c.outputs)
    return fail(std::to_string(results.size()) + " outputs");
  for (int64_t o = 0; o < c.outputs; ++o) {
    hybrid::Tensor expected;
    if (auto r = readTensor(dir + "/test_data_set_0/output_" +
                                std::to_string(o) + ".pb",
                            expected);
        !r)
      return fail(r.message());
    if (results[o].shape() != expected.shape())
      return fail("output " + std::to_string(o) + ": shape");
    double scale = 1.0, err = 0.0;
    for (size_t i = 0; i < expected.numElements(); ++i)
      scale = std::max(scale, double(std::fabs(toFloat(expected, i))));
    for (size_t i = 0; i < expected.numElements(); ++i) {
      float want = toFloat(expected, i), got = toFloat(results[o], i);
      // Equal values (infinities included: a masked score) and NaN where
      // the reference has NaN agree.
      if (got == want || (std::isnan(want) && std::isnan(got)))
        continue;
      double d = std::fabs(double(got) - double(want));
      err = std::isnan(d) ? INFINITY : std::max(err, d);
    }
    double tol = (expected.dtype() == HYBRID_DTYPE_F16 ? 1e-2 : 1e-4) * scale;
    if (!(err <= tol))
      return fail("output " + std::to_string(o) + ": max abs error " +
                  std::to_string(err) + " > " + std::to_string(tol));
  }
  return Outcome::Passed;
}

/// Imports, compiles and runs one case; compares every output.
Outcome runCase(const std::string &folder, const Case &c, std::string &why) {
  std::string dir = folder + "/" + c.name;
  // Shape operands (axes, shape, starts, split, k, Range's bounds) that a
  // case passes as graph inputs become initializers holding the case's
  // data: the importer fixes shapes at import, as exporters write them.
  onnx::ModelProto model;
  {
    std::ifstream in(dir + "/model.onnx", std::ios::binary);
    if (!model.ParseFromIstream(&in)) {
      why = "model.onnx does not parse";
      return Outcome::Failed;
    }
  }
  std::set<int64_t> baked;
  const onnx::NodeProto &node = model.graph().node(0);
  // The contrib ops' integer inputs (sequence lengths, positions) are
  // run-time data in the models ORT's exporters write: they stay inputs.
  for (int64_t i = 0; node.domain().empty() && i < model.graph().input_size();
       ++i) {
    const onnx::ValueInfoProto &in = model.graph().input(i);
    auto at = std::find(node.input().begin(), node.input().end(), in.name());
    const auto &type = in.type().tensor_type();
    bool integer = type.elem_type() == onnx::TensorProto::INT64 ||
                   type.elem_type() == onnx::TensorProto::INT32;
    bool shapeOperand = at != node.input().begin() &&
                        at != node.input().end() && integer &&
                        type.shape().dim_size() <= 1;
    if (!shapeOperand && node.op_type() != "Range" &&
        !(node.op_type() == "ConstantOfShape" && integer))
      continue;
    std::ifstream data(dir + "/test_data_set_0/input_" + std::to_string(i) +
                           ".pb",
                       std::ios::binary);
    onnx::TensorProto *init = model.mutable_graph()->add_initializer();
    if (!init->ParseFromIstream(&data)) {
      why = "input " + std::to_string(i) + " does not parse";
      return Outcome::Failed;
    }
    init->set_name(in.name());
    baked.insert(i);
  }
  for (int64_t i = model.graph().input_size() - 1; i >= 0; --i)
    if (baked.count(i))
      model.mutable_graph()->mutable_input()->DeleteSubrange(i, 1);
  std::string bytes;
  model.SerializeToString(&bytes);
  Compiled compiled;
  if (Outcome o = compile(bytes, dir + "/model.onnx", compiled, why);
      o != Outcome::Passed)
    return o;
  return check(compiled, dir, c, baked, why);
}

/// Runs every case of `dir`; returns the refused ones with their reasons.
std::map<std::string, std::string> runAll(const std::string &dir,
                                          const std::set<std::string> &mustPass) {
  std::map<std::string, std::array<int, 3>> perOp; // passed, refused, failed
  std::map<std::string, std::string> refused;
  std::vector<Case> cases = manifest(dir);
  EXPECT_FALSE(cases.empty()) << "no cases in " << dir;
  for (const Case &c : cases) {
    std::string why;
    Outcome o = runCase(dir, c, why);
    ++perOp[c.op][int(o)];
    EXPECT_NE(o, Outcome::Failed) << c.name << ": " << why;
    if (o != Outcome::Refused)
      continue;
    refused[c.name] = why;
    if (mustPass.count(c.op))
      ADD_FAILURE() << c.name << " (" << c.op << " is imported): " << why;
  }
  int passed = 0;
  for (auto &[op, n] : perOp) {
    passed += n[0];
    std::cout << "[ conformance ] " << op << ": " << n[0] << " passed, "
              << n[1] << " refused (not supported yet), " << n[2]
              << " failed\n";
  }
  std::cout << "[ conformance ] " << passed << " of " << cases.size()
            << " cases pass\n";
  return refused;
}

TEST(ONNXConformance, EveryCasePassesOrIsRefusedWithADiagnostic) {
  runAll(kHybridOpsDir, kImported);
}

/// The ops of torch exports: every case passes, except those listed in
/// EXPECTED_REFUSALS.tsv (case, reason), which must be refused with a
/// diagnostic. A refusal not listed, or a listed case that now passes,
/// fails the test, so the list stays exact.
TEST(ONNXConformance, TorchExportOpsPassOrAreKnownRefusals) {
  std::map<std::string, std::string> expected;
  std::ifstream in(kExportOpsDir + "/EXPECTED_REFUSALS.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    expected[line.substr(0, line.find('\t'))] = line;
  }
  std::map<std::string, std::string> refused = runAll(kExportOpsDir, {});
  for (auto &[name, why] : refused)
    EXPECT_TRUE(expected.count(name)) << name << " is refused: " << why;
  for (auto &[name, line] : expected)
    EXPECT_TRUE(refused.count(name))
        << name << " is listed as refused but is not: " << line;
}

} // namespace

/// The contrib ops ORT's LLM exporters emit (com.microsoft
/// GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization;
/// SimplifiedLayerNormalization): every case passes.
TEST(ONNXConformance, OnnxRuntimeContribOpsPass) {
  runAll(kContribOpsDir,
         {"GroupQueryAttention", "RotaryEmbedding",
          "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization"});
}

/// One module for every length: GroupQueryAttention with symbolic batch,
/// sequence and past (test/ONNX/models/gqa_dynamic.onnx), compiled once and
/// run on the contrib cases of other shapes that share its attributes.
TEST(ONNXConformance, GroupQueryAttentionServesEveryLengthFromOneModule) {
  std::string path = std::string(HYBRID_ONNX_MODELS_DIR) + "/gqa_dynamic.onnx";
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  ASSERT_TRUE(bool(buffer)) << "cannot read " << path;
  Compiled compiled;
  std::string why;
  ASSERT_EQ(compile((*buffer)->getBuffer().str(), path, compiled, why),
            Outcome::Passed)
      << why;
  int checked = 0;
  for (const Case &c : manifest(kContribOpsDir)) {
    if (c.name != "test_gqa_past" && c.name != "test_gqa_past_chunk" &&
        c.name != "test_gqa_padded_batch")
      continue;
    EXPECT_EQ(check(compiled, kContribOpsDir + "/" + c.name, c, {}, why),
              Outcome::Passed)
        << c.name << ": " << why;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}
