"""The edge-or-region advisor: the domain's decision table with a plan's numbers, and the
anti-pattern warnings.

The edge-inference chapter's decision table has five drivers (latency budget, demand
density, model size against the power envelope, data gravity / sovereignty, operations)
and names the ways an edge fleet goes wrong. :func:`advise` fills each driver with the
figures of one comparison (:func:`coverage.compare`) and returns a warning, with a stable
code and its figures, for each anti-pattern the figures show:

``preference-budget``
    The nearest region already meets the budget for at least ``preference_share`` of the
    people: the edge buys headroom the budget does not ask for.
``failure-exposed``
    A plan asked to survive failures (N-k, k >= 1) leaves at least :data:`EXPOSED_SHARE`
    of the people it keeps within budget outside it when their nearest site fails (no
    second chosen site within budget), or, for k >= 2, when the k nearest fail: the
    edge's share within budget overstates what it keeps through the failures asked
    (tester 204: Luxembourg's one candidate, 100 % within budget and 0 % with it down,
    and no warning). A second site counts whatever its failure domain.
``model-does-not-fit``
    The workload's smallest system does not fit the power envelope of one or more tiers
    among the candidates (or of any of them).
``thin-utilisation``
    The priced fleet's mean utilisation is below ``thin_utilisation`` (the chapter: a
    Tier-2 edge node at 30-40 % against a region at 80-90 %).
``no-ztp``
    The fleet is priced without zero-touch provisioning: every fix is a truck roll.
``per-site-redundancy``
    The fleet spends on per-site redundancy at least what one more site would cost, while
    people are still one failure away from leaving the budget: the money buys more as an
    extra site in the coverage gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .wording import counted

__all__ = ["CODES", "EXPOSED_SHARE", "advise", "fit_figures", "region_meets_budget",
           "verdict"]

#: Every warning code, in the order the advisor checks them.
CODES = ("preference-budget", "failure-exposed", "model-does-not-fit", "thin-utilisation",
         "no-ztp", "per-site-redundancy")

#: ``failure-exposed`` from this share of the people within budget of the edge plan who
#: leave it when their nearest site fails.
EXPOSED_SHARE = 0.05


def _gap_text(proposed: Mapping[str, Any]) -> str:
    """What the proposed sites would close: the people of the coverage gap (too few
    candidates within budget), not those one failure from leaving it (tester 181: the two
    were read as one)."""
    n = proposed.get("proposed_sites") or 0
    gap = proposed.get("population_gap")
    if not n:
        return ""
    who = (f" ({float(gap):,.0f} people with too few candidates within budget)"
           if isinstance(gap, int | float) and math.isfinite(float(gap)) else "")
    return (f"The {n} proposed site(s) in proposed_sites.csv would close the coverage "
            f"gap{who}. ")


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def _usd(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"${x:,.2f}" if abs(x) < 100 else f"${x:,.0f}"


def fit_figures(sites: pd.DataFrame, workload: Any, catalog: Any,
                excluded: pd.DataFrame | None) -> dict[str, Any]:
    """Whether the workload fits each tier's power envelope, with the numbers.

    Parameters
    ----------
    sites : pandas.DataFrame
        Validated candidates (``site_id``, optional ``tier``).
    workload : Workload
        The edge workload.
    catalog : TierCatalog
        The tier catalog (``power_kw``, ``pue``).
    excluded : pandas.DataFrame or None
        The fit check's exclusions (:func:`coverage.model.capacity.fit_sites`); ``None``
        when every candidate was excluded.

    Returns
    -------
    dict
        ``system_kw`` (IT kW of the smallest system), ``candidates``, ``excluded``,
        ``memory_fits`` and ``tiers``: per tier label, ``candidates``, ``excluded``,
        ``envelope_kw`` (the largest envelope among its excluded candidates, else among all
        of them: a site's ``power_kw`` column, else the tier's upper end), ``envelope_from``,
        ``pue`` and ``needs_kw`` (facility kW of the smallest system at that PUE).
    """
    from .model.capacity import site_power

    labels = (sites["tier"].astype(str).to_numpy(dtype=object) if "tier" in sites.columns
              else np.full(len(sites), "candidate", dtype=object))
    n_sites = len(sites)
    ex_ids = set() if excluded is None else set(excluded["site_id"].astype(str))
    is_ex = (np.ones(n_sites, dtype=bool) if excluded is None
             else sites["site_id"].astype(str).isin(ex_ids).to_numpy())
    try:
        system_kw = float(workload.system_kw())
    except Exception:  # noqa: BLE001 - power unknown: nothing to compare
        system_kw = None
    # each site's own envelope: its power_kw column, else its tier's upper end
    power, pue, origin = site_power(sites, catalog, warn=False)
    tiers: dict[str, Any] = {}
    for name in pd.unique(labels):
        m = labels == name
        mx = m & is_ex & np.isfinite(power)
        p = float(pue[m][0]) if m.any() else 1.0
        # the sites the envelope is the largest of: the excluded ones, else all of the tier
        pool = np.flatnonzero(mx if mx.any() else m & np.isfinite(power))
        top = pool[np.argmax(power[pool])] if len(pool) else None
        tiers[str(name)] = {
            "candidates": int(m.sum()), "excluded": int((m & is_ex).sum()),
            "envelope_kw": None if top is None else float(power[top]),
            "envelope_from": ("site power_kw column" if top is not None
                              and origin[top] == "column" else f"tier {name}"),
            "pue": p,
            "needs_kw": system_kw * p if system_kw is not None else None,
        }
    return {"workload": workload.name, "system_kw": system_kw,
            "min_accelerators": int(workload.min_accelerators),
            "memory_fits": bool(workload.memory_fits()), "candidates": int(n_sites),
            "excluded": int(is_ex.sum()), "tiers": tiers}


def _warning(code: str, message: str, **figures: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "figures": figures}


def advise(doc: dict[str, Any], *, fit: dict[str, Any], plan_summary: dict[str, Any] | None,
           fleet: Any, costs: Any, sovereign_share: float, population_exposed: float = 0.0,
           preference_share: float = 0.8,
           thin_utilisation: float = 0.4) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decision table and the warnings of one comparison.

    Parameters
    ----------
    doc : dict
        The comparison so far (``edge``, ``region``, ``breakeven``, ``budget_ms``, ...).
    fit : dict
        :func:`fit_figures`.
    plan_summary : dict or None
        The edge plan's ``summary.json`` (``None``: no plan).
    fleet : FleetCost or None
        The priced fleet.
    costs : CostModel
        The cost model.
    sovereign_share : float
        Share of the people whose data may not leave for a region.
    population_exposed : float
        People within budget of the plan who leave it when their nearest site fails
        (``per-site-redundancy`` and ``failure-exposed``).
    preference_share, thin_utilisation : float
        Warning thresholds.

    Returns
    -------
    decision : list of dict
        One row per driver: ``driver``, ``favours`` (``"edge"``, ``"region"`` or
        ``"either"``), ``value`` (text) and ``figures``.
    warnings : list of dict
        ``{code, message, figures}``, in :data:`CODES` order.
    """
    edge, region, be = doc["edge"], doc["region"], doc["breakeven"]
    budget, pct = doc["budget_ms"], doc["percentile"]
    label = doc.get("budget_label") or f"{budget:g} ms {pct}"
    rc = region["coverage"]
    warnings: list[dict[str, Any]] = []
    decision: list[dict[str, Any]] = []

    # 1. latency budget
    share = rc["share_within_budget"]
    edge_share = edge.get("coverage", {}).get("share_within_budget") if edge["feasible"] \
        else None
    edge_n1 = edge["coverage"].get("share_n1_safe") if edge["feasible"] else None
    met = region_meets_budget(share, preference_share)
    decision.append({
        "driver": "latency budget",
        "favours": ("region" if met or (edge_share is not None and edge_share <= share)
                    else "edge"),
        "value": (f"{label}: the nearest region keeps {_pct(share)} of people "
                  f"within budget ({_pct(rc['share_within_budget_n1'])} with two regions); "
                  f"the edge plan {_pct(edge_share)}"
                  + (f" ({_pct(edge_n1)} with any one site down)"
                     if edge_n1 is not None and int(doc["failures"]) >= 1 else "")),
        "figures": {"budget_ms": budget, "region_share_within_budget": share,
                    "region_share_within_budget_n1": rc["share_within_budget_n1"],
                    "edge_share_within_budget": edge_share,
                    "edge_share_n1_safe": edge_n1},
    })
    if met:
        warnings.append(_warning(
            "preference-budget",
            f"The nearest region already meets {label} for {_pct(share)} of "
            f"the people (threshold {_pct(preference_share)}); an edge fleet"
            + (f" of {edge['sites']} sites" if edge["feasible"] else "")
            + " buys latency headroom this budget does not ask for. Serve from the region, "
            "or justify a tighter budget.",
            budget_ms=budget, region_share_within_budget=share,
            region_share_within_budget_n1=rc["share_within_budget_n1"],
            threshold=preference_share, edge_sites=edge.get("sites"),
            edge_cost_per_million_requests=edge.get("cost_per_million_requests"),
            region_cost_per_million_requests=region["cost_per_million_requests"]))

    exposed = _failure_exposed(doc, edge, rc, plan_summary, population_exposed)
    if exposed is not None:
        warnings.append(exposed)

    # 2. demand density / utilisation
    util = edge.get("utilisation", {}).get("fleet_mean") if edge["feasible"] else None
    u_star = be.get("utilisation")
    busiest = be.get("busiest_site_peak_at_breakeven")
    decision.append({
        "driver": "demand density",
        "favours": ("either" if util is None else
                    "edge" if u_star is not None and util >= u_star else "region"),
        "value": ("no edge plan" if util is None else
                  f"fleet mean utilisation {_pct(util)} against a breakeven of "
                  f"{_pct(u_star) if u_star is not None else 'never (above 100 %)'}; the "
                  f"region runs at {_pct(region['utilisation']['utilisation'])}"),
        "figures": {"fleet_utilisation": util, "breakeven_utilisation": u_star,
                    "region_utilisation": region["utilisation"]["utilisation"],
                    "sites_below_40pct": edge.get("utilisation", {}).get("sites_below_40pct")},
    })
    if util is not None and util < thin_utilisation:
        warnings.append(_warning(
            "thin-utilisation",
            f"The edge fleet runs at {_pct(util)} mean utilisation (threshold "
            f"{_pct(thin_utilisation)}); {edge['utilisation']['sites_below_40pct']} of "
            f"{edge['sites']} sites are below 40 % at their mean load (the plan's "
            "thin-site mark, whatever the threshold). "
            + (f"It breaks even with the region at {_pct(u_star)}"
               + (", so at these prices it still clears it, but every site is mostly idle."
                  if util >= u_star else
                  ", which it does not reach" + (
                      f" (and at that load, scaled in proportion at every site, its busiest "
                      f"site would run at {_pct(busiest)} of its accelerators in the peak "
                      "hour: more than the priced fleet carries as spread)."
                      if busiest is not None and busiest > 1 else "."))
               if u_star is not None else "It never breaks even with the region at or "
               "below 100 %."),
            fleet_utilisation=util, threshold=thin_utilisation,
            sites_below_40pct=edge["utilisation"]["sites_below_40pct"], sites=edge["sites"],
            breakeven_utilisation=u_star,
            region_utilisation=region["utilisation"]["utilisation"]))

    # 3. model size against the power envelope
    short = {t: v for t, v in fit["tiers"].items() if v["excluded"] > 0}
    decision.append({
        "driver": "model size",
        "favours": ("region" if fit["excluded"] == fit["candidates"] else
                    "either" if short else "edge"),
        "value": (f"{fit['workload']}: its smallest system ({fit['min_accelerators']} "
                  f"accelerator(s) and their host(s)) draws "
                  + (f"{fit['system_kw']:,.2f} kW IT" if fit["system_kw"] is not None
                     else "an unknown power")
                  + f"; {fit['excluded']} of {fit['candidates']} candidates cannot host it"),
        "figures": fit,
    })
    if fit["excluded"] > 0:
        parts = [f"{t}: needs {v['needs_kw']:,.1f} kW, the excluded candidates offer at most "
                 f"{v['envelope_kw']:,.1f} kW ({v['envelope_from']}; {v['excluded']} of "
                 f"{v['candidates']} candidates)"
                 if v["needs_kw"] is not None and v["envelope_kw"] is not None
                 else f"{t}: {v['excluded']} of {v['candidates']} candidates"
                 for t, v in short.items()]
        whole = fit["excluded"] == fit["candidates"]
        warnings.append(_warning(
            "model-does-not-fit",
            f"Workload {fit['workload']} does not fit "
            + ("any candidate's power envelope" if whole else "every tier's power envelope")
            + (" (nor its accelerators' memory)" if not fit["memory_fits"] else "")
            + ": " + "; ".join(parts) + ". "
            + ("No edge fleet can serve it: the region is the only option, or a smaller "
               "model." if whole else "Those candidates were left out of the plan; decide "
               "the model and the site together."),
            workload=fit["workload"], system_kw=fit["system_kw"],
            excluded=fit["excluded"], candidates=fit["candidates"],
            memory_fits=fit["memory_fits"], tiers=short))

    # 4. data gravity / sovereignty
    decision.append({
        "driver": "data gravity / sovereignty",
        "favours": "edge" if sovereign_share > 0 else "either",
        "value": (f"{_pct(sovereign_share)} of people have data that may not leave for a "
                  "region (demand column 'sovereign')" if sovereign_share > 0 else
                  "no residency constraint in the demand (no 'sovereign' rows)"),
        "figures": {"sovereign_share": sovereign_share},
    })

    # 5. operations
    ztp = bool(costs.fleet.ztp)
    ops_fig: dict[str, Any] = {"ztp": ztp}
    if fleet is not None:
        ops_fig.update({
            "truck_rolls_per_year": fleet.truck_rolls_per_year,
            "ops_install_usd_per_year": fleet.ops_install_usd_per_year,
            "ops_install_usd_per_year_other_mode": fleet.ops_install_usd_per_year_other_mode,
            "ops_share_of_cost": (fleet.ops_install_usd_per_year / fleet.total_usd_per_year
                                  if fleet.total_usd_per_year > 0 else None),
        })
    decision.append({
        "driver": "operations",
        "favours": "edge" if ztp else "region",
        "value": (("zero-touch provisioning and remote remediation priced in" if ztp else
                   "priced WITHOUT zero-touch provisioning")
                  + (f": {fleet.truck_rolls_per_year:,.0f} truck rolls a year, operations "
                     f"and installs {_usd(fleet.ops_install_usd_per_year)} a year"
                     if fleet is not None else "")),
        "figures": ops_fig,
    })
    if not ztp:
        extra = ""
        if fleet is not None:
            saving = fleet.ops_install_usd_per_year - fleet.ops_install_usd_per_year_other_mode
            extra = (f" {fleet.truck_rolls_per_year:,.0f} truck rolls a year at "
                     f"{_usd(costs.fleet.truck_roll_usd)}; with ZTP the operations and "
                     f"installs would cost {_usd(saving)} a year less.")
        warnings.append(_warning(
            "no-ztp",
            "The fleet is priced without zero-touch provisioning: every fix is a truck roll "
            "and operations scale with the site count." + extra,
            **ops_fig, truck_roll_usd=costs.fleet.truck_roll_usd,
            sites=edge.get("sites")))

    # per-site redundancy against an extra site in the gap
    if fleet is not None and plan_summary is not None:
        red = float(fleet.sites.redundancy_usd_per_year.sum())
        per_site = fleet.sites.total_usd_per_year - fleet.sites.redundancy_usd_per_year
        site_cost = float(np.median(per_site)) if len(per_site) else math.nan
        exposed = float(population_exposed)
        proposed = plan_summary.get("proposed") or {}
        if red > 0 and exposed > 0 and math.isfinite(site_cost) and red >= site_cost:
            # a site that costs nothing but its redundancy (a cost model of zeros): no
            # count of extra sites, and no division by zero
            n_extra = int(red // site_cost) if site_cost > 0 else None
            worth = (f"the cost of {n_extra} more site(s) at {_usd(site_cost)} a year each"
                     if n_extra is not None else
                     "and a site costs nothing else a year at these prices")
            warnings.append(_warning(
                "per-site-redundancy",
                f"The fleet spends {_usd(red)} a year on per-site redundancy, {worth}, while "
                f"{exposed:,.0f} people are one site failure away from leaving the budget. "
                + _gap_text(proposed)
                + "At the edge the redundancy budget buys coverage, not nines.",
                redundancy_usd_per_year=red, site_usd_per_year=site_cost,
                extra_sites=n_extra, population_exposed=exposed,
                proposed_sites=proposed.get("proposed_sites")))
    order = {c: i for i, c in enumerate(CODES)}
    warnings.sort(key=lambda w: order[w["code"]])
    return decision, warnings


def _failure_exposed(doc: Mapping[str, Any], edge: Mapping[str, Any], rc: Mapping[str, Any],
                     plan_summary: Mapping[str, Any] | None,
                     population_exposed: float) -> dict[str, Any] | None:
    """The ``failure-exposed`` warning, or ``None``: a plan asked to survive k >= 1
    failures whose people within budget leave it, :data:`EXPOSED_SHARE` of them or more,
    when their nearest site fails (``population_exposed``, from the assignment, as
    ``per-site-redundancy`` counts them) or, for k >= 2, when the k nearest fail."""
    k = int(doc.get("failures") or 0)
    if not edge.get("feasible") or k < 1:  # N-0: exposure is what was asked for
        return None
    cov = edge.get("coverage") or {}
    safe, people = cov.get("population_n1_safe"), cov.get("population")
    if safe is None or people is None:
        return None
    exposed = float(population_exposed)
    within = float(safe) + exposed  # (both from the assignment)
    if not within > 0:
        return None
    ratio = exposed / within
    nk_share = cov.get("share_nk_safe") if k >= 2 else None
    exposed_k = (max(within - float(nk_share) * float(people), 0.0)
                 if nk_share is not None and math.isfinite(float(nk_share)) else None)
    ratio_k = None if exposed_k is None else exposed_k / within
    if not (ratio >= EXPOSED_SHARE or (ratio_k is not None and ratio_k >= EXPOSED_SHARE)):
        return None  # (a NaN figure says nothing either)
    summary = plan_summary or {}
    proposed = summary.get("proposed") or {}
    single = summary.get("population_single_coverable")
    why = (f" ({float(single):,.0f} people have a single candidate within budget, which "
           "no choice of sites can back up)"
           if isinstance(single, int | float) and math.isfinite(float(single))
           and single > 0 else "")
    through_k = (f", {_pct(nk_share)} through any {k} "
                 f"({counted(round(exposed_k), 'person', 'people')}, {_pct(ratio_k)}, "
                 "leave it then)"
                 if exposed_k is not None else "")
    return _warning(
        "failure-exposed",
        f"The edge plan (N-{k}) keeps {_pct(cov.get('share_within_budget'))} of the people "
        f"within budget with every site up, {_pct(cov.get('share_n1_safe'))} with any one "
        f"site down{through_k}: {counted(round(exposed), 'person', 'people')} "
        f"({_pct(ratio)} of those it keeps, threshold {_pct(EXPOSED_SHARE)}) "
        f"{'has' if round(exposed) == 1 else 'have'} no second chosen site within "
        f"budget{why}. The region keeps {_pct(rc['share_within_budget_n1'])} of the people "
        "within budget with two regions (so that one may fail). " + _gap_text(proposed)
        + "Weigh the edge at its share with sites down, or add candidates near them.",
        failures=k, population_within_budget=within, population_n1_safe=float(safe),
        population_exposed=exposed, exposed_share=ratio,
        population_exposed_nk=exposed_k, exposed_share_nk=ratio_k,
        threshold=EXPOSED_SHARE, population_single_coverable=single,
        share_within_budget=cov.get("share_within_budget"),
        share_n1_safe=cov.get("share_n1_safe"), share_nk_safe=nk_share,
        region_share_within_budget_n1=rc["share_within_budget_n1"],
        proposed_sites=proposed.get("proposed_sites"))


def region_meets_budget(share: float, preference_share: float) -> bool:
    """Whether the region's ``share`` of people within budget meets ``preference_share``
    (a region that keeps nobody never does, even at a preference of 0: tester 120)."""
    return bool(share >= preference_share and share > 0)


def _ratio(e_cost: float, r_cost: float) -> str:
    """The edge's price over the region's, ``1.3x`` (two figures below 0.1: ``0.031x``;
    between 0.95 and 1.05 three decimals or as many as tell it from 1, where one decimal
    read "1.0x" for 1.3 % dearer: tester 151)."""
    x = e_cost / r_cost
    if 0.95 <= x < 1.05 and x != 1.0:  # as many decimals as tell it from 1 (up to six)
        for places in range(3, 7):
            text = f"{x:.{places}f}"
            if float(text) != 1.0:
                return text + "x"
        return ("above" if x > 1 else "below") + " 1.000000x"
    return f"{x:,.1f}x" if x >= 0.1 else f"{x:.2g}x"


def verdict(doc: dict[str, Any], preference_share: float = 0.8) -> dict[str, Any]:
    """One paragraph and its keys: the recommendation and why, which side is cheaper per
    request, whether the region meets the budget, and what the warnings say.

    The recommendation follows the chapter's fork: ``"region"`` when the workload does not
    fit the edge, when the region already meets the budget for ``preference_share`` of the
    people and costs less, or when the edge keeps no more people within budget than the
    region; ``"either"`` when the region meets the budget but the few sites cost less (a
    small private region, not an edge fleet); else ``"edge"``, for the people only it
    keeps within budget (the price premium, if any, is stated). When neither side meets
    the budget for ``preference_share`` of the people, the reason says so; when the
    edge's capacity was checked on part of the failure scenarios only, the text says its
    price may be low.
    """
    edge, region = doc["edge"], doc["region"]
    def finite(x: Any) -> float | None:
        return float(x) if x is not None and math.isfinite(float(x)) else None

    e_cost = finite(edge.get("cost_per_million_requests"))
    e_share = edge["coverage"]["share_within_budget"] if edge["feasible"] else None
    r_cost = finite(region["cost_per_million_requests"])
    share = region["coverage"]["share_within_budget"]
    population = finite((edge.get("coverage") or {}).get("population"))  # all the people
    sovereign = finite(region["coverage"].get("population_sovereign"))
    sov_share = sovereign / population if sovereign and population else 0.0
    cheaper = (None if e_cost is None or r_cost is None else
               "edge" if e_cost < r_cost else "region")
    label = doc.get("budget_label") or f"{doc['budget_ms']:g} ms {doc['percentile']}"
    parts = [f"At {label} the nearest region keeps "
             f"{_pct(share)} of people within budget"]
    if edge["feasible"]:
        n_sites = int(edge["sites"])
        safe = edge["coverage"].get("share_n1_safe")
        # within budget with every site up; "through any one failure" only from the N-1
        # check's own figure (a plan asked for N-1 may still leave people single-covered)
        nk = edge["coverage"].get("share_nk_safe")
        resilience = (f", {_pct(safe)} also through any one site's failure"
                      if int(doc["failures"]) >= 1 and safe is not None else "")
        if resilience and nk is not None and int(doc["failures"]) >= 2:
            resilience += f" and {_pct(nk)} through any {int(doc['failures'])}"
        parts.append(f"the edge fleet of {n_sites} site{'' if n_sites == 1 else 's'} "
                     f"(planned for N-{doc['failures']}) keeps "
                     f"{_pct(edge['coverage']['share_within_budget'])}{resilience}; it "
                     f"costs {_usd(e_cost)} per million requests against the region's "
                     f"{_usd(r_cost)}"
                     + (f" ({_ratio(e_cost, r_cost)})" if e_cost and r_cost else ""))
    else:
        parts.append("no edge fleet can serve this workload")
    codes = [w["code"] for w in doc["warnings"]]
    text = "; ".join(parts) + "."
    price = ("" if not (e_cost and r_cost) else
             f", at {_ratio(e_cost, r_cost)} the region's price per request"
             if e_cost > r_cost else ", and costs less per request")
    met = region_meets_budget(share, preference_share)
    if not edge["feasible"]:
        rec = "region"
        why = "the workload does not fit the candidates' power envelopes"
        if not met:  # tester 120: "region" at 0 % within budget, without a word
            why += (f"; the region keeps only {_pct(share)} of people within budget, so "
                    "neither side meets it: a smaller model (--workload), more power at "
                    "the sites or a larger budget is the choice")
    elif met and cheaper == "edge" and e_share is not None and e_share >= share:
        rec = "either"
        n_sites = int(edge["sites"])
        why = (f"the region already meets the budget for {_pct(share)} of people, so the "
               f"budget is a preference here; the {n_sites} "
               f"site{'' if n_sites == 1 else 's'} cost{'s' if n_sites == 1 else ''} less "
               "per request only as a small private region would, not for "
               f"{'its' if n_sites == 1 else 'their'} latency")
    elif met:
        # tester 181: "either" for an edge fleet keeping 37.4 % within budget against the
        # region's 88.5 %, its price per request counted on the people it serves
        rec = "region"
        why = (f"the region already meets the budget for {_pct(share)} of people (at least "
               f"{_pct(preference_share)}): the budget is a preference here"
               + ("" if e_share is None or e_share >= share else
                  f"; the edge keeps fewer people within it ({_pct(e_share)})"))
    elif e_share == share and cheaper == "edge":
        rec = "either"
        why = (f"the edge keeps the same people within budget as the region "
               f"({_pct(share)}) and costs less per request, as a small private region "
               "would, not for its latency")
    elif e_share <= share:
        # tester 120: "edge (the edge keeps another -28.8 % ...)" for a fleet that kept
        # fewer people within budget than the region, at a higher price
        rec = "region"
        why = (f"the budget binds, but the edge keeps no more people within it "
               f"({_pct(e_share)} against the region's "
               f"{_pct(share)}): its candidates do not reach the people the region misses"
               + ("" if not (e_cost and r_cost) else
                  f"; it costs {_ratio(e_cost, r_cost)} the region's price per request"))
    else:
        rec = "edge"
        gain = e_share - share
        binds = ("the budget binds" if sov_share <= 0 else
                 f"the budget and data sovereignty bind ({_pct(sov_share)} of people may "
                 "not leave for a region)")
        exposed = ("" if "failure-exposed" not in codes else
                   " while every site is up (with any one site down it keeps "
                   f"{_pct(edge['coverage'].get('share_n1_safe'))}: failure-exposed)")
        why = (f"{binds}: the edge keeps another {_pct(gain)} of the people within it"
               f"{exposed}{price}")
    text += f" Recommendation: {rec} ({why})."
    sizing = edge.get("sizing") if isinstance(edge.get("sizing"), Mapping) else {}
    if edge["feasible"] and sizing.get("capacity_proof_holds") is False:
        short_by = sizing.get("capacity_proof_short_by")
        text += (" The edge fleet's capacity was checked on part of the failure scenarios "
                 "only (" + (short_by if isinstance(short_by, str) else "--scenario-limit")
                 + "): a fleet that carries every one may need more accelerators, so its "
                 "price may be low.")
    if region.get("same_model") is False:
        text += (f" The region is priced on {region.get('workload')}, another model than "
                 "the edge's (--region-workload): the two prices are not for the same "
                 "work.")
    if codes:
        text += " Warnings: " + ", ".join(codes) + "."
    return {"recommendation": rec, "reason": why, "cheaper_per_request": cheaper,
            "region_meets_budget_share": share, "warnings": codes, "text": text}
