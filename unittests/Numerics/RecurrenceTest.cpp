//===- RecurrenceTest.cpp - linear_recurrence against the step form -------===//
//
// For all four update rules and every decay form: the chunked kernel (chunk
// sizes that do and do not divide T) equals the reference step form, two
// calls carried by the state equal one call, and tree nodes get the states
// of their own paths. Tolerance: 1e-5 x the reference's L-inf norm (f32).
//
//===----------------------------------------------------------------------===//

#include "Harness.h"

using namespace hybrid;
using namespace hybrid::test;

namespace {

enum class Decay { None, PerHead, PerKeyDim, Slopes };

struct Case {
  ref::Rule rule;
  Decay decay;
  int64_t chunk;
};

const char *ruleName(ref::Rule r) {
  switch (r) {
  case ref::Rule::Linear: return "linear";
  case ref::Rule::Gated: return "gated";
  case ref::Rule::Delta: return "delta";
  case ref::Rule::GatedDelta: return "gated_delta";
  }
  return "";
}

bool isDelta(ref::Rule r) {
  return r == ref::Rule::Delta || r == ref::Rule::GatedDelta;
}

/// @rec(q, k, v, [decay], [beta], state, [tree]) -> (o, state)
std::string recurrenceModule(const Case &c, int64_t kvHeads, bool tree,
                             const std::string &dtype = "f32") {
  std::string t = tensorType({-1, -1, -1, -1}, dtype);
  std::string st = "tensor<?x?x?x?xf32>";
  std::string args = "%q: " + t + ", %k: " + t + ", %v: " + t;
  std::string ops;
  if (c.decay == Decay::PerHead || c.decay == Decay::PerKeyDim) {
    std::string dt = c.decay == Decay::PerHead ? "tensor<?x?x?xf32>"
                                               : "tensor<?x?x?x?xf32>";
    args += ", %g: " + dt;
    ops += " decay(%g : " + dt + ")";
  }
  if (isDelta(c.rule)) {
    args += ", %b: tensor<?x?x?xf32>";
    ops += " beta(%b : tensor<?x?x?xf32>)";
  }
  args += ", %s: " + st;
  ops += " state(%s : " + st + ")";
  std::string stateOut = st;
  if (tree) {
    args += ", %p: tensor<?xi32>";
    ops += " tree(%p : tensor<?xi32>)";
    stateOut = "tensor<?x?x?x?x?xf32>";
  }
  std::string attrs = "{chunk_size = " + std::to_string(c.chunk);
  if (c.decay == Decay::Slopes) {
    attrs += ", decay_slopes = array<f32: ";
    for (int64_t h = 0; h < kvHeads; ++h)
      attrs += (h ? ", " : "") + std::to_string(0.05 * (h + 1));
    attrs += ">";
  }
  attrs += "}";
  return "func.func @rec(" + args + ") -> (" + t + ", " + stateOut +
         ") {\n  %o, %so = hybrid.linear_recurrence " + ruleName(c.rule) +
         " %q, %k, %v" + ops + " " + attrs + " : " + t + ", " + t + ", " + t +
         "\n  return %o, %so : " + t + ", " + stateOut + "\n}\n";
}

struct Inputs {
  ref::Array q, k, v, decay, beta, state;
};

Inputs makeInputs(const Case &c, int64_t batch, int64_t kvHeads, int64_t group,
                  int64_t len, int64_t keyDim, int64_t valueDim,
                  std::mt19937 &rng) {
  Inputs in;
  in.q = randomArray({batch, kvHeads * group, len, keyDim}, rng, 0.5);
  // Unit-norm-ish keys keep the delta rule stable.
  in.k = randomArray({batch, kvHeads, len, keyDim}, rng,
                     1.0 / std::sqrt(double(keyDim)));
  in.v = randomArray({batch, kvHeads, len, valueDim}, rng);
  std::uniform_real_distribution<double> logDecay(-0.3, 0.0), unit(0.0, 1.0);
  if (c.decay == Decay::PerHead)
    in.decay = ref::Array({batch, kvHeads, len});
  if (c.decay == Decay::PerKeyDim)
    in.decay = ref::Array({batch, kvHeads, len, keyDim});
  for (double &g : in.decay.data)
    g = logDecay(rng);
  in.beta = ref::Array({batch, kvHeads, len});
  for (double &b : in.beta.data)
    b = unit(rng);
  in.state = randomArray({batch, kvHeads, keyDim, valueDim}, rng, 0.1);
  return in;
}

std::vector<hybrid::Tensor> args(const Case &c, Inputs &in, int64_t t0,
                                 int64_t t1) {
  // Token range [t0, t1) of every sequence input.
  auto slice = [&](const ref::Array &a) {
    std::vector<int64_t> shape = a.shape;
    int64_t len = shape[2];
    int64_t inner = 1;
    for (size_t d = 3; d < shape.size(); ++d)
      inner *= shape[d];
    shape[2] = t1 - t0;
    ref::Array out(shape);
    int64_t outer = shape[0] * shape[1];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t i = 0; i < inner; ++i)
          out.data[(o * (t1 - t0) + (t - t0)) * inner + i] =
              a.data[(o * len + t) * inner + i];
    return out;
  };
  std::vector<hybrid::Tensor> result;
  ref::Array q = slice(in.q), k = slice(in.k), v = slice(in.v);
  result.push_back(toTensor(q, HYBRID_DTYPE_F32));
  result.push_back(toTensor(k, HYBRID_DTYPE_F32));
  result.push_back(toTensor(v, HYBRID_DTYPE_F32));
  if (c.decay == Decay::PerHead || c.decay == Decay::PerKeyDim) {
    ref::Array d = slice(in.decay);
    result.push_back(toTensor(d, HYBRID_DTYPE_F32));
  }
  if (isDelta(c.rule)) {
    ref::Array b = slice(in.beta);
    result.push_back(toTensor(b, HYBRID_DTYPE_F32));
  }
  return result;
}

ref::RecurrenceParams params(const Case &c, Inputs &in, int64_t kvHeads) {
  ref::RecurrenceParams p;
  p.rule = c.rule;
  if (c.decay == Decay::PerHead || c.decay == Decay::PerKeyDim)
    p.decay = &in.decay;
  if (c.decay == Decay::Slopes)
    for (int64_t h = 0; h < kvHeads; ++h)
      p.slopes.push_back(static_cast<float>(0.05 * (h + 1)));
  if (isDelta(c.rule))
    p.beta = &in.beta;
  p.initialState = &in.state;
  return p;
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (int64_t chunk : {1, 4, 64}) {
    cases.push_back({ref::Rule::Linear, Decay::None, chunk});
    cases.push_back({ref::Rule::Delta, Decay::None, chunk});
    for (Decay d : {Decay::PerHead, Decay::PerKeyDim, Decay::Slopes}) {
      cases.push_back({ref::Rule::Gated, d, chunk});
      cases.push_back({ref::Rule::GatedDelta, d, chunk});
    }
  }
  return cases;
}

TEST(LinearRecurrence, ChunkedEqualsStepFormForEveryRule) {
  std::mt19937 rng(20);
  for (const Case &c : allCases()) {
    SCOPED_TRACE(testing::Message() << ruleName(c.rule) << " decay="
                                    << int(c.decay) << " chunk=" << c.chunk);
    int64_t kvHeads = 2, group = 2, len = 37, keyDim = 16, valueDim = 24;
    hybrid::Module *m = compile(recurrenceModule(c, kvHeads, false));
    ASSERT_TRUE(m);
    Inputs in = makeInputs(c, 2, kvHeads, group, len, keyDim, valueDim, rng);
    auto a = args(c, in, 0, len);
    a.push_back(toTensor(in.state, HYBRID_DTYPE_F32));
    auto results = run(*m, "rec", a);
    ASSERT_EQ(results.size(), 2u);
    ref::Array state;
    ref::Array out = ref::linearRecurrence(in.q, in.k, in.v,
                                           params(c, in, kvHeads), state);
    EXPECT_TRUE(allClose(fromTensor(results[0]), out, 1e-5));
    EXPECT_TRUE(allClose(fromTensor(results[1]), state, 1e-5));
  }
}

TEST(LinearRecurrence, TwoCallsCarriedByTheStateEqualOne) {
  std::mt19937 rng(21);
  for (const Case &c : {Case{ref::Rule::GatedDelta, Decay::PerKeyDim, 8},
                        Case{ref::Rule::Gated, Decay::Slopes, 64},
                        Case{ref::Rule::Delta, Decay::None, 5}}) {
    SCOPED_TRACE(ruleName(c.rule));
    int64_t kvHeads = 2, len = 29, split = 13;
    hybrid::Module *m = compile(recurrenceModule(c, kvHeads, false));
    ASSERT_TRUE(m);
    Inputs in = makeInputs(c, 1, kvHeads, 1, len, 16, 16, rng);
    auto whole = args(c, in, 0, len);
    whole.push_back(toTensor(in.state, HYBRID_DTYPE_F32));
    auto once = run(*m, "rec", whole);
    auto first = args(c, in, 0, split);
    first.push_back(toTensor(in.state, HYBRID_DTYPE_F32));
    auto a = run(*m, "rec", first);
    ASSERT_EQ(a.size(), 2u);
    auto second = args(c, in, split, len);
    second.push_back(a[1]);
    auto b = run(*m, "rec", second);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_TRUE(allClose(fromTensor(b[1]), fromTensor(once[1]), 1e-5));
    // The second call's outputs are the tail of the single call's.
    ref::Array tail = fromTensor(b[0]), full = fromTensor(once[0]);
    ref::Array expectTail(tail.shape);
    for (int64_t h = 0; h < tail.dim(1); ++h)
      for (int64_t t = 0; t < tail.dim(2); ++t)
        for (int64_t d = 0; d < tail.dim(3); ++d)
          expectTail.at({0, h, t, d}) = full.at({0, h, split + t, d});
    EXPECT_TRUE(allClose(tail, expectTail, 1e-5));
  }
}

TEST(LinearRecurrence, GQAAndHeadDimsAndHalfStorage) {
  std::mt19937 rng(22);
  Case c{ref::Rule::GatedDelta, Decay::PerHead, 64};
  for (int64_t group : {1, 4, 16}) {
    SCOPED_TRACE(group);
    hybrid::Module *m = compile(recurrenceModule(c, 1, false));
    ASSERT_TRUE(m);
    int64_t dim = group == 16 ? 64 : 128;
    Inputs in = makeInputs(c, 1, 1, group, 70, dim, dim, rng);
    auto a = args(c, in, 0, 70);
    a.push_back(toTensor(in.state, HYBRID_DTYPE_F32));
    auto results = run(*m, "rec", a);
    ASSERT_EQ(results.size(), 2u);
    ref::Array state;
    ref::Array out =
        ref::linearRecurrence(in.q, in.k, in.v, params(c, in, 1), state);
    EXPECT_TRUE(allClose(fromTensor(results[0]), out, 1e-5));
    EXPECT_TRUE(allClose(fromTensor(results[1]), state, 1e-5));
  }
  // f16 q/k/v storage, f32 state.
  Case lin{ref::Rule::Linear, Decay::None, 16};
  hybrid::Module *m = compile(recurrenceModule(lin, 2, false, "f16"));
  ASSERT_TRUE(m);
  Inputs in = makeInputs(lin, 1, 2, 2, 40, 64, 64, rng);
  std::vector<hybrid::Tensor> a = {toTensor(in.q, HYBRID_DTYPE_F16),
                                   toTensor(in.k, HYBRID_DTYPE_F16),
                                   toTensor(in.v, HYBRID_DTYPE_F16),
                                   toTensor(in.state, HYBRID_DTYPE_F32)};
  auto results = run(*m, "rec", a);
  ASSERT_EQ(results.size(), 2u);
  ref::Array state;
  ref::Array out = ref::linearRecurrence(in.q, in.k, in.v, params(lin, in, 2), state);
  EXPECT_TRUE(allClose(fromTensor(results[0]), out, tolerance(HYBRID_DTYPE_F16)));
  EXPECT_TRUE(allClose(fromTensor(results[1]), state, 1e-5));
}

TEST(LinearRecurrence, TreeNodesKeepTheirOwnStates) {
  std::mt19937 rng(23);
  std::vector<int32_t> parents = {-1, 0, 0, 1, 1, 2, 3, 6};
  for (const Case &c : {Case{ref::Rule::GatedDelta, Decay::PerKeyDim, 4},
                        Case{ref::Rule::Gated, Decay::Slopes, 64}}) {
    SCOPED_TRACE(ruleName(c.rule));
    hybrid::Module *m = compile(recurrenceModule(c, 2, true));
    ASSERT_TRUE(m);
    // 11 prefix tokens, then the 8 tree nodes.
    Inputs in = makeInputs(c, 1, 2, 2, 19, 16, 16, rng);
    auto a = args(c, in, 0, 19);
    a.push_back(toTensor(in.state, HYBRID_DTYPE_F32));
    a.push_back(intTensor(parents, {8}));
    auto results = run(*m, "rec", a);
    ASSERT_EQ(results.size(), 2u);
    ref::RecurrenceParams p = params(c, in, 2);
    p.parents = &parents;
    ref::Array states;
    ref::Array out = ref::linearRecurrence(in.q, in.k, in.v, p, states);
    EXPECT_TRUE(allClose(fromTensor(results[0]), out, 1e-5));
    EXPECT_TRUE(allClose(fromTensor(results[1]), states, 1e-5));
  }
}

} // namespace
