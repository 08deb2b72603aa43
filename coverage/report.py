"""Write a plan's outputs, and rebuild the report from a plan directory.

Outputs: summary.json, sites.csv/.geojson, assignment.csv, failures.csv, proposed_sites.csv,
map.html, sweep.csv and report.html (:mod:`coverage.report_html`), plan.gpkg,
demand.parquet and sites.parquet (:mod:`coverage.export`).

Every file is written to a temporary name in the output directory and renamed into place
only after all files are complete, so an interrupted run never leaves half-written outputs.
The report is rendered from the staged tables themselves, through the same reader that
:func:`write_report` (``edge-coverage report DIR``) uses, so both give the same page.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputValidationError

if TYPE_CHECKING:
    from .plan import Plan
    from .report_html import ReportData

logger = logging.getLogger(__name__)

__all__ = ["write_plan", "write_report", "load_plan_dir", "OUTPUT_FILES", "REPORT_INPUTS"]

TABLE_FILES = ("summary.json", "sites.csv", "sites.geojson", "assignment.csv", "failures.csv",
               "proposed_sites.csv")
MAP_FILES = ("map.html",)
REPORT_FILES = ("sweep.csv", "report.html")
GIS_FILES = ("plan.gpkg", "demand.parquet", "sites.parquet")
OUTPUT_FILES = TABLE_FILES + ("assignment.parquet",) + MAP_FILES + REPORT_FILES + GIS_FILES
"""Every file a plan directory can hold (``map.html``, the report and GIS files optional)."""

REPORT_INPUTS = ("summary.json", "sites.csv", "assignment.csv", "failures.csv",
                 "proposed_sites.csv", "sweep.csv")
"""The files ``report.html`` is built from."""

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
}
_REQUIRED_SUMMARY = ("site_count", "lower_bound", "status", "budget_ms", "percentile",
                     "failures_tolerated", "population_total")
_TEXT_COLUMNS = ("site_id", "demand_id", "primary_site_id", "backup_site_id", "n1_site_id",
                 "failed_site_id", "proposed_site_id", "name", "tier", "access",
                 "coverage_status", "status", "method", "source")
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


def summary_json(plan: Plan) -> str:
    """The plan's summary as JSON text (NaN written as null)."""
    return json.dumps(_clean(plan.summary()), indent=2, default=_json_default) + "\n"


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


class _Stage:
    """Files written under temporary names in ``out``, renamed into place by :meth:`commit`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.staged: dict[str, Path] = {}

    def add(self, name: str, write: Callable[[Path], Any], *, create: bool = True) -> Path:
        """Write ``name`` through ``write(tmp_path)``; ``create=False`` passes a path that
        does not exist yet (for writers that refuse to open an existing empty file)."""
        suffix = ".tmp" + Path(name).suffix
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=self.out)
        os.close(fd)
        path = Path(tmp)
        self.staged[name] = path
        if not create:
            path.unlink()
        write(path)
        os.chmod(path, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        return path

    def commit(self) -> None:
        for name, tmp in list(self.staged.items()):
            os.replace(tmp, self.out / name)
            del self.staged[name]

    def discard(self) -> None:
        for tmp in self.staged.values():
            for p in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
                p.unlink(missing_ok=True)
        self.staged.clear()


@contextmanager
def _staging(out: Path) -> Iterator[_Stage]:
    stage = _Stage(out)
    try:
        yield stage
        stage.commit()
    finally:
        stage.discard()


def write_plan(plan: Plan, out_dir: str | Path, *, map: bool = True,
               tiles: str | None = "osm", report: bool = True, gis: bool = True,
               assignment_format: str = "csv") -> Path:
    """Write all outputs of ``plan`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    plan : Plan
        The plan to write.
    out_dir : str or pathlib.Path
        Output directory.
    map : bool, default True
        Also write ``map.html``.
    tiles : str or None, default "osm"
        Tile layer of the map (``None`` for an offline plain background).
    report : bool, default True
        Also write ``sweep.csv`` and ``report.html``; the budget sweep is computed
        (:meth:`Plan.with_sweep`) when ``plan.sweep`` is ``None``.
    gis : bool, default True
        Also write ``plan.gpkg``, ``demand.parquet`` and ``sites.parquet``.
    assignment_format : {"csv", "parquet"}, default "csv"
        ``"parquet"`` writes the per-demand table as ``assignment.parquet`` instead of
        ``assignment.csv`` (same columns, typed; far faster to write for a national grid).
        Not with ``report=True``, which reads
        ``assignment.csv``.

    Returns
    -------
    pathlib.Path
        The output directory.

    Notes
    -----
    Outputs of an earlier run in the same directory that this run does not write (e.g.
    ``report.html`` with ``report=False``) are removed once the new files are in place, so
    that no file describes another plan than ``summary.json``.
    """
    if assignment_format not in ("csv", "parquet"):
        raise ValueError(f"assignment_format must be 'csv' or 'parquet'; got {assignment_format!r}")
    if assignment_format == "parquet" and report:
        raise ValueError("report=True needs assignment.csv: use assignment_format='csv'")
    if report and plan.sweep is None:
        plan = plan.with_sweep()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _staging(out) as stage:
        stage.add("summary.json", lambda p: p.write_text(summary_json(plan), encoding="utf-8"))
        stage.add("sites.csv", lambda p: plan.sites.to_csv(p, index=False))
        stage.add("sites.geojson", lambda p: p.write_text(sites_geojson(plan), encoding="utf-8"))
        if assignment_format == "csv":
            stage.add("assignment.csv", lambda p: plan.assignment.to_csv(p, index=False))
        else:
            stage.add("assignment.parquet",
                      lambda p: plan.assignment.to_parquet(p, index=False))
        stage.add("failures.csv", lambda p: plan.failures.to_csv(p, index=False))
        stage.add("proposed_sites.csv", lambda p: plan.proposed.to_csv(p, index=False))
        if map:
            from .maps import plan_map, render_map_html

            html = render_map_html(plan_map(plan, tiles=tiles))
            stage.add("map.html", lambda p: p.write_text(html, encoding="utf-8"))
        if report:
            from .report_html import render_report

            sweep = plan.sweep if plan.sweep is not None else pd.DataFrame()
            stage.add("sweep.csv", lambda p: sweep.to_csv(p, index=False))
            data = _load_report_data(dict(stage.staged), str(out))
            page = render_report(data)
            stage.add("report.html", lambda p: p.write_text(page, encoding="utf-8"))
        if gis:
            from .export import plan_layers, write_geoparquet, write_gpkg

            layers = plan_layers(plan.sites, plan.assignment, plan.proposed)
            stage.add("plan.gpkg", lambda p: write_gpkg(layers, p), create=False)
            stage.add("demand.parquet", lambda p: write_geoparquet(layers["demand"], p))
            stage.add("sites.parquet", lambda p: write_geoparquet(layers["sites"], p))
        written = set(stage.staged)
    for name in OUTPUT_FILES:
        stale = out / name
        if name not in written and stale.is_file():
            stale.unlink()
            logger.info("removed %s: an output of an earlier run, not written by this one",
                        stale)
    logger.info("wrote %s", out)
    return out


# --------------------------------------------------------------------------- reading back


def _read_csv(path: Path, name: str, problems: list[str]) -> pd.DataFrame | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if not head.strip():
            if name == "proposed_sites.csv":  # a plan without gaps may write an empty table
                return pd.DataFrame(columns=list(_REQUIRED_COLUMNS[name]))
            problems.append(f"{name} is empty")
            return None
        df = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS}, keep_default_na=False,
                         na_values=[""], low_memory=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        problems.append(f"{name} cannot be read as CSV ({type(exc).__name__}: {exc})")
        return None
    missing = [c for c in _REQUIRED_COLUMNS.get(name, ()) if c not in df.columns]
    if missing:
        problems.append(f"{name} lacks column(s) {', '.join(missing)}")
        return None
    return df


def _load_report_data(files: Mapping[str, Path], where: str) -> ReportData:
    """Read and check the report's input files (name -> path); one error lists every problem."""
    from .report_html import ReportData

    problems: list[str] = []
    missing = [n for n in REPORT_INPUTS if n not in files or not Path(files[n]).is_file()]
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
                summary = loaded
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"summary.json is not valid JSON ({exc})")
    tables = {n: _read_csv(Path(files[n]), n, problems)
              for n in REPORT_INPUTS if n.endswith(".csv") and n not in missing}
    if problems or summary is None or any(t is None for t in tables.values()):
        raise InputValidationError(
            f"plan directory {where} is incomplete or damaged: " + "; ".join(problems)
            + f". Fix: {_FIX}")
    return ReportData(summary=summary, sites=tables["sites.csv"],
                      assignment=tables["assignment.csv"], failures=tables["failures.csv"],
                      proposed=tables["proposed_sites.csv"], sweep=tables["sweep.csv"])


def load_plan_dir(plan_dir: str | Path) -> ReportData:
    """Read the tables of a plan directory that the report is built from.

    Parameters
    ----------
    plan_dir : str or pathlib.Path
        A directory written by ``edge-coverage plan`` or :meth:`Plan.to_dir`.

    Returns
    -------
    coverage.report_html.ReportData

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
    return _load_report_data({n: d / n for n in REPORT_INPUTS}, str(d))


def write_report(plan_dir: str | Path) -> Path:
    """Rebuild ``report.html`` in a plan directory from its tables (atomically).

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
        See :func:`load_plan_dir`.
    """
    from .report_html import render_report

    d = Path(plan_dir)
    page = render_report(load_plan_dir(d))
    with _staging(d) as stage:
        stage.add("report.html", lambda p: p.write_text(page, encoding="utf-8"))
    logger.info("wrote %s", d / "report.html")
    return d / "report.html"
