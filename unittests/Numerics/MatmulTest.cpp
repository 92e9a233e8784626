//===- MatmulTest.cpp - linalg.matmul on the tiled product ----------------===//
//
// Shapes chosen around every cut of the tiled product (TileKernels.h):
// row counts that leave 12-, 4- and 1-row tiles, fewer rows than the
// packing threshold (B read in place, last columns through a padded panel)
// and more, K across several kc blocks and not a multiple of the unroll,
// columns across task blocks and not a multiple of the vector width, empty
// products; f32 and half-precision inputs.
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

TEST(Matmul, TiledProductEqualsReference) {
  std::mt19937 rng(70);
  for (hybrid_dtype dtype :
       {HYBRID_DTYPE_F32, HYBRID_DTYPE_BF16, HYBRID_DTYPE_F16}) {
    std::string in = tensorType({-1, -1}, mlirType(dtype));
    std::string out = "tensor<?x?xf32>";
    hybrid::Module *m = compile(
        "func.func @mm(%a: " + in + ", %b: " + in + ", %c: " + out + ") -> " + out +
        " {\n  %r = linalg.matmul ins(%a, %b : " + in + ", " + in + ") outs(%c : " +
        out + ") -> " + out + "\n  return %r : " + out + "\n}\n");
    ASSERT_TRUE(m);
    for (auto [rows, inner, cols] :
         std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 5, 32},     {8, 64, 64},    {67, 33, 48},  {130, 17, 80},
             {9, 4, 7},      {17, 301, 161}, {23, 9, 1030}, {24, 515, 33},
             {29, 260, 545}, {205, 70, 96},  {0, 3, 5},     {4, 0, 6},
             {3, 2, 0},      {1600, 8, 40},
             // Fewer than 4 rows: K split across tasks, 4 rows of B per
             // pass, column tails.
             {2, 37, 45},    {1, 300, 1030}, {3, 129, 17},
             // At most 4 columns (y^T = W x^T for a few tokens): rows of
             // A streamed four per pass, row and K tails.
             {37, 300, 1},   {64, 1030, 3},  {5, 17, 4},    {130, 33, 2}}) {
      SCOPED_TRACE(testing::Message() << mlirType(dtype) << " " << rows << "x"
                                      << inner << "x" << cols);
      ref::Array a = randomArray({rows, inner}, rng), b = randomArray({inner, cols}, rng),
                 c = randomArray({rows, cols}, rng);
      auto r = run(*m, "mm", {toTensor(a, dtype), toTensor(b, dtype),
                              toTensor(c, HYBRID_DTYPE_F32)});
      ASSERT_EQ(r.size(), 1u);
      EXPECT_TRUE(allClose(fromTensor(r[0]), ref::matmul(a, b, c), 1e-5));
    }
  }
}

} // namespace
