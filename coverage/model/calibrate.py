"""Calibrating the network term of the latency model to measured round trips.

The network term at quantile ``q`` is ``N_q(d) = route_factor * x(d) + overhead_q`` with
``x(d) = 2 * d_km * fiber_us_per_km / 1000`` (the fibre round trip at route factor 1) and a
route factor shared by both quantiles (:mod:`coverage.model.latency`):

* **p50**: the median (least absolute deviations) fit of ``route_factor`` and
  ``overhead_ms`` to the measured RTTs, constrained to ``route_factor >= 1`` and
  ``overhead_ms >= 0``: a linear program, solved exactly by HiGHS
  (:func:`scipy.optimize.linprog`). Least squares is pulled by the heavy tail of detoured
  paths; the median is not.
* **p99**: with a per-path p99 column (``rtt_p99_ms``; WonderNetwork's ``rtt_max_ms``), the
  median over paths of ``p99 - route_factor * x(d)``: the p99 of a typical path. Without one,
  the 0.99 quantile over the pings of ``rtt - route_factor * x(d)``: right for repeated
  pings of an operator's own paths, pessimistic for one ping per path (it then plans for the
  worst 1 % of paths, not of requests).

:func:`fit_network` is the general constrained quantile regression (any quantile, both
parameters free), used for the comparisons in ``bench/calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from ..errors import InputValidationError
from ..inputs.validation import format_rows
from .latency import LIGHT_KM_PER_MS, NETWORK_BOUNDS, bound_text

__all__ = ["BANDS_KM", "MODEL_FILE_HEADER", "Calibration", "calibrate", "error_table",
           "fiber_problem", "fit_network", "fibre_rtt_ms", "LIGHT_KM_PER_MS", "MIN_PINGS"]

# LIGHT_KM_PER_MS (from the latency model): speed of light in vacuum, km per ms; no round
# trip is shorter than ``2 d / c``.

#: First line of every model file calibrate writes: an existing ``--out`` is replaced only
#: when it starts with this line.
MODEL_FILE_HEADER = "# Latency model written by edge-coverage calibrate"

#: Fewest usable pings :func:`calibrate` accepts.
MIN_PINGS = 10
#: Fits beyond these are refused as a unit mistake: no network path is 10 times longer than
#: the great circle, and no terrestrial one adds a second at distance 0 (round trips in
#: microseconds fit about 2,200 and 6,000 ms).
MAX_ROUTE_FACTOR = 10.0
MAX_OVERHEAD_MS = 1000.0

#: Above this many pings :func:`fit_network` searches instead of solving the linear program
#: (HiGHS takes about 3 s on 60,000 pings and grows faster than linearly).
LP_MAX_PINGS = 60_000

#: Distance bands of the error tables, km.
BANDS_KM: tuple[float, ...] = (0.0, 500.0, 2000.0, 5000.0, math.inf)


def fiber_problem(fiber_us_per_km: Any, option: str = "--fiber-us-per-km") -> str | None:
    """Why ``fiber_us_per_km`` cannot be calibrated with, or ``None`` when it can.

    Parameters
    ----------
    fiber_us_per_km : Any
        The one-way fibre delay, microseconds per km.
    option : str, default "--fiber-us-per-km"
        How the caller spells the option, for the message.

    Returns
    -------
    str or None
        One sentence with the valid range (the latency model's physical bounds,
        :data:`coverage.model.latency.NETWORK_BOUNDS`) and the fix; ``None`` when valid.
    """
    lo, hi, _, _ = NETWORK_BOUNDS["fiber_us_per_km"]
    ok = (isinstance(fiber_us_per_km, int | float | np.integer | np.floating)
          and not isinstance(fiber_us_per_km, bool) and lo <= fiber_us_per_km <= hi)
    if ok:
        return None
    return (f"{option} {fiber_us_per_km!r} is not {bound_text('fiber_us_per_km')}. Fix: give "
            "the one-way delay in fibre, about 4.9 us per km")


def fibre_rtt_ms(distance_km: npt.ArrayLike, fiber_us_per_km: float = 4.9,
                 ) -> npt.NDArray[np.float64]:
    """Round trip in fibre along the great circle (route factor 1), ms."""
    return 2.0 * np.asarray(distance_km, dtype=np.float64) * fiber_us_per_km / 1000.0


def fit_network(distance_km: npt.ArrayLike, rtt_ms: npt.ArrayLike, quantile: float = 0.5, *,
                fiber_us_per_km: float = 4.9, min_route_factor: float = 1.0,
                min_overhead_ms: float = 0.0) -> tuple[float, float]:
    """Quantile regression of RTT on distance: ``(route_factor, overhead_ms)``.

    Minimises the pinball loss ``sum(max(q r, (q - 1) r))`` of the residuals
    ``r = rtt - route_factor * x(d) - overhead`` subject to the lower bounds, as one sparse
    linear program (``2 n + 2`` variables) solved exactly by HiGHS's interior point method
    with crossover (the dual simplex takes one iteration per ping: about 50 s on 60,000).

    Parameters
    ----------
    distance_km, rtt_ms : array_like
        Great-circle distances (km) and measured round trips (ms), one per ping, finite.
    quantile : float, default 0.5
        The quantile in (0, 1); 0.5 is the median (LAD) fit.
    fiber_us_per_km : float, default 4.9
        One-way fibre delay.
    min_route_factor, min_overhead_ms : float
        Lower bounds (1 and 0: no path is shorter than the great circle, no overhead is
        negative).

    Returns
    -------
    tuple of float
        ``(route_factor, overhead_ms)``.
    """
    x = fibre_rtt_ms(distance_km, fiber_us_per_km).ravel()
    y = np.asarray(rtt_ms, dtype=np.float64).ravel()
    if x.shape != y.shape or not x.size:
        raise ValueError("distance_km and rtt_ms must be non-empty and of equal length")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("distance_km and rtt_ms must be finite")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1); got {quantile!r}")
    n = x.size
    if n > LP_MAX_PINGS:
        return _fit_by_search(x, y, quantile, min_route_factor, min_overhead_ms)
    eye = sp.eye_array(n, format="csc")
    a_eq = sp.hstack([sp.csc_array(x[:, None]), sp.csc_array(np.ones((n, 1))), eye, -eye],
                     format="csc")
    cost = np.concatenate([[0.0, 0.0], np.full(n, quantile), np.full(n, 1.0 - quantile)])
    bounds = [(min_route_factor, None), (min_overhead_ms, None)] + [(0.0, None)] * (2 * n)
    res = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs-ipm")
    if not res.success:  # pragma: no cover - HiGHS solves every feasible LAD problem
        raise ValueError(f"the quantile fit did not converge: {res.message}")
    return float(res.x[0]), float(res.x[1])


def _fit_by_search(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], quantile: float,
                   min_route_factor: float, min_overhead_ms: float) -> tuple[float, float]:
    """:func:`fit_network` for many pings: the pinball loss minimised over the overhead
    (a quantile of the residuals) is convex in the route factor, so a golden-section search
    over the route factor finds the optimum to 1e-10 in about 60 passes over the pings."""

    def best(rf: float) -> tuple[float, float]:
        r = y - rf * x
        o = max(min_overhead_ms, float(np.quantile(r, quantile)))
        e = r - o
        return float(np.sum(np.maximum(quantile * e, (quantile - 1.0) * e))), o

    pos = x > 0
    lo = min_route_factor
    hi = max(lo, float(np.max(y[pos] / x[pos])) if pos.any() else lo) + 1.0
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = best(a)[0], best(b)[0]
    while hi - lo > 1e-10 * max(1.0, hi):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = best(a)[0]
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = best(b)[0]
    rf = lo if best(lo)[0] <= best((lo + hi) / 2)[0] else (lo + hi) / 2
    return rf, best(rf)[1]


def error_table(distance_km: npt.ArrayLike, rtt_ms: npt.ArrayLike,
                predicted_ms: npt.ArrayLike, bands_km: Sequence[float] = BANDS_KM,
                within_km: float = 2000.0) -> pd.DataFrame:
    """Error by distance band (error = predicted - measured; negative = optimistic).

    Returns
    -------
    pandas.DataFrame
        ``band, pairs, median_abs_error_ms, median_bias_ms, p90_abs_error_ms``: one row per
        band of ``bands_km``, then a last row for every pair under ``within_km`` (the range
        a model is fitted on; ``inf``: every pair).
    """
    d = np.asarray(distance_km, dtype=np.float64).ravel()
    err = (np.asarray(predicted_ms, dtype=np.float64).ravel()
           - np.asarray(rtt_ms, dtype=np.float64).ravel())

    def row(label: str, sel: npt.NDArray[np.bool_]) -> dict[str, Any]:
        e = err[sel]
        if not e.size:
            return {"band": label, "pairs": 0, "median_abs_error_ms": math.nan,
                    "median_bias_ms": math.nan, "p90_abs_error_ms": math.nan}
        return {"band": label, "pairs": int(e.size),
                "median_abs_error_ms": float(np.median(np.abs(e))),
                "median_bias_ms": float(np.median(e)),
                "p90_abs_error_ms": float(np.quantile(np.abs(e), 0.9))}

    def km(v: float) -> str:
        return f"{v:,.0f}"

    rows = []
    for lo, hi in zip(bands_km[:-1], bands_km[1:], strict=True):
        label = (f"< {km(hi)} km" if lo <= 0 else
                 f"> {km(lo)} km" if math.isinf(hi) else f"{km(lo)}-{km(hi)} km")
        rows.append(row(label, (d >= lo) & (d < hi)))
    rows.append(row("all" if math.isinf(within_km) else f"all < {km(within_km)} km",
                    d < within_km))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    route_factor, overhead_ms, overhead_p99_ms : float
        The fitted network parameters.
    fiber_us_per_km : float
        The fibre delay the fit assumed.
    p99_method : str
        How the p99 overhead was fitted (see the module notes).
    pings_used, dropped_light, dropped_distance : int
        Pings fitted; dropped as faster than light; dropped beyond ``max_distance_km``.
    max_distance_km : float
        Pings at or beyond this distance were not fitted (``inf``: all were).
    errors : pandas.DataFrame
        :func:`error_table` of the p50 fit on every usable ping (including those beyond
        ``max_distance_km``).
    source : str
        What was fitted (the file).
    solver : str
        How the p50 fit was solved: the HiGHS linear program, or (above
        :data:`LP_MAX_PINGS` pings) the search over the route factor.
    """

    route_factor: float
    overhead_ms: float
    overhead_p99_ms: float
    fiber_us_per_km: float
    p99_method: str
    pings_used: int
    dropped_light: int
    dropped_distance: int
    max_distance_km: float
    errors: pd.DataFrame = field(repr=False)
    source: str = ""
    solver: str = "HiGHS linear program"

    @property
    def fit_summary(self) -> dict[str, Any]:
        """The ``fit`` table of the model file: data, method and the measured error on the
        fitted range."""
        fitted = self.errors.iloc[-1] if len(self.errors) else None
        return {
            "data": self.source,
            "pairs": int(self.pings_used),
            "max_distance_km": (None if math.isinf(self.max_distance_km)
                                else float(self.max_distance_km)),
            "method": f"median (LAD) fit of route factor + overhead ({self.solver}); p99: "
                      + self.p99_method,
            "median_abs_error_ms": None if fitted is None else round(
                float(fitted["median_abs_error_ms"]), 3),
            "median_bias_ms": None if fitted is None else round(
                float(fitted["median_bias_ms"]), 3),
            "p90_abs_error_ms": None if fitted is None else round(
                float(fitted["p90_abs_error_ms"]), 3),
        }

    def model_toml(self) -> str:
        """The model file ``edge-coverage calibrate`` writes (``[latency_model]`` table)."""
        fit = self.fit_summary

        def value(v: Any) -> str:
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return repr(float(v)) if isinstance(v, float) else str(v)

        lines = [
            f"{MODEL_FILE_HEADER}: use it with",
            "#   edge-coverage plan --latency-model THIS_FILE   (batch: model = \"THIS_FILE\")",
            "# Fields not set here (access, Wi-Fi, proxy, inference) keep their defaults.",
            "[latency_model]",
            f"route_factor = {self.route_factor:.6f}",
            f"overhead_ms = {self.overhead_ms:.4f}",
            f"overhead_p99_ms = {max(self.overhead_p99_ms, self.overhead_ms):.4f}",
            "hops = 0",
            f"fiber_us_per_km = {self.fiber_us_per_km!r}",
            "",
            "[latency_model.fit]",
        ]
        lines += [f"{k} = {value(v)}" for k, v in fit.items() if v is not None]
        return "\n".join(lines) + "\n"


def calibrate(pings: pd.DataFrame, *, fiber_us_per_km: float = 4.9,
              max_distance_km: float = math.inf, source: str = "<pings>") -> Calibration:
    """Fit the network term to measured pings.

    Parameters
    ----------
    pings : pandas.DataFrame
        ``distance_km`` and ``rtt_ms`` (and optionally ``rtt_p99_ms``), as returned by
        :func:`coverage.inputs.pings.read_pings`.
    fiber_us_per_km : float, default 4.9
        One-way fibre delay.
    max_distance_km : float, default inf
        Fit only pings under this distance (the planner's radii are a few hundred km; the
        built-in ``internet`` profile is fitted under 2,000 km).
    source : str
        Name of the data, recorded in the model file.

    Returns
    -------
    Calibration

    Raises
    ------
    InputValidationError
        ``fiber_us_per_km`` outside the latency model's physical bounds (faster than light
        in vacuum, or above 100 us/km), fewer than :data:`MIN_PINGS` usable pings, or a fit
        beyond a route factor of :data:`MAX_ROUTE_FACTOR` or an overhead of
        :data:`MAX_OVERHEAD_MS`.
    """
    bad_fiber = fiber_problem(fiber_us_per_km, "fiber_us_per_km")
    if bad_fiber:
        raise InputValidationError(bad_fiber)
    d = pings["distance_km"].to_numpy(dtype=np.float64)
    rtt = pings["rtt_ms"].to_numpy(dtype=np.float64)
    light = rtt < 2.0 * d / LIGHT_KM_PER_MS
    far = ~light & (d >= max_distance_km)
    use = ~light & ~far
    n_use = int(use.sum())
    if light.sum() * 2 > len(d):
        raise InputValidationError(
            f"{source}: {int(light.sum()):,} of {len(d):,} pings are faster than light "
            f"({format_rows(np.flatnonzero(light) + 1)}): the distances do not match the round "
            "trips. Fix: check the columns (latitude before longitude, not swapped), give "
            "distances in km and round trips in ms")
    if n_use < MIN_PINGS:
        limited = not math.isinf(max_distance_km)
        raise InputValidationError(
            f"{source}: {n_use} usable ping(s) of {len(d):,} ({int(light.sum())} faster than "
            "light" + (f", {int(far.sum())} at or beyond {max_distance_km:g} km" if limited
                       else "") + f"): at least {MIN_PINGS} are needed to fit a route factor "
            "and an overhead. Fix: add measurements"
            + (" or raise --max-distance-km" if limited and far.any() else ""))
    if np.ptp(d[use]) <= 0:
        raise InputValidationError(
            f"{source}: all {n_use:,} usable pings are at the same distance "
            f"({float(d[use][0]):g} km): a route factor cannot be told from an overhead. "
            "Fix: add pings over a range of distances")
    rf, overhead = fit_network(d[use], rtt[use], 0.5, fiber_us_per_km=fiber_us_per_km)
    if rf > MAX_ROUTE_FACTOR or overhead > MAX_OVERHEAD_MS:
        raise InputValidationError(
            f"{source}: the {n_use:,} pings fit a route factor of {rf:,.1f} and a fixed "
            f"overhead of {overhead:,.1f} ms (measured internet paths: about 2.3 and 6.4 ms; "
            f"this tool refuses more than {MAX_ROUTE_FACTOR:g} or {MAX_OVERHEAD_MS:,.0f} "
            "ms): the round trips are far too slow for their distances, e.g. in "
            "microseconds, or the distances far too short. Fix: give round trips (rtt_ms) "
            "in milliseconds and distances (distance_km) in kilometres")
    base = rf * fibre_rtt_ms(d[use], fiber_us_per_km)
    if "rtt_p99_ms" in pings.columns:
        p99 = pings["rtt_p99_ms"].to_numpy(dtype=np.float64)[use]
        ok = np.isfinite(p99)
        overhead99 = float(np.median(p99[ok] - base[ok])) if ok.any() else overhead
        how = "median over paths of the per-path p99 (rtt_p99_ms) minus the p50 distance term"
    else:
        overhead99 = float(np.quantile(rtt[use] - base, 0.99))
        how = "0.99 quantile over the pings of rtt_ms minus the p50 distance term"
    errors = error_table(d[~light], rtt[~light],
                         rf * fibre_rtt_ms(d[~light], fiber_us_per_km) + overhead,
                         within_km=max_distance_km)
    return Calibration(
        route_factor=rf, overhead_ms=overhead, overhead_p99_ms=max(overhead99, overhead),
        fiber_us_per_km=fiber_us_per_km, p99_method=how, pings_used=n_use,
        solver=("HiGHS linear program" if n_use <= LP_MAX_PINGS else
                "golden-section search over the route factor (convex loss)"),
        dropped_light=int(light.sum()), dropped_distance=int(far.sum()),
        max_distance_km=float(max_distance_km), errors=errors, source=source)
