"""The regulatory tower as an LP (a MILP when a quote has a minimum line or a flat fee), written once.

docs/design.md §4 ("The model"), row by row: each family of rows is one function below (`funded_losses`, `credit_caps`,
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

import functools
import math
import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping, Sequence

import highspy
import numpy as np

from . import settings
from .domain import Eligibility, ExchangeProfile, Quote, Regime, recovery
from .regime import credit_factor, exempt_from_counterparty_cap, requirement
from .solution import Line, Mixes, Solution, SolveError, verify, verify_many

if TYPE_CHECKING:  # PuLP, with the log parsers it imports (~0.2 s), is imported where a PuLP model is built
    import pulp

# ---------------------------------------------------------------------------------------------- tolerances
# All in units of R (the LP's scale), so each means the same for a ¥1m and a ¥1tn requirement.
ZERO_SHARE = 1e-9        # a share below this is reported as not bought (HiGHS's feasibility tolerance is 1e-7)
ZERO_SHORTFALL = 1e-9    # a least shortfall below this is no shortfall (solver noise on a compliant mix)
SHORTFALL_SLACK = 1e-12  # phase 3 may use this much more shortfall than phase 2 found (keeps it feasible)
BINDING = 1e-7           # a limit is reported as binding when the mix is within this of it
FEASIBILITY = 1e-10      # primal and dual feasibility when re-using a basis — far tighter than HiGHS's 1e-7, so a
OPTIMALITY = 1e-10       # re-used basis is a vertex that is feasible and optimal to 1e-10 of R, never a near one a
                         # fresh solve would improve on (the marginal cost differences steps of 1e-6 of R)
SAME_MATRIX = 1e-12      # coefficients this close (a·R/R rounding) count as one matrix when re-using a basis
KEEP_BASES = 8           # optimal bases kept per model for re-use across a batch
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
        if credit is not None and len(offered) == len(quotes) == len(credit):
            return cls(profile, tuple(quotes), regime, r, credit)  # every quote offered: share the caller's κ
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

@functools.lru_cache(maxsize=65_536)
def _safe(text: str) -> str:
    """A name fit for an LP file (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


@dataclass(frozen=True)
class Scaled:
    """One instance in units of R — or a stack of instances with the same structure, every per-instance array
    then carrying a leading axis (`batch`); arrays run over the eligible quotes in offer order."""

    quotes: tuple[Quote, ...]
    unit: np.ndarray           # R in yen (1 when R is 0): shape `batch`
    top: np.ndarray            # R in units of R: 1 (0 when R is 0): shape `batch`
    kappa: np.ndarray          # κ_j
    attach: np.ndarray         # a_j                                                       (batch × quotes)
    limit: np.ndarray          # l_j (a requirement-basis layer's capped at max_limit_jpy) (batch × quotes)
    premium: np.ndarray        # annual premium of a 100% line: multiplier × ROL × (1 + fronting fee) × l_j
    fee: np.ndarray            # flat fee if taken at all                                  (batch × quotes)
    max_share: np.ndarray
    min_share: np.ndarray
    binary: np.ndarray         # True for quotes with a yes/no decision (minimum line or flat fee)
    derivative: np.ndarray     # True for derivative-style cover
    carry: np.ndarray          # annual cost of a unit of cash: shape `batch`
    liquid: np.ndarray         # most cash available (inf: no limit): shape `batch`
    points: np.ndarray         # loss levels where retained loss can kink, clipped to [0, top] (batch × points)
    point_names: tuple[str, ...]
    groups: tuple[str, ...]    # perils covered by the same quotes share their rows: one name per group
    covers: np.ndarray         # groups × quotes: 1 where the quote covers the group's perils
    counterparties: tuple[str, ...]
    of_counterparty: np.ndarray  # counterparties × quotes: 1 where the quote counts against that cap
    eligibility: Eligibility

    @property
    def batch(self) -> tuple[int, ...]:
        """() for one instance, (N,) for a stack of N."""
        return self.top.shape

    @classmethod
    def of(cls, inst: Instance) -> "Scaled":
        p = inst.profile
        return cls._make(inst.eligible, inst, np.float64(inst.requirement_jpy), np.float64(p.premium_multiplier),
                         np.float64(p.carry), np.float64(p.liquid_capital_jpy))

    @classmethod
    def stack(cls, insts: Sequence[Instance]) -> "Scaled":
        """Many instances of one structure (same eligible quotes and regime) as one batch."""
        first, N = insts[0], len(insts)
        col = lambda get: np.fromiter((get(i) for i in insts), float, N)  # noqa: E731
        return cls._make(first.eligible, first, col(lambda i: i.requirement_jpy),
                         col(lambda i: i.profile.premium_multiplier), col(lambda i: i.profile.carry),
                         col(lambda i: i.profile.liquid_capital_jpy))

    @classmethod
    def _make(cls, quotes: tuple[Quote, ...], inst: Instance, R: np.ndarray, multiplier: np.ndarray,
              carry: np.ndarray, liquid: np.ndarray) -> "Scaled":
        u = np.where(R > 0, R, 1.0)
        n, per = len(quotes), u[..., None]

        def by_quote(get) -> np.ndarray:  # per instance and quote: batch × quotes
            return np.stack([np.broadcast_to(get(q), R.shape) for q in quotes], axis=-1) if n else \
                np.zeros(R.shape + (0,))

        def arr(values) -> np.ndarray:
            return np.fromiter(values, float, n)

        attach = by_quote(lambda q: q.attachment_jpy(R)) / per
        limit = by_quote(lambda q: q.limit_jpy(R)) / per
        top = R / u
        # Breakpoints are keyed by what they stand for (R, each quote's attachment and exhaustion), so a new R
        # moves them without changing the set of rows; one outside [0, R] repeats the row at 0 or at R.
        points = np.clip(np.concatenate([top[..., None], attach, attach + limit], axis=-1), 0.0, top[..., None])
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
            premium=multiplier[..., None] * arr(q.premium_rate for q in quotes) * limit,
            fee=arr(q.fixed_fee_jpy for q in quotes) / per,
            max_share=arr(q.max_share for q in quotes), min_share=arr(q.min_share for q in quotes),
            binary=np.array([q.needs_binary for q in quotes], dtype=bool),
            derivative=np.array([q.is_derivative for q in quotes], dtype=bool),
            carry=carry, liquid=liquid / u,
            points=points, point_names=names,
            groups=tuple("+".join(by_set[s]) for s in sets),
            covers=np.array(sets, dtype=float).reshape(len(sets), n),
            counterparties=tuple(capped),
            of_counterparty=np.array([[q.counterparty == c and not exempt_from_counterparty_cap(q) for q in quotes]
                                      for c in capped], dtype=float).reshape(len(capped), n),
            eligibility=inst.regime.eligibility,
        )

    def credit_at(self, x: np.ndarray | float) -> np.ndarray:
        """κ_j·r_j(x): regulatory credit of a 100% line of each quote for losses x (shape `batch` + (k,)) →
        batch × k × quotes."""
        x = np.asarray(x, dtype=float)
        return self.kappa * recovery(x[..., None], self.attach[..., None, :], self.limit[..., None, :])

    def credit_at_top(self) -> np.ndarray:
        """κ_j·r_j(R) for each quote: batch × quotes."""
        return self.kappa * recovery(self.top[..., None], self.attach, self.limit)

    def structure(self) -> tuple:
        """What fixes the set of rows and columns; instances with the same structure share one HiGHS model."""
        return (tuple(q.quote_id for q in self.quotes), self.binary.tobytes(), self.groups, self.covers.tobytes(),
                self.counterparties, self.of_counterparty.tobytes())

    def same_rows(self) -> bool:
        """A stack whose instances have the same rows (requirement-basis layers: attachments and limits in units
        of R do not depend on R) — their A and row bounds are computed once."""
        if not self.batch or self.batch[0] == 0:
            return False
        return bool(np.ptp(self.top) == 0 and (np.ptp(self.attach, axis=0) <= SAME_MATRIX).all()
                    and (np.ptp(self.limit, axis=0) <= SAME_MATRIX).all())

    def one(self, k: int) -> "Scaled":
        """Instance k of a stack, as a single instance."""
        per = ("unit", "top", "attach", "limit", "premium", "fee", "carry", "liquid", "points")
        return replace(self, **{f: getattr(self, f)[k] for f in per})


# ---------------------------------------------------------------------------------------------- the rows

INF = highspy.kHighsInf


@dataclass(frozen=True)
class Rows:
    """A family of rows: lower ≤ cash·C + gap·z + share·s + take·y ≤ upper, one entry per row (units of R);
    for a stack of instances every array has the stack's leading axis."""

    names: tuple[str, ...]
    cash: np.ndarray    # batch × rows
    gap: np.ndarray
    share: np.ndarray   # batch × rows × quotes
    take: np.ndarray    # batch × rows × quotes (columns of quotes without a binary stay 0)
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, names, d: Scaled, *, cash=0.0, gap=0.0, share=None, take=None, lower=-INF, upper=INF) -> "Rows":
        """Row values broadcast to batch × rows (× quotes): a per-instance number is given as batch + (1,)."""
        m, n, b = len(names), len(d.quotes), d.batch
        full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), b + (m,))  # noqa: E731
        grid = lambda v: np.broadcast_to(np.asarray(0.0 if v is None else v, dtype=float), b + (m, n))  # noqa: E731
        return cls(tuple(names), full(cash), full(gap), grid(share), grid(take), full(lower), full(upper))

    @staticmethod
    def stack(blocks: Sequence["Rows"]) -> "Rows":
        def cat(f: str, axis: int) -> np.ndarray:
            return np.concatenate([getattr(b, f) for b in blocks], axis=axis)
        return Rows(tuple(n for b in blocks for n in b.names), cat("cash", -1), cat("gap", -1), cat("share", -2),
                    cat("take", -2), cat("lower", -1), cat("upper", -1))


def funded_losses(d: Scaled) -> Rows:
    """docs/design.md §4, row family 1. Every loss up to R is funded, for every peril p:

        x − Σ_{j covers p} κ_j·s_j·r_j(x) ≤ C + z     ⇔     C + z + Σ_{j covers p} κ_j·r_j(x)·s_j ≥ x

    at each breakpoint x ∈ {R} ∪ {a_j, a_j + l_j} (retained loss is piecewise linear with kinks only there, so
    these rows are exact: no gap between cash and the first layer). z is the shortfall (fixed at 0 unless no
    compliant mix exists). Perils covered by the same quotes give the same rows: one block per peril group.
    """
    credit = d.credit_at(d.points)  # batch × points × quotes
    return Rows.stack([Rows.of([f"funded_{_safe(group)}_at_{p}" for p in d.point_names], d, cash=1.0, gap=1.0,
                               share=credit * d.covers[g], lower=d.points)
                       for g, group in enumerate(d.groups)])


def credit_caps(d: Scaled) -> Rows:
    """docs/design.md §4, row family 2. Regulatory caps on credit, where the credit of quote j is κ_j·s_j·r_j(R):

        C + z ≥ min_cash_share·R
        Σ_{j insurance} κ_j·r_j(R)·s_j ≤ max_insurance_share·R
        Σ_{j derivative} κ_j·r_j(R)·s_j ≤ max_derivative_share·R
    """
    e, full, top = d.eligibility, d.credit_at_top()[..., None, :], d.top[..., None]
    return Rows.stack([
        Rows.of(["min_cash"], d, cash=1.0, gap=1.0, lower=e.min_cash_share * top),
        Rows.of(["insurance_cap"], d, share=full * ~d.derivative, upper=e.max_insurance_share * top),
        Rows.of(["derivative_cap"], d, share=full * d.derivative, upper=e.max_derivative_share * top),
    ])


def counterparty_caps(d: Scaled) -> Rows:
    """docs/design.md §4, row family 2. Credit from any one counterparty c ≤ max_counterparty_share·R (collateralized derivatives exempt):

        Σ_{j of c} κ_j·r_j(R)·s_j ≤ max_counterparty_share·R
    """
    return Rows.of([f"counterparty_cap_{_safe(c)}" for c in d.counterparties], d,
                   share=d.of_counterparty * d.credit_at_top()[..., None, :],
                   upper=d.eligibility.max_counterparty_share * d.top[..., None])


def min_lines(d: Scaled) -> Rows:
    """docs/design.md §4, row family 4. MILP links for quotes with a minimum line or a flat fee (y_j ∈ {0, 1}):

        s_j − min_share_j·y_j ≥ 0        s_j − max_share_j·y_j ≤ 0
    """
    n, js = len(d.quotes), np.flatnonzero(d.binary)
    eye = np.eye(n)[js]
    return Rows.stack([
        Rows.of([f"min_line_{_safe(d.quotes[j].quote_id)}" for j in js], d, share=eye, take=-eye * d.min_share,
                lower=0.0),
        Rows.of([f"max_line_{_safe(d.quotes[j].quote_id)}" for j in js], d, share=eye, take=-eye * d.max_share,
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
            lower[..., cols.takes().start + k] = upper[..., cols.takes().start + k] = float(fixed_take[j])
    return Numbers(A, rows.lower, rows.upper, cost, lower, upper, rows.names,
                   np.arange(cols.takes().start, cols.count), shared)


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
    """The PuLP model of docs/design.md §4 for one instance, in units of R, rows named by meaning."""
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


def run_highs(h: highspy.Highs) -> None:
    """`h.run()`, once more if HiGHS refused to start: its thread scheduler is one per process, and when other code
    in the process (a user's script, a test) started it with another `threads` setting, a run with ours returns
    an error before solving (model status "Not Set"). Resetting the scheduler lets ours start it afresh."""
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kNotset:
        highspy.Highs.resetGlobalScheduler(True)
        h.run()


def highs_options(time_limit: float | None = None) -> dict:
    """HiGHS's options with the project's settings (settings.py): output off, threads, gaps, tolerances, time."""
    return {"output_flag": False, "log_to_console": False, "threads": settings.THREADS,
            "mip_rel_gap": settings.MIP_GAP_REL, "mip_abs_gap": settings.MIP_GAP_ABS,
            "time_limit": float(settings.TIME_LIMIT_SECONDS if time_limit is None else time_limit),
            "primal_feasibility_tolerance": settings.PRIMAL_FEASIBILITY,
            "dual_feasibility_tolerance": settings.DUAL_FEASIBILITY,
            "mip_feasibility_tolerance": settings.MIP_FEASIBILITY}


def highs_solver(time_limit: float | None = None) -> pulp.HiGHS:
    """PuLP's HiGHS interface with the same settings (for the PuLP model a user solves or exports)."""
    import pulp

    return pulp.HiGHS(msg=False, gapRel=settings.MIP_GAP_REL, gapAbs=settings.MIP_GAP_ABS, threads=settings.THREADS,
                      timeLimit=settings.TIME_LIMIT_SECONDS if time_limit is None else time_limit,
                      primal_feasibility_tolerance=settings.PRIMAL_FEASIBILITY,
                      dual_feasibility_tolerance=settings.DUAL_FEASIBILITY,
                      mip_feasibility_tolerance=settings.MIP_FEASIBILITY)


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
    """One structure's HiGHS instance and the numbers it holds now.

    HiGHS is handed the matrix of `numbers()` — the numbers `_model_from` writes into the PuLP model, in the same
    row and column order (tests/test_model.py checks that PuLP's own HiGHS model holds the same matrix) — without
    building the PuLP expressions, which cost more than a whole chunk of re-solves."""

    def __init__(self, num: Numbers, time_limit: float | None, relaxed: bool = False):
        """`relaxed`: the yes/no columns are continuous in [0, 1] (for LPs whose yes/no columns are fixed)."""
        quiet_highs()
        self.h = h = highspy.Highs()
        for option, value in highs_options(time_limit).items():
            h.setOptionValue(option, value)
        m, c = num.A.shape
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = c, m
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = num.cost, num.col_lower, num.col_upper
        lp.row_lower_, lp.row_upper_ = num.row_lower, num.row_upper
        rows, cols = np.nonzero(num.A.T)  # column-wise: entries of column 0, then column 1, …
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=c))]).astype(np.int32)
        lp.a_matrix_.index_ = cols.astype(np.int32)
        lp.a_matrix_.value_ = num.A.T[rows, cols]
        if len(num.integer) and not relaxed:
            integrality = np.full(c, highspy.HighsVarType.kContinuous)
            integrality[num.integer] = highspy.HighsVarType.kInteger
            lp.integrality_ = list(integrality)
        h.passModel(lp)
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
        old, h = self.num, self.h
        if num.A.shape != old.A.shape:
            raise SolveError("internal: a re-solve changed the shape of the model")
        rows, cols = np.nonzero(num.A != old.A)
        for i, k in zip(rows.tolist(), cols.tolist()):
            h.changeCoeff(i, k, float(num.A[i, k]))
        changed = np.flatnonzero((num.row_lower != old.row_lower) | (num.row_upper != old.row_upper))
        if changed.size:
            h.changeRowsBounds(changed.size, changed.astype(np.int32), num.row_lower[changed], num.row_upper[changed])
        changed = np.flatnonzero(num.cost != old.cost)
        if changed.size:
            h.changeColsCost(changed.size, changed.astype(np.int32), num.cost[changed])
        changed = np.flatnonzero((num.col_lower != old.col_lower) | (num.col_upper != old.col_upper))
        if changed.size:
            h.changeColsBounds(changed.size, changed.astype(np.int32), num.col_lower[changed], num.col_upper[changed])
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
        run_highs(h)
        status = h.getModelStatus()
        has_solution = h.getInfo().primal_solution_status == 2  # a feasible point is known
        x = np.asarray(h.getSolution().col_value) if has_solution else None
        if status == highspy.HighsModelStatus.kOptimal:
            if not self.mip:
                b = h.getBasis()
                cs = np.array([int(s) for s in b.col_status])
                rs = np.array([int(s) for s in b.row_status])
                self.basis = (cs, rs) if b.valid else None
                if self.basis is not None:
                    self.remember(self.basis)
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
NODES = "branch-and-bound nodes (instances × nodes, MILP sheets in a batch)"
MAX_PATTERN_BINARIES = 12  # a batch branches and bounds over up to this many yes/no quotes; above, HiGHS's MIP
INTEGRALITY = 1e-9         # a yes/no column this close to 0 or 1 counts as decided


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


    # -------------------------------------------------------------- many instances of one structure at once
    def solve_many(self, insts: Sequence[Instance], *, marginal: bool = True) -> tuple[Mixes, np.ndarray]:
        """`solve` for many instances of one structure at once — a batch's chunk.

        The yes/no decisions of a MILP sheet with at most MAX_PATTERN_BINARIES of them are found by branch and
        bound on the kept LP (`_branch_and_bound`), each node one LP for all the instances still open at it. Every
        LP is solved for the whole stack by re-using known optimal bases (`certify_many`) and running the simplex,
        warm, only for the instances no known basis fits; every new basis is then tried on the rest. The
        marginal cost re-solves the stack at R + step with each instance's yes/no values held. Every mix is
        re-checked by the independent `verify_many`.

        Returns the verified mixes and the positions of the instances this path left to `solve` one by one
        (a shortfall, more yes/no quotes than MAX_PATTERN_BINARIES, a mix the check refused).
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
        mc = np.full(N, np.nan)
        if marginal and found.any():
            step = d.unit * MARGINAL_STEP
            idx = np.flatnonzero(found)
            bumped = Scaled.stack([replace(insts[i], requirement_jpy=insts[i].requirement_jpy + step[i]) for i in idx])
            bnum = numbers(bumped)
            for pattern in np.unique(best_pattern[idx]):
                sub = np.flatnonzero(best_pattern[idx] == pattern)
                status, x = self._lp_many(kept, _fixed(_take(bnum, sub), _bits(pattern, len(bins))))
                at = idx[sub]
                cost_b = np.einsum("ic,ic->i", bnum.cost[sub], x)
                mc[at] = np.where(status == 1, (cost_b * bumped.unit[sub] - best_cost[at] * d.unit[at]) / step[at],
                                  np.nan)
            found &= np.isfinite(mc)
        idx = np.flatnonzero(found)
        mixes = _mixes(d, idx, [insts[i] for i in idx], best_x[idx], mc[idx] if marginal else None,
                       (time.perf_counter() - started) / N)
        problems = verify_many(mixes)
        good = np.array([not p for p in problems], dtype=bool)
        return mixes.subset(good), np.sort(np.concatenate([np.flatnonzero(~found), idx[~good]]))

    def lp_many(self, d: Scaled, num: Numbers) -> tuple[np.ndarray, np.ndarray]:
        """The LP `num` for every instance of a stack of `d`'s structure, whose costs or bounds the caller has
        changed (the market's priced chunks), yes/no columns fixed or relaxed to [0, 1]: (status per instance,
        1 optimal, 0 infeasible, −1 not solved; x in units of each instance's R). Known optimal bases first
        (`certify_many`), the warm simplex only for the instances none of them fits."""
        return self._lp_many(self._relaxed_for(d), num)

    def _branch_and_bound(self, kept: "_Kept", num: Numbers, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every instance of the stack, the MILP's optimum by branch and bound on the kept LP (yes/no columns
        relaxed to [0, 1]): the least cost, its x and its pattern of yes/no values (cost inf where infeasible).

        Every node is one LP solved for all the instances still open at it (`_lp_many`: known bases first); an
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
                return np.isfinite(best) & (cost >= best - 1e-12 * np.maximum(np.abs(best), 1.0))

        nodes = [(np.full(k, -1.0), np.arange(N), np.full(N, -np.inf))]  # (fixings, members, parent bound)
        while nodes:
            fix, members, bound = nodes.pop()
            keep = ~beaten(bound, members)
            members, bound = members[keep], bound[keep]
            if not members.size:
                continue
            status, x = self._lp_many(kept, _fixed_some(num, fix), members)
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

    def _lp_many(self, kept: "_Kept", num: Numbers, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
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


def _mixes(d: Scaled, idx: np.ndarray, insts: Sequence[Instance], x: np.ndarray, marginal: np.ndarray | None,
           seconds: float) -> Mixes:
    """`assemble` for the instances `idx` of a stack: solver values (units of R) → Mixes in JPY, shares snapped
    onto the bounds of their lines as `assemble` does."""
    u = d.unit[idx]
    n, bins = len(d.quotes), np.flatnonzero(d.binary)
    cols = Columns(n, bins)
    share = x[:, cols.shares()].copy()
    share[share <= ZERO_SHARE] = 0.0
    if len(bins):
        off = x[:, cols.takes()] <= 0.5
        share[:, bins] = np.where(off, 0.0, share[:, bins])
    share = np.where(share > 0, np.clip(share, d.min_share, d.max_share), 0.0)
    return Mixes(
        profiles=[i.profile for i in insts], regime=insts[0].regime if insts else None,
        offered=insts[0].quotes if insts else (), quotes=d.quotes, credit=d.kappa,
        requirement=np.fromiter((i.requirement_jpy for i in insts), float, len(insts)),
        cash=np.maximum(x[:, 0], 0.0) * u, share=share,
        marginal=np.full(len(insts), np.nan) if marginal is None else marginal, solve_seconds=seconds)


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
    return Numbers(pick(num.A), pick(num.row_lower), pick(num.row_upper), num.cost[idx], num.col_lower[idx],
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


def _model_from(d: Scaled) -> TowerModel:
    """`build` for scaled data already at hand."""
    import pulp

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


def binding_many(m: Mixes) -> list[str]:
    """`_binding` for many mixes at once: per exchange, the limits that hold its answer, joined with ";"."""
    N = len(m)
    if N == 0:
        return []
    elig, R, cash = m.regime.eligibility, m.requirement, m.cash
    tol = BINDING * np.where(R > 0, R, 1.0)
    labels: list[str] = []
    masks: list[np.ndarray] = []

    def add(label: str, mask: np.ndarray) -> None:
        labels.append(label)
        masks.append(mask)

    liquid = m._per("liquid_capital_jpy")
    add("liquid_capital", np.isfinite(liquid) & (cash >= liquid - tol))
    if elig.min_cash_share > 0:
        add("min_cash_share", cash <= elig.min_cash_share * R + tol)
    credit = m.line_credit
    derivative = np.array([q.is_derivative for q in m.quotes], dtype=bool)
    if (~derivative).any():
        add("max_insurance_share", credit[:, ~derivative].sum(axis=1) >= elig.max_insurance_share * R - tol)
    if derivative.any():
        add("max_derivative_share", credit[:, derivative].sum(axis=1) >= elig.max_derivative_share * R - tol)
    for name in sorted({q.counterparty for q in m.quotes if not exempt_from_counterparty_cap(q)}):
        of = np.array([q.counterparty == name and not exempt_from_counterparty_cap(q) for q in m.quotes])
        total = credit[:, of].sum(axis=1)
        add(f"max_counterparty_share:{name}", (total > 0) & (total >= elig.max_counterparty_share * R - tol))
    for j, q in enumerate(m.quotes):
        if q.max_share > 0:
            add(f"capacity:{q.quote_id}", m.share[:, j] >= q.max_share - ZERO_SHARE)
    on = np.stack(masks, axis=1)
    return [";".join(labels[k] for k in np.flatnonzero(row)) if row.any() else "" for row in on]


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
    quote_id, and the cost expression of the objective (docs/design.md §4)."""

    prob: pulp.LpProblem
    cash: object
    gap: object | None
    share: dict
    take: dict
    cost: object
    scaled: Scaled


def build_view(inst: Instance, *, with_shortfall: bool = False) -> ModelView:
    """`build`, with the variables named by meaning; `with_shortfall` frees z ≥ 0 (it is fixed at 0 otherwise)."""
    import pulp

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


def solutions_from_columns_many(insts: Sequence[Instance], xs: Sequence[np.ndarray], *,
                                seconds: float = 0.0) -> list[Solution]:
    """`solution_from_columns` for many exchanges at once (the market's 100,000): exchanges with the same eligible
    quotes are stacked into `Mixes` and re-checked by the vectorised, independent `verify_many`; a mix with a
    shortfall, or one that check refuses, goes through `assemble` and `verify` on its own."""
    out: list[Solution | None] = [None] * len(insts)
    groups: dict[tuple[str, ...], list[int]] = {}
    alone: list[int] = []
    for i, (inst, x) in enumerate(zip(insts, xs)):
        if x[1] > ZERO_SHORTFALL:
            alone.append(i)
        else:
            groups.setdefault(tuple(q.quote_id for q in inst.eligible), []).append(i)
    for members in groups.values():
        sub = [insts[i] for i in members]
        m = _mixes(Scaled.stack(sub), np.arange(len(sub)), sub, np.stack([xs[i] for i in members]), None, seconds)
        problems, marks = verify_many(m), binding_many(m)
        for k, i in enumerate(members):
            if problems[k]:
                alone.append(i)
            else:
                out[i] = replace(m.solution(k), binding=tuple(b for b in marks[k].split(";") if b))
    for i in alone:
        out[i] = solution_from_columns(insts[i], Scaled.of(insts[i]), xs[i], seconds=seconds)
    return out  # type: ignore[return-value]
