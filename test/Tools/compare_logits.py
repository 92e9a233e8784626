"""compare_logits.py NAME OUT.npy REF.npy [NAME OUT.npy REF.npy ...]: each
output against its reference: max abs error <= 1e-4 x max(1, max
|reference|). Prints NAME, the output's shape, and ok or the error."""
import sys

import numpy as np

args = sys.argv[1:]
for name, out, ref in zip(args[0::3], args[1::3], args[2::3]):
    y, r = np.load(out), np.load(ref)
    err = np.abs(y.astype(np.float64) - r).max() if y.shape == r.shape else np.inf
    bound = 1e-4 * max(1.0, np.abs(r).max())
    print(name, y.shape, "ok" if err <= bound else f"error {err:g} > {bound:g}")
