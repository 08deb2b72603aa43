"""The budget sweep in a second process, alongside the plan.

A national plan's budget sweep (:func:`coverage.planner.sweep.budget_sweep`: nine budgets,
each a count of every cell's candidates and a row-generation solve) takes about as long as
the plan itself, and needs nothing the plan computes: only the validated inputs, the model
and the plan's options. :class:`BackgroundSweep` runs it in a process of its own (``spawn``:
a fresh interpreter, no state shared with the planner's threads) while the planner works in
this one, so that on two cores the sweep costs no wall time; the plan's own budget is left
to the plan (:func:`coverage.planner.sweep.with_plan_rows` fills it in).

The child sends its progress lines, its log records and its result (or the reason it
failed) through one pipe; a thread of this process relays them as they come, so the
caller's ``progress`` and logging see the sweep's lines live. The child is stopped when
:meth:`BackgroundSweep.close` is called before it has finished (an error or Ctrl-C in the
planner), and stops by itself when this process has gone (its next message cannot be sent).
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

SWEEP_PROCESS_MIN_ROWS = 100_000
"""``sweep_process="auto"`` runs the sweep in a second process from this many demand rows
(the rows the sweep solves: bins when the plan aggregates). Below it the sweep takes a few
seconds at most and a process start (~2 s of imports) would not pay."""

SWEEP_PROCESS_CHOICES = ("auto", "always", "never")


class SweepProcessError(RuntimeError):
    """The background sweep did not return a result (its error, or how its process ended)."""


class _PipeHandler(logging.Handler):
    """Sends the child's log records to the parent (as the attribute dicts of
    :func:`logging.makeLogRecord`)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        try:
            d = dict(record.__dict__)
            d["msg"] = record.getMessage()
            d["args"] = None
            d["exc_info"] = None
            d["exc_text"] = None
            self._conn.send(("log", d))
        except Exception:  # noqa: BLE001 - logging must not raise (the parent may be gone)
            self.handleError(record)


def _child(conn: Connection, kwargs: dict[str, Any], log_level: int) -> None:
    """The sweep process: run the sweep, send progress, log records and the result."""
    handler = _PipeHandler(conn)
    root = logging.getLogger("coverage")
    root.addHandler(handler)
    root.setLevel(log_level)
    root.propagate = False
    t = time.perf_counter()
    try:
        from .sweep import budget_sweep

        out = budget_sweep(progress=lambda msg: conn.send(("progress", msg)), **kwargs)
        stats = {"wall_s": time.perf_counter() - t,
                 "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
        conn.send(("result", out, dict(out.attrs), stats))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent reports it
        pass
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as a message
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}".strip()))
        except OSError:  # the parent has gone
            pass
    finally:
        root.removeHandler(handler)
        conn.close()


class BackgroundSweep:
    """A budget sweep running in a process of its own.

    Parameters
    ----------
    kwargs : mapping
        Keyword arguments of :func:`coverage.planner.sweep.budget_sweep` (without
        ``progress``); they are pickled to the new process, so every value must be
        picklable (the constructor raises what pickling raises).
    progress : callable, optional
        Called in this process with each progress line of the sweep, as it comes.

    Notes
    -----
    The child logs through this process's ``coverage`` loggers at the level the ``coverage``
    logger has when the sweep starts.
    """

    def __init__(self, kwargs: Mapping[str, Any],
                 progress: Callable[[str], None] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._recv, send = ctx.Pipe(duplex=False)
        self._progress = progress
        self._result: pd.DataFrame | None = None
        self._stats: dict[str, float] = {}
        self._error: str | None = None
        self._t0 = time.perf_counter()
        self._proc = ctx.Process(
            target=_child, name="edge-coverage-sweep", daemon=True,
            args=(send, dict(kwargs), logging.getLogger("coverage").getEffectiveLevel()))
        try:
            self._proc.start()
        finally:
            send.close()  # the child holds its own end; EOF here once it has gone
        self._relay = threading.Thread(target=self._pump, name="edge-coverage-sweep-relay",
                                       daemon=True)
        self._relay.start()

    def _pump(self) -> None:
        """Relay the child's messages until its end of the pipe closes."""
        while True:
            try:
                msg = self._recv.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "progress":
                if self._progress is not None:
                    try:
                        self._progress(msg[1])
                    except Exception:  # noqa: BLE001 - a progress sink never stops the sweep
                        logger.debug("progress callback failed", exc_info=True)
                else:
                    logger.info("%s", msg[1])
            elif kind == "log":
                record = logging.makeLogRecord(msg[1])
                target = logging.getLogger(record.name)
                if target.isEnabledFor(record.levelno):
                    target.handle(record)
            elif kind == "result":
                out = msg[1]
                out.attrs.update(msg[2])
                self._result, self._stats = out, dict(msg[3])
            elif kind == "error":
                self._error = msg[1]
        self._recv.close()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._proc.pid

    @property
    def done(self) -> bool:
        """Whether the child has ended (with a result or not)."""
        return not self._relay.is_alive()

    def result(self) -> pd.DataFrame:
        """The sweep's table, once the child has sent it (waits for the child).

        Raises
        ------
        SweepProcessError
            The sweep failed in the child (its error), or the child ended without a result
            (its exit code: killed, out of memory).
        """
        wait([self._proc.sentinel])
        self._relay.join()
        self._proc.join()
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise SweepProcessError(self._error)
        raise SweepProcessError(
            f"the sweep process ended without a result (exit code {self._proc.exitcode})")

    @property
    def stats(self) -> dict[str, Any]:
        """``process`` ("background"), the child's ``wall_s`` and ``peak_rss_mib`` (its
        maximum resident memory), once it has returned its result."""
        return {"process": "background", **self._stats}

    def close(self) -> None:
        """Stop the child if it is still running and release the pipe (idempotent)."""
        if self._proc.is_alive():
            self._proc.terminate()
            if not wait([self._proc.sentinel], timeout=10.0):  # a solve ignores SIGTERM
                self._proc.kill()
        self._proc.join()
        self._relay.join()


def wants_process(choice: str, n_rows: int) -> bool:
    """Whether ``sweep_process`` ``choice`` runs the sweep of ``n_rows`` demand rows in a
    second process (``"auto"``: from :data:`SWEEP_PROCESS_MIN_ROWS` rows)."""
    if choice not in SWEEP_PROCESS_CHOICES:
        raise ValueError(f"sweep_process must be one of {SWEEP_PROCESS_CHOICES}; got {choice!r}")
    return choice == "always" or (choice == "auto" and n_rows >= SWEEP_PROCESS_MIN_ROWS)
