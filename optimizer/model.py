"""The regulatory tower as an LP (a MILP when a quote has a minimum line or a flat fee).

Written to mirror DESIGN.md "The model" line by line. Solved with HiGHS through PuLP in *scaled units*:
every yen amount is divided by the requirement R, so the solver sees numbers near 1 whatever the
exchange's size (HiGHS's tolerances are absolute). Results are converted back to yen in `Solution`.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import pulp

from .domain import ExchangeProfile, Quote, Regime
from .regime import credit_factor, exempt_from_counterparty_cap, requirement
from .solution import Line, Solution, SolveError, verify

_MIP_GAP_REL = 1e-9  # small problems: prove optimality, an independent solver must find the same cost
_ZERO = 1e-9         # shares below this (in scaled units) are reported as not bought
MARGINAL_STEP = 1e-6  # the marginal cost of R is a forward difference over R × this


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

    @functools.cached_property
    def eligible(self) -> tuple[Quote, ...]:
        """Quotes that earn credit (κ > 0); the others are reported, never bought."""
        return tuple(q for q in self.quotes if self.credit[q.quote_id] > 0)

    @property
    def unit(self) -> float:
        """The scale of the LP: one unit is R yen (1 yen when R is 0)."""
        return self.requirement_jpy if self.requirement_jpy > 0 else 1.0


def recovery(x: float, attachment: float, limit: float) -> float:
    """r(x) = min(max(x − attachment, 0), limit): what a 100% line pays for a loss x."""
    return min(max(x - attachment, 0.0), limit)


def breakpoints(inst: Instance) -> list[float]:
    """Loss levels (scaled) where retained loss can kink: {R} ∪ {a_j, a_j + l_j in (0, R)}."""
    u, top = inst.unit, inst.requirement_jpy / inst.unit
    points = {top}
    for q in inst.eligible:
        a, l = q.attachment_jpy(inst.requirement_jpy) / u, q.limit_jpy(inst.requirement_jpy) / u
        points.update(x for x in (a, a + l) if 0 < x < top)
    return sorted(points)


_banner_lock = threading.Lock()
_banner_done = False


def _swallow_highs_banner() -> None:
    """HiGHS prints its banner on stdout once per process, even with msg=False; `--format json` must print
    exactly one JSON object. Create the first HiGHS instance with file descriptor 1 pointed at /dev/null."""
    global _banner_done
    with _banner_lock:
        if _banner_done:
            return
        import highspy

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


@dataclass
class _Model:
    prob: pulp.LpProblem
    cash: object
    share: dict
    take: dict
    gap: object | None
    cost: object


def _build(inst: Instance, *, with_shortfall: bool, fixed_take: Mapping[str, bool] | None = None) -> _Model:
    """The LP of DESIGN.md in units of R. `with_shortfall` adds z ≥ 0 to constraint 1 (and to the cash floor)."""
    prof, elig, R, u = inst.profile, inst.regime.eligibility, inst.requirement_jpy, inst.unit
    top = R / u
    quotes = inst.eligible
    kappa = {q.quote_id: inst.credit[q.quote_id] for q in quotes}
    attach = {q.quote_id: q.attachment_jpy(R) / u for q in quotes}
    limit = {q.quote_id: q.limit_jpy(R) / u for q in quotes}
    fixed_take = fixed_take or {}
    by_id = {q.quote_id: q for q in quotes}

    prob = pulp.LpProblem("reserve_tower", pulp.LpMinimize)
    # Variables: cash C ≥ 0 (3. C ≤ liquid_capital as its bound); share s_j ∈ [0, max_share_j]
    liquid = prof.liquid_capital_jpy / u
    cash = prob.add_variable("cash", lowBound=0, upBound=None if math.isinf(liquid) else liquid)
    share = {q.quote_id: prob.add_variable(f"share_{i}", lowBound=0, upBound=q.max_share)
             for i, q in enumerate(quotes)}
    # binary y_j only for quotes with min_share > 0 or fixed_fee > 0
    take = {q.quote_id: (fixed_take[q.quote_id] if q.quote_id in fixed_take
                         else prob.add_variable(f"take_{i}", cat=pulp.LpBinary))
            for i, q in enumerate(quotes) if q.needs_binary}
    gap = prob.add_variable("shortfall", lowBound=0) if with_shortfall else 0

    # Minimise carry·C + Σ premium_multiplier·ROL_j·limit_j·s_j + Σ fee_j·y_j
    cost = (prof.carry * cash
            + pulp.lpSum(prof.premium_multiplier * q.premium_rate * limit[q.quote_id] * share[q.quote_id]
                         for q in quotes)
            + pulp.lpSum((q.fixed_fee_jpy / u) * take[q.quote_id] for q in quotes if q.fixed_fee_jpy > 0))
    prob += cost

    def credit(q: Quote, x: float):
        """κ_j·s_j·r_j(x): regulatory credit of quote j for a loss x (scaled)."""
        return kappa[q.quote_id] * recovery(x, attach[q.quote_id], limit[q.quote_id]) * share[q.quote_id]

    # 1. Every loss up to R is funded, for every peril p: x − Σ_{j covers p} κ_j·s_j·r_j(x) ≤ C (+ z)
    #    (perils covered by the same quotes give the same rows: each distinct set is written once)
    covering_sets = {tuple(q.quote_id for q in quotes if q.covers(p)) for p in inst.regime.requirement.perils}
    for p_i, covering in enumerate(sorted(covering_sets)):
        for x_i, x in enumerate(breakpoints(inst)):
            prob += x - pulp.lpSum(credit(by_id[j], x) for j in covering
                                   if x > attach[j]) <= cash + gap, f"funded_{p_i}_{x_i}"

    # 2. Regulatory caps on credit (credit of quote j = κ_j·s_j·r_j(R))
    prob += cash + gap >= elig.min_cash_share * top, "min_cash"
    prob += pulp.lpSum(credit(q, top) for q in quotes if not q.is_derivative) <= elig.max_insurance_share * top, \
        "insurance_cap"
    prob += pulp.lpSum(credit(q, top) for q in quotes if q.is_derivative) <= elig.max_derivative_share * top, \
        "derivative_cap"
    capped = sorted({q.counterparty for q in quotes if not exempt_from_counterparty_cap(q)})
    for c_i, name in enumerate(capped):
        prob += pulp.lpSum(credit(q, top) for q in quotes
                           if q.counterparty == name and not exempt_from_counterparty_cap(q)) \
            <= elig.max_counterparty_share * top, f"counterparty_cap_{c_i}"

    # 4. MILP links: min_share_j·y_j ≤ s_j ≤ max_share_j·y_j
    for q in quotes:
        if q.needs_binary:
            prob += share[q.quote_id] >= q.min_share * take[q.quote_id], f"min_line_{q.quote_id}"
            prob += share[q.quote_id] <= q.max_share * take[q.quote_id], f"max_line_{q.quote_id}"
    return _Model(prob, cash, share, take, gap if with_shortfall else None, cost)


def _run(model: _Model) -> pulp.LpSolveStats:
    _swallow_highs_banner()
    solver = pulp.HiGHS(msg=False, gapRel=_MIP_GAP_REL, gapAbs=1e-12, threads=1)
    return model.prob.solve(solver)


@dataclass(frozen=True)
class _Raw:
    """Solver values in scaled units."""

    cash: float
    share: dict
    take: dict
    shortfall: float
    objective: float
    solve_seconds: float


def _optimise(inst: Instance, fixed_take: Mapping[str, bool] | None = None) -> _Raw:
    """Lexicographic: the cheapest mix with no shortfall; if none exists, the least shortfall, then the
    cheapest mix at that shortfall."""
    started = time.perf_counter()
    model = _build(inst, with_shortfall=False, fixed_take=fixed_take)
    stats = _run(model)
    if stats.status != pulp.LpSolveStatus.Optimal:
        if stats.status != pulp.LpSolveStatus.Infeasible:
            raise SolveError(f"HiGHS stopped with status {stats.status_str}")
        model = _build(inst, with_shortfall=True, fixed_take=fixed_take)
        model.prob.setObjective(1 * model.gap)
        stats = _run(model)
        if stats.status != pulp.LpSolveStatus.Optimal:
            raise SolveError(f"HiGHS stopped with status {stats.status_str} while minimising the shortfall")
        least = model.gap.value()
        model.prob += model.gap <= least + 1e-12, "least_shortfall"
        model.prob.setObjective(model.cost)
        stats = _run(model)
        if stats.status != pulp.LpSolveStatus.Optimal:
            raise SolveError(f"HiGHS stopped with status {stats.status_str} while costing the shortfall")

    def val(v) -> float:
        return float(v) if isinstance(v, (bool, int, float)) else float(v.value() or 0.0)

    return _Raw(
        cash=max(val(model.cash), 0.0),
        share={k: val(v) for k, v in model.share.items()},
        take={k: val(v) > 0.5 for k, v in model.take.items()},
        shortfall=max(val(model.gap), 0.0) if model.gap is not None else 0.0,
        objective=float(pulp.value(model.cost)),
        solve_seconds=time.perf_counter() - started,
    )


def _binding(inst: Instance, cash: float, shares: Mapping[str, float], shortfall: float) -> list[str]:
    """Which limits hold the answer where it is (liquid capital, caps, capacity)."""
    prof, elig, R = inst.profile, inst.regime.eligibility, inst.requirement_jpy
    tol = 1e-7 * inst.unit
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
        credit = inst.credit[q.quote_id] * share * recovery(R, q.attachment_jpy(R), q.limit_jpy(R))
        by_kind[q.is_derivative] += credit
        kinds_offered.add(q.is_derivative)
        if not exempt_from_counterparty_cap(q):
            by_counterparty[q.counterparty] = by_counterparty.get(q.counterparty, 0.0) + credit
        if q.max_share > 0 and share >= q.max_share - 1e-9:
            capacity.append(f"capacity:{q.quote_id}")
    if False in kinds_offered and by_kind[False] >= elig.max_insurance_share * R - tol:
        out.append("max_insurance_share")
    if True in kinds_offered and by_kind[True] >= elig.max_derivative_share * R - tol:
        out.append("max_derivative_share")
    out += [f"max_counterparty_share:{name}" for name, total in sorted(by_counterparty.items())
            if total > 0 and total >= elig.max_counterparty_share * R - tol]
    return out + capacity


def solve_instance(inst: Instance, *, marginal: bool = True, check: bool = True) -> Solution:
    """Optimise one instance and return a verified Solution (amounts in JPY)."""
    raw = _optimise(inst)
    return assemble(inst, raw, _marginal_cost(inst, raw) if marginal else None, check=check)


def assemble(inst: Instance, raw: "_Raw", marginal_cost: float | None, *, check: bool = True) -> Solution:
    """Solver values (scaled) → a Solution in JPY, re-checked by `verify` unless check=False."""
    u, R = inst.unit, inst.requirement_jpy
    # A yes/no quote is bought only if its binary is on (integrality is met to a tolerance, so a binary of 1e-8
    # could otherwise let a sliver of share through below the minimum line).
    shares = {k: (v if v > _ZERO and raw.take.get(k, True) else 0.0) for k, v in raw.share.items()}
    for q in inst.eligible:  # snap solver noise (feasibility tolerance 1e-7) onto the bounds of the line
        if shares[q.quote_id] > 0:
            shares[q.quote_id] = min(max(shares[q.quote_id], q.min_share), q.max_share)
    cash, shortfall = raw.cash * u, raw.shortfall * u
    if shortfall <= 1e-9 * u:
        shortfall = 0.0
    prof = inst.profile
    lines = []
    for q in inst.eligible:
        s = shares[q.quote_id]
        if s <= 0:
            continue
        limit = q.limit_jpy(R)
        taken_fee = q.fixed_fee_jpy if (s > 0) else 0.0
        lines.append(Line(
            quote=q, share=s, cover_jpy=s * limit,
            credit_jpy=inst.credit[q.quote_id] * s * recovery(R, q.attachment_jpy(R), limit),
            annual_cost_jpy=prof.premium_multiplier * q.premium_rate * limit * s + taken_fee,
            credit_factor=inst.credit[q.quote_id],
        ))
    annual_cost = prof.carry * cash + sum(line.annual_cost_jpy for line in lines)
    all_cash = prof.carry * R if R <= prof.liquid_capital_jpy else None
    solution = Solution(
        profile=prof, regime=inst.regime, requirement_jpy=R,
        status="shortfall" if shortfall > 0 else "optimal",
        cash_reserve_jpy=cash, shortfall_jpy=shortfall, annual_cost_jpy=annual_cost,
        all_cash_cost_jpy=all_cash, marginal_cost_per_jpy=marginal_cost, lines=tuple(lines),
        offered=inst.quotes, credit=dict(inst.credit),
        binding=tuple(_binding(inst, cash, shares, shortfall)),
        solve_seconds=raw.solve_seconds,
    )
    if check:
        problems = verify(solution)
        if problems:
            raise SolveError("the optimal mix failed the independent check: " + "; ".join(problems[:3]))
    return solution


def _marginal_cost(inst: Instance, raw: _Raw) -> float:
    """Cost of one more yen of R: a forward difference over a step of R·1e-6, with the yes/no choices of a
    MILP held at their optimum (the usual shadow price of a MILP). Exact for the LP away from kinks."""
    step = inst.unit * MARGINAL_STEP
    bumped = replace(inst, requirement_jpy=inst.requirement_jpy + step)
    fixed = {k: bool(v) for k, v in raw.take.items()}
    again = _optimise(bumped, fixed_take=fixed)
    return (again.objective * bumped.unit - raw.objective * inst.unit) / step


def solve(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, *, marginal: bool = True,
          check: bool = True) -> Solution:
    """The cheapest compliant mix for one exchange (or, if none exists, the smallest shortfall and its cost).

    Amounts in the returned Solution are in JPY. Raises SolveError only if HiGHS fails or the solution
    does not pass the independent check.
    """
    return solve_instance(Instance.build(profile, quotes, regime), marginal=marginal, check=check)
