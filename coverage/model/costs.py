"""Cost model of an edge fleet and of the centralized region it competes with.

The model is a TOML file (``coverage/model/costs.toml``, with documented defaults and
their sources) that a user's file amends field by field, like the tier and workload
catalogs (:mod:`coverage.model.catalog`). It has four parts:

``[fleet]``
    What every edge site shares: depreciation years, cost of capital, whether the fleet
    is operated zero-touch (``ztp``), the cost of one truck roll and the accelerators'
    idle power share.
``[edge.TIER]``
    One table per site tier (``on-prem``, ``mec``, ``metro-colo``, ``cdn-pop``, and
    ``default`` for sites whose tier has no table): cabinet, installation (with and
    without ZTP), per-site redundancy, power price, lease per kW of the site's feed, rent,
    backhaul, remote operations and truck rolls per site per year with and without ZTP.
``[accelerators."TYPE"]``
    One table per accelerator type (the workload's ``accelerator`` text, e.g.
    ``"NVIDIA L4"``): unit price, host price and accelerators per host, and the price of
    one accelerator-hour in a public-cloud region (absent: the region cannot rent it). A new
    type without ``unit_usd`` and ``host_usd`` has no edge price (the region may still rent
    it): an edge fleet of it is refused, not priced free.
``[region]``
    The centralized alternative: its pooled utilisation, the network / CDN price per
    million requests, and its power price (for the edge/region power ratio).

:func:`fleet_cost` prices a plan's sites for a load; :func:`region_cost` prices the same
load in a region; :func:`breakeven_utilisation` is the fleet utilisation at which the two
cost the same per request. Every cost is in US dollars per year unless a name says
otherwise.
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError
from .catalog import (
    bool_problem,
    is_number,
    named_arguments,
    sources_problem,
    text_problem,
    unknown_keys_text,
)

logger = logging.getLogger(__name__)

__all__ = ["FleetCosts", "TierCost", "AcceleratorCost", "RegionCost", "CostModel",
           "SiteCosts", "FleetCost", "RegionCostResult", "fleet_cost", "region_cost",
           "breakeven_utilisation", "edge_price_problem", "annuity_factor", "HOURS_PER_YEAR",
           "SECONDS_PER_YEAR"]

#: Hours in a (365-day) year.
HOURS_PER_YEAR = 8760.0
#: Seconds in a (365-day) year.
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
#: Largest price or count read: larger values are in other units or broken.
MAX_VALUE = 1e12

_BUILTIN_FILE = "costs.toml"
_FIX = ("see coverage/model/costs.toml for every field, its unit and its default; a file "
        "may set any subset of them")


@named_arguments
@dataclass(frozen=True)
class FleetCosts:
    """``[fleet]``: what every edge site shares.

    Parameters
    ----------
    depreciation_years : float
        Straight-line life of the site's equipment, years (0.1 to 100: a shorter life is
        not a depreciation, and its annuity overflows).
    cost_of_capital : float
        Annual rate of the money that buys the equipment (0 <= r < 1); capex is
        annualised with the annuity factor ``r / (1 - (1 + r) ** -years)``
        (``1 / years`` at 0).
    ztp : bool
        Whether the fleet is provisioned and remediated zero-touch; without it installs
        and truck rolls take the ``*_manual`` figures and the advisor warns (``no-ztp``).
    truck_roll_usd : float
        Cost of one technician dispatch to a site, USD.
    idle_power_share : float
        An accelerator's draw when idle, as a share of its board power (0..1); the draw at
        utilisation ``u`` is ``idle + (1 - idle) x u`` of it.
    sources : tuple of str
        Where the numbers come from.
    """

    depreciation_years: float = 5.0
    cost_of_capital: float = 0.08
    ztp: bool = True
    truck_roll_usd: float = 500.0
    idle_power_share: float = 0.3
    sources: tuple[str, ...] = ()


@named_arguments
@dataclass(frozen=True)
class TierCost:
    """``[edge.TIER]``: the costs of one site of a tier.

    Parameters
    ----------
    name : str
        The tier (``default``: sites whose tier has no table).
    cabinet_usd : float
        Enclosure / rack, power distribution and cooling of one site, USD.
    install_usd, install_usd_manual : float
        Bringing one site up, with zero-touch provisioning and without, USD.
    redundancy_usd : float
        Per-site redundancy capex (2N power, UPS, spare host), USD; 0: none.
    power_usd_per_kwh : float
        Price of the site's power, USD per kWh.
    lease_usd_per_kw_month : float
        Lease per kW of the site's provisioned power (facility kW), USD per month.
    rent_usd_per_month : float
        Fixed space / cabinet rent of one site, USD per month.
    backhaul_usd_per_month : float
        Network circuit(s) of one site, USD per month.
    remote_ops_usd_per_year : float
        Monitoring, software, remote hands of one site, USD per year.
    truck_rolls_per_year_ztp, truck_rolls_per_year_manual : float
        Technician dispatches per site per year, with ZTP and remote remediation, and
        without.
    sources : tuple of str
        Where the numbers come from.
    """

    name: str
    cabinet_usd: float = 0.0
    install_usd: float = 0.0
    install_usd_manual: float = 0.0
    redundancy_usd: float = 0.0
    power_usd_per_kwh: float = 0.15
    lease_usd_per_kw_month: float = 0.0
    rent_usd_per_month: float = 0.0
    backhaul_usd_per_month: float = 0.0
    remote_ops_usd_per_year: float = 0.0
    truck_rolls_per_year_ztp: float = 0.0
    truck_rolls_per_year_manual: float = 0.0
    sources: tuple[str, ...] = ()


@named_arguments
@dataclass(frozen=True)
class AcceleratorCost:
    """``[accelerators."TYPE"]``: the price of one accelerator type.

    Parameters
    ----------
    name : str
        The accelerator type as a workload names it (``Workload.accelerator``).
    unit_usd : float or None
        One accelerator, USD (``None``: no edge price, the type is rented in a region only).
    host_usd : float or None
        One host (server, or the rest of a rack-scale system), USD (``None``: no edge
        price).
    accelerators_per_host : int
        Accelerators one host holds (>= 1).
    region_hour_usd : float or None
        One accelerator-hour rented in a public-cloud region, USD (``None``: not rented).
    sources : tuple of str
        Where the numbers come from.
    """

    name: str
    unit_usd: float | None = None
    host_usd: float | None = None
    accelerators_per_host: int = 1
    region_hour_usd: float | None = None
    sources: tuple[str, ...] = ()


@named_arguments
@dataclass(frozen=True)
class RegionCost:
    """``[region]``: the centralized alternative.

    Parameters
    ----------
    utilisation : float
        Pooled utilisation the region's rented accelerators run at (0.01 <= u <= 1): the
        accelerator-hours bought are ``mean load / (throughput x utilisation)``.
    network_usd_per_million_requests : float
        Network path from users to the region (CDN front-end, egress), USD per million
        requests.
    power_usd_per_kwh : float
        The region's power price, USD per kWh (already inside ``region_hour_usd``; used for
        the edge/region power-price ratio).
    sources : tuple of str
        Where the numbers come from.
    """

    utilisation: float = 0.85
    network_usd_per_million_requests: float = 0.0
    power_usd_per_kwh: float = 0.06
    sources: tuple[str, ...] = ()


def _problem(key: str, value: Any, *, low: float = 0.0, high: float = MAX_VALUE,
             low_open: bool = False, high_open: bool = False, whole: bool = False,
             unit: str = "", floor: float | None = None, why: str = "") -> str | None:
    """What is wrong with ``value`` for the number field ``key`` (``None``: nothing).

    ``low`` / ``high`` bound the value (open with ``low_open`` / ``high_open``);
    ``floor``, when given, is the smallest physical value above an open ``low`` (``why``
    says why), so that a value like ``1e-300`` is not taken for a rate or a life."""
    ok = is_number(value) and (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high)
    if ok and floor is not None:
        ok = value >= floor
    if ok and whole:
        ok = float(value).is_integer()
    if ok:
        return None
    lo = f"{'>' if low_open else '>='} {low:g}"
    hi = f"{'<' if high_open else '<='} {high:g}"
    what = "a whole number" if whole else "a number"
    least = f" (at least {floor:g}{': ' + why if why else ''})" if floor is not None else ""
    return (f"{key} must be {what} {lo} and {hi}{' ' + unit if unit else ''}{least}; "
            f"got {value!r}")


_FLEET_RULES: dict[str, dict[str, Any]] = {
    "depreciation_years": {"low": 0, "low_open": True, "high": 100, "unit": "years",
                           "floor": 0.1, "why": "a shorter life is not a depreciation"},
    "cost_of_capital": {"high": 1, "high_open": True, "unit": "(a rate per year)"},
    "truck_roll_usd": {"unit": "USD"},
    "idle_power_share": {"high": 1},
}
_TIER_RULES: dict[str, dict[str, Any]] = {
    "cabinet_usd": {"unit": "USD"}, "install_usd": {"unit": "USD"},
    "install_usd_manual": {"unit": "USD"}, "redundancy_usd": {"unit": "USD"},
    "power_usd_per_kwh": {"high": 100, "unit": "USD/kWh"},
    "lease_usd_per_kw_month": {"unit": "USD/kW/month"},
    "rent_usd_per_month": {"unit": "USD/month"},
    "backhaul_usd_per_month": {"unit": "USD/month"},
    "remote_ops_usd_per_year": {"unit": "USD/year"},
    "truck_rolls_per_year_ztp": {"high": 10000, "unit": "per site per year"},
    "truck_rolls_per_year_manual": {"high": 10000, "unit": "per site per year"},
}
_ACC_RULES: dict[str, dict[str, Any]] = {
    "unit_usd": {"unit": "USD"}, "host_usd": {"unit": "USD"},
    "accelerators_per_host": {"low": 1, "high": 100000, "whole": True},
    "region_hour_usd": {"low": 0, "low_open": True, "unit": "USD per accelerator-hour"},
}
_REGION_RULES: dict[str, dict[str, Any]] = {
    "utilisation": {"low": 0, "low_open": True, "high": 1, "floor": 0.01,
                    "why": "a pooled region below 1 % would rent 100x the accelerators "
                           "its load needs"},
    "network_usd_per_million_requests": {"unit": "USD"},
    "power_usd_per_kwh": {"high": 100, "unit": "USD/kWh"},
}
_BOOL_KEYS = {"ztp"}


def _table_problems(where: str, table: Any, rules: Mapping[str, Mapping[str, Any]],
                    bools: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Every problem of one table (unknown keys, each with the key it most likely stands
    for, bad values; a table that sets nothing), each naming ``where``."""
    if not isinstance(table, Mapping):
        return [f"{where} must be a table; got {table!r}"]
    allowed = [*rules, *sorted(bools), "sources"]
    if not table:
        return [f"{where} sets nothing (an empty table: its keys under another header, or "
                f"left out?); set some of {', '.join(allowed)}, or drop it"]
    found = []
    unknown = [k for k in table if k not in allowed]
    if unknown:
        found.append(f"{where} has unknown key(s) {unknown_keys_text(unknown, allowed)} "
                     f"(allowed: {', '.join(allowed)})")
    for key, value in table.items():
        if key in rules:
            problem = _problem(key, value, **rules[key])
        elif key in bools:
            problem = bool_problem(key, value)
        elif key == "sources":
            problem = sources_problem(value)
        else:
            continue
        if problem:
            found.append(f"{where}: {problem}")
    return found


def _convert(table: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]]
             ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "sources":
            out[key] = tuple(str(s) for s in value)
        elif key in rules and rules[key].get("whole"):
            out[key] = int(value)
        elif key in rules:
            out[key] = float(value)
        else:
            out[key] = bool(value)
    return out


@named_arguments
@dataclass(frozen=True)
class CostModel:
    """The cost model: ``[fleet]``, ``[edge.TIER]``, ``[accelerators."TYPE"]``, ``[region]``.

    Build it with :meth:`builtin`, :meth:`from_file` (the built-in model with a TOML
    file's fields applied) or :meth:`from_spec`; :meth:`with_overrides` changes fields in
    code.

    Examples
    --------
    >>> m = CostModel.builtin()
    >>> m.tier("metro-colo").name, m.tier("no-such-tier").name
    ('metro-colo', 'default')
    >>> m.accelerator("NVIDIA L4").region_hour_usd is not None
    True
    """

    fleet: FleetCosts
    edge: Mapping[str, TierCost]
    accelerators: Mapping[str, AcceleratorCost]
    region: RegionCost
    source: str = "built-in"
    date: str = ""

    def __post_init__(self) -> None:
        """Refuse a model built by hand with values a file could not hold (one message)."""
        found = _model_problems(self)
        if found:
            raise InputValidationError(f"invalid cost model ({self.source}): "
                                       + "; ".join(found) + f". Fix: {_FIX}")

    def tier(self, name: str) -> TierCost:
        """The costs of tier ``name``, else of ``default``."""
        return self.edge.get(name) or self.edge["default"]

    def accelerator(self, name: str) -> AcceleratorCost | None:
        """The prices of accelerator type ``name`` (``None``: not in the model)."""
        return self.accelerators.get(name)

    @classmethod
    def builtin(cls) -> CostModel:
        """The built-in model, ``coverage/model/costs.toml`` (read once, validated)."""
        return _builtin()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> CostModel:
        """The built-in model with the tables of a TOML file applied, field by field.

        A table for a tier or accelerator the built-in model lacks adds one (fields left
        out: the ``default`` tier's values, or the :class:`AcceleratorCost` defaults).

        Raises
        ------
        InputValidationError
            Missing, unreadable or invalid file: one message naming the file, every
            problem and the fix.
        """
        p = Path(path)
        from ..inputs.validation import special_file_problem

        special = special_file_problem(p, "cost model file")
        if special:
            raise InputValidationError(special)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputValidationError(f"{p}: cost model file not found. Fix: give the path "
                                       "of a TOML file ([fleet], [edge.TIER], ...)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputValidationError(f"{p}: cannot read the cost model file ({exc}). Fix: "
                                       "write a UTF-8 TOML file") from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputValidationError(f"{p}: the cost model file is not valid TOML ({exc}). "
                                       f"Fix: {_FIX}") from None
        if not doc:
            raise InputValidationError(
                f"{p}: the cost model file sets nothing (no [fleet], [edge.TIER], "
                "[accelerators.\"TYPE\"] or [region] table: an empty file, or the wrong "
                f"one?). Fix: {_FIX}; or drop --costs for the built-in model")
        merged = _apply(cls.builtin(), doc, str(p))
        return replace(merged, source=f"built-in + {p}")

    @classmethod
    def from_spec(cls, spec: str | os.PathLike[str] | CostModel | None) -> CostModel:
        """:meth:`builtin` for ``None``, a model as is, else :meth:`from_file`."""
        if spec is None:
            return cls.builtin()
        if isinstance(spec, CostModel):
            return spec
        return cls.from_file(spec)

    def with_overrides(self, doc: Mapping[str, Any]) -> CostModel:
        """This model with a TOML-shaped dict applied (as :meth:`from_file` applies a file).

        Examples
        --------
        >>> m = CostModel.builtin().with_overrides({"fleet": {"ztp": False}})
        >>> m.fleet.ztp
        False
        """
        return _apply(self, doc, "cost overrides")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every table, plus the model's source and date."""
        return {"source": self.source, "date": self.date, "fleet": asdict(self.fleet),
                "edge": {k: asdict(v) for k, v in self.edge.items()},
                "accelerators": {k: asdict(v) for k, v in self.accelerators.items()},
                "region": asdict(self.region)}


def _apply(base: CostModel, doc: Mapping[str, Any], source: str) -> CostModel:
    """``base`` with the tables of a cost document applied (checked first, all at once)."""
    allowed = ("fleet", "edge", "accelerators", "region", "date", "source")
    found: list[str] = []
    unknown = [k for k in doc if k not in allowed]
    if unknown:
        found.append(f"unknown top-level key(s) {unknown_keys_text(unknown, allowed)} "
                     "(allowed: [fleet], [edge.TIER], [accelerators.\"TYPE\"], [region], "
                     "date, source)")
    for key in ("fleet", "region"):
        if key in doc:
            rules = _FLEET_RULES if key == "fleet" else _REGION_RULES
            found += _table_problems(f"[{key}]", doc[key], rules,
                                     _BOOL_KEYS if key == "fleet" else set())
    for key, rules in (("edge", _TIER_RULES), ("accelerators", _ACC_RULES)):
        if key not in doc:
            continue
        if not isinstance(doc[key], Mapping):
            found.append(f"[{key}] must hold tables ([{key}.NAME]); got {doc[key]!r}")
            continue
        if not doc[key]:
            found.append(f"[{key}] holds no [{key}.NAME] table (sets nothing)")
        for name, table in doc[key].items():
            if not str(name).strip():
                found.append(f"[{key}] has an empty name")
            found += _table_problems(f"[{key}.{name!r}]", table, rules)
    for key in ("date", "source"):
        if key in doc and (problem := text_problem(key, doc[key])):
            found.append(problem)
    if found:
        raise InputValidationError(f"{source}: invalid cost model: " + "; ".join(found)
                                   + f". Fix: {_FIX}")
    fleet = (replace(base.fleet, **_convert(doc["fleet"], _FLEET_RULES)) if "fleet" in doc
             else base.fleet)
    region = (replace(base.region, **_convert(doc["region"], _REGION_RULES))
              if "region" in doc else base.region)
    edge = dict(base.edge)
    for name, table in doc.get("edge", {}).items():
        start = edge.get(name) or (replace(edge["default"], name=name, sources=())
                                   if "default" in edge else TierCost(name))
        edge[name] = replace(start, **_convert(table, _TIER_RULES))
    acc = dict(base.accelerators)
    for name, table in doc.get("accelerators", {}).items():
        start = acc.get(name) or AcceleratorCost(name)
        acc[name] = replace(start, **_convert(table, _ACC_RULES))
    if "default" not in edge:
        raise InputValidationError(f"{source}: the cost model has no [edge.default] table. "
                                   f"Fix: {_FIX}")
    return CostModel(fleet, edge, acc, region, base.source,
                     str(doc.get("date", base.date)))


def _model_problems(model: CostModel) -> list[str]:
    """Every problem of a model's tables as built (types and ranges, as a file is checked:
    a model made in code bypasses the file's checks)."""
    found: list[str] = []
    parts: list[tuple[str, Any, type, Mapping[str, Mapping[str, Any]], set[str]]] = [
        ("[fleet]", model.fleet, FleetCosts, _FLEET_RULES, _BOOL_KEYS),
        ("[region]", model.region, RegionCost, _REGION_RULES, set())]
    for key, kind, rules in (("edge", TierCost, _TIER_RULES),
                             ("accelerators", AcceleratorCost, _ACC_RULES)):
        entries = getattr(model, key)
        if not isinstance(entries, Mapping):
            found.append(f"{key} must be a mapping name -> {kind.__name__}; got {entries!r}")
            continue
        for name, entry in entries.items():
            if isinstance(entry, kind) and entry.name != name:
                found.append(f"[{key}.{name!r}] holds the {kind.__name__} of {entry.name!r}")
            parts.append((f"[{key}.{name!r}]", entry, kind, rules, set()))
    for where, entry, kind, rules, bools in parts:
        if not isinstance(entry, kind):
            found.append(f"{where} must be a {kind.__name__}; got {entry!r}")
            continue
        values = {k: v for k, v in asdict(entry).items() if k != "name"
                  and not (v is None and k in ("unit_usd", "host_usd", "region_hour_usd"))}
        found += _table_problems(where, values, rules, bools)
    if isinstance(model.edge, Mapping) and "default" not in model.edge:
        found.append("no [edge.default] table (the costs of sites whose tier has none)")
    return found


@lru_cache(maxsize=1)
def _builtin() -> CostModel:
    label = f"built-in cost model (coverage/model/{_BUILTIN_FILE})"
    try:
        text = resources.files("coverage.model").joinpath(_BUILTIN_FILE).read_text(
            encoding="utf-8")
    except OSError as exc:
        raise InputValidationError(f"{label}: cannot read it ({exc}). Fix: reinstall "
                                   "edge-coverage with its package data") from None
    doc = tomllib.loads(text)
    empty = CostModel(FleetCosts(), {"default": TierCost("default")}, {}, RegionCost())
    model = _apply(empty, doc, label)
    # the built-in model states every field of every table, with sources
    missing = []
    for key, rules, bools in (("fleet", _FLEET_RULES, _BOOL_KEYS),
                              ("region", _REGION_RULES, set())):
        missing += [f"[{key}] leaves out {k}" for k in [*rules, *bools, "sources"]
                    if k not in doc[key]]
    for name, table in doc["edge"].items():
        missing += [f"[edge.{name}] leaves out {k}" for k in [*_TIER_RULES, "sources"]
                    if k not in table]
    for name, table in doc["accelerators"].items():
        missing += [f"[accelerators.{name!r}] leaves out {k}"
                    for k in ["unit_usd", "host_usd", "accelerators_per_host", "sources"]
                    if k not in table]
    if missing:
        raise InputValidationError(f"{label}: " + "; ".join(missing))
    return replace(model, source="built-in")


def annuity_factor(rate: float, years: float) -> float:
    """Share of a capital cost paid each year to repay it over ``years`` at ``rate``.

    Examples
    --------
    >>> annuity_factor(0.0, 5)
    0.2
    >>> round(annuity_factor(0.08, 5), 6)
    0.250456
    """
    if rate <= 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


@dataclass(frozen=True)
class SiteCosts:
    """The annual cost of every site of a fleet, by line (USD per year; arrays over sites).

    ``capex_usd`` is the up-front cost; ``capital_usd_per_year`` its annuity. The energy
    line splits into the part paid at zero utilisation (``energy_fixed_usd_per_year``) and
    the part proportional to utilisation (``energy_per_util_usd_per_year`` x u);
    ``energy_usd_per_year`` is the energy at each site's own utilisation and
    ``total_usd_per_year`` the site's annual cost (every line at that utilisation).
    ``hosts`` is the hosts priced at each site (``ceil(n / accelerators_per_host)``).
    """

    capex_usd: npt.NDArray[np.float64]
    capital_usd_per_year: npt.NDArray[np.float64]
    energy_fixed_usd_per_year: npt.NDArray[np.float64]
    energy_per_util_usd_per_year: npt.NDArray[np.float64]
    lease_usd_per_year: npt.NDArray[np.float64]
    backhaul_usd_per_year: npt.NDArray[np.float64]
    operations_usd_per_year: npt.NDArray[np.float64]
    redundancy_usd_per_year: npt.NDArray[np.float64]
    facility_kw: npt.NDArray[np.float64]
    energy_usd_per_year: npt.NDArray[np.float64]
    total_usd_per_year: npt.NDArray[np.float64]
    hosts: npt.NDArray[np.int64]


@dataclass(frozen=True)
class FleetCost:
    """An edge fleet priced for a load (:func:`fleet_cost`).

    Attributes
    ----------
    sites : SiteCosts
        Per-site lines.
    n_accelerators : numpy.ndarray
        Accelerators priced per site.
    utilisation_mean : numpy.ndarray
        Mean load over raw capacity (accelerators x throughput) per site.
    total_usd_per_year : float
        The fleet's annual cost.
    by_line_usd_per_year : dict
        The annual cost by line (capital, energy, lease, backhaul, operations).
    mean_load_rps : float
        Mean load served, requests/s.
    capacity_rps : float
        Raw capacity of the priced accelerators, requests/s.
    cost_per_million_requests : float
        USD per million requests served (``nan`` without load).
    ztp : bool
        Whether the operations were priced zero-touch.
    ops_install_usd_per_year : float
        Operations plus the installation's annuity, as priced.
    ops_install_usd_per_year_other_mode : float
        The same in the other mode (without ZTP when priced with it, and the reverse).
    truck_rolls_per_year : float
        Truck rolls of the whole fleet per year, as priced.
    mean_requests_rps : float
        Mean requests served, requests/s of their own workloads: ``mean_load_rps``, unless
        service classes on several workloads share the accelerators (the load is then in
        requests/s of one of them); the cost per million requests is over these.
    """

    sites: SiteCosts
    n_accelerators: npt.NDArray[np.int64]
    utilisation_mean: npt.NDArray[np.float64]
    total_usd_per_year: float
    by_line_usd_per_year: dict[str, float]
    mean_load_rps: float
    capacity_rps: float
    cost_per_million_requests: float
    ztp: bool
    ops_install_usd_per_year: float
    ops_install_usd_per_year_other_mode: float
    truck_rolls_per_year: float
    mean_requests_rps: float = math.nan

    @property
    def energy_at_load_usd_per_year(self) -> float:
        """The energy that scales with use, at the present load (USD a year)."""
        return float((self.sites.energy_per_util_usd_per_year * self.utilisation_mean).sum())

    @property
    def fixed_usd_per_year(self) -> float:
        """The annual cost but the energy that scales with use (what stays at zero load)."""
        return self.total_usd_per_year - self.energy_at_load_usd_per_year

    @property
    def utilisation(self) -> float:
        """Fleet mean utilisation: mean load over raw capacity."""
        return self.mean_load_rps / self.capacity_rps if self.capacity_rps > 0 else math.nan


def fleet_cost(model: CostModel, *, tiers: npt.ArrayLike, n_accelerators: npt.ArrayLike,
               mean_load_rps: npt.ArrayLike, accelerator: str, throughput_rps: float,
               accelerator_w: float, host_w: float, pue: npt.ArrayLike,
               accelerators_per_host: int | None = None,
               mean_requests_rps: float | None = None) -> FleetCost:
    """Price an edge fleet: one row per site.

    Parameters
    ----------
    model : CostModel
        Prices.
    tiers : array_like of str
        Each site's tier (its ``[edge.TIER]`` table, else ``default``).
    n_accelerators : array_like of int
        Accelerators installed at each site (>= 0).
    mean_load_rps : array_like of float
        Each site's mean (daily average) load, requests/s.
    accelerator : str
        The accelerator type (its ``[accelerators."TYPE"]`` table).
    throughput_rps : float
        Requests/s one accelerator sustains at full use.
    accelerator_w, host_w : float
        Board power of one accelerator and power of one host, W.
    pue : array_like of float
        Each site's PUE (facility power over IT power).
    accelerators_per_host : int or None, default None
        Accelerators one host holds (the workload's, so the priced hosts are the hosts its
        capacity was sized with); ``None``: the cost model's for ``accelerator``.
    mean_requests_rps : float, optional
        The fleet's mean requests/s counted in their own workloads, when service classes
        on several workloads share the accelerators and ``mean_load_rps`` is in
        requests/s of ``throughput_rps``'s workload (their accelerator time): the cost per
        million requests is over these. Default: the sum of ``mean_load_rps``.

    Returns
    -------
    FleetCost

    Raises
    ------
    InputValidationError
        The accelerator type has no price in the model.

    Notes
    -----
    Per site with ``n`` accelerators, ``h = ceil(n / accelerators_per_host)`` hosts, mean
    utilisation ``u = mean load / (n x throughput)``:

    - capex = ``n x unit + h x host + cabinet + install (or install_manual) + redundancy``,
      paid as an annuity over ``depreciation_years`` at ``cost_of_capital``;
    - energy = ``(h x host_w + n x accelerator_w x (idle + (1 - idle) x u)) / 1000 x PUE x
      8760 x power price``;
    - lease = ``(h x host_w + n x accelerator_w) / 1000 x PUE x lease per kW-month x 12
      + rent x 12``; backhaul = ``backhaul x 12``;
    - operations = ``remote ops + truck rolls (ZTP or manual) x truck_roll_usd``.
    """
    tiers = np.asarray(tiers, dtype=object)
    n = np.asarray(n_accelerators, dtype=np.int64)
    mean = np.asarray(mean_load_rps, dtype=np.float64)
    pue = np.broadcast_to(np.asarray(pue, dtype=np.float64), n.shape)
    bad = [name for name, arr, low in (("n_accelerators", n, 0), ("mean_load_rps", mean, 0),
                                       ("pue", pue, 1)) if not np.all(np.isfinite(arr)
                                                                      & (arr >= low))]
    if bad:
        raise InputValidationError(
            f"fleet_cost: {', '.join(bad)} must be finite numbers (n_accelerators and "
            "mean_load_rps >= 0, pue >= 1). Fix: pass the plan's sites as they are")
    acc = model.accelerator(accelerator)
    problem = edge_price_problem(model, accelerator)
    if problem is not None:
        raise InputValidationError(problem)
    assert acc is not None and acc.unit_usd is not None and acc.host_usd is not None
    _check_figures("fleet_cost", throughput_rps=throughput_rps, accelerator_w=accelerator_w,
                   host_w=host_w)
    f = model.fleet
    # per-tier fields as arrays over the sites (a loop over the few tiers, not the sites)
    names = np.unique(tiers) if len(tiers) else np.array([], dtype=object)
    def per_tier(attr: str) -> npt.NDArray[np.float64]:
        out = np.zeros(len(tiers))
        for t in names:
            out[tiers == t] = getattr(model.tier(str(t)), attr)
        return out
    per_host = acc.accelerators_per_host if accelerators_per_host is None else accelerators_per_host
    if isinstance(per_host, bool) or not isinstance(per_host, int | np.integer) or per_host < 1:
        raise InputValidationError(
            f"fleet_cost: accelerators_per_host must be a whole number >= 1; got "
            f"{accelerators_per_host!r}. Fix: take it from the workload")
    hosts = np.ceil(n / int(per_host))
    raw_cap = n * float(throughput_rps)
    util = np.divide(mean, raw_cap, out=np.zeros_like(mean), where=raw_cap > 0)
    install = per_tier("install_usd" if f.ztp else "install_usd_manual")
    install_other = per_tier("install_usd_manual" if f.ztp else "install_usd")
    redundancy = per_tier("redundancy_usd")
    capex = (n * acc.unit_usd + hosts * acc.host_usd + per_tier("cabinet_usd") + install
             + redundancy)
    ann = annuity_factor(f.cost_of_capital, f.depreciation_years)
    it_full_kw = (hosts * host_w + n * accelerator_w) / 1000.0
    facility_kw = it_full_kw * pue
    price = per_tier("power_usd_per_kwh")
    idle_kw = (hosts * host_w + n * accelerator_w * f.idle_power_share) / 1000.0
    busy_kw = n * accelerator_w * (1.0 - f.idle_power_share) / 1000.0
    energy_fixed = idle_kw * pue * HOURS_PER_YEAR * price
    energy_util = busy_kw * pue * HOURS_PER_YEAR * price
    lease = facility_kw * per_tier("lease_usd_per_kw_month") * 12 + per_tier(
        "rent_usd_per_month") * 12
    backhaul = per_tier("backhaul_usd_per_month") * 12
    rolls = per_tier("truck_rolls_per_year_ztp" if f.ztp else "truck_rolls_per_year_manual")
    rolls_other = per_tier("truck_rolls_per_year_manual" if f.ztp
                           else "truck_rolls_per_year_ztp")
    remote = per_tier("remote_ops_usd_per_year")
    ops = remote + rolls * f.truck_roll_usd
    ops_install = float(ops.sum() + (install * ann).sum())
    ops_install_other = float((remote + rolls_other * f.truck_roll_usd).sum()
                              + (install_other * ann).sum())
    energy = energy_fixed + energy_util * util
    sites = SiteCosts(capex, capex * ann, energy_fixed, energy_util, lease, backhaul, ops,
                      redundancy * ann, facility_kw, energy,
                      capex * ann + energy + lease + backhaul + ops, hosts.astype(np.int64))
    lines = {"capital": float(sites.capital_usd_per_year.sum()),
             "energy": float(energy.sum()), "lease": float(lease.sum()),
             "backhaul": float(backhaul.sum()), "operations": float(ops.sum())}
    total = float(sum(lines.values()))
    load = float(mean.sum())
    if mean_requests_rps is None:
        requests = load
    elif is_number(mean_requests_rps) and mean_requests_rps >= 0:
        requests = float(mean_requests_rps)
    else:
        raise InputValidationError(
            f"fleet_cost: mean_requests_rps must be a finite number >= 0; got "
            f"{mean_requests_rps!r}. Fix: pass the fleet's mean requests/s, or leave it out")
    if (requests > 0) != (load > 0):
        raise InputValidationError(
            f"fleet_cost: mean_requests_rps {requests:g} and the load {load:g} must both be "
            "0 or both be positive (the same requests, counted in two units). Fix: pass "
            "the requests of the load given")
    per_m = total / (requests * SECONDS_PER_YEAR / 1e6) if requests > 0 else math.nan
    return FleetCost(sites, n, util, total, lines, load, float(raw_cap.sum()), per_m, f.ztp,
                     ops_install, ops_install_other, float(rolls.sum()), requests)


@dataclass(frozen=True)
class RegionCostResult:
    """The same load served from a region (:func:`region_cost`)."""

    accelerator: str
    region_hour_usd: float
    utilisation: float
    accelerators_mean: float
    accelerator_hours_per_year: float
    compute_usd_per_year: float
    network_usd_per_year: float
    total_usd_per_year: float
    cost_per_million_requests: float


def region_cost(model: CostModel, *, mean_load_rps: float, accelerator: str,
                throughput_rps: float) -> RegionCostResult:
    """Price a mean load in a public-cloud region.

    The region rents ``mean_load / (throughput x utilisation)`` accelerators on average
    (pooled demand keeps them at the region's utilisation), at ``region_hour_usd`` each,
    plus the network / CDN price per million requests.

    Raises
    ------
    InputValidationError
        The accelerator type has no region price.

    Examples
    --------
    >>> m = CostModel.builtin().with_overrides({"accelerators": {"X": {
    ...     "region_hour_usd": 1.0}}, "region": {"utilisation": 0.5,
    ...     "network_usd_per_million_requests": 0.0}})
    >>> r = region_cost(m, mean_load_rps=100.0, accelerator="X", throughput_rps=100.0)
    >>> r.accelerators_mean, r.total_usd_per_year
    (2.0, 17520.0)
    """
    acc = model.accelerator(accelerator)
    if acc is None or acc.region_hour_usd is None:
        raise InputValidationError(
            f"cost model ({model.source}): no region price for accelerator {accelerator!r}"
            f"{_spelling(model, accelerator)}. Fix: set region_hour_usd in "
            f"[accelerators.\"{accelerator}\"] of a --costs file, or compare against a "
            "workload on an accelerator the region rents (--region-workload)")
    _check_figures("region_cost", throughput_rps=throughput_rps)
    if not (is_number(mean_load_rps) and mean_load_rps >= 0):
        raise InputValidationError(f"region_cost: mean_load_rps must be a finite number >= 0; "
                                   f"got {mean_load_rps!r}. Fix: pass the demand's mean load")
    u = model.region.utilisation
    n_mean = float(mean_load_rps) / (float(throughput_rps) * u)
    hours = n_mean * HOURS_PER_YEAR
    compute = hours * acc.region_hour_usd
    requests_m = float(mean_load_rps) * SECONDS_PER_YEAR / 1e6
    network = requests_m * model.region.network_usd_per_million_requests
    total = compute + network
    per_m = total / requests_m if requests_m > 0 else math.nan
    return RegionCostResult(accelerator, float(acc.region_hour_usd), u, n_mean, hours,
                            compute, network, total, per_m)


def edge_price_problem(model: CostModel, accelerator: str) -> str | None:
    """What keeps an edge fleet of ``accelerator`` from being priced, with the fix
    (``None``: the model has its unit and host prices).

    Examples
    --------
    >>> m = CostModel.builtin().with_overrides({"accelerators": {"X": {
    ...     "region_hour_usd": 1.0}}})
    >>> edge_price_problem(m, "NVIDIA L4") is None
    True
    >>> print(edge_price_problem(m, "X"))  # doctest: +ELLIPSIS
    cost model (built-in): accelerator 'X' has no edge price (unit_usd, host_usd)...
    """
    acc = model.accelerator(accelerator)
    if acc is None:
        spelling = _spelling(model, accelerator)
        return (f"cost model ({model.source}): no price for accelerator {accelerator!r}"
                f"{spelling}. Fix: "
                + ("spell the workload's accelerator as the cost model does, or " if spelling
                   else "")
                + f"add [accelerators.\"{accelerator}\"] with unit_usd, host_usd and "
                "accelerators_per_host to a --costs file")
    missing = [k for k in ("unit_usd", "host_usd") if getattr(acc, k) is None]
    if missing:
        return (f"cost model ({model.source}): accelerator {accelerator!r} has no edge price "
                f"({', '.join(missing)}): it would be priced free. Fix: set "
                f"{' and '.join(missing)} in [accelerators.\"{accelerator}\"] of a --costs "
                "file")
    return None


def _spelling(model: CostModel, accelerator: str) -> str:
    """`` (the model has 'NVIDIA L4': names are case-sensitive)`` when ``accelerator`` is
    another spelling of a priced type, else ``""``."""
    from .catalog import closest

    near = closest(accelerator, list(model.accelerators))
    if near is None or near == accelerator:
        return ""
    return f" (the cost model has {near!r}: accelerator names must match exactly)"


def _check_figures(where: str, **figures: Any) -> None:
    """Refuse a throughput or a power that is not a finite number in its range."""
    lows = {"throughput_rps": (0.0, True), "accelerator_w": (0.0, False),
            "host_w": (0.0, False)}
    bad = [f"{k} = {v!r}" for k, v in figures.items()
           if not (is_number(v) and (v > lows[k][0] if lows[k][1] else v >= lows[k][0]))]
    if bad:
        raise InputValidationError(
            f"{where}: {', '.join(bad)} (throughput_rps must be a finite number > 0, "
            "accelerator_w and host_w finite numbers >= 0). Fix: take them from a catalog "
            "workload")


def breakeven_utilisation(fleet: FleetCost, region_per_million: float) -> float | None:
    """The fleet utilisation at which the fleet costs ``region_per_million`` per million
    requests, its equipment fixed and its load scaled in proportion at every site
    (``None``: not at or below a fleet utilisation of 100 %; the busiest sites may pass
    100 % before the fleet does, so ``u*`` is a price figure, not a load the sites carry).

    With ``s`` times the present load at every site the fleet costs ``F + s x V`` per year
    (``F``: every line but the energy that scales with use, ``V``: that energy at the
    present load) and serves ``s x R`` requests (``R``: the present requests a year), so
    the two prices meet at ``s* = F / (R x price / 1e6 - V)``, a fleet utilisation of
    ``s* x`` the present one (``R`` counts requests of their own workloads,
    ``mean_requests_rps``, as the region's price does). So the fleet clears the breakeven
    exactly when it costs no more than the region per request now, whatever its sites'
    tiers (tester 120: with every site taken at one utilisation, a fleet of mixed tiers
    cheaper than the region was said not to reach its breakeven). Without a load, every
    site at utilisation ``u``: ``u* = F / (capacity x seconds x price / 1e6 - E)`` (``E``:
    that energy at full use); the two agree when the energy per unit of capacity is the
    same at every site.
    """
    if fleet.mean_load_rps > 0:  # scale the present load: u* = s* x U
        variable = fleet.energy_at_load_usd_per_year
        requests = (fleet.mean_requests_rps if math.isfinite(fleet.mean_requests_rps)
                    else fleet.mean_load_rps)  # a FleetCost made without them
        revenue = requests * SECONDS_PER_YEAR / 1e6 * region_per_million
        scale = fleet.utilisation
    else:  # every site at u
        variable = float(fleet.sites.energy_per_util_usd_per_year.sum())
        revenue = fleet.capacity_rps * SECONDS_PER_YEAR / 1e6 * region_per_million
        scale = 1.0
    if revenue - variable <= 0:
        return None
    u = fleet.fixed_usd_per_year / (revenue - variable) * scale
    return float(u) if 0 <= u <= 1 else None

