"""Solution: the optimal mix in JPY, its views, and `verify()`, an independent check of the constraints."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from ._lazy import pandas as pd

from .domain import ExchangeProfile, Quote, Regime, ReserveAsset, line_cost_jpy, line_credit_jpy
from .regime import all_cash_reserve
from .settings import VERIFY_COST, VERIFY_SHARE, VERIFY_SLACK


class SolveError(RuntimeError):
    """HiGHS failed, or its answer did not pass the independent check."""


@dataclass(frozen=True)
class Line:
    """One quote in the mix. Amounts in JPY per year; share is a fraction of the layer."""

    quote: Quote
    share: float
    cover_jpy: float        # share × limit
    credit_jpy: float       # κ × share × r(R): regulatory credit
    annual_cost_jpy: float  # premium × multiplier (+ fixed fee)
    credit_factor: float


@dataclass(frozen=True)
class TwoEvents:
    """What the mix pays for two losses in one year: a first loss of R of `first_peril`, then a second of
    second_event_share × R of `second_peril` (the pair of perils that leaves the exchange the most), per line in
    the order of `Solution.lines` (JPY, share applied, before κ). `reinstatement_jpy` is what restoring what the
    first loss took of each line costs (reinstatement_premium × its premium × the limit reinstated ÷ the limit):
    due after a loss, never part of the annual cost."""

    first_peril: str
    second_peril: str
    first_loss_jpy: float
    second_loss_jpy: float
    first_jpy: tuple[float, ...]
    second_jpy: tuple[float, ...]
    reinstatement_jpy: tuple[float, ...]
    retained_jpy: float   # both losses less the credit the lines earn for them: what the reserve must fund


@dataclass(frozen=True)
class Holding:
    """One reserve asset in the mix: the amount held (funded) or committed (unfunded), its credit and its cost (JPY
    per year)."""

    asset: ReserveAsset
    amount_jpy: float
    credit_jpy: float       # c_a × amount, c_a = κ_a × (1 − haircut)
    annual_cost_jpy: float  # amount × (cost_of_capital − yield) funded, amount × fee_rate unfunded
    credit_factor: float    # c_a


@dataclass(frozen=True)
class Solution:
    profile: ExchangeProfile
    regime: Regime
    requirement_jpy: float
    status: str  # "optimal" | "shortfall"
    cash_reserve_jpy: float
    shortfall_jpy: float
    annual_cost_jpy: float
    all_cash_cost_jpy: float | None
    marginal_cost_per_jpy: float | None
    lines: tuple[Line, ...]
    offered: tuple[Quote, ...] = ()
    credit: Mapping[str, float] = field(default_factory=dict)
    binding: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    holdings: tuple[Holding, ...] = ()                  # reserve assets held or committed (assets.csv)
    offered_assets: tuple[ReserveAsset, ...] = ()       # every asset offered to the exchange
    asset_credit: Mapping[str, float] = field(default_factory=dict)  # κ_a by asset_id, before the haircut

    @property
    def reserve_assets_jpy(self) -> float:
        """What is held in funded reserve assets (deposits, JGBs), plain cash excluded."""
        return sum(h.amount_jpy for h in self.holdings if h.asset.funded)

    @property
    def committed_jpy(self) -> float:
        """What banks or the parent have committed (guarantees, lines): no capital tied up."""
        return sum(h.amount_jpy for h in self.holdings if not h.asset.funded)

    @property
    def ineligible_assets(self) -> list[ReserveAsset]:
        """Offered reserve assets that earn no credit (rating, days to pay): reported, never held."""
        return [a for a in self.offered_assets if self.asset_credit.get(a.asset_id, 0.0) <= 0]

    def amount_of(self, asset_id: str) -> float:
        return next((h.amount_jpy for h in self.holdings if h.asset.asset_id == asset_id), 0.0)

    @property
    def savings_jpy(self) -> float | None:
        """All-cash cost less the optimal cost; None when all cash is not an option (R > liquid capital)."""
        return None if self.all_cash_cost_jpy is None else self.all_cash_cost_jpy - self.annual_cost_jpy

    @property
    def exchange_id(self) -> str:
        return self.profile.exchange_id

    @property
    def ineligible(self) -> list[Quote]:
        """Offered quotes that earn no credit (rating below the minimum): reported, never bought."""
        return [q for q in self.offered if self.credit.get(q.quote_id, 0.0) <= 0]

    def two_events(self) -> TwoEvents:
        """The mix against a first loss of R and a second of second_event_share × R in the same year (TwoEvents;
        with no second loss in the regime, the second is 0)."""
        from .repeat import tower_pays_for_pair

        R, sigma = self.requirement_jpy, self.regime.requirement.second_event_share
        quotes = [l.quote for l in self.lines]
        shares = [l.share for l in self.lines]
        credit = [l.credit_factor for l in self.lines]
        perils = list(self.regime.requirement.perils)
        worst = max(((p1, p2) for p1 in perils for p2 in perils), key=lambda pair: tower_pays_for_pair(
            quotes, shares, R, (pair[0], R), (pair[1], sigma * R), credit).retained_jpy)
        pays = tower_pays_for_pair(quotes, shares, R, (worst[0], R), (worst[1], sigma * R))
        retained = tower_pays_for_pair(quotes, shares, R, (worst[0], R), (worst[1], sigma * R), credit).retained_jpy
        reinstated = []
        for q, l, first in zip(quotes, self.lines, pays.first_jpy):
            limit = q.limit_jpy(R)
            premium = l.annual_cost_jpy - q.fixed_fee_jpy
            used = min(first / l.share if l.share > 0 else 0.0, q.reinstatements * limit)
            reinstated.append(q.reinstatement_premium * premium * used / limit if limit > 0 else 0.0)
        return TwoEvents(worst[0], worst[1], R, sigma * R, tuple(map(float, pays.first_jpy)),
                         tuple(map(float, pays.second_jpy)), tuple(reinstated), float(retained))

    def share_of(self, quote_id: str) -> float:
        return next((line.share for line in self.lines if line.quote.quote_id == quote_id), 0.0)

    # ------------------------------------------------------------------ views
    @property
    def mix(self) -> pd.DataFrame:
        """The funding mix, cash first: one row per source with share > 0 (JPY)."""
        return pd.DataFrame(self.mix_rows())

    def mix_rows(self) -> list[dict[str, Any]]:
        """`mix`'s rows as dicts (a terminal's table needs no frame)."""
        R = self.requirement_jpy
        rows = [{
            "source": "cash reserve", "quote_id": "", "kind": "cash", "counterparty": self.profile.display_name,
            "rating": "", "attachment_jpy": 0.0, "limit_jpy": self.cash_reserve_jpy, "share": 1.0,
            "cover_jpy": self.cash_reserve_jpy, "credit_factor": 1.0,
            "credit_jpy": min(self.cash_reserve_jpy, R), "annual_cost_jpy": self.profile.carry * self.cash_reserve_jpy,
        }]
        for line in self.lines:
            q = line.quote
            rows.append({
                "source": q.quote_id, "quote_id": q.quote_id, "kind": q.kind, "counterparty": q.counterparty,
                "rating": q.rating, "attachment_jpy": q.attachment_jpy(R), "limit_jpy": q.limit_jpy(R),
                "share": line.share, "cover_jpy": line.cover_jpy, "credit_factor": line.credit_factor,
                "credit_jpy": line.credit_jpy, "annual_cost_jpy": line.annual_cost_jpy,
            })
        for h in self.holdings:
            a = h.asset
            rows.append({
                "source": a.asset_id, "quote_id": "", "kind": a.kind, "counterparty": a.counterparty,
                "rating": a.rating, "attachment_jpy": 0.0, "limit_jpy": h.amount_jpy, "share": 1.0,
                "cover_jpy": h.amount_jpy, "credit_factor": h.credit_factor, "credit_jpy": h.credit_jpy,
                "annual_cost_jpy": h.annual_cost_jpy,
            })
        return rows

    def tower(self, peril: str | None = None) -> pd.DataFrame:
        """Who pays a loss of R, slice by slice, for one peril (default: the least covered one).

        Rows: from_jpy, to_jpy, payer (quote_id, "cash" or "uncovered"), amount_jpy; the amounts add up to R.
        Each layer pays its regulatory credit (κ × share × recovery) within its own band. Where overlapping layers
        would pay more than a slice, the excess (pro rata by layer) fills the gaps between layers from the bottom
        up; what is still open is paid by cash up to the reserve, then by each reserve asset's credit (held before
        promised, cheapest first), and the rest is uncovered.
        """
        R, C = self.requirement_jpy, self.cash_reserve_jpy
        first_loss = [("cash", C)] + [(h.asset.asset_id, h.credit_jpy) for h in
                                      sorted(self.holdings, key=lambda h: (not h.asset.funded, h.annual_cost_jpy
                                                                           / max(h.credit_jpy, 1e-300)))]
        perils = list(self.regime.requirement.perils) or [None]
        if peril is None:
            peril = min(perils, key=lambda p: sum(l.credit_jpy for l in self.lines
                                                  if p is None or l.quote.covers(p)))
        lines = [l for l in self.lines if peril is None or l.quote.covers(peril)]
        cuts = {0.0, R}
        for l in lines:
            a, top = l.quote.attachment_jpy(R), l.quote.attachment_jpy(R) + l.quote.limit_jpy(R)
            cuts.update(x for x in (a, top) if 0 < x < R)
        points = sorted(cuts)
        slices = []  # (x0, x1, {payer: amount}, open amount)
        excess: dict[str, float] = {}
        for x0, x1 in zip(points[:-1], points[1:]):
            width = x1 - x0
            paying = {l.quote.quote_id: l.credit_factor * l.share * width for l in lines
                      if l.quote.attachment_jpy(R) <= x0 and x1 <= l.quote.attachment_jpy(R) + l.quote.limit_jpy(R)}
            total = sum(paying.values())
            if total > width:
                for qid, amount in paying.items():
                    excess[qid] = excess.get(qid, 0.0) + amount * (1 - width / total)
                    paying[qid] = amount * width / total
                total = width
            slices.append((x0, x1, paying, width - total))
        pool = sum(excess.values())
        rows = []
        for x0, x1, paying, gap in slices:
            for qid, amount in paying.items():
                rows.append({"from_jpy": x0, "to_jpy": x1, "payer": qid, "amount_jpy": amount})
            if gap <= 0:
                continue
            if pool > 0:
                used = min(gap, pool)
                for qid, amount in excess.items():
                    rows.append({"from_jpy": x0, "to_jpy": x1, "payer": qid, "amount_jpy": used * amount / pool})
                excess = {qid: amount * (1 - used / pool) for qid, amount in excess.items()}
                pool -= used
                gap -= used
            paid_here = []
            for k, (payer, left) in enumerate(first_loss):
                used = min(gap, left)
                first_loss[k] = (payer, left - used)
                gap -= used
                paid_here.append((payer, used))
            for payer, amount in (*paid_here, ("uncovered", gap)):
                if amount > 1e-9 * max(R, 1.0):
                    rows.append({"from_jpy": x0, "to_jpy": x1, "payer": payer, "amount_jpy": amount})
        frame = pd.DataFrame(rows, columns=["from_jpy", "to_jpy", "payer", "amount_jpy"])
        return frame.groupby(["from_jpy", "to_jpy", "payer"], as_index=False, sort=False)["amount_jpy"].sum()

    def to_dict(self) -> dict[str, Any]:
        """The JSON result (docs/design.md §6) (contract keys first, then extensions)."""
        # the two events are worked out, and their keys written, only when they say something (a second loss, or
        # reinstatements that cost): at second_event_share 0 the result is what it always was
        repeat = self.regime.requirement.second_event_share > 0
        priced = any(l.quote.reinstatement_premium > 0 and l.quote.reinstatements > 0 for l in self.lines)
        two = self.two_events() if (repeat or priced) and self.regime.requirement.perils else None
        return {
            "exchange_id": self.profile.exchange_id,
            "status": self.status,
            "required_coverage_jpy": self.requirement_jpy,
            "annual_cost_jpy": self.annual_cost_jpy,
            "all_cash_cost_jpy": self.all_cash_cost_jpy,
            "savings_jpy": self.savings_jpy,
            "cash_reserve_jpy": self.cash_reserve_jpy,
            "shortfall_jpy": self.shortfall_jpy,
            "marginal_cost_per_jpy": self.marginal_cost_per_jpy,
            "instruments": [
                {"quote_id": l.quote.quote_id, "kind": l.quote.kind, "counterparty": l.quote.counterparty,
                 "share": l.share, "cover_jpy": l.cover_jpy, "credit_jpy": l.credit_jpy,
                 "annual_cost_jpy": l.annual_cost_jpy, **self._events_of(two, k)}
                for k, l in enumerate(self.lines)
            ] + [
                {"asset_id": h.asset.asset_id, "kind": h.asset.kind, "counterparty": h.asset.counterparty,
                 "share": None, "cover_jpy": h.amount_jpy, "credit_jpy": h.credit_jpy,
                 "annual_cost_jpy": h.annual_cost_jpy}
                for h in self.holdings
            ],
            "exchange_name": self.profile.name,
            "regime": self.regime.name,
            "binding": list(self.binding),
            "ineligible_quotes": [q.quote_id for q in self.ineligible],
            "requirement_to_net_assets": self.requirement_to_net_assets,
            "statement_date": self.profile.statement_date or None,
            **({} if two is None else {
                "second_event": {"first_peril": two.first_peril, "second_peril": two.second_peril,
                                 "first_loss_jpy": two.first_loss_jpy, "second_loss_jpy": two.second_loss_jpy,
                                 "retained_jpy": two.retained_jpy} if repeat else None,
                "reinstatement_cost_jpy": float(sum(two.reinstatement_jpy))}),
            **({"reserve_assets_jpy": self.reserve_assets_jpy, "committed_jpy": self.committed_jpy,
                "ineligible_assets": [a.asset_id for a in self.ineligible_assets]} if self.offered_assets else {}),
        }

    @staticmethod
    def _events_of(two: "TwoEvents | None", k: int) -> dict[str, Any]:
        """Line k's keys for the two events (none when they are not worked out)."""
        if two is None:
            return {}
        repeat = two.second_loss_jpy > 0
        return {"first_event_jpy": two.first_jpy[k] if repeat else None,
                "second_event_jpy": two.second_jpy[k] if repeat else None,
                "reinstatement_cost_jpy": two.reinstatement_jpy[k]}

    @property
    def requirement_to_net_assets(self) -> float | None:
        """R ÷ the exchange's net assets; None when net assets are unknown or not positive (債務超過)."""
        net = self.profile.net_assets_jpy
        return self.requirement_jpy / net if net is not None and net > 0 else None


SCALAR_KEYS: tuple[str, ...] = (
    "exchange_id", "status", "required_coverage_jpy", "annual_cost_jpy", "all_cash_cost_jpy", "savings_jpy",
    "cash_reserve_jpy", "shortfall_jpy", "marginal_cost_per_jpy",
)


def error_result(exchange_id: str, message: str) -> dict[str, Any]:
    """The result row of a profile that could not be solved (status `error`)."""
    out: dict[str, Any] = {k: None for k in SCALAR_KEYS}
    out.update(exchange_id=exchange_id, status="error", error=message)
    return out


# ---------------------------------------------------------------------- independent check

_GRID = np.linspace(0.0, 1.0, 401)  # losses as fractions of R; the layer edges make the check exact, this is a second net

def verify(solution: Solution) -> list[str]:
    """Re-check a mix against the model's constraints (docs/design.md §4) with numpy, without the solver's model.

    Independent on purpose: it re-derives every row, credit and cost from the quotes and the regime in yen, with
    arithmetic of its own — not the row families of optimizer/lp/ nor the domain's money functions the model and
    the views share — so that a mistake written once there cannot pass here too.
    Retained loss is evaluated on a dense grid of losses plus every layer edge, for every peril.
    Returns the violations found (empty when the mix is compliant up to its reported shortfall).
    """
    s = solution
    R, C, z = s.requirement_jpy, s.cash_reserve_jpy, s.shortfall_jpy
    elig = s.regime.eligibility
    tol = VERIFY_SLACK * max(R, 1.0)
    problems: list[str] = []

    if not all(map(math.isfinite, (C, z, s.annual_cost_jpy))):
        return ["non-finite amounts in the solution"]
    # the answer's own consistency: a shortfall exactly when one is reported, a rule with perils to check
    if s.status == "optimal" and z > 0:
        problems.append(f"status optimal with a shortfall of {z:.6g} JPY")
    if s.status == "shortfall" and z <= 0:
        problems.append("status shortfall with no shortfall")
    if not s.regime.requirement.perils and R > 0:
        problems.append("the regime names no peril, so nothing was checked")
    if C < -tol:
        problems.append(f"cash {C:.6g} is negative")
    if C > s.profile.liquid_capital_jpy + tol:
        problems.append(f"cash {C:.6g} exceeds liquid capital {s.profile.liquid_capital_jpy:.6g}")
    held_credit, held_funded_credit, tied_up, by_asset_kind, by_asset_cp = _check_holdings(s, tol, problems)

    offered_ids = {q.quote_id for q in s.offered}
    lines = s.lines
    n = len(lines)
    quotes = [l.quote for l in lines]
    share = np.fromiter((l.share for l in lines), float, n)
    kappa = np.fromiter((s.credit.get(q.quote_id, 0.0) for q in quotes), float, n)
    attach = np.fromiter((q.attachment_jpy(R) for q in quotes), float, n)
    limit = np.fromiter((q.limit_jpy(R) for q in quotes), float, n)
    for q, l in zip(quotes, lines):
        if q.quote_id not in offered_ids:
            problems.append(f"{q.quote_id} is not offered to {s.profile.exchange_id}")
        if s.credit.get(q.quote_id, 0.0) <= 0:
            problems.append(f"{q.quote_id} earns no credit but was bought")
        if not (q.min_share - VERIFY_SHARE <= l.share <= q.max_share + VERIFY_SHARE):
            problems.append(f"{q.quote_id} share {l.share:.6g} outside [{q.min_share}, {q.max_share}]")

    # 1. every loss up to R is funded, for every peril: on a grid and at every layer edge
    edges = np.concatenate([attach, attach + limit])
    losses = np.concatenate([_GRID * R, edges[(edges >= 0) & (edges <= R)]])
    paid_per_line = np.clip(losses[:, None] - attach[None, :], 0.0, limit[None, :])
    weight = kappa * share
    for peril in s.regime.requirement.perils:
        covers = np.fromiter((q.covers(peril) for q in quotes), bool, n)
        credit = paid_per_line @ (weight * covers)
        worst = float(np.max(losses - credit - C - held_credit))
        if worst > z + tol:
            problems.append(f"a {peril} loss is short by {worst:.6g} JPY, more than the reported shortfall {z:.6g}")

    # 5. a second loss in the same year, after the first: what both retain together is funded
    sigma = s.regime.requirement.second_event_share
    if sigma > 0:
        reinst = np.fromiter((q.reinstatements for q in quotes), float, n)
        covers = [np.fromiter((q.covers(p) for q in quotes), bool, n) for p in s.regime.requirement.perils]
        worst = float(_two_events_worst(np.array([R]), np.array([C + held_credit]), attach[None], limit[None],
                                        (limit * (1.0 + reinst))[None], weight[None], covers, sigma, _GRID_PAIRS)[0])
        if worst > z + tol:
            problems.append(f"a second loss in the same year is short by {worst:.6g} JPY, more than the reported "
                            f"shortfall {z:.6g}")

    # 2. caps on credit, credit of j = κ·s·r(R)
    credit_R = weight * np.clip(R - attach, 0.0, limit)
    if C + z + held_funded_credit < elig.min_cash_share * R - tol:
        problems.append(f"cash {C:.6g} and funded assets below min_cash_share × R")
    by_kind = {"insurance": 0.0, "derivative": 0.0}
    by_counterparty: dict[str, float] = dict(by_asset_cp)
    for q, c in zip(quotes, credit_R):
        by_kind["derivative" if q.is_derivative else "insurance"] += c
        if not (q.is_derivative and q.collateralized):
            by_counterparty[q.counterparty] = by_counterparty.get(q.counterparty, 0.0) + c
    if by_kind["insurance"] > elig.max_insurance_share * R + tol:
        problems.append("insurance credit above max_insurance_share × R")
    if by_kind["derivative"] > elig.max_derivative_share * R + tol:
        problems.append("derivative credit above max_derivative_share × R")
    for name, total in by_counterparty.items():
        if total > elig.max_counterparty_share * R + tol:
            problems.append(f"credit from {name} above max_counterparty_share × R")

    for kind, total in by_asset_kind.items():
        if total > getattr(elig.asset_shares, kind) * R + tol:
            problems.append(f"{kind} credit above max_share.{kind} × R")
    if C + tied_up > s.profile.liquid_capital_jpy + tol:
        problems.append(f"cash and funded assets {C + tied_up:.6g} exceed liquid capital")

    # reported amounts agree with the mix
    premium = s.profile.premium_multiplier * np.fromiter((q.premium_rate for q in quotes), float, n) * limit * share
    held_cost = sum(h.amount_jpy * ((s.profile.cost_of_capital - h.asset.yield_rate) if h.asset.kind in
                                    ("deposit", "jgb") else h.asset.fee_rate) for h in s.holdings)
    cost = s.profile.carry * C + float(premium.sum()) + sum(q.fixed_fee_jpy for q in quotes) + held_cost
    if abs(cost - s.annual_cost_jpy) > VERIFY_COST * max(abs(cost), 1.0) + 1e-6:
        problems.append(f"reported cost {s.annual_cost_jpy:.6g} differs from the mix's cost {cost:.6g}")
    return problems


_GRID_PAIRS = np.linspace(0.0, 1.0, 33)  # each loss of a pair on this grid too (a second net beside the vertices)


def _weighted(paid: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Σ_j paid[n, p, j]·weight[n, j] for every exchange n and loss (pair) p: a batched matrix product."""
    return np.matmul(paid, weight[:, :, None])[..., 0]


def _two_events_worst(R, C, attach, limit, aggregate, weight, covers, sigma, grid) -> np.ndarray:
    """The most that two losses of one year retain together beyond the reserve, per exchange (JPY, N exchanges):
    max over x₁ ≤ R, x₂ ≤ σ·R and every ordered pair of perils of x₁ + x₂ − Σ_j w_j·min(c₁·r_j(x₁) + c₂·r_j(x₂),
    A_j) − C, with w_j = κ_j·s_j and A_j the layer's aggregate; ≤ 0 when the two-event test holds.

    The pairs: every pair of edges of the two axes (the grid, each layer's attachment and exhaustion point, and
    a + A − l where an aggregate lies between one and two limits), and, for each layer whose aggregate two losses
    can use up (A < 2l), where the line x₁ + x₂ = 2a + A crosses those edges: every vertex of the retained total's
    linear pieces. Own arithmetic (numpy clip and minimum), not the model's rows nor repeat.py.

    On the pairs of edges the sum is split: a layer that covers only one of the two perils, or whose aggregate two
    losses cannot use up (A ≥ 2l), pays c₁·r(x₁) + c₂·r(x₂) (the minimum never binds), so its part is a function of
    each loss alone, added across the axes; only the layers covering both perils with A < 2l are evaluated at every
    pair. The line of such a layer matters only where it covers both perils (elsewhere its minimum never binds).
    """
    N, n = attach.shape
    top1, top2 = R[:, None], sigma * R[:, None]
    partial = (aggregate > limit) & (aggregate < 2.0 * limit)
    some = np.flatnonzero(partial.any(axis=0))
    extra = np.where(partial[:, some], attach[:, some] + aggregate[:, some] - limit[:, some], 0.0)

    def axis(top):
        return np.clip(np.concatenate([grid[None, :] * top, attach, attach + limit, extra], axis=1), 0.0, top)

    def pays(x):  # N × points → N × points × quotes: r_j(x)
        return np.clip(x[:, :, None] - attach[:, None, :], 0.0, limit[:, None, :])

    e1, e2 = axis(top1), axis(top2)
    r1, r2 = pays(e1), pays(e2)
    # a layer no exchange of the slice holds (w = 0 throughout) pays nothing anywhere: it is added as a separable one
    # (its part is 0), and its line x₁ + x₂ = 2a + A is no vertex of anyone's retained total
    runs_out = (aggregate < 2.0 * limit).any(axis=0) & (weight != 0).any(axis=0)
    worst = np.full(N, -np.inf)
    kinds = {c.tobytes(): c for c in covers}.values()
    for c1 in kinds:
        for c2 in kinds:
            coupled = c1 & c2 & runs_out
            alone = ~coupled
            u1 = e1 - _weighted(r1[:, :, alone], (weight * c1)[:, alone])
            u2 = e2 - _weighted(r2[:, :, alone], (weight * c2)[:, alone])
            retained = (u1[:, :, None] + u2[:, None, :]).reshape(N, -1)
            if coupled.any():
                paid = r1[:, :, None, coupled] + r2[:, None, :, coupled]
                np.minimum(paid, aggregate[:, None, None, coupled], out=paid)
                retained -= _weighted(paid.reshape(N, -1, int(coupled.sum())), weight[:, coupled])
            worst = np.maximum(worst, retained.max(axis=1) - C)
            if coupled.any():  # the lines x₁ + x₂ = 2a + A of the coupled layers across the other axis's edges
                lines = [(2.0 * attach[:, k] + aggregate[:, k])[:, None] for k in np.flatnonzero(coupled)]
                K = len(lines)
                # (b₁, L − b₁) on every edge b₁ of the first axis, (L − b₂, b₂) on every edge b₂ of the second: what
                # a layer pays at the edge itself is r1 or r2 already; only the other loss is new
                on1 = np.concatenate([np.clip(line - e1, 0.0, top2) for line in lines], axis=1)
                on2 = np.concatenate([np.clip(line - e2, 0.0, top1) for line in lines], axis=1)
                x1 = np.concatenate([np.tile(e1, (1, K)), on2], axis=1)
                x2 = np.concatenate([on1, np.tile(e2, (1, K))], axis=1)
                p1 = np.concatenate([np.tile(r1, (1, K, 1)), pays(on2)], axis=1)
                p2 = np.concatenate([pays(on1), np.tile(r2, (1, K, 1))], axis=1)
                paid = np.minimum(p1 * c1 + p2 * c2, aggregate[:, None, :])
                retained = x1 + x2 - _weighted(paid, weight)
                worst = np.maximum(worst, retained.max(axis=1) - C)
    return worst


def _asset_kappa(a: ReserveAsset, regime: Regime) -> float:
    """κ_a × (1 − haircut) re-derived for `verify` from the asset's own fields and the regime's rating table."""
    elig = regime.eligibility
    if a.days_to_pay > elig.max_days_to_pay:
        return 0.0
    if a.kind == "jgb":
        kappa = 1.0
    else:
        order = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-", "B+", "B", "B-",
                 "CCC+", "CCC", "CCC-", "NR")
        if order.index(a.rating) > order.index(elig.min_rating):
            return 0.0
        table = regime.rating_credit
        kappa = float(table[a.rating]) if a.rating in table else float(table.get(a.rating.rstrip("+-"), 1.0))
    return kappa * (1.0 - a.haircut)


def _check_holdings(s: Solution, tol: float, problems: list[str]):
    """`verify`'s checks of the reserve assets held: offered, within their amount, earning credit, their credit
    re-derived. Returns (credit of all, credit of the funded, amount funded, credit by kind, credit by
    counterparty)."""
    offered = {a.asset_id for a in s.offered_assets}
    total = funded_credit = tied = 0.0
    by_kind: dict[str, float] = {}
    by_cp: dict[str, float] = {}
    for h in s.holdings:
        a = h.asset
        c = _asset_kappa(a, s.regime)
        if a.asset_id not in offered:
            problems.append(f"{a.asset_id} is not offered to {s.profile.exchange_id}")
        if h.amount_jpy < -tol or h.amount_jpy > a.max_amount_jpy + tol:
            problems.append(f"{a.asset_id} amount {h.amount_jpy:.6g} outside [0, {a.max_amount_jpy:.6g}]")
        if c <= 0 and h.amount_jpy > tol:
            problems.append(f"{a.asset_id} earns no credit but was held")
        credit = c * h.amount_jpy
        if abs(credit - h.credit_jpy) > tol:
            problems.append(f"{a.asset_id} credit {h.credit_jpy:.6g} differs from its amount's {credit:.6g}")
        total += credit
        if a.kind in ("deposit", "jgb"):
            funded_credit += credit
            tied += h.amount_jpy
        by_kind[a.kind] = by_kind.get(a.kind, 0.0) + credit
        if a.counterparty:
            by_cp[a.counterparty] = by_cp.get(a.counterparty, 0.0) + credit
    return total, funded_credit, tied, by_kind, by_cp


# ---------------------------------------------------------------------- many mixes at once (a batch's chunk)

@dataclass
class Mixes:
    """Compliant mixes of many exchanges under one regime and one set of eligible quotes, as arrays (the batch's
    fast path; `solution(k)` gives exchange k as a Solution). Amounts in JPY; `share` is exchanges × quotes.
    The arrays are not changed once made: the derived ones are computed once (`solution(k)` reads them N times)."""

    profiles: list
    regime: Regime | None
    offered: tuple[Quote, ...]
    quotes: tuple[Quote, ...]      # the eligible quotes: the columns of `share`
    credit: np.ndarray             # κ per eligible quote
    requirement: np.ndarray
    cash: np.ndarray
    share: np.ndarray
    marginal: np.ndarray
    solve_seconds: float = 0.0
    assets: tuple[ReserveAsset, ...] = ()          # the eligible reserve assets: the columns of `amount`
    asset_credit: np.ndarray = field(default_factory=lambda: np.zeros(0))  # c_a per eligible asset
    amount: np.ndarray | None = None               # exchanges × assets, JPY (None: no assets)
    offered_assets: tuple[ReserveAsset, ...] = ()
    asset_kappa: Mapping[str, float] = field(default_factory=dict)  # κ_a by asset_id, before the haircut

    @classmethod
    def empty(cls, insts) -> "Mixes":
        return cls([], None, (), (), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 0)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.profiles)

    def subset(self, keep: np.ndarray) -> "Mixes":
        idx = np.flatnonzero(keep)
        return Mixes([self.profiles[i] for i in idx], self.regime, self.offered, self.quotes, self.credit,
                     self.requirement[idx], self.cash[idx], self.share[idx], self.marginal[idx], self.solve_seconds,
                     self.assets, self.asset_credit, None if self.amount is None else self.amount[idx],
                     self.offered_assets, self.asset_kappa)

    @functools.cached_property
    def held(self) -> np.ndarray:
        """Amount of each eligible asset held or committed (exchanges × assets, JPY)."""
        return self.amount if self.amount is not None else np.zeros((len(self.profiles), len(self.assets)))

    @functools.cached_property
    def asset_cost(self) -> np.ndarray:
        """Annual cost of each holding: amount × (cost_of_capital − yield) funded, amount × fee unfunded."""
        coc = self._per("cost_of_capital")[:, None]
        funded = np.array([a.funded for a in self.assets], dtype=bool)
        yields = np.fromiter((a.yield_rate for a in self.assets), float, len(self.assets))
        fees = np.fromiter((a.fee_rate for a in self.assets), float, len(self.assets))
        return self.held * np.where(funded, coc - yields, fees)

    def _per(self, attr: str) -> np.ndarray:
        return np.fromiter((getattr(p, attr) for p in self.profiles), float, len(self.profiles))

    @functools.cached_property
    def carry(self) -> np.ndarray:
        return self._per("carry")

    @functools.cached_property
    def limit_jpy(self) -> np.ndarray:
        R = self.requirement
        return np.stack([q.limit_jpy(R) for q in self.quotes], axis=-1) if self.quotes else np.zeros((len(R), 0))

    @functools.cached_property
    def attachment_jpy(self) -> np.ndarray:
        R = self.requirement
        return np.stack([q.attachment_jpy(R) for q in self.quotes], axis=-1) if self.quotes else np.zeros((len(R), 0))

    @functools.cached_property
    def line_cost(self) -> np.ndarray:
        """Annual cost of each line: premium × multiplier (+ the flat fee of a line bought)."""
        rate = np.fromiter((q.premium_rate for q in self.quotes), float, len(self.quotes))
        fee = np.fromiter((q.fixed_fee_jpy for q in self.quotes), float, len(self.quotes))
        return line_cost_jpy(self._per("premium_multiplier")[:, None], rate, self.limit_jpy, self.share, fee)

    @functools.cached_property
    def line_credit(self) -> np.ndarray:
        """Regulatory credit of each line: κ × share × r(R)."""
        return line_credit_jpy(self.credit, self.share, self.attachment_jpy, self.limit_jpy, self.requirement[:, None])

    @property
    def annual_cost(self) -> np.ndarray:
        return self.carry * self.cash + self.line_cost.sum(axis=1) + self.asset_cost.sum(axis=1)

    def solution(self, k: int) -> Solution:
        """Exchange k as a Solution (binding limits are left to `lp.results.assemble`)."""
        R, limit, credit, cost = self.requirement[k], self.limit_jpy[k], self.line_credit[k], self.line_cost[k]
        lines = tuple(Line(q, float(s), float(s * l), float(c), float(a), float(kappa))
                      for q, s, l, c, a, kappa in zip(self.quotes, self.share[k], limit, credit, cost, self.credit)
                      if s > 0)
        prof = self.profiles[k]
        all_cash = all_cash_reserve(float(R), self.regime)
        holdings = tuple(Holding(a, float(v), float(c * v), float(h), float(c))
                         for a, v, c, h in zip(self.assets, self.held[k], self.asset_credit, self.asset_cost[k])
                         if v > 0)
        return Solution(
            profile=prof, regime=self.regime, requirement_jpy=float(R), status="optimal",
            cash_reserve_jpy=float(self.cash[k]), shortfall_jpy=0.0,
            annual_cost_jpy=float(prof.carry * self.cash[k] + cost.sum() + sum(h.annual_cost_jpy for h in holdings)),
            holdings=holdings, offered_assets=self.offered_assets, asset_credit=dict(self.asset_kappa),
            all_cash_cost_jpy=prof.carry * all_cash if all_cash <= prof.liquid_capital_jpy else None,
            marginal_cost_per_jpy=None if np.isnan(self.marginal[k]) else float(self.marginal[k]), lines=lines,
            offered=self.offered, credit={q.quote_id: float(c) for q, c in zip(self.quotes, self.credit)},
            solve_seconds=self.solve_seconds)


_GRID_MANY = np.linspace(0.0, 1.0, 33)  # the edges make the check exact; a coarser second net than `verify`'s
_GRID_PAIRS_MANY = np.linspace(0.0, 1.0, 5)  # the vertices make the two-event check exact; a coarse second net
_PAIR_SLICE = 64                             # exchanges per slice of the two-event check (pairs × quotes each)


def verify_many(m: Mixes) -> list[str]:
    """`verify` for many mixes at once: the same re-derivation in yen, without the solver's model, vectorised over
    the exchanges (independent of the model and of the domain's money functions, as `verify` is). Returns the
    first problem found per exchange ("" when the mix is compliant)."""
    N, n = len(m), len(m.quotes)
    if N == 0:
        return []
    R, C = m.requirement, m.cash
    elig = m.regime.eligibility
    tol = VERIFY_SLACK * np.maximum(R, 1.0)
    out = np.full(N, "", dtype=object)

    def flag(bad: np.ndarray, message: str) -> None:
        out[(out == "") & bad] = message

    flag(~np.isfinite(C) | ~np.isfinite(m.share).all(axis=1), "non-finite amounts in the solution")
    if not m.regime.requirement.perils:
        flag(R > 0, "the regime names no peril, so nothing was checked")
    flag(C < -tol, "cash is negative")
    flag(C > m._per("liquid_capital_jpy") + tol, "cash exceeds liquid capital")
    lo = np.fromiter((q.min_share for q in m.quotes), float, n)
    hi = np.fromiter((q.max_share for q in m.quotes), float, n)
    bought = m.share > 0
    flag((bought & ((m.share < lo - VERIFY_SHARE) | (m.share > hi + VERIFY_SHARE))).any(axis=1),
         "a share outside its line")
    offered = {q.quote_id for q in m.offered}
    for j, q in enumerate(m.quotes):
        if q.quote_id not in offered or m.credit[j] <= 0:
            flag(bought[:, j], f"{q.quote_id} is not offered or earns no credit but was bought")
    # reserve assets: their credit re-derived from their own fields (not the model's c_a)
    A = m.held
    ca = np.fromiter((_asset_kappa(a, m.regime) for a in m.assets), float, len(m.assets))
    cap = np.fromiter((a.max_amount_jpy for a in m.assets), float, len(m.assets))
    funded = np.fromiter((a.kind in ("deposit", "jgb") for a in m.assets), bool, len(m.assets))
    offered_a = {a.asset_id for a in m.offered_assets}
    flag(~np.isfinite(A).all(axis=1) | (A < -tol[:, None]).any(axis=1) | (A > cap + tol[:, None]).any(axis=1),
         "a reserve asset outside [0, max_amount_jpy]")
    for k, a in enumerate(m.assets):
        if a.asset_id not in offered_a or ca[k] <= 0:
            flag(A[:, k] > tol, f"{a.asset_id} is not offered or earns no credit but was held")
    held_credit = A * ca
    flag(C + (A * funded).sum(axis=1) > m._per("liquid_capital_jpy") + tol, "cash and funded assets exceed liquid capital")

    # 1. every loss up to R is funded, for every peril: on a grid and at every layer edge
    attach, limit = m.attachment_jpy, m.limit_jpy
    edges = np.concatenate([attach, attach + limit], axis=1)
    edges = np.where((edges >= 0) & (edges <= R[:, None]), edges, 0.0)
    losses = np.concatenate([_GRID_MANY * R[:, None], edges], axis=1)                # exchanges × losses
    paid = np.clip(losses[:, :, None] - attach[:, None, :], 0.0, limit[:, None, :])  # exchanges × losses × quotes
    weight = m.credit * m.share
    for peril in m.regime.requirement.perils:
        covers = np.fromiter((q.covers(peril) for q in m.quotes), bool, n)
        credit = np.einsum("ilj,ij->il", paid, weight * covers)
        worst = (losses - credit - C[:, None] - held_credit.sum(axis=1)[:, None]).max(axis=1)
        flag(worst > tol, f"a {peril} loss is not funded")

    # 5. a second loss in the same year, after the first (in slices of exchanges: pairs × quotes each)
    sigma = m.regime.requirement.second_event_share
    if sigma > 0:
        reinst = np.fromiter((q.reinstatements for q in m.quotes), float, n)
        covers = [np.fromiter((q.covers(p) for q in m.quotes), bool, n) for p in m.regime.requirement.perils]
        for lo_i in range(0, N, _PAIR_SLICE):
            at = slice(lo_i, lo_i + _PAIR_SLICE)
            worst = _two_events_worst(R[at], (C + held_credit.sum(axis=1))[at], attach[at], limit[at], limit[at] * (1.0 + reinst), weight[at],
                                      covers, sigma, _GRID_PAIRS_MANY)
            bad = np.zeros(N, dtype=bool)
            bad[at] = worst > tol[at]
            flag(bad, "a second loss in the same year is not funded")

    # 2. caps on credit, credit of j = κ·s·r(R) (re-derived here, not Mixes.line_credit; an asset's credit from
    # its own haircut and κ_a, _asset_kappa, not the model's c_a)
    credit_R = m.credit * m.share * np.clip(R[:, None] - attach, 0.0, limit)
    flag(C + (held_credit * funded).sum(axis=1) < elig.min_cash_share * R - tol,
         "cash and funded assets below min_cash_share × R")
    for kind in {a.kind for a in m.assets}:
        of = np.fromiter((a.kind == kind for a in m.assets), bool, len(m.assets))
        flag(held_credit[:, of].sum(axis=1) > getattr(elig.asset_shares, kind) * R + tol,
             f"{kind} credit above max_share.{kind} × R")
    derivative = np.fromiter((q.is_derivative for q in m.quotes), bool, n)
    flag(credit_R[:, ~derivative].sum(axis=1) > elig.max_insurance_share * R + tol,
         "insurance credit above max_insurance_share × R")
    flag(credit_R[:, derivative].sum(axis=1) > elig.max_derivative_share * R + tol,
         "derivative credit above max_derivative_share × R")
    for name in {q.counterparty for q in m.quotes} | {a.counterparty for a in m.assets if a.counterparty}:
        of = np.fromiter((q.counterparty == name and not (q.is_derivative and q.collateralized) for q in m.quotes),
                         bool, n)
        of_a = np.fromiter((a.counterparty == name for a in m.assets), bool, len(m.assets))
        flag(credit_R[:, of].sum(axis=1) + held_credit[:, of_a].sum(axis=1) > elig.max_counterparty_share * R + tol,
             f"credit from {name} above max_counterparty_share × R")
    return out.tolist()
