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

from .domain import Quote, Regime, rating_bucket, rating_rank
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
    probe = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver)
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
        base = solve(solution.profile, quotes, regime, marginal=False, check=False, resolver=resolver)
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
