"""HiGHS through ``highspy``: a silent solver object, options older versions may lack, and
a general MILP solve with HiGHS's gaps at zero.

:func:`solve_milp` is used where :func:`scipy.optimize.milp` is not exact enough: SciPy
cannot set HiGHS's absolute gap (``mip_abs_gap``, default 1e-6 of the objective), so a plan
within 1e-6 of the optimum ends "optimal". For the maximal covering models
(:mod:`coverage.solvers.maxcover`) that is a client of a millionth of the heaviest client's
weight traded away under an "optimal" status.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .interrupt import run_highs

logger = logging.getLogger(__name__)

__all__ = ["AT_LOWER", "AT_UPPER", "BASIC", "MilpResult", "lp_model", "new_highs",
           "release_freed_memory", "set_option", "solve_milp"]


@functools.cache
def _highs_banner_silenced() -> bool:
    """Construct one ``highspy.Highs`` with stdout sent to /dev/null: HiGHS prints its
    banner on the first construction in a process only. Run once per process (cached; the
    caller holds :data:`_HIGHS_BANNER_LOCK`, so two threads never swap the descriptor)."""
    import highspy

    if sys.stdout is not None:  # None: descriptor 1 closed when Python started
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # descriptor 1 closed: nothing to silence, the banner goes nowhere
        highspy.Highs()
        return True
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return True


#: Serialises the one construction that silences HiGHS's banner (threads of a Dask worker).
_HIGHS_BANNER_LOCK = threading.Lock()


def new_highs() -> Any:
    """A silent ``highspy.Highs`` (its banner silenced once per process, under a lock; stdout
    is not touched afterwards, so threads solving at once do not race on it).

    Returns
    -------
    highspy.Highs
        With ``output_flag`` off.
    """
    import highspy

    with _HIGHS_BANNER_LOCK:
        _highs_banner_silenced()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def set_option(h: Any, option: str, value: Any) -> bool:
    """Set a HiGHS option that older HiGHS versions may lack (``highspy>=1.7`` is allowed).

    Parameters
    ----------
    h : highspy.Highs
        The solver object.
    option, value
        HiGHS's option name and its value.

    Returns
    -------
    bool
        False, logged, when this HiGHS has no such option (its default stands).
    """
    import highspy

    ok = h.setOptionValue(option, value) == highspy.HighsStatus.kOk
    if not ok:
        logger.debug("this HiGHS has no %s option (its default kept)", option)
    return bool(ok)


def lp_model(
    c: npt.ArrayLike,
    a: sp.csr_array,
    row_lower: npt.ArrayLike,
    row_upper: npt.ArrayLike,
    *,
    col_lower: npt.ArrayLike | float = 0.0,
    col_upper: npt.ArrayLike | float = 1.0,
) -> Any:
    """``min c.x  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper`` as a
    ``highspy.HighsLp`` (continuous; the matrix row-wise, as stored).

    Parameters
    ----------
    c : array_like, shape (m,)
        Objective coefficients.
    a : scipy.sparse matrix or array, shape (n, m)
        Constraint matrix (its stored values).
    row_lower, row_upper : array_like or float
        Row bounds (``-inf`` / ``inf`` where absent).
    col_lower, col_upper : array_like or float
        Variable bounds (default 0 and 1).

    Returns
    -------
    highspy.HighsLp
    """
    import highspy

    a = sp.csr_array(a)
    n, m = a.shape
    inf = highspy.kHighsInf

    def vector(v: npt.ArrayLike | float, size: int) -> npt.NDArray[np.float64]:
        return np.clip(np.broadcast_to(np.asarray(v, dtype=np.float64), (size,)), -inf, inf)

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m, n
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_, lp.col_upper_ = vector(col_lower, m), vector(col_upper, m)
    lp.row_lower_, lp.row_upper_ = vector(row_lower, n), vector(row_upper, n)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32, copy=False)
    lp.a_matrix_.index_ = a.indices.astype(np.int32, copy=False)
    lp.a_matrix_.value_ = a.data.astype(np.float64, copy=False)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = m, n
    return lp


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (None off Linux, or where the C library has none: musl)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Hand the memory a solve freed back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). glibc keeps what HiGHS frees in its heaps: on a national least-latency
    flow (5 programs of 375,000-615,000 pairs, one after the other) the process grew
    by 250 MB a program, to a peak of 1.49 GB where the largest program needed 0.5 GB;
    trimmed, each program starts from what the last one left, peak 1.00 GB (hand run,
    2026-12-05). A few milliseconds a call; glibc's trim is thread-safe."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


#: HiGHS's basis statuses (``highspy.HighsBasisStatus``) as :func:`solve_milp`'s
#: ``start_basis`` and :attr:`MilpResult.basis` write them.
AT_LOWER, BASIC, AT_UPPER = 0, 1, 2


def _set_basis(h: Any, lp: Any, col_status: npt.ArrayLike, row_status: npt.ArrayLike) -> None:
    """Give ``h`` (holding ``lp``) the starting basis :func:`solve_milp` describes."""
    import highspy

    col_status = np.asarray(col_status, dtype=np.int64)
    row_status = np.asarray(row_status, dtype=np.int64)
    if (len(col_status), len(row_status)) != (lp.num_col_, lp.num_row_):
        raise ValueError(f"a basis of {len(col_status)} columns and {len(row_status)} rows "
                         f"for a model of {lp.num_col_} and {lp.num_row_}")
    # every HiGHS status (the final basis of a model with a free column holds kZero, 3)
    members = {int(v): v for v in highspy.HighsBasisStatus.__members__.values()}
    names = np.array([members.get(code) for code in range(max(members) + 1)], dtype=object)
    for status in (col_status, row_status):
        if len(status) and (status.min() < 0 or status.max() >= len(names)
                            or any(names[np.unique(status)] == None)):  # noqa: E711
            raise ValueError(f"basis statuses must be HiGHS's codes {sorted(members)}")
    basis = highspy.HighsBasis()
    # (a list of enum objects is what highspy takes: one C-level pass per status)
    basis.col_status = list(names[col_status])
    basis.row_status = list(names[row_status])
    basis.valid = True
    if h.setBasis(basis) != highspy.HighsStatus.kOk:
        logger.info("HiGHS did not take the starting basis: it starts from its own")


def _basis(h: Any) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]] | None:
    """HiGHS's current basis as :attr:`MilpResult.basis` (None when it has none)."""
    basis = h.getBasis()
    if not basis.valid:
        return None
    return (np.fromiter(map(int, basis.col_status), dtype=np.int8, count=len(basis.col_status)),
            np.fromiter(map(int, basis.row_status), dtype=np.int8, count=len(basis.row_status)))


@dataclass(frozen=True)
class MilpResult:
    """Result of :func:`solve_milp` (a minimisation).

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"time_limit"`` (also an interrupt or an iteration limit: the best
        plan found, if any, and HiGHS's bound), ``"infeasible"`` or ``"error"``.
    x : numpy.ndarray or None
        The best solution found (None when there is none).
    objective : float
        Its objective value (``inf`` without one).
    dual_bound : float
        HiGHS's proven lower bound on the optimum (``-inf`` when it has none).
    message : str
        HiGHS's model status, in its words.
    basis : (numpy.ndarray, numpy.ndarray) or None
        The final basis of a continuous model, as ``start_basis`` takes it, when
        ``return_basis``; else None.
    """

    status: str
    x: npt.NDArray[np.float64] | None
    objective: float
    dual_bound: float
    message: str
    basis: tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]] | None = None


def solve_milp(
    c: npt.ArrayLike,
    integrality: npt.ArrayLike,
    a: sp.csr_array,
    row_lower: npt.ArrayLike,
    row_upper: npt.ArrayLike,
    *,
    col_lower: npt.ArrayLike | float = 0.0,
    col_upper: npt.ArrayLike | float = 1.0,
    time_limit_s: float,
    presolve: bool = True,
    options: dict[str, Any] | None = None,
    start_basis: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    return_basis: bool = False,
) -> MilpResult:
    """``min c.x  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper``, ``x_j``
    integer where ``integrality[j]``, with HiGHS's relative and absolute gaps at zero.

    HiGHS still prunes a node whose bound is within its feasibility tolerance (1e-6, in the
    objective's units) of the best plan's value: callers scale their objective so that the
    smallest difference that matters is well above that (see
    :func:`coverage.solvers.maxcover.weight_scale`). Ctrl-C stops the solve at once in the
    main thread (:func:`coverage.solvers.interrupt.run_highs`).

    Parameters
    ----------
    c : array_like, shape (m,)
        Objective coefficients.
    integrality : array_like of bool, shape (m,)
        Which variables are integer.
    a : scipy.sparse.csr_array, shape (n, m)
        Constraint matrix.
    row_lower, row_upper : array_like, shape (n,)
        Row bounds (``-inf`` / ``inf`` where absent).
    col_lower, col_upper : array_like or float
        Variable bounds (default 0 and 1).
    time_limit_s : float
        HiGHS's time limit, s; a MIP still running past it (HiGHS's root cut separation
        does not check it) is stopped at its next MIP interrupt check
        (:func:`coverage.solvers.interrupt.run_highs`).
    presolve : bool, default True
        HiGHS's presolve (off: a model known to be feasible and small, where it costs more
        than it saves).
    options : dict, optional
        Further HiGHS options (:func:`set_option`: an option this HiGHS lacks is skipped).
    start_basis : (array_like of int, array_like of int), optional
        A starting simplex basis for a continuous model: the status of every column and
        of every row (its slack), :data:`AT_LOWER`, :data:`BASIC` or :data:`AT_UPPER`,
        as many basic as there are rows. A dual-feasible one (each equality row's cheapest
        column basic, say, or the optimal basis of a smaller model of the same kind) lets
        the dual simplex start from it instead of from scratch: on the least-latency flows,
        a few thousand iterations instead of 80,000
        (:func:`coverage.solvers.kmedian.least_latency_flow`). HiGHS takes a singular
        one, or one with the wrong number basic, and repairs it as it solves (highspy
        1.16): callers check the count themselves when they need the start they built.
    return_basis : bool, default False
        Return the final basis of a continuous model (:attr:`MilpResult.basis`).

    Returns
    -------
    MilpResult
    """
    import highspy

    lp = lp_model(c, a, row_lower, row_upper, col_lower=col_lower, col_upper=col_upper)
    integer = np.flatnonzero(np.asarray(integrality, dtype=bool)).astype(np.int32)
    h = new_highs()
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    if not presolve:
        h.setOptionValue("presolve", "off")
    for option, value in (options or {}).items():
        set_option(h, option, value)
    h.passModel(lp)
    if start_basis is not None:
        _set_basis(h, lp, *start_basis)
    if len(integer):
        h.changeColsIntegrality(len(integer), integer,
                                np.full(len(integer), int(highspy.HighsVarType.kInteger),
                                        dtype=np.uint8))
    # (HiGHS's own limit is not checked everywhere in a MIP: a MIP interrupt check stops it
    # past the limit too)
    run_highs(h, deadline=time.perf_counter() + max(float(time_limit_s), 0.01))
    status = h.getModelStatus()
    info = h.getInfo()
    message = h.modelStatusToString(status)
    has_x = bool(info.primal_solution_status)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    objective = float(info.objective_function_value) if has_x else float("inf")
    dual = float(info.mip_dual_bound)
    basis = _basis(h) if return_basis and not len(integer) else None
    h.clearSolver()
    del h, lp
    release_freed_memory()
    statuses = highspy.HighsModelStatus
    if status == statuses.kOptimal:
        return MilpResult("optimal", x, objective, dual if np.isfinite(dual) else objective,
                          message, basis)
    dual = dual if np.isfinite(dual) else -float("inf")
    if status in (statuses.kTimeLimit, statuses.kInterrupt, statuses.kIterationLimit):
        return MilpResult("time_limit", x, objective, dual, message, basis)
    if status == statuses.kInfeasible:
        return MilpResult("infeasible", None, float("inf"), float("inf"), message, basis)
    return MilpResult("error", x, objective, dual, message, basis)
