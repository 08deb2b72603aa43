"""Small wording helpers shared by log lines and messages."""

from __future__ import annotations

import logging
from collections.abc import Callable

__all__ = ["counted", "reporter"]


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
