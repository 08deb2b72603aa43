"""One rule for "within the radius" (tester 172): a point exactly at its budget radius is
covered by the reach matrix, by row generation and by the assignment alike."""

import numpy as np
import pandas as pd
import pytest

from coverage import plan_sites
from coverage.model.geo import haversine_km
from coverage.model.latency import LatencyModel


@pytest.mark.parametrize("strategy", ["full", "lazy"])
def test_a_point_at_the_radius_is_covered_by_every_count_and_served(strategy):
    """Points from 500 m inside to 500 m beyond an FTTH 30 ms radius north of one site
    (one of them at the radius to 1e-10 degrees): the counts, the statuses and the
    assignment agree point by point, and beyond the radius (by more than a micrometre)
    nothing is covered."""
    model = LatencyModel()
    radius = model.radius_km(30.0, "ftth", "p99")
    km_per_deg = haversine_km(0.0, 20.0, 1.0, 20.0)
    at = 10.0 + radius / km_per_deg
    offsets_km = np.array([-0.5, -1e-3, -1e-5, 0.0, 1e-5, 1e-3, 0.5])
    # and the tester's point at the radius (its chord a hair beyond the radius's)
    lats = np.r_[at + offsets_km / km_per_deg, 10.794282817780]
    demand = pd.DataFrame({"demand_id": [f"p{i}" for i in range(len(lats))],
                           "lat": lats, "lon": 20.0, "population": 1000.0})
    sites = pd.DataFrame({"site_id": ["s"], "lat": [10.0], "lon": [20.0]})
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=0, model=model,
                      strategy=strategy, kmedian_time_limit_s=2, sweep=False)
    a = plan.assignment.set_index("demand_id").reindex(demand["demand_id"])
    d = haversine_km(demand["lat"].to_numpy(), 20.0, 10.0, 20.0)
    covered = a["n_covering_sites"].to_numpy() == 1
    served = a["primary_site_id"].notna().to_numpy()
    assert (covered == served).all()
    assert ((a["coverage_status"] == "redundant").to_numpy() == covered).all()
    assert covered[d <= radius - 1e-6].all() and not covered[d > radius + 1e-6].any()
    assert plan.summary()["population_covered"] == pytest.approx(1000.0 * covered.sum())
