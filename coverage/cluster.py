"""Waiting on a Dask cluster from inside one of its tasks.

A batch scenario runs as a task on a worker thread; with ``--reach-partitions`` (or a
``client`` the plan uses for its pieces) it submits tasks of its own and waits for them.
While it waits it leaves the worker's thread pool (``distributed.secede``), so that its
own tasks can run on that thread, and it joins it again (``distributed.rejoin``) before
it computes anything: the scenario holds a thread only while it works, as every other
scenario does. (Before, the whole plan ran outside the pool, so a worker of one thread
started every scenario at once: tester 148.) Outside a worker both are no-ops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["SUBTASK_PRIORITY", "in_worker_task", "waiting"]

#: Dask priority of the tasks a task submits for itself and waits on: ahead of the
#: scenarios still queued, so that a thread left while waiting goes to them first.
SUBTASK_PRIORITY = 10


def in_worker_task() -> bool:
    """Whether this code runs as a task of a Dask worker (a thread of its pool)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        get_worker()
    except (ImportError, ValueError):
        return False
    return bool(getattr(thread_state, "key", None))


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Leave the worker's thread pool for the block (a task waiting on tasks it
    submitted), and join it again after; nothing outside a worker's task, or in one that
    has left the pool already (``distributed.worker_client()``, a ``waiting()`` around
    this one)."""
    from_pool = in_worker_task()
    if from_pool:
        from distributed.threadpoolexecutor import thread_state

        # (the pool's own thread_state, which secede() and rejoin() set, not
        # distributed.worker's, which holds the task's key.) Out of the pool already:
        # inside worker_client(), or a waiting() around this one (seceding again raised
        # KeyError, review 141)
        from_pool = getattr(thread_state, "proceed", True)
    if not from_pool:
        yield
        return
    from distributed import rejoin, secede

    secede()
    try:
        yield
    finally:
        rejoin()
