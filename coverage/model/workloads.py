"""Inference workloads: one model on one accelerator type, its latency, memory and power.

"Power sets the model": at the edge the host site fixes the power envelope, and the
envelope decides which models can run there at all. A :class:`Workload` carries what that
decision needs: the inference time a request adds to a (user, site) pair's latency
(``inference_ms``, the same ``(p50_ms, p99_ms)`` pair as
:data:`coverage.model.latency.WORKLOADS_MS`), the throughput of one accelerator, the memory
the model needs against the memory of its smallest system, and the power of that system.

The built-in catalog (``coverage/model/workloads.toml``, :meth:`WorkloadCatalog.builtin`)
holds the six MLPerf Inference v3.1 workloads of the latency model (``vision-l4``,
``resnet50-l4``, ``bert-l4``, ``vision-orin``, ``resnet50-orin``, ``bert-orin``, with exactly
their inference times), a measured LLM on an L4 (``gptj-l4``), an estimated INT4 8B LLM on
an L4 (``llm-8b-int4-l4``) and a frontier-class model that needs a whole GB200 NVL72 rack
(``frontier-moe-gb200-nvl72``), with the sources and arithmetic of every number. A TOML
file of ``[workloads.NAME]`` tables (:meth:`WorkloadCatalog.from_file`) overrides fields of
built-in workloads and adds new ones.

Power of a site holding ``n`` accelerators of a workload (a host of ``host_w`` holds up to
``accelerators_per_host`` accelerators, so the site runs ``ceil(n / accelerators_per_host)``
hosts, :meth:`Workload.system_kw`)::

    hosts       = ceil(n / accelerators_per_host)
    IT kW       = (hosts * host_w + n * accelerator_w) / 1000
    facility kW = IT kW * pue

and the most accelerators a site of facility power ``power_kw`` holds
(:meth:`Workload.max_accelerators`), with ``B = power_kw * 1000 / pue`` the IT budget,
``h = accelerators_per_host`` and ``F = host_w + h * accelerator_w`` one full host::

    k = floor(B / F)                                            full hosts
    r = clip(floor((B - k*F - host_w) / accelerator_w), 0, h-1) on one more host
    n = k*h + r                 if n >= min_accelerators, else 0

The same hosts are priced (:func:`coverage.model.costs.fleet_cost`), so the capacity a
plan is proven with and the fleet it is priced for draw the same power.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError
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

__all__ = ["Workload", "WorkloadCatalog", "inference_table", "memory_problem",
           "WORKLOAD_KEYS", "BUILTIN_SOURCE"]

logger = logging.getLogger(__name__)

#: Keys a ``[workloads.NAME]`` table may hold.
WORKLOAD_KEYS = ("description", "accelerator", "inference_ms", "throughput_rps",
                 "model_memory_gb", "accelerator_memory_gb", "min_accelerators",
                 "accelerator_w", "host_w", "accelerators_per_host", "estimate", "sources")

_MAX_MS = 1e7                # 2.8 hours per request: beyond this a value is a typo
_MAX_RPS = 1e9
_MIN_RPS = 1e-6              # one request in 11.6 days: below this a value is a typo, and
                             # the accelerators a load needs overflow every count and price
_MAX_MEMORY_GB = 1e7         # 10 PB
_MAX_ACCELERATORS = 1_000_000
_MAX_ACCELERATOR_W = 1e5     # 100 kW per accelerator
_MAX_HOST_W = 1e8            # 100 MW per site-system
MAX_SITE_KW = 1e6            # 1 GW per site, as the tier catalog's power_kw
_MAX_PUE = 10.0
_REL_TOL = 1e-9              # a power budget met to 1 part in 10^9 counts as met
_MAX_COUNT = 2 ** 53         # max_accelerators saturates here (exact in float64)
_TEXT_KEYS = ("description", "accelerator")
# key -> (lowest allowed, lowest is allowed itself, highest, unit text)
_NUMBER_KEYS: dict[str, tuple[float, bool, float, str]] = {
    "throughput_rps": (0.0, False, _MAX_RPS, "requests/s"),
    "model_memory_gb": (0.0, False, _MAX_MEMORY_GB, "GB"),
    "accelerator_memory_gb": (0.0, False, _MAX_MEMORY_GB, "GB"),
    "accelerator_w": (0.0, False, _MAX_ACCELERATOR_W, "W"),
    "host_w": (0.0, True, _MAX_HOST_W, "W"),
}
_FIX = ("each [workloads.NAME] may set description and accelerator (text), inference_ms "
        "([p50, p99] ms with 0 <= p50 <= p99), throughput_rps, model_memory_gb, "
        "accelerator_memory_gb and accelerator_w (numbers > 0), host_w (number >= 0), "
        "min_accelerators and accelerators_per_host (whole numbers >= 1), estimate "
        "(true/false), sources (list of text); a new workload must set inference_ms; see "
        "coverage/model/workloads.toml")


def _is_whole(value: Any) -> bool:
    """An integer (not a bool)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the workload field ``key`` (``None``: nothing)."""
    if key in _TEXT_KEYS:
        return text_problem(key, value)
    if key == "inference_ms":
        return ms_pair_problem(key, value, _MAX_MS)
    if key in _NUMBER_KEYS:
        low, low_ok, high, unit = _NUMBER_KEYS[key]
        floor = _MIN_RPS if key == "throughput_rps" else None
        if (is_number(value) and (value >= low if low_ok else value > low) and value <= high
                and (floor is None or value >= floor)):
            return None
        bound = ">= 0" if low_ok else "> 0"
        least = (f" (at least {floor:g}: one request in {1 / floor / 86400:.1f} days)"
                 if floor is not None else "")
        return (f"{key} must be a finite number {bound} and <= {high:,.0f} {unit}{least}; "
                f"got {value!r}")
    if key in ("min_accelerators", "accelerators_per_host"):
        if _is_whole(value) and 1 <= value <= _MAX_ACCELERATORS:
            return None
        return (f"{key} must be a whole number from 1 to {_MAX_ACCELERATORS:,}; "
                f"got {value!r}")
    if key == "estimate":
        return bool_problem(key, value)
    if key == "sources":
        return sources_problem(value)
    return f"unknown key {key!r}"


@named_arguments
@dataclass(frozen=True)
class Workload:
    """One inference workload: a model served on one accelerator type.

    Parameters
    ----------
    name : str
        Plain label (``^[A-Za-z0-9][A-Za-z0-9_.-]*$``), case-sensitive.
    description : str, default ""
        What the workload is.
    accelerator : str, default ""
        Accelerator type, e.g. ``"NVIDIA L4"``, ``"GB200 NVL72"``.
    inference_ms : tuple of float, default (0.0, 0.0)
        ``(p50_ms, p99_ms)`` per request on one system of ``min_accelerators``
        (``0 <= p50 <= p99``).
    throughput_rps : float or None, default None
        Requests per second one accelerator sustains (1e-6 to 1e9; the sources name the
        scenario, e.g. MLPerf Offline: batched, no latency bound); ``None``: unknown.
    model_memory_gb : float or None, default None
        Memory the model needs as deployed (weights, KV cache, activations, runtime), GB.
    accelerator_memory_gb : float or None, default None
        Memory per accelerator, GB.
    min_accelerators : int, default 1
        The smallest system that runs the workload (>= 1; a bool is not accepted).
    accelerator_w : float or None, default None
        Board power of one accelerator, W (> 0).
    host_w : float or None, default None
        Power of one host (CPUs, DRAM, NICs, storage, fans, switch trays, power
        conversion; for a rack-scale system, the rest of the rack), W (>= 0), counted once
        per ``accelerators_per_host`` accelerators (or part of them) at a site.
    accelerators_per_host : int, default 1
        Accelerators one host holds (>= 1): a site with ``n`` accelerators runs
        ``ceil(n / accelerators_per_host)`` hosts. The default 1 gives every accelerator a
        host of its own (the cautious reading of a ``host_w`` with no host size).
    estimate : bool, default False
        ``True`` when the timing is derived, not measured.
    sources : tuple of str, default ()
        Where the numbers come from (estimates marked as such).

    Raises
    ------
    InputValidationError
        Any field of the wrong type or out of range (one message for every problem).

    Examples
    --------
    >>> w = Workload("det", inference_ms=(4.7, 4.9), min_accelerators=1,
    ...              accelerator_w=72.0, host_w=300.0, accelerators_per_host=4)
    >>> w.system_kw(), w.system_kw(4), w.system_kw(5)
    (0.372, 0.588, 0.96)
    >>> w.max_accelerators(10.0, 1.6)      # 6,250 W IT: 10 full hosts of 588 W, 370 W left
    40
    >>> w.max_accelerators([0.3, 10.0], 1.6).tolist()
    [0, 40]
    >>> w.hosts(40), w.hosts(41)
    (10, 11)
    """

    name: str
    description: str = ""
    accelerator: str = ""
    inference_ms: Pair = (0.0, 0.0)
    throughput_rps: float | None = None
    model_memory_gb: float | None = None
    accelerator_memory_gb: float | None = None
    min_accelerators: int = 1
    accelerator_w: float | None = None
    host_w: float | None = None
    accelerators_per_host: int = 1
    estimate: bool = False
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_entry(FORMAT, self, optional=_NUMBER_KEYS)
        # normalise: plain floats, ints, tuples, bools (numpy scalars and lists accepted)
        object.__setattr__(self, "inference_ms", as_pair(self.inference_ms))
        for key in _NUMBER_KEYS:
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, float(value))
        object.__setattr__(self, "min_accelerators", int(self.min_accelerators))
        object.__setattr__(self, "accelerators_per_host", int(self.accelerators_per_host))
        object.__setattr__(self, "estimate", bool(self.estimate))
        object.__setattr__(self, "sources", tuple(self.sources))

    def memory_fits(self) -> bool:
        """Whether the model fits its smallest system.

        Returns
        -------
        bool
            ``model_memory_gb <= min_accelerators * accelerator_memory_gb``; ``True``
            when either memory is unknown (``None``: nothing to check against).
        """
        if self.model_memory_gb is None or self.accelerator_memory_gb is None:
            return True
        return self.model_memory_gb <= self.min_accelerators * self.accelerator_memory_gb

    def _power_w(self) -> tuple[float, float]:
        """``(accelerator_w, host_w)``; :class:`InputValidationError` when unknown."""
        missing = [k for k in ("accelerator_w", "host_w") if getattr(self, k) is None]
        if missing:
            raise InputValidationError(
                f"workload {self.name!r} has no {' and '.join(missing)}, so its power is "
                f"unknown. Fix: set accelerator_w and host_w (W) in [workloads.{self.name}]")
        assert self.accelerator_w is not None and self.host_w is not None
        return self.accelerator_w, self.host_w

    def hosts(self, n_accelerators: int) -> int:
        """Hosts a site with ``n_accelerators`` accelerators runs:
        ``ceil(n_accelerators / accelerators_per_host)`` (0 for none)."""
        n = int(n_accelerators)
        return -(-n // self.accelerators_per_host) if n > 0 else 0

    def system_kw(self, n_accelerators: int | None = None) -> float:
        """IT power of a site with ``n_accelerators`` accelerators and their hosts, kW.

        Parameters
        ----------
        n_accelerators : int or None, default None
            Accelerators at the site (a whole number >= 0); ``None``: ``min_accelerators``.

        Returns
        -------
        float
            ``(hosts(n) * host_w + n * accelerator_w) / 1000``, before PUE.

        Raises
        ------
        InputValidationError
            ``accelerator_w`` or ``host_w`` unknown, or ``n_accelerators`` not a whole
            number >= 0.
        """
        accelerator_w, host_w = self._power_w()
        n = self.min_accelerators if n_accelerators is None else n_accelerators
        if not _is_whole(n) or n < 0:
            raise InputValidationError(
                f"workload {self.name!r}: n_accelerators must be a whole number >= 0; got "
                f"{n_accelerators!r}")
        return (self.hosts(int(n)) * host_w + int(n) * accelerator_w) / 1000.0

    def max_accelerators(self, power_kw: float | npt.ArrayLike, pue: float | npt.ArrayLike
                         ) -> int | npt.NDArray[np.int64]:
        """The most accelerators of this workload a site's power envelope holds.

        The largest whole ``n >= min_accelerators`` with
        ``(ceil(n / accelerators_per_host) * host_w + n * accelerator_w) / 1000 * pue <=
        power_kw``, or 0 when even ``min_accelerators`` do not fit: as many full hosts as
        the IT budget ``power_kw * 1000 / pue`` holds, then as many accelerators as the
        rest holds on one more host. Power grows with ``n``, so every smaller count fits
        too. ``n`` need not be a multiple of ``min_accelerators``. A budget met to within
        one part in 10^9 counts as met (float rounding); the result saturates at 2^53.

        Vectorised: ``power_kw`` and ``pue`` may be scalars or array-likes of any shapes
        that broadcast together; scalars in give a Python ``int``, anything else a NumPy
        ``int64`` array of the broadcast shape.

        Parameters
        ----------
        power_kw : float or array_like
            Facility power envelope of the site (IT power x PUE), kW; finite, from 0 to
            1,000,000.
        pue : float or array_like
            Power usage effectiveness (facility / IT power); finite, from 1.0 to 10.

        Returns
        -------
        int or numpy.ndarray of int64
            Accelerators per site (0: the workload does not fit the site).

        Raises
        ------
        InputValidationError
            ``accelerator_w`` or ``host_w`` unknown; ``power_kw`` or ``pue`` not numbers,
            out of range or of shapes that do not broadcast.

        Examples
        --------
        >>> w = Workload("x", accelerator_w=72.0, host_w=300.0, min_accelerators=2,
        ...              accelerators_per_host=4)
        >>> w.max_accelerators(0.444, 1.0), w.max_accelerators(0.443, 1.0)
        (2, 0)
        >>> w.max_accelerators(0.588, 1.0), w.max_accelerators(0.959, 1.0)
        (4, 4)
        """
        accelerator_w, host_w = self._power_w()
        h = float(self.accelerators_per_host)
        scalar = np.ndim(power_kw) == 0 and np.ndim(pue) == 0
        p = self._numbers("power_kw", power_kw, 0.0, MAX_SITE_KW, "kW")
        q = self._numbers("pue", pue, 1.0, _MAX_PUE, "")
        try:
            p, q = np.broadcast_arrays(p, q)
        except ValueError:
            raise InputValidationError(
                f"workload {self.name!r}: power_kw (shape {p.shape}) and pue (shape "
                f"{q.shape}) do not broadcast together. Fix: give arrays of the same shape, "
                "or a scalar for one of them") from None

        def whole(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            # floor, with a budget met to 1 part in 10^9 counted as met
            return np.floor(x + _REL_TOL * np.maximum(1.0, np.abs(x)))

        budget_w = p * 1000.0 / q
        host_full_w = host_w + h * accelerator_w
        with np.errstate(over="ignore", invalid="ignore"):  # tiny accelerator_w: inf
            full = whole(budget_w / host_full_w)
            rest_w = np.maximum(budget_w - full * host_full_w, 0.0)
            extra = np.clip(whole((rest_w - host_w) / accelerator_w), 0.0, h - 1.0)
            n = full * h + extra
        n = np.where(np.isnan(n), _MAX_COUNT, n)  # inf * 0 from an infinite host count
        n = np.where(n >= self.min_accelerators, np.minimum(n, _MAX_COUNT), 0.0)
        out = n.astype(np.int64)
        return int(out) if scalar else out

    def _numbers(self, key: str, value: Any, low: float, high: float, unit: str
                 ) -> npt.NDArray[np.float64]:
        """``value`` as a float array, every element finite and in ``[low, high]``."""
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":
            raise InputValidationError(
                f"workload {self.name!r}: {key} must be a number or an array of numbers; "
                f"got {value!r}. Fix: pass {key} as float(s)")
        arr = raw.astype(np.float64)
        bad = ~np.isfinite(arr) | (arr < low) | (arr > high)
        if bad.any():
            shown = ", ".join(f"{v:g}" for v in arr[bad].ravel()[:5])
            raise InputValidationError(
                f"workload {self.name!r}: {int(bad.sum())} {key} value(s) are not finite "
                f"numbers from {low:g} to {high:,.0f}{' ' + unit if unit else ''} ({shown}). "
                f"Fix: give {key} within that range")
        return arr

    def to_dict(self) -> dict[str, Any]:
        """The workload as JSON-ready values (pairs as lists, ``None`` where unknown),
        with ``memory_fits`` and, when the power is known, ``system_kw`` (of
        ``min_accelerators``) added."""
        out: dict[str, Any] = {"name": self.name}
        for key in WORKLOAD_KEYS:
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        out["memory_fits"] = self.memory_fits()
        out["system_kw"] = (None if self.accelerator_w is None or self.host_w is None
                            else self.system_kw())
        return out


def memory_problem(w: Workload) -> str | None:
    """What is wrong when ``w``'s model does not fit its smallest system, with the fix
    (``None``: it fits, or a memory is unknown).

    ``min_accelerators`` is the system every size is built from (the power a site needs,
    its capacity, the accelerators priced), and ``inference_ms`` is the time on it; so a
    model larger than ``min_accelerators x accelerator_memory_gb`` cannot run anywhere,
    and the smallest system that holds it is for the catalog to state, not to guess.

    Examples
    --------
    >>> w = Workload("m", model_memory_gb=100.0, accelerator_memory_gb=24.0)
    >>> print(memory_problem(w))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    workload 'm' needs 100 GB of memory (model_memory_gb) but its smallest system holds
    24 GB (min_accelerators 1 x accelerator_memory_gb 24 GB). Fix: in [workloads.m] set
    min_accelerators = 5 ...
    >>> memory_problem(Workload("m", model_memory_gb=24.0, accelerator_memory_gb=24.0))
    """
    if w.memory_fits():
        return None
    model, per = float(w.model_memory_gb or 0.0), float(w.accelerator_memory_gb or 0.0)
    n = _MAX_ACCELERATORS + 1
    if model / per <= _MAX_ACCELERATORS:  # else (inf from a tiny per too) no count will do
        n = max(math.ceil(model / per), 1)
        while n > 1 and model <= (n - 1) * per:  # the quotient's float rounding, either way
            n -= 1
        while model > n * per:
            n += 1
    text = (f"workload {w.name!r} needs {model:g} GB of memory (model_memory_gb) but its "
            f"smallest system holds {w.min_accelerators * per:g} GB (min_accelerators "
            f"{w.min_accelerators} x accelerator_memory_gb {per:g} GB). Fix: in "
            f"[workloads.{w.name}] ")
    if n <= _MAX_ACCELERATORS:
        return text + (f"set min_accelerators = {n} (the fewest {per:g} GB accelerators "
                       "that hold the model; inference_ms is the time on that system), or "
                       "correct model_memory_gb or accelerator_memory_gb")
    return text + "correct model_memory_gb or accelerator_memory_gb"


def _new_problems(name: str, spec: Mapping[str, Any], new: bool) -> list[str]:
    """A new ``[workloads.NAME]`` table must set ``inference_ms``."""
    if new and "inference_ms" not in spec:
        return [f"new workload {name!r} must set inference_ms = [p50, p99] (ms)"]
    return []


#: How workload catalog files are read, checked and merged (:mod:`coverage.model.catalog`).
FORMAT: CatalogFormat[Workload] = CatalogFormat(
    kind="workload", section="workloads", builtin_file="workloads.toml",
    entry_type=Workload, keys=WORKLOAD_KEYS, field_problem=_field_problem,
    pair_keys=("inference_ms",), float_keys=tuple(_NUMBER_KEYS), fix=_FIX,
    example="[workloads.vision-orin] accelerator_w = 30.0",
    table_hint="inference_ms = [p50, p99], ...",
    new_hint=" with inference_ms = [p50, p99]", extra_problems=_new_problems)


@lru_cache(maxsize=1)
def _builtin_workloads() -> tuple[Workload, ...]:
    table, workloads = read_builtin(FORMAT)
    # the built-in catalog states every field and its sources; its models fit their
    # systems, and an estimate says so in its sources
    missing = [f"workload {name!r} leaves out {', '.join(k)}" for name, spec in table.items()
               if (k := [key for key in WORKLOAD_KEYS if key not in spec])]
    for name, w in workloads.items():
        if not w.sources:
            missing.append(f"workload {name!r} has no sources")
        if not w.memory_fits():
            missing.append(f"workload {name!r}: model_memory_gb exceeds min_accelerators x "
                           "accelerator_memory_gb")
        if w.estimate and not any("estimate" in s for s in w.sources):
            missing.append(f"workload {name!r} is an estimate but no source says so")
    if missing:
        raise InputValidationError(f"{FORMAT.label}: " + "; ".join(missing))
    return tuple(workloads.values())


@dataclass(frozen=True)
class WorkloadCatalog(Catalog[Workload]):
    """The workloads a plan may use, by name.

    Lookup (:meth:`get`, :meth:`names`), :meth:`from_spec` and :meth:`summary`
    (``{"source": ..., "workloads": {name: Workload.to_dict()}}``) come from
    :class:`coverage.model.catalog.Catalog`.

    Parameters
    ----------
    workloads : Mapping of str to Workload
        Workloads by name, in catalog order (built-in workloads first, then new ones in
        file order). Stored read-only.
    source : str
        ``"built-in"`` or ``"built-in + PATH"``.
    unsized_hosts : tuple of str, default ()
        New workloads of the file that set ``host_w`` but not ``accelerators_per_host``
        (:meth:`host_size_warning`).

    Examples
    --------
    >>> cat = WorkloadCatalog.builtin()
    >>> cat.names()[:3]
    ['vision-l4', 'resnet50-l4', 'bert-l4']
    >>> cat.get("vision-l4").inference_ms
    (4.7, 4.9)
    >>> cat.get("frontier-moe-gb200-nvl72").max_accelerators(30.0, 1.5)
    0
    >>> cat.get("nope") is None
    True
    """

    FORMAT = FORMAT

    workloads: Mapping[str, Workload]
    source: str = BUILTIN_SOURCE
    unsized_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        by_case: dict[str, list[str]] = {}
        for k in self.workloads:
            by_case.setdefault(str(k).casefold(), []).append(str(k))
        clash = [" and ".join(map(repr, names)) for names in by_case.values()
                 if len(names) > 1]
        if clash:  # (columns are named after them: tester 126; tiers name no column)
            raise InputValidationError(
                f"workload names that differ only in case: {'; '.join(clash)} (the columns "
                "named after them, sites.csv's requests_<name>_rps, would clash in a "
                "GeoPackage or a spreadsheet). Fix: rename one of each pair in your "
                "workloads file, or use the built-in name to override it")

    def host_size_warning(self, name: str) -> str | None:
        """The warning for workload ``name`` when its file set ``host_w`` without
        ``accelerators_per_host`` (so it took the default, a host per accelerator), else
        ``None``."""
        if name not in self.unsized_hosts:
            return None
        return (f"{self.source}: [workloads.{name}] sets host_w but not "
                "accelerators_per_host, so each accelerator is counted with a host of its "
                "own (accelerators_per_host = 1). Fix: set accelerators_per_host, the "
                "accelerators one host holds")

    @classmethod
    def builtin(cls) -> WorkloadCatalog:
        """The built-in catalog, ``coverage/model/workloads.toml`` (read once, validated)."""
        return cls({w.name: w for w in _builtin_workloads()}, BUILTIN_SOURCE)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WorkloadCatalog:
        """The built-in catalog with the ``[workloads.NAME]`` tables of a TOML file applied.

        A name the built-in catalog has keeps every field the file does not set; a new
        name must set ``inference_ms`` and takes the :class:`Workload` defaults for the
        fields it leaves out. A workload the file sets whose model does not fit its
        smallest system (:meth:`Workload.memory_fits`) is refused: every size of the plan
        (power, capacity, the priced fleet) is a multiple of that system.

        Parameters
        ----------
        path : str or os.PathLike
            TOML file of ``[workloads.NAME]`` tables (keys: :data:`WORKLOAD_KEYS`).

        Raises
        ------
        InputValidationError
            Missing file, not UTF-8, not TOML, no ``[workloads]`` table, unknown keys, bad
            names, types or values, a new workload without ``inference_ms``, a model larger
            than its smallest system's memory: one message naming the file, the workloads,
            what is wrong and the fix.
        """
        builtin = cls.builtin().workloads
        p, table, merged = load_file(FORMAT, path, builtin, logger)
        unsized = tuple(name for name, spec in table.items() if name not in builtin
                        and "host_w" in spec and "accelerators_per_host" not in spec)
        found = [problem for name in table if (problem := memory_problem(merged[name]))]
        if found:
            raise InputValidationError(f"{p}: invalid workload catalog: " + "; ".join(found))
        return cls(merged, f"{BUILTIN_SOURCE} + {p}", unsized)


def inference_table(catalog: WorkloadCatalog | None = None) -> dict[str, Pair]:
    """Inference time per workload, the shape of
    :data:`coverage.model.latency.WORKLOADS_MS`.

    Parameters
    ----------
    catalog : WorkloadCatalog or None, default None
        The catalog; ``None``: the built-in one.

    Returns
    -------
    dict
        name -> ``(p50_ms, p99_ms)``, in catalog order. For the built-in catalog the six
        MLPerf names map to exactly ``WORKLOADS_MS``'s values.
    """
    cat = WorkloadCatalog.builtin() if catalog is None else catalog
    return {name: w.inference_ms for name, w in cat.workloads.items()}
