"""k-median placement of row-generation (national) plans (issue 15 part 1): the objective on
bins, every original cell's requirement kept (re-checked here by an independent haversine +
latency computation), the objective and the bound on the original cells, and agreement with
the full-matrix k-median."""

from __future__ import annotations

import numpy as np
import pytest
from test_capacity import haversine

from coverage.inputs.geonames import geonames_candidates
from coverage.inputs.synthetic import national_grid
from coverage.model.latency import LatencyModel
from coverage.planner.placement import place_national
from coverage.planner.plan import plan_sites
from coverage.planner.stages import min_sites, reach_matrix, row_source


def lazy_problem(demand, sites):
    """The planner's problem of ``demand`` and ``sites`` (30 ms p99, N-1) and its proven
    cover by row generation."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.problem import Problem

    model = LatencyModel()
    config = PlannerConfig(budget_ms=30.0, failures=1, strategy="lazy",
                           time_limit_s=60.0).validate(model.access_profiles_ms)
    problem = Problem.build(as_demand(demand), as_sites(sites), config, model)
    count = min_sites(problem)
    return problem, count.cover.sites, count.n_covering


def instance(seed):
    return national_grid("PT", 20_000, seed=seed), geonames_candidates("PT", 15_000)


def independent(demand, sites, chosen_ids, budget=30.0, k=1):
    """Requirement met, objective (people x p50 ms to the nearest chosen site in budget) and
    the nearest-candidate bound, from distances and the latency model alone."""
    model = LatencyModel()
    d = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                  sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    within = model.p99_ms(d, "ftth") <= budget
    p50 = np.where(within, model.p50_ms(d, "ftth"), np.inf)
    chosen = sites["site_id"].isin(chosen_ids).to_numpy()
    req = np.minimum(k + 1, within.sum(axis=1))
    met = (within[:, chosen].sum(axis=1) >= req).all()
    pop = demand["population"].to_numpy(float)
    best = p50[:, chosen].min(axis=1)
    ok = np.isfinite(best)
    bound = p50.min(axis=1)
    okb = np.isfinite(bound)
    return met, float(pop[ok] @ best[ok]), float(pop[okb] @ bound[okb])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_national_placement_keeps_every_cell_and_matches_the_full_k_median(seed):
    demand, sites = instance(seed)
    lazy = plan_sites(demand, sites, budget_ms=30, failures=1, strategy="lazy",
                      time_limit_s=60, kmedian_time_limit_s=30)
    s = lazy.summary()
    info = s["placement"]
    assert s["solver"]["strategy"] == "lazy"
    assert s["kmedian_status"] in ("local_search", "kept_cover")
    met, obj, bound = independent(demand, sites, lazy.sites["site_id"])
    assert met  # every original cell keeps min(2, |N_i|) chosen sites within budget
    assert info["objective_ms_pop"] == pytest.approx(obj, rel=1e-9)
    assert info["lower_bound_ms_pop"] == pytest.approx(bound, rel=1e-9)
    assert bound <= obj <= info["cover_objective_ms_pop"] * (1 + 1e-12)
    assert info["gap"] == pytest.approx((obj - bound) / obj)
    assert s["kmedian_lower_bound_ms_pop"] == pytest.approx(bound, rel=1e-9)
    # the summary's latency is the same placement's
    assert s["mean_latency_ms"] == pytest.approx(info["mean_p50_ms"], rel=1e-6)
    # against the k-median on the full reach matrix, same count
    # (10 s: the same placement as 30 s on all three seeds, hand run of 2026-12-07; at 30 s
    # seed 0's search took up to 33 s of a loaded suite)
    full = plan_sites(demand, sites, budget_ms=30, failures=1, strategy="full",
                      time_limit_s=60, kmedian_time_limit_s=10)
    assert full.summary()["site_count"] == s["site_count"]
    _, full_obj, _ = independent(demand, sites, full.sites["site_id"])
    assert obj <= full_obj * 1.005


def test_coarse_bins_are_repaired_by_generated_constraints():
    """Bins as wide as the budget radius misplace sites: the first search leaves cells
    short, their rows are added and the search repeated until every cell is kept."""
    demand, sites = instance(1)
    problem, cover, n_cov = lazy_problem(demand, sites)
    radius = float(np.median(problem.rows.radius_km))
    res = place_national(problem, cover, n_cov, source=row_source(problem),
                         bin_reach=reach_matrix, cell_km=radius, time_limit_s=30,
                         max_rounds=10)
    rounds = res.info["rounds"]
    assert rounds[0]["short_cells"] > 0  # the case this test is about
    assert res.status in ("local_search", "kept_cover")
    met, obj, _ = independent(demand, sites, problem.sites["site_id"].to_numpy()[res.sites])
    assert met and obj <= res.info["cover_objective_ms_pop"] * (1 + 1e-12)
    if res.status == "local_search":
        assert rounds[-1]["short_cells"] == 0
    assert len(res.sites) == len(cover)


@pytest.mark.parametrize("seed", [1, 2])
def test_holding_the_newly_tight_cells_converges_in_fewer_rounds(seed):
    """After a round with short cells, holding also the cells its plan keeps at exactly
    their requirement: fewer rounds than holding the short cells alone (coarse bins, where
    the first search leaves hundreds of cells short), every cell kept either way, and no
    worse an objective on the original cells. (Bins of 1.25 radii: with the near-square
    grid of 2026-12-06, bins of exactly one radius happen to converge in 2 rounds either
    way on these seeds; at 0.75 and 1.25 radii, 3 against 2, as seeds 10, 13-15 do.)"""
    demand, sites = instance(seed)
    problem, cover, n_cov = lazy_problem(demand, sites)
    radius = float(np.median(problem.rows.radius_km))
    runs = {}
    for hold_tight in (False, True):
        res = place_national(problem, cover, n_cov, source=row_source(problem),
                             bin_reach=reach_matrix, cell_km=1.25 * radius, time_limit_s=30,
                             max_rounds=10, hold_tight=hold_tight)
        assert res.status == "local_search"
        met, obj, _ = independent(demand, sites,
                                  problem.sites["site_id"].to_numpy()[res.sites])
        assert met
        assert res.info["objective_ms_pop"] == pytest.approx(obj, rel=1e-9)
        runs[hold_tight] = (res.info["rounds"], obj)
    plain, tight = runs[False][0], runs[True][0]
    assert plain[0]["short_cells"] > 0 and tight[0]["tight_cells_held"] > 0
    assert all(r.get("tight_cells_held", 0) == 0 for r in plain)
    assert len(tight) < len(plain)
    assert runs[True][1] <= runs[False][1] * (1 + 1e-9)


def test_one_round_is_not_enough_without_the_check():
    """max_rounds=1 with coarse bins and no repair: the short placement is never returned
    (the cover is kept instead)."""
    demand, sites = instance(1)
    problem, cover, n_cov = lazy_problem(demand, sites)
    radius = float(np.median(problem.rows.radius_km))
    res = place_national(problem, cover, n_cov, source=row_source(problem),
                         bin_reach=reach_matrix, cell_km=radius, time_limit_s=30, max_rounds=1,
                         repair=False)
    assert res.info["rounds"][0]["short_cells"] > 0
    assert res.status == "kept_cover"
    assert set(res.sites) == set(cover)
    assert "repair" not in res.info


@pytest.mark.parametrize("seed", [1, 2])
def test_a_short_placement_is_repaired_towards_the_cover(seed):
    """max_rounds=1 with coarse bins: the search's plan leaves cells short; the repair
    reverts its moves near them until every cell is kept (independent check), with the
    cover's count, an objective no worse than the cover's, and some moves kept."""
    demand, sites = instance(seed)
    problem, cover, n_cov = lazy_problem(demand, sites)
    radius = float(np.median(problem.rows.radius_km))
    res = place_national(problem, cover, n_cov, source=row_source(problem),
                         bin_reach=reach_matrix, cell_km=radius, time_limit_s=30, max_rounds=1)
    assert res.info["rounds"][0]["short_cells"] > 0
    rep = res.info["repair"]
    assert res.status == "local_search"
    assert 1 <= rep["steps"] and 0 < rep["pairs_reverted"] < rep["pairs"]
    ids = problem.sites["site_id"].to_numpy()
    met, obj, _ = independent(demand, sites, ids[res.sites])
    assert met and len(res.sites) == len(cover) == len(set(res.sites))
    assert set(np.flatnonzero(problem.required)) <= set(res.sites)
    assert res.info["objective_ms_pop"] == pytest.approx(obj, rel=1e-9)
    _, cover_obj, _ = independent(demand, sites, ids[cover])
    assert obj < cover_obj
    # the moves kept: as many sites left the cover as came in
    assert len(set(res.sites) - set(cover)) == rep["pairs"] - rep["pairs_reverted"]


@pytest.mark.parametrize("failures, required", [(0, 0), (2, 0), (1, 3)])
def test_national_placement_other_failure_levels_and_required_sites(failures, required):
    demand, sites = instance(4)
    sites = sites.assign(required=False)
    if required:  # the most populous places stay open
        sites.loc[sites.index[:required], "required"] = True
    plan = plan_sites(demand, sites, budget_ms=30, failures=failures, strategy="lazy",
                      time_limit_s=60, kmedian_time_limit_s=30)
    s = plan.summary()
    assert s["kmedian_status"] in ("local_search", "kept_cover")
    met, obj, bound = independent(demand, sites, plan.sites["site_id"], k=failures)
    assert met
    assert s["placement"]["objective_ms_pop"] == pytest.approx(obj, rel=1e-9)
    assert bound <= obj
    if required:
        assert set(sites["site_id"][:required]) <= set(plan.sites["site_id"])


def test_holding_is_bounded_by_pairs_and_every_cell_is_still_kept(monkeypatch):
    """At 50 ms every cell of a national grid was tight with ~690 candidates in budget: the
    placement held 412M pairs (13.8 GB, 169 s) before any search. Holds are now bounded
    (MAX_HOLD_PAIRS; the cells with the fewest candidates first) and every cell is still
    counted after each search: the placement keeps every cell (re-checked independently)."""
    import coverage.planner.placement as placement
    from coverage.planner.placement import _within_pairs

    # the selection: short cells first, then fewest candidates, up to the pairs
    cells = np.array([10, 11, 12, 13, 14])
    n_cov = np.zeros(20, dtype=np.int64)
    n_cov[cells] = [50, 5, 40, 3, 7]
    assert list(_within_pairs(cells, n_cov, max_pairs=1000)) == list(cells)
    assert list(_within_pairs(cells, n_cov, max_pairs=15)) == [13, 11, 14]
    assert list(_within_pairs(cells, n_cov, first=1, max_pairs=60)) == [10, 13, 11]
    assert list(_within_pairs(cells, n_cov, max_pairs=1)) == [13]  # at least one cell

    demand, sites = instance(0)
    problem, cover, n_cov = lazy_problem(demand, sites)
    source = row_source(problem)
    free = place_national(problem, cover, n_cov, source=source, bin_reach=reach_matrix,
                          time_limit_s=30)
    limit = int(np.asarray(n_cov)[np.asarray(n_cov) > 0].sum() // 20)
    monkeypatch.setattr(placement, "MAX_HOLD_PAIRS", limit)
    held_pairs = []

    class Spy:  # the rows the placement asks for, per hold
        def __getattr__(self, name):
            return getattr(source, name)

        def rows(self, *a, **k):
            out = source.rows(*a, **k)
            held_pairs.append(out.nnz)
            return out

    res = place_national(problem, cover, n_cov, source=Spy(), bin_reach=reach_matrix,
                         time_limit_s=30)
    assert free.info["held_cells"] == free.info["tight_cells"]
    assert res.info["held_cells"] < res.info["tight_cells"]
    assert held_pairs and max(held_pairs) <= limit
    met, obj, _ = independent(demand, sites, problem.sites["site_id"].to_numpy()[res.sites])
    assert met and obj <= res.info["cover_objective_ms_pop"] * (1 + 1e-12)
    assert len(res.sites) == len(cover)
