"""Small wording helpers shared by log lines and messages."""

from __future__ import annotations

__all__ = ["counted"]


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
