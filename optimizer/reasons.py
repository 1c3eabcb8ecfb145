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
7. `aggregate used up by the first loss (no reinstatement left for the second)`: under a regime with a second loss in
   the year (second_event_share > 0), a layer without reinstatement pays one loss a year; with one reinstatement
   (at the same premium) it is bought;
8. `minimum line min_share <x> does not fit`: dropping its minimum line buys it;
9. `dearer than cash and other cover`: at a rate on line of 0 (and no fixed fee) it is bought; the break-even
   rate on line (`analysis.break_even`, re-solves) is given when asked.
When no single removal buys it, the removals are made cumulatively in that order and the reason lists every
obstacle removed ("; "). A quote not bought even with every obstacle removed "adds nothing the mix needs".
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from . import analysis
from .domain import Quote, Regime, rating_bucket, rating_rank
from .model import Resolver, solve
from .regime import exempt_from_counterparty_cap, pays_in_time, rating_credit
from .solution import Solution

AGGREGATE_USED_UP = "aggregate used up by the first loss (no reinstatement left for the second)"
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
    if regime.requirement.second_event_share > 0 and quote.reinstatements == 0:
        probes.append((AGGREGATE_USED_UP, lambda qs, r: (_replace_quote(qs, qid, reinstatements=1), r)))
    if quote.min_share > 0:
        probes.append((f"minimum line min_share {quote.min_share:g} does not fit",
                       lambda qs, r: (_replace_quote(qs, qid, min_share=0.0), r)))
    probes.append(("dearer than cash and other cover",
                   lambda qs, r: (_replace_quote(qs, qid, rate_on_line=0.0, fixed_fee_jpy=0.0), r)))
    return probes


def _bought(solution: Solution, quotes: list[Quote], regime: Regime, quote_id: str,
            resolver: Resolver | None = None) -> bool:
    probe = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver)
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
        base = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver)
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
