"""Readers for J.E. Beasley's OR-Library benchmark instances (p-median and set covering).

* :func:`read_pmed` — uncapacitated p-median instances ``pmed1`` ... ``pmed40``: the edge list
  becomes an all-pairs shortest-path cost matrix (duplicate edges: the LAST occurrence wins,
  as Beasley's ``pmedinfo`` specifies).
* :func:`read_scp` — set-covering instances ``scp41`` ... ``scpnrh5`` (plain or ``.gz``).
* :func:`pmed_instances` / :func:`scp_instances` — the instance lists with their published
  optima, read from the ``orlib_pmed`` / ``orlib_scp`` folders of a shared data directory.

The data are not shipped with the package; pass the folder that holds ``orlib_pmed/`` and
``orlib_scp/``.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
import warnings
from os import PathLike
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

logger = logging.getLogger(__name__)

__all__ = ["read_pmed", "read_scp", "pmed_instances", "scp_instances"]


def _read_ints(path: str | PathLike[str]) -> npt.NDArray[np.int64]:
    """The whole file (gzip-compressed when the name ends in ``.gz``) as one integer stream."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        text = fh.read().decode("ascii")
    n_tokens = len(text.split())
    if n_tokens == 0:
        return np.zeros(0, dtype=np.int64)
    message = f"{path}: expected whitespace-separated integers only"
    try:
        with warnings.catch_warnings():  # older numpy warns (and stops) instead of raising
            warnings.simplefilter("error", DeprecationWarning)
            ints = np.fromstring(text, dtype=np.int64, sep=" ")
    except (ValueError, DeprecationWarning) as exc:
        raise ValueError(message) from exc
    if len(ints) != n_tokens:
        raise ValueError(message)
    return ints


def read_pmed(path: str | PathLike[str]) -> tuple[npt.NDArray[np.float64], int]:
    """Read an OR-Library p-median instance (``pmedK.txt``).

    Parameters
    ----------
    path : str or path-like
        Instance file: first line ``n_vertices n_edges p``, then one ``i j cost`` line per
        undirected edge (1-based vertices).

    Returns
    -------
    cost : numpy.ndarray, shape (n, n), float64
        All-pairs shortest-path distances (every vertex is both client and candidate site).
    p : int
        Number of medians.

    Notes
    -----
    As in Beasley's ``pmedinfo``: ``c(i, j) = c(j, i) = k`` is set for each edge line in file
    order, so when an edge appears more than once its LAST cost is used (not the minimum),
    then Floyd–Warshall closes the matrix. The last occurrence of each unordered pair is
    selected explicitly (numpy fancy assignment does not guarantee an order for repeated
    indices). Self-loops (none in the published files) are ignored: ``c(i, i) = 0``.
    """
    ints = _read_ints(path)
    if len(ints) < 3:
        raise ValueError(f"{path}: missing header 'n_vertices n_edges p'")
    n, n_edges, p = (int(v) for v in ints[:3])
    body = ints[3:]
    if len(body) != 3 * n_edges:
        raise ValueError(f"{path}: expected {n_edges} edges, found {len(body) / 3:g}")
    i, j, k = (body.reshape(-1, 3) - np.array([1, 1, 0])).T
    if len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
        raise ValueError(f"{path}: vertex index out of range 1..{n}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # last occurrence of each unordered pair: first occurrence in the reversed list
    _, first_rev = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - first_rev
    last = last[lo[last] != hi[last]]
    lo, hi, k = lo[last], hi[last], k[last].astype(np.float64)
    # a sparse graph keeps zero-cost edges as edges (a dense one would read them as missing)
    graph = sp.csr_array(
        (np.concatenate([k, k]), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
        shape=(n, n),
    )
    cost = shortest_path(graph, method="D", directed=True)
    logger.debug("pmed %s: n=%d, %d distinct edges, p=%d", path, n, len(last), p)
    return np.ascontiguousarray(cost, dtype=np.float64), p


def read_scp(path: str | PathLike[str]) -> tuple[sp.csr_array, npt.NDArray[np.float64]]:
    """Read an OR-Library set-covering instance (``scpXX.txt`` or ``scpXX.txt.gz``).

    Parameters
    ----------
    path : str or path-like
        Instance file: ``m n``, the ``n`` column costs, then for each row ``k`` followed by
        the ``k`` (1-based) columns covering it. Line breaks are not significant.

    Returns
    -------
    A : scipy.sparse.csr_array, shape (m, n), int8
        ``A[i, j] = 1`` when column ``j`` covers row ``i``.
    cost : numpy.ndarray, shape (n,), float64
        Column costs.
    """
    ints = _read_ints(path)
    if len(ints) < 2:
        raise ValueError(f"{path}: missing header 'm n'")
    m, n = int(ints[0]), int(ints[1])
    if len(ints) < 2 + n:
        raise ValueError(f"{path}: truncated cost list")
    cost = ints[2:2 + n].astype(np.float64)
    rows = ints[2 + n:]
    # the row-list offsets are sequential (each depends on the previous count): one step per
    # row, never per token
    heads = np.empty(m, dtype=np.int64)
    pos = 0
    for r in range(m):
        if pos >= len(rows):
            raise ValueError(f"{path}: truncated at row {r + 1} of {m}")
        heads[r] = pos
        pos += int(rows[pos]) + 1
    if pos != len(rows):
        raise ValueError(f"{path}: {len(rows) - pos} integers left after {m} rows")
    counts = rows[heads]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    is_head = np.zeros(len(rows), dtype=bool)
    is_head[heads] = True
    indices = rows[~is_head] - 1
    if len(indices) and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{path}: column index out of range 1..{n}")
    a = sp.csr_array((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(m, n))
    a.sum_duplicates()
    a.data[:] = 1
    return a, cost


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def pmed_instances(shared_dir: str | PathLike[str]) -> list[tuple[str, Path, int, float]]:
    """The 40 OR-Library p-median instances with their published optima.

    Parameters
    ----------
    shared_dir : str or path-like
        Folder holding ``orlib_pmed/`` (``pmed_optima.csv`` and ``instances/``).

    Returns
    -------
    list of (name, path, p, optimum)
        In instance order ``pmed1`` ... ``pmed40``.
    """
    root = Path(shared_dir) / "orlib_pmed"
    out = []
    for rec in _read_csv(root / "pmed_optima.csv"):
        name = rec["instance"]
        out.append((name, root / "instances" / f"{name}.txt", int(rec["p"]),
                    float(rec["optimum"])))
    return sorted(out, key=lambda t: int(re.sub(r"\D", "", t[0])))


def _scp_set(name: str) -> str:
    """Set label of an instance name: ``scp410`` -> ``"4"``, ``scpnre1`` -> ``"NRE"``."""
    tail = name.removeprefix("scp")
    if tail[:1].isdigit():
        return tail[0]
    return re.sub(r"\d+$", "", tail).upper()


def scp_instances(
    shared_dir: str | PathLike[str], sets: tuple[str, ...] = ("4", "5", "6")
) -> list[tuple[str, Path, float]]:
    """OR-Library set-covering instances of the given sets with their weighted optima.

    Parameters
    ----------
    shared_dir : str or path-like
        Folder holding ``orlib_scp/`` (``scp_optima.csv`` and ``instances/``).
    sets : tuple of str, default ("4", "5", "6")
        Set labels: ``"4"`` ... ``"6"``, ``"A"`` ... ``"E"``, ``"NRE"`` ... ``"NRH"``,
        ``"CLR"``, ``"CYC"`` (case-insensitive).

    Returns
    -------
    list of (name, path, weighted_optimum)
        In file order of ``scp_optima.csv``; instances without a weighted optimum are skipped.
    """
    root = Path(shared_dir) / "orlib_scp"
    wanted = {s.upper() for s in sets}
    out = []
    for rec in _read_csv(root / "scp_optima.csv"):
        if _scp_set(rec["instance"]) not in wanted or not rec["weighted_optimum"].strip():
            continue
        out.append((rec["instance"], root / rec["file"], float(rec["weighted_optimum"])))
    return out
