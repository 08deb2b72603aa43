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

Power of a site holding ``n`` accelerators of a workload (``host_w`` is counted once per
site, :meth:`Workload.system_kw`)::

    IT kW       = (host_w + n * accelerator_w) / 1000
    facility kW = IT kW * pue

and the most accelerators a site of facility power ``power_kw`` holds
(:meth:`Workload.max_accelerators`)::

    n = floor((power_kw * 1000 / pue - host_w) / accelerator_w)   if n >= min_accelerators
        0                                                          otherwise
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputValidationError

__all__ = ["Workload", "WorkloadCatalog", "inference_table", "WORKLOAD_KEYS",
           "BUILTIN_SOURCE"]

logger = logging.getLogger(__name__)

#: Keys a ``[workloads.NAME]`` table may hold.
WORKLOAD_KEYS = ("description", "accelerator", "inference_ms", "throughput_rps",
                 "model_memory_gb", "accelerator_memory_gb", "min_accelerators",
                 "accelerator_w", "host_w", "estimate", "sources")

#: ``WorkloadCatalog.source`` of the built-in catalog.
BUILTIN_SOURCE = "built-in"

_BUILTIN_FILE = "workloads.toml"
_BUILTIN_LABEL = "built-in workload catalog (coverage/model/workloads.toml)"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MAX_MS = 1e7                # 2.8 hours per request: beyond this a value is a typo
_MAX_RPS = 1e9
_MAX_MEMORY_GB = 1e7         # 10 PB
_MAX_ACCELERATORS = 1_000_000
_MAX_ACCELERATOR_W = 1e5     # 100 kW per accelerator
_MAX_HOST_W = 1e8            # 100 MW per site-system
_MAX_SITE_KW = 1e6           # 1 GW per site, as the tier catalog's power_kw
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
        "min_accelerators (whole number >= 1), estimate (true/false), sources (list of "
        "text); a new workload must set inference_ms; see coverage/model/workloads.toml")

Pair = tuple[float, float]


def _is_number(value: Any) -> bool:
    """A finite real number (not a bool, a string or a date)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_) and math.isfinite(value))


def _is_whole(value: Any) -> bool:
    """An integer (not a bool)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _field_problem(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the workload field ``key`` (``None``: nothing)."""
    if key in _TEXT_KEYS:
        return None if isinstance(value, str) else f"{key} must be text; got {value!r}"
    if key == "inference_ms":
        if (isinstance(value, tuple | list) and len(value) == 2
                and all(_is_number(v) for v in value)
                and 0 <= value[0] <= value[1] <= _MAX_MS):
            return None
        return (f"inference_ms must be [p50, p99] in ms with 0 <= p50 <= p99 <= "
                f"{_MAX_MS:,.0f} (finite numbers); got {value!r}")
    if key in _NUMBER_KEYS:
        low, low_ok, high, unit = _NUMBER_KEYS[key]
        if _is_number(value) and (value >= low if low_ok else value > low) and value <= high:
            return None
        bound = ">= 0" if low_ok else "> 0"
        return f"{key} must be a finite number {bound} and <= {high:,.0f} {unit}; got {value!r}"
    if key == "min_accelerators":
        if _is_whole(value) and 1 <= value <= _MAX_ACCELERATORS:
            return None
        return (f"min_accelerators must be a whole number from 1 to {_MAX_ACCELERATORS:,}; "
                f"got {value!r}")
    if key == "estimate":
        return (None if isinstance(value, bool | np.bool_)
                else f"estimate must be true or false; got {value!r}")
    if key == "sources":
        if (isinstance(value, tuple | list)
                and all(isinstance(s, str) and s.strip() for s in value)):
            return None
        return ("sources must be a list of non-empty text (URLs or references); got "
                f"{value!r}")
    return f"unknown key {key!r}"


def _name_problem(name: Any) -> str | None:
    if isinstance(name, str) and _NAME_RE.fullmatch(name):
        return None
    return (f"workload name {name!r} is not a plain label (a letter or digit, then letters, "
            "digits, '_', '.' or '-')")


def _pair(value: Any) -> Pair:
    return float(value[0]), float(value[1])


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
        Requests per second one accelerator sustains (> 0; the sources name the
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
        Power of the host side of one site-system (CPUs, DRAM, NICs, storage, fans,
        switch trays, power conversion), W (>= 0), counted once per site however many
        accelerators the site holds.
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
    ...              accelerator_w=72.0, host_w=300.0)
    >>> w.system_kw(), w.system_kw(4)
    (0.372, 0.588)
    >>> w.max_accelerators(10.0, 1.6)      # floor((10000 / 1.6 - 300) / 72)
    82
    >>> w.max_accelerators([0.3, 10.0], 1.6).tolist()
    [0, 82]
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
    estimate: bool = False
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = [p for p in [_name_problem(self.name)] if p]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "name" or (value is None and f.name in _NUMBER_KEYS):
                continue
            problem = _field_problem(f.name, value)
            if problem:
                problems.append(problem)
        if problems:
            raise InputValidationError(f"invalid workload {self.name!r}: "
                                       + "; ".join(problems) + f". Fix: {_FIX}")
        # normalise: plain floats, ints, tuples, bools (numpy scalars and lists accepted)
        object.__setattr__(self, "inference_ms", _pair(self.inference_ms))
        for key in _NUMBER_KEYS:
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, float(value))
        object.__setattr__(self, "min_accelerators", int(self.min_accelerators))
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

    def system_kw(self, n_accelerators: int | None = None) -> float:
        """IT power of a site-system with ``n_accelerators`` accelerators, kW.

        Parameters
        ----------
        n_accelerators : int or None, default None
            Accelerators at the site (a whole number >= 0); ``None``: ``min_accelerators``.

        Returns
        -------
        float
            ``(host_w + n_accelerators * accelerator_w) / 1000``, before PUE.

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
        return (host_w + int(n) * accelerator_w) / 1000.0

    def max_accelerators(self, power_kw: float | npt.ArrayLike, pue: float | npt.ArrayLike
                         ) -> int | npt.NDArray[np.int64]:
        """The most accelerators of this workload a site's power envelope holds.

        The largest whole ``n >= min_accelerators`` with
        ``(host_w + n * accelerator_w) / 1000 * pue <= power_kw``, or 0 when even
        ``min_accelerators`` do not fit. ``n`` need not be a multiple of
        ``min_accelerators``. A budget met to within one part in 10^9 counts as met (float
        rounding); the result saturates at 2^53.

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
        >>> w = Workload("x", accelerator_w=72.0, host_w=300.0, min_accelerators=2)
        >>> w.max_accelerators(0.444, 1.0), w.max_accelerators(0.443, 1.0)
        (2, 0)
        """
        accelerator_w, host_w = self._power_w()
        scalar = np.ndim(power_kw) == 0 and np.ndim(pue) == 0
        p = self._numbers("power_kw", power_kw, 0.0, _MAX_SITE_KW, "kW")
        q = self._numbers("pue", pue, 1.0, _MAX_PUE, "")
        try:
            p, q = np.broadcast_arrays(p, q)
        except ValueError:
            raise InputValidationError(
                f"workload {self.name!r}: power_kw (shape {p.shape}) and pue (shape "
                f"{q.shape}) do not broadcast together. Fix: give arrays of the same shape, "
                "or a scalar for one of them") from None
        with np.errstate(over="ignore"):  # a tiny accelerator_w: inf, saturated below
            x = (p * 1000.0 / q - host_w) / accelerator_w
            n = np.floor(x + _REL_TOL * np.maximum(1.0, np.abs(x)))
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


def _workload_problems(name: Any, spec: Any, *, new: bool) -> list[str]:
    """Every problem of one ``[workloads.NAME]`` table, each naming the workload."""
    bad_name = _name_problem(name)
    if bad_name:
        return [bad_name]
    if not isinstance(spec, Mapping):
        return [f"workload {name!r} must be a table ([workloads.{name}] with inference_ms "
                f"= [p50, p99], ...); got {spec!r}"]
    found = []
    unknown = [k for k in spec if k not in WORKLOAD_KEYS]
    if unknown:
        found.append(f"workload {name!r} has unknown key(s) "
                     f"{', '.join(map(repr, unknown))} (allowed: {', '.join(WORKLOAD_KEYS)})")
    for key in WORKLOAD_KEYS:
        if key in spec:
            problem = _field_problem(key, spec[key])
            if problem:
                found.append(f"workload {name!r}: {problem}")
    if new and "inference_ms" not in spec:
        found.append(f"new workload {name!r} must set inference_ms = [p50, p99] (ms)")
    return found


def _convert(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A checked ``[workloads.NAME]`` table as :class:`Workload` keyword arguments."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "inference_ms":
            out[key] = _pair(value)
        elif key == "sources":
            out[key] = tuple(str(s) for s in value)
        elif key in _NUMBER_KEYS:
            out[key] = float(value)
        else:
            out[key] = value
    return out


def _merge(base: Mapping[str, Workload], table: Any, source: str) -> dict[str, Workload]:
    """``base`` with the workloads of a ``[workloads]`` table applied (fields it sets
    override an existing workload's; a new name takes :class:`Workload` defaults), checked:
    one message for every problem, naming ``source``."""
    if not isinstance(table, Mapping) or not table:
        raise InputValidationError(
            f"{source}: no [workloads.NAME] table. Fix: write e.g. [workloads.vision-orin] "
            "accelerator_w = 30.0 (override a built-in workload: " + ", ".join(base)
            + ") or a new [workloads.NAME] table with inference_ms = [p50, p99]")
    found: list[str] = []
    for name, spec in table.items():
        found.extend(_workload_problems(name, spec, new=bool(base) and name not in base))
    if found:
        raise InputValidationError(f"{source}: invalid workload catalog: " + "; ".join(found)
                                   + f". Fix: {_FIX}")
    out = dict(base)
    for name, spec in table.items():
        kwargs = _convert(spec)
        out[name] = (replace(base[name], **kwargs) if name in base
                     else Workload(name, **kwargs))
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; :class:`InputValidationError` naming the file and the
    fix when it is missing, unreadable, not UTF-8 or not TOML."""
    fix = ("write a UTF-8 TOML file of [workloads.NAME] tables, e.g. [workloads.vision-orin] "
           "accelerator_w = 30.0 (see coverage/model/workloads.toml)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputValidationError(
            f"{path}: workload catalog file not found. Fix: give the path of a TOML file "
            "with [workloads.NAME] tables") from None
    except UnicodeDecodeError as exc:
        raise InputValidationError(
            f"{path}: the workload catalog file is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}). Fix: {fix}") from None
    except OSError as exc:
        raise InputValidationError(
            f"{path}: cannot read the workload catalog file ({exc.strerror or exc}). "
            f"Fix: {fix}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError(
            f"{path}: the workload catalog file is not valid TOML ({exc}). Fix: {fix}"
        ) from None


def _workloads_table(doc: Mapping[str, Any], source: str) -> Any:
    extra = [k for k in doc if k != "workloads"]
    if extra:
        raise InputValidationError(
            f"{source}: unknown top-level key(s) {', '.join(map(repr, extra))}. Fix: put "
            "every workload under [workloads.NAME]")
    return doc.get("workloads")


@lru_cache(maxsize=1)
def _builtin_workloads() -> tuple[Workload, ...]:
    try:
        text = resources.files("coverage.model").joinpath(_BUILTIN_FILE).read_text(
            encoding="utf-8")
    except OSError as exc:  # a broken install: the data file was not packaged
        raise InputValidationError(
            f"{_BUILTIN_LABEL}: cannot read it ({exc}). Fix: reinstall edge-coverage with "
            "coverage/model/workloads.toml as package data") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError(f"{_BUILTIN_LABEL}: not valid TOML ({exc})") from None
    table = _workloads_table(doc, _BUILTIN_LABEL)
    workloads = _merge({}, table, _BUILTIN_LABEL)
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
        raise InputValidationError(f"{_BUILTIN_LABEL}: " + "; ".join(missing))
    return tuple(workloads.values())


@dataclass(frozen=True)
class WorkloadCatalog:
    """The workloads a plan may use, by name.

    Parameters
    ----------
    workloads : Mapping of str to Workload
        Workloads by name, in catalog order (built-in workloads first, then new ones in
        file order). Stored read-only.
    source : str
        ``"built-in"`` or ``"built-in + PATH"``.

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

    workloads: Mapping[str, Workload]
    source: str = BUILTIN_SOURCE

    def __post_init__(self) -> None:
        if not isinstance(self.workloads, Mapping):
            raise InputValidationError(f"workloads must be a mapping name -> Workload; got "
                                       f"{self.workloads!r}")
        bad = [f"{k!r}" for k, w in self.workloads.items()
               if not isinstance(w, Workload) or w.name != k]
        if bad:
            raise InputValidationError(
                "workload catalog entries must be Workload objects stored under their own "
                "name: " + ", ".join(bad))
        object.__setattr__(self, "workloads", MappingProxyType(dict(self.workloads)))

    @classmethod
    def builtin(cls) -> WorkloadCatalog:
        """The built-in catalog, ``coverage/model/workloads.toml`` (read once, validated)."""
        return cls({w.name: w for w in _builtin_workloads()}, BUILTIN_SOURCE)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> WorkloadCatalog:
        """The built-in catalog with the ``[workloads.NAME]`` tables of a TOML file applied.

        A name the built-in catalog has keeps every field the file does not set; a new
        name must set ``inference_ms`` and takes the :class:`Workload` defaults for the
        fields it leaves out. A workload whose model does not fit its smallest system
        (:meth:`Workload.memory_fits`) is accepted with a logged warning.

        Parameters
        ----------
        path : str or os.PathLike
            TOML file of ``[workloads.NAME]`` tables (keys: :data:`WORKLOAD_KEYS`).

        Raises
        ------
        InputValidationError
            Missing file, not UTF-8, not TOML, no ``[workloads]`` table, unknown keys, bad
            names, types or values, a new workload without ``inference_ms``: one message
            naming the file, the workloads, what is wrong and the fix.
        """
        p = Path(path)
        doc = _read_toml(p)
        table = _workloads_table(doc, str(p))
        base = cls.builtin()
        merged = _merge(base.workloads, table, str(p))
        added = [n for n in table if n not in base.workloads]
        logger.debug("workload catalog %s: overrides %s; adds %s", p,
                     ", ".join(n for n in table if n in base.workloads) or "nothing",
                     ", ".join(added) or "nothing")
        for name in table:
            w = merged[name]
            if not w.memory_fits():
                logger.warning(
                    "%s: workload %r needs %g GB but its smallest system has %d x %g GB; "
                    "raise min_accelerators or check model_memory_gb", p, name,
                    w.model_memory_gb, w.min_accelerators, w.accelerator_memory_gb)
        return cls(merged, f"{BUILTIN_SOURCE} + {p}")

    @classmethod
    def from_spec(cls, path_or_none: str | os.PathLike[str] | WorkloadCatalog | None
                  ) -> WorkloadCatalog:
        """:meth:`builtin` for ``None``, a catalog as is, else :meth:`from_file`."""
        if path_or_none is None:
            return cls.builtin()
        if isinstance(path_or_none, WorkloadCatalog):
            return path_or_none
        return cls.from_file(path_or_none)

    def get(self, name: str) -> Workload | None:
        """The workload called ``name`` (case-sensitive), else ``None``."""
        return self.workloads.get(name)

    def names(self) -> list[str]:
        """Workload names in catalog order."""
        return list(self.workloads)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: ``{"source": ..., "workloads": {name: Workload.to_dict()}}``."""
        return {"source": self.source,
                "workloads": {n: w.to_dict() for n, w in self.workloads.items()}}


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
