"""The whole model as numbers (`Numbers`: A, row and column bounds, costs, for one instance or a stack): the
row families of rows.py in the column layout of columns.py, with the objective — what every HiGHS model of the
project is built from (highs.load), and what the PuLP face (pulp_view.py) writes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from .columns import Columns
from .rows import ROW_FAMILIES, Rows
from .scaled import Scaled


@dataclass
class Numbers:
    """The whole LP as numbers: A (rows × columns), row bounds, costs and column bounds (each with a leading
    batch axis for a stack of instances)."""

    A: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    names: tuple[str, ...]
    integer: np.ndarray  # column indices that are binary
    shared: bool = False  # a stack whose instances all have the same A and row bounds (only costs, bounds differ)

    def one(self, k: int) -> "Numbers":
        """Instance k of a stack."""
        return Numbers(self.A[k], self.row_lower[k], self.row_upper[k], self.cost[k], self.col_lower[k],
                       self.col_upper[k], self.names, self.integer)


def numbers(d: Scaled, fixed_take: Mapping[int, bool] | None = None) -> Numbers:
    """Minimise carry·C + Σ_j premium_j·s_j + Σ_j fee_j·y_j subject to ROW_FAMILIES, with bounds
    0 ≤ C ≤ liquid capital (docs/design.md §4), z = 0, 0 ≤ s_j ≤ max_share_j, y_j ∈ {0, 1} (or fixed by `fixed_take`)."""
    b, bins = d.batch, np.flatnonzero(d.binary)
    cols = Columns(len(d.quotes), bins)
    shared = d.same_rows()
    rows = Rows.stack([family(d.one(0) if shared else d) for family in ROW_FAMILIES])
    A = np.concatenate([rows.cash[..., None], rows.gap[..., None], rows.share, rows.take[..., bins]], axis=-1)
    if shared:  # every instance of the stack has these rows: one copy, seen N times
        A = np.broadcast_to(A, b + A.shape)
        rows = replace(rows, lower=np.broadcast_to(rows.lower, b + rows.lower.shape),
                       upper=np.broadcast_to(rows.upper, b + rows.upper.shape))
    zero = np.zeros(b + (1,))
    cost = np.concatenate([d.carry[..., None], zero, d.premium, d.fee[..., bins]], axis=-1)
    lower = np.zeros(b + (cols.count,))
    upper = np.concatenate([d.liquid[..., None], zero, np.broadcast_to(d.max_share, b + (cols.n,)),
                            np.ones(b + (len(bins),))], axis=-1)
    for k, j in enumerate(bins):
        if fixed_take is not None and j in fixed_take:
            lower[..., cols.take(k)] = upper[..., cols.take(k)] = float(fixed_take[j])
    return Numbers(A, rows.lower, rows.upper, cost, lower, upper, rows.names,
                   np.arange(cols.takes().start, cols.count), shared)

