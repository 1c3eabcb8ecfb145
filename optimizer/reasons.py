"""Why each offered quote was not bought: a reason from the model, never a guess.

A reason names the obstacle that keeps a quote out of the optimal mix. Eligibility reasons follow from the regime's
rules for κ (docs/design.md §3); every other reason is found by a counterfactual: remove the obstacle (lift the
binding cap, let the quote cover every peril, make it free) and re-solve with `model.solve`. The first removal
that makes the optimal mix buy the quote is its reason, so the reason is true by construction: the tests remove
the named obstacle and see the quote bought.

Order of the checks, cheapest and most fundamental first:
1. `not offered to this exchange` (its exchange_id is another exchange's);
2. `ineligible: …` (κ = 0): pays after more days than max_days_to_pay, not licensed in Japan (require_licensed,
   no fronting), rating below min_rating, credit factor 0 (state-backed exclusion), rating credit 0,
   derivative_credit_factor 0;
3. `attaches above R` (a layer starting at or above R pays nothing for a loss up to R);
4. `no share on offer (max_share 0)`;
5. `no credit allowed: <cap> 0` when the regime caps this kind's credit (insurance or derivative) at 0; else
   `cap binds: <name>` (max_insurance_share, max_derivative_share, max_counterparty_share (<counterparty>),
   min_cash_share): the cap is binding in the solution and lifting it (to 1, or 0 for the cash floor) buys it;
6. `does not cover <perils>`: covering every peril of the regime buys it;
7. `minimum line min_share <x> does not fit`: dropping its minimum line buys it;
8. `dearer than cash and other cover`: at a rate on line of 0 (and no fixed fee) it is bought; the break-even
   rate on line (`analysis.break_even`, re-solves) is given when asked.
When no single removal buys it, the removals are made cumulatively in that order and the reason lists every
obstacle removed ("; "). A quote not bought even with every obstacle removed "adds nothing the mix needs".
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from . import analysis
from .domain import Quote, Regime, ReserveAsset, rating_bucket, rating_rank
from .model import Resolver, solve
from .regime import exempt_from_counterparty_cap, pays_in_time, rating_credit
from .solution import Solution

_BOUGHT = 1e-7  # a probe counts the quote as bought above this share (shares below 1e-9 are reported as 0)

Probe = tuple[str, Callable[[list[Quote], Regime], tuple[list[Quote], Regime]]]


def ineligibility(quote: Quote, regime: Regime) -> str | None:
    """Why κ = 0 for this quote under the regime (None when it earns credit). Mirrors regime.credit_factor."""
    elig = regime.eligibility
    if not pays_in_time(quote.days_to_pay, regime):
        return late(quote.days_to_pay, regime)
    if elig.require_licensed and not quote.licensed_in_japan and quote.fronting_fee_rate <= 0:
        return "ineligible: not licensed in Japan"
    if not (quote.is_derivative and quote.collateralized):
        if rating_credit(quote.rating, regime) <= 0:
            if rating_rank(quote.rating) > rating_rank(elig.min_rating):
                return "ineligible: rating below min_rating"
            return f"ineligible: rating credit 0 for {rating_bucket(quote.rating)}"
    if quote.is_derivative and elig.derivative_credit_factor <= 0:
        return "ineligible: derivative_credit_factor 0"
    if "state_backed" in quote.exclusions and elig.state_backed_exclusion_factor <= 0:
        return "ineligible: credit factor 0 (state-backed exclusion)"
    return None


def late(days_to_pay: float, regime: Regime) -> str:
    """The reason for cover or an asset that pays after the regime's max_days_to_pay (no ";": reasons join on it).

    >>> from .domain import Eligibility
    >>> late(180, Regime("r", eligibility=Eligibility(max_days_to_pay=30)))
    'ineligible: pays after 180 days, the regime allows 30'
    """
    return (f"ineligible: pays after {days_to_pay:g} days, the regime allows "
            f"{regime.eligibility.max_days_to_pay:g}")


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
        probes.append((f"no credit allowed: {cap} 0", lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0}))))
    elif cap in binding and getattr(elig, cap) < 1:
        probes.append((f"cap binds: {cap}", lambda qs, r, cap=cap: (qs, _lift(r, **{cap: 1.0}))))
    if (not exempt_from_counterparty_cap(quote) and f"max_counterparty_share:{quote.counterparty}" in binding
            and elig.max_counterparty_share < 1):
        probes.append((f"cap binds: max_counterparty_share ({quote.counterparty})",
                       lambda qs, r: (qs, _lift(r, max_counterparty_share=1.0))))
    if "min_cash_share" in binding and elig.min_cash_share > 0:
        probes.append(("cap binds: min_cash_share", lambda qs, r: (qs, _lift(r, min_cash_share=0.0))))
    missing = [p for p in regime.requirement.perils if not quote.covers(p)]
    if missing:
        all_perils = frozenset(quote.perils) | frozenset(regime.requirement.perils)
        probes.append((f"does not cover {', '.join(missing)}",
                       lambda qs, r: (_replace_quote(qs, qid, perils=all_perils), r)))
    if quote.min_share > 0:
        probes.append((f"minimum line min_share {quote.min_share:g} does not fit",
                       lambda qs, r: (_replace_quote(qs, qid, min_share=0.0), r)))
    probes.append(("dearer than cash and other cover",
                   lambda qs, r: (_replace_quote(qs, qid, rate_on_line=0.0, fixed_fee_jpy=0.0), r)))
    return probes


def _bought(solution: Solution, quotes: list[Quote], regime: Regime, quote_id: str,
            resolver: Resolver | None = None) -> bool:
    probe = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                  assets=solution.offered_assets)
    return probe.share_of(quote_id) > _BOUGHT


def _gates(solution: Solution, quotes: list[Quote], quote_id: str) -> tuple[list[str], list[Quote], bool]:
    """Obstacles that need no re-solve to see (offer, κ = 0, attachment, max_share), with the quotes as they
    would be without them; the flag says whether the obstacles can be removed at all."""
    quote = next(q for q in quotes if q.quote_id == quote_id)
    regime, R = solution.regime, solution.requirement_jpy
    found: list[str] = []
    if not quote.offered_to(solution.profile.exchange_id):
        found.append("not offered to this exchange")
        quote = dataclasses.replace(quote, exchange_id=None)
    why = ineligibility(quote, regime)
    if not pays_in_time(quote.days_to_pay, regime):  # a term of the quote: one that pays in time could be bought
        found.append(why)
        quote = dataclasses.replace(quote, days_to_pay=regime.eligibility.max_days_to_pay)
        why = ineligibility(quote, regime)
    if why == "ineligible: not licensed in Japan":
        found.append(why)
        quote = dataclasses.replace(quote, licensed_in_japan=True)
        why = ineligibility(quote, regime)
    if why == "ineligible: rating below min_rating":
        found.append(why)
        quote = dataclasses.replace(quote, rating=regime.eligibility.min_rating)
        why = ineligibility(quote, regime)
    if why == "ineligible: credit factor 0 (state-backed exclusion)":
        found.append(why)
        quote = dataclasses.replace(quote, exclusions=quote.exclusions - {"state_backed"})
        why = ineligibility(quote, regime)
    if why:  # a rating credit or derivative factor of 0 in the regime: nothing about the quote can change that
        return [*found, why], quotes, False
    if quote.attachment_jpy(R) >= R:
        found.append("attaches above R")
        quote = dataclasses.replace(quote, attachment=0.0)
    if quote.max_share <= 0:
        return [*found, "no share on offer (max_share 0)"], quotes, False
    return found, [quote if q.quote_id == quote_id else q for q in quotes], True


def reason(solution: Solution, quotes: Sequence[Quote], quote_id: str, resolver: Resolver | None = None) -> str:
    """The reason `quote_id` is not in `solution` (which must be the optimal mix for these quotes): every obstacle
    that has to go before the optimal mix buys it, joined by "; ", in the order of the module docstring."""
    quotes = list(quotes)
    found, quotes, removable = _gates(solution, quotes, quote_id)
    if not removable:
        return "; ".join(found)
    base, regime = solution, solution.regime
    if found:
        base = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver,
                     assets=solution.offered_assets)
        if base.share_of(quote_id) > _BOUGHT:
            return "; ".join(found)
    quote = next(q for q in quotes if q.quote_id == quote_id)
    probes = _probes(base, quote)
    for label, remove in probes:               # one obstacle at a time
        qs, r = remove(quotes, regime)
        if _bought(solution, qs, r, quote_id, resolver):
            return "; ".join([*found, label])
    qs, r = quotes, regime
    for label, remove in probes:               # cumulatively, in order
        qs, r = remove(qs, r)
        found.append(label)
        if _bought(solution, qs, r, quote_id, resolver):
            return "; ".join(found)
    return "; ".join([*found[:len(found) - len(probes)], "adds nothing the mix needs (not bought even free, covering "
                      "every peril, with no cap)"])


def not_bought(solution: Solution, quotes: Sequence[Quote], *, break_even: bool = True,
               resolver: Resolver | None = None) -> list[dict[str, Any]]:
    """`instruments_not_bought`: one `{quote_id, reason, break_even_rol}` per quote of the sheet not in the mix.

    `break_even_rol` is the rate on line below which the quote would enter (`analysis.break_even`), given for a
    quote whose reason is its price alone when `break_even` is true; else None. Re-solves the model a few times
    per quote (never the solution passed in; on `resolver`'s kept models when given), so it is not part of
    `Solution.to_dict()`.
    """
    out = []
    for q in quotes:
        if solution.share_of(q.quote_id) > 0:
            continue
        why = reason(solution, quotes, q.quote_id, resolver)
        rol = None
        if break_even and why == "dearer than cash and other cover":
            be = analysis.break_even(solution.profile, list(quotes), solution.regime, q.quote_id, base=solution,
                                     resolver=resolver)
            if be.break_even_rol is not None and 0 < be.break_even_rol < float("inf"):
                rol = be.break_even_rol
                why = f"{why} (enters below a rate on line of {rol:.4%}, quoted {q.rate_on_line:.4%})"
        out.append({"quote_id": q.quote_id, "reason": why, "break_even_rol": rol})
    return out


# ---------------------------------------------------------------------- reserve assets not held, and why

def asset_ineligibility(asset: ReserveAsset, regime: Regime) -> str | None:
    """Why a reserve asset earns no credit (κ_a = 0) under the regime (None when it does). Mirrors
    regime.asset_credit_factor."""
    if not pays_in_time(asset.days_to_pay, regime):
        return late(asset.days_to_pay, regime)
    if asset.kind != "jgb" and rating_credit(asset.rating, regime) <= 0:
        if rating_rank(asset.rating) > rating_rank(regime.eligibility.min_rating):
            return "ineligible: rating below min_rating"
        return f"ineligible: rating credit 0 for {rating_bucket(asset.rating)}"
    return None


def _replace_asset(assets: list[ReserveAsset], asset_id: str, **changes: Any) -> list[ReserveAsset]:
    return [dataclasses.replace(a, **changes) if a.asset_id == asset_id else a for a in assets]


def _lift_asset_share(regime: Regime, kind: str, value: float) -> Regime:
    shares = dataclasses.replace(regime.eligibility.asset_shares, **{kind: value})
    return _lift(regime, asset_shares=shares)


def asset_reason(solution: Solution, quotes: Sequence[Quote], assets: Sequence[ReserveAsset], asset_id: str,
                 resolver: Resolver | None = None) -> str:
    """Why reserve asset `asset_id` is not in `solution` (the optimal mix for these quotes and assets), found as
    for quotes: the gates that need no re-solve (offer, days to pay, rating, a kind allowed no credit, no amount),
    then the obstacles removed one at a time and re-solved (a binding max_share.<kind>, max_counterparty_share,
    liquid_capital or min_cash_share; its price), then cumulatively."""
    assets = list(assets)
    asset = next(a for a in assets if a.asset_id == asset_id)
    regime, prof = solution.regime, solution.profile
    found: list[str] = []
    if not asset.offered_to(prof.exchange_id):
        found.append("not offered to this exchange")
        asset = dataclasses.replace(asset, exchange_id=None)
    if not pays_in_time(asset.days_to_pay, regime):
        found.append(late(asset.days_to_pay, regime))
        asset = dataclasses.replace(asset, days_to_pay=regime.eligibility.max_days_to_pay)
    why = asset_ineligibility(asset, regime)
    if why == "ineligible: rating below min_rating":
        found.append(why)
        asset = dataclasses.replace(asset, rating=regime.eligibility.min_rating)
        why = asset_ineligibility(asset, regime)
    if why:
        return "; ".join([*found, why])
    if regime.eligibility.max_asset_share(asset.kind) <= 0:
        return "; ".join([*found, f"no credit allowed: max_share.{asset.kind} 0"])
    if asset.max_amount_jpy <= 0:
        return "; ".join([*found, "no amount on offer (max_amount_jpy 0)"])
    assets = [asset if a.asset_id == asset_id else a for a in assets]
    quotes = list(quotes)

    def held(assets_: list[ReserveAsset], regime_: Regime, profile_=prof) -> bool:
        probe = solve(profile_, quotes, regime_, marginal=False, check=False, resolver=resolver, assets=assets_)
        return probe.amount_of(asset_id) > _BOUGHT * max(probe.requirement_jpy, 1.0)

    if found and held(assets, regime):
        return "; ".join(found)
    base = solution if not found else solve(prof, quotes, regime, marginal=False, check=False, resolver=resolver,
                                             assets=assets)
    binding, elig = set(base.binding), regime.eligibility
    probes: list[tuple[str, Callable]] = []
    if f"max_share.{asset.kind}" in binding and elig.max_asset_share(asset.kind) < 1:
        probes.append((f"cap binds: max_share.{asset.kind}",
                       lambda a, r, p: (a, _lift_asset_share(r, asset.kind, 1.0), p)))
    if asset.counterparty and f"max_counterparty_share:{asset.counterparty}" in binding \
            and elig.max_counterparty_share < 1:
        probes.append((f"cap binds: max_counterparty_share ({asset.counterparty})",
                       lambda a, r, p: (a, _lift(r, max_counterparty_share=1.0), p)))
    if asset.funded and "liquid_capital" in binding:
        probes.append(("cap binds: liquid_capital",
                       lambda a, r, p: (a, r, dataclasses.replace(p, liquid_capital_jpy=float("inf")))))
    if not asset.funded and "min_cash_share" in binding and elig.min_cash_share > 0:
        probes.append(("cap binds: min_cash_share", lambda a, r, p: (a, _lift(r, min_cash_share=0.0), p)))
    free = dict(yield_rate=prof.cost_of_capital) if asset.funded else dict(fee_rate=0.0)
    probes.append(("dearer than cash and other cover",
                   lambda a, r, p: (_replace_asset(a, asset_id, **free), r, p)))
    for label, remove in probes:
        a, r, p = remove(assets, regime, prof)
        if held(a, r, p):
            return "; ".join([*found, label])
    a, r, p = assets, regime, prof
    for label, remove in probes:
        a, r, p = remove(a, r, p)
        found.append(label)
        if held(a, r, p):
            return "; ".join(found)
    return "; ".join([*found[:len(found) - len(probes)], "adds nothing the mix needs (not held even free, with no "
                      "cap)"])


def not_held(solution: Solution, quotes: Sequence[Quote], assets: Sequence[ReserveAsset], *,
             break_even: bool = True, resolver: Resolver | None = None) -> list[dict[str, Any]]:
    """`assets_not_held`: one `{asset_id, reason, break_even}` per asset of the file not in the mix;
    `break_even` is the fee (unfunded) or yield (funded) at which it would enter, for an asset whose reason is
    its price alone (`analysis.asset_break_even`)."""
    out = []
    for a in assets:
        if solution.amount_of(a.asset_id) > 0:
            continue
        why = asset_reason(solution, quotes, assets, a.asset_id, resolver)
        be = None
        if break_even and why == "dearer than cash and other cover":
            be = analysis.asset_break_even(solution.profile, list(quotes), solution.regime, list(assets), a.asset_id,
                                           resolver=resolver)
            if be is not None:
                what = "a yield above" if a.funded else "a fee below"
                now = a.yield_rate if a.funded else a.fee_rate
                why = f"{why} (enters at {what} {be:.4%}, offered {now:.4%})"
        out.append({"asset_id": a.asset_id, "reason": why, "break_even": be})
    return out
