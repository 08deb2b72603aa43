"""``report.html``: a self-contained page that explains a plan.

:func:`render_report` turns the tables of a plan directory (:class:`ReportData`: the content
of ``summary.json``, ``sites.csv``, ``assignment.csv``, ``failures.csv``,
``proposed_sites.csv`` and ``sweep.csv``) into one HTML page with no external asset and no
script: the plots are SVG drawn by Matplotlib (object API, no display, no pyplot state) and
embedded as ``data:`` images, and every text that comes from the data (ids, names, file
names) is HTML-escaped. Every figure taken from ``summary.json`` carries its key and raw
value (``data-key``, ``data-value``) so that tests and scripts can check it against the file.

Sections: headline figures, site count against the budget (the sweep), the rollout order
(population within budget and N-1 safe against the number of sites opened, with the bound of
``rollout.csv``), the population-weighted latency distribution in normal operation and
under each user's worst single failure, per-site load and utilisation, for a capacitated
plan its capacity (utilisation of every site and the failure scenarios of
``capacity_scenarios.csv``), the criticality ranking of site failures, the coverage gaps and
proposed sites, the model parameters and the inputs with their checksums.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..resilience.status import COVERAGE_STATUSES, is_gap, status_label, status_meaning
from ..wording import load_unit
from .headline import objective, worst_over_every_scenario

__all__ = ["ReportData", "render_report", "site_loads", "criticality", "latency_curves",
           "capacity_sites", "worst_scenarios", "SECTIONS", "OPTIONAL_SECTIONS"]

SECTIONS = ("summary", "sweep", "rollout", "latency", "sites", "criticality", "gaps",
            "parameters", "inputs")
"""``id`` of every ``<section>`` of the report, in page order (an uncapacitated plan with
one service class; see :data:`OPTIONAL_SECTIONS`)."""

OPTIONAL_SECTIONS = {"compare": "summary", "service-classes": "summary", "capacity": "sites"}
"""Sections only some plans have (a comparison with the region, ``edge-coverage compare``;
more than one service class; a capacitated plan), each with the section it follows (the
service-class section follows the comparison when both are present)."""

CAPACITY_SITE_ROWS = 50
"""Sites in the capacity section's table (highest utilisation first)."""
CAPACITY_WORST_SCENARIOS = 10
"""Failure scenarios in the capacity section's table (highest worst utilisation first)."""
THIN_UTILISATION = 0.4
"""Normal-operation utilisation below which a site is thin (the domain's warning)."""

MARKED_BUDGETS_MS = (30.0, 50.0, 100.0)
MAX_TABLE_ROWS = 500
_PLOT_ROWS = 30


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows: the tables of a plan directory.

    Attributes
    ----------
    summary : dict
        Content of ``summary.json``.
    sites, assignment, failures, proposed, sweep : pandas.DataFrame
        ``sites.csv``, ``assignment.csv``, ``failures.csv``, ``proposed_sites.csv`` and
        ``sweep.csv``. As read back by :func:`~coverage.outputs.plandir.load_plan_dir`,
        ``assignment`` holds the columns the report uses only, the site ids and
        ``coverage_status`` as categories.
    capacity_scenarios : pandas.DataFrame or None
        ``capacity_scenarios.csv`` of a capacitated plan (``None`` otherwise).
    rollout : pandas.DataFrame or None
        ``rollout.csv`` (``None``: the directory has none; the section says why).
    gis_files : tuple of str or None
        The GIS files of the directory (``plan.gpkg``, ``demand.parquet``,
        ``sites.parquet``) that were written, which the report names (``None``: not known;
        it names none as written).
    """

    summary: dict[str, Any]
    sites: pd.DataFrame
    assignment: pd.DataFrame
    failures: pd.DataFrame
    proposed: pd.DataFrame
    sweep: pd.DataFrame
    capacity_scenarios: pd.DataFrame | None = None
    rollout: pd.DataFrame | None = None
    compare: dict[str, Any] | None = None
    edited: tuple[str, ...] = ()
    """Files of the directory changed since the tool wrote them (by the marker's record):
    the report says so at the top, since its figures come from the edited files."""
    gis_files: tuple[str, ...] | None = None


# --------------------------------------------------------------------------- formatting


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


_HUGE = 1e15
"""Figures from this magnitude are printed in scientific notation; the breakeven plot is not
drawn for them."""

NA = "n/a"
"""What the page shows for a missing or non-finite figure (never nan, None or inf)."""


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    return isinstance(x, float | np.floating) and math.isnan(float(x))


def _not_finite(x: Any) -> bool:
    return _missing(x) or (isinstance(x, float | np.floating) and not math.isfinite(float(x)))


def _num(x: Any, digits: int = 0, unit: str = "") -> str:
    if _missing(x):
        return NA
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    if not math.isfinite(v):
        return NA
    text = f"{v:.3e}" if abs(v) >= _HUGE else f"{v:,.{digits}f}"
    return text + (f" {unit}" if unit else "")


def _number(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when it is not a number (text, a list, ...)."""
    if isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return None


def _whole(x: Any, default: int) -> int:
    """``x`` as an int when it is a finite number, else ``default``."""
    v = _number(x)
    return int(v) if v is not None and math.isfinite(v) else default


def _when_fail(k: int) -> str:
    """When a plan tolerating ``k`` failures keeps people within budget, in words."""
    if k <= 0:
        return "with every site up (no failure tolerated)"
    return "when any one site fails" if k == 1 else f"when any {k} sites fail"


def _pct(x: Any, digits: int = 1) -> str:
    if _not_finite(x):
        return NA
    v = _number(x)
    if v is None:
        return _e(x)
    return NA if not math.isfinite(v) else f"{v:.{digits}%}"


def _ms(x: Any) -> str:
    return _num(x, 1, "ms")


def _budget_number(x: Any) -> str:
    """A budget as given, without a unit (31.5, 39.99: rounded to whole ms they read as
    another budget of the same table)."""
    v = _number(x)
    if v is None:
        return NA if _missing(x) else _e(x)
    return _e(f"{v:,.6g}") if math.isfinite(v) else NA


def _budget(x: Any) -> str:
    if _not_finite(x):
        return NA
    v = _number(x)
    if v is None:
        return _e(x)
    return NA if not math.isfinite(v) else _e(f"{v:g} ms")


def _raw(x: Any) -> str:
    """JSON text of a value for ``data-value`` (NaN as null)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        x = None
    return json.dumps(x, sort_keys=True, default=str)


def _cell(key: str, value: Any, text: str) -> str:
    return f'<td data-key="{_e(key)}" data-value="{_e(_raw(value))}">{text}</td>'


def _kv_table(rows: Iterable[tuple[str, str, Any, str]], css: str = "kv") -> str:
    """Rows of (label, data-key, raw value, formatted text) as a two-column table."""
    body = "".join(f"<tr><th>{_e(label)}</th>{_cell(key, value, text)}</tr>"
                   for label, key, value, text in rows)
    return f'<table class="{css}"><tbody>{body}</tbody></table>'


Formatter = Callable[[Any], str]


def _table(df: pd.DataFrame, columns: Sequence[tuple[str, str, Formatter]],
           total: int | None = None, what: str = "rows", numeric: Iterable[str] = ()) -> str:
    """An HTML table of ``df`` (escaped), ``columns`` = (column, header, formatter)."""
    numeric = set(numeric)
    cols = [(c, h, f) for c, h, f in columns if c in df.columns]
    cls = {c: ' class="n"' if c in numeric else "" for c, _, _ in cols}
    head = "".join(f"<th{cls[c]}>{_e(h)}</th>" for c, h, _ in cols)
    body = []
    values = {c: df[c].tolist() for c, _, _ in cols}
    for i in range(len(df)):
        cells = "".join(f"<td{cls[c]}>{f(values[c][i])}</td>" for c, _, f in cols)
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if total is not None and total > len(df):
        note = f'<p class="note">First {len(df):,} of {total:,} {_e(what)}.</p>'
    return (f'<table class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{note}')


def _text(x: Any) -> str:
    return NA if _missing(x) else _e(x)


def _bool(x: Any) -> str:
    if _missing(x):
        return NA
    return "yes" if str(x).lower() in ("true", "1") else "no"


# --------------------------------------------------------------------------- analysis


def weighted_quantiles(values: npt.ArrayLike, weights: npt.ArrayLike,
                       q: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Population-weighted quantiles (the smallest value whose weighted CDF reaches ``q``)."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if not len(v) or w.sum() <= 0:
        return np.full(q.shape, np.nan)
    order = np.argsort(v, kind="stable")
    cw = np.cumsum(w[order])
    cw /= cw[-1]
    idx = np.minimum(np.searchsorted(cw, q - 1e-12, side="left"), len(v) - 1)
    return v[order][idx]


def latency_curves(assignment: pd.DataFrame, percentile: str,
                   failures: int = 1) -> dict[str, pd.DataFrame]:
    """Latency of every served user, normal and under its worst single failure, and with
    failure domains under its worst ``failures`` whole-domain failures.

    A user's worst single failure is the failure of its primary site: it is then served by
    the nearest surviving site (``n1_latency_ms``); no other single failure changes its
    latency. The p50 latency under failure is the failure latency shifted by the user's own
    (p50 - percentile) offset, which does not depend on distance. With failure domains
    (``domain_nk_latency_ms``) a last curve, at the percentile: the nearest chosen site of
    the user's ``(failures + 1)``-th nearest domain.

    Parameters
    ----------
    assignment : pandas.DataFrame
        ``assignment.csv``.
    percentile : str
        The budget percentile (``primary_latency_ms`` and ``n1_latency_ms`` are at it).
    failures : int, default 1
        The plan's ``k`` (the domains' curve's label).

    Returns
    -------
    dict of str to pandas.DataFrame
        Curve label -> ``latency_ms, population`` (finite latencies only).
    """
    a = assignment
    pop = a["population"].to_numpy(dtype=np.float64)
    p50 = a["primary_p50_ms"].to_numpy(dtype=np.float64)
    pct = a["primary_latency_ms"].to_numpy(dtype=np.float64)
    n1 = a["n1_latency_ms"].to_numpy(dtype=np.float64)
    curves = {"normal, p50": p50}
    if percentile != "p50":
        curves[f"normal, {percentile}"] = pct
    curves["worst single failure, p50"] = n1 + (p50 - pct)
    if percentile != "p50":
        curves[f"worst single failure, {percentile}"] = n1
    if "domain_nk_latency_ms" in a.columns:
        what = ("single domain failure" if failures <= 1
                else f"{failures} domain failures")
        curves[f"worst {what}, {percentile}"] = a["domain_nk_latency_ms"].to_numpy(
            dtype=np.float64)
    budget = (a["budget_ms"].to_numpy(dtype=np.float64) if "budget_ms" in a.columns
              else np.full(len(a), np.nan))
    out = {}
    for label, lat in curves.items():
        ok = np.isfinite(lat)
        out[label] = pd.DataFrame({"latency_ms": lat[ok], "population": pop[ok],
                                   "budget_ms": budget[ok]})
    return out


def _group_key(ids: pd.Series) -> pd.Series:
    """Site ids to group on: categories as they are (no text copy per row), else text."""
    return ids if isinstance(ids.dtype, pd.CategoricalDtype) else ids.astype(str)


def site_loads(sites: pd.DataFrame, assignment: pd.DataFrame) -> pd.DataFrame:
    """Per-site load in normal operation and under the worst single failure of another site.

    When site ``f`` fails its users move to their nearest surviving site (``n1_site_id``;
    ``backup_site_id`` for plan directories written before that column existed). A site's
    peak load is its own users plus the largest group that any one failure sends to it; its
    utilisation is normal load / peak load, the share of the N-1 capacity it uses every day.

    Parameters
    ----------
    sites : pandas.DataFrame
        ``sites.csv``.
    assignment : pandas.DataFrame
        ``assignment.csv``.

    Returns
    -------
    pandas.DataFrame
        ``site_id, name, tier, population_primary, n_demand_primary, population_backup,
        peak_load, peak_failure_site_id, utilisation, share_of_population``, by peak load.
    """
    to = "n1_site_id" if "n1_site_id" in assignment.columns else "backup_site_id"
    # the three columns of the moved rows only, grouped by codes (a national table is 10M
    # rows of 30 columns: a copy of it, and a groupby by two text keys, held gigabytes)
    keep = (assignment["primary_site_id"].notna() & assignment[to].notna()).to_numpy()
    fc, fu = pd.factorize(_group_key(assignment["primary_site_id"][keep]))
    tc, tu = pd.factorize(_group_key(assignment[to][keep]))
    width = max(len(tu), 1)
    pairs, inverse = np.unique(fc.astype(np.int64) * width + tc, return_inverse=True)
    moved = pd.DataFrame({
        "failed": np.asarray(fu, dtype=object)[pairs // width],
        "to": np.asarray(tu, dtype=object)[pairs % width],
        "population": np.bincount(inverse.ravel(), minlength=len(pairs), weights=assignment[
            "population"].to_numpy(dtype=np.float64)[keep])})
    s = sites.copy()
    ids = s["site_id"].astype(str)
    if len(moved):
        moved[["failed", "to"]] = moved[["failed", "to"]].astype(str)  # ties broken as text
        best = moved.sort_values(["population", "failed"], ascending=[False, True],
                                 kind="stable").drop_duplicates("to").set_index("to")
        extra = ids.map(best["population"]).fillna(0.0)
        s["peak_failure_site_id"] = ids.map(best["failed"])
    else:
        extra = pd.Series(0.0, index=s.index)
        s["peak_failure_site_id"] = None
    normal = s["population_primary"].astype(np.float64)
    s["peak_load"] = normal + extra.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        s["utilisation"] = np.where(s["peak_load"] > 0, normal / s["peak_load"], np.nan)
    total = float(assignment["population"].sum())
    s["share_of_population"] = normal / total if total > 0 else np.nan
    cols = ["site_id", "name", "tier", "population_primary", "n_demand_primary",
            "population_backup", "peak_load", "peak_failure_site_id", "utilisation",
            "share_of_population"]
    s = s[[c for c in cols if c in s.columns]]
    return s.sort_values(["peak_load", "site_id"], ascending=[False, True],
                         kind="stable").reset_index(drop=True)


def criticality(failures: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Site failures ranked by the harm they do.

    Ranked by population pushed outside the budget, then (a capacitated plan's) the load
    its failure alone sheds and the worst utilisation it leaves a surviving site
    (``capacity_shed_rps``, ``capacity_worst_utilisation``; unknown last), then population
    re-routed, then the worst re-routed latency (all descending), then site id.

    Parameters
    ----------
    failures : pandas.DataFrame
        ``failures.csv``.
    sites : pandas.DataFrame
        ``sites.csv`` (for the names).

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = worst), ``name`` and the columns of ``failures.csv``.
    """
    f = failures.copy()
    f["failed_site_id"] = f["failed_site_id"].astype(str)
    names = (sites.assign(site_id=sites["site_id"].astype(str)).drop_duplicates("site_id")
             .set_index("site_id")["name"])  # the first row of a site listed twice
    f["name"] = f["failed_site_id"].map(names)
    keys = ["population_outside_budget", "population_rerouted", "worst_latency_ms"]
    # a capacitated plan: what the failure does to the others' capacity (not the load
    # the site carries: the most even flow spreads load by capacity, review 160)
    keys[1:1] = [c for c in ("capacity_shed_rps", "capacity_worst_utilisation")
                 if c in f.columns]
    f = f.sort_values(keys + ["failed_site_id"], ascending=[False] * len(keys) + [True],
                      kind="stable", na_position="last").reset_index(drop=True)
    f.insert(0, "rank", np.arange(1, len(f) + 1))
    return f


# --------------------------------------------------------------------------- plots


def _label(text: Any, width: int = 28) -> str:
    """Plot label: shortened, with ``$`` escaped so Matplotlib never parses mathtext."""
    t = str(text)
    if len(t) > width:
        t = t[: width - 1] + "…"
    return t.replace("$", r"\$")


def _svg(draw: Callable[[Any], None], size: tuple[float, float] = (8.0, 4.2),
         alt: str = "plot") -> str:
    """Draw on a new Matplotlib figure and return it as an ``<img>`` with an SVG data URI."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "edge-coverage",
                                "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing")
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<img class="plot" alt="{_e(alt)}" '
            f'src="data:image/svg+xml;base64,{data}">')


def _plot_sweep(sweep: pd.DataFrame, summary: dict[str, Any]) -> str:
    cost = objective(summary) == "cost"

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
        for i, (k, g) in enumerate(sweep.groupby("failures", sort=True)):
            c = colours[i % len(colours)]
            g = g.sort_values("budget_ms")
            ok = g[g["site_count"].notna()]
            ax.plot(ok["budget_ms"], ok["site_count"].astype(float), "-", color=c,
                    label=f"N-{k}: fewest sites")
            opt = ok[ok["status"] == "optimal"]
            ax.plot(opt["budget_ms"], opt["site_count"].astype(float), "o", color=c)
            un = ok[ok["status"] != "optimal"]
            if len(un):
                ax.plot(un["budget_ms"], un["site_count"].astype(float), "o", mfc="white",
                        color=c, label=f"N-{k}: not proven optimal"
                        + ("" if cost else " (bar: lower bound)"))
                if not cost:  # a cost bound is not a number of sites: no bar
                    ax.vlines(un["budget_ms"], un["lower_bound"],
                              un["site_count"].astype(float), color=c, lw=1)
            bad = g[g["site_count"].isna()
                    & ~g["status"].isin(["not_run", "time_limit_short"])]
            if len(bad):
                ax.plot(bad["budget_ms"], np.zeros(len(bad)), "x", color="#888888",
                        clip_on=False, label="no plan (budget below access + inference)")
        top = float(np.nanmax(sweep["site_count"].astype(float))) if \
            sweep["site_count"].notna().any() else 1.0
        for b in MARKED_BUDGETS_MS:
            ax.axvline(b, ls=":", color="#999999", lw=1)
            ax.annotate(f"{b:g} ms", (b, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=8, color="#555555")
        b, n = summary.get("budget_ms"), summary.get("site_count")
        if b is not None and n is not None:
            ax.plot([b], [n], marker="*", ms=16, color="#d62728", ls="none",
                    label=f"this plan: {n} sites at {b:g} ms")
            top = max(top, float(n))  # a --max-sites plan may open more than the fewest
        ax.set_xlabel(f"latency budget, ms ({summary.get('percentile', 'p99')})")
        ax.set_ylabel("sites")
        ax.set_ylim(bottom=0, top=max(top * 1.12, 1.0))
        ax.legend(frameon=False, fontsize=8)
    return _svg(draw, alt="site count against the latency budget")


def _plot_rollout(ro: pd.DataFrame, k: int) -> str:
    steps = ro["step"].to_numpy(dtype=np.float64)
    covered = ro["population_covered"].to_numpy(dtype=np.float64)
    safe = ro["population_n1_safe"].to_numpy(dtype=np.float64)
    bound = ro["bound"].to_numpy(dtype=np.float64)
    proven = (ro["bound_method"].astype(str) == "optimal").to_numpy() \
        if "bound_method" in ro.columns else np.zeros(len(ro), dtype=bool)
    n_req = int(ro["required"].astype(str).str.lower().eq("true").sum()) \
        if "required" in ro.columns else 0
    marker = "o" if len(ro) <= 60 else None

    def draw(fig: Any) -> None:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax = fig.add_subplot()
        if n_req:
            ax.axvspan(0.5, n_req + 0.5, color="#eeeeee", lw=0,
                       label=f"required (existing) sites: {n_req}")
        ax.plot(steps, bound, ls="--", color="#555555", lw=1.2, zorder=3,
                label="bound: no set of that many sites covers more")
        if marker and (~proven).any():
            ax.plot(steps[~proven], bound[~proven], "o", mfc="white", color="#7f7f7f",
                    ms=4, ls="none", label="bound not proven optimal (greedy / time limit)")
        ax.plot(steps, covered, "-", marker=marker, ms=4, color="#1f77b4",
                label="within budget (this order)")
        ax.plot(steps, safe, "-", marker=marker, ms=4, color="#2ca02c",
                label="N-1 safe (this order)" if k <= 1 else
                f"N-1 safe (this order; the plan tolerates {k} failures)")
        top = float(np.nanmax(np.concatenate([bound, covered, [1.0]])))
        if top >= 1e6:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:,.4g}M"))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, max(float(steps.max()) if len(steps) else 1.0, 1.0) + 0.5)
        ax.set_ylim(bottom=0, top=top * 1.05)
        ax.set_xlabel("sites opened (rollout step)")
        ax.set_ylabel("population")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(draw, alt="population within budget and N-1 safe against sites opened, "
                          "with the bound")


CDF_QUANTILES = np.linspace(0.0, 1.0, 801)
"""The population shares at which the latency section's CDF plot is drawn."""


def _plot_cdf(curves: dict[str, npt.NDArray[np.float64] | None], budget: float) -> str:
    """The CDF plot: per curve label, its latency at :data:`CDF_QUANTILES` (None: no one)."""
    qs = CDF_QUANTILES

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        styles = {"normal": "-", "worst": "--"}
        colours = {"p50": "#2ca02c", "p99": "#1f77b4"}
        for label, v in curves.items():
            if v is None:
                continue
            pct = label.rsplit(", ", 1)[-1]
            style = styles[label.split(",")[0].split(" ")[0]]
            colour = colours.get(pct, "#1f77b4")
            if "domain" in label:  # whole failure domains: apart from the single sites'
                style, colour = "-.", "#9467bd"
            ax.plot(v, qs, drawstyle="steps-post", ls=style, color=colour, label=label)
        ax.axvline(budget, color="#d62728", lw=1)
        ax.annotate(f"budget {budget:g} ms", (budget, 0.02), color="#d62728", fontsize=8,
                    xytext=(3, 0), textcoords="offset points")
        for q in (0.5, 0.99):
            ax.axhline(q, color="#bbbbbb", lw=0.8, ls=":")
        ax.set_xlabel("latency, ms")
        ax.set_ylabel("share of population (served users)")
        ax.set_ylim(0, 1.0)
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(draw, alt="population-weighted latency distribution, normal and under failure")


def _people_axis(ax: Any, values: npt.ArrayLike) -> None:
    """Population on the x axis in plain numbers (millions with an M), never 1e7 offsets."""
    from matplotlib.ticker import FuncFormatter

    top = float(np.nanmax(np.asarray(values, dtype=np.float64), initial=0.0))
    if top >= 1e6:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:,.4g}M"))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))


def _plot_loads(loads: pd.DataFrame) -> str:
    top = loads.head(_PLOT_ROWS).iloc[::-1]
    labels = [_label(f"{n} ({i})" if not _missing(n) and str(n) != str(i) else i)
              for i, n in zip(top["site_id"], top.get("name", top["site_id"]), strict=True)]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        y = np.arange(len(top))
        ax.barh(y, top["peak_load"], color="#aec7e8", label="peak: worst single failure of "
                "another site")
        ax.barh(y, top["population_primary"], color="#1f77b4", label="normal (primary users)")
        ax.set_yticks(y, labels, fontsize=7)
        _people_axis(ax, top["peak_load"])
        ax.set_xlabel("population served")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(draw, (8.0, max(2.5, 0.22 * len(top) + 1.2)),
                alt="load of the busiest sites")


def _plot_criticality(crit: pd.DataFrame) -> str:
    top = crit.head(_PLOT_ROWS).iloc[::-1]
    labels = [_label(f"{n} ({i})" if not _missing(n) and str(n) != str(i) else i)
              for i, n in zip(top["failed_site_id"], top["name"], strict=True)]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        y = np.arange(len(top))
        ax.barh(y, top["population_rerouted"], color="#ffbb78", label="re-routed")
        ax.barh(y, top["population_outside_budget"], color="#d62728",
                label="pushed outside the budget")
        ax.set_yticks(y, labels, fontsize=7)
        _people_axis(ax, top["population_rerouted"])
        ax.set_xlabel("population affected when the site fails")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(draw, (8.0, max(2.5, 0.22 * len(top) + 1.2)),
                alt="population outside budget when each site fails")


# --------------------------------------------------------------------------- sections


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def _value_text(v: Any) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return NA if v is None else _e(v)
    if isinstance(v, int):
        return _num(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return NA
        if abs(v) >= 1000:
            return _num(v, 0 if v.is_integer() else 2)
        return _e(f"{v:.6g}")
    if isinstance(v, list | tuple):
        return _e(", ".join(str(x) for x in v))
    return _e(v)


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>'


def _coverage_by_k_table(s: dict[str, Any], k: int, candidates: bool = False,
                         domains: bool = False) -> str:
    """Demand and people by number of sites within budget: 0, 1, ..., k, >= k+1.

    ``candidates``: a ``--max-sites`` plan, whose chosen sites need not reach them; the
    figures (candidates within budget) are then labelled as what they could be.
    ``domains``: the same by failure domains of chosen sites within budget
    (``domain_failures.coverage_by_k``; tester 174: the table counted sites where the
    statuses count domains); empty when the plan has none."""
    if domains:
        dom = s.get("domain_failures")
        by_k = dom.get("coverage_by_k") if isinstance(dom, Mapping) else None
    else:
        by_k = s.get("coverage_by_k")
    if not isinstance(by_k, dict) or not by_k:
        return ""
    # the entries as the planner writes them (an object per key 0, 1, ..., >=k+1); anything
    # else is not shown (load_plan_dir refuses it)
    entries = [(str(key), v) for key, v in by_k.items() if isinstance(v, dict)
               and (str(key).isdigit() or (str(key).startswith(">=") and str(key)[2:].isdigit()))]
    people = [_number(v.get("population")) for _, v in entries]
    total = float(sum(x for x in people if x is not None and math.isfinite(x)))
    body = []
    path = "domain_failures.coverage_by_k" if domains else "coverage_by_k"
    for (key, v), x in zip(entries, people, strict=True):
        what = " of whole domains" if domains else ""
        if key.startswith(">="):
            survives = f"any {k} failure(s){what}: N-{k} safe" if k else "N-0: covered"
        elif key == "0":
            survives = ("no chosen site within budget" if domains
                        else "never within budget (uncoverable)")
        else:
            j = int(key) - 1
            survives = (f"{j} failure(s){what}, not {k}" if j
                        else f"no failure (short of {k + 1})")
        if candidates and key != "0":
            survives = f"at best (enough of them chosen): {survives}"
        pop = v.get("population")
        share = x / total if total > 0 and x is not None and math.isfinite(x) else float("nan")
        body.append(
            f"<tr><td>{_e(key)}</td>"
            + _cell(f"{path}.{key}.n_demand", v.get("n_demand"),
                    _num(v.get("n_demand"))).replace("<td", '<td class="n"', 1)
            + _cell(f"{path}.{key}.population", pop, _num(pop)).replace(
                "<td", '<td class="n"', 1)
            + f'<td class="n">{_pct(share)}</td><td>{_e(survives)}</td></tr>')
    unit = ("failure domains of chosen sites" if domains
            else "candidate sites" if candidates else "sites")
    head = (f"<tr><th>{unit} within budget</th>"
            "<th class=\"n\">demand points</th>"
            "<th class=\"n\">population</th><th class=\"n\">share</th>"
            "<th>stays within budget under</th></tr>")
    title = ("Population by number of failure domains of chosen sites within budget "
             "(two sites in one domain fail together)" if domains
             else "Population by number of candidate sites within budget (not the chosen "
             "ones)" if candidates else "Population by number of sites within budget")
    tid = "coverage-by-k-domains" if domains else "coverage-by-k"
    return (f"<h3>{title}</h3>"
            f'<table class="data" id="{tid}"><thead>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _aggregation_text(s: dict[str, Any]) -> str:
    """A sentence on what binning the demand cost, on the original points; empty if none."""
    agg = s.get("aggregation")
    if not isinstance(agg, dict):
        return ""
    n_short = agg.get("n_demand_short", agg.get("cells_short"))
    size = (f"H3 cells of resolution {_num(agg['h3_res'])}" if agg.get("h3_res") is not None
            else f"{_num(agg.get('cell_km'), 1, 'km')} cells")
    return (f"<p>Demand was binned into {size} "
            f"({_text(agg.get('mode'))}): the figures below are over the "
            f"{_num(agg.get('demand_points_solved'))} bins. On the "
            f"{_num(agg.get('demand_points_in'))} original points, {_num(n_short)} "
            f"({_num(agg.get('population_short'))} people, "
            f"{_pct(agg.get('population_short_share'), 2)}) are short of their own "
            "requirement"
            + ("" if agg.get("population_covered") is None else
               f"; {_num(agg.get('population_covered'))} people are within budget of a "
               f"chosen site, {_num(agg.get('population_nk_safe'))} "
               f"N-{_text(s.get('failures_tolerated', 'k'))} safe, and "
               f"{_num(agg.get('population_uncoverable'))} have no candidate within "
               "budget (the bins' figures count a bin's people at its centre)")
            + ".</p>")


def _nk_rows(s: dict[str, Any], k: int, *, domains: bool = False,
             ) -> list[tuple[str, str, Any, str]]:
    """Summary rows of a plan tolerating ``k >= 2`` simultaneous failures: each user's own
    worst ``k`` failures (a union over sets) and the single worst set (none for ``k < 2``);
    with ``domains``, of ``k`` whole failure domains (``summary["domain_failures"]``)."""
    key = "domain_failures." if domains else ""
    if domains:
        got = s.get("domain_failures")
        s = got if isinstance(got, dict) else {}
    if k < (1 if domains else 2) or s.get("nk_failures") is None:
        return []  # (by sites, k = 1 is the N-1 row; by domains it is shown too)
    what = f"{k} whole failure domain{'s' if k > 1 else ''}" if domains else f"{k} failures"
    rows = [
        (f"worst latency under any {k} simultaneous "
         f"{'whole failure domain failure' + ('s' if k > 1 else '') if domains else 'failures'}"
         " (each user's own worst set)", f"{key}nk_worst_latency_ms", s.get("nk_worst_latency_ms"),
         _ms(s.get("nk_worst_latency_ms")) if not _not_finite(s.get("nk_worst_latency_ms"))
         else "n/a (no user keeps a site)"),
        (f"population that some set of {what} pushes outside budget (union over sets)",
         f"{key}nk_population_outside_budget", s.get("nk_population_outside_budget"),
         _num(s.get("nk_population_outside_budget"))),
        (f"population that some set of {what} leaves with no site",
         f"{key}nk_population_without_site", s.get("nk_population_without_site"),
         _num(s.get("nk_population_without_site"))),
    ]
    worst = s.get("nk_worst_set_population_outside_budget")
    if worst is not None:
        ids = s.get("nk_worst_set_domains" if domains else "nk_worst_set_site_ids") or []
        ids = ids if isinstance(ids, list) else []  # (a hand-edited summary.json)
        named = ", ".join(map(str, ids[:8])) + (f" and {len(ids) - 8} more" if len(ids) > 8
                                                 else "")
        text = _num(worst) + (f" ({'domains' if domains else 'sites'} {_text(named)})"
                              if ids else "")
        if s.get("nk_worst_set_status") != "optimal":
            text += (f"; not proven the worst ({_text(s.get('nk_worst_set_status'))}): no set "
                     f"pushes out more than {_num(s.get('nk_worst_set_upper_bound'))}")
        rows.append((f"population outside budget under the worst single set of {what}",
                     f"{key}nk_worst_set_population_outside_budget", worst, text))
    return rows


def _domain_rows(s: dict[str, Any], k: int) -> list[tuple[str, str, Any, str]]:
    """Summary rows of a plan with failure domains: the people within budget whatever
    ``k`` whole domains fail, and the worst single domain (the figures above count single
    sites; tester 154)."""
    safe = s.get("population_safe_by_domain_failures")
    dom = s.get("domain_failures")
    if not isinstance(dom, Mapping):
        return []
    rows = []
    if isinstance(safe, Mapping):  # (not computed when the chosen sites' reach was too big)
        rows.append((f"population within budget whatever {k} failure domain(s) fail "
                     "(whole domains; population_safe_by_failures counts single sites)",
                     f"population_safe_by_domain_failures.N-{k}", safe.get(f"N-{k}"),
                     _num(safe.get(f"N-{k}"))))
    if dom.get("worst_domain") is not None:
        rows.append(("population outside budget when the worst single failure domain fails",
                     "domain_failures.worst_domain_population_outside_budget",
                     dom.get("worst_domain_population_outside_budget"),
                     _num(dom.get("worst_domain_population_outside_budget"))
                     + f" (domain {_text(dom.get('worst_domain'))})"))
    if dom.get("n_domains_with_chosen_sites") is not None:  # (absent before 2026-12-06)
        where = dom.get("worst_rerouted_latency_domain")
        rows.append(("worst latency of a user rerouted when one whole failure domain fails",
                     "domain_failures.worst_rerouted_latency_ms",
                     dom.get("worst_rerouted_latency_ms"),
                     (f"{_num(dom.get('worst_rerouted_latency_ms'), 1, 'ms')} (failing "
                      f"{_text(where)})" if where is not None else
                      "none: no rerouted user has a chosen site outside its domain")
                     + f"; {_num(dom.get('n_domains_meeting_budget'))} of "
                     f"{_num(dom.get('n_domains_with_chosen_sites'))} domains keep every "
                     "rerouted user within budget"))
    rows.extend(_nk_rows(s, k, domains=True))  # (absent before 2026-12-06)
    if dom.get("count_fails") is not None:  # (absent from plans of earlier versions)
        rows.append(("what the site count failed together", "domain_failures.count_fails",
                     dom.get("count_fails"), _text(dom.get("count_fails"))))
    return rows


def _summary_section(s: dict[str, Any]) -> str:
    k = int(s.get("failures_tolerated", 1) or 0)
    cost = objective(s) == "cost"
    best = s.get("objective") in ("max_cover", "p_center")
    if best:
        return _best_summary_section(s, k)
    what = "total cost" if cost else "site count"
    bound_digits = 1 if cost else 0
    rows = [
        ("sites (cheapest set that meets the requirement)" if cost else
         "sites (fewest that meet the requirement)", "site_count", s.get("site_count"),
         _num(s.get("site_count"))),
    ]
    if "objective" in s:
        rows.append(("objective", "objective", s.get("objective"),
                     "total cost of the sites (cost column)" if cost else "number of sites"))
    if cost and "objective_value" in s:
        rows.append(("total cost of the chosen sites", "objective_value",
                     s.get("objective_value"), _num(s.get("objective_value"), 1)))
    rows += [
        (f"proven lower bound on the {what}", "lower_bound", s.get("lower_bound"),
         _num(s.get("lower_bound"), bound_digits)),
        ("solver status", "status", s.get("status"), _text(s.get("status"))),
        (f"MIP gap (of the {what})", "mip_gap", s.get("mip_gap"), _pct(s.get("mip_gap"))),
        ("latency budget", "budget_ms", s.get("budget_ms"), _ms(s.get("budget_ms"))),
        ("percentile", "percentile", s.get("percentile"), _text(s.get("percentile"))),
        ("failures tolerated (k)", "failures_tolerated", s.get("failures_tolerated", 1),
         _num(k)),
        (f"budget radius (largest, {_text(s.get('max_radius_access') or 'all')} access)",
         "max_radius_km", s.get("max_radius_km"), _num(s.get("max_radius_km"), 0, "km")),
        ("demand points", "n_demand", s.get("n_demand"), _num(s.get("n_demand"))),
        ("candidate sites", "n_candidates", s.get("n_candidates"), _num(s.get("n_candidates"))),
        ("population", "population_total", s.get("population_total"),
         _num(s.get("population_total"))),
        ("population within budget of a candidate", "population_covered",
         s.get("population_covered"), _num(s.get("population_covered"))),
    ]
    # a plan that fails whole failure domains counts its statuses in domains
    by_domains = s.get("statuses_by") == "failure domains"
    unit = "failure domain" if by_domains else "site"
    unit += "" if k + 1 == 1 else "s"  # (tester 207: "short of 1 sites")
    if "population_gap" in s:
        rows.append((f"population short of {k + 1} {unit} within budget (gaps)",
                     "population_gap", s.get("population_gap"), _num(s.get("population_gap"))))
    if k >= 2 and "population_partial" in s:
        rows.append(("population with " + ("2" if k == 2 else f"2 to {k}")
                     + f" {unit} in budget (partial)",
                     "population_partial", s.get("population_partial"),
                     _num(s.get("population_partial"))))
    if k:  # with k = 0 every covered point is redundant: the status "single" is never given
        rows.append(("population with its candidates in budget in one failure domain "
                     "(single)" if by_domains else
                     "population with only one candidate in budget (single)",
                     "population_single_coverable", s.get("population_single_coverable"),
                     _num(s.get("population_single_coverable"))))
    rows += [
        ("population with no candidate in budget", "population_uncoverable",
         s.get("population_uncoverable"), _num(s.get("population_uncoverable"))),
        ("mean primary latency, p50 (population-weighted)", "mean_latency_ms",
         s.get("mean_latency_ms"), _ms(s.get("mean_latency_ms"))
         if not _not_finite(s.get("mean_latency_ms")) else "n/a (nobody is served)"),
        ("worst latency under any single failure", "n1_worst_latency_ms",
         s.get("n1_worst_latency_ms"), _ms(s.get("n1_worst_latency_ms"))
         if not _not_finite(s.get("n1_worst_latency_ms"))
         else "n/a (no user has a surviving site)"),
        ("population outside budget under the worst failure", "n1_population_outside_budget",
         s.get("n1_population_outside_budget"), _num(s.get("n1_population_outside_budget"))),
        *_nk_rows(s, k),
        *_domain_rows(s, k),
        ("placement (k-median) status", "kmedian_status", s.get("kmedian_status"),
         _text(s.get("kmedian_status"))),
        ("placement gap to its proven lower bound", "kmedian_gap", s.get("kmedian_gap"),
         "n/a (no bound)" if _not_finite(s.get("kmedian_gap"))
         else f"{100 * float(s['kmedian_gap']):.2f} %"),
        *([("placement gap it stops at (--kmedian-gap-pct)", "kmedian_gap_asked",
            s.get("kmedian_gap_asked"),
            f"{100 * float(s['kmedian_gap_asked']):g} %"
            + (" (0: run to the proof or the time limit)"
               if float(s["kmedian_gap_asked"]) == 0 else ""))]
          if not _not_finite(s.get("kmedian_gap_asked")) else []),
        ("run time (the plan, before its outputs and the sweep are written)", "runtime_s",
         s.get("runtime_s"), _num(s.get("runtime_s"), 1, "s")),
        ("edge-coverage version", "version", s.get("version"), _text(s.get("version"))),
    ]
    agg = s.get("aggregation")
    if isinstance(agg, dict):
        rows += [(f"aggregation: {key}", f"aggregation.{key}", v, _value_text(v))
                 for key, v in _flatten(agg)]
    status = s.get("status")
    cap = s.get("capacity")
    if isinstance(cap, dict) and cap.get("scenarios_complete") is False:
        # the capacity check's list was cut: the plan is not known to carry the load
        proof = (f"<b>The plan is NOT proven</b>: the capacity check's failure scenarios "
                 f"were cut at --scenario-limit ({_num(cap.get('scenarios_checked'))} of "
                 f"{_num(cap.get('scenarios_total'))} checked), so a scenario not checked "
                 f"may fall short of capacity (the command exited 7). The {what} "
                 + ("is optimal for the scenarios checked; " if status in ("optimal", "unproven")
                    else f"is not proven optimal either ({_e(status)}); ")
                 + "raise --scenario-limit to "
                 f"{_num(cap.get('scenarios_total'))} or more for a proof.")
    elif status == "optimal":
        proof = f"The {what} is proven optimal."
    else:
        proof = (f"The {what} is not proven optimal ({_e(status)}): the best plan found is "
                 f"shown with its proven lower bound.")
    if cost:
        proof += (" The objective is the total cost of the sites (the candidates' cost "
                  "column), so the lower bound and gap are costs, not site counts.")
    dom = s.get("domain_failures")
    by_domains = (k >= 1 and isinstance(dom, Mapping)
                  and str(dom.get("count_fails", "")).startswith("whole failure domains"))
    if by_domains:  # (tester 174: the text named sites where the count took domains)
        intro = (f"<p>Every demand point needs chosen sites within "
                 f"{_budget(s.get('budget_ms'))} {_text(s.get('percentile'))} in min({k + 1}"
                 ", failure domains of its candidates within budget) failure domains, so "
                 "that it stays within budget when any "
                 + ("one failure domain fails" if k == 1 else f"{k} failure domains fail")
                 + f" (two sites in one domain fail together). {proof}</p>")
    else:
        intro = (f"<p>Every demand point needs min({k + 1}, candidates within budget) "
                 f"chosen sites within {_budget(s.get('budget_ms'))} "
                 f"{_text(s.get('percentile'))}, so that it stays within budget "
                 f"{_when_fail(k)}. {proof}</p>")
    return _section("summary", "Plan at a glance", intro + _aggregation_text(s)
                    + _kv_table(rows) + _coverage_by_k_table(s, k)
                    + _coverage_by_k_table(s, k, domains=True))


def _ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ..., ``11th``, ``12th``, ``13th``, ``21st``."""
    suffix = ("th" if 11 <= n % 100 <= 13
              else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th"))
    return f"{n}{suffix}"


def _best_summary_section(s: dict[str, Any], k: int) -> str:
    """"Plan at a glance" of a ``--max-sites P`` plan (max-cover or p-center)."""
    center = s.get("objective") == "p_center"
    by_domains = str(s.get("secondary_objective", "")).endswith("_by_domains")
    dom = s.get("domain_failures")
    # a p-center whose radius holds when whole domains fail (2026-12-07)
    center_domains = (center and k >= 1 and isinstance(dom, Mapping) and str(
        dom.get("count_fails", "")).startswith("whole failure domains"))
    nth = _ordinal(k + 1)
    rows = [
        ("sites (exactly --max-sites)", "site_count", s.get("site_count"),
         _num(s.get("site_count"))),
        ("objective", "objective", s.get("objective"),
         "lowest worst latency (p-center)" if center
         else "most people within budget (max-cover), then most N-"
              f"{_text(s.get('secondary_failures'))} safe" + (
                  " by failure domains" if by_domains else "")),
    ]
    if center:
        rows += [
            ("worst latency (to the nearest site" + (
                f", or the {nth} nearest" + (", or the nearest of the "
                                             f"{nth} nearest failure domain)"
                                             if center_domains else ")") if k else ")"),
             "worst_latency_ms", s.get("worst_latency_ms"), _ms(s.get("worst_latency_ms"))),
            ("proven lower bound on the worst latency", "lower_bound", s.get("lower_bound"),
             _ms(s.get("lower_bound"))),
        ]
    else:
        rows += [
            ("population within budget of a chosen site", "objective_value",
             s.get("objective_value"), _num(s.get("objective_value"))),
            ("proven upper bound on it", "upper_bound", s.get("upper_bound"),
             _num(s.get("upper_bound"))),
            ("most N-k safe among those optima" + (
                " (chosen sites within budget in k + 1 failure domains)" if by_domains
                else ""), "secondary_value", s.get("secondary_value"),
             _num(s.get("secondary_value"))),
            ("status of that second objective", "secondary_status",
             s.get("secondary_status"), _text(s.get("secondary_status"))),
        ]
    rows += [
        ("solver status", "status", s.get("status"), _text(s.get("status"))),
        ("latency budget", "budget_ms", s.get("budget_ms"), _ms(s.get("budget_ms"))),
        ("percentile", "percentile", s.get("percentile"), _text(s.get("percentile"))),
        ("failures tolerated (k)", "failures_tolerated", s.get("failures_tolerated", 1),
         _num(k)),
        ("demand points", "n_demand", s.get("n_demand"), _num(s.get("n_demand"))),
        ("candidate sites", "n_candidates", s.get("n_candidates"), _num(s.get("n_candidates"))),
        ("population", "population_total", s.get("population_total"),
         _num(s.get("population_total"))),
        ("population within budget of a chosen site", "population_covered",
         s.get("population_covered"), _num(s.get("population_covered"))),
        ("population within budget of a candidate", "population_coverable",
         s.get("population_coverable"), _num(s.get("population_coverable"))),
        ("population outside budget (no chosen site within it)", "population_outside_budget",
         s.get("population_outside_budget"), _num(s.get("population_outside_budget"))),
        ("population with 2+ chosen sites within budget (N-1 safe)", "population_n1_safe",
         s.get("population_n1_safe"), _num(s.get("population_n1_safe"))),
        ("population with no candidate in budget", "population_uncoverable",
         s.get("population_uncoverable"), _num(s.get("population_uncoverable"))),
        ("mean primary latency, p50 (population-weighted)", "mean_latency_ms",
         s.get("mean_latency_ms"), _ms(s.get("mean_latency_ms"))
         if not _not_finite(s.get("mean_latency_ms")) else "n/a (nobody is served)"),
        ("population outside budget under the worst failure", "n1_population_outside_budget",
         s.get("n1_population_outside_budget"), _num(s.get("n1_population_outside_budget"))),
        *_nk_rows(s, k),
        *_domain_rows(s, k),
        ("run time (the plan, before its outputs and the sweep are written)", "runtime_s",
         s.get("runtime_s"), _num(s.get("runtime_s"), 1, "s")),
        ("edge-coverage version", "version", s.get("version"), _text(s.get("version"))),
    ]
    proof = (("The worst latency is proven optimal." if center else
              "Both objectives are proven optimal.") if s.get("status") == "optimal" else
             f"Not proven optimal ({_e(s.get('status'))}): the best plan found is shown with "
             "its proven bound.")
    what = ("the worst latency from a user to its nearest chosen site" + (
        f" ({nth} nearest, so that it holds after any {k} failure(s); all of its "
        "candidates when it has fewer" + (
            f"; and the nearest of its {nth} nearest failure domain when farther, so that "
            f"it holds when any {k} whole domain(s) fail; all of its domains when it has "
            "fewer" if center_domains else "") + ")" if k else "")
        + ", every user with a candidate within budget kept within it" if center else
        "the population within budget of a chosen site, then, among the plans that reach "
        "it, the population with enough chosen sites within budget to survive "
        f"{_text(s.get('secondary_failures'))} failure(s)"
        + (" of whole failure domains (its chosen sites within budget in that many "
           "domains and one more)" if by_domains else ""))
    intro = (f"<p>The best {_num(s.get('max_sites'))} sites (--max-sites): they minimise "
             if center else
             f"<p>The best {_num(s.get('max_sites'))} sites (--max-sites): they maximise ")
    intro += f"{what}, at {_budget(s.get('budget_ms'))} {_text(s.get('percentile'))}. "
    intro += proof + " The coverage table below counts candidates, not chosen sites.</p>"
    return _section("summary", "Plan at a glance", intro + _aggregation_text(s)
                    + _kv_table(rows) + _coverage_by_k_table(s, k, candidates=True))


def _several_classes(s: dict[str, Any]) -> bool:
    classes = s.get("by_service_class")
    return isinstance(classes, list) and len(classes) > 1


def _service_class_section(s: dict[str, Any]) -> str:
    """The "by service class" table (only when more than one class is present)."""
    if not _several_classes(s):
        return ""
    k = int(s.get("failures_tolerated", 1) or 0)
    df = pd.DataFrame(s["by_service_class"])
    body = ("<p>One plan serves every class: each demand row has its own budget, "
            "percentile and workload (its class's, or its own budget_ms), hence its own "
            "radius. Within budget: people with a chosen site within their own budget (no "
            f"failure); N-{k} safe: people with at least {k + 1} candidate sites within "
            f"their budget, who stay within it {_when_fail(k)}.</p>")
    body += _table(df, [
        ("service_class", "service class", _text),
        ("n_demand", "demand points", _num),
        ("population", "population", _num),
        ("budget_ms", "budget", _budget),
        ("percentile", "percentile", _text),
        ("workload", "workload", _text),
        ("population_within_budget", "within budget (N-0)", _num),
        ("population_safe", f"N-{k} safe", _num),
        ("population_uncoverable", "uncoverable", _num),
        ("mean_latency_ms", "mean primary p50", _ms),
    ], numeric=("n_demand", "population", "budget_ms", "population_within_budget",
                "population_safe", "population_uncoverable", "mean_latency_ms"))
    return _section("service-classes", "By service class", body)


def _sweep_section(sweep: pd.DataFrame, s: dict[str, Any]) -> str:
    cost = objective(s) == "cost"
    if cost:
        body = ("<p>Sites of the cheapest plan at each budget (site-count stage only, short "
                "time limit per budget; the chosen budget is the plan's own solve). The "
                "objective is the total cost of the sites, so the lower bound and gap in the "
                "table are costs. Filled points are proven optimal; hollow points are the "
                "best plan found in the time limit. Dotted lines mark 30, 50 and 100 ms; the "
                "star is this plan.</p>")
    else:
        body = ("<p>Fewest sites at each budget (site-count stage only, short time limit per "
                "budget; the chosen budget is the plan's own solve). Filled points are proven "
                "optimal; hollow points are the best plan found in the time limit, with a bar "
                "down to the proven lower bound. Dotted lines mark 30, 50 and 100 ms; the "
                "star is this plan.</p>")
    if _several_classes(s):
        body += ("<p><b>Service classes:</b> the sweep applies one uniform budget to every "
                 "demand row; each row keeps its class's percentile and workload. The plan's "
                 "own row (source plan) has the per-class budgets.</p>")
    if s.get("capacity"):
        body += ("<p><b>Capacity:</b> the plan is capacitated, and so is every budget of "
                 "the sweep (method <i>full (capacitated)</i> on the reach matrix, <i>lazy "
                 "(capacitated)</i> by row and cut generation)"
                 + ("; <i>infeasible_capacity</i>: no plan carries the load"
                    if (sweep["status"] == "infeasible_capacity").any() else "")
                 + ("; <i>unproven</i>: the fewest sites for the failure scenarios checked "
                    "(cut at the scenario limit), not proven in the others"
                    if (sweep["status"] == "unproven").any() else "")
                 + ".</p>")
    short = sweep.loc[sweep["status"] == "time_limit_short", "budget_ms"].drop_duplicates()
    if len(short):
        limit = (s.get("parameters") or {}).get("scenario_limit")
        body += ("<p><b>Out of time:</b> at " + ", ".join(f"{float(b):g}" for b in short)
                 + " ms the sweep's time limit per budget (<code>--sweep-time-limit-s</code>) "
                 "ran out before any plan carried the load in every scenario, or the failure "
                 "scenarios checked were cut at the scenario limit (<code>--scenario-limit"
                 + (f" {_e(f'{limit:,}' if isinstance(limit, int) else limit)}"
                    if limit is not None else "")
                 + "</code>) with the plan below the capacity bound (status "
                 "<i>time_limit_short</i>: no site count, the proven lower bound kept). Raise "
                 "<code>--sweep-time-limit-s</code> or <code>--scenario-limit</code>.</p>")
    not_run = sweep.loc[sweep["status"] == "not_run", "budget_ms"].drop_duplicates()
    if len(not_run):
        body += ("<p><b>Not run:</b> the sweep's time (<code>--sweep-total-s</code>) ran out "
                 "before " + ", ".join(f"{float(b):g}" for b in not_run) + " ms; those "
                 "budgets were not solved (status <i>not_run</i>). Raise "
                 "<code>--sweep-total-s</code>, or list fewer budgets with "
                 "<code>--sweep-budgets-ms</code>.</p>")
    body += _plot_sweep(sweep, s)
    rows = []
    for r in sweep.itertuples(index=False):
        key = f"sweep.{int(r.failures)}.{float(r.budget_ms):g}"
        sc = None if _missing(r.site_count) else int(r.site_count)
        rows.append(
            "<tr>"
            f'<td class="n">{_budget_number(r.budget_ms)}</td>'
            f'<td class="n">{_num(r.failures)}</td>'
            f"<td>{_text(r.status)}</td>"
            + _cell(f"{key}.site_count", sc, _num(sc)).replace("<td", '<td class="n"', 1)
            + _cell(f"{key}.lower_bound", None if _missing(r.lower_bound) else
                    float(r.lower_bound), _num(r.lower_bound, 1)).replace(
                        "<td", '<td class="n"', 1)
            + f'<td class="n">{_pct(r.mip_gap)}</td>'
            f'<td class="n">{_num(r.radius_km, 0)}</td>'
            f'<td class="n">{_num(r.population_short)}</td>'
            f'<td class="n">{_num(r.population_uncoverable)}</td>'
            f'<td>{_text(r.method)}</td><td class="n">{_num(r.solve_s, 1)}</td>'
            f"<td>{_text(r.source)}</td></tr>"
        )
    bound = "lower bound on the cost" if cost else "lower bound (sites)"
    gap = "gap (cost)" if cost else "gap"
    head = ("<tr><th>budget, ms</th><th>failures</th><th>status</th><th>sites</th>"
            f"<th>{bound}</th><th>{gap}</th><th>radius, km</th>"
            "<th>population short of k+1 candidates</th><th>population uncoverable</th>"
            "<th>method</th><th>time, s</th><th>source</th></tr>")
    body += (f'<table class="data" id="sweep-table"><thead>{head}</thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    return _section("sweep", "Sites against the latency budget", body)


def _rollout_section(ro: pd.DataFrame | None, sites: pd.DataFrame,
                     s: dict[str, Any]) -> str:
    info = s.get("rollout") if isinstance(s.get("rollout"), dict) else None
    k = int(s.get("failures_tolerated", 1) or 0)
    title = "Rollout order: population against the sites opened"
    if ro is None or not len(ro):
        why = (info or {}).get("absent") if info else None
        body = ("<p>No rollout order: " + (_e(why) if why else
                "this plan directory has no rollout.csv (it was written before the "
                "rollout order existed; run the plan again to get it)") + ".</p>")
        return _section("rollout", title, body)
    level = _whole((info or {}).get("failures"), max(k, 1))
    body = (
        "<p>The order in which to open the chosen sites (<code>rollout.csv</code>): each "
        "step opens the site that brings the most people newly within budget; ties go to "
        f"the site that makes the most people newly N-{level} safe (min({level} + 1, "
        "candidates within budget) open sites within budget), then to the candidate order. "
        "Required (existing) sites come first. Once everyone the chosen sites reach is within "
        "budget, later steps add N-1 safety only.</p>"
        "<p>The dashed line is an upper bound: no set of that many chosen sites (the required "
        "ones among them) covers more people. Where the exact optimum was cheap to prove it "
        "is that optimum (bound method <i>optimal</i>); otherwise it is the greedy's proven "
        "bound (<i>greedy</i>) or the bound HiGHS reached in its time limit "
        "(<i>time_limit</i>). Optima for different counts need not share sites, so the "
        "bound can lie above an order that opens one site after the other: that gap is the "
        "price of a fixed order (plus, for a greedy bound, the bound's own slack).</p>")
    body += _plot_rollout(ro, k)
    if info:
        rows = [("steps (sites in the order)", "rollout.steps", info.get("steps"),
                 _num(info.get("steps")))]
        for what, label in (("covered", "population within budget"),
                            ("n1_safe", "population N-1 safe")):
            for q in ("50pct", "90pct", "100pct"):
                v = (info.get(f"steps_to_{what}") or {}).get(q)
                rows.append((f"sites for {q[:-3]} % of the final {label}",
                             f"rollout.steps_to_{what}.{q}", v, _num(v)))
        for m, v in (info.get("bound_methods") or {}).items():
            rows.append((f"steps whose bound is {m}", f"rollout.bound_methods.{m}", v,
                         _num(v)))
        rows.append(("largest gap between the order and the bound",
                     "rollout.largest_gap_to_bound", info.get("largest_gap_to_bound"),
                     _num(info.get("largest_gap_to_bound"))))
        rows.append(("reach used", "rollout.reach", info.get("reach"),
                     _text(info.get("reach"))))
        body += _kv_table(rows)
    table = ro.copy()
    final = float(table["population_covered"].iloc[-1])
    table["share"] = table["population_covered"] / final if final > 0 else np.nan
    names = (sites.drop_duplicates("site_id").set_index("site_id")["name"]
             if "name" in sites.columns else pd.Series(dtype=object))
    table["name"] = table["site_id"].map(names)
    body += _table(table.head(MAX_TABLE_ROWS), [
        ("step", "step", _num), ("site_id", "site", _text), ("name", "name", _text),
        ("required", "required", _bool),
        ("population_covered", "population within budget", _num),
        ("share", "share of the final", _pct),
        ("population_n1_safe", "population N-1 safe", _num),
        ("population_nk_safe", f"population N-{k} safe", _num),
        ("bound", "bound (any set of that many)", _num),
        ("bound_method", "bound method", _text),
    ], total=len(table), what="steps (all in rollout.csv)",
        numeric=("step", "population_covered", "share", "population_n1_safe",
                 "population_nk_safe", "bound"))
    return _section("rollout", title, body)


def _latency_section(a: pd.DataFrame, s: dict[str, Any]) -> str:
    percentile = str(s.get("percentile", "p99"))
    budget = float(s.get("budget_ms", float("nan")))
    k = int(s.get("failures_tolerated", 1) or 0)
    curves = latency_curves(a, percentile, k)
    total = float(a["population"].sum())
    rows = []
    plotted: dict[str, npt.NDArray[np.float64] | None] = {}
    for label, df in curves.items():
        w = df["population"].to_numpy(dtype=np.float64)
        v = df["latency_ms"].to_numpy(dtype=np.float64)
        # one sort for the table's quantiles and the plot's
        q = weighted_quantiles(v, w, np.concatenate([[0.5, 0.99], CDF_QUANTILES]))
        q50, q99 = q[0], q[1]
        plotted[label] = q[2:] if len(df) and w.sum() > 0 else None
        own = df["budget_ms"].to_numpy(dtype=np.float64) if "budget_ms" in df else None
        limit = np.where(np.isfinite(own), own, budget) if own is not None else budget
        within = float(w[v <= limit + 1e-9].sum()) if percentile in label else float("nan")
        rows.append({"curve": label, "population": w.sum(), "p50": q50, "p99": q99,
                     "max": v.max() if len(v) else float("nan"),
                     "within": within / w.sum() if w.sum() > 0 and math.isfinite(within)
                     else float("nan")})
    table = _table(pd.DataFrame(rows), [
        ("curve", "latency", _text),
        ("population", "population counted", _num),
        ("p50", "population median", _ms),
        ("p99", "population 99th percentile", _ms),
        ("max", "worst", _ms),
        ("within", "share within budget", _pct),
    ], numeric=("population", "p50", "p99", "max", "within"))
    served = float(a.loc[a["primary_latency_ms"].notna(), "population"].sum())
    body = (
        f"<p>Population-weighted distribution of the latency users see at their primary site "
        f"(normal) and when that site fails, which is each user's worst single failure (they "
        f"move to the nearest surviving site; no other single failure changes their "
        f"latency). p50 is the median request latency, {_e(percentile)} the budget "
        f"percentile. {_num(served)} of {_num(total)} people have a site within budget and "
        f"are counted; uncoverable demand is not. Dotted lines: the population median and "
        f"99th percentile.</p>"
    )
    if "domain_nk_latency_ms" in a.columns:
        body += (f"<p>With failure domains, the last curve is each user's worst "
                 f"{'single domain failure' if k <= 1 else f'{k} whole domain failures'} "
                 "(its sites fail together; the user moves to the nearest chosen site of "
                 f"its {'second' if k <= 1 else f'{k + 1}-th'} nearest domain; "
                 "assignment.csv's domain_nk_latency_ms), at the budget percentile.</p>")
    if _several_classes(s):
        body += ("<p>With service classes, each user's latency is at its own class's "
                 "percentile and \"share within budget\" compares it with the user's own "
                 "budget; the red line marks the default budget.</p>")
    return _section("latency", "Latency distribution: normal and under failure",
                    body + _plot_cdf(plotted, budget) + table)


def _sites_section(sites: pd.DataFrame, a: pd.DataFrame) -> str:
    loads = site_loads(sites, a)
    body = ("<p>Normal load is the population whose nearest chosen site this is; peak load "
            "adds the largest group of users any single failure of another site sends to it "
            "(their nearest surviving site), within budget or not: they still send their "
            "requests. Backup for counts only the people it keeps within budget when their "
            "own site fails, so a site can back up nobody and still take a peak. "
            # (tester 207: Invercargill backed up 0 people and peaked at 390,668)
            "Utilisation is normal / peak load: the share of "
            "the capacity needed for N-1 that the site uses every day. Sorted by peak "
            "load.</p>")
    if "capacity_rps" in sites.columns:
        body += ("<p>These loads count people. The plan is capacitated: its requests/s "
                 'against each site\'s capacity are in <a href="#capacity">Capacity</a> '
                 "(the utilisation below is the population measure).</p>")
    body += _plot_loads(loads)
    body += _table(loads.head(MAX_TABLE_ROWS), [
        ("site_id", "site", _text), ("name", "name", _text), ("tier", "tier", _text),
        ("population_primary", "normal load (people)", _num),
        ("n_demand_primary", "demand points", _num),
        ("population_backup", "backup for (people)", _num),
        ("peak_load", "peak load (people)", _num),
        ("peak_failure_site_id", "peak when this site fails", _text),
        ("utilisation", "utilisation", _pct),
        ("share_of_population", "share of population", _pct),
    ], total=len(loads), what="sites (all in sites.csv)",
        numeric=("population_primary", "n_demand_primary", "population_backup", "peak_load",
                 "utilisation", "share_of_population"))
    return _section("sites", "Per-site load and utilisation", body)


def capacity_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """A capacitated plan's sites by utilisation in normal operation.

    Parameters
    ----------
    sites : pandas.DataFrame
        ``sites.csv`` of a capacitated plan (``capacity_rps``, ``load_rps``,
        ``utilisation``, ``worst_utilisation``, ``worst_failure``, ...).

    Returns
    -------
    pandas.DataFrame
        The sites, highest utilisation first (then highest worst utilisation, then site
        id), with a boolean ``thin`` column (utilisation below
        :data:`THIN_UTILISATION`).
    """
    s = sites.copy()
    s["site_id"] = s["site_id"].astype(str)
    util = pd.to_numeric(s["utilisation"], errors="coerce")
    s["thin"] = (util < THIN_UTILISATION).to_numpy()
    worst = (pd.to_numeric(s["worst_utilisation"], errors="coerce")
             if "worst_utilisation" in s.columns else pd.Series(np.nan, index=s.index))
    order = np.lexsort((s["site_id"].to_numpy(), -worst.fillna(-np.inf).to_numpy(),
                        -util.fillna(-np.inf).to_numpy()))
    return s.iloc[order].reset_index(drop=True)


def worst_scenarios(scenarios: pd.DataFrame, n: int = CAPACITY_WORST_SCENARIOS) -> pd.DataFrame:
    """The ``n`` failure scenarios with the highest worst utilisation (normal operation
    excluded; ties: more load shed first, then table order).

    Parameters
    ----------
    scenarios : pandas.DataFrame
        ``capacity_scenarios.csv`` (row 0: normal operation).
    n : int
        How many.

    Returns
    -------
    pandas.DataFrame
        Those rows, with ``scenario`` (their row in the file).
    """
    sc = scenarios.reset_index(drop=True)
    sc.insert(0, "scenario", np.arange(len(sc)))
    failure = sc[~sc["failed_site_ids"].astype(str).str.startswith("(none")]
    w = pd.to_numeric(failure["worst_utilisation"], errors="coerce").fillna(-np.inf)
    shed = pd.to_numeric(failure["shed_rps"], errors="coerce").fillna(0.0)
    order = np.lexsort((failure["scenario"].to_numpy(), -shed.to_numpy(), -w.to_numpy()))
    return failure.iloc[order[:n]].reset_index(drop=True)


def _plot_utilisation(cs: pd.DataFrame) -> str:
    top = cs.head(_PLOT_ROWS).iloc[::-1]
    labels = [_label(f"{n} ({i})" if not _missing(n) and str(n) != str(i) else i)
              for i, n in zip(top["site_id"], top.get("name", top["site_id"]), strict=True)]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        y = np.arange(len(top))
        worst = pd.to_numeric(top.get("worst_utilisation", np.nan), errors="coerce")
        util = pd.to_numeric(top["utilisation"], errors="coerce")
        ax.barh(y, 100 * worst, color="#fdae6b", label="worst failure scenario")
        ax.barh(y, 100 * util, color="#e6550d", label="normal operation")
        ax.axvline(100 * THIN_UTILISATION, ls=":", color="#2166ac", lw=1)
        ax.annotate(f"{100 * THIN_UTILISATION:.0f} %: thin below", (100 * THIN_UTILISATION,
                    1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontsize=8, color="#2166ac")
        ax.axvline(100, ls="-", color="#999999", lw=1)
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_xlim(0, max(105.0, float(np.nanmax(100 * worst, initial=0.0)) + 5))
        ax.set_xlabel("utilisation, % of capacity")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    return _svg(draw, (8.0, max(2.5, 0.22 * len(top) + 1.2)),
                alt="utilisation of the busiest sites")


def _failed_text(x: Any) -> str:
    """A ``failed_site_ids`` / ``worst_failure`` value: the sites, or normal operation."""
    if _missing(x):
        return NA
    t = str(x)
    if t in ("", "(none)") or t.startswith("(none"):
        return "none (normal operation)"
    return _e(t.replace(";", ", "))


def _pool_text(c: Mapping[str, Any]) -> str:
    """The service classes' workloads sharing the sites' accelerators, when they do (a
    sentence; empty otherwise or when ``summary.json`` holds no readable pool)."""
    pooled = c.get("workloads")
    if not isinstance(pooled, Mapping) or not pooled:
        return ""
    parts = []
    for name, e in pooled.items():
        e = e if isinstance(e, Mapping) else {}
        weight, rps = _number(e.get("weight")), _number(e.get("requests_rps"))
        parts.append(f"<code>{_e(str(name))}</code> x {_num(weight, 3)}"
                     + (f" ({_num(rps, 1)} requests/s)" if rps is not None else ""))
    return (" <b>Workloads on one pool</b>: the service classes' workloads share each "
            f"site's accelerators, and load and capacity are in {load_unit(c)}"
            " (a request of a workload counts the run's throughput over its own: "
            + ", ".join(parts) + f"; {_num(_number(c.get('requests_total_rps')), 1)} "
            "requests/s in all); every accelerator holds every model at once.")


def _sizing_flag(s: Mapping[str, Any]) -> str:
    """The option that bounded the capacity stages after the plan: the summary's
    ``parameters.sizing_time_limit_s`` when set, else the run's time limit."""
    params = s.get("parameters")
    given = params.get("sizing_time_limit_s") if isinstance(params, Mapping) else None
    return "--sizing-time-limit-s" if given is not None else "--time-limit-s"


def _capacity_section(s: dict[str, Any], sites: pd.DataFrame,
                      scenarios: pd.DataFrame | None) -> str:
    """The capacity of a capacitated plan: where load and capacity came from, status and
    bound, utilisation, the sites by utilisation and the failure scenarios."""
    c = s.get("capacity") or {}
    unit = load_unit(c)  # requests/s of the run's workload when classes share a pool
    k = int(s.get("failures_tolerated", 1) or 0)
    workload = s.get("workload") or {}
    wname = workload.get("name") if isinstance(workload, dict) else None

    def fig(key: str, label: str, text: Callable[[Any], str]) -> tuple[str, str, Any, str]:
        return (label, f"capacity.{key}", c.get(key), text(c.get(key)))

    intro = (
        f"<p>A capacitated plan: the fewest sites such that in normal operation and in every "
        f"failure scenario (up to {k} failure domain(s) down; domains: "
        f"{_text(c.get('failure_domains'))}) the surviving sites within budget carry all the "
        f"load within their capacity (load is splittable across sites). <b>Load</b>: "
        f"{_text(c.get('load_from'))}. <b>Capacity</b>: {_text(c.get('capacity_from'))}"
        + (f"; workload <code>{_e(wname)}</code>" if wname else "")
        + f". Utilisation: {_text(c.get('utilisation_flows'))} (<code>flows.csv</code> holds "
        "the flow of normal operation)." + _pool_text(c)
        + " Method and limits: <code>docs/capacity.md</code>.</p>")
    implied = _number(c.get("scenarios_implied_evaluated")) or 0
    worst_over = ("any scenario" if worst_over_every_scenario(c)
                  else f"over the {_num(c.get('scenarios_checked'))} scenarios checked"
                  + (f" and {_num(implied)} implied scenario{'' if implied == 1 else 's'} "
                     "evaluated before the time limit "
                     "ended their evaluation (the other implied scenarios feasible, their "
                     "utilisation not computed)" if implied else
                     " (the others feasible by implication, their utilisation not computed)"
                     if c.get("scenarios_complete", True) else " (the others not checked)"))
    worst_row = None
    if scenarios is not None and len(scenarios):
        w = pd.to_numeric(scenarios["worst_utilisation"], errors="coerce")
        if w.notna().any():
            worst_row = scenarios.iloc[int(np.nanargmax(w.to_numpy(dtype=np.float64)))]
    rows = [
        fig("status", "capacitated plan status", _text),
        *([fig("solve_status", "cut generation's status on the scenarios checked", _text)]
          if c.get("solve_status") not in (None, c.get("status")) else []),
        fig("lower_bound", "proven lower bound (sites, or cost)", lambda v: _num(v, 1)),
        fig("rounds", "rounds (MILP solves)", _num),
        fig("cuts", "capacity cuts", _num),
        fig("load_total_rps", "total load at peak", lambda v: _num(v, 1, unit)),
        # the part no site reaches (tester 185: it read as carried; absent before
        # 2026-12-07)
        *([fig("load_out_of_reach_rps", "of it, load with no candidate within budget "
               "(served by no site, in no scenario)", lambda v: _num(v, 1, unit))]
          if _number(c.get("load_out_of_reach_rps")) else []),
        fig("capacity_total_rps", "capacity of the chosen sites",
            lambda v: _num(v, 1, unit)),
        # served over capacity: the total load above counts users no site reaches too
        # (tester 131: 404,921.9 over 546,552.9 read beside "74.0 %")
        fig("fleet_utilisation", "fleet utilisation (normal operation: the load served "
            "over the capacity)", _pct),
        fig("sites_below_40pct", f"sites below {THIN_UTILISATION:.0%} utilisation (thin)",
            _num),
        fig("worst_utilisation", f"worst utilisation, any site, {worst_over}", _pct),
    ]
    if worst_row is not None:
        rows += [
            ("… in the scenario", "capacity_scenarios.worst.failed_site_ids",
             str(worst_row["failed_site_ids"]), _failed_text(worst_row["failed_site_ids"])),
            ("… at site", "capacity_scenarios.worst.worst_site_id",
             None if _missing(worst_row["worst_site_id"]) else str(worst_row["worst_site_id"]),
             _text(worst_row["worst_site_id"])),
        ]
    rows += [
        fig("scenarios_checked", "scenarios checked (normal operation included)", _num),
        fig("scenarios_total", "failure scenarios in all (the others implied by those "
            "checked: independent components, disjoint local reroutes)"
            if c.get("scenarios_complete", True) else "failure scenarios in all (the "
            "others NOT checked: cut at --scenario-limit)", _num),
        fig("scenarios_complete", "every scenario checked or implied", _bool),
        *([fig("scenarios_implied_evaluated", "implied scenarios whose utilisation was "
               "evaluated after the plan (for the worst utilisation)", _num)]
          if "scenarios_implied_evaluated" in c else []),
        *([fig("scenarios_implied_left", "implied scenarios NOT evaluated: the time limit "
               f"({_sizing_flag(s)}) ended their evaluation", _num)]
          if c.get("scenarios_implied_left") else []),
        fig("load_shed_max_rps", "largest load shed in any scenario",
            lambda v: _num(v, 1, unit)),
        fig("target_utilisation", "target utilisation (capacity from accelerators)", _pct),
        fig("requests_per_person_day", "requests per person per day", lambda v: _num(v, 2)),
        fig("peak_to_mean", "peak-to-mean", lambda v: _num(v, 2)),
        ("candidates excluded (cannot host the workload)", "candidates_excluded",
         s.get("candidates_excluded"), _num(s.get("candidates_excluded"))),
    ]
    body = intro + _kv_table(rows)
    n_thin = c.get("sites_below_40pct")
    if isinstance(n_thin, int | float) and n_thin > 0:
        body += (f'<p class="note">{_num(n_thin)} site(s) run below '
                 f"{THIN_UTILISATION:.0%} of their capacity in normal operation: capacity "
                 "paid for and mostly idle (thin utilisation). A smaller system there, or "
                 "fewer accelerators, may carry the same load.</p>")
    excluded = s.get("candidates_excluded")
    if isinstance(excluded, int | float) and excluded > 0:
        body += (f"<p>{_num(excluded)} candidate(s) cannot host the workload (power envelope "
                 "or memory) and were excluded before planning: they are listed, with the "
                 "reason, in <code>candidates_excluded.csv</code>.</p>")
    else:
        body += "<p>No candidate was excluded: every one can host the workload.</p>"

    cs = capacity_sites(sites)
    body += "<h3>Sites by utilisation</h3>"
    body += ("<p>Load and utilisation in normal operation, and the worst utilisation over "
             "the failure scenarios with the scenario causing it. Highest utilisation "
             "first.</p>")
    body += _plot_utilisation(cs)
    body += _table(cs.head(CAPACITY_SITE_ROWS), [
        ("site_id", "site", _text), ("name", "name", _text), ("tier", "tier", _text),
        ("n_accelerators", "accelerators", lambda v: NA if _missing(v) or float(v) < 0
         else _num(v)),
        ("power_kw", "power, kW", lambda v: _num(v, 1)),
        ("capacity_rps", f"capacity, {unit}", lambda v: _num(v, 1)),
        ("load_rps", f"load, {unit}", lambda v: _num(v, 1)),
        ("utilisation", "utilisation", _pct),
        ("thin", f"below {THIN_UTILISATION:.0%}", _bool),
        ("worst_utilisation", "worst utilisation", _pct),
        ("worst_failure", "worst when failed", _failed_text),
    ], total=len(cs), what="sites (all in sites.csv)",
        numeric=("n_accelerators", "power_kw", "capacity_rps", "load_rps", "utilisation",
                 "worst_utilisation"))

    body += "<h3>Failure scenarios</h3>"
    if scenarios is None or not len(scenarios):
        body += "<p>No scenario table (<code>capacity_scenarios.csv</code>).</p>"
        return _section("capacity", "Capacity", body)
    n_fail = len(scenarios) - 1
    shed = pd.to_numeric(scenarios["shed_rps"], errors="coerce")
    feasible = scenarios["feasible"].astype(str).str.lower().isin(("true", "1"))
    if n_fail <= 0:
        which = "normal operation only (no failure scenario: the plan tolerates none)"
    else:
        which = (f"normal operation and {_num(n_fail)} failure scenario(s): "
                 + ("each failure domain holding a chosen site" if k <= 1 else
                    f"every combination of 1 to {k} failure domains holding a chosen site"))
    body += (f"<p>Every scenario of <code>capacity_scenarios.csv</code>: {which}. Load shed "
             "is what the surviving sites within budget cannot carry: 0 for a feasible "
             "plan.</p>")
    body += _kv_table([
        ("failure scenarios", "capacity_scenarios.failures", int(n_fail), _num(n_fail)),
        # (failure scenarios only: normal operation is the table's first row; "12 of 11"
        # read in every capacitated report, tester 157)
        ("failure scenarios where all the load is served", "capacity_scenarios.feasible",
         int(feasible.iloc[1:].sum()), _num(int(feasible.iloc[1:].sum()))),
        ("largest load shed", "capacity_scenarios.max_shed_rps",
         float(shed.max()) if shed.notna().any() else None,
         _num(shed.max(), 1, unit)),
    ])
    worst = worst_scenarios(scenarios)
    if len(worst):
        body += (f"<p>The {len(worst)} failure scenario(s) with the highest worst "
                 "utilisation:</p>")
        body += _table(worst, [
            ("scenario", "scenario (row)", _num),
            ("failed_site_ids", "failed sites", _failed_text),
            ("worst_utilisation", "worst utilisation", _pct),
            ("worst_site_id", "at site", _text),
            ("load_rps", f"load, {unit}", lambda v: _num(v, 1)),
            ("served_rps", f"served, {unit}", lambda v: _num(v, 1)),
            ("shed_rps", f"shed, {unit}", lambda v: _num(v, 1)),
            ("feasible", "all served", _bool),
        ], total=n_fail, what="failure scenarios (all in capacity_scenarios.csv)",
            numeric=("scenario", "worst_utilisation", "load_rps", "served_rps", "shed_rps"))
    return _section("capacity", "Capacity", body)


def _criticality_section(failures: pd.DataFrame, sites: pd.DataFrame,
                         s: dict[str, Any] | None = None) -> str:
    crit = criticality(failures, sites)
    flows = "load_rerouted_rps" in crit.columns
    cap = "capacity_worst_utilisation" in crit.columns
    body = ("<p>Each chosen site failed in turn; its users move to their nearest surviving "
            "site. Ranked by the population pushed outside the budget, then "
            + ("the load its failure sheds and the worst utilisation it leaves a "
               "surviving site (its row of capacity_scenarios.csv), then " if cap else "")
            + "the population re-routed, then the worst latency: the first row is the "
            "failure that hurts most.</p>")
    if flows:
        body += ("<p>Population re-routed counts the people whose nearest site it is; "
                 "a capacitated plan also sends people past a full nearest site, so a site "
                 "can serve people (population served, load moved: flows.csv) and be "
                 "nobody's nearest. n/a: the site's failure alone is not a row of the "
                 "capacity scenarios (implied by those checked, or with failure domains, "
                 "whose rows fail whole domains).</p>")
    body += _plot_criticality(crit)
    unit = load_unit((s or {}).get("capacity") or {}) if flows else ""
    body += _table(crit.head(MAX_TABLE_ROWS), [
        ("rank", "rank", _num), ("failed_site_id", "failed site", _text),
        ("name", "name", _text),
        *((("population_served", "population served (flows)", _num),
           ("load_rerouted_rps", f"load moved, {unit}", lambda v: _num(v, 1)))
          if flows else ()),
        *((("capacity_worst_utilisation", "busiest surviving site", _pct),
           ("capacity_shed_rps", f"load shed, {unit}", lambda v: _num(v, 1)))
          if cap else ()),
        ("population_rerouted", "population re-routed", _num),
        ("population_outside_budget", "population outside budget", _num),
        ("worst_latency_ms", "worst latency", _ms),
        ("mean_rerouted_latency_ms", "mean re-routed latency", _ms),
        ("n_demand_outside_budget", "points outside budget", _num),
        ("meets_budget", "everyone within budget", _bool),
    ], total=len(crit), what="failures (all in failures.csv)",
        numeric=("rank", "population_served", "load_rerouted_rps",
                 "capacity_worst_utilisation", "capacity_shed_rps", "population_rerouted",
                 "population_outside_budget", "worst_latency_ms",
                 "mean_rerouted_latency_ms", "n_demand_outside_budget"))
    return _section("criticality", "Which site's failure hurts most", body)


def _gaps_section(a: pd.DataFrame, proposed: pd.DataFrame, s: dict[str, Any],
                  gis_files: tuple[str, ...] | None = None) -> str:
    k = int(s.get("failures_tolerated", 1) or 0)
    # a plan that fails whole failure domains counts its statuses in domains
    unit = "domain" if s.get("statuses_by") == "failure domains" else "site"
    st = a.groupby("coverage_status")["population"].agg(["size", "sum"])
    # the statuses that can occur with this k (partial needs k >= 2, single k >= 1), and any
    # other found in the table
    names = [n for n in COVERAGE_STATUSES
             if not ((n == "partial" and k < 2) or (n == "single" and k < 1))]
    names += sorted(set(map(str, st.index)) - set(names))
    status_rows = pd.DataFrame({
        "status": names,
        "label": [status_label(n, k, unit=unit) for n in names],
        "meaning": [status_meaning(n, k, unit=unit) for n in names],
    })
    status_rows["points"] = status_rows["status"].map(st["size"]).fillna(0).astype(int)
    status_rows["population"] = status_rows["status"].map(st["sum"]).fillna(0.0)
    within = (f"its candidates within budget lie in fewer than {k + 1} failure domains"
              if unit == "domain" else f"fewer than {k + 1} candidates lie within its budget")
    # (tester 189: a domain plan's section opened with the single-site definition)
    body = (f"<p>Demand that no choice of candidates makes N-{k} safe: {within} (every "
            "status but redundant). A "
            "fewest-sites plan opens what exists (a --max-sites plan may leave some closed); "
            "the proposal suggests new sites (not on the candidate list) that would close the "
            "gaps. Still short: gap points below the requirement with the plan's chosen "
            "sites plus the proposed ones.</p>")
    body += _table(status_rows, [("status", "coverage status", _text),
                                 ("label", "for this plan", _text),
                                 ("meaning", "meaning", _text),
                                 ("points", "demand points", _num),
                                 ("population", "population", _num)],
                   numeric=("points", "population"))
    p = s.get("proposed") or {}
    if p.get("gaps_by") == "failure domains":
        body += (f"<p>This plan fails whole failure domains, and so do its proposals: a gap "
                 f"point for them is one whose candidates within budget lie in fewer than "
                 f"{k + 1} domains (assignment.csv's n_domains_in_budget, as the statuses "
                 "above count them), and each proposed site is a failure domain of its "
                 "own.</p>")
    elif p.get("proposed_sites"):
        # tester 174: a proposal 600 m from a candidate read as a second, independent site
        params = s.get("parameters")
        near = _number(params.get("colocated_m")) if isinstance(params, Mapping) else None
        near = near if near is not None and math.isfinite(near) else 300.0
        body += (f"<p>A proposed site counts as a site of its own in the N-{k} figures, "
                 f"though it may lie {_num(2 * near)} m (twice --colocated-m) from a "
                 "candidate or another proposal and so share its power and fibre. To make "
                 "sites that close fail together, give the candidates a failure_domain "
                 "column or --domain-radius-km: the proposals are then failure domains of "
                 "their own (with --domain-radius-km, farther than it from every "
                 "candidate).</p>")
    labels = {
        "gaps_by": "gaps counted by",
        "proposed_sites": "proposed new sites", "gap_points": "gap points",
        "population_gap": "population in gaps",
        "gap_points_still_short": "gap points still short with the proposals",
        "population_still_short": "population still short", "status": "proposal solve status",
        "lower_bound": "proven lower bound of the proposal (fewest of these locations)",
    }
    body += "<h3>Proposed new sites</h3>"
    body += _kv_table([(labels.get(key, key), f"proposed.{key}", v, _value_text(v))
                       for key, v in p.items()])
    if len(proposed):
        body += _table(proposed.head(MAX_TABLE_ROWS), [
            ("proposed_site_id", "proposed site", _text),
            ("lat", "lat", lambda x: _num(x, 4)), ("lon", "lon", lambda x: _num(x, 4)),
            ("n_demand_gained", "gap points gained", _num),
            ("population_gained", "population gained", _num),
        ], total=len(proposed), what="proposed sites (all in proposed_sites.csv)",
            numeric=("lat", "lon", "n_demand_gained", "population_gained"))
    else:
        body += "<p>No proposed sites: every demand point has enough candidates.</p>"
    gaps = a[is_gap(a)]
    if len(gaps):
        top = gaps.sort_values(["population", "demand_id"], ascending=[False, True],
                               kind="stable").head(25)
        body += "<h3>Largest gap points</h3>"
        body += _table(top, [
            ("demand_id", "demand", _text), ("name", "name", _text),
            ("lat", "lat", lambda x: _num(x, 4)), ("lon", "lon", lambda x: _num(x, 4)),
            ("population", "population", _num), ("coverage_status", "status", _text),
            ("n_covering_sites", "candidates in budget", _num),
            # (a status by domains beside the chosen sites' domains: review 154)
            *([("n_domains_in_budget", "domains of chosen sites in budget", _num)]
              if unit == "domain" and "n_domains_in_budget" in top.columns else []),
        ], total=len(gaps), what="gap points (all in assignment.csv"
            # plan.gpkg only when it was written (--no-gis, too many points, a failure)
            + (" and plan.gpkg" if "plan.gpkg" in (gis_files or ()) else "") + ")",
            numeric=("lat", "lon", "population", "n_covering_sites", "n_domains_in_budget"))
    return _section("gaps", "Coverage gaps and proposed sites", body)


def _parameters_section(s: dict[str, Any]) -> str:
    params = s.get("parameters") or {}
    rows = [(key, f"parameters.{key}", v, _value_text(v)) for key, v in _flatten(params)]
    body = "<p>Every setting of the run (latency model: <code>docs/latency-model.md</code>).</p>"
    body += _kv_table(rows)
    solver = s.get("solver") or {}
    run = [(f"solver: {key}", f"solver.{key}", v, _value_text(v))
           for key, v in _flatten(solver) if not isinstance(v, list)]
    run += [(f"time: {key}", f"timings_s.{key}", v, _num(v, 2, "s"))
            for key, v in (s.get("timings_s") or {}).items()]
    if run:
        body += "<h3>Solver and timings</h3>" + _kv_table(run)
    return _section("parameters", "Model parameters", body)


def _inputs_section(s: dict[str, Any]) -> str:
    inputs = s.get("inputs") or {}
    if not inputs:
        body = ("<p>The inputs were passed as tables, not files (no names or checksums "
                f"recorded): {_num(s.get('n_demand'))} demand points and "
                f"{_num(s.get('n_candidates'))} candidate sites.</p>")
        return _section("inputs", "Inputs", body)
    rows = []
    for role, info in inputs.items():
        info = info if isinstance(info, dict) else {"value": info}
        for key, v in info.items():
            label = {"name": "file", "rows": "rows", "sha256": "SHA-256"}.get(key, key)
            text = f"<code>{_e(v)}</code>" if key == "sha256" else _value_text(v)
            rows.append((f"{role}: {label}", f"inputs.{role}.{key}", v, text))
    return _section("inputs", "Inputs", _kv_table(rows))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:0 1.5rem 3rem;color:#222;line-height:1.45}
h1{font-size:1.5rem;margin:1.5rem 0 .3rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin-top:1.4rem}
nav a{margin-right:.9rem;font-size:.9rem}table{border-collapse:collapse;margin:.6rem 0;
font-size:.85rem}th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left;
vertical-align:top}table.kv th{font-weight:normal;color:#555}td.n,th.n{text-align:right}
table.data thead th{border-bottom:2px solid #ccc}table.data td.n{white-space:nowrap}
td,th{overflow-wrap:break-word}table{display:block;overflow-x:auto;max-width:100%}
img.plot{max-width:100%;height:auto;display:block;margin:.8rem 0}
p.note{color:#666;font-size:.85rem}code{font-size:.8rem}
.lead{font-size:1.05rem;color:#333}
.edited{border:2px solid #b00;background:#fff4f4;padding:.5rem .8rem;margin:.8rem 0}
"""


def _usd(x: Any) -> str:
    if _not_finite(x):
        return NA
    v = _number(x)
    if v is None:
        return _e(x)
    if not math.isfinite(v):
        return NA
    return f"${v:,.2f}" if abs(v) < 100 else f"${v:,.0f}"


def _obj(d: Any, key: str) -> dict[str, Any]:
    """``d[key]`` when both are objects (dicts), else an empty dict."""
    v = d.get(key) if isinstance(d, dict) else None
    return v if isinstance(v, dict) else {}


def _records(v: Any) -> pd.DataFrame:
    """A list of objects as a table (anything else, or an item that is not an object: not
    shown)."""
    return pd.DataFrame([x for x in v if isinstance(x, dict)] if isinstance(v, list) else [])


def _finite_number(x: Any) -> float | None:
    v = _number(x)
    return v if v is not None and math.isfinite(v) else None


def _plot_breakeven(doc: dict[str, Any]) -> str:
    """Edge cost per million requests against its utilisation, the region's price, the
    breakeven and the plan's own utilisation; empty when a figure it needs is not a finite
    number, or the prices reach :data:`_HUGE`."""
    be, edge_doc = _obj(doc, "breakeven"), _obj(doc, "edge")
    fixed, var, cap, region, edge_cost = (
        _finite_number(x) for x in (be.get("fixed_usd_per_year"),
                                    be.get("energy_at_full_use_usd_per_year"),
                                    be.get("capacity_rps"),
                                    _obj(doc, "region").get("cost_per_million_requests"),
                                    edge_doc.get("cost_per_million_requests")))
    if (fixed is None or var is None or cap is None or region is None or edge_cost is None
            or not cap > 0):
        return ""
    u = np.linspace(0.02, 1.0, 200)
    u_now = _finite_number(be.get("fleet_utilisation"))
    v_now, r_now = (_finite_number(be.get(k)) for k in (
        "energy_at_present_load_usd_per_year", "requests_per_year"))
    with np.errstate(all="ignore"):
        if u_now and u_now > 0 and v_now is not None and r_now and r_now > 0:
            # the present load scaled in proportion, as the breakeven is (reviewer 123:
            # every site at u drew another curve on mixed tiers)
            edge = (fixed + v_now * u / u_now) / (r_now * (u / u_now) / 1e6)
        else:  # a compare.json of before 2026-12-04: every site at u
            edge = (fixed + var * u) / (u * cap * 365 * 86400 / 1e6)
        top = max(region * 4, edge_cost * 1.5)
    if not (np.isfinite(edge).all() and 0 < top < _HUGE):
        return ""  # no readable axis (and Matplotlib's ticks overflow near 1e308)
    u_star, uf = _finite_number(be.get("utilisation")), _finite_number(be.get("fleet_utilisation"))

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.plot(100 * u, edge, "-", color="#1f77b4", label="edge fleet (this plan's sites)")
        ax.axhline(region, color="#ff7f0e", label="region")
        if u_star is not None:
            ax.axvline(100 * u_star, ls=":", color="#555555",
                       label=f"breakeven {100 * u_star:.1f} %")
        if uf is not None:
            ax.plot([100 * uf], [edge_cost], marker="*", ms=14,
                    color="#d62728", ls="none", label=f"this plan: {100 * uf:.1f} %")
        ax.set_ylim(0, top)
        ax.set_xlim(0, 100)
        ax.set_xlabel("edge fleet mean utilisation, %")
        ax.set_ylabel("USD per million requests")
        ax.legend(frameon=False, fontsize=8)
    return _svg(draw, alt="price per million requests of the edge fleet against its "
                          "utilisation, with the region's")


def _compare_section(doc: dict[str, Any]) -> str:
    """Edge or region: the verdict, both sides' figures, the breakeven, the region's
    coverage by budget, the decision table and the warnings (``compare.json``; a part
    that is not what ``edge-coverage compare`` writes shows as n/a)."""
    e, r, be = _obj(doc, "edge"), _obj(doc, "region"), _obj(doc, "breakeven")
    ec, rc = _obj(e, "coverage"), _obj(r, "coverage")
    eu, ru = _obj(e, "utilisation"), _obj(r, "utilisation")
    sizing = _obj(e, "sizing")
    body = [f'<p class="lead" data-key="verdict">{_text(_obj(doc, "verdict").get("text"))}</p>']
    rows = [
        ("people within budget", "share_within_budget", ec.get("share_within_budget"),
         rc.get("share_within_budget"), _pct),
        ("people within budget after one failure", "share_n1",
         ec.get("share_n1_safe"), rc.get("share_within_budget_n1"), _pct),
        ("sites / regions", "sites", e.get("sites"), r.get("regions"), _num),
        ("mean utilisation", "utilisation", eu.get("fleet_mean"), ru.get("utilisation"), _pct),
        ("accelerators (edge: priced; region: mean rented)", "accelerators",
         sizing.get("accelerators"), ru.get("accelerators_mean"), _num),
        ("cost per year", "cost_total", _obj(e, "cost_usd_per_year").get("total"),
         _obj(r, "cost_usd_per_year").get("total"), _usd),
        ("cost per million requests", "cost_per_million_requests",
         e.get("cost_per_million_requests"), r.get("cost_per_million_requests"), _usd),
        ("cost per user-month", "cost_per_user_month", e.get("cost_per_user_month"),
         r.get("cost_per_user_month"),
         lambda x: NA if _finite_number(x) is None else f"${float(x):,.4f}"),
    ]
    head = "<thead><tr><th></th><th class=\"n\">edge fleet</th><th class=\"n\">region</th>" \
        "</tr></thead>"
    trs = "".join(
        f"<tr><th>{_e(label)}</th>{_cell('edge.' + key, ev, f(ev))}"
        f"{_cell('region.' + key, rv, f(rv))}</tr>" for label, key, ev, rv, f in rows)
    body.append(f'<table class="data" id="compare-sides">{head}<tbody>{trs}</tbody></table>')
    if e.get("feasible"):
        u = be.get("utilisation")
        body.append(
            f'<p>Breakeven: the edge costs the region\'s price per request at '
            f'<span data-key="breakeven">{_pct(u) if u is not None else "never (above 100 %)"}'
            f"</span> mean utilisation; this fleet runs at {_pct(be.get('fleet_utilisation'))}."
            f" The fleet is priced right-sized: {_num(sizing.get('accelerators'))}"
            f" accelerators for the worst scenario's load, not the "
            f"{_num(sizing.get('accelerators_envelope'))} the power envelopes "
            "could hold.</p>")
        body.append(_plot_breakeven(doc))
        lines = _obj(e, "cost_usd_per_year")
        body.append(_kv_table(
            [(f"edge {k} per year", f"edge.cost.{k}", v, _usd(v)) for k, v in lines.items()]
            + [(f"region {k} per year", f"region.cost.{k}", v, _usd(v))
               for k, v in _obj(r, "cost_usd_per_year").items()]))
    else:
        body.append(f"<p>No edge plan: {_text(e.get('reason'))}</p>")
    cov = _records(doc.get("region_coverage"))
    if len(cov):
        body.append("<h3>The region's reach by budget</h3>")
        body.append(_table(cov, [("budget_ms", "budget", _budget),
                                 ("share_within_budget", "within budget, nearest region",
                                  _pct),
                                 ("share_within_budget_n1", "within budget, two regions",
                                  _pct),
                                 ("mean_latency_ms", "mean latency", _ms),
                                 ("median_distance_km", "median path, km (through the "
                                  "UPF for mobile users)", _num)],
                           numeric=("share_within_budget", "share_within_budget_n1",
                                    "mean_latency_ms", "median_distance_km")))
    by_class = _records(doc.get("region_coverage_by_service_class"))
    if len(by_class):
        body.append("<h3>The region's reach by service class</h3>")
        body.append(_table(by_class, [("service_class", "class", _text),
                                      ("budget_ms", "budget", _budget),
                                      ("percentile", "percentile", _text),
                                      ("share_within_budget", "within budget, nearest region",
                                       _pct),
                                      ("share_within_budget_n1", "within budget, two regions",
                                       _pct)],
                           numeric=("share_within_budget", "share_within_budget_n1")))
    dec = _records(doc.get("decision"))
    if len(dec):
        body.append("<h3>Decision table</h3>")
        body.append(_table(dec, [("driver", "driver", _text), ("favours", "favours", _text),
                                 ("value", "this plan", _text)]))
    warns = doc.get("warnings")
    warns = [w for w in warns if isinstance(w, dict)] if isinstance(warns, list) else []
    body.append("<h3>Warnings</h3>")
    if warns:
        items = "".join(f'<li data-code="{_e(w.get("code"))}"><code>{_e(w.get("code"))}'
                        f"</code>: {_e(w.get('message'))}</li>" for w in warns)
        body.append(f'<ul class="warnings">{items}</ul>')
    else:
        body.append("<p>None: no anti-pattern of the chapter shows in these numbers.</p>")
    a, costs = _obj(doc, "assumptions"), _obj(doc, "cost_model")
    pooled = _obj(r, "workloads")
    if pooled:  # service classes on several workloads: the region serves each on its own
        workloads = "; ".join(
            f"{_text(name)} on {_text(w.get('region_workload'))} "
            f"({_num(w.get('peak_rps'), 1)} requests/s at peak)"
            for name, w in pooled.items() if isinstance(w, dict))
        body.append(f'<p class="note" data-key="region-workloads">The service classes use '
                    f"several workloads; the edge shares its accelerators between them "
                    f"(load and utilisation in {_text(_obj(e, 'load').get('load_unit'))}; "
                    f"prices per request of every workload), the region rents each "
                    f"workload's own accelerator-hours: {workloads}.</p>")
    body.append(f'<p class="note">Load: {_text(a.get("load_from"))}; edge workload '
                f'{_text(a.get("workload"))}, region workload {_text(a.get("region_workload"))};'
                f' cost model {_text(costs.get("source"))} (dated '
                f'{_text(costs.get("date"))}; defaults are a first '
                "look, override them with --costs FILE). Region coordinates are approximate "
                "metro centres. Tables: compare.json, compare_sites.csv, "
                "region_coverage.csv.</p>")
    return _section("compare", "Edge or region", "".join(body))


@dataclass(frozen=True)
class ReportDraft:
    """The sections of a report rendered before its budget sweep has finished.

    Made by :func:`draft_report`; :func:`render_report` takes them instead of rendering
    them again when its summary is the draft's but for the sweep's figures.

    Attributes
    ----------
    summary : dict
        The summary the sections were rendered from.
    sections : dict of str to str
        Section key -> HTML (every section but the sweep's).
    """

    summary: dict[str, Any]
    sections: dict[str, str]


_PAGE_ORDER = ("summary", "compare", "service-classes", "sweep", "rollout", "latency",
               "sites", "capacity", "criticality", "gaps", "parameters", "inputs")
"""The keys of :func:`_render_sections`, in the order the page shows them."""


def _render_sections(data: ReportData, skip: Collection[str] = ()) -> dict[str, str]:
    """Each section's HTML, keyed (:data:`_PAGE_ORDER`); those in ``skip`` are not
    rendered. A section that does not apply (no comparison, one service class, no
    capacity) is empty text."""
    s = data.summary
    capacitated = isinstance(s.get("capacity"), dict)
    makers: dict[str, Callable[[], str]] = {
        "summary": lambda: _summary_section(s),
        "compare": lambda: (_compare_section(data.compare) if data.compare is not None
                            else ""),
        "service-classes": lambda: _service_class_section(s),  # with more than one class
        "sweep": lambda: _sweep_section(data.sweep, s),
        "rollout": lambda: _rollout_section(data.rollout, data.sites, s),
        "latency": lambda: _latency_section(data.assignment, s),
        "sites": lambda: _sites_section(data.sites, data.assignment),
        "capacity": lambda: (_capacity_section(s, data.sites, data.capacity_scenarios)
                             if capacitated else ""),
        "criticality": lambda: _criticality_section(data.failures, data.sites, s),
        "gaps": lambda: _gaps_section(data.assignment, data.proposed, s, data.gis_files),
        "parameters": lambda: _parameters_section(s),
        "inputs": lambda: _inputs_section(s),
    }
    return {key: makers[key]() for key in _PAGE_ORDER if key not in skip}


def draft_report(data: ReportData) -> ReportDraft:
    """Render every section of the report but the budget sweep's (``data.sweep`` is not
    read), so that only that section is left once the sweep has finished.

    Parameters
    ----------
    data : ReportData
        The plan's tables; ``sweep`` may be empty.

    Returns
    -------
    ReportDraft
    """
    return ReportDraft(summary=dict(data.summary),
                       sections=_render_sections(data, skip=("sweep",)))


def _without_sweep(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "sweep"}


def _gis_footer(gis_files: tuple[str, ...] | None) -> str:
    """The footer's words on the GIS layers: the files written, when known."""
    if gis_files is None:
        return ("; GIS layers, unless skipped with --no-gis: demand.parquet, sites.parquet, "
                "and plan.gpkg (by default up to 250,000 demand points, else with --gpkg).")
    if not gis_files:
        return ("; no GIS layers (--no-gis, or not written: the plan run's warnings and its "
                "marker's skipped list say why).")
    return f"; GIS layers: {_e(', '.join(gis_files))}."


def render_report(data: ReportData, draft: ReportDraft | None = None) -> str:
    """The report as HTML text: self-contained, no script, every data text escaped.

    Parameters
    ----------
    data : ReportData
        The plan's tables.
    draft : ReportDraft, optional
        Sections rendered earlier by :func:`draft_report` from the same tables; used when
        their summary equals ``data.summary`` but for its ``sweep`` entry (the sweep's
        figures, which no other section shows), else every section is rendered here.

    Returns
    -------
    str
        A complete HTML document.
    """
    s = data.summary
    k = s.get("failures_tolerated", 1)
    title = (f"Edge coverage plan: {_num(s.get('site_count'))} sites, "
             f"{_budget(s.get('budget_ms'))} {_text(s.get('percentile'))}, N-{_num(k)}")
    nav_titles = {"summary": "Summary", "sweep": "Budget sweep", "rollout": "Rollout",
                  "latency": "Latency",
                  "sites": "Site load", "criticality": "Criticality", "gaps": "Gaps",
                  "parameters": "Parameters", "inputs": "Inputs"}
    done = (dict(draft.sections) if draft is not None
            and _without_sweep(draft.summary) == _without_sweep(s) else {})
    parts = {**done, **_render_sections(data, skip=tuple(done))}
    by_class, capacity, compare = parts["service-classes"], parts["capacity"], parts["compare"]
    links = [(sid, nav_titles[sid]) for sid in SECTIONS]
    if by_class:
        links.insert(1, ("service-classes", "By service class"))
    if capacity:
        links.insert([sid for sid, _ in links].index("sites") + 1, ("capacity", "Capacity"))
    if compare:
        links.insert(1, ("compare", "Edge or region"))
    nav = "".join(f'<a href="#{sid}">{text}</a>' for sid, text in links)
    lead = (f'<p class="lead">{_num(s.get("population_covered"))} of '
            f'{_num(s.get("population_total"))} people within budget; '
            f'{_num(s.get("n1_population_outside_budget"))} outside it under the worst '
            f"single failure.</p>")
    if data.edited:
        lead += (f'<p class="edited"><strong>Edited since edge-coverage wrote them: '
                 f'{_e(", ".join(data.edited))}.</strong> The figures below are read from '
                 "the files as they are now, and were not checked again: they are not the "
                 "computed plan's. Plan again for a checked report.</p>")
    sections = [parts[key] for key in _PAGE_ORDER]
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{title}</h1>{lead}<nav>{nav}</nav></header>"
        + "".join(sections)
        + '<footer><p class="note">Written by edge-coverage '
        f"{_text(s.get('version'))}; tables: summary.json, sites.csv, sites.geojson, "
        "assignment.csv, failures.csv, proposed_sites.csv, sweep.csv"
        + (", rollout.csv" if data.rollout is not None else "")
        + (", flows.csv, capacity_scenarios.csv" if capacity else "")
        + (", domain_failures.csv" if isinstance(s.get("domain_failures"), Mapping)
           and "worst_domain" in s["domain_failures"] else "")
        + _gis_footer(data.gis_files) + "</p></footer></body></html>\n"
    )
