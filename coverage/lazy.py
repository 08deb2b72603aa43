"""Submodules reached by dotted name without an import of their own.

``import coverage; coverage.solvers.pmedian.p_median(...)``, as the README writes it, failed
with ``AttributeError`` unless something had imported :mod:`coverage.solvers.pmedian`
(tester 156). Each subpackage's ``__getattr__`` imports the submodule on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from types import ModuleType

__all__ = ["submodules"]


def submodules(package: str) -> Callable[[str], ModuleType]:
    """A module ``__getattr__`` for ``package`` that imports its submodule ``name``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.

    Returns
    -------
    callable
        ``__getattr__(name)``: the submodule, or ``AttributeError`` when there is none.
    """

    def getattr_(name: str) -> ModuleType:
        if name.startswith("_") or importlib.util.find_spec(f"{package}.{name}") is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.{name}")

    return getattr_
