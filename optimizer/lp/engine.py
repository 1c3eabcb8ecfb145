"""The kept-model engine: one HiGHS model per structure (the same eligible quotes, yes/no quotes, peril groups and
counterparties), re-solved for every further exchange or probe with that structure by changing only what differs
(costs, bounds, right-hand sides, the coefficients that depend on R).

Before calling the simplex at all the engine checks whether a known optimal basis is still optimal for the new
numbers (`certify_many`: primal and dual feasibility, tighter than HiGHS's own); if so the answer is read off
that basis. `Resolver.solve` is one exchange; `Resolver.solve_many` a stack of exchanges of one structure (a
batch's chunk), its yes/no decisions by branch and bound on the kept LP; `Resolver.solve_lp_stack` the LP of a stack
whose costs or bounds the caller changed (the market's priced chunks). Every answer goes through
results.assemble (or results.mixes_of) and the independent check.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..domain import ExchangeProfile, Quote, Regime, ReserveAsset
from ..settings import BOUND_GAP, FEASIBILITY, INTEGRALITY, OPTIMALITY, SHORTFALL_SLACK, ZERO_SHORTFALL
from ..solution import Mixes, Solution, SolveError, verify_many
from . import highs
from .columns import CASH, SHORTFALL, Columns
from .highs import BASIC as _BASIC, INF, LOWER as _LOWER, UPPER as _UPPER, ZERO as _ZERO
from .matrix import Numbers, numbers
from .pulp_view import TowerModel, build
from .results import Raw, assemble, mixes_of
from .scaled import Instance, Scaled

if TYPE_CHECKING:
    from .basis import Basis

KEEP_BASES = 8           # optimal bases kept per model for re-use across a batch
MARGINAL_STEP = 1e-6     # the marginal cost of R is a forward difference over R × this


class _Kept:
    """One structure's HiGHS instance and the numbers it holds now.

    HiGHS is handed the matrix of `numbers()` — the numbers `_model_from` writes into the PuLP model, in the same
    row and column order (tests/test_model.py checks that PuLP's own HiGHS model holds the same matrix) — without
    building the PuLP expressions, which cost more than a whole chunk of re-solves."""

    def __init__(self, num: Numbers, time_limit: float | None, relaxed: bool = False):
        """`relaxed`: the yes/no columns are continuous in [0, 1] (for LPs whose yes/no columns are fixed)."""
        self.h = highs.new(time_limit)
        highs.load(self.h, num.A, num.cost, num.col_lower, num.col_upper, num.row_lower, num.row_upper,
                   None if relaxed else num.integer)
        self.num = num
        self.mip = len(num.integer) > 0 and not relaxed
        self.basis: tuple[np.ndarray, np.ndarray] | None = None  # (column status, row status) in model order
        self.bases: list[tuple[np.ndarray, np.ndarray]] = []  # recent optimal bases, most useful first

    def remember(self, basis: tuple[np.ndarray, np.ndarray]) -> None:
        """Keep an optimal basis for re-use (a short list, most recently useful first)."""
        key = basis[0].tobytes() + basis[1].tobytes()
        self.bases = [basis] + [b for b in self.bases if b[0].tobytes() + b[1].tobytes() != key][:KEEP_BASES - 1]

    def load(self, num: Numbers) -> None:
        """Change in HiGHS only what differs from the numbers it holds."""
        if num.A.shape != self.num.A.shape:
            raise SolveError("internal: a re-solve changed the shape of the model")
        highs.change(self.h, self.num, num)
        self.num = num

    # -------------------------------------------------------------- the optimal basis, re-used when it still holds
    def certified(self) -> np.ndarray | None:
        """The optimal x read off the last optimal basis, if that basis is still primal and dual feasible for the
        numbers now loaded (the test HiGHS itself would make before pivoting); else None."""
        if self.basis is None or self.mip:
            return None
        one = self.num
        stacked = Numbers(one.A[None], one.row_lower[None], one.row_upper[None], one.cost[None],
                          one.col_lower[None], one.col_upper[None], one.names, one.integer)
        ok, x = certify_many(stacked, self.basis)
        return x[0] if ok[0] else None

    def run(self) -> tuple[str, np.ndarray | None]:
        """HiGHS from where it stands (the last basis for an LP). Returns (outcome, x in model order)."""
        h = self.h
        outcome = highs.run(h)
        x = highs.values(h) if highs.has_solution(h) else None
        if outcome == "optimal":
            if not self.mip:
                self.basis = highs.basis(h)
                if self.basis is not None:
                    self.remember(self.basis)
            return "optimal", x
        if outcome == "infeasible":
            return "infeasible", None
        return "time_limit", x


def certify_one(num: Numbers, basis: tuple[np.ndarray, np.ndarray]) -> bool:
    """`certify_many` for one LP: whether this basis is optimal for `num`."""
    stacked = Numbers(num.A[None], num.row_lower[None], num.row_upper[None], num.cost[None], num.col_lower[None],
                      num.col_upper[None], num.names, num.integer)
    return bool(certify_many(stacked, basis)[0][0])


def certify_many(num: Numbers, basis: tuple[np.ndarray, np.ndarray],
                 idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For a stack of LPs with one structure (num's arrays carry a leading axis of N instances) and one basis
    (column and row status in model order): which instances this basis is optimal for, and their x.

    The test HiGHS itself makes before pivoting: the basic solution — every nonbasic column and row at the bound
    its status names — must be primal feasible, and the duals must give reduced costs of the right sign for every
    nonbasic column and row, within FEASIBILITY and OPTIMALITY (tighter than HiGHS's own). Such a basis is optimal, so its x is an
    optimal solution: the cost a fresh solve finds.

    With T the nonbasic (tight) rows and B the basic columns (|T| = |B| for a basis), the basic solution solves
    A[T, B]·x_B = r_T − A[T, N]·x_N, the rows in S = not T take r_S = A[S]·x, and the duals solve
    A[T, B]ᵀ·y_T = c_B with y_S = 0; reduced costs are d = c − A[T]ᵀ·y_T. So each check is a |B| × |B| solve
    (at most the number of columns), however many rows the model has. `idx`: only these instances of the stack.
    """
    if idx is not None:
        num = _take(num, idx)
    col_status, row_status = basis
    A = num.A
    N, m, _ = A.shape
    none = np.zeros(N, dtype=bool), np.zeros((N, A.shape[2]))
    basic_c, tight = col_status == _BASIC, row_status != _BASIC
    nb = int(basic_c.sum())
    if N == 0 or nb != int(tight.sum()):
        return none
    # value of every nonbasic variable: at its lower or upper bound (free nonbasic at 0)
    x = np.where(col_status == _UPPER, num.col_upper, np.where(col_status == _LOWER, num.col_lower, 0.0))
    r = np.where(row_status == _UPPER, num.row_upper, np.where(row_status == _LOWER, num.row_lower, 0.0))
    x_n = np.where(basic_c, 0.0, x)
    r_t = r[:, tight]
    finite = np.isfinite(x_n).all(axis=1) & np.isfinite(r_t).all(axis=1)
    x_n, r_t = np.where(np.isfinite(x_n), x_n, 0.0), np.where(np.isfinite(r_t), r_t, 0.0)
    cost_b = num.cost[:, basic_c]
    try:
        if num.shared:  # one matrix for the whole stack: one inverse
            A_t = A[0][tight]
            inverse = np.linalg.inv(A_t[:, basic_c])
            x_b = (r_t - x_n @ A_t.T) @ inverse.T
            y_t = cost_b @ inverse
            d_col = num.cost - y_t @ A_t
        else:
            A_t = A[:, np.flatnonzero(tight), :]
            square = A_t[:, :, np.flatnonzero(basic_c)]
            x_b = np.linalg.solve(square, (r_t - (A_t @ x_n[..., None])[..., 0])[..., None])[..., 0]
            y_t = np.linalg.solve(np.swapaxes(square, 1, 2), cost_b[..., None])[..., 0]
            d_col = num.cost - (y_t[:, None, :] @ A_t)[:, 0, :]
    except np.linalg.LinAlgError:
        return none
    x = x_n.copy()
    x[:, basic_c] = x_b
    basic_r = ~tight
    r_s = (x @ A[0][basic_r].T) if num.shared else np.matmul(A, x[..., None])[:, basic_r, 0]
    tol = FEASIBILITY
    primal = (((x >= num.col_lower - tol) & (x <= num.col_upper + tol)).all(axis=1)
              & ((r_s >= num.row_lower[:, basic_r] - tol) & (r_s <= num.row_upper[:, basic_r] + tol)).all(axis=1))
    d_row = np.zeros((N, m))
    d_row[:, tight] = y_t

    def dual_ok(d, status, lower, upper) -> np.ndarray:
        movable, opt = lower != upper, OPTIMALITY
        wrong = (((status == _LOWER) & (d < -opt)) | ((status == _UPPER) & (d > opt))
                 | ((status == _ZERO) & (np.abs(d) > opt))) & movable
        return ~wrong.any(axis=1)

    ok = finite & primal & dual_ok(d_col, col_status, num.col_lower, num.col_upper) \
        & dual_ok(d_row, row_status, num.row_lower, num.row_upper) & np.isfinite(x).all(axis=1)
    return ok, np.clip(x, num.col_lower, num.col_upper)


# Why a re-solve could not simply re-use what it had (counted in `Resolver.stats`, reported by the batch summary).
REBUILD_NEW_STRUCTURE = "rebuild: new structure (first exchange with this set of eligible quotes)"
REUSED_BASIS = "basis re-used (no simplex)"
WARM_SIMPLEX = "warm simplex from the previous basis"
MIP_RESOLVE = "MIP re-solved on the kept model"
SHORTFALL_PHASES = "shortfall: least shortfall, then least cost"
SHORTFALL_STACK = "shortfall: least shortfall, then least cost, as a stack (LP sheets in a batch)"
NODES = "branch-and-bound nodes (instances × nodes, MILP sheets in a batch)"
MAX_PATTERN_BINARIES = 12  # a batch branches and bounds over up to this many yes/no quotes; above, HiGHS's MIP


class _KeptPhases:
    """`Resolver.optimise`'s three steps (highs.Lexicographic) on a kept model holding `num`."""

    def __init__(self, resolver: "Resolver", kept: _Kept, num: Numbers):
        self.resolver, self.kept, self.num = resolver, kept, num
        self.x: np.ndarray | None = None

    def least_cost(self) -> str:
        outcome, self.x = self.resolver._solve_loaded(self.kept)
        return outcome

    def least_shortfall(self) -> tuple[str, float]:
        self.resolver.stats[SHORTFALL_PHASES] += 1
        num = self.num
        self.kept.load(replace(num, cost=np.eye(num.cost.size)[SHORTFALL],
                               col_upper=_with(num.col_upper, SHORTFALL, INF)))
        outcome, self.x = self.resolver._solve_loaded(self.kept)
        return outcome, float(self.x[SHORTFALL]) if outcome == "optimal" else float("nan")

    def hold_shortfall(self, least: float) -> None:
        self.kept.load(replace(self.num, col_upper=_with(self.num.col_upper, SHORTFALL, least + SHORTFALL_SLACK)))


class Resolver:
    """Solves instances with one kept HiGHS model per structure (not thread-safe: one per thread or process).

    A fresh `Resolver` solving one instance is exactly a fresh model; later instances with the same structure
    are re-solves of that model. `stats` counts what each solve took (see the REBUILD_/REUSED_ names).
    """

    def __init__(self, time_limit: float | None = None):
        self.time_limit = time_limit
        self._kept: dict[tuple, _Kept] = {}
        self.stats: Counter = Counter()

    def solve(self, inst: Instance, *, marginal: bool = True, check: bool = True) -> Solution:
        """Optimise one instance and return a verified Solution (amounts in JPY)."""
        raw = self.optimise(inst)
        mc = self.marginal_cost(inst, raw) if marginal and raw.status != "time_limit" else None
        return assemble(inst, raw, mc, check=check)

    def model(self, inst: Instance) -> TowerModel:
        """The PuLP model of `inst`: the same numbers this resolver hands HiGHS."""
        return build(inst)

    def _kept_for(self, d: Scaled, fixed_take: Mapping[int, bool] | None = None) -> tuple[_Kept, Numbers]:
        num = numbers(d, fixed_take)
        key = d.structure()
        kept = self._kept.get(key)
        if kept is None:
            self.stats[REBUILD_NEW_STRUCTURE] += 1
            kept = self._kept[key] = _Kept(num, self.time_limit)
            kept.load(num)
        else:
            kept.load(num)
        return kept, num

    def optimise(self, inst: Instance, fixed_take: Mapping[str, bool] | None = None) -> Raw:
        """Lexicographic: the cheapest mix with no shortfall; if none exists, the least shortfall, then the
        cheapest mix at that shortfall. `fixed_take` holds yes/no decisions (by quote_id) at given values."""
        started = time.perf_counter()
        d = Scaled.of(inst)
        index = {q.quote_id: j for j, q in enumerate(d.quotes)}
        fixed = {index[k]: v for k, v in (fixed_take or {}).items() if k in index}
        kept, num = self._kept_for(d, fixed)
        phases = _KeptPhases(self, kept, num)
        outcome, _ = highs.least_shortfall_then_least_cost(phases)
        x = phases.x
        if x is None:
            raise SolveError("the time limit was reached before any compliant mix was found")
        take_ids = [d.quotes[j].quote_id for j in np.flatnonzero(d.binary)]
        cols = Columns.of_scaled(d)
        return Raw(
            cash=max(float(x[CASH]), 0.0),
            share={q.quote_id: float(v) for q, v in zip(d.quotes, x[cols.shares()])},
            take={k: float(v) > 0.5 for k, v in zip(take_ids, x[cols.takes()])},
            shortfall=max(float(x[SHORTFALL]), 0.0),
            objective=float(num.cost @ x),
            solve_seconds=time.perf_counter() - started,
            status="time_limit" if outcome == "time_limit" else "optimal",
            amount={a.asset_id: max(float(v), 0.0) for a, v in zip(d.assets, x[cols.assets()])},
        )

    def optimal_basis(self, inst: Instance) -> "Basis | None":
        """An optimal basis of the LP of `inst` (basis.Basis), from the model this resolver keeps for its structure:
        a basis it knows that `certify_many` finds optimal for these numbers (after a solve of `inst`, the one that
        solved it), else HiGHS from the last one. None for a sheet with yes/no quotes, an LP with no compliant mix,
        or a basis that cannot be read."""
        from .basis import Basis

        d = Scaled.of(inst)
        if d.binary.any():
            return None
        kept, num = self._kept_for(d)
        for known in kept.bases:
            if certify_one(num, known):
                return Basis.of(num, known)
        outcome, _ = kept.run()
        return Basis.of(num, kept.basis) if outcome == "optimal" and kept.basis is not None else None

    def _solve_loaded(self, kept: _Kept) -> tuple[str, np.ndarray | None]:
        x = kept.certified()
        if x is not None:
            self.stats[REUSED_BASIS] += 1
            return "optimal", x
        self.stats[MIP_RESOLVE if kept.mip else WARM_SIMPLEX] += 1
        return kept.run()

    def marginal_cost(self, inst: Instance, raw: Raw) -> float:
        """Cost of one more yen of R: a forward difference over a step of R·1e-6, with the yes/no choices of a
        MILP held at their optimum (the usual shadow price of a MILP). Exact for the LP away from kinks."""
        step = inst.unit * MARGINAL_STEP
        bumped = replace(inst, requirement_jpy=inst.requirement_jpy + step)
        again = self.optimise(bumped, fixed_take=raw.take)
        return (again.objective * bumped.unit - raw.objective * inst.unit) / step


    # -------------------------------------------------------------- many instances of one structure at once
    def solve_many(self, insts: Sequence[Instance], *, marginal: bool = True,
                   shortfalls: dict[int, Solution] | None = None) -> tuple[Mixes, np.ndarray]:
        """`solve` for many instances of one structure at once — a batch's chunk.

        The yes/no decisions of a MILP sheet with at most MAX_PATTERN_BINARIES of them are found by branch and
        bound on the kept LP (`_branch_and_bound`), each node one LP for all the instances still open at it. Every
        LP is solved for the whole stack by re-using known optimal bases (`certify_many`) and running the simplex,
        warm, only for the instances no known basis fits; every new basis is then tried on the rest. The
        marginal cost re-solves the stack at R + step with each instance's yes/no values held. Every mix is
        re-checked by the independent `verify_many`.

        Returns the verified mixes and the positions of the instances this path left to `solve` one by one
        (a shortfall, more yes/no quotes than MAX_PATTERN_BINARIES, a mix the check refused).

        `shortfalls`: a dict to receive, by position, the Solutions of the instances with no compliant mix on a
        sheet without yes/no quotes, found here as stacks (`_shortfall_stack`: `optimise`'s least shortfall, then
        least cost, and `marginal_cost`'s, each instance's answer `assemble`d and checked by `verify` as `solve`
        does); those positions are then not in the positions returned. None: they are left to `solve` too.
        """
        N = len(insts)
        started = time.perf_counter()
        d = Scaled.stack(insts)
        bins = np.flatnonzero(d.binary)
        if N == 0 or len(bins) > MAX_PATTERN_BINARIES:
            return Mixes.empty(insts), np.arange(N)
        kept = self._relaxed_for(d)
        num = numbers(d)
        best_cost, best_x, best_pattern = self._branch_and_bound(kept, num, len(bins))
        found = np.isfinite(best_cost)
        no_mix = np.flatnonzero(~found)  # no compliant mix (or the LP not solved): the shortfall steps next
        mc = np.full(N, np.nan)
        if marginal and found.any():
            step = d.unit * MARGINAL_STEP
            idx = np.flatnonzero(found)
            picked = [insts[i] for i in idx]
            bumped = Scaled.stack(picked, np.fromiter((i.requirement_jpy for i in picked), float, len(idx)) + step[idx])
            bnum = numbers(bumped)
            for pattern in np.unique(best_pattern[idx]):
                sub = np.flatnonzero(best_pattern[idx] == pattern)
                status, x = self._solve_lp_stack(kept, _fixed(_take(bnum, sub), _bits(pattern, len(bins))))
                at = idx[sub]
                cost_b = np.einsum("ic,ic->i", bnum.cost[sub], x)
                mc[at] = np.where(status == 1, (cost_b * bumped.unit[sub] - best_cost[at] * d.unit[at]) / step[at],
                                  np.nan)
            found &= np.isfinite(mc)
        idx = np.flatnonzero(found)
        mixes = mixes_of(d, idx, [insts[i] for i in idx], best_x[idx], mc[idx] if marginal else None,
                       (time.perf_counter() - started) / N)
        problems = verify_many(mixes)
        good = np.array([not p for p in problems], dtype=bool)
        done_alone = np.zeros(N, dtype=bool)
        if shortfalls is not None and not len(bins) and no_mix.size:  # after the others: their bases first
            for k, solution in self._shortfall_stack(kept, num, insts, no_mix, marginal).items():
                shortfalls[k] = solution
                done_alone[k] = True
        return mixes.subset(good), np.sort(np.concatenate([np.flatnonzero(~found & ~done_alone), idx[~good]]))

    def _shortfall_phases(self, kept: "_Kept", num: Numbers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`optimise`'s second and third steps for a stack of LPs with no compliant mix: the least shortfall z*
        (cost z alone, z free), then the least cost with z ≤ z* + SHORTFALL_SLACK. Returns (solved: both steps
        optimal and z* above ZERO_SHORTFALL — where it is not, the first step would have found a compliant mix —,
        z*, x of the last step)."""
        N = num.cost.shape[0]
        self.stats[SHORTFALL_PHASES] += N
        cost_z = np.zeros_like(num.cost)
        cost_z[:, SHORTFALL] = 1.0
        free = num.col_upper.copy()
        free[:, SHORTFALL] = INF
        status, x = self._solve_lp_stack(kept, replace(num, cost=cost_z, col_upper=free))
        least = np.where(status == 1, x[:, SHORTFALL], np.nan)
        held = num.col_upper.copy()
        held[:, SHORTFALL] = np.where(status == 1, least + SHORTFALL_SLACK, INF)
        status_cost, x = self._solve_lp_stack(kept, replace(num, col_upper=held))
        with np.errstate(invalid="ignore"):
            solved = (status == 1) & (status_cost == 1) & (least > ZERO_SHORTFALL)
        return solved, least, x

    def _shortfall_stack(self, kept: "_Kept", num: Numbers, insts: Sequence[Instance], idx: np.ndarray,
                         marginal: bool) -> dict[int, Solution]:
        """The instances `idx` of an LP stack whose first step found no compliant mix, answered as `solve` answers
        them — least shortfall, then least cost (`_shortfall_phases`), the marginal cost the same way at R + step,
        `assemble` and `verify` — but each step as one stack. Returns {position: Solution} for those it answered;
        any other is left to `solve` (a step not optimal, a check refused, an error)."""
        if not idx.size:
            return {}
        started = time.perf_counter()
        sub = _take(num, idx)
        solved, _, x = self._shortfall_phases(kept, sub)
        objective = np.einsum("ic,ic->i", sub.cost, x)
        d = Scaled.stack([insts[i] for i in idx])
        mc = np.full(len(idx), np.nan)
        if marginal and solved.any():
            step = d.unit * MARGINAL_STEP
            bumped = Scaled.stack([insts[i] for i in idx],
                                  np.fromiter((insts[i].requirement_jpy for i in idx), float, len(idx)) + step)
            bnum = numbers(bumped)
            b_solved, _, bx = self._shortfall_phases(kept, bnum)
            b_objective = np.einsum("ic,ic->i", bnum.cost, bx)
            mc = (b_objective * bumped.unit - objective * d.unit) / step
            solved &= b_solved
        cols = Columns.of_scaled(d)
        seconds = (time.perf_counter() - started) / len(idx)
        out: dict[int, Solution] = {}
        for k in np.flatnonzero(solved):
            xi = x[k]
            raw = Raw(cash=max(float(xi[CASH]), 0.0),
                      share={q.quote_id: float(v) for q, v in zip(d.quotes, xi[cols.shares()])}, take={},
                      shortfall=max(float(xi[SHORTFALL]), 0.0), objective=float(objective[k]), solve_seconds=seconds,
                      amount={a.asset_id: max(float(v), 0.0) for a, v in zip(d.assets, xi[cols.assets()])})
            try:
                out[int(idx[k])] = assemble(insts[idx[k]], raw, float(mc[k]) if marginal else None)
            except SolveError:
                continue  # the check refused it: `solve` answers it on its own
        self.stats[SHORTFALL_STACK] += len(out)
        return out

    def solve_lp_stack(self, d: Scaled, num: Numbers) -> tuple[np.ndarray, np.ndarray]:
        """The LP `num` for every instance of a stack of `d`'s structure, whose costs or bounds the caller has
        changed (the market's priced chunks), yes/no columns fixed or relaxed to [0, 1]: (status per instance,
        1 optimal, 0 infeasible, −1 not solved; x in units of each instance's R). Known optimal bases first
        (`certify_many`), the warm simplex only for the instances none of them fits."""
        return self._solve_lp_stack(self._relaxed_for(d), num)

    def _branch_and_bound(self, kept: "_Kept", num: Numbers, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every instance of the stack, the MILP's optimum by branch and bound on the kept LP (yes/no columns
        relaxed to [0, 1]): the least cost, its x and its pattern of yes/no values (cost inf where infeasible).

        Every node is one LP solved for all the instances still open at it (`_solve_lp_stack`: known bases first); an
        instance leaves a node when the node's LP is infeasible for it or costs no less than its best integral
        mix so far, takes an integral LP solution as its new best, and otherwise branches on its first fractional
        yes/no column (0 first, then 1). With exact LP optima this is the MILP's optimum.
        """
        N = num.A.shape[0]
        best_cost, best_x, best_pattern = np.full(N, np.inf), np.zeros(num.cost.shape), np.zeros(N, dtype=np.int64)
        ints = num.integer
        weights = 1 << np.arange(k)

        def beaten(cost: np.ndarray, members: np.ndarray) -> np.ndarray:
            best = best_cost[members]
            with np.errstate(invalid="ignore"):
                return np.isfinite(best) & (cost >= best - BOUND_GAP * np.maximum(np.abs(best), 1.0))

        nodes = [(np.full(k, -1.0), np.arange(N), np.full(N, -np.inf))]  # (fixings, members, parent bound)
        while nodes:
            fix, members, bound = nodes.pop()
            keep = ~beaten(bound, members)
            members, bound = members[keep], bound[keep]
            if not members.size:
                continue
            status, x = self._solve_lp_stack(kept, _fixed_some(num, fix), members)
            if k:
                self.stats[NODES] += members.size
            cost = np.einsum("ic,ic->i", num.cost[members], x)
            alive = (status == 1) & ~beaten(cost, members)
            y = x[:, ints]
            fractional = np.abs(y - np.round(y)) > INTEGRALITY
            done = alive & ~fractional.any(axis=1)
            at = members[done]
            best_cost[at], best_x[at] = cost[done], x[done]
            best_pattern[at] = (np.round(y[done]).astype(np.int64) * weights).sum(axis=1)
            branch = alive & ~done
            if branch.any():
                first = np.argmax(fractional[branch], axis=1)
                for j in np.unique(first)[::-1]:
                    sub = np.flatnonzero(branch)[first == j]
                    for value in (1.0, 0.0):  # popped 0 first
                        child = fix.copy()
                        child[j] = value
                        nodes.append((child, members[sub], cost[sub]))
        return best_cost, best_x, best_pattern

    def _solve_lp_stack(self, kept: "_Kept", num: Numbers, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Solve the LP for the instances `idx` (default all) of a stack: (status: 1 optimal, 0 infeasible, −1 not
        solved; x), in the order of `idx`."""
        N = num.A.shape[0]
        idx = np.arange(N) if idx is None else idx
        status, x = np.full(N, -1), np.zeros(num.cost.shape)
        pending = idx
        for basis in list(kept.bases):
            if not pending.size:
                break
            ok, xs = certify_many(num, basis, pending)
            x[pending[ok]], status[pending[ok]] = xs[ok], 1
            self.stats[REUSED_BASIS] += int(ok.sum())
            if ok.any() and basis is not kept.bases[0]:
                kept.remember(basis)
            pending = pending[~ok]
        misses = 0
        while pending.size:
            i, pending = pending[0], pending[1:]
            kept.load(num.one(i))
            self.stats[WARM_SIMPLEX] += 1
            outcome, xi = kept.run()
            if outcome == "optimal":
                x[i], status[i] = xi, 1
                if pending.size and misses < 3 and kept.basis is not None:
                    ok, xs = certify_many(num, kept.basis, pending)
                    x[pending[ok]], status[pending[ok]] = xs[ok], 1
                    self.stats[REUSED_BASIS] += int(ok.sum())
                    pending = pending[~ok]
                    misses = 0 if ok.any() else misses + 1
            elif outcome == "infeasible":
                status[i] = 0
        return status[idx], x[idx]

    def _relaxed_for(self, d: Scaled) -> "_Kept":
        """The kept LP (yes/no columns continuous, fixed by the caller) for a stack's structure."""
        key = ("relaxed", *d.structure())
        kept = self._kept.get(key)
        if kept is None:
            self.stats[REBUILD_NEW_STRUCTURE] += 1
            first = d.one(0)
            num = numbers(first)
            kept = self._kept[key] = _Kept(num, self.time_limit, relaxed=True)
            kept.load(num)
        return kept



def _bits(pattern: int, k: int) -> np.ndarray:
    """Pattern number → the values (0/1) of k yes/no columns."""
    return np.array([(pattern >> b) & 1 for b in range(k)], dtype=float)


def _take(num: Numbers, idx: np.ndarray) -> Numbers:
    """The instances `idx` of a stack."""
    if len(idx) == num.cost.shape[0] and (idx == np.arange(len(idx))).all():
        return num
    if num.shared:
        def pick(a: np.ndarray) -> np.ndarray:
            return np.broadcast_to(a[0], (len(idx),) + a.shape[1:])
    else:
        def pick(a: np.ndarray) -> np.ndarray:
            return a[idx]
    # a shared stack's row bounds may still differ per instance (rows.PER_INSTANCE_BOUNDS): indexed, not broadcast
    return Numbers(pick(num.A), num.row_lower[idx], num.row_upper[idx], num.cost[idx], num.col_lower[idx],
                   num.col_upper[idx], num.names, num.integer, num.shared)


def _fixed_some(num: Numbers, fixings: np.ndarray) -> Numbers:
    """A stack with the yes/no columns whose fixing is 0 or 1 fixed there (−1: free in [0, 1])."""
    on = fixings >= 0
    if not on.any():
        return num
    return _fixed_cols(num, num.integer[on], fixings[on])


def _fixed_cols(num: Numbers, cols: np.ndarray, values: np.ndarray) -> Numbers:
    lower, upper = num.col_lower.copy(), num.col_upper.copy()
    lower[:, cols] = upper[:, cols] = values
    return replace(num, col_lower=lower, col_upper=upper)


def _fixed(num: Numbers, values: np.ndarray) -> Numbers:
    """A stack with all its yes/no columns fixed at `values`."""
    return _fixed_cols(num, num.integer, values) if len(num.integer) else num


def _with(values: np.ndarray, k: int, v: float) -> np.ndarray:
    out = values.copy()
    out[k] = v
    return out



def solve_instance(inst: Instance, *, marginal: bool = True, check: bool = True,
                   resolver: Resolver | None = None) -> Solution:
    """Optimise one instance (with a fresh model unless a resolver is given) and return a verified Solution."""
    return (resolver or Resolver()).solve(inst, marginal=marginal, check=check)


def solve(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, *, marginal: bool = True,
          check: bool = True, resolver: Resolver | None = None, assets: Sequence[ReserveAsset] = ()) -> Solution:
    """The cheapest compliant mix for one exchange (or, if none exists, the smallest shortfall and its cost).

    Amounts in the returned Solution are in JPY. Raises SolveError only if HiGHS fails or the solution
    does not pass the independent check. Pass a `Resolver` to re-use its models across many calls; `assets`:
    the reserve assets of assets.csv (none: cash and cover alone, as before).
    """
    return solve_instance(Instance.build(profile, quotes, regime, assets=assets), marginal=marginal, check=check,
                          resolver=resolver)

