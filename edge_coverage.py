"""The ``edge-coverage`` command's entry point, outside the ``coverage`` package.

Importing :mod:`coverage.cli` takes a second or two (numpy, scipy, pandas, shapely); a
Ctrl-C in that time raised ``KeyboardInterrupt`` before :func:`coverage.cli.main` could turn
it into its one-line message, so Python printed a traceback. This module imports nothing
heavy itself and gives the same message and exit code (130) for an interrupt at import.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run :func:`coverage.cli.main`; an interrupt while importing it exits 130 quietly."""
    try:
        from coverage.cli import main as run
    except KeyboardInterrupt:
        print("edge-coverage: interrupted", file=sys.stderr)
        return 130
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
