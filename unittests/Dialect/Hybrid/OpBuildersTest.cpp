//===- OpBuildersTest.cpp - Build every op from C++, check inferred types -===//
//
// A pass author builds hybrid ops without spelling result types; these tests
// pin what the inference gives, dynamic dimensions included, and that the
// built ops verify.
//
//===----------------------------------------------------------------------===//

#include "hybrid/Dialect/Hybrid/IR/HybridOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::hybrid;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// Owns a context and a function whose arguments stand for operands.
class HybridBuilderTest : public ::testing::Test {
protected:
  HybridBuilderTest() : builder(&context) {
    context.loadDialect<HybridDialect, func::FuncDialect, arith::ArithDialect>();
    loc = builder.getUnknownLoc();
    module = ModuleOp::create(loc);
    auto func = func::FuncOp::create(builder, loc, "f",
                                     builder.getFunctionType({}, {}));
    module->push_back(func);
    body = func.addEntryBlock();
    builder.setInsertionPointToStart(body);
  }

  /// A new function argument of the given shape and element type.
  Value arg(ArrayRef<int64_t> shape, Type elementType) {
    return body->addArgument(RankedTensorType::get(shape, elementType), loc);
  }
  Value index() { return body->addArgument(builder.getIndexType(), loc); }

  /// Finishes the function (with the argument types it collected) and runs
  /// the verifier over the whole module.
  bool verifies() {
    auto func = cast<func::FuncOp>(body->getParentOp());
    func.setType(builder.getFunctionType(body->getArgumentTypes(), {}));
    func::ReturnOp::create(builder, loc);
    return succeeded(verify(*module));
  }

  static RankedTensorType tensor(ArrayRef<int64_t> shape, Type elementType) {
    return RankedTensorType::get(shape, elementType);
  }

  SparseConfigAttr config(int64_t topk) {
    return SparseConfigAttr::get(&context, /*kernel_size=*/32,
                                 /*kernel_stride=*/16, /*block_size=*/64, topk,
                                 /*init_blocks=*/1, /*window_size=*/256,
                                 /*dense_len=*/8192);
  }

  MLIRContext context;
  OpBuilder builder;
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module;
  Block *body = nullptr;
};

TEST_F(HybridBuilderTest, AttentionInfersQueryShapeWithValueDim) {
  Type f16 = builder.getF16Type();
  Value q = arg({1, 16, kDyn, 128}, f16), k = arg({kDyn, 2, kDyn, 128}, f16),
        v = arg({1, 2, kDyn, 64}, f16);
  auto op = AttentionOp::create(builder, loc, q, k, v, /*mask=*/nullptr,
                                /*offset=*/nullptr, /*key_length=*/nullptr,
                                /*parents=*/nullptr,
                                /*causal=*/true, /*scale=*/nullptr,
                                /*softcap=*/nullptr, /*layout=*/nullptr);
  EXPECT_EQ(op.getType(), tensor({1, 16, kDyn, 64}, f16));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, AttentionTakesStaticBatchFromAnyOperand) {
  Type f32 = builder.getF32Type();
  Value q = arg({kDyn, 4, 1, 64}, f32), k = arg({3, 1, kDyn, 64}, f32);
  auto op = AttentionOp::create(builder, loc, q, k, k, nullptr, nullptr,
                                nullptr, nullptr, true, nullptr, nullptr,
                                nullptr);
  EXPECT_EQ(op.getType(), tensor({3, 4, 1, 64}, f32));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, BlockSelectSlotsFollowTreePolicy) {
  Type bf16 = builder.getBF16Type();
  Type i32 = builder.getI32Type();
  Value q = arg({1, 16, kDyn, 128}, bf16), k = arg({1, 2, kDyn, 128}, bf16);
  Value tree = arg({4}, i32);

  auto plain = BlockSelectOp::create(builder, loc, q, k, nullptr, nullptr,
                                     nullptr, nullptr, config(16), nullptr, nullptr);
  EXPECT_EQ(plain.getType(), tensor({1, 2, kDyn, 16}, i32));

  auto unionSel = BlockSelectOp::create(builder, loc, q, k, nullptr, nullptr,
                                        nullptr, tree, config(16), nullptr, nullptr);
  EXPECT_EQ(unionSel.getType(), tensor({1, 2, kDyn, 64}, i32));
  EXPECT_EQ(unionSel.getEffectiveTreePolicy(), TreePolicy::Union);

  auto rootSel = BlockSelectOp::create(
      builder, loc, q, k, nullptr, nullptr, nullptr, tree, config(16), nullptr,
      TreePolicyAttr::get(&context, TreePolicy::Root));
  EXPECT_EQ(rootSel.getType(), tensor({1, 2, kDyn, 16}, i32));

  Value v = arg({1, 2, kDyn, 128}, bf16);
  auto attn = BlockSparseAttentionOp::create(
      builder, loc, q, k, v, unionSel, nullptr, nullptr, tree, config(16),
      nullptr,
      nullptr, GQALayoutAttr::get(&context, GQALayout::GroupPacked));
  EXPECT_EQ(attn.getType(), tensor({1, 16, kDyn, 128}, bf16));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, SparseConfigDerivedQuantities) {
  SparseConfigAttr c = SparseConfigAttr::get(&context, 32, 16, 64, 64, 1,
                                             2048, 8192);
  EXPECT_EQ(c.getLocalBlocks(), 32);
  EXPECT_EQ(c.getPoolStride(), 4);
  EXPECT_EQ(c.getPoolPadding(), 1);
  EXPECT_EQ(c.getPoolKernel(), 5); // c in [4k - 1, 4k + 4)
}

TEST_F(HybridBuilderTest, LinearRecurrenceStateShapes) {
  Type f32 = builder.getF32Type(), f16 = builder.getF16Type();
  Value q = arg({2, 8, kDyn, 64}, f16), k = arg({2, 4, kDyn, 64}, f16),
        v = arg({2, 4, kDyn, 32}, f16);
  Value decay = arg({2, 4, kDyn}, f32), beta = arg({2, 1, kDyn}, f32);

  auto plain = LinearRecurrenceOp::create(
      builder, loc, q, k, v, decay, beta, nullptr, nullptr,
      UpdateRule::GatedDelta, nullptr, nullptr, builder.getI64IntegerAttr(64));
  EXPECT_EQ(plain.getOutput().getType(), tensor({2, 8, kDyn, 32}, f16));
  EXPECT_EQ(plain.getFinalState().getType(), tensor({2, 4, 64, 32}, f32));
  EXPECT_TRUE(plain.isGated());
  EXPECT_TRUE(plain.isDelta());

  Value tree = arg({6}, builder.getI32Type());
  auto treeOp = LinearRecurrenceOp::create(
      builder, loc, q, k, v, nullptr, nullptr, nullptr, tree,
      UpdateRule::Gated, nullptr, builder.getDenseF32ArrayAttr({.5f, .25f, .125f, .0625f}),
      nullptr);
  EXPECT_EQ(treeOp.getFinalState().getType(), tensor({2, 4, 6, 64, 32}, f32));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, ChunkMoEKeepsInputType) {
  Type f32 = builder.getF32Type();
  Value x = arg({kDyn, 1024}, f32), wr = arg({64, 1024}, f32),
        gamma = arg({64}, f32), up = arg({64, 128, 1024}, f32),
        down = arg({64, 1024, 128}, f32);
  auto op = ChunkMoEOp::create(builder, loc, x, wr, gamma, nullptr, up, down,
                               nullptr, nullptr, RouterKind::BlockFFN,
                               /*chunk=*/8, /*top_k=*/nullptr,
                               APFloat(1.0e-6f));
  EXPECT_EQ(op.getType(), tensor({kDyn, 1024}, f32));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, TreeVerifyAndKVCompactTypes) {
  Type i32 = builder.getI32Type(), f32 = builder.getF32Type();
  Value parents = arith::ConstantOp::create(
      builder, loc,
      DenseIntElementsAttr::get(tensor({5}, i32), ArrayRef<int32_t>{-1, 0, 0, 1, 2}));
  Value draft = arg({5}, i32), logits = arg({5, 1000}, f32);
  auto verifyOp = TreeVerifyOp::create(builder, loc, parents, draft, logits);
  EXPECT_EQ(verifyOp.getPath().getType(), tensor({5}, i32));
  EXPECT_EQ(verifyOp.getLength().getType(), tensor({}, i32));
  EXPECT_EQ(verifyOp.getBonus().getType(), tensor({}, i32));

  Value cache = arg({1, 2, kDyn, 64}, f32);
  Value states = arg({1, 4, 5, 16, 16}, f32);
  auto compact = KVCompactOp::create(builder, loc, verifyOp.getPath(),
                                     verifyOp.getLength(), index(),
                                     ValueRange{cache, cache},
                                     ValueRange{states}, ValueRange{});
  ASSERT_EQ(compact.getNumResults(), 3u);
  EXPECT_EQ(compact.getResult(0).getType(), cache.getType());
  EXPECT_EQ(compact.getResult(1).getType(), cache.getType());
  EXPECT_EQ(compact.getResult(2).getType(), tensor({1, 4, 16, 16}, f32));
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, NormAndRotaryKeepInputType) {
  Type bf16 = builder.getBF16Type();
  Value x = arg({2, kDyn, 1024}, bf16), w = arg({1024}, bf16);
  auto norm = RMSNormOp::create(builder, loc, x, w, /*axis=*/-1,
                                APFloat(1.0e-5f));
  EXPECT_EQ(norm.getType(), x.getType());
  EXPECT_EQ(norm.getNormalizedAxis(), 2);

  Value x4 = arg({2, 4, kDyn, 8}, bf16), cos = arg({50, 4}, bf16),
        pos = arg({2, kDyn}, builder.getI64Type());
  auto rope = RotaryEmbeddingOp::create(builder, loc, x4, cos, cos, pos,
                                        /*interleaved=*/false, nullptr, nullptr);
  EXPECT_EQ(rope.getType(), x4.getType());
  EXPECT_TRUE(verifies());
}

TEST_F(HybridBuilderTest, VerifierRejectsBadGQARatio) {
  Type f32 = builder.getF32Type();
  Value q = arg({1, 6, 4, 8}, f32), k = arg({1, 4, 4, 8}, f32);
  AttentionOp::create(builder, loc, q, k, k, nullptr, nullptr, nullptr,
                      nullptr, true, nullptr, nullptr, nullptr);
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_FALSE(verifies());
  EXPECT_EQ(message,
            "'hybrid.attention' op query heads (6) must be a multiple of "
            "key/value heads (4)");
}

} // namespace
