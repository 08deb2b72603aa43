"""Fuzzing the input side: malformed CSVs and vector files never crash the readers or the CLI.

Contract checked:

* in process (many examples): :func:`read_demand` / :func:`read_sites` / :func:`as_demand` /
  :func:`as_sites` return a valid frame or raise :class:`InputValidationError` -- never any
  other exception, and only :class:`CoverageWarning` warnings;
* through the ``edge-coverage`` console script (fewer examples, one process each): exit code
  0, 2 or 3, no traceback, no output directory on failure, inputs byte-identical afterwards.

The profile is derandomized (fixed examples, no example database), so CI cannot flake. Set
``EDGE_COVERAGE_FUZZ_SCALE`` (e.g. 20) to run that many times more examples locally, and
``EDGE_COVERAGE_FUZZ_RANDOM=1`` (with ``--hypothesis-seed=N``) to explore other examples.
"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from helpers import run
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coverage.errors import CoverageWarning, InputValidationError
from coverage.inputs.tables import (
    MAX_POPULATION_PER_POINT,
    as_demand,
    as_sites,
    read_demand,
    read_sites,
    sha256_file,
)

SCALE = max(1, int(os.environ.get("EDGE_COVERAGE_FUZZ_SCALE", "1")))
RANDOM = bool(os.environ.get("EDGE_COVERAGE_FUZZ_RANDOM"))


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=not RANDOM,
                    database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

HEADER_NAMES = [
    "id", "ID", "demand_id", "site_id", "fid", "code", "geoid",
    "lat", "LAT", "latitude", "y", "Y", "lon", "LON", "lng", "long", "longitude", "x",
    "population", "pop", "Pop", "total_population",
    "name", "Name", "city", "access", "tier", "required", "existing", "cost", "h3",
    "statefp", "countyfp", "", " ", "Unnamed: 3", "extra", "na\u00efve", '"quoted"', "a,b",
    "semi;colon", "\ufeffid",
]
CELLS = [
    "", " ", "NA", "N/A", "None", "null", "nan", "NaN", "inf", "-inf", "1e308", "1.7e308",
    "-1.7e308", "1e400", "1e-400", "-1", "0", "1", "12", "40.5", "-3.2", "90", "-90", "180",
    "-180", "181", "360", "4500000", "-11000000", "18446744073709551616",
    "12345678901234567890", "50,85", "1 000", "1e10", "1.00000000001e10", "true", "false",
    "yes", "maybe", "ftth", "5G-SA", "pigeon", "8928308280fffff", '"a,b"', '"broken',
    '""', "\u00e9", "\u2603", "x\ty", "0x1A", "+5", "--1", "1_000", "\\N",
]
SEPARATORS = [",", ";", "\t", "|"]


@st.composite
def cell(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind < 6:
        return draw(st.sampled_from(CELLS))
    if kind < 8:
        value = draw(st.floats(allow_nan=True, allow_infinity=True, width=64))
        return draw(st.sampled_from([repr(value), f"{value:.6g}", f"{value:.0f}"
                                     if np.isfinite(value) and abs(value) < 1e30 else "x"]))
    if kind == 8:
        return str(draw(st.integers(-(2**70), 2**70)))
    return draw(st.text(max_size=8))


CLEAN_CELLS = {
    "lat": st.floats(33.5, 34.5).map(lambda v: f"{v:.5f}"),
    "lon": st.floats(-118.5, -117.5).map(lambda v: f"{v:.5f}"),
    "population": st.integers(0, 10**6).map(str),
    "id": st.integers(0, 10**6).map(lambda v: f"r{v}"),
}


def clean_or_hostile(draw: st.DrawFn, name: str, hostile_one_in: int) -> str:
    """A valid value for the well-known columns, except one time in ``hostile_one_in``."""
    key = {"site_id": "id", "demand_id": "id", "pop": "population"}.get(name, name)
    if key in CLEAN_CELLS and draw(st.integers(1, hostile_one_in)) > 1:
        return draw(CLEAN_CELLS[key])
    return draw(cell())


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    """Random (mostly) table-shaped CSV bytes with many kinds of damage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=600))
    n_cols = draw(st.integers(1, 7))
    header = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=n_cols, max_size=n_cols))
    if draw(st.booleans()):  # half the examples get usable coordinates and population
        header = ["lat", "lon", "population", *header[: n_cols - 3]]
        if draw(st.booleans()):
            header = ["id", *header[:5]]
    sep = draw(st.sampled_from(SEPARATORS)) if draw(st.integers(0, 3)) == 0 else ","
    n_rows = draw(st.integers(0, 8))
    hostile_one_in = draw(st.sampled_from([1, 10, 1000]))  # all / some / (almost) no bad cells
    ragged = [0] * 12 + [-1, 1] if hostile_one_in > 1 else [0, 0, 0, 0, -1, 1]
    rows = []
    for _ in range(n_rows):
        width = len(header) + draw(st.sampled_from(ragged))
        rows.append([clean_or_hostile(draw, header[i] if i < len(header) else "", hostile_one_in)
                     for i in range(max(width, 0))])
    trailing = sep if draw(st.integers(0, 5)) == 0 else ""
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = newline.join(sep.join(r) + trailing for r in [header, *rows])
    text += newline if draw(st.booleans()) else ""
    if draw(st.integers(0, 5)) == 0:
        text = "\ufeff" + text
    encoding = draw(st.sampled_from(["utf-8"] * 8 + ["latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 4 * hostile_one_in)) == 0:  # splice in NULs, invalid UTF-8, ...
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\x00" * 3, b'"',
                                     b"\r", b"\x1a"]))
        data = data[:at] + junk + data[at:]
    return data


SAFE_TEXT = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=6).filter(
    lambda t: '"' not in t)
OPTIONAL_CLEAN = {
    "name": SAFE_TEXT,
    "access": st.sampled_from(["ftth", "FTTH", "cable", "5g-sa", "lte"]),
    "tier": st.sampled_from(["metro", "edge", "", "NA"]),
    "required": st.sampled_from(["true", "false", "", "0", "yes"]),
    "cost": st.floats(1e-3, 1e6).map(lambda v: f"{v:.6g}"),
    "extra": SAFE_TEXT,
}


@st.composite
def clean_csv_bytes(draw: st.DrawFn) -> bytes:
    """A valid table in a legal dialect (';' with decimal commas, BOM, CRLF, trailing ',')."""
    optional = draw(st.lists(st.sampled_from(sorted(OPTIONAL_CLEAN)), max_size=3, unique=True))
    header = ["id", "lat", "lon", "population", *optional]
    n_rows = draw(st.integers(1, 8))
    ids = draw(st.lists(SAFE_TEXT.filter(lambda t: t.strip()), min_size=n_rows,
                        max_size=n_rows, unique_by=lambda t: t.strip()))
    semicolon = draw(st.integers(0, 3)) == 0
    rows = [[ids[i], *(draw(CLEAN_CELLS[c]) for c in ("lat", "lon", "population")),
             *(draw(OPTIONAL_CLEAN[c]) for c in optional)] for i in range(n_rows)]
    if semicolon:
        rows = [[v.replace(".", ",") if j in (1, 2) else v for j, v in enumerate(r)]
                for r in rows]
    sep = ";" if semicolon else ","
    quote = [f'"{v}"' if sep in v or '"' in v else v for v in header]
    lines = [sep.join(quote)] + [
        sep.join(f'"{v.replace(chr(34), chr(34) * 2)}"' if sep in v or '"' in v else v
                 for v in r) for r in rows]
    trailing = sep if draw(st.integers(0, 4)) == 0 else ""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(line + trailing for line in lines) + newline
    return (("\ufeff" if draw(st.booleans()) else "") + text).encode("utf-8")


def geometry_json(draw: st.DrawFn) -> object:
    lon = st.floats(-200, 200, allow_nan=False)
    lat = st.floats(-100, 100, allow_nan=False)
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return {"type": "Point", "coordinates": [draw(lon), draw(lat)]}
    if kind == 4:
        return None
    if kind == 5:
        x0 = draw(st.sampled_from([179.0, 170.0, -10.0, 0.0]))
        y0 = draw(st.floats(-80, 80))
        ring = [[x0, y0], [-x0 if draw(st.booleans()) else x0 + 1, y0], [-x0, y0 + 1],
                [x0, y0 + 1], [x0, y0]]
        return {"type": "Polygon", "coordinates": [ring]}
    if kind == 6:
        return {"type": "LineString", "coordinates": [[draw(lon), draw(lat)] for _ in range(2)]}
    if kind == 7:
        return {"type": "GeometryCollection", "geometries": []}
    if kind == 8:
        return {"type": "Polygon", "coordinates": []}
    return {"type": "MultiPoint", "coordinates": [[draw(lon), draw(lat)]]}


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(CELLS),
    st.just([1, 2]), st.just({"a": 1}),
)


@st.composite
def geojson_bytes(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 6))
    keys = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=0, max_size=4, unique=True))
    if draw(st.booleans()):
        keys = ["population", *[k for k in keys if k != "population"]]
    features = [
        {"type": "Feature", "properties": {k: draw(JSON_VALUES) for k in keys},
         "geometry": geometry_json(draw)}
        for _ in range(n)
    ]
    doc: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if draw(st.integers(0, 4)) == 0:
        doc["crs"] = {"type": "name", "properties": {"name": draw(st.sampled_from(
            ["EPSG:3857", "urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:99999", "bogus"]))}}
    text = json.dumps(doc)
    variant = draw(st.integers(0, 7))
    if variant == 0:
        text = text[: draw(st.integers(0, len(text)))]  # truncated
    elif variant == 1:
        text = json.dumps(features[0] if features else {"type": "Feature"})  # bare feature
    elif variant == 2:
        text = "[]"
    return text.encode("utf-8")


def write_gpkg(path: Path, layers: int, draw: st.DrawFn) -> None:
    if layers == 0:
        con = sqlite3.connect(path)
        con.execute("PRAGMA application_id = 1196444487")
        con.execute("CREATE TABLE t (a INTEGER)")
        con.commit()
        con.close()
        return
    for i in range(layers):
        n = draw(st.integers(1, 4))
        geoms = []
        for _ in range(n):
            k = draw(st.integers(0, 4))
            x, y = draw(st.floats(-180, 180)), draw(st.floats(-85, 85))
            geoms.append([shapely.Point(x, y), shapely.box(x, y, x + 1, y + 1), None,
                          shapely.Point(), shapely.LineString([(x, y), (x + 1, y)])][k])
        pop = draw(st.lists(st.one_of(st.floats(-10, 1e12), st.just(float("nan"))),
                            min_size=n, max_size=n))
        gdf = gpd.GeoDataFrame({"population": pop}, geometry=geoms,
                               crs=draw(st.sampled_from([4326, 3857, None])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf.to_file(path, layer=f"layer{i}", driver="GPKG", geometry_type="Unknown")


@st.composite
def input_file(draw: st.DrawFn) -> tuple[str, bytes | None, object]:
    """(file name, bytes to write or None, gpkg layer count) of a random input file."""
    kind = draw(st.sampled_from(["csv"] * 5 + ["csv.gz", "tsv", "geojson", "geojson", "gpkg",
                                               "clean", "clean", "clean"]))
    if kind == "clean":
        return "in.csv", draw(clean_csv_bytes()), None
    if kind == "gpkg":
        return "in.gpkg", None, draw(st.integers(0, 2))
    if kind == "geojson":
        return "in.geojson", draw(geojson_bytes()), None
    data = draw(csv_bytes())
    if kind == "csv.gz":
        return "in.csv.gz", gzip.compress(data, mtime=0), None
    return f"in.{kind}", data, None


def materialise(folder: Path, spec: tuple[str, bytes | None, object], draw: st.DrawFn) -> Path:
    name, data, layers = spec
    path = folder / name
    if data is None:
        write_gpkg(path, int(layers), draw)  # type: ignore[arg-type]
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------
# Contract
# --------------------------------------------------------------------------------------


def check_frame(df: pd.DataFrame, kind: str) -> None:
    id_col = "demand_id" if kind == "demand" else "site_id"
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert isinstance(df.index, pd.RangeIndex)
    assert list(df.columns[:3]) == [id_col, "lat", "lon"]
    assert df[id_col].is_unique and df[id_col].map(type).eq(str).all()
    lat = df["lat"].to_numpy(dtype=np.float64)
    lon = df["lon"].to_numpy(dtype=np.float64)
    assert np.isfinite(lat).all() and np.isfinite(lon).all()
    assert (np.abs(lat) <= 90).all() and (np.abs(lon) <= 180).all()
    if kind == "demand":
        pop = df["population"].to_numpy(dtype=np.float64)
        assert np.isfinite(pop).all() and (pop >= 0).all()
        assert (pop <= MAX_POPULATION_PER_POINT).all()
    else:
        assert df["required"].dtype == bool
        if "cost" in df:
            assert (df["cost"].to_numpy(dtype=np.float64) > 0).all()


def read_contract(reader, path: Path, kind: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = reader(path)
        except InputValidationError as exc:
            event(f"{kind}: refused")
            assert str(path.name) in str(exc) and "Fix:" in str(exc), str(exc)
        else:
            event(f"{kind}: read")
            check_frame(df, kind)
    stray = [w for w in caught if not issubclass(w.category, CoverageWarning)]
    assert not stray, [f"{w.category.__name__}: {w.message}" for w in stray]


# --------------------------------------------------------------------------------------
# In process: many examples
# --------------------------------------------------------------------------------------


@fuzz_settings(400)
@given(data=st.data(), spec=input_file())
def test_readers_validate_or_refuse(data, spec):
    with tempfile.TemporaryDirectory() as tmp:
        path = materialise(Path(tmp), spec, data.draw)
        before = path.read_bytes()
        read_contract(read_demand, path, "demand")
        read_contract(read_sites, path, "sites")
        assert path.read_bytes() == before


COLUMN_VALUES = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=3, max_size=3),
    st.lists(st.integers(0, 2**64 - 1), min_size=3, max_size=3),
    st.lists(st.integers(-(2**80), 2**80), min_size=3, max_size=3),
    st.lists(st.sampled_from(CELLS), min_size=3, max_size=3),
    st.lists(st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=4)),
             min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
)


@fuzz_settings(300)
@given(columns=st.dictionaries(st.sampled_from(HEADER_NAMES), COLUMN_VALUES, max_size=6),
       coords=st.booleans())
def test_in_memory_frames_validate_or_refuse(columns, coords):
    if coords:
        columns = {"lat": [34.0, 34.5, 35.0], "lon": [-118.0, -118.5, -119.0], **columns}
    df = pd.DataFrame(columns) if columns else pd.DataFrame(index=range(3))
    for func, kind in ((as_demand, "demand"), (as_sites, "sites")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = func(df)
            except InputValidationError:
                pass
            else:
                check_frame(out, kind)
        stray = [w for w in caught if not issubclass(w.category, CoverageWarning)]
        assert not stray, [f"{w.category.__name__}: {w.message}" for w in stray]


@fuzz_settings(200)
@given(data=clean_csv_bytes())
def test_clean_tables_in_legal_dialects_are_read_exactly(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clean.csv"
        path.write_bytes(data)
        text = data.decode("utf-8-sig")
        sep = ";" if text.split("\n")[0].count(";") else ","
        lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln]
        expected = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                               encoding="utf-8-sig", index_col=False, decimal=",")
        df = read_demand(path, access_profiles=["ftth", "cable", "5g-sa", "lte"])
        assert len(df) == len(lines) - 1
        assert df["demand_id"].tolist() == expected["id"].str.strip().tolist()
        for col in ("lat", "lon", "population"):
            want = expected[col].str.replace(",", ".").astype(float).to_numpy()
            assert np.array_equal(df[col].to_numpy(), want), col


# --------------------------------------------------------------------------------------
# Through the console script: fewer examples
# --------------------------------------------------------------------------------------

GOOD_DEMAND = ("id,lat,lon,population\nd1,34.05,-118.25,1000\nd2,34.10,-118.30,500\n"
               "d3,33.95,-118.10,800\n")
GOOD_SITES = "site_id,lat,lon\ns1,34.06,-118.24\ns2,33.96,-118.12\ns3,34.20,-118.40\n"


def cli_contract(folder: Path, demand: Path, sites: Path) -> None:
    out = folder / "out"
    hashes = {p: sha256_file(p) for p in (demand, sites)}
    # (the command in this process, as tests/helpers.run runs it: a process each cost
    # ~2 s of imports, 24 times)
    r = run("plan", "--demand", demand, "--candidates", sites, "--out", out, "--no-map",
            "--no-report", "--no-gis", "--time-limit-s", "5", "--kmedian-time-limit-s", "5")
    event(f"exit {r.returncode}")
    assert r.returncode in (0, 2, 3), (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    if r.returncode:
        assert not out.exists() or not any(out.iterdir())
    else:
        assert (out / "summary.json").exists()
    assert {p: sha256_file(p) for p in (demand, sites)} == hashes


@fuzz_settings(12)
@given(data=st.data(), spec=input_file())
def test_cli_on_fuzzed_demand(data, spec):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demand = materialise(folder, spec, data.draw)
        sites = folder / "good_sites.csv"
        sites.write_text(GOOD_SITES)
        cli_contract(folder, demand, sites)


@fuzz_settings(12)
@given(data=st.data(), spec=input_file())
def test_cli_on_fuzzed_candidates(data, spec):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sites = materialise(folder, spec, data.draw)
        demand = folder / "good_demand.csv"
        demand.write_text(GOOD_DEMAND)
        cli_contract(folder, demand, sites)
