"""Collecting validation problems into one message: what, where (rows) and the fix.

Used by every input reader (:mod:`coverage.inputs.tables`, :mod:`coverage.inputs.raster`): a
reader adds each problem it finds to a :class:`ProblemReport` and raises them all at once as one
:class:`~coverage.errors.InputValidationError`.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError

__all__ = ["Problem", "ProblemReport", "crs_kind", "file_kind", "format_rows",
           "format_values", "plain_value", "special_file_problem", "typed_value",
           "whole_number"]


@dataclass(frozen=True)
class Problem:
    """One validation problem: what is wrong, where (1-based rows) and how to fix it."""

    what: str
    fix: str
    rows: npt.NDArray[np.int64] | None = None

    def render(self) -> str:
        text = self.what.rstrip(". ")
        if self.rows is not None and len(self.rows):
            text += f" ({format_rows(self.rows)})"
        return f"{text}. Fix: {self.fix.rstrip('. ')}."


@dataclass
class ProblemReport:
    """Collects the problems of one input and raises them all at once."""

    source: str
    kind: str
    problems: list[Problem] = field(default_factory=list)
    #: How messages name the reading options: ``"cli"`` (``--demand-crs EPSG:3857``),
    #: ``"toml"`` (``demand_crs = "EPSG:3857"``, a batch file's ``[base]``) or ``"api"``
    #: (``crs='EPSG:3857'``, a reader's keyword).
    option_style: str = "cli"

    def option(self, what: str, value: str | None = None) -> str:
        """The name of this input's reading option ``what`` (``crs``, ``layer``) as the
        caller spells it, with ``value`` when given."""
        prefix = "candidates" if self.kind == "sites" else "demand"
        if self.option_style == "api":  # a reader's own keyword: crs='EPSG:4326'
            return f"{what}=" + ("..." if value is None else repr(value))
        if self.option_style == "toml":
            return f"{prefix}_{what}" + ("" if value is None else f' = "{value}"')
        return f"--{prefix}-{what}" + ("" if value is None else f" {value}")

    def crs_option(self, value: str | None = None) -> str:
        """How this input's caller gives the CRS of its coordinates, with ``value`` when
        given: the reader's keyword and the flag (``crs=... / --demand-crs``); for an
        in-memory table (``"api"`` style) of demand or sites, the validator that takes it
        (``as_demand(df, crs=...)``: :func:`coverage.plan_sites` and the other functions
        that take a table have no ``crs`` argument)."""
        shown = "..." if value is None else repr(value)
        if self.option_style != "api":
            return f"crs={shown} / {self.option('crs', value)}"
        if self.kind in ("demand", "sites"):
            reader = "as_sites" if self.kind == "sites" else "as_demand"
            return f"{reader}(df, crs={shown})"
        return f"crs={shown}"

    def crs_fix(self, example: str) -> str:
        """The fix for coordinates in another CRS than they were taken in: how to give the
        CRS they are in (``example``, e.g. ``"EPSG:3857"``), as this input's caller can."""
        if self.kind not in ("demand", "sites"):  # (regions, UPFs: no CRS option; tester
            # 151: a regions file was told to pass --demand-crs)
            if self.option_style == "api":
                return ("give the coordinates in WGS84 degrees (lat, lon), or a "
                        f"GeoDataFrame with its CRS set, e.g. {example} (it is converted)")
            return ("give the coordinates in WGS84 degrees (lat, lon), or the file as a "
                    f"GeoPackage or GeoJSON with its CRS set, e.g. {example} (it is "
                    "converted)")
        if self.option_style == "api" and self.kind in ("demand", "sites"):
            return (f"give the CRS the coordinates are in with {self.crs_option(example)} and "
                    "pass the table it returns on (plan_sites, budget_sweep and compare have "
                    "no crs argument), or pass a GeoDataFrame with its CRS set")
        return (f"pass {self.crs_option()} with the CRS the coordinates are in, e.g. "
                f"{self.crs_option(example)}")

    def add(self, what: str, fix: str, mask: npt.ArrayLike | None = None) -> None:
        rows = None
        if mask is not None:
            rows = np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64) + 1
        self.problems.append(Problem(what, fix, rows))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        n = len(self.problems)
        head = f"Invalid {self.kind} input {self.source!r}: {n} problem{'s' if n > 1 else ''}"
        if self.option_style == "api" and any(p.rows is not None for p in self.problems):
            # a table's rows by position, whatever its index (tester 174: "row 4" of a
            # frame indexed 7, 10, 13, 16 was neither df.loc[4] nor df.iloc[4])
            head += " (rows counted from 1 in the table's order: row r is df.iloc[r - 1])"
        body = "\n".join(f"  {i}. {p.render()}" for i, p in enumerate(self.problems, 1))
        raise InputValidationError(f"{head}\n{body}")


def format_rows(rows: npt.ArrayLike, limit: int = 10) -> str:
    """Format 1-based row numbers for an error message.

    Parameters
    ----------
    rows : array_like of int
        1-based data-row numbers (row 1 is the first data row after a CSV header).
    limit : int, default 10
        Show at most this many numbers; the rest is summarised as "and N more".

    Returns
    -------
    str
        E.g. ``"row 3"``, ``"rows 1, 4, 9"`` or ``"rows 1, 2, ..., 10 and 5 more"``.

    Examples
    --------
    >>> format_rows([3])
    'row 3'
    >>> format_rows(range(1, 14), limit=3)
    'rows 1, 2, 3 and 10 more'
    """
    arr = np.asarray(rows, dtype=np.int64).ravel()
    if arr.size == 0:
        return "no rows"
    shown = ", ".join(str(int(r)) for r in arr[:limit])
    more = f" and {arr.size - limit} more" if arr.size > limit else ""
    return f"{'row' if arr.size == 1 else 'rows'} {shown}{more}"


def format_values(values: Iterable[Any], limit: int = 10) -> str:
    """Quote the first ``limit`` distinct values for a message."""
    uniq = list(dict.fromkeys(str(v) for v in values))
    shown = ", ".join(repr(v) for v in uniq[:limit])
    return shown + (f" and {len(uniq) - limit} more" if len(uniq) > limit else "")


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for a message (``True``, not
    ``np.True_``; ``inf``, not ``np.float64(inf)``); anything else as it is.

    Examples
    --------
    >>> repr(plain_value(np.float64(1.5))), repr(plain_value("a"))
    ('1.5', "'a'")
    """
    return value.item() if isinstance(value, np.generic) else value


def _iso(value: Any) -> Any:
    """A date or time (``datetime``, ``date``, ``time``, a pandas ``Timestamp``, a NumPy
    ``datetime64``) as its ISO 8601 text, a missing one (``NaT``) as ``None``, a path
    (``os.PathLike``) as its text; anything else as it is."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        import pandas as pd

        return pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return None if value != value else value.isoformat()  # (NaT is not itself)
    return value


def plain_values(value: Any, *, json: bool = False) -> Any:
    """``value`` with every NumPy scalar and array inside dicts, lists and tuples (keys
    too) a Python value, every date or time ISO 8601 text (a pandas ``Timestamp`` in
    ``inputs=``: tester 192; ``NaT`` ``None``) and every path its text; lists and tuples
    keep their type. With ``json``, JSON's values: NaN and the infinities ``None`` (JSON
    has neither) and every tuple (named ones too) a list, so the result equals the JSON
    text read back.

    Examples
    --------
    >>> plain_values({"a": [np.float64(1.5), (np.int64(2),)]})
    {'a': [1.5, (2,)]}
    >>> plain_values({np.int64(1): (np.array([np.nan, 2.0]),)}, json=True)
    {1: [[None, 2.0]]}
    >>> plain_values({"at": dt.datetime(2026, 12, 1, 10, 30)})
    {'at': '2026-12-01T10:30:00'}
    """
    if isinstance(value, dict):
        return {plain_value(_iso(k)): plain_values(v, json=json) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        # (datetime64[ns] values become integers by tolist(): each one as a date instead;
        # review 165)
        value = list(value) if value.dtype.kind == "M" else value.tolist()
    if json and isinstance(value, list | tuple):
        return [plain_values(v, json=True) for v in value]
    if type(value) in (list, tuple):  # (not a named tuple's subclass)
        return type(value)(plain_values(v) for v in value)
    value = plain_value(_iso(value))
    if json and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def typed_value(value: Any, limit: int = 60) -> str:
    """``value`` for a message about its type: the type's name and a short repr.

    Examples
    --------
    >>> typed_value("100"), typed_value(None)
    ("str '100'", 'NoneType None')
    """
    text = " ".join(repr(plain_value(value)).split())  # one line (a Series' repr has many)
    return f"{type(value).__name__} {text[:limit]}{'...' if len(text) > limit else ''}"


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number (``1000``, ``1000.0``, ``1e6``, numpy's),
    else ``None``: a bool, text, a fraction or a non-finite number is none here.

    Examples
    --------
    >>> whole_number(1e3), whole_number(np.int64(7)), whole_number("7"), whole_number(2.5)
    (1000, 7, None, None)
    """
    if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if not math.isfinite(value) or value != math.floor(value):
        return None
    return int(value)


def crs_kind(src: Any) -> str:
    """What kind of CRS a pyproj CRS is, for a message: "geocentric (...)", "an
    Engineering CRS", "a Vertical CRS" ("a Engineering CRS" before: tester 146)."""
    if src.is_geocentric:
        return "geocentric (3-D X/Y/Z metres from the Earth's centre)"
    name = str(src.type_name or "CRS")
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def file_kind(path: str | os.PathLike[str]) -> str:
    """What a path that is not a regular file is: "a directory", "a named pipe (FIFO)",
    ..."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "a symbolic link to nothing" if os.path.islink(path) else "not readable"
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def special_file_problem(path: str | os.PathLike[str], what: str) -> str | None:
    """The message for an option file (``what``: "latency model file", ...) that exists
    and is not a regular file or a directory (a named pipe, a device), else ``None``.

    Opening a named pipe with no writer blocks for ever, and a pipe (``<(cat f.toml)``)
    cannot be read twice, as a check and the run do (tester 159: ``--tiers`` hung, or
    said the file had none of its tables)."""
    import stat

    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except (OSError, ValueError):  # missing, too long, not allowed: the reader says so
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return (f"{p}: the {what} is {file_kind(p)}, not a regular file. Fix: pass the path "
            "of a file (a pipe can be read only once, and the checks and the run each "
            "read it; a named pipe without a writer blocks; save it to a file first)")
