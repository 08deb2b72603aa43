"""GIS exports: plan.gpkg and the GeoParquet files, re-read with GeoPandas and compared with
the plan they came from."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from helpers import ON_NET

from coverage import plan_sites
from coverage.outputs.gis import (
    GPKG_LAYERS,
    assignment_lines,
    csv_safe,
    csv_unescape,
    plan_layers,
    sanitise_layer,
    write_csv,
    write_geoparquet,
    write_gpkg,
)
from coverage.outputs.plandir import write_plan


@pytest.fixture(scope="module")
def gap_plan(sample_inputs):
    """A plan with coverage gaps and proposed sites (25 ms under the on-net model the sample
    data was designed for: some points have one candidate)."""
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=5, model=ON_NET)
    assert len(plan.gaps) and len(plan.proposed)
    return plan


@pytest.fixture(scope="module")
def exported(gap_plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("gis")
    write_plan(gap_plan, out, map=False, report=False, gis=True)
    return out


def xy(g):
    return np.column_stack([g.geometry.x.to_numpy(), g.geometry.y.to_numpy()])


def test_the_geopackage_has_every_layer_in_wgs84(exported):
    layers = pyogrio.list_layers(exported / "plan.gpkg")
    assert [str(name) for name in layers[:, 0]] == list(GPKG_LAYERS)
    types = dict(zip(layers[:, 0], layers[:, 1], strict=True))
    assert types["assignment"] == "LineString" and types["sites"] == "Point"
    for name in GPKG_LAYERS:
        g = gpd.read_file(exported / "plan.gpkg", layer=name)
        assert g.crs.to_epsg() == 4326, name


def test_sites_layer_equals_the_plan(exported, gap_plan):
    g = gpd.read_file(exported / "plan.gpkg", layer="sites")
    s = gap_plan.sites
    assert g["site_id"].tolist() == s["site_id"].tolist()
    np.testing.assert_allclose(xy(g), s[["lon", "lat"]].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(g["population_primary"], s["population_primary"])
    assert g["n_demand_primary"].tolist() == s["n_demand_primary"].tolist()
    assert g["name"].tolist() == s["name"].tolist()


def test_demand_layer_equals_the_assignment(exported, gap_plan):
    g = gpd.read_file(exported / "plan.gpkg", layer="demand")
    a = gap_plan.assignment
    assert len(g) == gap_plan.summary()["n_demand"] == len(a)
    assert g["demand_id"].tolist() == a["demand_id"].tolist()
    np.testing.assert_allclose(xy(g), a[["lon", "lat"]].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(g["population"], a["population"])
    assert g["coverage_status"].tolist() == a["coverage_status"].tolist()
    assert (g["primary_site_id"].isna() == a["primary_site_id"].isna()).all()
    served = a["primary_site_id"].notna().to_numpy()
    assert g["primary_site_id"][served].tolist() == a["primary_site_id"][served].tolist()
    np.testing.assert_allclose(g["primary_latency_ms"], a["primary_latency_ms"])


def test_assignment_lines_join_each_point_to_its_primary_site(exported, gap_plan):
    g = gpd.read_file(exported / "plan.gpkg", layer="assignment")
    a = gap_plan.assignment
    served = a[a["primary_site_id"].notna()]
    assert len(g) == len(served) and g["demand_id"].tolist() == served["demand_id"].tolist()
    assert (g.geom_type == "LineString").all()
    coords = shapely.get_coordinates(g.geometry.to_numpy()).reshape(-1, 2, 2)
    np.testing.assert_allclose(coords[:, 0], served[["lon", "lat"]].to_numpy(), atol=1e-12)
    site_xy = gap_plan.sites.set_index("site_id").loc[served["primary_site_id"], ["lon", "lat"]]
    np.testing.assert_allclose(coords[:, 1], site_xy.to_numpy(), atol=1e-12)


def test_gaps_and_proposed_layers(exported, gap_plan):
    gaps = gpd.read_file(exported / "plan.gpkg", layer="gaps")
    assert set(gaps["demand_id"]) == set(gap_plan.gaps["demand_id"])
    assert set(gaps["coverage_status"]) <= {"single", "uncoverable"}
    prop = gpd.read_file(exported / "plan.gpkg", layer="proposed_sites")
    p = gap_plan.proposed
    assert prop["proposed_site_id"].tolist() == p["proposed_site_id"].tolist()
    np.testing.assert_allclose(xy(prop), p[["lon", "lat"]].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(prop["population_gained"], p["population_gained"])


def test_geoparquet_equals_the_geopackage(exported):
    for name in ("demand", "sites"):
        pq = gpd.read_parquet(exported / f"{name}.parquet")
        gp = gpd.read_file(exported / "plan.gpkg", layer=name)
        assert pq.crs.to_epsg() == 4326
        assert len(pq) == len(gp)
        np.testing.assert_allclose(xy(pq), xy(gp), atol=1e-12)
        key = "demand_id" if name == "demand" else "site_id"
        assert pq[key].tolist() == gp[key].tolist()
        np.testing.assert_allclose(pq["lat"], gp["lat"])


def test_without_the_geopackage_demand_parquet_is_written_in_chunks(gap_plan, exported,
                                                                    tmp_path, monkeypatch):
    """gpkg=False (national plans): no plan.gpkg, and demand.parquet written chunk by chunk
    reads back equal to the one written with the GeoPackage's whole demand layer."""
    import pyarrow.parquet as pq

    import coverage.outputs.gis as gis

    real = gis.write_points_geoparquet
    monkeypatch.setattr(gis, "write_points_geoparquet",
                        lambda df, path: real(df, path, chunk_rows=50))
    write_plan(gap_plan, tmp_path / "out", map=False, report=False, gis=True, gpkg=False)
    out = tmp_path / "out"
    assert not (out / "plan.gpkg").exists()
    assert pq.ParquetFile(out / "demand.parquet").metadata.num_row_groups > 1
    for name in ("demand", "sites"):
        got = gpd.read_parquet(out / f"{name}.parquet")
        want = gpd.read_parquet(exported / f"{name}.parquet")
        pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                      pd.DataFrame(want.drop(columns="geometry")))
        assert got.geometry.geom_equals(want.geometry).all()


def test_a_plan_without_gaps_still_writes_empty_layers(sample_inputs, tmp_path):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=60.0, kmedian_time_limit_s=5)
    assert plan.gaps.empty and plan.proposed.empty
    write_plan(plan, tmp_path, map=False, report=False)
    names = [str(n) for n in pyogrio.list_layers(tmp_path / "plan.gpkg")[:, 0]]
    assert names == list(GPKG_LAYERS)
    assert len(gpd.read_file(tmp_path / "plan.gpkg", layer="gaps")) == 0
    assert len(gpd.read_file(tmp_path / "plan.gpkg", layer="proposed_sites")) == 0
    assert not [p for p in tmp_path.iterdir()
                if p.name.startswith(".") and p.name != ".edge-coverage.json"]


def _python_calls(fn, *args):
    """Python-level function calls made while running ``fn(*args)`` (C calls excluded).

    The garbage collector is paused meanwhile: a collection runs the ``gc.callbacks`` other
    code registered (hypothesis's GC timer, which stays once a property test has run;
    distributed's GC diagnosis while an in-process cluster lives), whose calls would be
    counted, more of them the more is allocated (8,166 against a limit of 7,694 in one full
    run)."""
    import gc
    import sys

    count = 0

    def prof(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1

    enabled = gc.isenabled()
    gc.disable()
    sys.setprofile(prof)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
        if enabled:
            gc.enable()
    return count


def test_line_construction_does_not_loop_over_rows():
    """The number of Python calls must not grow with the rows (a row loop would add at
    least one call per row: 198,000 more at 200,000 rows than at 2,000)."""
    rng = np.random.default_rng(5)
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "lat": [40.0, 41.0, 42.0],
                          "lon": [-100.0, -101.0, -102.0]})

    def table(n):
        return pd.DataFrame({"demand_id": np.arange(n).astype(str),
                             "lat": rng.uniform(30, 45, n), "lon": rng.uniform(-120, -80, n),
                             "population": rng.uniform(1, 100, n),
                             "primary_site_id": rng.choice(["a", "b", "c"], n)})

    small, large = table(2_000), table(200_000)
    assignment_lines(small, sites)  # warm up imports and caches
    calls_small = _python_calls(assignment_lines, small, sites)
    calls_large = _python_calls(assignment_lines, large, sites)
    assert calls_large < calls_small * 1.5 + 1_000, (calls_small, calls_large)


def test_lines_at_scale_match_shapely_row_by_row():
    # 200,000 points: vectorised construction; spot-check rows against shapely one by one
    rng = np.random.default_rng(3)
    n = 200_000
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "lat": [40.0, 41.0, 42.0],
                          "lon": [-100.0, -101.0, -102.0]})
    a = pd.DataFrame({"demand_id": np.arange(n).astype(str),
                      "lat": rng.uniform(30, 45, n), "lon": rng.uniform(-120, -80, n),
                      "population": rng.uniform(1, 100, n),
                      "primary_site_id": rng.choice(["a", "b", "c", None], n)})
    g = assignment_lines(a, sites)
    served = a[a["primary_site_id"].notna()]
    assert len(g) == len(served)
    for i in rng.choice(len(served), 20, replace=False):
        r = served.iloc[i]
        s = sites.set_index("site_id").loc[r["primary_site_id"]]
        want = shapely.LineString([(r["lon"], r["lat"]), (s["lon"], s["lat"])])
        assert g.geometry.iloc[i].equals(want)


def test_mixed_type_columns_are_written_as_text(tmp_path):
    sites = pd.DataFrame({"site_id": ["a"], "lat": [40.0], "lon": [-100.0], "name": ["x"],
                          "population_primary": [1.0]})
    a = pd.DataFrame({"demand_id": ["d1", "d2"], "lat": [40.1, 40.2], "lon": [-100.0, -100.1],
                      "population": [1.0, 2.0], "primary_site_id": ["a", "a"],
                      "coverage_status": ["single", "single"],
                      "note": pd.Series([7, "seven"], dtype=object)})
    layers = plan_layers(sites, a, pd.DataFrame({"proposed_site_id": [], "lat": [],
                                                 "lon": []}))
    path = write_gpkg(layers, tmp_path / "t.gpkg")
    back = gpd.read_file(path, layer="demand")
    assert back["note"].tolist() == ["7", "seven"]


def _odd_frames():
    """Sites and assignment frames with the columns users' files bring (QGIS fid, times...)."""
    sites = pd.DataFrame({
        "site_id": ["a", "b"], "lat": [40.0, 41.0], "lon": [-100.0, -101.0],
        "name": ["x", "y"], "Name": ["X", "Y"],  # same name for SQLite (case-insensitive)
        "fid": ["q1", "q1"], "FID": [1.5, 1.5], "geom": ["POINT (0 0)", None],
        "geometry": ["not a geometry", "either"],
        "opened": pd.to_datetime(["2024-01-01 12:00", "2024-06-01 08:30"])
        .tz_localize("Europe/Paris"),
        "build": pd.to_timedelta([90, 30.5], unit="s"),
        "kind": pd.Categorical(["macro", None]),
        "raw": pd.Series([b"ok", b"\xff\xfe"], dtype=object),
        "flag": pd.array([True, None], dtype="boolean"),
        "n": pd.array([3, None], dtype="Int64"),
    })
    a = pd.DataFrame({"demand_id": ["d1", "d2"], "lat": [40.1, 40.2], "lon": [-100.0, -100.1],
                      "population": [1.0, 2.0], "primary_site_id": ["a", None],
                      "coverage_status": ["redundant", "uncoverable"],
                      "wait_s": pd.to_timedelta([1, 2], unit="min"),
                      "FID": [7, 7], "mixed": pd.Series([1, "one"], dtype=object)})
    return sites, a


def _check_odd_layers(sites_back, demand_back):
    cols = list(sites_back.columns)
    # fid -> fid_src; FID -> FID_src, the same name for SQLite -> FID_src_2
    assert {"fid_src", "FID_src_2", "geom_src", "geometry_src", "build_s"} <= set(cols)
    lower = [c.lower() for c in cols]
    assert len(lower) == len(set(lower)), cols  # unique for SQLite too
    assert {"name", "Name_2"} <= set(cols)
    assert sites_back["fid_src"].tolist() == ["q1", "q1"]
    assert sites_back["geometry_src"].tolist() == ["not a geometry", "either"]
    np.testing.assert_allclose(sites_back["build_s"], [90.0, 30.5])
    assert sites_back["kind"].iloc[0] == "macro" and pd.isna(sites_back["kind"].iloc[1])
    assert sites_back["raw"].iloc[0] == "ok" and sites_back["raw"].iloc[1] == "\ufffd\ufffd"
    assert sites_back["flag"].iloc[0] == "true" and pd.isna(sites_back["flag"].iloc[1])
    opened = pd.to_datetime(sites_back["opened"], utc=True)
    assert opened.iloc[0] == pd.Timestamp("2024-01-01 11:00", tz="UTC")
    assert (sites_back.geometry.geom_type == "Point").all()
    np.testing.assert_allclose(xy(sites_back), [[-100.0, 40.0], [-101.0, 41.0]])
    np.testing.assert_allclose(demand_back["wait_s"], [60.0, 120.0])  # already ends in _s
    assert demand_back["FID_src"].tolist() == [7, 7]
    assert demand_back["mixed"].tolist() == ["1", "one"]


def test_user_columns_that_clash_or_are_odd_types_are_sanitised_for_gpkg(tmp_path):
    sites, a = _odd_frames()
    layers = plan_layers(sites, a, pd.DataFrame())
    path = write_gpkg(layers, tmp_path / "odd.gpkg")
    _check_odd_layers(gpd.read_file(path, layer="sites"), gpd.read_file(path, layer="demand"))
    gaps = gpd.read_file(path, layer="gaps")
    assert gaps["demand_id"].tolist() == ["d2"]


def test_user_columns_that_clash_or_are_odd_types_are_sanitised_for_geoparquet(tmp_path):
    sites, a = _odd_frames()
    layers = plan_layers(sites, a, pd.DataFrame())
    write_geoparquet(layers["sites"], tmp_path / "sites.parquet")
    write_geoparquet(layers["demand"], tmp_path / "demand.parquet")
    _check_odd_layers(gpd.read_parquet(tmp_path / "sites.parquet"),
                      gpd.read_parquet(tmp_path / "demand.parquet"))


def test_sanitise_layer_keeps_the_active_geometry_and_converts_other_geometries():
    g = gpd.GeoDataFrame({"id": [1], "other": gpd.GeoSeries([shapely.Point(1, 2)])},
                         geometry=gpd.points_from_xy([5.0], [6.0]), crs="EPSG:4326")
    out = sanitise_layer(g)
    assert out.geometry.name == "geometry" and out.crs.to_epsg() == 4326
    assert out["other"].tolist() == ["POINT (1 2)"]
    assert out["id"].tolist() == [1]


def test_csv_safe_defuses_formulas_in_text_only():
    df = pd.DataFrame({
        "name": ["=HYPERLINK(\"http://x\")", "+1+A1", "-2-cmd", "@SUM(A1)", "\tx", "\ry", "ok",
                 None],
        "site_id": pd.Series(["-7", "a=b", "+3.5e2", "-.5", "-1e", "w", "v", "u"],
                             dtype="string"),
        "kind": pd.Categorical(["=c", "d", "d", "d", "d", "d", "d", "d"]),
        "mixed": pd.Series([-3, "=x", 2.5, None, "a", "b", "c", "d"], dtype=object),
        "x": [-1.5, 2.0, -3.0, 0.0, 1.0, 2.0, 3.0, -4.0],
        "k": np.array([-1, 2, -3, 4, 5, 6, 7, -8], dtype=np.int64),
        "=cmd": [1, 2, 3, 4, 5, 6, 7, 8],
    })
    before = df.copy()
    out = csv_safe(df)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert out["name"].tolist()[:7] == ["'=HYPERLINK(\"http://x\")", "'+1+A1", "'-2-cmd",
                                        "'@SUM(A1)", "'\tx", "'\ry", "ok"]
    assert pd.isna(out["name"].iloc[7])
    # a plain number written as text is read as a number, not run: left as it is (an id
    # "-7" or a carried column's "-6450" read back as the user wrote it)
    assert out["site_id"].tolist()[:5] == ["-7", "a=b", "+3.5e2", "-.5", "'-1e"]
    assert out["kind"].tolist()[:2] == ["'=c", "d"]
    assert out["mixed"].tolist()[:3] == [-3, "'=x", 2.5]  # numbers in text columns stay numbers
    # numeric columns: negative numbers untouched, dtype kept
    assert out["x"].dtype == np.float64 and out["x"].tolist() == df["x"].tolist()
    assert out["k"].dtype == np.int64 and out["k"].tolist() == df["k"].tolist()
    assert list(out.columns) == ["name", "site_id", "kind", "mixed", "x", "k", "'=cmd"]


def test_write_csv_reads_back_without_formulas(tmp_path):
    df = pd.DataFrame({"site_id": ["=1+2", "s2"], "population": [-5.0, 7.0]})
    path = write_csv(df, tmp_path / "t.csv")
    text = path.read_text(encoding="utf-8")
    assert "\n=1+2" not in text and "'=1+2" in text
    back = pd.read_csv(path)
    assert back["population"].tolist() == [-5.0, 7.0]
    assert back["site_id"].tolist() == ["'=1+2", "s2"]


@pytest.mark.parametrize("fast", [False, True])
def test_csv_escaping_is_undone_exactly(tmp_path, monkeypatch, fast):
    """Tester 111: "-x" and "'-x" were both written "'-x" (two ids made one). A cell that
    starts with the escape character is escaped too, and csv_unescape gives every value
    back (pandas' writer and Arrow's)."""
    import coverage.outputs.gis as gis

    if fast:
        monkeypatch.setattr(gis, "FAST_CSV_ROWS", 1)
    values = ["-x", "'-x", "''-x", "=1+2", "'=1+2", "'", "''", "a'b", "-5", "'-5", "plain",
              "@a", "'@a", "\tx", "'\tx"]
    df = pd.DataFrame({"id": values, "n": np.arange(len(values), dtype=np.float64),
                       "'col": values[::-1]})
    written = csv_safe(df)
    assert written["id"].is_unique  # distinct ids stay distinct on disk
    assert written["id"].tolist()[:5] == ["'-x", "''-x", "'''-x", "'=1+2", "''=1+2"]
    assert list(written.columns) == ["id", "n", "''col"]
    back = pd.read_csv(write_csv(df, tmp_path / "t.csv"), dtype=str, keep_default_na=False)
    got = csv_unescape(back)
    assert got["id"].tolist() == values and got["'col"].tolist() == values[::-1]
    assert list(got.columns) == ["id", "n", "'col"]
    cat = csv_unescape(pd.DataFrame({"s": pd.Categorical(["''a", "'a", "b", "'a"])}))["s"]
    assert cat.tolist() == ["'a", "a", "b", "a"]
    assert list(cat.cat.categories) == sorted(["'a", "a", "b"])


@pytest.mark.parametrize("missing_lat", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 1000])
def test_points_geoparquet_in_chunks_reads_back_as_the_whole_layer(tmp_path, chunk_rows,
                                                                   missing_lat):
    """Chunked GeoParquet (bounded memory on national demand tables) equals the whole-layer
    writer's file read back: columns, types, values, geometries, CRS and bounding box, also
    with user columns whose type differs by chunk (text missing in the first chunks, a
    boolean with missing values in one chunk only) and odd types."""
    import json

    import pyarrow.parquet as pq

    from coverage.outputs.gis import write_points_geoparquet

    _, odd = _odd_frames()
    a = pd.concat([odd] * 8, ignore_index=True)
    n = len(a)
    a["demand_id"] = [f"d{i}" for i in range(n)]
    a["lat"] = np.linspace(-33.0, 61.5, n)
    a["lon"] = np.linspace(-120.0, 151.0, n)[::-1]
    if missing_lat:  # a chunk with a point that has no coordinates
        a.loc[5, "lat"] = np.nan
    a["late_text"] = pd.Series([None] * (n - 3) + ["x", None, "=z"], dtype=object)
    a["flag"] = pd.array([True] * (n - 2) + [None, False], dtype="boolean")
    a["never"] = pd.Series([None] * n, dtype=object)
    # pandas string columns (as read from CSV), missing values of both kinds
    a["text_str"] = pd.Series([f"s{i}" if i % 4 else None for i in range(n)], dtype="str")
    a["text_na"] = pd.Series([None if i % 5 == 1 else f"t{i}" for i in range(n)],
                             dtype="string")
    a["text_none"] = pd.Series([None] * n, dtype="str")  # no value: typed null
    whole = tmp_path / "whole.parquet"
    write_geoparquet(plan_layers(pd.DataFrame({"site_id": [], "lat": [], "lon": []}), a,
                                 pd.DataFrame(), layers=("demand",))["demand"], whole)
    chunked = write_points_geoparquet(a, tmp_path / "chunked.parquet", chunk_rows=chunk_rows)
    want, got = gpd.read_parquet(whole), gpd.read_parquet(chunked)
    assert got.crs == want.crs
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")))
    # a point without coordinates equals nothing, itself included: its bytes are compared
    assert (got.geometry.geom_equals(want.geometry) | want["lat"].isna()).all()
    assert got["flag"].iloc[-1] == "false" and got["late_text"].iloc[-3] == "x"
    geo_w = json.loads(pq.read_schema(whole).metadata[b"geo"])
    geo_c = json.loads(pq.read_schema(chunked).metadata[b"geo"])
    assert geo_c == geo_w  # same bbox, geometry types, CRS, version
    raw_w = pq.read_table(whole).column("geometry").to_pylist()
    raw_c = pq.read_table(chunked).column("geometry").to_pylist()
    assert raw_c == raw_w  # the same WKB bytes, not only equal points
    if chunk_rows < n:
        assert pq.ParquetFile(chunked).metadata.num_row_groups == -(-n // chunk_rows)


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_points_geoparquet_interrupted_leaves_no_file(tmp_path, monkeypatch, error):
    """A write that fails after some chunks leaves neither a truncated file nor its
    temporary one (the footer would make a truncated file read back as valid)."""
    import coverage.outputs.gis as gis

    _, odd = _odd_frames()
    a = pd.concat([odd] * 5, ignore_index=True)
    real, calls = gis._point_chunk, []

    def flaky(df):
        calls.append(1)
        if len(calls) == 3:  # chunks 1-2 written, chunk 3 fails
            raise error("disk gone")
        return real(df)

    monkeypatch.setattr(gis, "_point_chunk", flaky)
    with pytest.raises(error):
        gis.write_points_geoparquet(a, tmp_path / "demand.parquet", chunk_rows=3)
    assert list(tmp_path.iterdir()) == []


def test_plan_layers_builds_only_the_layers_asked_for():
    sites, a = _odd_frames()
    layers = plan_layers(sites, a, pd.DataFrame(), layers=("sites", "gaps"))
    assert list(layers) == ["sites", "gaps"]
    assert layers["gaps"]["demand_id"].tolist() == ["d2"]
    with pytest.raises(ValueError, match="unknown layer"):
        plan_layers(sites, a, pd.DataFrame(), layers=("demand", "roads"))


def test_the_arrow_csv_writer_writes_the_same_file_chunk_by_chunk(tmp_path):
    """Chunks where a column is all missing (text, booleans, numbers) are cast to the
    table's types: the file is byte for byte the one written at once."""
    import numpy as np
    import pandas as pd

    from coverage.outputs.gis import _write_csv_arrow

    n = 1_000
    rng = np.random.default_rng(1)
    text = pd.Series(np.where(rng.random(n) < 0.5, "a,b", 'q"x'), dtype="str")
    text[:300] = None  # missing in the whole first chunk
    flag = pd.array(rng.random(n) < 0.5, dtype="boolean")
    flag[:300] = pd.NA
    df = pd.DataFrame({"id": np.arange(n).astype(str), "text": text, "flag": flag,
                       "plain_flag": rng.random(n) < 0.3, "x": rng.random(n) * 100,
                       "k": rng.integers(0, 9, n), "late": [None] * 700 + [1.5] * 300})
    _write_csv_arrow(df, tmp_path / "whole.csv", chunk_rows=n)
    _write_csv_arrow(df, tmp_path / "chunks.csv", chunk_rows=128)
    assert (tmp_path / "chunks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    back = pd.read_csv(tmp_path / "chunks.csv")
    assert len(back) == n and back["k"].tolist() == df["k"].tolist()
    _write_csv_arrow(df.iloc[:0], tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text().splitlines()[0].startswith('"id"')


def test_assignment_lines_cross_the_antimeridian_the_short_way():
    """A point at 179.95 E served by a site at 179.95 W: a line of about 0.1 degrees of
    longitude past 180, not one of 359.9 degrees across the map; other lines unchanged."""
    assignment = pd.DataFrame({
        "demand_id": ["d1", "d2", "d3"], "lat": [-17.0, -17.2, -17.1],
        "lon": [179.95, -179.9, 178.0], "population": [10.0, 20.0, 5.0],
        "primary_site_id": ["s1", "s2", "s3"]})
    sites = pd.DataFrame({"site_id": ["s1", "s2", "s3"], "lat": [-17.0, -17.1, -17.3],
                          "lon": [-179.95, 179.9, 178.2]})
    lines = assignment_lines(assignment, sites)
    xs = [list(g.coords) for g in lines.geometry]
    assert xs[0] == [(179.95, -17.0), (pytest.approx(180.05), -17.0)]
    assert xs[1] == [(-179.9, -17.2), (pytest.approx(-180.1), -17.1)]
    assert xs[2] == [(178.0, -17.1), (178.2, -17.3)]
    spans = [abs(c[1][0] - c[0][0]) for c in xs]
    assert max(spans) < 1.0
