"""Writing a benchmark's Markdown page atomically (temp file + rename), shared by the scripts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_markdown(out: str | Path, lines: list[str]) -> Path:
    """Write ``lines`` (joined by newlines) to ``out`` through a temp file and a rename."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return out
