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
from typing import Any

from scipy.optimize import OptimizeResult
from scipy.optimize import milp as _scipy_milp

__all__ = ["milp", "run_highs"]


def _in_thread(fn: Any, name: str, out: dict[str, Any]) -> threading.Event:
    """Start ``fn()`` in a daemon thread; its result or exception goes into ``out``
    (``"result"`` / ``"error"``) and the returned event is set when it ends.

    The caller waits on the event, not with ``Thread.join``: a ``join`` that Ctrl-C
    interrupts marks the thread as ended while it still runs (CPython 3.11's
    ``_wait_for_tstate_lock``), so a second wait would not wait."""
    done = threading.Event()

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # handed to the waiting thread
            out["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    return done


def run_highs(h: Any) -> None:
    """``h.run()``, stopped by Ctrl-C.

    In the main thread HiGHS runs in a thread of its own while this one waits, so a SIGINT
    raises :class:`KeyboardInterrupt` here at once; HiGHS is told to stop at its next
    interrupt check (simplex, interior point and MIP interrupt callbacks) and is waited for
    before the exception goes on, so the model is never freed under a running solve, and
    its model status is then ``kInterrupt``. (``highspy``'s own ``startSolve`` is not used:
    its locks are shared by every ``Highs`` object, and a Ctrl-C inside it leaves the
    solve running.) Other threads, and a ``highspy`` without callbacks, call ``h.run()``.

    Parameters
    ----------
    h : highspy.Highs
        A model ready to solve.
    """
    hooks = [getattr(h, name, None) for name in
             ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt")]
    if threading.current_thread() is not threading.main_thread() or None in hooks:
        h.run()
        return
    stop = threading.Event()

    def on_check(event: Any) -> None:
        if stop.is_set():
            event.interrupt()

    for hook in hooks:
        hook.subscribe(on_check)
    try:
        out: dict[str, Any] = {}
        done = _in_thread(h.run, "highs", out)
        try:
            while not done.wait(0.25):
                pass
        except KeyboardInterrupt:
            stop.set()
            while not done.wait(0.25):  # HiGHS stops at its next interrupt check
                pass
            raise
    finally:
        for hook in hooks:
            hook.unsubscribe(on_check)
    if "error" in out:
        raise out["error"]

def milp(*args: Any, **kwargs: Any) -> OptimizeResult:
    """:func:`scipy.optimize.milp`, stopped by Ctrl-C.

    In the main thread the solve runs in a daemon thread and this one waits for it, so a
    SIGINT raises :class:`KeyboardInterrupt` at once. SciPy's HiGHS cannot be told to stop:
    the abandoned solve ends at its own ``time_limit`` (every call here has one) and its
    result is dropped; a command exits at once (its threads end with the process). Other
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
    out: dict[str, Any] = {}
    done = _in_thread(lambda: _scipy_milp(*args, **kwargs), "scipy-milp", out)
    while not done.wait(0.25):
        pass
    if "error" in out:
        raise out["error"]
    return out["result"]
