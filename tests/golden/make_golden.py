"""Write the golden plans that tests/test_golden.py compares against.

Run once before a refactoring of the planner (``python tests/golden/make_golden.py``) and
commit the JSON files; the test then checks that the planner still chooses the same sites
with the same counts and latencies. Re-run only when a change of the plans is intended, and
say so in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# The first three were written before the rebuild of issue 11 with the first version's
# latency defaults, which are the ``on-net`` profile since issue 12: they prove that
# ``on-net`` reproduces that model exactly. The last is the calibrated ``internet`` default.
CASES = {
    "west_30ms_n1": {"source": "west", "budget_ms": 30.0, "failures": 1,
                     "latency_model": "on-net"},
    "west_40ms_n2_lld": {"source": "west", "budget_ms": 40.0, "failures": 2, "access": "lld",
                         "latency_model": "on-net"},
    "geonames_pt_30ms_n1": {"source": "geonames", "country": "PT", "budget_ms": 30.0,
                            "failures": 1, "latency_model": "on-net"},
    "geonames_pt_50ms_n1_internet": {"source": "geonames", "country": "PT", "budget_ms": 50.0,
                                     "failures": 1, "latency_model": "internet"},
}


def inputs(case: dict):
    from coverage.inputs.geonames import geonames_candidates, geonames_demand
    from coverage.inputs.tables import read_demand, read_sites

    if case["source"] == "west":
        return (read_demand(ROOT / "data" / "west_demand.csv"),
                read_sites(ROOT / "data" / "west_candidates.csv"))
    return geonames_demand(case["country"], 500), geonames_candidates(case["country"], 20_000)


def fingerprint(plan) -> dict:
    """The figures a refactoring must not change (rounded to 1e-6 ms)."""
    s = plan.summary()
    a = plan.assignment.sort_values("demand_id")
    f = plan.failures.sort_values("failed_site_id")

    def r(values):
        return [None if v != v else round(float(v), 6) for v in values]

    return {
        "site_count": int(s["site_count"]),
        "lower_bound": float(s["lower_bound"]),
        "status": s["status"],
        "sites": sorted(map(str, plan.sites["site_id"])),
        "population_covered": round(float(s["population_covered"]), 3),
        "mean_latency_ms": round(float(s["mean_latency_ms"]), 6),
        "n1_worst_latency_ms": round(float(s["n1_worst_latency_ms"]), 6),
        "demand_id": list(map(str, a["demand_id"])),
        "primary_site_id": [None if v != v else str(v) for v in a["primary_site_id"]],
        "primary_latency_ms": r(a["primary_latency_ms"]),
        "n_covering_sites": [int(v) for v in a["n_covering_sites"]],
        "n1_latency_ms": r(a["n1_latency_ms"]),
        "failures_population_outside_budget": r(f["population_outside_budget"]),
        "failures_worst_latency_ms": r(f["worst_latency_ms"]),
    }


def plan_case(case: dict):
    from coverage.model.latency import LatencyModel
    from coverage.planner.plan import plan_sites

    demand, sites = inputs(case)
    options = {k: v for k, v in case.items()
               if k not in ("source", "country", "latency_model")}
    return plan_sites(demand, sites, kmedian_time_limit_s=600, time_limit_s=600,
                      model=LatencyModel.from_profile(case["latency_model"]), **options)


def main() -> int:
    only = sys.argv[1:]
    for name, case in CASES.items():
        if only and name not in only:
            continue
        doc = {"case": case, "plan": fingerprint(plan_case(case))}
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(name, doc["plan"]["site_count"], "sites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
