"""Why an offered quote is not bought — the obstacles, as typed reasons: from the model, never a guess.

(reasons.py adds the price: `not_bought` gives each reason with the break-even rate of a quote kept out by its
price alone. This module does not price, so analysis.py — which prices — can name obstacles without a circle.)

A reason names the obstacle that keeps a quote out of the optimal mix. Eligibility reasons follow from the regime's
rules for κ (docs/design.md §3); every other reason is found by a counterfactual: remove the obstacle (lift the
binding cap, let the quote cover every peril, make it free) and re-solve with `lp.solve`. The first removal
that makes the optimal mix buy the quote is its reason, so the reason is true by construction: the tests remove
the named obstacle and see the quote bought.

Order of the checks, cheapest and most fundamental first:
1. `not offered to this exchange` (its exchange_id is another exchange's);
2. `ineligible: …` (κ = 0): pays after more days than max_days_to_pay, not licensed in Japan (require_licensed:
   the licence its legal form needs, no fronting), rating below min_rating, credit factor 0 (state-backed
   exclusion), rating credit 0, derivative_credit_factor 0;
3. `attaches above R` (a layer starting at or above R pays nothing for a loss up to R);
4. `no share on offer (max_share 0)`;
5. `no credit allowed: <cap> 0` when the regime caps this kind's credit (insurance or derivative) at 0; else
   `cap binds: <name>` (max_insurance_share, max_derivative_share, max_counterparty_share (<counterparty>),
   min_cash_share): the cap is binding in the solution and lifting it (to 1, or 0 for the cash floor) buys it;
6. `does not cover <perils>`: covering every peril of the regime buys it;
7. `aggregate used up by the first loss (no reinstatement left for the second)`: under a regime with a second loss in
   the year (second_event_share > 0), a layer without reinstatement pays one loss a year; with one reinstatement
   (at the same premium) it is bought;
8. `minimum line min_share <x> does not fit`: dropping its minimum line buys it;
9. `dearer than cash and other cover`: at a rate on line of 0 (and no fixed fee) it is bought; the break-even
   rate on line (`analysis.break_even`, re-solves) is given when asked.
When no single removal buys it, the removals are made cumulatively in that order and the reason lists every
obstacle removed ("; "). A quote not bought even with every obstacle removed "adds nothing the mix needs".

Each obstacle is a typed value, `Reason(code, params)` (the codes below); `Reason.words()` is its English for the
command line and the JSON (`reason()` joins them with "; "), and the app words each code in its own language
(app_pages/common.py `reason_words`), never by reading the English back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .domain import Quote, Regime, ReserveAsset, rating_bucket, rating_rank
from .lp import Instance, Resolver, highs, solve
from .lp.basis import Basis, primal_simplex
from .lp.engine import certify_one
from .lp.columns import CASH, Columns
from .lp.matrix import Numbers, numbers
from .lp.scaled import Scaled, safe_name
from .regime import exempt_from_counterparty_cap, pays_in_time, rating_credit, unlicensed
from .settings import BREAK_EVEN_GAP, SCREEN_REDUCED_COST, SCREEN_STEP, SCREEN_TIE, ZERO_SHARE
from .solution import Solution

_BOUGHT = 1e-7  # a probe counts the quote as bought above this share (shares below 1e-9 are reported as 0)
_BREAK_EVEN_AGREE = 1e-7  # relative: a break-even read off the basis is within this of the re-solves' one

# The codes of the obstacles, in the order of the module docstring, and their English (`params` fill the braces)
WORDS: dict[str, str] = {
    "not_offered": "not offered to this exchange",
    "pays_late": "ineligible: pays after {0:g} days, the regime allows {1:g}",  # days to pay, max_days_to_pay
    "not_licensed": "ineligible: not licensed in Japan",
    "rating_below_min": "ineligible: rating below min_rating",
    "rating_credit_zero": "ineligible: rating credit 0 for {0}",              # the rating's bucket
    "derivative_factor_zero": "ineligible: derivative_credit_factor 0",
    "state_backed_excluded": "ineligible: credit factor 0 (state-backed exclusion)",
    "attaches_above_r": "attaches above R",
    "no_share_on_offer": "no share on offer (max_share 0)",
    "no_credit_allowed": "no credit allowed: {0} 0",                         # the cap's name
    "cap_binds": "cap binds: {0}",                                           # the cap's name
    "counterparty_cap_binds": "cap binds: max_counterparty_share ({0})",     # the counterparty
    "does_not_cover": "does not cover {0}",                                  # the perils (a tuple)
    "aggregate_used_up": "aggregate used up by the first loss (no reinstatement left for the second)",
    "minimum_line": "minimum line min_share {0:g} does not fit",             # the minimum share
    "dearer": "dearer than cash and other cover",
    "dearer_below": "dearer than cash and other cover (enters below a rate on line of {0:.4%}, quoted {1:.4%})",
    "adds_nothing": "adds nothing the mix needs (not bought even free, covering every peril, with no cap)",
    # a reserve asset not held (asset_reasons; it shares not_offered, pays_late, rating_below_min,
    # rating_credit_zero, counterparty_cap_binds and cap_binds (min_cash_share) with the quotes)
    "asset_no_credit_allowed": "no credit allowed: max_share.{0} 0",        # the asset's kind
    "no_amount_on_offer": "no amount on offer (max_amount_jpy 0)",
    "asset_cap_binds": "cap binds: max_share.{0}",                           # the asset's kind
    "liquid_capital_binds": "cap binds: liquid_capital",
    "asset_dearer": "dearer than cash and other cover",
    "dearer_yield_above": "dearer than cash and other cover (enters at a yield above {0:.4%}, offered {1:.4%})",
    "dearer_fee_below": "dearer than cash and other cover (enters at a fee below {0:.4%}, offered {1:.4%})",
    "asset_adds_nothing": "adds nothing the mix needs (not held even free, with no cap)",
}


@dataclass(frozen=True)
class Reason:
    """One obstacle that keeps a quote out: a code of WORDS and its parameters (a cap's name, perils, shares)."""

    code: str
    params: tuple = ()

    def words(self) -> str:
        """The English of the command line and the JSON (a tuple of names is joined by ", ")."""
        return WORDS[self.code].format(*(", ".join(p) if isinstance(p, tuple) else p for p in self.params))


# An obstacle, the change that removes it, and that change as the screen reads it (`Screen.bought`): ("lift",
# {eligibility field: value}), ("cover",), ("reinstate",), ("no_min_line",) or ("free",)
Probe = tuple[Reason, Callable[[list[Quote], Regime], tuple[list[Quote], Regime]], tuple]


def ineligibility_reason(quote: Quote, regime: Regime) -> Reason | None:
    """Why κ = 0 for this quote under the regime (None when it earns credit). Mirrors regime.credit_factor."""
    elig = regime.eligibility
    if not pays_in_time(quote.days_to_pay, regime):
        return late(quote.days_to_pay, regime)
    if unlicensed(quote, regime):  # the licence its legal form needs (regime.unlicensed)
        return Reason("not_licensed")
    if not (quote.is_derivative and quote.collateralized):
        if rating_credit(quote.rating, regime) <= 0:
            if rating_rank(quote.rating) > rating_rank(elig.min_rating):
                return Reason("rating_below_min")
            return Reason("rating_credit_zero", (rating_bucket(quote.rating),))
    if quote.is_derivative and elig.derivative_credit_factor <= 0:
        return Reason("derivative_factor_zero")
    if "state_backed" in quote.exclusions and elig.state_backed_exclusion_factor <= 0:
        return Reason("state_backed_excluded")
    return None


def late(days_to_pay: float, regime: Regime) -> Reason:
    """The reason for cover or an asset that pays after the regime's max_days_to_pay (no ";": reasons join on it).

    >>> from .domain import Eligibility
    >>> late(180, Regime("r", eligibility=Eligibility(max_days_to_pay=30))).words()
    'ineligible: pays after 180 days, the regime allows 30'
    """
    return Reason("pays_late", (float(days_to_pay), float(regime.eligibility.max_days_to_pay)))


def ineligibility(quote: Quote, regime: Regime) -> str | None:
    """`ineligibility_reason` in words."""
    why = ineligibility_reason(quote, regime)
    return None if why is None else why.words()


def _replace_quote(quotes: list[Quote], quote_id: str, **changes: Any) -> list[Quote]:
    return [dataclasses.replace(q, **changes) if q.quote_id == quote_id else q for q in quotes]


def _lift(regime: Regime, **changes: float) -> Regime:
    return dataclasses.replace(regime, eligibility=dataclasses.replace(regime.eligibility, **changes))


def _probes(solution: Solution, quote: Quote) -> list[Probe]:
    """The obstacles that may keep `quote` out, in order, each with the change that removes it."""
    regime, qid = solution.regime, quote.quote_id
    binding = set(solution.binding)
    elig = regime.eligibility
    probes: list[Probe] = []
    cap = "max_derivative_share" if quote.is_derivative else "max_insurance_share"
    if getattr(elig, cap) <= 0:  # the regime allows this kind no credit at all: nothing "uses the cap up"
        probes.append((Reason("no_credit_allowed", (cap,)), lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0})),
                       ("lift", {cap: 1.0})))
    elif cap in binding and getattr(elig, cap) < 1:
        probes.append((Reason("cap_binds", (cap,)), lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0})),
                       ("lift", {cap: 1.0})))
    if (not exempt_from_counterparty_cap(quote) and f"max_counterparty_share:{quote.counterparty}" in binding
            and elig.max_counterparty_share < 1):
        probes.append((Reason("counterparty_cap_binds", (quote.counterparty,)),
                       lambda qs, r: (qs, _lift(r, max_counterparty_share=1.0)),
                       ("lift", {"max_counterparty_share": 1.0})))
    if "min_cash_share" in binding and elig.min_cash_share > 0:
        probes.append((Reason("cap_binds", ("min_cash_share",)), lambda qs, r: (qs, _lift(r, min_cash_share=0.0)),
                       ("lift", {"min_cash_share": 0.0})))
    missing = [p for p in regime.requirement.perils if not quote.covers(p)]
    if missing:
        all_perils = frozenset(quote.perils) | frozenset(regime.requirement.perils)
        probes.append((Reason("does_not_cover", (tuple(missing),)),
                       lambda qs, r: (_replace_quote(qs, qid, perils=all_perils), r), ("cover",)))
    if regime.requirement.second_event_share > 0 and quote.reinstatements == 0:
        probes.append((Reason("aggregate_used_up"), lambda qs, r: (_replace_quote(qs, qid, reinstatements=1), r),
                       ("reinstate",)))
    if quote.min_share > 0:
        probes.append((Reason("minimum_line", (quote.min_share,)),
                       lambda qs, r: (_replace_quote(qs, qid, min_share=0.0), r), ("no_min_line",)))
    probes.append((Reason("dearer"),
                   lambda qs, r: (_replace_quote(qs, qid, rate_on_line=0.0, fixed_fee_jpy=0.0), r), ("free",)))
    return probes


@dataclass(frozen=True)
class Probed:
    """A changed LP's optimum (`Screen.probe`): x, the changed column's reduced cost, the cost, and whether the
    column is nonbasic at 0."""

    x: np.ndarray
    reduced: float
    value: float
    at_lower: bool
    status: tuple[np.ndarray, np.ndarray]  # its optimal basis
    unique: bool  # the basis is dual nondegenerate: x is the changed LP's only optimal solution


class Screen:
    """One solution's LP and an optimal basis of it (lp/basis.py), read for every probe of every quote the mix does
    not buy: whether the probe's changed LP buys the quote is read off the basis where that is certain (no
    simplex), and left to a re-solve (None) where it is not. Only for an LP (no yes/no quotes) with a compliant
    mix; `of` returns None otherwise."""

    def __init__(self, solution: Solution, quotes: list[Quote], inst: Instance, d: Scaled, basis: Basis):
        self.solution, self.quotes, self.inst, self.d, self.basis = solution, quotes, inst, d, basis
        self.index = {q.quote_id: j for j, q in enumerate(d.quotes)}
        self._lifted: dict[tuple, tuple | None] = {}
        self._probed: dict[tuple, Probed | None] = {}
        self._highs = None  # the kept HiGHS model of the probes, made at the first one
        self._credit: np.ndarray | None = None

    @classmethod
    def of(cls, solution: Solution, quotes: Sequence[Quote], resolver: Resolver | None = None) -> "Screen | None":
        """The screen of `solution` (the optimal mix for `quotes`), its basis from `resolver`'s kept model (the
        resolver that solved it: no solve), else from a solve of its own."""
        if solution.status != "optimal" or solution.shortfall_jpy > 0:
            return None
        quotes = list(quotes)
        inst = Instance.build(solution.profile, quotes, solution.regime, assets=solution.offered_assets)
        if inst.requirement_jpy != solution.requirement_jpy:
            return None
        d = Scaled.of(inst)
        if d.binary.any():
            return None
        basis = (resolver or Resolver()).optimal_basis(inst)
        if basis is None or abs(basis.value * inst.unit - solution.annual_cost_jpy) > SCREEN_TIE * inst.unit:
            return None  # (a mix that is not this LP's optimum, e.g. a year of a plan, is re-solved probe by probe)
        return cls(solution, quotes, inst, d, basis)

    def model_column(self, quote_id: str) -> int | None:
        """The model column of the quote's share (None when the quote is not in the LP)."""
        j = self.index.get(quote_id)
        return None if j is None else int(Columns.of_scaled(self.d).share(j))

    def column(self, quote_id: str) -> int | None:
        """The model column of the quote's share, when the basis leaves it nonbasic at 0 (else None)."""
        k = self.model_column(quote_id)
        return k if k is not None and self.basis.at_lower(k) else None

    def bought(self, quote_id: str, changes: Sequence[tuple]) -> bool | None:
        """Whether the LP with `changes` made (the probes' third items, in order) has a better mix than the base
        (`better`) that buys the quote (True), has none (False), or neither is certain here (None: re-solve)."""
        k = self.model_column(quote_id)
        if k is None:
            return None
        num, basis = self.basis.num, self.basis
        column, cost, lifts = num.A[:, k], float(num.cost[k]), {}
        for change in changes:
            if change[0] == "lift":
                lifts.update(change[1])
            elif change[0] == "cover":
                column = self._covering(self.index[quote_id])
                if column is None:
                    return None
            elif change[0] == "free":
                cost = 0.0
            else:  # a reinstatement or a minimum line changes rows or the structure: re-solve
                return None
        rows = None
        if lifts:
            lifted = self._lift(tuple(sorted(lifts.items())))
            if lifted is None:
                return None
            rows, moved = lifted
            if moved is not None and moved.at_lower(k):
                known = moved.enters(k, column, cost)
                if known is not None:
                    return known
        elif basis.at_lower(k):
            known = basis.enters(k, column, cost)
            if known is not None:
                return known
        # the basis cannot tell (degenerate in this direction, or infeasible once a cap is lifted): one warm
        # re-solve of the changed LP decides where certain
        probe = self.probe(k, column, cost, rows)
        if probe is None:
            return None
        if probe.at_lower and probe.reduced > SCREEN_REDUCED_COST:
            return False  # complementary slackness with the changed LP's optimal dual: no optimal mix buys it
        saved = basis.value - probe.value
        if saved <= SCREEN_TIE / 10:
            return False  # a tie: the cheapest mix does not need the quote (`better`)
        if saved <= 10 * SCREEN_TIE:
            return None
        if probe.unique and probe.x[k] >= SCREEN_STEP:
            return True  # the changed LP's only optimal mix buys it
        if rows is None:
            # every mix of the changed LP costs at least V + reduced·s_j (weak duality with the base duals): an
            # optimal one saving `saved` buys at least saved / −reduced
            reduced = cost - float(basis.y[basis.tight] @ column[basis.tight])
            if reduced < 0 and saved / -reduced >= SCREEN_STEP:
                return True
        return None

    def probe(self, k: int, column: np.ndarray, cost: float, rows: tuple[np.ndarray, np.ndarray] | None = None,
              upper: float | None = None) -> "Probed | None":
        """The optimum of the LP with column k's coefficients and cost replaced (and the row bounds `rows`): a few
        pivots of the primal simplex from the base basis (`basis.primal_simplex`; the basis is small and the LP
        dense, where HiGHS spends more on setting up a run than the pivots take), else a warm re-solve from it on
        one HiGHS model kept for the sheet (presolve off), its basis certified (`engine.certify_one`); None when
        neither finds an optimum that certifies."""
        key = (k, column.tobytes(), cost, None if rows is None else (rows[0].tobytes(), rows[1].tobytes()), upper)
        if key in self._probed:
            return self._probed[key]
        num, base, out = self.basis.num, self.basis, None
        probe = Numbers(num.A.copy(), *(rows or (num.row_lower, num.row_upper)), num.cost.copy(), num.col_lower,
                        num.col_upper, num.names, num.integer)
        probe.A[:, k], probe.cost[k] = column, cost
        if upper is not None:
            probe.col_upper = num.col_upper.copy()
            probe.col_upper[k] = upper
        start = rows is None and upper is None  # the base basis stays primal feasible: the primal simplex starts there
        status = primal_simplex(probe, (base.col_status, base.row_status)) if start else None
        if status is None or not certify_one(probe, status):
            status = self._highs_probe(k, column, cost, rows, upper)
        if status is not None and certify_one(probe, status):
            b = Basis.of(probe, status)
            if b is not None:
                out = Probed(b.x, float(b.d[k]), b.value, b.at_lower(k), status, b.unique())
        self._probed[key] = out
        return out

    def _highs_probe(self, k: int, column: np.ndarray, cost: float, rows: tuple[np.ndarray, np.ndarray] | None,
                     upper: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """HiGHS's optimal basis of the changed LP (`probe`), warm from the base basis on the sheet's kept model."""
        num, base = self.basis.num, self.basis
        own, own_cost = num.A[:, k].copy(), float(num.cost[k])
        if self._highs is None:
            self._highs = highs.new(presolve="off")
            highs.load(self._highs, num.A, num.cost, num.col_lower, num.col_upper, num.row_lower, num.row_upper)
            self._start = highs.highs_basis(base.col_status, base.row_status)
        h, every = self._highs, np.arange(num.A.shape[0])
        highs.set_column(h, k, own, column)
        highs.set_costs(h, np.array([k]), np.array([cost]))
        if rows is not None:
            highs.set_rows_bounds(h, every, rows[0], rows[1])
        if upper is not None:
            highs.set_col_bounds(h, np.array([k]), num.col_lower[[k]], np.array([upper]))
        highs.set_basis(h, self._start)
        try:
            return highs.basis(h) if highs.run(h, "probing a reason") == "optimal" else None
        finally:
            highs.set_column(h, k, column, own)
            highs.set_costs(h, np.array([k]), np.array([own_cost]))
            if rows is not None:
                highs.set_rows_bounds(h, every, num.row_lower, num.row_upper)
            if upper is not None:
                highs.set_col_bounds(h, np.array([k]), num.col_lower[[k]], num.col_upper[[k]])

    def _lift(self, key: tuple) -> "tuple[tuple[np.ndarray, np.ndarray], Basis | None] | None":
        """The row bounds of the LP under the regime with these eligibility values (only row bounds may move,
        else None), and the base basis there if it stays feasible."""
        if key not in self._lifted:
            inst = Instance.build(self.inst.profile, self.quotes, _lift(self.inst.regime, **dict(key)),
                                  assets=self.inst.assets)
            d = Scaled.of(inst)
            num, base = numbers(d), self.basis.num
            same = (d.structure() == self.d.structure() and num.names == base.names
                    and np.array_equal(num.A, base.A) and np.array_equal(num.cost, base.cost)
                    and np.array_equal(num.col_lower, base.col_lower) and np.array_equal(num.col_upper, base.col_upper))
            self._lifted[key] = ((num.row_lower, num.row_upper),
                                 self.basis.with_row_bounds(num.row_lower, num.row_upper)) if same else None
        return self._lifted[key]

    def _covering(self, j: int) -> np.ndarray | None:
        """Quote j's column were it to cover every peril of the regime, in this LP's rows (its funded-loss rows of
        every peril group at its credit κ_j·r_j(x); peril groups that become equal are equal rows, the same LP).
        None under a second loss (the two-event rows depend on what each quote covers)."""
        d, num = self.d, self.basis.num
        if d.second_event_share > 0:
            return None
        if self._credit is None:
            self._credit = d.credit_at(d.points)
        column = num.A[:, int(Columns.of_scaled(d).share(j))].copy()
        P = len(d.point_names)
        for g, group in enumerate(d.groups):
            if num.names[g * P] != f"funded_{safe_name(group)}_at_{d.point_names[0]}":
                return None
            column[g * P:(g + 1) * P] = self._credit[:, j]
        return column

    def break_even_rol(self, quote: Quote) -> float | None:
        """The break-even rate on line of a quote out of the mix that its price alone keeps out, read off the basis
        where it gives what `analysis.break_even`'s re-solves give (else None: re-solve).

        The quote enters as soon as its cost c_j falls below yᵀa_j, at ROL × (1 − d_j / c_j), when its ratio-test
        step θ is at least SCREEN_STEP (every mix cheaper than V then buys at least θ of it). The re-solves stop when
        the cost gap to the mix without the quote is within BREAK_EVEN_GAP of that cost: the first gap, at ROL 0, is
        at least (yᵀa_j)·θ, and a stop can leave their answer at most that tolerance ÷ (the cost's slope in the ROL ×
        θ) from the exact one: both are required to be far from mattering (_BREAK_EVEN_AGREE).

        Where the basis is degenerate in the quote's direction (θ = 0), the re-solves' Newton steps are taken on the
        kept model of the probes (`probe`; the first, the quote free, is shared with the reasons): from the optimum
        at ROL_k (share s_k, cost V_k) to ROL_k + (V − V_k) ÷ (slope × s_k), until the cost meets V. A step that
        would have to bisect is left to the re-solves."""
        k = self.column(quote.quote_id)
        if k is None or quote.rate_on_line <= 0:
            return None
        b, num = self.basis, self.basis.num
        cost = float(num.cost[k])
        worth = cost - float(b.d[k])  # yᵀa_j
        if cost <= 0 or worth <= 0:
            return None
        unit, R = self.inst.unit, self.inst.requirement_jpy
        stop = BREAK_EVEN_GAP * max(abs(self.solution.annual_cost_jpy), 1.0)  # yen
        slope = self.inst.profile.premium_multiplier * (1.0 + quote.fronting_fee_rate) * quote.limit_jpy(R)
        step = b.step(k, num.A[:, k])
        if step >= SCREEN_STEP:
            rol = quote.rate_on_line * worth / cost
            if worth * step * unit > 1e3 * stop and stop / (slope * step) <= _BREAK_EVEN_AGREE * rol:
                return rol
            return None
        # Newton's steps as analysis.break_even takes them, each probe a warm re-solve of the kept model
        rol, at = 0.0, self.probe(k, num.A[:, k], 0.0)
        for _ in range(50):
            if at is None:
                return None
            share, gap = float(at.x[k]), (b.value - at.value) * unit
            if share <= ZERO_SHARE:
                return rol if gap <= stop and rol > 0 else None  # landed on it, or (else) bisect: re-solve
            if gap <= stop:
                return rol if rol > 0 else None
            rol += gap / (slope * share)
            if rol >= quote.rate_on_line:
                return None
            at = self.probe(k, num.A[:, k], cost * rol / quote.rate_on_line)
        return None


    def price(self, quote: Quote, ceiling: float) -> tuple[float | None, str, tuple[str, ...]] | None:
        """`analysis.break_even` of a quote out of the mix, read off the screen where it gives the same answer:
        (break-even rate on line, reason, competitors), or None (re-solve).

        Free (ROL 0), the quote either does not make the mix better (`better`: "not bought even if free", with its
        obstacles, `reasons` on this screen) or the LP has one optimal mix x₀ (`probe`, dual nondegenerate): its
        competitors are the sources the mix without it (this mix, itself the only optimal one) uses more of than x₀,
        and its break-even is `break_even_rol`."""
        if self.solution.share_of(quote.quote_id) > 0:
            return self._price_in_mix(quote, ceiling)
        k = self.model_column(quote.quote_id)
        if k is None or not self.basis.unique():
            return None
        num = self.basis.num
        free = self.probe(k, num.A[:, k], 0.0)  # ROL 0 (a quote of an LP sheet has no flat fee)
        if free is None:
            return None
        if self.basis.value - free.value <= SCREEN_TIE / 10 or (free.unique and free.x[k] <= ZERO_SHARE):
            words = reason(self.solution, self.quotes, quote.quote_id, screen=self)
            price = "; dearer than cash and other cover"  # as analysis.break_even words it
            if words.endswith(price):
                words = words.removesuffix(price) + " (without that, its price too)"
            return None, "not bought even if free: " + words, ()
        if not free.unique or self.basis.value - free.value <= 10 * SCREEN_TIE:
            return None
        rol = self.break_even_rol(quote)
        return None if rol is None else (rol, "", self._competitors(free.x, quote.quote_id))

    def _price_in_mix(self, quote: Quote, ceiling: float) -> tuple[float | None, str, tuple[str, ...]] | None:
        """`price` of a quote in the mix, as analysis.break_even takes it: the mix without it (column k held at 0:
        the same LP as the sheet without the quote) must be the only optimal one; then Newton's steps up from its
        ROL, each probe on the kept model (`probe`), until the cost meets the cost without it (the break-even), or
        the ROL passes `ceiling` (bought at any price). A step that would bisect is left to the re-solves."""
        k = self.model_column(quote.quote_id)
        if k is None or quote.rate_on_line <= 0 or not self.basis.unique():
            return None
        num, unit, R = self.basis.num, self.inst.unit, self.inst.requirement_jpy
        without = self.probe(k, num.A[:, k], float(num.cost[k]), upper=0.0)
        if without is None or not without.unique:
            return None
        stop = BREAK_EVEN_GAP * max(abs(without.value * unit), 1.0)
        slope = self.inst.profile.premium_multiplier * (1.0 + quote.fronting_fee_rate) * quote.limit_jpy(R)
        competitors = self._competitors(self.basis.x, quote.quote_id, without.x)
        rol, share = quote.rate_on_line, self.solution.share_of(quote.quote_id)
        value = self.solution.annual_cost_jpy
        for _ in range(50):
            gap = without.value * unit - value
            if share <= 0:
                return (rol, "", competitors) if gap <= stop else None
            if gap <= stop:
                return rol, "", competitors
            rol += gap / (slope * share)
            if rol > ceiling:
                return math.inf, "bought at any price", competitors
            at = self.probe(k, num.A[:, k], float(num.cost[k]) * rol / quote.rate_on_line)
            if at is None:
                return None
            share = float(at.x[k]) if at.x[k] > ZERO_SHARE else 0.0
            share = min(max(share, quote.min_share), quote.max_share) if share > 0 else 0.0
            value = at.value * unit
        return None

    def _competitors(self, x: np.ndarray, quote_id: str, without: np.ndarray | None = None) -> tuple[str, ...]:
        """analysis._competitors from model columns: the sources the mix `without` the quote (default the base
        mix) uses more of than `x`, largest first."""
        without = self.basis.x if without is None else without
        d, unit, R = self.d, self.inst.unit, self.inst.requirement_jpy
        cols = Columns.of_scaled(d)

        def cover(v: np.ndarray) -> dict[str, float]:
            out = {}
            for j, q in enumerate(d.quotes):
                s = float(v[cols.share(j)])
                if s > ZERO_SHARE:
                    out[q.quote_id] = min(max(s, q.min_share), q.max_share) * q.limit_jpy(R)
            return out

        gains = cover(without)
        for qid, c in cover(x).items():
            gains[qid] = gains.get(qid, 0.0) - c
        gains["cash"] = (max(float(without[CASH]), 0.0) - max(float(x[CASH]), 0.0)) * unit
        tol = 1e-6 * max(R, 1.0)
        return tuple(q for q, v in sorted(gains.items(), key=lambda kv: -kv[1]) if q != quote_id and v > tol)


def _bought(solution: Solution, quotes: list[Quote], regime: Regime, quote_id: str,
            resolver: Resolver | None = None, screen: Screen | None = None, changes: Sequence[tuple] = ()) -> bool:
    """Whether the optimal mix for these quotes and regime buys the quote, and is better for it than `solution`
    (the mix the probe changes): read off `screen` where certain, else re-solved."""
    if screen is not None:
        known = screen.bought(quote_id, changes)
        if known is not None:
            return known
    probe = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                  assets=solution.offered_assets)
    return probe.share_of(quote_id) > _BOUGHT and better(probe, solution)


def better(probe: Solution, base: Solution) -> bool:
    """A probe's mix is better than the base mix: less shortfall, or as little and cheaper, by more than SCREEN_TIE
    of R. A probe that only ties with the base (a free quote adding nothing, bought or not at HiGHS's whim) does
    not count the quote as bought: the cheapest mix does not need it."""
    tie = SCREEN_TIE * (base.requirement_jpy if base.requirement_jpy > 0 else 1.0)
    if probe.shortfall_jpy < base.shortfall_jpy - tie:
        return True
    return probe.shortfall_jpy <= base.shortfall_jpy + tie and probe.annual_cost_jpy < base.annual_cost_jpy - tie


def _gates(solution: Solution, quotes: list[Quote], quote_id: str) -> tuple[list[Reason], list[Quote], bool]:
    """Obstacles that need no re-solve to see (offer, κ = 0, attachment, max_share), with the quotes as they
    would be without them; the flag says whether the obstacles can be removed at all."""
    quote = next(q for q in quotes if q.quote_id == quote_id)
    regime, R = solution.regime, solution.requirement_jpy
    found: list[Reason] = []
    if not quote.offered_to(solution.profile.exchange_id):
        found.append(Reason("not_offered"))
        quote = dataclasses.replace(quote, exchange_id=None)
    why = ineligibility_reason(quote, regime)
    if why is not None and why.code == "pays_late":  # a term of the quote: one that pays in time could be bought
        found.append(why)
        quote = dataclasses.replace(quote, days_to_pay=regime.eligibility.max_days_to_pay)
        why = ineligibility_reason(quote, regime)
    if why == Reason("not_licensed"):
        found.append(why)
        quote = dataclasses.replace(quote, licensed_in_japan=True)
        why = ineligibility_reason(quote, regime)
    if why == Reason("rating_below_min"):
        found.append(why)
        quote = dataclasses.replace(quote, rating=regime.eligibility.min_rating)
        why = ineligibility_reason(quote, regime)
    if why == Reason("state_backed_excluded"):
        found.append(why)
        quote = dataclasses.replace(quote, exclusions=quote.exclusions - {"state_backed"})
        why = ineligibility_reason(quote, regime)
    if why:  # a rating credit or derivative factor of 0 in the regime: nothing about the quote can change that
        return [*found, why], quotes, False
    if quote.attachment_jpy(R) >= R:
        found.append(Reason("attaches_above_r"))
        quote = dataclasses.replace(quote, attachment=0.0)
    if quote.max_share <= 0:
        return [*found, Reason("no_share_on_offer")], quotes, False
    return found, [quote if q.quote_id == quote_id else q for q in quotes], True


def reason(solution: Solution, quotes: Sequence[Quote], quote_id: str, resolver: Resolver | None = None,
           screen: Screen | None = None) -> str:
    """The reason `quote_id` is not in `solution` (which must be the optimal mix for these quotes): every obstacle
    that has to go before the optimal mix buys it, joined by "; ", in the order of the module docstring."""
    return "; ".join(r.words() for r in reasons(solution, quotes, quote_id, resolver, screen))


def reasons(solution: Solution, quotes: Sequence[Quote], quote_id: str,
            resolver: Resolver | None = None, screen: Screen | None = None) -> tuple[Reason, ...]:
    """`reason` as typed values: every obstacle, in order. With `screen` (`Screen.of(solution, quotes)`), a probe
    whose answer the solution's optimal basis gives for certain is not re-solved; the others are, as without it."""
    quotes = list(quotes)
    found, quotes, removable = _gates(solution, quotes, quote_id)
    if not removable:
        return tuple(found)
    base, regime = solution, solution.regime
    if found:
        screen = None  # the gates changed the quote: not the screened LP
        base = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                     assets=solution.offered_assets)
        if base.share_of(quote_id) > _BOUGHT:
            return tuple(found)
    quote = next(q for q in quotes if q.quote_id == quote_id)
    probes = _probes(base, quote)
    for label, remove, change in probes:       # one obstacle at a time
        qs, r = remove(quotes, regime)
        if _bought(base, qs, r, quote_id, resolver, screen, (change,)):
            return (*found, label)
    qs, r, changes = quotes, regime, []
    for label, remove, change in probes:       # cumulatively, in order
        qs, r = remove(qs, r)
        changes.append(change)
        found.append(label)
        if _bought(base, qs, r, quote_id, resolver, screen, changes):
            return tuple(found)
    return (*found[:len(found) - len(probes)], Reason("adds_nothing"))


# ---------------------------------------------------------------------- reserve assets not held, and why

def asset_ineligibility_reason(asset: ReserveAsset, regime: Regime) -> Reason | None:
    """Why a reserve asset earns no credit (κ_a = 0) under the regime (None when it does). Mirrors
    regime.asset_credit_factor."""
    if not pays_in_time(asset.days_to_pay, regime):
        return late(asset.days_to_pay, regime)
    if asset.kind != "jgb" and rating_credit(asset.rating, regime) <= 0:
        if rating_rank(asset.rating) > rating_rank(regime.eligibility.min_rating):
            return Reason("rating_below_min")
        return Reason("rating_credit_zero", (rating_bucket(asset.rating),))
    return None


def _replace_asset(assets: list[ReserveAsset], asset_id: str, **changes: Any) -> list[ReserveAsset]:
    return [dataclasses.replace(a, **changes) if a.asset_id == asset_id else a for a in assets]


def _lift_asset_share(regime: Regime, kind: str, value: float) -> Regime:
    shares = dataclasses.replace(regime.eligibility.asset_shares, **{kind: value})
    return _lift(regime, asset_shares=shares)


def asset_reason(solution: Solution, quotes: Sequence[Quote], assets: Sequence[ReserveAsset], asset_id: str,
                 resolver: Resolver | None = None) -> str:
    """`asset_reasons` in words, joined by "; "."""
    return "; ".join(r.words() for r in asset_reasons(solution, quotes, assets, asset_id, resolver))


def asset_reasons(solution: Solution, quotes: Sequence[Quote], assets: Sequence[ReserveAsset], asset_id: str,
                  resolver: Resolver | None = None) -> tuple[Reason, ...]:
    """Why reserve asset `asset_id` is not in `solution` (the optimal mix for these quotes and assets), found as
    for quotes: the gates that need no re-solve (offer, days to pay, rating, a kind allowed no credit, no amount),
    then the obstacles removed one at a time and re-solved (a binding max_share.<kind>, max_counterparty_share,
    liquid_capital or min_cash_share; its price), then cumulatively."""
    assets = list(assets)
    asset = next(a for a in assets if a.asset_id == asset_id)
    regime, prof = solution.regime, solution.profile
    found: list[Reason] = []
    if not asset.offered_to(prof.exchange_id):
        found.append(Reason("not_offered"))
        asset = dataclasses.replace(asset, exchange_id=None)
    if not pays_in_time(asset.days_to_pay, regime):
        found.append(late(asset.days_to_pay, regime))
        asset = dataclasses.replace(asset, days_to_pay=regime.eligibility.max_days_to_pay)
    why = asset_ineligibility_reason(asset, regime)
    if why == Reason("rating_below_min"):
        found.append(why)
        asset = dataclasses.replace(asset, rating=regime.eligibility.min_rating)
        why = asset_ineligibility_reason(asset, regime)
    if why:
        return (*found, why)
    if regime.eligibility.max_asset_share(asset.kind) <= 0:
        return (*found, Reason("asset_no_credit_allowed", (asset.kind,)))
    if asset.max_amount_jpy <= 0:
        return (*found, Reason("no_amount_on_offer"))
    assets = [asset if a.asset_id == asset_id else a for a in assets]
    quotes = list(quotes)

    def held(assets_: list[ReserveAsset], regime_: Regime, profile_=prof) -> bool:
        probe = solve(profile_, quotes, regime_, marginal=False, check=False, resolver=resolver, assets=assets_)
        return probe.amount_of(asset_id) > _BOUGHT * max(probe.requirement_jpy, 1.0)

    if found and held(assets, regime):
        return tuple(found)
    base = solution if not found else solve(prof, quotes, regime, marginal=False, check=False, resolver=resolver,
                                             assets=assets)
    binding, elig = set(base.binding), regime.eligibility
    probes: list[tuple[Reason, Callable]] = []
    if f"max_share.{asset.kind}" in binding and elig.max_asset_share(asset.kind) < 1:
        probes.append((Reason("asset_cap_binds", (asset.kind,)),
                       lambda a, r, p: (a, _lift_asset_share(r, asset.kind, 1.0), p)))
    if asset.counterparty and f"max_counterparty_share:{asset.counterparty}" in binding \
            and elig.max_counterparty_share < 1:
        probes.append((Reason("counterparty_cap_binds", (asset.counterparty,)),
                       lambda a, r, p: (a, _lift(r, max_counterparty_share=1.0), p)))
    if asset.funded and "liquid_capital" in binding:
        probes.append((Reason("liquid_capital_binds"),
                       lambda a, r, p: (a, r, dataclasses.replace(p, liquid_capital_jpy=float("inf")))))
    if not asset.funded and "min_cash_share" in binding and elig.min_cash_share > 0:
        probes.append((Reason("cap_binds", ("min_cash_share",)),
                       lambda a, r, p: (a, _lift(r, min_cash_share=0.0), p)))
    free = dict(yield_rate=prof.cost_of_capital) if asset.funded else dict(fee_rate=0.0)
    probes.append((Reason("asset_dearer"), lambda a, r, p: (_replace_asset(a, asset_id, **free), r, p)))
    for label, remove in probes:               # one obstacle at a time
        a, r, p = remove(assets, regime, prof)
        if held(a, r, p):
            return (*found, label)
    a, r, p = assets, regime, prof
    for label, remove in probes:               # cumulatively, in order
        a, r, p = remove(a, r, p)
        found.append(label)
        if held(a, r, p):
            return tuple(found)
    return (*found[:len(found) - len(probes)], Reason("asset_adds_nothing"))
