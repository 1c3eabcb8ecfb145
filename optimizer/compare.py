"""The same exchange under every regime preset, side by side (the table a CFO brings to the FSA discussion).

Every number comes from `lp.solve`; nothing here computes cost or credit itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ._lazy import pandas as pd

from .domain import ASSET_KINDS, ExchangeProfile, Quote, Regime, ReserveAsset, credit_by_kind
from .inputs import InputError, load_regime
from .lp import solve

# The order a user reads the presets in (the README's table): the structure-only volume presets, the what-ifs, then
# the presets for the real data; a preset not named here follows, by name.
PRESET_ORDER: tuple[str, ...] = (
    "securities-style", "securities-style-half-insurance", "cash-only", "asset-based", "past-outflows",
    "securities-style-japan", "cold-wallet", "cold-wallet-no-floor", "cold-wallet-state-backed-haircut")


def preset_order(names: Iterable[str], first: str | None = None) -> list[str]:
    """The preset names in the order a user reads them: `first` (the default one) if given, then PRESET_ORDER,
    then any other by name.

    >>> preset_order(["cold-wallet-repeat", "cash-only", "cold-wallet", "securities-style"], first="cold-wallet")
    ['cold-wallet', 'securities-style', 'cash-only', 'cold-wallet-repeat']
    """
    names = list(names)
    lead = [first] if first in names else []
    return (lead + [n for n in PRESET_ORDER if n in names and n not in lead]
            + sorted(n for n in names if n not in PRESET_ORDER and n not in lead))


COLUMNS: tuple[str, ...] = (
    "preset", "regime", "status", "required_coverage_jpy", "requirement_to_customer_assets",
    "requirement_to_net_assets", "annual_cost_jpy", "all_cash_cost_jpy", "savings_jpy", "cash_reserve_jpy",
    "insurance_credit_jpy", "derivative_credit_jpy", "shortfall_jpy", "binding", "error",
)


def load_presets(folder: str | Path) -> list[tuple[str, Regime]]:
    """Every `*.toml` in `folder`, by file name (the preset's name on the command line), in name order.

    Raises InputError for a folder without presets or for any preset that does not load.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*.toml"), key=lambda p: p.stem) if folder.is_dir() else []
    if not paths:
        raise InputError(str(folder), "no regime presets (*.toml) here; expected a folder such as data/regimes")
    return [(p.stem, load_regime(p)) for p in paths]


def ratio(amount: float, base: float | None) -> float | None:
    """amount ÷ base, or None when the base is unknown or not positive (a ratio to it would mislead)."""
    return amount / base if base is not None and base > 0 else None


def compare_regimes(profile: ExchangeProfile, quotes: Sequence[Quote],
                    presets: Iterable[tuple[str, Regime]], assets: Sequence[ReserveAsset] = ()) -> pd.DataFrame:
    """One row per preset: R, R ÷ customer assets, R ÷ net assets, status, annual cost, all-cash cost, savings,
    cash, insurance and derivative credit, shortfall (JPY), the limits that bind.

    A preset under which this exchange's R is not a plausible amount gives a row with status `error` and the
    message (the other presets still run). With `assets` (assets.csv), every preset may use them as its
    [eligibility.assets] allows, and the rows also give the amount held and committed, and by kind.
    """
    rows = []
    for stem, regime in presets:
        row: dict = {"preset": stem, "regime": regime.name}
        try:
            s = solve(profile, quotes, regime, marginal=False, assets=assets)
        except InputError as exc:
            row.update(status="error", error=str(exc))
        else:
            R = s.requirement_jpy
            row.update(
                status=s.status, required_coverage_jpy=R,
                requirement_to_customer_assets=ratio(R, profile.customer_assets_jpy),
                requirement_to_net_assets=ratio(R, profile.net_assets_jpy),
                annual_cost_jpy=s.annual_cost_jpy, all_cash_cost_jpy=s.all_cash_cost_jpy, savings_jpy=s.savings_jpy,
                cash_reserve_jpy=s.cash_reserve_jpy,
                insurance_credit_jpy=credit_by_kind(s.lines)["insurance"],
                derivative_credit_jpy=credit_by_kind(s.lines)["derivative"],
                shortfall_jpy=s.shortfall_jpy, binding=", ".join(s.binding), error="",
            )
            if assets:
                row.update(reserve_assets_jpy=s.reserve_assets_jpy, committed_jpy=s.committed_jpy,
                           **{f"{k}_jpy": sum(h.amount_jpy for h in s.holdings if h.asset.kind == k)
                              for k in ASSET_KINDS})
        rows.append(row)
    extra = ("reserve_assets_jpy", "committed_jpy", *(f"{k}_jpy" for k in ASSET_KINDS)) if assets else ()
    return pd.DataFrame(rows, columns=[*COLUMNS, *extra])
