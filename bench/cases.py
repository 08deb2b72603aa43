"""Run a benchmark's cases each in its own process (a fresh heap and RSS per case)."""

from __future__ import annotations

import json
import subprocess
import sys


def run_cases(script: str, cases: list[tuple[int, float]],
              hide: tuple[str, ...] = ()) -> list[dict]:
    """``python SCRIPT --case SEED DENSITY`` for every case, in order.

    Each run prints its figures as one JSON line last; a run that does not gives
    ``{"seed", "error"}`` (its stderr's tail). Every result is echoed as a JSON line,
    without the keys in ``hide``.
    """
    rows = []
    for seed, density in cases:
        res = subprocess.run([sys.executable, script, "--case", str(seed), str(density)],
                             capture_output=True, text=True)
        try:
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        except (json.JSONDecodeError, IndexError):
            rows.append({"seed": seed, "error": res.stderr[-2000:]})
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in hide}), flush=True)
    return rows
