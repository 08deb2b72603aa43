"""Every planner option, described once: :data:`OPTIONS` and :class:`PlannerConfig`.

Each :class:`Option` has a name (the keyword of :func:`coverage.plan_sites`, the key of a
batch TOML file and of ``summary.json["parameters"]``), a type, a unit, a default, a
constraint and a help text. The command line's planner flags (:func:`add_cli_options`),
batch's accepted keys (``coverage.batch.PLAN_PARAMETERS``), the option check
(:meth:`PlannerConfig.problems`) and the options table of ``docs/options.md``
(:func:`options_markdown`) are all derived from it, so they cannot drift apart.

Validation collects every problem into one message (the scikit-learn "parameter
constraints" idea): a constraint is a small named predicate with the sentence that
explains it.

Latency-model options (``route_factor``, ``workload``, ...) are described here too
(``model=True``) for the command line, batch and the docs; their values are checked by
:class:`coverage.model.latency.LatencyModel`, and the network parameters' physical bounds
(:data:`coverage.model.latency.NETWORK_BOUNDS`: no fibre faster than light, no route
shorter than the great circle, ...) are constraints here too, so the command line refuses
them as it parses and the docs table states them.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputValidationError
from .model.catalog import named_arguments
from .model.h3index import H3_MAX_RES
from .model.latency import NETWORK_BOUNDS, bound_text

if TYPE_CHECKING:
    from .model.latency import LatencyModel

logger = logging.getLogger(__name__)

__all__ = ["Option", "OPTIONS", "PLANNER_OPTIONS", "MODEL_OPTIONS", "PlannerConfig",
           "add_cli_options", "as_model", "build_model", "given_options", "options_markdown",
           "StoreGiven"]


def _number(v: Any) -> float | None:
    """``v`` as a finite float, else ``None``; text is not a number here (the CLI parses
    its flags first, so ``"100"`` can only come from the API, as from a misread file)."""
    if isinstance(v, bool | str | bytes):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _is_int(v: Any) -> bool:
    import numpy as np

    return not isinstance(v, bool) and isinstance(v, int | np.integer)


def _preset_names() -> tuple[str, ...]:
    from .model.service import SERVICE_PRESETS

    return tuple(SERVICE_PRESETS)


#: The largest latency budget accepted, ms (beyond it a "budget" is not a latency budget and
#: radii overflow).
MAX_BUDGET_MS = 1e6
#: The most simultaneous site failures a plan tolerates (``failures``): every user then
#: needs that many plus one sites within budget; per-user tables grow with it (a run asked
#: for 1,000,000 failures built a (rows, 1,000,001) table and ran out of memory).
MAX_FAILURES = 10
#: The range of ``aggregate_km``: below a metre the aggregation grid's integer cell index
#: overflows (1e-15 km binned a continent into one cell, a tester's find); from 10,008 km
#: (the quarter meridian) the grid is two cells, one per hemisphere, so more says nothing.
MIN_CELL_KM = 0.001
MAX_CELL_KM = 20_000.0
#: The widest ``--domain-radius-km``: half the Earth's circumference (pi x 6,371 km), the
#: farthest two places on Earth can be.
MAX_DOMAIN_RADIUS_KM = 20_015.0


def _is_budget(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in _preset_names()
    return (n := _number(v)) is not None and 0 < n <= MAX_BUDGET_MS


def _network_bound(name: str) -> tuple[Callable[[Any], bool], str]:
    """The constraint of latency-model network parameter ``name`` (absent, or within its
    physical bounds, :data:`coverage.model.latency.NETWORK_BOUNDS`)."""
    lo, hi, _, _ = NETWORK_BOUNDS[name]

    def ok(v: Any) -> bool:
        if v is None:
            return True
        if name == "hops":
            return _is_int(v) and lo <= v <= hi
        return (n := _number(v)) is not None and lo <= n <= hi

    return ok, bound_text(name) + " (or absent)"


#: Constraints whose sentence holds the unit (:meth:`Option.requirement` adds no "of UNIT").
_UNIT_IN_SENTENCE = frozenset({"budget", "cell_km_or_none", "domain_km_or_none", "gap_pct",
                               "pair_ms",
                               *(f"{n}_or_none" for n in NETWORK_BOUNDS)})

# name -> (predicate, sentence)
#: Largest ``requests_per_person_day``: a million a day is 11.6 requests a second from every
#: person, day and night (a typo's 1e30 made a load of 1.7e33 requests/s).
MAX_REQUESTS_PER_PERSON_DAY = 1e6

CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "positive": (lambda v: (n := _number(v)) is not None and n > 0, "a positive number"),
    "non_negative": (lambda v: (n := _number(v)) is not None and n >= 0,
                     "a non-negative number"),
    "budget": (_is_budget, "a positive number of ms (at most 1,000,000) or a service-class "
               "preset (realtime = 30 ms, interactive = 50 ms, instant = 100 ms, all p99)"),
    "path_or_none": (lambda v: v is None or (isinstance(v, str) and v.strip() != "")
                     or hasattr(v, "__fspath__") or isinstance(v, Mapping),
                     "the path of a TOML file (or absent)"),
    "upf_spec": (lambda v: (isinstance(v, str) and v.strip() != "")
                 or hasattr(v, "__fspath__") or hasattr(v, "columns"),
                 "'default', 'none' or the path of a table of upf_id, lat, lon"),
    "edge_factor_or_none": (lambda v: v is None or ((n := _number(v)) is not None
                                                    and 1 <= n <= 20),
                            "a number from 1 to 20 (a fibre link is never shorter than the "
                            "straight line, and 20 times it is a typo; or absent)"),
    "catalog_or_none": (lambda v: v is None or (isinstance(v, str) and v.strip() != "")
                        or hasattr(v, "__fspath__") or hasattr(v, "tiers"),
                        "the path of a TOML file (or absent)"),
    "graph_or_none": (lambda v: v is None or (isinstance(v, str) and v.strip() != "")
                      or hasattr(v, "__fspath__") or hasattr(v, "path_ms"),
                      "the path of a GML or GraphML file (or absent)"),
    "peak_ratio": (lambda v: (n := _number(v)) is not None and 1 <= n <= 1000,
                   "a number from 1 to 1,000 (the peak hour's load over the day's mean: "
                   "a peak below the mean does not exist)"),
    "rate_or_none": (lambda v: v is None or ((n := _number(v)) is not None
                                             and 0 < n <= MAX_REQUESTS_PER_PERSON_DAY),
                     f"a positive number up to {MAX_REQUESTS_PER_PERSON_DAY:,.0f} (or absent; "
                     f"{MAX_REQUESTS_PER_PERSON_DAY:,.0f} a day is 11.6 requests a second "
                     "from every person, day and night)"),
    "fraction": (lambda v: (n := _number(v)) is not None and 0 < n <= 1,
                 "a number in (0, 1]"),
    "text": (lambda v: isinstance(v, str) and v.strip() != "", "a name"),
    "text_or_none": (lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
                     "a name (or absent)"),
    "nonneg": (lambda v: (n := _number(v)) is not None and n >= 0, "a number >= 0"),
    "gap_pct": (lambda v: (n := _number(v)) is not None and 0 <= n < 100,
                "a percentage from 0 (prove the optimum) to below 100"),
    "nonneg_int": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "failures": (lambda v: _is_int(v) and 0 <= v <= MAX_FAILURES,
                 f"an integer from 0 to {MAX_FAILURES} (N-{MAX_FAILURES} already needs "
                 f"{MAX_FAILURES + 1} sites within budget of every user)"),
    "positive_or_none": (lambda v: v is None or ((n := _number(v)) is not None and n > 0),
                         "a positive number (or absent)"),
    "domain_km_or_none": (lambda v: v is None or ((n := _number(v)) is not None
                                                  and 0 < n <= MAX_DOMAIN_RADIUS_KM),
                          f"a positive number of km up to {MAX_DOMAIN_RADIUS_KM:,.0f} (or "
                          "absent; half the Earth's circumference: every two places on Earth "
                          "are closer, so a wider radius is one domain of everything, as "
                          f"{MAX_DOMAIN_RADIUS_KM:,.0f} is)"),
    "cell_km_or_none": (lambda v: v is None or ((n := _number(v)) is not None
                                                and MIN_CELL_KM <= n <= MAX_CELL_KM),
                        f"a number of km from {MIN_CELL_KM:g} (1 m) to {MAX_CELL_KM:,.0f} "
                        "(or absent; smaller cells overflow the grid's integer index, and a "
                        "cell of the Earth's size bins nothing)"),
    "nonneg_or_none": (lambda v: v is None or ((n := _number(v)) is not None and n >= 0),
                       "a number >= 0 (or absent)"),
    "nonneg_int_or_none": (lambda v: v is None or (_is_int(v) and v >= 0),
                           "an integer >= 0 (or absent)"),
    "positive_int": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "positive_int_or_none": (lambda v: v is None or (_is_int(v) and v >= 1),
                             "an integer >= 1 (or absent)"),
    "model_spec": (lambda v: isinstance(v, str) and v.strip() != "",
                   "a profile name (internet, on-net) or the path of a model file (.toml)"),
    "pair_ms": (lambda v: v is None or (
        isinstance(v, list | tuple) and len(v) == 2
        and all(_number(x) is not None for x in v) and 0 <= float(v[0]) <= float(v[1])),
        "P50,P99 in ms with 0 <= P50 <= P99"),
    "h3_res_or_none": (lambda v: v is None or (_is_int(v) and 0 <= v <= H3_MAX_RES),
                       f"an integer from 0 to {H3_MAX_RES} (or absent)"),
    # the latency model's network parameters: their physical bounds (fiber_us_per_km_or_none,
    # route_factor_or_none, hops_or_none, per_hop_ms_or_none, overhead_ms_or_none, ...)
    **{f"{n}_or_none": _network_bound(n) for n in NETWORK_BOUNDS},
    "choice": (lambda v: True, "one of the choices"),  # checked against Option.choices
    "any": (lambda v: True, "any value"),
}


@dataclass(frozen=True)
class Option:
    """One planner option.

    Attributes
    ----------
    name : str
        Keyword of :func:`coverage.plan_sites` / TOML key / summary parameter.
    type : type
        Python type of the value (``float``, ``int``, ``str``, ``tuple``).
    default : Any
        Default value.
    unit : str
        Unit of the value (``"ms"``, ``"s"``, ``"GiB"``, ``"km"``, ``"us/km"``, or ``""``).
    help : str
        One sentence for ``--help`` and the docs.
    constraint : str
        Key of :data:`CONSTRAINTS`.
    choices : tuple of str, optional
        Allowed values (``constraint="choice"``); a callable returning them is allowed
        for tables that live elsewhere (access profiles, workloads).
    group : str
        Help group (``requirement``, ``latency model``, ``solver``).
    model : bool
        A :class:`coverage.model.latency.LatencyModel` parameter rather than a planner one.
    """

    name: str
    type: type
    default: Any
    unit: str
    help: str
    constraint: str = "any"
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None
    group: str = "requirement"
    model: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag (``--budget-ms``)."""
        return "--" + self.name.replace("_", "-")

    def allowed(self) -> tuple[str, ...] | None:
        """The allowed values of a choice option."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def requirement(self, value: Any) -> str | None:
        """What a valid value is (``"must be a positive number of ms"``), or ``None`` when
        ``value`` is valid."""
        allowed = self.allowed()
        if allowed is not None:
            if value in allowed or (self.default is None and value is None):
                return None
            return f"must be one of {', '.join(allowed)}"
        ok, sentence = CONSTRAINTS[self.constraint]
        if ok(value):
            return None
        if self.constraint in _UNIT_IN_SENTENCE:
            return f"must be {sentence}"
        unit = f" of {self.unit}" if self.unit else ""
        if sentence.endswith(" (or absent)"):  # (not "a positive number (or absent) of s")
            return f"must be {sentence.removesuffix(' (or absent)')}{unit} (or absent)"
        return f"must be {sentence}{unit}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not valid for this option (one sentence), or ``None``."""
        need = self.requirement(value)
        return None if need is None else f"{self.name} ({self.flag}) {need}; got {value!r}"


def _access_choices() -> tuple[str, ...]:
    from .model.latency import ACCESS_PROFILES_MS

    return tuple(sorted(ACCESS_PROFILES_MS))


def _workload_choices() -> tuple[str, ...]:
    from .model.latency import WORKLOADS_MS

    return tuple(sorted(WORKLOADS_MS))


def _wifi_choices() -> tuple[str, ...]:
    from .model.latency import WIFI_PROFILES_MS

    return tuple(WIFI_PROFILES_MS)


PROPOSAL_TIME_LIMIT_S = 10.0
"""Time limit of the gap proposals' cover solve by default, s (``proposal_time_limit_s``;
``time_limit_s`` when shorter). It was 30 s. Hand measurements (2026-11-30): on the US
demo (7,315 gap points) the solve reached 581 sites / bound 576 after 6 s and no better by
30 s, the demo's largest stage; with k = 2 (9,401 gap points) 896 sites after 10 s against
885 after 30 s, bound 871. The summary states the proposal's bound, so the cost shows.
Since the crossings of budget circles became locations (2026-12), the same demo's cover
has 80,065 locations: 526 / bound 442 at 10 s, 476 / 465 at 120 s (hand measurements,
2026-12-07), hence the option."""

#: Failure scenarios the capacity check lists per plan, by default (``scenario_limit``).
DEFAULT_SCENARIO_LIMIT = 20_000

MAX_BATCH_SCENARIOS = 10_000
"""Most scenarios a batch file may make by default (``edge-coverage batch
--max-scenarios``, :func:`coverage.batch.load_config`): a file above it is refused before
they are built (a stray axis makes a sweep of days)."""

PLANNER_OPTIONS: tuple[Option, ...] = (
    Option("budget_ms", float, 30.0, "ms", "end-to-end latency budget (the default for demand "
           "rows without a budget_ms / service_class of their own), or a preset name: "
           "realtime (30 ms p99), interactive (50 ms p99), instant (100 ms p99)", "budget"),
    Option("percentile", str, "p99", "", "percentile the budget is checked at", "choice",
           ("p99", "p50")),
    Option("failures", int, 1, "", "simultaneous site failures to tolerate (1 = N-1 "
           "geo-redundancy)", "failures"),
    Option("access", str, "ftth", "", "access technology of demand without an 'access' "
           "column", "choice", _access_choices, group="latency model"),
    Option("time_limit_s", float, 300.0, "s", "HiGHS time limit for the site-count stage (the "
           "best plan found is kept and its gap reported; with a load, a best plan that does "
           "not yet carry it is then repaired until it does, which may run past the limit)",
           "positive", group="solver"),
    Option("kmedian_time_limit_s", float, 60.0, "s", "time limit for the k-median (latency) "
           "stage; 0 skips it (the site-count stage's plan is kept, as it is: a plan "
           "that does not depend on the machine's speed)", "non_negative", group="solver"),
    Option("proposal_time_limit_s", float, None, "s", "time limit of the proposed new "
           "sites' cover (proposed_sites.csv: the fewest new locations that close the gaps; "
           "the best found is kept with its bound and status); absent: 10 s, or "
           "--time-limit-s when shorter", "positive_or_none", group="solver"),
    Option("kmedian_gap_pct", float, 0.5, "%", "stop the k-median (latency) stage once its "
           "plan is proven within this percentage of the best placement (its lower bound: "
           "0.5 % of a 20 ms mean is 0.1 ms, well inside the latency model's error); 0 runs "
           "to proven optimality or the time limit", "gap_pct", group="solver"),
    Option("max_memory_gb", float, 4.0, "GiB", "memory budget for the reach matrix; above "
           "half of it the solver switches to row generation without the full matrix",
           "positive", group="solver"),
    Option("strategy", str, "auto", "", "full reach matrix, row generation (lazy, for "
           "national inputs), row generation by independent components (components, one "
           "task per piece on the Dask cluster of --workers / --scheduler; lazy does the "
           "same with a cluster when the rows are great-circle radii; capacitated sites too, "
           "each piece with its own capacity cuts), or auto (by --max-memory-gb)", "choice",
           ("auto", "full", "lazy", "components"), group="solver"),
    Option("max_sites", int, None, "", "answer 'the best P sites' instead of 'the fewest': "
           "open exactly P sites that keep the most people within budget, then, among those "
           "optima, the most people N-k safe (k = max(--failures, 1)); with --objective "
           "p-center, the P sites with the lowest worst latency (docs/optimize.md)",
           "positive_int_or_none"),
    Option("objective", str, "auto", "", "what the plan optimises: fewest (the fewest sites, "
           "or the least cost with a cost column), max-cover (with --max-sites P: the most "
           "people within budget), p-center (with --max-sites P: the lowest worst latency at "
           "the percentile, to the (k+1)-th nearest site with --failures k); auto = fewest, "
           "or max-cover with --max-sites", "choice",
           ("auto", "fewest", "max-cover", "p-center")),
    Option("aggregate_km", float, None, "km", "bin demand into cells of this size "
           "(near-squares of this size at every latitude: latitude bands cut into columns "
           "as wide at their latitude) before solving; the "
           "summary reports the original points and people left short",
           "cell_km_or_none", group="solver"),
    Option("aggregate_h3", int, None, "", "bin demand into H3 cells of this resolution "
           "(0-10; e.g. 6: about 36 km2) before solving, instead of --aggregate-km cells",
           "h3_res_or_none", group="solver"),
    Option("aggregate_mode", str, "centroid", "", "centroid: plan each bin at its centroid; "
           "conservative: shrink each bin's radius by its farthest member so every member "
           "stays within budget", "choice", ("centroid", "conservative"), group="solver"),
    Option("service_classes", str, None, "", "TOML file of service classes "
           "([service_classes.NAME] with budget_ms, optional percentile p50/p99 and workload) "
           "named by a demand 'service_class' column, next to the built-in presets realtime, "
           "interactive, instant", "path_or_none"),
    Option("tiers", str, None, "", "TOML file of site tiers ([tiers.NAME] with hops, "
           "proxy_ms, extra_ms, wan, restricted, local_breakout, power_kw, pue) overriding or "
           "extending the built-in catalog (on-prem, mec, metro-colo, cdn-pop); a site's "
           "'tier' column picks its latency terms", "catalog_or_none", group="latency model"),
    Option("upf", str, "default", "", "packet-core breakouts (UPFs) for mobile access "
           "(lte, 5g-*): a table of upf_id, lat, lon; 'default' = one per large metro of the "
           "demand's countries; 'none' = no detour. Sites with local_breakout skip it",
           "upf_spec", group="latency model"),
    Option("backbone", str, None, "", "route over this backbone graph (GML or GraphML with "
           "node coordinates, e.g. a Topology Zoo file): user -> nearest node -> shortest "
           "path -> the site's node", "graph_or_none", group="latency model"),
    Option("backbone_edge_factor", float, None, "", "fibre length over the straight line "
           "of a backbone link (default 1.5)", "edge_factor_or_none", group="latency model"),
    Option("backbone_latency_attr", str, None, "", "backbone link attribute holding its "
           "one-way latency in ms (instead of the distance rule)", "text_or_none",
           group="latency model"),
    Option("workloads", str, None, "", "TOML file of workloads ([workloads.NAME] with "
           "inference_ms, throughput_rps, model/accelerator memory, accelerator_w, host_w) "
           "overriding or extending the built-in catalog; --workload names one",
           "catalog_or_none", group="capacity"),
    Option("requests_per_person_day", float, None, "", "peak load from population: requests "
           "per person per day (with --peak-to-mean); turns on the capacitated plan (so does "
           "a demand load_rps column)", "rate_or_none", group="capacity"),
    Option("peak_to_mean", float, 3.0, "", "peak-hour load over the daily mean (1-1000; "
           "with a load only)",
           "peak_ratio", group="capacity"),
    Option("target_utilisation", float, 0.8, "", "share of a site's throughput planned to "
           "be used (capacity = accelerators x throughput x this; with a load only)", "fraction",
           group="capacity"),
    Option("domain_radius_km", float, None, "km", "sites within this distance of each "
           "other fail together (shared-risk domains; a sites failure_domain column wins)",
           "domain_km_or_none", group="capacity"),
    Option("scenario_limit", int, DEFAULT_SCENARIO_LIMIT, "", "failure scenarios the "
           "capacity check lists per plan (N-2 and up on large plans; combinations across "
           "independent parts of the plan, and pairs of failures rerouted apart or "
           "together, are implied rather than listed): above it the list is cut, the "
           "summary says how many were checked, and the plan is not proven (exit code 7); "
           "with a load only", "positive_int", group="capacity"),
    Option("sizing", str, "off", "", "least: also find the least capacity of every chosen "
           "site with which normal operation and every failure scenario carry the load (one "
           "linear program over all the scenarios, within --sizing-time-limit-s; sites.csv's "
           "sized_capacity_rps, what compare prices); off: skip it (it can take longer than "
           "the plan); with a load only; compare's default is least", "choice",
           ("off", "least"), group="capacity"),
    Option("sizing_time_limit_s", float, None, "s", "time limit of each capacity stage after "
           "the plan: the worst utilisation of the implied failure scenarios, flows.csv's "
           "least-latency flow, the check of every site at its own worst load and the least "
           "sizing (--sizing least); absent: --time-limit-s each; the least-latency flow "
           "gets at least 1 s, and the most even flow of every listed scenario "
           "(capacity_scenarios.csv) is not bounded; with a load only",
           "positive_or_none", group="capacity"),
)
"""Options of :func:`coverage.plan_sites` (and of a batch scenario)."""

MODEL_OPTIONS: tuple[Option, ...] = (
    Option("latency_model", str, "internet", "", "network latency profile: internet (fitted to "
           "measured pings, the default), on-net (physics only, an operator's own fibre), or "
           "the path of a model file written by 'edge-coverage calibrate'", "model_spec",
           group="latency model", model=True),
    Option("wifi", str, "none", "", "optional Wi-Fi hop in front of the access network",
           "choice", _wifi_choices, group="latency model", model=True),
    Option("workload", str, "vision-l4", "", "inference workload: a name of the workload "
           "catalog (built in: " + ", ".join(_workload_choices()) + "; more with --workloads "
           "FILE)", "text", group="latency model", model=True),
    Option("inference_ms", tuple, None, "ms", "explicit inference time P50,P99, overrides "
           "--workload", "pair_ms", group="latency model", model=True),
    Option("proxy_ms", tuple, (1.0, 3.0), "ms", "load balancer / proxy time at the site "
           "P50,P99", "pair_ms", group="latency model", model=True),
    Option("fiber_us_per_km", float, None, "us/km", "one-way fibre delay (default: the "
           "profile's, 4.9)", "fiber_us_per_km_or_none", group="latency model", model=True),
    Option("route_factor", float, None, "", "route length / great-circle distance (default: "
           "the profile's, 2.2754 internet, 1.5 on-net)", "route_factor_or_none",
           group="latency model", model=True),
    Option("hops", int, None, "", "router hops on the path (default: the profile's, 0 "
           "internet, 8 on-net)", "hops_or_none", group="latency model", model=True),
    Option("per_hop_ms", float, None, "ms", "forwarding delay per hop (default: the "
           "profile's, 0.05)", "per_hop_ms_or_none", group="latency model", model=True),
    Option("overhead_ms", float, None, "ms", "fixed network overhead at p50 (default: the "
           "profile's, 6.438 internet, 0 on-net)", "overhead_ms_or_none", group="latency model",
           model=True),
    Option("overhead_p99_ms", float, None, "ms", "fixed network overhead at p99, >= the p50 "
           "one (default: the profile's, 10.26 internet, 0 on-net)", "overhead_p99_ms_or_none",
           group="latency model", model=True),
)
"""Parameters of :class:`coverage.model.latency.LatencyModel` settable from the CLI and batch."""

OPTIONS: tuple[Option, ...] = PLANNER_OPTIONS + MODEL_OPTIONS
"""Every option, planner and latency model."""

_BY_NAME = {o.name: o for o in OPTIONS}


def as_model(model: Any) -> LatencyModel:
    """``model`` as a :class:`~coverage.model.latency.LatencyModel`: the defaults for
    ``None``, a profile name (``"on-net"``, as a batch file's ``model = "on-net"``) or a
    model file's path (:func:`build_model`), or the model itself. What ``plan_sites``,
    ``budget_sweep`` and ``compare`` take.

    Raises
    ------
    InputValidationError
        Anything else, or an unknown profile or unreadable file.
    """
    from .model.latency import LatencyModel

    if model is None:
        return LatencyModel()
    if isinstance(model, LatencyModel):
        return model
    if isinstance(model, str | os.PathLike):
        return build_model({"latency_model": str(model)})
    raise InputValidationError(
        f"model must be a LatencyModel, a latency profile name or a model file; got "
        f"{type(model).__name__}")


def build_model(values: Mapping[str, Any] | None = None, *,
                workloads: Any = None) -> LatencyModel:
    """The latency model of a set of model options (:data:`MODEL_OPTIONS` names): the
    profile or file of ``latency_model``, then every other option that is given (not
    ``None``). What the command line and a batch scenario's ``model`` use.

    Raises
    ------
    InputValidationError
        Unknown profile, unreadable model file, or invalid values.
    """
    from .model.latency import LatencyModel

    values = dict(values or {})
    spec = values.pop("latency_model", None)
    # every problem in one message: an unknown option or workload hid a missing model
    # file and bad values until it was fixed (tester 148)
    problems: list[str] = []
    unknown = sorted(set(values) - {o.name for o in MODEL_OPTIONS})
    if unknown:
        problems.append(f"unknown latency model option(s) {', '.join(unknown)}")
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
             if k not in unknown}
    name = given.get("workload")
    if name is not None and given.get("inference_ms") is None:
        from .model.latency import WORKLOADS_MS

        if workloads is not None or name not in WORKLOADS_MS:
            from .model.workloads import WorkloadCatalog

            catalog = WorkloadCatalog.from_spec(workloads)
            wl = catalog.get(str(name))
            if wl is None:
                problems.append(
                    f"unknown workload {name!r} (--workload); choose one of "
                    f"{', '.join(catalog.names())} or add it with --workloads FILE")
                given.pop("workload")
                name = None
            elif name not in WORKLOADS_MS or tuple(wl.inference_ms) != WORKLOADS_MS[name]:
                given["inference_ms"] = tuple(wl.inference_ms)
    try:
        model = LatencyModel.from_spec(spec, **given)
    except TypeError as exc:
        raise InputValidationError("\n".join([*problems, f"invalid latency model ({exc})"])
                                   ) from None
    except InputValidationError as exc:
        from .model.latency import LATENCY_PROFILES

        problems.append(str(exc))
        if (given and isinstance(spec, str | os.PathLike) and str(spec) not in
                LATENCY_PROFILES and not Path(spec).is_file()):
            # (a file that reads names its own problems with the options'): the file did
            # not read, the other options' problems in the same message (tester 110)
            try:
                LatencyModel.from_spec(None, **given)
            except InputValidationError as other:
                if str(other) != str(exc):
                    problems.append(str(other))
            except TypeError:
                pass
        raise InputValidationError("\n".join(problems)) from None
    if problems:
        raise InputValidationError("\n".join(problems))
    if name is not None and given.get("inference_ms") is None and model.inference_ms is not None:
        # a given workload is the inference time: a model file's own inference_ms (which
        # overrides the file's workload) silently beat --workload (tester 106)
        logger.info("latency model: --workload %s replaces the model file's inference_ms "
                    "(%s ms p50/p99)", name, "/".join(f"{v:g}" for v in model.inference_ms))
        model = replace(model, inference_ms=None)
    return model


@named_arguments
@dataclass(frozen=True)
class PlannerConfig:
    """The planner options of one run (see :data:`PLANNER_OPTIONS` for units and help).

    Frozen; :meth:`problems` lists every invalid value, :meth:`validate` raises them in one
    :class:`~coverage.errors.InputValidationError`.
    """

    budget_ms: float = 30.0
    percentile: str = "p99"
    failures: int = 1
    access: str = "ftth"
    time_limit_s: float = 300.0
    kmedian_time_limit_s: float = 60.0
    kmedian_gap_pct: float = 0.5
    max_memory_gb: float = 4.0
    strategy: str = "auto"
    max_sites: int | None = None
    objective: str = "auto"
    aggregate_km: float | None = None
    aggregate_h3: int | None = None
    aggregate_mode: str = "centroid"
    service_classes: Any = None
    tiers: Any = None
    upf: Any = "default"
    backbone: Any = None
    backbone_edge_factor: float | None = None
    backbone_latency_attr: str | None = None
    workloads: Any = None
    requests_per_person_day: float | None = None
    peak_to_mean: float = 3.0
    target_utilisation: float = 0.8
    domain_radius_km: float | None = None
    scenario_limit: int = DEFAULT_SCENARIO_LIMIT
    sizing: str = "off"
    sizing_time_limit_s: float | None = None
    proposal_time_limit_s: float | None = None

    @property
    def proposal_limit_s(self) -> float:
        """The time limit of the proposed sites' cover, s: ``proposal_time_limit_s``, else
        :data:`PROPOSAL_TIME_LIMIT_S` or ``time_limit_s`` when shorter."""
        if self.proposal_time_limit_s is not None:
            return float(self.proposal_time_limit_s)
        return min(PROPOSAL_TIME_LIMIT_S, float(self.time_limit_s))

    @property
    def sizing_limit(self) -> tuple[float, str]:
        """The time limit of each capacity stage after the plan, s, and the flag that set it
        (``--sizing-time-limit-s``, else ``--time-limit-s``)."""
        if self.sizing_time_limit_s is not None:
            return float(self.sizing_time_limit_s), "--sizing-time-limit-s"
        return float(self.time_limit_s), "--time-limit-s"

    def problems(self, access_profiles: Iterable[str] | None = None) -> list[str]:
        """Every problem with the values, one sentence each (empty when all are valid).

        Parameters
        ----------
        access_profiles : iterable of str, optional
            The access classes of the latency model in use (default: the built-in ones).
        """
        found = []
        for f in fields(self):
            value = getattr(self, f.name)
            opt = _BY_NAME[f.name]
            if f.name == "access" and access_profiles is not None:
                allowed = sorted(access_profiles)
                if not isinstance(value, str) or value not in allowed:
                    found.append(f"access (--access) {value!r} is not a known access profile; "
                                 "choose one of " + ", ".join(allowed))
                continue
            p = opt.problem(value)
            if p:
                found.append(p)
        if (isinstance(self.budget_ms, str) and _is_budget(self.budget_ms)
                and self.percentile == "p50"):
            found.append(f"budget_ms (--budget-ms) {self.budget_ms!r} is a p99 preset: give "
                         "a number of ms with --percentile p50 instead")
        found.extend(self.objective_problems())
        if self.aggregate_km is not None and self.aggregate_h3 is not None:
            found.append("aggregate_km (--aggregate-km) and aggregate_h3 (--aggregate-h3) "
                         "exclude each other: choose square or H3 bins")
        unused = [f"{n} (--{n.replace('_', '-')})" for n in
                  ("backbone_edge_factor", "backbone_latency_attr")
                  if getattr(self, n) is not None]
        if self.backbone is None and unused:  # they were ignored without a word
            found.append(f"{' and '.join(unused)} describe{'s' if len(unused) == 1 else ''} "
                         "the links of a backbone graph, and no backbone (--backbone) is "
                         "given: the route would be the great circle without it. Fix: give "
                         "the graph (GML or GraphML) as backbone, or drop "
                         + " and ".join(unused))
        return found

    @property
    def resolved_objective(self) -> str:
        """The objective actually optimised: ``"fewest"``, ``"max-cover"`` or
        ``"p-center"`` (``"auto"`` is ``"max-cover"`` with ``max_sites``, else
        ``"fewest"``)."""
        if self.objective == "auto":
            return "fewest" if self.max_sites is None else "max-cover"
        return str(self.objective)

    def objective_problems(self) -> list[str]:
        """The combinations of ``max_sites`` / ``objective`` with other options that are
        refused (one sentence each, with the fix)."""
        found: list[str] = []
        if self.objective in ("max-cover", "p-center") and self.max_sites is None:
            found.append(f"objective (--objective) {self.objective} needs max_sites "
                         "(--max-sites P), the number of sites to open. Fix: add "
                         "--max-sites P, or drop --objective for the fewest sites")
        if self.max_sites is None:
            return found
        if self.objective == "fewest":
            found.append("objective (--objective) fewest and max_sites (--max-sites) exclude "
                         "each other: the fewest sites is a count, not a budget of P. Fix: "
                         "drop --max-sites, or choose --objective max-cover or p-center")
        if self.requests_per_person_day is not None:
            found.append("max_sites (--max-sites) cannot be combined with a capacitated plan "
                         "(--requests-per-person-day): the best P sites are not sized for a "
                         "load. Fix: drop --requests-per-person-day, or drop --max-sites for "
                         "the fewest sites that carry the load")
        if self.strategy in ("lazy", "components"):
            found.append("max_sites (--max-sites) needs the reach matrix: row generation "
                         "(--strategy lazy) cannot choose the best P sites. Fix: --strategy "
                         "full (raise --max-memory-gb) or bin the demand with --aggregate-km")
        return found

    def validate(self, access_profiles: Iterable[str] | None = None) -> PlannerConfig:
        """``self`` when valid; else one :class:`InputValidationError` listing every problem."""
        found = self.problems(access_profiles)
        if found:
            raise InputValidationError("invalid options: " + "; ".join(found))
        return self

    def to_dict(self) -> dict[str, Any]:
        """The values, JSON-ready."""
        # not dataclasses.asdict: it deep-copies every value, and a catalog object (tiers,
        # workloads) holds read-only mappings that cannot be copied (TypeError: cannot
        # pickle 'mappingproxy'); the objects are described by their source below
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("service_classes", "tiers", "upf", "backbone", "workloads"):
            v = d.get(key)
            if v is not None and not isinstance(v, Mapping | str):
                d[key] = (f"<table of {len(v)} rows>" if hasattr(v, "columns")
                          else str(getattr(v, "source", v)))
        return d

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PlannerConfig:
        """A config from a mapping of option names (unknown names are an error)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputValidationError(
                f"unknown option(s) {', '.join(unknown)}; use " + ", ".join(sorted(names)))
        return cls(**values)


# --------------------------------------------------------------------------- CLI and docs


def _cli_type(opt: Option) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if opt.type is tuple:
            try:
                value: Any = tuple(float(x) for x in text.split(","))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"expected P50,P99 in ms (e.g. 4.7,4.9), got {text!r}") from None
        elif opt.type is int:
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        elif opt.constraint == "budget":
            try:
                value = float(text)
            except ValueError:
                value = text.strip().lower()
        elif opt.type is float:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        else:
            value = text
        need = opt.requirement(value)
        if need:
            raise argparse.ArgumentTypeError(need)
        return value

    parse.__name__ = opt.type.__name__  # argparse names the type in its messages
    return parse


class StoreGiven(argparse.Action):
    """argparse's ``store``, also noting the option in ``namespace.given_options`` (a
    frozenset of dests), so that a check can tell a value typed from a default."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        given = getattr(namespace, "given_options", frozenset())
        namespace.given_options = frozenset(given | {self.dest})


def given_options(args: argparse.Namespace) -> frozenset[str]:
    """The options of :data:`OPTIONS` (and the others stored by :class:`StoreGiven`) typed
    on the command line (their dests), not left at their defaults."""
    return frozenset(getattr(args, "given_options", frozenset()))


def add_cli_options(groups: Mapping[str, Any],
                    options: Iterable[Option] = OPTIONS) -> None:
    """Add ``options`` (default: every option of :data:`OPTIONS`) to argparse groups keyed
    by :attr:`Option.group` (``requirement``, ``latency model``, ``solver``); the ones typed
    are listed by :func:`given_options`."""
    for opt in options:
        unit = {"ms": "milliseconds", "s": "seconds", "GiB": "GiB", "km": "km",
                "us/km": "microseconds per km", "%": "percent"}.get(opt.unit, "")
        # (argparse formats help with %: a literal one is doubled)
        text = opt.help.replace("%", "%%") + (f", {unit}" if unit and opt.type is not tuple
                                              else "")
        # a model option left out keeps the value of the chosen profile or model file
        default = None if opt.model and opt.name != "latency_model" else opt.default
        if opt.model and opt.default is not None and opt.name != "latency_model":
            shown = (",".join(f"{x:g}" for x in opt.default) if isinstance(opt.default, tuple)
                     else str(opt.default))
            text += f" (default: {shown})"
        kw: dict[str, Any] = {"default": default, "help": text, "action": StoreGiven}
        allowed = opt.allowed()
        if allowed is not None:
            kw["choices"] = list(allowed)
        else:
            kw["type"] = _cli_type(opt)
        if opt.type is tuple:
            kw["metavar"] = "P50,P99"
        elif opt.name == "aggregate_km":
            kw["metavar"] = "KM"
        elif opt.name == "aggregate_h3":
            kw["metavar"] = "RES"
        elif opt.name == "max_sites":
            kw["metavar"] = "P"
        elif opt.name == "latency_model":
            kw["metavar"] = "NAME|FILE"
        elif opt.name == "budget_ms":
            kw["metavar"] = "MS|PRESET"
        elif opt.name in ("service_classes", "tiers", "backbone", "workloads"):
            kw["metavar"] = "FILE"
        elif opt.name == "upf":
            kw["metavar"] = "FILE|default|none"
        elif opt.name == "backbone_latency_attr":
            kw["metavar"] = "NAME"
        groups[opt.group].add_argument(opt.flag, **kw)


def options_markdown() -> str:
    """The options table of ``docs/options.md`` (generated; a test keeps the file in step)."""
    lines = ["| option | CLI flag | unit | default | allowed | what |",
             "| --- | --- | --- | --- | --- | --- |"]
    for opt in OPTIONS:
        allowed = opt.allowed()
        what = ", ".join(allowed) if allowed else CONSTRAINTS[opt.constraint][1]
        default = "none" if opt.default is None else (
            ",".join(f"{x:g}" for x in opt.default) if isinstance(opt.default, tuple)
            else f"{opt.default:g}" if isinstance(opt.default, float) else str(opt.default))
        name = f"`{opt.name}`" + (" (model)" if opt.model else "")
        lines.append(f"| {name} | `{opt.flag}` | {opt.unit or '-'} | {default} | {what} | "
                     f"{opt.help} |")
    return "\n".join(lines) + "\n"
