"""Independent components (coverage.solvers.components, issue 15 part 4): the split never
cuts a component, the combined plan equals the monolithic row-generation optimum, and the
pieces run as tasks on a real local Dask cluster."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import EXE, ON_NET
from scipy.sparse.csgraph import connected_components

from coverage.inputs.geonames import geonames_candidates
from coverage.inputs.synthetic import national_grid
from coverage.model.latency import LatencyModel
from coverage.model.problem import RowLatency
from coverage.model.reach import build_reach
from coverage.planner.plan import plan_sites
from coverage.planner.sweep import budget_sweep
from coverage.solvers.components import solve_components, split_components
from coverage.solvers.rowgen import lazy_cover

COUNTRIES = ("DK", "SE", "NO")  # the Oresund: components cross a border
BUDGET = 29.5  # about 66 km at p99 with the default model: about 11 components


def instance(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, RowLatency]:
    grid = national_grid(list(COUNTRIES), 6_000, seed=seed)
    sites = pd.concat([geonames_candidates(c, 15_000).assign(country=c) for c in COUNTRIES],
                      ignore_index=True)
    access = np.array(["ftth"] * len(grid), dtype=object)
    rows = RowLatency.from_model(LatencyModel(), access, BUDGET, "p99", None)
    return grid, sites, access, rows


def exact_components(grid: pd.DataFrame, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Cell and site labels of the bipartite graph of the full reach matrix (-1: no edge)."""
    reach = build_reach(grid["lat"].to_numpy(), grid["lon"].to_numpy(), sites["lat"].to_numpy(),
                        sites["lon"].to_numpy(), model=LatencyModel(), budget_ms=BUDGET,
                        percentile="p99").boolean()
    n, m = reach.shape
    graph = sp.bmat([[None, reach], [reach.T, None]]).tocsr()
    _, lab = connected_components(graph, directed=False)
    has = np.concatenate([np.diff(sp.csr_array(reach).indptr) > 0,
                          np.asarray(reach.sum(axis=0)).ravel() > 0])
    lab = np.where(has, lab, -1)
    return lab[:n], lab[n:]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` label the same groups (and the same unlabelled points)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    pairs = np.unique(np.column_stack([a[a >= 0], b[b >= 0]]), axis=0)
    return (len(pairs) == len(np.unique(a[a >= 0])) == len(np.unique(b[b >= 0])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_exact_and_plan_equals_monolithic(seed: int) -> None:
    grid, sites, access, rows = instance(seed)
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    s_lat, s_lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    split = split_components(lat, lon, rows.radius_km, s_lat, s_lon)
    cells, cands = exact_components(grid, sites)
    assert split.n_components > 1
    # cells with a candidate: the same groups (a cell without one may take its bin's label)
    reach_some = cells >= 0
    assert same_partition(split.cell_label[reach_some], cells[reach_some])
    assert same_partition(split.site_label, cands)

    mono = lazy_cover(lat, lon, s_lat, s_lon, model=LatencyModel(), budget_ms=BUDGET,
                      access=access, time_limit_s=60)
    comp = solve_components(lat, lon, s_lat, s_lon, model=LatencyModel(), budget_ms=BUDGET,
                            row_latency=rows, access=access, time_limit_s=60,
                            target_cells=500)
    assert mono.cover.status == comp.lazy.cover.status == "optimal"
    assert comp.lazy.cover.objective == mono.cover.objective
    assert comp.lazy.cover.lower_bound == mono.cover.objective
    assert len(comp.pieces) > 1
    np.testing.assert_array_equal(comp.lazy.n_covering, mono.n_covering)
    # the combined plan meets every cell's requirement (an independent count)
    have = build_reach(lat, lon, s_lat[comp.lazy.cover.sites], s_lon[comp.lazy.cover.sites],
                       model=LatencyModel(), budget_ms=BUDGET, percentile="p99").n_covering()
    assert np.all(have >= np.minimum(2, mono.n_covering))
    # the largest component counts the cells that reach a candidate (not their bin-mates)
    assert comp.info["largest_component_cells"] == np.bincount(cells[reach_some]).max()


def test_a_split_by_country_is_not_a_proof() -> None:
    """Components cross borders: solving each country's cells separately (with every
    candidate) gives per-country optima whose sum is above the true optimum, so summing
    them as bounds would 'prove' a wrong figure; the component split does not."""
    grid, sites, access, rows = instance(0)
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    s_lat, s_lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    split = split_components(lat, lon, rows.radius_km, s_lat, s_lon)
    # cells of a component are in several countries (nearest place's country per cell)
    nearest = np.argmin((lat[:, None] - s_lat[None]) ** 2 + (lon[:, None] - s_lon[None]) ** 2,
                        axis=1)
    country = sites["country"].to_numpy()[nearest]
    mixed = [c for c in range(split.n_components)
             if len(set(country[split.cell_label == c])) > 1]
    assert mixed
    total = lazy_cover(lat, lon, s_lat, s_lon, model=LatencyModel(), budget_ms=BUDGET,
                       access=access, time_limit_s=60).cover
    per_country = 0.0
    for c in COUNTRIES:
        idx = np.flatnonzero(country == c)
        res = lazy_cover(lat[idx], lon[idx], s_lat, s_lon, model=LatencyModel(),
                         budget_ms=BUDGET, access=access[idx], time_limit_s=60).cover
        assert res.status == "optimal"
        per_country += res.objective
    assert per_country > total.objective  # the shared border sites are counted twice


def test_pieces_on_a_local_dask_cluster() -> None:
    pytest.importorskip("distributed")
    from coverage.batch import dask_client
    from coverage.planner.plan import plan_sites
    from coverage.planner.stages import place_sites

    grid, sites, access, rows = instance(1)
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    s_lat, s_lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    here = solve_components(lat, lon, s_lat, s_lon, model=LatencyModel(), budget_ms=BUDGET,
                            row_latency=rows, access=access, time_limit_s=60, target_cells=500)
    demand = grid[["demand_id", "lat", "lon", "population"]]
    with dask_client(2) as client:
        there = solve_components(lat, lon, s_lat, s_lon, model=LatencyModel(),
                                 budget_ms=BUDGET, row_latency=rows, access=access,
                                 time_limit_s=60, target_cells=500, client=client)
        plan = plan_sites(demand, sites.drop(columns="country"), budget_ms=BUDGET,
                          strategy="lazy", client=client, time_limit_s=60)
        # the placement piece by piece as tasks: the same sites as in this process
        problem, count = components_problem(grid, sites)
        here_placed = place_sites(problem, count, None, time_limit_s=30)
        there_placed = place_sites(problem, count, None, time_limit_s=30, client=client)
        # every piece's data went to the worker that ran it: none fetched from another
        fetched = client.run(lambda dask_worker:
                             dask_worker.state.transfer_incoming_count_total)
    assert sum(fetched.values()) == 0, fetched
    np.testing.assert_array_equal(there_placed.sites, here_placed.sites)
    assert there_placed.info["workers"] == 2
    assert len({p["pid"] for p in there_placed.info["pieces"]}) == 2
    assert there_placed.info["objective_ms_pop"] == pytest.approx(
        here_placed.info["objective_ms_pop"], rel=1e-12)
    assert there.lazy.cover.objective == here.lazy.cover.objective
    assert there.lazy.cover.status == "optimal"
    assert len({p["pid"] for p in there.pieces}) == 2  # both workers solved pieces
    s = plan.summary()
    assert s["solver"]["strategy"] == "components"
    assert s["solver"]["components"]["workers"] == 2
    assert s["site_count"] == here.lazy.cover.objective
    assert s["status"] == "optimal"


def components_problem(grid: pd.DataFrame, sites: pd.DataFrame, failures: int = 1):
    """The planner's problem of the instance (29.5 ms p99) and its count by components in
    pieces of about 500 cells (several pieces)."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.problem import Problem
    from coverage.planner.stages import component_sites

    model = LatencyModel()
    config = PlannerConfig(budget_ms=BUDGET, failures=failures, strategy="components",
                           time_limit_s=60.0).validate(model.access_profiles_ms)
    problem = Problem.build(as_demand(grid[["demand_id", "lat", "lon", "population"]]),
                            as_sites(sites.drop(columns="country")), config, model)
    return problem, component_sites(problem, target_cells=500)


@pytest.mark.parametrize("seed, failures, required", [(0, 1, 0), (2, 1, 4), (1, 0, 0)])
def test_placement_by_pieces_keeps_every_cell(seed: int, failures: int, required: int) -> None:
    """The national placement piece by piece: every piece keeps its own number of sites,
    every cell its requirement, and the summed objective and bound are those of the whole
    grid (recomputed here from haversine distances and the latency model)."""
    from test_national_placement import independent

    from coverage.planner.stages import place_sites

    grid, sites, _, _ = instance(seed)
    sites = sites.assign(required=False)
    sites.loc[sites.index[:required], "required"] = True  # the most populous places
    problem, count = components_problem(grid, sites, failures)
    res = count.components
    assert len(res.piece_cells) > 2
    placed = place_sites(problem, count, None, time_limit_s=30)
    info = placed.info
    assert len(info["pieces"]) == len(res.piece_cells)
    assert placed.status in ("local_search", "kept_cover")
    assert info["pieces_kept_cover"] < len(res.piece_cells)  # some piece did move a site
    chosen = np.asarray(placed.sites)
    assert len(chosen) == len(np.unique(chosen)) == len(count.cover.sites)
    for cols in res.piece_sites:  # each piece's count is the cover's
        assert np.isin(chosen, cols).sum() == np.isin(count.cover.sites, cols).sum()
    ids = problem.sites["site_id"].to_numpy()[chosen]
    met, obj, bound = independent(grid, sites, ids, budget=BUDGET, k=failures)
    assert met
    assert info["objective_ms_pop"] == pytest.approx(obj, rel=1e-9)
    assert info["lower_bound_ms_pop"] == pytest.approx(bound, rel=1e-9)
    _, cover_obj, _ = independent(grid, sites, problem.sites["site_id"].to_numpy()[
        count.cover.sites], budget=BUDGET, k=failures)
    assert info["cover_objective_ms_pop"] == pytest.approx(cover_obj, rel=1e-9)
    assert bound <= obj <= cover_obj * (1 + 1e-12)
    assert placed.objective == pytest.approx(obj, rel=1e-9)
    assert set(sites["site_id"][:required]) <= set(ids)


def _dask_cli(*args: str, cwd, log) -> subprocess.Popen:
    """A ``dask`` command-line process (the scheduler or a worker) of this environment."""
    exe = str(Path(sys.executable).with_name("dask"))
    return subprocess.Popen([exe, *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def test_cli_plan_on_a_separate_scheduler_and_workers(tmp_path) -> None:
    """``edge-coverage plan --scheduler`` against a cluster started as a user starts one:
    ``dask scheduler`` and two ``dask worker`` processes of their own, each in its own
    directory, joined over TCP only (no LocalCluster, nothing shared with the client but the
    installed package): the pieces run on those workers and the plan equals the one solved in
    this process (one piece at this size: the packing's floor is 20,000 cells). The
    placement is skipped (``--kmedian-time-limit-s 0``: the count is what is checked, 8 s
    of this test's 23 s went to placing it); placement on a cluster's workers is tested on
    a local cluster (test_pieces_on_a_local_dask_cluster)."""
    pytest.importorskip("distributed")
    from distributed import Client

    grid, sites, access, rows = instance(2)
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    here = solve_components(lat, lon, sites["lat"].to_numpy(), sites["lon"].to_numpy(),
                            model=LatencyModel(), budget_ms=BUDGET, row_latency=rows,
                            access=access, time_limit_s=60)
    data = tmp_path / "inputs"
    data.mkdir()
    grid[["demand_id", "lat", "lon", "population"]].to_csv(data / "cells.csv", index=False)
    sites.drop(columns="country").to_csv(data / "places.csv", index=False)
    sched_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    log = (tmp_path / "dask.log").open("w")
    try:
        (tmp_path / "s").mkdir()
        procs.append(_dask_cli("scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file),
                               cwd=tmp_path / "s", log=log))
        deadline = time.monotonic() + 120
        address = None
        while address is None and time.monotonic() < deadline:
            assert procs[0].poll() is None, (tmp_path / "dask.log").read_text()
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)  # the scheduler writes its file once it listens
        assert address, "the scheduler did not start"
        for w in ("w1", "w2"):
            (tmp_path / w).mkdir()
            procs.append(_dask_cli("worker", address, "--nworkers", "1", "--nthreads", "1",
                                   "--no-dashboard", "--local-directory", str(tmp_path / w),
                                   cwd=tmp_path / w, log=log))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            worker_pids = set(client.run(os.getpid).values())
        out = tmp_path / "plan"
        r = subprocess.run([EXE, "plan", "--demand", str(data / "cells.csv"),
                            "--candidates", str(data / "places.csv"),
                            "--budget-ms", str(BUDGET), "--strategy", "lazy",
                            "--scheduler", address, "--time-limit-s", "60", "--no-map",
                            "--no-report", "--no-gis", "--kmedian-time-limit-s", "0",
                            "--out", str(out)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    s = json.loads((out / "summary.json").read_text())
    comp = s["solver"]["components"]
    assert s["solver"]["strategy"] == "components" and comp["workers"] == 2
    # every piece ran in one of the outside workers (which of them is the scheduler's choice)
    assert {p["pid"] for p in comp["pieces_table"]} <= worker_pids
    assert comp["components"] == here.split.n_components
    assert s["site_count"] == here.lazy.cover.objective and s["status"] == "optimal"
    # the plan is checked again here: every cell inside the budget with one site failed
    chosen = pd.read_csv(out / "sites.csv")
    reach = build_reach(lat, lon, chosen["lat"].to_numpy(), chosen["lon"].to_numpy(),
                        model=LatencyModel(), budget_ms=BUDGET, percentile="p99").boolean()
    have = np.asarray(sp.csr_array(reach).sum(axis=1)).ravel()
    assert np.all(have >= np.minimum(2, here.lazy.n_covering))


def test_a_cluster_without_workers_is_named_not_waited_on_forever(monkeypatch) -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    import coverage.solvers.components as comp
    from coverage import InputValidationError

    grid, sites, access, rows = instance(1)
    monkeypatch.setattr(comp, "WORKER_WAIT_S", 1.0)
    with LocalCluster(n_workers=0, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        with pytest.raises(InputValidationError, match="has no worker .waited 1 s.*dask worker"):
            solve_components(grid["lat"], grid["lon"], sites["lat"], sites["lon"],
                             model=LatencyModel(), budget_ms=BUDGET, row_latency=rows,
                             access=access, time_limit_s=10, target_cells=500, client=client)


def _nap(seconds: float, fail: bool = False) -> dict:
    """A piece that takes ``seconds`` and says where it ran (a task of run_pieces)."""
    import time as _time

    from distributed import get_worker

    if fail:
        raise ValueError("this piece fails")
    _time.sleep(seconds)
    return {"worker": get_worker().address}


_RELEASE = threading.Event()


def _held(fail: bool) -> None:
    """A piece that fails at once (``fail``) or runs until :data:`_RELEASE` is set (at
    most 120 s): a task of run_pieces on an in-process cluster."""
    if fail:
        raise ValueError("this piece fails")
    _RELEASE.wait(120)


def test_run_pieces_spreads_the_largest_and_uses_workers_that_join_later() -> None:
    pytest.importorskip("distributed")
    import threading

    from distributed import Client, LocalCluster

    from coverage.solvers.components import run_pieces

    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        out = run_pieces(client, _nap, [((0.2,), {}) for _ in range(4)])
        # the two largest pieces (the first two) on different workers, not one's two threads
        assert out[0]["worker"] != out[1]["worker"]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        got: dict = {}
        th = threading.Thread(target=lambda: got.update(
            out=run_pieces(client, _nap, [((2.0,), {}) for _ in range(6)])))
        th.start()
        cluster.scale(2)  # a worker that joins after the pieces started
        client.wait_for_workers(2, timeout=60)
        th.join(timeout=300)
        assert len({o["worker"] for o in got["out"]}) == 2


def test_run_pieces_stops_the_others_when_a_piece_fails() -> None:
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from coverage.solvers.components import run_pieces

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        try:
            with pytest.raises(ValueError, match="this piece fails") as raised:
                run_pieces(client, _held, [((True,), {}), ((False,), {})])
            # (``raised`` keeps the traceback, and with it run_pieces' futures, alive)

            def tasks(dask_scheduler) -> int:
                return len(dask_scheduler.tasks)

            deadline = time.monotonic() + 60  # the long piece is cancelled, not left running
            while client.run_on_scheduler(tasks) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.run_on_scheduler(tasks) == 0 and raised.value
        finally:
            # a running thread cannot be stopped: the held piece ends once the test has
            # seen it cancelled (it slept 15 s, which the cluster's close waited for)
            _RELEASE.set()


def test_run_pieces_starts_a_piece_again_when_its_worker_leaves() -> None:
    pytest.importorskip("distributed")
    import threading

    from distributed import Client, LocalCluster

    from coverage.solvers.components import run_pieces

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        got: dict = {}

        def run() -> None:
            try:
                got["out"] = run_pieces(client, _nap, [((3.0,), {})])
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                got["error"] = exc

        th = threading.Thread(target=run)
        th.start()
        deadline = time.monotonic() + 60
        busy: list = []
        while not busy and time.monotonic() < deadline:
            busy = [a for a, keys in client.processing().items() if keys]
            time.sleep(0.05)
        assert busy, "the piece never started"
        name = next(n for n, w in cluster.workers.items() if w.address == busy[0])
        cluster.sync(cluster.workers[name].close)  # it leaves mid-piece, its data with it
        th.join(timeout=120)
        assert "error" not in got, got.get("error")
        assert got["out"][0]["worker"] != busy[0]  # it ran again on the other worker


@contextlib.contextmanager
def _closing(cluster):
    """``cluster``, closed on exit by :func:`coverage.batch.close_cluster`."""
    from coverage.batch import close_cluster

    try:
        yield cluster
    finally:
        close_cluster(cluster)


def _dies_on_receiving_data(worker) -> None:
    """Make an in-process worker close itself when data is sent to it (a worker that dies
    while a piece is scattered to it): its ``update_data`` handler closes the worker."""
    async def update_data(*args, **kwargs):
        await worker.close(reason="dies on receiving data (test)")
        raise OSError("the worker died while receiving data")

    worker.handlers["update_data"] = update_data


def test_run_pieces_starts_a_piece_again_when_its_worker_dies_receiving_the_data(
        monkeypatch) -> None:
    """A worker that dies while a piece's data is scattered to it: the piece runs on
    another worker (the scatter was outside the retry: an internal error); with every
    worker dying so, the run says so instead of waiting for ever."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    import coverage.solvers.components as comp
    from coverage.solvers.components import run_pieces

    # a cluster whose workers close themselves may hit distributed's status-watch race
    # when it closes (KeyError): close_cluster is what dask_client closes clusters with
    with _closing(LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                               dashboard_address=":0")) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        workers = sorted(cluster.workers.values(), key=lambda w: w.address)
        first = workers[0].address  # run_pieces' first choice (the free one first by name)
        _dies_on_receiving_data(workers[0])
        out = run_pieces(client, _nap, [((0.0,), {}), ((0.0,), {})])
        assert {o["worker"] for o in out} == {workers[1].address} != {first}
    with _closing(LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                               dashboard_address=":0")) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        for w in cluster.workers.values():
            _dies_on_receiving_data(w)
        monkeypatch.setattr(comp, "WORKER_WAIT_S", 1.0)
        # (every worker gone once a piece was started: the cluster was lost, exit 4)
        with pytest.raises((comp.ClusterError, comp.InputValidationError),
                           match="lost its worker|has no worker|failed to receive"
                                 "|left while the pieces were solved"):
            run_pieces(client, _nap, [((0.0,), {})])



def test_close_cluster_finishes_a_close_its_status_watch_broke() -> None:
    """distributed's worker-status watch raised KeyError for a worker removed twice while
    a cluster whose workers had closed themselves was closing (a flaky failure of the test
    above, and an internal error after a computed plan): ``close_cluster`` finishes the
    close. The watch's failure is made with a real cluster: its watch task replaced by one
    that fails as distributed's did (``cluster.close()`` then raises KeyError)."""
    pytest.importorskip("distributed")
    import asyncio

    from distributed import LocalCluster
    from distributed.core import Status

    from coverage.batch import close_cluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           dashboard_address=":0")

    async def broken_watch():
        raise KeyError("inproc://a-worker-removed-twice")

    async def replace_watch():
        cluster._watch_worker_status_task = asyncio.ensure_future(broken_watch())
        await asyncio.sleep(0)

    cluster.sync(replace_watch)
    close_cluster(cluster)
    assert cluster.status == Status.closed
    assert cluster.scheduler.status == Status.closed


@pytest.mark.parametrize("domain_radius_km", [None, 40.0])
def test_the_sweep_counts_by_components_as_the_plan_does(domain_radius_km) -> None:
    """A plan counted by components has its sweep's wide budgets counted by components too
    (one piece's rows held at a time): the same optima as row generation over the whole
    demand, with failure domains too, labelled ``components``."""
    grid, sites, _, _ = instance(1)
    demand = grid.assign(demand_id=np.arange(len(grid)))
    sites = sites.assign(site_id=np.arange(len(sites)))
    # 35,311 and 63,348 pairs: both counted without the reach matrix, and the domains'
    # rows (bounded by the same figure) still fit
    budgets, most = (29.0, BUDGET), 20_000
    kw = dict(budgets_ms=budgets, failures=(0, 1), time_limit_s=60, max_full_pairs=most,
              domain_radius_km=domain_radius_km)
    lazy = budget_sweep(demand, sites, **kw)
    said: list[str] = []
    comp = budget_sweep(demand, sites, strategy="components", target_cells=500,
                        progress=said.append, **kw)
    # each budget in several pieces (the progress line names them)
    assert sum(" in " in x and " pieces, " in x for x in said) == 4, said
    assert (lazy["status"] == "optimal").all() and (comp["status"] == "optimal").all()
    assert set(lazy["method"]) == {"lazy"} and set(comp["method"]) == {"components"}
    assert comp["site_count"].tolist() == lazy["site_count"].tolist()
    assert comp["population_short"].tolist() == lazy["population_short"].tolist()
    assert comp["n_pairs_in_reach"].tolist() == lazy["n_pairs_in_reach"].tolist()

    plan = plan_sites(demand, sites, budget_ms=BUDGET, strategy="components",
                      domain_radius_km=domain_radius_km, time_limit_s=60,
                      kmedian_time_limit_s=5)
    table = plan.with_sweep((29.0,), time_limit_s=60,
                            max_full_pairs=most).sweep.set_index("budget_ms")
    assert table["source"].tolist() == ["sweep", "plan"]
    assert (table["method"] == "components").all()
    ones = lazy[lazy["failures"] == 1].set_index("budget_ms")["site_count"]
    assert table["site_count"].tolist() == ones.tolist()


def test_a_plan_by_components_starts_its_background_sweep_by_components(monkeypatch):
    """The sweep in a second process gets the plan's strategy (a spy on the real
    BackgroundSweep records its arguments)."""
    import coverage.planner.background as background

    seen: list[dict] = []

    class Spy(background.BackgroundSweep):
        def __init__(self, kwargs, **kw):
            seen.append(kwargs)
            super().__init__(kwargs, **kw)

    monkeypatch.setattr(background, "BackgroundSweep", Spy)
    grid, sites, _, _ = instance(2)
    plan = plan_sites(grid, sites, budget_ms=BUDGET, strategy="components", time_limit_s=60,
                      kmedian_time_limit_s=5,
                      sweep={"budgets_ms": (29.0,), "time_limit_s": 30.0, "process": "always"})
    assert [(x["strategy"], x["own"]) for x in seen] == [("components", (BUDGET, 1))]
    assert plan.info["sweep"]["process"] == "background"
    assert plan.sweep["budget_ms"].tolist() == [29.0, BUDGET]


def test_a_sweep_by_components_of_routed_rows_is_row_generation(sample_inputs, caplog) -> None:
    """Rows that are not great-circle radii (a tier that changes the latency) cannot be
    split: the sweep counts them by row generation over the whole demand, and says so."""
    demand, sites = sample_inputs
    sites = sites.assign(tier=np.where(np.arange(len(sites)) % 2, "on-prem", "metro-colo"))
    kw = dict(budgets_ms=(25.0, 40.0), failures=(1,), time_limit_s=30, max_full_pairs=0,
              model=ON_NET)
    with caplog.at_level(logging.INFO, logger="coverage.planner.sweep"):
        comp = budget_sweep(demand, sites, strategy="components", **kw)
    lazy = budget_sweep(demand, sites, **kw)
    assert set(comp["method"]) == {"lazy"}
    assert comp["site_count"].tolist() == lazy["site_count"].tolist()
    assert "not split by components" in caplog.text



def test_required_sites_in_no_piece_are_counted() -> None:
    """Tester 188: required sites that reach no cell are open but in no piece, and the
    pieces' table summed to 57 of the plan's 60 sites. ``required_in_no_piece`` names the
    difference: the pieces plus it give the plan's count (and, all pieces optimal, its
    bound)."""
    from coverage import plan_sites

    demand = pd.DataFrame({"demand_id": ["a", "b", "c"], "lat": [50.0, 50.1, 48.0],
                           "lon": [8.0, 8.1, 2.0], "population": [1000.0, 2000.0, 500.0]})
    sites = pd.DataFrame({"site_id": ["s1", "s2", "p1", "p2", "sea1", "sea2"],
                          "lat": [50.0, 50.1, 48.0, 48.01, 40.0, -60.0],
                          "lon": [8.0, 8.1, 2.0, 2.01, -30.0, 0.0],
                          "required": [False, False, False, False, True, True]})
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, strategy="components",
                      kmedian_time_limit_s=2)
    s = plan.summary()
    comp = s["solver"]["components"]
    assert comp["required_in_no_piece"] == 2
    pieces = comp["pieces_table"]
    assert sum(int(p["sites"]) for p in pieces) + 2 == s["site_count"] == 6
    assert {"sea1", "sea2"} <= set(plan.sites["site_id"])
