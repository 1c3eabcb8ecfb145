"""The TVaR row family: Rockafellar–Uryasev rows that put the tail value-at-risk of a scenario loss into an LP.

For N equally likely scenarios with loss_s(x) affine in the decision variables x (Rockafellar & Uryasev,
"Optimization of conditional value-at-risk", J. Risk 2(3), 2000):

    TVaR_α(loss(x)) = min over ζ of  ζ + Σ_s max(loss_s(x) − ζ, 0) / ((1 − α)·N)

so with one free variable ζ and one u_s ≥ 0 per scenario, `u_s ≥ loss_s(x) − ζ`, the expression
`ζ + Σ_s u_s / ((1 − α)·N)` is ≥ TVaR for every feasible point and equals it at the optimum over ζ, u. A limit
row `expression ≤ X` then admits exactly the x with TVaR_α ≤ X, and minimising the expression minimises TVaR.
At the optimum ζ is a value-at-risk at level α (any point of the interval of minimisers).

Scenarios left out. Rows are only written for the scenarios the caller passes; the other `n_scenarios −
len(constant)` scenarios have loss identically 0. Each of them contributes max(0 − ζ, 0) = max(−ζ, 0):
- when ζ ≥ 0 that is 0, and omitting them is exact;
- when ζ could be negative (losses that can be gains, as in the portfolio example), omitting them would make the
  expression too small, so one extra variable v ≥ 0, v ≥ −ζ carries them all with weight (their count).
With `nonnegative=True` the family measures max(loss, 0) instead: ζ is bounded below by 0 (exact, because the
VaR of a non-negative loss is ≥ 0, so the minimum over ζ is reached at ζ ≥ 0) and then u_s ≥ loss_s − ζ with u_s
≥ 0 gives u_s ≥ max(max(loss_s, 0) − ζ, 0): a retained loss that could go negative in the affine form
(over-insurance) is counted as 0, as it is in the metrics. Rows that are identically zero (constant 0, no
coefficients) are treated as left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # PuLP, with the log parsers it imports (~0.2 s), is imported where a PuLP model is built
    import pulp

_COEF_ZERO = 0.0  # coefficients exactly 0 are dropped; anything else is kept (scaling is the caller's)


@dataclass
class TvarRows:
    """What `add_tvar_rows` added: ζ, the u_s (and v), the excess rows and the limit row (None without a limit)."""

    zeta: pulp.LpVariable
    excess: list = field(default_factory=list)        # u_s, one per scenario row written
    excess_rows: list = field(default_factory=list)   # u_s ≥ loss_s − ζ
    left_out: pulp.LpVariable | None = None            # v for the identically-zero scenarios when ζ is free
    limit_row: object | None = None                    # ζ + Σ u_s/((1−α)N) ≤ X

    @property
    def rows(self) -> list:
        return [*self.excess_rows, *([self.limit_row] if self.limit_row is not None else [])]


def add_tvar_rows(prob: pulp.LpProblem, constant: Sequence[float] | np.ndarray, matrix: np.ndarray,
                  variables: Sequence[pulp.LpVariable], *, level: float, limit: float | None = None,
                  n_scenarios: int | None = None, nonnegative: bool = False,
                  name: str = "tvar") -> tuple[pulp.LpAffineExpression, TvarRows]:
    """Add the Rockafellar–Uryasev rows of TVaR_level(loss) to `prob`; loss_s = constant[s] + matrix[s] · variables.

    Args:
        constant: (n,) the loss of each scenario row at variables = 0 (same units as the LP).
        matrix: (n, k) coefficients of the variables in each scenario's loss.
        variables: the k decision variables (of `prob`).
        level: α in (0, 1), e.g. 0.99: TVaR is the mean of the worst 1 − α of scenarios.
        limit: X; if given, the row `ζ + Σ u_s/((1−α)N) ≤ X` is added (named f"{name}_limit").
        n_scenarios: N, the number of equally likely scenarios (default n); scenarios beyond the n rows given
            have loss identically 0.
        nonnegative: measure max(loss, 0) (ζ ≥ 0); see the module docstring.

    Returns:
        (tvar, rows): the expression ζ + Σ u_s/((1−α)N) (≥ TVaR, = TVaR at the optimum over ζ, u), and a
        `TvarRows` with ζ, the u_s, and the rows added.

    Raises:
        ValueError: level outside (0, 1), shapes that do not match, or n_scenarios < n.
    """
    import pulp

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    constant = np.asarray(constant, dtype=float)
    matrix = np.asarray(matrix, dtype=float)
    n = constant.size
    if matrix.shape != (n, len(variables)):
        raise ValueError(f"matrix shape {matrix.shape} does not match ({n}, {len(variables)})")
    total = n if n_scenarios is None else int(n_scenarios)
    if total < n or total < 1:
        raise ValueError(f"n_scenarios {total} is below the {n} scenario rows given")
    weight = 1.0 / ((1.0 - level) * total)

    zeta = prob.add_variable(f"{name}_zeta", lowBound=0.0 if nonnegative else None)
    out = TvarRows(zeta=zeta)
    nonzero = matrix != _COEF_ZERO
    written = np.flatnonzero((constant != 0.0) | nonzero.any(axis=1))
    left_out = total - written.size
    terms = [(zeta, 1.0)]
    # docs/risk.md, optimising with risk: u_s ≥ retained_s − ζ, u_s ≥ 0 — only scenario-years with a loss need rows
    for s in written:  # one row per scenario is the LP itself; building it is linear in its size
        u = prob.add_variable(f"{name}_u_{s}", lowBound=0.0)
        cols = np.flatnonzero(nonzero[s])
        row = pulp.LpAffineExpression.from_list(
            [(u, 1.0), (zeta, 1.0)] + [(variables[c], -float(matrix[s, c])) for c in cols])
        out.excess_rows.append(prob.addConstraint(row >= float(constant[s]), f"{name}_excess_{s}"))
        out.excess.append(u)
        terms.append((u, weight))
    if left_out and not nonnegative:
        # the identically-zero scenarios, together: max(−ζ, 0) each
        v = prob.add_variable(f"{name}_left_out", lowBound=0.0)
        prob.addConstraint(pulp.LpAffineExpression.from_list([(v, 1.0), (zeta, 1.0)]) >= 0.0, f"{name}_left_out")
        out.left_out = v
        terms.append((v, weight * left_out))
    tvar = pulp.LpAffineExpression.from_list(terms)
    if limit is not None:
        # docs/risk.md, optimising with risk: ζ + Σ_s u_s / ((1 − α)·N) ≤ X
        out.limit_row = prob.addConstraint(tvar <= float(limit), f"{name}_limit")
    return tvar, out


# ---------------------------------------------------------------- the same function by its supporting hyperplanes

def tail_weights(values: np.ndarray, level: float, n_scenarios: int) -> np.ndarray:
    """The weights λ (one per value) with Σ λ·values = TVaR_level of the loss that is `values` in these scenarios
    and 0 in the other n_scenarios − len(values) (values ≥ 0): 1/m on the worst ⌊m⌋ positive values, the
    remainder 1 − ⌊m⌋/m on the next, 0 elsewhere, m = (1 − α)·N.

    This is the dual form of the Rockafellar–Uryasev minimum: TVaR = max Σ λ_s·loss_s over 0 ≤ λ_s ≤ 1/m,
    Σ λ_s = 1 (the mean of the worst m scenarios), reached by these weights; the scenarios with value 0 (written or
    left out) add nothing, so the weights that would fall on them are dropped. Losses 5 and 3 in 2 of 10 years:

    >>> tail_weights(np.array([5.0, 3.0]), 0.8, 10).round(6).tolist()    # m = 2: TVaR (5 + 3)/2
    [0.5, 0.5]
    >>> tail_weights(np.array([3.0, 5.0]), 0.85, 10).round(6).tolist()   # m = 1.5: (5 + 0.5·3)/1.5
    [0.333333, 0.666667]
    """
    values = np.asarray(values, dtype=float)
    m = (1.0 - level) * n_scenarios
    full = min(int(math.floor(m + 1e-9)), values.size)
    weights = np.zeros(values.size)
    positive = np.flatnonzero(values > 0.0)
    if positive.size == 0:
        return weights
    take = min(full + 1, positive.size)
    worst = -values[positive]
    if take < positive.size:  # only the worst `take` need an order: a partition, then a sort of those
        part = np.argpartition(worst, take - 1)[:take]
        order = positive[part[np.argsort(worst[part], kind="stable")]]
    else:
        order = positive[np.argsort(worst, kind="stable")]
    weights[order[:full]] = 1.0 / m
    if order.size > full:
        weights[order[full]] = max(1.0 - full / m, 0.0)
    return weights


@dataclass(frozen=True)
class TailCuts:
    """TVaR_level of max(loss, 0) over N equally likely scenarios, loss_s = constant[s] + matrix[s]·x (the
    other N − n scenarios lose 0), as the convex function of x it is, given by its supporting hyperplanes.

    `cut(x)` returns (a0, a) with TVaR(y) ≥ a0 + a·y for every y and equality at y = x: with the weights λ of
    `tail_weights` at x, a0 + a·y = Σ λ_s·(constant_s + matrix_s·y) over the scenarios with a positive loss at x,
    which is ≤ Σ λ_s·max(loss_s(y), 0) ≤ TVaR(y) (λ stays in the dual set) and equals TVaR(x). Finitely many
    weight vectors exist, so a cutting-plane method on these cuts (Kelley; Künzi-Bay & Mayer, "Computational
    aspects of minimizing conditional value-at-risk", Computational Management Science 3, 2006) ends at the
    minimum of the Rockafellar–Uryasev LP of `add_tvar_rows(..., nonnegative=True)`.

    With `level=None` the function is the mean Σ_s max(loss_s, 0)/N instead (an expected clipped loss), whose
    cut has the weights 1/N on the scenarios with a positive loss.
    """

    constant: np.ndarray
    matrix: np.ndarray
    level: float | None
    n_scenarios: int

    def losses(self, x: np.ndarray) -> np.ndarray:
        return self.constant + self.matrix @ x

    def weights(self, x: np.ndarray) -> np.ndarray:
        loss = self.losses(x)
        if self.level is None:
            return np.where(loss > 0.0, 1.0 / self.n_scenarios, 0.0)
        return tail_weights(np.maximum(loss, 0.0), self.level, self.n_scenarios)

    def value(self, x: np.ndarray) -> float:
        """The function at x (TVaR of max(loss, 0), or the mean of max(loss, 0))."""
        loss = np.maximum(self.losses(x), 0.0)
        return float(self.weights(x) @ loss)

    def cut(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """(a0, a): the supporting hyperplane at x, f(y) ≥ a0 + a·y for all y, = f(x) at y = x."""
        lam = self.weights(x)
        used = np.flatnonzero(lam)
        return float(lam[used] @ self.constant[used]), lam[used] @ self.matrix[used]
