//===- RotaryFrequencies.cpp - RoPE inverse frequencies of a config -------===//

#include "RotaryFrequencies.h"

#include <cmath>

using namespace mlir;
using namespace mlir::hybrid::hf;

/// base^(-2i/D) per frequency, divided by `divisors` when given.
static SmallVector<float> baseFrequencies(const DecoderConfig &c,
                                          ArrayRef<double> divisors = {}) {
  SmallVector<float> f;
  int64_t half = c.headDim / 2;
  for (int64_t i = 0; i < half; ++i) {
    float power =
        std::pow(float(c.ropeTheta), float(2 * i) / float(c.headDim));
    f.push_back(1.0f / (divisors.empty() ? power : float(divisors[i]) * power));
  }
  return f;
}

RotaryFrequencies mlir::hybrid::hf::rotaryFrequencies(const DecoderConfig &c) {
  const RopeScaling &s = c.rope;
  RotaryFrequencies r;
  switch (s.kind) {
  case RopeScaling::Kind::Default:
    r.invFreq = baseFrequencies(c);
    break;
  case RopeScaling::Kind::Linear:
    r.invFreq = baseFrequencies(c);
    for (float &f : r.invFreq)
      f /= float(s.factor);
    break;
  case RopeScaling::Kind::Llama3: {
    // Wavelengths shorter than old/high keep their frequency, longer than
    // old/low are divided by factor, and those between are interpolated.
    float factor = float(s.factor), low = float(s.lowFreqFactor),
          high = float(s.highFreqFactor), old = float(s.originalMaxPositions);
    float lowWavelen = old / low, highWavelen = old / high;
    for (float f : baseFrequencies(c)) {
      float wavelen = float(2 * M_PI) / f;
      float scaled = wavelen > lowWavelen ? f / factor : f;
      float smooth = (old / wavelen - low) / (high - low);
      float smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
      bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      r.invFreq.push_back(medium ? smoothed : scaled);
    }
    break;
  }
  case RopeScaling::Kind::LongRope:
    r.invFreq = baseFrequencies(c, s.shortFactor);
    r.longInvFreq = baseFrequencies(c, s.longFactor);
    r.longAbove = s.originalMaxPositions;
    r.attentionFactor = float(s.attentionFactor);
    break;
  }
  return r;
}
