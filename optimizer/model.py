"""The regulatory tower as an LP (a MILP when a quote has a minimum line or a flat fee), written once.

DESIGN "The model", row by row: each family of rows is one function below (`funded_losses`, `credit_caps`,
`counterparty_caps`, `min_lines`) returning a `Rows` block with the algebra in its docstring. Everything is in
*units of R* (every yen amount divided by the requirement), so HiGHS sees numbers near 1 whatever the exchange's
size; its tolerances are absolute.

`build` turns the blocks into the PuLP model (the user-visible model: `solve --write-lp model.lp|.mps`). A
`Resolver` hands that model to HiGHS through PuLP once per *structure* (the same eligible quotes, yes/no quotes,
peril groups and counterparties) and then re-solves that same HiGHS instance for every further exchange or probe
with the same structure, changing only what differs: costs, bounds, right-hand sides and the coefficients that
depend on R. Before calling the simplex at all it checks whether the previous optimal basis is still optimal for
the new numbers (primal and dual feasibility, with HiGHS's own tolerances); if so the answer is read off that
basis. Every answer goes through `assemble` and the independent `verify`.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import highspy
import numpy as np
import pulp

from . import settings
from .domain import Eligibility, ExchangeProfile, Quote, Regime, recovery
from .regime import credit_factor, exempt_from_counterparty_cap, requirement
from .solution import Line, Solution, SolveError, verify

# ---------------------------------------------------------------------------------------------- tolerances
# All in units of R (the LP's scale), so each means the same for a ¥1m and a ¥1tn requirement.
ZERO_SHARE = 1e-9        # a share below this is reported as not bought (HiGHS's feasibility tolerance is 1e-7)
ZERO_SHORTFALL = 1e-9    # a least shortfall below this is no shortfall (solver noise on a compliant mix)
SHORTFALL_SLACK = 1e-12  # phase 3 may use this much more shortfall than phase 2 found (keeps it feasible)
BINDING = 1e-7           # a limit is reported as binding when the mix is within this of it
FEASIBILITY = 1e-7       # primal and dual feasibility when re-using a basis: HiGHS's defaults
CERTIFY_MAX_ROWS = 250   # above this many rows a dense basis check costs more than a warm simplex: skip it
MARGINAL_STEP = 1e-6     # the marginal cost of R is a forward difference over R × this

Status = str  # "optimal" | "shortfall" | "time_limit"


@dataclass(frozen=True)
class Instance:
    """One exchange's problem: the profile, the quotes offered to it, the regime and the requirement R (JPY)."""

    profile: ExchangeProfile
    quotes: tuple[Quote, ...]
    regime: Regime
    requirement_jpy: float
    credit: Mapping[str, float] = field(default_factory=dict)  # κ by quote_id, for offered quotes

    @classmethod
    def build(cls, profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime,
              requirement_jpy: float | None = None, credit: Mapping[str, float] | None = None) -> "Instance":
        """`credit`: κ by quote_id when the caller has it already (it depends on the quote and regime only)."""
        offered = tuple(q for q in quotes if q.offered_to(profile.exchange_id))
        r = requirement(profile, regime) if requirement_jpy is None else float(requirement_jpy)
        kappa = {q.quote_id: credit[q.quote_id] if credit is not None else credit_factor(q, regime) for q in offered}
        return cls(profile, offered, regime, r, kappa)

    @property
    def eligible(self) -> tuple[Quote, ...]:
        """Quotes that earn credit (κ > 0); the others are reported, never bought."""
        return tuple(q for q in self.quotes if self.credit[q.quote_id] > 0)

    @property
    def unit(self) -> float:
        """The scale of the LP: one unit is R yen (1 yen when R is 0)."""
        return self.requirement_jpy if self.requirement_jpy > 0 else 1.0


# ---------------------------------------------------------------------------------------------- scaled data

def _safe(text: str) -> str:
    """A name fit for an LP file (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


@dataclass(frozen=True)
class Scaled:
    """One instance in units of R; arrays run over the eligible quotes in offer order."""

    quotes: tuple[Quote, ...]
    unit: float
    top: float                 # R in units of R: 1 (0 when R is 0)
    kappa: np.ndarray          # κ_j
    attach: np.ndarray         # a_j
    limit: np.ndarray          # l_j (a requirement-basis layer's capped at max_limit_jpy)
    premium: np.ndarray        # annual premium of a 100% line: multiplier × ROL × (1 + fronting fee) × l_j
    fee: np.ndarray            # flat fee if taken at all
    max_share: np.ndarray
    min_share: np.ndarray
    binary: np.ndarray         # True for quotes with a yes/no decision (minimum line or flat fee)
    derivative: np.ndarray     # True for derivative-style cover
    carry: float               # annual cost of a unit of cash
    liquid: float              # most cash available (inf: no limit)
    points: np.ndarray         # loss levels where retained loss can kink, clipped to [0, top]
    point_names: tuple[str, ...]
    groups: tuple[str, ...]    # perils covered by the same quotes share their rows: one name per group
    covers: np.ndarray         # groups × quotes: 1 where the quote covers the group's perils
    counterparties: tuple[str, ...]
    of_counterparty: np.ndarray  # counterparties × quotes: 1 where the quote counts against that cap
    eligibility: Eligibility

    @classmethod
    def of(cls, inst: Instance) -> "Scaled":
        quotes, R, u = inst.eligible, inst.requirement_jpy, inst.unit
        prof = inst.profile

        def arr(values) -> np.ndarray:
            return np.fromiter(values, float, len(quotes))

        attach = arr(q.attachment_jpy(R) / u for q in quotes)
        limit = arr(q.limit_jpy(R) / u for q in quotes)
        top = R / u
        # Breakpoints are keyed by what they stand for (R, each quote's attachment and exhaustion), so a new R
        # moves them without changing the set of rows; one outside [0, R] repeats the row at 0 or at R.
        points = np.clip(np.concatenate([[top], attach, attach + limit]), 0.0, top)
        names = ("R", *(f"attach_{_safe(q.quote_id)}" for q in quotes), *(f"exhaust_{_safe(q.quote_id)}" for q in quotes))
        perils = inst.regime.requirement.perils
        by_set: dict[tuple[bool, ...], list[str]] = {}
        for p in perils:
            by_set.setdefault(tuple(q.covers(p) for q in quotes), []).append(p)
        sets = sorted(by_set)
        capped = sorted({q.counterparty for q in quotes if not exempt_from_counterparty_cap(q)})
        return cls(
            quotes=quotes, unit=u, top=top,
            kappa=arr(inst.credit[q.quote_id] for q in quotes), attach=attach, limit=limit,
            premium=prof.premium_multiplier * arr(q.premium_rate for q in quotes) * limit,
            fee=arr(q.fixed_fee_jpy / u for q in quotes),
            max_share=arr(q.max_share for q in quotes), min_share=arr(q.min_share for q in quotes),
            binary=np.array([q.needs_binary for q in quotes], dtype=bool),
            derivative=np.array([q.is_derivative for q in quotes], dtype=bool),
            carry=prof.carry, liquid=prof.liquid_capital_jpy / u,
            points=points, point_names=names,
            groups=tuple("+".join(by_set[s]) for s in sets),
            covers=np.array(sets, dtype=float).reshape(len(sets), len(quotes)),
            counterparties=tuple(capped),
            of_counterparty=np.array([[q.counterparty == c and not exempt_from_counterparty_cap(q) for q in quotes]
                                      for c in capped], dtype=float).reshape(len(capped), len(quotes)),
            eligibility=inst.regime.eligibility,
        )

    def credit_at(self, x: np.ndarray | float) -> np.ndarray:
        """κ_j·r_j(x): regulatory credit of a 100% line of each quote for a loss x (array of x → x × quotes)."""
        return self.kappa * recovery(np.asarray(x, dtype=float)[..., None], self.attach, self.limit)

    def structure(self) -> tuple:
        """What fixes the set of rows and columns; instances with the same structure share one HiGHS model."""
        return (tuple(q.quote_id for q in self.quotes), self.binary.tobytes(), self.groups, self.covers.tobytes(),
                self.counterparties, self.of_counterparty.tobytes())


# ---------------------------------------------------------------------------------------------- the rows

INF = highspy.kHighsInf


@dataclass(frozen=True)
class Rows:
    """A family of rows: lower ≤ cash·C + gap·z + share·s + take·y ≤ upper, one entry per row (units of R)."""

    names: tuple[str, ...]
    cash: np.ndarray
    gap: np.ndarray
    share: np.ndarray   # rows × quotes
    take: np.ndarray    # rows × quotes (columns of quotes without a binary stay 0)
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, names, n: int, *, cash=0.0, gap=0.0, share=None, take=None, lower=-INF, upper=INF) -> "Rows":
        m = len(names)
        full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (m,)).copy()  # noqa: E731
        grid = lambda v: np.zeros((m, n)) if v is None else np.asarray(v, dtype=float).reshape(m, n)  # noqa: E731
        return cls(tuple(names), full(cash), full(gap), grid(share), grid(take), full(lower), full(upper))

    @staticmethod
    def stack(blocks: Sequence["Rows"]) -> "Rows":
        return Rows(tuple(n for b in blocks for n in b.names), *(np.concatenate([getattr(b, f) for b in blocks])
                    for f in ("cash", "gap", "share", "take", "lower", "upper")))


def funded_losses(d: Scaled) -> Rows:
    """DESIGN 1. Every loss up to R is funded, for every peril p:

        x − Σ_{j covers p} κ_j·s_j·r_j(x) ≤ C + z     ⇔     C + z + Σ_{j covers p} κ_j·r_j(x)·s_j ≥ x

    at each breakpoint x ∈ {R} ∪ {a_j, a_j + l_j} (retained loss is piecewise linear with kinks only there, so
    these rows are exact: no gap between cash and the first layer). z is the shortfall (fixed at 0 unless no
    compliant mix exists). Perils covered by the same quotes give the same rows: one block per peril group.
    """
    credit = d.credit_at(d.points)  # points × quotes
    n = len(d.quotes)
    return Rows.stack([Rows.of([f"funded_{_safe(group)}_at_{p}" for p in d.point_names], n, cash=1.0, gap=1.0,
                               share=credit * d.covers[g], lower=d.points)
                       for g, group in enumerate(d.groups)])


def credit_caps(d: Scaled) -> Rows:
    """DESIGN 2. Regulatory caps on credit, where the credit of quote j is κ_j·s_j·r_j(R):

        C + z ≥ min_cash_share·R
        Σ_{j insurance} κ_j·r_j(R)·s_j ≤ max_insurance_share·R
        Σ_{j derivative} κ_j·r_j(R)·s_j ≤ max_derivative_share·R
    """
    e, n, full = d.eligibility, len(d.quotes), d.credit_at(d.top)
    return Rows.stack([
        Rows.of(["min_cash"], n, cash=1.0, gap=1.0, lower=e.min_cash_share * d.top),
        Rows.of(["insurance_cap"], n, share=full * ~d.derivative, upper=e.max_insurance_share * d.top),
        Rows.of(["derivative_cap"], n, share=full * d.derivative, upper=e.max_derivative_share * d.top),
    ])


def counterparty_caps(d: Scaled) -> Rows:
    """DESIGN 2. Credit from any one counterparty c ≤ max_counterparty_share·R (collateralized derivatives exempt):

        Σ_{j of c} κ_j·r_j(R)·s_j ≤ max_counterparty_share·R
    """
    n = len(d.quotes)
    return Rows.of([f"counterparty_cap_{_safe(c)}" for c in d.counterparties], n,
                   share=d.of_counterparty * d.credit_at(d.top), upper=d.eligibility.max_counterparty_share * d.top)


def min_lines(d: Scaled) -> Rows:
    """DESIGN 4. MILP links for quotes with a minimum line or a flat fee (y_j ∈ {0, 1}):

        s_j − min_share_j·y_j ≥ 0        s_j − max_share_j·y_j ≤ 0
    """
    n, js = len(d.quotes), np.flatnonzero(d.binary)
    eye = np.eye(n)[js]
    return Rows.stack([
        Rows.of([f"min_line_{_safe(d.quotes[j].quote_id)}" for j in js], n, share=eye, take=-eye * d.min_share,
                lower=0.0),
        Rows.of([f"max_line_{_safe(d.quotes[j].quote_id)}" for j in js], n, share=eye, take=-eye * d.max_share,
                upper=0.0),
    ])


ROW_FAMILIES = (funded_losses, credit_caps, counterparty_caps, min_lines)


# ---------------------------------------------------------------------------------------------- matrix form

@dataclass(frozen=True)
class Columns:
    """Column order of the model: cash C, shortfall z, a share s_j per quote, a binary y_j per yes/no quote."""

    n: int
    binaries: np.ndarray  # indices j of the quotes with a binary

    @property
    def count(self) -> int:
        return 2 + self.n + len(self.binaries)

    def shares(self) -> slice:
        return slice(2, 2 + self.n)

    def takes(self) -> slice:
        return slice(2 + self.n, self.count)


@dataclass
class Numbers:
    """The whole LP as numbers: A (rows × columns), row bounds, costs and column bounds."""

    A: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    names: tuple[str, ...]
    integer: np.ndarray  # column indices that are binary


def numbers(d: Scaled, fixed_take: Mapping[int, bool] | None = None) -> Numbers:
    """Minimise carry·C + Σ_j premium_j·s_j + Σ_j fee_j·y_j subject to ROW_FAMILIES, with bounds
    0 ≤ C ≤ liquid capital (DESIGN 3), z = 0, 0 ≤ s_j ≤ max_share_j, y_j ∈ {0, 1} (or fixed by `fixed_take`)."""
    cols = Columns(len(d.quotes), np.flatnonzero(d.binary))
    rows = Rows.stack([family(d) for family in ROW_FAMILIES])
    A = np.hstack([rows.cash[:, None], rows.gap[:, None], rows.share, rows.take[:, cols.binaries]])
    cost = np.concatenate([[d.carry, 0.0], d.premium, d.fee[cols.binaries]])
    lower = np.zeros(cols.count)
    upper = np.concatenate([[d.liquid, 0.0], d.max_share, np.ones(len(cols.binaries))])
    for k, j in enumerate(cols.binaries):
        if fixed_take is not None and j in fixed_take:
            lower[cols.takes().start + k] = upper[cols.takes().start + k] = float(fixed_take[j])
    return Numbers(A, rows.lower, rows.upper, cost, lower, upper, rows.names,
                   np.arange(cols.takes().start, cols.count))


# ---------------------------------------------------------------------------------------------- the PuLP model

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
    """The PuLP model of DESIGN "The model" for one instance, in units of R, rows named by meaning."""
    return _model_from(Scaled.of(inst))


# ---------------------------------------------------------------------------------------------- HiGHS

_banner_lock = threading.Lock()
_banner_done = False


def quiet_highs() -> None:
    """HiGHS prints its banner on stdout once per process, even with output off; `--format json` must print
    exactly one JSON object. Create the first HiGHS instance with file descriptor 1 pointed at /dev/null."""
    global _banner_done
    with _banner_lock:
        if _banner_done:
            return
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(devnull)
            os.close(saved)
        _banner_done = True


def highs_solver(time_limit: float | None = None) -> pulp.HiGHS:
    """PuLP's HiGHS interface with the project's settings (settings.py)."""
    return pulp.HiGHS(msg=False, gapRel=settings.MIP_GAP_REL, gapAbs=settings.MIP_GAP_ABS, threads=settings.THREADS,
                      timeLimit=settings.TIME_LIMIT_SECONDS if time_limit is None else time_limit)


@dataclass(frozen=True)
class _Raw:
    """Solver values in units of R."""

    cash: float
    share: dict           # quote_id → share
    take: dict            # quote_id → bool, for yes/no quotes
    shortfall: float
    objective: float
    solve_seconds: float
    status: Status = "optimal"


class _Kept:
    """One structure's HiGHS instance (built by PuLP from the model) and the numbers it holds now."""

    def __init__(self, model: TowerModel, num: Numbers, time_limit: float | None):
        quiet_highs()
        self.model = model
        solver = highs_solver(time_limit)
        solver.createAndConfigureSolver(model.prob)
        solver.buildSolverModel(model.prob)
        self.h: highspy.Highs = model.prob.solverModel
        exported = {v.name: j for j, v in enumerate(model.prob.exported_variables())}
        # PuLP passes only the columns that have a nonzero somewhere; a quote that is free and pays nothing for
        # this exchange has none, but may for the next one: add such columns (all zeros) at the end.
        for k, v in enumerate(model.columns):
            if v.name not in exported:
                exported[v.name] = self.h.getNumCol()
                self.h.addVar(float(num.col_lower[k]), float(num.col_upper[k]))
                if k in set(num.integer.tolist()):
                    self.h.changeColsIntegrality(1, np.array([exported[v.name]], dtype=np.int32),
                                                 np.array([highspy.HighsVarType.kInteger]))
        self.perm = np.array([exported[v.name] for v in model.columns], dtype=np.int32)  # model column → HiGHS
        self.num = num
        self.mip = len(num.integer) > 0
        self.basis: tuple[np.ndarray, np.ndarray] | None = None  # (column status, row status) in model order
        self._inverse: tuple[bytes, np.ndarray] | None = None

    def load(self, num: Numbers) -> None:
        """Change in HiGHS only what differs from the numbers it holds."""
        old, h, perm = self.num, self.h, self.perm
        if num.A.shape != old.A.shape:
            raise SolveError("internal: a re-solve changed the shape of the model")
        rows, cols = np.nonzero(num.A != old.A)
        for i, k in zip(rows.tolist(), cols.tolist()):
            h.changeCoeff(i, int(perm[k]), float(num.A[i, k]))
        if rows.size:
            self._inverse = None
        changed = np.flatnonzero((num.row_lower != old.row_lower) | (num.row_upper != old.row_upper))
        if changed.size:
            h.changeRowsBounds(changed.size, changed.astype(np.int32), num.row_lower[changed], num.row_upper[changed])
        changed = np.flatnonzero(num.cost != old.cost)
        if changed.size:
            h.changeColsCost(changed.size, perm[changed], num.cost[changed])
        changed = np.flatnonzero((num.col_lower != old.col_lower) | (num.col_upper != old.col_upper))
        if changed.size:
            h.changeColsBounds(changed.size, perm[changed], num.col_lower[changed], num.col_upper[changed])
        self.num = num

    # -------------------------------------------------------------- the optimal basis, re-used when it still holds
    def certified(self) -> np.ndarray | None:
        """The optimal x read off the last optimal basis, if that basis is still primal and dual feasible for the
        numbers now loaded (the test HiGHS itself would make before pivoting); else None."""
        if self.basis is None or self.mip or self.num.A.shape[0] > CERTIFY_MAX_ROWS:
            return None
        num, (col_status, row_status) = self.num, self.basis
        A = num.A
        m, n = A.shape
        basic_c, basic_r = col_status == _BASIC, row_status == _BASIC
        # value of every nonbasic variable: at its lower or upper bound (free nonbasic at 0)
        x = np.where(col_status == _UPPER, num.col_upper, np.where(col_status == _LOWER, num.col_lower, 0.0))
        r = np.where(row_status == _UPPER, num.row_upper, np.where(row_status == _LOWER, num.row_lower, 0.0))
        if not (np.isfinite(x[~basic_c]).all() and np.isfinite(r[~basic_r]).all()):
            return None
        # A x − r = 0 with the basic part unknown: [A_B  −I_B] (x_B, r_B) = −A_N x_N + r_N
        key = col_status.tobytes() + row_status.tobytes()
        if self._inverse is None or self._inverse[0] != key:
            M = np.hstack([A[:, basic_c], -np.eye(m)[:, basic_r]])
            if M.shape[1] != m:
                return None
            try:
                self._inverse = (key, np.linalg.inv(M))
            except np.linalg.LinAlgError:
                return None
        Minv = self._inverse[1]
        x_n = np.where(basic_c, 0.0, x)
        r_n = np.where(basic_r, 0.0, r)
        u = Minv @ (r_n - A @ x_n)
        nb = int(basic_c.sum())
        x = x_n.copy()
        x[basic_c] = u[:nb]
        r_b = u[nb:]
        tol = FEASIBILITY
        if ((x < num.col_lower - tol) | (x > num.col_upper + tol)).any():
            return None
        if ((r_b < num.row_lower[basic_r] - tol) | (r_b > num.row_upper[basic_r] + tol)).any():
            return None
        # duals: M^T y = c_B (row variables cost nothing); reduced costs d = c − A^T y (columns), y (rows)
        y = Minv.T @ np.concatenate([num.cost[basic_c], np.zeros(m - nb)])
        d_col = num.cost - A.T @ y
        d_row = y

        def dual_ok(d, status, lower, upper) -> bool:
            fixed = lower == upper
            at_lower = (status == _LOWER) & ~fixed
            at_upper = (status == _UPPER) & ~fixed
            free = (status == _ZERO) & ~fixed
            return not ((at_lower & (d < -tol)).any() or (at_upper & (d > tol)).any() or (free & (abs(d) > tol)).any())

        if not (dual_ok(d_col, col_status, num.col_lower, num.col_upper)
                and dual_ok(d_row, row_status, num.row_lower, num.row_upper)):
            return None
        return np.clip(x, num.col_lower, num.col_upper)

    def run(self) -> tuple[str, np.ndarray | None]:
        """HiGHS from where it stands (the last basis for an LP). Returns (outcome, x in model order)."""
        h = self.h
        h.run()
        status = h.getModelStatus()
        has_solution = h.getInfo().primal_solution_status == 2  # a feasible point is known
        x = np.asarray(h.getSolution().col_value)[self.perm] if has_solution else None
        if status == highspy.HighsModelStatus.kOptimal:
            if not self.mip:
                b = h.getBasis()
                cs = np.array([int(s) for s in b.col_status])[self.perm]
                rs = np.array([int(s) for s in b.row_status])
                self.basis = (cs, rs) if b.valid else None
            return "optimal", x
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", None
        if status == highspy.HighsModelStatus.kTimeLimit:
            return "time_limit", x
        raise SolveError(f"HiGHS stopped with status {h.modelStatusToString(status)}")


_BASIC = int(highspy.HighsBasisStatus.kBasic)
_LOWER = int(highspy.HighsBasisStatus.kLower)
_UPPER = int(highspy.HighsBasisStatus.kUpper)
_ZERO = int(highspy.HighsBasisStatus.kZero)


# Why a re-solve could not simply re-use what it had (counted in `Resolver.stats`, reported by the batch summary).
REBUILD_NEW_STRUCTURE = "rebuild: new structure (first exchange with this set of eligible quotes)"
REUSED_BASIS = "basis re-used (no simplex)"
WARM_SIMPLEX = "warm simplex from the previous basis"
MIP_RESOLVE = "MIP re-solved on the kept model"
SHORTFALL_PHASES = "shortfall: least shortfall, then least cost"


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
        """The PuLP model this resolver solves `inst` with (built on first use)."""
        return self._kept_for(Scaled.of(inst))[0].model

    def _kept_for(self, d: Scaled, fixed_take: Mapping[int, bool] | None = None) -> tuple[_Kept, Numbers]:
        num = numbers(d, fixed_take)
        key = d.structure()
        kept = self._kept.get(key)
        if kept is None:
            self.stats[REBUILD_NEW_STRUCTURE] += 1
            kept = self._kept[key] = _Kept(_model_from(d), num, self.time_limit)
            kept.load(num)
        else:
            kept.load(num)
        return kept, num

    def optimise(self, inst: Instance, fixed_take: Mapping[str, bool] | None = None) -> _Raw:
        """Lexicographic: the cheapest mix with no shortfall; if none exists, the least shortfall, then the
        cheapest mix at that shortfall. `fixed_take` holds yes/no decisions (by quote_id) at given values."""
        started = time.perf_counter()
        d = Scaled.of(inst)
        index = {q.quote_id: j for j, q in enumerate(d.quotes)}
        fixed = {index[k]: v for k, v in (fixed_take or {}).items() if k in index}
        kept, num = self._kept_for(d, fixed)
        outcome, x = self._solve_loaded(kept)
        if outcome == "infeasible":
            self.stats[SHORTFALL_PHASES] += 1
            z = 1  # column of the shortfall
            least = replace(num, cost=np.eye(num.cost.size)[z], col_upper=_with(num.col_upper, z, INF))
            kept.load(least)
            outcome, x = self._solve_loaded(kept)
            if outcome != "optimal":
                raise SolveError(f"HiGHS could not minimise the shortfall ({outcome})")
            kept.load(replace(num, col_upper=_with(num.col_upper, z, float(x[z]) + SHORTFALL_SLACK)))
            outcome, x = self._solve_loaded(kept)
            if outcome == "infeasible":
                raise SolveError("HiGHS found no mix at the least shortfall")
        if x is None:
            raise SolveError("the time limit was reached before any compliant mix was found")
        take_ids = [d.quotes[j].quote_id for j in np.flatnonzero(d.binary)]
        cols = Columns(len(d.quotes), np.flatnonzero(d.binary))
        return _Raw(
            cash=max(float(x[0]), 0.0),
            share={q.quote_id: float(v) for q, v in zip(d.quotes, x[cols.shares()])},
            take={k: float(v) > 0.5 for k, v in zip(take_ids, x[cols.takes()])},
            shortfall=max(float(x[1]), 0.0),
            objective=float(num.cost @ x),
            solve_seconds=time.perf_counter() - started,
            status="time_limit" if outcome == "time_limit" else "optimal",
        )

    def _solve_loaded(self, kept: _Kept) -> tuple[str, np.ndarray | None]:
        x = kept.certified()
        if x is not None:
            self.stats[REUSED_BASIS] += 1
            return "optimal", x
        self.stats[MIP_RESOLVE if kept.mip else WARM_SIMPLEX] += 1
        return kept.run()

    def marginal_cost(self, inst: Instance, raw: _Raw) -> float:
        """Cost of one more yen of R: a forward difference over a step of R·1e-6, with the yes/no choices of a
        MILP held at their optimum (the usual shadow price of a MILP). Exact for the LP away from kinks."""
        step = inst.unit * MARGINAL_STEP
        bumped = replace(inst, requirement_jpy=inst.requirement_jpy + step)
        again = self.optimise(bumped, fixed_take=raw.take)
        return (again.objective * bumped.unit - raw.objective * inst.unit) / step


def _with(values: np.ndarray, k: int, v: float) -> np.ndarray:
    out = values.copy()
    out[k] = v
    return out


def _model_from(d: Scaled) -> TowerModel:
    """`build` for scaled data already at hand."""
    num = numbers(d)
    prob = pulp.LpProblem("reserve_tower", pulp.LpMinimize)
    names = ["cash", "shortfall", *(f"share_{j}_{_safe(q.quote_id)}" for j, q in enumerate(d.quotes)),
             *(f"take_{j}_{_safe(d.quotes[j].quote_id)}" for j in np.flatnonzero(d.binary))]
    integer = set(num.integer.tolist())
    columns = [prob.add_variable(name, lowBound=float(lo), upBound=None if math.isinf(hi) else float(hi),
                                 cat=pulp.LpBinary if k in integer else pulp.LpContinuous)
               for k, (name, lo, hi) in enumerate(zip(names, num.col_lower, num.col_upper))]
    # every column appears in the objective (a zero cost is kept as 0·v), so PuLP passes every column to HiGHS
    prob += pulp.lpSum(float(c) * v for c, v in zip(num.cost, columns))
    for i, name in enumerate(num.names):
        expr = pulp.lpSum(float(num.A[i, k]) * columns[k] for k in np.flatnonzero(num.A[i]))
        lo, hi = num.row_lower[i], num.row_upper[i]
        prob += (expr >= float(lo), name) if math.isfinite(lo) else (expr <= float(hi), name)
    return TowerModel(prob, columns, d)


# ---------------------------------------------------------------------------------------------- results

def _binding(inst: Instance, cash: float, shares: Mapping[str, float]) -> list[str]:
    """Which limits hold the answer where it is (liquid capital, caps, capacity)."""
    prof, elig, R = inst.profile, inst.regime.eligibility, inst.requirement_jpy
    tol = BINDING * inst.unit
    out: list[str] = []
    if not math.isinf(prof.liquid_capital_jpy) and cash >= prof.liquid_capital_jpy - tol:
        out.append("liquid_capital")
    if elig.min_cash_share > 0 and cash <= elig.min_cash_share * R + tol:
        out.append("min_cash_share")
    by_kind = {False: 0.0, True: 0.0}      # credit by "is derivative"
    kinds_offered = set()
    by_counterparty: dict[str, float] = {}
    capacity = []
    for q in inst.eligible:
        share = shares.get(q.quote_id, 0.0)
        credit = inst.credit[q.quote_id] * share * q.pays_jpy(R, R)
        by_kind[q.is_derivative] += credit
        kinds_offered.add(q.is_derivative)
        if not exempt_from_counterparty_cap(q):
            by_counterparty[q.counterparty] = by_counterparty.get(q.counterparty, 0.0) + credit
        if q.max_share > 0 and share >= q.max_share - ZERO_SHARE:
            capacity.append(f"capacity:{q.quote_id}")
    if False in kinds_offered and by_kind[False] >= elig.max_insurance_share * R - tol:
        out.append("max_insurance_share")
    if True in kinds_offered and by_kind[True] >= elig.max_derivative_share * R - tol:
        out.append("max_derivative_share")
    out += [f"max_counterparty_share:{name}" for name, total in sorted(by_counterparty.items())
            if total > 0 and total >= elig.max_counterparty_share * R - tol]
    return out + capacity


def assemble(inst: Instance, raw: _Raw, marginal_cost: float | None, *, check: bool = True) -> Solution:
    """Solver values (scaled) → a Solution in JPY, re-checked by `verify` unless check=False."""
    u, R = inst.unit, inst.requirement_jpy
    # A yes/no quote is bought only if its binary is on (integrality is met to a tolerance, so a binary of 1e-8
    # could otherwise let a sliver of share through below the minimum line).
    shares = {k: (v if v > ZERO_SHARE and raw.take.get(k, True) else 0.0) for k, v in raw.share.items()}
    for q in inst.eligible:  # snap solver noise (feasibility tolerance 1e-7) onto the bounds of the line
        if shares[q.quote_id] > 0:
            shares[q.quote_id] = min(max(shares[q.quote_id], q.min_share), q.max_share)
    cash, shortfall = raw.cash * u, raw.shortfall * u
    if shortfall <= ZERO_SHORTFALL * u:
        shortfall = 0.0
    prof = inst.profile
    lines = []
    for q in inst.eligible:
        s = shares[q.quote_id]
        if s <= 0:
            continue
        limit = q.limit_jpy(R)
        lines.append(Line(
            quote=q, share=s, cover_jpy=s * limit,
            credit_jpy=inst.credit[q.quote_id] * s * q.pays_jpy(R, R),
            annual_cost_jpy=prof.premium_multiplier * q.premium_rate * limit * s + q.fixed_fee_jpy,
            credit_factor=inst.credit[q.quote_id],
        ))
    annual_cost = prof.carry * cash + sum(line.annual_cost_jpy for line in lines)
    all_cash = prof.carry * R if R <= prof.liquid_capital_jpy else None
    status = raw.status if raw.status == "time_limit" else ("shortfall" if shortfall > 0 else "optimal")
    solution = Solution(
        profile=prof, regime=inst.regime, requirement_jpy=R, status=status,
        cash_reserve_jpy=cash, shortfall_jpy=shortfall, annual_cost_jpy=annual_cost,
        all_cash_cost_jpy=all_cash, marginal_cost_per_jpy=marginal_cost, lines=tuple(lines),
        offered=inst.quotes, credit=dict(inst.credit),
        binding=tuple(_binding(inst, cash, shares)),
        solve_seconds=raw.solve_seconds,
    )
    if check:
        problems = verify(solution)
        if problems:
            raise SolveError("the optimal mix failed the independent check: " + "; ".join(problems[:3]))
    return solution


def solve_instance(inst: Instance, *, marginal: bool = True, check: bool = True,
                   resolver: Resolver | None = None) -> Solution:
    """Optimise one instance (with a fresh model unless a resolver is given) and return a verified Solution."""
    return (resolver or Resolver()).solve(inst, marginal=marginal, check=check)


def solve(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, *, marginal: bool = True,
          check: bool = True, resolver: Resolver | None = None) -> Solution:
    """The cheapest compliant mix for one exchange (or, if none exists, the smallest shortfall and its cost).

    Amounts in the returned Solution are in JPY. Raises SolveError only if HiGHS fails or the solution
    does not pass the independent check. Pass a `Resolver` to re-use its models across many calls.
    """
    return solve_instance(Instance.build(profile, quotes, regime), marginal=marginal, check=check, resolver=resolver)


@dataclass
class ModelView:
    """The PuLP model of one instance with its variables by meaning, for callers that add their own row families
    on top (the risk view's TVaR rows): prob, cash C, shortfall z (None when fixed at 0), share and take by
    quote_id, and the cost expression of DESIGN's objective."""

    prob: pulp.LpProblem
    cash: object
    gap: object | None
    share: dict
    take: dict
    cost: object
    scaled: Scaled


def build_view(inst: Instance, *, with_shortfall: bool = False) -> ModelView:
    """`build`, with the variables named by meaning; `with_shortfall` frees z ≥ 0 (it is fixed at 0 otherwise)."""
    m = build(inst)
    d, cols = m.scaled, m.columns
    n, bins = len(d.quotes), np.flatnonzero(d.binary)
    gap = cols[1]
    if with_shortfall:
        gap.upBound = None
    cost = pulp.lpSum(float(c) * v for c, v in zip(numbers(d).cost, cols) if c != 0)
    return ModelView(m.prob, cols[0], gap if with_shortfall else None,
                     {q.quote_id: cols[2 + j] for j, q in enumerate(d.quotes)},
                     {d.quotes[j].quote_id: cols[2 + n + k] for k, j in enumerate(bins)}, cost, d)


def solution_from_columns(inst: Instance, d: Scaled, x: np.ndarray, *, seconds: float = 0.0,
                          check: bool = True) -> Solution:
    """A column vector of `numbers(d)` (model order, units of R) solved elsewhere → a Solution in JPY, re-checked
    by `verify` through `assemble` (the market solves many exchanges' `numbers` in one HiGHS model)."""
    cols = Columns(len(d.quotes), np.flatnonzero(d.binary))
    take_ids = [d.quotes[j].quote_id for j in cols.binaries]
    raw = _Raw(cash=max(float(x[0]), 0.0), share={q.quote_id: float(v) for q, v in zip(d.quotes, x[cols.shares()])},
               take={k: float(v) > 0.5 for k, v in zip(take_ids, x[cols.takes()])}, shortfall=max(float(x[1]), 0.0),
               objective=float("nan"), solve_seconds=seconds)
    return assemble(inst, raw, None, check=check)
