"""Write a plan's outputs, and rebuild the report from a plan directory.

Outputs: summary.json, sites.csv/.geojson, assignment.csv, failures.csv, proposed_sites.csv,
rollout.csv, map.html, sweep.csv and report.html (:mod:`coverage.outputs.report`), plan.gpkg,
demand.parquet and sites.parquet (:mod:`coverage.outputs.gis`).

The whole directory is written next to the target and swapped in (:mod:`coverage.outputs.outdir`),
so an interrupted run never leaves a mix of two plans, and a directory the tool did not
write is never touched. The map, report and GIS files are optional: one that fails is
skipped with a warning, never the plan. The report is rendered from the staged tables
themselves, through the same reader that :func:`write_report` (``edge-coverage report DIR``)
uses, so both give the same page.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputValidationError

if TYPE_CHECKING:
    from ..planner.plan import Plan
    from .outdir import OutputDir
    from .report import ReportData

logger = logging.getLogger(__name__)

__all__ = ["write_plan", "write_plan_files", "write_report", "load_plan_dir", "PlanOutputs",
           "OUTPUT_FILES", "REPORT_INPUTS", "CAPACITY_REPORT_INPUTS", "COMPARE_FILES",
           "ROLLOUT_REPORT_INPUTS", "write_comparison"]

TABLE_FILES = ("summary.json", "sites.csv", "sites.geojson", "assignment.csv", "failures.csv",
               "proposed_sites.csv", "rollout.csv")
MAP_FILES = ("map.html",)
REPORT_FILES = ("sweep.csv", "report.html")
GIS_FILES = ("plan.gpkg", "demand.parquet", "sites.parquet")
CAPACITY_FILES = ("flows.csv", "capacity_scenarios.csv", "candidates_excluded.csv")
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
                     "failures_tolerated", "population_total")
_TEXT_COLUMNS = ("site_id", "demand_id", "primary_site_id", "backup_site_id", "n1_site_id",
                 "failed_site_id", "proposed_site_id", "name", "tier", "access",
                 "coverage_status", "status", "method", "source", "failed_site_ids",
                 "worst_site_id", "worst_failure", "bound_method")
_FIX = ("write a complete plan directory with `edge-coverage plan ... --out DIR` (without "
        "--no-report), then run `edge-coverage report DIR`")


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


def _clean(o: Any) -> Any:
    """NaN/inf are not JSON: write them as null."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float | np.floating) and not math.isfinite(float(o)):
        return None
    return o


def json_text(doc: Any) -> str:
    """``doc`` as indented JSON text: numpy values as numbers, NaN and inf as null."""
    return json.dumps(_clean(doc), indent=2, default=_json_default) + "\n"


def summary_json(plan: Plan) -> str:
    """The plan's summary as JSON text (NaN written as null)."""
    return json_text(plan.summary())


def sites_geojson(plan: Plan) -> str:
    """Chosen sites as a GeoJSON FeatureCollection (EPSG:4326)."""
    s = plan.sites
    props = s.drop(columns=["lat", "lon"])
    records = json.loads(props.to_json(orient="records"))
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


def write_plan_files(plan: Plan, directory: str | Path, *, map: bool = True,
                     tiles: str | None = "osm", report: bool = True, gis: bool = True,
                     assignment_format: str = "csv",
                     sweep_options: Mapping[str, Any] | None = None,
                     gpkg: bool | None = None) -> PlanOutputs:
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

    Returns
    -------
    PlanOutputs
    """
    from ..errors import OutputWriteError
    from .gis import write_csv
    from .outdir import write_error_message

    _check_format(assignment_format, report, tiles)
    d = Path(directory)
    written: list[str] = []
    skipped: dict[str, str] = {}

    def core(name: str, write: Callable[[Path], Any]) -> None:
        try:
            write(d / name)
        except OSError as exc:
            raise OutputWriteError(write_error_message(d / name, exc)) from exc
        written.append(name)

    def optional(names: tuple[str, ...], write: Callable[[], Any]) -> None:
        try:
            write()
            written.extend(n for n in names if (d / n).exists())
        except Exception as exc:  # noqa: BLE001 - an optional output never loses the plan
            reason = f"{type(exc).__name__}: {exc}".strip()
            for n in names:
                for p in (d / n, *(d / (n + s) for s in ("-wal", "-shm", "-journal"))):
                    p.unlink(missing_ok=True)
                skipped[n] = reason
            logger.warning("skipped %s: %s (the plan and the other outputs are written)",
                           " and ".join(names), reason)
            logger.debug("traceback of the skipped output", exc_info=True)

    core("summary.json", lambda p: p.write_text(summary_json(plan), encoding="utf-8"))
    core("sites.csv", lambda p: write_csv(plan.sites, p))
    core("sites.geojson", lambda p: p.write_text(sites_geojson(plan), encoding="utf-8"))
    if assignment_format == "csv":
        core("assignment.csv", lambda p: write_csv(plan.assignment, p))
    else:
        core("assignment.parquet", lambda p: plan.assignment.to_parquet(p, index=False))
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
    if map:
        def write_map() -> None:
            from .maps import plan_map, render_map_html

            html = render_map_html(plan_map(plan, tiles=tiles))
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
        def write_report_files() -> None:
            from .outdir import write_atomic
            from .report import draft_report, render_report

            nonlocal plan
            files = {n: d / n for n in REPORT_INPUTS + _OPTIONAL_REPORT_INPUTS}
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
            data = _load_report_data(files, str(d), known=known)
            (d / "report.html").write_text(render_report(data, draft), encoding="utf-8")

        optional(("sweep.csv", "report.html"), write_report_files)
    for name in written:
        try:
            os.chmod(d / name, 0o644)
        except OSError:
            pass
    return PlanOutputs(path=d, written=tuple(written), skipped=skipped)


def write_plan(plan: Plan, out_dir: str | Path | OutputDir, *, map: bool = True,
               tiles: str | None = "osm", report: bool = True, gis: bool = True,
               assignment_format: str = "csv",
               sweep_options: Mapping[str, Any] | None = None,
               gpkg: bool | None = None) -> PlanOutputs:
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

    Returns
    -------
    PlanOutputs
        The directory, the files written and the optional outputs skipped (with reasons).

    Raises
    ------
    InputValidationError
        ``out_dir`` is not the tool's to write, or another run is writing it.
    OutputWriteError
        A table could not be written (permission, full disk): nothing was swapped in.
    """
    _check_format(assignment_format, report, tiles)
    return _swap_in(out_dir, lambda staging: write_plan_files(
        plan, staging, map=map, tiles=tiles, report=report, gis=gis,
        assignment_format=assignment_format, sweep_options=sweep_options, gpkg=gpkg))


def _swap_in(out_dir: str | Path | OutputDir,
             fill: Callable[[Path], PlanOutputs]) -> PlanOutputs:
    """Lock ``out_dir`` (unless the caller holds it), ``fill`` a fresh staging directory,
    and swap it in whole with the skipped outputs in its marker."""
    from .outdir import OutputDir

    own = not isinstance(out_dir, OutputDir)
    od = OutputDir(out_dir, "plan") if own else out_dir
    if own:
        od.acquire()
    try:
        result = fill(od.start())
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

    def fill(staging: Path) -> PlanOutputs:
        written: list[str] = []
        for name, write in (
                ("compare.json", lambda p: p.write_text(json_text(comparison.document),
                                                        encoding="utf-8")),
                ("compare_sites.csv", lambda p: write_csv(comparison.sites, p)),
                ("region_coverage.csv", lambda p: write_csv(comparison.region_coverage, p))):
            try:
                write(staging / name)
            except OSError as exc:
                raise OutputWriteError(write_error_message(staging / name, exc)) from exc
            written.append(name)
        if comparison.plan is None:
            return PlanOutputs(path=staging, written=tuple(written))
        result = write_plan_files(comparison.plan, staging, map=map, tiles=tiles,
                                  report=report, gis=gis, sweep_options=sweep_options,
                                  gpkg=gpkg)
        return PlanOutputs(path=staging, written=(*written, *result.written),
                           skipped=result.skipped)

    return _swap_in(out_dir, fill)


# --------------------------------------------------------------------------- reading back


_REPORT_ASSIGNMENT_OPTIONAL = ("n1_site_id", "budget_ms", "name", "lat", "lon")
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
    first_line = 2  # the file's line of the chunk's first row (line 1 is the header)
    with pd.read_csv(path, usecols=usecols, dtype=text, keep_default_na=False,
                     na_values=[""], low_memory=False, chunksize=READ_CHUNK_ROWS) as reader:
        for chunk in reader:
            for c in numeric:
                if not pd.api.types.is_numeric_dtype(chunk[c]):
                    as_number = pd.to_numeric(chunk[c], errors="coerce")
                    bad = (chunk[c].notna() & as_number.isna()).to_numpy()
                    if bad.any():
                        lines = first_line + np.flatnonzero(bad)
                        shown = ", ".join(str(n) for n in lines[:5]) + (
                            ", ..." if len(lines) > 5 else "")
                        raise ValueError(f"column {c} is not a number on row(s) {shown} "
                                         "(the header is row 1)")
                    chunk[c] = as_number
                chunk[c] = chunk[c].astype(np.float64)  # whole numbers too, as Arrow reads
            for c in cat:
                chunk[c] = chunk[c].astype("category")
            parts.append(chunk)
            first_line += len(chunk)
    if len(parts) > 1:
        from pandas.api.types import union_categoricals

        for c in cat:  # one set of categories (sorted, as one chunk's), so that the
            # chunks concatenate as categories
            categories = union_categoricals([q[c] for q in parts],
                                            sort_categories=True).categories
            for q in parts:
                q[c] = pd.Categorical(q[c], categories=categories)
    return pd.concat(parts, ignore_index=True)


def _read_csv(path: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
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
                problems.append(f"{name} lacks column(s) {', '.join(missing)}")
                return None
            return _read_assignment(path, header)
        df = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS}, keep_default_na=False,
                         na_values=[""], low_memory=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        problems.append(f"{name} cannot be read as CSV ({type(exc).__name__}: {exc})")
        return None
    missing = [c for c in _REQUIRED_COLUMNS.get(name, ()) if c not in df.columns]
    if missing:
        problems.append(f"{name} lacks column(s) {', '.join(missing)}")
        return None
    return df


#: Keys of summary.json that hold an object (dict) when present.
_SUMMARY_OBJECTS = ("coverage_by_k", "population_safe_by_failures", "reductions", "solver",
                    "failure_check", "proposed", "placement", "rollout", "timings_s",
                    "latency_model", "tiers", "workload", "routing", "parameters", "inputs",
                    "capacity", "aggregation", "sweep")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _summary_problems(s: Mapping[str, Any]) -> list[str]:
    """What in a summary.json the report cannot use: numbers that are not numbers, objects
    that are not objects, a budget, percentile, count or population out of its range."""
    bad: list[str] = []
    for key, v in s.items():
        numeric = (key in ("site_count", "lower_bound", "mip_gap", "failures_tolerated",
                           "objective_value", "n_demand", "max_sites")
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
        elif numeric and v is not None and not _is_number(v):
            bad.append(f"{key} is not a number ({v!r:.40})")
    budget, pct = s.get("budget_ms"), s.get("percentile")
    if _is_number(budget) and not (0 < budget < float("inf")):
        bad.append(f"budget_ms {budget!r} is not a positive number of ms")
    if pct not in ("p50", "p99"):
        bad.append(f"percentile {pct!r} is neither p50 nor p99")
    for key in ("site_count", "failures_tolerated", "n_demand"):
        v = s.get(key)
        if _is_number(v) and not (v >= 0 and float(v).is_integer()):
            bad.append(f"{key} {v!r} is not a whole number >= 0")
    total = s.get("population_total")
    if _is_number(total) and not total >= 0:
        bad.append(f"population_total {total!r} is negative")
    if not isinstance(s.get("status"), str):
        bad.append("status is not a text")
    return ["summary.json: " + b for b in bad]


def _assignment_problems(a: pd.DataFrame, summary: Mapping[str, Any] | None,
                         sites: pd.DataFrame | None) -> list[str]:
    """What in assignment.csv contradicts the plan: fewer or more rows than the summary's
    demand points (a cut file), an unknown status, a population below 0 or not finite, an
    infinite latency, a site that sites.csv does not list."""
    from ..resilience.status import COVERAGE_STATUSES

    bad: list[str] = []
    n = summary.get("n_demand") if summary is not None else None
    if _is_number(n) and len(a) != int(n):
        bad.append(f"assignment.csv has {len(a):,} rows, summary.json's n_demand is "
                   f"{int(n):,} (a cut or edited file)")
    status = a["coverage_status"]
    odd = ~status.isin(COVERAGE_STATUSES) & status.notna()
    if odd.any():
        bad.append("assignment.csv: coverage_status " + ", ".join(
            repr(str(v)) for v in pd.unique(status[odd])[:5])
            + f" not one of {', '.join(COVERAGE_STATUSES)} ({_rows(odd)})")
    pop = a["population"].to_numpy(dtype=np.float64)
    neg = ~np.isfinite(pop) | (pop < 0)
    if neg.any():
        bad.append(f"assignment.csv: population below 0 or not finite ({_rows(neg)})")
    for col in ("primary_latency_ms", "backup_latency_ms", "primary_p50_ms",
                "n1_latency_ms"):
        if col in a.columns:
            v = a[col].to_numpy(dtype=np.float64)
            inf = np.isinf(v) | (v < 0)
            if inf.any():
                bad.append(f"assignment.csv: {col} infinite or below 0 ({_rows(inf)})")
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


#: Columns of sweep.csv the report plots or prints as numbers (empty: not solved).
_SWEEP_NUMBERS = ("budget_ms", "failures", "site_count", "lower_bound", "mip_gap", "radius_km",
                  "population_short", "population_uncoverable", "solve_s")


def _sweep_problems(sweep: pd.DataFrame) -> list[str]:
    """Cells of sweep.csv that should be numbers and are not (empty is allowed but for the
    budget and the failures), one line per column with its first rows."""
    bad: list[str] = []
    for col in _SWEEP_NUMBERS:
        values = pd.to_numeric(sweep[col], errors="coerce").to_numpy(dtype=np.float64)
        wrong = (np.isnan(values) & sweep[col].notna().to_numpy()) | np.isinf(values)
        if col in ("budget_ms", "failures"):
            wrong |= np.isnan(values)
        if wrong.any():
            bad.append(f"sweep.csv: {col} not a number ({_rows(wrong)})")
    return bad


def _rows(mask: Any) -> str:
    """1-based data rows of a mask, the first few."""
    from ..inputs.validation import format_rows

    return format_rows(np.flatnonzero(np.asarray(mask, dtype=bool)) + 1)


def _load_report_data(files: Mapping[str, Path], where: str, *, without_sweep: bool = False,
                      known: Mapping[str, pd.DataFrame] | None = None) -> ReportData:
    """Read and check the report's input files (name -> path); one error lists every problem.

    ``without_sweep``: ``sweep.csv`` is neither needed nor read (the data's sweep is empty;
    for :func:`~coverage.outputs.report.draft_report`). ``known``: tables read earlier from
    these same files (name -> table), taken instead of reading them again; every check
    still runs."""
    from .report import ReportData

    problems: list[str] = []
    known = known or {}

    def table(name: str) -> pd.DataFrame | None:
        return known[name] if name in known else _read_csv(Path(files[name]), name, problems)

    needed = [n for n in REPORT_INPUTS if not (without_sweep and n == "sweep.csv")]
    missing = [n for n in needed if n not in files or not Path(files[n]).is_file()]
    if missing:
        note = (" (sweep.csv and report.html are not written with --no-report)"
                if "sweep.csv" in missing else "")
        problems.append(f"missing {', '.join(missing)}{note}")
    summary: dict[str, Any] | None = None
    if "summary.json" not in missing:
        try:
            loaded = json.loads(Path(files["summary.json"]).read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("not a JSON object")
            absent = [k for k in _REQUIRED_SUMMARY if k not in loaded]
            if absent:
                problems.append(f"summary.json lacks {', '.join(absent)}")
            else:
                found = _summary_problems(loaded)
                problems.extend(found)
                summary = None if found else loaded
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"summary.json is not valid JSON ({exc})")
    tables = {n: table(n) for n in needed if n.endswith(".csv") and n not in missing}
    if tables.get("sweep.csv") is not None:
        problems.extend(_sweep_problems(tables["sweep.csv"]))
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
            compare = loaded
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
    if problems or summary is None or any(t is None for t in tables.values()):
        raise InputValidationError(
            f"plan directory {where} is incomplete or damaged: " + "; ".join(problems)
            + f". Fix: {_FIX}")
    return ReportData(summary=summary, sites=tables["sites.csv"],
                      assignment=tables["assignment.csv"], failures=tables["failures.csv"],
                      proposed=tables["proposed_sites.csv"],
                      sweep=tables.get("sweep.csv",
                                       pd.DataFrame(columns=list(_REQUIRED_COLUMNS["sweep.csv"]))),
                      capacity_scenarios=scenarios, rollout=rollout, compare=compare)


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
    d = Path(plan_dir)
    if not d.is_dir():
        what = "is a file, not a directory" if d.exists() else "does not exist"
        raise InputValidationError(
            f"plan directory {d} {what}: give the --out directory of an `edge-coverage plan` "
            "run")
    return _load_report_data(
        {n: d / n for n in REPORT_INPUTS + _OPTIONAL_REPORT_INPUTS},
        str(d))


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
    from ..errors import OutputWriteError
    from .outdir import MARKER, OutputDir, read_marker, write_error_message
    from .report import render_report

    d = Path(plan_dir)
    load_plan_dir(d)  # a missing or damaged directory gets its own message first
    with OutputDir(d, "plan", option="plan directory", must_exist=True) as od:
        page = render_report(load_plan_dir(od.path))  # the tables as they are under the lock
        prev = read_marker(od.path) or {}
        extra = {k: v for k, v in prev.items()
                 if k not in ("tool", "kind", "version", "written_at", "files", "dirs")}
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
            raise OutputWriteError(write_error_message(staging / "report.html", exc)) from exc
        path = od.commit(extra)
    logger.info("wrote %s", path / "report.html")
    return path / "report.html"
