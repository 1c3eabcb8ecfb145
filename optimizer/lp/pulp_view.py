"""The PuLP face of the model: the same numbers (matrix.numbers) as a PuLP model with rows and columns named by
meaning — what `solve --write-lp` writes, and what the risk view adds its TVaR rows to (`build_view`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .columns import CASH, SHORTFALL, Columns
from .matrix import numbers
from .scaled import Instance, Scaled, safe_name

if TYPE_CHECKING:  # PuLP, with the log parsers it imports (~0.2 s), is imported where a PuLP model is built
    import pulp


@dataclass
class TowerModel:
    """The PuLP model of one instance (what `solve --write-lp` writes) and its columns in model order."""

    prob: pulp.LpProblem
    columns: list  # LpVariable per column, in the order of `Columns`
    scaled: Scaled

    def write(self, path: str) -> None:
        """Write the model as an LP file (or MPS when the name ends in .mps)."""
        (self.prob.writeMPS if str(path).lower().endswith(".mps") else self.prob.writeLP)(str(path))


def build(inst: Instance) -> TowerModel:
    """The PuLP model of docs/design.md §4 for one instance, in units of R, rows named by meaning."""
    return model_from(Scaled.of(inst))



def model_from(d: Scaled) -> TowerModel:
    """`build` for scaled data already at hand."""
    import pulp

    num = numbers(d)
    prob = pulp.LpProblem("reserve_tower", pulp.LpMinimize)
    names = Columns.of_scaled(d).names([safe_name(q.quote_id) for q in d.quotes],
                                       [safe_name(a.asset_id) for a in d.assets])
    integer = set(num.integer.tolist())
    columns = [prob.add_variable(name, lowBound=float(lo), upBound=None if math.isinf(hi) else float(hi),
                                 cat=pulp.LpBinary if k in integer else pulp.LpContinuous)
               for k, (name, lo, hi) in enumerate(zip(names, num.col_lower, num.col_upper))]
    # every column appears in the objective (a zero cost is kept as 0·v), so PuLP passes every column to HiGHS
    prob += pulp.lpSum(float(c) * v for c, v in zip(num.cost, columns))
    for i, name in enumerate(num.names):
        lo, hi = num.row_lower[i], num.row_upper[i]
        if not (math.isfinite(lo) or math.isfinite(hi)):
            continue  # a row with no bound constrains nothing (liquid capital of an exchange with no limit)
        expr = pulp.lpSum(float(num.A[i, k]) * columns[k] for k in np.flatnonzero(num.A[i]))
        prob += (expr >= float(lo), name) if math.isfinite(lo) else (expr <= float(hi), name)
    return TowerModel(prob, columns, d)



@dataclass
class ModelView:
    """The PuLP model of one instance with its variables by meaning, for callers that add their own row families
    on top (the risk view's TVaR rows): prob, cash C, shortfall z (None when fixed at 0), share and take by
    quote_id, amount by asset_id, and the cost expression of the objective (docs/design.md §4)."""

    prob: pulp.LpProblem
    cash: object
    gap: object | None
    share: dict
    take: dict
    cost: object
    scaled: Scaled
    amount: dict = None  # asset_id → the amount column A_a


def build_view(inst: Instance, *, with_shortfall: bool = False) -> ModelView:
    """`build`, with the variables named by meaning; `with_shortfall` frees z ≥ 0 (it is fixed at 0 otherwise)."""
    import pulp

    m = build(inst)
    d, cols = m.scaled, m.columns
    bins = np.flatnonzero(d.binary)
    layout = Columns.of_scaled(d)
    gap = cols[SHORTFALL]
    if with_shortfall:
        gap.upBound = None
    cost = pulp.lpSum(float(c) * v for c, v in zip(numbers(d).cost, cols) if c != 0)
    return ModelView(m.prob, cols[CASH], gap if with_shortfall else None,
                     {q.quote_id: cols[layout.share(j)] for j, q in enumerate(d.quotes)},
                     {d.quotes[j].quote_id: cols[layout.take(k)] for k, j in enumerate(bins)}, cost, d,
                     {a.asset_id: cols[layout.asset(k)] for k, a in enumerate(d.assets)})

