"""What people type → numbers, refusing anything that could be read two ways (no Streamlit here).

Conventions, said in every label that uses them:
- **Rates are typed in percent**: `4`, `4%`, `4.5 %`, `０．５％` (full-width) all mean a fraction 0.04 …; a bare
  number between 0 and 1 (`.05`, `0.5`) is refused as ambiguous (5% or 0.05%?) unless typed with `%`; the same
  in a requirement-basis cell (`0.5 of R` is refused, `0.5% of R` and `25 of R` are not).
- **Amounts in yen** accept `5bn`, `500m`, `2.5k`, `5,000,000,000`, `5e9`, `¥5bn`, `50億`, `300百万`, `1億5000万円`,
  `5千億`, `1兆2千億`, `3千5百万`; a figure without its unit after a Japanese one (`5億5`) is refused, and so is
  千/百/十 straight after 億 or 兆 (`5億5千`, `1兆2千`: people mean 5億5千万, 1兆2千億; `1万5千` is 15,000).
  Commas only group thousands (`0,04` is refused: use a dot for decimals).
- Negative numbers, text and non-finite values are refused.

Every refusal is an `EntryError` whose `key` is an English message template (the msgid the app translates) and
`params` its fields; `str(err)` is the English sentence.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


class EntryError(ValueError):
    """A value people typed that cannot be used as it stands: `key` (message template) and `params`."""

    def __init__(self, key: str, **params):
        self.key, self.params = key, params
        super().__init__(key.format(**params))


@dataclass(frozen=True)
class Implausible:
    """A value that parses but should be confirmed (e.g. a rate on line of 0 or above 50%)."""

    key: str
    params: dict

    def __str__(self) -> str:
        return self.key.format(**self.params)


# Multipliers, longest spelling first so that `mn` wins over `m`.
_EN_UNITS = {
    "trillion": 1e12, "tn": 1e12, "t": 1e12,
    "billion": 1e9, "bn": 1e9, "b": 1e9,
    "million": 1e6, "mn": 1e6, "mm": 1e6, "m": 1e6,
    "thousand": 1e3, "k": 1e3,
}
_JA_UNITS = {"兆": 10**12, "億": 10**8, "万": 10**4, "千": 10**3, "百": 10**2, "十": 10}
_JA_BIG = {"兆": 10**12, "億": 10**8, "万": 10**4}  # the myriad units: 1億5000万 = 1·10^8 + 5000·10^4
_JA_SMALL = re.compile(r"(?:(?P<k>\d+(?:\.\d+)?)?(?P<K>千))?(?:(?P<h>\d+(?:\.\d+)?)?(?P<H>百))?"
                       r"(?:(?P<t>\d+(?:\.\d+)?)?(?P<T>十))?")
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_SCI = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)e[+-]?\d+$")

AMOUNT_EXAMPLES = "5bn, 500m, 5,000,000,000, 50億, 300百万"


def _normalise(text: str) -> str:
    """Full-width digits and signs to ASCII, spaces removed, lower case."""
    t = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"\s+", "", t).replace("_", "")


def _plain_number(t: str, raw: str) -> Decimal:
    """`1234.5`, `1,234.5`, `5e9` → Decimal; EntryError otherwise."""
    if "," in t:
        if not _GROUPED.match(t):
            raise EntryError("'{raw}': commas only group thousands (5,000,000); use a dot for decimals", raw=raw)
        t = t.replace(",", "")
    if not (re.fullmatch(_NUMBER, t) or _SCI.match(t)):
        raise EntryError("'{raw}' is not a number", raw=raw)
    try:
        return Decimal(t)
    except InvalidOperation:
        raise EntryError("'{raw}' is not a number", raw=raw) from None


def _check_sign(t: str, raw: str) -> str:
    if t.startswith(("-", "−", "▲", "△")):
        raise EntryError("'{raw}': negative values are not allowed here", raw=raw)
    if t.startswith("+"):
        t = t[1:]
    return t


def _finite(value: float, raw: str) -> float:
    if not math.isfinite(value):
        raise EntryError("'{raw}' is too large", raw=raw)
    return value


def _ja_group(g: str, raw: str) -> Decimal:
    """The figure in front of a myriad unit (or the last one): `5000`, `1.5`, `3千5百`, `千`, `300百` (= 30,000)."""
    if _GROUPED.match(g):  # 1,500万
        g = g.replace(",", "")
    if re.fullmatch(_NUMBER, g):
        return Decimal(g)
    m = _JA_SMALL.fullmatch(g)
    if not g or m is None:
        raise EntryError("'{raw}' is not an amount (examples: {examples})", raw=raw, examples=AMOUNT_EXAMPLES)
    return sum((Decimal(m.group(n) or 1) * scale for n, N, scale in (("k", "K", 1000), ("h", "H", 100),
                                                                     ("t", "T", 10)) if m.group(N)), Decimal(0))


def _ja_amount(t: str, raw: str) -> Decimal:
    """Yen written the Japanese way: myriad units 兆 億 万 in falling order, each after a figure that may use 千 百
    十 (`1兆2千億`, `3千5百万`, `1億5000万`, `1億2345万6789`). A bare figure after a unit (`5億5`, `1万5`) is
    refused unless it fills the last four places after 万 (`1万2345`): people write `5億5` for 5億5千万."""
    pieces = re.split(r"(兆|億|万)", t)
    total, scale = Decimal(0), None
    for g, unit in zip(pieces[0:-1:2], pieces[1::2]):
        if scale is not None and _JA_BIG[unit] >= scale:
            raise EntryError("'{raw}' is not an amount (examples: {examples})", raw=raw, examples=AMOUNT_EXAMPLES)
        scale = _JA_BIG[unit]
        total += _ja_group(g, raw) * scale
    tail = pieces[-1]
    if tail:
        if scale is not None and re.fullmatch(_NUMBER, tail) and not (scale == 10**4 and re.fullmatch(r"\d{4}", tail)):
            raise EntryError("'{raw}': write the unit of its last figure too (5億5千万 or 5.5億)", raw=raw)
        if scale is not None and scale >= 10**8 and _JA_SMALL.fullmatch(tail):
            # 5億5千 is 5億5千万 to the person who typed it (千 and 百 after 億 or 兆 scale the next smaller unit),
            # ¥500,005,000 read literally: refused, like 5億5, with the reading people mean to type instead
            smaller = "万" if scale == 10**8 else "億"
            raise EntryError("'{raw}' is ambiguous after {unit}: type {meant} for {meant_yen} yen",
                             raw=raw, unit=unit, meant=t + smaller,
                             meant_yen=f"{_ja_amount(t + smaller, raw):,.0f}")
        total += _ja_group(tail, raw)
    return total


def parse_amount(text: str) -> float:
    """Yen typed by a person → yen (float ≥ 0). Raises EntryError.

    >>> parse_amount("5bn"), parse_amount("50億"), parse_amount("300百万"), parse_amount("1億5000万円")
    (5000000000.0, 5000000000.0, 300000000.0, 150000000.0)
    >>> parse_amount("5千億"), parse_amount("1兆2千億"), parse_amount("3千5百万")
    (500000000000.0, 1200000000000.0, 35000000.0)
    """
    raw = str(text).strip()
    t = _normalise(raw)
    if not t:
        raise EntryError("a value is required")
    t = _check_sign(t, raw)
    t = t.removeprefix("¥").removeprefix("jpy")
    t = t.removesuffix("円").removesuffix("yen").removesuffix("jpy")
    if not t:
        raise EntryError("'{raw}' is not a number", raw=raw)
    if any(u in t for u in _JA_UNITS):
        return _finite(float(_ja_amount(t, raw)), raw)
    m = re.fullmatch(r"(.+?)([a-z]+)", t)
    if m and not _SCI.match(t):
        unit = _EN_UNITS.get(m.group(2))
        if unit is None:
            raise EntryError("'{raw}' is not an amount (examples: {examples})", raw=raw, examples=AMOUNT_EXAMPLES)
        return _finite(float(_plain_number(m.group(1), raw) * Decimal(unit)), raw)
    return _finite(float(_plain_number(t, raw)), raw)


def parse_percent(text: str, *, high: float | None = None) -> float:
    """A rate typed in percent → a fraction (`4` or `4%` → 0.04). Raises EntryError.

    A bare number strictly between 0 and 1 is refused: `.05` could mean 5% or 0.05%.
    `high` (a fraction) is the largest value allowed (1.0 for shares).

    >>> parse_percent("4"), parse_percent("4%"), parse_percent("0.5%")
    (0.04, 0.04, 0.005)
    """
    raw = str(text).strip()
    t = _normalise(raw)
    if not t:
        raise EntryError("a value is required")
    t = _check_sign(t, raw)
    has_sign = t.endswith("%")
    t = t.rstrip("%")
    of_r = t.endswith("ofr")  # "25% of R" in a requirement-basis cell
    if of_r:
        t = t.removesuffix("ofr")
        has_sign = t.endswith("%")  # "0.5 of R" is a bare number: 50% or 0.5% of R?
        t = t.rstrip("%")
    value = _plain_number(t, raw)
    if of_r and not has_sign and 0 < value < 1:
        raise EntryError("'{raw}' is ambiguous: type {as_pct}% of R for {as_pct} percent of R, or {number}% of R "
                         "for {number} percent of R", raw=raw, as_pct=_fmt_decimal(value * 100),
                         number=_fmt_decimal(value))
    if not has_sign and 0 < value < 1:
        raise EntryError("'{raw}' is ambiguous: type {as_pct}% for {as_pct} percent, or {raw}% for {raw} percent",
                         raw=raw, as_pct=_fmt_decimal(value * 100))
    fraction = float(value / 100)
    _finite(fraction, raw)
    if high is not None and fraction > high + 1e-12:
        raise EntryError("'{raw}' is above {high}%", raw=raw, high=_fmt_decimal(Decimal(str(high)) * 100))
    return fraction


def parse_number(text: str) -> float:
    """A plain non-negative number (a multiplier such as 1.2); the same refusals as amounts. Raises EntryError."""
    raw = str(text).strip()
    t = _normalise(raw)
    if not t:
        raise EntryError("a value is required")
    return _finite(float(_plain_number(_check_sign(t, raw), raw)), raw)


def check_rate_on_line(fraction: float) -> Implausible | None:
    """A rate on line of 0 (free cover) or above 50% a year is possible but rare: ask for confirmation."""
    if fraction == 0:
        return Implausible("a rate on line of 0% means free cover", {})
    if fraction > 0.5:
        return Implausible("a rate on line of {pct}% a year is above 50%", {"pct": format_percent(fraction)})
    return None


def _fmt_decimal(d: Decimal | float) -> str:
    d = Decimal(str(d)).normalize()
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def format_percent(fraction: float) -> str:
    """A fraction as the number typed in a percent cell (0.04 → "4"; 0.005 → "0.5%" so it parses back).

    Exact to 10 significant digits: parse_percent(format_percent(x)) == x for such x.
    """
    pct = _fmt_decimal(Decimal(repr(fraction)) * 100)
    return pct + "%" if 0 < fraction < 0.01 else pct


def format_amount(yen: float, lang: str = "en") -> str:
    """Yen as typed in a cell, exact and short: 5e9 → "5bn" (en) or "50億" (ja); 123,456,789 → "123,456,789"."""
    if yen == 0:
        return "0"
    if lang == "ja":
        n = Decimal(repr(yen))
        if n == n.to_integral_value():
            n = int(n)
            parts, rest = [], n
            for unit, scale in (("兆", 10**12), ("億", 10**8), ("万", 10**4)):
                if rest >= scale:
                    parts.append(f"{rest // scale}{unit}")
                    rest %= scale
            # a bare last figure is read back only as the four places after 万 (1万2345; see _ja_amount)
            if parts and (rest == 0 or (parts[-1].endswith("万") and rest >= 1000)):
                return "".join(parts) + (str(rest) if rest else "")
        return f"{yen:,.0f}" if yen == int(yen) else f"{yen:,}"
    for suffix, scale in (("tn", 1e12), ("bn", 1e9), ("m", 1e6)):
        if yen >= scale:
            v = Decimal(repr(yen)) / Decimal(repr(scale))
            if v == v.quantize(Decimal("0.001")):
                return _fmt_decimal(v) + suffix
    return f"{yen:,.0f}" if yen == int(yen) else f"{yen:,}"
