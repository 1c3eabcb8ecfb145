"""Result assembly: HiGHS's values (units of R, in the column layout) → a Solution in JPY with its binding limits,
re-checked by the independent `verify` (or, for a stack of exchanges, `Mixes` and `verify_many`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from ..domain import line_cost_jpy, line_credit_jpy
from ..regime import all_cash_reserve, exempt_from_counterparty_cap
from ..settings import BINDING, ZERO_SHARE, ZERO_SHORTFALL
from ..solution import Holding, Line, Mixes, Solution, SolveError, verify, verify_many
from .columns import CASH, SHORTFALL, Columns
from .scaled import Instance, Scaled

Status = str  # "optimal" | "shortfall" | "time_limit"


@dataclass(frozen=True)
class Raw:
    """Solver values in units of R."""

    cash: float
    share: dict           # quote_id → share
    take: dict            # quote_id → bool, for yes/no quotes
    shortfall: float
    objective: float
    solve_seconds: float
    status: Status = "optimal"
    amount: dict = field(default_factory=dict)  # asset_id → amount held or committed (units of R)



def mixes_of(d: Scaled, idx: np.ndarray, insts: Sequence[Instance], x: np.ndarray, marginal: np.ndarray | None,
           seconds: float) -> Mixes:
    """`assemble` for the instances `idx` of a stack: solver values (units of R) → Mixes in JPY, shares snapped
    onto the bounds of their lines as `assemble` does."""
    u = d.unit[idx]
    bins = np.flatnonzero(d.binary)
    cols = Columns.of_scaled(d)
    share = x[:, cols.shares()].copy()
    share[share <= ZERO_SHARE] = 0.0
    if len(bins):
        off = x[:, cols.takes()] <= 0.5
        share[:, bins] = np.where(off, 0.0, share[:, bins])
    share = np.where(share > 0, np.clip(share, d.min_share, d.max_share), 0.0)
    amount = np.maximum(x[:, cols.assets()], 0.0)
    amount[amount <= ZERO_SHARE] = 0.0
    amount = np.minimum(amount, d.asset_upper[idx] if np.ndim(d.asset_upper) == 2 else d.asset_upper) * u[:, None]
    return Mixes(
        profiles=[i.profile for i in insts], regime=insts[0].regime if insts else None,
        offered=insts[0].quotes if insts else (), quotes=d.quotes, credit=d.kappa,
        requirement=np.fromiter((i.requirement_jpy for i in insts), float, len(insts)),
        cash=np.maximum(x[:, CASH], 0.0) * u, share=share,
        marginal=np.full(len(insts), np.nan) if marginal is None else marginal, solve_seconds=seconds,
        assets=d.assets, asset_credit=d.asset_credit, amount=amount if d.assets else None,
        offered_assets=insts[0].assets if insts else (), asset_kappa=dict(insts[0].asset_credit) if insts else {})



def binding(inst: Instance, cash: float, shares: Mapping[str, float],
            amounts: Mapping[str, float] | None = None) -> list[str]:
    """Which limits hold the answer where it is (liquid capital, caps, capacity); `amounts`: the reserve assets
    held or committed (JPY, by asset_id)."""
    prof, elig, R = inst.profile, inst.regime.eligibility, inst.requirement_jpy
    tol = BINDING * inst.unit
    out: list[str] = []
    held = [(a, (amounts or {}).get(a.asset_id, 0.0), a.credit_per_yen(inst.asset_credit[a.asset_id]))
            for a in inst.eligible_assets]
    tied = cash + sum(v for a, v, _ in held if a.funded)
    if not math.isinf(prof.liquid_capital_jpy) and tied >= prof.liquid_capital_jpy - tol:
        out.append("liquid_capital")
    if elig.min_cash_share > 0 and cash + sum(c * v for a, v, c in held if a.funded) <= elig.min_cash_share * R + tol:
        out.append("min_cash_share")
    by_kind = {False: 0.0, True: 0.0}      # credit by "is derivative"
    kinds_offered = set()
    by_counterparty: dict[str, float] = {}
    capacity = []
    by_asset_kind: dict[str, float] = {}
    for a, v, c in held:
        by_asset_kind[a.kind] = by_asset_kind.get(a.kind, 0.0) + c * v
        if a.counterparty:
            by_counterparty[a.counterparty] = by_counterparty.get(a.counterparty, 0.0) + c * v
        if math.isfinite(a.max_amount_jpy) and v >= a.max_amount_jpy - tol:
            capacity.append(f"capacity:{a.asset_id}")
    for q in inst.eligible:
        share = shares.get(q.quote_id, 0.0)
        credit = float(line_credit_jpy(inst.credit[q.quote_id], share, q.attachment_jpy(R), q.limit_jpy(R), R))
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
    # a kind allowed no credit at all is its assets' reason (reasons.asset_reason), not a limit that binds
    out += [f"max_share.{k}" for k, total in by_asset_kind.items()
            if elig.max_asset_share(k) > 0 and total >= elig.max_asset_share(k) * R - tol]
    out += [f"max_counterparty_share:{name}" for name, total in sorted(by_counterparty.items())
            if total > 0 and total >= elig.max_counterparty_share * R - tol]
    return out + capacity


def binding_many(m: Mixes) -> list[str]:
    """`binding` for many mixes at once: per exchange, the limits that hold its answer, joined with ";"."""
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
    funded = np.array([a.funded for a in m.assets], dtype=bool)
    held_credit = m.held * m.asset_credit
    add("liquid_capital", np.isfinite(liquid) & (cash + m.held[:, funded].sum(axis=1) >= liquid - tol))
    if elig.min_cash_share > 0:
        add("min_cash_share", cash + held_credit[:, funded].sum(axis=1) <= elig.min_cash_share * R + tol)
    credit = m.line_credit
    derivative = np.array([q.is_derivative for q in m.quotes], dtype=bool)
    if (~derivative).any():
        add("max_insurance_share", credit[:, ~derivative].sum(axis=1) >= elig.max_insurance_share * R - tol)
    if derivative.any():
        add("max_derivative_share", credit[:, derivative].sum(axis=1) >= elig.max_derivative_share * R - tol)
    for kind in dict.fromkeys(a.kind for a in m.assets if elig.max_asset_share(a.kind) > 0):
        of = np.array([a.kind == kind for a in m.assets], dtype=bool)
        add(f"max_share.{kind}", held_credit[:, of].sum(axis=1) >= elig.max_asset_share(kind) * R - tol)
    for name in sorted({q.counterparty for q in m.quotes if not exempt_from_counterparty_cap(q)}
                       | {a.counterparty for a in m.assets if a.counterparty}):
        of = np.array([q.counterparty == name and not exempt_from_counterparty_cap(q) for q in m.quotes], dtype=bool)
        of_a = np.array([a.counterparty == name for a in m.assets], dtype=bool)
        total = credit[:, of].sum(axis=1) + held_credit[:, of_a].sum(axis=1)
        add(f"max_counterparty_share:{name}", (total > 0) & (total >= elig.max_counterparty_share * R - tol))
    for j, q in enumerate(m.quotes):
        if q.max_share > 0:
            add(f"capacity:{q.quote_id}", m.share[:, j] >= q.max_share - ZERO_SHARE)
    for k, a in enumerate(m.assets):
        if math.isfinite(a.max_amount_jpy):
            add(f"capacity:{a.asset_id}", m.held[:, k] >= a.max_amount_jpy - tol)
    on = np.stack(masks, axis=1)
    return [";".join(labels[k] for k in np.flatnonzero(row)) if row.any() else "" for row in on]


def assemble(inst: Instance, raw: Raw, marginal_cost: float | None, *, check: bool = True) -> Solution:
    """Solver values (scaled) → a Solution in JPY, re-checked by `verify` unless check=False."""
    u, R = inst.unit, inst.requirement_jpy
    # A yes/no quote is bought only if its binary is on (integrality is met to a tolerance, so a binary of 1e-8
    # could otherwise let a sliver of share through below the minimum line).
    shares = {k: (v if v > ZERO_SHARE and raw.take.get(k, True) else 0.0) for k, v in raw.share.items()}
    for q in inst.eligible:  # snap solver noise (settings.PRIMAL_FEASIBILITY) onto the bounds of the line
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
            credit_jpy=float(line_credit_jpy(inst.credit[q.quote_id], s, q.attachment_jpy(R), limit, R)),
            annual_cost_jpy=float(line_cost_jpy(prof.premium_multiplier, q.premium_rate, limit, s, q.fixed_fee_jpy)),
            credit_factor=inst.credit[q.quote_id],
        ))
    holdings = []
    for a in inst.eligible_assets:
        v = raw.amount.get(a.asset_id, 0.0)
        if v <= ZERO_SHARE:
            continue
        v = min(v * u, a.max_amount_jpy)  # snap solver noise onto the asset's amount
        c = a.credit_per_yen(inst.asset_credit[a.asset_id])
        holdings.append(Holding(asset=a, amount_jpy=v, credit_jpy=c * v,
                                annual_cost_jpy=v * a.annual_cost_per_yen(prof), credit_factor=c))
    annual_cost = (prof.carry * cash + sum(line.annual_cost_jpy for line in lines)
                   + sum(h.annual_cost_jpy for h in holdings))
    cash_alone = all_cash_reserve(R, inst.regime)
    all_cash = prof.carry * cash_alone if cash_alone <= prof.liquid_capital_jpy else None
    status = raw.status if raw.status == "time_limit" else ("shortfall" if shortfall > 0 else "optimal")
    solution = Solution(
        profile=prof, regime=inst.regime, requirement_jpy=R, status=status,
        cash_reserve_jpy=cash, shortfall_jpy=shortfall, annual_cost_jpy=annual_cost,
        all_cash_cost_jpy=all_cash, marginal_cost_per_jpy=marginal_cost, lines=tuple(lines),
        offered=inst.quotes, credit=dict(inst.credit),
        binding=tuple(binding(inst, cash, shares, {h.asset.asset_id: h.amount_jpy for h in holdings})),
        solve_seconds=raw.solve_seconds,
        holdings=tuple(holdings), offered_assets=inst.assets, asset_credit=dict(inst.asset_credit),
    )
    if check:
        problems = verify(solution)
        if problems:
            raise SolveError("the optimal mix failed the independent check: " + "; ".join(problems[:3]))
    return solution



def solution_from_columns(inst: Instance, d: Scaled, x: np.ndarray, *, seconds: float = 0.0,
                          check: bool = True) -> Solution:
    """A column vector of `numbers(d)` (model order, units of R) solved elsewhere → a Solution in JPY, re-checked
    by `verify` through `assemble` (the market solves many exchanges' `numbers` in one HiGHS model)."""
    cols = Columns.of_scaled(d)
    take_ids = [d.quotes[j].quote_id for j in cols.binaries]
    raw = Raw(cash=max(float(x[CASH]), 0.0), share={q.quote_id: float(v) for q, v in zip(d.quotes, x[cols.shares()])},
               take={k: float(v) > 0.5 for k, v in zip(take_ids, x[cols.takes()])}, shortfall=max(float(x[SHORTFALL]), 0.0),
               objective=float("nan"), solve_seconds=seconds,
               amount={a.asset_id: float(v) for a, v in zip(d.assets, x[cols.assets()])})
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
        if x[SHORTFALL] > ZERO_SHORTFALL:
            alone.append(i)
        else:
            groups.setdefault(tuple(q.quote_id for q in inst.eligible), []).append(i)
    for members in groups.values():
        sub = [insts[i] for i in members]
        m = mixes_of(Scaled.stack(sub), np.arange(len(sub)), sub, np.stack([xs[i] for i in members]), None, seconds)
        problems, marks = verify_many(m), binding_many(m)
        for k, i in enumerate(members):
            if problems[k]:
                alone.append(i)
            else:
                out[i] = replace(m.solution(k), binding=tuple(b for b in marks[k].split(";") if b))
    for i in alone:
        out[i] = solution_from_columns(insts[i], Scaled.of(insts[i]), xs[i], seconds=seconds)
    return out  # type: ignore[return-value]
