"""Scenario years of hack losses for one exchange, and what each quote pays in them (numpy, no Python loops
over scenarios or events).

`simulate(profile, loss_model, n, seed)` draws N scenario-years once; `Scenarios.payouts(quotes, R)` turns
them into a payout matrix per unit share. Every mix of that exchange is then evaluated on the same arrays
(common random numbers), so two mixes differ by their cover, not by their luck.

Storage is sparse in years: events live in flat arrays with a year index, and per-year arrays hold only the
years that had at least one event (`loss_years`); every other year has loss 0 and pays 0. With 0.025 events
a year, 100,000 scenario-years keep about 2,500 rows.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .domain import PERILS, ExchangeProfile, Quote, ReserveAsset, annual_aggregate, within_aggregate
from .inputs import InputError
from .loss_model import DAYS_PER_YEAR, LossModel

DEFAULT_SCENARIOS = 100_000
DEFAULT_SEED = 2026
# Work bound: events drawn at once, expected (scenario-years × events_per_year). Each event holds about twenty
# float arrays while it is drawn (≈0.2 KB) and a row of the events × quotes payout arrays while paid (8 bytes a
# quote, a few copies): 2,000,000 events take about 0.5 GB to draw and 0.3 GB per 20 quotes to pay. Above it,
# 52 events a year × 2,000,000 years (1e8 events) ended in a MemoryError; now it is refused before drawing.
MAX_EVENTS = 2_000_000


@dataclass(frozen=True)
class Scenarios:
    """N scenario-years for one exchange. Money in JPY.

    Events (flat, sorted by year): `event_year` (0..N-1), `event_row` (its row in the per-year arrays),
    `event_loss` (yen, after the price move), `event_peril` (index into domain.PERILS), `event_state_backed`,
    `event_index` (the parametric index: loss × lognormal basis noise).
    Per year with a loss: `loss_years` (sorted year numbers), `annual_loss`.
    Counterparty defaults are drawn on demand from a stream keyed by (seed, counterparty name), so the same
    counterparty defaults in the same years whatever other quotes are evaluated.
    """

    n_years: int
    seed: int
    loss_model: LossModel
    event_year: np.ndarray
    event_row: np.ndarray
    event_loss: np.ndarray
    event_peril: np.ndarray
    event_state_backed: np.ndarray
    event_index: np.ndarray
    loss_years: np.ndarray
    annual_loss: np.ndarray

    @property
    def n_events(self) -> int:
        return int(self.event_year.size)

    def defaults(self, counterparty: str, probability: float) -> np.ndarray:
        """Whether `counterparty` fails to pay, for each year in `loss_years` (one draw per counterparty-year)."""
        if probability <= 0 or self.loss_years.size == 0:
            return np.zeros(self.loss_years.size, dtype=bool)
        stream = np.random.default_rng([self.seed, 0xDEFA, zlib.crc32(counterparty.encode("utf-8"))])
        draws = stream.random(self.n_years)
        return draws[self.loss_years] < probability

    def asset_payouts(self, assets: Sequence[ReserveAsset]) -> np.ndarray:
        """What one yen of each reserve asset pays customers in each year in `loss_years` (loss years × assets):
        1 − haircut, or nothing in a year its bank or parent defaults (the same draws as an insurer of the same
        name: a bank and its insurance arm fail together). A JGB has no counterparty and always pays; a deposit
        at a failed bank pays nothing that year (docs/design.md, "Reserve assets in the risk view").

        The rating's κ is not applied: it is the regulator's allowance for the default the simulation draws
        itself, as a layer pays its recovery in full unless its insurer defaults."""
        out = np.zeros((self.loss_years.size, len(assets)))
        for k, a in enumerate(assets):  # a loop over assets (a few), never over scenarios
            out[:, k] = 1.0 - a.haircut
            if a.counterparty:
                out[self.defaults(a.counterparty, self.loss_model.default_rate(a.rating or "NR")), k] = 0.0
        return out

    def payouts(self, quotes: Sequence[Quote], requirement_jpy: float) -> np.ndarray:
        """Payout matrix P (loss years × quotes), JPY per unit share.

        Per event a quote pays `min(max(x − a, 0), l)` where x is the loss (insurance) or the parametric index
        (derivative), if it covers the event's peril and does not exclude a state-backed event; per year it pays at
        most its annual aggregate `l × (1 + reinstatements)`; in a year its counterparty defaults it pays nothing
        (collateralized derivatives never default). The annual aggregate caps the year's cumulative payout, so
        the year's total is min(Σ event payouts, aggregate) whichever event exhausts it.
        """
        n_rows, n_q = self.loss_years.size, len(quotes)
        P = np.zeros((n_rows, n_q))
        if n_q == 0 or self.n_events == 0:
            return P
        R = requirement_jpy
        attach = np.array([q.attachment_jpy(R) for q in quotes])
        limit = np.array([q.limit_jpy(R) for q in quotes])
        aggregate = annual_aggregate(limit, np.array([q.reinstatements for q in quotes], dtype=float))
        is_deriv = np.array([q.is_derivative for q in quotes])
        covers = np.array([[q.covers(p) for p in PERILS] for q in quotes])               # quotes × perils
        excludes_sb = np.array(["state_backed" in q.exclusions for q in quotes])
        # events × quotes
        x = np.where(is_deriv[None, :], self.event_index[:, None], self.event_loss[:, None])
        pays = np.clip(x - attach[None, :], 0.0, limit[None, :])
        eligible = covers[:, self.event_peril].T & ~(excludes_sb[None, :] & self.event_state_backed[:, None])
        pays *= eligible
        # per year: sum the events of the year (rows are contiguous because events are sorted by year)
        starts = np.flatnonzero(np.r_[True, np.diff(self.event_row) != 0])
        per_year = np.add.reduceat(pays, starts, axis=0)
        P[self.event_row[starts]] = within_aggregate(per_year, aggregate[None, :])
        for j, q in enumerate(quotes):  # a loop over quotes (≤ hundreds), never over scenarios
            if q.is_derivative and q.collateralized:
                continue
            P[self.defaults(q.counterparty, self.loss_model.default_rate(q.rating)), j] = 0.0
        return P


def check_work(loss_model: LossModel, n_years: int) -> None:
    """Refuse (InputError naming --scenarios) a simulation expected to draw more than MAX_EVENTS events, and one
    whose price move or basis noise the Monte Carlo cannot average (loss_model.MAX_LOG_SD).

    >>> from optimizer.loss_model import EventType
    >>> lm = LossModel("t", 52.0, 0.0, 0.0, 0.0, (EventType("x", 1.0, "external_hack", "hot", "uniform"),))
    >>> check_work(lm, 38_461)
    >>> check_work(lm, 2_000_000)
    Traceback (most recent call last):
    ...
    optimizer.inputs.InputError: --scenarios: 2,000,000 scenario-years at events_per_year = 52 would draw about 104,000,000 events; expected at most 2,000,000 (scenario-years × events_per_year, held in memory at once): at most 38,461 scenario-years with this loss model
    """
    from .loss_model import MAX_LOG_SD

    move = loss_model.price_volatility * math.sqrt(loss_model.payout_lag_days / DAYS_PER_YEAR)
    for key, s in (("payout_lag_days", move), ("basis_volatility", loss_model.basis_volatility)):
        if s > MAX_LOG_SD:  # a LossModel built in code, not read from a file (where the same bound is checked)
            raise InputError(loss_model.name, f"a mean-1 lognormal factor with log-sd {s:.3g}; expected at most "
                             f"{MAX_LOG_SD:g} (the simulated mean would fall well short of 1)", column=key)
    expected = float(n_years) * loss_model.events_per_year
    if expected > MAX_EVENTS:
        raise InputError("--scenarios", f"{n_years:,} scenario-years at events_per_year = "
                         f"{loss_model.events_per_year:g} would draw about {expected:,.0f} events; expected at most "
                         f"{MAX_EVENTS:,} (scenario-years × events_per_year, held in memory at once): at most "
                         f"{math.floor(MAX_EVENTS / loss_model.events_per_year):,} scenario-years with this loss "
                         "model")


def simulate(profile: ExchangeProfile, loss_model: LossModel, n_years: int = DEFAULT_SCENARIOS,
             seed: int = DEFAULT_SEED) -> Scenarios:
    """Draw N scenario-years of hack losses for `profile` (same seed → identical arrays).

    Each year draws a Poisson(events_per_year) number of events; each event a type (by probability), hence a
    peril and a base (hot-wallet or all customer assets); a fraction of the base (uniform(low, high), lognormal
    with the given median and p90, or pareto with the given median and tail index alpha, capped at `cap`); a coin-price factor exp(σ√t·Z − σ²t/2) with
    σ = price_volatility and t = payout_lag_days / 365 (mean 1: no drift assumed); state-backed with probability
    state_backed_share; and a parametric index = loss × exp(b·Z' − b²/2), b = basis_volatility.

    Raises:
        ValueError: n_years < 1.
        InputError: more than MAX_EVENTS events expected (`check_work`), before anything is drawn.
    """
    if n_years < 1:
        raise ValueError(f"n_years must be ≥ 1, got {n_years}")
    check_work(loss_model, n_years)
    lm = loss_model
    rng = np.random.default_rng(seed)
    counts = rng.poisson(lm.events_per_year, n_years)
    event_year = np.repeat(np.arange(n_years, dtype=np.int64), counts)
    m = event_year.size
    types = lm.event_types
    probs = np.array([t.probability for t in types])
    kind = rng.choice(len(types), size=m, p=probs / probs.sum())
    # every draw below is made for every event, whatever its type, so the stream never depends on the mix
    u, z, z_price, z_basis, u_sb = (rng.random(m), rng.standard_normal(m), rng.standard_normal(m),
                                    rng.standard_normal(m), rng.random(m))

    is_uniform = np.array([t.severity == "uniform" for t in types])[kind]
    low, high = np.array([t.low for t in types])[kind], np.array([t.high for t in types])[kind]
    median = np.array([t.median if t.severity in ("lognormal", "pareto") else 1.0 for t in types])[kind]
    sigma = np.array([t.sigma for t in types])[kind]
    cap = np.array([t.cap for t in types])[kind]
    fraction = np.where(is_uniform, low + (high - low) * u, median * np.exp(sigma * z))
    is_pareto = np.array([t.severity == "pareto" for t in types])[kind]
    if is_pareto.any():  # inverse transform of the same uniform: median × (2(1 − u))^(−1/alpha), 1 − u in (0, 1]
        alpha = np.array([t.alpha if t.severity == "pareto" else 1.0 for t in types])[kind]
        fraction = np.where(is_pareto, median * (2.0 * (1.0 - u)) ** (-1.0 / alpha), fraction)
    fraction = np.minimum(fraction, cap)
    base = np.where(np.array([t.base == "hot" for t in types])[kind], profile.hot_assets_jpy,
                    profile.customer_assets_jpy)
    t_years = lm.payout_lag_days / DAYS_PER_YEAR
    s = lm.price_volatility * math.sqrt(t_years)
    price = np.exp(s * z_price - 0.5 * s * s)
    loss = fraction * base * price
    b = lm.basis_volatility
    index = loss * np.exp(b * z_basis - 0.5 * b * b)
    peril = np.array([PERILS.index(t.peril) for t in types], dtype=np.int64)[kind]
    state_backed = u_sb < lm.state_backed_share

    loss_years, event_row = np.unique(event_year, return_inverse=True)
    annual = np.bincount(event_row, weights=loss, minlength=loss_years.size)
    return Scenarios(n_years=n_years, seed=seed, loss_model=lm, event_year=event_year,
                     event_row=event_row.astype(np.int64), event_loss=loss, event_peril=peril,
                     event_state_backed=state_backed, event_index=index, loss_years=loss_years,
                     annual_loss=annual)
