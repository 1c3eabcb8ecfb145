"""One exchange's problem (`Instance`) and its numbers in units of R (`Scaled`), from which every row family and
the column layout are written. Every yen amount is divided by the requirement R, so HiGHS sees numbers near 1
whatever the exchange's size; its tolerances are absolute."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from ..domain import ASSET_KINDS, Eligibility, ExchangeProfile, Quote, Regime, ReserveAsset, premium_jpy, recovery
from ..regime import asset_credit_factor, credit_factor, exempt_from_counterparty_cap, requirement
from ..settings import SAME_MATRIX


@dataclass(frozen=True)
class Instance:
    """One exchange's problem: the profile, the quotes and reserve assets offered to it, the regime and the
    requirement R (JPY)."""

    profile: ExchangeProfile
    quotes: tuple[Quote, ...]
    regime: Regime
    requirement_jpy: float
    credit: Mapping[str, float] = field(default_factory=dict)  # κ by quote_id, for offered quotes
    assets: tuple[ReserveAsset, ...] = ()                       # reserve assets offered (assets.csv)
    asset_credit: Mapping[str, float] = field(default_factory=dict)  # κ_a by asset_id (before the haircut)

    @classmethod
    def build(cls, profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime,
              requirement_jpy: float | None = None, credit: Mapping[str, float] | None = None,
              assets: Sequence[ReserveAsset] = (), asset_credit: Mapping[str, float] | None = None) -> "Instance":
        """`credit`, `asset_credit`: κ by quote_id / asset_id when the caller has it already (it depends on the
        quote or asset and the regime only)."""
        offered = tuple(q for q in quotes if q.offered_to(profile.exchange_id))
        r = requirement(profile, regime) if requirement_jpy is None else float(requirement_jpy)
        held = tuple(a for a in assets if a.offered_to(profile.exchange_id))
        akappa = {a.asset_id: asset_credit[a.asset_id] if asset_credit is not None else asset_credit_factor(a, regime)
                  for a in held}
        if credit is not None and len(offered) == len(quotes) == len(credit):
            return cls(profile, tuple(quotes), regime, r, credit, held, akappa)  # every quote offered: share κ
        kappa = {q.quote_id: credit[q.quote_id] if credit is not None else credit_factor(q, regime) for q in offered}
        return cls(profile, offered, regime, r, kappa, held, akappa)

    @property
    def eligible_assets(self) -> tuple[ReserveAsset, ...]:
        """Reserve assets that earn credit (κ_a > 0: rating and days to pay); the others are reported, never held."""
        return tuple(a for a in self.assets if self.asset_credit[a.asset_id] > 0)

    @property
    def eligible(self) -> tuple[Quote, ...]:
        """Quotes that earn credit (κ > 0); the others are reported, never bought."""
        return tuple(q for q in self.quotes if self.credit[q.quote_id] > 0)

    @property
    def unit(self) -> float:
        """The scale of the LP: one unit is R yen (1 yen when R is 0)."""
        return self.requirement_jpy if self.requirement_jpy > 0 else 1.0


# ---------------------------------------------------------------------------------------------- scaled data

@functools.lru_cache(maxsize=65_536)
def safe_name(text: str) -> str:
    """A name fit for an LP file (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


@dataclass(frozen=True)
class Scaled:
    """One instance in units of R — or a stack of instances with the same structure, every per-instance array
    then carrying a leading axis (`batch`); arrays run over the eligible quotes in offer order."""

    quotes: tuple[Quote, ...]
    unit: np.ndarray           # R in yen (1 when R is 0): shape `batch`
    top: np.ndarray            # R in units of R: 1 (0 when R is 0): shape `batch`
    kappa: np.ndarray          # κ_j
    attach: np.ndarray         # a_j                                                       (batch × quotes)
    limit: np.ndarray          # l_j (a requirement-basis layer's capped at max_limit_jpy) (batch × quotes)
    aggregate: np.ndarray      # A_j = l_j·(1 + reinstatements_j): what the layer pays over a year (batch × quotes)
    premium: np.ndarray        # annual premium of a 100% line: multiplier × ROL × (1 + fronting fee) × l_j
    fee: np.ndarray            # flat fee if taken at all                                  (batch × quotes)
    max_share: np.ndarray
    min_share: np.ndarray
    binary: np.ndarray         # True for quotes with a yes/no decision (minimum line or flat fee)
    derivative: np.ndarray     # True for derivative-style cover
    carry: np.ndarray          # annual cost of a unit of cash: shape `batch`
    liquid: np.ndarray         # most cash available (inf: no limit): shape `batch`
    points: np.ndarray         # loss levels where retained loss can kink, clipped to [0, top] (batch × points)
    point_names: tuple[str, ...]
    groups: tuple[str, ...]    # perils covered by the same quotes share their rows: one name per group
    covers: np.ndarray         # groups × quotes: 1 where the quote covers the group's perils
    counterparties: tuple[str, ...]
    of_counterparty: np.ndarray  # counterparties × quotes: 1 where the quote counts against that cap
    eligibility: Eligibility
    second_event_share: float = 0.0  # σ: a second loss up to σ·R in the same year is funded too (0: no such rows)
    # reserve assets (assets.csv), the eligible ones in file order; empty arrays when there are none
    assets: tuple[ReserveAsset, ...] = ()
    asset_credit: np.ndarray = field(default_factory=lambda: np.zeros(0))  # c_a = κ_a·(1 − h_a), per yen
    asset_cost: np.ndarray = field(default_factory=lambda: np.zeros(0))    # funded: coc − yield; unfunded: fee (batch × assets)
    asset_upper: np.ndarray = field(default_factory=lambda: np.zeros(0))   # max_amount_jpy in units of R (batch × assets)
    asset_funded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    asset_kinds: tuple[str, ...] = ()                                      # the kinds present, in ASSET_KINDS order
    of_kind: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # kinds × assets
    asset_of_counterparty: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # counterparties × assets

    @property
    def batch(self) -> tuple[int, ...]:
        """() for one instance, (N,) for a stack of N."""
        return self.top.shape

    @classmethod
    def of(cls, inst: Instance) -> "Scaled":
        p = inst.profile
        return cls._make(inst.eligible, inst, np.float64(inst.requirement_jpy), np.float64(p.premium_multiplier),
                         np.float64(p.carry), np.float64(p.liquid_capital_jpy), np.float64(p.cost_of_capital))

    @classmethod
    def stack(cls, insts: Sequence[Instance], requirement_jpy: np.ndarray | None = None) -> "Scaled":
        """Many instances of one structure (same eligible quotes, eligible assets and regime) as one batch.
        `requirement_jpy`: each instance's R in place of its own (the marginal cost's R + step), as stacking
        `replace(inst, requirement_jpy=…)` of each would give it."""
        first, N = insts[0], len(insts)
        col = lambda get: np.fromiter((get(i) for i in insts), float, N)  # noqa: E731
        R = col(lambda i: i.requirement_jpy) if requirement_jpy is None else np.asarray(requirement_jpy, dtype=float)
        return cls._make(first.eligible, first, R,
                         col(lambda i: i.profile.premium_multiplier), col(lambda i: i.profile.carry),
                         col(lambda i: i.profile.liquid_capital_jpy), col(lambda i: i.profile.cost_of_capital))

    @classmethod
    def _make(cls, quotes: tuple[Quote, ...], inst: Instance, R: np.ndarray, multiplier: np.ndarray,
              carry: np.ndarray, liquid: np.ndarray, coc: np.ndarray) -> "Scaled":
        u = np.where(R > 0, R, 1.0)
        n, per = len(quotes), u[..., None]

        def by_quote(get) -> np.ndarray:  # per instance and quote: batch × quotes
            return np.stack([np.broadcast_to(get(q), R.shape) for q in quotes], axis=-1) if n else \
                np.zeros(R.shape + (0,))

        def arr(values) -> np.ndarray:
            return np.fromiter(values, float, n)

        attach = by_quote(lambda q: q.attachment_jpy(R)) / per
        limit = by_quote(lambda q: q.limit_jpy(R)) / per
        top = R / u
        # Breakpoints are keyed by what they stand for (R, each quote's attachment and exhaustion), so a new R
        # moves them without changing the set of rows; one outside [0, R] repeats the row at 0 or at R.
        points = np.clip(np.concatenate([top[..., None], attach, attach + limit], axis=-1), 0.0, top[..., None])
        names = ("R", *(f"attach_{safe_name(q.quote_id)}" for q in quotes),
                 *(f"exhaust_{safe_name(q.quote_id)}" for q in quotes))
        perils = inst.regime.requirement.perils
        by_set: dict[tuple[bool, ...], list[str]] = {}
        for p in perils:
            by_set.setdefault(tuple(q.covers(p) for q in quotes), []).append(p)
        sets = sorted(by_set)
        assets = inst.eligible_assets
        m = len(assets)
        # a bank's or parent's assets count toward the same cap as its layers (the same counterparty name)
        capped = sorted({q.counterparty for q in quotes if not exempt_from_counterparty_cap(q)}
                        | {a.counterparty for a in assets if a.counterparty})
        kinds = tuple(k for k in ASSET_KINDS if any(a.kind == k for a in assets))
        funded = np.array([a.funded for a in assets], dtype=bool)
        yields = np.fromiter((a.yield_rate for a in assets), float, m)
        fees = np.fromiter((a.fee_rate for a in assets), float, m)
        return cls(
            assets=assets,
            asset_credit=np.fromiter((a.credit_per_yen(inst.asset_credit[a.asset_id]) for a in assets), float, m),
            asset_cost=np.where(funded, coc[..., None] - yields, fees) if m else np.zeros(R.shape + (0,)),
            asset_upper=np.fromiter((a.max_amount_jpy for a in assets), float, m) / per,
            asset_funded=funded, asset_kinds=kinds,
            of_kind=np.array([[a.kind == k for a in assets] for k in kinds], dtype=float).reshape(len(kinds), m),
            asset_of_counterparty=np.array([[a.counterparty == c for a in assets] for c in capped],
                                           dtype=float).reshape(len(capped), m),
            quotes=quotes, unit=u, top=top,
            kappa=arr(inst.credit[q.quote_id] for q in quotes), attach=attach, limit=limit,
            aggregate=by_quote(lambda q: q.aggregate_jpy(R)) / per,
            premium=premium_jpy(multiplier[..., None], arr(q.premium_rate for q in quotes), limit),
            fee=arr(q.fixed_fee_jpy for q in quotes) / per,
            max_share=arr(q.max_share for q in quotes), min_share=arr(q.min_share for q in quotes),
            binary=np.array([q.needs_binary for q in quotes], dtype=bool),
            derivative=np.array([q.is_derivative for q in quotes], dtype=bool),
            carry=carry, liquid=liquid / u,
            points=points, point_names=names,
            groups=tuple("+".join(by_set[s]) for s in sets),
            covers=np.array(sets, dtype=float).reshape(len(sets), n),
            counterparties=tuple(capped),
            of_counterparty=np.array([[q.counterparty == c and not exempt_from_counterparty_cap(q) for q in quotes]
                                      for c in capped], dtype=float).reshape(len(capped), n),
            eligibility=inst.regime.eligibility,
            second_event_share=float(inst.regime.requirement.second_event_share),
        )

    def credit_at(self, x: np.ndarray | float) -> np.ndarray:
        """κ_j·r_j(x): regulatory credit of a 100% line of each quote for losses x (shape `batch` + (k,)) →
        batch × k × quotes."""
        x = np.asarray(x, dtype=float)
        return self.kappa * recovery(x[..., None], self.attach[..., None, :], self.limit[..., None, :])

    def credit_at_top(self) -> np.ndarray:
        """κ_j·r_j(R) for each quote: batch × quotes."""
        return self.kappa * recovery(self.top[..., None], self.attach, self.limit)

    def structure(self) -> tuple:
        """What fixes the set of rows and columns; instances with the same structure share one HiGHS model."""
        return (tuple(q.quote_id for q in self.quotes), self.binary.tobytes(), self.groups, self.covers.tobytes(),
                self.counterparties, self.of_counterparty.tobytes(),
                self.second_event_share > 0 and tuple(q.reinstatements for q in self.quotes),
                tuple(a.asset_id for a in self.assets), self.asset_credit.tobytes())

    def same_rows(self) -> bool:
        """A stack whose instances have the same rows (requirement-basis layers: attachments and limits in units
        of R do not depend on R) — their A and row bounds are computed once."""
        if not self.batch or self.batch[0] == 0:
            return False
        return bool(np.ptp(self.top) == 0 and (np.ptp(self.attach, axis=0) <= SAME_MATRIX).all()
                    and (np.ptp(self.limit, axis=0) <= SAME_MATRIX).all())

    def one(self, k: int) -> "Scaled":
        """Instance k of a stack, as a single instance."""
        per = ("unit", "top", "attach", "limit", "aggregate", "premium", "fee", "carry", "liquid", "points", "asset_cost",
               "asset_upper")
        return replace(self, **{f: getattr(self, f)[k] for f in per})

