"""The multi-year plan (docs/plan.md): one LP over all years, built from the row families `solve` uses.

Year t is `solve` with R replaced by R'_t = phase_in_t × R_t, on year t's figures (customer assets, volume and liquid
capital grown as the plan says) and year t's quotes (one-year quotes at their renewed rate, a term-k quote as
offered in year 1 for years 1 … k). Its rows and columns are exactly `model.numbers(Scaled.of(instance_t))` —
cash C_t, shortfall z_t, shares s_{j,t}, yes/no y_{j,t}, each in units of that year's R'_t — and the years sit side
by side (block diagonal, as the market stacks exchanges), joined by the linking rows (in yen ÷ M, M the geometric
mean of the years' units):

    C_t − C_{t−1} ≥ 0                      unless `release` (the reserve never falls)        (t ≥ 2)
    C_t − C_{t−1} ≤ max_provision_t        with C_0 = 0 (the reserve is built by yearly provisions)
    s_{j,t} = s_{j,1}, y_{j,t} = y_{j,1}   for a term-k quote, t = 2 … k (one share for its term)

and one row for the total shortfall Σ_t z_t. Objective: the present value at the start year of the years' annual
costs, each the cost `solve` computes for one year (carry·C_t + premiums + fees), discounted by
(1 + discount_rate)^(t−1). Lexicographic as `solve`: no shortfall if possible; else the least total shortfall,
then the least present value at it. Yes/no quotes make it a MILP (HiGHS's branch and bound).

Every year's mix is re-checked by the independent `solution.verify` (through `model.solution_from_columns`).

The LP is handed to HiGHS through the one gateway (`lp.highs`: its options, its status table, its "least shortfall,
then least cost"), as the market's joint LP is.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from .domain import ExchangeProfile, Quote, Regime, ReserveAsset
from .inputs import MIN_REQUIREMENT_JPY, InputError
from .lp import highs
from .lp.columns import CASH, SHORTFALL
from .model import BINDING, INF, MARGINAL_STEP, Columns, Instance, Numbers, Scaled, numbers, solution_from_columns
from .plan_file import Plan
from .regime import asset_credit_factor, credit_factor, requirement
from .settings import BOUND_GAP, SHORTFALL_SLACK
from .solution import Solution, SolveError

WHOLE = 1e-9             # a relaxed yes/no column within this of 0 or 1 is taken as decided (lexicographic)
BRANCH_NODES = 200       # batch --plan's own branch and bound gives a plan to HiGHS's beyond this many nodes
DUAL_ZERO = 1e-9         # a linking row whose dual (yen of present value per yen, ÷ M) is below this does not bind


@dataclass(frozen=True)
class PlanYear:
    """One year's inputs: its figures, its quotes and the single-year instance (R replaced by R'_t)."""

    t: int                      # 1 … years
    fiscal_year: int
    profile: ExchangeProfile    # year t's figures
    quotes: tuple[Quote, ...]   # the sheet as offered in year t (renewed rates; term quotes within their term)
    requirement_full_jpy: float  # R_t: the regime's R on year t's figures
    phase_in: float
    instance: Instance          # requirement R'_t = phase_in × R_t
    discount_factor: float      # 1 / (1 + discount_rate)^(t−1)
    max_provision_jpy: float


def plan_years(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, plan: Plan,
               quotes_source: str = "quotes", assets: Sequence[ReserveAsset] = ()) -> list[PlanYear]:
    """The plan's years as single-year instances. Raises InputError for a quote whose term is longer than the
    plan (it would be paid for years the plan does not see). `assets` (assets.csv) are offered every year on the
    same terms: the same yield or fee, haircut and most amount in yen."""
    for q in quotes:
        if q.term_years > plan.years:
            raise InputError(quotes_source, f"quote {q.quote_id} runs {q.term_years} years, longer than the plan's "
                             f"{plan.years}; expected term_years ≤ {plan.years}", column="term_years",
                             row_id=q.quote_id)
    rate = plan.discount(profile.cost_of_capital)
    kappa = {q.quote_id: credit_factor(q, regime) for q in quotes}  # κ does not depend on the year's rate
    akappa = {a.asset_id: asset_credit_factor(a, regime) for a in assets}
    out = []
    for t in range(1, plan.years + 1):
        grow = plan.growth_factor(plan.asset_growth, t)
        liquid = profile.liquid_capital_jpy * plan.growth_factor(plan.liquid_capital_growth, t)
        prof = profile if t == 1 and grow == 1 and liquid == profile.liquid_capital_jpy else replace(
            profile, customer_assets_jpy=profile.customer_assets_jpy * grow,
            annual_trading_volume_jpy=profile.annual_trading_volume_jpy * grow, liquid_capital_jpy=liquid)
        renewal = (1.0 + plan.renewal_rate_change) ** (t - 1)
        sheet = tuple(q if q.term_years > 1 or renewal == 1 else replace(q, rate_on_line=q.rate_on_line * renewal)
                      for q in quotes if q.term_years == 1 or t <= q.term_years)
        full = requirement(prof, regime)
        required = plan.phase_in[t - 1] * full
        # less than a yen required is nothing required (as inputs refuse an R below a yen: it only breaks the scale)
        required = required if required >= MIN_REQUIREMENT_JPY else 0.0
        inst = Instance.build(prof, sheet, regime, requirement_jpy=required, assets=assets,
                              credit={q.quote_id: kappa[q.quote_id] for q in sheet}, asset_credit=akappa)
        out.append(PlanYear(t, plan.start_year + t - 1, prof, sheet, full, plan.phase_in[t - 1], inst,
                            1.0 / (1.0 + rate) ** (t - 1), plan.max_provision_jpy[t - 1]))
    return out


# ---------------------------------------------------------------------------------------------- the LP

@dataclass
class _Block:
    year: PlanYear
    d: Scaled
    num: Numbers      # numbers(d): the year's rows, bounds and annual costs (units of R'_t)
    first: int        # the block's first column
    row: int          # the block's first row
    cols: Columns
    unit: float = 0.0  # the block's yen per unit (d.unit; batch --plan loads another exchange's year in its place)

    def __post_init__(self) -> None:
        if not self.unit:
            self.unit = float(self.d.unit)

    @property
    def cost(self) -> np.ndarray:
        return self.num.cost


TINY_YEAR = 1e-3  # a year requiring less than this × the plan's scale is solved in the plan's scale (see _scaled)


def _scaled(year: PlanYear, scale: float):
    """`Scaled.of(year.instance)` — the year's numbers in units of its own R'_t, as `solve` has them — except for a
    year that requires (almost) nothing: a phase-in share of 0 makes R'_t = 0, whose unit would be one yen beside
    years counted in billions (a matrix HiGHS cannot solve reliably). Such a year's yen amounts are counted in
    units of the plan's scale instead: the same rows divided through by one number, so the same answer."""
    d = Scaled.of(year.instance)
    if float(d.unit) >= TINY_YEAR * scale:
        return d
    f = float(d.unit) / scale  # yen per old unit ÷ yen per new unit
    return replace(d, unit=np.float64(scale), top=d.top * f, attach=d.attach * f, limit=d.limit * f,
                   aggregate=d.aggregate * f, premium=d.premium * f, fee=d.fee * f, liquid=d.liquid * f,
                   points=d.points * f, asset_upper=d.asset_upper * f)


class _PlanLP:
    """The years' `numbers` side by side with the linking rows, as one HiGHS model."""

    def __init__(self, years: Sequence[PlanYear], plan: Plan, takes: Sequence[dict[str, bool]] | None = None,
                 time_limit: float | None = None, kept=None):
        required = np.array([y.instance.requirement_jpy for y in years])
        self.scale = float(np.exp(np.mean(np.log(required[required > 0])))) if (required > 0).any() else 1.0
        scaled = [_scaled(y, self.scale) for y in years]
        units = np.array([d.unit for d in scaled])
        self.money = float(np.exp(np.mean(np.log(units))))
        rows, cols, vals, cost, col_lo, col_hi, row_lo, row_hi, integer = [], [], [], [], [], [], [], [], []
        self.blocks: list[_Block] = []
        r0 = c0 = 0
        for k, (year, d) in enumerate(zip(years, scaled)):
            index = {q.quote_id: j for j, q in enumerate(d.quotes)}
            fixed = {index[q]: v for q, v in (takes[k] if takes else {}).items() if q in index}
            num = numbers(d, fixed)
            i, c = np.nonzero(num.A)
            rows.append(i + r0)
            cols.append(c + c0)
            vals.append(num.A[i, c])
            cost.append(num.cost * d.unit * year.discount_factor / self.money)
            col_lo.append(num.col_lower)
            col_hi.append(num.col_upper)
            row_lo.append(num.row_lower)
            row_hi.append(num.row_upper)
            integer.extend((c0 + num.integer[[c not in fixed for c in np.flatnonzero(d.binary)]]).tolist()
                           if len(num.integer) else [])
            self.blocks.append(_Block(year, d, num, c0, r0, Columns.of_scaled(d)))
            r0 += num.A.shape[0]
            c0 += num.cost.size
        self.own_rows = r0
        # linking rows, in yen ÷ M
        link_rows, link_cols, link_vals, link_lo, link_hi, self.link_names = [], [], [], [], [], []

        def link(name: str, entries: list[tuple[int, float]], lo: float, hi: float) -> None:
            r = r0 + len(self.link_names)
            self.link_names.append(name)
            for col, v in entries:
                link_rows.append(r)
                link_cols.append(col)
                link_vals.append(v)
            link_lo.append(lo)
            link_hi.append(hi)

        self.no_fall: dict[int, int] = {}     # year t → its row "H_t ≥ H_{t−1}"
        self.provision: dict[int, int] = {}   # year t → its row "H_t − H_{t−1} ≤ max_provision_t"
        first_year = {q.quote_id: j for j, q in enumerate(self.blocks[0].d.quotes)} if self.blocks else {}
        for k, b in enumerate(self.blocks):
            t = b.year.t
            cash = [(col, b.unit / self.money) for col in self.held_columns(k)]
            before = [] if k == 0 else [(col, -self.blocks[k - 1].unit / self.money)
                                        for col in self.held_columns(k - 1)]
            if k > 0 and not plan.release:
                self.no_fall[t] = r0 + len(self.link_names)
                link(f"reserve_never_falls_{t}", cash + before, 0.0, INF)
            if math.isfinite(b.year.max_provision_jpy):
                self.provision[t] = r0 + len(self.link_names)
                link(f"max_provision_{t}", cash + before, -INF, b.year.max_provision_jpy / self.money)
            if k == 0:
                continue
            first = self.blocks[0]
            bins = list(np.flatnonzero(b.d.binary))
            first_bins = list(np.flatnonzero(first.d.binary))
            for j, q in enumerate(b.d.quotes):
                if q.term_years <= 1 or q.quote_id not in first_year:
                    continue
                j1 = first_year[q.quote_id]
                link(f"term_share_{q.quote_id}_{t}",
                     [(b.first + b.cols.shares().start + j, 1.0), (first.first + first.cols.shares().start + j1, -1.0)],
                     0.0, 0.0)
                if j in bins and j1 in first_bins:
                    link(f"term_take_{q.quote_id}_{t}",
                         [(b.first + b.cols.takes().start + bins.index(j), 1.0),
                          (first.first + first.cols.takes().start + first_bins.index(j1), -1.0)], 0.0, 0.0)
        self.z = np.array([b.first + SHORTFALL for b in self.blocks], dtype=np.int64)
        self.z_yen = np.array([b.unit for b in self.blocks]) / self.money
        self.shortfall_row = r0 + len(self.link_names)
        link("total_shortfall", list(zip(self.z.tolist(), self.z_yen.tolist())), -INF, INF)
        cat = lambda xs, dtype=float: np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)  # noqa: E731
        rows = np.concatenate([cat(rows, np.int64), np.array(link_rows, dtype=np.int64)])
        cols = np.concatenate([cat(cols, np.int64), np.array(link_cols, dtype=np.int64)])
        vals = np.concatenate([cat(vals), np.array(link_vals, dtype=float)])
        self.cost = cat(cost)
        self.col_lower, self.col_upper = cat(col_lo), cat(col_hi)
        m, n = r0 + len(self.link_names), c0
        A = np.zeros((m, n))  # the plan's matrix, dense (a few hundred rows): its entries go to HiGHS column-wise
        A[rows, cols] = vals  # (each entry once: a year's own rows, then one per linking row and column)
        self.A = A
        self.row_lower = np.concatenate([cat(row_lo), np.array(link_lo, dtype=float)])
        self.row_upper = np.concatenate([cat(row_hi), np.array(link_hi, dtype=float)])
        self.integer = np.array(sorted(integer), dtype=np.int64)
        self.fixed = False  # True once the yes/no columns are held (continuous, fixed at 0 or 1)
        # `kept`: a HiGHS instance (lp.highs.new) that takes this model in place of the one it held — a batch of plans
        # reuses one, since making a HiGHS instance costs more than solving a small plan; loading a model clears
        # the previous one's basis and solution, so the answer is the same as on a new instance
        self.h = kept if kept is not None else highs.new(time_limit)
        highs.load(self.h, A, self.cost, self.col_lower, self.col_upper, self.row_lower, self.row_upper,
                   self.integer)
        self.shape = (m, n, int(np.count_nonzero(A)))

    def held_columns(self, k: int) -> list[int]:
        """Block k's columns of the reserve held, H_t = C_t + Σ_{a funded} A_{a,t}: cash and the funded reserve
        assets (deposits, JGBs) — the balance the provisions build, whatever it is invested in; a promise
        (guarantee, line) holds nothing."""
        b = self.blocks[k]
        return [b.first + CASH, *(b.first + b.cols.asset(a) for a in np.flatnonzero(b.d.asset_funded))]

    def load_year(self, k: int, year: PlanYear, takes: dict[str, bool]) -> None:
        """Put `year` in place of block k (same structure: the same quotes; R'_t may differ), changing in HiGHS only
        the numbers that differ: the block's coefficients, row and column bounds, costs, and the coefficients of
        its cash and shortfall in the linking rows."""
        b = self.blocks[k]
        d = _scaled(year, self.scale)
        if d.structure() != b.d.structure():
            raise SolveError("internal: a plan's year changed its structure")
        index = {q.quote_id: j for j, q in enumerate(d.quotes)}
        self._put(k, year, d, float(d.unit), numbers(d, {index[q]: v for q, v in takes.items() if q in index}))

    def _put(self, k: int, year: PlanYear, d: Scaled, unit: float, num: Numbers) -> None:
        """Block k's numbers in HiGHS replaced by `num` (year `year`, `unit` yen per unit, in the plan's money M)."""
        b = self.blocks[k]
        h, old = self.h, b.num
        i, c = np.nonzero(num.A != old.A)
        if i.size:
            change = h.changeCoeff
            for row, col, value in zip((i + b.row).tolist(), (c + b.first).tolist(), num.A[i, c].tolist()):
                change(row, col, value)
        rows = np.arange(b.row, b.row + num.A.shape[0], dtype=np.int32)
        h.changeRowsBounds(rows.size, rows, num.row_lower, num.row_upper)
        cols = np.arange(b.first, b.first + num.cost.size, dtype=np.int32)
        h.changeColsBounds(cols.size, cols, num.col_lower, num.col_upper)
        self.col_lower[cols], self.col_upper[cols] = num.col_lower, num.col_upper
        self.cost[cols] = num.cost * unit * year.discount_factor / self.money
        h.changeColsCost(cols.size, cols, self.cost[cols])
        held = self.held_columns(k)
        for t, sign in ((year.t, 1.0), (year.t + 1, -1.0)):  # H_t in its own linking rows and in next year's
            for row in (self.no_fall.get(t), self.provision.get(t)):
                if row is not None:
                    for col in held:
                        h.changeCoeff(int(row), int(col), sign * unit / self.money)
        self.z_yen[k] = unit / self.money
        h.changeCoeff(int(self.shortfall_row), int(b.first + SHORTFALL), float(self.z_yen[k]))
        self.blocks[k] = _Block(year, d, num, b.first, b.row, b.cols, unit)

    def reload(self, years: Sequence[PlanYear], nums: Sequence[Numbers]) -> None:
        """Another exchange's plan of the same structure in place of this one (`batch --plan`): its years' numbers
        (`nums[k]` = numbers(Scaled.of(years[k].instance)), no year requiring almost nothing), its scale and money
        M, so that HiGHS holds exactly the model `_PlanLP(years, plan)` would build, handed over whole (one call,
        not one per changed coefficient); HiGHS then starts from the last exchange's optimal basis."""
        units = np.array([y.instance.unit for y in years])
        required = np.array([y.instance.requirement_jpy for y in years])
        self.scale = float(np.exp(np.mean(np.log(required[required > 0])))) if (required > 0).any() else 1.0
        self.money = money = float(np.exp(np.mean(np.log(units))))
        A = self.A
        for k, (year, num, unit) in enumerate(zip(years, nums, units.tolist())):
            b = self.blocks[k]
            r, c = num.A.shape
            A[b.row:b.row + r, b.first:b.first + c] = num.A
            self.row_lower[b.row:b.row + r], self.row_upper[b.row:b.row + r] = num.row_lower, num.row_upper
            cols = slice(b.first, b.first + c)
            self.col_lower[cols], self.col_upper[cols] = num.col_lower, num.col_upper
            self.cost[cols] = num.cost * (unit * year.discount_factor / money)
            held = self.held_columns(k)
            for t, sign in ((year.t, 1.0), (year.t + 1, -1.0)):
                for row in (self.no_fall.get(t), self.provision.get(t)):
                    if row is not None:
                        A[row, held] = sign * unit / money
            self.z_yen[k] = unit / money
            A[self.shortfall_row, b.first + SHORTFALL] = self.z_yen[k]
            self.blocks[k] = _Block(year, b.d, num, b.first, b.row, b.cols, unit)
        for t, row in self.provision.items():
            self.row_upper[row] = years[t - 1].max_provision_jpy / money
        basis = self.h.getBasis()
        highs.load(self.h, A, self.cost, self.col_lower, self.col_upper, self.row_lower, self.row_upper,
                   self.integer)
        if basis.valid:
            self.h.setBasis(basis)
        self.fixed = False

    def _run(self) -> str:
        outcome = highs.run(self.h, "the plan's LP")
        if outcome == "time_limit":
            raise SolveError("HiGHS stopped the plan's LP at its time limit")
        return outcome

    # "least shortfall, then least cost" (lp.highs.least_shortfall_then_least_cost) asks these three steps
    def least_cost(self) -> str:
        return self._run()

    def least_shortfall(self) -> tuple[str, float]:
        self.short = True
        highs.set_col_bounds(self.h, self.z, np.zeros(self.z.size), np.full(self.z.size, INF))
        least = np.zeros(self.cost.size)
        least[self.z] = self.z_yen
        highs.set_costs(self.h, np.arange(least.size), least)
        outcome = self._run()
        return outcome, (highs.objective(self.h) if outcome == "optimal" else float("nan"))

    def hold_shortfall(self, least: float) -> None:
        highs.set_costs(self.h, np.arange(self.cost.size), self.cost)
        highs.set_row_bounds(self.h, self.shortfall_row, -INF, least * (1 + SHORTFALL_SLACK) + SHORTFALL_SLACK)

    def _lexicographic(self) -> np.ndarray:
        self.short = False  # set by least_shortfall: no mix without shortfall exists
        highs.set_col_bounds(self.h, self.z, np.zeros(self.z.size), np.zeros(self.z.size))
        highs.set_row_bounds(self.h, self.shortfall_row, -INF, INF)
        highs.set_costs(self.h, np.arange(self.cost.size), self.cost)
        highs.least_shortfall_then_least_cost(self, what="plan's total shortfall")
        return highs.values(self.h)

    def branch_and_bound(self, x: np.ndarray) -> np.ndarray | None:
        """The MILP's optimum from its relaxation's answer `x` (no shortfall), by branch and bound on this LP kept
        warm: depth first, each node the LP with some yes/no columns fixed, branching on the first fractional one
        (0 first, then 1), a node dropped when infeasible or when its LP costs no less than the best whole answer
        so far (settings.BOUND_GAP). With exact LP optima this is the MILP's optimum, as HiGHS's branch and bound
        (gap settings.MIP_GAP_REL) finds it. Returns the answer with its yes/no decisions held, or None (no whole
        answer without shortfall, or more than BRANCH_NODES nodes: HiGHS's own branch and bound then decides)."""
        ints, k = self.integer, self.integer.size
        lower, upper = self.col_lower[ints].copy(), self.col_upper[ints].copy()
        best_cost, best_x = math.inf, None

        def beaten(cost: float) -> bool:
            return math.isfinite(best_cost) and cost >= best_cost - BOUND_GAP * max(abs(best_cost), 1.0)

        def visit(x: np.ndarray, fix: np.ndarray) -> None:
            nonlocal best_cost, best_x
            y = x[ints]
            fractional = np.flatnonzero(np.abs(y - np.round(y)) > WHOLE)
            cost = float(self.cost @ x)
            if beaten(cost):
                return
            if not fractional.size:
                best_cost, best_x = cost, x
                return
            j = int(fractional[0])
            for value in (1.0, 0.0):  # popped 0 first
                child = fix.copy()
                child[j] = value
                nodes.append((child, cost))

        nodes: list[tuple[np.ndarray, float]] = []
        visit(x, np.full(k, -1.0))
        seen = 0
        while nodes:
            fix, bound = nodes.pop()
            if beaten(bound):
                continue
            seen += 1
            if seen > BRANCH_NODES:
                best_x = None
                break
            held = fix >= 0
            highs.set_col_bounds(self.h, ints, np.where(held, fix, lower), np.where(held, fix, upper))
            if self._run() != "optimal":
                continue
            visit(highs.values(self.h), fix)
        if best_x is None:
            highs.set_col_bounds(self.h, ints, lower, upper)
            return None
        highs.fix_integers(self.h, ints, np.round(best_x[ints]))
        self.fixed = True
        return best_x

    def lexicographic(self, resolve_fixed: bool = True, branch: bool = False) -> np.ndarray:
        """No shortfall if possible; else the least total shortfall (yen), then the least present value at it.

        A MILP is first solved as its LP relaxation: when that answer's yes/no columns are already whole (most
        plans: a minimum line or a flat fee rarely splits a decision), it is the MILP's answer too — no mix with
        whole decisions can do better than the relaxation — and the decisions are held at it (the LP re-solved,
        warm, with them fixed, as `duals` does; `resolve_fixed=False`: held without that re-solve, the relaxation's
        answer returned as it is). Otherwise HiGHS's branch and bound solves the MILP as before (`branch`: first
        this LP's own, `branch_and_bound`, kept warm; batch --plan)."""
        if not self.integer.size or self.fixed:
            return self._lexicographic()
        highs.set_integer(self.h, self.integer, False)
        x = self._lexicographic()
        y = x[self.integer]
        if np.all(np.abs(y - np.round(y)) <= WHOLE):
            highs.fix_integers(self.h, self.integer, np.round(y))
            self.fixed = True
            return self._lexicographic() if resolve_fixed else x
        if branch and not self.short:
            found = self.branch_and_bound(x)
            if found is not None:
                return found
        highs.set_integer(self.h, self.integer, True)
        return self._lexicographic()

    def duals(self, x: np.ndarray) -> np.ndarray:
        """Row duals at the optimum (a MILP: of the LP with its yes/no columns fixed where they are)."""
        if self.integer.size:
            highs.fix_integers(self.h, self.integer, np.round(x[self.integer]))
            self.fixed = True
            highs.forget_basis(self.h)  # cold, as after branch and bound: the same duals where they are not unique
            if self._run() != "optimal":
                return np.zeros(self.shape[0])
        return highs.duals(self.h)

    def year_x(self, x: np.ndarray, k: int) -> np.ndarray:
        """Year k's columns, cash and shortfall in units of its own R'_t (as `solve` has them)."""
        b = self.blocks[k]
        xs = x[b.first:b.first + b.cost.size].copy()
        f = b.unit / b.year.instance.unit
        xs[[CASH, SHORTFALL]] *= f
        xs[b.cols.assets()] *= f
        return xs

    def takes(self, x: np.ndarray) -> list[dict[str, bool]]:
        """Each year's yes/no decisions, by quote_id."""
        out = []
        for k, b in enumerate(self.blocks):
            xs = self.year_x(x, k)
            out.append({b.d.quotes[j].quote_id: bool(xs[b.cols.takes().start + i] > 0.5)
                        for i, j in enumerate(b.cols.binaries)})
        return out

    def present_value(self, x: np.ndarray) -> float:
        """Σ_t discount_t × annual cost_t, in yen (without the shortfall's phase cost)."""
        return float(self.cost @ x) * self.money


# ---------------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class YearResult:
    """One year of the plan: `solution` is that year's verified single-year Solution (R = R'_t)."""

    year: PlanYear
    solution: Solution
    provision_jpy: float         # ΔC_t = C_t − C_{t−1} (C_0 = 0): a charge to profit that does not lower tax
    premiums_jpy: float
    fees_jpy: float
    carry_jpy: float
    credit_by_kind: dict[str, float]
    binding: tuple[str, ...]     # the year's own limits (as `solve` says), then the plan's: max_provision, …
    tax_rate: float
    asset_carry_jpy: float = 0.0  # funded reserve assets: amount × (cost_of_capital − yield), as the cash's carry
    asset_fees_jpy: float = 0.0   # unfunded reserve assets (guarantees, lines): amount × fee_rate, an expense

    @property
    def reserve_held_jpy(self) -> float:
        """H_t: the reserve held, cash and the funded reserve assets (the balance the provisions build)."""
        return self.solution.cash_reserve_jpy + self.solution.reserve_assets_jpy

    @property
    def tax_shield_jpy(self) -> float:
        """Tax saved by the year's deductible costs: premiums and fees, and the fees of guarantees and lines (the
        provision and the carry save none)."""
        return self.tax_rate * (self.premiums_jpy + self.fees_jpy + self.asset_fees_jpy)

    @property
    def after_tax_cost_jpy(self) -> float:
        return self.solution.annual_cost_jpy - self.tax_shield_jpy

    @property
    def profit_charge_jpy(self) -> float:
        """What the year charges to profit before tax: premiums, fees (of quotes, guarantees and lines) and the
        provision (the carry is forgone return, not an expense in the accounts)."""
        return self.premiums_jpy + self.fees_jpy + self.asset_fees_jpy + self.provision_jpy

    def to_dict(self) -> dict[str, Any]:
        s = self.solution
        d = self.scalars()
        d["binding"] = list(self.binding)
        keys = list(d)
        at = keys.index("binding") + 1
        extra = {k: d.pop(k) for k in keys[at:]}
        return {**d, "instruments": s.to_dict()["instruments"], **extra}

    def scalars(self) -> dict[str, Any]:
        """`to_dict` without the instruments, `binding` joined by ';' (a row of `batch --plan`)."""
        s, y = self.solution, self.year
        return {
            "year": y.t, "fiscal_year": y.fiscal_year, "status": s.status,
            "requirement_full_jpy": y.requirement_full_jpy, "required_share": y.phase_in,
            "required_coverage_jpy": s.requirement_jpy,
            "cash_reserve_jpy": s.cash_reserve_jpy, "provision_jpy": self.provision_jpy,
            "max_provision_jpy": y.max_provision_jpy if math.isfinite(y.max_provision_jpy) else None,
            "premiums_jpy": self.premiums_jpy, "fees_jpy": self.fees_jpy, "carry_jpy": self.carry_jpy,
            "annual_cost_jpy": s.annual_cost_jpy, "discount_factor": y.discount_factor,
            "present_value_jpy": s.annual_cost_jpy * y.discount_factor,
            "tax_shield_jpy": self.tax_shield_jpy, "after_tax_cost_jpy": self.after_tax_cost_jpy,
            "profit_charge_jpy": self.profit_charge_jpy,
            "credit_cash_jpy": self.credit_by_kind["cash"], "credit_insurance_jpy": self.credit_by_kind["insurance"],
            "credit_derivative_jpy": self.credit_by_kind["derivative"],
            "shortfall_jpy": s.shortfall_jpy, "marginal_cost_per_jpy": s.marginal_cost_per_jpy,
            "customer_assets_jpy": y.profile.customer_assets_jpy,
            "liquid_capital_jpy": y.profile.liquid_capital_jpy,
            "binding": ";".join(self.binding),
            **({"reserve_assets_jpy": s.reserve_assets_jpy, "committed_jpy": s.committed_jpy,
                "reserve_held_jpy": self.reserve_held_jpy, "credit_assets_jpy": self.credit_by_kind["assets"],
                "asset_carry_jpy": self.asset_carry_jpy, "asset_fees_jpy": self.asset_fees_jpy}
               if s.offered_assets else {}),
        }


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    profile: ExchangeProfile
    regime: Regime
    years: tuple[YearResult, ...]
    solve_seconds: float = 0.0
    not_bought: tuple[list[dict[str, Any]], ...] = field(default=())  # per year, filled by `with_reasons`
    assets: tuple[ReserveAsset, ...] = ()                              # the reserve assets offered (assets.csv)
    not_held: tuple[list[dict[str, Any]], ...] = field(default=())    # per year, with assets: `with_reasons`

    @property
    def status(self) -> str:
        return "shortfall" if any(y.solution.status == "shortfall" for y in self.years) else "optimal"

    @property
    def present_value_jpy(self) -> float:
        return sum(y.solution.annual_cost_jpy * y.year.discount_factor for y in self.years)

    @property
    def present_value_after_tax_jpy(self) -> float:
        return sum(y.after_tax_cost_jpy * y.year.discount_factor for y in self.years)

    @property
    def short_years(self) -> list[int]:
        return [y.year.fiscal_year for y in self.years if y.solution.status == "shortfall"]

    def to_dict(self) -> dict[str, Any]:
        p = self.plan
        years = []
        for k, y in enumerate(self.years):
            d = y.to_dict()
            if self.not_bought:
                d["instruments_not_bought"] = self.not_bought[k]
            if self.not_held:
                d["assets_not_held"] = self.not_held[k]
            years.append(d)
        return {
            "exchange_id": self.profile.exchange_id, "exchange_name": self.profile.name, "regime": self.regime.name,
            "plan": p.name, "status": self.status, "start_year": p.start_year, "years": p.years,
            "present_value_jpy": self.present_value_jpy, "present_value_after_tax_jpy": self.present_value_after_tax_jpy,
            "total_provisions_jpy": sum(y.provision_jpy for y in self.years),
            "total_shortfall_jpy": sum(y.solution.shortfall_jpy for y in self.years),
            "years_short": self.short_years,
            "final_reserve_jpy": self.years[-1].reserve_held_jpy if self.years else 0.0,
            "tax_rate": p.tax_rate, "discount_rate": p.discount(self.profile.cost_of_capital),
            "release": p.release, "renewal_rate_change": p.renewal_rate_change,
            "plan_years": years,
        }


def _year_result(year: PlanYear, s: Solution, previous_held: float, extra_binding: list[str],
                 tax_rate: float) -> YearResult:
    fees = sum(line.quote.fixed_fee_jpy for line in s.lines)
    premiums = sum(line.annual_cost_jpy for line in s.lines) - fees
    credit = {"cash": min(s.cash_reserve_jpy, s.requirement_jpy), "insurance": 0.0, "derivative": 0.0}
    for line in s.lines:
        credit["derivative" if line.quote.is_derivative else "insurance"] += line.credit_jpy
    if s.offered_assets:
        credit["assets"] = sum(h.credit_jpy for h in s.holdings)
    held = s.cash_reserve_jpy + s.reserve_assets_jpy
    return YearResult(year, s, held - previous_held, premiums, fees, s.profile.carry * s.cash_reserve_jpy, credit,
                      (*s.binding, *extra_binding), tax_rate,
                      sum(h.annual_cost_jpy for h in s.holdings if h.asset.funded),
                      sum(h.annual_cost_jpy for h in s.holdings if not h.asset.funded))


def solve_plan(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, plan: Plan, *,
               marginal: bool = True, check: bool = True, quotes_source: str = "quotes",
               time_limit: float | None = None, kept=None, assets: Sequence[ReserveAsset] = ()) -> PlanResult:
    """The cheapest plan: one LP over the plan's years (module docstring). Amounts in JPY.

    Returns a PlanResult whose every year's mix passed the independent check (unless check=False). `marginal`:
    each year's marginal cost of R'_t — the plan's present value of one more yen required in year t (a forward
    difference with the yes/no decisions held), in year t's money (÷ its discount factor). Raises InputError for a
    quote whose term is longer than the plan; SolveError if HiGHS fails. `kept`: a HiGHS instance from
    `lp.highs.new(time_limit)` to solve in (batch --plan passes one for all its exchanges); a new one if None.
    `assets`: reserve assets (assets.csv) offered every year, each year's amounts columns of that year's block.
    """
    started = time.perf_counter()
    years = plan_years(profile, quotes, regime, plan, quotes_source, assets)
    lp = _PlanLP(years, plan, time_limit=time_limit, kept=kept)
    x = lp.lexicographic()
    takes = lp.takes(x)
    pv = lp.present_value(x)
    duals = lp.duals(x)  # the yes/no decisions are held from here on
    margins: list[float | None] = [None] * len(years)
    if marginal:
        for k, year in enumerate(years):
            step = lp.blocks[k].unit * MARGINAL_STEP  # as solve: R × 1e-6 (a year requiring nothing: the plan's scale)
            bumped = replace(year, instance=replace(year.instance, requirement_jpy=year.instance.requirement_jpy + step))
            lp.load_year(k, bumped, takes[k])
            margins[k] = (lp.present_value(lp.lexicographic()) - pv) / step / year.discount_factor
            lp.load_year(k, year, takes[k])
    seconds = time.perf_counter() - started
    out, previous = [], 0.0
    for k, (year, b) in enumerate(zip(years, lp.blocks)):
        s = solution_from_columns(year.instance, b.d, lp.year_x(x, k), seconds=seconds / len(years), check=check)
        s = replace(s, marginal_cost_per_jpy=margins[k])
        extra = []
        tol = BINDING * year.instance.unit
        held = s.cash_reserve_jpy + s.reserve_assets_jpy
        if math.isfinite(year.max_provision_jpy) and held - previous >= year.max_provision_jpy - tol:
            extra.append("max_provision")
        row = lp.no_fall.get(year.t)
        # last year's reserve of nought: the row says H_t ≥ 0, as H_t's own bound does; a dual on it is degeneracy
        if row is not None and abs(duals[row]) > DUAL_ZERO and tol < previous and held <= previous + tol:
            extra.append("reserve_never_falls")
        out.append(_year_result(year, s, previous, extra, plan.tax_rate))
        previous = held
    return PlanResult(plan, profile, regime, tuple(out), solve_seconds=time.perf_counter() - started,
                      assets=tuple(assets))


def _needs_duals(lp: _PlanLP, x: np.ndarray) -> bool:
    """Whether a year's reserve held may sit at last year's level (within twice the tolerance `solve_plan` reports
    `reserve_never_falls` at): only then are the linking rows' duals read (a cold run of the LP)."""
    previous = 0.0
    for k, b in enumerate(lp.blocks):
        held = float(sum(x[c] for c in lp.held_columns(k))) * b.unit
        tol = BINDING * b.year.instance.unit
        if b.year.t in lp.no_fall and previous > 0.5 * tol and held <= previous + 2 * tol:
            return True
        previous = held
    return False


def _results(years: Sequence[PlanYear], solutions: Sequence[Solution], duals: dict[int, float] | None, plan: Plan,
             profile: ExchangeProfile, regime: Regime, assets: Sequence[ReserveAsset], seconds: float) -> PlanResult:
    """The PlanResult of verified year Solutions, as `solve_plan` words it (`duals`: year t → its no-fall row's
    dual; None when no year's reserve held sits at last year's level)."""
    out, previous = [], 0.0
    for year, s in zip(years, solutions):
        extra = []
        tol = BINDING * year.instance.unit
        held = s.cash_reserve_jpy + s.reserve_assets_jpy
        if math.isfinite(year.max_provision_jpy) and held - previous >= year.max_provision_jpy - tol:
            extra.append("max_provision")
        if duals is not None and abs(duals.get(year.t, 0.0)) > DUAL_ZERO and tol < previous and held <= previous + tol:
            extra.append("reserve_never_falls")
        out.append(_year_result(year, s, previous, extra, plan.tax_rate))
        previous = held
    return PlanResult(plan, profile, regime, tuple(out), solve_seconds=seconds, assets=tuple(assets))


def solve_plans(profiles: Sequence[ExchangeProfile], quotes: Sequence[Quote], regime: Regime, plan: Plan, *,
                quotes_source: str = "quotes", assets: Sequence[ReserveAsset] = (), chunk: int = 1000
                ) -> list[PlanResult | Exception]:
    """`solve_plan(profile, …, marginal=False)` for many exchanges (`batch --plan`): the same LP for each, the same
    answer, each year's mix verified. Per exchange a PlanResult, or the SolveError / ValueError / ArithmeticError
    its plan raised. Raises InputError for a quote whose term is longer than the plan.

    Exchanges whose years have the same structure (the same eligible quotes and assets each year) share one kept
    HiGHS model: each exchange's plan is loaded in place of the last (`_PlanLP.reload`: its numbers, its scale),
    and HiGHS starts from the last exchange's basis instead of from nothing. Their years' numbers are computed as
    stacks (`Scaled.stack`, `numbers`), their mixes checked as stacks (`solutions_from_columns_many`); the duals
    of the linking rows (a cold run) only for an exchange whose reserve held may sit at last year's level."""
    from .model import solutions_from_columns_many

    out: list[PlanResult | Exception | None] = [None] * len(profiles)
    kept: dict[tuple, _PlanLP] = {}
    for start in range(0, len(profiles), chunk):
        groups: dict[tuple, list[tuple[int, list[PlanYear]]]] = {}
        for i in range(start, min(len(profiles), start + chunk)):
            try:
                years = plan_years(profiles[i], quotes, regime, plan, quotes_source, assets)
            except InputError:
                raise
            except (ValueError, ArithmeticError) as exc:
                out[i] = exc
                continue
            required = np.array([y.instance.requirement_jpy for y in years])
            scale = float(np.exp(np.mean(np.log(required[required > 0])))) if (required > 0).any() else 1.0
            if any(y.instance.unit < TINY_YEAR * scale for y in years):  # a year counted in the plan's scale
                groups.setdefault(("alone", i), []).append((i, years))
                continue
            key = tuple((tuple(q.quote_id for q in y.instance.eligible),
                         tuple(a.asset_id for a in y.instance.eligible_assets)) for y in years)
            groups.setdefault(key, []).append((i, years))
        for key, members in groups.items():
            if key[0] == "alone":
                for i, _ in members:
                    out[i] = _one(profiles[i], quotes, regime, plan, quotes_source, assets)
                continue
            started = time.perf_counter()
            stacks = [numbers(Scaled.stack([years[k].instance for _, years in members])) for k in range(plan.years)]
            solved: list[tuple[int, list[PlanYear], np.ndarray, dict[int, float] | None]] = []
            for m, (i, years) in enumerate(members):
                try:
                    lp = kept.get(key)
                    if lp is None:
                        lp = kept[key] = _PlanLP(years, plan)
                    else:
                        lp.reload(years, [num.one(m) for num in stacks])
                    x = lp.lexicographic(resolve_fixed=False, branch=True)
                    duals = None
                    if _needs_duals(lp, x):
                        if not lp.integer.size:  # as a new model's first run: cold (duals need not be unique)
                            highs.forget_basis(lp.h)
                            lp._run()
                        row_duals = lp.duals(x)
                        duals = {t: float(row_duals[row]) for t, row in lp.no_fall.items()}
                    solved.append((i, years, np.array([lp.year_x(x, k) for k in range(plan.years)]), duals))
                except (SolveError, ValueError, ArithmeticError) as exc:
                    kept.pop(key, None)  # HiGHS may hold the model half-changed: the next exchange builds anew
                    out[i] = exc
            seconds = (time.perf_counter() - started) / max(len(members), 1)
            try:
                per_year = [solutions_from_columns_many([years[k].instance for _, years, _, _ in solved],
                                                        [xs[k] for _, _, xs, _ in solved]) for k in range(plan.years)]
            except SolveError:  # a mix the check refuses: each exchange on its own says which
                for i, _, _, _ in solved:
                    out[i] = _one(profiles[i], quotes, regime, plan, quotes_source, assets)
                continue
            for m, (i, years, _, duals) in enumerate(solved):
                out[i] = _results(years, [per_year[k][m] for k in range(plan.years)], duals, plan, profiles[i], regime,
                                  assets, seconds)
    return out  # type: ignore[return-value]


def _one(profile, quotes, regime, plan, quotes_source, assets) -> PlanResult | Exception:
    try:
        return solve_plan(profile, quotes, regime, plan, marginal=False, quotes_source=quotes_source, assets=assets)
    except InputError:
        raise
    except (SolveError, ValueError, ArithmeticError) as exc:
        return exc


def with_reasons(result: PlanResult) -> PlanResult:
    """The result with each year's quotes not bought, and why (`reasons.not_bought` on that year's sheet; a term
    quote after year 1 is bought in year 1 or never), and with assets each year's assets not held
    (`reasons.not_held`)."""
    from .model import Resolver
    from .reasons import not_bought, not_held

    resolver = Resolver()  # one set of kept models for every year's probes (the years share their structure)
    per_year, held = [], []
    for y in result.years:
        if result.assets:
            held.append(not_held(y.solution, y.year.quotes, result.assets, resolver=resolver))
        rows = not_bought(y.solution, y.year.quotes, resolver=resolver)
        if y.year.t > 1:
            term = {q.quote_id: q.term_years for q in y.year.quotes if q.term_years > 1}
            rows = [{**r, "reason": f"a {term[r['quote_id']]}-year policy is bought in the plan's first year or not "
                     "at all", "break_even_rol": None} if r["quote_id"] in term else r for r in rows]
        per_year.append(rows)
    return replace(result, not_bought=tuple(per_year), not_held=tuple(held))


# ---------------------------------------------------------------------------------------------- analyses over years
# Each re-solves the plan (`solve_plan`, marginal costs off); no arithmetic of its own.

def provision_frontier(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, plan: Plan,
                       values: Sequence[float] | None = None, assets: Sequence[ReserveAsset] = ()
                       ) -> list[dict[str, Any]]:
    """The plan's present value and shortfall as `max_provision_jpy` (one limit for every year) sweeps.
    Default values: fractions of the final reserve the plan holds with no provision limit, then no limit."""
    if values is None:
        free = solve_plan(profile, quotes, regime, replace(plan, max_provision_jpy=(math.inf,) * plan.years),
                          marginal=False, assets=assets)
        top = free.years[-1].reserve_held_jpy
        values = [f * top for f in (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)] + [math.inf] if top > 0 else [math.inf]
    out = []
    for v in values:
        r = solve_plan(profile, quotes, regime, replace(plan, max_provision_jpy=(float(v),) * plan.years),
                       marginal=False, assets=assets)
        out.append({"max_provision_jpy": v if math.isfinite(v) else None, "status": r.status,
                    "present_value_jpy": r.present_value_jpy,
                    "present_value_after_tax_jpy": r.present_value_after_tax_jpy,
                    "total_shortfall_jpy": sum(y.solution.shortfall_jpy for y in r.years),
                    "years_short": r.short_years})
    return out


def phase_in_costs(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, plan: Plan,
                   base: PlanResult | None = None, assets: Sequence[ReserveAsset] = ()) -> list[dict[str, Any]]:
    """The marginal cost of a faster phase-in: for each year t before the last, the present value added by
    requiring in year t the share of year t + 1 (moving that year's share one year earlier)."""
    base = base or solve_plan(profile, quotes, regime, plan, marginal=False, assets=assets)
    out = []
    for t in range(1, plan.years):
        if plan.phase_in[t] <= plan.phase_in[t - 1]:
            continue
        faster = list(plan.phase_in)
        faster[t - 1] = plan.phase_in[t]
        r = solve_plan(profile, quotes, regime, replace(plan, phase_in=tuple(faster)), marginal=False, assets=assets)
        out.append({"fiscal_year": plan.start_year + t - 1, "share_now": plan.phase_in[t - 1],
                    "share_earlier": plan.phase_in[t], "extra_present_value_jpy": r.present_value_jpy -
                    base.present_value_jpy, "extra_shortfall_jpy": sum(y.solution.shortfall_jpy for y in r.years)
                    - sum(y.solution.shortfall_jpy for y in base.years)})
    return out


BREAK_EVEN_STEPS = 36  # bisection steps on the rate on line: ~1e-11 of the bracket


def term_break_even(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, plan: Plan,
                    quote_id: str, assets: Sequence[ReserveAsset] = ()) -> dict[str, Any]:
    """The break-even rate of a multi-year policy against one-year renewals: the highest rate on line at which the
    plan still buys it (bisection on re-solved plans; None when it is not bought even free)."""
    from .inputs import MAX_RATE_ON_LINE

    quote = next(q for q in quotes if q.quote_id == quote_id)

    def bought(rate: float) -> bool:
        sheet = [replace(q, rate_on_line=rate) if q.quote_id == quote_id else q for q in quotes]
        r = solve_plan(profile, sheet, regime, plan, marginal=False, assets=assets)
        return r.years[0].solution.share_of(quote_id) > 0

    if not bought(0.0):
        return {"quote_id": quote_id, "term_years": quote.term_years, "rate_on_line": quote.rate_on_line,
                "break_even_rol": None}
    low, high = 0.0, min(MAX_RATE_ON_LINE, max(4.0 * quote.rate_on_line, 0.5))
    if bought(high):
        low, high = high, MAX_RATE_ON_LINE
    if bought(high):
        return {"quote_id": quote_id, "term_years": quote.term_years, "rate_on_line": quote.rate_on_line,
                "break_even_rol": math.inf}
    for _ in range(BREAK_EVEN_STEPS):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if bought(mid) else (low, mid)
    return {"quote_id": quote_id, "term_years": quote.term_years, "rate_on_line": quote.rate_on_line,
            "break_even_rol": low}
