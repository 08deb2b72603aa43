"""A child command run to its end with its memory sampled (the benchmarks' whole-command
measurements: ``bench/components.py``, ``bench/cluster_netns.py``)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path


def run_sampled(cmd: list[str], log_path: Path, measure: Callable[[int], float],
                every_s: float = 0.5) -> tuple[int, float]:
    """Run ``cmd`` (output to ``log_path``) and sample ``measure(pid)`` every ``every_s``.

    Returns
    -------
    (int, float)
        The exit code and the largest sample (a lower bound of the true peak when
        ``measure`` is the current resident memory).
    """
    peak = 0.0
    with open(log_path, "w") as log:
        run = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, measure(run.pid))
                done.wait(every_s)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = run.wait()
        done.set()
        th.join()
    return rc, peak
