"""What the regime asks for: the requirement R, each quote's and reserve asset's credit factor κ (docs/design.md §3),
and the regime's parameters as a frontier or an override names them."""

from __future__ import annotations

import dataclasses
import math

from .inputs import MAX_DAYS_TO_PAY, MAX_JPY, MIN_REQUIREMENT_JPY, InputError
from .domain import (
    ASSET_KINDS, Eligibility, ExchangeProfile, Quote, Regime, RequirementRule, ReserveAsset, rating_bucket, rating_rank,
)


def requirement(profile: ExchangeProfile, regime: Regime) -> float:
    """R in JPY: min(cap, share_cap·assets, max(floor, volume_rate·volume, hot_rate·hot + cold_rate·cold)).

    `share_cap` is `max_share_of_customer_assets`: a floor must not make a small exchange hold many times its
    customers' assets (¥2bn floor, ¥20m of customer crypto, share cap 0.5 → R = ¥10m).

    Raises InputError (naming the exchange and the column that drives R) when R is not a finite number of yen
    between MIN_REQUIREMENT_JPY and MAX_JPY: e.g. customer_assets_jpy = 1e-320 under an asset-based rule, or no
    customer assets at all, would give an R that means nothing and an answer that looks right.

    >>> from .domain import RequirementRule
    >>> p = ExchangeProfile("S", 2e7, 0.05, 5e7, 0.12)
    >>> requirement(p, Regime("r", RequirementRule(floor_jpy=2e9, max_share_of_customer_assets=0.5)))
    10000000.0
    """
    rule = regime.requirement
    by_volume = rule.volume_rate * profile.annual_trading_volume_jpy
    by_assets = rule.hot_wallet_rate * profile.hot_assets_jpy + rule.cold_wallet_rate * profile.cold_assets_jpy
    ceiling = min(rule.cap_jpy, rule.max_share_of_customer_assets * profile.customer_assets_jpy
                  if rule.max_share_of_customer_assets < float("inf") else float("inf"))
    R = float(min(ceiling, max(rule.floor_jpy, by_volume, by_assets)))
    if not (math.isfinite(R) and MIN_REQUIREMENT_JPY <= R <= MAX_JPY):
        if R < ceiling and by_volume >= by_assets and rule.volume_rate > 0:
            column = "annual_trading_volume_jpy"
        else:
            column = "customer_assets_jpy"
        raise InputError(f"exchange {profile.exchange_id!r}", f"the requirement R = {R:.6g} JPY under regime "
                         f"{regime.name!r} is not a plausible amount; expected R between {MIN_REQUIREMENT_JPY:g} and "
                         f"{MAX_JPY:g} yen (is the exchange's {column} right for this rule?)", column=column)
    return R


def rating_credit(rating: str, regime: Regime) -> float:
    """Credit for a counterparty's rating: 0 below min_rating, else the bucket's factor (1 when unlisted).

    A notched key in `[rating_credit]` (e.g. "A-") takes precedence over its bucket ("A").
    """
    if rating_rank(rating) > rating_rank(regime.eligibility.min_rating):
        return 0.0
    table = regime.rating_credit
    if rating in table:
        return float(table[rating])
    return float(table.get(rating_bucket(rating), 1.0))


def pays_in_time(days_to_pay: float, regime: Regime) -> bool:
    """Whether money that reaches customers `days_to_pay` days after a loss is in time for the regime's
    `max_days_to_pay` (no limit by default): cover or an asset that pays later earns no credit."""
    return days_to_pay <= regime.eligibility.max_days_to_pay


def credit_factor(quote: Quote, regime: Regime) -> float:
    """κ: regulatory credit per yen of cover.

    0 for a quote that pays later than the regime's `max_days_to_pay`. Insurance: the rating credit. Derivative:
    rating credit × derivative_credit_factor. A collateralized derivative: derivative_credit_factor alone (the
    collateral pays, so the issuer's rating does not matter).
    Then two regime rules: with `require_licensed`, a quote whose legal form needs a Japanese licence (insurance, a
    guarantee: `Quote.needs_licence`) earns 0 when its counterparty is not licensed in Japan, unless it is insurance
    fronted by a licensed insurer (`fronting_fee_rate > 0`); a quote that excludes state-backed attacks is
    multiplied by `state_backed_exclusion_factor`.
    """
    elig = regime.eligibility
    if not pays_in_time(quote.days_to_pay, regime):
        return 0.0
    if unlicensed(quote, regime):
        return 0.0
    haircut = elig.derivative_credit_factor
    if quote.is_derivative and quote.collateralized:
        credit = float(haircut)
    else:
        credit = rating_credit(quote.rating, regime)
        credit = credit * haircut if quote.is_derivative else credit
    if "state_backed" in quote.exclusions:
        credit *= elig.state_backed_exclusion_factor
    return float(credit)


def asset_credit_factor(asset: ReserveAsset, regime: Regime) -> float:
    """κ of a reserve asset, before its haircut (`ReserveAsset.credit_per_yen` applies that): 0 when it pays later
    than `max_days_to_pay`; 1 for a JGB (the state pays); else the rating credit of its bank or parent (0 below
    min_rating). How much of R each kind may fund is a cap (`max_share.<kind>`), not part of κ.

    >>> r = Regime("r", eligibility=Eligibility(max_days_to_pay=30), rating_credit={"A": 0.95})
    >>> [asset_credit_factor(ReserveAsset("J", "jgb", days_to_pay=1), r),
    ...  asset_credit_factor(ReserveAsset("G", "bank_guarantee", "Bank", "A+", days_to_pay=5), r),
    ...  asset_credit_factor(ReserveAsset("P", "parent_guarantee", "Parent", "A", days_to_pay=180), r)]
    [1.0, 0.95, 0.0]
    """
    if not pays_in_time(asset.days_to_pay, regime):
        return 0.0
    if asset.kind == "jgb":
        return 1.0
    return rating_credit(asset.rating, regime)


def unlicensed(quote: Quote, regime: Regime) -> bool:
    """True when the regime requires licensed cover and this quote lacks the licence its legal form needs: an
    insurer licensed in Japan or a licensed fronting insurer for insurance (Insurance Business Act Art. 186), a
    guarantor licensed in Japan for a guarantee; a derivative needs neither."""
    if not regime.eligibility.require_licensed or not quote.needs_licence or quote.licensed_in_japan:
        return False
    return not (quote.form == "insurance" and quote.fronting_fee_rate > 0)


def exempt_from_counterparty_cap(quote: Quote) -> bool:
    return quote.is_derivative and quote.collateralized


# Regime parameters a frontier may sweep, and where each lives: every number in [requirement] and [eligibility],
# and `max_share.<kind>` of [eligibility.assets] (a field of Eligibility.asset_shares).
ASSET_SHARE_PARAMETERS: dict[str, str] = {f"max_share.{kind}": kind for kind in ASSET_KINDS}
SWEEPABLE: dict[str, str] = {
    **{f.name: "requirement" for f in dataclasses.fields(RequirementRule) if f.name != "perils"},
    **{f.name: "eligibility" for f in dataclasses.fields(Eligibility)
       if f.name not in ("min_rating", "require_licensed", "asset_shares")},
    **{name: "eligibility.assets" for name in ASSET_SHARE_PARAMETERS},
}


def parameter_value(regime: Regime, name: str) -> float:
    """The value `regime` holds for parameter `name` (see SWEEPABLE)."""
    if name in ASSET_SHARE_PARAMETERS:
        return regime.eligibility.max_asset_share(ASSET_SHARE_PARAMETERS[name])
    return float(getattr(getattr(regime, SWEEPABLE[name]), name))


def with_parameter(regime: Regime, name: str, value: float) -> Regime:
    """A copy of `regime` with one numeric parameter replaced (see SWEEPABLE)."""
    if name in ASSET_SHARE_PARAMETERS:
        elig = regime.eligibility
        shares = dataclasses.replace(elig.asset_shares, **{ASSET_SHARE_PARAMETERS[name]: float(value)})
        return dataclasses.replace(regime, eligibility=dataclasses.replace(elig, asset_shares=shares))
    section = SWEEPABLE[name]
    part = dataclasses.replace(getattr(regime, section), **{name: float(value)})
    return dataclasses.replace(regime, **{section: part})


CEILINGS = ("cap_jpy", "max_share_of_customer_assets")  # R = min(these, …): at 0 they leave no requirement


def check_parameter(name: str, value: float, source: str = "--values") -> float:
    """`value` for regime parameter `name`, typed outside a regime file (a frontier's --values, a scenario's
    overrides), held to the bounds the regime file puts on it (inputs.regime_from_dict): rates and eligibility
    fractions in [0, 1], yen in [0, ¥1,000tn], max_days_to_pay in days [0, 3650] or infinite (no limit); a ceiling on
    R (cap_jpy, max_share_of_customer_assets) may also be infinite (no ceiling) or 0 (a frontier then shows the rule
    asking for nothing). Raises InputError."""
    if name not in SWEEPABLE:
        raise InputError(source, f"unknown regime parameter {name!r}; expected one of {', '.join(SWEEPABLE)}")
    v = float(value)
    ceiling = name in CEILINGS
    if name == "max_days_to_pay":
        if not (0 <= v <= MAX_DAYS_TO_PAY or v == math.inf):
            raise InputError(source, f"{name} = {v:g}: expected a number of days between 0 and {MAX_DAYS_TO_PAY:g}, "
                             "or inf for no limit")
        return v
    if name.endswith("_jpy"):
        ok, expected = 0 <= v <= MAX_JPY, f"an amount in yen between 0 and {MAX_JPY:g}"
    else:
        ok, expected = 0 <= v <= 1, "a fraction between 0 and 1 (0.5 = 50%)"
    if not (ok or (ceiling and v == math.inf)):
        raise InputError(source, f"{name} = {v:g}: expected {expected}" + (", or inf for no ceiling" if ceiling else ""))
    return v
