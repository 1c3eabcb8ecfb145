"""The whole model as numbers (`Numbers`: A, row and column bounds, costs, for one instance or a stack): the
row families of rows.py in the column layout of columns.py, with the objective — what every HiGHS model of the
project is built from (highs.load), and what the PuLP face (pulp_view.py) writes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from .columns import CASH, SHORTFALL, Columns
from .rows import FAMILY_BLOCKS, PER_INSTANCE_BOUNDS, ROW_FAMILIES, Rows
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
    """Minimise carry·C + Σ_j premium_j·s_j + Σ_a cost_a·A_a + Σ_j fee_j·y_j subject to ROW_FAMILIES, with bounds
    0 ≤ C ≤ liquid capital (docs/design.md §4), z = 0, 0 ≤ s_j ≤ max_share_j, 0 ≤ A_a ≤ max_amount_a,
    y_j ∈ {0, 1} (or fixed by `fixed_take`); cost_a is cost_of_capital − yield_a for a funded asset, fee_a for
    an unfunded one."""
    b, bins = d.batch, np.flatnonzero(d.binary)
    cols = Columns.of_scaled(d)
    shared = d.same_rows()
    one = d.one(0) if shared else d
    families = [block for family in ROW_FAMILIES
                for block in (FAMILY_BLOCKS[family](one) if family in FAMILY_BLOCKS else [family(one)])]
    rows = Rows.stack([replace(f, share=f.share[..., :0, :], take=f.take[..., :0, :], asset=None) for f in families])
    A = _matrix(families, bins, cols)
    if shared:  # every instance of the stack has these rows: one copy, seen N times
        A = np.broadcast_to(A, b + A.shape)
        lower, upper = np.broadcast_to(rows.lower, b + rows.lower.shape), np.broadcast_to(rows.upper, b + rows.upper.shape)
        per = [family(d) for family in PER_INSTANCE_BOUNDS]
        if any(p.names for p in per):  # these rows' bounds differ per instance: taken from the whole stack
            at = np.array([rows.names.index(name) for p in per for name in p.names])
            lower, upper = lower.copy(), upper.copy()
            lower[..., at] = np.concatenate([p.lower for p in per], axis=-1)
            upper[..., at] = np.concatenate([p.upper for p in per], axis=-1)
        rows = replace(rows, lower=lower, upper=upper)
    zero = np.zeros(b + (1,))
    cost = np.concatenate([d.carry[..., None], zero, d.premium, np.broadcast_to(d.asset_cost, b + (cols.m,)),
                           d.fee[..., bins]], axis=-1)
    lower = np.zeros(b + (cols.count,))
    upper = np.concatenate([d.liquid[..., None], zero, np.broadcast_to(d.max_share, b + (cols.n,)),
                            np.broadcast_to(d.asset_upper, b + (cols.m,)), np.ones(b + (len(bins),))], axis=-1)
    for k, j in enumerate(bins):
        if fixed_take is not None and j in fixed_take:
            lower[..., cols.take(k)] = upper[..., cols.take(k)] = float(fixed_take[j])
    return Numbers(A, rows.lower, rows.upper, cost, lower, upper, rows.names,
                   np.arange(cols.takes().start, cols.count), shared)



def _matrix(families: list[Rows], bins: np.ndarray, cols: Columns) -> np.ndarray:
    """A, rows × columns (cash, shortfall, shares, assets, yes/no takes), each family's rows written straight into
    place: the same numbers as stacking the families and then their columns, without copying the shares twice."""
    first = families[0]
    total = sum(len(f.names) for f in families)
    A = np.empty(first.cash.shape[:-1] + (total, cols.count))
    at = 0
    for f in families:
        k = len(f.names)
        block = A[..., at:at + k, :]
        block[..., CASH] = f.cash
        block[..., SHORTFALL] = f.gap
        block[..., cols.shares()] = f.share
        block[..., cols.assets()] = 0.0 if f.asset is None else f.asset
        block[..., cols.takes()] = f.take[..., bins]
        at += k
    return A
