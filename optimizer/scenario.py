"""A scenario — one exchange, its quote sheet and a regime with overrides — and the workspace that edits it.

`Scenario` is what is solved and what is saved (JSON, one readable file the CLI also takes: `--scenario F`).
`Workspace` is the one object the app keeps in session state: the inputs as the user chose and typed them
(exchange or own figures, regime preset and overrides, the quote sheet's cells as text), read by every page.
No Streamlit here: the app only stores a Workspace and shows what `Workspace.resolve()` returns.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from . import entry
from .i18n import LANGUAGES, N_, translator
from .domain import FUNDED_ASSET_KINDS, PERILS, RATINGS, ExchangeProfile, Quote, Regime, ReserveAsset
from .inputs import (
    ASSET_COLUMNS, assets_from_frame, check_asset_yields, parse_asset,
    QUOTE_COLUMNS, InputError, parse_profile, parse_quote, quotes_from_frame, read_text_file, regime_from_dict,
)
from .domain import AssetShares
from .plan_file import Plan, none_as_no_limit, plan_from_dict, plan_to_dict
from .regime import SWEEPABLE, check_parameter, parameter_value, with_parameter

SCENARIO_VERSION = 3      # 3: the file may hold the funding plan ("plan"); a file without one is written as 2
MAX_NESTING = 32          # JSON deeper than this is not a scenario (a real one is 4 levels deep)
MAX_SCENARIO_BYTES = 5_000_000


@dataclass(frozen=True)
class Scenario:
    """What is solved: the exchange, its quotes and the regime (overrides applied), plus where each came from."""

    profile: ExchangeProfile
    quotes: tuple[Quote, ...]
    regime: Regime
    regime_preset: str = ""                       # the preset the regime started from ("" = as given)
    overrides: Mapping[str, float] = field(default_factory=dict)  # regime parameters changed from the preset
    quote_sheet: str = ""                         # name of the quote sheet ("bundled", a file name, …)
    assets: tuple[ReserveAsset, ...] = ()          # reserve assets beyond cash (assets.csv); none: cash and cover
    asset_sheet: str = ""                         # name of the assets table the app started from ("" = none)
    plan: Plan | None = None                      # the funding plan's parameters (the app's Plan page), if set

    def __hash__(self) -> int:
        return hash((self.profile, self.quotes, self.regime, tuple(sorted(self.overrides.items())), self.assets))


# ------------------------------------------------------------------ tables and dicts

def _cell(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return ";".join(sorted(value))
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def quotes_to_frame(quotes: Sequence[Quote]) -> pd.DataFrame:
    """Quotes as the quote-sheet table (columns as in quotes.csv; perils as `all` or `a;b`)."""
    names = [c.name for c in QUOTE_COLUMNS]
    rows = []
    for q in quotes:
        row = {k: _cell(v) for k, v in dataclasses.asdict(q).items() if k in names}
        row["perils"] = "all" if q.perils == frozenset(PERILS) else ";".join(p for p in PERILS if p in q.perils)
        row["exchange_id"] = q.exchange_id or ""
        row["exclusions"] = ";".join(sorted(q.exclusions))  # as in quotes.csv (a frozenset would print as text)
        rows.append(row)
    return pd.DataFrame(rows, columns=names)


def assets_to_frame(assets: Sequence[ReserveAsset]) -> pd.DataFrame:
    """Reserve assets as the assets.csv table (a blank max_amount_jpy: no limit; a blank exchange_id: everyone)."""
    names = [c.name for c in ASSET_COLUMNS]
    rows = []
    for a in assets:
        row = {("yield" if k == "yield_rate" else k): _cell(v) for k, v in dataclasses.asdict(a).items()}
        row["exchange_id"] = a.exchange_id or ""
        rows.append(row)
    return pd.DataFrame(rows, columns=names)


def profile_to_dict(profile: ExchangeProfile) -> dict[str, Any]:
    d = {k: _cell(v) for k, v in dataclasses.asdict(profile).items()}
    return {k: v for k, v in d.items() if v is not None or k == "liquid_capital_jpy"}


# Round-2 regime keys: written only when they differ from their default, so files stay readable by readers
# that predate them.
_OPTIONAL_REGIME_KEYS = ("max_share_of_customer_assets", "require_licensed", "state_backed_exclusion_factor",
                         "second_event_share")


def _section(obj) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, AssetShares):  # [eligibility.assets]: only the shares that differ from the defaults
            shares = {k: x for k, x in dataclasses.asdict(v).items() if x != getattr(AssetShares(), k)}
            if shares:
                out["assets"] = {"max_share": shares}
            continue
        if isinstance(v, float) and math.isinf(v):
            continue  # no cap
        if f.name in _OPTIONAL_REGIME_KEYS and v == f.default:
            continue
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def regime_to_dict(regime: Regime) -> dict[str, Any]:
    """The regime in the shape of its TOML file (infinite caps omitted)."""
    return {"name": regime.name, "description": regime.description, "requirement": _section(regime.requirement),
            "eligibility": _section(regime.eligibility), "rating_credit": dict(regime.rating_credit)}


# ------------------------------------------------------------------ the scenario file

def to_json(scenario: Scenario) -> str:
    """One readable JSON file: profile, quotes, regime (overrides applied), and the provenance."""
    frame = quotes_to_frame(scenario.quotes)
    data = {"scenario_version": SCENARIO_VERSION if scenario.plan is not None else 2,
            "profile": profile_to_dict(scenario.profile),
            "quotes": json.loads(frame.to_json(orient="records")), "regime": regime_to_dict(scenario.regime),
            "regime_preset": scenario.regime_preset, "overrides": dict(scenario.overrides),
            "quote_sheet": scenario.quote_sheet}
    if scenario.assets:  # only with assets: a scenario without them is the file it always was
        data["assets"] = json.loads(assets_to_frame(scenario.assets).to_json(orient="records"))
    if scenario.asset_sheet:  # the assets table the app started from: a reopened file counts its edits against it
        data["asset_sheet"] = scenario.asset_sheet
    if scenario.plan is not None:  # the plan's keys as in its TOML file (data/plans/), `null` for a year without limit
        data["plan"] = plan_to_dict(scenario.plan)
    return json.dumps(data, indent=2, ensure_ascii=False)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, iteratively (a 100,000-deep file must not blow the stack)."""
    stack, deepest = [(value, 1)], 1
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


class _Huge(str):
    """A JSON number no float holds (a 400-digit integer, 1e999): kept as its text so that the key can be named."""


MAX_INT_DIGITS = 300  # below float's 1.8e308 and Python's 4,300-digit limit on reading integers


def _parse_int(token: str) -> int | _Huge:
    return _Huge(token) if len(token.lstrip("-")) > MAX_INT_DIGITS else int(token)


def _parse_float(token: str) -> float | _Huge:
    value = float(token)
    return _Huge(token) if math.isinf(value) else value


def _find_huge(value: Any) -> tuple[str, str] | None:
    """(key path such as profile.customer_assets_jpy or quotes[0].limit, the number's text) of the first `_Huge`."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        v, path = stack.pop()
        if isinstance(v, _Huge):
            return path, str(v)
        if isinstance(v, dict):
            stack.extend((x, f"{path}.{k}" if path else str(k)) for k, x in reversed(list(v.items())))
        elif isinstance(v, list):
            stack.extend((x, f"{path}[{i}]") for i, x in reversed(list(enumerate(v))))
    return None


def from_json(text: str, source: str = "scenario.json") -> Scenario:
    """Scenario JSON → Scenario, validated like the files it stands for; InputError otherwise (never another error)."""
    if len(text) > MAX_SCENARIO_BYTES:
        raise InputError(source, f"the file is larger than {MAX_SCENARIO_BYTES:,} characters; expected a scenario")
    def no_constant(token: str):  # NaN and Infinity are not JSON: a blank cell is null
        raise InputError(source, f"{token} is not a number a scenario can hold; expected a number, or null for a "
                         "blank cell")

    try:
        data = json.loads(text, parse_constant=no_constant, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(source, f"nested deeper than {MAX_NESTING} levels; expected a scenario") from None
    if _depth(data, MAX_NESTING) > MAX_NESTING:
        raise InputError(source, f"nested deeper than {MAX_NESTING} levels; expected a scenario")
    huge = _find_huge(data)
    if huge is not None:
        key, token = huge
        shown = token if len(token) <= 24 else f"{token[:10]}… ({len(token):,} characters)"
        raise InputError(source, f"the number {shown} is far beyond any amount or share a "
                         "scenario holds; expected a number such as 1e12", column=key)
    if not isinstance(data, dict):
        raise InputError(source, "expected a JSON object with profile, quotes and regime")
    for key in ("profile", "quotes", "regime"):
        if key not in data:
            raise InputError(source, f"missing key {key!r}; expected profile, quotes and regime", column=key)
    unknown = set(data) - {"scenario_version", "profile", "quotes", "regime", "regime_preset", "overrides",
                           "quote_sheet", "assets", "asset_sheet", "plan"}
    if unknown:
        raise InputError(source, "unknown key", column=sorted(unknown)[0])
    if not isinstance(data["profile"], dict) or not isinstance(data["quotes"], list) \
            or not isinstance(data["regime"], dict):
        raise InputError(source, "expected profile and regime as objects and quotes as a list")
    if not all(isinstance(q, dict) for q in data["quotes"]):
        raise InputError(source, "expected every quote as an object", column="quotes")
    profile_fields = {f.name for f in dataclasses.fields(ExchangeProfile)}
    for key in data["profile"]:
        if key not in profile_fields:
            raise InputError(f"{source} (profile)", "unknown field", column=key)
    profile = parse_profile(data["profile"], f"{source} (profile)")
    names = [c.name for c in QUOTE_COLUMNS]
    for q in data["quotes"]:
        for key in q:
            if key not in names:
                raise InputError(f"{source} (quotes)", "unknown field", column=str(key))
    frame = pd.DataFrame(data["quotes"], columns=names) if data["quotes"] else pd.DataFrame(columns=names)
    quotes = quotes_from_frame(frame.astype(object).where(frame.notna(), None), f"{source} (quotes)")
    regime = regime_from_dict(data["regime"], f"{source} (regime)")
    assets: list[ReserveAsset] = []
    if data.get("assets") is not None:
        if not isinstance(data["assets"], list) or not all(isinstance(a, dict) for a in data["assets"]):
            raise InputError(source, "expected assets as a list of objects (the rows of assets.csv)", column="assets")
        asset_names = [c.name for c in ASSET_COLUMNS]
        for a in data["assets"]:
            for key in a:
                if key not in asset_names:
                    raise InputError(f"{source} (assets)", "unknown field", column=str(key))
        frame = pd.DataFrame(data["assets"], columns=asset_names)
        assets = assets_from_frame(frame.astype(object).where(frame.notna(), None), f"{source} (assets)")
        check_asset_yields(profile, assets, f"{source} (assets)")
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(
            k in SWEEPABLE and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in overrides.items()):
        raise InputError(source, "expected overrides as {regime parameter: number}", column="overrides")
    for name, value in overrides.items():  # a record of what differs from the preset: it must be what is solved
        check_parameter(name, value, source)
        held = parameter_value(regime, name)
        if float(value) != held and not math.isclose(float(value), held, rel_tol=1e-12):
            raise InputError(source, f"overrides.{name} = {float(value):g}, but the regime holds {name} = {held:g}; "
                             "the regime's values are the ones solved (overrides only record which of them differ "
                             "from the preset): change it in the regime", column=f"overrides.{name}")
    version = data.get("scenario_version", SCENARIO_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= SCENARIO_VERSION:
        raise InputError(source, f"expected a scenario_version from 1 to {SCENARIO_VERSION} (this program writes "
                         f"{SCENARIO_VERSION}), got {version!r}", column="scenario_version")
    text_fields = {k: data.get(k) or "" for k in ("regime_preset", "quote_sheet", "asset_sheet")}
    for key, value in text_fields.items():
        if not isinstance(value, str):
            raise InputError(source, "expected text", column=key)
    plan = None
    if data.get("plan") is not None:
        if not isinstance(data["plan"], dict):
            raise InputError(source, "expected the plan as an object with the keys of a plan file (data/plans/)",
                             column="plan")
        plan = plan_from_dict(none_as_no_limit(data["plan"]), f"{source} (plan)")
        for q in quotes:  # as `plan` refuses it: a policy paid for years the plan does not see
            if q.term_years > plan.years:
                raise InputError(f"{source} (plan)", f"quote {q.quote_id} runs {q.term_years} years, longer than the "
                                 f"plan's {plan.years}; expected years ≥ {q.term_years}", column="years")
    return Scenario(profile, tuple(quotes), regime, overrides={k: float(v) for k, v in overrides.items()},
                    plan=plan, **text_fields, assets=tuple(assets))


def load(path: str | Path) -> Scenario:
    """A scenario file (JSON, as saved by the app) → Scenario; InputError for anything else."""
    return from_json(read_text_file(path, encoding="utf-8-sig"), str(path))


# ------------------------------------------------------------------ the quote sheet as people type it

# The cells of the app's quote grid, in order: (column, kind of entry). Rates and shares in percent; attachment and
# limit in yen (basis "jpy") or in percent of R (basis "requirement").
TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("quote_id", "text"), ("kind", "choice"), ("counterparty", "text"), ("rating", "choice"),
    ("layer_basis", "choice"), ("attachment", "layer"), ("limit", "layer"), ("rate_on_line", "rate"),
    ("perils", "text"), ("max_share", "share"), ("min_share", "share"), ("fixed_fee_jpy", "amount"),
    ("collateralized", "bool"), ("exchange_id", "text"),
    # round-2 terms (DESIGN "Real inputs"): kept through every edit, never dropped by the grid
    ("max_limit_jpy", "amount"), ("licensed_in_japan", "bool"), ("fronting_fee_rate", "share"), ("exclusions", "text"),
    ("reinstatements", "text"), ("days_to_pay", "text"),
    ("term_years", "text"),    # round 3: a multi-year policy (the plan)
    ("legal_form", "text"),
    ("quote_source", "text"),   # the quote's `source` (not "source": the mix table's column of that name)
)
_CHECKBOXES = ("collateralized", "licensed_in_japan")   # a checkbox is never "blank": it does not make a row typed
BASIS_TEXT = {"jpy": "¥", "requirement": "% of R"}   # how the grid shows layer_basis
BASIS_FROM_TEXT = {v: k for k, v in BASIS_TEXT.items()}
REQUIRED = ("quote_id", "kind", "counterparty", "rating", "attachment", "limit", "rate_on_line")
# How the grid shows perils: in words, translated where shown (the files keep the ids); the grid reads the words of
# any language and the ids alike
PERIL_TEXT = {"external_hack": N_("external hack"), "insider_theft": N_("insider theft"),
              "vendor_compromise": N_("vendor compromise")}
ALL_PERILS_TEXT = N_("all")
PERIL_SEPARATORS = re.compile(r"\s*[;；、,，]\s*")


def perils_to_text(perils: frozenset[str], lang: str = "en") -> str:
    """A quote's perils as the grid shows them, in the page's language.

    >>> perils_to_text(frozenset({"insider_theft", "external_hack"})), perils_to_text(frozenset(PERILS), "ja")
    ('external hack; insider theft', 'すべて')
    """
    t = translator(lang)
    if perils == frozenset(PERILS):
        return t(ALL_PERILS_TEXT)
    return "; ".join(t(PERIL_TEXT[p]) for p in PERILS if p in perils)


def perils_from_text(text: str) -> str | None:
    """The grid's perils cell (words of any language, or ids) as the file's text ("all" or ids separated by ";");
    None when a part is not a peril.

    >>> perils_from_text("外部からのハッキング；内部者による盗難"), perils_from_text("all"), perils_from_text("fire")
    ('external_hack;insider_theft', 'all', None)
    """
    words = {}
    for lang in LANGUAGES:
        t = translator(lang)
        words[t(ALL_PERILS_TEXT).casefold()] = "all"
        words.update({t(w).casefold(): p for p, w in PERIL_TEXT.items()})
    words.update({p: p for p in PERILS})
    words["all"] = "all"
    parts = [x for x in PERIL_SEPARATORS.split(str(text).strip()) if x]
    ids = [words.get(x.casefold()) for x in parts]
    if not ids or None in ids:
        return None
    return "all" if "all" in ids else ";".join(p for p in PERILS if p in ids)


def _percent_cell(fraction: float) -> str:
    """A rate or share as the grid shows it: always with its percent sign (4%, 4.5%, 0.8%), one format for all."""
    return entry.format_percent(fraction).rstrip("%") + "%"


@dataclass(frozen=True)
class CellProblem:
    """One cell that cannot be used as typed: row (1-based), its quote id, column, and the message template."""

    row: int
    quote_id: str
    column: str
    key: str
    params: Mapping[str, Any]
    confirm: bool = False   # True: the value is possible but implausible and waits for confirmation

    @property
    def message(self) -> str:
        return self.key.format(**self.params)


def quotes_to_text(quotes: Sequence[Quote], lang: str = "en") -> pd.DataFrame:
    """Quotes as the app's text grid: every cell a string as a person would type it (round-trips exactly)."""
    rows = []
    for q in quotes:
        req = q.layer_basis == "requirement"
        layer = _percent_cell if req else (lambda v: entry.format_amount(v, lang))
        rows.append({
            "quote_id": q.quote_id, "kind": q.kind, "counterparty": q.counterparty, "rating": q.rating,
            "layer_basis": BASIS_TEXT[q.layer_basis], "attachment": layer(q.attachment), "limit": layer(q.limit),
            "rate_on_line": _percent_cell(q.rate_on_line), "perils": perils_to_text(q.perils, lang),
            "max_share": _percent_cell(q.max_share), "min_share": _percent_cell(q.min_share),
            "fixed_fee_jpy": entry.format_amount(q.fixed_fee_jpy, lang), "collateralized": bool(q.collateralized),
            "exchange_id": q.exchange_id or "",
            "max_limit_jpy": "" if math.isinf(q.max_limit_jpy) else entry.format_amount(q.max_limit_jpy, lang),
            "licensed_in_japan": bool(q.licensed_in_japan), "fronting_fee_rate": _percent_cell(q.fronting_fee_rate),
            "exclusions": ";".join(sorted(q.exclusions)), "reinstatements": str(int(q.reinstatements)),
            "days_to_pay": f"{q.days_to_pay:g}",
            "term_years": str(int(q.term_years)),
            "legal_form": q.legal_form, "quote_source": q.source,
        })
    return pd.DataFrame(rows, columns=[c for c, _ in TEXT_COLUMNS])


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _cell_problem(row: int, row_id: str, column: str, err: "entry.EntryError | InputError | str", confirm: bool,
                  params: dict) -> "CellProblem":
    """One cell's problem from what refused it: an entry error's key and params, an input error's message, or a
    message key given with its params."""
    if isinstance(err, entry.EntryError):
        key, params = err.key, err.params
    elif isinstance(err, InputError):
        key, params = "{message}", {"message": err.message}
    else:
        key = err
    return CellProblem(row, row_id, column, key, params, confirm)


def text_to_quotes(frame: pd.DataFrame, confirmed: frozenset[tuple[str, str]] = frozenset(),
                   source: str = "quote sheet") -> tuple[tuple[Quote, ...] | None, list[CellProblem]]:
    """The text grid → quotes, or None with every problem found (one per cell at most).

    `confirmed` holds (quote_id, typed rate) pairs the user has confirmed as meant (a rate on line of 0 or > 50%).
    """
    problems: list[CellProblem] = []
    quotes: list[Quote] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        qid = "" if _blank(rec.get("quote_id")) else str(rec["quote_id"]).strip()
        row_problems: list[CellProblem] = []

        def bad(column: str, err: entry.EntryError | InputError | str, confirm: bool = False, **params) -> None:
            row_problems.append(_cell_problem(i, qid, column, err, confirm, params))

        if all(_blank(rec.get(c)) or c in _CHECKBOXES for c, _ in TEXT_COLUMNS):
            continue  # an empty new row: nothing typed yet
        basis = "jpy" if _blank(rec.get("layer_basis")) else str(rec["layer_basis"]).strip()
        basis = BASIS_FROM_TEXT.get(basis, basis)
        row: dict[str, Any] = {}
        for column, kind in TEXT_COLUMNS:
            raw = rec.get(column)
            if _blank(raw):
                if column in REQUIRED:
                    bad(column, "a value is required")
                continue
            try:
                if kind == "rate":
                    value = entry.parse_percent(str(raw))
                    doubt = entry.check_rate_on_line(value)
                    if doubt is not None and (qid, str(raw).strip()) not in confirmed:
                        bad(column, doubt.key, confirm=True, **doubt.params)
                        continue
                elif kind == "share":
                    value = entry.parse_percent(str(raw), high=1.0)
                elif kind == "amount":
                    value = entry.parse_amount(str(raw))
                elif kind == "layer":
                    value = entry.parse_percent(str(raw)) if basis == "requirement" else entry.parse_amount(str(raw))
                    if column == "limit" and value <= 0:
                        bad(column, "a limit must be above 0")
                        continue
                elif column == "layer_basis":
                    value = basis
                elif column == "perils":
                    value = perils_from_text(str(raw))
                    if value is None:
                        bad(column, "'{raw}' is not a list of perils: type all, or perils separated by ; (see the "
                            "column's help)", raw=str(raw))
                        continue
                else:
                    value = raw
                if kind == "amount" or (kind == "layer" and basis != "requirement"):
                    doubt = small_amount_doubt(value)  # a limit of `12` is ¥12: meant ¥12bn?
                    if doubt is not None and (qid, str(raw).strip()) not in confirmed:
                        bad(column, doubt.key, confirm=True, **doubt.params)
                        continue
            except entry.EntryError as exc:
                if kind == "layer" and basis != "requirement" and "%" in str(raw):
                    bad(column, "'{raw}': this layer is in yen (basis ¥); type an amount such as 5bn, or set the "
                        "basis to % of R", raw=str(raw))
                elif kind == "layer" and basis == "requirement" and _is_amount(str(raw)):
                    bad(column, "'{raw}': this layer is in % of R; type a percentage such as 25, or set the "
                        "basis to ¥", raw=str(raw))
                else:
                    bad(column, exc)
                continue
            row[column] = value
        if "quote_source" in row:
            row["source"] = row.pop("quote_source")
        if basis != "requirement" and math.isfinite(row.get("max_limit_jpy", math.inf)):
            bad("max_limit_jpy", "a layer in yen (basis ¥) has its limit as its ceiling: clear this cell (under the "
                "rarely used terms) or set the basis to % of R")
        if not row_problems:
            try:
                q = parse_quote(row, source, i)
            except InputError as exc:
                bad(exc.column or "quote_id", exc)
            else:
                if q.quote_id in seen:
                    bad("quote_id", "duplicate quote id {qid} (also in row {first})", qid=q.quote_id,
                        first=seen[q.quote_id])
                else:
                    seen[q.quote_id] = i
                    quotes.append(q)
        problems += row_problems
    return (None if problems else tuple(quotes)), problems


# ------------------------------------------------------------------ the assets table as people type it

# The cells of the app's assets table, in order: (column, kind of entry). One rate cell: a held kind's yield, a
# promised kind's fee (assets.csv keeps them apart; the kind says which it is). Haircut and rate in percent, the
# most that can be held or committed in yen (blank: no limit).
ASSET_TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("asset_id", "text"), ("kind", "choice"), ("counterparty", "text"), ("rating", "text"), ("rate", "rate"),
    ("haircut", "share"), ("max_amount_jpy", "amount"), ("days_to_pay", "number"), ("exchange_id", "text"),
    ("asset_source", "text"),   # the asset's `source`
)
ASSET_REQUIRED = ("asset_id", "kind", "rate")


def assets_to_text(assets: Sequence[ReserveAsset], lang: str = "en") -> pd.DataFrame:
    """Reserve assets as the app's text table: every cell a string as a person would type it (round-trips exactly)."""
    rows = [{
        "asset_id": a.asset_id, "kind": a.kind, "counterparty": a.counterparty, "rating": a.rating,
        "rate": entry.format_percent(a.yield_rate if a.funded else a.fee_rate),
        "haircut": entry.format_percent(a.haircut),
        "max_amount_jpy": "" if math.isinf(a.max_amount_jpy) else entry.format_amount(a.max_amount_jpy, lang),
        "days_to_pay": f"{a.days_to_pay:g}", "exchange_id": a.exchange_id or "", "asset_source": a.source,
    } for a in assets]
    return pd.DataFrame(rows, columns=[c for c, _ in ASSET_TEXT_COLUMNS])


def empty_asset_text() -> pd.DataFrame:
    return assets_to_text(())


def free_promise_doubt(kind: str, fee: float) -> entry.Implausible | None:
    """A guarantee or line at a fee of 0 would be credit for nothing: possible, but ask before using it."""
    if kind not in FUNDED_ASSET_KINDS and fee == 0:
        return entry.Implausible("a fee of 0% makes this promise free: the cheapest mix takes all of it", {})
    return None


def text_to_assets(frame: pd.DataFrame, confirmed: frozenset[tuple[str, str]] = frozenset(),
                   source: str = "assets table") -> tuple[tuple[ReserveAsset, ...] | None, list[CellProblem]]:
    """The assets table as typed → reserve assets, or None with every problem found (one per cell at most).

    `confirmed` holds (asset_id, typed rate) pairs confirmed as meant (a guarantee or line at a fee of 0). The kind
    decides what the rate cell is (a yield for a deposit or JGB, a fee otherwise) and whether counterparty and
    rating are needed (every kind but a JGB)."""
    problems: list[CellProblem] = []
    assets: list[ReserveAsset] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        aid = "" if _blank(rec.get("asset_id")) else str(rec["asset_id"]).strip()
        row_problems: list[CellProblem] = []

        def bad(column: str, err: entry.EntryError | InputError | str, confirm: bool = False, **params) -> None:
            row_problems.append(_cell_problem(i, aid, column, err, confirm, params))

        if all(_blank(rec.get(c)) for c, _ in ASSET_TEXT_COLUMNS):
            continue  # an empty new row: nothing typed yet
        kind = "" if _blank(rec.get("kind")) else str(rec["kind"]).strip()
        row: dict[str, Any] = {}
        for column, how in ASSET_TEXT_COLUMNS:
            raw = rec.get(column)
            if _blank(raw):
                if column in ASSET_REQUIRED:
                    bad(column, "a value is required")
                elif column in ("counterparty", "rating") and kind and kind != "jgb":
                    bad(column, "a value is required: only a JGB (owed by the state) may leave it blank")
                continue
            text = str(raw).strip()
            try:
                if how == "rate":
                    value = entry.parse_percent(text)
                    doubt = free_promise_doubt(kind, value)
                    if doubt is not None and (aid, text) not in confirmed:
                        bad(column, doubt.key, confirm=True, **doubt.params)
                        continue
                elif how == "share":
                    value = entry.parse_percent(text, high=1.0)
                    if value >= 1:
                        bad(column, "a haircut of 100% leaves no credit; expected less than 100%")
                        continue
                elif how == "amount":
                    value = entry.parse_amount(text)
                elif how == "number":
                    value = entry.parse_number(text)
                elif column == "rating":
                    value = text.upper()
                    if value not in RATINGS:
                        bad(column, "'{raw}' is not a rating: expected AAA … CCC (notches + or -) or NR", raw=text)
                        continue
                else:
                    value = text
            except entry.EntryError as exc:
                bad(column, exc)
                continue
            if kind == "jgb" and column in ("counterparty", "rating"):
                bad(column, "a JGB is owed by the state: it has no counterparty or rating; leave the cell blank")
                continue
            row[column] = value
        if row_problems:
            problems += row_problems
            continue
        rate = row.pop("rate")
        row["yield" if kind in FUNDED_ASSET_KINDS else "fee_rate"] = rate
        row["source"] = row.pop("asset_source", "")
        try:
            a = parse_asset(row, source, i)
        except InputError as exc:
            column = {"yield": "rate", "fee_rate": "rate", "source": "asset_source"}.get(exc.column, exc.column)
            bad(column or "asset_id", exc)
        else:
            if a.asset_id in seen:
                bad("asset_id", "duplicate asset id {aid} (also in row {first})", aid=a.asset_id, first=seen[a.asset_id])
            else:
                seen[a.asset_id] = i
                assets.append(a)
        problems += row_problems
    return (None if problems else tuple(assets)), problems


def asset_yield_problems(profile: ExchangeProfile, assets: Sequence[ReserveAsset],
                         rows: Mapping[str, int] | None = None) -> list[CellProblem]:
    """Held assets offered to `profile` that yield more than its cost of capital (check_asset_yields), as cells of
    the assets table (`rows`: asset_id → its row, 1-based; default: the order of `assets`): holding one would earn
    money, so the cheapest mix would hold all it could, reserve or not."""
    rows = rows or {}
    return [CellProblem(rows.get(a.asset_id, i), a.asset_id, "rate", "a yield of {y} is above this exchange's cost of capital ({c}): "
                        "holding it would earn money; expected at most {c}",
                        {"y": entry.format_percent(a.yield_rate) + ("" if a.yield_rate < 0.01 else "%"),
                         "c": entry.format_percent(profile.cost_of_capital)
                         + ("" if profile.cost_of_capital < 0.01 else "%")})
            for i, a in enumerate(assets, start=1)
            if a.funded and a.offered_to(profile.exchange_id) and a.yield_rate > profile.cost_of_capital]


# ------------------------------------------------------------------ the workspace: one per app session

OWN_FIELDS: tuple[tuple[str, str], ...] = (  # own-figures form: (field, kind of entry)
    ("customer_assets_jpy", "amount"), ("hot_wallet_share", "share"), ("annual_trading_volume_jpy", "amount"),
    ("cost_of_capital", "share"), ("reserve_yield", "share"), ("liquid_capital_jpy", "amount_or_blank"),
    ("premium_multiplier", "number"),
)


SMALL_AMOUNT_JPY = 1e6  # an exchange's assets, volume or capital below ¥1m is almost surely `12` meant as ¥12bn


def small_amount_doubt(value: float) -> entry.Implausible | None:
    """Yen above 0 and below ¥1m, where an exchange's or a layer's amount is expected: `12` meant as ¥12bn?"""
    if 0 < value < SMALL_AMOUNT_JPY:
        return entry.Implausible("¥{yen} is less than ¥1m: amounts are in yen (e.g. 50bn, 500億)",
                                 {"yen": entry.format_amount(value)})
    return None


def _is_amount(text: str) -> bool:
    """Typed text that reads as yen with a unit (5bn, 50億, ¥5,000) although a percentage was expected."""
    if not re.search(r"[a-zA-Z兆億万千百十¥￥円]", text):
        return False  # a bare number is a percentage typed wrongly (0.25: ambiguous), not an amount
    try:
        entry.parse_amount(text)
    except entry.EntryError:
        return False
    return True


def own_doubt(name: str, value: float) -> entry.Implausible | None:
    """A figure of the own-figures form that parses but is probably not what was meant: ask before using it."""
    kind = dict(OWN_FIELDS)[name]
    if kind in ("amount", "amount_or_blank"):
        return small_amount_doubt(value)
    if name == "premium_multiplier" and value == 0:
        return entry.Implausible("a loading of 0 makes every premium free", {})
    return None


def parse_own(values: Mapping[str, str], confirmed: frozenset[tuple[str, str]] = frozenset()
              ) -> tuple[ExchangeProfile | None, dict[str, Exception], dict[str, entry.Implausible]]:
    """The own-figures form (text as typed) → profile, or None and {field: EntryError/InputError} per bad field,
    and {field: Implausible} per figure that waits for confirmation (`own_doubt`; `confirmed` holds the (field,
    typed text) pairs confirmed as meant). The profile is None while a figure waits."""
    row: dict[str, Any] = {"exchange_id": "MINE", "name": str(values.get("name") or "My exchange")}
    errors: dict[str, Exception] = {}
    doubts: dict[str, entry.Implausible] = {}
    for name, kind in OWN_FIELDS:
        raw = str(values.get(name, "") or "")
        try:
            if kind == "amount_or_blank" and not raw.strip():
                continue
            if kind in ("amount", "amount_or_blank"):
                row[name] = entry.parse_amount(raw)
            elif kind == "share":
                row[name] = entry.parse_percent(raw, high=1.0)
            else:
                row[name] = entry.parse_number(raw) if raw.strip() else 1.0
        except entry.EntryError as exc:
            errors[name] = exc
            continue
        doubt = own_doubt(name, row[name]) if name in row else None
        if doubt is not None and (name, raw.strip()) not in confirmed:
            doubts[name] = doubt
    if errors or doubts:
        return None, errors, doubts
    try:
        return parse_profile(row, "own figures"), {}, {}
    except InputError as exc:
        return None, {exc.column or "customer_assets_jpy": exc}, {}


def own_to_text(profile: ExchangeProfile, lang: str = "en") -> dict[str, str]:
    out = {"name": profile.name}
    for name, kind in OWN_FIELDS:
        v = getattr(profile, name)
        if kind in ("amount", "amount_or_blank"):
            out[name] = "" if math.isinf(v) else entry.format_amount(v, lang)
        elif kind == "share":
            out[name] = entry.format_percent(v)
        else:
            out[name] = f"{v:g}"
    return out


def _to_yen_basis(row: pd.Series, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A layer switched from % of R to ¥ in the grid: its yen ceiling becomes its limit (a yen layer's limit is its
    own ceiling, and a ceiling on a yen layer is refused), an attachment of 0% becomes 0. Cells typed in the same
    edit win."""
    if BASIS_FROM_TEXT.get(str(changes.get("layer_basis", "")).strip()) != "jpy" or \
            BASIS_FROM_TEXT.get(str(row.get("layer_basis", "")).strip()) != "requirement":
        return {}
    out: dict[str, Any] = {"max_limit_jpy": ""}
    ceiling = row.get("max_limit_jpy")
    if not _blank(ceiling):
        out["limit"] = ceiling
    attachment = row.get("attachment")
    if not _blank(attachment):
        try:
            if entry.parse_percent(str(attachment)) == 0:
                out["attachment"] = "0"
        except entry.EntryError:
            pass
    return out


@dataclass
class Workspace:
    """Everything the user chose, as chosen and typed; one per app session, read by every page.

    Only the input widgets change it. `resolve()` turns it into a Scenario (the last valid quote sheet is kept
    while a cell has a problem, and said so).
    """

    profiles: tuple[ExchangeProfile, ...]
    profiles_name: str
    regimes: dict[str, Regime]
    regime_name: str
    quote_text: pd.DataFrame
    quote_sheet: str
    bundled_quotes: tuple[Quote, ...]
    bundled_regimes: dict[str, Regime]
    exchange_id: str | None = None                     # None: own figures
    own: ExchangeProfile | None = None
    overrides: dict[str, float] = field(default_factory=dict)
    confirmed: frozenset[tuple[str, str]] = frozenset()
    own_confirmed: frozenset[tuple[str, str]] = frozenset()  # (field, typed text) of own figures confirmed as meant
    last_quotes: tuple[Quote, ...] = ()
    problems: list[CellProblem] = field(default_factory=list)
    plan: Plan | None = None                           # the last valid funding plan (the Plan page), once set
    version: int = 0                                   # bumped whenever the quote grid must be rebuilt
    # the assets table, kept as the quote grid is: cells as typed, the last valid assets, what edits compare with
    asset_text: pd.DataFrame = field(default_factory=empty_asset_text)
    asset_sheet: str = ""                              # the table it started from ("" = none, empty)
    bundled_assets: tuple[ReserveAsset, ...] = ()      # what the change marks compare with
    last_assets: tuple[ReserveAsset, ...] = ()
    asset_problems: list[CellProblem] = field(default_factory=list)
    asset_confirmed: frozenset[tuple[str, str]] = frozenset()
    asset_version: int = 0                             # bumped whenever the assets table must be rebuilt
    assets_follow: str | None = None                   # the regime whose default the untouched table holds
    generation: int = 0                                # bumped when a file replaces the inputs (widgets rebuilt)

    @classmethod
    def new(cls, profiles: Sequence[ExchangeProfile], quotes: Sequence[Quote], regimes: Mapping[str, Regime],
            regime_name: str, lang: str = "en", quote_sheet: str = "bundled") -> "Workspace":
        """The first exchange of `profiles`, `quotes` (the bundled sheet named `quote_sheet`) and a preset."""
        return cls(profiles=tuple(profiles), profiles_name="bundled", regimes=dict(regimes), regime_name=regime_name,
                   quote_text=quotes_to_text(quotes, lang), quote_sheet=quote_sheet, bundled_quotes=tuple(quotes),
                   bundled_regimes=dict(regimes), exchange_id=profiles[0].exchange_id, last_quotes=tuple(quotes))

    # -- what is in use
    @property
    def profile(self) -> ExchangeProfile | None:
        if self.exchange_id is None:
            return self.own
        return next((p for p in self.profiles if p.exchange_id == self.exchange_id), None)

    @property
    def base_regime(self) -> Regime:
        return self.regimes[self.regime_name]

    @property
    def regime(self) -> Regime:
        regime = self.base_regime
        for name, value in sorted(self.overrides.items()):
            regime = with_parameter(regime, name, value)
        return regime

    def absorb_edits(self, state: Mapping[str, Any] | None) -> bool:
        """Apply the grid's edit state (edited_rows, added_rows, deleted_rows) to the cells; True if anything changed.

        The grid is then rebuilt from the cells (`version` += 1), so its markers and messages are current.
        """
        if not isinstance(state, Mapping) or not any(state.get(k) for k in ("edited_rows", "added_rows",
                                                                              "deleted_rows")):
            return False
        out = self.quote_text.copy()
        for idx, changes in (state.get("edited_rows") or {}).items():
            if int(idx) in out.index:
                changes = {**_to_yen_basis(out.loc[int(idx)], changes), **changes}
            for col, value in changes.items():
                if col in out.columns and int(idx) in out.index:
                    out.at[int(idx), col] = value
        added = [{c: r.get(c) for c in out.columns} for r in (state.get("added_rows") or [])]
        if added:
            out = pd.concat([out, pd.DataFrame(added, columns=out.columns)], ignore_index=True)
        deleted = [int(i) for i in (state.get("deleted_rows") or [])]
        if deleted:
            out = out.drop(index=[i for i in deleted if i in out.index])
        self.set_quote_text(out)
        self.version += 1
        return True

    def set_quote_text(self, frame: pd.DataFrame) -> None:
        """New cells for the grid: parse them; keep the last valid sheet while a cell has a problem."""
        self.quote_text = frame.reset_index(drop=True)
        quotes, self.problems = text_to_quotes(self.quote_text, self.confirmed)
        if quotes is not None:
            self.last_quotes = quotes

    def relabel(self, lang: str) -> None:
        """The grid's words in another language: every perils cell that reads as perils is written in `lang`
        (what else was typed stays as typed); the grid is rebuilt."""
        out = self.quote_text.copy()
        for i, raw in out["perils"].items():
            ids = None if _blank(raw) else perils_from_text(str(raw))
            if ids is not None:
                out.at[i, "perils"] = perils_to_text(frozenset(PERILS) if ids == "all" else frozenset(ids.split(";")),
                                                     lang)
        self.quote_text = out
        self.version += 1

    def confirm(self, quote_id: str, typed: str) -> None:
        self.confirmed = self.confirmed | {(quote_id, typed.strip())}
        self.set_quote_text(self.quote_text)

    def replace_quotes(self, quotes: Sequence[Quote], name: str, lang: str = "en") -> None:
        self.quote_sheet, self.confirmed = name, frozenset()
        self.set_quote_text(quotes_to_text(quotes, lang))
        self.last_quotes = tuple(quotes)
        self.version += 1

    # -- the assets table
    def absorb_asset_edits(self, state: Mapping[str, Any] | None) -> bool:
        """Apply the assets table's edit state to its cells, as absorb_edits does for the quote grid."""
        if not isinstance(state, Mapping) or not any(state.get(k) for k in ("edited_rows", "added_rows",
                                                                              "deleted_rows")):
            return False
        out = self.asset_text.copy()
        for idx, changes in (state.get("edited_rows") or {}).items():
            for col, value in changes.items():
                if col in out.columns and int(idx) in out.index:
                    out.at[int(idx), col] = value
        added = [{c: r.get(c) for c in out.columns} for r in (state.get("added_rows") or [])]
        if added:
            out = pd.concat([out, pd.DataFrame(added, columns=out.columns)], ignore_index=True)
        deleted = [int(i) for i in (state.get("deleted_rows") or [])]
        if deleted:
            out = out.drop(index=[i for i in deleted if i in out.index])
        self.set_asset_text(out)
        self.asset_version += 1
        return True

    def set_asset_text(self, frame: pd.DataFrame) -> None:
        """New cells for the assets table: parse them; keep the last valid assets while a cell has a problem."""
        self.asset_text = frame.reset_index(drop=True).astype(object)
        assets, self.asset_problems = text_to_assets(self.asset_text, self.asset_confirmed)
        if assets is not None:
            self.last_assets = assets

    def confirm_asset(self, asset_id: str, typed: str) -> None:
        self.asset_confirmed = self.asset_confirmed | {(asset_id, typed.strip())}
        self.set_asset_text(self.asset_text)

    def replace_assets(self, assets: Sequence[ReserveAsset], name: str, lang: str = "en",
                       bundled: Sequence[ReserveAsset] | None = None) -> None:
        """A new assets table: `assets` as its cells; its edits are counted against `bundled` (default: itself)."""
        self.asset_sheet, self.asset_confirmed = name, frozenset()
        self.bundled_assets = tuple(assets if bundled is None else bundled)
        self.set_asset_text(assets_to_text(assets, lang))
        self.last_assets = tuple(assets)
        self.asset_version += 1
        self.assets_follow = self.regime_name

    def assets_untouched(self) -> bool:
        return self.last_assets == self.bundled_assets and not self.asset_problems

    def follow_regime(self, allows: bool, name: str, assets: Sequence[ReserveAsset], lang: str = "en") -> bool:
        """When the regime changes and the table holds what it started from, start it again from the new regime's
        default: `assets` (named `name`) if the regime `allows` reserve assets, else empty. True if replaced."""
        if self.assets_follow == self.regime_name:
            return False
        if not self.assets_untouched():
            self.assets_follow = self.regime_name  # the user's own table stays, whatever the regime
            return False
        wanted = tuple(assets) if allows else ()
        if wanted == self.last_assets and self.asset_sheet == (name if allows else ""):
            self.assets_follow = self.regime_name
            return False
        self.replace_assets(wanted, name if allows else "", lang)
        return True

    def changed_assets(self) -> dict[str, str]:
        """asset_id → "changed" or "new" for every asset that differs from the table it started from."""
        bundled = {a.asset_id: a for a in self.bundled_assets}
        return {a.asset_id: ("new" if a.asset_id not in bundled else "changed") for a in self.last_assets
                if bundled.get(a.asset_id) != a}

    def asset_cell_problems(self) -> list[CellProblem]:
        """The cells of the assets table to fix or confirm, with the yields above the exchange's cost of capital."""
        profile = self.profile
        if profile is None or self.asset_problems:
            return list(self.asset_problems)
        rows = {str(v).strip(): i for i, v in enumerate(self.asset_text["asset_id"], start=1)}
        return asset_yield_problems(profile, self.last_assets, rows)

    def usable_assets(self) -> tuple[ReserveAsset, ...]:
        """The last valid assets, without any held asset that yields more than this exchange's cost of capital."""
        profile = self.profile
        if profile is None:
            return self.last_assets
        earning = {p.quote_id for p in asset_yield_problems(profile, self.last_assets)}
        return tuple(a for a in self.last_assets if a.asset_id not in earning)

    def scenario(self) -> Scenario | None:
        profile = self.profile
        if profile is None:
            return None
        return Scenario(profile, self.last_quotes, self.regime, regime_preset=self.regime_name,
                        overrides=dict(self.overrides), quote_sheet=self.quote_sheet, plan=self.plan,
                        assets=self.usable_assets(), asset_sheet=self.asset_sheet)

    def load(self, sc: Scenario, lang: str = "en", sheets: Mapping[str, Sequence[Quote]] | None = None,
             asset_sheets: Mapping[str, Sequence[ReserveAsset]] | None = None) -> None:
        """Put a saved scenario in place: its exchange as own figures, its regime as a preset, its quote sheet and
        its assets (cells written in `lang`). When the scenario names one of `sheets` (name → quotes: the bundled
        sheets) or of `asset_sheets` (name → assets), its edits are counted against that one, not against the one in
        use before."""
        name = sc.regime_preset if sc.regime_preset in self.regimes else ""
        base = self.regimes.get(name)
        if base is not None and regime_equal(_apply(base, sc.overrides), sc.regime):
            self.regime_name, self.overrides = name, dict(sc.overrides)
        else:
            label = f"scenario: {sc.regime.name}"
            self.regimes = {**self.regimes, label: sc.regime}
            self.regime_name, self.overrides = label, {}
        known = next((p for p in self.profiles if p == sc.profile), None)
        if known is not None:
            self.exchange_id = known.exchange_id
        else:
            self.own, self.exchange_id = sc.profile, None
        if sheets and sc.quote_sheet in sheets:
            self.bundled_quotes = tuple(sheets[sc.quote_sheet])
        self.replace_quotes(sc.quotes, sc.quote_sheet or "scenario", lang)
        asset_sheets = asset_sheets or {}
        self.replace_assets(sc.assets, sc.asset_sheet or ("scenario" if sc.assets else ""), lang,
                            bundled=asset_sheets.get(sc.asset_sheet) if sc.asset_sheet in asset_sheets else None)
        if sc.plan is not None:
            self.plan = sc.plan
        self.generation += 1

    # -- how it differs from what was bundled
    def changed_rows(self) -> dict[str, str]:
        """quote_id → "changed" or "new" for every row of the sheet that differs from the bundled sheet."""
        bundled = {q.quote_id: q for q in self.bundled_quotes}
        current = {q.quote_id: q for q in self.last_quotes}
        out = {}
        for qid, q in current.items():
            if qid not in bundled:
                out[qid] = "new"
            elif bundled[qid] != q:
                out[qid] = "changed"
        return out

    def differs(self) -> dict[str, bool]:
        """Which of exchange, regime and quote sheet differ from the bundled ones."""
        bundled_regime = self.bundled_regimes.get(self.regime_name)
        return {
            "exchange": self.exchange_id is None or self.profiles_name != "bundled",
            "regime": bundled_regime is None or bool(self.overrides),
            "quotes": self.last_quotes != self.bundled_quotes or bool(self.problems),
        }

    def assets_differ(self) -> bool:
        """Whether the assets table differs from the one it started from (the bundled assets, or none)."""
        return self.last_assets != self.bundled_assets or bool(self.asset_problems)


def _apply(regime: Regime, overrides: Mapping[str, float]) -> Regime:
    for name, value in sorted(overrides.items()):
        regime = with_parameter(regime, name, value)
    return regime


def regime_equal(a: Regime, b: Regime) -> bool:
    return regime_to_dict(a) == regime_to_dict(b)
