"""Why each offered quote was not bought, with its price: the obstacles of obstacles.py (typed `Reason` values
found by re-solving the model) and, for a quote its price alone keeps out, the break-even rate on line
(analysis.break_even). The dependencies run one way: reasons → analysis → obstacles.
"""

from __future__ import annotations

from typing import Any, Sequence

from . import analysis
from .domain import Quote, ReserveAsset
from .lp.engine import Resolver
from .obstacles import (WORDS, Reason, Screen, asset_ineligibility_reason, asset_reason, asset_reasons,  # noqa: F401
                        ineligibility, ineligibility_reason, late, reason, reasons)
from .solution import Solution


def not_bought(solution: Solution, quotes: Sequence[Quote], *, break_even: bool = True,
               resolver: Resolver | None = None, typed: bool = False, kept: Resolver | None = None,
               screen: bool = True) -> list[dict[str, Any]]:
    """`instruments_not_bought`: one `{quote_id, reason, break_even_rol}` per quote of the sheet not in the mix
    (and `reasons`, the same as typed values, when `typed`).

    `break_even_rol` is the rate on line below which the quote would enter (`analysis.break_even`), given for a
    quote whose reason is its price alone when `break_even` is true; else None.

    On an LP sheet with a compliant mix, the solution's optimal basis screens every probe (`obstacles.Screen`: taken
    from `kept`, the resolver that solved it, or `resolver`, with no solve; else from one solve): a probe whose
    answer it gives for certain, and a break-even it gives exactly, need no re-solve. The rest re-solve the model
    as they did before (never the solution passed in; on `resolver`'s kept models when given), so the answers are
    the same with the screen as without it (`screen=False`). Not part of `Solution.to_dict()`.
    """
    out = []
    sheet = Screen.of(solution, quotes, kept or resolver) if screen else None
    for q in quotes:
        if solution.share_of(q.quote_id) > 0:
            continue
        why = list(reasons(solution, quotes, q.quote_id, resolver, sheet))
        rol = None
        if break_even and why == [Reason("dearer")]:
            fast = sheet.break_even_rol(q) if sheet is not None else None
            be = analysis.BreakEven(q.quote_id, q.counterparty, q.rate_on_line, 0.0, False, fast, True) \
                if fast is not None else \
                analysis.break_even(solution.profile, list(quotes), solution.regime, q.quote_id, base=solution,
                                    resolver=resolver)
            if be.break_even_rol is not None and 0 < be.break_even_rol < float("inf"):
                rol = be.break_even_rol
                why = [Reason("dearer_below", (rol, q.rate_on_line))]
        item = {"quote_id": q.quote_id, "reason": "; ".join(r.words() for r in why), "break_even_rol": rol}
        if typed:
            item["reasons"] = tuple(why)
        out.append(item)
    return out


def not_held(solution: Solution, quotes: Sequence[Quote], assets: Sequence[ReserveAsset], *,
             break_even: bool = True, resolver: Resolver | None = None, typed: bool = False) -> list[dict[str, Any]]:
    """`assets_not_held`: one `{asset_id, reason, break_even}` per asset of the file not in the mix (and `reasons`,
    the same as typed values, when `typed`);
    `break_even` is the fee (unfunded) or yield (funded) at which it would enter, for an asset whose reason is
    its price alone (`analysis.asset_break_even`)."""
    out = []
    for a in assets:
        if solution.amount_of(a.asset_id) > 0:
            continue
        why = list(asset_reasons(solution, quotes, assets, a.asset_id, resolver))
        be = None
        if break_even and why == [Reason("asset_dearer")]:
            be = analysis.asset_break_even(solution.profile, list(quotes), solution.regime, list(assets), a.asset_id,
                                           resolver=resolver)
            if be is not None:
                now = a.yield_rate if a.funded else a.fee_rate
                why = [Reason("dearer_yield_above" if a.funded else "dearer_fee_below", (be, now))]
        item = {"asset_id": a.asset_id, "reason": "; ".join(r.words() for r in why), "break_even": be}
        if typed:
            item["reasons"] = tuple(why)
        out.append(item)
    return out
