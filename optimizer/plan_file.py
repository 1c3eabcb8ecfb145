"""Plan files (TOML, presets in data/plans/) → `Plan`, validated once (docs/plan.md, "The plan file").

A plan says how the rule is phased in over the years from its start, how the exchange grows, how far the reserve may
grow in one year and how the insurance market renews. Every problem is an `InputError` naming the file and the key.
No plan file means the one-year plan `Plan()`: `plan` then gives exactly `solve`'s answer.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import entry
from .inputs import MAX_CELL_CHARS, MAX_JPY, MAX_PLAN_YEARS, MAX_TOML_BYTES, InputError, parse_toml, read_text_file

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
    return plan_from_dict(parse_toml(text, source), source)


def load_plan(path: str | Path) -> Plan:
    """A plan TOML file → Plan."""
    return plan_from_text(read_text_file(path, "a plan (see data/plans/)"), str(path))


# ---------------------------------------------------------------------------------------------- plan ↔ dict, form

def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as the keys of its file (one number where every year has the same, a list otherwise; no
    `max_provision_jpy` when no year has a limit, `None` for a year without one): plan_from_dict reads it back to
    the same Plan (after `none_as_no_limit`)."""
    def one_or_list(values: tuple[float, ...]) -> Any:
        return values[0] if len(set(values)) == 1 else list(values)

    out: dict[str, Any] = {"name": plan.name, "description": plan.description, "start_year": plan.start_year,
                           "years": plan.years, "phase_in": one_or_list(plan.phase_in),
                           "asset_growth": one_or_list(plan.asset_growth),
                           "liquid_capital_growth": one_or_list(plan.liquid_capital_growth),
                           "tax_rate": plan.tax_rate, "discount_rate": plan.discount_rate}
    if any(math.isfinite(v) for v in plan.max_provision_jpy):
        limits = [v if math.isfinite(v) else None for v in plan.max_provision_jpy]
        out["max_provision_jpy"] = limits[0] if len(set(limits)) == 1 else limits
    out.update(release=plan.release, renewal_rate_change=plan.renewal_rate_change)
    return out


def none_as_no_limit(data: Mapping[str, Any]) -> dict[str, Any]:
    """A plan written as JSON (`plan_to_dict` in a scenario file): `null` in `max_provision_jpy` is a year without a
    limit (TOML writes `inf`)."""
    out = dict(data)
    limit = out.get("max_provision_jpy")
    if isinstance(limit, list):
        out["max_provision_jpy"] = [math.inf if v is None else v for v in limit]
    elif "max_provision_jpy" in out and limit is None:
        del out["max_provision_jpy"]
    return out


# The app's plan form: (field, kind). Rates in percent, amounts as people write yen (optimizer.entry); a field that
# takes one value a year takes one value for every year or a list of exactly `years`.
PLAN_FORM: tuple[tuple[str, str], ...] = (
    ("start_year", "year"), ("years", "years"), ("phase_in", "shares"), ("asset_growth", "growths"),
    ("liquid_capital_growth", "growths"), ("renewal_rate_change", "growth"), ("tax_rate", "tax"),
    ("discount_rate", "discount"), ("max_provision_jpy", "amounts"),
)
_PERCENT_LIST = re.compile(r"[,;、]")    # 20%, 40%, 60% (a percentage never groups thousands)
_AMOUNT_LIST = re.compile(r";|、|,\s")   # 5bn; 6bn (a comma inside an amount groups thousands: 5,000,000,000)


def _fmt_pct(fraction: float) -> str:
    sign = "-" if fraction < 0 else ""
    text = entry.format_percent(abs(fraction))
    return sign + (text if text.endswith("%") else text + "%")


def plan_to_form(plan: Plan, lang: str = "en") -> dict[str, str]:
    """The plan as the app's form shows it: `20%, 40%, 60%, 80%, 100%`, `5bn`/`50億`, blank for none."""
    def listed(values: tuple[float, ...], fmt) -> str:
        return fmt(values[0]) if len(set(values)) == 1 else ", ".join(fmt(v) for v in values)

    limits = plan.max_provision_jpy
    if not any(math.isfinite(v) for v in limits):
        provision = ""
    elif len(set(limits)) == 1:
        provision = entry.format_amount(limits[0], lang)
    else:
        provision = "; ".join("" if not math.isfinite(v) else entry.format_amount(v, lang) for v in limits)
    return {"start_year": str(plan.start_year), "years": str(plan.years),
            "phase_in": listed(plan.phase_in, _fmt_pct), "asset_growth": listed(plan.asset_growth, _fmt_pct),
            "liquid_capital_growth": listed(plan.liquid_capital_growth, _fmt_pct),
            "renewal_rate_change": _fmt_pct(plan.renewal_rate_change), "tax_rate": _fmt_pct(plan.tax_rate),
            "discount_rate": "" if plan.discount_rate == "cost_of_capital" else _fmt_pct(float(plan.discount_rate)),
            "max_provision_jpy": provision}


def _whole(raw: str, low: int, high: int, key: str) -> int:
    t = unicodedata.normalize("NFKC", raw).strip()
    if not re.fullmatch(r"\d{1,4}", t) or not low <= int(t) <= high:
        raise entry.EntryError(key, raw=raw.strip(), low=low, high=high)
    return int(t)


def _signed_percent(raw: str) -> float:
    """A yearly change typed in percent, which may be negative: `10`, `10%`, `-5%`, `▲5%`."""
    t = unicodedata.normalize("NFKC", raw).strip()
    negative = t[:1] in ("-", "−", "▲", "△")
    value = entry.parse_percent(t[1:] if negative else t)
    value = -value if negative else value
    if not MIN_GROWTH <= value <= MAX_GROWTH:
        raise entry.EntryError("'{raw}' is outside {low}% … {high}% a year", raw=raw.strip(),
                               low=f"{100 * MIN_GROWTH:g}", high=f"{100 * MAX_GROWTH:g}")
    return value


def _items(raw: str, split: re.Pattern, years: int | None, parse) -> tuple[float, ...]:
    parts = [p.strip() for p in split.split(raw)]
    if len(parts) == 1:
        return (parse(parts[0]),) * (years or 1)
    values = tuple(parse(p) for p in parts)
    if years is not None and len(values) != years:
        raise entry.EntryError("{n} values for {years} years: type one for every year, or a single value for all "
                               "of them", n=len(values), years=years)
    return values


def plan_from_form(values: Mapping[str, str], release: bool, base: Plan = Plan(),
                   quotes: Sequence[Any] = ()) -> tuple[Plan | None, dict[str, entry.EntryError]]:
    """The app's plan form (text as typed, `release` ticked or not) → Plan, or None and {field: EntryError} for each
    field that cannot be used as typed. The name and description are `base`'s. A plan shorter than the longest
    term of `quotes` is refused at `years` (that policy would be paid for years the plan does not see)."""
    errors: dict[str, entry.EntryError] = {}
    got: dict[str, Any] = {}

    def field(name: str, parse) -> None:
        try:
            got[name] = parse(str(values.get(name, "") or ""))
        except entry.EntryError as exc:
            errors[name] = exc

    field("start_year", lambda r: _whole(r, 2000, 2100, "'{raw}' is not a fiscal year from {low} to {high} "
                                                        "(such as 2027)"))
    field("years", lambda r: _whole(r, 1, MAX_PLAN_YEARS, "'{raw}' is not a whole number of years from {low} to "
                                                          "{high}"))
    years = got.get("years")
    longest = max(quotes, key=lambda q: q.term_years, default=None)
    if years is not None and longest is not None and longest.term_years > years:
        errors["years"] = entry.EntryError("quote {quote} runs {term} years, longer than this plan: type at least "
                                           "{term} years (or shorten its term in the quote sheet)",
                                           quote=longest.quote_id, term=longest.term_years)
        years = None
    share = lambda r: entry.parse_percent(r, high=1.0)  # noqa: E731
    field("phase_in", lambda r: _items(r, _PERCENT_LIST, years, share))
    field("asset_growth", lambda r: _items(r, _PERCENT_LIST, years, _signed_percent))
    field("liquid_capital_growth", lambda r: _items(r, _PERCENT_LIST, years, _signed_percent))
    field("renewal_rate_change", _signed_percent)
    field("tax_rate", lambda r: entry.parse_percent(r, high=0.99))
    field("discount_rate", lambda r: "cost_of_capital" if not r.strip() else entry.parse_percent(r, high=1.0))
    field("max_provision_jpy", lambda r: (math.inf,) if not r.strip() else _items(
        r, _AMOUNT_LIST, years, lambda p: math.inf if not p else _amount(p)))
    if errors or years is None:
        return None, errors
    data = {k: (list(v) if isinstance(v, tuple) and len(set(v)) > 1 else v[0] if isinstance(v, tuple) else v)
            for k, v in got.items()}
    data.update(name=base.name, description=base.description, release=bool(release))
    if data["max_provision_jpy"] == math.inf:
        del data["max_provision_jpy"]
    try:
        return plan_from_dict(data, "plan form"), {}
    except InputError as exc:  # a limit the form's own checks do not know: shown at its field, as the file says it
        key = str(exc.column or "years").split("[")[0]
        return None, {key: entry.EntryError(exc.message.replace("{", "{{").replace("}", "}}"))}


def _amount(raw: str) -> float:
    value = entry.parse_amount(raw)
    if value > MAX_JPY:
        raise entry.EntryError("'{raw}' is too large", raw=raw)
    return value
