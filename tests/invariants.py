"""Independent checks of a plan's guarantees, recomputed from coordinates.

Dense demand x candidate arrays are fine here: the tests only use small instances. Nothing in
this module uses the reach matrix or the optimiser.
"""

from __future__ import annotations

import numpy as np

from coverage.model.geo import haversine_km


def latency_table(plan, which: str = "percentile") -> tuple[np.ndarray, np.ndarray]:
    """Dense (demand x candidate) latency at the plan's percentile (or p50), and distances."""
    d, c = plan.demand, plan.candidates
    pct = plan.percentile if which == "percentile" else "p50"
    fixed = plan.model.fixed_ms_array(d["access"].to_numpy(), pct)
    dist = haversine_km(d["lat"].to_numpy()[:, None], d["lon"].to_numpy()[:, None],
                        c["lat"].to_numpy()[None, :], c["lon"].to_numpy()[None, :])
    return fixed[:, None] + plan.model.ms_per_km * dist, dist


def check_invariants(plan) -> list[str]:
    """Every demand point with |N_i| candidates in budget has min(k+1, |N_i|) chosen in budget,
    and the reported primary/backup/N-1 figures agree with a direct recomputation."""
    problems: list[str] = []
    d, c = plan.demand, plan.candidates
    lat, _ = latency_table(plan)
    in_budget = lat <= plan.budget_ms + 1e-7
    chosen = c["chosen"].to_numpy()
    n_all = in_budget.sum(axis=1)
    n_chosen = in_budget[:, chosen].sum(axis=1)
    need = np.minimum(plan.failures_tolerated + 1, n_all)
    if (n_chosen < need).any():
        problems.append(f"{int((n_chosen < need).sum())} demand points lack required coverage")
    if plan.failures_tolerated >= 1 and ((n_all >= 2) & (n_chosen < 2)).any():
        problems.append("a double-coverable demand point has fewer than 2 chosen sites in budget")
    if (d["n_covering_sites"].to_numpy() != n_all).any():
        problems.append("n_covering_sites differs from a direct recomputation")
    # primary = nearest chosen site in budget
    lat_chosen = np.where(in_budget[:, chosen], lat[:, chosen], np.inf)
    best = lat_chosen.min(axis=1) if chosen.any() else np.full(len(d), np.inf)
    rep = d["primary_latency_ms"].to_numpy(dtype=float)
    has = np.isfinite(best)
    if not np.allclose(rep[has], best[has], atol=1e-3):
        problems.append("primary latency is not the nearest chosen site's latency")
    if np.isfinite(rep[~has]).any():
        problems.append("a demand point without a chosen site in budget has a primary")
    if len(plan.sites) != plan.summary()["site_count"] or int(chosen.sum()) != len(plan.sites):
        problems.append("site_count disagrees with the chosen sites")
    if plan.failures_tolerated >= 1 and plan.summary()["n1_population_outside_budget_redundant"]:
        problems.append("a redundant demand point leaves the budget under a single failure")
    return problems


def naive_n_minus_1(plan) -> dict[str, tuple[float, float, float, int]]:
    """Fail each chosen site, re-route every demand point of it to the nearest surviving chosen
    site (no budget limit), and return {site_id: (pop_rerouted, pop_outside, worst_latency,
    points_outside)}."""
    d, c = plan.demand, plan.candidates
    lat, _ = latency_table(plan)
    chosen_idx = np.flatnonzero(c["chosen"].to_numpy())
    ids = c["site_id"].to_numpy()
    pop = d["population"].to_numpy(dtype=float)
    in_budget = lat <= plan.budget_ms + 1e-7
    lat_c = lat[:, chosen_idx]
    prim_lat = np.where(in_budget[:, chosen_idx], lat_c, np.inf)
    primary = np.where(np.isfinite(prim_lat.min(axis=1)), prim_lat.argmin(axis=1), -1)
    out = {}
    for k, j in enumerate(chosen_idx):
        moved = primary == k
        rest = np.delete(lat_c[moved], k, axis=1)
        new = rest.min(axis=1) if rest.shape[1] else np.full(moved.sum(), np.nan)
        outside = ~(new <= plan.budget_ms + 1e-7)
        out[ids[j]] = (
            float(pop[moved].sum()),
            float(pop[moved][outside].sum()),
            float(np.nanmax(new)) if moved.any() and np.isfinite(new).any() else float("nan"),
            int(outside.sum()),
        )
    return out
