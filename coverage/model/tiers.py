"""Edge tiers: what a site's tier (on-prem, MEC, metro colo, CDN PoP) does to latency.

A candidate site belongs to one tier of a :class:`TierCatalog`. The built-in catalog
(``coverage/model/tiers.toml``, :meth:`TierCatalog.builtin`) holds ``on-prem``, ``mec``,
``metro-colo`` and ``cdn-pop``, with the sources of their numbers; a TOML file of
``[tiers.NAME]`` tables (:meth:`TierCatalog.from_file`) overrides fields of built-in tiers
and adds new ones.

How a tier changes the latency of a (user, site) pair, relative to
:class:`coverage.model.latency.LatencyModel` (whose terms the tier adjusts)::

    N_q(d) = ms_per_km * d + (model.hops + tier.hops) * per_hop_ms
             + (overhead_q if tier.wan else 0)
    components = access, wifi, inference (the model's),
                 network jitter (0, overhead_p99 - overhead) if tier.wan else (0, 0),
                 tier.components_ms(model.proxy_ms)   # "proxy" and "tier"
    p50 = N_p50(d) + sum p50_c;  p99 = p50 + sqrt(sum (p99_c - p50_c) ** 2)

``metro-colo`` is the reference tier (no hops, the model's proxy, no extra, WAN): a plan
whose sites are all metro-colo is unchanged. ``restricted`` tiers (``on-prem``) serve only
demand rows that name them in their ``tiers`` column (:func:`parse_tier_list`);
``local_breakout`` tiers (``mec``) are reached by mobile users without the packet-core
detour. ``power_kw``, ``pue``, ``cooling`` and ``operations`` describe the power envelope
and do not change latency.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..inputs.validation import ProblemReport, format_values
from .catalog import (
    BUILTIN_SOURCE,
    Catalog,
    CatalogFormat,
    Pair,
    as_pair,
    bool_problem,
    check_entry,
    is_number,
    load_file,
    ms_pair_problem,
    named_arguments,
    read_builtin,
    sources_problem,
    text_problem,
)

__all__ = ["Tier", "TierCatalog", "parse_tier_list", "check_site_tiers", "TIER_KEYS",
           "REFERENCE_TIER",
           "BUILTIN_SOURCE", "unused_tier_entries"]

logger = logging.getLogger(__name__)

#: Keys a ``[tiers.NAME]`` table may hold.
TIER_KEYS = ("description", "hops", "proxy_ms", "extra_ms", "wan", "restricted",
             "local_breakout", "power_kw", "pue", "cooling", "operations", "sources")

#: The tier that changes nothing (the latency model alone).
REFERENCE_TIER = "metro-colo"

_SEPARATORS = re.compile(r"[;,|]")
_MAX_PAIR_MS = 1e6      # as budgets: beyond this a value is a typo (and squares overflow)
_MAX_HOPS = 1000
_MAX_POWER_KW = 1e6     # 1 GW per site
_MAX_PUE = 10.0
_BOOL_KEYS = ("wan", "restricted", "local_breakout")
_TEXT_KEYS = ("description", "cooling", "operations")
_FIX = ("each [tiers.NAME] may set description (text), hops (whole number, 0 to 1,000), "
        "proxy_ms and extra_ms ([p50, p99] ms with 0 <= p50 <= p99), wan, restricted and "
        "local_breakout (true/false), power_kw ([min, max] kW with 0 < min <= max), pue "
        "(number from 1.0 to 10), "
        "cooling and operations (text), sources (list of text); see "
        "coverage/model/tiers.toml")


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the tier field ``key`` (``None``: nothing)."""
    if key in _TEXT_KEYS:
        return text_problem(key, value)
    if key in _BOOL_KEYS:
        return bool_problem(key, value)
    if key == "hops":
        if (isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
                and 0 <= value <= _MAX_HOPS):
            return None
        return f"hops must be a whole number from 0 to {_MAX_HOPS:,}; got {value!r}"
    if key in ("proxy_ms", "extra_ms"):
        return ms_pair_problem(key, value, _MAX_PAIR_MS)
    if key == "power_kw":
        if (isinstance(value, tuple | list) and len(value) == 2
                and all(is_number(v) for v in value)
                and 0 < value[0] <= value[1] <= _MAX_POWER_KW):
            return None
        return (f"power_kw must be [min, max] in kW with 0 < min <= max <= 1,000,000 "
                f"(finite numbers); got {value!r}")
    if key == "pue":
        if is_number(value) and 1.0 <= value <= _MAX_PUE:
            return None
        return f"pue must be a finite number from 1.0 to {_MAX_PUE:g}; got {value!r}"
    if key == "sources":
        return sources_problem(value)
    return f"unknown key {key!r}"


@named_arguments
@dataclass(frozen=True)
class Tier:
    """One edge tier: how it changes a pair's latency, and its power envelope.

    Parameters
    ----------
    name : str
        Plain label (``^[A-Za-z0-9][A-Za-z0-9_.-]*$``), case-sensitive.
    description : str, default ""
        What the tier is.
    hops : int, default 0
        Extra router hops the tier adds to the path (each costs the latency model's
        ``per_hop_ms``).
    proxy_ms : tuple of float or None, default None
        The tier's load balancer / L7 proxy ``(p50_ms, p99_ms)``; ``None``: the latency
        model's ``proxy_ms``.
    extra_ms : tuple of float, default (0.0, 0.0)
        Extra fixed latency of the tier ``(p50_ms, p99_ms)`` (anycast mis-steering, a
        regional breakout, ...).
    wan : bool, default True
        The path crosses the WAN, so the latency model's fixed network overhead (and its
        p99 jitter) applies; ``False``: no WAN hop (on-prem).
    restricted : bool, default False
        Serves only demand rows that name the tier in their ``tiers`` column.
    local_breakout : bool, default False
        Sites break mobile traffic out locally: mobile users reach them without the
        detour via the packet core.
    power_kw : tuple of float or None, default None
        Power envelope of one site (its feed) ``(min_kw, max_kw)``; IT power x PUE must fit.
    pue : float or None, default None
        Power usage effectiveness (total facility power / IT power), >= 1.0.
    cooling, operations : str, default ""
        How the site rejects heat; who runs it and how.
    sources : tuple of str, default ()
        Where the numbers come from (URLs or references; estimates marked as such).

    Raises
    ------
    InputValidationError
        Any field of the wrong type or out of range (one message for every problem).

    Examples
    --------
    >>> t = Tier("pop", proxy_ms=(2.0, 6.0), extra_ms=(0.0, 20.0))
    >>> t.components_ms((1.0, 3.0))
    {'proxy': (2.0, 6.0), 'tier': (0.0, 20.0)}
    >>> Tier("colo").components_ms((1.0, 3.0))
    {'proxy': (1.0, 3.0), 'tier': (0.0, 0.0)}
    """

    name: str
    description: str = ""
    hops: int = 0
    proxy_ms: Pair | None = None
    extra_ms: Pair = (0.0, 0.0)
    wan: bool = True
    restricted: bool = False
    local_breakout: bool = False
    power_kw: Pair | None = None
    pue: float | None = None
    cooling: str = ""
    operations: str = ""
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_entry(FORMAT, self, optional=("proxy_ms", "power_kw", "pue"))
        # normalise: plain floats, tuples, bools (numpy scalars and lists accepted)
        object.__setattr__(self, "hops", int(self.hops))
        object.__setattr__(self, "extra_ms", as_pair(self.extra_ms))
        if self.proxy_ms is not None:
            object.__setattr__(self, "proxy_ms", as_pair(self.proxy_ms))
        if self.power_kw is not None:
            object.__setattr__(self, "power_kw", as_pair(self.power_kw))
        if self.pue is not None:
            object.__setattr__(self, "pue", float(self.pue))
        for key in _BOOL_KEYS:
            object.__setattr__(self, key, bool(getattr(self, key)))
        object.__setattr__(self, "sources", tuple(self.sources))

    def components_ms(self, proxy_default_ms: Pair) -> dict[str, Pair]:
        """The tier's latency components, name -> ``(p50_ms, p99_ms)``.

        Parameters
        ----------
        proxy_default_ms : tuple of float
            The latency model's proxy ``(p50_ms, p99_ms)``, used when the tier has none.

        Returns
        -------
        dict
            ``{"proxy": the tier's proxy or proxy_default_ms, "tier": extra_ms}``.
        """
        proxy = self.proxy_ms if self.proxy_ms is not None else as_pair(proxy_default_ms)
        return {"proxy": proxy, "tier": self.extra_ms}

    def to_dict(self) -> dict[str, Any]:
        """The tier as JSON-ready values (pairs as lists, ``None`` where absent)."""
        return {
            "name": self.name,
            "description": self.description,
            "hops": self.hops,
            "proxy_ms": None if self.proxy_ms is None else list(self.proxy_ms),
            "extra_ms": list(self.extra_ms),
            "wan": self.wan,
            "restricted": self.restricted,
            "local_breakout": self.local_breakout,
            "power_kw": None if self.power_kw is None else list(self.power_kw),
            "pue": self.pue,
            "cooling": self.cooling,
            "operations": self.operations,
            "sources": list(self.sources),
        }


#: How tier catalog files are read, checked and merged (:mod:`coverage.model.catalog`).
FORMAT: CatalogFormat[Tier] = CatalogFormat(
    kind="tier", section="tiers", builtin_file="tiers.toml", entry_type=Tier,
    keys=TIER_KEYS, field_problem=_field_problem, fix=_FIX,
    pair_keys=("proxy_ms", "extra_ms", "power_kw"), float_keys=("pue",),
    example="[tiers.mec] extra_ms = [8.0, 20.0]",
    table_hint="hops = ..., extra_ms = [p50, p99], ...")


@lru_cache(maxsize=1)
def _builtin_tiers() -> tuple[Tier, ...]:
    table, tiers = read_builtin(FORMAT)
    # the built-in catalog states every field but proxy_ms, and its sources
    missing = [f"tier {name!r} leaves out {', '.join(k)}" for name, spec in table.items()
               if (k := [key for key in TIER_KEYS if key != "proxy_ms" and key not in spec])]
    missing += [f"tier {name!r} has no sources" for name, t in tiers.items() if not t.sources]
    ref = tiers.get(REFERENCE_TIER)
    if ref is None or not (ref.hops == 0 and ref.proxy_ms is None
                           and ref.extra_ms == (0.0, 0.0) and ref.wan and not ref.restricted
                           and not ref.local_breakout):
        missing.append(f"tier {REFERENCE_TIER!r} must be the reference tier (hops 0, no "
                       "proxy_ms, extra_ms [0, 0], wan, not restricted, no local breakout)")
    if missing:
        raise InputValidationError(f"{FORMAT.label}: " + "; ".join(missing))
    return tuple(tiers.values())


@dataclass(frozen=True)
class TierCatalog(Catalog[Tier]):
    """The tiers a plan may use, by name.

    Lookup (:meth:`get`, :meth:`names`), :meth:`from_spec` and :meth:`summary`
    (``{"source": ..., "tiers": {name: Tier.to_dict()}}``) come from
    :class:`coverage.model.catalog.Catalog`.

    Parameters
    ----------
    tiers : Mapping of str to Tier
        Tiers by name, in catalog order (built-in tiers first, then new tiers in file
        order). Stored read-only.
    source : str
        ``"built-in"`` or ``"built-in + PATH"``.

    Examples
    --------
    >>> cat = TierCatalog.builtin()
    >>> cat.names()
    ['on-prem', 'mec', 'metro-colo', 'cdn-pop']
    >>> cat.get("metro-colo").components_ms((1.0, 3.0))
    {'proxy': (1.0, 3.0), 'tier': (0.0, 0.0)}
    >>> cat.get("nope") is None
    True
    """

    FORMAT = FORMAT

    tiers: Mapping[str, Tier]
    source: str = BUILTIN_SOURCE

    @classmethod
    def builtin(cls) -> TierCatalog:
        """The built-in catalog, ``coverage/model/tiers.toml`` (read once, validated)."""
        return cls({t.name: t for t in _builtin_tiers()}, BUILTIN_SOURCE)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TierCatalog:
        """The built-in catalog with the ``[tiers.NAME]`` tables of a TOML file applied.

        A name the built-in catalog has keeps every field the file does not set; a new
        name takes the :class:`Tier` defaults for the fields it leaves out.

        Parameters
        ----------
        path : str or os.PathLike
            TOML file of ``[tiers.NAME]`` tables (keys: :data:`TIER_KEYS`).

        Raises
        ------
        InputValidationError
            Missing file, not UTF-8, not TOML, no ``[tiers]`` table, unknown keys, bad
            names, types or values: one message naming the file, the tiers, what is wrong
            and the fix.
        """
        p, _, merged = load_file(FORMAT, path, cls.builtin().tiers, logger)
        return cls(merged, f"{BUILTIN_SOURCE} + {p}")

    def unrestricted(self) -> frozenset[str]:
        """Names of the tiers every demand row may use (not ``restricted``)."""
        return frozenset(n for n, t in self.tiers.items() if not t.restricted)

    def usable(self, allowed: frozenset[str] | None) -> frozenset[str]:
        """Tiers a row may use given its :func:`parse_tier_list` set: ``allowed`` itself,
        or every unrestricted tier for ``None``."""
        return self.unrestricted() if allowed is None else allowed


def unused_tier_entries(catalog: TierCatalog, site_tiers: pd.Series | None, *,
                        sites_source: str = "sites") -> list[str]:
    """The tiers a user's file sets that no candidate site names, each as one sentence:
    they do not change the plan. ``[tiers.Metro-Colo]`` (meant for the built-in
    ``metro-colo``: names are matched exactly) was a new tier no site used, and the plan
    kept ``metro-colo`` as it was without a word.

    Parameters
    ----------
    catalog : TierCatalog
        The plan's catalog (nothing is reported for the built-in one).
    site_tiers : pandas.Series or None
        The candidates' ``tier`` column (``None``: they have none).
    sites_source : str
        The candidates' name in the sentences.

    Returns
    -------
    list of str
        One sentence per tier the file adds or changes and no site names (a tier the
        sites name in another spelling is pointed out), empty when every one is used.
    """
    from .catalog import folded

    builtin = TierCatalog.builtin().tiers
    if catalog.source == BUILTIN_SOURCE:
        return []
    set_by_file = [n for n, t in catalog.tiers.items() if builtin.get(n) != t]
    used = ({} if site_tiers is None else
            {str(v): None for v in pd.unique(site_tiers.dropna().astype(str))})
    by_spelling = {folded(n): n for n in used}
    out = []
    for name in set_by_file:
        if name in used:
            continue
        twin = by_spelling.get(folded(name))
        out.append(
            f"{catalog.source.removeprefix(BUILTIN_SOURCE + ' + ')}: tier {name!r} is named "
            f"by no candidate site of {sites_source}"
            + ", so it does not change the plan"
            + (f"; the sites name {twin!r} (tier names are matched exactly: write "
               f"[tiers.{twin}] to change it)" if twin is not None else ""))
    return out


def parse_tier_list(values: pd.Series | npt.ArrayLike, catalog: TierCatalog, *,
                    source: str) -> tuple[npt.NDArray[np.intp], list[frozenset[str] | None]]:
    """Parse a demand table's ``tiers`` column: which tiers each row may use.

    A cell that is empty, blank or missing (``NaN``, ``None``) gives ``None``: the row may
    use every unrestricted tier. Otherwise the cell lists tier names separated by ``;``,
    ``,`` or ``|`` (whitespace around names trimmed, names case-sensitive, empty items
    ignored) and gives the frozenset of those tiers, restricted or not: the row may use
    exactly them.

    Vectorised: the distinct cell values are found once (:func:`pandas.factorize`) and each
    is parsed once; nothing per row is a Python object.

    Parameters
    ----------
    values : pandas.Series or array_like
        The column, one cell per demand row.
    catalog : TierCatalog
        Tiers the names must come from.
    source : str
        The demand input's name for error messages.

    Returns
    -------
    codes : numpy.ndarray of intp
        Per row, the index of its set in ``allowed`` (length ``len(values)``).
    allowed : list of (frozenset of str or None)
        The distinct sets, each once, in order of first appearance (cells naming the same
        tiers in another order or spelling share one entry). Row ``i`` may use
        ``allowed[codes[i]]`` (``None``: every unrestricted tier; see
        :meth:`TierCatalog.usable`).

    Raises
    ------
    InputValidationError
        Unknown tier names: one message naming ``source``, the names, the rows (1-based
        data-row numbers, the first few) and the catalog's names.

    Examples
    --------
    >>> cat = TierCatalog.builtin()
    >>> codes, allowed = parse_tier_list(pd.Series(["", "mec", "mec; on-prem", None]),
    ...                                  cat, source="demand.csv")
    >>> codes.tolist(), allowed[0], sorted(allowed[2])
    ([0, 1, 2, 0], None, ['mec', 'on-prem'])
    """
    series = values if isinstance(values, pd.Series) else pd.Series(
        np.asarray(values, dtype=object).ravel(), dtype=object)
    n = len(series)
    if n == 0:
        return np.zeros(0, dtype=np.intp), []
    try:
        cell_codes, uniques = pd.factorize(series, use_na_sentinel=False)
    except TypeError:  # unhashable cells (lists, dicts): their text, refused below
        cell_codes, uniques = pd.factorize(series.astype(object).astype("string"),
                                           use_na_sentinel=False)
    known = catalog.tiers
    allowed: list[frozenset[str] | None] = []
    index: dict[frozenset[str] | None, int] = {}
    lut = np.empty(len(uniques), dtype=np.intp)
    bad_cells: list[int] = []
    bad_names: list[str] = []
    for j, value in enumerate(uniques):
        names: frozenset[str] | None = None
        if not (value is None or (not isinstance(value, str) and pd.isna(value))):
            parts = [p.strip() for p in _SEPARATORS.split(str(value))]
            parts = [p for p in parts if p]
            if parts:
                names = frozenset(parts)
                unknown = [p for p in parts if p not in known]
                if unknown:
                    bad_cells.append(j)
                    bad_names.extend(unknown)
        if names not in index:
            index[names] = len(allowed)
            allowed.append(names)
        lut[j] = index[names]
    if bad_cells:
        report = ProblemReport(source, "demand")
        report.add(f"unknown tier name(s) {format_values(bad_names)} in the tiers column",
                   "name tiers of the catalog (" + ", ".join(catalog.names()) + "; "
                   "case-sensitive) separated by ';', ',' or '|', or leave the cell empty to "
                   "allow every unrestricted tier", np.isin(cell_codes, bad_cells))
        report.raise_if_any()
    return lut[cell_codes].astype(np.intp, copy=False), allowed


def _folded(name: str) -> str:
    """A tier name without case, spaces, ``_``, ``.`` or ``-``: how a typo of one looks."""
    return re.sub(r"[\s_.\-]+", "", name).lower()


def check_site_tiers(values: pd.Series | npt.ArrayLike, catalog: TierCatalog, *,
                     source: str) -> None:
    """Refuse site ``tier`` labels that are a catalog name but for case or punctuation.

    A label outside the catalog is the reference site (a plain label, as before tiers had
    meaning: the model's latency, no power envelope or PUE, no restriction); one that folds
    to a catalog name (``On-Prem``, ``on_prem``, ``MEC``, ``Metro-Colo``) is a typo whose
    site would silently lose what that tier sets (an ``on-prem`` site would serve every
    user, a ``mec`` one lose its hop and local breakout, any of them its power envelope).

    Parameters
    ----------
    values : pandas.Series or array_like
        The sites' ``tier`` column.
    catalog : TierCatalog
        The tier catalog of the run.
    source : str
        The sites file, for the message.

    Raises
    ------
    InputValidationError
        One message naming the labels, the catalog names they look like and the rows.

    Examples
    --------
    >>> check_site_tiers(pd.Series(["mec", "colo", None]), TierCatalog.builtin(),
    ...                  source="sites.csv")
    >>> try:
    ...     check_site_tiers(pd.Series(["MEC"]), TierCatalog.builtin(), source="s.csv")
    ... except InputValidationError as exc:
    ...     print(str(exc).splitlines()[1][:63])
      1. site tier 'MEC' is not in the catalog but looks like 'mec'
    """
    series = values if isinstance(values, pd.Series) else pd.Series(
        np.asarray(values, dtype=object).ravel(), dtype=object)
    known = catalog.tiers
    folded = {_folded(name): name for name in catalog.names()}
    codes, uniques = pd.factorize(series)
    if not len(uniques):
        return
    report = ProblemReport(source, "sites")
    for j, value in enumerate(uniques):
        label = str(value).strip()
        if label in known:
            continue
        meant = folded.get(_folded(label))
        if meant is not None:
            report.add(f"site tier {label!r} is not in the catalog but looks like {meant!r} "
                       "(names are case-sensitive: the site would be planned as an unnamed "
                       "reference site, with the model's latency, no power envelope or PUE "
                       f"and no restriction, not as {meant})",
                       f"write {meant!r}, or define {label!r} in a tiers file (--tiers FILE; "
                       "tiers = FILE in a batch file)",
                       codes == j)
    report.raise_if_any()
