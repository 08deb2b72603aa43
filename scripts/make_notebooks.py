"""Write the analyst notebooks in ``notebooks/`` (kept as code so they diff cleanly).

Usage: ``.venv/bin/python scripts/make_notebooks.py``. The notebooks are committed without
outputs and executed in ``make test`` by ``tests/test_notebooks.py``, which also checks that
the committed files are exactly what this script writes and recomputes the key figures the
notebooks print. The settings of each notebook (country, candidate threshold, budget, failure
level) are the constants below; the test imports them.

The notebooks use the default latency model (the ``internet`` profile, fitted to measured
round trips: 28.0 ms p99 at distance 0 with FTTH, so a 25 ms budget is infeasible and 30 ms
leaves an 88 km radius); the budgets below are chosen for it (docs/latency-model.md).

- ``01_plan_a_country.ipynb``: plan Spain from the embedded GeoNames data and read the map.
- ``02_gaps_and_proposed_sites.ipynb``: Norway at a tight budget: uncoverable and
  single-coverable demand, and the new sites that would close the gaps.
- ``03_budget_and_failure_sweep.ipynb``: Portugal, budgets x failure levels, the trade-off plot.
- ``04_edge_or_region.ipynb``: Germany at 30, 50 and 100 ms: the edge fleet against the
  public-cloud regions (``coverage.compare``), costs, warnings and what-ifs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

# Settings of each notebook; tests/test_notebooks.py recomputes the printed figures from these.
PLAN = {"country": "ES", "name": "Spain", "candidate_min_population": 100_000,
        "budget_ms": 40.0, "failures": 1, "out": "out/es"}
GAPS = {"country": "NO", "name": "Norway", "candidate_min_population": 50_000,
        "budget_ms": 35.0, "failures": 1}
SWEEP = {"country": "PT", "name": "Portugal", "candidate_min_population": 20_000,
         "budgets_ms": [29, 30, 31, 32, 33, 34, 35, 36, 38, 40, 45, 50, 55, 60, 65, 70, 80, 90,
                        100],
         "failures": [0, 1, 2], "time_limit_s": 20.0, "kmedian_time_limit_s": 0,
         "csv": "out/pt-sweep.csv"}
EDGE_OR_REGION = {"country": "DE", "name": "Germany", "demand_min_population": 500,
                  "candidate_min_population": 50_000, "budgets_ms": [30.0, 50.0, 100.0],
                  "failures": 1, "decision_budget_ms": 30.0, "what_if_budget_ms": 30.0,
                  "sites_budget_ms": 50.0,
                  "thin_requests_per_person_day": 5.0, "kmedian_time_limit_s": 0,
                  "sweep_budgets_ms": [30, 31, 32, 33, 34, 35, 37, 40, 45, 50, 60, 70, 80,
                                       100],
                  "csv": "out/de-edge-or-region.csv"}

HEADLINE_TAG = "headline"  # cells whose printed output the test parses


def _md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(dedent(text).strip())


def _code(text: str, *tags: str) -> nbformat.NotebookNode:
    cell = new_code_cell(dedent(text).strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _csv_suffix(p: dict) -> str:
    """What follows ``out/<country>-`` in a notebook's CSV name (``p['csv']``, which the
    test reads: the code names the file for ``COUNTRY``, the same for the defaults)."""
    prefix = f"out/{p['country'].lower()}-"
    assert p["csv"].startswith(prefix), p["csv"]
    return p["csv"][len(prefix):]


def _cli(p: dict) -> str:
    return (f"edge-coverage plan --demo --country {p['country']} "
            f"--demo-site-min-population {p['candidate_min_population']} \\\n"
            f"            --budget-ms {p['budget_ms']:g} --failures {p['failures']} "
            f"--out {p['out']}")


def plan_a_country() -> list[nbformat.NotebookNode]:
    p = PLAN
    return [
        _md(f"""
        # Plan a country with N-1 geo-redundancy (defaults: {p['name']} at {p['budget_ms']:g} ms)

        An edge-inference service puts small GPU sites close to its users because the
        request has a **latency budget**: here {p['budget_ms']:g} ms at the 99th percentile,
        end to end (access network, the path across the internet, proxy and the inference
        itself). Each micro-site is small and unstaffed, so resilience comes from the fleet:
        with **N-1 geo-redundancy** every user must have *two* sites within budget, so that
        when any one site fails its users are re-routed to another one and still meet the
        budget.

        This notebook asks: what is the fewest number of sites that does this for
        {p['name']}, where should they go, and what does a failure do? It uses the data
        embedded in the package: every GeoNames populated place with at least 500 people is
        demand (its population at its point), every place with at least
        {p['candidate_min_population']:,} people is a candidate site, a stand-in for metro
        colocation (GeoNames, CC BY 4.0).
        """),
        _code(f"""
        import coverage
        from coverage.inputs.geonames import geonames_candidates, geonames_demand
        from coverage.inputs.tables import as_demand, as_sites

        # the parameters: every cell below reads them (the text around the figures
        # describes what they give with these defaults)
        COUNTRY, NAME = {p['country']!r}, {p['name']!r}
        BUDGET_MS = {p['budget_ms']!r}  # p99, FTTH
        FAILURES = {p['failures']!r}  # site failures the plan survives (N-k)
        CANDIDATE_MIN_POPULATION = {p['candidate_min_population']:_}
        OUT = f'out/{{COUNTRY.lower()}}'  # the plan directory

        # validated once, here: the plans below take them as they are, and a warning
        # about them (co-located candidates, say) is said once, not once per plan
        demand = as_demand(geonames_demand(COUNTRY), source=f'{{COUNTRY}} demand')
        sites = as_sites(geonames_candidates(COUNTRY, min_population=CANDIDATE_MIN_POPULATION),
                         source=f'{{COUNTRY}} candidates')
        print(f'{{len(demand):,}} demand points, {{demand.population.sum():,.0f}} people, '
              f'{{len(sites)}} candidate sites')
        """),
        _md("""
        ## From a latency budget to a radius

        Access, proxy, inference and the network's fixed overhead take a share of the budget
        even when the site is next door; what is left buys distance (round trip, with a route
        factor for real paths being longer than the great circle). So the budget becomes a
        radius around each user, and a site "covers" a user when it is within that radius.

        The default latency model is the `internet` profile, fitted to measured round trips
        between cities: routes 2.28 times the great circle plus a fixed overhead of 6.4 ms
        (peering, exchange points, end hosts), whose tail adds to the others'. It spends
        28 ms of a p99 budget before the first kilometre, so a 25 ms budget cannot be met
        at all, and each further millisecond buys about 45 km. An operator whose sites sit
        on its own fibre can plan with the physics-only `on-net` profile instead
        (`coverage.LatencyModel.from_profile('on-net')`, or `--latency-model on-net`),
        which reaches much farther for the same budget.
        """),
        _code("""
        model = coverage.LatencyModel()
        print(f"latency model: {model.profile}; "
              f"p99 at distance 0 with FTTH: {model.p99_ms(0.0, 'ftth'):.1f} ms")
        for budget in sorted({30.0, BUDGET_MS, 50.0}):
            try:
                radius = f"{model.radius_km(budget, 'ftth'):,.0f} km"
            except coverage.InfeasibleBudgetError:
                radius = 'none: below the fixed share'
            print(f'budget {budget:g} ms p99 -> radius {radius}')
        on_net = coverage.LatencyModel.from_profile('on-net')
        print(f"on-net: {on_net.p99_ms(0.0, 'ftth'):.1f} ms at distance 0, radius at "
              f"{BUDGET_MS:g} ms: {on_net.radius_km(BUDGET_MS, 'ftth'):,.0f} km")
        """),
        _md("""
        ## The plan

        `plan_sites` finds the fewest sites such that every user has two of them within
        budget (an exact set-multicover MILP solved with HiGHS, which also proves a lower
        bound), then places that many sites to minimise the population-weighted latency to
        each user's primary site, and finally fails every chosen site in turn to check N-1.
        When the status is `optimal` and the lower bound equals the site count, no plan
        with fewer sites exists for these candidates.
        """),
        _code("""
        plan = coverage.plan_sites(demand, sites, budget_ms=BUDGET_MS, failures=FAILURES)
        s = plan.summary()
        print(f"{NAME} at {BUDGET_MS:g} ms p99, N-{FAILURES}: "
              f"{s['site_count']} sites ({s['status']}, lower bound {s['lower_bound']:.0f})")
        print(f"mean primary latency (p50, population-weighted): {s['mean_latency_ms']:.1f} ms")
        print(f"budget radius: {s['max_radius_km']:,.0f} km")
        """, HEADLINE_TAG),
        _md("""
        ## Who is protected

        Every demand point falls in one of three classes, by how many candidate sites lie
        within its budget: **redundant** (two or more: the plan keeps it inside the budget
        under any single failure), **single-coverable** (exactly one: that site is opened,
        but its failure leaves these users outside the budget whatever we do) and
        **uncoverable** (none: no candidate meets the budget even with every site open).
        """),
        _code("""
        total = s['population_total']
        classes = [(f'redundant ({FAILURES + 1}+ in budget)', 'population_redundant')]
        if FAILURES >= 2:  # 2 to FAILURES candidates: kept through some failures, not all
            classes.append((f'partial (2-{FAILURES} in budget)', 'population_partial'))
        if FAILURES >= 1:
            classes.append(('single-coverable', 'population_single_coverable'))
        classes.append(('uncoverable', 'population_uncoverable'))
        for label, key in classes:
            print(f'{label:>26}: {s[key]:>12,.0f} people ({s[key] / total:.2%})')
        """),
        _md("""
        ## The sites and what each one carries

        `plan.sites` lists the chosen sites with the population they serve as primary and as
        backup, and what happens if each one fails. They are not simply the largest cities:
        among plans with the minimum count, the k-median stage looks for the lowest
        population-weighted latency (by local search, and at wide budgets by the LP
        bound whose last solution may replace the search's plan; the summary gives its
        gap to a lower bound), so a central town can beat a big city on the coast. Look
        for the Canary Islands too: 1,100-1,300 km from the mainland coast, far beyond the
        budget radius, they need a pair of sites of their own.
        """),
        _code("""
        plan.sites[['name', 'population_primary', 'n_demand_primary', 'population_backup',
                    'worst_latency_if_failed_ms', 'population_outside_budget_if_failed']
                   ].sort_values('population_primary', ascending=False).head(10)
        """),
        _md("""
        ## Failing each site in turn (the N-1 check)

        `plan.failures` has one row per chosen site: how many users are re-routed, the worst
        latency they then see, and how many of them fall outside the budget. Users with two
        sites in budget must never fall outside it: that is what the plan guarantees, and
        the check confirms it independently of the solver.
        """),
        _code("""
        f = plan.failures.merge(plan.sites[['site_id', 'name']],
                                left_on='failed_site_id', right_on='site_id')
        if FAILURES >= 1:  # (an N-0 plan promises no backup)
            assert (f['population_outside_budget_redundant'] == 0).all()
        worst = s['n1_worst_latency_ms']
        print('worst latency after any single failure: '
              + (f'{worst:.1f} ms' if worst == worst else 'none (no user has a second site)'))
        print(f"most people outside budget after one failure: "
              f"{s['n1_population_outside_budget']:,.0f}")
        f.sort_values('population_rerouted', ascending=False)[
            ['name', 'population_rerouted', 'mean_rerouted_latency_ms', 'worst_latency_ms',
             'population_outside_budget', 'meets_budget']]
        """),
        _md(f"""
        ## What N-1 costs

        Without geo-redundancy one site in budget per user would do. The difference is the
        price of surviving a site failure without breaking the {p['budget_ms']:g} ms promise.
        """),
        _code("""
        if FAILURES == 0:
            print(f"N-0: {s['site_count']} sites (this plan survives no failure: nothing "
                  "to compare)")
        else:
            # the count only: kmedian_time_limit_s=0 skips the placement, which the
            # count does not depend on
            n0 = coverage.plan_sites(demand, sites, budget_ms=BUDGET_MS, failures=0,
                                     kmedian_time_limit_s=0).summary()
            print(f"N-0: {n0['site_count']} sites; N-{FAILURES}: {s['site_count']} sites "
                  f"(+{s['site_count'] - n0['site_count']} for geo-redundancy)")
        """),
        _md("""
        ## Reading the map

        `plan.explore()` returns a Folium map that works offline (Leaflet is inlined;
        `tiles=None` skips the OpenStreetMap basemap, which needs the network). Demand
        points are coloured by the latency to their primary site, so the colour shows how
        much of the budget each town uses; chosen sites carry a popup with what they serve
        and what their failure does; the budget radius around each site can be switched on
        in the layer control; users that lose the budget under a failure, and any
        single-coverable or uncoverable demand, have layers of their own. The legend repeats
        the headline figures.
        """),
        _code("""
        m = plan.explore(tiles=None)
        m
        """),
        _md(f"""
        ## Handing the plan on

        `plan.to_dir()` writes everything the command line writes, among them
        `summary.json`, `sites.csv`/`sites.geojson`, `assignment.csv`, `failures.csv`,
        `proposed_sites.csv` and `map.html`. The same plan from the shell:

        ```sh
        {_cli(p)}
        ```
        """),
        _code("""
        out = plan.to_dir(OUT, tiles=None)
        sorted(path.name for path in out.iterdir())
        """),
    ]


def gaps_and_proposed_sites() -> list[nbformat.NotebookNode]:
    p = GAPS
    return [
        _md(f"""
        # Coverage gaps and proposed new sites (defaults: {p['name']} at {p['budget_ms']:g} ms)

        A plan can only open sites that are on the candidate list. When some users have fewer
        than two candidates within their latency budget, no choice of candidates makes them
        N-1 safe: these are the **coverage gaps**. This notebook finds them for
        {p['name']}, a long country with a sparse north, at a tight {p['budget_ms']:g} ms p99
        budget with candidates restricted to the places of at least
        {p['candidate_min_population']:,} people, and asks where *new* sites would close them.
        The budget is tight because the default latency model (the `internet` profile,
        fitted to measured round trips) spends 28 ms of it at distance zero with FTTH: the
        rest buys a radius of about 300 km.
        """),
        _code(f"""
        import pandas as pd

        import coverage
        from coverage.inputs.geonames import geonames_candidates, geonames_demand
        from coverage.inputs.tables import as_demand, as_sites

        # the parameters: every cell below reads them (the text around the figures
        # describes what they give with these defaults)
        COUNTRY, NAME = {p['country']!r}, {p['name']!r}
        BUDGET_MS = {p['budget_ms']!r}  # p99, FTTH
        FAILURES = {p['failures']!r}  # site failures the plan survives (N-k)
        CANDIDATE_MIN_POPULATION = {p['candidate_min_population']:_}

        # validated once, here: the plans below take them as they are, and a warning
        # about them (co-located candidates, say) is said once, not once per plan
        demand = as_demand(geonames_demand(COUNTRY), source=f'{{COUNTRY}} demand')
        sites = as_sites(geonames_candidates(COUNTRY, min_population=CANDIDATE_MIN_POPULATION),
                         source=f'{{COUNTRY}} candidates')
        print(f'{{len(demand):,}} demand points, {{demand.population.sum():,.0f}} people')
        print(f'{{len(sites)}} candidate sites:', ', '.join(sites.name))
        """),
        _code("""
        plan = coverage.plan_sites(demand, sites, budget_ms=BUDGET_MS, failures=FAILURES)
        s = plan.summary()
        print(f"{NAME} at {BUDGET_MS:g} ms p99, N-{FAILURES}: "
              f"{s['site_count']} sites ({s['status']}, lower bound {s['lower_bound']:.0f}), "
              f"radius {s['max_radius_km']:,.0f} km")
        print(f"single-coverable: {s['n_demand_single_coverable']} places, "
              f"{s['population_single_coverable']:,.0f} people")
        print(f"uncoverable: {s['n_demand_uncoverable']} places, "
              f"{s['population_uncoverable']:,.0f} people")
        if FAILURES >= 2:  # (2 or more candidates, fewer than FAILURES + 1)
            partial = plan.gaps[plan.gaps['coverage_status'] == 'partial']
            print(f"partial (fewer than {FAILURES + 1} candidates): {len(partial)} places, "
                  f"{partial['population'].sum():,.0f} people")
        print(f"proposed new sites: {s['proposed']['proposed_sites']}")
        """, HEADLINE_TAG),
        _md("""
        ## Uncoverable versus single-coverable demand

        `plan.gaps` is the demand that is not N-1 safe, in two kinds that call for different
        answers:

        - **uncoverable**: no candidate within budget at all. These users are outside the
          budget even when every site is up; the plan cannot serve them at this latency.
        - **single-coverable**: exactly one candidate within budget. The plan opens it (the
          requirement is capped at the number of candidates a user has), so they are served
          normally, but when that one site fails they fall outside the budget.

        Neither is dropped: both are reported with their population.
        """),
        _code("""
        gaps = plan.gaps
        table = gaps.groupby('coverage_status').agg(places=('demand_id', 'size'),
                                                    population=('population', 'sum'))
        table['share_of_country'] = table['population'] / s['population_total']
        table
        """),
        _code("""
        gaps.sort_values('population', ascending=False)[
            ['name', 'population', 'coverage_status', 'n_covering_sites', 'primary_site_id',
             'primary_latency_ms', 'n1_latency_ms']].head(10)
        """),
        _md("""
        ## Which failure hurts

        Users with two sites in budget never leave it under a single failure. The damage of
        a failure is therefore concentrated on the single-coverable users of the failed
        site, and `plan.failures` shows which sites those are: the ones whose loss the
        operator has no answer to at this budget.
        """),
        _code("""
        f = plan.failures.merge(plan.sites[['site_id', 'name']],
                                left_on='failed_site_id', right_on='site_id')
        if FAILURES >= 1:  # (an N-0 plan promises no backup)
            assert (f['population_outside_budget_redundant'] == 0).all()
        f.sort_values('population_outside_budget', ascending=False)[
            ['name', 'population_rerouted', 'population_outside_budget',
             'worst_latency_ms']].head(5)
        """),
        _md("""
        ## Proposed new sites

        `plan.proposed` suggests where to build: the fewest new locations (chosen among the
        gap points, the points where their budget circles cross, and a second spot across
        town for an isolated point, with the same exact multicover solver) such that every
        gap point gets the sites it is missing within its budget radius. `n_demand_gained`
        and `population_gained` count the gap points and people each new site serves. Points
        no site could help (an access class too slow for the budget) are *still short* in
        the summary.
        """),
        _code("""
        print(s['proposed'])
        plan.proposed.sort_values('population_gained', ascending=False).head(10)
        """),
        _md("""
        ## Do the proposals close the gaps?

        Add the proposed locations to the candidate list and plan again. Now the only users
        without two sites in budget should be the ones the proposal reported as still short,
        and the new plan tells us how many of the new sites are really needed together with
        the existing candidates.
        """),
        _code("""
        new_sites = plan.proposed.rename(columns={'proposed_site_id': 'site_id'})[
            ['site_id', 'lat', 'lon']].assign(name='proposed', tier='proposed', required=False)
        replan = coverage.plan_sites(demand, pd.concat([sites, new_sites], ignore_index=True),
                                     budget_ms=BUDGET_MS, failures=FAILURES,
                                     kmedian_time_limit_s=10)
        r = replan.summary()
        # the people with fewer than FAILURES + 1 candidates in budget (the gap)
        before, after = s['proposed']['population_gap'], r['proposed']['population_gap']
        n_new = int((replan.sites['tier'] == 'proposed').sum())
        print(f"people not N-{FAILURES} safe: {before:,.0f} before, {after:,.0f} after "
              f"(proposal said {s['proposed']['population_still_short']:,.0f} stay short)")
        print(f"new plan: {r['site_count']} sites ({r['status']}), of which {n_new} new")
        """, HEADLINE_TAG),
        _md("""
        ## The map

        On the map the gaps stand out against the redundant demand: the single-coverable and
        uncoverable layers, and the users that lose the budget when their only site fails.
        Compare it with the new plan's map to see where the proposed sites go.
        """),
        _code("""
        plan.explore(tiles=None)
        """),
        _code("""
        replan.explore(tiles=None)
        """),
    ]


def budget_and_failure_sweep() -> list[nbformat.NotebookNode]:
    p = SWEEP
    return [
        _md(f"""
        # Budget and failure level: the trade-off curve (defaults: {p['name']})

        How many sites a fleet needs depends on two decisions: the **latency budget** the
        product promises (30, 50 or 100 ms p99 are common tiers) and how many simultaneous
        site failures it must survive (**N-0**: none, **N-1**: any one site, **N-2**: any
        two). This notebook plans {p['name']} (mainland, Madeira and the Azores) for every
        combination of budgets from {p['budgets_ms'][0]} to {p['budgets_ms'][-1]} ms and
        failure levels {', '.join(map(str, p['failures']))}, and plots the trade-off.
        Candidates are the places of at least {p['candidate_min_population']:,} people.
        Latency follows the default model (the `internet` profile, fitted to measured round
        trips between cities); on an operator's own fibre (`on-net` profile) the curve would
        start lower and fall faster.
        """),
        _code(f"""
        %matplotlib inline
        import os
        import time

        import matplotlib.pyplot as plt
        import pandas as pd

        import coverage
        from coverage.inputs.geonames import geonames_candidates, geonames_demand
        from coverage.inputs.tables import as_demand, as_sites

        # the parameters: every cell below reads them (the text around the figures
        # describes what they give with these defaults)
        COUNTRY = {p['country']!r}
        CANDIDATE_MIN_POPULATION = {p['candidate_min_population']:_}
        BUDGETS_MS = {p['budgets_ms']!r}
        FAILURES = {p['failures']!r}
        TIERS_MS = [30, 50, 100]  # the budgets of the last table

        # validated once, here: the plans below take them as they are, and a warning
        # about them (co-located candidates, say) is said once, not once per plan
        demand = as_demand(geonames_demand(COUNTRY), source=f'{{COUNTRY}} demand')
        sites = as_sites(geonames_candidates(COUNTRY, min_population=CANDIDATE_MIN_POPULATION),
                         source=f'{{COUNTRY}} candidates')
        model = coverage.LatencyModel()
        print(f'{{len(demand):,}} demand points, {{demand.population.sum():,.0f}} people, '
              f'{{len(sites)}} candidate sites')
        print(f"access, network overhead, proxy and inference take "
              f"{{model.p99_ms(0.0, 'ftth'):.1f}} ms p99 at distance 0 with FTTH")
        """),
        _md("""
        ## Where the curve starts

        The budget has a floor: access, proxy, inference and the network's fixed overhead
        take their share even when the site is next door, and no number of sites buys that
        back. Below it the planner refuses, and says why; just above it the radius is a few
        tens of km.
        """),
        _code("""
        try:
            coverage.plan_sites(demand, sites, budget_ms=25.0)
        except coverage.InfeasibleBudgetError as exc:
            print(exc)
        for budget in (29.0, 30.0, 35.0):
            print(f"{budget:g} ms -> radius {model.radius_km(budget, 'ftth'):,.0f} km")
        """),
        _md(f"""
        ## The sweep

        Each plan is an exact minimum (with a {p['time_limit_s']:g} s limit for HiGHS; the
        `status` and `lower_bound` columns say whether it was proven). The site count does
        not depend on where the k-median stage then places the sites, so the sweep skips
        that stage (`kmedian_time_limit_s={p['kmedian_time_limit_s']!r}`: each plan keeps the
        site-count stage's own sites), which keeps each plan well under a second; a placed
        plan's latencies are in notebook 01.
        `short` is the population with fewer than k + 1 candidates within budget, the users
        no choice of candidates can protect at that failure level.
        """),
        _code(f"""
        rows = []
        t0 = time.perf_counter()
        for k in FAILURES:
            for budget in BUDGETS_MS:
                try:
                    s = coverage.plan_sites(demand, sites, budget_ms=budget, failures=k,
                                            time_limit_s={p['time_limit_s']!r},
                                            kmedian_time_limit_s={p['kmedian_time_limit_s']!r}
                                            ).summary()
                except coverage.InfeasibleBudgetError as exc:  # below the fixed share
                    if k == FAILURES[0]:
                        print(f'{{budget:g}} ms left out: {{str(exc).splitlines()[0]}}')
                    continue
                rows.append({{'budget_ms': budget, 'failures': k, 'sites': s['site_count'],
                             'lower_bound': s['lower_bound'], 'status': s['status'],
                             'radius_km': s['max_radius_km'],
                             'short': s['proposed']['population_gap'],
                             'short_share':
                                 s['proposed']['population_gap'] / s['population_total']}})
        sweep = pd.DataFrame(rows)
        csv = f'out/{{COUNTRY.lower()}}-{_csv_suffix(p)}'  # (named for the country)
        os.makedirs(os.path.dirname(csv), exist_ok=True)  # the notebook's folder
        sweep.to_csv(csv, index=False)
        print(f'{{len(sweep)}} plans in {{time.perf_counter() - t0:.0f}} s, '
              f"{{(sweep.status == 'optimal').sum()}} proven optimal")
        sweep.pivot(index='budget_ms', columns='failures', values='sites')
        """, HEADLINE_TAG),
        _md("""
        ## The trade-off plot

        Left: sites against budget, one curve per failure level. Right: the share of the
        population that has fewer than k + 1 candidates in budget, and so cannot be
        protected at that level whatever is built from this candidate list. Read them
        together: at the tightest budgets the site count is limited by the candidates, not
        by the demand, and a large share of users is left short.
        """),
        _code("""
        from matplotlib.ticker import ScalarFormatter

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        styles = {0: ('o', '-'), 1: ('s', '--'), 2: ('^', ':')}
        for k, g in sweep.groupby('failures'):
            marker, line = styles.get(k, ('x', '-'))
            ax1.plot(g.budget_ms, g.sites, marker=marker, linestyle=line, label=f'N-{k}')
            ax2.plot(g.budget_ms, 100 * g.short_share, marker=marker, linestyle=line,
                     label=f'N-{k}')
        for ax in (ax1, ax2):
            for tier in [t for t in TIERS_MS if min(BUDGETS_MS) <= t <= max(BUDGETS_MS)]:
                ax.axvline(tier, color='grey', linestyle='--', linewidth=0.8)
                ax.annotate(f'{tier} ms', (tier, 1), xycoords=('data', 'axes fraction'),
                            xytext=(3, -12), textcoords='offset points', color='grey')
            ax.set_xlim(right=max(BUDGETS_MS) + 12)
            ax.set_xlabel('latency budget, ms p99')
            ax.legend(title='failures tolerated', loc='center right')
        ax1.set_yscale('log')
        ax1.minorticks_off()
        ax1.set_yticks([t for t in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
                        if t <= 1.5 * sweep['sites'].max()])
        ax1.yaxis.set_major_formatter(ScalarFormatter())
        ax1.set_ylabel('fewest sites (log scale)')
        ax2.set_ylabel('population short of k + 1 candidates, %')
        ax1.set_title('Sites needed')
        ax2.set_title('Demand that cannot be protected')
        fig.tight_layout()
        plt.show()
        """),
        _md(f"""
        ## Reading the curve

        *What the defaults give ({p['name']}); with other parameters, read the figures
        above.*

        - **The knee**: near the fixed share of the budget (access, network overhead, proxy
          and inference: 28 ms) the radius is a few tens of km and every town needs a site
          of its own; a few milliseconds more buy hundreds of km (about 45 km per ms) and
          the count collapses. By about 40 ms a handful of sites covers the mainland; more
          budget then buys only the islands, and from 65 ms nothing at all.
        - **The price of resilience** is the vertical gap between the curves at a given
          budget: the sites N-1 and N-2 add over N-0.
        - **Islands**: Madeira and the Azores are far from the mainland. At tight budgets
          they must be served by their own candidates, and where an island has fewer than
          k + 1 of them its users stay short (right panel) until the budget reaches the
          mainland. The steps of the curves between 45 and 65 ms are the islands coming
          within reach of one another and of the mainland (Madeira is about 900 km from the
          mainland; the Azores 900 to 1,500 km from Madeira and up to 1,900 km from the
          mainland).
        """),
        _code("""
        at_tiers = sweep[sweep.budget_ms.isin(TIERS_MS)]
        if at_tiers.empty:
            print(f'none of {TIERS_MS} ms is among the sweep budgets {BUDGETS_MS}')
        else:
            display(at_tiers.pivot(index='budget_ms', columns='failures',
                                   values=['sites', 'short']).round().astype(int))
        """),
    ]


def edge_or_region() -> list[nbformat.NotebookNode]:
    p = EDGE_OR_REGION
    b_text = ", ".join(f"{b:g}" for b in p["budgets_ms"][:-1]) + f" and {p['budgets_ms'][-1]:g}"
    return [
        _md(f"""
        # Edge or region? (defaults: {p['name']} at {b_text} ms)

        An edge fleet gives up the three things that make centralized inference cheap
        (economies of scale, high utilisation and cheap power) for one thing: latency that
        a public-cloud region cannot deliver. The domain's rule of thumb is a fork: the
        region (with a CDN in front) wins when the budget is soft (100 ms and more), demand
        is too thin to fill edge sites, the model is large or the work is batch-shaped; the
        edge wins when the budget is physically binding (50 ms and less, often 30 ms), the
        model fits the power envelope, demand fills the sites, or the data may not leave.
        When in doubt, the region is the cheaper bet.

        `coverage.compare` puts numbers on that fork for one demand and budget: it plans the
        N-{p['failures']} edge fleet (the capacitated plan, sized for the load), prices it,
        measures the built-in AWS, Google Cloud and Azure regions against the same budget
        with the same latency model, prices the same load in a region, and fills in the
        chapter's decision table and its anti-pattern warnings. This notebook does it for
        {p['name']} at {b_text} ms p99, with the embedded GeoNames data (demand: places of
        at least {p['demand_min_population']:,} people; candidate sites: places of at least
        {p['candidate_min_population']:,}, a stand-in for metro colocation).

        **Read every figure as a first look, not a quote.** The cost model's defaults
        (`coverage/model/costs.toml`) are estimates and 2024-2025 list prices in US dollars
        with US power prices; real prices differ by 2x and more by country, vendor, volume
        and contract. The region table places each region at its metro's approximate
        centre, not at its campus. The load is an assumption too: 100 requests per person
        per day, the peak hour at 3x the daily mean. Each of these can be replaced
        (`costs=`, `regions=`, `requests_per_person_day=` or a `load_rps` demand column)
        before anything is decided.
        """),
        _code(f"""
        %matplotlib inline
        import os
        import textwrap

        import matplotlib.pyplot as plt
        import pandas as pd

        import coverage
        from coverage.inputs.geonames import geonames_candidates, geonames_demand
        from coverage.inputs.tables import as_demand, as_sites
        from coverage.model.costs import CostModel

        # the parameters: every cell below reads them (the text around the figures
        # describes what they give with these defaults)
        COUNTRY = {p['country']!r}
        BUDGETS_MS = {p['budgets_ms']!r}  # the table's budgets
        FAILURES = {p['failures']!r}
        DECISION_MS = {p['decision_budget_ms']!r}  # the decision table's budget
        SITES_MS = {p['sites_budget_ms']!r}  # the priced sites' budget
        SWEEP_BUDGETS_MS = {p['sweep_budgets_ms']!r}  # the plot's budgets
        THIN = {p['thin_requests_per_person_day']!r}  # the thin load, requests/person/day
        WHAT_IF_MS = {p['what_if_budget_ms']!r}  # the what-ifs' budget
        # the count's own sites, not placed for latency: see the note below
        PLAN = {{'kmedian_time_limit_s': {p['kmedian_time_limit_s']!r}}}
        # validated once, here: the plans below take them as they are, and a warning
        # about them (co-located candidates, say) is said once, not once per plan
        demand = as_demand(geonames_demand(COUNTRY,
                                           min_population={p['demand_min_population']:_}),
                           source=f'{{COUNTRY}} demand')
        sites = as_sites(geonames_candidates(COUNTRY,
                                             min_population={p['candidate_min_population']:_}),
                         source=f'{{COUNTRY}} candidates')
        print(f'{{len(demand):,}} demand points, {{demand.population.sum():,.0f}} people, '
              f'{{len(sites)}} candidate sites')


        def compared(budget_ms, **kw):
            # the table's comparison at budget_ms, or a new one (another budget, a load)
            if not kw and budget_ms in results:
                return results[budget_ms]
            return coverage.compare(demand, sites, budget_ms=budget_ms, failures=FAILURES,
                                    **PLAN, **kw)
        """),
        _md(f"""
        ## Three budgets, one table

        Each edge plan here keeps the site-count stage's own sites (`kmedian_time_limit_s=0`
        skips the latency placement): the same plan on every machine, in seconds.
        `edge-coverage compare` places them by default (the k-median under every failure
        scenario's capacity, up to `--kmedian-time-limit-s`), which moves each site's load
        and so, a little, the accelerators priced; the counts and the region's side do not
        change.

        For each budget, one column:

        - **edge sites**: the fewest sites that keep every user within budget of two of
          them (N-{p['failures']}), with the accelerators the load needs at each;
        - **share within budget**: for the edge, the people the plan keeps within budget,
          with every site up and with any one site down (the edge's N-1); for the region,
          the people within budget of their nearest region, and of two regions (so that
          one region may fail, the region's own N-1);
        - **fleet mean utilisation**: the daily mean load over the priced accelerators'
          throughput; **breakeven utilisation**: the mean utilisation at which the same
          fleet, its load scaled in proportion at every site, would cost what the region
          charges per request (`never`: not at or below 100 %);
        - **cost per million requests and per user-month** on each side (the edge divides
          its annual cost by the people it keeps within budget, the region by everyone);
        - **cheaper per request** and the advisor's **warning codes**.
        """),
        _code("""
        results = {b: coverage.compare(demand, sites, budget_ms=b, failures=FAILURES, **PLAN)
                   for b in BUDGETS_MS}


        def pct(x):
            return 'never' if x is None else f'{100 * x:.1f}%'


        def column(c):
            d = c.document
            edge, region = d['edge'], d['region']
            return {
                'edge sites': edge['sites'],
                'edge: share within budget': pct(edge['coverage']['share_within_budget']),
                'edge: share within budget, any one site down':
                    pct(edge['coverage']['share_n1_safe']),
                'region: share within budget, nearest':
                    pct(region['coverage']['share_within_budget']),
                'region: share within budget, two regions':
                    pct(region['coverage']['share_within_budget_n1']),
                'fleet mean utilisation': pct(edge['utilisation']['fleet_mean']),
                'breakeven utilisation': pct(d['breakeven']['utilisation']),
                'edge: USD per million requests': f"{edge['cost_per_million_requests']:.2f}",
                'region: USD per million requests': f"{region['cost_per_million_requests']:.2f}",
                'edge: USD per user-month': f"{edge['cost_per_user_month']:.4f}",
                'region: USD per user-month': f"{region['cost_per_user_month']:.4f}",
                'cheaper per request': d['verdict']['cheaper_per_request'],
                'warnings': ','.join(c.codes) or '-',
            }


        table = pd.DataFrame({f'{b:g} ms': column(c) for b, c in results.items()})
        print(f'{COUNTRY}, p99, N-{FAILURES}, default cost model and load')
        print(table.to_string())
        """, HEADLINE_TAG),
        _code("""
        for c in results.values():
            print(textwrap.fill(c.document['verdict']['text'], 100), end='\\n\\n')
        """),
        _md(f"""
        ## Reading the table

        *What the defaults give ({p['name']}); with other parameters, read the figures
        above.*

        - **30 ms is a physical budget.** The nearest region keeps only a minority of the
          people within it (fewer still with two regions, so that one may fail); an edge
          fleet of dozens of sites is the only way to the rest.
        - **At 50 and 100 ms the regions already serve everyone.** An edge fleet there is
          the chapter's first anti-pattern, *edge for a preference budget*
          (`preference-budget`): it buys headroom that the budget does not ask for,
          whatever it costs.
        - **Utilisation is thin at every budget** (`thin-utilisation`). It is structural:
          each site is sized so that the users of a failed neighbour still fit at the
          target utilisation of 80 % in the peak hour, and the daily mean is a third of
          the peak. With two sites, each one must carry the whole country alone.
        - **Cheaper per request?** With these defaults the edge is at 30 ms (by about an
          eighth), the region at 50 and 100 ms (the two-site edge costs more than a quarter
          more). At 30 ms the fleet is priced at the least capacity of every site that
          carries every failure scenario (one linear program over all of them): a failed
          site's users spread over its several neighbours, so each needs only a share of
          its load in reserve; sized instead for its worst load of the most even flows,
          every site was sized near the fleet's worst level and the region was cheaper by a
          tenth. Two lines of the cost model decide the rest, and both
          deserve a check against your own figures: the region rents its L4-hours on a
          1-year commitment (0.48 USD an hour; 0.71-0.80 on demand) and charges 0.90 USD
          per million requests for egress, while the edge owns its L4s (the card and a
          quarter of a host, paid off over five years at 10 %, with lease and power) and
          pays a flat circuit per site that does not grow with the traffic. The what-ifs
          below move these.
        """),
        _md(f"""
        ## The decision table at {p['decision_budget_ms']:g} ms

        The chapter's five drivers, each filled with this comparison's numbers, and the
        side each one favours.
        """),
        _code("""
        decision = pd.DataFrame(compared(DECISION_MS).document['decision'])
        with pd.option_context('display.max_colwidth', None):
            display(decision[['driver', 'favours', 'value']])
        """),
        _md("""
        ## The warnings, with their messages

        Each warning has a stable code, a message and the figures behind it
        (`c.warnings`); `compare.json` carries the same.
        """),
        _code("""
        for b, c in results.items():
            print(f'--- {b:g} ms: {len(c.warnings)} warning(s)')
            for w in c.warnings:
                print(textwrap.fill(f"[{w['code']}] {w['message']}", 100,
                                    subsequent_indent='    '))
        """),
        _md(f"""
        ## Why the fleet is idle: the sites at {p['sites_budget_ms']:g} ms

        `c.sites` prices each chosen site: the accelerators that carry its load in every
        failure scenario, its mean, peak-hour and worst-case utilisation, and its annual
        cost by line.
        With the defaults ({p['name']}), at {p['sites_budget_ms']:g} ms the "edge" is two
        metro data-centre halls of some 400 kW each, each able to carry the whole country
        when the other one fails.
        """),
        _code("""
        c50 = compared(SITES_MS)
        print(f'{COUNTRY} at {SITES_MS:g} ms: {len(c50.sites)} site(s)')
        c50.sites.merge(c50.plan.sites[['site_id', 'name']], on='site_id')[
            ['name', 'n_accelerators', 'facility_kw', 'utilisation_mean', 'utilisation_peak',
             'utilisation_worst', 'total_usd_per_year']].round(3)
        """),
        _md(f"""
        ## Cost per million requests against the budget

        The same comparison over more budgets, at the default load and at a thin one
        ({p['thin_requests_per_person_day']:g} requests per person per day). The region's
        price per request does not depend on the budget or the load here: it rents
        accelerator-hours for the mean load at its pooled utilisation, so its cost scales
        with the load. The dotted line is the region without its egress charge.
        """),
        _code(f"""
        rows = []
        thin = {{}}  # the thin load's comparisons, by budget (the what-if below takes one)
        for rppd in (None, THIN):
            for b in SWEEP_BUDGETS_MS:
                # (the table's own comparison at its budgets and the default load)
                c = compared(b) if rppd is None else compared(b, requests_per_person_day=rppd)
                if rppd == THIN:
                    thin[b] = c
                d = c.document
                rows.append({{'budget_ms': b,
                             'requests_per_person_day': d['assumptions']['requests_per_person_day'],
                             'edge_sites': d['edge']['sites'],
                             'edge_usd_per_m': d['edge']['cost_per_million_requests'],
                             'region_usd_per_m': d['region']['cost_per_million_requests'],
                             'region_compute_usd_per_m': d['region']['cost_usd_per_year']['compute']
                             / d['region']['load']['requests_per_year'] * 1e6,
                             'edge_share': d['edge']['coverage']['share_within_budget'],
                             'region_share': d['region']['coverage']['share_within_budget'],
                             'region_share_two': d['region']['coverage']['share_within_budget_n1'],
                             'warnings': ','.join(w['code'] for w in d['warnings'])}})
        sweep = pd.DataFrame(rows)
        csv = f'out/{{COUNTRY.lower()}}-{_csv_suffix(p)}'  # (named for the country)
        os.makedirs(os.path.dirname(csv), exist_ok=True)  # the notebook's folder
        sweep.to_csv(csv, index=False)

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        groups = sweep.groupby('requests_per_person_day')
        for (rppd, g), style in zip(groups, ('--', '-'), strict=True):
            ax1.plot(g.budget_ms, g.edge_usd_per_m, marker='o', linestyle=style,
                     label=f'edge, {{rppd:g}} requests/person/day')
        base = sweep[sweep.requests_per_person_day == sweep.requests_per_person_day.max()]
        ax1.plot(base.budget_ms, base.region_usd_per_m, color='black', label='region (any load)')
        ax1.plot(base.budget_ms, base.region_compute_usd_per_m, color='black', linestyle=':',
                 label='region without egress')
        ax1.set_ylabel('USD per million requests')
        ax1.set_ylim(bottom=0)
        ax1.set_title('Cost per request')
        ax2.plot(base.budget_ms, 100 * base.edge_share, marker='o', label='edge fleet (N-1)')
        ax2.plot(base.budget_ms, 100 * base.region_share, marker='s', label='nearest region')
        ax2.plot(base.budget_ms, 100 * base.region_share_two, marker='^', linestyle=':',
                 label='two regions')
        ax2.set_ylabel('population within budget, %')
        ax2.set_title('Who is within budget')
        for ax in (ax1, ax2):
            for tier in BUDGETS_MS:
                ax.axvline(tier, color='grey', linestyle='--', linewidth=0.8)
            ax.set_xscale('log')
            ax.minorticks_off()
            ticks = [t for t in (30, 35, 40, 50, 70, 100)
                     if min(SWEEP_BUDGETS_MS) <= t <= max(SWEEP_BUDGETS_MS)]
            ax.set_xticks(ticks, labels=[str(t) for t in ticks])
            ax.set_xlabel('latency budget, ms p99 (log scale)')
            ax.legend()
        fig.tight_layout()
        plt.show()
        """),
        _md(f"""
        ## Reading the plot

        *What the defaults give ({p['name']}); with other parameters, read the figures
        above.*

        - **The fork is narrow.** Within a few milliseconds above 30 ms the regions go from
          a fifth of the people to nearly all of them (right). Between the tiers of 30 and
          50 ms lies the whole decision.
        - **The cheapest edge fleet is not the smallest.** At the default load a fleet of
          4 to 26 sites (between 31 and 37 ms) costs less per request than two, and up to a
          quarter less than the region: with two sites each must keep the whole country's
          peak in reserve for the other, while with more sites a failed site's users spread
          over several neighbours. Toward the tightest budgets the fixed costs of many small
          sites (cabinet, lease, circuit, operations) push it up again. Where the edge is
          cheapest, the regions already keep most people within budget.
        - **A thin demand turns it further** (dashed): the fixed costs of each site are
          spread over a twentieth of the requests, and the region is cheaper at every
          budget.
        """),
        _md(f"""
        ## What if?

        The verdict is only as good as its assumptions. The {p['what_if_budget_ms']:g} ms
        comparison with the defaults, and three variations that each change one thing:

        - **thin demand**: {p['thin_requests_per_person_day']:g} requests per person per day
          instead of 100. The sites keep their fixed costs (cabinet, lease, circuit,
          operations) and serve a twentieth of the requests;
        - **no ZTP**: the fleet priced without zero-touch provisioning
          (`CostModel.builtin().with_overrides({{'fleet': {{'ztp': False}}}})`): installs take
          days of skilled labour and every fix is a truck roll (`no-ztp`);
        - **region on demand, behind a CDN**: the region's L4-hour at its on-demand price
          (0.75 USD) and a CDN front end in its network charge (1.85 USD per million
          requests).

        The two price variations keep the edge plan: `Comparison.repriced(costs=...)`
        prices the same fleet again (in a fraction of a second; another cost model,
        regions or advice thresholds never change the plan). The thin demand is a new
        plan: its load sizes the sites.
        """),
        _code("""
        no_ztp = CostModel.builtin().with_overrides({'fleet': {'ztp': False}})
        on_demand_cdn = CostModel.builtin().with_overrides(
            {'accelerators': {'NVIDIA L4': {'region_hour_usd': 0.75}},
             'region': {'network_usd_per_million_requests': 1.85}})
        scenarios = {
            'defaults': {},
            f'thin demand ({THIN:g} requests/person/day)': {'requests_per_person_day': THIN},
            'no ZTP': {'costs': no_ztp},
            'region on demand + CDN': {'costs': on_demand_cdn},
        }
        # the defaults and the thin demand were compared above (the table, the sweep); the
        # price variations reprice the defaults' plan
        base = compared(WHAT_IF_MS)
        done = {'defaults': base,
                f'thin demand ({THIN:g} requests/person/day)': thin.get(WHAT_IF_MS)
                or compared(WHAT_IF_MS, requests_per_person_day=THIN)}
        what_if = {}
        for label, kw in scenarios.items():
            c = done.get(label) or base.repriced(**kw)
            d = c.document
            what_if[label] = {
                'edge sites': d['edge']['sites'],
                'fleet util': pct(d['edge']['utilisation']['fleet_mean']),
                'breakeven': pct(d['breakeven']['utilisation']),
                'edge USD/M': f"{d['edge']['cost_per_million_requests']:.2f}",
                'region USD/M': f"{d['region']['cost_per_million_requests']:.2f}",
                'cheaper': d['verdict']['cheaper_per_request'],
                'warnings': ','.join(c.codes) or '-',
            }
        print(f'{COUNTRY} at {WHAT_IF_MS:g} ms p99, N-{FAILURES}: what if')
        print(pd.DataFrame(what_if).T.to_string())
        """, HEADLINE_TAG),
        _md("""
        ## What this says, and what it does not

        In Germany the fork is the chapter's: at 30 ms the budget is physical and only an
        edge fleet keeps most people within it; from 50 ms on the regions do, and an edge
        fleet is a preference. Whether the edge is also *cheaper* turns with the load: with
        these defaults it is at 30 ms, without zero-touch provisioning too, and by more
        against a region rented on demand behind a CDN; a thin demand leaves the sites idle
        and the region wins. It turns with the sizing as well: priced for each site's worst
        load of the most even flows instead of the least capacity that carries every
        failure, the region was cheaper at 30 ms. That is the
        honest use of `coverage.compare`: a first look that names its assumptions, and a
        quick way to rerun it with your own prices (`costs=` a TOML file or
        `CostModel.with_overrides`), your own regions (`regions=`), your own load
        (`load_rps`) and a residency constraint (a `sovereign` demand column). The command
        line writes the same comparison as `compare.json`:

        ```sh
        edge-coverage compare --demo --country DE --budget-ms 30 --out out/de-compare
        ```
        """),
    ]


NOTEBOOKS = {
    "01_plan_a_country.ipynb": plan_a_country,
    "02_gaps_and_proposed_sites.ipynb": gaps_and_proposed_sites,
    "03_budget_and_failure_sweep.ipynb": budget_and_failure_sweep,
    "04_edge_or_region.ipynb": edge_or_region,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), unexecuted, with stable cell ids."""
    cells = NOTEBOOKS[name]()
    stem = name.split("_", 1)[0]
    for i, cell in enumerate(cells):
        cell["id"] = f"nb{stem}-{i:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=NOTEBOOK_DIR, help="output directory")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:
        path = args.out / name
        nbformat.write(build(name), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
