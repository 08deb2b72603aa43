"""Write a plan's outputs, and rebuild the report from a plan directory.

Outputs: summary.json, sites.csv/.geojson, assignment.csv, failures.csv, proposed_sites.csv,
rollout.csv, the capacity tables (flows.csv, capacity_scenarios.csv,
candidates_excluded.csv, domain_failures.csv), map.html, sweep.csv and report.html
(:mod:`coverage.outputs.report`), plan.gpkg, demand.parquet and sites.parquet
(:mod:`coverage.outputs.gis`).

The whole directory is written next to the target and swapped in (:mod:`coverage.outputs.outdir`),
so an interrupted run never leaves a mix of two plans, and a directory the tool did not
write is never touched. The map, report and GIS files are optional: one that fails is
skipped with a warning, never the plan. The report is rendered from the staged tables
themselves, through the same reader that :func:`write_report` (``edge-coverage report DIR``)
uses, so both give the same page.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import SKIPPED_LOGGER, InputValidationError
from ..inputs.validation import plain_values, typed_value

if TYPE_CHECKING:
    from ..planner.plan import Plan
    from .outdir import OutputDir
    from .report import ReportData

logger = logging.getLogger(__name__)

__all__ = ["write_plan", "write_plan_files", "write_report", "load_plan_dir", "PlanOutputs",
           "OUTPUT_FILES", "REPORT_INPUTS", "CAPACITY_REPORT_INPUTS", "COMPARE_FILES",
           "ROLLOUT_REPORT_INPUTS", "write_comparison", "unsaved_sites"]

TABLE_FILES = ("summary.json", "sites.csv", "sites.geojson", "assignment.csv", "failures.csv",
               "proposed_sites.csv", "rollout.csv")
MAP_FILES = ("map.html",)
REPORT_FILES = ("sweep.csv", "report.html")
GIS_FILES = ("plan.gpkg", "demand.parquet", "sites.parquet")
CAPACITY_FILES = ("flows.csv", "capacity_scenarios.csv", "candidates_excluded.csv",
                  "domain_failures.csv")
OUTPUT_FILES = (TABLE_FILES + ("assignment.parquet",) + MAP_FILES + REPORT_FILES + GIS_FILES
                + CAPACITY_FILES)
"""Every file a plan directory can hold (``map.html``, the report and GIS files optional)."""

REPORT_INPUTS = ("summary.json", "sites.csv", "assignment.csv", "failures.csv",
                 "proposed_sites.csv", "sweep.csv")
"""The files ``report.html`` is built from."""

CAPACITY_REPORT_INPUTS = ("capacity_scenarios.csv",)
"""The files ``report.html`` is also built from when the plan is capacitated
(``summary.json["capacity"]`` is not null)."""

GPKG_MAX_ROWS = 250_000
"""Above this many demand points ``plan.gpkg`` is written only on request (``--gpkg``): on
the 1M-cell US grid (hand measurement) it is 480 MB and takes 11 s to write; the
GeoParquet layers hold the same features (2 s)."""

COMPARE_FILES = ("compare.json", "compare_sites.csv", "region_coverage.csv")
"""What ``edge-coverage compare`` adds to a plan directory; the report's "Edge or region"
section is built from ``compare.json`` when it is present."""

ROLLOUT_REPORT_INPUTS = ("rollout.csv",)
"""The rollout order, drawn by ``report.html`` when ``summary.json["rollout"]`` describes
one (``steps`` above 0); directories written before it existed have neither."""

_OPTIONAL_REPORT_INPUTS = CAPACITY_REPORT_INPUTS + ROLLOUT_REPORT_INPUTS + COMPARE_FILES[:1]

_CAPACITY_SITE_COLUMNS = ("capacity_rps", "load_rps", "utilisation", "worst_utilisation",
                          "worst_failure")

_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites.csv": ("site_id", "lat", "lon", "name", "population_primary", "n_demand_primary",
                  "population_backup"),
    "assignment.csv": ("demand_id", "population", "primary_site_id", "primary_latency_ms",
                       "backup_site_id", "n_covering_sites", "coverage_status",
                       "primary_p50_ms", "n1_latency_ms"),
    "failures.csv": ("failed_site_id", "population_rerouted", "population_outside_budget",
                     "worst_latency_ms", "mean_rerouted_latency_ms", "meets_budget"),
    "proposed_sites.csv": ("proposed_site_id", "lat", "lon", "n_demand_gained",
                           "population_gained"),
    "sweep.csv": ("budget_ms", "failures", "status", "site_count", "lower_bound", "mip_gap",
                  "radius_km", "population_short", "population_uncoverable", "method",
                  "solve_s", "source"),
    "capacity_scenarios.csv": ("failed_site_ids", "load_rps", "served_rps", "shed_rps",
                               "feasible", "worst_utilisation", "worst_site_id"),
    "rollout.csv": ("step", "site_id", "population_covered", "population_n1_safe", "bound"),
}
_REQUIRED_SUMMARY = ("site_count", "lower_bound", "status", "budget_ms", "percentile",
                     "failures_tolerated", "population_total", "n_demand")
_TEXT_COLUMNS = ("site_id", "demand_id", "primary_site_id", "backup_site_id", "n1_site_id",
                 "failed_site_id", "proposed_site_id", "name", "tier", "access",
                 "coverage_status", "status", "method", "source", "failed_site_ids",
                 "worst_site_id", "worst_failure", "bound_method")
_FIX = ("write a complete plan directory with `edge-coverage plan ... --out DIR` (without "
        "--no-report), then run `edge-coverage report DIR`")
_FIX_EDITED = ("put the files back as `edge-coverage plan` wrote them (the report reads no "
               "edited or cut table), or write the plan again with `edge-coverage plan ... "
               "--out DIR`; then run `edge-coverage report DIR`")


def unsaved_sites(plan: Any) -> str:
    """The chosen sites of a plan whose tables could not be written (a full disk), as
    CSV lines (``site_id,lat,lon``) under a line that says so: the one copy left."""
    sites = plan.sites
    cols = [c for c in ("site_id", "lat", "lon") if c in sites.columns]
    body = sites[cols].to_csv(index=False, lineterminator="\n").rstrip("\n")
    return (f"the plan's {len(sites):,} chosen sites, not saved with the outputs (CSV, "
            f"as sites.csv's first columns):\n{body}")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def json_text(doc: Any) -> str:
    """``doc`` as indented JSON text: numpy values as numbers, NaN and inf as null."""
    return json.dumps(plain_values(doc, json=True), indent=2,
                      default=_json_default) + "\n"


def summary_json(plan: Plan) -> str:
    """The plan's summary as JSON text (NaN written as null)."""
    return json_text(plan.summary())


def sites_geojson(plan: Plan) -> str:
    """Chosen sites as a GeoJSON FeatureCollection (EPSG:4326)."""
    s = plan.sites
    props = s.drop(columns=["lat", "lon"])
    records = json.loads(props.to_json(orient="records", date_format="iso"))
    features = [
        {"type": "Feature",
         "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
         "properties": rec}
        for rec, lat, lon in zip(records, s["lat"], s["lon"], strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, default=_json_default)


@dataclass
class PlanOutputs:
    """What :func:`write_plan` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The plan directory.
    written : tuple of str
        Files written.
    skipped : dict of str to str
        Optional outputs that failed (file name -> reason); the rest was written.
    """

    path: Path
    written: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)


def _check_format(assignment_format: str, report: bool, tiles: Any = None) -> None:
    """The writing options, checked before anything is written (an option the map alone
    reads would otherwise only skip the map)."""
    from ..errors import InputValidationError

    problems = []
    if assignment_format not in ("csv", "parquet"):
        problems.append(f"assignment_format must be 'csv' or 'parquet'; got "
                        f"{assignment_format!r}")
    elif assignment_format == "parquet" and report:
        problems.append("report=True needs assignment.csv: use assignment_format='csv' or "
                        "report=False")
    if not (tiles is None or (isinstance(tiles, str) and tiles.strip().lower() in (
            "osm", "openstreetmap", "none"))):
        problems.append(f"tiles must be 'osm' or None; got {tiles!r}")
    if problems:
        raise InputValidationError("; ".join(problems))


def as_text_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its categorical columns as text (the others shared, not copied).

    The assignment's site ids are categoricals in memory (:func:`~coverage.planner.stages.
    assign_and_fail`); written to Parquet as such their index type follows the site count
    (int8 up to 127 sites, int16 above), and a batch's files of different plans could not
    be read as one dataset (a reviewer's find). As text, every file has the same schema
    as before.
    """
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    return df.astype({c: "str" for c in cats}) if cats else df


#: Free bytes under which a failed optional output is said to have met a full disk.
_LOW_SPACE_BYTES = 1 << 20


#: The longest reason a skipped output's warning and marker carry (tester 193: a
#: GeoPackage's SQLite error held 5.8 kB of SQL).
SKIPPED_REASON_CHARS = 400


def _short(text: str, limit: int = SKIPPED_REASON_CHARS) -> str:
    """``text`` cut to ``limit`` characters in the middle (its start and its end kept).

    Examples
    --------
    >>> _short("a" * 10 + "b" * 10, 12)
    'aaaaaaaa [... 8 characters left out ...] bbbb'
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    cut = len(text) - head - tail
    return f"{text[:head]} [... {cut} characters left out ...] {text[-tail:]}"


@contextlib.contextmanager
def _file_size_limit_watched(over: list[bool]) -> Iterator[None]:
    """Set ``over[0]`` when a write of this thread in the block went over the file size
    limit (``ulimit -f``). The kernel signals such a write with SIGXFSZ, which Python
    ignores; blocked meanwhile, it stays pending (a blocked signal is never discarded as
    ignored) and is taken here. SQLite rolls a failed GeoPackage back to a file under the
    limit, so the file sizes alone do not show it (tester 193). A no-op where the platform
    has no such signal, or no limit is set."""
    import resource
    import signal

    if (not hasattr(signal, "SIGXFSZ") or not hasattr(signal, "pthread_sigmask")
            or resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY):
        yield
        return
    xfsz = signal.SIGXFSZ
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {xfsz})
    try:
        yield
    finally:
        try:
            over[0] = signal.sigtimedwait([xfsz], 0) is not None
        finally:
            if xfsz not in before:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {xfsz})


def _space_note(directory: Path, exc: BaseException, *, over_limit: bool = False) -> str:
    """What a failed write's own message may not say (tester 179: a GeoPackage on a full
    disk read "DataSourceError: Failed to commit transaction"): the disk holding
    ``directory`` is (nearly) full, or a file size limit (``ulimit -f``) is set and a file
    reached it (``over_limit``: a write went over it, :func:`_file_size_limit_watched`);
    empty when neither, or when the exception already says so."""
    text = str(exc)
    if isinstance(exc, ImportError | PermissionError) or (isinstance(exc, OSError) and (
            exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES,
                          errno.EPERM, errno.EROFS))):
        return ""  # (not a write that ran out of room, or it says so itself)
    try:
        st = os.statvfs(directory)
        if st.f_bavail * st.f_frsize < _LOW_SPACE_BYTES and "space" not in text:
            return " (the disk holding it is full: free space and run again)"
    except OSError:
        pass
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return ""
    # only when a file written here has reached the limit (review 158: any failure got
    # the note whenever a limit was set)
    try:
        full = over_limit or any(e.is_file(follow_symlinks=False) and e.stat().st_size >= soft
                                 for e in os.scandir(directory))
    except OSError:
        full = False
    return (f" (a file size limit of {soft:,} bytes is set, ulimit -f, and a file reached "
            "it)" if full else "")


def write_plan_files(plan: Plan, directory: str | Path, *, map: bool = True,
                     tiles: str | None = "osm", report: bool = True, gis: bool = True,
                     assignment_format: str = "csv",
                     sweep_options: Mapping[str, Any] | None = None,
                     gpkg: bool | None = None,
                     shown_as: str | Path | None = None,
                     priced: pd.DataFrame | None = None) -> PlanOutputs:
    """Write the outputs of ``plan`` into an existing directory (no swap, no lock).

    The building block of :func:`write_plan` and of batch scenarios, which write into a
    staging directory of their own and swap it in. The tables (``summary.json``,
    ``sites.csv`` / ``.geojson``, ``assignment``, ``failures.csv``, ``proposed_sites.csv``)
    are the plan: a failure to write one raises :class:`~coverage.errors.OutputWriteError`.
    The map, the report (with ``sweep.csv`` and the budget sweep it needs) and the GIS files
    are optional: one that fails is removed, logged as a warning naming the file and the
    reason, and listed in ``skipped``; the rest is written.

    Parameters
    ----------
    plan : Plan
        The plan to write (``plan.sweep`` is used for the report when present).
    directory : str or pathlib.Path
        An existing directory.
    map, tiles, report, gis, assignment_format, sweep_options
        As in :func:`write_plan`.
    shown_as : str or pathlib.Path, optional
        The directory a skipped output's reason names instead of ``directory``: the
        target when ``directory`` is its staging directory (gone once swapped in).
    priced : pandas.DataFrame, optional
        A comparison's priced sites: the map colours the sites by their utilisation
        (:func:`coverage.outputs.maps.plan_map`).

    Returns
    -------
    PlanOutputs
    """
    from ..errors import OutputWriteError
    from .gis import write_csv
    from .outdir import file_mode, write_error_message

    _check_format(assignment_format, report, tiles)
    d = Path(directory)
    written: list[str] = []
    skipped: dict[str, str] = {}

    def core(name: str, write: Callable[[Path], Any]) -> None:
        try:
            write(d / name)
        except OSError as exc:
            raise OutputWriteError(write_error_message(
                d / name, exc, None if shown_as is None else Path(shown_as) / name)) from exc
        written.append(name)

    def optional(names: tuple[str, ...], write: Callable[[], Any]) -> None:
        over_limit = [False]
        try:
            with _file_size_limit_watched(over_limit):
                write()
            written.extend(n for n in names if (d / n).exists())
        except Exception as exc:  # noqa: BLE001 - an optional output never loses the plan
            reason = _short(f"{type(exc).__name__}: {exc}".strip()) + _space_note(
                d, exc, over_limit=over_limit[0])
            if shown_as is not None:
                reason = reason.replace(str(d), str(shown_as))
            for n in names:
                for p in (d / n, *(d / (n + s) for s in ("-wal", "-shm", "-journal"))):
                    try:
                        p.unlink(missing_ok=True)
                    except OSError as gone:  # (not removable: the plan is still written;
                        # tester 193: a directory at map.html's name lost the whole plan)
                        logger.warning("could not remove the partial %s (%s)", p.name,
                                       gone.strerror or gone)
                skipped[n] = reason
            logging.getLogger(SKIPPED_LOGGER).warning(
                "skipped %s: %s (the plan and the other outputs are written)",
                " and ".join(names), reason)
            logger.debug("traceback of the skipped output", exc_info=True)

    core("summary.json", lambda p: p.write_text(summary_json(plan), encoding="utf-8"))
    core("sites.csv", lambda p: write_csv(plan.sites, p))
    core("sites.geojson", lambda p: p.write_text(sites_geojson(plan), encoding="utf-8"))
    if assignment_format == "csv":
        core("assignment.csv", lambda p: write_csv(plan.assignment, p))
    else:
        core("assignment.parquet", lambda p: as_text_columns(plan.assignment).to_parquet(
            p, index=False))
    core("failures.csv", lambda p: write_csv(plan.failures, p))
    core("proposed_sites.csv", lambda p: write_csv(plan.proposed, p))
    rollout = getattr(plan, "rollout", None)
    if rollout is not None:
        core("rollout.csv", lambda p: write_csv(rollout, p))
    excluded = getattr(plan, "excluded", None)
    if excluded is not None and len(excluded):
        core("candidates_excluded.csv", lambda p: write_csv(excluded, p))
    if getattr(plan, "flows", None) is not None:
        core("flows.csv", lambda p: write_csv(plan.flows, p))
        core("capacity_scenarios.csv", lambda p: write_csv(plan.capacity_scenarios, p))
    domain_failures = getattr(plan, "domain_failures", None)
    if domain_failures is not None:
        core("domain_failures.csv", lambda p: write_csv(domain_failures, p))
    if map:
        def write_map() -> None:
            from .maps import plan_map, render_map_html

            html = render_map_html(plan_map(plan, tiles=tiles, priced=priced))
            (d / "map.html").write_text(html, encoding="utf-8")

        optional(("map.html",), write_map)
    if gis:
        from .gis import plan_layers, write_geoparquet, write_gpkg, write_points_geoparquet

        layers: dict[str, Any] = {}
        with_gpkg = (len(plan.assignment) <= GPKG_MAX_ROWS) if gpkg is None else bool(gpkg)

        def build_layers() -> None:
            # without the GeoPackage only the sites layer is built here: demand.parquet is
            # written chunk by chunk from the assignment table (bounded memory)
            layers.update(plan_layers(plan.sites, plan.assignment, plan.proposed,
                                      **({} if with_gpkg else {"layers": ("sites",)})))

        optional(("plan.gpkg", "demand.parquet", "sites.parquet") if with_gpkg
                 else ("demand.parquet", "sites.parquet"), build_layers)
        if not with_gpkg:
            logger.info("plan.gpkg left out (%s demand points: GeoParquet only; ask for it "
                        "with gpkg=True / --gpkg)", f"{len(plan.assignment):,}")
        if layers and with_gpkg:
            optional(("plan.gpkg",), lambda: write_gpkg(layers, d / "plan.gpkg"))
        if layers:
            if "demand" in layers:
                optional(("demand.parquet",),
                         lambda: write_geoparquet(layers["demand"], d / "demand.parquet"))
            else:
                optional(("demand.parquet",),
                         lambda: write_points_geoparquet(plan.assignment,
                                                         d / "demand.parquet"))
            optional(("sites.parquet",),
                     lambda: write_geoparquet(layers["sites"], d / "sites.parquet"))
    if report:
        files = {n: d / n for n in REPORT_INPUTS + _OPTIONAL_REPORT_INPUTS}
        drawn: dict[str, Any] = {}

        def write_sweep_file() -> None:
            from .outdir import write_atomic
            from .report import draft_report

            nonlocal plan
            draft, known = None, None
            if plan.sweep is None and plan.pending_sweep is not None:
                # the sweep runs beside the other outputs: every other section is drawn
                # while it ends (on a 1M-cell plan the report's 7 s came after the sweep)
                try:
                    early = _load_report_data(files, str(d), without_sweep=True)
                    draft = draft_report(early)
                    known = {n: t for n, t in (
                        ("sites.csv", early.sites), ("assignment.csv", early.assignment),
                        ("failures.csv", early.failures),
                        ("proposed_sites.csv", early.proposed),
                        ("rollout.csv", early.rollout),
                        ("capacity_scenarios.csv", early.capacity_scenarios)) if t is not None}
                except Exception:  # noqa: BLE001 - drawn again below, where errors count
                    logger.debug("report drawn after the sweep", exc_info=True)
                    draft, known = None, None
                plan = plan.finish_sweep()
                # summary.json gets the sweep's figures (where it ran, its time, an error)
                write_atomic(d / "summary.json", summary_json(plan))
            failed = (plan.info.get("sweep") or {}).get("error")
            if plan.sweep is None and failed:  # not run again: it may fail the same way
                raise RuntimeError(f"the budget sweep failed: {failed}")
            sweep = (plan.sweep if plan.sweep is not None
                     else plan.with_sweep(**(sweep_options or {})).sweep)
            write_csv(sweep if sweep is not None else pd.DataFrame(), d / "sweep.csv")
            drawn.update(draft=draft, known=known)

        def write_report_file() -> None:
            from .report import render_report

            data = _load_report_data(files, str(d), known=drawn.get("known"))
            (d / "report.html").write_text(render_report(data, drawn.get("draft")),
                                           encoding="utf-8")

        # a sweep that fails skips the report too (one message for both); a report that
        # fails keeps the sweep (tester 179: a report.html too large for the disk took
        # the computed sweep.csv with it)
        optional(("sweep.csv", "report.html"), write_sweep_file)
        if "sweep.csv" not in skipped:
            optional(("report.html",), write_report_file)
    mode = file_mode()  # as open() makes a file: whatever a writer (Arrow, SQLite) used
    for name in written:
        try:
            os.chmod(d / name, mode)
        except OSError:
            pass
    return PlanOutputs(path=d, written=tuple(written), skipped=skipped)


def write_plan(plan: Plan, out_dir: str | Path | OutputDir, *, map: bool = True,
               tiles: str | None = "osm", report: bool = True, gis: bool = True,
               assignment_format: str = "csv",
               sweep_options: Mapping[str, Any] | None = None,
               gpkg: bool | None = None, caller: str = "write_plan") -> PlanOutputs:
    """Write all outputs of ``plan`` into ``out_dir``, replacing it as a whole.

    ``out_dir`` must be absent, empty, or a plan directory this tool wrote
    (:mod:`coverage.outputs.outdir`): anything else is refused before a file is written. The new
    directory is written next to it, fsync'ed and swapped in, so a reader sees the old
    complete plan or the new complete plan; a second concurrent writer is refused.

    Parameters
    ----------
    plan : Plan
        The plan to write.
    out_dir : str, pathlib.Path or coverage.outputs.outdir.OutputDir
        Output directory (or one already checked and locked by the caller).
    map : bool, default True
        Also write ``map.html``.
    tiles : str or None, default "osm"
        Tile layer of the map (``None`` for an offline plain background).
    report : bool, default True
        Also write ``sweep.csv`` and ``report.html``; the budget sweep is computed
        (:meth:`Plan.with_sweep` with ``sweep_options``) when ``plan.sweep`` is ``None``; a
        sweep that fails skips the report like any optional output.
    gis : bool, default True
        Also write ``demand.parquet`` and ``sites.parquet`` (GeoParquet), and ``plan.gpkg``
        (see ``gpkg``).
    gpkg : bool or None, default None
        Write ``plan.gpkg`` (with ``gis``); ``None``: only up to :data:`GPKG_MAX_ROWS`
        demand points (a national GeoPackage is slow to write and read: GeoParquet only).
    assignment_format : {"csv", "parquet"}, default "csv"
        ``"parquet"`` writes the per-demand table as ``assignment.parquet`` instead of
        ``assignment.csv`` (same columns, typed; far faster to write for a national grid).
        Not with ``report=True``, which reads ``assignment.csv``.
    sweep_options : mapping, optional
        Keyword arguments of :meth:`Plan.with_sweep` (budgets, time limit, progress).
    caller : str, default "write_plan"
        The name the messages give the caller (:meth:`Plan.to_dir` gives its own), so an
        error names the function the user called.

    Returns
    -------
    PlanOutputs
        The directory, the files written and the optional outputs skipped (with reasons).

    Raises
    ------
    InputValidationError
        ``plan`` is not a :class:`~coverage.planner.plan.Plan`, ``out_dir`` not a path or
        not the tool's to write, or another run is writing it.
    OutputWriteError
        A table could not be written (permission, full disk): nothing was swapped in.
    """
    # the class from the loaded module, not an import (plan.py imports this module): a
    # Plan exists only once coverage.planner.plan is loaded (review 124: its parts alone
    # let a look-alike through to an AttributeError)
    plan_class = getattr(sys.modules.get("coverage.planner.plan"), "Plan", None)
    if plan_class is None or not isinstance(plan, plan_class):
        raise InputValidationError(
            f"{caller} needs a Plan (from plan_sites) as its first argument; got "
            f"{typed_value(plan)}. Fix: call {caller}(plan_sites(demand, sites), out_dir)")
    _check_format(assignment_format, report, tiles)
    return _swap_in(out_dir, lambda staging, target: write_plan_files(
        plan, staging, map=map, tiles=tiles, report=report, gis=gis,
        assignment_format=assignment_format, sweep_options=sweep_options, gpkg=gpkg,
        shown_as=target), option=caller)


def _swap_in(out_dir: str | Path | OutputDir,
             fill: Callable[[Path, Path], PlanOutputs], *, option: str) -> PlanOutputs:
    """Lock ``out_dir`` (unless the caller holds it; its messages name ``option``), ``fill``
    a fresh staging directory (``fill(staging, target)``), and swap it in whole with the
    skipped outputs in its marker."""
    from .outdir import OutputDir

    own = not isinstance(out_dir, OutputDir)
    if own and not isinstance(out_dir, str | os.PathLike):
        raise InputValidationError(
            f"{option} needs a directory path; got {typed_value(out_dir)}. Fix: give "
            f"{option} a directory path (a str or pathlib.Path), e.g. 'plan'")
    # the API's messages name the method, not the command line's --out
    od = OutputDir(out_dir, "plan", option=option) if own else out_dir
    if own:
        od.acquire()
    try:
        result = fill(od.start(), od.path)
        path = od.commit({"skipped": result.skipped} if result.skipped else None)
    finally:
        if own:
            od.release()
    logger.info("wrote %s", path)
    return PlanOutputs(path=path, written=result.written, skipped=result.skipped)


def write_comparison(comparison: Any, out_dir: str | Path | OutputDir, *, map: bool = True,
                     tiles: str | None = "osm", report: bool = True, gis: bool = True,
                     sweep_options: Mapping[str, Any] | None = None,
                     gpkg: bool | None = None) -> PlanOutputs:
    """Write a comparison (:func:`coverage.compare`) into ``out_dir``, replacing it whole.

    The directory is the edge plan's (every file :func:`write_plan` writes) plus
    :data:`COMPARE_FILES`; ``report.html`` then has the "Edge or region" section. Without
    an edge plan (no candidate can host the workload) only :data:`COMPARE_FILES` are
    written. The rules of :func:`write_plan` apply: the comparison files and the plan's
    tables are the product (a failure to write one raises and nothing is swapped in); the
    map, report and GIS files are optional.

    Returns
    -------
    PlanOutputs
    """
    from ..errors import OutputWriteError
    from .gis import write_csv
    from .outdir import write_error_message

    _check_format("csv", report, tiles)

    def fill(staging: Path, target: Path) -> PlanOutputs:
        written: list[str] = []
        for name, write in (
                ("compare.json", lambda p: p.write_text(json_text(comparison.document),
                                                        encoding="utf-8")),
                ("compare_sites.csv", lambda p: write_csv(comparison.sites, p)),
                ("region_coverage.csv", lambda p: write_csv(comparison.region_coverage, p))):
            try:
                write(staging / name)
            except OSError as exc:
                raise OutputWriteError(write_error_message(staging / name, exc,
                                                           target / name)) from exc
            written.append(name)
        if comparison.plan is None:
            return PlanOutputs(path=staging, written=tuple(written))
        result = write_plan_files(comparison.plan, staging, map=map, tiles=tiles,
                                  report=report, gis=gis, sweep_options=sweep_options,
                                  gpkg=gpkg, shown_as=target, priced=comparison.sites)
        return PlanOutputs(path=staging, written=(*written, *result.written),
                           skipped=result.skipped)

    return _swap_in(out_dir, fill, option="Comparison.to_dir")


# --------------------------------------------------------------------------- reading back


_REPORT_ASSIGNMENT_OPTIONAL = ("n1_site_id", "budget_ms", "name", "lat", "lon",
                               "n_domains_in_budget", "domain_nk_latency_ms")
"""Columns of ``assignment.csv`` the report uses when present (beside the required ones);
the others (the latency terms, ``access``, ...) are not read back."""

_CATEGORY_COLUMNS = ("primary_site_id", "backup_site_id", "n1_site_id", "coverage_status")
"""Columns of ``assignment.csv`` with few distinct values among many rows: read back as
categories (a code per row instead of a string)."""

READ_CHUNK_ROWS = 500_000
"""``assignment.csv`` is read back this many rows at a time: the parser's working memory is
a chunk's, not the whole table's (2M rows: 568 MiB peak instead of 1,618; hand measurement)."""


def _read_assignment(path: Path, header: pd.Index) -> pd.DataFrame:
    """``assignment.csv`` with the report's columns only, ids as categories.

    Read by Arrow's multithreaded CSV reader (:func:`_read_assignment_arrow`); a file it
    cannot read as expected (a number column with text in it, ragged rows, ...) is read
    again by pandas chunk by chunk (:func:`_read_assignment_pandas`), whose errors name the
    rows. Both give the same table.
    """
    wanted = set(_REQUIRED_COLUMNS["assignment.csv"]) | set(_REPORT_ASSIGNMENT_OPTIONAL)
    usecols = [c for c in header if c in wanted]
    import pyarrow as pa

    try:
        return _read_assignment_arrow(path, usecols)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        logger.debug("%s: not read by Arrow (%s); reading it with pandas", path.name, exc)
    return _read_assignment_pandas(path, usecols)


ARROW_BLOCK_BYTES = 1 << 20
"""Bytes of ``assignment.csv`` one Arrow thread parses at a time
(:func:`_read_assignment_arrow`; 1 MiB read a 1M-row file in 0.9 s, 16 MiB in 1.3 s, hand
measurement)."""


def _read_assignment_arrow(path: Path, usecols: list[str]) -> pd.DataFrame:
    """The report's columns of ``assignment.csv`` by Arrow: numbers as float64, text as
    ``str``, ids as categories in sorted order; an empty field is missing. Raises an Arrow
    error on anything else, the text ``nan`` in a number column included (Arrow reads it
    as a number, pandas' reader refuses it and names the row)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    text = [c for c in usecols if c in _TEXT_COLUMNS]
    cat = [c for c in _CATEGORY_COLUMNS if c in usecols]
    types = {c: (pa.dictionary(pa.int32(), pa.string()) if c in cat else pa.string())
             for c in text}
    types.update({c: pa.float64() for c in usecols if c not in types})
    convert = pacsv.ConvertOptions(include_columns=usecols, column_types=types,
                                   null_values=[""], strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=ARROW_BLOCK_BYTES),
                           convert_options=convert).unify_dictionaries()
    for c in usecols:
        if types[c] == pa.float64() and pc.any(pc.is_nan(table.column(c))).as_py():
            raise pa.ArrowInvalid(f"column {c} holds the text nan")  # pandas refuses it
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    text_dtype = pd.Series([], dtype=str).dtype  # what pandas reads text as (str, object)
    for c in text:
        s = df[c]
        if c in cat:
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("category")
            df[c] = s.cat.set_categories(pd.Index(sorted(s.cat.categories), dtype=text_dtype))
        elif s.dtype != text_dtype:
            df[c] = s.astype(text_dtype)
        if text_dtype == np.dtype(object):  # missing as pandas reads it: NaN, not None
            df[c] = df[c].where(df[c].notna(), np.nan)
    return df


def _read_assignment_pandas(path: Path, usecols: list[str]) -> pd.DataFrame:
    """The report's columns of ``assignment.csv`` by pandas, chunk by chunk; a number column
    with text in it raises a ValueError naming the rows."""
    text = {c: str for c in _TEXT_COLUMNS if c in usecols}
    cat = [c for c in _CATEGORY_COLUMNS if c in usecols]
    numeric = [c for c in usecols if c not in text]
    parts = []
    first_row = 1  # the chunk's first data row, counted from 1 (the README's rows)
    with pd.read_csv(path, usecols=usecols, dtype=text, keep_default_na=False,
                     na_values=[""], low_memory=False, chunksize=READ_CHUNK_ROWS) as reader:
        for chunk in reader:
            for c in numeric:
                if not pd.api.types.is_numeric_dtype(chunk[c]):
                    as_number = pd.to_numeric(chunk[c], errors="coerce")
                    bad = (chunk[c].notna() & as_number.isna()).to_numpy()
                    if bad.any():
                        rows = first_row + np.flatnonzero(bad)
                        shown = ", ".join(str(n) for n in rows[:5]) + (
                            ", ..." if len(rows) > 5 else "")
                        # (data rows, as every other message: tester 143 found "row 6
                        # (the header is row 1)" here beside "row 5" for the same row)
                        raise ValueError(f"column {c} is not a number on row(s) {shown} "
                                         "(counted from the first data row)")
                    chunk[c] = as_number
                chunk[c] = chunk[c].astype(np.float64)  # whole numbers too, as Arrow reads
            for c in cat:
                chunk[c] = chunk[c].astype("category")
            parts.append(chunk)
            first_row += len(chunk)
    if len(parts) > 1:
        from pandas.api.types import union_categoricals

        for c in cat:  # one set of categories (sorted, as one chunk's), so that the
            # chunks concatenate as categories
            categories = union_categoricals([q[c] for q in parts],
                                            sort_categories=True).categories
            for q in parts:
                q[c] = pd.Categorical(q[c], categories=categories)
    return pd.concat(parts, ignore_index=True)


def _other_separator(head: bytes) -> str | None:
    """``"';'"`` or ``"tabs"`` when a table's header line is separated by those rather
    than commas (a file re-saved by a spreadsheet in a locale with a decimal comma)."""
    first = head.split(b"\n", 1)[0]
    other = max((b";", b"\t"), key=first.count)
    if first.count(other) > first.count(b","):
        return "';'" if other == b";" else "tabs"
    return None


def _lacks(name: str, missing: list[str], head: bytes) -> str:
    """The problem of a table without its required columns, naming a spreadsheet's
    separator when it is not a comma."""
    sep = _other_separator(head)
    if sep is not None:
        return (f"{name} is separated by {sep}, not commas (re-saved by a spreadsheet?), "
                f"so its columns {', '.join(missing)} are not found (a table is read "
                "back comma-separated, with '.' decimals)")
    return f"{name} lacks column(s) {', '.join(missing)}"


def _read_csv(path: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
    """A table of the plan directory with the escaping of
    :func:`~coverage.outputs.gis.csv_safe` undone (:func:`~coverage.outputs.gis.
    csv_unescape`), or None with the problem appended to ``problems``."""
    from .gis import csv_unescape

    df = _read_csv_escaped(path, name, problems)
    return None if df is None else csv_unescape(df)


def _read_csv_escaped(path: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
    head = b""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if not head.strip():
            if name == "proposed_sites.csv":  # a plan without gaps may write an empty table
                return pd.DataFrame(columns=list(_REQUIRED_COLUMNS[name]))
            problems.append(f"{name} is empty")
            return None
        if name == "assignment.csv":
            header = pd.read_csv(path, nrows=0).columns
            missing = [c for c in _REQUIRED_COLUMNS[name] if c not in header]
            if missing:
                problems.append(_lacks(name, missing, head))
                return None
            return _read_assignment(path, header)
        df = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS}, keep_default_na=False,
                         na_values=[""], low_memory=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        sep = _other_separator(head)
        problems.append(f"{name} cannot be read as CSV ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())})"
                        + (f"; it is separated by {sep}, not commas (re-saved by a "
                           "spreadsheet?)" if sep else ""))
        return None
    missing = [c for c in _REQUIRED_COLUMNS.get(name, ()) if c not in df.columns]
    if missing:
        problems.append(_lacks(name, missing, head))
        return None
    return df


#: Keys of summary.json that hold an object (dict) when present.
_SUMMARY_OBJECTS = ("coverage_by_k", "population_safe_by_failures",
                    "population_safe_by_domain_failures", "domain_failures", "reductions",
                    "solver",
                    "failure_check", "proposed", "placement", "rollout", "timings_s",
                    "latency_model", "tiers", "workload", "routing", "parameters", "inputs",
                    "capacity", "aggregation", "sweep")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_finite(v: Any) -> bool:
    """``v`` is a finite JSON number (not a bool; an integer too large for a float is not)."""
    if not _is_number(v):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _is_count(v: Any) -> bool:
    """``v`` is a whole JSON number >= 0 (an integer or a float without fraction)."""
    return _is_finite(v) and v >= 0 and float(v).is_integer()


def _number_problem(key: str, v: Any, *, count: bool = False,
                    nonnegative: bool = False) -> str | None:
    """What is wrong with ``v`` as the value of ``key`` (a number or null; ``count``: a
    whole number >= 0 or null; ``nonnegative``: a number >= 0 or null), or ``None``. A
    population (``population`` in the last part of ``key``, not a share) below 0 or above
    :data:`~coverage.inputs.tables.MAX_POPULATION_TOTAL` is wrong too: it is a sum of
    people, and no plan holds that many."""
    from ..inputs.tables import MAX_POPULATION_TOTAL

    if v is None:
        return None
    if not _is_number(v):
        return f"{key} is not a number ({v!r:.40})"
    if not _is_finite(v):
        return f"{key} {v!r:.40} is not a finite number"
    if count and not _is_count(v):
        return f"{key} {v!r:.40} is not a whole number >= 0"
    last = key.rsplit(".", 1)[-1]
    people = "population" in last and "share" not in last
    if (people or nonnegative) and v < 0:
        return f"{key} {v!r:.40} is below 0"
    if people and v > MAX_POPULATION_TOTAL:
        return (f"{key} {v!r:.40} is above {MAX_POPULATION_TOTAL:.0e} people (more than any "
                "plan holds)")
    return None


#: Numbers (or null) in the objects of summary.json the report shows (object -> keys);
#: ``by_service_class`` is a list of such objects.
_SUMMARY_OBJECT_NUMBERS: dict[str, tuple[str, ...]] = {
    "rollout": ("largest_gap_to_bound", "population_covered", "population_n1_safe"),
    "capacity": ("lower_bound", "load_total_rps", "requests_total_rps", "capacity_total_rps",
                 "fleet_utilisation",
                 "worst_utilisation", "load_shed_max_rps", "target_utilisation",
                 "requests_per_person_day", "peak_to_mean"),
    "aggregation": ("h3_res", "cell_km", "demand_points_solved", "demand_points_in",
                    "n_demand_short", "cells_short", "population_short",
                    "population_short_share"),
    "by_service_class": ("population", "budget_ms", "population_within_budget",
                         "population_safe", "population_uncoverable", "mean_latency_ms"),
    "proposed": ("population_gap", "population_still_short", "lower_bound"),
}
#: Whole numbers >= 0 (or null) in those objects.
_SUMMARY_OBJECT_COUNTS: dict[str, tuple[str, ...]] = {
    "rollout": ("steps", "required_steps"),
    "capacity": ("rounds", "cuts", "sites_below_40pct", "scenarios_checked",
                 "scenarios_total"),
    "by_service_class": ("n_demand",),
    "proposed": ("proposed_sites", "gap_points", "gap_points_still_short"),
}
#: Keys of summary.json holding a whole number >= 0 (or null).
_SUMMARY_COUNTS = ("site_count", "failures_tolerated", "n_demand", "n_candidates",
                   "n_pairs_in_reach", "candidates_excluded", "nk_failures", "max_sites")
_COVERAGE_BY_K_KEY = re.compile(r"^(\d+|>=\d+)$")


def _summary_object_problems(s: Mapping[str, Any]) -> list[str]:
    """What in the objects of a summary.json the report reads is not what the planner
    writes: ``coverage_by_k`` (keys ``0``, ``1``, ..., ``>=k+1``, each ``n_demand`` and
    ``population``), the numbers of ``rollout``, ``capacity``, ``aggregation`` and of each
    entry of ``by_service_class``."""
    from ..config import MAX_FAILURES

    bad: list[str] = []
    by_k = s.get("coverage_by_k")
    if isinstance(by_k, dict):
        for key, v in by_k.items():
            where = f"coverage_by_k[{key!r:.20}]"
            if not _COVERAGE_BY_K_KEY.match(str(key)):
                bad.append(f"coverage_by_k has the key {key!r:.20} (keys are 0, 1, ..., "
                           ">=k+1)")
            elif not isinstance(v, dict):
                bad.append(f"{where} is not an object ({v!r:.40})")
            else:
                bad.extend(p for p in (
                    _number_problem(f"{where}.n_demand", v.get("n_demand"), count=True),
                    _number_problem(f"{where}.population", v.get("population"))) if p)
    rollout = s.get("rollout")
    if isinstance(rollout, dict):
        if "failures" in rollout and not (_is_count(rollout["failures"])
                                          and rollout["failures"] <= MAX_FAILURES):
            bad.append(f"rollout.failures is not a whole number from 0 to {MAX_FAILURES} "
                       f"({rollout['failures']!r:.40})")
        for key in ("steps_to_covered", "steps_to_n1_safe", "bound_methods"):
            v = rollout.get(key)
            if v is not None and not isinstance(v, dict):
                bad.append(f"rollout.{key} is not an object ({v!r:.40})")
            elif isinstance(v, dict):
                bad.extend(p for q, x in v.items()
                           if (p := _number_problem(f"rollout.{key}.{q}", x, count=True)))
    classes = s.get("by_service_class")
    if classes is not None and not (isinstance(classes, list)
                                    and all(isinstance(c, dict) for c in classes)):
        bad.append(f"by_service_class is not a list of objects ({classes!r:.40})")
        classes = None
    for name, keys in _SUMMARY_OBJECT_NUMBERS.items():
        objects = ([(f"{name}[{i}]", c) for i, c in enumerate(classes or ())]
                   if name == "by_service_class" else [(name, s.get(name))])
        for where, obj in objects:
            if not isinstance(obj, dict):
                continue
            counts = _SUMMARY_OBJECT_COUNTS.get(name, ())
            bad.extend(p for key in keys + counts if (p := _number_problem(
                f"{where}.{key}", obj.get(key), count=key in counts)))
    return bad


def _summary_problems(s: Mapping[str, Any]) -> list[str]:
    """What in a summary.json the report cannot use: numbers that are not finite numbers,
    objects that are not objects, a budget, percentile, count or population out of its range
    (a budget above :data:`~coverage.config.MAX_BUDGET_MS`, a population above
    :data:`~coverage.inputs.tables.MAX_POPULATION_TOTAL`: no plan has them), an object the
    report reads holding what the planner does not write there."""
    from ..config import MAX_BUDGET_MS, MAX_FAILURES

    bad: list[str] = []
    for key, v in s.items():
        numeric = (key in ("site_count", "lower_bound", "mip_gap", "failures_tolerated",
                           "objective_value", "n_demand", "max_sites", "n_candidates",
                           "n_pairs_in_reach", "kmedian_gap", "kmedian_gap_asked",
                           "upper_bound", "secondary_value", "candidates_excluded")
                   or key.startswith(("population_", "n_demand_", "n1_", "nk_"))
                   or key.endswith(("_ms", "_s", "_km", "_ms_pop")))
        if key in _SUMMARY_OBJECTS:
            if v is not None and not isinstance(v, dict):
                bad.append(f"{key} is not an object ({type(v).__name__})")
        elif key == "nk_worst_set_site_ids":
            if v is not None and not (isinstance(v, list)
                                      and all(isinstance(x, str) for x in v)):
                bad.append(f"{key} is not a list of site ids ({v!r:.40})")
        elif key == "nk_worst_set_status":
            if v is not None and v not in ("optimal", "time_limit"):
                bad.append(f"{key} is not optimal or time_limit ({v!r:.40})")
        elif numeric and (problem := _number_problem(
                key, v, count=key in _SUMMARY_COUNTS or key.startswith("n_demand_"))):
            bad.append(problem)
    budget, pct = s.get("budget_ms"), s.get("percentile")
    if _is_finite(budget) and not 0 < budget <= MAX_BUDGET_MS:
        bad.append(f"budget_ms {budget!r} is not a positive number of ms at most "
                   f"{MAX_BUDGET_MS:g}")
    if "percentile" in s and pct not in ("p50", "p99"):
        bad.append(f"percentile {pct!r} is neither p50 nor p99")
    for key in ("site_count", "budget_ms", "failures_tolerated", "population_total",
                "n_demand"):
        if key in s and s[key] is None:
            bad.append(f"{key} is null (a number is needed)")
    k = s.get("failures_tolerated")
    if _is_count(k) and k > MAX_FAILURES:
        bad.append(f"failures_tolerated {k!r:.40} is above {MAX_FAILURES} (no plan tolerates "
                   "more)")
    if "status" in s and not isinstance(s["status"], str):
        bad.append("status is not a text")
    bad.extend(_summary_object_problems(s))
    return ["summary.json: " + b for b in bad]


def _assignment_problems(a: pd.DataFrame, summary: Mapping[str, Any] | None,
                         sites: pd.DataFrame | None) -> list[str]:
    """What in assignment.csv contradicts the plan: fewer or more rows than the summary's
    demand points (a cut file), an empty demand id, an empty or unknown status (a row cut
    short), a population below 0, not finite or above
    :data:`~coverage.inputs.tables.MAX_POPULATION_PER_POINT`, a count of covering sites
    that is not a whole number >= 0, a latency infinite, below 0 or above
    :data:`MAX_LATENCY_MS`, a budget, latitude or longitude out of its range, a site that
    sites.csv does not list."""
    from ..config import MAX_BUDGET_MS
    from ..inputs.tables import MAX_POPULATION_PER_POINT
    from ..resilience.status import COVERAGE_STATUSES

    bad: list[str] = []
    n = summary.get("n_demand") if summary is not None else None
    bad.extend(_row_count_problem(a, "assignment.csv", "n_demand", n))
    ids = a["demand_id"]
    empty = ids.isna().to_numpy()
    if empty.any():
        bad.append(f"assignment.csv: demand_id empty ({_rows(empty)})")
    status = a["coverage_status"]
    odd = ~status.isin(COVERAGE_STATUSES) & status.notna()
    if odd.any():
        bad.append("assignment.csv: coverage_status " + ", ".join(
            repr(str(v)) for v in pd.unique(status[odd])[:5])
            + f" not one of {', '.join(COVERAGE_STATUSES)} ({_rows(odd)})")
    if status.isna().any():
        bad.append("assignment.csv: coverage_status empty, a row cut short or edited "
                   f"({_rows(status.isna())})")
    pop = a["population"].to_numpy(dtype=np.float64)
    neg = ~np.isfinite(pop) | (pop < 0)
    if neg.any():
        bad.append(f"assignment.csv: population below 0 or not finite ({_rows(neg)})")
    huge = np.isfinite(pop) & (pop > MAX_POPULATION_PER_POINT)
    if huge.any():
        bad.append(f"assignment.csv: population above {MAX_POPULATION_PER_POINT:.0e} people "
                   f"at one point ({_rows(huge)})")
    bad.extend(_column_problems(a, "assignment.csv", "n_covering_sites", low=0.0,
                                whole=True))
    bad.extend(_column_problems(a, "assignment.csv", "budget_ms", empty=True, low=0.0,
                                high=MAX_BUDGET_MS, what="ms"))
    bad.extend(_column_problems(a, "assignment.csv", "lat", empty=True, low=-90.0, high=90.0,
                                what="degrees"))
    bad.extend(_column_problems(a, "assignment.csv", "lon", empty=True, low=-180.0,
                                high=180.0, what="degrees"))
    for col in ("primary_latency_ms", "backup_latency_ms", "primary_p50_ms",
                "n1_latency_ms"):
        if col in a.columns:
            v = a[col].to_numpy(dtype=np.float64)
            inf = np.isinf(v) | (v < 0)
            if inf.any():
                bad.append(f"assignment.csv: {col} infinite or below 0 ({_rows(inf)})")
            huge = np.isfinite(v) & (v > MAX_LATENCY_MS)
            if huge.any():
                bad.append(f"assignment.csv: {col} above {MAX_LATENCY_MS:.0e} ms, no latency "
                           f"of a plan ({_rows(huge)})")
    if sites is not None and "site_id" in sites.columns:
        known = set(sites["site_id"].astype(str))
        for col in ("primary_site_id", "backup_site_id"):
            if col in a.columns:
                ids = a[col]
                # the distinct ids only (the column is categorical on national tables)
                values = pd.Series(ids.dropna().unique(), dtype=object).astype(str)
                stray = values[~values.isin(known)]
                if not len(stray):
                    continue
                unknown = ids.notna() & ids.astype(str).isin(stray)
                if unknown.any():
                    bad.append(f"assignment.csv: {col} not in sites.csv "
                               f"({_rows(unknown)})")
    return bad


MAX_LATENCY_MS = 1e9
"""A latency above this (11.6 days) in a plan directory's tables is refused: the latency
model's parts are bounded far below it (inference 1e7 ms, a tier's extra 1e6 ms, ...), and
the report's plots overflow on numbers near 1e308."""

MAX_UTILISATION = 1e3
"""A site's utilisation (load over capacity) above this is refused: a capacitated plan's
flows keep the load within the capacity (at most 1)."""


def _column_problems(t: pd.DataFrame, name: str, col: str, *, empty: bool = False,
                     low: float | None = None, high: float | None = None,
                     whole: bool = False, what: str = "") -> list[str]:
    """Rows of column ``col`` of table ``name`` that are not a finite number (an empty cell
    too unless ``empty``), and those out of ``[low, high]`` or, with ``whole``, not a whole
    number: at most two lines, each with its first rows. ``what`` names the range in the
    message (e.g. "people")."""
    if col not in t.columns:
        return []
    raw = t[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    missing = raw.isna().to_numpy()
    wrong = ~np.isfinite(values) & ~(missing if empty else np.zeros(len(t), dtype=bool))
    bad: list[str] = []
    if wrong.any():
        bad.append(f"{name}: {col} not a number ({_rows(wrong)})")
    ok = np.isfinite(values)
    out = np.zeros(len(t), dtype=bool)
    if low is not None:
        out |= ok & (values < low)
    if high is not None:
        out |= ok & (values > high)
    if whole:
        out |= ok & (values != np.floor(values))
    if out.any():
        bounds = (f" from {low:g} to {high:g}" if low is not None and high is not None
                  else f" >= {low:g}" if low is not None
                  else f" <= {high:g}" if high is not None else "")
        bad.append(f"{name}: {col} not a {'whole ' if whole else ''}number{bounds}"
                   f"{' ' + what if what else ''} ({_rows(out)})")
    return bad


def _bool_problems(t: pd.DataFrame, name: str, col: str) -> list[str]:
    """Cells of column ``col`` of table ``name`` that are neither true nor false (nor
    empty): the report would print them as "no"."""
    if col not in t.columns:
        return []
    raw = t[col]
    text = raw.astype(str).str.strip().str.lower()
    wrong = raw.notna() & ~text.isin(("true", "false", "1", "0", "1.0", "0.0"))
    return [f"{name}: {col} neither True nor False ({_rows(wrong)})"] if wrong.any() else []


def _id_problems(t: pd.DataFrame, name: str, col: str,
                 known: set[str] | None = None) -> list[str]:
    """Empty and repeated ids in column ``col`` of table ``name`` (each row is one site),
    and, with ``known`` (the ids of sites.csv), ids sites.csv does not list."""
    ids = t[col]
    bad: list[str] = []
    empty = ids.isna() | ids.astype(str).str.strip().eq("")
    if empty.any():
        bad.append(f"{name}: {col} empty ({_rows(empty)})")
    text = ids.astype(str)
    repeated = text.duplicated(keep=False) & ~empty
    if repeated.any():
        bad.append(f"{name}: {col} " + ", ".join(
            repr(v) for v in pd.unique(text[repeated])[:5])
            + f" on more than one row ({_rows(repeated)}): one row per site")
    if known is not None:
        unknown = ~text.isin(known) & ~empty
        if unknown.any():
            bad.append(f"{name}: {col} not in sites.csv ({_rows(unknown)})")
    return bad


def _row_count_problem(t: pd.DataFrame, name: str, key: str, n: Any) -> list[str]:
    """A table whose row count is not summary.json's ``key`` (``n``, skipped when it is not
    a whole number: that is reported on its own)."""
    if not _is_count(n) or len(t) == int(n):
        return []
    return [f"{name} has {len(t):,} rows, summary.json's {key} is {int(n):,} (a cut or edited "
            "file)"]


def _table_problems(tables: Mapping[str, pd.DataFrame | None],
                    summary: Mapping[str, Any] | None) -> list[str]:
    """What in sites.csv, failures.csv, proposed_sites.csv, rollout.csv and
    capacity_scenarios.csv (those in ``tables``) contradicts the plan: a row count other
    than summary.json's (its ``site_count``: one row per chosen site in sites.csv and
    failures.csv; ``rollout.steps``; ``proposed.proposed_sites``), a site id empty,
    repeated or not in sites.csv, a number column holding text, an infinite value or a
    value out of its range (a population above
    :data:`~coverage.inputs.tables.MAX_POPULATION_TOTAL`, coordinates outside degrees)."""
    from ..inputs.tables import MAX_POPULATION_TOTAL

    bad: list[str] = []
    s = summary or {}
    people = {"low": 0.0, "high": MAX_POPULATION_TOTAL, "what": "people"}
    sites = tables.get("sites.csv")
    known: set[str] | None = None
    if sites is not None:
        bad.extend(_id_problems(sites, "sites.csv", "site_id"))
        known = set(sites["site_id"].dropna().astype(str))
        bad.extend(_row_count_problem(sites, "sites.csv", "site_count", s.get("site_count")))
        bad.extend(_column_problems(sites, "sites.csv", "lat", low=-90.0, high=90.0,
                                    what="degrees"))
        bad.extend(_column_problems(sites, "sites.csv", "lon", low=-180.0, high=180.0,
                                    what="degrees"))
        for col in ("population_primary", "population_backup",
                    "population_outside_budget_if_failed", "population_served"):
            bad.extend(_column_problems(sites, "sites.csv", col, **people))
        bad.extend(_column_problems(sites, "sites.csv", "n_demand_primary", low=0.0,
                                    whole=True))
        bad.extend(_column_problems(sites, "sites.csv", "worst_latency_if_failed_ms",
                                    empty=True, low=0.0, high=MAX_LATENCY_MS, what="ms"))
        for col in ("utilisation", "worst_utilisation"):
            bad.extend(_column_problems(sites, "sites.csv", col, empty=True, low=0.0,
                                        high=MAX_UTILISATION))
        for col in ("radius_km", "capacity_rps", "load_rps", "power_kw"):
            bad.extend(_column_problems(sites, "sites.csv", col, empty=True, low=0.0))
        bad.extend(_column_problems(sites, "sites.csv", "n_accelerators", empty=True,
                                    whole=True))
        bad.extend(_bool_problems(sites, "sites.csv", "required"))
    failures = tables.get("failures.csv")
    if failures is not None:
        bad.extend(_id_problems(failures, "failures.csv", "failed_site_id", known))
        bad.extend(_row_count_problem(failures, "failures.csv", "site_count",
                                      s.get("site_count")))
        for col in ("population_rerouted", "population_outside_budget",
                    "population_outside_budget_redundant", "population_served"):
            bad.extend(_column_problems(failures, "failures.csv", col, **people))
        for col in ("load_rerouted_rps", "capacity_shed_rps"):
            bad.extend(_column_problems(failures, "failures.csv", col, empty=True,
                                        low=0.0))
        bad.extend(_column_problems(failures, "failures.csv", "capacity_worst_utilisation",
                                    empty=True, low=0.0, high=MAX_UTILISATION))
        for col in ("worst_latency_ms", "mean_rerouted_latency_ms"):
            bad.extend(_column_problems(failures, "failures.csv", col, empty=True, low=0.0,
                                        high=MAX_LATENCY_MS, what="ms"))
        bad.extend(_column_problems(failures, "failures.csv", "n_demand_rerouted", low=0.0,
                                    whole=True))
        bad.extend(_bool_problems(failures, "failures.csv", "meets_budget"))
    proposed = tables.get("proposed_sites.csv")
    if proposed is not None:
        info = s.get("proposed")
        if isinstance(info, dict):
            bad.extend(_row_count_problem(proposed, "proposed_sites.csv",
                                          "proposed.proposed_sites",
                                          info.get("proposed_sites")))
        bad.extend(_column_problems(proposed, "proposed_sites.csv", "lat", low=-90.0,
                                    high=90.0, what="degrees"))
        bad.extend(_column_problems(proposed, "proposed_sites.csv", "lon", low=-180.0,
                                    high=180.0, what="degrees"))
        bad.extend(_column_problems(proposed, "proposed_sites.csv", "population_gained",
                                    **people))
        bad.extend(_column_problems(proposed, "proposed_sites.csv", "n_demand_gained",
                                    low=0.0, whole=True))
    rollout = tables.get("rollout.csv")
    if rollout is not None:
        bad.extend(_id_problems(rollout, "rollout.csv", "site_id", known))
        info = s.get("rollout")
        if isinstance(info, dict):
            bad.extend(_row_count_problem(rollout, "rollout.csv", "rollout.steps",
                                          info.get("steps")))
        bad.extend(_column_problems(rollout, "rollout.csv", "step", low=1.0,
                                    high=float(max(len(rollout), 1)), whole=True))
        for col in ("population_covered", "population_n1_safe"):
            bad.extend(_column_problems(rollout, "rollout.csv", col, **people))
        for col in ("bound", "population_nk_safe"):
            bad.extend(_column_problems(rollout, "rollout.csv", col, empty=True, **people))
        bad.extend(_bool_problems(rollout, "rollout.csv", "required"))
    scenarios = tables.get("capacity_scenarios.csv")
    if scenarios is not None:
        for col in ("load_rps", "served_rps", "shed_rps"):
            bad.extend(_column_problems(scenarios, "capacity_scenarios.csv", col, empty=True,
                                        low=0.0))
        bad.extend(_column_problems(scenarios, "capacity_scenarios.csv", "worst_utilisation",
                                    empty=True, low=0.0, high=MAX_UTILISATION))
        bad.extend(_bool_problems(scenarios, "capacity_scenarios.csv", "feasible"))
    return bad


#: compare.json: objects the report reads (required ones first), the numbers (or null) in
#: them, and the lists of objects with their numbers.
_COMPARE_REQUIRED_OBJECTS = ("edge", "region", "breakeven", "verdict", "region.coverage",
                             "region.utilisation", "region.cost_usd_per_year")
_COMPARE_OBJECTS = ("edge.coverage", "edge.utilisation", "edge.sizing",
                    "edge.cost_usd_per_year", "assumptions", "cost_model")
_COMPARE_NUMBERS: dict[str, tuple[str, ...]] = {
    "edge": ("sites", "cost_per_million_requests", "cost_per_user_month"),
    "edge.coverage": ("share_within_budget", "share_n1_safe"),
    "edge.utilisation": ("fleet_mean",),
    "edge.sizing": ("accelerators", "accelerators_envelope"),
    "region": ("regions", "cost_per_million_requests", "cost_per_user_month"),
    "region.coverage": ("share_within_budget", "share_within_budget_n1"),
    "region.utilisation": ("utilisation", "accelerators_mean"),
    "breakeven": ("utilisation", "fleet_utilisation", "capacity_rps", "fixed_usd_per_year",
                  "energy_at_full_use_usd_per_year"),
}
_COMPARE_LISTS: dict[str, tuple[str, ...]] = {
    "region_coverage": ("budget_ms", "share_within_budget", "share_within_budget_n1",
                        "mean_latency_ms", "median_distance_km"),
    "region_coverage_by_service_class": ("budget_ms", "share_within_budget",
                                         "share_within_budget_n1"),
    "decision": (),
    "warnings": (),
}


def _compare_problems(doc: Any) -> list[str]:
    """What in a compare.json the report's "Edge or region" section cannot use: an object
    that is missing or not an object, a number that is not a finite number (or null), the
    verdict without its text, a list that is not a list of objects, a warning without its
    code and message. Each line names the key (``region.coverage.share_within_budget``)."""
    if not isinstance(doc, dict):
        return [f"compare.json is not a JSON object ({type(doc).__name__})"]
    bad: list[str] = []

    def get(path: str) -> Any:
        v: Any = doc
        for part in path.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        return v

    for path in _COMPARE_REQUIRED_OBJECTS + _COMPARE_OBJECTS:
        v = get(path)
        parent = get(path.rpartition(".")[0]) if "." in path else doc
        if not isinstance(parent, dict):
            continue  # reported for the parent
        if v is None and path in _COMPARE_REQUIRED_OBJECTS:
            bad.append(f"{path} is missing")
        elif v is not None and not isinstance(v, dict):
            bad.append(f"{path} is not an object ({v!r:.40})")
    for path, keys in _COMPARE_NUMBERS.items():
        obj = get(path)
        if isinstance(obj, dict):
            bad.extend(p for key in keys if (p := _number_problem(
                f"{path}.{key}", obj.get(key), nonnegative=True)))
    for path in ("edge.cost_usd_per_year", "region.cost_usd_per_year"):
        obj = get(path)
        if isinstance(obj, dict):
            bad.extend(p for key, v in obj.items() if (p := _number_problem(
                f"{path}.{key}", v, nonnegative=True)))
    verdict = get("verdict")
    if isinstance(verdict, dict) and not isinstance(verdict.get("text"), str):
        bad.append(f"verdict.text is not a text ({verdict.get('text')!r:.40})")
    for name, keys in _COMPARE_LISTS.items():
        items = doc.get(name)
        if items is None:
            continue
        if not (isinstance(items, list) and all(isinstance(x, dict) for x in items)):
            bad.append(f"{name} is not a list of objects ({items!r:.40})")
            continue
        for i, item in enumerate(items):
            bad.extend(p for key in keys if (p := _number_problem(
                f"{name}[{i}].{key}", item.get(key), nonnegative=True)))
            if name == "warnings" and not all(k in item for k in ("code", "message")):
                bad.append(f"warnings[{i}] lacks its code or message")
    return ["compare.json: " + b for b in bad]


#: Columns of sweep.csv the report plots or prints as numbers (empty: not solved).
_SWEEP_NUMBERS = ("budget_ms", "failures", "site_count", "lower_bound", "mip_gap", "radius_km",
                  "population_short", "population_uncoverable", "solve_s")


def _sweep_problems(sweep: pd.DataFrame, summary: Mapping[str, Any] | None = None,
                    ) -> list[str]:
    """Cells of sweep.csv that should be numbers and are not (empty is allowed but for the
    budget and the failures), one line per column with its first rows; and numbers no sweep
    writes: a budget outside (0, :data:`~coverage.config.MAX_BUDGET_MS`], failures not a
    whole number up to :data:`~coverage.config.MAX_FAILURES`, a site count not a whole
    number or above the summary's ``n_candidates``, a population below 0 or above
    :data:`~coverage.inputs.tables.MAX_POPULATION_TOTAL`."""
    from ..config import MAX_BUDGET_MS, MAX_FAILURES
    from ..inputs.tables import MAX_POPULATION_TOTAL

    n_candidates = (summary or {}).get("n_candidates")
    ranges: dict[str, dict[str, Any]] = {
        "budget_ms": {"low": 0.0, "high": MAX_BUDGET_MS},
        "failures": {"low": 0.0, "high": float(MAX_FAILURES), "whole": True},
        "site_count": {"low": 0.0, "whole": True,
                       "high": float(n_candidates) if _is_count(n_candidates) else None},
        "population_short": {"low": 0.0, "high": MAX_POPULATION_TOTAL, "what": "people"},
        "population_uncoverable": {"low": 0.0, "high": MAX_POPULATION_TOTAL, "what": "people"},
    }
    bad: list[str] = []
    for col in _SWEEP_NUMBERS:
        bad.extend(_column_problems(sweep, "sweep.csv", col,
                                    empty=col not in ("budget_ms", "failures"),
                                    **ranges.get(col, {})))
    return bad


def _rows(mask: Any) -> str:
    """1-based data rows of a mask, the first few."""
    from ..inputs.validation import format_rows

    return format_rows(np.flatnonzero(np.asarray(mask, dtype=bool)) + 1)


def _load_report_data(files: Mapping[str, Path], where: str, *, without_sweep: bool = False,
                      known: Mapping[str, pd.DataFrame] | None = None,
                      skipped: Mapping[str, Any] | None = None) -> ReportData:
    """Read and check the report's input files (name -> path); one error lists every problem.

    ``without_sweep``: ``sweep.csv`` is neither needed nor read (the data's sweep is empty;
    for :func:`~coverage.outputs.report.draft_report`). ``known``: tables read earlier from
    these same files (name -> table), taken instead of reading them again; every check
    still runs. ``skipped``: the outputs the plan run skipped, with the reasons (its
    marker's record), to say why a file is missing."""
    from .report import ReportData

    problems: list[str] = []
    known = known or {}

    def table(name: str) -> pd.DataFrame | None:
        return known[name] if name in known else _read_csv(Path(files[name]), name, problems)

    needed = [n for n in REPORT_INPUTS if not (without_sweep and n == "sweep.csv")]
    missing = [n for n in needed if n not in files or not Path(files[n]).is_file()]
    # (a FIFO or a directory there is not missing: named as what it is, tester 148)
    odd = [n for n in missing if n in files and os.path.lexists(files[n])]
    for n in odd:
        from ..inputs.tables import file_kind

        problems.append(f"{n} is {file_kind(Path(files[n]))}, not a regular file")
    not_there = [n for n in missing if n not in odd]  # (missing: both, never read below)
    folder = Path(files["summary.json"]).parent if "summary.json" in files else None
    batch = folder is not None and all((folder / n).is_file()  # a batch scenario's folder
                                       for n in ("done.json", "scenario.json"))
    if not_there:
        why = (skipped or {}).get("sweep.csv")
        note = ("" if "sweep.csv" not in not_there or "summary.json" in not_there
                else " (a batch scenario's folder: a sweep writes its tables only, no "
                "sweep.csv or report; `edge-coverage plan` with the options in its "
                "scenario.json writes a plan directory with them)" if batch
                else f" (the plan run could not write sweep.csv: {str(why)[:300]})" if why
                else " (sweep.csv and report.html are not written with --no-report)")
        problems.append(f"missing {', '.join(not_there)}{note}")
    summary: dict[str, Any] | None = None
    if "summary.json" not in missing:
        try:
            loaded = json.loads(Path(files["summary.json"]).read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                kind = ("a list" if isinstance(loaded, list) else "a string"
                        if isinstance(loaded, str) else "null" if loaded is None
                        else "true or false" if isinstance(loaded, bool) else "a number")
                raise _NotAnObjectError(
                    f"summary.json is JSON but not an object (it holds {kind})")
            absent = [k for k in _REQUIRED_SUMMARY if k not in loaded]
            if absent:
                problems.append(f"summary.json lacks {', '.join(absent)}" + (
                    " (the number of demand points, which assignment.csv's rows are checked "
                    "against)" if "n_demand" in absent else ""))
            found = _summary_problems(loaded)
            problems.extend(found)
            summary = None if absent or found else loaded
        except _NotAnObjectError as exc:
            problems.append(str(exc))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"summary.json is not valid JSON ({exc})")
    tables = {n: table(n) for n in needed if n.endswith(".csv") and n not in missing}
    if tables.get("sweep.csv") is not None:
        problems.extend(_sweep_problems(tables["sweep.csv"], summary))
    if tables.get("assignment.csv") is not None:
        problems.extend(_assignment_problems(tables["assignment.csv"], summary,
                                             tables.get("sites.csv")))
    scenarios = None
    if summary is not None and isinstance(summary.get("capacity"), dict):
        # a capacitated plan: its scenario table, and the capacity columns of sites.csv
        for name in CAPACITY_REPORT_INPUTS:
            if name not in files or not Path(files[name]).is_file():
                problems.append(f"missing {name} (summary.json describes a capacitated plan)")
            else:
                scenarios = table(name)
        site_table = tables.get("sites.csv")
        if site_table is not None:
            lack = [c for c in _CAPACITY_SITE_COLUMNS if c not in site_table.columns]
            if lack:
                problems.append(f"sites.csv lacks the capacity column(s) {', '.join(lack)} "
                                "(summary.json describes a capacitated plan)")
    compare = None
    if "compare.json" in files and Path(files["compare.json"]).is_file():
        try:
            loaded = json.loads(Path(files["compare.json"]).read_text(encoding="utf-8"))
            if not isinstance(loaded, dict) or not all(
                    k in loaded for k in ("edge", "region", "breakeven", "verdict")):
                raise ValueError("not a comparison (edge, region, breakeven, verdict)")
            found = _compare_problems(loaded)
            problems.extend(found)
            compare = None if found else loaded
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"compare.json is not a valid comparison ({exc})")
    rollout = None
    described = summary.get("rollout") if summary is not None else None
    if isinstance(described, dict) and (described.get("steps") or 0) > 0:
        # the plan has a rollout order: its table must be there
        name = ROLLOUT_REPORT_INPUTS[0]
        if name not in files or not Path(files[name]).is_file():
            problems.append(f"missing {name} (summary.json describes a rollout order)")
        else:
            rollout = table(name)
    problems.extend(_table_problems(
        {**tables, "rollout.csv": rollout, "capacity_scenarios.csv": scenarios}, summary))
    if problems or summary is None or any(t is None for t in tables.values()):
        what = ("is not a plan directory written by `edge-coverage plan`"
                if "summary.json" in missing else "is incomplete or damaged")
        fix = _FIX if missing or any(p.startswith("missing ") for p in problems) else _FIX_EDITED
        if missing == ["sweep.csv"] and (skipped or {}).get("sweep.csv"):
            fix = ("remove the cause (e.g. free disk space), write the plan again with "
                   "`edge-coverage plan ... --out DIR`, then run `edge-coverage report DIR`")
        elif batch and "sweep.csv" in missing:
            fix = ("run `edge-coverage plan ... --out DIR` with the scenario's options "
                   "(scenario.json), then `edge-coverage report DIR`")
        raise InputValidationError(
            f"plan directory {where} {what}: " + "; ".join(problems) + f". Fix: {fix}")
    # the GIS files written beside the tables (written before the report, and removed
    # when they fail): the report names these only
    gis_files = (tuple(n for n in GIS_FILES if (folder / n).is_file())
                 if folder is not None else None)
    return ReportData(summary=summary, sites=tables["sites.csv"],
                      assignment=tables["assignment.csv"], failures=tables["failures.csv"],
                      proposed=tables["proposed_sites.csv"],
                      sweep=tables.get("sweep.csv",
                                       pd.DataFrame(columns=list(_REQUIRED_COLUMNS["sweep.csv"]))),
                      capacity_scenarios=scenarios, rollout=rollout, compare=compare,
                      gis_files=gis_files)


class _NotAnObjectError(ValueError):
    """A ``summary.json`` that is JSON but not an object (its own message)."""


def _plan_dir_path(plan_dir: Any) -> Path:
    """``plan_dir`` as a path, ``~`` expanded as :meth:`Plan.to_dir` does (tester 121: a
    report of ``"~/x"`` said "does not exist" after ``to_dir("~/x")`` wrote it)."""
    if not isinstance(plan_dir, str | os.PathLike):
        raise InputValidationError(
            f"plan directory {plan_dir!r:.80} is not a path. Fix: give the directory an "
            "edge-coverage plan run wrote, as a string or pathlib.Path")
    text = os.fsdecode(os.fspath(plan_dir))
    if not text.strip():  # (Path("") is ".": `report ""` rebuilt the current directory's
        # plan, where plan and batch refuse an empty --out; tester 148)
        raise InputValidationError(
            f"plan directory {text!r} is empty or blank. Fix: give the directory an "
            "edge-coverage plan run wrote (its --out)")
    return Path(os.path.expanduser(text))


def load_plan_dir(plan_dir: str | Path) -> ReportData:
    """Read the tables of a plan directory that the report is built from.

    ``assignment.csv`` is read a chunk of rows at a time and keeps the columns the report
    uses (the required ones of :data:`REPORT_INPUTS` and ``n1_site_id``, ``budget_ms``,
    ``name``, ``lat``, ``lon`` when present), the site ids and ``coverage_status`` as
    categories: a national table costs a fraction of its size on disk. Read it with pandas
    for every column.

    Parameters
    ----------
    plan_dir : str or pathlib.Path
        A directory written by ``edge-coverage plan`` or :meth:`Plan.to_dir`.

    Returns
    -------
    coverage.outputs.report.ReportData

    Raises
    ------
    InputValidationError
        The directory does not exist, or a file of :data:`REPORT_INPUTS` is missing or
        damaged (one message lists every problem and the fix).
    """
    d = _plan_dir_path(plan_dir)
    if not d.is_dir():
        what = "is a file, not a directory" if d.exists() else "does not exist"
        raise InputValidationError(
            f"plan directory {d} {what}: give the --out directory of an `edge-coverage plan` "
            "run")
    from .outdir import read_marker

    skipped = (read_marker(d) or {}).get("skipped")
    return _load_report_data(
        {n: d / n for n in REPORT_INPUTS + _OPTIONAL_REPORT_INPUTS},
        str(d), skipped=skipped if isinstance(skipped, dict) else None)


def _report_target_problem(d: Path) -> str | None:
    """Why ``edge-coverage report`` may not rewrite the plan directory ``d`` (whose tables
    were read), in that command's words; ``None`` when it may, or when
    :class:`~coverage.outputs.outdir.OutputDir` says why not (another run writes it, files
    of the user's in a directory the tool wrote).

    The directory is replaced as a whole: not the current directory (nor one holding it),
    and only a directory the tool wrote (its marker file, or a plan directory from before
    the marker). The advice of :func:`~coverage.outputs.outdir.check_output_dir` for an
    output (a new or empty directory) does not fit the input of a report.

    Parameters
    ----------
    d : pathlib.Path
        The plan directory as given.

    Returns
    -------
    str or None
        The message (the directory, what is wrong, the fix), or ``None``.
    """
    from .outdir import MARKER, check_output_dir, read_marker

    real = Path(os.path.realpath(d))
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        return (f"plan directory {d} is the current directory or holds it: `edge-coverage "
                "report` writes a new copy of the plan directory and swaps it in whole, which "
                "it cannot do to the directory it runs in. Fix: run it from outside, e.g. "
                f"`cd {real.parent} && edge-coverage report {real.name}`")
    if read_marker(real) is not None or not check_output_dir(
            real, "plan", option="plan directory", must_exist=True).problems:
        return None
    try:
        entries = set(os.listdir(real))
    except OSError:
        entries = set()
    links = sorted(e for e in entries if os.path.islink(real / e))
    other = sorted(entries - set(OUTPUT_FILES) - set(COMPARE_FILES) - set(links) - {MARKER})

    def shown(names: list[str]) -> str:
        return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")

    held = [f"{shown(other)}, which `edge-coverage plan` does not write"] if other else []
    if links:
        held.append(f"the symbolic link(s) {shown(links)} (the tool writes none)")
    marker = (f"its {MARKER} (the file marking a directory the tool wrote) is not one "
              "the tool wrote (damaged, or edited by hand)" if MARKER in entries
              else f"it has no {MARKER} (the file marking a directory the tool wrote)")
    return (f"plan directory {d} is not a plan directory written by `edge-coverage plan`: "
            f"{marker}"
            + (f", and it holds {' and '.join(held)}" if held else "") + ". `edge-coverage "
            "report` replaces the plan directory as a whole, so it only rewrites one the tool "
            "wrote. Fix: write the plan into a new directory with `edge-coverage plan ... --out "
            "DIR`, then run `edge-coverage report DIR`")


def write_report(plan_dir: str | Path) -> Path:
    """Rebuild ``report.html`` in a plan directory from its tables.

    The directory is replaced as a whole (its other files carried over as hard links), so a
    reader sees the old or the new report with the same tables; a concurrent writer is
    refused.

    Parameters
    ----------
    plan_dir : str or pathlib.Path
        A directory written by ``edge-coverage plan`` or :meth:`Plan.to_dir` (with the
        report, so that ``sweep.csv`` is there).

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    InputValidationError
        See :func:`load_plan_dir`; also when the directory holds files this tool did not
        write, or another run is writing it.
    OutputWriteError
        The report could not be written.
    """
    import dataclasses

    from ..errors import OutputWriteError
    from .outdir import MARKER, OutputDir, edited_entries, read_marker, write_error_message
    from .report import render_report

    d = _plan_dir_path(plan_dir)
    OutputDir(d, "plan", option="plan directory", must_exist=True).repair()  # (review 165)
    load_plan_dir(d)  # a missing or damaged directory gets its own message first
    problem = _report_target_problem(d)
    if problem:
        raise InputValidationError(problem)
    with OutputDir(d, "plan", option="plan directory", must_exist=True) as od:
        prev = read_marker(od.path) or {}
        changed = edited_entries(od.path, prev)
        if "report.html" in changed:  # the new report would replace the user's edits
            raise InputValidationError(
                f"plan directory {d}: report.html changed since edge-coverage wrote it "
                "(edited by hand?); `edge-coverage report` writes a new one in its place, so "
                "the edits would be lost. Fix: move report.html out of the directory (it is "
                "yours to keep), then run again")
        # the tables as they are under the lock; a table the report reads, edited by hand
        # since, is named at the top of the report (its figures are not the computed plan's)
        read = set(REPORT_INPUTS + _OPTIONAL_REPORT_INPUTS + ("assignment.parquet",))
        edited = tuple(n for n in changed if n in read)
        if edited:
            logger.warning("%s: %s changed since edge-coverage wrote them: the report shows "
                           "the edited figures, not checked again, and says so at its top",
                           od.path, ", ".join(edited))
        page = render_report(dataclasses.replace(load_plan_dir(od.path), edited=edited))
        # the marker's own record ("stats") is made again at commit, with the new report
        extra = {k: v for k, v in prev.items()
                 if k not in ("tool", "kind", "version", "written_at", "files", "dirs",
                              "stats")}
        skipped = {k: v for k, v in (extra.get("skipped") or {}).items()
                   if k not in ("report.html", "sweep.csv")}
        extra["skipped"] = skipped
        if not skipped:
            extra.pop("skipped")
        staging = od.start(carry=sorted(n for n in od.files
                                        if n not in (MARKER, "report.html")
                                        and not n.startswith(".")))
        try:
            (staging / "report.html").write_text(page, encoding="utf-8")
        except OSError as exc:
            raise OutputWriteError(write_error_message(staging / "report.html", exc,
                                                       od.path / "report.html")) from exc
        # every edited file keeps its old record (still edited: a later plan refuses)
        path = od.commit(extra, still_edited=changed)
    logger.info("wrote %s", path / "report.html")
    return path / "report.html"
