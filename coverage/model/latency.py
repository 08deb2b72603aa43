"""Great-circle fibre latency model (DESIGN section 2).

``D(d) = 2 * route_factor * d_km * fiber_us_per_km / 1000 + hops * per_hop_ms`` is the
deterministic part; the stochastic components (access network, optional Wi-Fi hop,
proxy/load balancer, inference) are given as ``(p50_ms, p99_ms)`` and assumed independent::

    p50(d) = D(d) + sum_c p50_c
    p99(d) = D(d) + sum_c p50_c + sqrt(sum_c (p99_c - p50_c) ** 2)

Sources of the defaults are listed in ``docs/latency-model.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InfeasibleBudgetError, InputValidationError

__all__ = [
    "ACCESS_PROFILES_MS",
    "WIFI_PROFILES_MS",
    "WORKLOADS_MS",
    "PERCENTILES",
    "LatencyModel",
]

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

#: Inference time per request (p50_ms, p99_ms), MLPerf Inference v3.1 SingleStream.
WORKLOADS_MS: dict[str, tuple[float, float]] = {
    "vision-l4": (4.7, 4.9),  # RetinaNet object detector on one NVIDIA L4 (the default)
    "resnet50-l4": (0.35, 0.35),
    "bert-l4": (2.31, 3.90),
    "vision-orin": (11.56, 11.79),  # RetinaNet on Jetson AGX Orin 64 GB
    "resnet50-orin": (0.64, 0.64),
    "bert-orin": (4.21, 6.49),
}

PERCENTILES = ("p50", "p99")
Percentile = Literal["p50", "p99"]


def _check_pair(name: str, pair: tuple[float, float], problems: list[str]) -> None:
    p50, p99 = pair
    if not (np.isfinite(p50) and np.isfinite(p99)) or p50 < 0 or p99 < p50:
        problems.append(f"{name} must be (p50_ms, p99_ms) with 0 <= p50 <= p99; got {pair!r}")


def access_codes(access: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], Any]:
    """``(codes, classes)`` of access-class labels (sorted classes; one pass over the rows)."""
    labels = np.asarray(access, dtype=object)
    return pd.factorize(pd.Series(labels.astype(str).ravel()), sort=True)


@dataclass(frozen=True)
class LatencyModel:
    """User-perceived request latency as a function of great-circle distance.

    Parameters
    ----------
    fiber_us_per_km : float, default 4.9
        One-way propagation delay in fibre, microseconds per km.
    route_factor : float, default 1.5
        Fibre route length over great-circle distance.
    hops : int, default 8
        Router hops on the path.
    per_hop_ms : float, default 0.05
        Forwarding delay per hop, ms.
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

    Examples
    --------
    >>> m = LatencyModel()
    >>> round(m.p99_ms(0.0, "ftth"), 2)
    21.3
    >>> round(m.radius_km(30.0, "ftth"), 1)
    591.8
    """

    fiber_us_per_km: float = 4.9
    route_factor: float = 1.5
    hops: int = 8
    per_hop_ms: float = 0.05
    proxy_ms: tuple[float, float] = (1.0, 3.0)
    wifi: str = "none"
    workload: str = "vision-l4"
    inference_ms: tuple[float, float] | None = None
    access_profiles_ms: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(ACCESS_PROFILES_MS)
    )

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("fiber_us_per_km", "route_factor", "per_hop_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                problems.append(f"{name} must be a number >= 0; got {value!r}")
        if self.fiber_us_per_km <= 0 or self.route_factor <= 0:
            problems.append("fiber_us_per_km and route_factor must be > 0")
        if not isinstance(self.hops, int | np.integer) or self.hops < 0:
            problems.append(f"hops must be an integer >= 0; got {self.hops!r}")
        _check_pair("proxy_ms", self.proxy_ms, problems)
        if self.wifi not in WIFI_PROFILES_MS:
            problems.append(
                f"unknown wifi profile {self.wifi!r}; choose one of {sorted(WIFI_PROFILES_MS)}"
            )
        if self.inference_ms is not None:
            _check_pair("inference_ms", self.inference_ms, problems)
        elif self.workload not in WORKLOADS_MS:
            problems.append(
                f"unknown workload {self.workload!r}; choose one of {sorted(WORKLOADS_MS)} "
                "or give inference_ms=(p50_ms, p99_ms)"
            )
        for name, pair in self.access_profiles_ms.items():
            _check_pair(f"access profile {name!r}", pair, problems)
        if problems:
            raise InputValidationError("invalid latency model: " + "; ".join(problems))

    # ------------------------------------------------------------------ components
    @property
    def ms_per_km(self) -> float:
        """Round-trip milliseconds per km of great-circle distance."""
        return 2.0 * self.route_factor * self.fiber_us_per_km / 1000.0

    @property
    def inference_pair_ms(self) -> tuple[float, float]:
        """Inference (p50_ms, p99_ms) in force."""
        return self.inference_ms if self.inference_ms is not None else WORKLOADS_MS[self.workload]

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
            "access": tuple(self.access_profiles_ms[access]),
            "wifi": WIFI_PROFILES_MS[self.wifi],
            "proxy": tuple(self.proxy_ms),
            "inference": self.inference_pair_ms,
        }

    def fixed_ms(self, access: str = "ftth", percentile: Percentile = "p99") -> float:
        """Latency at distance zero (hops plus all components) for one access class, ms."""
        comps = self.components_ms(access).values()
        value = self.hops * self.per_hop_ms + sum(p50 for p50, _ in comps)
        if percentile == "p99":
            value += math.sqrt(sum((p99 - p50) ** 2 for p50, p99 in comps))
        elif percentile != "p50":
            raise InputValidationError(f"percentile must be 'p50' or 'p99'; got {percentile!r}")
        return value

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
        """Latency at ``percentile`` for great-circle ``distance_km`` (vectorised), ms."""
        d = np.asarray(distance_km, dtype=np.float64)
        fixed = (
            self.fixed_ms(access, percentile)
            if isinstance(access, str)
            else self.fixed_ms_array(access, percentile)
        )
        out = fixed + self.ms_per_km * d
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
        """
        fixed = self.fixed_ms(access, percentile)
        if fixed > budget_ms:
            raise InfeasibleBudgetError(
                f"a {percentile} budget of {budget_ms:g} ms cannot be met with {access} access: "
                f"access + inference alone take {fixed:.1f} ms at distance 0 "
                f"(hops {self.hops * self.per_hop_ms:.2f} ms, components "
                + ", ".join(f"{k} {a:g}/{b:g}" for k, (a, b) in self.components_ms(access).items())
                + " ms p50/p99). Raise --budget-ms, choose a faster --access or --workload, "
                "or drop the Wi-Fi hop."
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
                      ) -> dict[str, Any]:
        """The one computation of every demand point's latency constants (one pass per
        access class): ``fixed_ms`` (at ``percentile``), ``fixed_p50_ms``, ``radius_km``
        (after the shrink; -1 where the class cannot meet the budget at distance 0),
        ``infeasible_classes`` and their ``reasons``. Wrapped by
        :class:`coverage.model.problem.RowLatency`. ``factorized``: ``(codes, classes)`` of
        ``access`` (:func:`access_codes`) when already known, so that a sweep over budgets
        does not factorise a national demand's labels again."""
        codes, classes = access_codes(access) if factorized is None else factorized
        fixed = np.array([self.fixed_ms(str(c), percentile) for c in classes], dtype=float)
        fixed50 = np.array([self.fixed_ms(str(c), "p50") for c in classes], dtype=float)
        radius = np.where(fixed <= budget_ms, (budget_ms - fixed) / self.ms_per_km, -1.0)
        slow = tuple(str(c) for c, f in zip(classes, fixed, strict=True) if f > budget_ms)
        reasons = []
        for c in slow:
            try:
                self.radius_km(budget_ms, c, percentile)
            except InfeasibleBudgetError as exc:
                reasons.append(str(exc))
        empty = not len(classes)
        row_radius = np.zeros(0) if empty else radius[codes]
        if radius_shrink_km is not None:
            shrink = np.broadcast_to(np.asarray(radius_shrink_km, dtype=np.float64),
                                     row_radius.shape)
            row_radius = np.where(row_radius >= 0, np.maximum(row_radius - shrink, 0.0),
                                  row_radius)
        return {"fixed_ms": np.zeros(0) if empty else fixed[codes],
                "fixed_p50_ms": np.zeros(0) if empty else fixed50[codes],
                "radius_km": row_radius, "infeasible_classes": slow,
                "reasons": tuple(reasons)}

    def to_dict(self) -> dict[str, object]:
        """All parameters, JSON-ready, with the derived figures."""
        d = asdict(self)
        d["inference_ms"] = list(self.inference_pair_ms)
        d["proxy_ms"] = list(self.proxy_ms)
        d["wifi_ms"] = list(WIFI_PROFILES_MS[self.wifi])
        d["access_profiles_ms"] = {k: list(v) for k, v in self.access_profiles_ms.items()}
        d["ms_per_km"] = self.ms_per_km
        return d
