"""What one optimal basis of an LP says without a simplex: the duals, every column's reduced cost, the basic
solution after a change of row bounds, and the ratio test of a column entering the basis.

The reasons (obstacles.py) and the break-even premiums (analysis.py) ask, of many slightly changed copies of one
exchange's LP (a cap lifted, a quote covering every peril, a quote made free), one question each: does the
optimal mix buy quote j? With the base LP's optimal basis the answer is often certain without solving the copy:

- the basis stays optimal when only column j changes (it is nonbasic at 0, so the basic solution and the duals y
  are unchanged) or when row bounds change and the basic solution stays feasible. If then j's reduced cost
  d'_j = c'_j − yᵀa'_j exceeds SCREEN_REDUCED_COST, every optimal solution of the copy leaves j at 0
  (complementary slackness with the optimal dual y): **not bought**;
- if d'_j < −SCREEN_REDUCED_COST, weak duality with y bounds every mix of the copy: cost ≥ V + d'_j·s_j, while
  letting j enter up to the ratio test's step θ gives a mix of cost V + d'_j·θ. So every optimal mix has
  s_j ≥ θ: **bought** when θ ≥ SCREEN_STEP;
- otherwise (a degenerate step, a reduced cost within the margin, a basic solution that leaves its bounds) the
  answer depends on more than this basis, and the caller solves the copy as before.

For a quote out of the mix the same numbers give its break-even rate on line exactly: it enters as soon as its
cost falls below yᵀa_j (when θ > 0, the dual of the LP without it is y's), i.e. at ROL × (1 − d_j / c_j).

Every array is in the model's own order (matrix.Numbers, one instance); basis statuses are HiGHS's
(highs.BASIC, LOWER, UPPER, ZERO), as `engine.certify_many` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..settings import FEASIBILITY, SCREEN_NOISE, SCREEN_REDUCED_COST, SCREEN_STEP, SCREEN_TIE
from .highs import BASIC, LOWER, UPPER
from .matrix import Numbers


@dataclass
class Basis:
    """An optimal basis of the LP `num` (one instance, no yes/no columns) and its primal and dual solution."""

    num: Numbers
    col_status: np.ndarray
    row_status: np.ndarray
    inverse: np.ndarray       # (A[tight rows, basic columns])⁻¹
    x: np.ndarray             # the basic solution, model order
    y: np.ndarray             # duals of the tight rows (0 on the others)
    d: np.ndarray             # reduced costs of the columns: c − A[tight]ᵀ·y
    value: float              # c·x

    @classmethod
    def of(cls, num: Numbers, status: tuple[np.ndarray, np.ndarray]) -> "Basis | None":
        """The basis `status` of `num` read out, or None when it is not square or singular."""
        col, row = (np.asarray(s) for s in status)
        basic, tight = col == BASIC, row != BASIC
        if int(basic.sum()) != int(tight.sum()):
            return None
        A = num.A
        try:
            inverse = np.linalg.inv(A[tight][:, basic])
        except np.linalg.LinAlgError:
            return None
        y = num.cost[basic] @ inverse
        b = cls(num, col, row, inverse, np.zeros(A.shape[1]), np.zeros(A.shape[0]), num.cost - y @ A[tight], 0.0)
        b.y[tight] = y
        b.x = b.basic_solution(num.row_lower, num.row_upper)
        b.value = float(num.cost @ b.x)
        return b if np.isfinite(b.x).all() else None

    @property
    def basic(self) -> np.ndarray:
        return self.col_status == BASIC

    @property
    def tight(self) -> np.ndarray:
        return self.row_status != BASIC

    def basic_solution(self, row_lower: np.ndarray, row_upper: np.ndarray) -> np.ndarray:
        """x with every nonbasic column and tight row at the bound its status names, for these row bounds."""
        num, col, row = self.num, self.col_status, self.row_status
        x = np.where(col == UPPER, num.col_upper, np.where(col == LOWER, num.col_lower, 0.0))
        x = np.where(self.basic, 0.0, x)
        tight = self.tight
        r = np.where(row == UPPER, row_upper, np.where(row == LOWER, row_lower, 0.0))[tight]
        x[self.basic] = self.inverse @ (r - num.A[tight] @ x)
        return x

    def with_row_bounds(self, row_lower: np.ndarray, row_upper: np.ndarray) -> "Basis | None":
        """This basis for the LP with other row bounds (duals unchanged), when its basic solution stays feasible;
        else None."""
        x = self.basic_solution(row_lower, row_upper)
        num, tol = self.num, FEASIBILITY
        activity = num.A @ x
        if not (np.isfinite(x).all() and (x >= num.col_lower - tol).all() and (x <= num.col_upper + tol).all()
                and (activity >= row_lower - tol).all() and (activity <= row_upper + tol).all()):
            return None
        out = Basis(Numbers(num.A, row_lower, row_upper, num.cost, num.col_lower, num.col_upper, num.names,
                            num.integer), self.col_status, self.row_status, self.inverse, x, self.y, self.d, 0.0)
        out.value = float(num.cost @ x)
        return out

    def _loose(self) -> tuple[np.ndarray, np.ndarray]:
        """A[loose rows, basic columns] and the loose rows' activities (computed once)."""
        if getattr(self, "_loose_cache", None) is None:
            loose = ~self.tight
            self._loose_cache = (self.num.A[loose][:, self.basic], self.num.A[loose] @ self.x)
        return self._loose_cache

    def step(self, j: int, column: np.ndarray) -> float:
        """The ratio test: how far column j (nonbasic at its lower bound), with coefficients `column`, can rise
        from it before a basic column or row reaches a bound (its own upper bound included)."""
        num, basic, tight = self.num, self.basic, self.tight
        a_sb, rs = self._loose()
        w = self.inverse @ column[tight]                      # x_B falls by t·w
        g = column[~tight] - a_sb @ w                         # the other rows rise by t·g
        xb = self.x[basic]
        limits = [num.col_upper[j] - num.col_lower[j]]
        noise = SCREEN_NOISE * max(1.0, float(np.abs(column).max(initial=0.0)))
        for move, value, low, high in ((-w, xb, num.col_lower[basic], num.col_upper[basic]),
                                       (g, rs, num.row_lower[~tight], num.row_upper[~tight])):
            up, down = move > noise, move < -noise
            with np.errstate(invalid="ignore"):
                limits.append(float(np.min(np.maximum(high[up] - value[up], 0.0) / move[up], initial=np.inf)))
                limits.append(float(np.min(np.maximum(value[down] - low[down], 0.0) / -move[down], initial=np.inf)))
        return min(limits)

    def unique(self) -> bool:
        """Dual nondegenerate: every nonbasic column and tight row that could move has a reduced cost beyond
        SCREEN_REDUCED_COST, so the basic solution is the LP's only optimal solution."""
        num, movable = self.num, self.num.col_lower != self.num.col_upper
        cols = ~self.basic & movable & (np.abs(self.d) <= SCREEN_REDUCED_COST)
        rows = self.tight & (num.row_lower != num.row_upper) & (np.abs(self.y) <= SCREEN_REDUCED_COST)
        return not (cols.any() or rows.any())

    def at_lower(self, j: int) -> bool:
        """Column j is nonbasic at a lower bound of 0 (a quote this basis does not buy)."""
        return bool(self.col_status[j] == LOWER and self.num.col_lower[j] == 0.0 and self.x[j] == 0.0)

    def enters(self, j: int, column: np.ndarray, cost: float) -> bool | None:
        """Whether column j, with `column` and `cost` in place of its own, is positive in every optimal solution
        of the changed LP (True), zero in every one (False), or this basis cannot tell (None). j must be nonbasic
        at 0 (`at_lower`)."""
        reduced = cost - float(self.y[self.tight] @ column[self.tight])
        if reduced > SCREEN_REDUCED_COST:
            return False
        if reduced < -SCREEN_REDUCED_COST:
            step = self.step(j, column)
            if step >= SCREEN_STEP and -reduced * step > 10 * SCREEN_TIE:  # it saves at least −reduced × step
                return True
        return None


def primal_simplex(num: Numbers, status: tuple[np.ndarray, np.ndarray],
                   max_iterations: int = 500) -> tuple[np.ndarray, np.ndarray] | None:
    """An optimal basis of `num`, by the primal simplex from a primal feasible basis `status` (a probe's LP: the
    base LP with one column's cost or coefficients changed, where the base basis stays feasible): Bland's rule
    (the lowest-numbered candidate enters and leaves: no cycling on the degenerate vertices these LPs have), the
    basis matrix A[tight rows, basic columns] inverted afresh each pivot (it is small: a few basic columns).

    Every variable is a column or a row's activity; a nonbasic one sits at the bound its status names. Returns the
    statuses, for the caller to certify (`engine.certify_one`), or None (no progress within `max_iterations`, an
    unbounded ray, a singular basis, a status this does not handle).
    """
    col, row = (np.array(s, dtype=int) for s in status)
    A, c = num.A, num.cost
    m, n = A.shape
    if not (np.isin(col, (BASIC, LOWER, UPPER)).all() and np.isin(row, (BASIC, LOWER, UPPER)).all()):
        return None
    noise, tol = 1e-12, 1e-11
    for _ in range(max_iterations):
        basic, tight = col == BASIC, row != BASIC
        B, T, S = np.flatnonzero(basic), np.flatnonzero(tight), np.flatnonzero(~tight)
        if B.size != T.size:
            return None
        try:
            inverse = np.linalg.inv(A[np.ix_(T, B)]) if B.size else np.zeros((0, 0))
        except np.linalg.LinAlgError:
            return None
        x = np.where(col == UPPER, num.col_upper, np.where(col == LOWER, num.col_lower, 0.0))
        x[B] = 0.0
        r_t = np.where(row[T] == UPPER, num.row_upper[T], num.row_lower[T])
        x[B] = inverse @ (r_t - A[T] @ x)
        y = c[B] @ inverse
        d = c - y @ A[T]
        movable = num.col_lower != num.col_upper
        up_c = (col == LOWER) & (d < -tol) & movable
        down_c = (col == UPPER) & (d > tol) & movable
        row_movable = num.row_lower[T] != num.row_upper[T]
        up_r = (row[T] == LOWER) & (y < -tol) & row_movable
        down_r = (row[T] == UPPER) & (y > tol) & row_movable
        cands = np.flatnonzero(up_c | down_c)
        rcands = np.flatnonzero(up_r | down_r)
        if not cands.size and not rcands.size:
            return col, row
        if cands.size:  # Bland: columns first, the lowest index
            j = int(cands[0])
            sign = 1.0 if up_c[j] else -1.0
            dx_b = -sign * (inverse @ A[T, j])
            own = num.col_upper[j] - num.col_lower[j]
            dr_s = sign * A[:, j][S] + A[:, B][S] @ dx_b
        else:
            i = int(rcands[0])
            sign = 1.0 if up_r[i] else -1.0
            e = np.zeros(T.size)
            e[i] = sign
            dx_b = inverse @ e
            own = num.row_upper[T[i]] - num.row_lower[T[i]]
            dr_s = A[:, B][S] @ dx_b
        r_s = (A @ x)[S]
        t_col, at_col = _ratios(x[B], dx_b, num.col_lower[B], num.col_upper[B], noise)
        t_row, at_row = _ratios(r_s, dr_s, num.row_lower[S], num.row_upper[S], noise)
        least = min(t_col.min(initial=np.inf), t_row.min(initial=np.inf))
        best, leave = own, None  # the step, and what blocks it: ("col", k, status) or ("row", s, status)
        if least < own - 1e-15:  # Bland: the lowest-numbered of the tied blocks leaves (columns, then rows)
            best = least
            hit = np.flatnonzero(t_col <= least + 1e-15)
            if hit.size:
                leave = ("col", int(B[hit[0]]), int(at_col[hit[0]]))
            else:
                hit = np.flatnonzero(t_row <= least + 1e-15)
                leave = ("row", int(S[hit[0]]), int(at_row[hit[0]]))
        if not np.isfinite(best):
            return None
        if cands.size:
            if leave is None:  # the entering column reaches its other bound
                col[j] = UPPER if sign > 0 else LOWER
                continue
            col[j] = BASIC
        else:
            if leave is None:
                row[T[i]] = UPPER if sign > 0 else LOWER
                continue
            row[T[i]] = BASIC
        kind, k, at = leave
        if kind == "col":
            col[k] = at
        else:
            row[k] = at
    return None


def _ratios(value: np.ndarray, move: np.ndarray, low: np.ndarray, high: np.ndarray,
            noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The ratio test's steps: how far each basic variable moving by `move` per unit can go before its bound (inf
    when it does not move), and the bound it reaches (UPPER or LOWER)."""
    up, down = move > noise, move < -noise
    t = np.full(value.shape, np.inf)
    t[up] = np.maximum(high[up] - value[up], 0.0) / move[up]
    t[down] = np.maximum(value[down] - low[down], 0.0) / -move[down]
    return t, np.where(up, UPPER, LOWER)
