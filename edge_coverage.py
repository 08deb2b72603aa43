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
    except ImportError as exc:
        args = sys.argv[1:] if argv is None else argv
        if "-v" in args or "--verbose" in args:
            raise
        print(f"edge-coverage: error: cannot import the planner ({type(exc).__name__}: "
              f"{exc}). Fix: reinstall edge-coverage in its own environment (make install); "
              "coverage.py shares the import name 'coverage' and must not be installed "
              "beside it (re-run with --verbose for the traceback)", file=sys.stderr)
        return 1
    code = run(argv)
    if argv is None and code in (130, 143):
        _exit_past_abandoned_solves(code)
    if argv is None:
        _terminate_quietly_after(code)
    return code


def _terminate_quietly_after(code: int) -> None:
    """From the command's end to the process's: a SIGTERM (the interpreter's shutdown may
    take a while after a large plan) says the command had finished, with its exit code,
    and ends the process with 143, where the default action ended it without a word
    (tester 143: a report killed just after "wrote report.html"); from the interpreter's
    exit handlers on, it is ignored. Only for the command itself, not for :func:`main`
    called from another program."""
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(_signum: int, _frame: object) -> None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        try:
            print(f"edge-coverage: terminated after the command had finished (exit {code}): "
                  "what it wrote is complete", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
        os._exit(143)

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        return
    # the interpreter's finalization puts a Python handler back to the default action
    # early on (tester 193: a SIGTERM up to a second after the last line ended a finished
    # plan with no word, exit -15): from the exit handlers on, SIGTERM is ignored (a
    # handler the finalization leaves alone), and the process ends moments later with
    # the command's own exit code
    import atexit

    atexit.register(signal.signal, signal.SIGTERM, signal.SIG_IGN)


def _exit_past_abandoned_solves(code: int) -> None:
    """End the command now (``os._exit``, output flushed) when an interrupt left a HiGHS
    solve running in a thread: the interpreter's shutdown would end that thread inside C++
    and abort the process (exit 134, "terminate called without an active exception"). The
    outputs were already cleaned up by the unwinding; nothing else is left to do."""
    import logging
    import os

    from coverage.solvers.interrupt import abandoned_solves

    if abandoned_solves():
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
