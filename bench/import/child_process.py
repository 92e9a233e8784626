"""Wall time and peak memory of one child process, for the import
benchmarks."""
import os
import subprocess
import sys
import time


def measure(cmd):
    """(wall seconds, peak RSS in MB, stderr) of one child process; exits
    with its stderr when it fails."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024.0, err
