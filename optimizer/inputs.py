"""Files → domain objects, validated once.

Every problem becomes an `InputError` naming the file, the row and the column and saying what was expected.
Rows are counted from 1 for the first data row; the file line is given too (the header is line 1).
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ._lazy import pandas as pd

from .domain import (
    ASSET_KINDS,
    EXCLUSIONS,
    FUNDED_ASSET_KINDS,
    KINDS,
    LEGAL_FORMS,
    LAYER_BASES,
    PERILS,
    RATINGS,
    AssetShares,
    Eligibility,
    ExchangeProfile,
    Incident,
    Quote,
    Regime,
    RequirementRule,
    ReserveAsset,
)


class InputError(ValueError):
    """Bad input: one line that names the file, the row and the column, and what was expected."""

    def __init__(self, source: str, message: str, row: int | None = None, column: str | None = None,
                 row_id: str | None = None, line: int | None = None):
        """`line`: the row's first line in the file when it is not row + 1 (blank lines or a cell with a line
        break above it)."""
        self.source, self.message, self.row, self.column, self.row_id = source, message, row, column, row_id
        self.line = line
        where = [str(source)]
        if row is not None:
            where.append(f"row {row} (line {line or row + 1}{', ' + row_id if row_id else ''})")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")

    def on_line(self, line: int | None) -> "InputError":
        """The same error naming its row's real first line in the file (itself when there is nothing to change;
        a subclass keeps its own text)."""
        if line is None or self.row is None or type(self) is not InputError:
            return self
        return InputError(self.source, self.message, self.row, self.column, self.row_id, line)

    def __reduce__(self):
        """Pickled as its fields and text (a batch worker's error reaches the driver as the same error)."""
        return _rebuilt_error, (type(self), str(self), dict(self.__dict__))


def _rebuilt_error(cls: type, text: str, fields: dict) -> "InputError":
    error = cls.__new__(cls)
    ValueError.__init__(error, text)
    error.__dict__.update(fields)
    return error


# ---------------------------------------------------------------- bounds (docs/inputs.md, "Bounds")
# Beyond these no real file goes; past them an input means nothing (or breaks the LP), so it is refused.
MAX_JPY = 1e15              # any stock of yen (assets, capital, limits, floors, fees): ¥1,000tn, ~1.7× Japan's GDP;
                            # the largest Japanese exchange holds ~¥1e12 of customer crypto
MAX_VOLUME_JPY = 1e17       # annual trading volume, a flow: ~60× the largest exchange's worldwide annual volume
MIN_REQUIREMENT_JPY = 1.0   # R below one yen means the profile has nothing the rule measures (or 1e-320 cells)
MAX_RATE_ON_LINE = 10.0     # 1,000% of limit a year: the break-even search's ceiling; hot-wallet cover is 10–20%
MAX_PREMIUM_MULTIPLIER = 10.0
MAX_REINSTATEMENTS = 10
MAX_REINSTATEMENT_PREMIUM = 10.0  # ten annual premiums per reinstatement: pro rata is 1, market terms are 0 … 1.5
MAX_SECOND_EVENT_SHARE = 10.0     # a second loss of ten times R: beyond any regime (keeps the LP's numbers near 1)
MAX_DAYS_TO_PAY = 3650.0    # ten years from a loss to payment: money that arrives later is no reserve for that loss
MAX_PLAN_YEARS = 30         # a plan (and a policy's term) runs at most 30 years: beyond, no quote or forecast holds
MAX_CELL_CHARS = 4096       # the longest bundled cell (an incident's notes) is under 1,000 characters
MAX_TOML_BYTES = 65_536     # the bundled presets are about 3 KB
MAX_TOML_DEPTH = 3          # table → table → value (e.g. [requirement] perils = [...]); real presets use 3


# ---------------------------------------------------------------- cell parsers
# Each takes the raw cell (str, number, bool or missing) and returns the value or raises ValueError(expected…).

def _missing(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return isinstance(raw, str) and raw.strip() == ""


def _digits(n: int) -> int:
    """How many decimal digits |n| has (without str(n): Python refuses that beyond 4,300 digits)."""
    return max(1, math.floor(abs(n).bit_length() * math.log10(2)) + 1)


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {raw!r}")
    try:
        value = float(str(raw).strip().replace("_", "")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {raw!r}") from None
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        raise ValueError(f"expected a finite number, got an integer of {_digits(raw):,} digits") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def _non_negative(raw: Any) -> float:
    value = _number(raw)
    if value < 0:
        raise ValueError(f"expected a number ≥ 0, got {raw!r}")
    return value


def _positive(raw: Any) -> float:
    value = _number(raw)
    if value <= 0:
        raise ValueError(f"expected a number > 0, got {raw!r}")
    return value


def _bounded(parse: Callable[[Any], float], high: float, what: str) -> Callable[[Any], float]:
    """`parse`, then value ≤ high (what: the words for the bound in the message)."""

    def check(raw: Any) -> float:
        value = parse(raw)
        if value > high:
            raise ValueError(f"expected at most {high:g} ({what}), got {raw!r}")
        return value

    return check


_yen = _bounded(_non_negative, MAX_JPY, "¥1,000tn: no real amount is larger")
_yen_positive = _bounded(_positive, MAX_JPY, "¥1,000tn: no real amount is larger")
_volume = _bounded(_non_negative, MAX_VOLUME_JPY, "¥100,000tn a year: no real volume is larger")
_days = _bounded(_non_negative, MAX_DAYS_TO_PAY, "ten years: money that arrives later is no reserve")


def _signed_yen(raw: Any) -> float:
    value = _number(raw)
    if abs(value) > MAX_JPY:
        raise ValueError(f"expected an amount between -{MAX_JPY:g} and {MAX_JPY:g} yen, got {raw!r}")
    return value


def _fraction(raw: Any) -> float:
    value = _number(raw)
    if not 0 <= value <= 1:
        raise ValueError(f"expected a fraction between 0 and 1 (0.02 = 2%), got {raw!r}")
    return value


def _text(raw: Any) -> str:
    return str(raw).strip()


# Characters a terminal obeys instead of showing (ESC starts a colour or cursor sequence, CR rewrites the line,
# U+202E reverses what follows): C0 and C1 controls, DEL, the bidirectional marks and overrides. Ids must not
# hold them; other text keeps them, and every terminal view shows them escaped (report.printable).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _identifier(raw: Any) -> str:
    """An id (exchange_id, quote_id): text without control characters (it is typed and shown on a terminal)."""
    value = _text(raw)
    found = CONTROL_CHARACTERS.search(value)
    if found:
        raise ValueError(f"holds the control character U+{ord(found.group()):04X} at position {found.start() + 1}; "
                         "expected an id of printable characters")
    return value


def _choice(options: Iterable[str]) -> Callable[[Any], str]:
    options = tuple(options)

    def parse(raw: Any) -> str:
        value = str(raw).strip()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}; got {raw!r}")
        return value

    return parse


def _rating(raw: Any) -> str:
    value = str(raw).strip().upper()
    if value not in RATINGS:
        raise ValueError(f"expected a rating AAA … CCC (notches + or - allowed) or NR, got {raw!r}")
    return value


def _perils(raw: Any) -> frozenset[str]:
    value = str(raw).strip()
    if value.lower() == "all":
        return frozenset(PERILS)
    names = [p.strip() for p in value.split(";") if p.strip()]
    unknown = [p for p in names if p not in PERILS]
    if unknown or not names:
        raise ValueError(f"expected 'all' or perils separated by ';' from {', '.join(PERILS)}; got {raw!r}")
    return frozenset(names)


def _exclusions(raw: Any) -> frozenset[str]:
    if isinstance(raw, (set, frozenset, list, tuple)):  # a sheet built in memory (the app's quote table)
        raw = ";".join(str(p) for p in raw)
    names = [p.strip() for p in str(raw).split(";") if p.strip()]
    unknown = [p for p in names if p not in EXCLUSIONS]
    if unknown:
        raise ValueError(f"expected blank or exclusions separated by ';' from {', '.join(EXCLUSIONS)}; got {raw!r}")
    return frozenset(names)


def _term_years(raw: Any) -> int:
    value = _number(raw)
    if value != int(value) or not 1 <= value <= MAX_PLAN_YEARS:
        raise ValueError(f"expected a whole number of years from 1 to {MAX_PLAN_YEARS}, got {raw!r}")
    return int(value)


def _reinstatements(raw: Any) -> int:
    value = _number(raw)
    if value != int(value) or not 0 <= value <= MAX_REINSTATEMENTS:
        raise ValueError(f"expected a whole number from 0 to {MAX_REINSTATEMENTS}, got {raw!r}")
    return int(value)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(raw: Any) -> str:
    value = str(raw).strip()
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD (e.g. 2025-12-31), got {raw!r}") from None
    return value


def _ceiling(raw: Any) -> float:
    """max_limit_jpy: a positive yen amount, or inf for "no ceiling" (the same as a blank cell)."""
    if (isinstance(raw, float) and raw == math.inf) or (isinstance(raw, str) and raw.strip().lower() == "inf"):
        return math.inf
    return _yen_positive(raw)


_TRUE, _FALSE = {"true", "yes", "1", "y", "t"}, {"false", "no", "0", "n", "f"}


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in {"1.0"}:
        return True
    if value in {"0.0"}:
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


@dataclass(frozen=True)
class _Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True
    default: Any = None


PROFILE_COLUMNS: tuple[_Column, ...] = (
    _Column("exchange_id", _identifier),
    _Column("name", _text, False, ""),
    _Column("customer_assets_jpy", _yen),
    _Column("hot_wallet_share", _fraction),
    _Column("annual_trading_volume_jpy", _volume),
    _Column("cost_of_capital", _fraction),
    _Column("reserve_yield", _fraction, False, 0.0),
    _Column("liquid_capital_jpy", _yen, False, math.inf),
    _Column("premium_multiplier", _bounded(_non_negative, MAX_PREMIUM_MULTIPLIER, "a tenfold loading"), False, 1.0),
    _Column("net_assets_jpy", _signed_yen, False, None),   # negative: 債務超過 (liabilities exceed assets)
    _Column("statement_date", _date, False, ""),
    _Column("source", _text, False, ""),
)

QUOTE_COLUMNS: tuple[_Column, ...] = (
    _Column("quote_id", _identifier),
    _Column("kind", _choice(KINDS)),
    _Column("counterparty", _text),
    _Column("rating", _rating),
    _Column("attachment", _yen),          # fractions of R are checked against [0, 1) in parse_quote
    _Column("limit", _yen_positive),      # fractions of R: (0, 1]
    _Column("layer_basis", _choice(LAYER_BASES), False, "jpy"),
    _Column("rate_on_line", _bounded(_non_negative, MAX_RATE_ON_LINE, "1,000% of limit a year")),
    _Column("max_share", _fraction, False, 1.0),
    _Column("min_share", _fraction, False, 0.0),
    _Column("fixed_fee_jpy", _yen, False, 0.0),
    _Column("perils", _perils, False, frozenset(PERILS)),
    _Column("collateralized", _boolean, False, False),
    _Column("exchange_id", _identifier, False, None),
    _Column("max_limit_jpy", _ceiling, False, math.inf),
    _Column("licensed_in_japan", _boolean, False, True),
    _Column("fronting_fee_rate", _fraction, False, 0.0),
    _Column("exclusions", _exclusions, False, frozenset()),
    _Column("reinstatements", _reinstatements, False, 0),
    _Column("days_to_pay", _days, False, 0.0),
    _Column("term_years", _term_years, False, 1),
    # the legal form, which decides the licence (blank: as kind), and provenance (SOURCED / ASSUMPTION marks)
    _Column("legal_form", _choice(LEGAL_FORMS), False, ""),
    _Column("source", _text, False, ""),
    _Column("reinstatement_premium", _bounded(_non_negative, MAX_REINSTATEMENT_PREMIUM, "ten annual premiums"),
            False, 0.0),
)

_ID_COLUMN = {"profiles": "exchange_id", "quotes": "quote_id"}


def _parse_row(row: Mapping[str, Any], columns: tuple[_Column, ...], source: str, row_no: int,
               row_id: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for col in columns:
        raw = row.get(col.name)
        if type(raw) is float and raw == raw:  # a number read from Parquet or a frame (most cells): not missing
            try:
                values[col.name] = col.parse(raw)
            except ValueError as exc:
                raise InputError(source, str(exc), row_no, col.name, row_id) from None
            continue
        if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
            raise InputError(source, f"the cell has {len(raw):,} characters; expected at most {MAX_CELL_CHARS:,}",
                             row_no, col.name, row_id)
        if raw is None or _missing(raw):
            if col.required:
                raise InputError(source, "a value is required here", row_no, col.name, row_id)
            values[col.name] = col.default
            continue
        try:
            values[col.name] = col.parse(raw)
        except ValueError as exc:
            raise InputError(source, str(exc), row_no, col.name, row_id) from None
    return values


def _check_columns(header: Iterable[str], columns: tuple[_Column, ...], source: str) -> None:
    header = [str(h) for h in header]
    known = {c.name for c in columns}
    for name in header:
        if name not in known:
            raise InputError(source, f"unknown column (expected some of: {', '.join(c.name for c in columns)})",
                             column=name)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(source, "the column appears twice", column=name)
        seen.add(name)
    for col in columns:
        if col.required and col.name not in header:
            raise InputError(source, "required column is missing", column=col.name)


def parse_profile(row: Mapping[str, Any], source: str = "profiles", row_no: int = 1) -> ExchangeProfile:
    """One profile row (cells as text or numbers) → ExchangeProfile; raises InputError."""
    row_id = None if _missing(row.get("exchange_id")) else str(row.get("exchange_id")).strip()
    v = _parse_row(row, PROFILE_COLUMNS, source, row_no, row_id)
    if v["reserve_yield"] > v["cost_of_capital"]:
        raise InputError(source, f"reserve_yield {v['reserve_yield']} exceeds cost_of_capital "
                         f"{v['cost_of_capital']}: holding cash would earn money; expected reserve_yield ≤ "
                         "cost_of_capital", row_no, "reserve_yield", row_id)
    return ExchangeProfile(**v)


def parse_quote(row: Mapping[str, Any], source: str = "quotes", row_no: int = 1) -> Quote:
    """One quote row → Quote; raises InputError."""
    row_id = None if _missing(row.get("quote_id")) else str(row.get("quote_id")).strip()
    v = _parse_row(row, QUOTE_COLUMNS, source, row_no, row_id)
    if v["min_share"] > v["max_share"]:
        raise InputError(source, f"min_share {v['min_share']} is above max_share {v['max_share']}; expected "
                         "min_share ≤ max_share", row_no, "min_share", row_id)
    if v["layer_basis"] == "requirement":
        # fractions of R: a layer starting at or above R never pays, a limit above R pays no more than R does
        if v["attachment"] >= 1:
            raise InputError(source, f"attachment {v['attachment']:g} is a fraction of R here (layer_basis "
                             "requirement); expected 0 ≤ attachment < 1", row_no, "attachment", row_id)
        if v["limit"] > 1:
            raise InputError(source, f"limit {v['limit']:g} is a fraction of R here (layer_basis requirement); "
                             "expected 0 < limit ≤ 1", row_no, "limit", row_id)
    elif math.isfinite(v["max_limit_jpy"]):
        raise InputError(source, "max_limit_jpy caps requirement-basis layers only; a jpy-basis layer's limit is "
                         "already in yen: expected a blank cell", row_no, "max_limit_jpy", row_id)
    if v["fronting_fee_rate"] > 0 and (v["legal_form"] or v["kind"]) != "insurance":
        raise InputError(source, f"a fronting fee is charged for insurance only (a licensed insurer fronts an "
                         f"unlicensed one); this quote's legal form is {v['legal_form'] or v['kind']}: expected "
                         "fronting_fee_rate 0 or legal_form insurance", row_no, "fronting_fee_rate", row_id)
    if v["fronting_fee_rate"] > 0 and v["licensed_in_japan"]:
        raise InputError(source, "a fronting fee is charged only for an unlicensed capacity provider; expected "
                         "fronting_fee_rate 0 or licensed_in_japan false", row_no, "fronting_fee_rate", row_id)
    v["exchange_id"] = v["exchange_id"] or None
    return Quote(**v)


def _rows_from_frame(frame: "pd.DataFrame | _Records") -> Iterator[tuple[int, dict[str, Any]]]:
    for i, record in enumerate(frame.to_dict("records"), start=1):
        yield i, record


class _Records:
    """A CSV file's cells as the loaders read them — the header, the rows of strings, each row's first line —
    without pandas (what `pd.DataFrame(rows, columns=header, dtype=object)` gives `_parse_frame`)."""

    def __init__(self, header: list[str], rows: list[list[str]], lines: list[int]):
        self.columns, self.rows, self.attrs = header, rows, {"lines": lines}

    @property
    def empty(self) -> bool:
        return not self.rows or not self.columns

    def to_dict(self, orient: str) -> list[dict[str, str]]:
        assert orient == "records"
        return [dict(zip(self.columns, r)) for r in self.rows]

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=self.columns, dtype=object)
        frame.attrs["lines"] = self.attrs["lines"]
        return frame


def _parse_frame(frame: pd.DataFrame, columns: tuple[_Column, ...], parse: Callable, source: str,
                 id_column: str, allow_empty: bool) -> list:
    _check_columns(frame.columns, columns, source)
    if frame.empty and not allow_empty:
        raise InputError(source, "the file has a header but no rows; expected at least one row")
    items, seen = [], {}
    lines = frame.attrs.get("lines")  # each row's first line in the file (csv_text_to_frame)
    for row_no, record in _rows_from_frame(frame):
        line = lines[row_no - 1] if lines else None
        try:
            item = parse(record, source, row_no)
        except InputError as exc:
            if exc.row != row_no:
                raise
            raise exc.on_line(line) from None
        key = getattr(item, id_column)
        if key in seen:
            raise InputError(source, f"duplicate {id_column} {key!r} (first seen in row {seen[key]}); "
                             "expected unique ids", row_no, id_column, key, line)
        seen[key] = row_no
        items.append(item)
    return items


def read_csv_text(path: str | Path) -> pd.DataFrame:
    """A CSV file as a frame of strings (blank cells are ''); InputError for a missing or empty file."""
    return _read_csv_records(path).frame()


def _read_csv_records(path: str | Path) -> _Records:
    """`read_csv_text` without pandas (the loaders' own reading)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError(source, "file not found" if not path.exists() else "not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return _csv_records(text, source)


def csv_text_to_frame(text: str, source: str) -> pd.DataFrame:
    """CSV text → frame of strings; checks the shape of every row."""
    return _csv_records(text, source).frame()


def _csv_records(text: str, source: str) -> _Records:
    if not text.strip():
        raise InputError(source, "the file is empty; expected a header row and data rows")
    # No cell is longer than the text it is in: let every cell through the csv module's own limit (128 KB by
    # default, an error that names neither row nor column) so that _parse_frame can name the cell that is longer
    # than MAX_CELL_CHARS. The limit is process-wide and only ever raised here (batch.py raises it the same way).
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text))
    rows, starts, end = [], [], 0
    try:
        for r in reader:  # blank lines are skipped, so each row keeps the line it starts on, for messages
            start, end = end + 1, reader.line_num
            if any(cell.strip() for cell in r):
                rows.append(r)
                starts.append(start)
    except csv.Error as exc:
        raise InputError(source, f"not valid CSV ({exc})") from None
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=1):
        if len(r) != len(header):
            raise InputError(source, f"has {len(r)} cells but the header has {len(header)}; expected one cell per "
                             "column", row=i, line=starts[i])
    return _Records(header, rows[1:], starts[1:])


def profiles_from_frame(frame: pd.DataFrame, source: str = "profiles") -> list[ExchangeProfile]:
    return _parse_frame(frame, PROFILE_COLUMNS, parse_profile, source, "exchange_id", allow_empty=False)


def quotes_from_frame(frame: pd.DataFrame, source: str = "quotes") -> list[Quote]:
    return _parse_frame(frame, QUOTE_COLUMNS, parse_quote, source, "quote_id", allow_empty=True)


def load_profiles(path: str | Path) -> list[ExchangeProfile]:
    """profiles.csv → profiles in file order."""
    return profiles_from_frame(_read_csv_records(path), str(path))


def load_quotes(path: str | Path) -> list[Quote]:
    """quotes.csv → quotes in file order (a header-only file means no quotes: all cash)."""
    return quotes_from_frame(_read_csv_records(path), str(path))


def check_profile_columns(header: Iterable[str], source: str) -> None:
    """Column check alone, for readers that stream rows (batch)."""
    _check_columns(header, PROFILE_COLUMNS, source)


def select_profile(profiles: list[ExchangeProfile], exchange_id: str | None, source: str) -> ExchangeProfile:
    """The profile with that id, or the first one when no id is given."""
    if exchange_id is None:
        return profiles[0]
    for p in profiles:
        if p.exchange_id == exchange_id:
            return p
    ids = ", ".join(p.exchange_id for p in profiles[:10]) + (" …" if len(profiles) > 10 else "")
    raise InputError(source, f"no exchange with exchange_id {exchange_id!r}; the file has: {ids}",
                     column="exchange_id")


# ---------------------------------------------------------------- regime TOML

_REGIME_TOP = {"name", "description", "requirement", "eligibility", "rating_credit"}


def _toml_number(section: str, key: str, raw: Any, source: str, *, low: float = 0.0, high: float | None = None,
                 allow_inf: bool = False) -> float:
    where = f"{section}.{key}" if section else key
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise InputError(source, f"expected a number, got {raw!r}", column=where)
    try:
        value = float(raw)
    except OverflowError:  # an integer of hundreds of digits: no float holds it
        raise InputError(source, f"expected a finite number, got an integer of {_digits(raw):,} digits",
                         column=where) from None
    if math.isnan(value) or (math.isinf(value) and not (allow_inf and value > 0)):
        raise InputError(source, f"expected a finite number, got {raw!r}", column=where)
    if value < low or (high is not None and value > high and not (allow_inf and math.isinf(value))):
        expected = f"between {low:g} and {high:g}" if high is not None else f"≥ {low:g}"
        raise InputError(source, f"expected a number {expected}, got {raw!r}", column=where)
    return value


def _toml_table(data: dict, key: str, source: str) -> dict:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise InputError(source, f"expected a table [{key}]", column=key)
    return table


def toml_depth(value: Any) -> int:
    """Nesting depth of a parsed TOML value: a scalar is 0, a table or array one more than its deepest item.
    Iterative, so a value nested a thousand levels deep is measured, not a RecursionError.

    >>> toml_depth({"a": [1, {"b": 2}]}), toml_depth(3)
    (3, 0)
    """
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _toml_flag(section: str, key: str, raw: Any, source: str) -> bool:
    if not isinstance(raw, bool):
        raise InputError(source, f"expected true or false, got {raw!r}", column=f"{section}.{key}")
    return raw


_REQUIREMENT_RATES = ("volume_rate", "hot_wallet_rate", "cold_wallet_rate")
_REQUIREMENT_KEYS = (*_REQUIREMENT_RATES, "floor_jpy", "cap_jpy", "perils", "max_share_of_customer_assets",
                     "second_event_share")
_ELIGIBILITY_FRACTIONS = ("min_cash_share", "max_insurance_share", "max_derivative_share", "max_counterparty_share",
                          "derivative_credit_factor", "state_backed_exclusion_factor")
_ELIGIBILITY_KEYS = (*_ELIGIBILITY_FRACTIONS, "min_rating", "require_licensed", "max_days_to_pay", "assets")


def _asset_shares(raw: Any, source: str) -> AssetShares:
    """`[eligibility.assets]` → AssetShares: only `max_share.<kind>` keys, each a fraction of R; a kind not given
    keeps its default (1 for the held kinds, 0 for guarantees and lines: a regime must allow those explicitly)."""
    if raw is None:
        return AssetShares()
    where = "eligibility.assets"
    if not isinstance(raw, dict):
        raise InputError(source, "expected a table [eligibility.assets] of max_share.<kind> = a fraction of R",
                         column=where)
    for key in raw:
        if key != "max_share":
            raise InputError(source, "unknown key in [eligibility.assets] (expected max_share.<kind>, e.g. "
                             "max_share.bank_guarantee = 0.5)", column=f"{where}.{key}")
    shares = raw.get("max_share", {})
    if not isinstance(shares, dict):
        raise InputError(source, f"expected max_share.<kind> = a fraction of R, for kinds {', '.join(ASSET_KINDS)}",
                         column=f"{where}.max_share")
    values = {}
    for kind, value in shares.items():
        if kind not in ASSET_KINDS:
            raise InputError(source, f"unknown kind of reserve asset {kind!r}; expected some of "
                             f"{', '.join(ASSET_KINDS)}", column=f"{where}.max_share.{kind}")
        values[kind] = _toml_number(where, f"max_share.{kind}", value, source, high=1.0)
    return AssetShares(**values)


def regime_from_dict(data: Mapping[str, Any], source: str = "regime") -> Regime:
    """A parsed regime TOML document → Regime. Unknown keys are errors (typos must not pass silently), and so is
    a regime that asks for nothing: no [requirement] table, no peril, no positive rate or floor, a cap below the
    floor (docs/inputs.md, "Regime TOML")."""
    data = dict(data)
    for key in data:
        if key not in _REGIME_TOP:
            raise InputError(source, f"unknown key (expected some of: {', '.join(sorted(_REGIME_TOP))})", column=key)
    shares = None  # [eligibility.assets] max_share.<kind> is one level deeper than any other key: checked on its own
    if isinstance(data.get("eligibility"), dict) and "assets" in data["eligibility"]:
        data["eligibility"] = dict(data["eligibility"])
        shares = data["eligibility"].pop("assets")
    if toml_depth(data) > MAX_TOML_DEPTH:
        raise InputError(source, f"nested {toml_depth(data)} levels deep; expected at most {MAX_TOML_DEPTH} "
                         "(a table of keys whose values are numbers, text or a list of text)")

    req = _toml_table(data, "requirement", source)
    for key in req:
        if key not in _REQUIREMENT_KEYS:
            raise InputError(source, "unknown key in [requirement] (expected some of: "
                             f"{', '.join(sorted(_REQUIREMENT_KEYS))})", column=f"requirement.{key}")
    perils = req.get("perils", list(PERILS))
    if not isinstance(perils, list) or not all(isinstance(p, str) for p in perils):
        raise InputError(source, "expected a list of peril names", column="requirement.perils")
    for p in perils:
        if p not in PERILS:
            raise InputError(source, f"unknown peril {p!r}; expected some of {', '.join(PERILS)}",
                             column="requirement.perils")
    rates = {k: _toml_number("requirement", k, req.get(k, 0.0), source, high=1.0) for k in _REQUIREMENT_RATES}
    share_cap = _toml_number("requirement", "max_share_of_customer_assets",
                             req.get("max_share_of_customer_assets", math.inf), source, allow_inf=True)
    if math.isfinite(share_cap) and not 0 < share_cap <= 1:
        raise InputError(source, f"expected a fraction of customer assets in (0, 1] (omit for no such cap), got "
                         f"{share_cap!r}", column="requirement.max_share_of_customer_assets")
    rule = RequirementRule(
        **rates,
        floor_jpy=_toml_number("requirement", "floor_jpy", req.get("floor_jpy", 0.0), source, high=MAX_JPY),
        cap_jpy=_toml_number("requirement", "cap_jpy", req.get("cap_jpy", math.inf), source, high=MAX_JPY,
                             allow_inf=True),
        perils=tuple(dict.fromkeys(perils)),
        max_share_of_customer_assets=share_cap,
        second_event_share=_toml_number("requirement", "second_event_share", req.get("second_event_share", 0.0),
                                        source, high=MAX_SECOND_EVENT_SHARE),
    )

    elig = _toml_table(data, "eligibility", source)
    defaults = Eligibility()
    for key in elig:
        if key not in _ELIGIBILITY_KEYS:
            raise InputError(source, "unknown key in [eligibility] (expected some of: "
                             f"{', '.join(sorted(_ELIGIBILITY_KEYS))})", column=f"eligibility.{key}")
    values = {k: _toml_number("eligibility", k, elig.get(k, getattr(defaults, k)), source, high=1.0)
              for k in _ELIGIBILITY_FRACTIONS}
    min_rating = elig.get("min_rating", defaults.min_rating)
    if not isinstance(min_rating, str) or min_rating.strip().upper() not in RATINGS:
        raise InputError(source, f"expected a rating AAA … CCC or NR, got {min_rating!r}",
                         column="eligibility.min_rating")
    require_licensed = _toml_flag("eligibility", "require_licensed",
                                  elig.get("require_licensed", defaults.require_licensed), source)
    max_days = _toml_number("eligibility", "max_days_to_pay", elig.get("max_days_to_pay", math.inf), source,
                            high=MAX_DAYS_TO_PAY, allow_inf=True)
    eligibility = Eligibility(min_rating=min_rating.strip().upper(), require_licensed=require_licensed,
                              max_days_to_pay=max_days, asset_shares=_asset_shares(shares, source), **values)

    credits = _toml_table(data, "rating_credit", source)
    table: dict[str, float] = {}
    for key, raw in credits.items():
        rating = str(key).strip().upper()
        if rating not in RATINGS:
            raise InputError(source, f"unknown rating {key!r}; expected AAA … CCC (notches + or -) or NR",
                             column=f"rating_credit.{key}")
        if rating in table:  # `aa` and `AA` both given: whichever came last would win in silence
            raise InputError(source, f"rating {rating} is given twice (ratings ignore case); expected one value",
                             column=f"rating_credit.{key}")
        table[rating] = _toml_number("rating_credit", str(key), raw, source, high=1.0)

    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise InputError(source, "expected text", column=key)
        if len(data.get(key, "")) > MAX_CELL_CHARS:
            raise InputError(source, f"expected at most {MAX_CELL_CHARS:,} characters", column=key)

    # A regime that asks for nothing is refused: it would report "optimal, cost ¥0" for any exchange.
    if "requirement" not in data:
        raise InputError(source, "no [requirement] table: the regime would ask for nothing (R = 0); expected a "
                         "[requirement] table with a positive rate or floor_jpy", column="requirement")
    if not rule.perils:
        raise InputError(source, "an empty peril list would check no loss at all; expected at least one of "
                         f"{', '.join(PERILS)}", column="requirement.perils")
    if rule.floor_jpy <= 0 and not any(r > 0 for r in rates.values()):
        raise InputError(source, "no positive rate and no positive floor: R would be 0 for every exchange; "
                         f"expected floor_jpy > 0 or one of {', '.join(_REQUIREMENT_RATES)} > 0",
                         column="requirement")
    if rule.cap_jpy <= 0:
        raise InputError(source, f"cap_jpy {rule.cap_jpy:g} would make R = 0; expected cap_jpy > 0 (omit it for no "
                         "cap)", column="requirement.cap_jpy")
    if rule.cap_jpy < rule.floor_jpy:
        raise InputError(source, f"cap_jpy {rule.cap_jpy:g} is below floor_jpy {rule.floor_jpy:g}: the floor would "
                         "never apply; expected cap_jpy ≥ floor_jpy", column="requirement.cap_jpy")

    name = data.get("name") or Path(str(source)).stem
    return Regime(name=name, description=data.get("description", ""), requirement=rule,
                  eligibility=eligibility, rating_credit=dict(table))


def regime_from_text(text: str, source: str = "regime") -> Regime:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOML_BYTES:
        raise InputError(source, f"the file is larger than {MAX_TOML_BYTES // 1024} KB; a regime is a few KB "
                         "(see data/regimes/)")
    return regime_from_dict(parse_toml(text, source), source)


def parse_toml(text: str, source: str, nesting: str = "") -> dict:
    """A TOML file's text as a dict, or InputError naming `source`: not TOML, nested beyond the parser's recursion
    (`nesting` says what the file holds), or an integer of more than 4,300 digits (Python refuses to read it) —
    the one reader of regimes, loss models and plans."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML ({exc})") from None
    except RecursionError:
        raise InputError(source, f"nested too deeply; expected at most {MAX_TOML_DEPTH} levels{nesting}") from None
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        raise InputError(source, "a number of more than 4,300 digits, far beyond any amount or rate; expected "
                         "numbers such as 0.002 or 2e9") from None


def read_text_file(path: str | Path, expected: str | None = None, encoding: str = "utf-8") -> str:
    """A text input file's contents; InputError when it is missing, not UTF-8, or (with `expected`) empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if expected is not None and not text.strip():
        raise InputError(str(path), f"the file is empty; expected {expected}")
    return text


def load_regime(path: str | Path) -> Regime:
    """A regime TOML file → Regime."""
    return regime_from_text(read_text_file(path, "a regime (see data/regimes/)"), str(path))


# ---------------------------------------------------------------- assets.csv (reserve assets beyond cash)

def _haircut(raw: Any) -> float:
    value = _number(raw)
    if not 0 <= value < 1:
        raise ValueError(f"expected a haircut from 0 up to but not including 1 (0.02 = 2%; a haircut of 1 or more "
                         f"would leave no credit at all), got {raw!r}")
    return value


def _amount_or_inf(raw: Any) -> float:
    """max_amount_jpy: yen ≥ 0, or inf for "no limit" (the same as a blank cell)."""
    if (isinstance(raw, float) and raw == math.inf) or (isinstance(raw, str) and raw.strip().lower() == "inf"):
        return math.inf
    return _yen(raw)


ASSET_COLUMNS: tuple[_Column, ...] = (
    _Column("asset_id", _text),
    _Column("kind", _choice(ASSET_KINDS)),
    _Column("counterparty", _text, False, ""),      # required except for a JGB (checked in parse_asset)
    _Column("rating", _rating, False, ""),          # likewise
    _Column("haircut", _haircut, False, 0.0),
    _Column("yield", _fraction, False, 0.0),        # funded kinds only
    _Column("fee_rate", _fraction, False, 0.0),     # unfunded kinds only
    _Column("max_amount_jpy", _amount_or_inf, False, math.inf),
    _Column("days_to_pay", _days, False, 0.0),
    _Column("exchange_id", _text, False, None),
    _Column("source", _text, False, ""),
)


def parse_asset(row: Mapping[str, Any], source: str = "assets", row_no: int = 1) -> ReserveAsset:
    """One assets.csv row → ReserveAsset; raises InputError. A held kind (deposit, JGB) earns a yield and pays no
    fee; a promised kind (guarantee, line) pays a fee and earns nothing; a JGB is owed by the state, so it has
    neither counterparty nor rating, and every other kind needs both."""
    row_id = None if _missing(row.get("asset_id")) else str(row.get("asset_id")).strip()
    v = _parse_row(row, ASSET_COLUMNS, source, row_no, row_id)
    kind = v["kind"]
    if kind == "jgb":
        if v["counterparty"]:
            raise InputError(source, "a JGB is owed by the state, which counts toward no counterparty's cap; expected "
                             "a blank cell", row_no, "counterparty", row_id)
        if v["rating"]:
            raise InputError(source, "a JGB's credit factor is 1 whatever a rating says (the issuer is the state); "
                             "expected a blank cell", row_no, "rating", row_id)
    else:
        for column, what in (("counterparty", "who holds or promises the money (the bank or the parent company)"),
                             ("rating", "that counterparty's rating (AAA … CCC or NR), which sets its credit")):
            if not v[column]:
                raise InputError(source, f"a {kind} needs {what}; only a jgb may leave it blank", row_no, column,
                                 row_id)
    if kind in FUNDED_ASSET_KINDS and v["fee_rate"] > 0:
        raise InputError(source, f"a {kind} is held, not promised: it earns a yield and is charged no fee; expected "
                         "fee_rate 0 (what it earns goes in yield)", row_no, "fee_rate", row_id)
    if kind not in FUNDED_ASSET_KINDS and v["yield"] > 0:
        raise InputError(source, f"a {kind} is promised, not held: no money is invested, so it earns no yield; "
                         "expected yield 0 (its price goes in fee_rate)", row_no, "yield", row_id)
    v["yield_rate"] = v.pop("yield")
    v["exchange_id"] = v["exchange_id"] or None
    return ReserveAsset(**v)


def assets_from_frame(frame: pd.DataFrame, source: str = "assets") -> list[ReserveAsset]:
    return _parse_frame(frame, ASSET_COLUMNS, parse_asset, source, "asset_id", allow_empty=True)


def load_assets(path: str | Path) -> list[ReserveAsset]:
    """assets.csv → reserve assets in file order (a header-only file means none: cash and cover alone)."""
    return assets_from_frame(_read_csv_records(path), str(path))


def check_asset_yields(profile: ExchangeProfile, assets: Iterable[ReserveAsset], source: str = "assets") -> None:
    """Raises InputError for a held asset offered to `profile` that yields more than its cost of capital: each yen
    would earn money, and the cheapest mix would hold as much of it as liquid capital allows, reserve or not (the
    same rule as reserve_yield ≤ cost_of_capital for plain cash)."""
    for row_no, a in enumerate(assets, start=1):
        if a.funded and a.offered_to(profile.exchange_id) and a.yield_rate > profile.cost_of_capital:
            raise InputError(source, f"yield {a.yield_rate:g} exceeds exchange {profile.exchange_id!r}'s "
                             f"cost_of_capital {profile.cost_of_capital:g}: holding it would earn money; expected "
                             "yield ≤ the cost of capital of every exchange it is offered to", row_no, "yield",
                             a.asset_id)


# ---------------------------------------------------------------- incidents.csv (stress test)

def _attribution(raw: Any) -> str:
    """Whether an incident was attributed to a state actor: `true`, `false` or `unknown`."""
    value = str(raw).strip().lower()
    if value not in ("true", "false", "unknown"):
        raise ValueError(f"expected true, false or unknown, got {raw!r}")
    return value


INCIDENT_COLUMNS: tuple[_Column, ...] = (
    _Column("incident_id", _text),
    _Column("date", _date),
    _Column("exchange", _text),
    _Column("peril", _choice(PERILS)),
    _Column("loss_jpy", _non_negative),
    _Column("loss_share_of_assets", _fraction),
    _Column("loss_usd", _non_negative, False, None),
    _Column("wallet", _text, False, ""),
    _Column("vector", _text, False, ""),
    _Column("country", _text, False, ""),
    _Column("asset", _text, False, ""),
    _Column("native_amount", _text, False, ""),
    _Column("loss_share_basis", _text, False, ""),
    _Column("source", _text, False, ""),
    _Column("notes", _text, False, ""),
    _Column("customer_loss_jpy", _yen, False, None),
    _Column("repaid_jpy", _yen, False, None),
    _Column("state_backed", _attribution, False, "unknown"),
)


def parse_incident(row: Mapping[str, Any], source: str = "incidents", row_no: int = 1) -> Incident:
    row_id = None if _missing(row.get("incident_id")) else str(row.get("incident_id")).strip()
    return Incident(**_parse_row(row, INCIDENT_COLUMNS, source, row_no, row_id))


def incidents_from_frame(frame: pd.DataFrame, source: str = "incidents") -> list[Incident]:
    return _parse_frame(frame, INCIDENT_COLUMNS, parse_incident, source, "incident_id", allow_empty=False)


def load_incidents(path: str | Path) -> list[Incident]:
    """incidents.csv → historical incidents in file order."""
    return incidents_from_frame(_read_csv_records(path), str(path))


# ---------------------------------------------------------------- capacity.csv (the market)

CAPACITY_COLUMNS: tuple[_Column, ...] = (
    _Column("counterparty", _text),
    _Column("capacity_jpy", _yen),
    _Column("source", _text, False, ""),
)


@dataclass(frozen=True)
class _CapacityRow:
    counterparty: str
    capacity_jpy: float


def _parse_capacity(row: Mapping[str, Any], source: str = "capacity", row_no: int = 1) -> "_CapacityRow":
    row_id = None if _missing(row.get("counterparty")) else str(row.get("counterparty")).strip()
    v = _parse_row(row, CAPACITY_COLUMNS, source, row_no, row_id)
    return _CapacityRow(v["counterparty"], v["capacity_jpy"])


def load_capacity(path: str | Path) -> dict[str, float]:
    """capacity.csv → {counterparty: the most cover (Σ share × yen limit) it writes across all exchanges}."""
    rows = _parse_frame(_read_csv_records(path), CAPACITY_COLUMNS, _parse_capacity, str(path), "counterparty",
                        allow_empty=False)
    return {r.counterparty: r.capacity_jpy for r in rows}
