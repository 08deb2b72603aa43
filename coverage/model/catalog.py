"""TOML catalogs of named entries: what :mod:`.tiers` and :mod:`.workloads` share.

A catalog is a built-in TOML file of ``[SECTION.NAME]`` tables (``coverage/model/FILE``,
shipped as package data) that a user's TOML file may amend: a table naming a built-in
entry overrides the fields it sets, a new name adds an entry with the defaults of the
entry class. A :class:`CatalogFormat` describes one kind of catalog (the entry kind, e.g.
``"tier"``, the section key, e.g. ``"tiers"``, the built-in file, the allowed keys, the
fix text and the field rules); the functions here read, check and merge such files with
the same messages for every kind, and :class:`Catalog` is the base of the catalog
classes (lookup by name, :meth:`Catalog.from_spec`, :meth:`Catalog.summary`).

The rules of each field stay with the entry kind (its ``field_problem``); only the
generic checks (names, text, true/false, sources, finite numbers) live here.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields, replace
from functools import wraps
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import numpy as np

from ..errors import InputValidationError

__all__ = ["BUILTIN_SOURCE", "Pair", "CatalogFormat", "Catalog", "is_number", "as_pair",
           "ms_pair_problem", "name_problem", "text_problem", "bool_problem", "sources_problem",
           "closest", "unknown_keys_text", "folded", "check_entry", "table_problems", "merge",
           "read_toml", "section_table", "read_builtin", "load_file"]

logger = logging.getLogger(__name__)

#: ``Catalog.source`` of a built-in catalog.
BUILTIN_SOURCE = "built-in"

#: ``(p50_ms, p99_ms)`` or ``(min, max)``.
Pair = tuple[float, float]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Entry(Protocol):
    """What a catalog entry (a frozen dataclass) offers."""

    @property
    def name(self) -> str: ...  # noqa: D102

    def to_dict(self) -> dict[str, Any]: ...  # noqa: D102


E = TypeVar("E", bound=Entry)


@dataclass(frozen=True)
class CatalogFormat(Generic[E]):
    """One kind of TOML catalog: its names, texts and per-field rules.

    Parameters
    ----------
    kind : str
        The entry kind in messages, e.g. ``"tier"``.
    section : str
        The top-level key of the entries' tables, e.g. ``"tiers"`` (``[tiers.NAME]``).
    builtin_file : str
        The built-in catalog's file in ``coverage/model``, e.g. ``"tiers.toml"``.
    entry_type : type
        The entry class, called as ``entry_type(name, **fields)``.
    keys : tuple of str
        Keys a ``[SECTION.NAME]`` table may hold.
    field_problem : callable
        ``field_problem(key, value)``: what is wrong with ``value`` for the field ``key``
        (``None``: nothing).
    pair_keys : tuple of str
        Fields given as ``[a, b]``, stored as tuples of two floats.
    float_keys : tuple of str
        Number fields stored as floats (``sources`` is always a tuple of text; other
        fields are stored as the TOML gives them).
    fix : str
        What each ``[SECTION.NAME]`` may set (the fix of an invalid entry or catalog).
    example : str
        An example table, e.g. ``"[tiers.mec] extra_ms = [8.0, 20.0]"``.
    table_hint : str
        The fields named when an entry is not a table, e.g. ``"hops = ..., ..."``.
    new_hint : str, default ""
        What a new table must hold, appended to "a new [SECTION.NAME] table".
    extra_problems : callable or None, default None
        ``extra_problems(name, table, new)``: kind-specific problems of a table (a table
        naming an entry the base catalog lacks is ``new``).
    """

    kind: str
    section: str
    builtin_file: str
    entry_type: type[E]
    keys: tuple[str, ...]
    field_problem: Callable[[str, Any], str | None]
    pair_keys: tuple[str, ...]
    float_keys: tuple[str, ...]
    fix: str
    example: str
    table_hint: str
    new_hint: str = ""
    extra_problems: Callable[[str, Mapping[str, Any], bool], list[str]] | None = None

    def convert(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A checked ``[SECTION.NAME]`` table as keyword arguments of ``entry_type``."""
        out: dict[str, Any] = {}
        for key, value in spec.items():
            if key in self.pair_keys:
                out[key] = as_pair(value)
            elif key == "sources":
                out[key] = tuple(str(s) for s in value)
            elif key in self.float_keys:
                out[key] = float(value)
            else:
                out[key] = value
        return out

    @property
    def label(self) -> str:
        """The built-in catalog in messages, e.g. ``"built-in tier catalog (...)"``."""
        return f"built-in {self.kind} catalog (coverage/model/{self.builtin_file})"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (not a bool, a string or a date)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_) and math.isfinite(value))


def as_pair(value: Any) -> Pair:
    """The two-element sequence ``value`` as a tuple of plain floats."""
    return float(value[0]), float(value[1])


def ms_pair_problem(key: str, value: Any, high: float) -> str | None:
    """What is wrong with ``value`` for the ``[p50, p99]`` ms field ``key`` (``None``:
    finite numbers with ``0 <= p50 <= p99 <= high``)."""
    if (isinstance(value, tuple | list) and len(value) == 2
            and all(is_number(v) for v in value) and 0 <= value[0] <= value[1] <= high):
        return None
    return (f"{key} must be [p50, p99] in ms with 0 <= p50 <= p99 <= {high:,.0f} (finite "
            f"numbers); got {value!r}")


def closest(name: Any, allowed: Collection[str]) -> str | None:
    """The allowed key or name ``name`` most likely stands for (a typo, another spelling,
    a prefix or suffix of it), else ``None``.

    Examples
    --------
    >>> closest("utilization", ["utilisation", "power_usd_per_kwh"])
    'utilisation'
    >>> closest("ztp_enabled", ["ztp", "truck_roll_usd"])
    'ztp'
    >>> closest("bogus", ["ztp"]) is None
    True
    """
    text = str(name)
    options = [str(a) for a in allowed]
    by_fold = {folded(a): a for a in options}
    if folded(text) in by_fold:
        return by_fold[folded(text)]
    match = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    if match:
        return match[0]
    low = text.lower()
    near = [a for a in options
            if len(a) >= 3 and (low.startswith(a.lower()) or a.lower().startswith(low))]
    return max(near, key=len) if near else None


def folded(name: Any) -> str:
    """``name`` without case, spaces, ``_``, ``.``, ``-`` or quotes: how two spellings of
    one key or name compare (``NVIDIA L4`` and ``nvidia-l4``, ``Metro_Colo`` and
    ``metro-colo``)."""
    return re.sub(r"[\s_.\-'\"]+", "", str(name)).lower()


def unknown_keys_text(unknown: Collection[Any], allowed: Collection[str]) -> str:
    """The unknown keys, each with the allowed key it most likely stands for:
    ``'utilization' (did you mean 'utilisation'?), 'x'``."""
    parts = []
    for key in unknown:
        near = closest(key, allowed)
        parts.append(f"{key!r}" + (f" (did you mean {near!r}?)" if near is not None else ""))
    return ", ".join(parts)


def name_problem(kind: str, name: Any) -> str | None:
    """What is wrong with the entry name ``name`` (``None``: a plain label)."""
    if isinstance(name, str) and _NAME_RE.fullmatch(name):
        return None
    return (f"{kind} name {name!r} is not a plain label (a letter or digit, then letters, "
            "digits, '_', '.' or '-')")


def text_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the text field ``key`` (``None``: nothing)."""
    return None if isinstance(value, str) else f"{key} must be text; got {value!r}"


def bool_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the true/false field ``key`` (``None``: nothing)."""
    return (None if isinstance(value, bool | np.bool_)
            else f"{key} must be true or false; got {value!r}")


def sources_problem(value: Any) -> str | None:
    """What is wrong with ``value`` for the field ``sources`` (``None``: nothing)."""
    if isinstance(value, tuple | list) and all(isinstance(s, str) and s.strip() for s in value):
        return None
    return f"sources must be a list of non-empty text (URLs or references); got {value!r}"


def check_entry(fmt: CatalogFormat[Any], entry: Any, optional: Collection[str]) -> None:
    """Check every field of a new entry (a dataclass with a ``name`` field).

    Parameters
    ----------
    fmt : CatalogFormat
        The entry's catalog format.
    entry : dataclass instance
        The entry, checked field by field with ``fmt.field_problem``.
    optional : collection of str
        Fields that may be ``None`` (not checked then).

    Raises
    ------
    InputValidationError
        One message for every problem, naming the entry, and ``fmt.fix``.
    """
    problems = [p for p in [name_problem(fmt.kind, entry.name)] if p]
    for f in fields(entry):
        value = getattr(entry, f.name)
        if f.name == "name" or (value is None and f.name in optional):
            continue
        problem = fmt.field_problem(f.name, value)
        if problem:
            problems.append(problem)
    if problems:
        raise InputValidationError(f"invalid {fmt.kind} {entry.name!r}: "
                                   + "; ".join(problems) + f". Fix: {fmt.fix}")


def table_problems(fmt: CatalogFormat[Any], name: Any, spec: Any, new: bool) -> list[str]:
    """Every problem of one ``[SECTION.NAME]`` table, each naming the entry.

    A bad name or a value that is not a table is the only problem reported; else unknown
    keys, each field's problem and ``fmt.extra_problems`` (``new``: the name is not in the
    catalog the table amends).
    """
    bad_name = name_problem(fmt.kind, name)
    if bad_name:
        return [bad_name]
    kind = fmt.kind
    if not isinstance(spec, Mapping):
        return [f"{kind} {name!r} must be a table ([{fmt.section}.{name}] with "
                f"{fmt.table_hint}); got {spec!r}"]
    if not spec and not new:  # a header with its keys forgotten (or put under another)
        return [f"{kind} {name!r} sets no key ([{fmt.section}.{name}] is empty), so it keeps "
                f"every built-in value and changes nothing; add the keys to change "
                f"(allowed: {', '.join(fmt.keys)}) or delete the table"]
    found = []
    unknown = [k for k in spec if k not in fmt.keys]
    if unknown:
        found.append(f"{kind} {name!r} has unknown key(s) "
                     f"{unknown_keys_text(unknown, fmt.keys)} (allowed: {', '.join(fmt.keys)})")
    for key in fmt.keys:
        if key in spec:
            problem = fmt.field_problem(key, spec[key])
            if problem:
                found.append(f"{kind} {name!r}: {problem}")
    if fmt.extra_problems is not None:
        found.extend(fmt.extra_problems(name, spec, new))
    return found


def merge(fmt: CatalogFormat[E], base: Mapping[str, E], table: Any, source: str
          ) -> dict[str, E]:
    """``base`` with the entries of a ``[SECTION]`` table applied.

    Fields a table sets override an existing entry's; a new name takes the defaults of
    ``fmt.entry_type``. New entries follow ``base``'s, in table order.

    Raises
    ------
    InputValidationError
        No ``[SECTION.NAME]`` table, or any table's problems: one message for every
        problem, naming ``source``.
    """
    section = fmt.section
    if not isinstance(table, Mapping) or not table:
        raise InputValidationError(
            f"{source}: no [{section}.NAME] table. Fix: write e.g. {fmt.example} (override "
            f"a built-in {fmt.kind}: " + ", ".join(base) + f") or a new [{section}.NAME] "
            f"table{fmt.new_hint}")
    found: list[str] = []
    for name, spec in table.items():
        found.extend(table_problems(fmt, name, spec, bool(base) and name not in base))
    if found:
        raise InputValidationError(f"{source}: invalid {fmt.kind} catalog: "
                                   + "; ".join(found) + f". Fix: {fmt.fix}")
    out = dict(base)
    for name, spec in table.items():
        kwargs = fmt.convert(spec)
        out[name] = (replace(base[name], **kwargs) if name in base  # type: ignore[type-var]
                     else fmt.entry_type(name, **kwargs))
    return out


def read_toml(fmt: CatalogFormat[Any], path: Path) -> dict[str, Any]:
    """The TOML document at ``path`` (a byte-order mark is skipped).

    Raises
    ------
    InputValidationError
        Naming the file and the fix when it is missing, unreadable, not UTF-8 or not TOML.
    """
    kind, section = fmt.kind, fmt.section
    fix = (f"write a UTF-8 TOML file of [{section}.NAME] tables, e.g. {fmt.example} "
           f"(see coverage/model/{fmt.builtin_file})")
    from ..inputs.validation import special_file_problem

    special = special_file_problem(path, f"{kind} catalog file")
    if special:
        raise InputValidationError(special)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputValidationError(
            f"{path}: {kind} catalog file not found. Fix: give the path of a TOML file "
            f"with [{section}.NAME] tables") from None
    except UnicodeDecodeError as exc:
        raise InputValidationError(
            f"{path}: the {kind} catalog file is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}). Fix: {fix}") from None
    except OSError as exc:
        raise InputValidationError(
            f"{path}: cannot read the {kind} catalog file ({exc.strerror or exc}). "
            f"Fix: {fix}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError(
            f"{path}: the {kind} catalog file is not valid TOML ({exc}). Fix: {fix}"
        ) from None


def section_table(fmt: CatalogFormat[Any], doc: Mapping[str, Any], source: str) -> Any:
    """The ``[SECTION]`` table of a TOML document (``None`` when absent).

    Raises
    ------
    InputValidationError
        The document has other top-level keys.
    """
    extra = [k for k in doc if k != fmt.section]
    if extra:
        raise InputValidationError(
            f"{source}: unknown top-level key(s) {unknown_keys_text(extra, [fmt.section])}. "
            f"Fix: put every {fmt.kind} under [{fmt.section}.NAME]")
    return doc.get(fmt.section)


def read_builtin(fmt: CatalogFormat[E]) -> tuple[Mapping[str, Any], dict[str, E]]:
    """The built-in catalog's ``[SECTION]`` table and its entries (checked as a user file
    would be; the caller adds the built-in catalog's own rules).

    Raises
    ------
    InputValidationError
        The file was not packaged, is not TOML, or holds invalid tables.
    """
    label = fmt.label
    try:
        text = resources.files("coverage.model").joinpath(fmt.builtin_file).read_text(
            encoding="utf-8")
    except OSError as exc:  # a broken install: the data file was not packaged
        raise InputValidationError(
            f"{label}: cannot read it ({exc}). Fix: reinstall edge-coverage with "
            f"coverage/model/{fmt.builtin_file} as package data") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError(f"{label}: not valid TOML ({exc})") from None
    table = section_table(fmt, doc, label)
    return table, merge(fmt, {}, table, label)


def load_file(fmt: CatalogFormat[E], path: str | os.PathLike[str], base: Mapping[str, E],
              log: logging.Logger = logger) -> tuple[Path, Mapping[str, Any], dict[str, E]]:
    """Read a user's catalog file and apply it to ``base``; ``log`` gets a debug line of
    what the file overrides and adds.

    Returns
    -------
    path : pathlib.Path
        The file.
    table : Mapping
        Its ``[SECTION]`` table (entry name -> table), in file order.
    merged : dict
        ``base`` with the tables applied (:func:`merge`).

    Raises
    ------
    InputValidationError
        As :func:`read_toml`, :func:`section_table` and :func:`merge`, naming the file.
    """
    p = Path(path)
    table = section_table(fmt, read_toml(fmt, p), str(p))
    merged = merge(fmt, base, table, str(p))
    log.debug("%s catalog %s: overrides %s; adds %s", fmt.kind, p,
                 ", ".join(n for n in table if n in base) or "nothing",
                 ", ".join(n for n in table if n not in base) or "nothing")
    return p, table, merged


def _rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    """A catalog from its pickled fields (:meth:`Catalog.__reduce__`)."""
    return cls(**values)


class Catalog(Generic[E]):
    """Base of a frozen dataclass catalog of entries by name.

    A subclass sets :attr:`FORMAT` and is a frozen dataclass whose first field, named
    ``FORMAT.section``, maps names to entries (stored read-only after a check) and whose
    second is ``source`` (``"built-in"`` or ``"built-in + PATH"``). It provides
    ``builtin()`` and ``from_file(path)`` classmethods.
    """

    FORMAT: ClassVar[CatalogFormat[Any]]
    source: str

    def __post_init__(self) -> None:
        fmt = self.FORMAT
        entries = getattr(self, fmt.section)
        cls_name = fmt.entry_type.__name__
        if not isinstance(entries, Mapping):
            raise InputValidationError(f"{fmt.section} must be a mapping name -> "
                                       f"{cls_name}; got {entries!r}")
        bad = [f"{k!r}" for k, e in entries.items()
               if not isinstance(e, fmt.entry_type) or e.name != k]
        if bad:
            raise InputValidationError(
                f"{fmt.kind} catalog entries must be {cls_name} objects stored under their "
                "own name: " + ", ".join(bad))
        object.__setattr__(self, fmt.section, MappingProxyType(dict(entries)))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields (a read-only mapping does not pickle), rebuilt and checked
        by the constructor: a catalog goes to another process (the budget sweep's)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        values[self.FORMAT.section] = dict(values[self.FORMAT.section])
        return (_rebuild, (type(self), values))

    @property
    def entries(self) -> Mapping[str, E]:
        """The entries by name, in catalog order."""
        out: Mapping[str, E] = getattr(self, self.FORMAT.section)
        return out

    @classmethod
    def builtin(cls) -> Self:
        """The built-in catalog."""
        raise NotImplementedError

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Self:
        """The built-in catalog with a TOML file applied."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, path_or_none: str | os.PathLike[str] | Self | None) -> Self:
        """:meth:`builtin` for ``None``, a catalog as is, else :meth:`from_file`."""
        if path_or_none is None:
            return cls.builtin()
        if isinstance(path_or_none, cls):
            return path_or_none
        return cls.from_file(path_or_none)  # type: ignore[arg-type]

    def get(self, name: str) -> E | None:
        """The entry called ``name`` (case-sensitive), else ``None``."""
        return self.entries.get(name)

    def names(self) -> list[str]:
        """Entry names in catalog order."""
        return list(self.entries)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``{"source": ..., SECTION: {name: entry.to_dict()}}``."""
        return {"source": self.source,
                self.FORMAT.section: {n: e.to_dict() for n, e in self.entries.items()}}


def arguments_problem(cls: type, args: tuple[Any, ...],
                      kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with the argument names and count of ``cls(*args, **kwargs)`` for the
    dataclass ``cls`` (``None``: nothing): unknown keywords (each with the field it most
    likely stands for), more positional arguments than fields, a field given twice."""
    names = [f.name for f in fields(cls) if f.init]
    found = []
    if len(args) > len(names):
        found.append(f"takes at most {len(names)} positional arguments (its fields in "
                     f"order); got {len(args)}")
    unknown = [k for k in kwargs if k not in names]
    if unknown:
        found.append(f"got unknown keyword argument(s) {unknown_keys_text(unknown, names)}")
    twice = [k for k in names[:len(args)] if k in kwargs]
    if twice:
        found.append(f"got {', '.join(map(repr, twice))} both by position and by keyword")
    if not found:
        return None
    return (f"{cls.__name__} " + "; ".join(found) + ". Fix: give its fields by keyword, "
            "each once: " + ", ".join(names))


_T = TypeVar("_T")


def named_arguments(cls: type[_T]) -> type[_T]:
    """The dataclass ``cls`` with its generated ``__init__`` refusing unknown keywords, too
    many positional arguments and a field given twice with an
    :class:`~coverage.errors.InputValidationError` (:func:`arguments_problem`), as it
    refuses bad values, where Python raised a bare ``TypeError``. The signature stays the
    generated one (``inspect.signature``, ``help``); :func:`dataclasses.replace` checks its
    changes through it, and unpickling (which does not call ``__init__``) is unchanged."""
    init: Callable[..., None] = cls.__init__
    names = frozenset(f.name for f in fields(cls) if f.init)  # type: ignore[arg-type]
    most = len(names)

    @wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > most or not names.issuperset(kwargs) or (args and kwargs):
            problem = arguments_problem(type(self), args, kwargs)
            if problem is not None:
                raise InputValidationError(problem)
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls
