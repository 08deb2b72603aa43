"""Helpers shared by the test modules: the console script, input files, error messages."""

from __future__ import annotations

import os
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


IN_PROCESS_ENV = "EDGE_COVERAGE_TEST_IN_PROCESS"
"""``0`` runs every :func:`run` as its own process (as before; ``tests/test_outdir.py`` then
took about twice as long, hand run)."""


def run(*args, cwd=None, **kw) -> subprocess.CompletedProcess:
    """Run ``edge-coverage`` with ``args`` (stringified), capturing text output.

    The command runs in this process (:func:`run_in_process`): a new process spends about
    2.3 s (hand run) importing numpy, scipy, pandas, scikit-learn, matplotlib and folium
    before its first line, and hundreds of tests run the command. Options of :func:`subprocess.run`
    (``preexec_fn``, ``env``, ...) or ``EDGE_COVERAGE_TEST_IN_PROCESS=0`` run the console
    script as a process instead (:func:`run_process`); tests of what only a process has
    (signals, exit at import, the entry script) call it directly.
    """
    if kw or os.environ.get(IN_PROCESS_ENV, "1") == "0":
        return run_process(*args, cwd=cwd, **kw)
    return run_in_process(*args, cwd=cwd)


def run_process(*args, cwd=None, **kw) -> subprocess.CompletedProcess:
    """Run the ``edge-coverage`` console script as a process, capturing text output."""
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=600, **kw)


def run_in_process(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run :func:`coverage.cli.main` here, as the console script would run it.

    The standard descriptors 1 and 2 are pointed at files for the run, so the text written
    below Python (HiGHS) is captured with Python's; ``cwd`` is the working directory for the
    run; warnings are filtered as in a new interpreter (not as errors, pytest's setting); an
    exception out of ``main`` (``--verbose`` re-raises) is printed as Python would
    print it, with exit code 1; ``SystemExit`` (the argument parser's) gives its code. A
    run still going after 600 s (``run_process``'s timeout) ends this test process with
    the tracebacks of its threads (``faulthandler``): a hang fails the suite, never stalls
    it. The working directory, descriptors, streams and SIGINT/SIGTERM handlers are put
    back afterwards (``cli.main`` puts back its loggers' levels and handlers itself).

    Not captured as a process would: log records of other libraries' loggers (pytest's
    handlers on the root logger take them; Dask's handler writes to the stream it was
    made with). Tests that a command's output has no such noise start a process.
    """
    import contextlib
    import faulthandler
    import signal
    import tempfile
    import traceback
    import warnings

    from coverage import cli

    argv = [str(a) for a in args]
    saved_fds = {fd: os.dup(fd) for fd in (1, 2)}
    saved_streams = sys.stdout, sys.stderr
    saved_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_cwd = os.getcwd()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        for stream in saved_streams:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        watchdog = open(saved_fds[2], "w", closefd=False)  # noqa: SIM115 - the real stderr
        faulthandler.dump_traceback_later(600, exit=True, file=watchdog)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                          closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                          closefd=False)
        try:
            if cwd is not None:
                os.chdir(cwd)
            try:
                with warnings.catch_warnings():  # a new interpreter's filters, not pytest's
                    warnings.resetwarnings()
                    for category in (DeprecationWarning, PendingDeprecationWarning,
                                     ImportWarning, ResourceWarning):
                        warnings.simplefilter("ignore", category)
                    code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if exc.code is not None and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)
            except BaseException:  # noqa: BLE001 - as the interpreter reports it
                traceback.print_exc()
                code = 1
        finally:
            faulthandler.cancel_dump_traceback_later()
            watchdog.close()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            _flush_c_streams()
            sys.stdout, sys.stderr = saved_streams
            for fd, saved in saved_fds.items():
                os.dup2(saved, fd)
                os.close(saved)
            os.chdir(saved_cwd)
            for s, handler in saved_handlers.items():
                signal.signal(s, handler)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read().decode("utf-8", errors="replace"))
    return subprocess.CompletedProcess([EXE, *argv], code, texts[0], texts[1])


def _flush_c_streams() -> None:
    """Flush the C library's buffered streams (HiGHS prints through them)."""
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


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
