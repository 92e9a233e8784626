"""The notebook-style example runs end to end and writes its plot."""

import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLE = os.path.join(ROOT, "examples", "python", "sparse_speedup.py")


def test_sparse_speedup_example_writes_its_plot(tmp_path):
    out = tmp_path / "speedup.png"
    run = subprocess.run([sys.executable, EXAMPLE, "--lengths", "256", "1024", "2048",
                          "--calls", "1", "--out", str(out)],
                         capture_output=True, text=True, env=dict(os.environ))
    assert run.returncode == 0, run.stderr
    assert "imported: 2 hybrid.attention ops" in run.stdout
    assert "sparsified: 2 block selections" in run.stdout
    assert run.stdout.count("tokens: dense") == 3
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_version():
    import hybrid
    assert hybrid.__version__ == hybrid.runtime_version()
    assert hybrid.__version__.count(".") == 2
