"""Preloaded by the worker processes of the planner's own local Dask cluster
(:func:`coverage.batch.dask_client`, ``--workers N``).

Ctrl-C in a terminal reaches the whole foreground process group, the cluster's worker
processes included; each would print a traceback of its own interrupted event loop, and
then a warning per task the closing cluster cancels. The planner's process handles the
interrupt (it writes what is finished and closes the cluster); a worker ends at once and
quietly (a task in a long solve would otherwise hold the cluster's close up).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from typing import Any

#: Loggers of a worker that report the cancellations of a closing cluster.
SHUTDOWN_LOGGERS = ("distributed.worker.state_machine", "distributed.worker",
                    "distributed.core")


def _interrupted(signum: int, frame: Any) -> None:
    # the planner stops too (it got the same Ctrl-C) and closes the cluster: end this
    # worker now, quietly, rather than wait for a close its task may hold up for long
    for name in SHUTDOWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    os._exit(130)


#: A worker's heartbeat that finds its scheduler gone: the planner's process (which holds
#: the scheduler) closing the cluster at the end of a sweep, in this cluster.
_CLOSED_HEARTBEAT = "Failed to communicate with scheduler during heartbeat"


class _ClosingHeartbeat(logging.Filter):
    """Drops the worker's report (a traceback) of a heartbeat that found the scheduler
    closed: in the planner's own cluster the scheduler lives in the planner's process, so
    it is gone only when the planner closes the cluster or ends (tester 143 saw its 30
    lines after a sweep's last scenario, once in eight runs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_CLOSED_HEARTBEAT)


def dask_setup(worker: Any) -> None:
    """Dask's preload hook: Ctrl-C ends this worker process at once and quietly (unless
    this process was started with SIGINT ignored: then it stays ignored).

    The planner's own cluster starts its workers with SIGINT blocked
    (:func:`coverage.batch.dask_client`): the handler is installed first, then SIGINT is
    unblocked, so a Ctrl-C that landed while the worker imported is taken now, by the
    handler, not by a traceback."""
    with contextlib.suppress(ValueError):  # not the main thread: nothing to change
        # an ignored Ctrl-C stays ignored: the planner started with SIGINT ignored (a
        # background job of a script) ignores it, and so must its workers (a tester's
        # find: a Ctrl-C to the script's group killed them and failed the scenarios)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _interrupted)
        mask = getattr(signal, "pthread_sigmask", None)
        if mask is not None:
            mask(signal.SIG_UNBLOCK, {signal.SIGINT})
    logging.getLogger("distributed.worker").addFilter(_ClosingHeartbeat())
