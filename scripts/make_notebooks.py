"""Write the analyst notebooks in ``notebooks/`` (kept as code so they diff cleanly).

Usage: ``python scripts/make_notebooks.py``; the notebooks are committed unexecuted and run in
``make test`` (tests/test_notebooks.py).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

PLAN_AND_GAPS = [
    new_markdown_cell(
        "# Planning edge sites for a country, and reading its coverage gaps\n\n"
        "This notebook plans N-1-safe edge-inference micro-sites for **Spain** from the "
        "embedded GeoNames data (CC BY 4.0): every populated place with at least 500 people is "
        "demand, every place with at least 100,000 people is a candidate site (a stand-in for "
        "metro colocation). The budget is **25 ms p99** end to end with fibre-to-the-home "
        "access and the default vision workload, so each user must have two sites within "
        "about 250 km."
    ),
    new_code_cell(
        "import coverage\n"
        "from coverage.datasets import geonames_candidates, geonames_demand\n\n"
        "demand = geonames_demand('ES')\n"
        "sites = geonames_candidates('ES', min_population=100_000)\n"
        "len(demand), int(demand.population.sum()), len(sites)"
    ),
    new_markdown_cell(
        "## The latency model\n\nThe budget turns into a radius: access + proxy + inference "
        "take a fixed share of the budget, and the rest buys fibre distance."
    ),
    new_code_cell(
        "model = coverage.LatencyModel()\n"
        "print('p99 at 0 km:', round(model.p99_ms(0.0, 'ftth'), 1), 'ms')\n"
        "print('radius at 25 ms:', round(model.radius_km(25.0, 'ftth')), 'km')\n"
        "print('radius at 30 ms:', round(model.radius_km(30.0, 'ftth')), 'km')"
    ),
    new_markdown_cell("## Plan\n\nFewest sites with two in budget for everyone who can have two "
                      "(exact MILP with HiGHS), then the k-median stage places them to minimise "
                      "population-weighted latency, then every single-site failure is checked."),
    new_code_cell(
        "plan = coverage.plan_sites(demand, sites, budget_ms=25.0, failures=1)\n"
        "s = plan.summary()\n"
        "{k: s[k] for k in ['site_count', 'status', 'lower_bound', 'mip_gap', 'max_radius_km',\n"
        "                   'population_total', 'population_single_coverable',\n"
        "                   'population_uncoverable', 'mean_latency_ms', 'n1_worst_latency_ms',\n"
        "                   'n1_population_outside_budget']}"
    ),
    new_code_cell(
        "assert s['status'] == 'optimal' and s['lower_bound'] == s['site_count']\n"
        "plan.sites[['name', 'population_primary', 'population_backup',\n"
        "            'population_outside_budget_if_failed']].sort_values(\n"
        "    'population_primary', ascending=False).head(10)"
    ),
    new_markdown_cell(
        "## Coverage gaps\n\n`plan.gaps` lists the demand that is not N-1 safe: *single* "
        "points have exactly one candidate within budget (it is forced open, but its failure "
        "leaves them out), *uncoverable* points have none. These are where a new candidate "
        "site would help."
    ),
    new_code_cell(
        "gaps = plan.gaps\n"
        "gaps.groupby('coverage_status').agg(places=('demand_id', 'size'),\n"
        "                                    population=('population', 'sum'))"
    ),
    new_code_cell(
        "gaps.sort_values('population', ascending=False)[\n"
        "    ['name', 'population', 'coverage_status', 'primary_site_id', 'n1_latency_ms']\n"
        "].head(10)"
    ),
    new_markdown_cell(
        "## Which failure hurts most?\n\n`plan.failures` has one row per chosen site: who is "
        "re-routed when it fails, and who then falls outside the budget. Only users without a "
        "second site in budget (the gaps above) can fall outside."
    ),
    new_code_cell(
        "f = plan.failures.sort_values('population_outside_budget', ascending=False)\n"
        "assert (f['population_outside_budget_redundant'] == 0).all()\n"
        "f.head(5)"
    ),
    new_markdown_cell("## What a looser budget buys\n\nAt 30 ms the radius grows to about "
                      "590 km and far fewer sites suffice."),
    new_code_cell(
        "loose = coverage.plan_sites(demand, sites, budget_ms=30.0, kmedian_time_limit_s=10)\n"
        "print(plan.summary()['site_count'], 'sites at 25 ms ->',\n"
        "      loose.summary()['site_count'], 'sites at 30 ms')"
    ),
    new_markdown_cell("## The map\n\nLayers: demand coloured by latency, chosen sites, budget "
                      "radius, users that lose budget under N-1, single-coverable and "
                      "uncoverable demand. It works offline (Leaflet is inlined)."),
    new_code_cell("m = plan.explore(tiles=None)\nm"),
]


def main() -> None:
    nb = new_notebook(cells=PLAN_AND_GAPS)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    out = ROOT / "notebooks" / "01_plan_and_gaps.ipynb"
    nbformat.write(nb, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
