"""Builders shared by the tests: small domain objects with readable defaults, and random quote sheets."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from optimizer.domain import PERILS, AssetShares, Eligibility, ExchangeProfile, Quote, Regime, RequirementRule, ReserveAsset


def profile(**kw) -> ExchangeProfile:
    """An exchange with R = ¥10bn under `regime()` (0.2% of ¥5tn volume) and a 10% cost of capital."""
    base = dict(exchange_id="X", customer_assets_jpy=1e11, hot_wallet_share=0.05, annual_trading_volume_jpy=5e12,
                cost_of_capital=0.10)
    base.update(kw)
    return ExchangeProfile(**base)


def regime(perils=PERILS, rating_credit=None, **elig) -> Regime:
    """A volume rule (0.2% of volume) over `perils` with the given eligibility limits."""
    return Regime("test", RequirementRule(volume_rate=0.002, perils=tuple(perils)), Eligibility(**elig),
                  rating_credit=rating_credit or {})


def layer(qid, attachment, limit, rol, **kw) -> Quote:
    """A requirement-basis layer: attachment and limit as fractions of R."""
    return Quote(qid, kw.pop("kind", "insurance"), kw.pop("counterparty", f"Insurer {qid}"), kw.pop("rating", "AA"),
                 attachment, limit, rol, layer_basis="requirement", **kw)


def random_sheet(rng: np.random.Generator, n_quotes: int) -> list[Quote]:
    """A random quote sheet: requirement- and yen-basis layers, insurance and derivatives, some perils missing,
    shared counterparties, and yes/no quotes (a minimum line or a flat fee) now and then."""
    out = []
    for i in range(n_quotes):
        yen = rng.random() < 0.4
        kind = "derivative" if rng.random() < 0.2 else "insurance"
        perils = frozenset(PERILS) if rng.random() < 0.7 else frozenset(rng.choice(PERILS, 2, replace=False))
        max_share = float(rng.choice([0.25, 0.5, 1.0]))
        out.append(Quote(
            f"Q{i:02d}", kind, f"C{rng.integers(4)}", str(rng.choice(["AA", "A", "BBB"])),
            float(rng.choice([0.0, 1e9, 3e9, 8e9])) if yen else float(rng.choice([0.0, 0.1, 0.3, 0.6])),
            float(rng.choice([1e9, 4e9, 1e10])) if yen else float(rng.uniform(0.1, 0.6)),
            float(rng.uniform(0.005, 0.09)), layer_basis="jpy" if yen else "requirement", max_share=max_share,
            min_share=float(min(0.2, max_share)) if rng.random() < 0.12 else 0.0,
            fixed_fee_jpy=float(rng.choice([1e6, 2e7])) if rng.random() < 0.12 else 0.0, perils=perils,
            collateralized=kind == "derivative" and rng.random() < 0.5))
    return out


def random_regime(rng: np.random.Generator) -> Regime:
    return Regime("random", RequirementRule(volume_rate=0.002, floor_jpy=1e9, perils=PERILS),
                  Eligibility(min_cash_share=float(rng.choice([0.0, 0.0, 0.1])),
                              max_insurance_share=float(rng.choice([1.0, 0.8])),
                              max_derivative_share=float(rng.choice([0.25, 0.5])),
                              max_counterparty_share=float(rng.choice([0.4, 0.6, 1.0]))),
                  rating_credit={"AA": 1.0, "A": 0.95, "BBB": 0.85})


def random_profiles(rng: np.random.Generator, n: int) -> list[ExchangeProfile]:
    """Exchanges with R from ¥1bn to ¥40bn; one in five short of liquid capital (some then fall short)."""
    return [ExchangeProfile(f"P{i:03d}", float(rng.uniform(1e10, 1e12)), 0.03, float(rng.uniform(2e11, 2e13)),
                            float(rng.uniform(0.03, 0.15)), float(rng.uniform(0.0, 0.01)),
                            liquid_capital_jpy=float(rng.choice([2e9, 5e8])) if rng.random() < 0.2 else math.inf,
                            premium_multiplier=float(rng.uniform(0.8, 1.4)))
            for i in range(n)]


def random_assets(rng: np.random.Generator, reg: Regime) -> tuple[list[ReserveAsset], Regime]:
    """A random assets file (deposits and JGBs with haircuts and yields, guarantees and lines with fees, some with
    a most amount, some late, some sharing a counterparty with the quotes of `random_sheet`), and `reg` with
    random caps by kind (`max_share.<kind>`) and a days-to-pay limit now and then."""
    out = []
    for i in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(["deposit", "jgb", "bank_guarantee", "credit_line", "parent_guarantee"]))
        funded = kind in ("deposit", "jgb")
        out.append(ReserveAsset(
            f"A{i}", kind, "" if kind == "jgb" else f"C{rng.integers(6)}",
            "" if kind == "jgb" else str(rng.choice(["AA", "A", "BBB", "BB"])),
            haircut=float(rng.choice([0.0, 0.01, 0.05, 0.2])), yield_rate=float(rng.uniform(0.0, 0.03)) if funded else 0.0,
            fee_rate=0.0 if funded else float(rng.uniform(0.001, 0.03)),
            max_amount_jpy=float(rng.choice([math.inf, 2e9, 8e9])), days_to_pay=float(rng.choice([0, 2, 7, 60]))))
    shares = AssetShares(**{k: float(rng.choice([0.0, 0.3, 0.5, 1.0])) for k in
                            ("deposit", "jgb", "bank_guarantee", "credit_line", "parent_guarantee")})
    days = float(rng.choice([math.inf, 30.0]))
    return out, dataclasses.replace(reg, eligibility=dataclasses.replace(reg.eligibility, asset_shares=shares,
                                                                          max_days_to_pay=days))
