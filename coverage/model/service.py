"""Service classes and per-user budgets: what each demand row asks of the plan.

A demand row's requirement is a latency budget at a percentile for an inference workload.
By default every row takes the run's (``--budget-ms``, ``--percentile``, ``--workload``).
A demand ``service_class`` column names a class per row: a built-in preset
(:data:`SERVICE_PRESETS`: ``realtime`` 30 ms, ``interactive`` 50 ms, ``instant`` 100 ms,
all p99) or a class of a TOML file (``--service-classes FILE``, :func:`read_service_classes`)
with its own ``budget_ms``, optional ``percentile`` and ``workload``. A demand ``budget_ms``
column overrides the budget row by row (it wins over the class's budget where given; the
class's percentile and workload still apply).

:func:`resolve_service` turns the columns into :class:`ServiceRows` (per-row arrays), which
:class:`coverage.model.problem.RowLatency` turns into per-row fixed latency and radius.
``--budget-ms`` (and ``plan_sites(budget_ms=...)``) also accepts a preset name
(:func:`preset_budget`).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..inputs.validation import ProblemReport, format_values, special_file_problem
from .catalog import named_arguments
from .latency import PERCENTILES, WORKLOADS_MS, LatencyModel

__all__ = ["SERVICE_PRESETS", "ServiceClass", "ServiceRows", "DEFAULT_CLASS",
           "preset_budget", "read_service_classes", "service_classes_from",
           "resolve_service", "group_label"]

DEFAULT_CLASS = "default"
"""Group label of rows with neither a class nor a budget (the run's budget)."""


@named_arguments
@dataclass(frozen=True)
class ServiceClass:
    """One service class: a budget, its percentile and (optionally) its workload.

    Attributes
    ----------
    name : str
        Class label (lower case), as in the demand ``service_class`` column.
    budget_ms : float
        Latency budget, ms.
    percentile : {"p99", "p50"}
        Percentile the budget is checked at.
    workload : str or None
        Inference workload, a name of the run's workload catalog (built-in, or a
        ``--workloads`` file's, whose times :class:`ServiceRows` carries); ``None``: the
        latency model's.
    """

    name: str
    budget_ms: float
    percentile: str = "p99"
    workload: str | None = None


SERVICE_PRESETS: dict[str, ServiceClass] = {
    "realtime": ServiceClass("realtime", 30.0, "p99"),
    "interactive": ServiceClass("interactive", 50.0, "p99"),
    "instant": ServiceClass("instant", 100.0, "p99"),
}
"""Built-in classes, usable in a ``service_class`` column and as ``--budget-ms NAME``."""

_CLASS_KEYS = ("budget_ms", "percentile", "workload")


def preset_budget(value: Any) -> ServiceClass | None:
    """The preset named by ``value`` (a string such as ``"realtime"``), else ``None``."""
    if isinstance(value, str):
        return SERVICE_PRESETS.get(value.strip().lower())
    return None


def _class_problems(name: str, spec: Any, workload_names: Collection[str] | None
                    ) -> list[str]:
    if not isinstance(spec, Mapping):
        return [f"class {name!r} must be a table (budget_ms = ..., percentile = ..., "
                "workload = ...)"]
    found = []
    unknown = sorted(set(spec) - set(_CLASS_KEYS))
    if unknown:
        found.append(f"class {name!r} has unknown key(s) {', '.join(unknown)} (use "
                     + ", ".join(_CLASS_KEYS) + ")")
    b = spec.get("budget_ms")
    if (isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) or b <= 0
            or b > 1e6):
        found.append(f"class {name!r}: budget_ms must be a positive number of ms up to "
                     f"1,000,000; got {b!r}")
    p = spec.get("percentile", "p99")
    if not isinstance(p, str) or p not in PERCENTILES:
        found.append(f"class {name!r}: percentile must be p50 or p99; got {p!r}")
    w = spec.get("workload")
    if w is not None and (not isinstance(w, str)
                          or (workload_names is not None and w not in workload_names)):
        found.append(f"class {name!r}: unknown workload {w!r}; choose one of "
                     + ", ".join(sorted(workload_names)) + " (or add it to the workload "
                     "catalog, --workloads FILE)")
    return found


def service_classes_from(table: Mapping[str, Any], source: str = "<service classes>", *,
                         workload_names: Collection[str] | None = None,
                         check_workloads: bool = True) -> dict[str, ServiceClass]:
    """Classes from a mapping ``name -> {budget_ms, percentile?, workload?}`` (what
    ``plan_sites(service_classes={...})`` accepts), checked; one message for every problem.
    ``workload_names``: the workloads a class may name (the run's workload catalog, e.g.
    ``WorkloadCatalog.names()``); ``None``: the built-in ones. ``check_workloads`` false:
    any workload name is taken (the catalog did not read, and says so itself).
    """
    names = (None if not check_workloads
             else sorted(WORKLOADS_MS if workload_names is None else workload_names))
    if not isinstance(table, Mapping):
        raise InputValidationError(
            f"{source}: service classes must be a table of classes; got {table!r}. Fix: "
            "write [service_classes.NAME] tables with budget_ms (see docs/service-classes.md)")
    found: list[str] = []
    out: dict[str, ServiceClass] = {}
    seen: dict[str, str] = {}
    for raw_name, spec in table.items():
        name = str(raw_name).strip().lower()
        if not name:
            found.append("a class has an empty name")
            continue
        if name in seen:  # labels match without case and surrounding spaces
            found.append(f"classes {seen[name]!r} and {str(raw_name)!r} are the same name "
                         "(class names ignore case and surrounding spaces): keep one")
            continue
        seen[name] = str(raw_name)
        if name in SERVICE_PRESETS or name == DEFAULT_CLASS:
            found.append(f"class {raw_name!r} is a reserved name (built-in presets: "
                         + ", ".join(SERVICE_PRESETS) + f"; {DEFAULT_CLASS!r}): choose "
                         "another name")
            continue
        problems = _class_problems(str(raw_name), spec, names)
        if problems:
            found.extend(problems)
            continue
        out[name] = ServiceClass(name, float(spec["budget_ms"]),
                                 str(spec.get("percentile", "p99")), spec.get("workload"))
    if found:
        raise InputValidationError(
            f"{source}: invalid service classes: " + "; ".join(found) + ". Fix: each "
            "[service_classes.NAME] needs budget_ms (> 0), optional percentile (p50, p99) "
            "and optional workload (a name of the workload catalog)")
    return out


def read_service_classes(path: str | os.PathLike[str] | Mapping[str, Any] | None, *,
                         workload_names: Collection[str] | None = None,
                         check_workloads: bool = True) -> dict[str, ServiceClass]:
    """The classes a TOML file defines (``[service_classes.NAME]`` tables), or of a mapping
    (:func:`service_classes_from`, which ``workload_names`` and ``check_workloads`` are
    passed to); ``None``: no user classes.

    Raises
    ------
    InputValidationError
        Missing or unreadable file, not TOML, no ``[service_classes]`` table, bad values
        (one message naming the file and the fix).
    """
    if path is None:
        return {}
    if isinstance(path, Mapping):
        return service_classes_from(path, workload_names=workload_names,
                                    check_workloads=check_workloads)
    p = Path(path)
    special = special_file_problem(p, "service classes file")
    if special:
        raise InputValidationError(special)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputValidationError(
            f"{p}: service classes file not found. Fix: give the path of a TOML file with "
            "[service_classes.NAME] tables (see docs/service-classes.md)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputValidationError(
            f"{p}: cannot read the service classes file ({exc}). Fix: write a TOML file "
            "with [service_classes.NAME] tables, e.g. [service_classes.gaming] "
            "budget_ms = 40") from None
    table = doc.get("service_classes")
    if not isinstance(table, dict) or not table:
        raise InputValidationError(
            f"{p}: no [service_classes.NAME] table. Fix: write e.g. "
            "[service_classes.gaming] budget_ms = 40, percentile = \"p99\"")
    extra = sorted(set(doc) - {"service_classes"})
    if extra:
        raise InputValidationError(
            f"{p}: unknown top-level key(s) {', '.join(extra)}. Fix: put every class under "
            "[service_classes.NAME]")
    return service_classes_from(table, str(p), workload_names=workload_names,
                                check_workloads=check_workloads)


@dataclass(frozen=True)
class ServiceRows:
    """Per demand row: its budget override, percentile, workload and group label.

    Attributes
    ----------
    budget_ms : numpy.ndarray
        The row's own budget, ms; ``nan`` where the row takes the run's budget.
    percentile : numpy.ndarray of str
        The row's percentile.
    workload : numpy.ndarray of object
        The row's workload, ``None`` where the latency model's applies.
    label : numpy.ndarray of str
        The row's group in ``summary["by_service_class"]``: the class name, ``budget_ms=X``
        (own budget, no class), ``NAME budget_ms=X`` (both) or the default class.
    inference_ms : Mapping
        ``(p50_ms, p99_ms)`` of every workload the rows name, from the run's workload
        catalog (a ``--workloads`` file's times, or new workloads, reach the class's rows);
        :meth:`model_for` applies it.
    """

    budget_ms: npt.NDArray[np.float64]
    percentile: npt.NDArray[np.object_]
    workload: npt.NDArray[np.object_]
    label: npt.NDArray[np.object_]
    inference_ms: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def subset(self, index: npt.ArrayLike) -> ServiceRows:
        """The rows ``index``."""
        return ServiceRows(self.budget_ms[index], self.percentile[index],
                           self.workload[index], self.label[index], self.inference_ms)

    def model_for(self, model: LatencyModel, workload: Any) -> LatencyModel:
        """``model`` with the inference time of a row's ``workload`` (``None`` or empty:
        ``model`` itself, the run's workload)."""
        if not workload:
            return model
        return model.with_workload(str(workload), self.inference_ms)

    def effective_budget_ms(self, default_ms: float) -> npt.NDArray[np.float64]:
        """Every row's budget, ms (the run's where the row has none of its own)."""
        return np.where(np.isnan(self.budget_ms), float(default_ms), self.budget_ms)

    def __len__(self) -> int:
        return len(self.budget_ms)


def group_label(service_class: str | None, budget_ms: float | None,
                default_label: str = DEFAULT_CLASS) -> str:
    """The ``by_service_class`` label of a row (see :class:`ServiceRows`)."""
    has_b = budget_ms is not None and not (isinstance(budget_ms, float) and math.isnan(budget_ms))
    if service_class and has_b:
        return f"{service_class} budget_ms={budget_ms:g}"
    if service_class:
        return str(service_class)
    if has_b:
        return f"budget_ms={budget_ms:g}"
    return default_label


def _labels(demand: pd.DataFrame) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_]]:
    if "service_class" not in demand.columns:
        n = len(demand)
        return np.full(n, None, dtype=object), np.zeros(n, dtype=bool)
    s = demand["service_class"]
    txt = s.astype("string").str.strip().str.lower()
    given = (txt.notna() & (txt != "")).to_numpy(dtype=bool)
    return np.where(given, txt.fillna("").to_numpy(dtype=object), None), given


def resolve_service(demand: pd.DataFrame, *, percentile: str,
                    classes: Mapping[str, ServiceClass] | None = None,
                    source: str = "<demand>",
                    default_label: str = DEFAULT_CLASS,
                    inference_ms: Mapping[str, tuple[float, float]] | None = None,
                    ) -> ServiceRows | None:
    """Every row's budget override, percentile and workload from the demand's
    ``service_class`` and ``budget_ms`` columns (validated by
    :func:`coverage.inputs.tables.read_demand`); ``None`` when no row has either (the plan
    is a single-class plan, exactly as before). ``inference_ms``: name -> ``(p50_ms,
    p99_ms)`` of the run's workload catalog
    (:func:`coverage.model.workloads.inference_table`); ``None``: the built-in times.

    Raises
    ------
    InputValidationError
        Unknown class labels (one message naming ``source``, the rows and the fix).
    """
    known = {**SERVICE_PRESETS, **(classes or {})}
    labels, has_class = _labels(demand)
    if "budget_ms" in demand.columns:
        own = pd.to_numeric(demand["budget_ms"], errors="coerce").to_numpy(dtype=np.float64)
    else:
        own = np.full(len(demand), np.nan)
    has_budget = ~np.isnan(own)
    if not has_class.any() and not has_budget.any():
        return None
    report = ProblemReport(source, "demand")
    unknown = has_class & ~pd.Series(labels).isin(list(known)).to_numpy(dtype=bool)
    if unknown.any():
        report.add(f"unknown service_class values {format_values(labels[unknown])}",
                   "use one of: " + ", ".join(known) + " (built-in presets, or classes of "
                   "--service-classes FILE)", unknown)
    report.raise_if_any()
    n = len(demand)
    budget = own.copy()
    pct = np.full(n, percentile, dtype=object)
    workload = np.full(n, None, dtype=object)
    codes, uniq = pd.factorize(pd.Series(labels[has_class]))
    idx = np.flatnonzero(has_class)
    for j, name in enumerate(uniq):
        sc = known[str(name)]
        rows = idx[codes == j]
        budget[rows] = np.where(has_budget[rows], own[rows], sc.budget_ms)
        pct[rows] = sc.percentile
        workload[rows] = sc.workload
    # group labels: one pass per unique (class, own budget) pair
    key = pd.DataFrame({"c": pd.Series(labels, dtype=object).fillna(""),
                        "b": np.where(has_budget, own, np.nan)})
    gcodes, guniq = pd.factorize(pd.MultiIndex.from_frame(key))
    names = np.array([group_label(c or None, None if np.isnan(b) else float(b), default_label)
                      for c, b in guniq], dtype=object)
    table = WORKLOADS_MS if inference_ms is None else inference_ms
    named = {str(sc.workload) for sc in known.values() if sc.workload}
    return ServiceRows(budget_ms=budget, percentile=pct, workload=workload,
                       label=names[gcodes] if n else np.zeros(0, dtype=object),
                       inference_ms={w: tuple(table[w]) for w in sorted(named) if w in table})
