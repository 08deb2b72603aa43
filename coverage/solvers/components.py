"""Independent components of a cover problem, solved as separate tasks (issue 15, part 4).

Two demand cells constrain the same sites only when they share a candidate within budget:
the connected components of the bipartite (cell, candidate) graph are independent cover
problems. Their plans together are a plan, and the sum of their proven lower bounds is a
lower bound of the whole (every feasible plan restricted to a component is feasible for
it), so components that are all solved to optimality prove the combined plan optimal.

:func:`split_components` finds the components without materialising the pairs: the cells
are binned once with their radii (:class:`coverage.model.geo.BinnedPoints`, the binned count
of row generation), and :meth:`~coverage.model.geo.BinnedPoints.reach_graph` gives a graph
with the connectivity of the (bin, candidate) pairs where some cell of the bin reaches the
candidate, exactly (only the candidates near a bin's edge are tested cell by cell), without
the pairs (a candidate inside a coarse bin joins that bin's node); its connected components
(``scipy.sparse.csgraph.connected_components``) are the split.

The split is safe: every real (cell, candidate) pair is an edge, so no component is cut.
It may merge two components, only when two cells of one bin have no candidate in common
(a bin is one node); a merged piece is still solved exactly. Cells with no candidate
within budget get their bin's label (requirement 0 in the piece), or -1 when the bin
reaches nothing or the radius is negative; candidates no cell reaches get -1.

:func:`solve_components` packs the components into pieces (each large component alone,
small ones together, largest first), solves each piece by row generation
(:func:`coverage.solvers.rowgen.lazy_cover`) in this process or as one
``client.submit`` task per piece on a Dask cluster, and combines them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..cluster import SUBTASK_PRIORITY, waiting
from ..errors import ClusterError, CoverageError, InputValidationError
from ..model.geo import BinnedPoints, unit_xyz
from ..model.latency import LatencyModel, Percentile
from ..model.problem import RowLatency
from ..wording import counted
from .cover import CoverResult
from .matrix_args import required_mask
from .rowgen import LazyCoverResult, RowSource, lazy_cover

logger = logging.getLogger(__name__)

__all__ = ["ComponentSplit", "ComponentsResult", "PieceCapacity", "pack_pieces", "run_pieces",
           "solve_capacitated_piece", "solve_components", "split_components"]


@dataclass(frozen=True)
class ComponentSplit:
    """Result of :func:`split_components`.

    Attributes
    ----------
    cell_label : numpy.ndarray
        Component of every demand cell (``-1``: no candidate within budget of any cell of
        its bin). A cell that reaches nothing itself may carry its bin's label: it is in
        its piece with a requirement of 0.
    site_label : numpy.ndarray
        Component of every candidate (``-1``: no cell within budget of it).
    n_components : int
        Number of components (labels ``0 .. n_components - 1``).
    info : dict
        Bins, edges, the annulus edges checked exactly, seconds.
    """

    cell_label: npt.NDArray[np.int64]
    site_label: npt.NDArray[np.int64]
    n_components: int
    info: dict[str, Any] = field(default_factory=dict)

    def sizes(self) -> npt.NDArray[np.int64]:
        """Cells per component."""
        lab = self.cell_label[self.cell_label >= 0]
        return np.bincount(lab, minlength=self.n_components).astype(np.int64)


def split_components(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    radius_km: npt.ArrayLike,
    site_lat_deg: npt.ArrayLike,
    site_lon_deg: npt.ArrayLike,
    *,
    bin_km: float | None = None,
) -> ComponentSplit:
    """Connected components of the bipartite (cell, candidate within ``radius_km``) graph,
    without the pairs (see the module notes).

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg : array_like
        Demand cells, degrees.
    radius_km : array_like
        Every cell's budget radius, km (negative: reaches nothing).
    site_lat_deg, site_lon_deg : array_like
        Candidates, degrees.
    bin_km : float, optional
        Leaf edge of the bins, km (:class:`coverage.model.geo.BinnedPoints`'s
        ``leaf_km``; default: its own, about 8 cells a leaf).

    Returns
    -------
    ComponentSplit
    """
    t0 = time.perf_counter()
    r = np.asarray(radius_km, dtype=np.float64)
    n, m = len(r), len(np.asarray(site_lat_deg))
    cell_label = np.full(n, -1, dtype=np.int64)
    site_label = np.full(m, -1, dtype=np.int64)
    if not (r >= 0).any() or not m:
        return ComponentSplit(cell_label, site_label, 0, {"bins": 0, "edges": 0})
    bp = BinnedPoints.from_km(unit_xyz(demand_lat_deg, demand_lon_deg), r, leaf_km=bin_km)
    t_bins = time.perf_counter() - t0
    # the connectivity of the (bin, candidate) pairs (some cell of the bin reaches the
    # candidate, exact), without the pairs themselves (BinnedPoints.reach_graph)
    e_a, e_b, n_nodes = bp.reach_graph(unit_xyz(site_lat_deg, site_lon_deg))
    n_bins = bp.bins(0) if bp.n_levels else 0
    graph = sp.coo_array((np.ones(len(e_a), dtype=np.int8), (e_a, e_b)),
                         shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(graph, directed=False)
    has_edge = np.zeros(n_nodes, dtype=bool)
    has_edge[e_a] = True
    has_edge[e_b] = True
    labels, has_edge = labels[:n_bins + m], has_edge[:n_bins + m]  # not the bins' nodes
    used = np.unique(labels[has_edge])
    compact = np.full(labels.max() + 1, -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    lab = np.where(has_edge, compact[labels], -1)
    leaf = bp.point_leaf()
    live = leaf >= 0
    cell_label[live] = lab[:n_bins][leaf[live]]
    site_label[:] = lab[n_bins:]
    info = {"bins": n_bins, "bin_km": bin_km, "edges": int(len(e_a)),
            "bins_s": t_bins, "seconds": time.perf_counter() - t0}
    logger.info("components: %s from %s cells and %s candidates (%s bins, %s edges) in "
                "%.1f s", f"{len(used):,}", f"{n:,}", f"{m:,}", f"{n_bins:,}",
                f"{len(e_a):,}", info["seconds"])
    return ComponentSplit(cell_label, site_label, int(len(used)), info)


def pack_pieces(split: ComponentSplit, target_cells: int) -> list[npt.NDArray[np.int64]]:
    """Components grouped into pieces of about ``target_cells`` cells (a larger component
    is a piece alone), largest first; each piece is an array of component labels."""
    sizes = split.sizes()
    order = np.argsort(-sizes, kind="stable")
    pieces: list[list[int]] = []
    cur: list[int] = []
    cur_n = 0
    for c in order:
        if sizes[c] >= target_cells:
            pieces.append([int(c)])
            continue
        cur.append(int(c))
        cur_n += int(sizes[c])
        if cur_n >= target_cells:
            pieces.append(cur)
            cur, cur_n = [], 0
    if cur:
        pieces.append(cur)
    return [np.asarray(p, dtype=np.int64) for p in pieces]


#: How long :func:`run_pieces` waits for a first worker of a cluster that has none, s
#: (Dask's own ``scatter`` gives up after 30 s too).
WORKER_WAIT_S = 30.0
#: How often :func:`run_pieces` starts a piece again whose worker left while running it.
PIECE_RETRIES = 2


def wait_for_workers(client: Any, address: str, timeout_s: float | None = None) -> None:
    """Wait up to ``timeout_s`` (default :data:`WORKER_WAIT_S`; at least 0.1 s: Dask waits
    for ever on 0) until the cluster of ``client`` (scheduler ``address``) lists a running
    worker, else raise :class:`InputValidationError` naming the fix."""
    wait_s = WORKER_WAIT_S if timeout_s is None else timeout_s
    try:
        client.wait_for_workers(1, timeout=max(0.1, wait_s))
    except TimeoutError as exc:
        raise InputValidationError(
            f"the Dask scheduler {address} has no worker (waited {WORKER_WAIT_S:g} s). "
            f"Fix: start workers with `dask worker {address}`, or plan with --workers N "
            "(a local cluster) instead of --scheduler") from exc


def run_pieces(client: Any, fn: Callable[..., dict[str, Any]],
               jobs: Sequence[tuple[Sequence[Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """``fn(*args, **kwargs)`` of every job on a Dask cluster, started in the order given
    (largest first), at most one per worker thread at a time; the results in job order.

    Each job's ``args`` are scattered to a worker with a free thread when the job starts
    and the task is submitted to that worker, so a piece's arrays cross the network once.
    With every piece scattered at the start (Dask's default placement) a piece's data
    landed on one worker and its task, when that worker was busy, was stolen by another,
    which fetched the data again: on the 2M-cell world that moved more between the workers
    than the client sent them (``bench/cluster_netns.py``). The free threads are looked up
    again whenever a job ends, so workers that join later are used; consecutive jobs go to
    different workers first (the largest pieces are not stacked on one worker's threads).
    A job whose worker has gone (its data with it), or whose data could not be sent to
    its worker (the worker died while receiving it), is started again elsewhere, at most
    :data:`PIECE_RETRIES` times; a worker that failed to receive a piece gets no other.

    Parameters
    ----------
    client : distributed.Client
        Waits up to :data:`WORKER_WAIT_S` for a first worker when it has none.
    fn : callable
        The task (module level, importable on the workers).
    jobs : sequence of (args, kwargs)
        ``args``: the data of the piece (scattered); ``kwargs``: small options (sent with
        the task).

    Returns
    -------
    list of dict
        ``fn``'s results, in the order of ``jobs``. A task's error is raised here, once the
        other tasks are cancelled.

    Raises
    ------
    InputValidationError
        The cluster has no worker (after the wait).
    ClusterError
        A piece lost its worker more than :data:`PIECE_RETRIES` times.
    """
    from distributed import as_completed

    if not len(jobs):
        return []
    address = client.scheduler.address

    shunned: set[str] = set()  # workers a piece's data could not be sent to

    def threads() -> dict[str, int]:
        return {addr: max(int(w.get("nthreads", 1) or 1), 1)
                for addr, w in client.scheduler_info().get("workers", {}).items()
                if addr not in shunned}

    def wait_for_a_worker() -> dict[str, int]:
        have = threads()
        if have:
            return have
        logger.info("Dask: waiting up to %g s for a worker to join %s", WORKER_WAIT_S, address)
        deadline = time.monotonic() + WORKER_WAIT_S
        while not have:  # (wait_for_workers counts the shunned workers still listed)
            try:
                wait_for_workers(client, address, deadline - time.monotonic())
            except InputValidationError as exc:
                if not any(tries) and not any(r is not None for r in out):
                    raise  # no worker from the start: the cluster given is the problem
                # every worker left mid-solve (tester 188: read exit 2, bad input)
                raise ClusterError(
                    f"Dask: every worker of {address} left while the pieces were solved, "
                    f"and none joined in {WORKER_WAIT_S:g} s. Fix: check the workers' logs "
                    "and memory, restart them, or plan with --workers N (a local "
                    "cluster)") from exc
            have = threads()
            if not have:
                if time.monotonic() >= deadline:
                    raise InputValidationError(
                        f"every worker of the Dask scheduler {address} failed to receive a "
                        f"piece's data, and no other joined in {WORKER_WAIT_S:g} s. Fix: "
                        "check the workers' logs and memory, or plan with --workers N")
                time.sleep(0.1)  # a shunned worker is still listed: look again
        return have

    def lost(i: int, addr: str, what: str, exc: BaseException) -> None:
        """Job ``i``'s worker ``addr`` is gone: start it again, or give up after
        :data:`PIECE_RETRIES` tries."""
        if tries[i] >= PIECE_RETRIES:
            raise ClusterError(
                f"Dask: piece {i} lost its worker {PIECE_RETRIES + 1} times (last {addr}, "
                f"{what}: {type(exc).__name__}: {exc}). Fix: check the workers' logs and "
                "memory (a worker killed for memory takes its piece with it), or plan with "
                "--workers 0 (in this process)") from exc
        tries[i] += 1
        logger.warning("Dask: worker %s left while %s piece %d; starting it again (%d of %d)",
                       addr, what, i, tries[i], PIECE_RETRIES)
        pending.insert(0, i)

    out: list[Any] = [None] * len(jobs)
    busy: dict[str, int] = {}  # running jobs per worker address
    where: dict[str, tuple[int, str]] = {}  # future key -> (job, worker)
    tries = [0] * len(jobs)
    pending = list(range(len(jobs)))  # jobs not started, in order
    live: dict[str, Any] = {}  # future key -> future, until it is released
    running = as_completed(loop=client.loop)  # this client's loop (it need not be the default)

    def start_free() -> None:
        """Start pending jobs on every free thread, one per worker in turn."""
        have = threads()
        while pending:
            free = sorted((busy.get(a, 0) / n, a) for a, n in have.items()
                          if busy.get(a, 0) < n)
            if not free:
                return
            addr = free[0][1]
            i = pending.pop(0)
            args, kwargs = jobs[i]
            try:
                data = client.scatter(list(args), workers=[addr], hash=False)
            except Exception as exc:  # noqa: BLE001 - the worker died (or left) meanwhile
                shunned.add(addr)
                have.pop(addr, None)
                lost(i, addr, "receiving the data of", exc)
                continue
            f = client.submit(fn, *data, **kwargs, workers=[addr], allow_other_workers=True,
                              pure=False, priority=SUBTASK_PRIORITY)
            busy[addr] = busy.get(addr, 0) + 1
            where[f.key] = (i, addr)
            live[f.key] = f
            running.add(f)

    own_error = False  # a task's own exception, raised as it is
    with waiting():  # (a batch scenario's task: its thread goes to the pieces meanwhile)
        try:
            while pending:  # (again when every worker had left with pieces still to start)
                wait_for_a_worker()
                start_free()
                for f in running:
                    i, addr = where.pop(f.key)
                    busy[addr] -= 1
                    try:
                        out[i] = f.result()
                    except Exception as exc:
                        if addr in threads():  # the task's own error, not a lost worker
                            own_error = True
                            raise
                        lost(i, addr, "running", exc)  # its worker (and the data) has gone
                    finally:
                        live.pop(f.key, None)
                        f.release()
                    start_free()
        except BaseException as exc:
            for f in live.values():  # what is still running is not wanted any more
                with contextlib.suppress(Exception):
                    f.cancel()
            if (not own_error and isinstance(exc, (OSError, RuntimeError, TimeoutError))
                    and not isinstance(exc, CoverageError)):
                # the scheduler (or the connection to it) is gone: "ConnectionPool is
                # closed" read as an internal error (tester 188)
                raise ClusterError(
                    f"Dask: lost the scheduler {address} while the pieces were solved "
                    f"({type(exc).__name__}: {exc}). Fix: restart the scheduler and its "
                    "workers and run again, or plan with --workers N (a local "
                    "cluster)") from exc
            raise
    return out


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB: ``VmHWM`` of ``/proc/self/status`` (reset
    at exec, unlike ``getrusage``'s ``ru_maxrss``, which a Dask worker started by fork and
    exec inherits from its parent), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def solve_piece(d_lat: npt.NDArray[np.float64], d_lon: npt.NDArray[np.float64],
                s_lat: npt.NDArray[np.float64], s_lon: npt.NDArray[np.float64],
                row_latency: RowLatency, access: npt.NDArray[Any], *, model: LatencyModel,
                budget_ms: float, percentile: Percentile, failures: int,
                cost: npt.NDArray[np.float64] | None, required: npt.NDArray[np.bool_] | None,
                time_limit_s: float, lazy_options: dict[str, Any] | None = None,
                domain_codes: npt.NDArray[np.int64] | None = None,
                ) -> dict[str, Any]:
    """One piece's cover by row generation (a Dask task): local site indices, objective,
    bound, status, every cell's candidate count, the rounds, the wall time and the peak
    resident memory of the process running it (:func:`peak_rss_mib`)."""
    from .domain_rows import DomainRowsTooLarge

    t = time.perf_counter()
    rss0 = peak_rss_mib()
    kw = dict(model=model, budget_ms=budget_ms, access=access, percentile=percentile,
              failures=failures, cost=cost, required=required, time_limit_s=time_limit_s,
              row_latency=row_latency, **(lazy_options or {}))
    dropped = None
    try:
        res = lazy_cover(d_lat, d_lon, s_lat, s_lon, domain_codes=domain_codes, **kw)
    except DomainRowsTooLarge as exc:  # single sites in this piece (the caller says so)
        dropped = str(exc)
        res = lazy_cover(d_lat, d_lon, s_lat, s_lon, **kw)
    c = res.cover
    return {"sites": c.sites, "objective": c.objective, "lower_bound": c.lower_bound,
            "status": c.status, "n_covering": res.n_covering, "rounds": len(res.rounds),
            "rows_fetched": res.rows_fetched, "pairs_fetched": res.pairs_fetched,
            "count_s": res.count_s, "wall_s": time.perf_counter() - t,
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss0, "pid": os.getpid(), "domains_dropped": dropped}


def solve_capacitated_piece(
        d_lat: npt.NDArray[np.float64], d_lon: npt.NDArray[np.float64],
        s_lat: npt.NDArray[np.float64], s_lon: npt.NDArray[np.float64],
        row_latency: RowLatency, load_rps: npt.NDArray[np.float64],
        cap_rps: npt.NDArray[np.float64], domains: npt.NDArray[np.int64] | None, *,
        model: LatencyModel, budget_ms: float, percentile: Percentile, failures: int,
        cost: npt.NDArray[np.float64] | None, required: npt.NDArray[np.bool_] | None,
        time_limit_s: float, scenario_limit: int = 20_000,
        capacitated_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One piece's capacitated cover by row and cut generation (a Dask task;
    :func:`coverage.solvers.capacitated_rowgen.capacitated_lazy`): as :func:`solve_piece`,
    with the capacity status, whether every scenario was listed (``complete``), the rounds
    and, for a piece short of capacity, its scenarios short (local site indices).

    Exact for the whole problem: a flow never leaves a component (a cell's candidates are
    in its piece), so a plan carries a failure scenario exactly when every piece carries
    its part of it (the failed sites that are its own), and ``domains`` (failure domains
    of the piece's candidates, codes shared with the other pieces) keeps a domain spread
    over pieces one failure in each.
    """
    from .capacitated_rowgen import capacitated_lazy

    t = time.perf_counter()
    rss0 = peak_rss_mib()
    source = RowSource(d_lat, d_lon, s_lat, s_lon, model, float(budget_ms), percentile,
                       row_latency)
    n_cov = source.count()
    count_s = time.perf_counter() - t
    req = np.minimum(int(failures) + 1, n_cov)
    res, info = capacitated_lazy(source, load_rps, cap_rps, req, n_cov, failures=failures,
                                 domains=domains, cost=cost, required=required,
                                 time_limit_s=time_limit_s, count_s=count_s,
                                 scenario_limit=scenario_limit,
                                 **(capacitated_options or {}))
    short = [{"failed": tuple(int(x) for x in f.failed), "load_rps": float(f.load_rps),
              "served_rps": float(f.served_rps), "shed_rps": float(f.shed_rps)}
             for f in res.scenarios if not f.feasible]
    return {"sites": np.asarray(res.sites, dtype=np.int64), "objective": res.objective,
            "lower_bound": res.lower_bound, "status": res.status,
            "complete": bool(res.complete), "n_covering": n_cov,
            "rounds": len(info.rounds), "capacity_rounds": info.rounds,
            "rows_fetched": info.rows_fetched, "pairs_fetched": info.pairs_fetched,
            "count_s": count_s, "short_scenarios": short,
            "wall_s": time.perf_counter() - t, "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": rss0, "pid": os.getpid()}


@dataclass(frozen=True)
class PieceCapacity:
    """The capacity of a capacitated :func:`solve_components` (every array over the whole
    problem; each piece gets its rows and candidates).

    Attributes
    ----------
    load_rps, cap_rps : numpy.ndarray
        Every cell's load and every candidate's capacity, requests/s.
    domains : numpy.ndarray or None
        Every candidate's failure domain (any labels), or each site alone.
    scenario_limit : int
        Failure scenarios each piece's check lists.
    options : dict, optional
        Further :func:`~coverage.solvers.capacitated_rowgen.capacitated_lazy` options.
    """

    load_rps: npt.NDArray[np.float64]
    cap_rps: npt.NDArray[np.float64]
    domains: npt.NDArray[Any] | None = None
    scenario_limit: int = 20_000
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class ComponentsResult:
    """Result of :func:`solve_components`: the combined cover (as row generation returns
    it), the split and one row per piece."""

    lazy: LazyCoverResult
    split: ComponentSplit
    pieces: list[dict[str, Any]]
    info: dict[str, Any]
    piece_cells: list[npt.NDArray[np.int64]] = field(default_factory=list, repr=False)
    """Every piece's demand cells (sorted indices; each piece holds all of its cells'
    candidates)."""
    piece_sites: list[npt.NDArray[np.int64]] = field(default_factory=list, repr=False)
    """Every piece's candidates (sorted indices)."""
    capacity: dict[str, Any] | None = None
    """A capacitated solve's combined capacity status (see :func:`solve_components`)."""


def solve_components(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    site_lat_deg: npt.ArrayLike,
    site_lon_deg: npt.ArrayLike,
    *,
    model: LatencyModel,
    budget_ms: float,
    row_latency: RowLatency,
    access: npt.ArrayLike,
    percentile: Percentile = "p99",
    failures: int = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    time_limit_s: float = 300.0,
    client: Any = None,
    target_cells: int | None = None,
    split: ComponentSplit | None = None,
    lazy_options: dict[str, Any] | None = None,
    capacity: PieceCapacity | None = None,
    domain_codes: npt.ArrayLike | None = None,
    min_piece_s: float = 1.0,
) -> ComponentsResult:
    """Minimum-site ``min(k+1, |N_i|)``-cover by independent components, each solved by
    row generation: in this process (``client`` None) or one Dask task per piece.

    With ``capacity`` the cover is capacitated (every failure scenario carrying the load),
    each piece by row and cut generation (:func:`solve_capacitated_piece`); the result's
    ``capacity`` then says the combined capacity status: ``infeasible`` when a piece
    carries no plan, ``time_limit_short`` when a piece's plan falls short, else as the
    cover's; ``complete`` when every piece listed all of its scenarios; ``short``, the
    scenarios short of capacity of the pieces that are (failed sites as candidate
    indices of the whole problem).

    The combined plan is the union of the pieces' plans (plus required candidates no cell
    reaches), its bound the sum of theirs; ``status`` is ``optimal`` only when every piece
    is. ``target_cells`` (default an eighth of the cells, at least 20,000) sizes the pieces.
    ``domain_codes`` (without ``capacity``): every candidate's failure domain code; each
    piece's cells need their chosen sites in ``min(k + 1, |D_i|)`` domains
    (:func:`coverage.solvers.rowgen.lazy_cover`; a cell's candidates all lie in its
    piece, so the pieces stay independent).
    ``time_limit_s``: in this process the pieces share it (each gets the time left, at
    least ``min_piece_s``; the split counts against it); on a cluster each piece gets all
    of it (they run side by side, so the wall is about the limit times the schedule depth
    when the pieces outnumber the workers).
    """
    t0 = time.perf_counter()
    d_lat = np.asarray(demand_lat_deg, dtype=np.float64)
    d_lon = np.asarray(demand_lon_deg, dtype=np.float64)
    s_lat = np.asarray(site_lat_deg, dtype=np.float64)
    s_lon = np.asarray(site_lon_deg, dtype=np.float64)
    acc = np.asarray(access, dtype=object)
    n, m = len(d_lat), len(s_lat)
    c_all = None if cost is None else np.asarray(cost, dtype=np.float64)
    req_all = required_mask(required, m)
    if split is None:
        split = split_components(d_lat, d_lon, row_latency.radius_km, s_lat, s_lon)
    split_s = time.perf_counter() - t0
    target = (max(n // 8, 20_000) if target_cells is None else max(int(target_cells), 1))
    pieces = pack_pieces(split, target)
    comp_cells = np.argsort(split.cell_label, kind="stable")
    comp_start = np.searchsorted(split.cell_label[comp_cells], np.arange(split.n_components + 1))
    comp_sites = np.argsort(split.site_label, kind="stable")
    site_start = np.searchsorted(split.site_label[comp_sites], np.arange(split.n_components + 1))
    kw: dict[str, Any] = {"model": model, "budget_ms": float(budget_ms),
                          "percentile": percentile, "failures": int(failures),
                          "time_limit_s": float(time_limit_s)}
    if capacity is None:
        task: Callable[..., dict[str, Any]] = solve_piece
        kw["lazy_options"] = lazy_options
    else:
        task = solve_capacitated_piece
        kw.update(scenario_limit=int(capacity.scenario_limit),
                  capacitated_options=capacity.options)
        load_all = np.asarray(capacity.load_rps, dtype=np.float64)
        cap_all = np.asarray(capacity.cap_rps, dtype=np.float64)
        # one code per domain over the whole problem: a domain spread over pieces fails
        # in each of them at once
        dom_all = (None if capacity.domains is None else np.asarray(
            pd.factorize(pd.Series(np.asarray(capacity.domains, dtype=object)))[0],
            dtype=np.int64))
    jobs = []
    for comps in pieces:
        rows = np.sort(np.concatenate([comp_cells[comp_start[c]:comp_start[c + 1]]
                                       for c in comps]))
        cols = np.sort(np.concatenate([comp_sites[site_start[c]:site_start[c + 1]]
                                       for c in comps]))
        args: tuple[Any, ...] = (d_lat[rows], d_lon[rows], s_lat[cols], s_lon[cols],
                                 row_latency.subset(rows))
        args += ((acc[rows],) if capacity is None else
                 (load_all[rows], cap_all[cols], None if dom_all is None else dom_all[cols]))
        opts = dict(kw, cost=None if c_all is None else c_all[cols],
                    required=req_all[cols] if req_all[cols].any() else None)
        if capacity is None and domain_codes is not None:
            opts["domain_codes"] = np.asarray(domain_codes, dtype=np.int64)[cols]
        jobs.append((rows, cols, comps, args, opts))
    t = time.perf_counter()
    if client is None:  # one after the other: each piece gets the time left of the limit
        deadline = t0 + float(time_limit_s)
        outs = [task(*args, **dict(opts, time_limit_s=max(
            deadline - time.perf_counter(), float(min_piece_s))))
                for _, _, _, args, opts in jobs]
    else:
        # largest first: the longest tasks start first
        outs = run_pieces(client, task, [(args, opts) for *_, args, opts in jobs])
    solve_s = time.perf_counter() - t

    n_cov = np.zeros(n, dtype=np.int64)
    chosen = [np.flatnonzero(req_all & (split.site_label < 0))]  # required, reaching no one
    cost_of = np.ones(m) if c_all is None else c_all
    objective = float(cost_of[chosen[0]].sum())
    lower = objective
    table = []
    short: list[dict[str, Any]] = []
    cap_rounds: list[dict[str, Any]] = []
    for (rows, cols, comps, _, _), out in zip(jobs, outs, strict=True):
        n_cov[rows] = out["n_covering"]
        chosen.append(cols[out["sites"]])
        objective += float(out["objective"])
        lower += float(out["lower_bound"])
        row = {"piece": len(table), "components": int(len(comps)),
               "cells": int(len(rows)),
               # (a cell sharing a bin with reaching ones may reach nothing: tester 135)
               "cells_in_budget": int(np.count_nonzero(out["n_covering"])),
               "candidates": int(len(cols)),
               "sites": float(out["objective"]), "lower_bound": float(out["lower_bound"]),
               "status": out["status"], "rounds": out["rounds"],
               "wall_s": out["wall_s"], "peak_rss_mib": out["peak_rss_mib"],
               "pid": out["pid"]}
        if capacity is not None:
            row["scenarios_complete"] = bool(out["complete"])
            cap_rounds += [dict(r, piece=row["piece"]) for r in out["capacity_rounds"]]
            short += [dict(f, piece=row["piece"], failed=tuple(int(x) for x in
                                                                cols[list(f["failed"])]))
                      for f in out["short_scenarios"]]
        table.append(row)
    sites = np.sort(np.concatenate(chosen)).astype(np.int64)
    status = "optimal" if all(p["status"] == "optimal" for p in table) else "time_limit"
    if objective <= lower + 1e-9:
        status = "optimal"
    cap_info = None
    if capacity is not None:
        statuses = {p["status"] for p in table}
        cap_status = ("infeasible" if "infeasible" in statuses else
                      "time_limit_short" if "time_limit_short" in statuses else status)
        cap_info = {"status": cap_status,
                    "complete": all(p["scenarios_complete"] for p in table),
                    "short": short, "rounds": cap_rounds}
        if cap_status != status:
            status = cap_status  # (a nan objective or bound: no gap below)
    if not (np.isfinite(objective) and np.isfinite(lower)) or status == "time_limit_short":
        gap = float("nan")
    else:
        gap = (objective - lower) / objective if objective else 0.0
    cover = CoverResult(sites, objective, min(lower, objective), status, gap,
                        time.perf_counter() - t0,
                        {"components": split.n_components, "pieces": len(table)})
    lazy = LazyCoverResult(cover=cover, n_covering=n_cov, rounds=[],
                           rows_fetched=sum(int(o["rows_fetched"]) for o in outs),
                           pairs_fetched=sum(int(o["pairs_fetched"]) for o in outs),
                           count_s=split_s)
    reaching = (split.cell_label >= 0) & (n_cov > 0)  # not the bin-mates that reach nothing
    sizes = np.bincount(split.cell_label[reaching], minlength=split.n_components)
    info = {"components": split.n_components, "pieces": len(table),
            "largest_component_cells": int(sizes.max(initial=0)),
            "split_s": split_s, "solve_s": solve_s,
            # pieces whose failure domains' rows were above their limit (single sites)
            "domains_dropped": [str(o["domains_dropped"]) for o in outs
                                if o.get("domains_dropped")],
            "workers": (0 if client is None
                        else len(client.scheduler_info().get("workers", {}))),
            # required sites that reach no cell: open, in no piece (the pieces' rows add
            # up to the plan's count and bound less these; tester 188)
            "required_in_no_piece": int(len(chosen[0])),
            "split": split.info}
    bound_text = f"bound {lower:g}" if np.isfinite(lower) else f"no bound ({status})"
    outcome = (f"{objective:g} sites, {bound_text}" if np.isfinite(objective)
               else f"no plan ({status})")
    if len(chosen[0]):
        outcome += f" ({counted(len(chosen[0]), 'required site')} in no piece)"
    logger.info("components: %s (%s) solved in %.1f s: %s",
                counted(len(table), "piece"), counted(split.n_components, "component"),
                solve_s, outcome)
    return ComponentsResult(lazy=lazy, split=split, pieces=table, info=info,
                            piece_cells=[j[0] for j in jobs], piece_sites=[j[1] for j in jobs],
                            capacity=cap_info)
