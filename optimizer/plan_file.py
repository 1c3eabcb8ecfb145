"""Plan files (TOML, presets in data/plans/) → `Plan`, validated once (docs/plan.md, "The plan file").

A plan says how the rule is phased in over the years from its start, how the exchange grows, how far the reserve may
grow in one year and how the insurance market renews. Every problem is an `InputError` naming the file and the key.
No plan file means the one-year plan `Plan()`: `plan` then gives exactly `solve`'s answer.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .inputs import MAX_CELL_CHARS, MAX_JPY, MAX_PLAN_YEARS, MAX_TOML_BYTES, InputError, read_text_file

# Japan's effective statutory corporate tax rate (法定実効税率) for a Tokyo company with capital over ¥100m, for
# fiscal years starting on or after 1 April 2026 (FY2027 onward): 30.62% since April 2018, plus the defence special
# corporate tax (防衛特別法人税, 4% of corporation tax from fiscal years starting 1 April 2026):
#   (23.2% × (1 + 10.3% + 10.4% + 4%) + 1.18% + 2.6%) ÷ (1 + 1.18% + 2.6%) = 31.52%.
# Sources in data/README.md ("Plans"); a plan file may give its own rate.
DEFAULT_TAX_RATE = 0.3152
DEFAULT_START_YEAR = 2027   # the rule applies from FY2027 (the Cabinet's bill of 10 April 2026)
MAX_GROWTH = 10.0           # +1,000% in one year: beyond any exchange's history
MIN_GROWTH = -0.99          # an exchange that loses 99% of its business in a year still exists

_KEYS = ("name", "description", "start_year", "years", "phase_in", "asset_growth", "liquid_capital_growth",
         "tax_rate", "discount_rate", "max_provision_jpy", "release", "renewal_rate_change")


@dataclass(frozen=True)
class Plan:
    """A multi-year funding plan; every per-year tuple has `years` entries (year 1 first)."""

    name: str = "one year"
    description: str = ""
    start_year: int = DEFAULT_START_YEAR
    years: int = 1
    phase_in: tuple[float, ...] = (1.0,)              # share of R required in each year
    asset_growth: tuple[float, ...] = (0.0,)          # growth into each year (the first entry is ignored)
    liquid_capital_growth: tuple[float, ...] = (0.0,)
    tax_rate: float = DEFAULT_TAX_RATE
    discount_rate: float | str = "cost_of_capital"    # a number, or the profile's cost_of_capital
    max_provision_jpy: tuple[float, ...] = (math.inf,)  # the most the reserve may grow in each year
    release: bool = False                             # whether the reserve may fall from one year to the next
    renewal_rate_change: float = 0.0                  # yearly change of a one-year quote's rate on line

    def growth_factor(self, growth: tuple[float, ...], t: int) -> float:
        """Π (1 + growth) over years 2 … t (t counted from 1): year t's figures ÷ year 1's.

        >>> Plan(years=3, asset_growth=(0.5, 0.1, 0.2)).growth_factor((0.5, 0.1, 0.2), 3)
        1.32
        """
        out = 1.0
        for g in growth[1:t]:
            out *= 1.0 + g
        return round(out, 15)

    def discount(self, cost_of_capital: float) -> float:
        """The yearly discount rate: the plan's number, or the exchange's cost of capital."""
        return cost_of_capital if self.discount_rate == "cost_of_capital" else float(self.discount_rate)


def _number(key: str, raw: Any, source: str, low: float, high: float, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(float(raw)):
        raise InputError(source, f"expected {what}, got {raw!r}", column=key)
    value = float(raw)
    if not low <= value <= high:
        raise InputError(source, f"expected {what}, got {raw!r}", column=key)
    return value


def _per_year(key: str, raw: Any, years: int, source: str, low: float, high: float, what: str, *,
              allow_inf: bool = False) -> tuple[float, ...]:
    """One number for every year, or a list of exactly `years` numbers."""
    def one(value: Any, where: str) -> float:
        if allow_inf and isinstance(value, float) and value == math.inf:
            return math.inf
        return _number(where, value, source, low, high, what)

    if isinstance(raw, list):
        if len(raw) != years:
            raise InputError(source, f"expected one number for every year ({years}, as `years` says), got a list of "
                             f"{len(raw)}", column=key)
        return tuple(one(v, f"{key}[{i + 1}]") for i, v in enumerate(raw))
    return (one(raw, key),) * years


def plan_from_dict(data: Mapping[str, Any], source: str = "plan") -> Plan:
    """A parsed plan TOML document → Plan; unknown keys, lists of the wrong length and numbers out of range are
    refused, each naming the key."""
    for key in data:
        if key not in _KEYS:
            raise InputError(source, f"unknown key (expected some of: {', '.join(_KEYS)})", column=key)
    for key in ("name", "description"):
        if key in data and (not isinstance(data[key], str) or len(data[key]) > MAX_CELL_CHARS):
            raise InputError(source, f"expected text of at most {MAX_CELL_CHARS:,} characters", column=key)
    years_raw = data.get("years", 1)
    if isinstance(years_raw, bool) or not isinstance(years_raw, int) or not 1 <= years_raw <= MAX_PLAN_YEARS:
        raise InputError(source, f"expected a whole number of years from 1 to {MAX_PLAN_YEARS}, got {years_raw!r}",
                         column="years")
    years = int(years_raw)
    start = data.get("start_year", DEFAULT_START_YEAR)
    if isinstance(start, bool) or not isinstance(start, int) or not 2000 <= start <= 2100:
        raise InputError(source, f"expected a fiscal year such as 2027, got {start!r}", column="start_year")
    phase_in = _per_year("phase_in", data.get("phase_in", 1.0), years, source, 0.0, 1.0,
                         "a share of R between 0 and 1 (0.2 = 20%)")
    growth = "a yearly growth between -0.99 and 10 (0.10 = +10% a year)"
    asset_growth = _per_year("asset_growth", data.get("asset_growth", 0.0), years, source, MIN_GROWTH, MAX_GROWTH,
                             growth)
    liquid_growth = _per_year("liquid_capital_growth", data.get("liquid_capital_growth", 0.0), years, source,
                              MIN_GROWTH, MAX_GROWTH, growth)
    tax_rate = _number("tax_rate", data.get("tax_rate", DEFAULT_TAX_RATE), source, 0.0, 0.99,
                       "a tax rate between 0 and 0.99 (0.3152 = 31.52%)")
    discount = data.get("discount_rate", "cost_of_capital")
    if discount != "cost_of_capital":
        discount = _number("discount_rate", discount, source, 0.0, 1.0,
                           'a yearly rate between 0 and 1, or "cost_of_capital"')
    if "max_provision_jpy" in data:
        max_provision = _per_year("max_provision_jpy", data["max_provision_jpy"], years, source, 0.0, MAX_JPY,
                                  "an amount of yen ≥ 0 (omit it for no limit)", allow_inf=True)
    else:
        max_provision = (math.inf,) * years
    release = data.get("release", False)
    if not isinstance(release, bool):
        raise InputError(source, f"expected true or false, got {release!r}", column="release")
    renewal = _number("renewal_rate_change", data.get("renewal_rate_change", 0.0), source, MIN_GROWTH, MAX_GROWTH,
                      "a yearly change of the rate on line between -0.99 and 10 (0.15 = +15% a year)")
    return Plan(name=data.get("name") or Path(str(source)).stem, description=data.get("description", ""),
                start_year=int(start), years=years, phase_in=phase_in, asset_growth=asset_growth,
                liquid_capital_growth=liquid_growth, tax_rate=tax_rate, discount_rate=discount,
                max_provision_jpy=max_provision, release=release, renewal_rate_change=renewal)


def plan_from_text(text: str, source: str = "plan") -> Plan:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOML_BYTES:
        raise InputError(source, f"the file is larger than {MAX_TOML_BYTES // 1024} KB; a plan is a few lines "
                         "(see data/plans/)")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML ({exc})") from None
    return plan_from_dict(data, source)


def load_plan(path: str | Path) -> Plan:
    """A plan TOML file → Plan."""
    return plan_from_text(read_text_file(path, "a plan (see data/plans/)"), str(path))
