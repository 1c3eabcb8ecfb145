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
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .domain import Quote, Regime, ReserveAsset, rating_bucket, rating_rank
from .lp import Resolver, solve
from .regime import exempt_from_counterparty_cap, pays_in_time, rating_credit, unlicensed
from .solution import Solution

_BOUGHT = 1e-7  # a probe counts the quote as bought above this share (shares below 1e-9 are reported as 0)

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


Probe = tuple[Reason, Callable[[list[Quote], Regime], tuple[list[Quote], Regime]]]


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
        probes.append((Reason("no_credit_allowed", (cap,)), lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0}))))
    elif cap in binding and getattr(elig, cap) < 1:
        probes.append((Reason("cap_binds", (cap,)), lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0}))))
    if (not exempt_from_counterparty_cap(quote) and f"max_counterparty_share:{quote.counterparty}" in binding
            and elig.max_counterparty_share < 1):
        probes.append((Reason("counterparty_cap_binds", (quote.counterparty,)),
                       lambda qs, r: (qs, _lift(r, max_counterparty_share=1.0))))
    if "min_cash_share" in binding and elig.min_cash_share > 0:
        probes.append((Reason("cap_binds", ("min_cash_share",)), lambda qs, r: (qs, _lift(r, min_cash_share=0.0))))
    missing = [p for p in regime.requirement.perils if not quote.covers(p)]
    if missing:
        all_perils = frozenset(quote.perils) | frozenset(regime.requirement.perils)
        probes.append((Reason("does_not_cover", (tuple(missing),)),
                       lambda qs, r: (_replace_quote(qs, qid, perils=all_perils), r)))
    if regime.requirement.second_event_share > 0 and quote.reinstatements == 0:
        probes.append((Reason("aggregate_used_up"), lambda qs, r: (_replace_quote(qs, qid, reinstatements=1), r)))
    if quote.min_share > 0:
        probes.append((Reason("minimum_line", (quote.min_share,)),
                       lambda qs, r: (_replace_quote(qs, qid, min_share=0.0), r)))
    probes.append((Reason("dearer"),
                   lambda qs, r: (_replace_quote(qs, qid, rate_on_line=0.0, fixed_fee_jpy=0.0), r)))
    return probes


def _bought(solution: Solution, quotes: list[Quote], regime: Regime, quote_id: str,
            resolver: Resolver | None = None) -> bool:
    probe = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                  assets=solution.offered_assets)
    return probe.share_of(quote_id) > _BOUGHT


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


def reason(solution: Solution, quotes: Sequence[Quote], quote_id: str, resolver: Resolver | None = None) -> str:
    """The reason `quote_id` is not in `solution` (which must be the optimal mix for these quotes): every obstacle
    that has to go before the optimal mix buys it, joined by "; ", in the order of the module docstring."""
    return "; ".join(r.words() for r in reasons(solution, quotes, quote_id, resolver))


def reasons(solution: Solution, quotes: Sequence[Quote], quote_id: str,
            resolver: Resolver | None = None) -> tuple[Reason, ...]:
    """`reason` as typed values: every obstacle, in order."""
    quotes = list(quotes)
    found, quotes, removable = _gates(solution, quotes, quote_id)
    if not removable:
        return tuple(found)
    base, regime = solution, solution.regime
    if found:
        base = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                     assets=solution.offered_assets)
        if base.share_of(quote_id) > _BOUGHT:
            return tuple(found)
    quote = next(q for q in quotes if q.quote_id == quote_id)
    probes = _probes(base, quote)
    for label, remove in probes:               # one obstacle at a time
        qs, r = remove(quotes, regime)
        if _bought(solution, qs, r, quote_id, resolver):
            return (*found, label)
    qs, r = quotes, regime
    for label, remove in probes:               # cumulatively, in order
        qs, r = remove(qs, r)
        found.append(label)
        if _bought(solution, qs, r, quote_id, resolver):
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
