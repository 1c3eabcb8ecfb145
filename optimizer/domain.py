"""The nouns of the problem: exchange profiles, quotes, reserve assets and regimes.

Frozen dataclasses, always valid: `inputs.py` builds them from files and checks every field once;
nothing downstream re-checks. Money is in JPY, rates are fractions (0.02 = 2%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

PERILS: tuple[str, ...] = ("external_hack", "insider_theft", "vendor_compromise")
KINDS: tuple[str, ...] = ("insurance", "derivative")
# The legal form of a cover, which decides which licence it needs in Japan (kind decides how it is credited):
# insurance needs an insurer licensed in Japan or a licensed fronting insurer (Insurance Business Act Art. 186);
# a guarantee needs a guarantor licensed in Japan (e.g. a bank's 保全契約); a derivative needs no insurance licence.
LEGAL_FORMS: tuple[str, ...] = ("insurance", "derivative", "guarantee")
EXCLUSIONS: tuple[str, ...] = ("state_backed",)
LAYER_BASES: tuple[str, ...] = ("jpy", "requirement")
# Reserve assets (assets.csv): funded kinds are held (capital is tied up, they earn a yield); unfunded kinds are
# promised by a bank or the parent (no capital is tied up, a fee is paid).
FUNDED_ASSET_KINDS: tuple[str, ...] = ("deposit", "jgb")
UNFUNDED_ASSET_KINDS: tuple[str, ...] = ("bank_guarantee", "credit_line", "parent_guarantee")
ASSET_KINDS: tuple[str, ...] = FUNDED_ASSET_KINDS + UNFUNDED_ASSET_KINDS

# Best to worst; NR (not rated) ranks lowest.
RATINGS: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
    "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC", "CCC-", "NR",
)


def recovery(x, attachment, limit):
    """What a 100% line pays for a loss x: r(x) = min(max(x − attachment, 0), limit); numpy arrays broadcast.

    >>> [float(recovery(x, 5e9, 1e9)) for x in (7e9, 5.5e9, 1e9)]
    [1000000000.0, 500000000.0, 0.0]
    """
    return np.minimum(np.maximum(np.subtract(x, attachment), 0.0), limit)


def annual_aggregate(limit, reinstatements):
    """A layer's annual aggregate: what it pays at most over all losses of a year, limit × (1 + reinstatements)
    (each reinstatement restores the limit once after a claim); numpy arrays broadcast.

    >>> float(annual_aggregate(4e9, 1))
    8000000000.0
    """
    return np.multiply(limit, np.add(1.0, reinstatements, dtype=float))


def within_aggregate(paid, aggregate):
    """What a layer pays for a year's losses: the sum of what each loss would take from it, capped at its annual
    aggregate — whichever loss exhausts it (a later loss gets only what is left).

    >>> float(within_aggregate(2e9 + 4e9, annual_aggregate(4e9, 0)))   # 2bn to the first loss, 2bn left
    4000000000.0
    """
    return np.minimum(paid, aggregate)


def premium_jpy(multiplier, premium_rate, limit):
    """Annual premium of a 100% line: the exchange's premium multiplier × the quote's premium rate (rate on line
    × (1 + fronting fee)) × the limit; in the limit's units (yen, or units of R in the LP); numpy arrays broadcast.

    >>> premium_jpy(1.2, 0.05 * (1 + 0.1), 1e9)  # ROL 5%, a 10% fronting fee, ¥1bn of limit, multiplier 1.2
    66000000.0
    """
    return multiplier * premium_rate * limit


def line_cost_jpy(multiplier, premium_rate, limit, share, fee):
    """Annual cost of a line: `premium_jpy` × share, plus the flat fee once any share is bought (share > 0).

    >>> float(line_cost_jpy(1.0, 0.02, 1e9, 0.5, 3e6)), float(line_cost_jpy(1.0, 0.02, 1e9, 0.0, 3e6))
    (13000000.0, 0.0)
    """
    return premium_jpy(multiplier, premium_rate, limit) * share + fee * (np.asarray(share) > 0)


def line_credit_jpy(kappa, share, attachment, limit, requirement):
    """Regulatory credit of a line: κ × share × r(R), what the layer pays for a loss of R (docs/design.md §3).

    >>> round(float(line_credit_jpy(0.7, 0.5, 1e9, 2e9, 2.5e9)))  # pays ¥1.5bn of a ¥2.5bn loss; half; κ 0.7
    525000000
    """
    return kappa * share * recovery(requirement, attachment, limit)


def credit_by_kind(lines) -> dict[str, float]:
    """Credit (JPY) of a mix's lines (objects with `.quote` and `.credit_jpy`) summed by kind: insurance and
    derivative."""
    out = {"insurance": 0.0, "derivative": 0.0}
    for line in lines:
        out["derivative" if line.quote.is_derivative else "insurance"] += line.credit_jpy
    return out


def cover_by_counterparty(lines) -> dict[str, float]:
    """Cover written (JPY, share × limit) of a mix's lines (`.quote`, `.cover_jpy`) summed by counterparty."""
    out: dict[str, float] = {}
    for line in lines:
        out[line.quote.counterparty] = out.get(line.quote.counterparty, 0.0) + line.cover_jpy
    return out


def rating_rank(rating: str) -> int:
    """0 for AAA, larger is worse; NR is the worst."""
    return RATINGS.index(rating)


def rating_bucket(rating: str) -> str:
    """The rating without its notch: `A-` → `A`, `BBB+` → `BBB`."""
    return rating.rstrip("+-")


@dataclass(frozen=True)
class ExchangeProfile:
    """One exchange. Money in JPY; rates are annual fractions."""

    exchange_id: str
    customer_assets_jpy: float
    hot_wallet_share: float
    annual_trading_volume_jpy: float
    cost_of_capital: float
    reserve_yield: float = 0.0
    liquid_capital_jpy: float = math.inf
    premium_multiplier: float = 1.0
    name: str = ""
    net_assets_jpy: float | None = None   # 純資産 at the statement date; None when unknown
    statement_date: str = ""              # YYYY-MM-DD of the figures, carried into results
    source: str = ""                      # where the figures come from (free text)

    @property
    def carry(self) -> float:
        """Annual cost of one yen held as cash reserve: cost of capital less what the reserve earns."""
        return self.cost_of_capital - self.reserve_yield

    @property
    def hot_assets_jpy(self) -> float:
        return self.customer_assets_jpy * self.hot_wallet_share

    @property
    def cold_assets_jpy(self) -> float:
        return self.customer_assets_jpy - self.hot_assets_jpy

    @property
    def display_name(self) -> str:
        return self.name or self.exchange_id


@dataclass(frozen=True)
class Quote:
    """An insurance layer or derivative-style cover: pays share × min(max(loss − attachment, 0), limit).

    With `layer_basis == "requirement"`, attachment and limit are fractions of the requirement R.
    """

    quote_id: str
    kind: str
    counterparty: str
    rating: str
    attachment: float
    limit: float
    rate_on_line: float
    layer_basis: str = "jpy"
    max_share: float = 1.0
    min_share: float = 0.0
    fixed_fee_jpy: float = 0.0
    perils: frozenset[str] = frozenset(PERILS)
    collateralized: bool = False
    exchange_id: str | None = None
    max_limit_jpy: float = math.inf       # ceiling on the yen limit of a requirement-basis layer (finite capacity)
    licensed_in_japan: bool = True        # may write Japanese risks (Insurance Business Act Art. 186)
    fronting_fee_rate: float = 0.0        # a licensed fronting insurer's charge, as a fraction of the premium
    exclusions: frozenset[str] = frozenset()  # from EXCLUSIONS, e.g. {"state_backed"}
    reinstatements: int = 0               # annual aggregate = limit × (1 + reinstatements): annual_aggregate
    days_to_pay: float = 0.0              # days from a loss until the cover pays customers (regime: max_days_to_pay)
    term_years: int = 1                   # a multi-year policy: bought in a plan's first year, one share and rate
    legal_form: str = ""                  # one of LEGAL_FORMS; "" = as `kind` (see `form`)
    # where the row's numbers come from: the sheet's `source` cell (SOURCED / ASSUMPTION marks, data/README.md)
    source: str = field(default="", compare=False)

    @property
    def form(self) -> str:
        """The legal form (LEGAL_FORMS): `legal_form`, or `kind` when none is given."""
        return self.legal_form or self.kind

    @property
    def needs_licence(self) -> bool:
        """Whether a rule that requires licensed cover (`require_licensed`) asks this quote for a Japanese licence:
        insurance and guarantees do; a derivative does not (it is not insurance under IBA Art. 186)."""
        return self.form != "derivative"

    def attachment_jpy(self, requirement: float) -> float:
        """The layer's attachment in yen for a requirement R (an array of R gives an array)."""
        if self.layer_basis == "requirement":
            return self.attachment * requirement
        return self.attachment if np.ndim(requirement) == 0 else np.full(np.shape(requirement), self.attachment)

    def limit_jpy(self, requirement: float) -> float:
        """The layer's limit in yen for a requirement R: requirement-basis limits are capped at max_limit_jpy.

        >>> Quote("Q", "insurance", "X", "A", 0.0, 0.5, 0.01, layer_basis="requirement",
        ...       max_limit_jpy=9e10).limit_jpy(3e11)
        90000000000.0
        """
        if self.layer_basis == "requirement":
            if np.ndim(requirement) == 0:
                return min(self.limit * requirement, self.max_limit_jpy)
            return np.minimum(self.limit * requirement, self.max_limit_jpy)
        return self.limit if np.ndim(requirement) == 0 else np.full(np.shape(requirement), self.limit)

    def aggregate_jpy(self, requirement: float) -> float:
        """The layer's annual aggregate in yen for a requirement R: limit_jpy × (1 + reinstatements)."""
        return annual_aggregate(self.limit_jpy(requirement), self.reinstatements)

    @property
    def premium_rate(self) -> float:
        """Annual premium per yen of limit at a 100% share, fronting fee included: ROL × (1 + fronting_fee_rate)."""
        return self.rate_on_line * (1.0 + self.fronting_fee_rate)

    def premium_jpy(self, requirement: float, multiplier: float = 1.0) -> float:
        """Annual premium of a 100% line for a requirement R (fronting fee included, flat fee not)."""
        return float(premium_jpy(multiplier, self.premium_rate, self.limit_jpy(requirement)))

    def line_cost_jpy(self, requirement: float, share: float, multiplier: float = 1.0) -> float:
        """Annual cost of a line of `share` for a requirement R: premium × share, plus the flat fee if bought."""
        return float(line_cost_jpy(multiplier, self.premium_rate, self.limit_jpy(requirement), share,
                                   self.fixed_fee_jpy))

    def covers(self, peril: str) -> bool:
        return peril in self.perils

    def offered_to(self, exchange_id: str) -> bool:
        return self.exchange_id is None or self.exchange_id == exchange_id

    @property
    def needs_binary(self) -> bool:
        """A minimum line or a flat fee makes taking the quote a yes/no decision (MILP)."""
        return self.min_share > 0 or self.fixed_fee_jpy > 0

    @property
    def is_derivative(self) -> bool:
        return self.kind == "derivative"


@dataclass(frozen=True)
class ReserveAsset:
    """A way to hold or stand behind the reserve other than plain cash (one row of assets.csv).

    Funded kinds (`deposit`, `jgb`) are held: each yen ties up capital and earns `yield_rate`. Unfunded kinds
    (`bank_guarantee`, `credit_line`, `parent_guarantee`) are promised by `counterparty`: no capital is tied up and
    `fee_rate` is paid on the amount committed. Money in JPY, rates annual fractions; `yield_rate` is the file's
    `yield` column (`yield` is a Python keyword).
    """

    asset_id: str
    kind: str
    counterparty: str = ""                # the bank or the parent company; "" for a JGB (the state)
    rating: str = ""                      # the counterparty's rating; "" for a JGB
    haircut: float = 0.0                  # credit per yen = κ × (1 − haircut)
    yield_rate: float = 0.0               # funded kinds only
    fee_rate: float = 0.0                 # unfunded kinds only
    max_amount_jpy: float = math.inf      # the most that can be held or committed
    days_to_pay: float = 0.0              # days from a loss until the money can pay customers
    exchange_id: str | None = None        # None: offered to every exchange
    source: str = ""                      # where the figures come from (free text)

    @property
    def funded(self) -> bool:
        """Held (deposit, JGB) rather than promised (guarantee, line): it ties up capital and counts as cash does
        toward min_cash_share and liquid capital."""
        return self.kind in FUNDED_ASSET_KINDS

    def credit_per_yen(self, kappa: float) -> float:
        """Regulatory credit per yen held or committed: κ × (1 − haircut), κ from `regime.asset_credit_factor`
        (1 for a JGB, the rating credit for a bank or parent).

        A JGB with a 5% haircut needs 1/0.95 yen per yen of credit:
        >>> round(1 / ReserveAsset("J", "jgb", haircut=0.05).credit_per_yen(1.0), 6)
        1.052632
        """
        return kappa * (1.0 - self.haircut)

    def annual_cost_per_yen(self, profile: ExchangeProfile) -> float:
        """Annual cost of one yen held or committed for this exchange: a funded asset ties up capital and earns
        its yield (cost_of_capital − yield); an unfunded one costs its fee alone.

        >>> p = ExchangeProfile("X", 1e11, 0.05, 1e11, 0.08)
        >>> [round(ReserveAsset("J", "jgb", yield_rate=0.016).annual_cost_per_yen(p), 6),
        ...  ReserveAsset("G", "bank_guarantee", "Bank", "A", fee_rate=0.004).annual_cost_per_yen(p)]
        [0.064, 0.004]
        """
        if self.funded:
            return profile.cost_of_capital - self.yield_rate
        return self.fee_rate

    def offered_to(self, exchange_id: str) -> bool:
        return self.exchange_id is None or self.exchange_id == exchange_id


@dataclass(frozen=True)
class RequirementRule:
    """R = min(cap, max(floor, volume_rate·volume, hot_rate·hot + cold_rate·cold))."""

    volume_rate: float = 0.0
    hot_wallet_rate: float = 0.0
    cold_wallet_rate: float = 0.0
    floor_jpy: float = 0.0
    cap_jpy: float = math.inf
    perils: tuple[str, ...] = PERILS
    max_share_of_customer_assets: float = math.inf  # R ≤ this × customer assets (inf: no such cap)


@dataclass(frozen=True)
class AssetShares:
    """`[eligibility.assets] max_share.<kind>`, fractions of R: the held kinds are credited in full unless a regime
    says otherwise; a promise (guarantee, line) earns nothing until a regime allows it explicitly."""

    deposit: float = 1.0
    jgb: float = 1.0
    bank_guarantee: float = 0.0
    credit_line: float = 0.0
    parent_guarantee: float = 0.0


@dataclass(frozen=True)
class Eligibility:
    """Which cover earns regulatory credit, and how much of R each kind may supply (fractions of R)."""

    min_cash_share: float = 0.0
    max_insurance_share: float = 1.0
    max_derivative_share: float = 0.0
    max_counterparty_share: float = 1.0
    min_rating: str = "BBB-"
    derivative_credit_factor: float = 0.7
    require_licensed: bool = False              # unlicensed quotes earn credit only when fronted
    state_backed_exclusion_factor: float = 1.0  # κ × this for quotes that exclude state-backed attacks
    max_days_to_pay: float = math.inf           # a quote or asset that pays later than this earns no credit
    asset_shares: AssetShares = AssetShares()  # [eligibility.assets] max_share

    def max_asset_share(self, kind: str) -> float:
        """`max_share.<kind>`: credit from reserve assets of that kind ≤ this × R."""
        return float(getattr(self.asset_shares, kind))


@dataclass(frozen=True)
class Regime:
    """The regulation being modelled."""

    name: str
    requirement: RequirementRule = RequirementRule()
    eligibility: Eligibility = Eligibility()
    rating_credit: Mapping[str, float] = field(default_factory=dict)  # bucket or rating → credit; not mutated
    description: str = ""

    def __hash__(self) -> int:  # Mapping fields are not hashable; regimes are compared by value
        return hash((self.name, self.requirement, self.eligibility, tuple(sorted(self.rating_credit.items()))))


@dataclass(frozen=True)
class Incident:
    """A historical exchange hack, for the stress test. Amounts as reported at the time."""

    incident_id: str
    date: str
    exchange: str
    peril: str
    loss_jpy: float
    loss_share_of_assets: float  # loss ÷ the victim's customer assets at the time
    loss_usd: float | None = None
    wallet: str = ""
    vector: str = ""
    country: str = ""
    asset: str = ""
    native_amount: str = ""
    loss_share_basis: str = ""
    source: str = ""
    notes: str = ""
    customer_loss_jpy: float | None = None  # the customers' part of the loss, where reported
    repaid_jpy: float | None = None         # what customers got back, in yen, where reported
    state_backed: str = "unknown"  # attributed to a state actor: "true", "false" or "unknown"
