"""Stage 2, the world model: geometry, the latency of a (user, site) pair, and the
:class:`~coverage.model.problem.Problem` built once from the inputs.

Modules: :mod:`.geo` (great circles, the one spatial index), :mod:`.latency` (the latency
model), :mod:`.problem` (per-demand latency constants, radius and requirement),
:mod:`.reach` (the sparse reach matrix), :mod:`.aggregate` (grid / H3 aggregation),
:mod:`.h3index` (vectorised H3 indexing).
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
