"""Helpers shared by the test modules: the console script, input files, error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coverage.errors import InputValidationError

EXE = str(Path(sys.executable).with_name("edge-coverage"))
"""The installed ``edge-coverage`` console script of this interpreter's environment."""


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
