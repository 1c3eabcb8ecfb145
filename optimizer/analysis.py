"""Analyses built on the model: break-even premiums and demand curves, frontiers, stress tests.

Every number comes from re-solving `model.solve` with one input changed, so the analyses can never disagree
with the optimiser. (The marginal cost of the requirement lives on the Solution itself.)
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from ._lazy import pandas as pd

from .domain import ExchangeProfile, Incident, Quote, Regime, ReserveAsset, credit_by_kind
from .i18n import N_
from .inputs import MAX_JPY, MIN_REQUIREMENT_JPY, InputError
from .model import Resolver, recovery, solve
from .obstacles import Reason, Screen, asset_reasons, better, ineligibility, reason as obstacle
from .regime import CEILINGS, SWEEPABLE, check_parameter, parameter_value, requirement, with_parameter
from .settings import BREAK_EVEN_GAP
from .solution import Solution


def exceeds_reserve(amount, cash_jpy: float, requirement_jpy: float):
    """`risk.exceeds_reserve` (imported when a stress test runs: the risk view's modules are not needed before)."""
    from .risk import exceeds_reserve as exceeds

    return exceeds(amount, cash_jpy, requirement_jpy)

_ROL_CEILING = 10.0     # a rate on line of 1,000%: above this a quote is "bought at any price"
_ROL_REL_TOL = 1e-5     # break-even premiums are found to this relative precision


# ------------------------------------------------------------------ break-even premiums (brokers)

@dataclass(frozen=True)
class BreakEven:
    """Where a quote's premium stops (or starts) buying it.

    break_even_rol: the highest ROL at which the quote is still bought (in the mix) or the ROL below which it
    would enter (out of the mix). None when no price makes it enter (ineligible, not offered, no value) and
    math.inf when it is bought at any ROL up to 1,000% (e.g. it reduces a shortfall).
    """

    quote_id: str
    counterparty: str
    rate_on_line: float
    share: float
    bought: bool
    break_even_rol: float | None
    eligible: bool
    reason: str = ""
    competitors: tuple[str, ...] = ()  # what takes its place when it leaves the mix: quote ids and/or "cash"

    @property
    def headroom(self) -> float | None:
        """break-even ÷ current ROL − 1: how far the premium can rise (in) or must fall (out)."""
        if self.break_even_rol is None or math.isinf(self.break_even_rol) or self.rate_on_line <= 0:
            return None
        return self.break_even_rol / self.rate_on_line - 1.0

    def to_dict(self) -> dict:
        be = self.break_even_rol
        return {"quote_id": self.quote_id, "counterparty": self.counterparty, "rate_on_line": self.rate_on_line,
                "bought": self.bought, "share": self.share,
                "break_even_rol": None if be is None or math.isinf(be) else be,
                "bought_at_any_rol": be is not None and math.isinf(be),
                "headroom": self.headroom, "eligible": self.eligible, "reason": self.reason,
                "competitors": ", ".join(self.competitors)}


def _with_rol(quotes: Sequence[Quote], quote_id: str, rol: float) -> list[Quote]:
    return [dataclasses.replace(q, rate_on_line=rol) if q.quote_id == quote_id else q for q in quotes]


def _solve_at(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, quote_id: str,
              rol: float, resolver: Resolver | None = None, assets: Sequence[ReserveAsset] = ()) -> Solution:
    """A probe solve with one quote's rate on line changed (no marginal cost, no re-check: never reported); with a
    resolver, a re-solve of the model it keeps for this sheet (only the cost of one column changes)."""
    return solve(profile, _with_rol(quotes, quote_id, rol), regime, marginal=False, check=False, resolver=resolver,
                 assets=assets)


def share_at(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, quote_id: str,
             rol: float, resolver: Resolver | None = None, assets: Sequence[ReserveAsset] = ()) -> float:
    """The share of `quote_id` the optimal mix buys when its rate on line is `rol`."""
    return _solve_at(profile, quotes, regime, quote_id, rol, resolver, assets).share_of(quote_id)


def _competitors(with_it: Solution, without: Solution, quote_id: str) -> tuple[str, ...]:
    """Sources the mix uses more of without the quote: the cover that competes with it, largest first."""
    gains = {line.quote.quote_id: line.cover_jpy for line in without.lines}
    for line in with_it.lines:
        gains[line.quote.quote_id] = gains.get(line.quote.quote_id, 0.0) - line.cover_jpy
    gains["cash"] = without.cash_reserve_jpy - with_it.cash_reserve_jpy
    tol = 1e-6 * max(with_it.requirement_jpy, 1.0)
    return tuple(k for k, v in sorted(gains.items(), key=lambda kv: -kv[1]) if k != quote_id and v > tol)


def break_even(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, quote_id: str,
               base: Solution | None = None, resolver: Resolver | None = None,
               assets: Sequence[ReserveAsset] | None = None) -> BreakEven:
    """The break-even rate on line of one quote: sup{ROL : the optimal mix buys some of it}.

    The optimal cost V(ρ) is concave and non-decreasing in the quote's ROL ρ, with slope
    premium_multiplier·limit·share(ρ), and it reaches V_out (the cost without the quote) exactly at the break-even.
    Newton steps along the tangent never overshoot a concave function, so each lands on the next linear piece;
    a bisection on the last bracket guards against solver noise. A handful of re-solves, no dual values, all on
    the models one Resolver keeps (pass one to share them across quotes).
    """
    resolver = resolver or Resolver()
    quote = next(q for q in quotes if q.quote_id == quote_id)
    if assets is None:  # the reserve assets of the base mix (none without one)
        assets = base.offered_assets if base is not None else ()
    base = base or solve(profile, quotes, regime, marginal=False, resolver=resolver, assets=assets)
    share = base.share_of(quote_id)
    common = dict(quote_id=quote_id, counterparty=quote.counterparty, rate_on_line=quote.rate_on_line,
                  share=share, bought=share > 0)
    if not quote.offered_to(profile.exchange_id):
        return BreakEven(**common, break_even_rol=None, eligible=False, reason="not offered to this exchange")
    if base.credit.get(quote_id, 0.0) <= 0:  # no price makes it enter: say which rule gives it no credit
        return BreakEven(**common, break_even_rol=None, eligible=False,
                         reason=ineligibility(quote, regime) or "ineligible: earns no credit")

    def probe(rol: float) -> Solution:
        return _solve_at(profile, quotes, regime, quote_id, rol, resolver, assets)

    without = solve(profile, [q for q in quotes if q.quote_id != quote_id], regime, marginal=False, check=False,
                    resolver=resolver, assets=assets)
    rol, at = (quote.rate_on_line, base) if share > 0 else (0.0, probe(0.0))
    # price is not what keeps it out (free, it is not bought, or the mix is no better for it: obstacles.better):
    # name the obstacle (obstacles.reason)
    if at.share_of(quote_id) <= 0 or (share <= 0 and not better(at, without)):
        obstacles = obstacle(base, quotes, quote_id)
        price = "; dearer than cash and other cover"  # free alone is not enough: the others first, then the price
        if obstacles.endswith(price):
            obstacles = obstacles.removesuffix(price) + " (without that, its price too)"
        return BreakEven(**common, break_even_rol=None, eligible=True,
                         reason="not bought even if free: " + obstacles)
    if at.shortfall_jpy < without.shortfall_jpy * (1 - 1e-9) - 1e-6 * max(base.requirement_jpy, 1.0):
        return BreakEven(**common, break_even_rol=math.inf, eligible=True, reason="reduces the shortfall: bought at any price")
    # the slope of the cost in the ROL per share bought: multiplier × (1 + fronting fee) × limit
    slope_per_share = profile.premium_multiplier * (1.0 + quote.fronting_fee_rate) * quote.limit_jpy(base.requirement_jpy)
    common["competitors"] = _competitors(at, without, quote_id)
    lo, hi = rol, None
    stop = BREAK_EVEN_GAP * max(abs(without.annual_cost_jpy), 1.0)
    for _ in range(50):
        s_k = at.share_of(quote_id)
        gap = without.annual_cost_jpy - at.annual_cost_jpy
        if s_k <= 0:
            if gap <= stop:  # a Newton step landed where the cost meets V_out: V is that tangent from lo to here,
                return BreakEven(**common, break_even_rol=rol, eligible=True)  # so it is bought all the way up
            hi = rol
            break
        lo = rol
        if gap <= stop:
            return BreakEven(**common, break_even_rol=rol, eligible=True)
        rol = rol + gap / (slope_per_share * s_k)
        if rol > _ROL_CEILING:
            return BreakEven(**common, break_even_rol=math.inf, eligible=True, reason="bought at any price")
        at = probe(rol)
    if hi is None:
        return BreakEven(**common, break_even_rol=lo, eligible=True)
    while hi - lo > _ROL_REL_TOL * max(hi, 1e-6):
        mid = 0.5 * (lo + hi)
        if probe(mid).share_of(quote_id) > 0:
            lo = mid
        else:
            hi = mid
    return BreakEven(**common, break_even_rol=0.5 * (lo + hi), eligible=True)


def break_evens(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime,
                base: Solution | None = None, resolver: Resolver | None = None,
                assets: Sequence[ReserveAsset] = (), kept: Resolver | None = None,
                screen: bool = True) -> pd.DataFrame:
    """Break-even premiums of every quote offered to the exchange, one row per quote (on `resolver`'s models when
    given, else on models of each quote's own).
    `kept`: the resolver that solved `base` (its optimal basis screens the quotes out of the mix with no solve);
    `screen=False`: every quote re-solved."""
    # without a resolver, each quote re-solved gets models of its own: where several mixes are optimal (a tie), what
    # its probes find then does not depend on which quotes were priced before it
    fresh = resolver is None
    base = base or solve(profile, quotes, regime, marginal=False, resolver=resolver, assets=assets)
    offered = [q for q in quotes if q.offered_to(profile.exchange_id)]
    # a quote out of the mix of an LP sheet is priced off the mix's optimal basis where that gives the re-solves'
    # answer (obstacles.Screen.price); the rest re-solve (`break_even`)
    sheet = Screen.of(base, quotes, kept or Resolver()) if screen else None
    rows = []
    for q in offered:
        fast = sheet.price(q, _ROL_CEILING) if sheet is not None else None
        if fast is not None:
            rol, why, competitors = fast
            share = base.share_of(q.quote_id)
            rows.append(BreakEven(q.quote_id, q.counterparty, q.rate_on_line, share, share > 0, rol, True, why,
                                  competitors).to_dict())
        else:
            rows.append(break_even(profile, quotes, regime, q.quote_id, base, Resolver() if fresh else resolver,
                                   assets).to_dict())
    return pd.DataFrame(rows, columns=list(BreakEven("", "", 0, 0, False, None, False).to_dict()))


_SHARE_TOL = 1e-7        # two shares closer than this are the same step of a demand curve


def demand_steps(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, quote_id: str, top: float,
                 resolver: Resolver | None = None, assets: Sequence[ReserveAsset] = ()) -> list[float]:
    """The rates on line in (0, `top`) at which the share of `quote_id` bought changes (its demand curve's steps:
    the break-evens of every share level, the quote's own break-even premium the last of them).

    The optimal cost V(ρ) is concave in the quote's ROL ρ and piecewise linear, with slope k·share(ρ) (k: the
    premium of the whole layer per unit of ROL). Between two rates whose shares differ, the tangents there meet at
    ρ*: if V(ρ*) lies on them, ρ* is the one step in between; else each side is searched again. Two re-solves per
    step, on the models one Resolver keeps.
    """
    resolver = resolver or Resolver()
    quote = next(q for q in quotes if q.quote_id == quote_id)
    base = solve(profile, quotes, regime, marginal=False, check=False, resolver=resolver, assets=assets)
    k = dataclasses.replace(quote, rate_on_line=1.0).premium_jpy(base.requirement_jpy, profile.premium_multiplier)

    def at(rol: float) -> tuple[float, float]:
        s = _solve_at(profile, quotes, regime, quote_id, rol, resolver, assets)
        return s.annual_cost_jpy, s.share_of(quote_id)

    steps: list[float] = []

    def search(a: float, va: float, sa: float, b: float, vb: float, sb: float, depth: int) -> None:
        if sa - sb <= _SHARE_TOL or k <= 0 or b - a <= _ROL_REL_TOL * max(b, 1e-6):
            return
        x = (vb - va + k * (sa * a - sb * b)) / (k * (sa - sb))
        x = min(max(x, a), b)
        vx, sx = at(x)
        on_tangents = vx >= va + k * sa * (x - a) - 1e-9 * max(abs(vx), 1.0)
        if on_tangents or depth >= 40 or x in (a, b):
            steps.append(x)
            return
        search(a, va, sa, x, vx, sx, depth + 1)
        search(x, vx, sx, b, vb, sb, depth + 1)

    v0, s0 = at(0.0)
    vt, st = at(top)
    search(0.0, v0, s0, top, vt, st, 0)
    return sorted(steps)


def demand_curve(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, quote_id: str,
                 rols: Iterable[float] | None = None, resolver: Resolver | None = None,
                 assets: Sequence[ReserveAsset] = ()) -> pd.DataFrame:
    """Share of `quote_id` bought against its rate on line (the quote's demand curve): columns rate_on_line,
    share.

    By default sampled at its steps (demand_steps: every rate at which the share changes, its break-even the last),
    at 0, at the current ROL and at the right end (twice the larger of the current ROL and the break-even); each
    row's share is the one bought from that rate up to the next row's (a step curve, exact at its steps). Given
    `rols`, the share bought at each.
    """
    resolver = Resolver()  # every point re-solves one kept model (only the quote's cost changes)
    quote = next(q for q in quotes if q.quote_id == quote_id)
    if rols is not None:
        return pd.DataFrame([{"rate_on_line": float(r),
                              "share": share_at(profile, quotes, regime, quote_id, float(r), resolver, assets)}
                             for r in rols], columns=["rate_on_line", "share"])
    be = break_even(profile, quotes, regime, quote_id, resolver=resolver, assets=assets).break_even_rol
    top = max(quote.rate_on_line, be if be is not None and math.isfinite(be) else 0.0, 0.005) * 2.0
    steps = demand_steps(profile, quotes, regime, quote_id, top, resolver, assets)
    points = sorted({0.0, top, quote.rate_on_line, *steps})
    ends = points[1:] + [None]
    rows = [{"rate_on_line": float(r),  # the share from r up to the next point: read in the middle of that piece
             "share": share_at(profile, quotes, regime, quote_id, r if e is None else 0.5 * (r + e), resolver, assets)}
            for r, e in zip(points, ends)]
    return pd.DataFrame(rows, columns=["rate_on_line", "share"])


def rate_for_share(curve: pd.DataFrame, share: float) -> float | None:
    """From a demand curve sampled at its steps (demand_curve): the highest rate on line at which the cheapest mix
    buys at least `share` of the layer (up to that rate, not at it: there the mix is indifferent); math.inf when
    it does at every rate of the curve; None when it never does, even free.

    >>> curve = pd.DataFrame({"rate_on_line": [0.0, 0.03, 0.05, 0.1], "share": [1.0, 0.5, 0.0, 0.0]})
    >>> rate_for_share(curve, 0.6), rate_for_share(curve, 0.5), rate_for_share(curve, 0.01)
    (0.03, 0.05, 0.05)
    """
    rows = curve.sort_values("rate_on_line").to_dict("records")
    if not rows or rows[0]["share"] < share - _SHARE_TOL:
        return None
    for row in rows[1:]:
        if row["share"] < share - _SHARE_TOL:
            return float(row["rate_on_line"])
    return math.inf


# ------------------------------------------------------------------ break-even fee or yield of a reserve asset

_RATE_TOL = 1e-7  # break-even fees and yields are found to this absolute precision (a thousandth of a basis point)


def asset_break_even(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime,
                     assets: Sequence[ReserveAsset], asset_id: str, resolver: Resolver | None = None) -> float | None:
    """The fee (unfunded) below which, or the yield (funded) above which, the optimal mix holds some of
    `asset_id`; None when no price makes it enter (an obstacle other than its price) or it is held already at
    its own price. The optimal cost is concave and non-decreasing in the asset's cost per yen, so the set of costs
    at which it is held is an interval from 0: a bisection on the cost per yen, every probe a re-solve of one
    kept model (only one cost changes)."""
    resolver = resolver or Resolver()
    asset = next(a for a in assets if a.asset_id == asset_id)
    coc = profile.cost_of_capital

    def held(cost: float) -> bool:  # cost per yen: coc − yield funded, fee unfunded
        change = dict(yield_rate=coc - cost) if asset.funded else dict(fee_rate=cost)
        probe = [dataclasses.replace(a, **change) if a.asset_id == asset_id else a for a in assets]
        s = solve(profile, quotes, regime, marginal=False, check=False, resolver=resolver, assets=probe)
        return s.amount_of(asset_id) > 1e-7 * max(s.requirement_jpy, 1.0)

    now = asset.annual_cost_per_yen(profile)
    if held(now) or not held(0.0):
        return None
    lo, hi = 0.0, now
    while hi - lo > _RATE_TOL:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if held(mid) else (lo, mid)
    cost = 0.5 * (lo + hi)
    return coc - cost if asset.funded else cost


def asset_break_evens(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime,
                      assets: Sequence[ReserveAsset], base: Solution | None = None,
                      resolver: Resolver | None = None) -> pd.DataFrame:
    """`price` for reserve assets: one row per asset offered to the exchange — the amount held or committed, and
    for one not held the fee (unfunded) below which or the yield (funded) above which it enters, with the reason
    it is out (`obstacles.asset_reasons`)."""

    resolver = resolver or Resolver()
    base = base or solve(profile, quotes, regime, marginal=False, resolver=resolver, assets=assets)
    rows = []
    for a in assets:
        if not a.offered_to(profile.exchange_id):
            continue
        amount = base.amount_of(a.asset_id)
        why = () if amount > 0 else asset_reasons(base, quotes, assets, a.asset_id, resolver)
        be = asset_break_even(profile, quotes, regime, assets, a.asset_id, resolver) \
            if why == (Reason("asset_dearer"),) else None
        rows.append({"asset_id": a.asset_id, "kind": a.kind, "counterparty": a.counterparty,
                     "fee_rate": None if a.funded else a.fee_rate, "yield": a.yield_rate if a.funded else None,
                     "amount_jpy": amount, "break_even": be,
                     "reason": "; ".join(r.words() for r in why)})
    return pd.DataFrame(rows, columns=["asset_id", "kind", "counterparty", "fee_rate", "yield", "amount_jpy",
                                       "break_even", "reason"])


# ------------------------------------------------------------------ frontier

def _unbinding(profile: ExchangeProfile, regime: Regime, param: str) -> float:
    """Where a ceiling on R stops binding for this exchange: R with the ceiling lifted, in the parameter's unit."""
    R = requirement(profile, with_parameter(regime, param, math.inf))
    return R if param == "cap_jpy" else R / profile.customer_assets_jpy


def default_values(regime: Regime, param: str, points: int = 21,
                   profile: ExchangeProfile | None = None) -> np.ndarray:
    """Fractions sweep 0..1; other parameters 0..2× their current value (max_days_to_pay: 0..2× the limit, or
    0..365 days when there is none).

    A ceiling on R (cap_jpy, max_share_of_customer_assets) never starts at 0, where no requirement is left: it
    sweeps `points` steps up to 1.5× the value at which it stops binding for `profile` (R with the ceiling
    lifted), or, without a profile, up to 2× its current value (1 for an unset share).
    """
    current = parameter_value(regime, param)
    if param == "max_days_to_pay":
        return np.linspace(0.0, 2.0 * current if math.isfinite(current) and current > 0 else 365.0, points)
    if SWEEPABLE[param].startswith("eligibility"):
        return np.linspace(0.0, 1.0, points)
    if param in CEILINGS:
        if profile is not None:
            top = 1.5 * _unbinding(profile, regime, param)
        else:
            top = 2.0 * current if math.isfinite(current) else 1.0
        return np.linspace(top / points, top, points)
    top = 2.0 * current if math.isfinite(current) and current > 0 else 1.0
    return np.linspace(0.0, top, points)


def frontier(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, param: str,
             values: Iterable[float] | None = None, assets: Sequence[ReserveAsset] = ()) -> pd.DataFrame:
    """Optimal cost as one regime parameter sweeps (e.g. max_insurance_share from 0 to 1, or
    max_share.bank_guarantee with `assets`).

    One row per value: the parameter value, status, requirement, cost, all-cash cost, savings, cash, shortfall,
    insurance and derivative credit (JPY), and a note. A value at which the rule leaves no plausible requirement
    (R below one yen, e.g. a cap of 0) is kept as a row with status `skipped` and the reason in `note`; when every
    value is like that, an InputError says so. Raises KeyError for an unknown parameter (see regime.SWEEPABLE).
    """
    if param not in SWEEPABLE:
        raise KeyError(f"unknown regime parameter {param!r}; expected one of {', '.join(SWEEPABLE)}")
    values = default_values(regime, param, profile=profile) if values is None else \
        [check_parameter(param, v) for v in values]  # a value the regime file would refuse is refused here too
    rows = []
    resolver = Resolver()  # one kept model across the sweep where the rows keep their shape
    for v in values:
        try:
            s = solve(profile, quotes, with_parameter(regime, param, float(v)), marginal=False, resolver=resolver,
                      assets=assets)
        except InputError:  # the rule at this value asks for no (or no plausible) requirement
            rows.append({param: float(v), "status": "skipped", "note": f"{param} = {float(v):g} leaves no plausible "
                         f"requirement for {profile.exchange_id} (R must be between {MIN_REQUIREMENT_JPY:g} and "
                         f"{MAX_JPY:g} yen)"})
            continue
        rows.append({
            param: float(v), "status": s.status, "required_coverage_jpy": s.requirement_jpy,
            "annual_cost_jpy": s.annual_cost_jpy, "all_cash_cost_jpy": s.all_cash_cost_jpy,
            "savings_jpy": s.savings_jpy, "cash_reserve_jpy": s.cash_reserve_jpy, "shortfall_jpy": s.shortfall_jpy,
            "insurance_credit_jpy": credit_by_kind(s.lines)["insurance"],
            "derivative_credit_jpy": credit_by_kind(s.lines)["derivative"],
            "note": "",
            **({"reserve_assets_jpy": s.reserve_assets_jpy, "committed_jpy": s.committed_jpy} if assets else {}),
        })
    if rows and all(r["status"] == "skipped" for r in rows):
        raise InputError("--values", f"no value of {param} leaves a plausible requirement for "
                         f"{profile.exchange_id}: {rows[0]['note']}", column=param)
    return pd.DataFrame(rows, columns=[param, "status", "required_coverage_jpy", "annual_cost_jpy",
                                       "all_cash_cost_jpy", "savings_jpy", "cash_reserve_jpy", "shortfall_jpy",
                                       "insurance_credit_jpy", "derivative_credit_jpy", "note",
                                       *(("reserve_assets_jpy", "committed_jpy") if assets else ())])


# ------------------------------------------------------------------ stress test

def _excluded_by_attribution(quote: Quote, incident: Incident) -> bool:
    """Whether the quote's `state_backed` exclusion takes the incident out of its cover: the incident is attributed
    to a state actor, or its attribution is unknown (a claim the insurer can refuse until the attribution is
    settled is not money a reserve can count on). As in the risk view, a quote without the exclusion pays whoever
    is behind the attack, and an incident attributed to no state actor (`state_backed = false`) is paid."""
    return "state_backed" in quote.exclusions and incident.state_backed != "false"


def stress_pair(solution: Solution, first: Incident, second: Incident, scale: str = "assets") -> pd.DataFrame:
    """Replay two hacks as a first and a second loss of the same year against the optimal mix (a repeat victim's
    pair, or any two incidents): who pays each.

    Losses are scaled as in `stress_test`. A layer pays the first loss as `stress_test` does, and the second only
    out of what the first left of its annual aggregate, limit × (1 + reinstatements) (`repeat.pair_recoveries`,
    the rule of the two-event test); overlapping layers never pay more than a loss. The cash pays the first loss's
    rest up to the reserve, and the second's only from what the first left of it: it is not restored in between.
    Two rows, `event` "first" and "second", with the columns of `stress_test` (per-layer `paid_<quote_id>_jpy`).
    """
    from .repeat import pair_recoveries

    if scale not in ("assets", "absolute"):
        raise ValueError("scale must be 'assets' or 'absolute'")
    R, cash_left = solution.requirement_jpy, solution.cash_reserve_jpy
    assets = solution.profile.customer_assets_jpy
    losses = [inc.loss_share_of_assets * assets if scale == "assets" else inc.loss_jpy for inc in (first, second)]
    quotes = [line.quote for line in solution.lines]
    share = np.array([line.share for line in solution.lines], dtype=float)
    pays = [np.array([q.covers(inc.peril) and not _excluded_by_attribution(q, inc) for q in quotes], dtype=bool)
            for inc in (first, second)]
    one, two = pair_recoveries(losses[0], losses[1], [q.attachment_jpy(R) for q in quotes],
                               [q.limit_jpy(R) for q in quotes], [q.aggregate_jpy(R) for q in quotes],
                               pays[0], pays[1])
    rows = []
    for event, inc, loss, owed in (("first", first, losses[0], one * share), ("second", second, losses[1],
                                                                                two * share)):
        total = float(owed.sum())
        owed = owed * (min(1.0, loss / total) if total > 0 else 0.0)
        retained = max(loss - float(owed.sum()), 0.0)
        cash = min(retained, cash_left) if exceeds_reserve(retained, cash_left, R) else retained
        cash_left -= cash
        row = {"event": event, "incident_id": inc.incident_id, "date": inc.date, "exchange": inc.exchange,
               "peril": inc.peril, "loss_jpy": loss, "paid_by_cash_jpy": cash, "paid_by_layers_jpy": float(owed.sum()),
               "uncovered_jpy": retained - cash, "cash_left_jpy": max(cash_left, 0.0)}
        row.update({f"paid_{q.quote_id}_jpy": float(v) for q, v in zip(quotes, owed)})
        rows.append(row)
    return pd.DataFrame(rows)


# The stress test's notes (why a layer paid nothing), in English in the frame; `note_words` puts them in a reader's
# language, reading each part back by these templates (the single source of both).
NOTE_NOT_COVERED = N_("{quote} paid nothing: it does not cover {peril}")
NOTE_STATE_ACTOR = N_("{quote} paid nothing: it excludes state-backed attacks and the incident is attributed to a "
                      "state actor")
NOTE_UNKNOWN_ATTRIBUTION = N_("{quote} paid nothing: it excludes state-backed attacks and its attribution is unknown "
                              "(counted as excluded)")
NOTE_SEPARATOR = "; "
_NOTE_PATTERNS = tuple((template, re.compile(re.escape(template).replace(re.escape("{quote}"), r"(?P<quote>.+?)")
                                             .replace(re.escape("{peril}"), r"(?P<peril>.+)")))
                       for template in (NOTE_NOT_COVERED, NOTE_STATE_ACTOR, NOTE_UNKNOWN_ATTRIBUTION))


def note_words(note: str, t: Callable[[str], str]) -> str:
    """A stress-test note in the reader's language (t: a translator such as i18n.translator("ja")): each part is
    read back by its template and worded by t(template), the peril translated too; a part no template matches is
    kept as it is.

    >>> words = {NOTE_NOT_COVERED: "{quote}: no cover for {peril}", "vendor compromise": "vendors"}
    >>> note_words("L1 paid nothing: it does not cover vendor compromise; an odd part", lambda s: words.get(s, s))
    'L1: no cover for vendors; an odd part'
    """
    if not isinstance(note, str) or not note:
        return note
    out = []
    for part in note.split(NOTE_SEPARATOR):
        for template, pattern in _NOTE_PATTERNS:
            m = pattern.fullmatch(part)
            if m:
                fields = m.groupdict()
                if "peril" in fields:
                    fields["peril"] = t(fields["peril"])
                part = t(template).format(**fields)
                break
        out.append(part)
    return NOTE_SEPARATOR.join(out)


def stress_test(solution: Solution, incidents: Sequence[Incident], scale: str = "assets") -> pd.DataFrame:
    """Replay historical hacks against the optimal mix: who pays each loss.

    scale="assets": the loss is the incident's share of its victim's customer assets applied to this
    exchange's customer assets; scale="absolute": the loss in JPY as reported. Layers pay what they would
    pay in cash (share × recovery) if they cover the incident's peril and their exclusions do not take it out: a
    layer excluding state-backed attacks pays nothing for an incident attributed to a state actor or of unknown
    attribution (`_excluded_by_attribution`; docs/design.md, "Stress test"). Cash pays the rest up to the reserve
    (within RESERVE_TOL·R, as the risk view compares); then each reserve asset held or committed pays what it
    brings, amount × (1 − haircut) — held before promised, cheapest first (`paid_<asset_id>_jpy`,
    `paid_by_assets_jpy`, only for a mix with assets); the remainder is uncovered. One row per incident; per-layer
    columns are named `paid_<quote_id>_jpy`; `note` says which layer paid nothing that would otherwise have paid,
    and why.
    """
    if scale not in ("assets", "absolute"):
        raise ValueError("scale must be 'assets' or 'absolute'")
    R = solution.requirement_jpy
    cash = solution.cash_reserve_jpy
    rows = []
    for inc in incidents:
        loss = inc.loss_share_of_assets * solution.profile.customer_assets_jpy if scale == "assets" else inc.loss_jpy
        row = {"incident_id": inc.incident_id, "date": inc.date, "exchange": inc.exchange, "peril": inc.peril,
               "state_backed": inc.state_backed, "loss_jpy": loss,
               "loss_vs_requirement": loss / R if R > 0 else math.inf}
        owed, notes = {}, []
        for line in solution.lines:
            q = line.quote
            would = line.share * recovery(loss, q.attachment_jpy(R), q.limit_jpy(R))
            if would > 0 and not q.covers(inc.peril):
                notes.append(NOTE_NOT_COVERED.format(quote=q.quote_id, peril=inc.peril.replace("_", " ")))
                would = 0.0
            elif would > 0 and _excluded_by_attribution(q, inc):
                notes.append((NOTE_STATE_ACTOR if inc.state_backed == "true" else NOTE_UNKNOWN_ATTRIBUTION)
                             .format(quote=q.quote_id))
                would = 0.0
            owed[q.quote_id] = would
        # Overlapping layers never pay more than the loss between them: they contribute pro rata.
        pro_rata = min(1.0, loss / sum(owed.values())) if sum(owed.values()) > 0 else 0.0
        for qid, amount in owed.items():
            row[f"paid_{qid}_jpy"] = amount * pro_rata
        paid_layers = sum(owed.values()) * pro_rata
        retained = max(loss - paid_layers, 0.0)
        row["paid_by_layers_jpy"] = paid_layers
        # within the tolerance the risk view uses, a loss the cash covers up to rounding is covered by it
        row["paid_by_cash_jpy"] = min(retained, cash) if exceeds_reserve(retained, cash, R) else retained
        left = retained - row["paid_by_cash_jpy"]
        if solution.holdings:
            row["paid_by_assets_jpy"] = 0.0
            order = sorted(solution.holdings, key=lambda h: (not h.asset.funded, h.annual_cost_jpy / h.amount_jpy))
            for h in order:
                paid = min(left, h.amount_jpy * (1.0 - h.asset.haircut))
                row[f"paid_{h.asset.asset_id}_jpy"] = paid
                row["paid_by_assets_jpy"] += paid
                left -= paid
        row["uncovered_jpy"] = left
        row["note"] = NOTE_SEPARATOR.join(notes)
        rows.append(row)
    front = ["incident_id", "date", "exchange", "peril", "state_backed", "loss_jpy", "loss_vs_requirement",
             "paid_by_cash_jpy", *(["paid_by_assets_jpy"] if solution.holdings else []), "paid_by_layers_jpy",
             "uncovered_jpy"]
    frame = pd.DataFrame(rows)
    if not rows:
        return pd.DataFrame(columns=front + ["note"])
    return frame[front + [c for c in frame.columns if c not in front and c != "note"] + ["note"]]
