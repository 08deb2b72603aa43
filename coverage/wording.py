"""Small wording helpers shared by log lines and messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["counted", "load_unit", "printable", "reporter"]

#: ``load_unit``'s pooled form: a workload's name (the catalog's pattern), at most 100.
_LOAD_UNIT = re.compile(r"requests/s of [A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


#: Control characters but tab and newline (C0, DEL, C1): what a terminal may act on.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with its control characters (but tab and newline) shown as ``\\xNN``.

    A file name, column or id holding an escape sequence (``ESC [ 2 J``) is data: printed
    raw in a message it would clear or repaint the user's terminal, or hide the rest of
    the line (tester 193).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def counted(n: int | float, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, singular for exactly one: ``1 site``, ``2 sites``, ``0 sites``.

    Parameters
    ----------
    n : int or float
        The count; whole numbers get thousands separators.
    noun : str
        The singular noun.
    plural : str, optional
        The plural when it is not ``noun + "s"``.

    Returns
    -------
    str

    Examples
    --------
    >>> counted(1, "site"), counted(12_345, "demand point"), counted(2, "entry", "entries")
    ('1 site', '12,345 demand points', '2 entries')
    >>> counted(2.0, "site"), counted(1.5, "window")
    ('2 sites', '1.5 windows')
    """
    text = f"{int(n):,}" if float(n).is_integer() else f"{n:g}"
    return f"{text} {noun if n == 1 else (plural or noun + 's')}"


def reporter(progress: Callable[[str], object] | None,
             log: logging.Logger) -> Callable[[str], None]:
    """The function a long computation reports its progress lines through: ``progress``,
    or ``log`` at INFO without one.

    A ``progress`` that raises (a notebook widget closed, a full log disk) is named once in
    a warning and not called again: the computation, a plan of minutes, goes on (it was
    lost with the callback's error).

    Examples
    --------
    >>> say = reporter(lambda msg: 1 / 0, logging.getLogger("doctest"))
    >>> say("solving"); say("writing")  # the first call warns; neither raises
    """
    if progress is None:
        return lambda msg: log.info("%s", msg)
    broken: list[BaseException] = []

    def say(msg: str) -> None:
        if broken:
            return
        try:
            progress(msg)
        except Exception as exc:  # noqa: BLE001 - the display must not end the work
            broken.append(exc)
            log.warning("the progress callback raised %s: %s; it is not called again, and "
                        "the work goes on", type(exc).__name__, exc)

    return say


def load_unit(capacity: Any) -> str:
    """The unit of a capacitated plan's load and capacity figures, from its
    ``summary()["capacity"]`` (or ``CapacitySetup.describe``): ``"requests/s"``, or
    ``"requests/s of WORKLOAD"`` when service classes share a pool of accelerators
    (a summary read back from a file: anything but a workload's name after "of" is taken
    as plain requests/s).

    Examples
    --------
    >>> load_unit({"load_unit": "requests/s of vision-l4"}), load_unit({}), load_unit(None)
    ('requests/s of vision-l4', 'requests/s', 'requests/s')
    """
    unit = capacity.get("load_unit") if isinstance(capacity, Mapping) else None
    if isinstance(unit, str) and _LOAD_UNIT.fullmatch(unit):  # a workload's name: no markup
        return unit
    return "requests/s"
