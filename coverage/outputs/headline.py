"""The few lines ``edge-coverage plan`` prints after planning, from the plan's summary.

:func:`headline_lines` says what each number means: the site count and, when the candidates
carry a ``cost`` column, that the objective, bound and gap are costs; who is short of the
``k + 1`` sites the plan asks for and how many people stay within budget under ``0 .. k``
failures; the latency figures ("n/a" with the reason when there is none, never "nan"); and,
with ``--aggregate-km``, what binning the demand cost on the original points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..wording import counted, load_unit

__all__ = ["headline_lines", "service_class_lines"]

NA = "n/a"


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _utilisation_pct(x: float | None) -> str:
    """A utilisation as a percentage: whole percents, two decimals below 1 % (a fleet at
    0.13 % read "0%"), one from 99.5 % to 100 % (99.67 % read "100%", like a site at its
    capacity)."""
    if x is None:
        return NA
    if 0 < x < 0.01:
        return f"{x:.2%}"
    # one decimal just below a whole 100 %, at most 99.9: 99.67 % (and 99.996 %, which
    # read "100.0%": tester 131) is not saturation
    if 0.995 <= x < 1.0:
        return f"{min(round(x * 1000) / 10, 99.9):.1f}%"
    return f"{x:.0%}"


def _count(x: Any) -> str:
    """People or points: ``1,234``; ``1.000e+300`` when huge; ``n/a`` when missing."""
    v = _finite(x)
    if v is None:
        return NA
    return f"{v:.3e}" if abs(v) >= 1e15 else f"{v:,.0f}"


def _amount(x: Any) -> str:
    """A cost: whole numbers without decimals, others with two; huge ones scientific."""
    v = _finite(x)
    if v is None:
        return NA
    if abs(v) >= 1e15:
        return f"{v:.4e}"
    return f"{v:,.0f}" if v == round(v) else f"{v:,.2f}"


def _ms(x: Any, why: str) -> str:
    v = _finite(x)
    return f"{v:.1f} ms" if v is not None else f"{NA} ({why})"


def _why_no_mean(population: Any) -> str:
    """Why a population-weighted mean latency is missing: nobody within budget, or no
    weights at all (every population 0, whoever is within budget)."""
    return ("every population is 0: no weights" if _finite(population) == 0
            else "nobody within budget")


def _share(part: Any, total: Any, digits: int = 1) -> str:
    """``part`` of ``total`` as a percentage; never rounded up to 100 % (or down to 0 %)
    when it is not all (none): 1 person short of 2e10 reads ">99.9%", not "100.0%"; one
    person of 2e10 reads "<0.1%", not "0.0%" (a tester's find)."""
    p, t = _finite(part), _finite(total)
    if p is None or t is None or t <= 0:
        return NA
    x = p / t
    step = 10.0 ** -(digits + 2)
    if p < t and x >= 1 - step / 2:
        return f">{1 - step:.{digits}%}"
    if p > 0 and x < step / 2:
        return f"<{step:.{digits}%}"
    return f"{x:.{digits}%}"


def objective(s: Mapping[str, Any]) -> str:
    """``"cost"`` when the site-count stage minimised total cost (a ``cost`` column), else
    ``"count"`` (summaries written before the ``objective`` key: from the parameters)."""
    obj = s.get("objective")
    if obj in ("cost", "count"):
        return str(obj)
    return "cost" if (s.get("parameters") or {}).get("objective") == "min_cost" else "count"


def _sites_line(s: Mapping[str, Any]) -> str:
    status = str(s.get("status"))
    optimal = status == "optimal"
    gap = _finite(s.get("mip_gap"))
    gap_text = NA if gap is None else f"{gap:.1%}"
    line = f"sites: {_count(s.get('site_count'))}"
    if s.get("objective") == "max_cover":  # --max-sites P: the most people within budget
        safe = s.get("secondary_failures", 1)
        by = (" by failure domains" if str(s.get("secondary_objective", "")).endswith(
            "_by_domains") else "")
        text = (f" (best {_count(s.get('max_sites'))}: most people within budget, "
                f"{_count(s.get('objective_value'))}; then most N-{safe} safe{by}, "
                f"{_count(s.get('secondary_value'))}")
        if optimal:
            return line + text + "; both proven optimal)"
        return (line + text + f"; {status}: proven upper bound "
                f"{_count(s.get('upper_bound'))} people, gap {gap_text})")
    if s.get("objective") == "p_center":  # --objective p-center --max-sites P
        worst = _finite(s.get("worst_latency_ms"))
        bound = _finite(s.get("lower_bound"))
        text = (f" (best {_count(s.get('max_sites'))}: lowest worst latency, "
                f"{NA if worst is None else f'{worst:.2f} ms'}")
        if optimal:
            return line + text + ", proven optimal)"
        return (line + text + f"; {status}: proven lower bound "
                f"{NA if bound is None else f'{bound:.2f} ms'})")
    if objective(s) == "cost":
        value = s.get("objective_value")
        if optimal:
            return line + f" (optimal: cheapest plan; total cost {_amount(value)})"
        return (line + f" ({status}; total cost {_amount(value)}, proven lower bound on the "
                f"cost {_amount(s.get('lower_bound'))}, cost gap {gap_text})")
    cap = s.get("capacity") or {}
    if status == "unproven" or (optimal and not cap.get("scenarios_complete", True)):
        # the capacity check's list was cut at the scenario limit (k >= 3 on a large plan)
        return (line + f" (unproven: the fewest that carry the load in the failure "
                f"scenarios checked, {_count(cap.get('scenarios_checked'))} of "
                f"{_count(cap.get('scenarios_total'))}, the riskiest first; NOT proven to "
                "carry it in the others)")
    if optimal:
        return line + " (optimal: proven fewest)"
    if status == "time_limit_short":  # a capacitated plan that does not carry the load
        return (line + f" (NOT a feasible plan: short of capacity in a failure scenario; "
                f"proven lower bound {_count(s.get('lower_bound'))} sites; see "
                "capacity_scenarios.csv)")
    return (line + f" ({status}; proven lower bound {_count(s.get('lower_bound'))} sites, "
            f"gap {gap_text})")


def _population_lines(s: Mapping[str, Any], k: int) -> list[str]:
    total = s.get("population_total")
    parts = [f"population: {_count(total)} total, {_count(s.get('population_covered'))} "
             "within budget of a site"]
    if "population_gap" in s:
        # a plan that fails whole failure domains counts its statuses in domains
        unit = "domain" if s.get("statuses_by") == "failure domains" else "site"
        short = [f"{_count(s.get('population_uncoverable'))} uncoverable"]
        if k >= 1:
            short.insert(0, f"{_count(s.get('population_single_coverable'))} "
                         + ("single-coverable" if unit == "site" else "in one domain"))
        if k >= 2:
            short.insert(1, f"{_count(s.get('population_partial'))} with "
                                + (f"2 {unit}s" if k == 2 else f"2-{k} {unit}s"))
        parts.append(f"{_count(s.get('population_gap'))} short of {k + 1} {unit}"
                     f"{'' if k == 0 else 's'} ({', '.join(short)})")
    else:  # a summary written before the status scheme followed k
        parts.append(f"{_count(s.get('population_single_coverable'))} single-coverable, "
                     f"{_count(s.get('population_uncoverable'))} uncoverable")
    lines = [", ".join(parts[:1]) + "; " + "; ".join(parts[1:])]
    safe = s.get("population_safe_by_failures")
    if isinstance(safe, Mapping) and safe:
        lines.append("within budget whatever j sites fail (N-j): " + ", ".join(
            f"{key} {_count(v)} ({_share(v, total)})" for key, v in safe.items()))
    by_domain = s.get("population_safe_by_domain_failures")
    if isinstance(by_domain, Mapping) and by_domain:  # (shared-risk domains: tester 154)
        lines.append("within budget whatever j failure domains fail: " + ", ".join(
            f"{key} {_count(v)} ({_share(v, total)})" for key, v in by_domain.items()))
    return lines


def _aggregation_line(s: Mapping[str, Any]) -> str | None:
    agg = s.get("aggregation")
    if not isinstance(agg, Mapping):
        return None
    short = agg.get("n_demand_short", agg.get("cells_short"))
    share = _finite(agg.get("population_short_share"))
    share_text = NA if share is None else f"{share:.2%}"
    cell = _finite(agg.get("cell_km"))
    size = (f"H3 cells of resolution {agg['h3_res']}" if agg.get("h3_res") is not None
            else f"cells of {'n/a' if cell is None else f'{cell:g}'} km")
    return (f"aggregation: {_count(agg.get('demand_points_in'))} demand points binned into "
            f"{_count(agg.get('demand_points_solved'))} {size} ({agg.get('mode')}); the figures "
            "above are over the bins (each bin's people at its centre), not the original "
            f"points. On the original points, {_count(short)} "
            f"({_count(agg.get('population_short'))} people, {share_text}) are short of "
            "their own requirement" + _original_coverage(agg, s))


def _nk(s: Mapping[str, Any]) -> str:
    """The k of a summary's N-k (``failures_tolerated``), as text."""
    k = _finite(s.get("failures_tolerated"))
    return "k" if k is None else f"{int(k)}"


def _original_coverage(agg: Mapping[str, Any], s: Mapping[str, Any]) -> str:
    """The original points' own coverage (``summary.json["aggregation"]``; a summary
    written before it has none): where a bin's centre reaches a site that some of its
    points do not, the bins' figures count those people as within budget."""
    covered = _finite(agg.get("population_covered"))
    if covered is None:
        return ""
    return (f"; {_count(covered)} people within budget of a chosen site, "
            f"{_count(agg.get('population_nk_safe'))} N-{_nk(s)} safe, "
            f"{_count(agg.get('population_uncoverable'))} with no candidate within budget")


def headline_lines(summary: Mapping[str, Any], *, access: str | None = None) -> list[str]:
    """The lines printed after a plan, from its summary (``summary.json``).

    Parameters
    ----------
    summary : mapping
        :meth:`coverage.Plan.summary` or the content of ``summary.json`` (missing figures
        are shown as "n/a").
    access : str, optional
        Access class named with the radius when the summary has no ``max_radius_access``
        (the class of the largest radius present); ``parameters.access_default`` when
        omitted too.

    Returns
    -------
    list of str
        One line each: sites (and cost), budget, population and gaps, population within
        budget under 0 .. k failures (when the summary has it), aggregation losses (with
        ``--aggregate-km``), latency. No line contains "nan", "None" or "inf".

    Examples
    --------
    >>> headline_lines({"site_count": 3, "status": "optimal", "objective": "count",
    ...                 "budget_ms": 30.0, "percentile": "p99", "max_radius_km": 2000.0,
    ...                 "failures_tolerated": 1, "mean_latency_ms": float("nan")},
    ...                access="ftth")[0]
    'sites: 3 (optimal: proven fewest)'
    """
    s = summary
    k_value = _finite(s.get("failures_tolerated"))
    k = int(k_value) if k_value is not None else 1
    access = str(s.get("max_radius_access") or access
                 or (s.get("parameters") or {}).get("access_default", "default"))
    budget = _finite(s.get("budget_ms"))
    radius = _finite(s.get("max_radius_km"))
    classes = s.get("by_service_class") if isinstance(s.get("by_service_class"), list) else []
    several = len(classes) > 1
    percentile, own = s.get("percentile", ""), ""
    if len(classes) == 1 and isinstance(classes[0], dict):
        # one class whose budget is not the default: every row has its own (a budget_ms or
        # service_class column), and the default budget applies to nobody
        only = classes[0]
        class_budget = _finite(only.get("budget_ms"))
        if class_budget is not None and (
                budget is None or abs(class_budget - budget) > 1e-9
                or only.get("percentile", percentile) != percentile):
            budget, percentile = class_budget, only.get("percentile", percentile)
            own = f" (every row's own: {only.get('service_class', 'its column')})"
    budget_text = (f"{'default budget (rows without their own): ' if several else 'budget: '}"
                   f"{NA if budget is None else f'{budget:g} ms'} {percentile}{own}")
    default_label = (s.get("parameters") or {}).get("budget_preset") or "default"
    if several and all(isinstance(c, dict) and c.get("service_class") != default_label
                       for c in classes):
        budget_text = "budgets: every row's own (the classes below)"  # none on the default
    lines = [
        _sites_line(s),
        # (with several classes the largest radius of any row at its own budget, not the
        # default budget's: tester 153 read 1,244 km of a 40 ms class as a 26 ms radius)
        f"{budget_text}, {'largest radius of any row at its own budget ' if several else 'radius '}"
        f"{NA if radius is None else f'{radius:.0f} km'} ({access}"
        f"{'; past the antipode: anywhere on Earth' if radius and radius > _ANTIPODE_KM else ''}"
        f"), tolerating {counted(k, 'failure')}",
        *_population_lines(s, k),
        *service_class_lines(s),
    ]
    agg = _aggregation_line(s)
    if agg:
        lines.append(agg)
    lines.append(
        "mean primary latency (p50): "
        f"{_ms(s.get('mean_latency_ms'), _why_no_mean(s.get('population_total')))}"
        f"; worst under N-1: {_ms(s.get('n1_worst_latency_ms'), 'no user has a second site')}"
        "; population outside budget under the worst failure: "
        f"{_count(s.get('n1_population_outside_budget'))}"
        + (" (over the bins)" if agg else "")
    )
    for domains in (False, True):
        nk = nk_line(s, k, domains=domains)
        if nk:
            lines.append(nk)
    pl = placement_line(s)
    if pl:
        lines.append(pl)
    ro = rollout_line(s)
    if ro:
        lines.append(ro)
    cap = capacity_line(s)
    if cap:
        lines.append(cap)
    lm = _latency_model_line(s.get("latency_model"))
    if lm:
        lines.append(lm)
    return lines


#: Half the Earth's circumference, km: a radius beyond it reaches every point.
_ANTIPODE_KM = 20_015.1


def nk_line(s: Mapping[str, Any], k: int, *, domains: bool = False) -> str | None:
    """The N-k line of a plan tolerating ``k >= 2`` failures: the worst latency under any
    ``k`` failures and the people the single worst set of ``k`` pushes outside budget
    (``None`` for ``k < 2`` or a summary without the figures); with ``domains``, the same
    for ``k`` whole failure domains (``summary["domain_failures"]``'s ``nk_*`` figures)."""
    if domains:
        got = s.get("domain_failures")
        s = got if isinstance(got, Mapping) else {}
    if k < (1 if domains else 2) or s.get("nk_failures") is None:
        return None  # (by sites, k = 1 is the N-1 line; by domains it is shown too)
    what = "whole failure domains failing" if domains else "simultaneous failures"
    if k == 1:
        what = "whole failure domain failing"
    line = (f"under any {k} {what}: worst latency "
            f"{_ms(s.get('nk_worst_latency_ms'), 'no user keeps a site')}")
    worst = s.get("nk_worst_set_population_outside_budget")
    if worst is not None:
        ids = s.get("nk_worst_set_domains" if domains else "nk_worst_set_site_ids") or []
        ids = ids if isinstance(ids, list) else []  # (a hand-edited summary.json)
        if ids:
            named = ", ".join(map(str, ids[:k]))
            if len(ids) < k:  # the other failures of the set push no one further out
                rest = k - len(ids)
                named += ("; any other failure adds no one" if rest == 1
                          else f"; any other {rest} failures add no one")
            line += f"; the worst set of {k} ({named}) pushes {_count(worst)} outside budget"
        else:  # no set of k sites pushes anyone out: none is named
            line += f"; no set of {k} pushes anyone outside budget"
        if s.get("nk_worst_set_status") != "optimal":
            line += (f" (not proven the worst: at most "
                     f"{_count(s.get('nk_worst_set_upper_bound'))})")
    if k == 1:  # (no worst set: the worst single domain is domain_failures.csv's first)
        return (line + f"; {_count(s.get('nk_population_outside_budget'))} people are "
                "pushed outside budget by some domain's failure")
    return (line + f"; {_count(s.get('nk_population_outside_budget'))} people have some "
            f"set of {k} that does")


def placement_line(s: Mapping[str, Any]) -> str | None:
    """The k-median placement in one line: its status and, when not proven optimal, its
    distance to the proven lower bound (``kmedian_gap``); ``None`` when it was skipped or
    the summary has no status.

    Examples
    --------
    >>> print(placement_line({"kmedian_status": "local_search", "kmedian_gap": 0.0038}))
    ... # doctest: +NORMALIZE_WHITESPACE
    placement (k-median, population-weighted p50): local search, gap 0.38 % (its proven
    lower bound is 0.38 % below its objective)
    >>> print(placement_line({"kmedian_status": "optimal", "kmedian_gap": 0.0}))
    placement (k-median, population-weighted p50): optimal
    >>> print(placement_line({"kmedian_status": "within_gap", "kmedian_gap": 0.0029,
    ...                       "kmedian_gap_asked": 0.005}))
    ... # doctest: +NORMALIZE_WHITESPACE
    placement (k-median, population-weighted p50): within the 0.5 % gap asked
    (--kmedian-gap-pct), gap 0.29 % (its proven lower bound is 0.29 % below its objective)
    """
    status = s.get("kmedian_status")
    if not isinstance(status, str) or status.startswith("skipped"):
        return None
    head = "placement (k-median, population-weighted p50): "
    if status == "optimal":
        return head + "optimal"
    gap = _finite(s.get("kmedian_gap"))
    what = status.replace("_", " ")
    asked = _finite(s.get("kmedian_gap_asked"))
    if status == "within_gap" and asked is not None:
        what = f"within the {100 * asked:g} % gap asked (--kmedian-gap-pct)"
    if gap is None:
        if (_finite(s.get("kmedian_lower_bound_ms_pop")) is not None
                and _finite(s.get("kmedian_objective_ms_pop")) is None):
            # (a capacitated plan whose flow was not priced in the time: tester 131)
            return head + (f"{what}, its objective not computed (see summary.json "
                           "placement), a lower bound stated")
        return head + f"{what}, no lower bound"
    return head + (f"{what}, gap {100 * gap:.2f} % (its proven lower bound is "
                   f"{100 * gap:.2f} % below its objective)")


def rollout_line(s: Mapping[str, Any]) -> str | None:
    """The rollout order in one line (``summary["rollout"]``), or ``None`` without one:
    sites to open for 50 %, 90 % and all of the plan's population within budget.

    Examples
    --------
    >>> print(rollout_line({"rollout": {"steps": 412, "steps_to_covered":
    ...                     {"50pct": 15, "90pct": 94, "100pct": 289}}}))
    ... # doctest: +NORMALIZE_WHITESPACE
    rollout order (rollout.csv): 50 % of the covered population with 15 of the 412
    sites, 90 % with 94, all with 289
    """
    r = s.get("rollout")
    if not isinstance(r, Mapping) or not _finite(r.get("steps")):
        return None
    to = r.get("steps_to_covered") or {}
    if r.get("steps") == 1:
        return "rollout order (rollout.csv): one site, which covers everyone it can"
    return (f"rollout order (rollout.csv): 50 % of the covered population with "
            f"{_count(to.get('50pct'))} of the {_count(r.get('steps'))} sites, 90 % with "
            f"{_count(to.get('90pct'))}, all with {_count(to.get('100pct'))}")


def worst_over_every_scenario(c: Mapping[str, Any]) -> bool:
    """Whether the worst utilisation of ``summary["capacity"]`` is over every scenario
    (``worst_utilisation_over``; for a summary from before it, every scenario checked).
    Else it is over the scenarios checked: those implied are feasible, but their
    utilisation was not computed; those cut were not checked."""
    over = c.get("worst_utilisation_over")
    if over is not None:
        return over == "every scenario"
    checked, total = c.get("scenarios_checked"), c.get("scenarios_total")
    return not (isinstance(checked, int | float) and isinstance(total, int | float)
                and checked < total)


def worst_scope(c: Mapping[str, Any]) -> str:
    """What the worst utilisation of ``summary["capacity"]`` is the worst of, in words."""
    if worst_over_every_scenario(c):
        return "worst, any scenario"
    implied = _finite(c.get("scenarios_implied_evaluated"))
    also = (f" and {_count(implied)} implied (the time limit ended their evaluation)"
            if implied else "")
    return f"worst over the {_count(c.get('scenarios_checked'))} scenarios checked{also}"


def capacity_line(s: Mapping[str, Any]) -> str | None:
    """The capacitated plan in one line (``summary["capacity"]``), or ``None``: peak load,
    what the chosen sites carry, utilisation, the N-k scenarios checked, and the mean p50
    latency of the normal-operation flow."""
    c = s.get("capacity")
    excluded = _finite(s.get("candidates_excluded"))
    out = []
    if excluded:
        out.append(f"{int(excluded):,} candidate(s) cannot host the workload (excluded)")
    if isinstance(c, Mapping):
        k_value = _finite(s.get("failures_tolerated"))
        k = int(k_value) if k_value is not None else 1
        fleet = _finite(c.get("fleet_utilisation"))
        worst = _finite(c.get("worst_utilisation"))
        shed = _finite(c.get("load_shed_max_rps"))
        unit = load_unit(c)  # requests/s of the run's workload when classes share a pool
        away = _finite(c.get("load_out_of_reach_rps"))
        out.append(
            f"capacity: {_count(c.get('load_total_rps'))} {unit} at peak"
            + (f" ({_count(away)} of them with no candidate within budget: served by no "
               "site)" if away else "") + " on "
            f"{_count(c.get('capacity_total_rps'))} {unit} of capacity; utilisation "
            f"{_utilisation_pct(fleet)} (fleet), {_utilisation_pct(worst)} ("
            + worst_scope(c) + "); "
            f"{_count(c.get('sites_below_40pct'))} site(s) below 40 %; "
            f"{_count(c.get('scenarios_checked'))} N-{k} scenario(s) checked"
            + (" (failures of shared-risk domains)"
               if c.get("failure_domains") not in (None, "each site") else "")
            + (" (not all: --scenario-limit)" if not c.get("scenarios_complete", True)
               else f" (of {_count(c.get('scenarios_total'))}: the others implied)"
               if (c.get("scenarios_total") or 0) > (c.get("scenarios_checked") or 0)
               else "")
            + f", load shed at most {NA if shed is None else f'{shed:,.1f}'} {unit}")
        flow_p50 = _finite(c.get("normal_flow_mean_p50_ms"))
        if flow_p50 is not None:  # flows.csv's: where the load goes, not the nearest site
            out.append(f"mean p50 of the normal-operation flow (flows.csv): {flow_p50:.1f} ms")
        sizing = c.get("sizing")
        if isinstance(sizing, Mapping):  # --sizing least
            least = _finite(sizing.get("capacity_rps"))
            share = _finite(sizing.get("share_of_capacity"))
            out.append(
                f"least capacity carrying every scenario (sites.csv sized_capacity_rps): "
                f"{_count(least)} {unit}"
                + ("" if share is None else
                   f" ({100 * share:.1f} % of the chosen sites' capacity)")
                if least is not None else
                f"least capacity carrying every scenario: {sizing.get('status')}")
    return "; ".join(out) if out else None


def service_class_lines(s: Mapping[str, Any]) -> list[str]:
    """One line per service class (``summary["by_service_class"]``), only when more than
    one class is present: its budget and percentile, people within budget (N-0), N-k safe,
    uncoverable, and the mean primary p50 latency."""
    classes = s.get("by_service_class")
    if not isinstance(classes, list) or len(classes) < 2:
        return []
    k_value = _finite(s.get("failures_tolerated"))
    k = int(k_value) if k_value is not None else 1
    lines = []
    for c in classes:
        if not isinstance(c, Mapping):
            continue
        b = _finite(c.get("budget_ms"))
        pop = c.get("population")
        lines.append(
            f"class {c.get('service_class')}: {NA if b is None else f'{b:g} ms'} "
            f"{c.get('percentile', '')}, {_count(c.get('n_demand'))} points, {_count(pop)} "
            f"people; {_count(c.get('population_within_budget'))} "
            f"({_share(c.get('population_within_budget'), pop)}) within budget, "
            f"{_count(c.get('population_safe'))} ({_share(c.get('population_safe'), pop)}) "
            f"N-{k} safe, {_count(c.get('population_uncoverable'))} uncoverable; mean p50 "
            f"{_ms(c.get('mean_latency_ms'), _why_no_mean(pop))}")
    return lines


def _latency_model_line(lm: Any) -> str | None:
    """``latency model: internet (route factor 2.28, overhead 6.4/10.3 ms p50/p99; median
    error 6.4 ms against 11,294 measured pairs)``, or ``None`` without one."""
    if not isinstance(lm, Mapping):
        return None
    rf, over = _finite(lm.get("route_factor")), lm.get("overhead_ms") or {}
    o50, o99 = _finite(over.get("p50")), _finite(over.get("p99"))
    text = (f"latency model: {lm.get('profile', NA)} (route factor "
            f"{NA if rf is None else f'{rf:.2f}'}, overhead "
            f"{NA if o50 is None else f'{o50:.1f}'}/{NA if o99 is None else f'{o99:.1f}'} ms "
            "p50/p99")
    err = lm.get("measured_error") or {}
    mae, pairs = _finite(err.get("median_abs_error_ms")), _finite(err.get("pairs"))
    if mae is not None and pairs is not None:
        text += f"; median error {mae:.1f} ms against {int(pairs):,} measured pairs"
    return text + ")"
