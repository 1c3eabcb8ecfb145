"""A scenario — one exchange, its quote sheet and a regime — to and from JSON, and the quote sheet as a table.

Used by the app to save and reload what a user built; loading goes through the same validation as files.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from .domain import PERILS, ExchangeProfile, Quote, Regime
from .inputs import QUOTE_COLUMNS, InputError, parse_profile, quotes_from_frame, regime_from_dict

SCENARIO_VERSION = 1


@dataclass(frozen=True)
class Scenario:
    profile: ExchangeProfile
    quotes: tuple[Quote, ...]
    regime: Regime


def quotes_to_frame(quotes: Sequence[Quote]) -> pd.DataFrame:
    """Quotes as the quote-sheet table (columns as in quotes.csv; perils as `all` or `a;b`)."""
    rows = []
    for q in quotes:
        row = dataclasses.asdict(q)
        row["perils"] = "all" if q.perils == frozenset(PERILS) else ";".join(p for p in PERILS if p in q.perils)
        row["exchange_id"] = q.exchange_id or ""
        row["exclusions"] = ";".join(sorted(q.exclusions))  # as in quotes.csv (a frozenset would print as text)
        rows.append(row)
    return pd.DataFrame(rows, columns=[c.name for c in QUOTE_COLUMNS])


def profile_to_dict(profile: ExchangeProfile) -> dict[str, Any]:
    d = dataclasses.asdict(profile)
    if math.isinf(d["liquid_capital_jpy"]):
        d["liquid_capital_jpy"] = None
    return d


def regime_to_dict(regime: Regime) -> dict[str, Any]:
    """The regime in the shape of its TOML file (cap_jpy omitted when there is no cap)."""
    req = dataclasses.asdict(regime.requirement)
    req["perils"] = list(req["perils"])
    if math.isinf(req["cap_jpy"]):
        del req["cap_jpy"]
    return {"name": regime.name, "description": regime.description, "requirement": req,
            "eligibility": dataclasses.asdict(regime.eligibility), "rating_credit": dict(regime.rating_credit)}


def to_json(scenario: Scenario) -> str:
    frame = quotes_to_frame(scenario.quotes)
    data = {"scenario_version": SCENARIO_VERSION, "profile": profile_to_dict(scenario.profile),
            "quotes": json.loads(frame.to_json(orient="records")), "regime": regime_to_dict(scenario.regime)}
    return json.dumps(data, indent=2, ensure_ascii=False)


def from_json(text: str, source: str = "scenario.json") -> Scenario:
    """Scenario JSON → Scenario, validated like the files it stands for; InputError otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(source, "expected a JSON object with profile, quotes and regime")
    for key in ("profile", "quotes", "regime"):
        if key not in data:
            raise InputError(source, f"missing key {key!r}; expected profile, quotes and regime", column=key)
    unknown = set(data) - {"scenario_version", "profile", "quotes", "regime"}
    if unknown:
        raise InputError(source, "unknown key", column=sorted(unknown)[0])
    if not isinstance(data["profile"], dict) or not isinstance(data["quotes"], list):
        raise InputError(source, "expected profile as an object and quotes as a list")
    profile_fields = {f.name for f in dataclasses.fields(ExchangeProfile)}
    for key in data["profile"]:
        if key not in profile_fields:
            raise InputError(f"{source} (profile)", "unknown field", column=key)
    profile = parse_profile(data["profile"], f"{source} (profile)")
    frame = pd.DataFrame(data["quotes"], columns=[c.name for c in QUOTE_COLUMNS]) if data["quotes"] else \
        pd.DataFrame(columns=[c.name for c in QUOTE_COLUMNS])
    quotes = quotes_from_frame(frame, f"{source} (quotes)")
    regime = regime_from_dict(data["regime"], f"{source} (regime)")
    return Scenario(profile, tuple(quotes), regime)
