"""DataFrames an analyst passes to the Python API in a notebook: one test (or more) per
defect of the review of ``plan_sites`` / ``build_reach`` / ``compare`` / ``Plan.to_dir``
with in-memory frames (index, dtypes, carried columns, geometries). Each failed before
its fix; the inputs are small (GeoNames, Luxembourg), so that the file runs in seconds.
"""

from __future__ import annotations

import datetime
import fractions
import json
import logging
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from helpers import raises_with

import coverage
from coverage.errors import InputValidationError
from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.inputs.tables import as_demand, as_sites


@pytest.fixture(scope="module")
def lu():
    """Demand and candidates of Luxembourg and the site ids of their plan at 30 ms."""
    demand, sites = geonames_demand("LU", 1000), geonames_candidates("LU", 3000)
    plan = coverage.plan_sites(demand, sites, budget_ms=30)
    return demand, sites, sorted(plan.sites["site_id"])


def _snapshot(df: pd.DataFrame) -> tuple:
    return df.copy(deep=True), df.dtypes.copy(), df.index.copy(), list(df.columns)


def _unchanged(df: pd.DataFrame, snap: tuple) -> bool:
    copy, dtypes, index, columns = snap
    return (df.equals(copy) and df.dtypes.equals(dtypes) and df.index.equals(index)
            and type(df.index) is type(index) and list(df.columns) == columns)


def _plan(demand: pd.DataFrame, sites: pd.DataFrame, **options):
    """The plan of ``demand`` and ``sites``, checked to leave both frames as they were."""
    before = _snapshot(demand), _snapshot(sites)
    plan = coverage.plan_sites(demand, sites, budget_ms=30, **options)
    assert _unchanged(demand, before[0]) and _unchanged(sites, before[1])
    return plan


# --------------------------------------------------------------------------------------
# Inputs that mean the same as the clean ones plan the same (and are never changed)
# --------------------------------------------------------------------------------------


def _points(df: pd.DataFrame, crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(df.drop(columns=["lat", "lon"]),
                         geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
    return g.to_crs(crs) if crs not in (None, "EPSG:4326") else g


SAME_MEANING = {
    "shuffled index": lambda d: d.sample(frac=1.0, random_state=1),
    "string index": lambda d: d.set_axis([f"r{i}" for i in range(len(d))]),
    "duplicated index": lambda d: d.set_axis(np.zeros(len(d), dtype=int)),
    "MultiIndex": lambda d: d.set_axis(pd.MultiIndex.from_arrays(
        [np.arange(len(d)), ["a"] * len(d)])),
    "nullable and arrow dtypes": lambda d: d.astype(
        {"lat": "Float64", "lon": "Float64", d.columns[0]: "string[pyarrow]",
         "name": "category"}),
    "coordinates as text": lambda d: d.astype({"lat": str, "lon": str}),
    "column names in another case, with spaces": lambda d: d.rename(
        columns={"lat": "Lat", "lon": " lon "}),
    "GeoDataFrame EPSG:3857, geometry named 'pt'": lambda d: _points(
        d, "EPSG:3857").rename_geometry("pt"),
}


@pytest.mark.parametrize("change", list(SAME_MEANING))
def test_frames_that_mean_the_same_plan_the_same(lu, change):
    demand, sites, expected = lu
    plan = _plan(SAME_MEANING[change](demand.copy()), SAME_MEANING[change](sites.copy()))
    assert sorted(plan.sites["site_id"]) == expected


# --------------------------------------------------------------------------------------
# 1. An id set as the index (df.set_index("site_id")) was dropped: the plan named its
#    sites "1", "2" (row numbers) instead of the analyst's ids
# --------------------------------------------------------------------------------------


def test_an_id_set_as_the_index_is_the_id(lu):
    demand, sites, expected = lu
    plan = _plan(demand.set_index("demand_id"), sites.set_index("site_id"))
    assert sorted(plan.sites["site_id"]) == expected
    assert plan.assignment["demand_id"].tolist() == demand["demand_id"].tolist()
    # a MultiIndex's level named like the id, the other level (unnamed) dropped
    multi = sites.set_index(["site_id", pd.Index(np.arange(len(sites)))])
    assert as_sites(multi, colocated_m=0)["site_id"].tolist() == sites["site_id"].tolist()


def test_an_index_named_like_a_column_it_repeats_is_not_doubled(lu):
    demand, _, _ = lu
    kept = demand.set_index("demand_id", drop=False)
    out = as_demand(kept)
    assert out["demand_id"].tolist() == demand["demand_id"].tolist()
    assert list(out.columns) == list(as_demand(demand).columns)


# --------------------------------------------------------------------------------------
# 2. A boolean column where a number belongs was read as 0/1 (a plan for 0/1 people)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["population", "lat"])
def test_a_boolean_number_column_is_refused(lu, column):
    demand, _, _ = lu
    bad = demand.assign(**{column: demand[column] > demand[column].median()})
    raises_with(as_demand, bad, match=["<DataFrame>", repr(column) if column == "lat"
                                       else "population", "True", "rows 1, 2"])


def test_a_boolean_cost_or_capacity_column_is_refused(lu):
    demand, sites, _ = lu
    raises_with(as_sites, sites.assign(cost=True), match=["cost", "True", "rows 1, 2"])
    raises_with(coverage.plan_sites, demand, sites.assign(capacity_rps=True),
                requests_per_person_day=10.0, match=["capacity_rps", "row 1 (True)"])


def test_an_infinite_population_is_one_problem(lu):
    demand, _, _ = lu
    bad = demand.assign(population=demand["population"].where(demand.index != 4, np.inf))
    msg = raises_with(as_demand, bad, match=["1 problem", "not a finite number", "row 5"])
    assert "above" not in msg
    msg = raises_with(as_demand, demand.assign(population=-np.inf), match=["1 problem"])
    assert "negative" not in msg


# --------------------------------------------------------------------------------------
# 3. A carried column the outputs cannot store made Plan.to_dir fail (sites.geojson,
#    assignment.parquet: the plan lost) or skip a GIS file
# --------------------------------------------------------------------------------------


def _carried(kind: str, n: int) -> pd.Series:
    values = {
        "mixed types": lambda: pd.Series([1, "a", 2.5, None] * (n // 4) + [1] * (n % 4),
                                         dtype=object),
        "lists of mixed types": lambda: pd.Series([[i, "a"] for i in range(n)], dtype=object),
        "complex": lambda: pd.Series(np.arange(n) + 1j),
        "shapely objects": lambda: pd.Series([shapely.Point(i, i) for i in range(n)],
                                             dtype=object),
        "a second GeoSeries": lambda: gpd.GeoSeries([shapely.Point(i, i) for i in range(n)]),
        "fractions": lambda: pd.Series([fractions.Fraction(i, 3) for i in range(n)],
                                       dtype=object),
        "integers beyond 64 bits": lambda: pd.Series([2**70 + i for i in range(n)],
                                                     dtype=object),
        "periods": lambda: pd.Series(pd.period_range("2020", periods=n, freq="D")),
        "sparse": lambda: pd.Series(pd.arrays.SparseArray(np.zeros(n))),
        "arrow dates": lambda: pd.Series(pd.array(
            [datetime.date(2020, 1, 1)] * n, dtype=pd.ArrowDtype(pa.date32()))),
        "arrow durations": lambda: pd.Series(pd.array(
            [datetime.timedelta(seconds=1)] * n, dtype=pd.ArrowDtype(pa.duration("s")))),
        "categorical periods": lambda: pd.Series(pd.Categorical(
            pd.period_range("2020", periods=n, freq="D"))),
    }
    return values[kind]()


@pytest.mark.parametrize("kind", ["mixed types", "lists of mixed types", "complex",
                                  "shapely objects", "a second GeoSeries", "fractions",
                                  "integers beyond 64 bits", "periods", "sparse",
                                  "arrow dates", "arrow durations", "categorical periods"])
@pytest.mark.parametrize("table", ["demand", "sites"])
def test_a_carried_column_never_fails_the_outputs(lu, tmp_path, kind, table):
    demand, sites, expected = lu
    if table == "demand":
        demand = demand.assign(extra=_carried(kind, len(demand)).set_axis(demand.index))
    else:
        sites = sites.assign(extra=_carried(kind, len(sites)).set_axis(sites.index))
    plan = _plan(demand, sites)
    assert sorted(plan.sites["site_id"]) == expected
    # no CoverageWarning and no pandas note on the JSON date format (both errors here):
    # every output written
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.Pandas4Warning)
        out = plan.to_dir(tmp_path / "plan", map=False, report=False,
                          assignment_format="parquet")
    back = pd.read_parquet(out / "assignment.parquet")
    assert len(back) == len(demand)
    assert (out / "sites.geojson").exists() and (out / "sites.parquet").exists()
    carried = (plan.assignment if table == "demand" else plan.sites)["extra"]
    assert carried.notna().any()
    if table == "sites" and kind == "arrow dates":  # GeoJSON dates are ISO 8601 text
        doc = json.loads((out / "sites.geojson").read_text())
        assert doc["features"][0]["properties"]["extra"].startswith("2020-01-01")


# --------------------------------------------------------------------------------------
# 4. Text that is not valid Unicode (a lone surrogate, e.g. a file name decoded with
#    surrogateescape) ended in pyarrow's UnicodeEncodeError, or in a to_dir that failed
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["demand_id", "name", "note"])
def test_lone_surrogates_are_refused(lu, column):
    demand, _, _ = lu
    values = demand["demand_id"].astype(object).to_numpy().copy()
    values[2] = "bad\udcff"
    raises_with(as_demand, demand.assign(**{column: pd.Series(values, dtype=object)}),
                match=[repr(column), "not valid Unicode", "row 3"])


# --------------------------------------------------------------------------------------
# 5. Ids 1 and 1.0 in one object column were two ids ("1", "1.0")
# --------------------------------------------------------------------------------------


def test_ids_one_and_one_point_zero_are_the_same_id(lu):
    _, sites, _ = lu
    ids = pd.Series([1, 1.0] + list(range(2, len(sites))), dtype=object)
    raises_with(as_sites, sites.assign(site_id=ids), match=["duplicate site_id", "rows 1, 2"])
    floats = pd.Series([float(i) for i in range(len(sites))], dtype=object)
    out = as_sites(sites.assign(site_id=floats), colocated_m=0)
    assert out["site_id"].tolist() == [str(i) for i in range(len(sites))]


# --------------------------------------------------------------------------------------
# 6. A list in the demand's tiers column or the sites' local_breakout column ended in
#    "TypeError: unhashable type: 'list'"
# --------------------------------------------------------------------------------------


def test_lists_in_tiers_and_local_breakout_are_refused(lu):
    demand, sites, _ = lu
    tiers = pd.Series([["metro-colo"]] * len(demand), dtype=object)
    raises_with(coverage.plan_sites, demand.assign(tiers=tiers), sites,
                match=["unknown tier name", "metro-colo", "rows 1, 2"])
    lbo = pd.Series([[True]] * len(sites), dtype=object)
    raises_with(coverage.plan_sites, demand, sites.assign(local_breakout=lbo),
                match=["local_breakout", "not yes/no", "row(s) 1, 2"])


# --------------------------------------------------------------------------------------
# 7. plan_sites said one problem at a time: the options, then the demand, then the sites,
#    then the tiers column
# --------------------------------------------------------------------------------------


def test_plan_sites_names_every_problem_at_once(lu):
    demand, sites, _ = lu
    bad_demand = demand.assign(population=demand["population"].where(demand.index != 2, -1))
    bad_sites = sites.assign(lat=sites["lat"].where(sites.index != 2, 200.0))
    msg = raises_with(coverage.plan_sites, bad_demand, bad_sites, failures=-1,
                      match=["failures", "Invalid demand input", "population is negative",
                             "Invalid sites input", "latitude outside"])
    assert msg.count("failures (--failures)") == 1
    raises_with(coverage.plan_sites, demand.assign(tiers="nope", service_class="bogus"),
                sites.assign(local_breakout="maybe"),
                match=["unknown tier name(s) 'nope'", "local_breakout",
                       "unknown service_class values 'bogus'"])


# --------------------------------------------------------------------------------------
# 8. build_reach took any array: NaN coordinates ended in scikit-learn's "Input contains
#    NaN", a latitude of 200 was used, lengths that differ in a broadcast error, ...
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, words", [
    ({"demand_lat_deg": "nan"}, ["demand latitude", "not a finite number", "row 4"]),
    ({"demand_lat_deg": 200.0}, ["demand latitude", "outside [-90, 90]", "row 4"]),
    ({"site_lon_deg": np.inf}, ["site longitude", "not a finite number", "row 4"]),
    ({"demand_lon_deg": "short"}, ["demand_lon_deg", "values, demand_lat_deg"]),
    ({"site_lat_deg": 45.0}, ["site_lat_deg", "one number per point"]),
    ({"site_lat_deg": "bool"}, ["site_lat_deg", "one number per point"]),
    ({"budget_ms": "30"}, ["budget_ms", "'30'"]),
    ({"budget_ms": float("nan")}, ["budget_ms", "nan"]),
    ({"budget_ms": True}, ["budget_ms", "True"]),
    ({"model": None}, ["model", "LatencyModel"]),
    ({"chunk_rows": 0}, ["chunk_rows", "0"]),
    ({"access": ["ftth"] * 3}, ["access", "3 values"]),
    ({"radius_shrink_km": [1.0]}, ["radius_shrink_km", "1 values"]),
    ({"radius_shrink_km": "nan"}, ["radius_shrink_km", "row 4"]),
])
def test_build_reach_refuses_bad_arguments(lu, change, words):
    demand, sites, _ = lu
    args = {"demand_lat_deg": demand["lat"].to_numpy(), "demand_lon_deg": demand["lon"],
            "site_lat_deg": sites["lat"], "site_lon_deg": sites["lon"].to_numpy(),
            "model": coverage.LatencyModel(), "budget_ms": 30.0}
    for key, value in change.items():
        if value == "nan" and key == "radius_shrink_km":
            value = np.where(np.arange(len(demand)) == 3, np.nan, 0.0)
        elif value == "nan":
            value = np.where(np.arange(len(demand)) == 3, np.nan, args[key])
        elif value == "bool":
            value = args[key] > 49.6
        elif value == "short":
            value = args[key].to_numpy()[:-1]
        elif key.endswith("_deg") and not isinstance(value, str) and key != "site_lat_deg":
            base = np.asarray(args[key], dtype=np.float64).copy()
            base[3] = value
            value = base
        args[key] = value
    raises_with(coverage.build_reach, **args, match=words)


def test_build_reach_takes_series_lists_and_text_numbers(lu):
    demand, sites, _ = lu
    model = coverage.LatencyModel()
    base = coverage.build_reach(demand["lat"], demand["lon"], sites["lat"], sites["lon"],
                                model=model, budget_ms=30)
    other = coverage.build_reach(demand["lat"].astype("Float64").sample(frac=1.0).sort_index(),
                                 demand["lon"].astype(str).tolist(), sites["lat"].tolist(),
                                 sites["lon"].astype(object), model=model, budget_ms=30)
    assert base.nnz == other.nnz and np.array_equal(base.indices, other.indices)


# --------------------------------------------------------------------------------------
# 9. A service_class column with an empty cell skipped the map ("'float' object has no
#    attribute 'replace'")
# --------------------------------------------------------------------------------------


def test_an_empty_service_class_cell_keeps_the_map(lu):
    from coverage.outputs.maps import plan_map

    demand, sites, _ = lu
    classes = pd.Series(["realtime"] + [None] * (len(demand) - 1), dtype=object)
    plan = _plan(demand.assign(service_class=classes), sites)
    plan_map(plan, tiles=None)


# --------------------------------------------------------------------------------------
# 10. compare: a sovereign column of 1.0 / 0.0 (a true/false column with a gap, as pandas
#     stores it) was refused; a load_rps of lists or negatives was "load_rps sums to 0"
# --------------------------------------------------------------------------------------


def test_sovereign_float_flags_are_flags():
    from coverage.comparison import sovereign_mask

    mask = sovereign_mask(pd.DataFrame({"sovereign": [1.0, 0.0, np.nan]}))
    assert mask.tolist() == [True, False, False]


def test_compare_names_a_bad_load_column(lu):
    demand, sites, _ = lu
    raises_with(coverage.compare, demand.assign(load_rps=-1.0), sites,
                match=["load_rps", "a number >= 0", "row 1 (-1.0)"])


# --------------------------------------------------------------------------------------
# 11. Messages about frames: an empty frame was told about files and extensions, a plain
#     DataFrame holding shapely points only about missing lat/lon columns
# --------------------------------------------------------------------------------------


def test_messages_speak_of_frames(lu):
    demand, _, _ = lu
    msg = raises_with(as_demand, demand.iloc[:0], match=["no rows", "at least one row"])
    assert "extension" not in msg
    plain = pd.DataFrame(_points(demand))
    raises_with(as_demand, plain, match=["'geometry'", "GeoDataFrame"])
    nested = demand.set_axis(pd.MultiIndex.from_product([["x"], demand.columns]), axis=1)
    raises_with(as_demand, nested, match=["MultiIndex", "get_level_values"])


def test_a_geodataframe_without_crs_plans_as_degrees(lu):
    demand, sites, expected = lu
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", coverage.CoverageWarning)
        plan = _plan(_points(demand).set_crs(None, allow_override=True), sites)
    assert sorted(plan.sites["site_id"]) == expected


def test_carried_columns_made_text_are_named(lu, caplog):
    demand, _, _ = lu
    with caplog.at_level(logging.INFO, logger="coverage.inputs.tables"):
        as_demand(demand.assign(extra=_carried("fractions", len(demand)).set_axis(demand.index)))
    assert "'extra'" in caplog.text and "as text" in caplog.text


def test_input_validation_error_is_the_only_error(lu):
    demand, sites, _ = lu
    with pytest.raises(InputValidationError):
        coverage.plan_sites(demand.assign(population=True), sites)


def test_changing_a_plans_tables_changes_nothing_of_the_plan(lu, tmp_path):
    """Tester 104: ``plan.failures`` and ``plan.sites`` were the plan's own tables, so a
    notebook's ``f = plan.failures; f["population_outside_budget"] /= 1e6`` (or a dropped
    row) changed what ``to_dir`` wrote, against ``summary.json``, and the report trusted
    it. Each table attribute is now a copy: the written tables agree with the summary."""
    demand, sites, _ = lu
    plan = coverage.plan_sites(demand, sites, budget_ms=30, failures=1)
    before = {name: getattr(plan, name).copy(deep=True)
              for name in ("sites", "failures", "demand", "candidates", "rollout")}
    f = plan.failures
    f["population_outside_budget"] /= 1e6
    s = plan.sites
    s["population_primary"] = 0.0
    d, c, r = plan.demand, plan.candidates, plan.rollout
    d.loc[d.index[0], "population"] = -1.0
    c["chosen"] = False
    r.iloc[0, 0] = 99
    for name, want in before.items():
        pd.testing.assert_frame_equal(getattr(plan, name), want)
    out = plan.to_dir(tmp_path / "plan")
    written = pd.read_csv(out / "sites.csv")
    assert written["population_primary"].sum() == pytest.approx(
        plan.summary()["population_covered"], rel=1e-9)
    assert len(written) == plan.summary()["site_count"]


def _isolated(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` towns 10 degrees apart (500 km and more), each with its own site: a plan of
    ``n`` sites at 30 ms."""
    rng = np.random.default_rng(seed)
    lat = np.repeat(np.arange(-60.0, 61.0, 10.0), 35)[:n]
    lon = np.tile(np.arange(-170.0, 180.0, 10.0), 13)[:n]
    demand = pd.DataFrame({"demand_id": [f"d{i}" for i in range(n)], "lat": lat, "lon": lon,
                           "population": rng.integers(100, 1000, n).astype(float)})
    sites = pd.DataFrame({"site_id": [f"s{i}" for i in range(n)], "lat": lat + 0.01,
                          "lon": lon})
    return demand, sites


def test_site_ids_are_categoricals_and_their_parquet_files_read_together(tmp_path):
    """The site-id columns and coverage_status are categoricals in memory (a smaller
    national table); written to Parquet their codes' width followed the site count (int8
    up to 127 sites, int16 above), and a batch's files of plans of 10 and 396 sites could
    not be read as one dataset (ArrowInvalid; a reviewer's find). They are text on disk."""
    files = []
    for n in (5, 150):
        demand, sites = _isolated(n, n)
        plan = coverage.plan_sites(demand, sites, budget_ms=30, failures=0)
        assert plan.summary()["site_count"] == n
        for col in ("primary_site_id", "backup_site_id", "n1_site_id", "coverage_status"):
            assert isinstance(plan.demand[col].dtype, pd.CategoricalDtype), col
        # every chosen site a category, those serving nobody counted as 0
        assert len(plan.demand["primary_site_id"].value_counts()) == n
        out = plan.to_dir(tmp_path / f"plan{n}", map=False, report=False, gis=False,
                          assignment_format="parquet")
        files.append(out / "assignment.parquet")
        schema = pa.parquet.read_schema(files[-1])
        assert pa.types.is_large_string(schema.field("primary_site_id").type) or \
            pa.types.is_string(schema.field("primary_site_id").type)
    both = pd.read_parquet(files)
    assert len(both) == 155 and both["primary_site_id"].notna().all()
    assert set(both["primary_site_id"]) == {f"s{i}" for i in range(5)} | {
        f"s{i}" for i in range(150)}


# --------------------------------------------------------------------------------------
# A hostile tester's API misuse (t122): each was a bare Python error or a wrong fix
# --------------------------------------------------------------------------------------


def test_a_minimum_population_as_text_is_refused_with_the_number():
    """``geonames_candidates('ES', min_population='100000')`` raised pandas' TypeError
    "Invalid comparison between dtype=float64 and str"."""
    raises_with(geonames_candidates, "ES", min_population="100000",
                match=["min_population must be a number of people >= 0",
                       "str '100000'", "min_population=100000"])
    msg = raises_with(geonames_demand, "XX", -1, match=["--country 'XX'", "int -1"])
    assert msg.count("\n") == 1  # both problems in one message
    raises_with(geonames_demand, "LU", None, option="--demo-min-population",
                match=["--demo-min-population must be a number", "e.g. --demo-min-population "])
    # a fraction is a threshold like any other (review 124: refused by the first version)
    assert len(geonames_candidates("ES", 100_000.5)) == len(
        geonames_candidates("ES", 100_001))
    assert len(geonames_candidates("ES", 100_000.0)) == len(
        geonames_candidates("ES", np.int64(100_000))) == len(geonames_candidates("ES", 100_000))


def _metres(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as a plain DataFrame whose lat/lon columns hold EPSG:3857 metres."""
    g = _points(df, "EPSG:3857")
    return pd.DataFrame(g.drop(columns=g.geometry.name).assign(lat=g.geometry.y,
                                                               lon=g.geometry.x))


def test_projected_metres_in_a_frame_point_to_as_demand_not_a_missing_crs_argument(lu):
    """``plan_sites(df_in_metres, sites)`` said "Fix: pass crs=... / --demand-crs ...",
    an argument plan_sites does not have and a flag of the command line: the fix names
    as_demand(df, crs=...) (as_sites for the sites), and following it plans."""
    demand, sites, expected = lu
    msg = raises_with(coverage.plan_sites, _metres(demand), sites, budget_ms=30,
                      match=["projected metres", "as_demand(df, crs='EPSG:3857')",
                             "plan_sites, budget_sweep and compare have no crs argument"])
    assert "--demand-crs" not in msg and "pass crs=" not in msg
    raises_with(coverage.plan_sites, demand, _metres(sites), budget_ms=30,
                match=["as_sites(df, crs='EPSG:3857')"])
    raises_with(as_demand, demand, crs="EPSG:99999",
                match=["not a valid CRS", "as_demand(df, crs='EPSG:3857')"])
    plan = _plan(as_demand(_metres(demand), crs="EPSG:3857"),
                 as_sites(_metres(sites), crs="EPSG:3857"))
    assert sorted(plan.sites["site_id"]) == expected


def test_a_geocentric_crs_is_refused_up_front(lu, tmp_path):
    """A GeoDataFrame in EPSG:4978 (X/Y/Z metres from the Earth's centre) was taken as a
    map's x/y and ended in NoFeasiblePlanError; so did such a file, and crs='EPSG:4978'."""
    demand, sites, expected = lu
    geocentric = _points(demand).to_crs("EPSG:4978")
    raises_with(coverage.plan_sites, geocentric, sites, budget_ms=30,
                match=["the GeoDataFrame's CRS EPSG:4978", "geocentric",
                       "gdf.to_crs('EPSG:4326')"])
    raises_with(as_demand, demand, crs="EPSG:4978",
                match=["crs EPSG:4978", "geocentric", "as_demand(df, crs='EPSG:4326')"])
    raises_with(as_sites, _points(sites).set_crs("EPSG:5773", allow_override=True),
                match=["Vertical CRS", "gdf.set_crs("])
    path = tmp_path / "geocentric.gpkg"
    geocentric.to_file(path)
    raises_with(coverage.read_demand, path, match=["the file's CRS EPSG:4978", "re-save it"])
    # geographic 3-D and projected CRSs are still read
    assert sorted(_plan(_points(demand).to_crs("EPSG:4979"), sites).sites["site_id"]) == expected
    assert sorted(_plan(_points(demand).to_crs("EPSG:3035"), sites).sites["site_id"]) == expected


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "near", True])
def test_a_bad_colocated_threshold_is_refused(bad):
    """``colocated_m=-1`` or NaN turned the co-located check off without a word
    (tester 145); 0 turns it off on purpose."""
    from coverage.errors import InputValidationError
    from coverage.inputs.tables import as_sites

    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [45.0, 45.00001], "lon": [5.0, 5.0]})
    with pytest.raises(InputValidationError, match="colocated_m must be a number of metres"):
        as_sites(sites, colocated_m=bad)
    assert len(as_sites(sites, colocated_m=0)) == 2


def test_a_budget_given_as_text_is_read_as_the_command_line_reads_it(lu):
    """Tester 174: ``budget_ms="30"`` was refused by the API ("must be a positive number
    ... got '30'") while ``"realtime"`` and the command line's ``--budget-ms 30`` ran."""
    demand, sites, _ = lu
    plan = coverage.plan_sites(demand, sites, budget_ms=" 30 ", kmedian_time_limit_s=1)
    assert plan.summary()["budget_ms"] == 30.0
    with pytest.raises(InputValidationError, match=r"budget_ms \(--budget-ms\) must be a "
                       r"positive number .* got '3O'"):
        coverage.plan_sites(demand, sites, budget_ms="3O")


def test_the_rows_of_a_table_are_counted_in_its_order_whatever_its_index(lu):
    """Tester 174: a frame indexed 7, 10, 13, ... with a missing latitude at label 16 read
    "row 4": neither df.loc[4] nor df.iloc[4]. The message says how rows are counted."""
    demand, sites, _ = lu
    d = demand.set_index(demand.index * 3 + 7)
    d.loc[16, "lat"] = np.nan
    msg = raises_with(coverage.plan_sites, d, sites, match=["(row 4)"])
    assert "rows counted from 1 in the table's order: row r is df.iloc[r - 1]" in msg
    assert np.isnan(d.iloc[4 - 1]["lat"])


# --------------------------------------------------------------------------------------
# Tester 192: the plan shares nothing the caller can change afterwards
# --------------------------------------------------------------------------------------


def test_the_plan_keeps_its_own_copies_of_dict_options(lu):
    """The caller's ``service_classes`` and ``inputs`` dicts, changed after planning,
    changed the plan's summary (its parameters said 100 ms p50 where the plan was solved
    at 35 ms p99). The plan keeps copies."""
    demand, sites, _ = lu
    classes = {"gold": {"budget_ms": 35, "percentile": "p99"}}
    inputs = {"demand": {"path": "d.csv"}}
    plan = coverage.plan_sites(
        demand.assign(service_class=np.where(np.arange(len(demand)) % 2 == 0, "gold", "")),
        sites, budget_ms=31, service_classes=classes, inputs=inputs)
    before = plan.summary()
    classes["gold"].update(budget_ms=100, percentile="p50")
    classes["silver"] = {"budget_ms": 1}
    inputs["demand"]["path"] = "CHANGED.csv"
    after = plan.summary()
    assert after["parameters"]["service_classes"] == before["parameters"]["service_classes"]
    assert after["parameters"]["service_classes"]["gold"]["budget_ms"] == 35
    assert after["inputs"] == before["inputs"]


def test_an_edit_of_plan_info_does_not_reach_the_plan(lu, tmp_path):
    """``plan.info`` was the plan's own dict: ``info["site_count"] = 999`` went into
    ``summary.json`` beside 11 rows of ``sites.csv``. It is a copy, as the tables are."""
    demand, sites, ids = lu
    plan = coverage.plan_sites(demand, sites, budget_ms=30)
    plan.info["site_count"] = 999
    plan.info["parameters"]["budget_ms"] = -1
    assert plan.summary()["site_count"] == len(ids)
    assert plan.summary()["parameters"]["budget_ms"] == 30
    plan.to_dir(tmp_path / "out", map=False, report=False, gis=False)
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["site_count"] == len(ids)
    assert len(pd.read_csv(tmp_path / "out" / "sites.csv")) == len(ids)


def test_a_signalling_decimal_population_is_a_missing_value(lu):
    """``Decimal('sNaN')`` raised decimal.InvalidOperation from inside pandas (no row, no
    fix); it is a missing population, named with its row, as ``Decimal('NaN')`` is."""
    import decimal

    demand, _, _ = lu
    pops = [decimal.Decimal("sNaN") if i == 4 else decimal.Decimal(int(x))
            for i, x in enumerate(demand["population"])]
    raises_with(as_demand, demand.assign(population=pops), match=["row 5", "population"])


def test_text_options_are_read_as_text_columns_are(lu):
    """An ``access`` column of "FTTH" was accepted and ``access="FTTH"`` refused;
    ``percentile=" P99"`` likewise: options are stripped and lower-cased as column values
    are, and plan the same."""
    demand, sites, ids = lu
    plan = coverage.plan_sites(demand, sites, budget_ms=30, access=" FTTH ",
                               percentile="P99")
    assert sorted(plan.sites["site_id"]) == ids
    assert plan.summary()["parameters"]["access_default"] == "ftth"


def test_a_cost_objective_says_why_the_placement_was_skipped(lu):
    """A cost plan's ``kmedian_status`` was a bare "skipped"; it says why."""
    demand, sites, _ = lu
    plan = coverage.plan_sites(demand, sites.assign(cost=1.0 + np.arange(len(sites))),
                               budget_ms=30)
    assert plan.summary()["kmedian_status"].startswith("skipped (cost objective")


def test_a_models_capitalised_access_class_is_taken_whatever_its_case(lu):
    """Review 164: lower-casing the access option refused a model's own "Starlink"
    class. The option is matched to the model's class, whatever its case."""
    from coverage.model.latency import LatencyModel

    demand, sites, _ = lu
    model = LatencyModel(access_profiles_ms={"ftth": (5.0, 15.0), "Starlink": (25.0, 60.0)})
    for given in ("Starlink", "starlink", " STARLINK "):
        plan = coverage.plan_sites(demand, sites, budget_ms=120, model=model, access=given)
        assert plan.summary()["parameters"]["access_default"] == "Starlink"


def test_an_access_column_names_a_models_capitalised_class_whatever_its_case(lu):
    """Review 164: an access column of "Starlink" was read as "starlink", accepted, and
    then unknown to the model whose class is "Starlink"; it plans as the option does."""
    from coverage.model.latency import LatencyModel

    demand, sites, _ = lu
    model = LatencyModel(access_profiles_ms={"ftth": (5.0, 15.0), "Starlink": (25.0, 60.0)})
    by_option = coverage.plan_sites(demand, sites, budget_ms=120, model=model,
                                    access="Starlink")
    column = demand.assign(access=np.where(np.arange(len(demand)) % 2 == 0, "STARLINK",
                                           "starlink"))
    by_column = coverage.plan_sites(column, sites, budget_ms=120, model=model)
    assert sorted(by_column.sites["site_id"]) == sorted(by_option.sites["site_id"])
    assert set(by_column.demand["access"].astype(str)) == {"Starlink"}
