"""compare_logits.py REF_DIR OUT_PREFIX NAME...: each NAME's output
(OUT_PREFIX.NAME.npy) against REF_DIR/NAME.logits.npy: max abs error <=
1e-4 x max(1, max |reference|)."""
import sys

import numpy as np

ref_dir, prefix = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    y = np.load(f"{prefix}.{name}.npy")
    r = np.load(f"{ref_dir}/{name}.logits.npy")
    err = np.abs(y.astype(np.float64) - r).max() if y.shape == r.shape else np.inf
    bound = 1e-4 * max(1.0, np.abs(r).max())
    print(name, y.shape, "ok" if err <= bound else f"error {err:g} > {bound:g}")
