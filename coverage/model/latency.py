"""Great-circle latency model (DESIGN section 2), calibrated to measured round trips.

The network term at quantile ``q`` (:meth:`LatencyModel.network_ms`) is::

    N_q(d) = 2 * route_factor * d_km * fiber_us_per_km / 1000 + hops * per_hop_ms + overhead_q

with ``overhead_p50 = overhead_ms`` and ``overhead_p99 = overhead_p99_ms``. The network's
p99 excess over its p50 (``overhead_p99_ms - overhead_ms``) is one more independent
component next to access network, optional Wi-Fi hop, proxy / load balancer and inference,
each given as ``(p50_ms, p99_ms)``::

    p50(d) = N_p50(d) + sum_c p50_c
    p99(d) = N_p50(d) + sum_c p50_c + sqrt(sum_c (p99_c - p50_c) ** 2)

where the sum over ``c`` includes ``network = (0, overhead_p99_ms - overhead_ms)``; adding
the p99s linearly would count the tails of independent components as if they struck
together. Latency stays linear in distance, so the budget radius is its exact inverse.

Profiles (:data:`LATENCY_PROFILES`): ``internet`` (the default) is the median (LAD) fit of
route factor plus overhead to 11,294 WonderNetwork city pairs under 2,000 km, with the p99
overhead fitted to the same pairs' maximum RTT; ``on-net`` is the physics-only model of an
operator's own fibre (route factor 1.5, 8 hops x 0.05 ms, no overhead), the first version's
defaults. ``LatencyModel.from_file`` reads a model written by ``edge-coverage calibrate``.
Sources and the fit: ``docs/latency-model.md``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InfeasibleBudgetError, InputValidationError
from ..inputs.validation import special_file_problem, typed_value
from .catalog import arguments_problem, named_arguments
from .workloads import inference_table

logger = logging.getLogger(__name__)

__all__ = [
    "LATENCY_PROFILES",
    "MODEL_FILE_HEADER",
    "model_file_state",
    "ACCESS_PROFILES_MS",
    "WIFI_PROFILES_MS",
    "WORKLOADS_MS",
    "PERCENTILES",
    "LatencyModel",
    "MIN_FIBER_US_PER_KM",
    "MAX_FIBER_US_PER_KM",
    "MIN_ROUTE_FACTOR",
    "MAX_ROUTE_FACTOR",
    "MAX_HOPS",
    "MAX_PER_HOP_MS",
    "MAX_OVERHEAD_MS",
    "NETWORK_BOUNDS",
    "LIGHT_KM_PER_MS",
    "bound_text",
]

#: Speed of light in vacuum, km per ms.
LIGHT_KM_PER_MS = 299.792458
#: Smallest one-way delay accepted, us per km: light in vacuum (3.3356 us/km). Anything
#: less is faster than light; light in fibre takes about 4.9 us/km, over microwave links
#: just above this bound.
MIN_FIBER_US_PER_KM = 1000.0 / LIGHT_KM_PER_MS
#: Largest one-way delay accepted, us per km: 20 times fibre's. No medium a network runs
#: on is that slow (copper and coax: 4-5 us/km); a larger value is a unit mistake (ns/km).
MAX_FIBER_US_PER_KM = 100.0
#: Smallest route factor: the great circle itself (no route is shorter).
MIN_ROUTE_FACTOR = 1.0
#: Largest route factor: measured internet paths are about 2.3 times the great circle,
#: the worst detoured ones under 10; 20 is a typo or a unit mistake.
MAX_ROUTE_FACTOR = 20.0
#: Most router hops on a path: the IP hop limit (IPv4 TTL, IPv6 hop limit) is 8 bits.
MAX_HOPS = 255
#: Largest forwarding delay per hop, ms (a router adds tens of microseconds; 100 ms is a
#: congested satellite hop's queue, more is not a hop).
MAX_PER_HOP_MS = 100.0
#: Largest fixed network overhead (p50 or p99), ms: ten seconds is beyond any round trip
#: a latency budget is planned for (geostationary satellite: about 0.6 s).
MAX_OVERHEAD_MS = 10_000.0

#: Network parameter -> (lowest, highest, why the bounds, unit): the physical bounds
#: :class:`LatencyModel` checks (and the command line and batch, through
#: ``coverage.config``).
NETWORK_BOUNDS: dict[str, tuple[float, float, str, str]] = {
    "fiber_us_per_km": (MIN_FIBER_US_PER_KM, MAX_FIBER_US_PER_KM,
                        "light in vacuum takes 3.3356 us/km, so less is faster than light, "
                        "and fibre about 4.9", "us/km"),
    "route_factor": (MIN_ROUTE_FACTOR, MAX_ROUTE_FACTOR,
                     "no route is shorter than the great circle, and measured internet "
                     "paths are about 2.3 times it", ""),
    "hops": (0, MAX_HOPS, "the IP hop limit", ""),
    "per_hop_ms": (0.0, MAX_PER_HOP_MS, "a router hop adds tens of microseconds", "ms"),
    "overhead_ms": (0.0, MAX_OVERHEAD_MS, "a fixed overhead beyond seconds is not a round "
                    "trip", "ms"),
    "overhead_p99_ms": (0.0, MAX_OVERHEAD_MS, "a fixed overhead beyond seconds is not a "
                        "round trip", "ms"),
}


def _fit_kept(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides``, with the fit metadata cleared when they change a network parameter
    (:data:`NETWORK_BOUNDS`): a profile's or a model file's measured error describes its own
    network term, not ``--route-factor 1 --overhead-ms 0`` applied on top of it."""
    default = {f.name: f.default for f in fields(LatencyModel)}
    changed = [k for k in NETWORK_BOUNDS if k in overrides and overrides[k] is not None
               and overrides[k] != values.get(k, default[k])]
    if changed and "fit" not in overrides:
        return {**overrides, "fit": None}
    return dict(overrides)


def model_file_state(data: bytes) -> str:
    """Who wrote a model file, from its content.

    Parameters
    ----------
    data : bytes
        The file's content.

    Returns
    -------
    str
        ``"calibrate"`` (written by calibrate and unchanged since), ``"edited"`` (written by
        calibrate, changed since: its checksum no longer matches), ``"legacy"`` (written by
        a calibrate without checksums: replaced as before) or ``"other"`` (not written by
        calibrate).
    """
    # a byte-order mark or CRLF line ends (an editor, git's autocrlf) are not edits
    first, _, rest = data.removeprefix(b"\xef\xbb\xbf").partition(b"\n")
    rest = rest.replace(b"\r\n", b"\n")
    line = first.decode("utf-8", errors="replace").rstrip("\r")
    if not line.startswith(MODEL_FILE_HEADER):
        return "other"
    m = _CHECKSUM.match(line)
    if m is None:
        return "legacy"
    return "calibrate" if hashlib.sha256(rest).hexdigest() == m.group(1) else "edited"


def above_budget_text(fixed_ms: float, budget_ms: float) -> str:
    """``fixed_ms`` with as many decimals (1 to 6) as it takes to read above ``budget_ms``
    as printed (``{:g}``): 28.0306 ms against a budget of 28.03 ms is "28.031", not "28.0".

    Examples
    --------
    >>> above_budget_text(28.0306, 28.03), above_budget_text(31.24, 30.0)
    ('28.031', '31.2')
    """
    shown = float(f"{budget_ms:g}")
    for digits in range(1, 7):
        text = f"{fixed_ms:.{digits}f}"
        if float(text) > shown:
            return text
    return f"{fixed_ms:.6f}"


def bound_text(name: str) -> str:
    """The valid range of a network parameter as a phrase, for messages and the options
    table.

    Parameters
    ----------
    name : str
        A key of :data:`NETWORK_BOUNDS`.

    Returns
    -------
    str
        E.g. ``"a number from 1 to 20 (no route is shorter than the great circle, ...)"``.
    """
    lo, hi, why, unit = NETWORK_BOUNDS[name]
    kind = "an integer" if name == "hops" else "a number"
    lo_s = f"{lo:.4f}".rstrip("0").rstrip(".") if name == "fiber_us_per_km" else f"{lo:g}"
    return f"{kind} from {lo_s} to {hi:,g}{' ' + unit if unit else ''} ({why})"

#: Access-network RTT (p50_ms, p99_ms) by technology.
ACCESS_PROFILES_MS: dict[str, tuple[float, float]] = {
    "ftth": (5.0, 15.0),
    "cable": (12.0, 45.0),
    "lld": (8.0, 22.0),
    "dsl": (30.0, 100.0),
    "lte": (30.0, 120.0),
    "5g-nsa": (25.0, 80.0),
    "5g-sa": (18.0, 60.0),
    "5g-urllc": (5.0, 10.0),
    "lan": (0.3, 1.0),
}

#: Optional Wi-Fi hop on top of the access network (p50_ms, p99_ms).
WIFI_PROFILES_MS: dict[str, tuple[float, float]] = {
    "none": (0.0, 0.0),
    "good": (3.0, 30.0),
    "typical": (3.0, 100.0),
    "congested": (5.0, 250.0),
}

#: Inference time per request (p50_ms, p99_ms) of every built-in workload, from the
#: workload catalog (``coverage/model/workloads.toml``; MLPerf Inference v3.1 SingleStream
#: where measured): ``vision-l4`` (RetinaNet on one NVIDIA L4, the default), ``resnet50-l4``,
#: ``bert-l4``, ``vision-orin`` / ``resnet50-orin`` / ``bert-orin`` (Jetson AGX Orin 64 GB),
#: and the LLM and rack-scale entries.
WORKLOADS_MS: dict[str, tuple[float, float]] = dict(inference_table())

#: Network profiles: route factor, hops, per-hop delay, fixed overhead at p50 and p99, and
#: the measurement each was checked against (``docs/latency-model.md``; reproduced by
#: ``bench/calibration.py``).
LATENCY_PROFILES: dict[str, dict[str, Any]] = {
    "internet": {
        "route_factor": 2.2754,
        "hops": 0,
        "per_hop_ms": 0.05,
        "overhead_ms": 6.438,
        "overhead_p99_ms": 10.26,
        "fit": {
            "data": "WonderNetwork city-pair pings, July 2020 (rtt_min_ms; p99: rtt_max_ms)",
            "pairs": 11294,
            "max_distance_km": 2000.0,
            "fitted_min_distance_km": 4.7,
            "fitted_max_distance_km": 1999.6,
            "method": "median (LAD) fit of route factor + overhead; p99 overhead: median of "
                      "rtt_max_ms minus the p50 distance term",
            "median_abs_error_ms": 6.37,
            "median_bias_ms": 0.0,
            "p90_abs_error_ms": 24.7,
        },
    },
    "on-net": {
        "route_factor": 1.5,
        "hops": 8,
        "per_hop_ms": 0.05,
        "overhead_ms": 0.0,
        "overhead_p99_ms": 0.0,
        "fit": {
            "data": "none: physics only (fibre route 1.5 x great circle, 8 hops x 0.05 ms), "
                    "for an operator's own network; against WonderNetwork pings under "
                    "2,000 km (11,294 pairs) it is optimistic",
            "pairs": 11294,
            "max_distance_km": 2000.0,
            "method": "not fitted",
            "median_abs_error_ms": 14.27,
            "median_bias_ms": -14.27,
            "p90_abs_error_ms": 40.42,
        },
    },
}

#: The default profile.
DEFAULT_PROFILE = "internet"

#: Keys a model file's ``[latency_model]`` table may hold.
MODEL_FILE_KEYS = ("profile", "fiber_us_per_km", "route_factor", "hops", "per_hop_ms",
                   "overhead_ms", "overhead_p99_ms", "proxy_ms", "wifi", "workload",
                   "inference_ms", "access_profiles_ms", "fit")

#: First line of every model file calibrate writes: an existing ``--out`` is replaced only
#: when it starts with this line.
MODEL_FILE_HEADER = "# Latency model written by edge-coverage calibrate"

#: The checksum calibrate writes into that first line (the SHA-256 of the rest of the file),
#: so that a re-run can tell a file edited by hand (which it refuses to replace).
_CHECKSUM = re.compile(re.escape(MODEL_FILE_HEADER) + r" \(sha256 ([0-9a-f]{64})\)")

PERCENTILES = ("p50", "p99")
Percentile = Literal["p50", "p99"]


def _is_number(value: Any) -> bool:
    """A finite real number (not a bool, a string or a date)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_) and math.isfinite(value))


def _check_pair(name: str, pair: tuple[float, float], problems: list[str]) -> None:
    if (not isinstance(pair, tuple | list) or len(pair) != 2
            or not all(_is_number(v) for v in pair) or not 0 <= pair[0] <= pair[1]):
        problems.append(f"{name} must be (p50_ms, p99_ms) with 0 <= p50 <= p99; got {pair!r}")


def distances_km(distance_km: Any, method: str) -> npt.NDArray[np.float64]:
    """``distance_km`` as a float array once it is checked: real numbers >= 0 km, not
    infinite. ``NaN`` (or ``None``), alone or in an array, stays: no site, the latency is
    ``NaN``.

    Parameters
    ----------
    distance_km : array_like
        Great-circle distances, km.
    method : str
        The method the messages name (``"p99_ms"``).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    InputValidationError
        Text, bools or other non-numbers; a negative or infinite distance (``NaN`` is no
        site and gives ``NaN``).
    """
    fix = (f"Fix: give great-circle distances in km as numbers >= 0, e.g. "
           f"{method}(100.0) or {method}(np.array([10.0, 250.0]))")
    raw = np.asarray(distance_km)
    if raw.dtype.kind == "O":  # numbers held as objects (a pandas object column) or None
        flat = pd.Series(raw.ravel(), dtype=object)
        kind = pd.api.types.infer_dtype(flat, skipna=True)  # vectorised (review 124)
        if kind in ("floating", "integer", "mixed-integer-float", "empty"):
            raw = (pd.array(flat, dtype="Float64").to_numpy(np.float64, na_value=np.nan)
                   .reshape(raw.shape))
    if raw.dtype.kind not in "iuf":
        raise InputValidationError(
            f"{method}: distance_km must be numbers of km; got {typed_value(distance_km)}. {fix}")
    d = raw.astype(np.float64, copy=False)
    # nan stays nan, alone or in an array: no site (review 124: a lone NaN refused broke a
    # row-by-row apply over a column where NaN means no site)
    bad = np.zeros(1, dtype=bool)
    if d.size:  # the extremes first (NaN ignored): the mask only when one is off
        lo, hi = np.fmin.reduce(d, axis=None), np.fmax.reduce(d, axis=None)
        if lo < 0 or np.isinf(hi):
            bad = (d < 0) | np.isinf(d)
    if bad.any():
        first = float(d[bad].flat[0])
        raise InputValidationError(
            f"{method}: distance_km must be >= 0 km and finite; got {first:g}"
            + (f" ({int(bad.sum()):,} entries)" if bad.sum() > 1 else "") + f". {fix}"
            + (" (a negative one would lower the latency below distance 0's)" if first < 0
               else ""))
    return d


def access_codes(access: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], Any]:
    """``(codes, classes)`` of access-class labels (sorted classes; one pass over the rows)."""
    labels = np.asarray(access, dtype=object)
    return pd.factorize(pd.Series(labels.astype(str).ravel()), sort=True)


@named_arguments
@dataclass(frozen=True)
class LatencyModel:
    """User-perceived request latency as a function of great-circle distance.

    Parameters
    ----------
    fiber_us_per_km : float, default 4.9
        One-way propagation delay in fibre, microseconds per km; from
        :data:`MIN_FIBER_US_PER_KM` (light in vacuum, 3.3356) to
        :data:`MAX_FIBER_US_PER_KM` (100).
    route_factor : float, default 2.2754 (internet profile)
        Route length over great-circle distance (fitted, ``internet``; fibre only, 1.5,
        ``on-net``); from :data:`MIN_ROUTE_FACTOR` (1, the great circle) to
        :data:`MAX_ROUTE_FACTOR` (20).
    hops : int, default 0 (internet profile; the fitted overhead holds them)
        Router hops on the path, 0 to :data:`MAX_HOPS` (255, the IP hop limit).
    per_hop_ms : float, default 0.05
        Forwarding delay per hop, ms, 0 to :data:`MAX_PER_HOP_MS` (100).
    overhead_ms : float, default 6.438 (internet profile)
        Fixed network overhead at p50 (peering, exchange detours, end hosts), ms, 0 to
        :data:`MAX_OVERHEAD_MS` (10,000).
    overhead_p99_ms : float, default 10.26 (internet profile)
        Fixed network overhead at p99, ms (>= ``overhead_ms``, at most
        :data:`MAX_OVERHEAD_MS`); its excess over ``overhead_ms`` joins the other
        components' tails (see the module notes).
    profile : str, default "internet"
        Name of the profile or model file the network parameters came from.
    fit : dict, optional
        What the network parameters were fitted on and their measured error
        (``median_abs_error_ms``, ``pairs``, ``data``, ...).
    proxy_ms : tuple of float, default (1.0, 3.0)
        Load balancer / L7 proxy at the site, (p50_ms, p99_ms).
    wifi : str, default "none"
        Wi-Fi hop profile, one of :data:`WIFI_PROFILES_MS`.
    workload : str, default "vision-l4"
        Inference workload, one of :data:`WORKLOADS_MS`.
    inference_ms : tuple of float or None, default None
        Explicit inference time (p50_ms, p99_ms); overrides ``workload`` when given.
    access_profiles_ms : dict, optional
        Access technology table (p50_ms, p99_ms); defaults to :data:`ACCESS_PROFILES_MS`.

    Raises
    ------
    InputValidationError
        Any value outside its bounds (:data:`NETWORK_BOUNDS`) or of the wrong type; every
        problem in one message. An unknown keyword (with the field it most likely stands
        for), more positional arguments than fields or a field given twice, with the
        fields.

    Examples
    --------
    >>> m = LatencyModel()
    >>> round(float(m.network_ms(100.0, "p50")), 2)
    8.67
    >>> round(m.radius_km(30.0, "ftth"), 1)
    88.3
    >>> round(LatencyModel.from_profile("on-net").radius_km(30.0, "ftth"), 1)
    591.8
    """

    fiber_us_per_km: float = 4.9
    route_factor: float = LATENCY_PROFILES[DEFAULT_PROFILE]["route_factor"]
    hops: int = LATENCY_PROFILES[DEFAULT_PROFILE]["hops"]
    per_hop_ms: float = LATENCY_PROFILES[DEFAULT_PROFILE]["per_hop_ms"]
    overhead_ms: float = LATENCY_PROFILES[DEFAULT_PROFILE]["overhead_ms"]
    overhead_p99_ms: float = LATENCY_PROFILES[DEFAULT_PROFILE]["overhead_p99_ms"]
    profile: str = DEFAULT_PROFILE
    fit: Mapping[str, Any] | None = field(
        default_factory=lambda: dict(LATENCY_PROFILES[DEFAULT_PROFILE]["fit"]),
        compare=False)
    proxy_ms: tuple[float, float] = (1.0, 3.0)
    wifi: str = "none"
    workload: str = "vision-l4"
    inference_ms: tuple[float, float] | None = None
    access_profiles_ms: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(ACCESS_PROFILES_MS)
    )

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, (lo, hi, _, _) in NETWORK_BOUNDS.items():
            value = getattr(self, name)
            ok = (isinstance(value, int | np.integer) and not isinstance(value, bool)
                  if name == "hops" else _is_number(value))
            if not ok or not lo <= value <= hi:
                problems.append(f"{name} must be {bound_text(name)}; got {value!r}")
        both = (self.overhead_ms, self.overhead_p99_ms)
        if all(_is_number(v) for v in both) and self.overhead_p99_ms < self.overhead_ms:
            problems.append(f"overhead_p99_ms ({self.overhead_p99_ms!r}) must be >= overhead_ms "
                            f"({self.overhead_ms!r}): a p99 is never below the p50. Fix: "
                            "give overhead_p99_ms (--overhead-p99-ms) at least overhead_ms "
                            "(--overhead-ms), or a lower overhead_ms")
        if not isinstance(self.profile, str):
            problems.append(f"profile must be a name (text); got {self.profile!r}")
        if self.fit is not None and not isinstance(self.fit, Mapping):
            problems.append(f"fit must be a table; got {self.fit!r}")
        default = {**{f.name: f.default for f in fields(self)},
                   **LATENCY_PROFILES[DEFAULT_PROFILE]}
        if self.fit == default["fit"] and any(  # the default's fit claim, another network
                getattr(self, k) != default[k] for k in NETWORK_BOUNDS):
            object.__setattr__(self, "fit", None)
        _check_pair("proxy_ms", self.proxy_ms, problems)
        if not isinstance(self.wifi, str) or self.wifi not in WIFI_PROFILES_MS:
            problems.append(
                f"unknown wifi profile {self.wifi!r}; choose one of {sorted(WIFI_PROFILES_MS)}"
            )
        if self.inference_ms is not None:
            _check_pair("inference_ms", self.inference_ms, problems)
        elif not isinstance(self.workload, str) or self.workload not in WORKLOADS_MS:
            problems.append(
                f"unknown workload {self.workload!r}; choose one of {sorted(WORKLOADS_MS)} "
                "or give inference_ms=(p50_ms, p99_ms)"
            )
        if not isinstance(self.access_profiles_ms, Mapping):
            problems.append("access_profiles_ms must be a table of access technology -> "
                            f"(p50_ms, p99_ms); got {self.access_profiles_ms!r}")
        else:
            for name, pair in self.access_profiles_ms.items():
                _check_pair(f"access profile {name!r}", pair, problems)
        if problems:
            raise InputValidationError("invalid latency model: " + "; ".join(problems))

    # ------------------------------------------------------------------ components
    @property
    def ms_per_km(self) -> float:
        """Round-trip milliseconds per km of great-circle distance."""
        return 2.0 * self.route_factor * self.fiber_us_per_km / 1000.0

    def network_ms(self, distance_km: npt.ArrayLike,
                   quantile: Percentile = "p50") -> npt.NDArray[np.float64]:
        """Network round trip only (propagation, hops, fixed overhead) at ``quantile``, ms.

        Parameters
        ----------
        distance_km : array_like
            Great-circle distances, km.
        quantile : {"p50", "p99"}, default "p50"
            ``"p99"`` uses ``overhead_p99_ms``.

        Returns
        -------
        numpy.ndarray
            Same shape as ``distance_km``.

        Raises
        ------
        InputValidationError
            A distance that is not a number, negative or infinite (see
            :func:`distances_km`); a quantile other than ``"p50"`` or ``"p99"``.
        """
        if quantile not in PERCENTILES:
            raise InputValidationError(f"quantile must be 'p50' or 'p99'; got {quantile!r}")
        overhead = self.overhead_ms if quantile == "p50" else self.overhead_p99_ms
        d = distances_km(distance_km, "network_ms")
        return self.ms_per_km * d + self.hops * self.per_hop_ms + overhead

    @property
    def network_fixed_ms(self) -> tuple[float, float]:
        """The network term at distance 0, ``(p50_ms, p99_ms)``."""
        base = self.hops * self.per_hop_ms
        return base + self.overhead_ms, base + self.overhead_p99_ms

    @property
    def inference_pair_ms(self) -> tuple[float, float]:
        """Inference (p50_ms, p99_ms) in force."""
        return self.inference_ms if self.inference_ms is not None else WORKLOADS_MS[self.workload]

    def with_workload(self, name: str,
                      inference_ms: Mapping[str, tuple[float, float]] | None = None,
                      ) -> LatencyModel:
        """This model for the workload ``name``: its inference time from ``inference_ms``
        (name -> ``(p50_ms, p99_ms)``, a workload catalog's,
        :func:`coverage.model.workloads.inference_table`) where it holds the name, else the
        built-in one (:data:`WORKLOADS_MS`). What a service class's workload replaces the
        run's inference with."""
        pair = None if inference_ms is None else inference_ms.get(name)
        return replace(self, workload=name,
                       inference_ms=None if pair is None else (float(pair[0]), float(pair[1])))

    def check_access(self, access: str) -> None:
        """Raise :class:`InputValidationError` when ``access`` is not a known profile."""
        if access not in self.access_profiles_ms:
            raise InputValidationError(
                f"unknown access profile {access!r}; choose one of "
                f"{', '.join(sorted(self.access_profiles_ms))}"
            )

    def components_ms(self, access: str = "ftth") -> dict[str, tuple[float, float]]:
        """Stochastic components for one access class, name -> (p50_ms, p99_ms)."""
        self.check_access(access)
        return {
            "network jitter": (0.0, self.overhead_p99_ms - self.overhead_ms),
            "access": tuple(self.access_profiles_ms[access]),
            "wifi": WIFI_PROFILES_MS[self.wifi],
            "proxy": tuple(self.proxy_ms),
            "inference": self.inference_pair_ms,
        }

    def fixed_ms(self, access: str = "ftth", percentile: Percentile = "p99") -> float:
        """Latency at distance zero (hops, overhead and all components) for one access
        class, ms."""
        comps = self.components_ms(access).values()
        value = self.network_fixed_ms[0] + sum(p50 for p50, _ in comps)
        if percentile == "p99":
            value += math.sqrt(sum((p99 - p50) ** 2 for p50, p99 in comps))
        elif percentile != "p50":
            raise InputValidationError(f"percentile must be 'p50' or 'p99'; got {percentile!r}")
        return value

    def row_parts(self, access: str = "ftth") -> tuple[float, float]:
        """The demand side of the fixed latency for one access class: ``(p50_ms, tail_sq)``
        of access, Wi-Fi and inference (``tail_sq``: the sum of their squared p99 - p50).

        With :meth:`site_parts` it splits :meth:`fixed_ms` into what the demand row brings
        and what the site's tier and the path bring::

            fixed_ms(a, "p99") == r50 + s50 + sqrt(r_tail_sq + s_tail_sq)

        (up to rounding), where ``(r50, r_tail_sq) = row_parts(a)`` and
        ``(s50, s_tail_sq) = site_parts()``.
        """
        comps = self.components_ms(access)
        parts = [comps[name] for name in ("access", "wifi", "inference")]
        return (float(sum(a for a, _ in parts)),
                float(sum((b - a) ** 2 for a, b in parts)))

    def site_parts(self, *, wan: bool = True, hops: int = 0,
                   proxy_ms: tuple[float, float] | None = None,
                   extra_ms: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
        """The site and path side of the fixed latency: ``(p50_ms, tail_sq)`` of the network
        fixed part (hops and overhead, with its jitter; only when the path crosses the WAN),
        a tier's extra ``hops``, the proxy (``proxy_ms``, default this model's) and a tier's
        ``extra_ms``. Defaults: the reference site (see :meth:`row_parts`)."""
        proxy = tuple(self.proxy_ms) if proxy_ms is None else tuple(proxy_ms)
        p50 = hops * self.per_hop_ms + proxy[0] + extra_ms[0]
        tail_sq = (proxy[1] - proxy[0]) ** 2 + (extra_ms[1] - extra_ms[0]) ** 2
        if wan:
            p50 += self.network_fixed_ms[0]
            tail_sq += (self.overhead_p99_ms - self.overhead_ms) ** 2
        return float(p50), float(tail_sq)

    def fixed_ms_array(
        self, access: npt.ArrayLike, percentile: Percentile = "p99"
    ) -> npt.NDArray[np.float64]:
        """Vectorised :meth:`fixed_ms` over an array of access-class labels."""
        codes, uniques = pd.factorize(pd.Series(np.asarray(access, dtype=object)), sort=True)
        table = np.array([self.fixed_ms(str(a), percentile) for a in uniques], dtype=np.float64)
        return table[codes]

    # ------------------------------------------------------------------ latency
    def latency_ms(
        self,
        distance_km: npt.ArrayLike,
        access: str | npt.ArrayLike = "ftth",
        percentile: Percentile = "p99",
    ) -> npt.NDArray[np.float64] | float:
        """Latency at ``percentile`` for great-circle ``distance_km`` (vectorised), ms.

        Raises
        ------
        InputValidationError
            A distance that is not a number, negative (it would lower the latency below
            distance 0's) or infinite; a ``NaN`` distance is no site, and its latency
            ``NaN`` (see :func:`distances_km`).
        """
        d = distances_km(distance_km,
                         f"{percentile}_ms" if percentile in PERCENTILES else "latency_ms")
        fixed = (
            self.fixed_ms(access, percentile)
            if isinstance(access, str)
            else self.fixed_ms_array(access, percentile)
        )
        try:
            shape = np.broadcast_shapes(np.shape(fixed), np.shape(d))
        except ValueError:
            # (tester 182: numpy's "operands could not be broadcast together")
            raise InputValidationError(
                f"latency_ms: {np.size(fixed)} access classes for {np.size(d)} distances "
                f"(shapes {np.shape(fixed)} and {np.shape(d)}). Fix: give one access class "
                "(a string) or one per distance") from None
        out = np.broadcast_to(fixed, shape) + self.ms_per_km * d
        return float(out) if out.ndim == 0 else out

    def p50_ms(self, distance_km: npt.ArrayLike, access: str | npt.ArrayLike = "ftth"):
        """Median latency, ms (see :meth:`latency_ms`)."""
        return self.latency_ms(distance_km, access, "p50")

    def p99_ms(self, distance_km: npt.ArrayLike, access: str | npt.ArrayLike = "ftth"):
        """99th-percentile latency, ms (see :meth:`latency_ms`)."""
        return self.latency_ms(distance_km, access, "p99")

    def radius_km(
        self, budget_ms: float, access: str = "ftth", percentile: Percentile = "p99"
    ) -> float:
        """Largest great-circle distance whose latency meets ``budget_ms``, km.

        Raises
        ------
        InfeasibleBudgetError
            When access + inference alone exceed the budget at distance zero.
        InputValidationError
            A budget that is not a positive finite number of ms.
        """
        if (isinstance(budget_ms, bool) or not isinstance(budget_ms, int | float | np.number)
                or not math.isfinite(budget_ms) or budget_ms <= 0):
            raise InputValidationError(
                f"budget_ms must be a positive finite number of ms; got {budget_ms!r}")
        fixed = self.fixed_ms(access, percentile)
        if fixed > budget_ms:
            raise InfeasibleBudgetError(
                f"a {percentile} budget of {budget_ms:g} ms cannot be met with {access} access: "
                f"the fixed part (access, inference, network overhead, jitter, proxy) alone "
                f"takes {above_budget_text(fixed, budget_ms)} ms at distance 0 "
                f"(latency model {self.profile}: network {self.network_fixed_ms[0]:.2f} ms at "
                "p50; components "
                + ", ".join(f"{k} {a:g}/{b:g}" for k, (a, b) in self.components_ms(access).items())
                + " ms p50/p99). Fix: raise --budget-ms, choose a faster --access or "
                "--workload"
                # (not with no Wi-Fi hop to drop: tester 207)
                + (", drop the Wi-Fi hop" if max(self.components_ms(access).get(
                    "wifi", (0.0, 0.0))) > 0 else "")
                + (", or use --latency-model on-net if the sites are on your own network"
                   if self.overhead_ms > 0 else "") + "."
            )
        return (budget_ms - fixed) / self.ms_per_km

    def radius_km_array(
        self, budget_ms: float, access: npt.ArrayLike, percentile: Percentile = "p99"
    ) -> npt.NDArray[np.float64]:
        """Budget radius of every point from its access label, km (-1 where the class cannot
        meet the budget even at distance 0)."""
        return self.row_constants(access, budget_ms, percentile)["radius_km"]

    def row_constants(self, access: npt.ArrayLike, budget_ms: float,
                      percentile: Percentile = "p99",
                      radius_shrink_km: npt.ArrayLike | None = None, *,
                      factorized: tuple[npt.NDArray[np.intp], Any] | None = None,
                      row_budget_ms: npt.ArrayLike | None = None,
                      row_percentile: npt.ArrayLike | None = None,
                      row_workload: npt.ArrayLike | None = None,
                      workload_inference_ms: Mapping[str, tuple[float, float]] | None = None,
                      ) -> dict[str, Any]:
        """The one computation of every demand point's latency constants (one pass per
        access class): ``fixed_ms`` (at ``percentile``), ``fixed_p50_ms``, ``radius_km``
        (after the shrink; -1 where the class cannot meet the budget at distance 0),
        ``infeasible_classes`` and their ``reasons``. Wrapped by
        :class:`coverage.model.problem.RowLatency`. ``factorized``: ``(codes, classes)`` of
        ``access`` (:func:`access_codes`) when already known, so that a sweep over budgets
        does not factorise a national demand's labels again.

        Service classes: ``row_budget_ms`` (per row, ``nan`` = ``budget_ms``),
        ``row_percentile`` (per row) and ``row_workload`` (per row, ``None`` = this model's
        inference) give every row its own budget, percentile and inference time (a
        workload's from ``workload_inference_ms`` where it holds the name, e.g. a
        ``--workloads`` catalog's, else the built-in one); the fixed terms are computed once
        per unique (access, percentile, workload) group, so the pass stays vectorised."""
        codes, classes = access_codes(access) if factorized is None else factorized
        if row_percentile is None and row_workload is None:
            fixed = np.array([self.fixed_ms(str(c), percentile) for c in classes], dtype=float)
            fixed50 = np.array([self.fixed_ms(str(c), "p50") for c in classes], dtype=float)
            groups = [(str(c), percentile, None) for c in classes]
            group_of = codes
        else:
            fixed, fixed50, groups, group_of = self._group_constants(
                codes, classes, percentile, row_percentile, row_workload,
                workload_inference_ms)
        empty = not len(classes)
        if row_budget_ms is None:
            radius = np.where(fixed <= budget_ms, (budget_ms - fixed) / self.ms_per_km, -1.0)
            slow_groups = [(g, float(budget_ms)) for g, f in zip(groups, fixed, strict=True)
                           if f > budget_ms]
            row_radius = np.zeros(0) if empty else radius[group_of]
        else:
            own = np.asarray(row_budget_ms, dtype=np.float64)
            budget = np.where(np.isnan(own), float(budget_ms), own)
            f_row = fixed[group_of] if len(fixed) else np.zeros(0)
            row_radius = np.where(f_row <= budget, (budget - f_row) / self.ms_per_km, -1.0)
            slow = f_row > budget
            pairs = (pd.DataFrame({"g": np.asarray(group_of)[slow], "b": budget[slow]})
                     .drop_duplicates().to_numpy())
            slow_groups = [(groups[int(g)], float(b)) for g, b in pairs]
        slow_classes = tuple(dict.fromkeys(a for (a, _, _), _ in slow_groups))
        reasons = []
        for (a, p, w), b in slow_groups[:5]:
            m = self if w is None else self.with_workload(w, workload_inference_ms)
            try:
                m.radius_km(b, a, p)
            except InfeasibleBudgetError as exc:
                reasons.append(str(exc))
        if radius_shrink_km is not None:
            shrink = np.broadcast_to(np.asarray(radius_shrink_km, dtype=np.float64),
                                     row_radius.shape)
            row_radius = np.where(row_radius >= 0, np.maximum(row_radius - shrink, 0.0),
                                  row_radius)
        return {"fixed_ms": np.zeros(0) if empty else fixed[group_of],
                "fixed_p50_ms": np.zeros(0) if empty else fixed50[group_of],
                "radius_km": row_radius, "infeasible_classes": slow_classes,
                "reasons": tuple(reasons)}

    def _group_constants(self, codes: npt.NDArray[np.intp], classes: Any, percentile: str,
                         row_percentile: npt.ArrayLike | None,
                         row_workload: npt.ArrayLike | None,
                         workload_inference_ms: Mapping[str, tuple[float, float]] | None,
                         ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                    list[tuple[str, str, str | None]], npt.NDArray[np.intp]]:
        """Fixed terms per unique (access, percentile, workload) and each row's group."""
        n = len(codes)
        pct = (np.full(n, percentile, dtype=object) if row_percentile is None
               else np.asarray(row_percentile, dtype=object))
        wl = (np.full(n, None, dtype=object) if row_workload is None
              else np.asarray(row_workload, dtype=object))
        frame = pd.DataFrame({"a": np.asarray(codes), "p": pct,
                              "w": pd.Series(wl, dtype=object).fillna("")})
        group_of, uniq = pd.factorize(pd.MultiIndex.from_frame(frame))
        groups: list[tuple[str, str, str | None]] = []
        fixed, fixed50 = [], []
        for a, p, w in uniq:
            if p not in PERCENTILES:
                raise InputValidationError(f"percentile must be 'p50' or 'p99'; got {p!r}")
            m = self if not w else self.with_workload(str(w), workload_inference_ms)
            groups.append((str(classes[int(a)]), str(p), str(w) if w else None))
            fixed.append(m.fixed_ms(str(classes[int(a)]), p))
            fixed50.append(m.fixed_ms(str(classes[int(a)]), "p50"))
        return (np.array(fixed, dtype=float), np.array(fixed50, dtype=float), groups,
                np.asarray(group_of, dtype=np.intp))

    # ------------------------------------------------------------------ profiles and files
    @classmethod
    def from_profile(cls, name: str = DEFAULT_PROFILE, **overrides: Any) -> LatencyModel:
        """The model of a built-in network profile (:data:`LATENCY_PROFILES`), with
        ``overrides`` of any field."""
        if name not in LATENCY_PROFILES:
            raise InputValidationError(
                f"unknown latency model {name!r}; choose one of "
                f"{', '.join(LATENCY_PROFILES)} or give a model file (.toml)")
        values = {k: (dict(v) if isinstance(v, dict) else v)
                  for k, v in LATENCY_PROFILES[name].items()}
        values["profile"] = name
        return cls(**{**values, **_fit_kept(values, overrides)})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **overrides: Any) -> LatencyModel:
        """The model in a TOML file's ``[latency_model]`` table (as written by
        ``edge-coverage calibrate``); fields it does not set come from the profile its
        ``profile`` key names (``internet`` when absent). A file calibrate wrote and that
        was edited since is read without its measured error (``fit``), with a warning.

        Raises
        ------
        InputValidationError
            Unreadable file, not TOML, no ``[latency_model]`` table, unknown keys or bad
            values (one message naming the file); an ``overrides`` name that is not a field
            (not the file's: without its name and fix).
        """
        problem = arguments_problem(cls, (), overrides)
        if problem is not None:
            raise InputValidationError(problem)
        p = Path(path)
        special = special_file_problem(p, "latency model file")
        if special:
            raise InputValidationError(special)
        try:
            data = p.read_bytes()
            doc = tomllib.loads(data.decode("utf-8-sig"))
        except FileNotFoundError:
            raise InputValidationError(
                f"{p}: latency model file not found. Fix: give the path of a file written by "
                f"'edge-coverage calibrate' or a profile name ({', '.join(LATENCY_PROFILES)})"
            ) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputValidationError(
                f"{p}: cannot read the latency model file ({exc}). Fix: give a TOML file "
                "with a [latency_model] table, as written by 'edge-coverage calibrate'"
            ) from None
        table = doc.get("latency_model")
        if not isinstance(table, dict):
            raise InputValidationError(
                f"{p}: no [latency_model] table. Fix: write route_factor, overhead_ms and "
                "overhead_p99_ms under [latency_model] (see docs/latency-model.md)")
        unknown = sorted(set(table) - set(MODEL_FILE_KEYS))
        if unknown:
            raise InputValidationError(
                f"{p}: unknown key(s) {', '.join(unknown)} in [latency_model]. Fix: use "
                + ", ".join(MODEL_FILE_KEYS))
        values = dict(table)
        for key in ("proxy_ms", "inference_ms"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        if isinstance(values.get("access_profiles_ms"), dict):
            values["access_profiles_ms"] = {**ACCESS_PROFILES_MS, **{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in values["access_profiles_ms"].items()}}
        # ``profile`` names the built-in profile the file starts from (it was a label
        # only: ``profile = "on-net"`` planned with the internet's values; tester 147)
        start = values.pop("profile", DEFAULT_PROFILE)
        if not isinstance(start, str) or start not in LATENCY_PROFILES:
            raise InputValidationError(
                f"{p}: profile = {start!r} in [latency_model] is not a network profile. "
                f"Fix: name the profile the file starts from ({', '.join(LATENCY_PROFILES)}; "
                "the fields the file does not set come from it), or leave it out "
                f"({DEFAULT_PROFILE})")
        values["profile"] = str(p)
        base = {k: (dict(v) if isinstance(v, dict) else v)
                for k, v in LATENCY_PROFILES[start].items()}
        if "fit" not in values:
            base["fit"] = None
        if values.get("fit") and model_file_state(data) == "edited":
            # its measured error describes the file calibrate wrote (tester 147)
            logger.warning("%s was edited since calibrate wrote it (its checksum no longer "
                           "matches): its measured error is not reported", p)
            values["fit"] = None
        try:
            return cls(**{**base, **values, **_fit_kept({**base, **values}, overrides)})
        except InputValidationError as exc:
            raise InputValidationError(
                f"{p}: {exc}. Fix: correct these values under [latency_model] (see "
                "docs/latency-model.md)") from None
        except TypeError as exc:
            raise InputValidationError(f"{p}: invalid latency model ({exc})") from None

    @classmethod
    def from_spec(cls, spec: str | os.PathLike[str] | None = None,
                  **overrides: Any) -> LatencyModel:
        """A profile name (``internet``, ``on-net``) or a model file path, then
        ``overrides`` (``None`` values ignored): what ``--latency-model`` and batch's
        ``model`` accept."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if spec is None:
            spec = DEFAULT_PROFILE
        if str(spec) in LATENCY_PROFILES:
            return cls.from_profile(str(spec), **given)
        if str(spec).lower().endswith(".toml") or os.sep in str(spec) or Path(spec).exists():
            return cls.from_file(spec, **given)
        raise InputValidationError(
            f"unknown latency model {str(spec)!r}; choose one of "
            f"{', '.join(LATENCY_PROFILES)} or give a model file (.toml) written by "
            "'edge-coverage calibrate'")

    def with_network(self, **values: Any) -> LatencyModel:
        """A copy with other network parameters (and the fit metadata cleared unless given)."""
        values.setdefault("fit", None)
        return replace(self, **values)

    def summary(self) -> dict[str, Any]:
        """The network model in brief, for ``summary.json["latency_model"]``: profile, route
        factor, overhead at p50 and p99, hops, and its measured error with the data."""
        return {
            "profile": self.profile,
            "route_factor": self.route_factor,
            "overhead_ms": {"p50": self.overhead_ms, "p99": self.overhead_p99_ms},
            "hops": self.hops,
            "per_hop_ms": self.per_hop_ms,
            "fiber_us_per_km": self.fiber_us_per_km,
            "measured_error": dict(self.fit) if self.fit else None,
        }

    def to_dict(self) -> dict[str, object]:
        """All parameters, JSON-ready, with the derived figures."""
        d = asdict(self)
        d["fit"] = dict(self.fit) if self.fit else None
        d["inference_ms"] = list(self.inference_pair_ms)
        d["proxy_ms"] = list(self.proxy_ms)
        d["wifi_ms"] = list(WIFI_PROFILES_MS[self.wifi])
        d["access_profiles_ms"] = {k: list(v) for k, v in self.access_profiles_ms.items()}
        d["ms_per_km"] = self.ms_per_km
        return d
