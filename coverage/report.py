"""Write a plan's outputs: summary.json, sites.csv/.geojson, assignment.csv, failures.csv,
proposed_sites.csv, map.

Every file is written to a temporary name in the output directory and renamed into place
only after all files are complete, so an interrupted run never leaves half-written outputs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .plan import Plan

logger = logging.getLogger(__name__)

__all__ = ["write_plan", "OUTPUT_FILES"]

OUTPUT_FILES = ("summary.json", "sites.csv", "sites.geojson", "assignment.csv", "failures.csv",
                "proposed_sites.csv", "map.html")


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


def write_plan(plan: Plan, out_dir: str | Path, *, map: bool = True,
               tiles: str | None = "osm") -> Path:
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

    Returns
    -------
    pathlib.Path
        The output directory.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        def stage(name: str, write) -> None:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            os.close(fd)
            write(Path(tmp))
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
            staged.append((Path(tmp), out / name))

        stage("summary.json", lambda p: p.write_text(summary_json(plan), encoding="utf-8"))
        stage("sites.csv", lambda p: plan.sites.to_csv(p, index=False))
        stage("sites.geojson", lambda p: p.write_text(sites_geojson(plan), encoding="utf-8"))
        stage("assignment.csv", lambda p: plan.assignment.to_csv(p, index=False))
        stage("failures.csv", lambda p: plan.failures.to_csv(p, index=False))
        stage("proposed_sites.csv", lambda p: plan.proposed.to_csv(p, index=False))
        if map:
            from .maps import plan_map, render_map_html

            html = render_map_html(plan_map(plan, tiles=tiles))
            stage("map.html", lambda p: p.write_text(html, encoding="utf-8"))
        for tmp, final in staged:
            os.replace(tmp, final)
        staged.clear()
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    logger.info("wrote %s", out)
    return out
