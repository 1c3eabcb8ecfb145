"""The loss model of the risk view: how often an exchange is hacked, how badly, and who fails to pay.

`LossModel` is a frozen domain object; `load_loss_model(path)` reads a TOML file (presets in
data/loss-models/) and checks every key once. A bad file raises `InputError` naming the file and the key
(`event_type[2].median`) and saying what was expected; the CLI turns it into exit 2.

Severities are fractions of a base (the exchange's hot-wallet assets, or all its customer assets):
`uniform(low, high)`, `lognormal(median, p90)` or the heavy-tailed `pareto(median, alpha)`, each capped at `cap`
(default 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from .domain import PERILS, RATINGS, rating_bucket
from .inputs import MAX_TOML_BYTES, MAX_TOML_DEPTH, InputError, parse_toml, read_text_file, toml_depth

# Bounds on what the simulation can mean (see loss_model_from_dict and docs/risk.md):
MAX_EVENTS_PER_YEAR = 52.0  # a major outflow a week
MAX_VOLATILITY = 3.0        # annual log-volatility of the coins' yen price: a 20× move in a year's standard deviation
# Log-sd of a mean-1 lognormal factor the Monte Carlo can average: the price move to the payout,
# price_volatility·√(payout_lag_days/365), and the parametric basis noise. Of n draws of exp(sZ − s²/2) the mean
# has relative standard error √((e^{s²} − 1)/n) and its typical value falls short of 1 as s grows, because a few
# rare draws carry the mean: at s = 2 and the 2,500 events of 100,000 years at 2.5% a year, the median sample mean
# is 0.98 (se 15%); at s = 3 it is 0.82 (se 180%), and at s = 4.2 (volatility 3 over 730 days) 0.32 — an expected
# loss a third of the true one, with a standard error that does not show it. Beyond s ≈ 37 every factor underflows
# to 0 (`payout_lag_days = 100000`: "expected loss ¥1").
MAX_LOG_SD = 2.0
DAYS_PER_YEAR = 365.0       # payout_lag_days / DAYS_PER_YEAR is the lag in years
Z90 = 1.2815515655446004  # standard normal 90% quantile: a lognormal's p90 = median × exp(Z90·σ)
# A pareto's tail index: below 1 its uncapped mean is infinite (the cap keeps the simulated mean finite); above 10
# P(X > 2·median) < 0.05% and the tail is thinner than the lognormals it is meant to replace.
MAX_PARETO_ALPHA = 10.0
PROBABILITY_SUM_TOL = 1e-9  # event-type probabilities must sum to 1 within this
BUCKETS: tuple[str, ...] = tuple(dict.fromkeys(rating_bucket(r) for r in RATINGS))  # AAA, AA, A, …, CCC, NR


@dataclass(frozen=True)
class EventType:
    """One kind of major outflow. The loss is fraction × base, fraction ~ severity, capped at `cap`."""

    name: str
    probability: float               # share of events of this type; all types sum to 1
    peril: str                       # from domain.PERILS
    base: Literal["hot", "customer_assets"]
    severity: Literal["uniform", "lognormal", "pareto"]
    low: float = 0.0                 # uniform
    high: float = 0.0
    median: float = 0.0              # lognormal and pareto
    p90: float = 0.0                 # lognormal
    cap: float = 1.0
    alpha: float = 0.0               # pareto: the tail index, P(X > x) = (xmin / x)^alpha for x ≥ xmin

    @property
    def sigma(self) -> float:
        """Log-standard deviation of a lognormal severity: ln(p90 / median) / z₀.₉.

        >>> round(EventType("x", 1.0, "external_hack", "hot", "lognormal", median=0.1, p90=0.3).sigma, 4)
        0.8573
        """
        return math.log(self.p90 / self.median) / Z90 if self.severity == "lognormal" else 0.0

    @property
    def xmin(self) -> float:
        """Scale of a pareto severity, the smallest fraction it draws: median × 2^(−1/alpha) (P(X > median) = ½).

        >>> EventType("x", 1.0, "vendor_compromise", "customer_assets", "pareto", median=0.2, alpha=1.0).xmin
        0.1
        """
        return self.median * 2.0 ** (-1.0 / self.alpha) if self.severity == "pareto" else 0.0


@dataclass(frozen=True)
class LossModel:
    """Frequency, severity, attribution, price move and counterparty default for the Monte Carlo."""

    name: str
    events_per_year: float           # Poisson rate of major outflows per exchange-year
    state_backed_share: float        # share of events attributed to a state actor
    price_volatility: float          # annual log-volatility of the stolen coins' yen price
    payout_lag_days: float           # days between the loss and the payout
    event_types: tuple[EventType, ...]
    default_probability: Mapping[str, float] = field(default_factory=dict)  # rating bucket → annual probability
    basis_volatility: float = 0.3    # log-volatility of a parametric index around the true loss
    description: str = ""

    def default_rate(self, rating: str) -> float:
        """Annual probability that a counterparty rated `rating` fails to pay.

        Looked up by the rating itself (a notched key such as "A-" wins), then by its bucket; a bucket the
        model does not list takes the highest probability of the buckets listed below it, or if none, of all
        listed buckets (conservative: an unknown credit is treated as the worst one known).
        """
        table = self.default_probability
        if rating in table:
            return float(table[rating])
        bucket = rating_bucket(rating)
        if bucket in table:
            return float(table[bucket])
        worse = [table[b] for b in BUCKETS[BUCKETS.index(bucket) + 1:] if b in table] if bucket in BUCKETS else []
        pool = worse or list(table.values())
        return float(max(pool)) if pool else 0.0

    def __hash__(self) -> int:  # Mapping field is not hashable; compare by value
        return hash((self.name, self.events_per_year, self.state_backed_share, self.price_volatility,
                     self.payout_lag_days, self.event_types, tuple(sorted(self.default_probability.items())),
                     self.basis_volatility))


# ---------------------------------------------------------------- TOML → LossModel

_TOP = {"name", "description", "events_per_year", "state_backed_share", "price_volatility", "payout_lag_days",
        "basis_volatility", "event_type", "default_probability"}
_EVENT_KEYS = {"name", "probability", "peril", "base", "severity", "low", "high", "median", "p90", "alpha", "cap"}
_SEVERITY_KEYS = {"uniform": ("low", "high"), "lognormal": ("median", "p90"), "pareto": ("median", "alpha")}


def _number(data: Mapping[str, Any], key: str, where: str, source: str, *, default: float | None = None,
            low: float = 0.0, high: float | None = None, strictly_positive: bool = False) -> float:
    if key not in data:
        if default is None:
            raise InputError(source, "a value is required here", column=where)
        return float(default)
    raw = data[key]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise InputError(source, f"expected a number, got {raw!r}", column=where)
    try:
        value = float(raw)
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        digits = max(1, math.floor(abs(raw).bit_length() * math.log10(2)) + 1)
        raise InputError(source, f"expected a finite number, got an integer of {digits:,} digits",
                         column=where) from None
    if not math.isfinite(value):
        raise InputError(source, f"expected a finite number, got {raw!r}", column=where)
    if strictly_positive and value <= 0:
        raise InputError(source, f"expected a number > 0, got {raw!r}", column=where)
    if value < low or (high is not None and value > high):
        expected = f"between {low:g} and {high:g}" if high is not None else f"≥ {low:g}"
        raise InputError(source, f"expected a number {expected}, got {raw!r}", column=where)
    return value


_SIGMA_WHY = ("beyond it the simulated mean of a mean-1 lognormal factor falls well short of 1 and the expected "
              "loss is understated")


def _at_most(value: float, high: float, key: str, source: str, why: str) -> float:
    if value > high:
        raise InputError(source, f"expected at most {high:g} ({why}), got {value:g}", column=key)
    return value


def _text(data: Mapping[str, Any], key: str, where: str, source: str, default: str | None = None) -> str:
    if key not in data:
        if default is None:
            raise InputError(source, "a value is required here", column=where)
        return default
    if not isinstance(data[key], str):
        raise InputError(source, f"expected text, got {data[key]!r}", column=where)
    return data[key].strip()


def _choice(data: Mapping[str, Any], key: str, where: str, source: str, options: tuple[str, ...]) -> str:
    value = _text(data, key, where, source)
    if value not in options:
        raise InputError(source, f"unknown {key} {value!r}; expected one of {', '.join(options)}", column=where)
    return value


def _event_type(raw: Any, i: int, source: str) -> EventType:
    where = f"event_type[{i}]"
    if not isinstance(raw, dict):
        raise InputError(source, "expected a table [[event_type]]", column=where)
    for key in raw:
        if key not in _EVENT_KEYS:
            raise InputError(source, f"unknown key (expected some of: {', '.join(sorted(_EVENT_KEYS))})",
                             column=f"{where}.{key}")
    name = _text(raw, "name", f"{where}.name", source, default=f"event_type_{i}")
    severity = _choice(raw, "severity", f"{where}.severity", source, tuple(_SEVERITY_KEYS))
    for other, keys in _SEVERITY_KEYS.items():
        for key in keys:
            if other != severity and key in raw and key not in _SEVERITY_KEYS[severity]:
                raise InputError(source, f"{key} belongs to a {other} severity; this one is {severity} (expected "
                                 f"{' and '.join(_SEVERITY_KEYS[severity])})", column=f"{where}.{key}")
    values: dict[str, float] = {}
    if severity == "uniform":
        values["low"] = _number(raw, "low", f"{where}.low", source)
        values["high"] = _number(raw, "high", f"{where}.high", source)
        if values["low"] > values["high"]:
            raise InputError(source, f"low {values['low']:g} is above high {values['high']:g}; expected low ≤ high",
                             column=f"{where}.low")
    elif severity == "lognormal":
        values["median"] = _number(raw, "median", f"{where}.median", source, strictly_positive=True)
        values["p90"] = _number(raw, "p90", f"{where}.p90", source, strictly_positive=True)
        if values["median"] > values["p90"]:
            raise InputError(source, f"median {values['median']:g} is above its p90 {values['p90']:g}; expected "
                             "median ≤ p90", column=f"{where}.median")
    else:  # pareto
        values["median"] = _number(raw, "median", f"{where}.median", source, strictly_positive=True)
        values["alpha"] = _at_most(_number(raw, "alpha", f"{where}.alpha", source, strictly_positive=True),
                                   MAX_PARETO_ALPHA, f"{where}.alpha", source, "the tail index of a heavy tail; a "
                                   "thin tail is a lognormal")
    probability = _number(raw, "probability", f"{where}.probability", source, high=1.0)
    peril = _choice(raw, "peril", f"{where}.peril", source, PERILS)
    base = _choice(raw, "base", f"{where}.base", source, ("hot", "customer_assets"))
    cap = _number(raw, "cap", f"{where}.cap", source, default=1.0, high=1.0, strictly_positive=True)
    if severity == "pareto" and values["median"] >= cap:
        raise InputError(source, f"median {values['median']:g} is not below cap {cap:g}; expected median < cap (a "
                         "pareto at or above its cap draws the cap every time)", column=f"{where}.median")
    return EventType(name=name, probability=probability, peril=peril, base=base,  # type: ignore[arg-type]
                     severity=severity, cap=cap, **values)  # type: ignore[arg-type]


def loss_model_from_dict(data: Mapping[str, Any], source: str = "loss model") -> LossModel:
    """A parsed loss-model TOML document → LossModel. Unknown keys are errors (typos must not pass silently).

    Raises:
        InputError: naming `source` and the key, e.g. `event_type[1].p90`.
    """
    for key in data:
        if key not in _TOP:
            raise InputError(source, f"unknown key (expected some of: {', '.join(sorted(_TOP))})", column=key)
    types_raw = data.get("event_type")
    if not isinstance(types_raw, list) or not types_raw:
        raise InputError(source, "expected at least one [[event_type]] table", column="event_type")
    types = tuple(_event_type(raw, i, source) for i, raw in enumerate(types_raw, start=1))
    total = sum(t.probability for t in types)
    if abs(total - 1.0) > PROBABILITY_SUM_TOL:
        raise InputError(source, f"event-type probabilities sum to {total:g}; expected them to sum to 1",
                         column="event_type.probability")

    table_raw = data.get("default_probability", {})
    if not isinstance(table_raw, dict):
        raise InputError(source, "expected a table [default_probability]", column="default_probability")
    table: dict[str, float] = {}
    spelled: dict[str, str] = {}
    for key in table_raw:
        rating = str(key).strip().upper()
        if rating not in RATINGS and rating not in BUCKETS:
            raise InputError(source, f"unknown rating {key!r}; expected AAA … CCC (notches + or -) or NR",
                             column=f"default_probability.{key}")
        if rating in table:  # "A" and "a " are one rating: the last would win in silence
            raise InputError(source, f"rating {rating} is given twice ({spelled[rating]!r} and {key!r}); expected "
                             "each rating once", column=f"default_probability.{key}")
        spelled[rating] = key
        table[rating] = _number(table_raw, key, f"default_probability.{key}", source, high=1.0)

    price_volatility = _at_most(_number(data, "price_volatility", "price_volatility", source), MAX_VOLATILITY,
                                "price_volatility", source, _SIGMA_WHY)
    payout_lag_days = _number(data, "payout_lag_days", "payout_lag_days", source)
    move = price_volatility * math.sqrt(payout_lag_days / DAYS_PER_YEAR)
    if move > MAX_LOG_SD:
        longest = DAYS_PER_YEAR * (MAX_LOG_SD / price_volatility) ** 2
        raise InputError(source, f"the price move to the payout has log-sd price_volatility × √(payout_lag_days / "
                         f"365) = {price_volatility:g} × √({payout_lag_days:g} / 365) = {move:.3g}; expected at most "
                         f"{MAX_LOG_SD:g} ({_SIGMA_WHY}): at this volatility, payout_lag_days ≤ {math.floor(longest):,}",
                         column="payout_lag_days")
    return LossModel(
        name=_text(data, "name", "name", source, default=Path(str(source)).stem),
        description=_text(data, "description", "description", source, default=""),
        # bounds (top of the module): well past any real exchange, and short of where the simulation stops meaning
        # anything
        events_per_year=_at_most(_number(data, "events_per_year", "events_per_year", source), MAX_EVENTS_PER_YEAR,
                                 "events_per_year", source, "a major outflow a week"),
        state_backed_share=_number(data, "state_backed_share", "state_backed_share", source, high=1.0),
        price_volatility=price_volatility,
        payout_lag_days=payout_lag_days,
        basis_volatility=_at_most(_number(data, "basis_volatility", "basis_volatility", source, default=0.3),
                                  MAX_LOG_SD, "basis_volatility", source, _SIGMA_WHY),
        event_types=types,
        default_probability=table,
    )


def loss_model_from_text(text: str, source: str = "loss model") -> LossModel:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOML_BYTES:
        raise InputError(source, f"the file is larger than {MAX_TOML_BYTES // 1024} KB; a loss model is a few KB "
                         "(see data/loss-models/)")
    data = parse_toml(text, source, " ([[event_type]] tables of numbers and text)")
    for key, value in data.items():  # before any value is read (or shown in a message)
        if 1 + toml_depth(value) > MAX_TOML_DEPTH:
            raise InputError(source, f"nested {1 + toml_depth(value)} levels deep; expected at most {MAX_TOML_DEPTH} "
                             "([[event_type]] tables of numbers and text)", column=key)
    return loss_model_from_dict(data, source)


def load_loss_model(path: str | Path) -> LossModel:
    """A loss-model TOML file → LossModel, validated once.

    Raises:
        InputError: the file is missing, not UTF-8, not TOML, or a key is unknown, of the wrong type or out of
            range (probabilities not summing to 1, a negative rate, a median above its p90, an unknown peril).
    """
    return loss_model_from_text(read_text_file(path, "a loss model (see data/loss-models/)"), str(path))
