"""HiGHS solves that Ctrl-C stops at once.

HiGHS runs in C++ on the calling thread, and CPython runs a signal handler only when that
thread is back in Python: a Ctrl-C during an in-process solve waited for the solve's time
limit (12.4 s after the signal on a 60 s double cover; minutes under the CLI's longer
limits). In the main thread the solves here run in a thread of their own while the main
thread waits, so :class:`KeyboardInterrupt` is raised at once. Other threads (a Dask
worker's tasks, which receive no signals) solve directly, as before.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from scipy.optimize import OptimizeResult
from scipy.optimize import milp as _scipy_milp

__all__ = ["abandoned_solves", "milp", "run_highs"]

_ABANDONED_NAME = "scipy-milp"
"""Name of the threads of :func:`milp` solves, which a Ctrl-C leaves running."""


class _Solve:
    """``fn()`` in a daemon thread of its own, waited for by the main thread so that a
    Ctrl-C there raises :class:`KeyboardInterrupt` at once.

    The wait is on an event, not ``Thread.join``: a ``join`` that Ctrl-C interrupts marks
    the thread as ended while it still runs (CPython 3.11's ``_wait_for_tstate_lock``).
    Ctrl-C can also land inside ``Thread.start`` or just after it, before the thread has
    begun: ``stop`` is set first, and a thread that begins after that does not call ``fn``
    (it checks ``stop`` after saying it has begun), so :meth:`result` waits only for a
    thread that has begun (a solve left running after the exception was seen on two of
    three seeds before).
    """

    def __init__(self, fn: Any, name: str) -> None:
        self.stop = threading.Event()
        self._fn = fn
        self._begun = threading.Event()
        self._done = threading.Event()
        self._out: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        self._begun.set()
        try:
            if not self.stop.is_set():
                self._out["result"] = self._fn()
        except BaseException as exc:  # handed to the waiting thread
            self._out["error"] = exc
        finally:
            self._done.set()

    def result(self, *, wait_after_interrupt: bool) -> Any:
        """``fn``'s result (its exception raised here). On Ctrl-C: ``stop`` is set, the
        thread is waited for when ``wait_after_interrupt`` and it has begun, and the
        :class:`KeyboardInterrupt` goes on."""
        try:
            self._thread.start()
            while not self._done.wait(0.25):
                pass
        except KeyboardInterrupt:
            self.stop.set()
            if wait_after_interrupt and self._begun.is_set():
                while not self._done.wait(0.25):  # HiGHS stops at its next interrupt check
                    pass
            raise
        if "error" in self._out:
            raise self._out["error"]
        return self._out.get("result")


def run_highs(h: Any, deadline: float | None = None) -> None:
    """``h.run()``, stopped by Ctrl-C (and at ``deadline``).

    In the main thread HiGHS runs in a thread of its own while this one waits, so a SIGINT
    raises :class:`KeyboardInterrupt` here at once; HiGHS is told to stop at its next
    interrupt check (simplex, interior point and MIP interrupt callbacks) and is waited for
    before the exception goes on, so the model is never freed under a running solve, and
    its model status is then ``kInterrupt``. (``highspy``'s own ``startSolve`` is not used:
    its locks are shared by every ``Highs`` object, and a Ctrl-C inside it leaves the
    solve running.) Other threads call ``h.run()`` (with the deadline's check only), as
    does a ``highspy`` without callbacks (no deadline either).

    Parameters
    ----------
    h : highspy.Highs
        A model ready to solve.
    deadline : float, optional
        A ``time.perf_counter()`` at which a MIP is told to stop (at its next MIP interrupt
        check) when HiGHS's own ``time_limit`` has not stopped it: HiGHS's root cut
        separation does not check that limit (a k-median MILP of 129,314 pairs, Japan at
        30 ms, N-0, 58 s limit: SciPy's HiGHS returned after 99 s; highspy 1.16 with this
        deadline stopped at 73 s, the MIP's checks being rare; hand runs of 2026-12-08).
        The model status is then ``kInterrupt``.
    """
    hooks = [getattr(h, name, None) for name in
             ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt")]
    if None in hooks:  # a highspy without callbacks
        h.run()
        return
    subscribed: list[tuple[Any, Any]] = []
    if deadline is not None:

        def past(event: Any) -> None:
            if time.perf_counter() > deadline:
                event.interrupt()

        # (the MIP's checks only: the simplex's come every iteration, and its own time
        # limit holds)
        subscribed.append((hooks[2], past))
    main = threading.current_thread() is threading.main_thread()
    solve = _Solve(h.run, "highs") if main else None
    if solve is not None:

        def on_check(event: Any) -> None:
            if solve.stop.is_set():
                event.interrupt()

        subscribed.extend((hook, on_check) for hook in hooks)
    for hook, fn in subscribed:
        hook.subscribe(fn)
    try:
        if solve is None:
            h.run()
        else:
            solve.result(wait_after_interrupt=True)
    finally:
        for hook, fn in subscribed:
            hook.unsubscribe(fn)


def milp(*args: Any, **kwargs: Any) -> OptimizeResult:
    """:func:`scipy.optimize.milp`, stopped by Ctrl-C.

    In the main thread the solve runs in a daemon thread and this one waits for it, so a
    SIGINT raises :class:`KeyboardInterrupt` at once. SciPy's HiGHS cannot be told to stop:
    the abandoned solve ends at its own ``time_limit`` (every call here has one) and its
    result is dropped; a command exits at once (with ``os._exit``: see
    :func:`abandoned_solves`). Other
    threads call SciPy directly.

    Parameters
    ----------
    *args, **kwargs
        Those of :func:`scipy.optimize.milp`.

    Returns
    -------
    scipy.optimize.OptimizeResult
        SciPy's result; an exception the solve raised is raised here.
    """
    if threading.current_thread() is not threading.main_thread():
        return _scipy_milp(*args, **kwargs)
    return _Solve(lambda: _scipy_milp(*args, **kwargs), _ABANDONED_NAME).result(
        wait_after_interrupt=False)


def abandoned_solves() -> list[threading.Thread]:
    """Solves of :func:`milp` that a Ctrl-C left running (threads still alive).

    A process must not end through the interpreter's shutdown while one runs: Python ends
    such a daemon thread inside HiGHS's C++ code, which aborts the process ("terminate
    called without an active exception", SIGABRT, exit 134 instead of 130). The command
    line ends with ``os._exit`` when this is not empty (see ``edge_coverage.main``).

    Returns
    -------
    list of threading.Thread
        The running solve threads (empty when none).
    """
    return [t for t in threading.enumerate() if t.name == _ABANDONED_NAME and t.is_alive()]
