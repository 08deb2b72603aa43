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
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

SWEEP_PROCESS_MIN_ROWS = 100_000
"""``sweep_process="auto"`` runs the sweep in a second process from this many demand rows
(the rows the sweep solves: bins when the plan aggregates) when two CPUs are there. Below it
the sweep takes a few seconds at most and a process start (~2 s of imports) would not pay."""

SWEEP_PROCESS_CHOICES = ("auto", "always", "never")


class SweepProcessError(RuntimeError):
    """The background sweep did not return a result (its error, or how its process ended)."""


class _PipeHandler(logging.Handler):
    """Sends the child's log records to the parent (as the attribute dicts of
    :func:`logging.makeLogRecord`, a traceback as text); silent once the parent has gone."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        self._gone = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._gone:
            return
        try:
            d = dict(record.__dict__)
            d["msg"] = record.getMessage()
            d["args"] = None
            if record.exc_info and not record.exc_text:
                d["exc_text"] = logging.Formatter().formatException(record.exc_info)
            d["exc_info"] = None
            self._conn.send(("log", d))
        except OSError:  # the parent has gone: the watchdog ends this process
            self._gone = True
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)


def _watch_parent() -> None:
    """End this (child) process as soon as its parent has gone, even mid-solve (a parent
    killed with SIGKILL cannot stop it; a wide budget of a continental grid runs for
    minutes before its next message would find the pipe closed)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="edge-coverage-sweep-watchdog", daemon=True).start()


def _child(conn: Connection, inputs: Connection, log_level: int) -> None:
    """The sweep process: read the inputs, run the sweep, send progress, log records and
    the result (or the error and its traceback)."""
    # Ctrl-C reaches the whole process group: the parent reports it and stops this process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent()
    handler = _PipeHandler(conn)
    root = logging.getLogger("coverage")
    root.addHandler(handler)
    root.setLevel(log_level)
    root.propagate = False
    t = time.perf_counter()
    try:
        kwargs = pickle.loads(inputs.recv_bytes())
        inputs.close()
        from .sweep import budget_sweep

        out = budget_sweep(progress=lambda msg: conn.send(("progress", msg)), **kwargs)
        from ..solvers.components import peak_rss_mib

        # VmHWM, not getrusage: a spawned process's ru_maxrss starts at its parent's peak
        stats = {"wall_s": time.perf_counter() - t, "peak_rss_mib": peak_rss_mib()}
        conn.send(("result", out, dict(out.attrs), stats))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as a message
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}".strip(),
                       traceback.format_exc()))
        except OSError:  # the parent has gone
            pass
    finally:
        root.removeHandler(handler)
        conn.close()


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class BackgroundSweep:
    """A budget sweep running in a process of its own.

    Parameters
    ----------
    kwargs : mapping
        Keyword arguments of :func:`coverage.planner.sweep.budget_sweep` (without
        ``progress``). They are pickled here (the constructor raises what pickling raises)
        and sent to the new process by a thread, so that this process does not wait for the
        new one to start (its imports take a few seconds).
    progress : callable, optional
        Called in this process with each progress line of the sweep, as it comes.

    Notes
    -----
    The child logs through this process's ``coverage`` loggers at the level the ``coverage``
    logger has when the sweep starts. It ignores Ctrl-C (which reaches the whole process
    group: this process reports it and calls :meth:`close`), and ends by itself as soon as
    this process has gone.
    """

    def __init__(self, kwargs: Mapping[str, Any],
                 progress: Callable[[str], None] | None = None) -> None:
        payload = pickle.dumps(dict(kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        ctx = multiprocessing.get_context("spawn")
        self._recv, send = ctx.Pipe(duplex=False)
        inputs_recv, self._inputs = ctx.Pipe(duplex=False)
        self._progress = progress
        self._result: pd.DataFrame | None = None
        self._stats: dict[str, float] = {}
        self._error: str | None = None
        self._closed = False
        self._proc = ctx.Process(
            target=_child, name="edge-coverage-sweep", daemon=True,
            args=(send, inputs_recv, logging.getLogger("coverage").getEffectiveLevel()))
        self._relay = threading.Thread(target=self._pump, name="edge-coverage-sweep-relay",
                                       daemon=True)
        self._feeder = threading.Thread(target=self._feed, args=(payload,),
                                        name="edge-coverage-sweep-inputs", daemon=True)
        # the child starts with Ctrl-C blocked (the mask survives exec): an interrupt during
        # its imports, before it ignores the signal, would print a traceback of its own
        mask = getattr(signal, "pthread_sigmask", None)
        saved = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask is not None else None
        try:
            self._proc.start()
        finally:
            if mask is not None and saved is not None:
                mask(signal.SIG_SETMASK, saved)
            send.close()  # the child holds its own ends: EOF here once it has gone
            inputs_recv.close()
        try:
            logger.debug("budget sweep: process %d started", self._proc.pid)
            self._relay.start()
            self._feeder.start()
        except BaseException:
            self.close()
            raise

    def _feed(self, payload: bytes) -> None:
        """Send the pickled inputs (the child reads them once its imports are done)."""
        try:
            self._inputs.send_bytes(payload)
        except OSError:  # the child has gone before reading them: result() says so
            pass
        finally:
            self._inputs.close()

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
                logger.debug("budget sweep process: traceback of the error\n%s", msg[2])
        self._recv.close()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._proc.pid

    @property
    def done(self) -> bool:
        """Whether the child has ended (with a result or not) and its messages are read."""
        return not self._relay.is_alive() and not self._proc.is_alive()

    def result(self) -> pd.DataFrame:
        """The sweep's table, once the child has sent it (waits for the child).

        Returns
        -------
        pandas.DataFrame
            What :func:`coverage.planner.sweep.budget_sweep` returned in the child (its
            ``attrs`` included).

        Raises
        ------
        SweepProcessError
            The sweep failed in the child (its error), or the child ended without a result
            (its exit code: killed, out of memory).
        """
        self._relay.join()  # until the child's end of the pipe closes: it has finished
        if not wait([self._proc.sentinel], timeout=10.0):  # stuck after its last message
            self._proc.kill()
        self._proc.join()
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise SweepProcessError(self._error)
        if self._closed:
            raise SweepProcessError("the sweep process was stopped (close) before it finished")
        raise SweepProcessError(
            f"the sweep process ended without a result (exit code {self._proc.exitcode})")

    @property
    def stats(self) -> dict[str, Any]:
        """``process`` ("background"), the child's ``wall_s`` and ``peak_rss_mib`` (its
        maximum resident memory), once it has returned its result."""
        return {"process": "background", **self._stats}

    def close(self) -> None:
        """Stop the child if it is still running and release the pipes (idempotent)."""
        if self._proc.pid is not None and self._proc.is_alive():
            self._closed = True
            self._proc.terminate()
            if not wait([self._proc.sentinel], timeout=10.0):
                self._proc.kill()
        if self._proc.pid is not None:
            self._proc.join()
        for thread in (self._relay, self._feeder):
            if thread.is_alive() or thread.ident is not None:
                thread.join()


def wants_process(choice: str, n_rows: int, cpus: int | None = None) -> bool:
    """Whether the sweep of ``n_rows`` demand rows runs in a second process.

    Parameters
    ----------
    choice : {"auto", "always", "never"}
        ``"auto"``: from :data:`SWEEP_PROCESS_MIN_ROWS` rows, and only with at least two
        CPUs (on one, the sweep would take time from the plan's time-limited stages).
    n_rows : int
        Demand rows of the sweep (bins when the plan aggregates).
    cpus : int, optional
        CPUs this process may run on (default: its affinity).

    Returns
    -------
    bool
    """
    if choice not in SWEEP_PROCESS_CHOICES:
        raise ValueError(f"sweep_process must be one of {SWEEP_PROCESS_CHOICES}; got {choice!r}")
    if choice != "auto":
        return choice == "always"
    return n_rows >= SWEEP_PROCESS_MIN_ROWS and (_cpus() if cpus is None else cpus) >= 2
