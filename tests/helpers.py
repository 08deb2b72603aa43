"""Helpers shared by the test modules: the console script, input files, error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coverage.errors import InputValidationError
from coverage.model.latency import LatencyModel

EXE = str(Path(sys.executable).with_name("edge-coverage"))
"""The installed ``edge-coverage`` console script of this interpreter's environment."""

ON_NET = LatencyModel.from_profile("on-net")
"""The first version's network model (route factor 1.5, 8 hops x 0.05 ms, no overhead): the
model the sample-data instances (``data/west_*.csv``, 25 ms budgets, 592 km radius at 30 ms
FTTH) were designed for. Tests of pipeline mechanics pin it so that they keep testing what
they tested; under the default ``internet`` profile a 25 ms FTTH p99 budget is infeasible
(28.0 ms at distance 0). CLI runs pass ``--latency-model on-net``, batch files
``model = "on-net"``."""


def run(*args, cwd=None, **kw) -> subprocess.CompletedProcess:
    """Run ``edge-coverage`` with ``args`` (stringified), capturing text output."""
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=600, **kw)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text, encoding=encoding)
    return path


def raises_with(func, *args, match: list[str], **kwargs) -> str:
    """Call ``func`` expecting an InputValidationError containing every string in ``match``
    and a fix; returns the message."""
    with pytest.raises(InputValidationError) as info:
        func(*args, **kwargs)
    msg = str(info.value)
    for needle in match:
        assert needle in msg, f"{needle!r} not in message:\n{msg}"
    assert "Fix:" in msg
    return msg
