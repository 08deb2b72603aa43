"""The ``edge-coverage`` command line: thin driver over :func:`coverage.plan_sites`.

Exit codes: 0 success; 2 bad input or options (nothing written); 3 no feasible plan;
4 solver failure (or a Dask cluster that lost its workers); 5 plan written but some
optional outputs (map, report, GIS, standard output) failed; 6 outputs could not be
written (permission, full disk); 1 unexpected internal error; 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). Tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import math
import os
import re
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from .config import (
    MAX_BATCH_SCENARIOS,
    MAX_BUDGET_MS,
    MODEL_OPTIONS,
    OPTIONS,
    StoreGiven,
    add_cli_options,
    build_model,
    given_options,
)
from .errors import PROOF_LOGGER, SKIPPED_LOGGER, InputValidationError, OutputWriteError
from .inputs.geonames import DEMO_COUNTRY, DEMO_MIN_POPULATION, DEMO_SITE_MIN_POPULATION

logger = logging.getLogger("coverage.cli")


def _float_in(ok: Callable[[float], bool], need: str, kind: str = "a number"
              ) -> Callable[[str], float]:
    """An argparse type: a number for which ``ok`` holds (NaN never does), else the error
    "must be ``need``" ("expected ``kind``" for text that is no number)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")
        return value

    return parse


_positive_float = _float_in(lambda v: 0 < v < math.inf, "a positive number")
_nonneg_float = _float_in(lambda v: 0 <= v < math.inf, "a number >= 0")
#: ``calibrate --max-distance-km``: a positive number of km, or ``inf`` (all pings).
_max_distance_km = _float_in(lambda v: v > 0, "a positive number of km, or inf for all pings")
#: ``calibrate --p99-over-paths``: a fraction strictly between 0 and 1.
_open_fraction = _float_in(lambda v: 0 < v < 1,
                           "a fraction between 0 and 1 (e.g. 0.5 or 0.9)", "a fraction")


def _number(text: str) -> float:
    """Any number (its range is checked with the command's other problems)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _local_workers(text: str) -> int:
    """``--workers``: an integer from 0 to a bound set by this machine's cores (a local
    cluster of a million processes was started, and hung)."""
    value = _nonneg_int(text)
    cores = os.cpu_count() or 1
    most = max(64, 4 * cores)
    if value > most:
        raise argparse.ArgumentTypeError(
            f"{value} local worker processes on a machine with {cores} cores: at most "
            f"{most}. Fix: give --workers {cores} (one per core), or start a cluster of "
            "machines and give --scheduler")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:  # (a negative one was told ">= 0", then 0 ">= 1"; tester 110)
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _pair_ms(text: str) -> tuple[float, float]:
    try:
        p50, p99 = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected P50,P99 in ms (e.g. 4.7,4.9), got {text!r}"
        ) from None
    if not 0 <= p50 <= p99:
        raise argparse.ArgumentTypeError(f"need 0 <= P50 <= P99, got {text!r}")
    return (p50, p99)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def _budget_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated budgets in ms (e.g. 20,30,50,100), got {text!r}"
        ) from None
    if not values or any(not (0 < v <= MAX_BUDGET_MS) for v in values):
        raise argparse.ArgumentTypeError(
            f"budgets must be numbers of ms above 0 and at most {MAX_BUDGET_MS:g} (e.g. "
            f"20,30,50,100), got {text!r}")
    return values


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a pointer to ``--help`` (argparse
    prints the whole usage, some 40 lines for ``plan``, before the one that matters).

    A bad option value does not stop the parse: every bad value (and a missing required
    option) is named in one message, so that a command line is fixed in one go (argparse
    stopped at the first, and a tester needed one run per mistake)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._problems: list[str] = []

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)  # type: ignore[misc]
        except argparse.ArgumentError as exc:
            self._problems.append(str(exc))
            return action.default

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if value is action.default and self._problems:
            return  # a value already refused by its type
        try:
            super()._check_value(action, value)  # type: ignore[misc]
        except argparse.ArgumentError as exc:
            self._problems.append(str(exc))

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extras = super().parse_known_args(args, namespace)
        if self._problems:  # handed up to the parser of the whole command line
            ns._arg_problems = [*getattr(ns, "_arg_problems", []), *self._problems]
            self._problems = []
        return ns, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        problems = list(getattr(ns, "_arg_problems", []))
        if extras:  # with the bad values, not instead of them
            problems.append("unrecognized arguments: " + " ".join(extras))
        if problems:
            prog = self.prog + (f" {ns.command}" if getattr(ns, "command", None) else "")
            self.exit(2, _problems_text(prog, problems))
        return ns

    def error(self, message: str) -> NoReturn:
        self.exit(2, _problems_text(self.prog, [*self._problems, message]))

    def _print_message(self, message: str, file: Any = None) -> None:
        """``--help`` and the usage: a standard output that cannot be written (``--help >
        /dev/full``) is said on stderr and the exit is 5, not 0 with the text lost."""
        if not message:
            return
        file = sys.stdout if file is None else file
        try:
            file.write(message)
            file.flush()
        except BrokenPipeError:
            pass  # the reader stopped reading (`| head`): not an error
        except OSError as exc:
            if file is not sys.stdout:
                raise
            self._stdout_lost = exc.strerror or str(exc)
            sys.stderr.write(f"edge-coverage: cannot write to standard output: "
                             f"{self._stdout_lost}; the help text is lost\n")
            _null_onto(file.fileno())  # the flush at exit fails no more

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0 and getattr(self, "_stdout_lost", None):
            status = 5
        super().exit(status, message)


def _problems_text(prog: str, problems: list[str]) -> str:
    """One line for one problem of a command line, a numbered list for several."""
    if len(problems) == 1:
        body = problems[0]
    else:
        body = f"{len(problems)} problems\n" + "\n".join(
            f"  {i}. {p}" for i, p in enumerate(problems, 1))
    return f"{prog}: error: {body}\n(`{prog} --help` lists every option)\n"


class _PrintableFormatter(logging.Formatter):
    """The log line with its control characters shown as ``\\xNN``: a file name holding an
    escape sequence must not repaint the user's terminal (tester 193)."""

    def format(self, record: logging.LogRecord) -> str:
        from .wording import printable

        return printable(super().format(record))


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in the help, unless the help says its default itself (it
    printed "(default: vision-l4) (default: None)" for options whose default the model
    fills in; tester 156)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        # a help that names its default, or an option without one ("(default: None)"
        # after "default US" read as two defaults; tester 187)
        if "default:" in text.lower() or action.default is None:
            return text
        return super()._get_help_string(action)


def _compare_help(cmp: argparse.ArgumentParser) -> None:
    """compare's help for the plan options it takes otherwise: ``--sizing`` and
    ``--requests-per-person-day`` have defaults of their own (least, 100), and the options
    it refuses (``--max-sites``, ``--objective``, ``--aggregate-km``, ``--aggregate-h3``;
    still parsed, so the refusal names them) are left out of the help, with
    ``--aggregate-mode``, which does nothing without them (tester 187)."""
    from .comparison import refused_plan_options

    refused = {flag for _, flag in refused_plan_options(
        max_sites=1, objective="max-cover", aggregate_km=1.0, aggregate_h3=1)}
    refused.add("--aggregate-mode")
    for action in cmp._actions:
        flags = set(action.option_strings)
        if flags & refused:
            action.help = argparse.SUPPRESS
        elif "--sizing" in flags and action.help:
            action.help = (action.help.replace("; compare's default is least", "")
                           + " (default: least)")
        elif "--requests-per-person-day" in flags and action.help:
            action.help += " (default: 100 without a load_rps column)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``edge-coverage``."""
    parser = _Parser(
        prog="edge-coverage",
        description="Place the fewest edge-inference micro-sites that keep every user within a "
        "latency budget even when any one site fails (N-1).",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser(
        "plan",
        help="plan sites from files or the embedded GeoNames data",
        description="Find the minimum number of sites such that every demand point has "
        "min(failures+1, |N_i|) chosen sites within the latency budget, then place them to "
        "minimise population-weighted latency (k-median), check every single-site failure "
        "(N-1) and write summary.json, sites.csv/.geojson, assignment.csv, failures.csv, "
        "proposed_sites.csv, rollout.csv, map.html, the budget sweep (sweep.csv) and "
        "report.html, and the "
        "GIS layers plan.gpkg, demand.parquet and sites.parquet.",
        formatter_class=_DefaultsHelp,
    )
    _add_plan_arguments(p)
    cmp = sub.add_parser(
        "compare",
        help="edge fleet or cloud region? plan the fleet, price both, advise",
        description="Plan the edge fleet for the budget (the capacitated N-k plan, from the "
        "demand's load_rps or --requests-per-person-day, default 100), price it with the "
        "cost model, measure the public-cloud regions against the same budget with the same "
        "latency model, price the same load in a region, and fill in the edge-or-region "
        "decision table and its warnings (docs/edge-vs-region.md). Writes the plan "
        "directory plus compare.json, compare_sites.csv and region_coverage.csv; report.html "
        "gets an 'Edge or region' section.",
        formatter_class=_DefaultsHelp,
    )
    _add_plan_arguments(cmp, out_default="edge-compare")
    _compare_help(cmp)
    g = cmp.add_argument_group("the centralized alternative and the cost model "
                               "(docs/edge-vs-region.md)")
    g.add_argument("--regions", metavar="FILE",
                   help="your own regions (region_id, lat, lon; optional provider, metro, "
                   "country) instead of the built-in public-cloud region table")
    g.add_argument("--providers", metavar="NAME,...",
                   help="with the built-in table: only these providers (aws, gcp, azure)")
    g.add_argument("--costs", metavar="FILE",
                   help="cost model overrides (TOML: [fleet], [edge.TIER], "
                   "[accelerators.\"TYPE\"], [region]); defaults in coverage/model/costs.toml")
    g.add_argument("--region-workload", metavar="NAME",
                   help="workload the region serves (default: the edge's, or the same model "
                   "on an accelerator the region rents)")
    g.add_argument("--preference-share", type=_share, default=0.8, metavar="SHARE",
                   help="warn 'preference-budget' when the nearest region meets the budget "
                   "for at least this share of people")
    g.add_argument("--thin-utilisation", type=_share, default=0.4, metavar="SHARE",
                   help="warn 'thin-utilisation' below this fleet mean utilisation")
    _add_verbosity(g)
    r = sub.add_parser(
        "report",
        help="rebuild report.html from a plan directory",
        description="Rebuild report.html in DIR from the files an earlier `edge-coverage "
        "plan --out DIR` wrote (summary.json, sites.csv, assignment.csv, failures.csv, "
        "proposed_sites.csv, sweep.csv, and rollout.csv and the capacity and comparison "
        "files when there).",
    )
    r.add_argument("plan_dir", metavar="DIR", help="plan directory (the --out of a plan run)")
    _add_verbosity(r)
    b = sub.add_parser(
        "batch",
        help="run a scenario sweep from a TOML file (Dask distributed)",
        description="Run every scenario of a TOML file (a base configuration, axes to sweep "
        "and/or explicit scenarios; docs/batch.md) as tasks on a Dask cluster. Writes one plan "
        "directory per scenario under DIR/scenarios/<key>/, the combined table "
        "DIR/scenarios.csv and .parquet and DIR/sweep.png. Finished scenarios are skipped on "
        "a re-run; failed ones are retried.",
        formatter_class=_DefaultsHelp,
    )
    b.add_argument("config", metavar="SCENARIOS.toml", help="scenario file")
    b.add_argument("--out", metavar="DIR", default="edge-batch", help="output directory")
    b.add_argument("--workers", type=_local_workers, default=2, action=StoreGiven,
                   help="worker processes of the local Dask cluster (0: run in this process)")
    b.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="use an existing Dask scheduler instead of a local cluster")
    b.add_argument("--reach-partitions", type=_nonneg_int, default=0, metavar="N",
                   help="build each scenario's reach matrix in N demand partitions across "
                   "the cluster (for a few very large scenarios on many workers; 0: off)")
    b.add_argument("--max-scenarios", type=_positive_int, default=MAX_BATCH_SCENARIOS, metavar="N",
                   help="refuse a file that makes more scenarios than this (the product of "
                   "its axes and its [[scenarios]]), before any is built")
    _add_verbosity(b)
    c = sub.add_parser(
        "calibrate",
        help="fit the network latency model to your own measured pings",
        description="Fit route factor and fixed overhead (median fit: HiGHS linear program, "
        "or an exact search above 60,000 pings) and the p99 "
        "overhead to measured round trips, print the fit and its error by distance band, and "
        "write a model file for `plan --latency-model FILE` (batch: model = \"FILE\"). "
        "PINGS.csv: src_lat,src_lon,dst_lat,dst_lon,rtt_ms or distance_km,rtt_ms (optional "
        "rtt_p99_ms, blank for pings without one; other columns ignored). Pings faster "
        "than light are dropped and named. The error is also measured held out (5-fold "
        "cross-validation, by path when the pings have coordinates).",
        formatter_class=_DefaultsHelp,
    )
    # required: no "(default: None)" in the help
    c.add_argument("--pings", metavar="PINGS.csv", required=True, default=argparse.SUPPRESS,
                   help="measured pings")
    c.add_argument("--out", metavar="MODEL.toml", required=True, default=argparse.SUPPRESS,
                   help="model file to write (an existing file is replaced only when an "
                   "earlier calibrate run wrote it and it was not edited since)")
    c.add_argument("--max-distance-km", type=_max_distance_km, default=float("inf"),
                   metavar="KM", help="fit only pings under this distance (inf: all)")
    c.add_argument("--p99-over-paths", type=_open_fraction, default=0.5, metavar="Q",
                   help="with a per-path p99 column (rtt_p99_ms): the p99 network term is the "
                   "Q quantile over the paths of their p99 minus the distance term (0.5: a "
                   "typical path, which about half the paths exceed; 0.9: 90 %% of the "
                   "paths). Without the column only 0.5 is accepted")
    c.add_argument("--fiber-us-per-km", type=_number, default=4.9,
                   help="one-way fibre delay, microseconds per km (from 3.3356, light in "
                   "vacuum, to 100)")
    _add_verbosity(c)
    lat = sub.add_parser(
        "latency",
        help="explain the latency between two points, component by component",
        description="Print the latency waterfall between a user and a site (network: "
        "propagation, hops, overhead; access, Wi-Fi, proxy, inference; p50 and p99) and the "
        "budget radius at 30, 50 and 100 ms, under the chosen latency model.",
    )
    lat.add_argument("--from", dest="from_", metavar="LAT,LON", required=True,
                     type=_latlon, help="the user")
    lat.add_argument("--to", metavar="LAT,LON", required=True, type=_latlon, help="the site")
    lat.add_argument("--access", default="ftth", help="access technology of the user")
    lat.add_argument("--tier", default=None, metavar="NAME",
                     help="the site's tier (on-prem, mec, metro-colo, cdn-pop, or one of "
                     "--tiers FILE); default: the reference site (metro-colo)")
    lat.add_argument("--tiers", default=None, metavar="FILE",
                     help="tier catalog overrides (TOML), as for plan")
    lat.add_argument("--upf", default=None, metavar="LAT,LON|FILE|default|none",
                     help="packet-core breakout for mobile access (lte, 5g-*): a point, a "
                     "UPF table (the nearest to the user is used), 'default' = one per "
                     "large metro of the user's country, as plan uses (the default), or "
                     "'none' (no detour)")
    lat.add_argument("--local-breakout", action="store_true",
                     help="the site breaks mobile traffic out locally (no UPF detour; "
                     "default: the tier's)")
    lm = lat.add_argument_group("latency model")
    # --backbone, --backbone-edge-factor (>= 1), --backbone-latency-attr: as for plan (the
    # option table's constraints; typed ones noted for _backbone_options_unused)
    add_cli_options({"latency model": lm}, [o for o in OPTIONS if o.name in BACKBONE_OPTIONS])
    # --workloads: the catalog --workload is taken from, as for plan (its errors say so)
    add_cli_options({"capacity": lm}, [o for o in OPTIONS if o.name == "workloads"])
    add_cli_options({"latency model": lm}, MODEL_OPTIONS)
    _add_verbosity(lat)
    return parser


def _add_plan_arguments(p: argparse.ArgumentParser, out_default: str = "edge-plan") -> None:
    """The inputs, requirement, model, solver, capacity, Dask and output options of
    ``plan`` (and ``compare``)."""
    g = p.add_argument_group("inputs")
    g.add_argument("--demand", metavar="FILE",
                   help="population points/polygons: CSV (lat/lon + population), GeoJSON, "
                   "GeoPackage, Shapefile or GeoParquet")
    g.add_argument("--candidates", metavar="FILE",
                   help="candidate sites (same formats); optional columns tier, required, cost")
    g.add_argument("--demand-crs", metavar="CRS",
                   help="CRS of a CSV demand file's coordinates (default EPSG:4326 degrees)")
    g.add_argument("--candidates-crs", metavar="CRS", help="CRS of a CSV candidate file")
    g.add_argument("--demand-layer", metavar="NAME",
                   help="layer of a multi-layer demand file (GeoPackage, ...); required when "
                   "it has more than one")
    g.add_argument("--candidates-layer", metavar="NAME",
                   help="layer of a multi-layer candidate file; required when it has more "
                   "than one")
    g.add_argument("--colocated-m", type=_nonneg_float, default=300.0, metavar="M",
                   help="warn about candidate pairs within M metres of each other (one power "
                   "or fibre failure likely takes both, yet a plan tolerating failures counts "
                   "each as the other's backup); 0 disables")
    g.add_argument("--demo", action="store_true",
                   help="use the embedded GeoNames data (no files needed)")
    # (no argparse defaults: given without --demo they are refused, so "given" must show)
    g.add_argument("--country", default=None,
                   help=f"with --demo: ISO country code (e.g. US, DE, BE; default "
                   f"{DEMO_COUNTRY})")
    g.add_argument("--demo-min-population", type=_nonneg_int, default=None,
                   help="with --demo: smallest place used as demand, people (default "
                   f"{DEMO_MIN_POPULATION})")
    g.add_argument("--demo-site-min-population", type=_nonneg_int, default=None,
                   help="with --demo: smallest place used as a candidate site, people "
                   f"(default {DEMO_SITE_MIN_POPULATION})")
    # the planner and latency-model flags come from one table (coverage.config.OPTIONS)
    add_cli_options({
        "requirement": p.add_argument_group("requirement"),
        "latency model": p.add_argument_group(
            "latency model (defaults and sources: docs/latency-model.md)"),
        "solver": p.add_argument_group("solver"),
        "capacity": p.add_argument_group(
            "capacity (power-bound sites, load and capacitated N-k: docs/capacity.md)"),
    })
    g = p.add_argument_group("Dask (build the reach matrix of a very large demand set in "
                             "partitions across workers; same plan)")
    g.add_argument("--workers", type=_local_workers, default=0, action=StoreGiven,
                   help="worker processes of a local Dask cluster (0: no cluster)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="use an existing Dask scheduler")
    g.add_argument("--reach-partitions", type=_positive_int, metavar="N",
                   help="demand partitions (default: twice the number of workers)")
    g = p.add_argument_group("outputs")
    g.add_argument("--out", metavar="DIR", default=out_default, help="output directory")
    g.add_argument("--no-map", action="store_true", help="do not write map.html")
    g.add_argument("--tiles", choices=("osm", "none"), default="osm",
                   help="map background: OpenStreetMap tiles (online) or none (air-gapped)")
    g.add_argument("--no-report", action="store_true",
                   help="skip the budget sweep and do not write sweep.csv and report.html")
    g.add_argument("--no-gis", action="store_true",
                   help="do not write plan.gpkg, demand.parquet and sites.parquet")
    g.add_argument("--gpkg", action="store_true",
                   help="write plan.gpkg also above 250,000 demand points (national plans "
                   "get the GeoParquet layers only by default)")
    # the sweep options are noted when typed (StoreGiven): --no-report names them unused
    g.add_argument("--sweep-budgets-ms", type=_budget_list, metavar="MS,MS,...",
                   action=StoreGiven,
                   default=(20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0),
                   help="budgets of the site count vs budget sweep in the report, "
                   "milliseconds (the plan's own budget is always included)")
    g.add_argument("--sweep-time-limit-s", type=_positive_float, default=2.0,
                   action=StoreGiven,
                   help="time limit of each sweep solve, seconds (a solve that hits it is "
                   "reported with its bound)")
    g.add_argument("--sweep-total-s", type=_positive_float, default=60.0,
                   action=StoreGiven,
                   help="time for the whole sweep, seconds: budgets not reached by then "
                   "are reported as not_run (national and continental grids, where one "
                   "solve's count and rows are not bounded by its time limit)")
    if out_default in ("edge-plan", "edge-compare"):
        g.add_argument("--sweep-process", choices=("auto", "always", "never"),
                       default="auto", action=StoreGiven,
                       help="run the budget sweep in a second process while the plan is "
                       "solved (no wall time on two cores): auto = from 100,000 demand rows "
                       "(default), always, or never (the sweep then runs after the plan)")
    if out_default == "edge-plan":
        _add_verbosity(g)


def _latlon(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAT,LON in degrees, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(f"{text!r} is outside -90..90, -180..180 degrees")
    return lat, lon


def _add_verbosity(g: Any) -> None:
    g.add_argument("-v", "--verbose", action="store_true",
                   help="debug logging and tracebacks on errors")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress messages")


def _demo_name(args: argparse.Namespace, what: str) -> str:
    """How messages name the embedded places of ``--demo`` (as ``plan_sites`` names them:
    "GeoNames candidates of LU (>= 50,000 people)")."""
    from .planner.plan import source_name

    floor = args.demo_min_population if what == "demand" else args.demo_site_min_population
    return source_name({"country": str(args.country).upper(), "min_population": floor},
                       "demand" if what == "demand" else "sites")


def _inputs_in_out(args: argparse.Namespace) -> list[str]:
    """An input file inside ``--out``, the directory the run replaces as a whole, refused:
    it would be read, then replaced by the new plan's files, so the plan's record of its
    inputs (``summary.json``: path and SHA-256) would name a file that no longer holds them
    and the same command would read other data next time (tester 100 found it silent;
    it was a warning until tester 174 showed the plan could not be reproduced)."""
    out = getattr(args, "out", None)
    if not out:
        return []
    try:
        real_out = Path(os.path.realpath(os.path.expanduser(out)))
    except (OSError, ValueError):
        return []
    problems = []
    for flag in ("demand", "candidates", "upf", "tiers", "service_classes", "backbone",
                 "workloads", "regions", "costs"):  # (compare's too: review 156)
        value = getattr(args, flag, None)
        if not isinstance(value, str) or value in ("default", "none"):
            continue
        try:
            real = Path(os.path.realpath(os.path.expanduser(value)))
        except (OSError, ValueError):
            continue
        if real_out in real.parents:
            name = real.relative_to(real_out)
            dest = real_out.parent / (name.stem + "-input" + name.suffix)
            # (tester 179: with --out / the example copy was inside it too)
            copy = (f"e.g. cp {real} {dest}" if real_out.parent != real_out
                    else "to a directory outside --out")
            problems.append(
                f"--{flag.replace('_', '-')} {value} is inside --out {out}, which this run "
                "replaces as a whole: the file would be read, then replaced by the new "
                "plan's, and summary.json would record an input that no longer exists. "
                f"Fix: copy it out first ({copy}) and give that copy, or give another "
                "--out")
    if getattr(args, "demo", False):
        # the embedded data's cache folder: a plan into it (or around it) would refuse it
        # for the cache's files, "not written by edge-coverage" (tester 193), or replace
        # the cache with the plan
        from .inputs.geonames import CACHE_ENV, places_cache_dir

        cache = places_cache_dir()
        real_cache = Path(os.path.realpath(cache)) if cache is not None else None
        if real_cache is not None and (real_cache == real_out
                                       or real_out in real_cache.parents):
            problems.append(
                f"--out {out} holds the cache folder of the embedded GeoNames places "
                f"({cache}, ${CACHE_ENV} or the default), which this run would replace "
                f"with the plan. Fix: give another --out, or set {CACHE_ENV} to a folder "
                "outside it")
    return problems


def _run_plan(args: argparse.Namespace) -> int:
    from .inputs import geonames as datasets
    from .inputs import tables as io
    from .outputs.outdir import OutputDir, busy_problems, check_output_dir
    from .planner.plan import check_plan_options

    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        logger.info("[%6.1f s] %s", time.perf_counter() - t0, msg)

    # every check before the work, collected into one message: output, options, inputs
    problems: list[str] = list(check_output_dir(args.out, "plan").problems)
    problems.extend(busy_problems(args.out))  # before the inputs, which may take minutes
    problems.extend(_inputs_in_out(args))
    n_out = len(problems)  # (the checks of the inputs' contents run past these)
    # the --scheduler address's form, said with the inputs' problems (held back so that it
    # does not stop the run before the input checks); a connection once everything passes
    from .batch import check_scheduler

    scheduler_problems = check_scheduler(args.scheduler, probe=False)
    model = None
    try:
        model = build_model({o.name: getattr(args, o.name) for o in MODEL_OPTIONS},
                            workloads=args.workloads)
    except InputValidationError as exc:
        problems.append(str(exc))
    # build_model reads the workload catalog too: its problem is reported once
    problems.extend(p for p in check_plan_options(
        budget_ms=args.budget_ms, failures=args.failures, percentile=args.percentile,
        access=args.access, model=model, time_limit_s=args.time_limit_s,
        kmedian_time_limit_s=args.kmedian_time_limit_s,
        kmedian_gap_pct=args.kmedian_gap_pct, strategy=args.strategy,
        max_memory_gb=args.max_memory_gb, aggregate_km=args.aggregate_km,
        aggregate_h3=args.aggregate_h3,
        aggregate_mode=args.aggregate_mode, service_classes=args.service_classes,
        tiers=args.tiers, upf=args.upf, backbone=args.backbone,
        backbone_edge_factor=args.backbone_edge_factor,
        backbone_latency_attr=args.backbone_latency_attr, workloads=args.workloads,
        requests_per_person_day=args.requests_per_person_day,
        peak_to_mean=args.peak_to_mean, target_utilisation=args.target_utilisation,
        domain_radius_km=args.domain_radius_km, max_sites=args.max_sites,
        objective=args.objective, scenario_limit=args.scenario_limit,
        sizing=args.sizing, sizing_time_limit_s=args.sizing_time_limit_s,
        proposal_time_limit_s=args.proposal_time_limit_s)
        if p not in problems)
    extra: dict[str, Any] = {}
    if args.command == "compare":  # its files and names, said with the options' problems
        extra = _compare_inputs(args, model, problems)
    demo_only = [flag for flag, v in (("--country", args.country),
                                      ("--demo-min-population", args.demo_min_population),
                                      ("--demo-site-min-population",
                                       args.demo_site_min_population)) if v is not None]
    file_only = [flag for flag, v in (("--demand-crs", args.demand_crs),
                                      ("--candidates-crs", args.candidates_crs),
                                      ("--demand-layer", args.demand_layer),
                                      ("--candidates-layer", args.candidates_layer))
                 if v is not None]
    if args.demo and file_only:
        one = len(file_only) == 1
        problems.append(f"{', '.join(file_only)} {'describes' if one else 'describe'} input "
                        "files, and --demo uses the embedded data. Fix: drop "
                        f"{'it' if one else 'them'}, or drop --demo and give the files")
    if not args.demo and demo_only:
        one = len(demo_only) == 1
        problems.append(f"{', '.join(demo_only)} {'applies' if one else 'apply'} only with "
                        "--demo (the embedded GeoNames data); with --demand/--candidates the "
                        f"data is the files'. Fix: add --demo, or drop {'it' if one else 'them'}"
                        " (filter your files instead)")
    if args.demo:
        if args.demand or args.candidates:
            problems.append("--demo uses the embedded data: drop --demand/--candidates")
            raise InputValidationError("\n".join(problems + scheduler_problems))
        if args.country is not None and not args.country.strip():
            problems.append("--country is empty (an unset variable?). Fix: give an ISO "
                            "3166-1 alpha-2 code, e.g. US, DE, FR, BE, or leave the option "
                            f"out for {datasets.DEMO_COUNTRY}")
        if problems:
            raise InputValidationError("\n".join(problems + scheduler_problems))
        args.country = (datasets.DEMO_COUNTRY if args.country is None
                        else args.country.strip())
        if args.demo_min_population is None:
            args.demo_min_population = datasets.DEMO_MIN_POPULATION
        if args.demo_site_min_population is None:
            args.demo_site_min_population = datasets.DEMO_SITE_MIN_POPULATION
        progress(f"loading GeoNames places for {args.country.upper()} (CC BY 4.0)")
        demo_problems: list[str] = []
        try:
            demand = datasets.geonames_demand(args.country, args.demo_min_population,
                                              option="--demo-min-population")
        except InputValidationError as exc:
            demo_problems.append(str(exc))
        try:  # (both said at once: tester 194, --country CC refused twice in a row)
            sites = datasets.geonames_candidates(args.country, args.demo_site_min_population,
                                                 option="--demo-site-min-population")
            # the threshold the validation of these places takes (it was the default
            # whatever --colocated-m said: tester 158)
            sites.attrs["colocated_m"] = float(args.colocated_m)
        except InputValidationError as exc:
            if str(exc) not in demo_problems:  # (an unknown code: said once)
                demo_problems.append(str(exc))
        if demo_problems:
            raise InputValidationError("\n".join(problems + demo_problems
                                                  + scheduler_problems))
        inputs = {
            "demand": {"source": datasets.GEONAMES_ATTRIBUTION, "country": args.country.upper(),
                       "min_population": args.demo_min_population, "rows": len(demand)},
            "candidates": {"source": datasets.GEONAMES_ATTRIBUTION,
                           "country": args.country.upper(),
                           "min_population": args.demo_site_min_population,
                           "rows": len(sites)},
        }
    else:
        missing = [f for f, v in (("--demand", args.demand), ("--candidates", args.candidates))
                   if not v]
        if missing:
            problems.append(
                f"missing {' and '.join(missing)}: give both files, or --demo for the embedded "
                "GeoNames data"
            )
            raise InputValidationError("\n".join(problems + scheduler_problems))
        progress(f"reading {args.demand} and {args.candidates}")
        demand = sites = None
        try:
            demand = io.read_demand(args.demand, crs=args.demand_crs, layer=args.demand_layer)
        except InputValidationError as exc:
            problems.append(str(exc))
        try:
            sites = io.read_sites(args.candidates, crs=args.candidates_crs,
                                  layer=args.candidates_layer, colocated_m=args.colocated_m)
        except InputValidationError as exc:
            problems.append(str(exc))
        if demand is None or sites is None or len(problems) > n_out:
            # the columns of the table that did read (a bad demand hid the candidates' bad
            # capacity_rps and tier until it was fixed): in the same message; a bad --out
            # alone goes on to the checks of the tables' contents below
            problems.extend(p for p in _column_problems(args, demand, sites)
                            if p not in problems)
            raise InputValidationError("\n".join(problems + scheduler_problems))
        inputs = {"demand": io.file_info(args.demand, len(demand)),
                  "candidates": io.file_info(args.candidates, len(sites))}
    if len(problems) == n_out:  # unknown service classes (rows named), per-row budgets +
        # aggregation; also beside a bad --out (tester 153: it hid them until fixed)
        from .planner.plan import check_service

        problems.extend(check_service(
            demand, budget_ms=args.budget_ms, percentile=args.percentile,
            service_classes=args.service_classes, aggregate_km=args.aggregate_km,
            aggregate_h3=args.aggregate_h3,
            source=str(args.demand) if args.demand else _demo_name(args, "demand"),
            workloads=args.workloads))
        from .planner.plan import check_tier_columns

        problems.extend(check_tier_columns(
            demand, sites, tiers=args.tiers,
            demand_source=str(args.demand) if args.demand else _demo_name(args, "demand"),
            sites_source=(str(args.candidates) if args.candidates
                          else _demo_name(args, "candidates"))))
        if problems:
            # the capacity columns in the same message (a mistyped tier hid a bad load_rps
            # and capacity_rps until it was fixed, a tester's find); without other problems
            # the planner checks them with everything else
            problems.extend(p for p in _column_problems(args, demand, sites,
                                                        tier_columns=False)
                            if p not in problems)
    if args.command == "plan" and demand is not None:
        problems.extend(_load_options_unused(args, demand))
    _warn_sweep_options_unused(args)
    _warn_failure_options_unused(args)
    _warn_reach_partitions_unused(args)
    if args.command == "compare" and len(problems) == n_out:  # (beside a bad --out too)
        problems.extend(_compare_data_problems(args, demand, sites, model, extra))
    elif args.command == "compare" and sites is not None and extra.get("context"):
        # a cost table named like a tier, misspelt, in the same message as the other
        # problems (tester 181: it came only once they were fixed)
        from .comparison import cost_tier_problems

        problems.extend(p for p in cost_tier_problems(sites, args.tiers or "builtin",
                                                      extra["context"])
                        if p not in problems)
    problems.extend(scheduler_problems)
    if args.scheduler is not None and not problems:  # connect once nothing else refuses
        problems.extend(check_scheduler(args.scheduler))
    if problems or model is None:
        raise InputValidationError("\n".join(problems))
    with OutputDir(args.out, "plan") as od:  # locked from here: a second run is refused
        args.output_dir = od  # an interruption after its swap says the outputs are whole
        received = getattr(args, "received", None)
        if received is not None:  # a stop whose exception was swallowed: no swap
            od.before_swap = received.raise_if_any
        if args.command == "compare":
            return _compare_and_write(args, od, demand, sites, model, inputs, progress,
                                      **extra)
        return _plan_and_write(args, od, demand, sites, model, inputs, progress)


def _load_options_unused(args: argparse.Namespace, demand: Any) -> list[str]:
    """The capacity options typed for a plan without a load: they would change nothing
    (``--domain-radius-km`` is not one: such a plan fails whole domains too)."""
    if args.requests_per_person_day is not None or "load_rps" in demand.columns:
        return []
    typed = _typed(args, ("peak_to_mean", "target_utilisation", "scenario_limit", "sizing",
                          "sizing_time_limit_s"))
    if not typed:
        return []
    from .model.capacity import unused_without_load

    return [unused_without_load(typed, "--requests-per-person-day")]


def _column_problems(args: argparse.Namespace, demand: Any, sites: Any, *,
                     tier_columns: bool = True) -> list[str]:
    """The capacity (and tier) column problems of the tables that did read
    (:func:`~coverage.planner.plan.table_column_problems`), named with the others."""
    from .planner.plan import table_column_problems

    # compare always prices a load (100 requests a person a day by default)
    with_load = (args.command == "compare" or args.requests_per_person_day is not None
                 or (demand is not None and "load_rps" in demand.columns))
    return table_column_problems(
        demand, sites, tiers=args.tiers, with_load=with_load, tier_columns=tier_columns,
        demand_source=str(args.demand) if args.demand else _demo_name(args, "demand"),
        sites_source=(str(args.candidates) if args.candidates
                          else _demo_name(args, "candidates")))


def _typed(args: argparse.Namespace, names: Iterable[str]) -> list[str]:
    """The flags of ``names`` (dests) typed on the command line."""
    return [f"--{name.replace('_', '-')}" for name in names if name in given_options(args)]


def _warn_unused(typed: list[str], why: str) -> None:
    """One warning naming the options typed that change nothing, and why."""
    if typed:
        logger.warning("%s %s not used: %s", ", ".join(typed),
                       "is" if len(typed) == 1 else "are", why)


#: The options of the report's budget sweep (their dests).
SWEEP_OPTIONS = ("sweep_budgets_ms", "sweep_time_limit_s", "sweep_total_s", "sweep_process")


def _warn_sweep_options_unused(args: argparse.Namespace) -> None:
    """Say so when the budget sweep's options are typed with ``--no-report``: the sweep
    feeds the report (and ``sweep.csv``) only, so they change nothing (a tester's find:
    accepted without a word). A warning, not a refusal: the plan is the same either way,
    and a script's common options may well carry them."""
    if getattr(args, "no_report", False):
        _warn_unused(_typed(args, SWEEP_OPTIONS),
                     "--no-report skips the budget sweep and the report")


def _warn_reach_partitions_unused(args: argparse.Namespace) -> None:
    """``--reach-partitions`` without a Dask cluster changes nothing (tester 110: a
    batch's ``--workers 0 --reach-partitions 4`` said nothing)."""
    if (getattr(args, "reach_partitions", None) and not getattr(args, "workers", 0)
            and getattr(args, "scheduler", None) is None):
        logger.warning("--reach-partitions is not used: there is no Dask cluster (give "
                       "--workers N or --scheduler tcp://HOST:PORT)")
    if getattr(args, "scheduler", None) is not None:  # (tester 148: --workers 0
        # --scheduler ran on the cluster without a word)
        _warn_unused(_typed(args, ("workers",)),
                     "--scheduler runs the work on that cluster's workers")


def _warn_failure_options_unused(args: argparse.Namespace) -> None:
    """Say so when options of the failure scenarios are typed with ``--failures 0``: no
    scenario fails a site, so they change nothing (a tester's find: accepted without a
    word)."""
    if getattr(args, "failures", None) == 0:
        _warn_unused(_typed(args, ("domain_radius_km", "scenario_limit")),
                     "--failures 0 checks no failure scenario")


#: The options that describe the backbone graph of ``--backbone`` (their dests).
BACKBONE_OPTIONS = ("backbone", "backbone_edge_factor", "backbone_latency_attr")


def _backbone_options_unused(args: argparse.Namespace) -> list[str]:
    """The backbone link options typed without ``--backbone``: they would change nothing
    (the route stays the great circle), and were ignored without a word.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line of ``plan``, ``compare`` or ``latency``.

    Returns
    -------
    list of str
        One sentence naming the options and the fix, or nothing.
    """
    if getattr(args, "backbone", None) is not None:
        return []
    typed = _typed(args, BACKBONE_OPTIONS[1:])
    if not typed:
        return []
    one = len(typed) == 1
    return [f"{', '.join(typed)} {'describes' if one else 'describe'} the links of a backbone "
            "graph, and no --backbone is given: the route would be the great circle without "
            + ("it" if one else "them") + ". Fix: add --backbone FILE (GML or GraphML), or "
            f"drop {', '.join(typed)}"]


def _compare_inputs(args: argparse.Namespace, model: Any, problems: list[str]
                    ) -> dict[str, Any]:
    """The regions, the cost model and the workloads of ``compare``, read and checked
    before the inputs are loaded (problems appended to ``problems``, each once).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line of ``compare``.
    model : LatencyModel or None
        The latency model (``None``: it could not be built, its problem is reported).
    problems : list of str
        The command's problems so far; this function's are appended.

    Returns
    -------
    dict
        ``regions`` and ``costs`` for :func:`_compare_and_write` (absent when invalid).
    """
    from .comparison import compare_input_problems, refused_plan_options
    from .model.regions import builtin_regions, read_regions

    out: dict[str, Any] = {}
    refused = [flag for _, flag in refused_plan_options(
        max_sites=args.max_sites, objective=args.objective, aggregate_km=args.aggregate_km,
        aggregate_h3=args.aggregate_h3)]
    if refused:
        problems.append(
            f"compare plans the fewest sites that carry the load (a capacitated plan): "
            f"{', '.join(refused)} cannot be used with it; drop "
            + ("them" if len(refused) > 1 else "it")
            + " (edge-coverage plan takes them)")
    try:
        if args.regions:
            if args.providers:
                problems.append("--providers filters the built-in region table: drop it "
                                "with --regions FILE")
            out["regions"] = read_regions(args.regions)
        else:
            names = ([p.strip().lower() for p in args.providers.split(",") if p.strip()]
                     if args.providers is not None else None)
            if names is not None and not names:
                problems.append(f"--providers {args.providers!r} names no provider (an unset "
                                "variable?). Fix: give one or more of aws, gcp, azure "
                                "separated by commas, or leave the option out for all")
                names = None
            out["regions"] = builtin_regions(names)
    except InputValidationError as exc:
        problems.append(str(exc))
    found, context = compare_input_problems(
        model=model, costs=args.costs, regions=out.get("regions"), workloads=args.workloads,
        region_workload=args.region_workload, preference_share=args.preference_share,
        thin_utilisation=args.thin_utilisation)
    # the regions' problem was said above (a None table checks the built-in one)
    problems.extend(p for p in found if p not in problems)
    if context["costs"] is None and context.get("cost_edge_names"):
        # a cost file with problems: its [edge.NAME] tables against the catalog's tiers
        # too, in the same message (tester 181: a misspelt tier came a run later; the
        # sites' own tier labels are checked once the file reads)
        import pandas as pd

        from .comparison import cost_tier_problems

        problems.extend(p for p in cost_tier_problems(pd.DataFrame(), args.tiers or "builtin",
                                                      context) if p not in problems)
    if context["costs"] is not None:
        out["costs"] = context["costs"]
    out["context"] = context
    return out


def _compare_data_problems(args: argparse.Namespace, demand: Any, sites: Any, model: Any,
                           extra: dict[str, Any]) -> list[str]:
    """The problems of the loaded demand and sites for ``compare`` (no people, no load, a
    bad ``sovereign`` column, a cost table that is another spelling of a site tier),
    before the output directory is made.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line of ``compare``.
    demand, sites : pandas.DataFrame
        The validated inputs.
    model : LatencyModel or None
        The latency model.
    extra : dict
        What :func:`_compare_inputs` returned (its ``context`` is used and dropped).

    Returns
    -------
    list of str
        One entry per problem.
    """
    from .comparison import compare_data_problems

    context = extra.pop("context", None)
    if context is None or demand is None or sites is None:
        return []
    return compare_data_problems(
        demand, sites, model=model, tiers=args.tiers or "builtin", context=context,
        demand_source=str(args.demand) if args.demand is not None else "<demand>",
        budget_ms=args.budget_ms, percentile=args.percentile,
        service_classes=args.service_classes, workloads=args.workloads)


def _compare_and_write(args: argparse.Namespace, od: Any, demand: Any, sites: Any,
                       model: Any, inputs: dict[str, Any], progress: Any, *,
                       regions: Any, costs: Any) -> int:
    from .comparison import compare
    from .errors import EXIT_PLAN_SHORT, OutputWriteError
    from .outputs.plandir import unsaved_sites, write_comparison

    options = dict(
        budget_ms=args.budget_ms, failures=args.failures,
        percentile=args.percentile, access=args.access, model=model, regions=regions,
        costs=costs, requests_per_person_day=args.requests_per_person_day,
        peak_to_mean=args.peak_to_mean, target_utilisation=args.target_utilisation,
        workloads=args.workloads, tiers=args.tiers or "builtin",
        region_workload=args.region_workload, preference_share=args.preference_share,
        thin_utilisation=args.thin_utilisation, progress=progress, inputs=inputs,
        time_limit_s=args.time_limit_s, kmedian_time_limit_s=args.kmedian_time_limit_s,
        kmedian_gap_pct=args.kmedian_gap_pct,
        strategy=args.strategy, max_memory_gb=args.max_memory_gb,
        service_classes=args.service_classes, upf=args.upf, backbone=args.backbone,
        backbone_edge_factor=args.backbone_edge_factor,
        backbone_latency_attr=args.backbone_latency_attr,
        domain_radius_km=args.domain_radius_km, max_sites=args.max_sites,
        objective=args.objective, scenario_limit=args.scenario_limit,
        # compare prices the least capacity unless --sizing off is typed
        sizing=args.sizing if _typed(args, ("sizing",)) else "least",
        sizing_time_limit_s=args.sizing_time_limit_s,
        proposal_time_limit_s=args.proposal_time_limit_s,
        aggregate_km=args.aggregate_km, aggregate_h3=args.aggregate_h3,
        aggregate_mode=args.aggregate_mode,
        # the edge plan's budget sweep, as for plan (_plan_and_write)
        sweep=None if args.no_report else {
            "budgets_ms": args.sweep_budgets_ms, "time_limit_s": args.sweep_time_limit_s,
            "total_time_s": args.sweep_total_s, "process": args.sweep_process,
            "wait": False})
    if args.workers or args.scheduler:
        from .batch import dask_client

        progress("starting Dask" + (f" client of {args.scheduler}" if args.scheduler
                                    else f" local cluster ({args.workers} workers)"))
        with dask_client(args.workers, args.scheduler) as client:
            c = compare(demand, sites, client=client, reach_partitions=args.reach_partitions,
                        **options)
    else:
        c = compare(demand, sites, **options)
    lines = _compare_lines(c.document)
    report = not args.no_report and c.plan is not None
    progress(f"writing outputs to {od.path}")
    try:
        written = write_comparison(
            c, od, map=not args.no_map, tiles=None if args.tiles == "none" else args.tiles,
            report=report, gis=not args.no_gis, gpkg=True if args.gpkg else None,
            sweep_options={"budgets_ms": args.sweep_budgets_ms,
                           "time_limit_s": args.sweep_time_limit_s,
                           "total_time_s": args.sweep_total_s, "progress": progress})
    except OutputWriteError as exc:
        # the figures and the edge plan's sites are not lost with the files
        _out(args, "\n".join(lines) + ("" if c.plan is None or exc.kept is not None
                                       else "\n" + unsaved_sites(c.plan)))
        raise
    finally:
        if c.plan is not None:
            c.plan.close_sweep()  # a sweep still pending (the outputs were refused): stopped
    out = written.path
    lines.append(f"outputs: {out.resolve()} (compare.json)")
    if report and "report.html" not in written.skipped:
        lines.append(f"report: {(out / 'report.html').resolve()}#compare")
    _out(args, "\n".join(lines))
    _warn_skipped(written.skipped)
    s = c.plan.summary() if c.plan is not None else {}
    code = plan_exit_code(s, written.skipped)
    if code == EXIT_PLAN_SHORT:
        _err(short_plan_message(out, s))
    return code


def _compare_lines(doc: dict[str, Any]) -> list[str]:
    """What ``edge-coverage compare`` prints: the verdict, both sides, the warnings."""
    e, r, be = doc["edge"], doc["region"], doc["breakeven"]

    def usd(x: Any) -> str:
        if x is None:
            return "n/a"
        return f"${x:,.4f}" if abs(x) < 1 else f"${x:,.2f}" if abs(x) < 100 else f"${x:,.0f}"

    def pct(x: Any) -> str:
        return "n/a" if x is None else f"{100 * x:.1f} %"

    lines = [doc["verdict"]["text"]]
    if e["feasible"]:
        lines.append(
            f"edge:   {e['sites']} sites, {e['sizing']['accelerators']:,} accelerators, "
            f"{pct(e['coverage']['share_within_budget'])} within budget, utilisation "
            f"{pct(e['utilisation']['fleet_mean'])} (mean), "
            f"{usd(e['cost_usd_per_year']['total'])}/year, "
            f"{usd(e['cost_per_million_requests'])} per million requests, "
            f"{usd(e['cost_per_user_month'])} per user-month")
    lines.append(
        # (the nearest of the table's regions, not a fleet of them: tester 207)
        f"region: each user's nearest of {r['regions']} regions, "
        f"{pct(r['coverage']['share_within_budget'])} within budget "
        f"({pct(r['coverage']['share_within_budget_n1'])} within budget of two), utilisation "
        f"{pct(r['utilisation']['utilisation'])}, {usd(r['cost_usd_per_year']['total'])}/year, "
        f"{usd(r['cost_per_million_requests'])} per million requests, "
        f"{usd(r['cost_per_user_month'])} per user-month")
    if e["feasible"]:
        lines.append(("breakeven: the edge matches the region's price per request at "
                      f"{pct(be['utilisation'])} mean utilisation"
                      if be["utilisation"] is not None else
                      "breakeven: none; the edge costs more per request than the region at "
                      "any mean utilisation up to 100 %")
                     + f" (the fleet runs at {pct(be['fleet_utilisation'])})")
    for w in doc["warnings"]:
        lines.append(f"warning [{w['code']}]: {w['message']}")
    return lines


def _plan_and_write(args: argparse.Namespace, od: Any, demand: Any, sites: Any, model: Any,
                    inputs: dict[str, Any], progress: Any) -> int:
    from .errors import EXIT_OUTPUTS_SKIPPED, EXIT_PLAN_SHORT, OutputWriteError
    from .outputs.plandir import unsaved_sites, write_plan
    from .planner.plan import plan_sites

    options = dict(
        budget_ms=args.budget_ms, failures=args.failures,
        percentile=args.percentile, access=args.access, model=model,
        time_limit_s=args.time_limit_s, kmedian_time_limit_s=args.kmedian_time_limit_s,
        kmedian_gap_pct=args.kmedian_gap_pct,
        inputs=inputs, progress=progress, strategy=args.strategy,
        max_memory_gb=args.max_memory_gb, aggregate_km=args.aggregate_km,
        aggregate_h3=args.aggregate_h3,
        aggregate_mode=args.aggregate_mode, service_classes=args.service_classes,
        tiers=args.tiers or "builtin", upf=args.upf, backbone=args.backbone,
        backbone_edge_factor=args.backbone_edge_factor,
        backbone_latency_attr=args.backbone_latency_attr, workloads=args.workloads,
        requests_per_person_day=args.requests_per_person_day,
        peak_to_mean=args.peak_to_mean, target_utilisation=args.target_utilisation,
        domain_radius_km=args.domain_radius_km, max_sites=args.max_sites,
        objective=args.objective, scenario_limit=args.scenario_limit,
        sizing=args.sizing, sizing_time_limit_s=args.sizing_time_limit_s,
        proposal_time_limit_s=args.proposal_time_limit_s,
        # the report's budget sweep: alongside the plan in a second process on national
        # inputs, else after it (plan_sites); not waited for until the report is written
        # (the other outputs first); a sweep that fails only skips the report
        sweep=None if args.no_report else {
            "budgets_ms": args.sweep_budgets_ms, "time_limit_s": args.sweep_time_limit_s,
            "total_time_s": args.sweep_total_s, "process": args.sweep_process,
            "wait": False},
    )
    if args.workers or args.scheduler:
        from .batch import dask_client

        progress("starting Dask" + (f" client of {args.scheduler}" if args.scheduler
                                    else f" local cluster ({args.workers} workers)"))
        with dask_client(args.workers, args.scheduler) as client:
            plan = plan_sites(demand, sites, client=client,
                              reach_partitions=args.reach_partitions, **options)
    else:
        plan = plan_sites(demand, sites, **options)
    report = not args.no_report
    extras = [name for name, on in (("map", not args.no_map), ("report", report),
                                    ("GIS layers", not args.no_gis)) if on]
    progress(f"writing outputs to {od.path}"
             + (f" (with {', '.join(extras)})" if extras else ""))
    s = plan.summary()
    try:
        written = write_plan(plan, od, map=not args.no_map,
                             tiles=None if args.tiles == "none" else args.tiles,
                             report=report, gis=not args.no_gis,
                             gpkg=True if args.gpkg else None,
                             sweep_options={"budgets_ms": args.sweep_budgets_ms,
                                            "time_limit_s": args.sweep_time_limit_s,
                                            "total_time_s": args.sweep_total_s,
                                            "progress": progress})
    except OutputWriteError as exc:
        # the figures and the sites are not lost with the files (tester 179: on a full
        # disk only the counts were printed); not when the outputs were kept beside
        _out(args, _headline(s, args)
             + ("" if exc.kept is not None else "\n" + unsaved_sites(plan)))
        raise
    finally:
        plan.close_sweep()  # a sweep still pending (the outputs were refused): stopped
    out = written.path
    skipped = written.skipped
    lines = [_headline(s, args),
             f"outputs: {out.resolve()}"]
    if not args.no_map and "map.html" not in skipped:
        lines.append(f"map: {(out / 'map.html').resolve()}")
    if report and "report.html" not in skipped:
        lines.append(f"report: {(out / 'report.html').resolve()}")
    _out(args, "\n".join(lines))
    _warn_skipped(skipped)
    short = plan_exit_code(s, skipped)
    if short == EXIT_PLAN_SHORT:
        _err(short_plan_message(out, s))
        return short
    if skipped:
        _err(f"edge-coverage: the plan is written to {out}; {len(skipped)} optional "
             f"output(s) failed (exit code {EXIT_OUTPUTS_SKIPPED})")
    return short


def plan_unproven(s: Mapping[str, Any]) -> bool:
    """Whether a capacitated plan's failure scenarios were cut at the scenario limit
    (``summary["capacity"]["scenarios_complete"]`` false): those not checked are not
    proven to carry the load, whatever the status."""
    c = s.get("capacity")
    return isinstance(c, Mapping) and c.get("scenarios_complete") is False


def plan_exit_code(s: Mapping[str, Any], skipped: Any) -> int:
    """The exit code of a run whose outputs are written (``s``: its summary):
    :data:`EXIT_PLAN_SHORT` when the plan is not a feasible one (status
    ``time_limit_short``) or not proven to be (:func:`plan_unproven`), else
    :data:`EXIT_OUTPUTS_SKIPPED` when an optional output failed, else 0."""
    from .errors import EXIT_OUTPUTS_SKIPPED, EXIT_PLAN_SHORT

    if s.get("status") == "time_limit_short" or plan_unproven(s):
        return EXIT_PLAN_SHORT
    return EXIT_OUTPUTS_SKIPPED if skipped else 0


def short_plan_message(out: Any, s: Mapping[str, Any]) -> str:
    """The stderr line of a run whose written plan is not a feasible one, or not proven
    to be (:func:`plan_exit_code`)."""
    from .errors import EXIT_PLAN_SHORT

    c = s.get("capacity") or {}
    bound = s.get("lower_bound")
    complete = c.get("scenarios_complete", True)
    checked = c.get("scenarios_checked", "some")
    checked = f"{checked:,}" if isinstance(checked, int) else checked
    if s.get("status") != "time_limit_short":  # every scenario checked passed; not all were
        total = c.get("scenarios_total")
        return (f"edge-coverage: error: the plan written to {out} is NOT proven to carry "
                f"the load in every failure scenario: {checked} of "
                + (f"{total:,}" if isinstance(total, int) else "more")
                + " scenario(s) checked (the scenario limit), and those not checked may "
                "fall short. Fix: raise --scenario-limit"
                + (f" to {total:,} or more" if isinstance(total, int) else "")
                + f", or plan fewer failures (exit code {EXIT_PLAN_SHORT})")
    return (f"edge-coverage: error: the plan written to {out} is NOT a feasible plan: "
            f"{s.get('site_count')} sites fall short of capacity in a failure scenario "
            f"(capacity bound {bound if bound is None else f'{bound:g}'} sites; "
            f"{checked} scenario(s) checked"
            + ("" if complete else ", not all: the scenario limit")
            + "; see capacity_scenarios.csv). Fix: raise --time-limit-s"
            + ("" if complete else " and --scenario-limit")
            + f", plan fewer failures, or add capacity (exit code {EXIT_PLAN_SHORT})")


def _warn_skipped(skipped: Mapping[str, str]) -> None:
    """Say on stderr, once, each optional output not written: one line per reason,
    naming its files (``sweep.csv and report.html not written: ...``). The library's own
    warning of it (:data:`~coverage.errors.SKIPPED_LOGGER`) is kept out of the output: a
    file was named twice, even with ``-q``."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in skipped.items():
        by_reason.setdefault(str(reason), []).append(name)
    for reason, names in by_reason.items():
        shown = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        _err(f"edge-coverage: warning: {shown} not written: {reason}")


def _headline(s: dict[str, Any], args: argparse.Namespace) -> str:
    """The plan's figures, as printed after a run."""
    from .outputs.headline import headline_lines

    return "\n".join(headline_lines(s, access=args.access))


def _run_calibrate(args: argparse.Namespace) -> int:
    from .inputs.pings import read_pings
    from .model.calibrate import fiber_problem
    from .outputs.outdir import drop_lock, take_lock

    out = Path(args.out)
    pings_path = Path(args.pings)
    # every check before the work, in one message: --out, --fiber-us-per-km, the pings
    problems = (["--out is empty: give a file name such as model.toml"]
                if not str(args.out).strip() else _model_file_problems(out))
    if pings_path.resolve() == out.resolve():
        problems.append(f"--out {out} is the pings file: choose another name")
    bad_fiber = fiber_problem(args.fiber_us_per_km)
    if bad_fiber:
        problems.append(bad_fiber)
    pings = None
    try:
        pings = read_pings(pings_path)
    except InputValidationError as exc:
        problems.append(str(exc))
    if (pings is not None and args.p99_over_paths != 0.5
            and "rtt_p99_ms" not in pings.columns):
        problems.append(
            f"--p99-over-paths {args.p99_over_paths:g} needs a per-path p99 column "
            f"(rtt_p99_ms, or rtt_max_ms), which {pings_path} does not have: without it the "
            "p99 term is the 0.99 quantile over the pings. Fix: add the column, or leave out "
            "--p99-over-paths")
    if problems or pings is None:
        raise InputValidationError("\n".join(problems))
    # the model file's lock, and its state under it: a file that appears at --out, or is
    # edited, while the fit runs is not written over (tester 193: a file made during the
    # run was replaced, and two runs into one --out both said they wrote it)
    lock_fd, lock = take_lock(out, what="file")
    try:
        problems = _model_file_problems(out)  # again, under the lock
        if problems:
            raise InputValidationError("\n".join(problems))
        return _calibrate_locked(args, out, pings, pings_path, _file_identity(out))
    finally:
        drop_lock(lock_fd, lock)


def _file_identity(path: Path) -> tuple[Any, ...] | None:
    """What the file at ``path`` is (device, inode, size, modification time and SHA-256
    of its bytes), or ``None`` when nothing is there: compared before it is replaced."""
    import hashlib

    try:
        st = os.lstat(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(
            st.st_mode) else ""
    except FileNotFoundError:
        return None
    except OSError:
        return ("unreadable",)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, digest


def _calibrate_locked(args: argparse.Namespace, out: Path, pings: Any, pings_path: Path,
                      seen: tuple[Any, ...] | None) -> int:
    """The fit and the model file, under its lock; ``seen`` is the file at ``out`` when
    it was checked (:func:`_file_identity`)."""
    import uuid

    from .model.calibrate import calibrate
    from .outputs.outdir import write_atomic

    limited = not math.isinf(args.max_distance_km)
    cal = calibrate(pings, fiber_us_per_km=args.fiber_us_per_km,
                    max_distance_km=args.max_distance_km, source=str(pings_path),
                    p99_over_paths=args.p99_over_paths)
    fitted = cal.errors.iloc[-1]
    lines = [f"pings: {len(pings):,} read, {cal.pings_used:,} fitted, {cal.dropped_light:,} "
             f"dropped as faster than light"
             + (f", {cal.dropped_distance:,} at or beyond {args.max_distance_km:g} km"
                if limited else ""),
             f"fitted distances: {cal.fitted_min_distance_km:,.1f}-"
             f"{cal.fitted_max_distance_km:,.1f} km (beyond them the model extrapolates)",
             f"p50 network: {cal.route_factor:.4f} x fibre great-circle round trip + "
             f"{cal.overhead_ms:.3f} ms (median fit, {cal.solver}; route factor standard "
             f"error {cal.route_factor_se:.3f})",
             f"p99 network: overhead {cal.overhead_p99_ms:.3f} ms ({cal.p99_method})",
             f"  {100 * cal.share_above_p99:.1f} % of the fitted {cal.share_above_p99_of} "
             + ("have their own p99 above it" if cal.share_above_p99_of == "paths"
                else "are above it")
             + (f" (held out: {100 * cal.heldout_share_above_p99:.1f} %)"
                if math.isfinite(cal.heldout_share_above_p99) else ""),
             "", "error of the p50 fit against rtt_ms (predicted - measured):",
             f"{'distance':<18}{'pings':>8}{'median |err|':>14}{'median bias':>13}"
             f"{'p90 |err|':>11}"]
    for r in cal.errors.itertuples():
        lines.append(f"{r.band:<18}{r.pairs:>8,}{r.median_abs_error_ms:>11.2f} ms"
                     f"{r.median_bias_ms:>10.2f} ms{r.p90_abs_error_ms:>8.2f} ms"
                     if r.pairs else f"{r.band:<18}{0:>8}{'n/a':>14}{'n/a':>13}{'n/a':>11}")
    lines.append(
        f"median |err| of the fitted pings: {fitted['median_abs_error_ms']:.2f} ms in sample, "
        + (f"{cal.heldout_median_abs_error_ms:.2f} ms held out ({cal.heldout_method})"
           if math.isfinite(cal.heldout_median_abs_error_ms)
           else f"held out {cal.heldout_method}"))
    _out(args, "\n".join(lines))
    text = cal.model_toml()
    now = _file_identity(out)
    changed = now is not None and now != seen  # (a file removed meanwhile: written anew,
    # never over one made since; review 165: "left as it is" named a file no longer there)
    try:  # a replaced file keeps its permissions
        if not changed:
            mode = stat.S_IMODE(out.stat().st_mode) if now is not None else None
            write_atomic(out, text, mode=mode, replace=now is not None)
    except FileExistsError:
        changed = True  # made at --out between the check and the write
    except OSError as exc:
        raise OutputWriteError(f"cannot write {out}: {exc.strerror or exc}. Fix: choose a "
                               "writable --out") from None
    if changed:  # not written over: the fitted model is kept beside it
        kept = out.with_name(f"{out.stem}.edge-coverage-new-{time.strftime('%Y%m%d-%H%M%S')}"
                             f"-{uuid.uuid4().hex[:4]}{out.suffix}")
        try:
            write_atomic(kept, text, replace=False)
        except OSError as exc:
            raise OutputWriteError(
                f"--out {out} was {'created' if seen is None else 'edited'} while "
                f"calibrate ran, so it is left as it is, and the fitted model could not be "
                f"kept beside it either ({kept}: {exc.strerror or exc}). Fix: run again "
                "with another --out") from None
        raise OutputWriteError(
            f"--out {out} was {'changed' if seen is not None else 'created'} while calibrate "
            f"ran (by you or another program), so it is left as it is; the fitted model is "
            f"kept as {kept}. Fix: compare the two, then keep the one you want "
            f"(edge-coverage plan --latency-model {kept} uses the new fit)")
    _out(args, f"model: {out.resolve()}  (use: edge-coverage plan --latency-model {out})")
    return 0


def _tool_owned_dir(path: Path) -> tuple[Path, str] | None:
    """The directory written by an edge-coverage run (a plan or batch ``--out``) that holds
    ``path``, with its kind; ``None`` when there is none.

    Such a directory is replaced as a whole by its next run, and a file the tool did not
    list there makes that run refuse it: nothing else may be written inside. Found by the
    ownership marker (:data:`coverage.outputs.outdir.MARKER`) of any ancestor, the
    symbolic links of the parent followed, or for a plan directory from before the marker
    by its file names.

    Parameters
    ----------
    path : pathlib.Path
        The file to be written (``calibrate --out``).

    Returns
    -------
    tuple of (pathlib.Path, str) or None
        The owned directory and its kind (``"plan"``, ``"batch"``), or ``None``.
    """
    from .outputs.outdir import LEGACY_PLAN_FILES, absolute_path, read_marker

    parent = absolute_path(path).parent
    real = Path(os.path.realpath(parent))
    for directory in dict.fromkeys([parent, *parent.parents, real, *real.parents]):
        marker = read_marker(directory)
        if marker is not None:
            return directory, str(marker.get("kind") or "output")
    try:
        entries = set(os.listdir(real))
    except OSError:
        return None
    if "summary.json" in entries and entries <= LEGACY_PLAN_FILES:
        return real, "plan"
    return None


def _model_file_problems(out: Path) -> list[str]:
    """Why ``--out`` of calibrate cannot be written (empty when it can): among them an
    existing file calibrate did not write, or wrote and that was edited since (its
    checksum, :func:`coverage.model.calibrate.model_file_state`)."""
    from .model.calibrate import model_file_state

    if out.is_dir():
        return [f"--out {out} is a directory: give a file name such as model.toml"]
    if out.suffix.lower() != ".toml":
        return [f"--out {out} must end in .toml (a model file)"]
    owner = _tool_owned_dir(out)
    if owner is not None:
        directory, kind = owner
        how = ("the tool replaces it as a whole" if kind == "plan" else
               "the tool owns it and writes its scenarios there")  # (tester 193)
        return [f"--out {out} is inside {directory}, an edge-coverage {kind} directory: "
                f"{how}, and its next {kind} run would refuse it for holding a file it did "
                "not write (or drop the model with it). Fix: give --out a path outside it, "
                f"e.g. --out {directory.parent / out.name}"]
    if out.is_symlink():
        return [f"--out {out} is a symbolic link: it is left alone; choose a new name"]
    if out.exists() and not out.is_file():  # a named pipe: opened to be read, it blocked
        from .inputs.validation import file_kind

        return [f"--out {out} is {file_kind(out)}, not a file calibrate wrote: it is left "
                "alone; choose a new name"]
    if out.exists():
        try:
            with open(out, "rb") as fh:
                data = fh.read(1 << 20)  # a model file is a few hundred bytes
        except OSError as exc:
            return [f"--out {out} exists and cannot be read ({exc.strerror}): choose a new "
                    "name"]
        state = model_file_state(data)
        if state == "other":
            return [f"--out {out} exists and was not written by edge-coverage calibrate: "
                    "it is left alone; choose a new name or remove it yourself"]
        if state == "edited":
            return [f"--out {out} was written by edge-coverage calibrate and edited since "
                    "(it no longer matches the checksum in its first line): a re-run would "
                    "discard the edits, so it is left alone. Fix: give another --out, or "
                    f"delete {out} if the edits may go"]
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        up = next((q for q in (parent, *parent.parents) if os.path.lexists(q)), None)
        if up is not None and os.path.islink(up) and not up.exists():
            return [f"--out {out}: {up} is a dangling symbolic link (to "
                    f"{os.readlink(up)}, which does not exist). Fix: create its target, or "
                    "give --out a path in a directory"]
        if up is not None and not up.is_dir():
            return [f"--out {out}: {up} is a file, not a directory. Fix: give --out a path "
                    "in a directory"]
        return [f"--out {out}: the directory {parent} does not exist; create it first"]
    if not os.access(parent, os.W_OK | os.X_OK):
        return [f"--out {out}: the directory {parent} is not writable"]
    # a file made and removed there, as the model file will be (written beside it, then
    # renamed): root passes os.access everywhere, and /sys or a read-only mount refuse it
    # only then (a tester's find: the whole fit ran before "Permission denied")
    try:
        fd, probe = tempfile.mkstemp(prefix=".edge-coverage-probe-", dir=parent)
    except OSError as exc:
        return [f"--out {out}: cannot write in the directory {parent} "
                f"({exc.strerror or exc}). Fix: choose a writable --out"]
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return []


def _latency_upf(text: str) -> tuple[Any, list[str]]:
    """The ``--upf`` of ``latency``: a ``LAT,LON`` point or a UPF table file.

    Parameters
    ----------
    text : str
        The value of ``--upf``.

    Returns
    -------
    tuple of (pandas.DataFrame or None, list of str)
        The table of ``upf_id, lat, lon`` (``None`` when refused) and the problems: a pair
        of numbers out of range is a point refused for its range, not a file that does not
        exist.
    """
    import pandas as pd

    try:
        lat, lon = _latlon(text)
        return pd.DataFrame({"upf_id": ["upf"], "lat": [lat], "lon": [lon]}), []
    except argparse.ArgumentTypeError as exc:
        parts = text.split(",")
        numbers = len(parts) == 2 and all(_is_float(x) for x in parts)
        if numbers and not Path(text).exists():
            return None, [f"--upf {exc}. Fix: give the breakout as LAT,LON in degrees, "
                          "latitude (-90..90) first, or the path of a UPF table (upf_id, lat, "
                          "lon)"]
    from .inputs.upf import read_upf

    try:
        return read_upf(text), []
    except InputValidationError as exc:
        return None, [str(exc)]


def _is_float(text: str) -> bool:
    """Whether ``text`` reads as a number (``nan`` and ``inf`` included)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _run_latency(args: argparse.Namespace) -> int:
    from .model.geo import haversine_km
    from .model.latency import LatencyModel
    from .model.routing import MOBILE_ACCESS, single_path_km
    from .model.tiers import TierCatalog

    # every check before the work, in one message: model, access, tier, UPF, backbone
    problems: list[str] = []
    model = None
    try:
        model = build_model({o.name: getattr(args, o.name) for o in MODEL_OPTIONS},
                            workloads=args.workloads)
        model.check_access(args.access)
    except InputValidationError as exc:
        problems.append(str(exc))
    tier = None
    try:
        catalog = TierCatalog.from_spec(args.tiers)
        if args.tier is not None:
            tier = catalog.get(args.tier)
            if tier is None:
                problems.append(
                    f"--tier {args.tier!r} is not in the tier catalog ({catalog.source}); "
                    f"choose one of {', '.join(catalog.names())} or add it with --tiers FILE")
    except InputValidationError as exc:
        problems.append(str(exc))
    upf = None
    spec = "default" if args.upf is None else str(args.upf).strip()
    if spec.lower() not in ("default", "none"):
        upf, found = _latency_upf(args.upf)
        problems.extend(found)
    mobile_access = args.access in MOBILE_ACCESS
    if spec.lower() == "default" and mobile_access:
        # plan's default: one UPF per large metro of the user's country (a tester's find:
        # the detour plan applies was left out here without a word)
        from .inputs.upf import default_upf

        upf = default_upf([args.from_[0]], [args.from_[1]])
        upf = upf if len(upf) else None
    if args.workloads is not None:  # read and checked even when no --workload uses it
        from .model.workloads import WorkloadCatalog

        try:
            WorkloadCatalog.from_spec(args.workloads)
        except InputValidationError as exc:
            problems.append(str(exc))
        else:
            if args.workload is None:
                logger.warning("--workloads is not used: no --workload is given (the "
                               "inference time is the model's; add --workload NAME)")
    if args.tiers is not None and args.tier is None:
        logger.warning("--tiers is not used: no --tier is given (the latency is the "
                       "reference site's; add --tier NAME for one of the catalog's)")
    if args.local_breakout and not mobile_access:
        logger.warning("--local-breakout is not used: --access %s is not mobile (the UPF "
                       "detour is for %s)", args.access, ", ".join(sorted(MOBILE_ACCESS)))
    problems.extend(_backbone_options_unused(args))
    backbone = None
    if args.backbone is not None:
        from .model.backbone import DEFAULT_EDGE_FACTOR, read_backbone  # networkx: lazily

        try:
            backbone = read_backbone(
                args.backbone, edge_factor=DEFAULT_EDGE_FACTOR
                if args.backbone_edge_factor is None else args.backbone_edge_factor,
                latency_attr=args.backbone_latency_attr,
                fiber_us_per_km=(model or LatencyModel()).fiber_us_per_km)
        except InputValidationError as exc:
            problems.append(str(exc))
    if backbone is not None:  # the plan's check: a site off the backbone is refused
        try:
            backbone.check_sites(["--to"], [args.to[0]], [args.to[1]], source="--to")
        except InputValidationError as exc:
            problems.append(str(exc).replace("Fix: remove these candidates",
                                             "Fix: give a site on the backbone"))
    if problems or model is None:
        raise InputValidationError("\n".join(problems))
    (lat1, lon1), (lat2, lon2) = args.from_, args.to
    d = float(haversine_km(lat1, lon1, lat2, lon2))
    lbo = args.local_breakout or bool(tier is not None and tier.local_breakout)
    mobile = mobile_access and upf is not None
    if args.upf is not None and spec.lower() != "default" and not mobile_access:
        logger.warning("--upf is not used: --access %s is not mobile (the UPF detour is "
                       "for %s)", args.access, ", ".join(sorted(MOBILE_ACCESS)))
    path, note = single_path_km(model.ms_per_km, (lat1, lon1), (lat2, lon2), upf=upf,
                                backbone=backbone, mobile=mobile, local_breakout=lbo)
    _out(args, "\n".join(latency_waterfall(model, d, args.access, tier=tier, path_km=path,
                                      route_note=note,
                                      workload=None if args.inference_ms is not None
                                      else args.workload)))
    return 0


def latency_waterfall(model: Any, distance_km: float, access: str, *, tier: Any = None,
                      path_km: float | None = None, route_note: str = "",
                      workload: str | None = None) -> list[str]:
    """The lines ``edge-coverage latency`` prints: each component at p50 and p99, the totals
    and the budget radius at 30, 50 and 100 ms (p99 and p50).

    ``tier`` (a :class:`coverage.model.tiers.Tier`) adds its hops, proxy and extra latency
    and leaves the WAN overhead out when the tier is off the WAN; ``path_km`` (through a
    breakout or over a backbone, in the model's km) adds the route detour over the great
    circle; the radii are then path lengths at that tier.
    """
    import numpy as np

    from .errors import InfeasibleBudgetError

    wan = True if tier is None else bool(tier.wan)
    t_hops = 0 if tier is None else int(tier.hops)
    proxy = tuple(model.proxy_ms) if tier is None or tier.proxy_ms is None else tier.proxy_ms
    extra = (0.0, 0.0) if tier is None else tuple(tier.extra_ms)
    path = distance_km if path_km is None else float(path_km)
    prop = float(model.ms_per_km * distance_km)
    detour = float(model.ms_per_km * (path - distance_km))
    n_hops = (model.hops if wan else 0) + t_hops
    hops = n_hops * model.per_hop_ms
    comps = model.components_ms(access)
    overhead = model.overhead_ms if wan else 0.0
    rows = [("propagation", f"{distance_km:,.1f} km x {model.route_factor:g} route factor",
             prop, prop)]
    if path_km is not None and (abs(detour) > 1e-12 or route_note):
        rows.append(("route detour", route_note, detour, detour))
    rows += [("hops", f"{n_hops} x {model.per_hop_ms:g} ms"
              + (f" ({t_hops} of the tier)" if t_hops else ""), hops, hops),
             ("network overhead", f"profile {model.profile}" if wan
              else "none: the tier is off the WAN", overhead, overhead)]
    parts = [("network jitter", "", *(comps["network jitter"] if wan else (0.0, 0.0))),
             ("access", access, *comps["access"]), ("wifi", model.wifi, *comps["wifi"]),
             ("proxy", "the tier's" if tier is not None and tier.proxy_ms is not None
              else "", *proxy)]
    if tier is not None:
        parts.append(("tier", tier.name, *extra))
    # the workload given (its time may be a --workloads file's), else the model's own
    # unless an inference time of its own replaced a built-in one's (a model file's)
    named = workload or (model.workload if model.inference_ms is None else "")
    parts.append(("inference", named, *comps["inference"]))
    rows += parts
    out = [f"latency model: {model.profile} (route factor {model.route_factor:g}, overhead "
           f"{model.overhead_ms:g} ms p50 / {model.overhead_p99_ms:g} ms p99)"
           + (f"; tier {tier.name}" if tier is not None else "")]
    out.append(f"{'component':<18}{'p50 ms':>9}{'p99 ms':>9}  note")
    def ms(x: float) -> float:  # -0.004 would print as "-0.00"
        return x if abs(x) >= 0.005 else 0.0

    out += [f"{n:<18}{ms(a):>9.2f}{ms(b):>9.2f}  {note}" for n, note, a, b in rows]
    row50, row_tail = model.row_parts(access)
    site50, site_tail = model.site_parts(wan=wan, hops=t_hops, proxy_ms=proxy,
                                         extra_ms=extra)
    fixed50 = row50 + site50
    fixed99 = fixed50 + float(np.sqrt(row_tail + site_tail))
    p50 = fixed50 + model.ms_per_km * path
    p99 = fixed99 + model.ms_per_km * path
    out.append(f"{'total':<18}{p50:>9.2f}{p99:>9.2f}  p99 = p50 sum + root-sum-square of "
               "the components' p99 - p50 (independent tails)")
    for budget in (30.0, 50.0, 100.0):
        shown = []
        for pct, fixed in (("p99", fixed99), ("p50", fixed50)):
            if tier is None and path_km is None:
                try:
                    shown.append(f"{pct} {model.radius_km(budget, access, pct):,.0f} km")
                except InfeasibleBudgetError:
                    shown.append(f"{pct} infeasible")
            elif fixed > budget:
                shown.append(f"{pct} infeasible")
            else:
                shown.append(f"{pct} {(budget - fixed) / model.ms_per_km:,.0f} km")
        what = access + (f", tier {tier.name}" if tier is not None else "")
        unit = " of path" if path_km is not None and route_note else ""
        out.append(f"radius at {budget:g} ms ({what}){unit}: " + ", ".join(shown))
    return out


def _run_report(args: argparse.Namespace) -> int:
    from .outputs.plandir import write_report

    try:
        path = write_report(args.plan_dir)
    except ImportError as exc:  # (tester 193: "internal error ... please report it")
        raise OutputWriteError(
            f"report not written: a library it draws with cannot be imported ({exc}); "
            f"{args.plan_dir} is left as it was. Fix: repair the environment (make install, "
            "or pip install -e . in it), then run edge-coverage report again") from None
    _out(args, f"report: {path.resolve()}")
    return 0


class _ProgressBar:
    """Scenario progress of ``edge-coverage batch`` on stderr: a tqdm bar on a terminal
    (log lines printed above it), nothing extra otherwise (the log has a line per scenario).
    """

    def __init__(self, *, enabled: bool, file: Any = None) -> None:
        self.file = file if file is not None else sys.stderr
        isatty = getattr(self.file, "isatty", None)
        self.enabled = enabled and callable(isatty) and bool(isatty())
        self.bar: Any = None
        self.failed = 0
        self._redirect: Any = None

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._redirect = logging_redirect_tqdm([logging.getLogger("coverage")])
            self._redirect.__enter__()
        return self

    def update(self, finished: int, total: int, row: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            import shutil

            from tqdm import tqdm

            # a pseudo-terminal may report 0 x 0: tqdm would then draw nothing
            size = shutil.get_terminal_size((100, 20))
            self.bar = tqdm(total=total, unit="scenario", file=self.file,
                            ncols=size.columns or 100, nrows=size.lines or 20,
                            desc="scenarios")
        if row is None:
            return
        self.failed += not row.get("ok")
        self.bar.set_postfix_str(f"{self.failed} failed, last: {row.get('scenario')}",
                                 refresh=False)
        self.bar.update(finished - self.bar.n)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        if self._redirect is not None:
            self._redirect.__exit__(*exc)


def _run_batch(args: argparse.Namespace) -> int:
    import numpy as np

    from .batch import run_batch
    from .errors import EXIT_OUTPUTS_SKIPPED, EXIT_PLAN_SHORT

    _warn_reach_partitions_unused(args)
    try:
        with _ProgressBar(enabled=not args.quiet) as bar:
            table = run_batch(args.config, args.out, workers=args.workers,
                              scheduler=args.scheduler,
                              reach_partitions=args.reach_partitions, progress=bar.update,
                              max_scenarios=args.max_scenarios, option="--out")
    except OutputWriteError as exc:
        # the plan of the scenario that could not be written is not lost with its files
        # (tester 193): its figures and chosen sites, as plan prints them
        unsaved = getattr(exc, "unsaved", None)
        if unsaved:
            _out(args, str(unsaved))
        raise
    n_ok = int(table["ok"].sum())
    out = Path(args.out).resolve()
    # planned, but not a feasible plan (short of capacity in a failure scenario) or not
    # proven to be one (its failure scenarios cut at scenario_limit): from its summary
    short = table[table["ok"] & (table["status"] == "time_limit_short")]
    unproven = table[table["ok"].to_numpy(dtype=bool)
                     & (table["status"] != "time_limit_short").to_numpy(dtype=bool)
                     & np.array([_batch_plan_unproven(out / str(d)) for d in table["dir"]],
                                dtype=bool)]
    _out(args, f"scenarios: {len(table)} ({n_ok} planned"
         + (f", {len(short)} of them NOT feasible (short of capacity)" if len(short) else "")
         + (f", {len(unproven)} NOT proven (scenario limit)" if len(unproven) else "")
         + f", {len(table) - n_ok} failed; "
          f"{table.attrs.get('skipped', 0)} of them from an earlier run, "
          f"{table.attrs.get('computed', 0)} run now)")
    for _, r in table[~table["ok"]].iterrows():
        _out(args, f"failed: {r['scenario']} [{r['region']}]: {r['error_type']}: {r['error']}")
    _out(args, f"table: {out / 'scenarios.csv'}")
    skipped = table.attrs.get("outputs_skipped") or {}
    if "sweep.png" not in skipped:
        _out(args, f"plots: {out / 'sweep.png'}")
    _warn_skipped(skipped)
    for _, r in short.iterrows():
        _err(f"edge-coverage: error: {r['scenario']} [{r['region']}]: the plan of "
             f"{r['site_count']:g} sites in {out / str(r['dir'])} is NOT a feasible "
             "plan: short of capacity in a failure scenario (status time_limit_short, "
             f"capacity bound "
             f"{r['lower_bound']:g} sites; see its capacity_scenarios.csv). Fix: raise "
             "time_limit_s or scenario_limit, plan fewer failures, or add capacity")
    for _, r in unproven.iterrows():
        _err(f"edge-coverage: error: {r['scenario']} [{r['region']}]: the plan of "
             f"{r['site_count']:g} sites in {out / str(r['dir'])} is NOT proven to carry "
             "the load in every failure scenario: its failure scenarios were cut at "
             "scenario_limit (see summary.json capacity). Fix: raise scenario_limit")
    if len(short) or len(unproven):
        return EXIT_PLAN_SHORT
    return EXIT_OUTPUTS_SKIPPED if skipped else 0


def _batch_plan_unproven(scenario_dir: Path) -> bool:
    """Whether the plan a batch wrote to ``scenario_dir`` is capacitated with its failure
    scenarios cut at the scenario limit (:func:`plan_unproven`); ``False`` when its
    ``summary.json`` cannot be read (a failed scenario writes none)."""
    import json

    try:
        s = json.loads((scenario_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(s, dict) and plan_unproven(s)


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None) -> None:
    """One line per warning, without the source line Python prints by default; none for a
    :class:`~coverage.errors.LoggedWarning`, whose text the log already printed."""
    from .errors import LoggedWarning

    if issubclass(category, LoggedWarning):
        return
    text = " ".join(str(message).split())
    where = "" if category.__module__.startswith("coverage") else f" ({category.__name__})"
    _err(f"edge-coverage: warning: {text}{where}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that it unwinds like Ctrl-C."""


class _Received:
    """The stop signals (SIGINT, SIGTERM) one run received, kept even when the exception
    their handler raised was swallowed: Python drops a KeyboardInterrupt raised inside a
    garbage-collection or weakref callback ("Exception ignored in ..."), and tester 144
    saw a Ctrl-C in the budget sweep ignored, the previous plan replaced and exit 0. The
    output directory asks :meth:`raise_if_any` before its swap, and :func:`main` before
    it returns 0."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def raise_if_any(self) -> None:
        """Raise the exception of the first signal received, if any."""
        import signal

        if self.signals:
            if self.signals[0] == signal.SIGTERM:
                raise _Terminated(f"signal {self.signals[0]}")
            raise KeyboardInterrupt


def _terminate_cleanly(received: _Received | None = None) -> tuple[Any, Any]:
    """SIGTERM unwinds like Ctrl-C (staging directories removed, locks released), and
    both it and Ctrl-C are recorded in ``received``; returns the SIGTERM and SIGINT
    handlers it replaced (``None`` each when it installed none: not the main thread, or
    Ctrl-C not Python's own handler, e.g. ignored)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None, None

    def on_term(signum: int, _frame: Any) -> None:
        if received is not None:
            received.signals.append(signum)
        raise _Terminated(f"signal {signum}")

    def on_int(signum: int, _frame: Any) -> None:
        if received is not None:
            received.signals.append(signum)
        raise KeyboardInterrupt

    on_int.records_interrupts = True  # type: ignore[attr-defined]  # (batch chains it)
    try:
        previous_term = signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):
        return None, None
    previous_int = None
    if received is not None and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with contextlib.suppress(ValueError, OSError):
            previous_int = signal.signal(signal.SIGINT, on_int)
    return previous_term, previous_int


@contextlib.contextmanager
def _small_pages() -> Iterator[None]:
    """Run without numpy's transparent-huge-page advice, unless ``NUMPY_MADVISE_HUGEPAGE`` is
    set (the user's choice stands); both restored on exit.

    numpy asks the kernel for huge pages for every large array (``madvise``). Where the
    kernel's THP ``defrag`` setting is ``madvise`` (the default of Linux and Debian), each
    first touch of such an array may compact memory on the spot: in a plan of the 1M-cell
    grid the count and the seed rows spent 0.39 s in the kernel with the advice and 0.18 s
    without, and row generation took 1.47 s instead of 1.7 s (hand measurement, seed 13;
    docs/design.md). The environment variable carries the choice to the Dask workers the
    command starts."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        yield
        return
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            yield
            return
    previous = _set_madvise_hugepage(False)
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    try:
        yield
    finally:
        if os.environ.get("NUMPY_MADVISE_HUGEPAGE") == "0":  # ours, not set since
            del os.environ["NUMPY_MADVISE_HUGEPAGE"]
        _set_madvise_hugepage(previous)


#: Options whose value is a ``LAT,LON`` pair: a southern latitude starts it with a minus.
_COORDINATE_OPTIONS = ("--from", "--to", "--upf")


def _join_coordinates(argv: list[str]) -> list[str]:
    """``--from -33.87,151.21`` as ``--from=-33.87,151.21``: argparse takes a value that
    starts with ``-`` and is not a plain number for an option name ("expected one
    argument"), so every southern latitude was refused."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if (argv[i] in _COORDINATE_OPTIONS and i + 1 < len(argv)
                and re.match(r"-\.?\d", argv[i + 1])):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _err(text: str) -> None:
    """Print ``text`` on stderr, its control characters shown as ``\\xNN``
    (:func:`coverage.wording.printable`)."""
    from .wording import printable

    print(printable(text), file=sys.stderr)


def _out(args: argparse.Namespace, text: str) -> None:
    """Print ``text`` on stdout, flushed. A reader that closed stdout early (``| head -1``)
    is not an error: stdout goes to the null device and the command carries on (its
    warnings on stderr and exit code unchanged); it used to end in an "internal error"
    ``BrokenPipeError``, or a message at exit, after the plan was written.

    A stdout that cannot be written (a full disk, ``> /dev/full``, an I/O error) is said
    once on stderr, and ``args.stdout_lost`` makes :func:`main` exit 5 (an output failed)
    where it would exit 0; the files already written are kept (it was exit 1, "internal
    error")."""
    from .wording import printable

    try:
        print(printable(text), flush=True)
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError):
            if not getattr(args, "stdout_lost", None):
                _err(f"edge-coverage: cannot write to standard output: "
                     f"{exc.strerror or exc}. The lines it would show are lost (the command "
                     "goes on; its files and exit code say the rest). Fix: free space, or "
                     "send the output elsewhere")
            args.stdout_lost = exc.strerror or str(exc)
        _null_onto(sys.stdout.fileno())


def _null_onto(fd: int) -> None:
    """Put the null device on descriptor ``fd`` (its writes then go nowhere)."""
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:  # a closed fd is the lowest free one: open may have given it already
        os.dup2(null, fd)
        os.close(null)


def _standard_streams() -> None:
    """Put the null device on a closed standard descriptor (``>&-``, ``2>&-``): the user
    asked for none of that stream's text; the run goes on without it. Python had set
    ``sys.stdout`` (or ``sys.stderr``) to ``None`` and the run ended in an internal error
    (exit 1, a tester's find); worse, the first file opened would have taken descriptor 1
    or 2, and the HiGHS banner, or a message, gone into it."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            _null_onto(fd)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``edge-coverage``; returns the exit code."""
    from . import __version__
    from .errors import CoverageError

    _standard_streams()
    parser = build_parser()
    args = parser.parse_args(_join_coordinates(
        sys.argv[1:] if argv is None else list(argv)))
    if args.version:
        _out(args, __version__)
        return 5 if getattr(args, "stdout_lost", None) else 0
    if args.command is None:
        parser.print_help()
        return 2
    received = _Received()
    args.received = received  # (the output directory asks it before its swap)
    previous_sigterm, previous_sigint = _terminate_cleanly(received)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrintableFormatter("%(message)s"))
    root = logging.getLogger("coverage")
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    # a plan not proven (its scenario list cut) is said by the exit message, not twice
    proof = logging.getLogger(PROOF_LOGGER)
    previous_proof = proof.level
    proof.setLevel(logging.ERROR)
    # an optional output not written is said once, at the end (_warn_skipped)
    skipped_log = logging.getLogger(SKIPPED_LOGGER)
    previous_skipped = skipped_log.level
    skipped_log.setLevel(logging.ERROR)
    try:
        run = {"report": _run_report, "batch": _run_batch, "calibrate": _run_calibrate,
               "latency": _run_latency}.get(args.command, _run_plan)  # plan, compare
        with warnings.catch_warnings(), _small_pages():
            # library warnings as one line each, never with Python source lines
            warnings.showwarning = _show_warning
            code = run(args)
        if code == 0:  # a stop whose exception was swallowed (see _Received)
            received.raise_if_any()
        if code == 0 and getattr(args, "stdout_lost", None):
            from .errors import EXIT_OUTPUTS_SKIPPED

            return EXIT_OUTPUTS_SKIPPED
        return code
    except CoverageError as exc:
        if args.verbose:
            logger.exception("error")
        _err(f"edge-coverage: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated)
        od = getattr(args, "output_dir", None)
        after = (f" after the outputs were written: {od.path} is complete"
                 if od is not None and od.committed else "")
        _err(f"edge-coverage: {'terminated' if terminated else 'interrupted'}{after}")
        return 143 if terminated else 130
    except Exception as exc:  # noqa: BLE001 - last-resort message without traceback
        if args.verbose:
            raise
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
            # a path given on the command line that no file system takes (a name over 255
            # bytes, a path over 4,096): one message, as for any bad input
            _err(f"edge-coverage: error: {exc.filename!s:.300}: {exc.strerror} (a name "
                 "in a path may have at most 255 bytes, the path 4,096). Fix: give a "
                 "shorter path")
            return 2
        _err(f"edge-coverage: internal error: {type(exc).__name__}: {exc} "
             "(re-run with --verbose for the traceback, and please report it)")
        return 1
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)  # main() may run inside a larger program
        proof.setLevel(previous_proof)
        skipped_log.setLevel(previous_skipped)
        if previous_sigterm is not None:  # main() may run inside a larger program
            import signal

            signal.signal(signal.SIGTERM, previous_sigterm)
        if previous_sigint is not None:
            import signal

            signal.signal(signal.SIGINT, previous_sigint)
