"""Languages and money units for people: gettext catalogues (optimizer/locale/<lang>/LC_MESSAGES/messages.po).

The `.po` files are the source; they are compiled in memory by Babel when first used (no stale `.mo` to keep in
step). English is the msgid itself. To add strings, extract and merge with Babel:
    pybabel extract -F optimizer/locale/babel.cfg -k N_ -k t -k EntryError -k Implausible -k bad:2 \
        -o optimizer/locale/messages.pot app.py app_pages optimizer
    pybabel update -i optimizer/locale/messages.pot -d optimizer/locale
then translate the new entries in optimizer/locale/ja/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import functools
import gettext
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "English", "ja": "日本語"}
DOMAIN = "messages"


@functools.lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang` ("en": none, the msgids are English)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == "en" or not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(lang: str) -> Callable[[str], str]:
    """`_` for one language: _("Annual cost") → "年間コスト" in Japanese."""
    return translations(lang).gettext


def N_(message: str) -> str:
    """Marks a string for extraction without translating it here (translated where it is shown)."""
    return message


# ------------------------------------------------------------------ money

def jp_grouped(yen: float) -> str:
    """Yen in Japanese 万-grouping, to the nearest 万 above ¥1m: 101,160,000 → "1億116万円"."""
    if yen is None or not math.isfinite(yen):
        return "—"
    sign, n = ("-" if yen < 0 else ""), abs(yen)
    if n < 1e6:
        return f"{sign}{n:,.0f}円"
    n = int(round(n / 1e4)) * 10**4
    parts = []
    for unit, scale in (("兆", 10**12), ("億", 10**8), ("万", 10**4)):
        if n >= scale:
            parts.append(f"{n // scale:,}{unit}")
            n %= scale
    return sign + "".join(parts) + "円"


@dataclass(frozen=True)
class Unit:
    """How money is shown: `key` is one of UNITS; `usd_rate` yen per US dollar; `lang` picks the spelling.

    >>> Unit("¥m")(101_160_000), Unit("億円", lang="ja")(2e9), Unit("¥")(1234.4)
    ('¥101.2m', '20.00億円', '¥1,234')
    """

    key: str = "¥m"
    usd_rate: float = 150.0
    lang: str = "en"

    @property
    def divisor(self) -> float:
        return {"¥": 1.0, "¥m": 1e6, "¥bn": 1e9, "百万円": 1e6, "億円": 1e8, "US$m": 1e6 * self.usd_rate,
                "auto": 1.0}[self.key]

    @property
    def label(self) -> str:
        """The unit as an axis or column title says it."""
        if self.key == "¥":
            return "円" if self.lang == "ja" else "¥"
        return "¥" if self.key == "auto" else self.key

    def __call__(self, yen: float | None) -> str:
        if yen is None or (isinstance(yen, float) and not math.isfinite(yen)):
            return "—"
        if self.key == "auto":
            return fit(yen, self.lang)
        v = yen / self.divisor
        sign = "-" if v < 0 else ""
        v = abs(v)
        if self.key == "¥":
            return f"{sign}{v:,.0f}円" if self.lang == "ja" else f"{sign}¥{v:,.0f}"
        if self.key in ("百万円", "億円"):
            return f"{sign}{v:,.{1 if self.key == '百万円' else 2}f}{self.key}"
        if self.key == "US$m":
            return f"{sign}US${v:,.2f}m"
        return f"{sign}¥{v:,.{1 if self.key == '¥m' else 2}f}{self.key[1:]}"

    def number(self, yen: float | None) -> float | None:
        """The amount as a number in this unit (for tables that sort numerically)."""
        if yen is None or (isinstance(yen, float) and not math.isfinite(yen)):
            return None
        return yen / self.divisor


UNITS: tuple[str, ...] = ("auto", "¥", "¥m", "¥bn", "百万円", "億円", "US$m")


def fit(yen: float, lang: str = "en") -> str:
    """Yen in the unit that reads best, three significant figures: ¥62.5m, ¥2.0bn, ¥101m; 1億116万円 in Japanese."""
    if lang == "ja":
        return jp_grouped(yen)
    sign, n = ("-" if yen < 0 else ""), abs(yen)
    for suffix, scale in (("tn", 1e12), ("bn", 1e9), ("m", 1e6)):
        if n >= scale:
            v = n / scale
            digits = 0 if v >= 100 else 1 if v >= 1 else 2
            return f"{sign}¥{v:,.{digits}f}{suffix}"
    return f"{sign}¥{n:,.0f}"


# ------------------------------------------------------------------ input errors for people

# What optimizer.inputs says after "file, row, column:", as patterns with the words that stand for them (translated
# by the catalogue; a detail no pattern knows stays as written, after a translated frame).
_DETAILS: tuple[tuple[str, str], ...] = (
    (r"expected a number, got (?P<got>.+)", N_("expected a number, got {got}")),
    (r"expected a finite number, got (?P<got>.+)", N_("expected a finite number, got {got}")),
    (r"expected a number ≥ 0, got (?P<got>.+)", N_("expected a number of 0 or more, got {got}")),
    (r"expected a number > 0, got (?P<got>.+)", N_("expected a number above 0, got {got}")),
    (r"expected a fraction between 0 and 1 \(0\.02 = 2%\), got (?P<got>.+)",
     N_("expected a fraction between 0 and 1 (0.02 = 2%), got {got}")),
    (r"expected true or false, got (?P<got>.+)", N_("expected true or false, got {got}")),
    (r"expected a rating AAA … CCC \(notches \+ or - allowed\) or NR, got (?P<got>.+)",
     N_("expected a rating AAA … CCC (notches + or - allowed) or NR, got {got}")),
    (r"a value is required here", N_("a value is required here")),
    (r"required column is missing", N_("required column is missing")),
    (r"the column appears twice", N_("the column appears twice")),
    (r"unknown column \(expected some of: (?P<names>.+)\)", N_("unknown column (expected some of: {names})")),
    (r"the file has a header but no rows; expected at least one row",
     N_("the file has a header but no rows; expected at least one row")),
    (r"the file is empty; expected a header row and data rows",
     N_("the file is empty; expected a header row and data rows")),
    (r"not UTF-8 text(?P<rest>.*)", N_("not UTF-8 text{rest}")),
    (r"not valid CSV(?P<rest>.*)", N_("not valid CSV{rest}")),
    (r"not valid TOML(?P<rest>.*)", N_("not valid TOML{rest}")),
    (r"not valid JSON(?P<rest>.*)", N_("not valid JSON{rest}")),
    (r"duplicate (?P<what>\w+) (?P<key>.+) \(first seen in row (?P<first>\d+)\)",
     N_("duplicate {what} {key} (first seen in row {first})")),
)
_FRAME = re.compile(r"^(?P<source>.+?)(?:, row (?P<row>\d+) \(line (?P<line>\d+)(?:, (?P<row_id>[^)]*))?\))?"
                    r"(?:, column '(?P<column>[^']*)')?: (?P<message>.*)$", re.S)


def input_error_words(error: Exception | str, t: Callable[[str], str] = N_, *, column_only: bool = False) -> str:
    """An InputError (or its text, as in a batch error row) in the words of translator `t`: the frame — file, row,
    column — translated, the detail translated where it is a known one, else kept as written. `column_only`: the
    column and the detail only (where a table shows the file and the row beside it).

    >>> print(input_error_words("q.csv, row 1 (line 2, X1), column 'limit': expected a number, got 'abc'"))
    file q.csv, row 1 (line 2, X1), column 'limit': expected a number, got 'abc'
    >>> print(input_error_words("q.csv, row 1 (line 2), column 'limit': a value is required here", translator("ja")))
    ファイル q.csv、1行目（ファイルの2行目）、列「limit」：値が必要です
    """
    if hasattr(error, "source") and hasattr(error, "message"):
        parts = {"source": str(error.source), "row": error.row, "line": None if error.row is None else error.row + 1,
                 "row_id": getattr(error, "row_id", None), "column": error.column, "message": error.message}
    else:
        m = _FRAME.match(str(error))
        if m is None or not (m["row"] or m["column"] or re.search(r"\.\w+\b", m["source"])):
            return t(str(error))  # not a file's error (e.g. "could not be solved: …")
        parts = m.groupdict()
    message = str(parts["message"])
    for pattern, words in _DETAILS:
        found = re.fullmatch(pattern, message, re.S)
        if found:
            message = t(words).format(**found.groupdict())
            break
    where = [] if column_only and parts.get("column") is not None else \
        [t("file {source}").format(source=parts["source"])]
    if parts.get("row") is not None and not (column_only and parts.get("column") is not None):
        line = t("row {row} (line {line}, {row_id})") if parts.get("row_id") else t("row {row} (line {line})")
        where.append(line.format(row=parts["row"], line=parts["line"], row_id=parts.get("row_id")))
    if parts.get("column") is not None:
        where.append(t("column '{column}'").format(column=parts["column"]))
    return t("{where}: {message}").format(where=t(", ").join(where), message=message)
