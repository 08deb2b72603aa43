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
  median over paths of ``p99 - route_factor * x(d)``: the p99 of a typical path, which about
  half of the paths exceed (``p99_over_paths`` chooses another quantile over the paths: 0.9
  plans for 90 % of them). Pings with a blank p99 fit the p50 only. Without the column, the
  0.99 quantile over the pings of ``rtt - route_factor * x(d)``: right for repeated pings of
  an operator's own paths, pessimistic for one ping per path (it then plans for the worst
  1 % of paths, not of requests). Either way the share of paths (or pings) above the fitted
  p99 term is reported.

Honesty of the fit: the median absolute error is also measured held out
(:data:`CV_FOLDS`-fold cross-validation, by path when the pings have coordinates, else by
ping; skipped above :data:`CV_MAX_PINGS` pings); a 0.99 quantile over fewer than
:data:`MIN_PINGS_P99` pings is a warning; distances that span too little to tell a route
factor from an overhead (standard error of the route factor above
:data:`MAX_ROUTE_FACTOR_SE`) are a warning; the fitted distance range is recorded (``plan``
warns when its budget radius leaves it).

:func:`fit_network` is the general constrained quantile regression (any quantile, both
parameters free), used for the comparisons in ``bench/calibration.py``.
"""

from __future__ import annotations

import hashlib
import logging
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
from .latency import (
    LIGHT_KM_PER_MS,
    MODEL_FILE_HEADER,
    NETWORK_BOUNDS,
    bound_text,
    model_file_state,
)

logger = logging.getLogger(__name__)

__all__ = ["BANDS_KM", "CV_FOLDS", "CV_MAX_PINGS", "MAX_ROUTE_FACTOR_SE",
           "MIN_DISTANCE_SPAN_KM", "MIN_PINGS_P99", "MODEL_FILE_HEADER", "Calibration",
           "calibrate", "error_table", "fiber_problem", "fit_network", "fibre_rtt_ms",
           "LIGHT_KM_PER_MS", "MIN_PINGS", "model_file_state"]

# LIGHT_KM_PER_MS (from the latency model): speed of light in vacuum, km per ms; no round
# trip is shorter than ``2 d / c``.

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

#: Largest standard error of the fitted route factor without a warning (see
#: :func:`calibrate`): above it the distances span too little, for the scatter of the round
#: trips, to tell a route factor from an overhead (60 pings at 295-305 km: about 9; pings
#: within Germany in WonderNetwork's data: 0.64).
MAX_ROUTE_FACTOR_SE = 0.5
#: Least spread of the usable pings' distances, km: below, a route factor cannot be told
#: from an overhead (the distance term differs by about 0.02 ms per km of spread between
#: route factors 1 and 3), and the pings are refused as if at one distance.
MIN_DISTANCE_SPAN_KM = 1.0

#: Folds and seed of the held-out (cross-validated) error.
CV_FOLDS = 5
CV_SEED = 0
#: Above this many usable pings the held-out error is not computed (five more fits; with
#: this many pings the in-sample error is a fair estimate unless they are few paths).
CV_MAX_PINGS = 200_000

#: A 0.99 quantile over fewer pings than this is a warning (it lies between the two largest
#: residuals: a rough estimate).
MIN_PINGS_P99 = 100

#: Distance bands of the error tables, km.
BANDS_KM: tuple[float, ...] = (0.0, 500.0, 2000.0, 5000.0, math.inf)



#: A fitted route factor below this (paths of 200 km or more) is said: measured internet
#: paths run 1.5 to 3 times the great-circle fibre (WonderNetwork: 2.28 below 2,000 km);
#: swapped coordinates or one-way times fit lower (tester 185: 1.19, 1.06).
PLAUSIBLE_MIN_ROUTE_FACTOR = 1.3

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


def _p99_term(rf_x: npt.NDArray[np.float64], rtt: npt.NDArray[np.float64],
              p99: npt.NDArray[np.float64] | None, over_paths: float) -> float:
    """The p99 overhead: the ``over_paths`` quantile over the paths of ``p99 - rf_x`` (the
    pings with a finite p99), else the 0.99 quantile over the pings of ``rtt - rf_x``."""
    if p99 is not None:
        ok = np.isfinite(p99)
        if ok.any():
            return float(np.quantile(p99[ok] - rf_x[ok], over_paths))
    return float(np.quantile(rtt - rf_x, 0.99))


def _above_p99(rf_x: npt.NDArray[np.float64], rtt: npt.NDArray[np.float64],
               p99: npt.NDArray[np.float64] | None, overhead_p99_ms: float
               ) -> npt.NDArray[np.bool_]:
    """Per ping: above the p99 network term (its own p99 when it has one, else its round
    trip); pings without a p99 are left out (``False``) when others have one."""
    if p99 is not None and np.isfinite(p99).any():
        return np.isfinite(p99) & (p99 > rf_x + overhead_p99_ms)
    return rtt > rf_x + overhead_p99_ms


def _folds(n: int, paths: npt.NDArray[np.int64] | None) -> tuple[npt.NDArray[np.int64], str]:
    """Fold of every ping (by path when at least :data:`CV_FOLDS` paths are known, else by
    ping; seeded), and how they were drawn."""
    rng = np.random.default_rng(CV_SEED)
    if paths is not None:
        uniq, inverse = np.unique(paths, return_inverse=True)
        if uniq.size >= CV_FOLDS:
            return ((rng.permutation(uniq.size) % CV_FOLDS)[inverse],
                    f"{CV_FOLDS} folds by path, {uniq.size:,} paths with both directions "
                    f"in one fold, seed {CV_SEED}")
    return rng.permutation(n) % CV_FOLDS, f"{CV_FOLDS} folds by ping, seed {CV_SEED}"


def _held_out(x: npt.NDArray[np.float64], rtt: npt.NDArray[np.float64],
              p99: npt.NDArray[np.float64] | None, over_paths: float,
              paths: npt.NDArray[np.int64] | None) -> tuple[float, float, str]:
    """Cross-validated median absolute error of the p50 fit and share above the p99 term:
    each fold is predicted by the fit (the search of :func:`_fit_by_search`, the linear
    program's optimum) to the other folds."""
    fold, how = _folds(x.size, paths)
    pred = np.empty_like(rtt)
    above = np.zeros(x.size, dtype=bool)
    for k in range(CV_FOLDS):  # one fit per fold, not per ping
        test = fold == k
        if not test.any():
            continue
        train = ~test
        rf, over = _fit_by_search(x[train], rtt[train], 0.5, 1.0, 0.0)
        p99_train = None if p99 is None else p99[train]
        over99 = max(over, _p99_term(rf * x[train], rtt[train], p99_train, over_paths))
        pred[test] = rf * x[test] + over
        above[test] = _above_p99(rf * x[test], rtt[test],
                                 None if p99 is None else p99[test], over99)
    return (float(np.median(np.abs(pred - rtt))), float(above[_counted(p99, x.size)].mean()),
            how)


def _counted(p99: npt.NDArray[np.float64] | None, n: int) -> npt.NDArray[np.bool_]:
    """The pings the share above the p99 term counts: those with a p99 when any has one
    (one per path), else every ping."""
    if p99 is not None and np.isfinite(p99).any():
        return np.isfinite(p99)
    return np.ones(n, dtype=bool)


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
    route_factor_se : float
        Standard error of the route factor (see :func:`calibrate`).
    fitted_min_distance_km, fitted_max_distance_km : float
        Range of the fitted pings' distances: beyond it the model extrapolates.
    p99_over_paths : float or None
        Quantile over the paths of the per-path p99 column (``None``: no such column).
    share_above_p99 : float
        In-sample share of the fitted paths whose own p99 is above the fitted p99 term
        (with a p99 column), else of the fitted pings whose round trip is.
    share_above_p99_of : str
        ``"paths"`` or ``"pings"``: what :attr:`share_above_p99` counts.
    heldout_median_abs_error_ms, heldout_share_above_p99 : float
        The same error and share measured held out (``nan``: not computed).
    heldout_method : str
        How the held-out figures were computed (folds, or why they were not).
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
    route_factor_se: float = math.nan
    fitted_min_distance_km: float = math.nan
    fitted_max_distance_km: float = math.nan
    p99_over_paths: float | None = None
    share_above_p99: float = math.nan
    share_above_p99_of: str = "pings"
    heldout_median_abs_error_ms: float = math.nan
    heldout_share_above_p99: float = math.nan
    heldout_method: str = ""

    @property
    def fit_summary(self) -> dict[str, Any]:
        """The ``fit`` table of the model file: data, method and the measured error on the
        fitted range (in sample and held out), the fitted distance range and the share
        above the p99 term."""
        fitted = self.errors.iloc[-1] if len(self.errors) else None

        def num(v: Any, digits: int = 3) -> float | None:
            return None if v is None or not math.isfinite(float(v)) else round(float(v),
                                                                                 digits)

        return {
            "data": self.source,
            "pairs": int(self.pings_used),
            "max_distance_km": (None if math.isinf(self.max_distance_km)
                                else float(self.max_distance_km)),
            "fitted_min_distance_km": num(self.fitted_min_distance_km, 1),
            "fitted_max_distance_km": num(self.fitted_max_distance_km, 1),
            "method": f"median (LAD) fit of route factor + overhead ({self.solver}); p99: "
                      + self.p99_method,
            "route_factor_se": num(self.route_factor_se, 4),
            "p99_over_paths": self.p99_over_paths,
            f"{self.share_above_p99_of}_above_p99_share": num(self.share_above_p99, 4),
            "median_abs_error_ms": None if fitted is None else num(
                fitted["median_abs_error_ms"]),
            "median_bias_ms": None if fitted is None else num(fitted["median_bias_ms"]),
            "p90_abs_error_ms": None if fitted is None else num(fitted["p90_abs_error_ms"]),
            "heldout_median_abs_error_ms": num(self.heldout_median_abs_error_ms),
            f"heldout_{self.share_above_p99_of}_above_p99_share": num(
                self.heldout_share_above_p99, 4),
            "heldout_method": self.heldout_method or None,
        }

    def model_toml(self) -> str:
        """The model file ``edge-coverage calibrate`` writes (``[latency_model]`` table).

        Its first line holds the SHA-256 of the rest (:func:`model_file_state`): a re-run
        replaces the file only while that matches, i.e. it was not edited by hand.
        """
        fit = self.fit_summary

        def value(v: Any) -> str:
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return repr(float(v)) if isinstance(v, float) else str(v)

        lines = [
            "#   edge-coverage plan --latency-model THIS_FILE   (batch: model = \"THIS_FILE\")",
            "# Fields not set here (access, Wi-Fi, proxy, inference) keep their defaults.",
            "# Edit a copy under another name: calibrate refuses to replace an edited file.",
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
        body = "\n".join(lines) + "\n"
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        return f"{MODEL_FILE_HEADER} (sha256 {digest}): use it with\n" + body


def calibrate(pings: pd.DataFrame, *, fiber_us_per_km: float = 4.9,
              max_distance_km: float = math.inf, source: str = "<pings>",
              p99_over_paths: float = 0.5) -> Calibration:
    """Fit the network term to measured pings.

    Parameters
    ----------
    pings : pandas.DataFrame
        ``distance_km`` and ``rtt_ms`` (and optionally ``rtt_p99_ms``, NaN where a ping has
        none, and ``path_id``, the path of each ping for the held-out error), as returned
        by :func:`coverage.inputs.pings.read_pings`. Row ``i`` (0-based) is named row
        ``i + 1`` in messages.
    fiber_us_per_km : float, default 4.9
        One-way fibre delay.
    max_distance_km : float, default inf
        Fit only pings under this distance (the planner's radii are a few hundred km; the
        built-in ``internet`` profile is fitted under 2,000 km).
    source : str
        Name of the data, recorded in the model file.
    p99_over_paths : float, default 0.5
        With a ``rtt_p99_ms`` column: the quantile over the paths of ``p99 - route term``
        taken as the p99 overhead (0.5: the median, a typical path; 0.9: 90 % of the
        paths). Without the column it must be 0.5 (the p99 term is then the 0.99 quantile
        over the pings).

    Returns
    -------
    Calibration

    Raises
    ------
    InputValidationError
        ``fiber_us_per_km`` outside the latency model's physical bounds (faster than light
        in vacuum, or above 100 us/km), ``p99_over_paths`` outside (0, 1) or other than 0.5
        without a p99 column, fewer than :data:`MIN_PINGS` usable pings, a fit beyond a
        route factor of :data:`MAX_ROUTE_FACTOR` or an overhead of :data:`MAX_OVERHEAD_MS`.

    Notes
    -----
    Pings faster than light are dropped (a warning names their rows); a 0.99 quantile over
    fewer than :data:`MIN_PINGS_P99` pings is a warning naming the file; so are distances
    spanning too little to tell the route factor from the overhead: a standard error of the
    route factor above :data:`MAX_ROUTE_FACTOR_SE`, estimated as
    ``sqrt(pi / 2) * 1.4826 * median(|residual|) / sqrt(sum((x - mean(x)) ** 2))`` (the
    large-sample error of a median regression's slope, normal scatter; ``x`` the fibre
    round trip at route factor 1). Within the fitted distances such a fit predicts well;
    beyond them it is uncertain.
    """
    bad_fiber = fiber_problem(fiber_us_per_km, "fiber_us_per_km")
    if bad_fiber:
        raise InputValidationError(bad_fiber)
    has_p99 = "rtt_p99_ms" in pings.columns
    if not (isinstance(p99_over_paths, int | float | np.integer | np.floating)
            and not isinstance(p99_over_paths, bool) and 0.0 < p99_over_paths < 1.0):
        raise InputValidationError(f"p99_over_paths {p99_over_paths!r} is not a fraction "
                                   "in (0, 1). Fix: give e.g. 0.5 (a typical path) or 0.9")
    if not has_p99 and p99_over_paths != 0.5:
        raise InputValidationError(
            f"{source}: p99_over_paths {p99_over_paths:g} needs a per-path p99 column "
            "(rtt_p99_ms, or rtt_max_ms), which the pings do not have: without it the p99 "
            "term is the 0.99 quantile over the pings. Fix: add the column, or leave "
            "p99_over_paths at 0.5")
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
    if light.any():
        logger.warning(
            "%s: %s of %s pings are faster than light (%s): dropped. Fix: check those rows' "
            "distances (or coordinates) and round trips", source, f"{int(light.sum()):,}",
            f"{len(d):,}", format_rows(np.flatnonzero(light) + 1))
    if n_use < MIN_PINGS:
        limited = not math.isinf(max_distance_km)
        raise InputValidationError(
            f"{source}: {n_use} usable ping(s) of {len(d):,} ({int(light.sum()):,} faster than "
            "light" + (f", {int(far.sum()):,} at or beyond {max_distance_km:g} km" if limited
                       else "") + f"): at least {MIN_PINGS} are needed to fit a route factor "
            "and an overhead. Fix: add measurements"
            + (" or raise --max-distance-km" if limited and far.any() else ""))
    du, yu = d[use], rtt[use]
    if np.ptp(du) < MIN_DISTANCE_SPAN_KM:  # (1 m apart fitted 1.00 + 7.23 ms from 60
        # pings and 3.40 + 0 ms from the same pings repeated: tester 147)
        where = (f"the same distance ({float(du[0]):g} km)" if np.ptp(du) <= 0 else
                 f"distances within {MIN_DISTANCE_SPAN_KM:g} km of each other "
                 f"({float(du.min()):.10g}-{float(du.max()):.10g} km)")
        raise InputValidationError(
            f"{source}: all {n_use:,} usable pings are at {where}: a route factor cannot "
            "be told from an overhead. Fix: add pings over a range of distances")
    rf, overhead = fit_network(du, yu, 0.5, fiber_us_per_km=fiber_us_per_km)
    if rf > MAX_ROUTE_FACTOR or overhead > MAX_OVERHEAD_MS:
        raise InputValidationError(
            f"{source}: the {n_use:,} pings fit a route factor of {rf:,.1f} and a fixed "
            f"overhead of {overhead:,.1f} ms (measured internet paths: about 2.3 and 6.4 ms; "
            f"this tool refuses more than {MAX_ROUTE_FACTOR:g} or {MAX_OVERHEAD_MS:,.0f} "
            "ms): the round trips are far too slow for their distances, e.g. in "
            "microseconds, or the distances far too short. Fix: give round trips (rtt_ms) "
            "in milliseconds and distances (distance_km) in kilometres")
    x = fibre_rtt_ms(du, fiber_us_per_km)
    scatter_ms = 1.4826 * float(np.median(np.abs(yu - rf * x - overhead)))
    rf_se = math.sqrt(math.pi / 2.0) * scatter_ms / float(np.sqrt(np.sum((x - x.mean()) ** 2)))
    if round(rf_se, 2) > MAX_ROUTE_FACTOR_SE:  # a warning (as printed, tester 147): within
        # the fitted range the fit is fine
        logger.warning(
            "%s: the %s usable pings span only %s-%s km (fibre round trips %.2f-%.2f ms) "
            "while they scatter by about %.2f ms around the fit: the route factor (%.2f) has "
            "a standard error of %.2f (above %g), so other splits between route factor and "
            "overhead fit about as well, and the model is uncertain beyond these distances "
            "(plan warns when its radius leaves them). Fix: add pings over a wider range of "
            "distances if the plans reach beyond them", source, f"{n_use:,}",
            f"{du.min():,.1f}", f"{du.max():,.1f}", x.min(), x.max(), scatter_ms, rf, rf_se,
            MAX_ROUTE_FACTOR_SE)
    base = rf * x
    p99 = pings["rtt_p99_ms"].to_numpy(dtype=np.float64)[use] if has_p99 else None
    with_p99 = int(np.isfinite(p99).sum()) if p99 is not None else 0
    term99 = _p99_term(base, yu, p99, p99_over_paths)
    overhead99 = max(overhead, term99)
    if with_p99:
        what = ("median" if p99_over_paths == 0.5 else f"{p99_over_paths:g} quantile")
        how = (f"{what} over paths of the per-path p99 (rtt_p99_ms) minus the p50 distance "
               f"term (p99_over_paths = {p99_over_paths:g}"
               + (f"; {with_p99:,} of {n_use:,} fitted pings have one" if with_p99 < n_use
                  else "") + ")")
    else:
        what = "0.99 quantile"
        how = ("0.99 quantile over the pings of rtt_ms minus the p50 distance term"
               + (" (no fitted ping has an rtt_p99_ms)" if p99 is not None else ""))
    if term99 < overhead:  # a p99 term is never below the p50 one: raised, and said
        # (it was printed as the quantile asked for: tester 143)
        how = (f"the p50 overhead: the {how} was {term99:.3f} ms, below it")
        logger.warning(
            "%s: the %s of the p99 term (%.3f ms) lies below the fitted p50 overhead "
            "(%.3f ms), so the p99 overhead is set to the p50 one (a p99 is never below the "
            "p50) and more of the %s than asked have their own p99 above it. Fix: choose a "
            "higher --p99-over-paths (0.5, the median over the paths, is the default)",
            source, what, term99, overhead, "paths" if with_p99 else "pings")
    above = _above_p99(base, yu, p99, overhead99)
    share = float(above[_counted(p99, n_use)].mean())
    if n_use > CV_MAX_PINGS:
        cv_mae, cv_share = math.nan, math.nan
        cv_how = f"not computed above {CV_MAX_PINGS:,} pings (time)"
    else:
        paths = (pings["path_id"].to_numpy(dtype=np.int64)[use]
                 if "path_id" in pings.columns else None)
        cv_mae, cv_share, cv_how = _held_out(x, yu, p99, p99_over_paths, paths)
    if not with_p99 and n_use < MIN_PINGS_P99:
        logger.warning(
            "%s: the p99 network term (overhead %.2f ms) is the 0.99 quantile over only %d "
            "pings: it lies between their two largest residuals, a rough estimate (held out, "
            "%.1f %% of the pings were above it, not 1 %%). Fix: add pings (%d or more), or "
            "give each path's p99 in a rtt_p99_ms column", source, overhead99, n_use,
            100.0 * cv_share, MIN_PINGS_P99)
    errors = error_table(d[~light], rtt[~light],
                         rf * fibre_rtt_ms(d[~light], fiber_us_per_km) + overhead,
                         within_km=max_distance_km)
    if (rf < PLAUSIBLE_MIN_ROUTE_FACTOR and float(du.max()) >= 200.0
            and math.isfinite(rf_se) and rf_se <= 0.25):
        # (only a fit sure of its route factor: one of pings within a country is not, and
        # has the standard error's own warning)
        # (tester 185: pings with their lat and lon swapped fitted 1.19, one-way times
        # 1.06, without a word)
        logger.warning(
            "%s: the fitted route factor %.3f is below %.1f (measured internet paths run "
            "1.5 to 3 times the great-circle fibre; a private backbone 1.5 or so): are the "
            "times one-way (give round trips), or the coordinates swapped (lat and lon)? "
            "Fix: check the file; the fit is written as asked", source, rf,
            PLAUSIBLE_MIN_ROUTE_FACTOR)
    return Calibration(
        route_factor=rf, overhead_ms=overhead, overhead_p99_ms=overhead99,
        fiber_us_per_km=fiber_us_per_km, p99_method=how, pings_used=n_use,
        solver=("HiGHS linear program" if n_use <= LP_MAX_PINGS else
                "golden-section search over the route factor (convex loss)"),
        dropped_light=int(light.sum()), dropped_distance=int(far.sum()),
        max_distance_km=float(max_distance_km), errors=errors, source=source,
        route_factor_se=rf_se, fitted_min_distance_km=float(du.min()),
        fitted_max_distance_km=float(du.max()),
        p99_over_paths=float(p99_over_paths) if with_p99 else None,
        share_above_p99=share, share_above_p99_of="paths" if with_p99 else "pings",
        heldout_median_abs_error_ms=cv_mae, heldout_share_above_p99=cv_share,
        heldout_method=cv_how)
