//===- Reference.cpp - Straightforward reference of every hybrid op -------===//

#include "Reference.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

using namespace hybrid::ref;

static int64_t product(const std::vector<int64_t> &shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

Array::Array(std::vector<int64_t> s) : shape(std::move(s)) {
  data.assign(product(shape), 0.0);
}

static int64_t flatIndex(const std::vector<int64_t> &shape,
                         std::initializer_list<int64_t> idx) {
  assert(idx.size() == shape.size());
  int64_t flat = 0;
  size_t d = 0;
  for (int64_t i : idx)
    flat = flat * shape[d++] + i;
  return flat;
}

double &Array::at(std::initializer_list<int64_t> idx) {
  return data[flatIndex(shape, idx)];
}
double Array::at(std::initializer_list<int64_t> idx) const {
  return data[flatIndex(shape, idx)];
}

static bool isAncestorOrSelf(const std::vector<int32_t> &parents, int64_t a,
                             int64_t n) {
  for (int64_t x = n; x >= 0; x = parents[x])
    if (x == a)
      return true;
  return false;
}

/// Value of a mask broadcast right-aligned to [B, Hq, Sq, Skv].
static double maskAt(const Array &mask, int64_t b, int64_t h, int64_t i,
                     int64_t j) {
  int64_t coords[4] = {b, h, i, j};
  size_t rank = mask.shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < rank; ++d) {
    int64_t size = mask.shape[d];
    int64_t c = size == 1 ? 0 : coords[4 - rank + d];
    flat = flat * size + c;
  }
  return mask.data[flat];
}

namespace {
/// Row i of head h's logits (scaled, softcapped, mask added) and which keys
/// it may see (causal or tree, boolean mask, -inf logits).
void rowLogits(const Array &q, const Array &k, const hybrid::ref::AttentionParams &p,
               int64_t b, int64_t h, int64_t i, std::vector<double> &logits,
               std::vector<bool> &visible) {
  int64_t Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3);
  int64_t Hkv = k.dim(1), Skv = k.dim(2), G = Hq / Hkv;
  double scale = p.scale.value_or(1.0 / std::sqrt(double(D)));
  int64_t offset = p.offset.value_or(Skv - Sq);
  int64_t N = p.parents ? static_cast<int64_t>(p.parents->size()) : 0;
  int64_t kvh = h / G;
  bool node = p.parents && i >= Sq - N;
  logits.assign(Skv, 0.0);
  visible.assign(Skv, false);
  for (int64_t j = 0; j < Skv; ++j) {
    bool vis;
    if (node)
      vis = j < Skv - N ||
            isAncestorOrSelf(*p.parents, j - (Skv - N), i - (Sq - N));
    else
      vis = !p.causal || j <= offset + i;
    double s = 0;
    for (int64_t d = 0; d < D; ++d)
      s += q.at({b, h, i, d}) * k.at({b, kvh, j, d});
    s *= scale;
    if (p.softcap)
      s = *p.softcap * std::tanh(s / *p.softcap);
    if (p.mask) {
      double m = maskAt(*p.mask, b, h, i, j);
      if (p.maskIsBool)
        vis = vis && m != 0;
      else
        s += m;
    }
    if (std::isinf(s) && s < 0)
      vis = false;
    visible[j] = vis;
    logits[j] = s;
  }
}

/// softmax over the visible keys; all zero when none is.
std::vector<double> probabilities(const std::vector<double> &logits,
                                  const std::vector<bool> &visible) {
  double mx = -std::numeric_limits<double>::infinity(), sum = 0;
  for (size_t j = 0; j < logits.size(); ++j)
    if (visible[j])
      mx = std::max(mx, logits[j]);
  for (size_t j = 0; j < logits.size(); ++j)
    if (visible[j])
      sum += std::exp(logits[j] - mx);
  std::vector<double> p(logits.size(), 0.0);
  for (size_t j = 0; j < logits.size(); ++j)
    if (visible[j])
      p[j] = std::exp(logits[j] - mx) / sum;
  return p;
}
} // namespace

Array hybrid::ref::attention(const Array &q, const Array &k, const Array &v,
                             const AttentionParams &p) {
  int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2);
  int64_t Hkv = k.dim(1), Skv = k.dim(2), Dv = v.dim(3), G = Hq / Hkv;
  Array out({B, Hq, Sq, Dv});
  std::vector<double> logits;
  std::vector<bool> visible;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        rowLogits(q, k, p, b, h, i, logits, visible);
        std::vector<double> w = probabilities(logits, visible);
        for (int64_t d = 0; d < Dv; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Skv; ++j)
            acc += w[j] * v.at({b, h / G, j, d});
          out.at({b, h, i, d}) = acc;
        }
      }
  return out;
}

Array hybrid::ref::attentionScores(const Array &q, const Array &k,
                                   const AttentionParams &p,
                                   ScoreStage stage) {
  int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), Skv = k.dim(2);
  Array out({B, Hq, Sq, Skv});
  std::vector<double> logits;
  std::vector<bool> visible;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        AttentionParams unmasked = p;
        if (stage == ScoreStage::Logits) {
          unmasked.mask = nullptr;
          unmasked.causal = false;
        }
        rowLogits(q, k, unmasked, b, h, i, logits, visible);
        std::vector<double> w = stage == ScoreStage::Probabilities
                                    ? probabilities(logits, visible)
                                    : logits;
        for (int64_t j = 0; j < Skv; ++j)
          out.at({b, h, i, j}) =
              stage == ScoreStage::Biased && !visible[j]
                  ? -std::numeric_limits<double>::infinity()
                  : w[j];
      }
  return out;
}

std::vector<int32_t> hybrid::ref::blockSelect(
    const Array &q, const Array &k, const SparseConfig &cfg,
    std::optional<int64_t> offsetOpt, std::optional<double> scaleOpt,
    const std::vector<int32_t> *parents, bool rootPolicy, int64_t *slotsOut) {
  int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3);
  int64_t Hkv = k.dim(1), Skv = k.dim(2), G = Hq / Hkv;
  double scale = scaleOpt.value_or(1.0 / std::sqrt(double(D)));
  int64_t offset = offsetOpt.value_or(Skv - Sq);
  int64_t N = parents ? static_cast<int64_t>(parents->size()) : 0;
  int64_t C = Skv >= cfg.kernelSize
                  ? (Skv - cfg.kernelSize) / cfg.kernelStride + 1
                  : 0;
  int64_t numBlocks = (Skv + cfg.blockSize - 1) / cfg.blockSize;
  int64_t local = cfg.windowSize / cfg.blockSize;
  int64_t poolStride = cfg.blockSize / cfg.kernelStride;
  int64_t poolPad = cfg.kernelSize / cfg.kernelStride - 1;
  int64_t poolKernel = poolStride + poolPad;

  // 1. Compressed keys.
  Array k1({B, Hkv, C, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t d = 0; d < D; ++d) {
          double sum = 0;
          for (int64_t w = 0; w < cfg.kernelSize; ++w)
            sum += k.at({b, h, c * cfg.kernelStride + w, d});
          k1.at({b, h, c, d}) = sum / cfg.kernelSize;
        }

  std::vector<int32_t> own(B * Hkv * Sq * cfg.topk, -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t t = 0; t < Sq; ++t) {
        bool node = parents && t >= Sq - N;
        int64_t pos = node ? Skv - N : offset + t;
        // 2. Kernel scores over visible kernels, summed over the group.
        std::vector<double> score(C, 0.0);
        int64_t visible = 0;
        for (int64_t c = 0; c < C; ++c)
          if (c * cfg.kernelStride + cfg.kernelSize - 1 <= pos)
            visible = c + 1;
        for (int64_t g = 0; g < G; ++g) {
          std::vector<double> logit(visible);
          double mx = -std::numeric_limits<double>::infinity(), sum = 0;
          for (int64_t c = 0; c < visible; ++c) {
            double s = 0;
            for (int64_t d = 0; d < D; ++d)
              s += q.at({b, h * G + g, t, d}) * k1.at({b, h, c, d});
            logit[c] = s * scale;
            mx = std::max(mx, logit[c]);
          }
          for (int64_t c = 0; c < visible; ++c)
            sum += std::exp(logit[c] - mx);
          for (int64_t c = 0; c < visible; ++c)
            score[c] += std::exp(logit[c] - mx) / sum;
        }
        // 3-4. Block scores, forced and excluded blocks.
        int64_t qb = std::max<int64_t>(pos, 0) / cfg.blockSize;
        std::vector<std::pair<double, int64_t>> candidates;
        for (int64_t blk = 0; blk < numBlocks; ++blk) {
          if (blk > qb || blk > qb - local)
            continue;
          double best = -std::numeric_limits<double>::infinity();
          for (int64_t c = blk * poolStride - poolPad;
               c < blk * poolStride - poolPad + poolKernel; ++c)
            if (c >= 0 && c < visible)
              best = std::max(best, score[c]);
          if (blk < cfg.initBlocks)
            best = std::numeric_limits<double>::infinity();
          if (best > -std::numeric_limits<double>::infinity())
            candidates.push_back({best, blk});
        }
        // 5. Top-k (ties: lower block), ascending ids.
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](const auto &x, const auto &y) {
                           return x.first > y.first;
                         });
        if (static_cast<int64_t>(candidates.size()) > cfg.topk)
          candidates.resize(cfg.topk);
        std::vector<int32_t> ids;
        for (auto &c : candidates)
          ids.push_back(static_cast<int32_t>(c.second));
        std::sort(ids.begin(), ids.end());
        for (size_t s = 0; s < ids.size(); ++s)
          own[((b * Hkv + h) * Sq + t) * cfg.topk + s] = ids[s];
      }

  int64_t slots = cfg.topk;
  if (parents && !rootPolicy)
    slots = cfg.topk * N;
  *slotsOut = slots;
  std::vector<int32_t> out(B * Hkv * Sq * slots, -1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hkv; ++h)
      for (int64_t t = 0; t < Sq; ++t) {
        int32_t *row = &out[((b * Hkv + h) * Sq + t) * slots];
        auto ownRow = [&](int64_t r) {
          return &own[((b * Hkv + h) * Sq + r) * cfg.topk];
        };
        bool node = parents && t >= Sq - N;
        if (!node || rootPolicy) {
          const int32_t *src = ownRow(node ? Sq - N : t);
          std::copy(src, src + cfg.topk, row);
          continue;
        }
        std::vector<int32_t> all;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < cfg.topk; ++s)
            if (ownRow(Sq - N + n)[s] >= 0)
              all.push_back(ownRow(Sq - N + n)[s]);
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        std::copy(all.begin(), all.end(), row);
      }
  return out;
}

Array hybrid::ref::blockSparseAttention(
    const Array &q, const Array &k, const Array &v,
    const std::vector<int32_t> &blocks, int64_t slots, const SparseConfig &cfg,
    std::optional<int64_t> offsetOpt, std::optional<double> scale,
    std::optional<double> softcap, const std::vector<int32_t> *parents) {
  int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2);
  int64_t Hkv = k.dim(1), Skv = k.dim(2), G = Hq / Hkv;
  int64_t offset = offsetOpt.value_or(Skv - Sq);
  int64_t N = parents ? static_cast<int64_t>(parents->size()) : 0;
  int64_t local = cfg.windowSize / cfg.blockSize;
  bool dense = Skv < cfg.denseLen;
  // The equivalent boolean mask [B, Hq, Sq, Skv].
  Array mask({B, Hq, Sq, Skv});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        bool node = parents && i >= Sq - N;
        int64_t pos = node ? Skv - N : offset + i;
        int64_t qb = std::max<int64_t>(pos, 0) / cfg.blockSize;
        const int32_t *sel = &blocks[((b * Hkv + h / G) * Sq + i) * slots];
        for (int64_t j = 0; j < Skv; ++j) {
          bool vis;
          if (node && j >= Skv - N) {
            vis = isAncestorOrSelf(*parents, j - (Skv - N), i - (Sq - N));
          } else {
            int64_t limit = node ? Skv - N - 1 : pos;
            if (parents && !node)
              limit = std::min(limit, Skv - N - 1);
            int64_t blk = j / cfg.blockSize;
            bool inWindow = blk <= qb && blk > qb - local;
            bool selected = false;
            for (int64_t s = 0; s < slots; ++s)
              selected = selected || sel[s] == blk;
            vis = j <= limit && (dense || inWindow || selected);
          }
          mask.at({b, h, i, j}) = vis ? 1.0 : 0.0;
        }
      }
  AttentionParams p;
  p.causal = false;
  p.scale = scale;
  p.softcap = softcap;
  p.mask = &mask;
  p.maskIsBool = true;
  return attention(q, k, v, p);
}

Array hybrid::ref::linearRecurrence(const Array &q, const Array &k,
                                    const Array &v, const RecurrenceParams &p,
                                    Array &state) {
  int64_t B = q.dim(0), Hq = q.dim(1), T = q.dim(2), Dk = q.dim(3);
  int64_t H = k.dim(1), Dv = v.dim(3), G = Hq / H;
  double scale = p.scale.value_or(1.0 / std::sqrt(double(Dk)));
  int64_t N = p.parents ? static_cast<int64_t>(p.parents->size()) : 0;
  bool gated = p.rule == Rule::Gated || p.rule == Rule::GatedDelta;
  bool delta = p.rule == Rule::Delta || p.rule == Rule::GatedDelta;
  Array out({B, Hq, T, Dv});
  state = p.parents ? Array({B, H, N, Dk, Dv}) : Array({B, H, Dk, Dv});
  using Matrix = std::vector<double>; // [Dk * Dv]

  auto step = [&](Matrix &S, int64_t b, int64_t h, int64_t t) {
    if (gated)
      for (int64_t i = 0; i < Dk; ++i) {
        double g;
        if (p.decay)
          g = p.decay->shape.size() == 4 ? p.decay->at({b, h, t, i})
                                         : p.decay->at({b, h, t});
        else
          g = -p.slopes[h];
        for (int64_t d = 0; d < Dv; ++d)
          S[i * Dv + d] *= std::exp(g);
      }
    std::vector<double> vt(Dv);
    for (int64_t d = 0; d < Dv; ++d)
      vt[d] = v.at({b, h, t, d});
    if (delta) {
      double beta = p.beta->at({b, p.beta->dim(1) == 1 ? 0 : h, t});
      for (int64_t d = 0; d < Dv; ++d) {
        double sk = 0;
        for (int64_t i = 0; i < Dk; ++i)
          sk += S[i * Dv + d] * k.at({b, h, t, i});
        vt[d] = beta * (vt[d] - sk);
      }
    }
    for (int64_t i = 0; i < Dk; ++i)
      for (int64_t d = 0; d < Dv; ++d)
        S[i * Dv + d] += k.at({b, h, t, i}) * vt[d];
    for (int64_t g = 0; g < G; ++g)
      for (int64_t d = 0; d < Dv; ++d) {
        double o = 0;
        for (int64_t i = 0; i < Dk; ++i)
          o += S[i * Dv + d] * q.at({b, h * G + g, t, i});
        out.at({b, h * G + g, t, d}) = scale * o;
      }
  };

  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      Matrix S(Dk * Dv, 0.0);
      if (p.initialState)
        for (int64_t i = 0; i < Dk; ++i)
          for (int64_t d = 0; d < Dv; ++d)
            S[i * Dv + d] = p.initialState->at({b, h, i, d});
      for (int64_t t = 0; t < T - N; ++t)
        step(S, b, h, t);
      if (!p.parents) {
        for (int64_t i = 0; i < Dk; ++i)
          for (int64_t d = 0; d < Dv; ++d)
            state.at({b, h, i, d}) = S[i * Dv + d];
        continue;
      }
      std::vector<Matrix> nodeStates(N);
      for (int64_t n = 0; n < N; ++n) {
        int32_t parent = (*p.parents)[n];
        nodeStates[n] = parent < 0 ? S : nodeStates[parent];
        step(nodeStates[n], b, h, T - N + n);
        for (int64_t i = 0; i < Dk; ++i)
          for (int64_t d = 0; d < Dv; ++d)
            state.at({b, h, n, i, d}) = nodeStates[n][i * Dv + d];
      }
    }
  return out;
}

static double silu(double x) { return x / (1.0 + std::exp(-x)); }

Array hybrid::ref::chunkMoE(const Array &x, const Array &router,
                            const Array &up, const Array &down,
                            const MoEParams &p, Array *weightsOut) {
  int64_t T = x.dim(0), Dm = x.dim(1), E = router.dim(0), Be = up.dim(1);
  Array r({T, E});
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> logit(E);
    for (int64_t e = 0; e < E; ++e) {
      double s = 0;
      for (int64_t m = 0; m < Dm; ++m)
        s += x.at({t, m}) * router.at({e, m});
      logit[e] = s;
    }
    if (p.router == Router::BlockFFN) {
      double ss = 0;
      for (double &l : logit) {
        l = std::max(l, 0.0);
        ss += l * l;
      }
      double rstd = 1.0 / std::sqrt(ss / E + p.epsilon);
      for (int64_t e = 0; e < E; ++e)
        r.at({t, e}) = logit[e] * rstd * p.routerNorm->at({e});
    } else if (p.router == Router::Deco) {
      for (int64_t e = 0; e < E; ++e)
        r.at({t, e}) = std::max(logit[e], 0.0) * p.routerScale->at({e});
    } else {
      std::vector<int64_t> order(E);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return logit[a] > logit[b]; });
      double mx = logit[order[0]], sum = 0;
      for (int64_t i = 0; i < p.topK; ++i)
        sum += std::exp(logit[order[i]] - mx);
      for (int64_t i = 0; i < p.topK; ++i)
        r.at({t, order[i]}) = std::exp(logit[order[i]] - mx) / sum;
    }
  }
  Array y({T, Dm});
  auto ffn = [&](int64_t t, const Array &u, const Array &w, int64_t e,
                 double weight, int64_t width) {
    std::vector<double> hidden(width);
    for (int64_t j = 0; j < width; ++j) {
      double s = 0;
      for (int64_t m = 0; m < Dm; ++m)
        s += (e < 0 ? u.at({j, m}) : u.at({e, j, m})) * x.at({t, m});
      hidden[j] = silu(s);
    }
    for (int64_t m = 0; m < Dm; ++m) {
      double s = 0;
      for (int64_t j = 0; j < width; ++j)
        s += (e < 0 ? w.at({m, j}) : w.at({e, m, j})) * hidden[j];
      y.at({t, m}) += weight * s;
    }
  };
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t e = 0; e < E; ++e)
      if (r.at({t, e}) != 0)
        ffn(t, up, down, e, r.at({t, e}), Be);
    if (p.sharedUp)
      ffn(t, *p.sharedUp, *p.sharedDown, -1, 1.0, p.sharedUp->dim(0));
  }
  if (weightsOut)
    *weightsOut = r;
  return y;
}

std::vector<int32_t> hybrid::ref::argmaxRows(const Array &logits) {
  std::vector<int32_t> result;
  for (int64_t i = 0; i < logits.dim(0); ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < logits.dim(1); ++j)
      if (logits.at({i, j}) > logits.at({i, best}))
        best = j;
    result.push_back(static_cast<int32_t>(best));
  }
  return result;
}

Verification hybrid::ref::treeVerify(const std::vector<int32_t> &parents,
                                     const std::vector<int32_t> &draft,
                                     const std::vector<int32_t> &a) {
  size_t N = parents.size();
  std::vector<int> depth(N, -1);
  depth[0] = 0;
  size_t best = 0;
  for (size_t i = 1; i < N; ++i) {
    int32_t parent = parents[i];
    if (depth[parent] >= 0 && draft[i] == a[parent])
      depth[i] = depth[parent] + 1;
    if (depth[i] > depth[best])
      best = i;
  }
  Verification v;
  v.path.assign(N, -1);
  for (int64_t n = static_cast<int64_t>(best), d = depth[best]; n >= 0;
       n = parents[n], --d)
    v.path[d] = static_cast<int32_t>(n);
  v.length = depth[best] + 1;
  v.bonus = a[best];
  return v;
}

Array hybrid::ref::kvCompact(const Array &cache,
                             const std::vector<int32_t> &path, int32_t length,
                             int64_t prefix) {
  Array out = cache;
  for (int64_t b = 0; b < cache.dim(0); ++b)
    for (int64_t h = 0; h < cache.dim(1); ++h)
      for (int32_t d = 1; d < length; ++d)
        for (int64_t e = 0; e < cache.dim(3); ++e)
          out.at({b, h, prefix + d, e}) = cache.at({b, h, prefix + path[d], e});
  return out;
}

Array hybrid::ref::rmsNorm(const Array &x, const Array &scale, int64_t axis,
                           double epsilon) {
  int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < 0)
    axis += rank;
  int64_t inner = 1;
  for (int64_t d = axis; d < rank; ++d)
    inner *= x.shape[d];
  int64_t outer = x.size() / inner;
  std::vector<int64_t> normShape(x.shape.begin() + axis, x.shape.end());
  Array y(x.shape);
  for (int64_t o = 0; o < outer; ++o) {
    double ss = 0;
    for (int64_t n = 0; n < inner; ++n)
      ss += x.data[o * inner + n] * x.data[o * inner + n];
    double rstd = 1.0 / std::sqrt(ss / inner + epsilon);
    for (int64_t n = 0; n < inner; ++n) {
      // Broadcast the scale over the normalised dims, right-aligned.
      int64_t rest = n, sFlat = 0, sStride = 1;
      size_t sRank = scale.shape.size();
      for (int64_t d = static_cast<int64_t>(normShape.size()) - 1; d >= 0;
           --d) {
        int64_t coord = rest % normShape[d];
        rest /= normShape[d];
        int64_t sd = d - static_cast<int64_t>(normShape.size() - sRank);
        if (sd < 0)
          continue;
        int64_t size = scale.shape[sd];
        sFlat += (size == 1 ? 0 : coord) * sStride;
        sStride *= size;
      }
      y.data[o * inner + n] = x.data[o * inner + n] * rstd * scale.data[sFlat];
    }
  }
  return y;
}

Array hybrid::ref::rotaryEmbedding(const Array &x, const Array &cos,
                                   const Array &sin,
                                   const std::vector<int64_t> &positions,
                                   bool interleaved, int64_t rotaryDim) {
  int64_t B = x.dim(0), H = x.dim(1), S = x.dim(2), D = x.dim(3);
  int64_t R = rotaryDim ? rotaryDim : D, half = R / 2;
  Array y = x;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        int64_t pos = positions[b * S + s];
        for (int64_t i = 0; i < half; ++i) {
          int64_t i1 = interleaved ? 2 * i : i;
          int64_t i2 = interleaved ? 2 * i + 1 : i + half;
          double c = cos.at({pos, i}), sn = sin.at({pos, i});
          double x1 = x.at({b, h, s, i1}), x2 = x.at({b, h, s, i2});
          y.at({b, h, s, i1}) = x1 * c - x2 * sn;
          y.at({b, h, s, i2}) = x2 * c + x1 * sn;
        }
      }
  return y;
}

Array hybrid::ref::matmul(const Array &a, const Array &b, const Array &c) {
  Array out = c;
  for (int64_t i = 0; i < a.dim(0); ++i)
    for (int64_t j = 0; j < b.dim(1); ++j)
      for (int64_t p = 0; p < a.dim(1); ++p)
        out.at({i, j}) += a.at({i, p}) * b.at({p, j});
  return out;
}
