"""What every page shares: session keys, the one Workspace, cached core calls, the context bar, the headline.

Pages import from here; nothing here draws a whole page. Session keys shared by two functions are constants.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

from optimizer import analysis, reasons
from optimizer.compare import preset_order
from optimizer.i18n import N_, Unit, fit, translator
from optimizer.domain import AssetShares
from optimizer.inputs import load_assets, load_incidents, load_profiles, load_quotes, load_regime
from optimizer.model import REBUILD_NEW_STRUCTURE, Resolver, solve
from optimizer.scenario import PERIL_TEXT, Workspace

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
# The reported shape of the rule (data/README.md "regimes/"): cold-wallet customer crypto, part of it by insurance.
DEFAULT_PRESET = "cold-wallet"
# The presets as a user reads them: the default first, then as the README's table lists them (never by file name)
PRESETS = {name: DATA / "regimes" / f"{name}.toml" for name in
           preset_order([p.stem for p in (DATA / "regimes").glob("*.toml")], first=DEFAULT_PRESET)}
REAL_PROFILES = DATA / "profiles-japan-2025.csv"      # Japan's exchanges, from their 2025 statements (the default)
ILLUSTRATIVE_PROFILES = DATA / "profiles.csv"         # invented exchanges, still selectable

# The quote grid's main columns and their widths in px (with the row marker, 33 px, they fit the page at 1280 px;
# the browser test clicks cells by them)
QUOTE_GRID_WIDTHS = {"status": 58, "quote_id": 80, "kind": 80, "counterparty": 122, "rating": 82, "layer_basis": 64,
                     "attachment": 100, "limit": 88, "rate_on_line": 108, "perils": 115}

# The assets table's columns and their widths in px (with the row marker they fit the page at 1280 px; the browser
# test clicks cells by them)
ASSET_GRID_WIDTHS = {"status": 50, "asset_id": 92, "kind": 128, "counterparty": 128, "rating": 72, "rate": 116,
                     "haircut": 92, "max_amount_jpy": 96, "days_to_pay": 108}
ASSETS_FILE = "assets-japan.csv"      # the bundled assets table (data/), where a preset allows reserve assets

# Session keys used by more than one function
BATCH_ERROR_WIDTHS = {"exchange": 130, "row": 60, "message": 700}  # px of the Batch page's error rows: in view at 1280
WS = "workspace"          # the one Workspace
LANG = "lang"             # "en" | "ja"
UNIT = "unit"             # a key of optimizer.i18n.UNITS
USD = "usd_rate"
MESSAGES = "messages"     # upload outcomes shown once: list of (kind, text)
SESSION_RESOLVER = "session_resolver"  # the KeptResolver of the session (common.session_resolver)


# ------------------------------------------------------------------ cached core calls

@st.cache_data(show_spinner=False)
def bundled():
    """The bundled inputs: real exchanges first, then the illustrative ones; quotes; regime presets; incidents."""
    profiles = load_profiles(REAL_PROFILES) + load_profiles(ILLUSTRATIVE_PROFILES)
    return (profiles, load_quotes(DATA / "quotes.csv"),
            {name: load_regime(path) for name, path in PRESETS.items()}, load_incidents(DATA / "incidents.csv"))


@st.cache_data(show_spinner=False)
def bundled_assets() -> tuple:
    """The bundled reserve assets (data/assets-japan.csv)."""
    return tuple(load_assets(DATA / ASSETS_FILE))


def allows_assets(regime) -> bool:
    """Whether a regime speaks of reserve assets ([eligibility.assets] set, some kind credited): the assets table
    then starts from the bundled assets; under any other preset it starts empty, so the answer is the one without
    assets."""
    shares = regime.eligibility.asset_shares
    return shares != AssetShares() and any(v > 0 for v in dataclasses.asdict(shares).values())


@st.cache_data(show_spinner=False)
def bundled_sheet(name: str) -> tuple:
    """A bundled quote sheet of data/ by file name."""
    return tuple(load_quotes(DATA / name))


# The bundled quote sheets: the workspace's name for each → (file in data/, words)
SHEETS = {"bundled": ("quotes.csv", N_("Illustrative quotes (15, invented)")),
          "quotes-japan.csv": ("quotes-japan.csv", N_("Japanese market, modelled on reported facts (12)")),
          "quotes-japan-state-excl.csv": ("quotes-japan-state-excl.csv",
                                          N_("Japanese market with state-backed exclusions (12)"))}


REAL_SHEET = "quotes-japan.csv"   # the sheet a real exchange starts on (SHEETS' name for it)


def bundled_sheets() -> dict[str, tuple]:
    """Every bundled quote sheet by the workspace's name for it (what a reopened scenario's edits compare with)."""
    return {name: bundled_sheet(file) for name, (file, _words) in SHEETS.items()}


def page_resolver() -> Resolver:
    """One model.Resolver for this page run: the re-solves of the analyses share its kept HiGHS models.

    A Resolver is not thread-safe and Streamlit runs each session in its own thread, so it is never shared between
    runs (the cached results are).
    """
    return Resolver()


@st.cache_data(show_spinner=False, max_entries=64)
def cached_solve(profile, quotes, regime, _kept: "KeptResolver | None" = None, assets: tuple = ()):
    """The headline solve (with the reserve assets of the assets table); on the session's kept models when `_kept`
    is given (not part of the cache key)."""
    if _kept is None:
        return solve(profile, quotes, regime, assets=assets)
    with _kept.lock:
        return solve(profile, quotes, regime, resolver=_kept.resolver, assets=assets)


MAX_KEPT_STRUCTURES = 16   # a session that has seen more quote-sheet structures than this starts a fresh Resolver


class KeptResolver:
    """One session's Resolver for the headline solve, so an edited premium re-solves the kept HiGHS model instead of
    building it again. With fast reruns a stopped run may still be inside a solve when the next run starts, so every
    use holds the lock (a Resolver is not thread-safe)."""

    def __init__(self) -> None:
        self.resolver, self.lock = Resolver(), threading.Lock()


def session_resolver() -> KeptResolver:
    ss = st.session_state
    kept = ss.get(SESSION_RESOLVER)
    if kept is None or kept.resolver.stats[REBUILD_NEW_STRUCTURE] > MAX_KEPT_STRUCTURES:
        kept = ss[SESSION_RESOLVER] = KeptResolver()
    return kept


@st.cache_data(show_spinner=False, max_entries=16)
def cached_compare(profile, quotes, assets: tuple = ()):
    """The exchange under every bundled regime preset (optimizer.compare): one row per preset."""
    from optimizer import compare
    return compare.compare_regimes(profile, quotes, [(name, load_regime(path)) for name, path in PRESETS.items()],
                                   assets=assets)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_frontier(profile, quotes, regime, param, assets: tuple = ()):
    return analysis.frontier(profile, quotes, regime, param, [i / 10 for i in range(11)], assets=assets)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_not_held(profile, quotes, regime, assets, _resolver: Resolver | None = None) -> list[dict]:
    """optimizer.reasons.not_held on this scenario: each reserve asset not held with the model's reason and, where
    price alone keeps it out, its break-even yield or fee."""
    base = solve(profile, quotes, regime, marginal=False, resolver=_resolver, assets=assets)
    return reasons.not_held(base, quotes, assets, resolver=_resolver, typed=True)


# The analyses below re-solve the model many times; `_resolver` (not part of the cache key) is the page run's
# page_resolver(), so those re-solves share its kept HiGHS models.

@st.cache_data(show_spinner=False, max_entries=16)
def cached_break_evens(profile, quotes, regime, _resolver: Resolver | None = None, assets: tuple = ()):
    return analysis.break_evens(profile, quotes, regime, resolver=_resolver, assets=assets)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_demand(profile, quotes, regime, quote_id, _resolver: Resolver | None = None, assets: tuple = ()):
    return analysis.demand_curve(profile, quotes, regime, quote_id, resolver=_resolver, assets=assets)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_not_bought(profile, quotes, regime, _resolver: Resolver | None = None, assets: tuple = ()) -> list[dict]:
    """optimizer.reasons.not_bought on this scenario (with its reserve assets): each quote not bought with the
    model's reason (verified by re-solving) and, where price alone keeps it out, its break-even rate on line."""
    base = solve(profile, quotes, regime, marginal=False, resolver=_resolver, assets=assets)
    return reasons.not_bought(base, quotes, resolver=_resolver, typed=True)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_more_limit(profile, quotes, regime, extra_jpy: float = 1e9,
                      _resolver: Resolver | None = None, assets: tuple = ()) -> dict[str, float]:
    """quote_id → annual saving (¥) if that quote offered `extra_jpy` more limit, everything else unchanged."""
    import dataclasses

    base = solve(profile, quotes, regime, marginal=False, resolver=_resolver, assets=assets)
    R = base.requirement_jpy
    out = {}
    for q in quotes:
        if not q.offered_to(profile.exchange_id) or base.credit.get(q.quote_id, 0.0) <= 0:
            continue
        more = q.limit + (extra_jpy / R if q.layer_basis == "requirement" and R > 0 else extra_jpy)
        changed = [dataclasses.replace(x, limit=more) if x.quote_id == q.quote_id else x for x in quotes]
        # More limit is an offer the exchange may decline: worth 0 when it would not lower the cost (e.g. the extra
        # limit lies above R and only raises the premium of the share it needs).
        out[q.quote_id] = max(0.0, base.annual_cost_jpy - solve(profile, changed, regime, marginal=False, check=False,
                                                                resolver=_resolver, assets=assets).annual_cost_jpy)
    return out


# ------------------------------------------------------------------ session

def lang() -> str:
    return st.session_state.get(LANG, "en")


def _(message: str) -> str:
    """Translate for the language of this session."""
    return translator(lang())(message)


def tr():
    """The translator of this session's language as a plain function (safe in format_func after the run)."""
    return translator(lang())


def ws() -> Workspace:
    """The session's Workspace; a new session starts on the first exchange with the sheet that fits it: a real
    exchange (one with a statutory statement) on the Japanese market's sheet, an invented one on the invented sheet."""
    ss = st.session_state
    if WS not in ss:
        profiles, _quotes, regimes, _incidents = bundled()
        name = DEFAULT_PRESET if DEFAULT_PRESET in regimes else next(iter(regimes))
        sheet = REAL_SHEET if profiles[0].statement_date else "bundled"
        ss[WS] = Workspace.new(profiles, bundled_sheet(SHEETS[sheet][0]), regimes, name, lang(), quote_sheet=sheet)
    return ss[WS]


def grid_key() -> str:
    """The session key of the quote grid (new whenever the grid is rebuilt from the cells)."""
    return f"quote_editor_{ws().version}"


def asset_grid_key() -> str:
    """The session key of the assets table (new whenever it is rebuilt from the cells)."""
    return f"asset_editor_{ws().asset_version}"


def absorb_grid_edits() -> None:
    """Fold the quote grid's and the assets table's pending edits into the workspace (called before anything reads
    the scenario)."""
    w = ws()
    w.absorb_edits(st.session_state.get(grid_key()))
    w.absorb_asset_edits(st.session_state.get(asset_grid_key()))


def unit() -> Unit:
    return Unit(st.session_state.get(UNIT, "¥m"), float(st.session_state.get(USD, 150.0)), lang())


_MD_ALWAYS = re.compile(r"([\\`*\[\]<>|~$])")


def md(value) -> str:
    """A value from a file or typed by a user (a name, an id, a file name, a message quoting them), to be put in
    Markdown (st.markdown, st.caption, st.error, st.table cells, labels and help): shown as the text it is, never
    as a link, an image, emphasis, a directive (:red[…]) or a heading. Markdown's own backslash escapes, only where
    the character could start something (`my_quotes.csv` and `25% of R` stay as they are in the source)."""
    s = re.sub(r"\s*[\r\n]+\s*", " ", str(value))
    s = _MD_ALWAYS.sub(r"\\\1", s)
    s = re.sub(r"_", lambda m: "_" if (0 < m.start() < len(s) - 1 and s[m.start() - 1].isalnum()
                                       and s[m.start() + 1].isalnum()) else r"\_", s)
    s = re.sub(r":(?=\S)", r"\\:", s)                 # http://…, :red[…], :material/…:
    # emoji and icon shortcodes (:smile:, :material/warning:) are replaced after the escapes are read: an invisible
    # word joiner after the colon keeps them as text
    s = re.sub(r"\\:(?=[\w+\-/]+\\?:)", "\\\\:\u2060", s)
    s = re.sub(r"(?i)\b(www)\.", r"\1\\.", s)        # www.host autolinks
    s = re.sub(r"&(?=#?\w+;)", r"\\&", s)              # entities
    s = re.sub(r"^(\s*)([#+=-]|\d+(?=[.)]))", lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2)[0].isdigit()
                                                                       else m.group(2) + "\\"), s)
    return s


def md_format(template: str, **params) -> str:
    """`template.format(**params)` with every parameter shown as text (md)."""
    return template.format(**{k: md(v) for k, v in params.items()})


def upload_rows_check(name: str, rows: int, limit: int, command: str) -> None:
    """InputError when an upload holds more profiles than the page takes: the limit and the command that runs more."""
    if rows > limit:
        from optimizer.inputs import InputError

        raise InputError(name, _("{n} rows; this page takes at most {max} (for more, use the command line: {command})"
                                 ).format(n=f"{rows:,}", max=f"{limit:,}", command=command))


def read_profiles_parquet(name: str, data: bytes, limit: int, command: str):
    """An uploaded profiles Parquet as an Arrow table of its profile columns, read only when its metadata says it
    has at most `limit` rows (a small file can hold millions of rows: 1 MB of repeated rows took 12 GB read
    whole). Unknown columns are refused from the schema, before any row is read; InputError for anything else."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from optimizer.inputs import PROFILE_COLUMNS, InputError, check_profile_columns

    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        rows, names = pf.metadata.num_rows, pf.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(name, f"not a Parquet file ({type(exc).__name__})") from None
    upload_rows_check(name, rows, limit, command)
    check_profile_columns(names, name)
    known = {c.name for c in PROFILE_COLUMNS}
    try:
        return pf.read(columns=[n for n in names if n in known])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(name, f"not a Parquet file ({type(exc).__name__})") from None


def tr_error(exc: Exception) -> str:
    """An EntryError, InputError or CellProblem in the session's language, as text for Markdown (what was typed or
    read from a file is escaped: md)."""
    key = getattr(exc, "key", None)
    if key is not None:
        return md_format(_(key), **getattr(exc, "params", {}))
    message = getattr(exc, "message", None)
    return md(_(message) if message else str(exc))


def styled(frame: pd.DataFrame, money=(), percent=(), fraction=()):
    """A table for st.dataframe: money with separators (whole yen in the ¥ unit, two decimals otherwise), blanks as
    "—" (never "None"). Columns without blanks stay numbers, so they sort as numbers; a column with blanks is shown
    as right-aligned text (the grid would print "None" for a missing number)."""
    u = unit()
    money_fmt = "{:,.0f}" if u.divisor == 1 else "{:,.2f}"
    formats = {c: money_fmt for c in money if c in frame.columns}
    formats.update({c: "{:.2f}" for c in percent if c in frame.columns})
    formats.update({c: "{:.1%}" for c in fraction if c in frame.columns})
    formats.update({c: "{:.4g}" for c in frame.columns if c not in formats
                    and pd.api.types.is_float_dtype(frame[c])})
    frame = frame.copy()
    for c, fmt in list(formats.items()):
        if frame[c].isna().any():
            frame[c] = frame[c].map(lambda v, f=fmt: "—" if pd.isna(v) else f.format(v + 0.0)).astype(object)
            del formats[c]
    return frame.style.format(formats, na_rep="—")


def fitted_table(frame, main, key: str, column_config: dict | None = None, **kwargs) -> None:
    """st.dataframe with the `main` columns only, all of them in view at 1280 px; a toggle adds the others (the
    table then scrolls inside itself, never the page)."""
    data = frame.data if hasattr(frame, "data") else frame
    main = [c for c in main if c in data.columns]
    rest = [c for c in data.columns if c not in main]
    more = st.toggle(_("Show all columns (+{n})").format(n=len(rest)), key=key) if rest else False
    st.dataframe(frame, hide_index=True, width="stretch", column_order=list(data.columns) if more else main,
                 column_config=column_config, **kwargs)


def right_aligned(frame) -> dict:
    """column_config aligning the text columns that hold numbers (see styled) to the right."""
    data = frame.data if hasattr(frame, "data") else frame
    return {c: st.column_config.TextColumn(alignment="right") for c in data.columns
            if data[c].dtype == object and data[c].map(lambda v: isinstance(v, str) and (v == "—" or
                                                                                         v.lstrip("-")[:1].isdigit())).all()}


# ------------------------------------------------------------------ words for the model's identifiers

def binding_words(binding, regime, assets=frozenset()) -> list[str]:
    """Binding limits in plain words: capacity:Q01 → "Q01 fully taken"; `assets`: the ids of the reserve assets
    held (their capacity is the most on offer, not a share)."""
    e = regime.eligibility
    out = []
    full = [md(b.partition(":")[2]) for b in binding if b.startswith("capacity:") and b.partition(":")[2] not in assets]
    held = [md(b.partition(":")[2]) for b in binding if b.startswith("capacity:") and b.partition(":")[2] in assets]
    if held:
        out.append(_("{a} held or committed in full (the most on offer)").format(a=", ".join(held)))
    if full:
        out.append((_("{q} fully taken (its largest share on offer)") if len(full) == 1 else
                    _("{q} fully taken (their largest shares on offer)")).format(q=", ".join(full)))
    for b in binding:
        name, _sep, arg = b.partition(":")
        if name == "capacity":
            continue
        elif name == "liquid_capital":
            out.append(_("all the liquid capital the exchange can set aside"))
        elif name == "min_cash_share":
            out.append(_("the minimum cash share ({p:.0f}% of R)").format(p=100 * e.min_cash_share))
        elif name == "max_insurance_share":
            out.append(_("the cap on insurance credit ({p:.0f}% of R)").format(p=100 * e.max_insurance_share))
        elif name == "max_derivative_share":
            out.append(_("the cap on parametric cover credit ({p:.0f}% of R)").format(p=100 * e.max_derivative_share))
        elif name == "max_counterparty_share":
            out.append(_("the cap on credit from one counterparty ({p:.0f}% of R): {name}").format(
                p=100 * e.max_counterparty_share, name=md(_(arg))))
        elif name.startswith("max_share."):  # [eligibility.assets] max_share.<kind>
            kind = name.removeprefix("max_share.")
            out.append(_("the cap on credit from {kind} ({p:.0f}% of R)").format(
                kind=_asset_kind(kind), p=100 * e.max_asset_share(kind)))
        else:
            out.append(md(b))
    return out


# Words of the data shown in tables, marked for the catalogue (translated where shown)
DATA_WORDS = (N_("insurance"), N_("derivative"), N_("cash"), N_("optimal"), N_("shortfall"), N_("error"),
              N_("external hack"), N_("insider theft"), N_("vendor compromise"), N_("max insurance share"))

PERIL_WORDS = PERIL_TEXT  # a peril's words (optimizer.scenario, where the quote grid shows them)


def _percent(x: float) -> str:
    return f"{100 * x:.2f}".rstrip("0").rstrip(".") + "%"


def reason_words(why_not, quote, solution, break_even_rol: float | None = None) -> tuple[str, str]:
    """The typed reasons of optimizer.reasons (`Reason` values) in the page's words, translated: (why it is not
    bought, what would change it), one entry of REASON_WORDS per code. No identifiers of the model reach the page."""
    e, R, L = solution.regime.eligibility, solution.requirement_jpy, lang()
    why, change = [], []
    for r in why_not:
        words = REASON_WORDS.get(r.code)
        if words is None:  # a reason this page has no words for yet: shown as the model gives it, never dropped
            why.append(_(r.words()))
            continue
        because, fix = words(r, quote, e, R, L, solution, break_even_rol)
        why.append(because)
        if fix:
            change.append(fix)
    return _("; ").join(why) or "—", (_(" and ").join(change) if change else "—")


def _dearer(r, quote, e, R, L, solution, break_even_rol):
    rol = r.params[0] if r.params else break_even_rol
    if rol is not None and math.isfinite(rol) and rol > 0:
        premium = dataclasses.replace(quote, rate_on_line=rol).premium_jpy(R, solution.profile.premium_multiplier)
        return (_("dearer than cash and the other cover for what it adds"),
                _("a rate on line below {p} (a premium below {premium} a year for the whole layer)").format(
                    p=f"{100 * rol:.2f}%", premium=fit(premium, L)))
    return _("dearer than cash and the other cover for what it adds"), _("a lower price")


def _perils(r) -> str:
    return ", ".join(_(PERIL_WORDS.get(p, p)) for p in r.params[0])


# code of optimizer.reasons.Reason → (reason, quote, eligibility, R, language, solution, break-even) → (why, change)
REASON_WORDS = {
    "not_offered": lambda r, q, e, R, L, *_a: (_("offered only to {exchange}").format(exchange=q.exchange_id),
                                               _("an offer to this exchange")),
    "aggregate_used_up": lambda *_a: (
        _("its annual limit is used up by the first loss: with no reinstatement it pays nothing for the second loss "
          "the regime asks for"),
        _("one reinstatement of the limit")),
    "pays_late": lambda r, q, e, *_a: (
        _("pays {n} days after a loss; the regime credits only cover that pays within {m} days").format(
            n=f"{r.params[0]:g}", m=f"{r.params[1]:g}"),
        _("cover that pays within {m} days").format(m=f"{r.params[1]:g}")),
    "not_licensed": lambda *_a: (_("not licensed in Japan and not fronted: the regime gives it no credit"),
                                 _("a licensed fronting insurer")),
    "rating_below_min": lambda r, q, e, *_a: (
        _("not eligible: rating {r} is below the regime's minimum {m}").format(r=q.rating, m=e.min_rating),
        _("a counterparty rated {m} or better").format(m=e.min_rating)),
    "rating_credit_zero": lambda r, q, *_a: (_("the regime gives no credit for cover rated {r}").format(r=q.rating),
                                             _("a better-rated counterparty")),
    "derivative_factor_zero": lambda *_a: (_("the regime gives parametric cover no credit"),
                                           _("a regime that credits parametric cover")),
    "state_backed_excluded": lambda *_a: (_("excludes state-backed attacks, which the regime does not credit"),
                                          _("cover without the state-backed exclusion")),
    "attaches_above_r": lambda r, q, e, R, L, *_a: (
        _("attaches at {a}, above the requirement R = {r}: it never pays a loss up to R").format(
            a=fit(q.attachment_jpy(R), L), r=fit(R, L)), _("a lower attachment")),
    "no_share_on_offer": lambda *_a: (_("no share of it is on offer"), _("a share on offer")),
    "no_credit_allowed": lambda r, *_a: {
        "max_insurance_share": (_("the regime allows insurance no credit (its cap is 0% of R)"),
                                _("a regime that credits insurance")),
        "max_derivative_share": (_("the regime allows parametric cover no credit (its cap is 0% of R)"),
                                 _("a regime that credits parametric cover"))}[r.params[0]],
    "cap_binds": lambda r, q, e, *_a: {
        "max_insurance_share": lambda: (
            _("the cap on insurance credit ({p} of R) is used up by cheaper cover").format(
                p=_percent(e.max_insurance_share)), _("a higher cap on insurance credit")),
        "max_derivative_share": lambda: (
            _("the cap on parametric cover credit ({p} of R) is used up by cheaper cover").format(
                p=_percent(e.max_derivative_share)), _("a higher cap on parametric cover credit")),
        "min_cash_share": lambda: (
            _("the minimum cash share ({p} of R) already funds what it would cover").format(
                p=_percent(e.min_cash_share)), _("a lower minimum cash share")),
    }[r.params[0]](),
    "counterparty_cap_binds": lambda r, q, e, *_a: (
        _("{name} already has the most credit one counterparty may give ({p} of R)").format(
            name=q.counterparty, p=_percent(e.max_counterparty_share)), _("a higher cap per counterparty")),
    "does_not_cover": lambda r, *_a: (
        _("does not cover {perils}, which the regime requires: cash must fund those losses anyway").format(
            perils=_perils(r)), _("cover for {perils}").format(perils=_perils(r))),
    "minimum_line": lambda r, q, *_a: (
        _("its smallest line ({p}) is more than the mix needs").format(p=_percent(q.min_share)),
        _("a smaller minimum line")),
    "dearer": _dearer,
    "dearer_below": _dearer,
    "adds_nothing": lambda *_a: (
        _("adds nothing the mix needs: not bought even free, covering every peril, with no cap"), None),
    # a reserve asset not held (optimizer.obstacles.asset_reasons; `q` is then the asset)
    "asset_no_credit_allowed": lambda r, *_a: (
        _("the regime allows {kind} no credit (its cap is 0% of R)").format(kind=_asset_kind(r.params[0])),
        _("a regime that credits {kind}").format(kind=_asset_kind(r.params[0]))),
    "no_amount_on_offer": lambda *_a: (_("no amount of it is on offer"), _("an amount on offer")),
    "asset_cap_binds": lambda r, q, e, *_a: (
        _("the cap on credit from {kind} ({p} of R) is used up by cheaper ones").format(
            kind=_asset_kind(r.params[0]), p=_percent(e.max_asset_share(r.params[0]))),
        _("a higher cap on credit from {kind}").format(kind=_asset_kind(r.params[0]))),
    "liquid_capital_binds": lambda *_a: (
        _("the exchange's liquid capital is already tied up in cash and other held assets"),
        _("more liquid capital")),
    "asset_dearer": lambda *_a: (_("dearer than cash and the other cover for what it adds"), _("a better price")),
    "dearer_yield_above": lambda r, *_a: (
        _("dearer than cash and the other cover for what it adds"),
        _("a yield above {p}").format(p=f"{100 * r.params[0]:.2f}%")),
    "dearer_fee_below": lambda r, *_a: (
        _("dearer than cash and the other cover for what it adds"),
        _("a fee below {p} a year").format(p=f"{100 * r.params[0]:.2f}%")),
    "asset_adds_nothing": lambda *_a: (
        _("adds nothing the mix needs: not held even free, with no cap"), None),
}


ASSET_KIND_WORDS = {"deposit": N_("bank deposits"), "jgb": N_("Japanese government bonds"),
                    "bank_guarantee": N_("bank guarantees"), "credit_line": N_("committed credit lines"),
                    "parent_guarantee": N_("parent-company guarantees")}
# one asset of a kind, as the assets table's kind cell says it
ASSET_KIND_CELL = {"deposit": N_("bank deposit"), "jgb": N_("JGB"), "bank_guarantee": N_("bank guarantee"),
                   "credit_line": N_("committed line"), "parent_guarantee": N_("parent guarantee")}


def _asset_kind(kind: str) -> str:
    """A reserve asset's kind in words (optimizer.domain.ASSET_KINDS)."""
    return _(ASSET_KIND_WORDS[kind]) if kind in ASSET_KIND_WORDS else kind


def kind_words(kind: str) -> str:
    """A kind of the mix table (cash, insurance, derivative, or a reserve asset's kind) in the page's words."""
    return _(ASSET_KIND_CELL[kind]) if kind in ASSET_KIND_CELL else _(kind)


def not_bought_reasons(solution, quotes, resolver: Resolver | None = None) -> pd.DataFrame:
    """One row per quote of the sheet that is not in the mix: quote, reason in words, what would change it.

    The reasons are the model's (optimizer.reasons.not_bought: each obstacle found by re-solving without it, the
    break-even rate where price alone keeps a quote out); this page only words and translates them.
    """
    by_id = {q.quote_id: q for q in quotes}
    rows = []
    for item in cached_not_bought(solution.profile, tuple(quotes), solution.regime, _resolver=resolver,
                                  assets=tuple(solution.offered_assets)):
        why, change = reason_words(item["reasons"], by_id[item["quote_id"]], solution, item.get("break_even_rol"))
        rows.append({"quote": item["quote_id"], "reason": why, "what would change it": change})
    return pd.DataFrame(rows, columns=["quote", "reason", "what would change it"])


def not_held_reasons(solution, quotes, assets, resolver: Resolver | None = None) -> pd.DataFrame:
    """One row per reserve asset not in the mix: asset, reason in words, what would change it (the model's reasons,
    optimizer.reasons.not_held, worded as for quotes)."""
    by_id = {a.asset_id: a for a in assets}
    rows = []
    for item in cached_not_held(solution.profile, tuple(quotes), solution.regime, tuple(assets), _resolver=resolver):
        why, change = reason_words(item["reasons"], by_id[item["asset_id"]], solution, item.get("break_even"))
        rows.append({"quote": item["asset_id"], "reason": why, "what would change it": change})
    return pd.DataFrame(rows, columns=["quote", "reason", "what would change it"])


def show_reasons(frame: pd.DataFrame, key: str = "reasons", first: str = "quote") -> None:
    """The reasons as a static table whose text wraps (a grid would cut a sentence at the column's edge); its cells
    are Markdown, so the names in them are escaped (md)."""
    shown = frame.map(md).rename(columns={"quote": _(first), "reason": _("why not"),
                                  "what would change it": _("what would change it")})
    with st.container(key=key):
        st.table(shown.set_index(_(first)))


def not_bought_ids(solution, quotes) -> list[str]:
    """Quotes offered to the exchange that the mix does not buy (no re-solve)."""
    bought = {line.quote.quote_id for line in solution.lines}
    return [q.quote_id for q in quotes if q.quote_id not in bought and q.offered_to(solution.profile.exchange_id)]


# ------------------------------------------------------------------ the sentence at the top

def answer_sentence(s) -> str:
    """One plain sentence: the cheapest compliant mix, its cost, and the saving against all cash."""
    L = lang()
    n = len(s.lines)
    parts = [fit(s.cash_reserve_jpy, L) + " " + _("cash")] if s.cash_reserve_jpy > 0 else []
    parts += [fit(amount, L) + " " + _asset_kind(kind) for kind, amount in holdings_by_kind(s).items()]
    if n:
        parts.append((_("1 layer") if n == 1 else _("{n} layers").format(n=n)))
    mix = " + ".join(parts) or _("nothing")
    if s.status == "shortfall":
        return _("The requirement cannot be met: even the best mix ({mix}) leaves {short} of loss unfunded; "
                 "it costs {cost} a year.").format(mix=mix, short=fit(s.shortfall_jpy, L), cost=fit(s.annual_cost_jpy, L))
    text = _("Cheapest compliant mix: {mix} → {cost} a year").format(mix=mix, cost=fit(s.annual_cost_jpy, L))
    if s.all_cash_cost_jpy:
        pct = 100 * (s.savings_jpy or 0.0) / s.all_cash_cost_jpy
        # compared with the cost of holding R in cash (what the Savings metric compares), not with R itself
        text += _(", {pct:.0f}% less than holding all of R ({cash}) in cash, which costs {carry} a year").format(
            pct=pct, cash=fit(s.requirement_jpy, L), carry=fit(s.all_cash_cost_jpy, L)) \
            if pct >= 0.5 else _(", the same as holding {cash} in cash").format(cash=fit(s.requirement_jpy, L))
    elif s.all_cash_cost_jpy is None:
        text += _(" (all cash is not an option: R exceeds the liquid capital)")
    return text + ("。" if L == "ja" else ".")


def holdings_by_kind(s) -> dict[str, float]:
    """The reserve assets held or committed, by kind (optimizer.domain.ASSET_KINDS order), yen > 0 only."""
    from optimizer.domain import ASSET_KINDS

    out = {k: sum(h.amount_jpy for h in s.holdings if h.asset.kind == k) for k in ASSET_KINDS}
    return {k: v for k, v in out.items() if v > 0}


def assets_saving_words(s, base) -> str:
    """What the reserve assets save: `s` solved with them, `base` the same scenario solved without them (cash and
    cover alone). A saving only when both comply; otherwise what the assets change in the shortfall."""
    L = lang()
    if base.status == "shortfall" and s.status != "shortfall":
        return _("Without the reserve assets the requirement cannot be met ({short} of loss unfunded); with them "
                 "the mix complies at {cost} a year.").format(short=fit(base.shortfall_jpy, L),
                                                              cost=fit(s.annual_cost_jpy, L))
    if s.status == "shortfall":
        return _("Even with the reserve assets the requirement cannot be met: they cut the unfunded loss from "
                 "{before} to {after}.").format(before=fit(base.shortfall_jpy, L), after=fit(s.shortfall_jpy, L))
    saving = base.annual_cost_jpy - s.annual_cost_jpy
    if saving < 0.5:
        return _("The reserve assets save nothing: cash and cover alone cost the same, {cost} a year.").format(
            cost=fit(base.annual_cost_jpy, L))
    return _("The reserve assets save {saving} a year against cash and cover alone ({base} a year without them, "
             "{cost} with them).").format(saving=fit(saving, L), base=fit(base.annual_cost_jpy, L),
                                          cost=fit(s.annual_cost_jpy, L))


def assets_saving(s, base) -> float | None:
    """The annual saving of the reserve assets in yen, when it is one (both mixes comply), else None."""
    if s.status == "shortfall" or base.status == "shortfall":
        return None
    return base.annual_cost_jpy - s.annual_cost_jpy


def assets_answer(s, base) -> None:
    """The reserve assets in the answer: what is held and committed, by kind, and what they save against cash and
    cover alone (`base`: the same scenario solved without them)."""
    u = unit()
    L = lang()
    kinds = holdings_by_kind(s)
    used = _(", ").join(f"{_asset_kind(k)} {fit(v, L)}" for k, v in kinds.items()) or _("none")
    st.markdown(_("**Reserve assets used:** {used}.").format(used=used) + " " + assets_saving_words(s, base))
    c = st.columns(4)
    c[0].metric(_("Held in deposits and JGBs"), u(s.reserve_assets_jpy),
                help=_("Reserve assets the exchange holds: they tie up capital as cash does, and earn their yield"))
    c[1].metric(_("Committed by banks and parents"), u(s.committed_jpy),
                help=_("Guarantees and lines promised to pay: no capital is tied up; their fee is paid every year"))
    saving = assets_saving(s, base)
    c[2].metric(_("Saved by the reserve assets"), "—" if saving is None else u(saving),
                help=_("Annual cost with cash and cover alone, less the annual cost with the reserve assets "
                       "(both solved)"))
    c[3].metric(_("Cost without the reserve assets"), u(base.annual_cost_jpy),
                help=_("The cheapest compliant mix of cash and cover alone"))


def headline_slot():
    """A container at the top of a page that stays in view while scrolling (CSS .st-key-headline in app.py)."""
    return st.container(key="headline")


def headline(s, details=None) -> None:
    """The answer first: the sentence and the numbers (drawn into headline_slot()); R and what binds go into
    `details` (a container below the slot, so the part that stays in view is short)."""
    u = unit()
    with st.container():
        st.markdown(f"**{answer_sentence(s)}**")
        c = st.columns(4)
        c[0].metric(_("Annual cost"), u(s.annual_cost_jpy), help=_("Cash carry plus premiums and fees, per year"))
        if s.savings_jpy is None:
            c[1].metric(_("Savings vs all cash"), "—", help=_("All cash is not an option: R exceeds liquid capital"))
        else:
            share = s.savings_jpy / s.all_cash_cost_jpy if s.all_cash_cost_jpy else 0.0
            c[1].metric(_("Savings vs all cash"), u(s.savings_jpy), _("{p:.1f}% of {c}").format(
                p=100 * share, c=u(s.all_cash_cost_jpy)), delta_color="off")
        c[2].metric(_("Cash reserve"), u(s.cash_reserve_jpy), help=_("Cash the exchange sets aside"))
        c[3].metric(_("Shortfall"), u(s.shortfall_jpy), help=_("Largest loss up to R that nothing funds"),
                    delta=None if s.shortfall_jpy == 0 else _("cannot comply"), delta_color="inverse")
    mc = s.marginal_cost_per_jpy
    words = binding_words(s.binding, s.regime, {h.asset.asset_id for h in s.holdings})
    with (details if details is not None else st.container()):
        st.caption(_("Requirement R = **{r}** under *{regime}*. Marginal cost of R: {mc} a year per yen.").format(
            r=u(s.requirement_jpy), regime=md(_(s.regime.name)), mc="—" if mc is None else f"{100 * mc:.2f}%")
            + ((" " + _("What holds the answer where it is: {limits}.").format(limits="; ".join(words))) if words else ""))


STALE = N_("Stale: the inputs changed since this run (profiles, regime or quote sheet). Run the batch again to "
           "update.")


def stale_warning(message: str = STALE) -> None:
    """Results of a run whose inputs changed since: said above them (the Batch and Market pages)."""
    st.warning(_(message), icon=":material/history:")


def overrides_note(w) -> str:
    """" + 2 overrides" beside the regime's name when the user changed its parameters, else ""."""
    n = len(w.overrides)
    return "" if not n else " + " + (_("1 override") if n == 1 else _("{n} overrides").format(n=n))


def context_bar() -> None:
    """Which exchange, regime and quote sheet are in use, and whether they differ from the bundled ones."""
    w = ws()
    diff = w.differs()
    p = w.profile
    exchange = _("own figures") if w.exchange_id is None else md(_(p.display_name) if p else w.exchange_id)
    mark = lambda changed: " ✎ " + _("changed") if changed else " · " + _("bundled")  # noqa: E731
    over = overrides_note(w)
    sheet = _("bundled") if w.quote_sheet == "bundled" else md(w.quote_sheet)
    n_changed = len(w.changed_rows())
    quotes = _("{name}, {n} quotes").format(name=sheet, n=len(w.last_quotes)) + (
        _(", ") + _("{n} edited").format(n=n_changed) if n_changed else "")
    n_assets = len(w.changed_assets())
    assets = (_("none") if not w.last_assets and not w.asset_text.shape[0] else
              (_("{name}, 1 asset") if len(w.last_assets) == 1 else _("{name}, {n} assets")).format(
                  name=md(w.asset_sheet) if w.asset_sheet else _("own table"), n=len(w.last_assets))
              + (_(", ") + _("{n} edited").format(n=n_assets) if n_assets else ""))
    with st.container(key="context"):
        st.caption(" │ ".join([
            f":material/account_balance: {_('Exchange')}: **{exchange}**{mark(diff['exchange'])}",
            f":material/gavel: {_('Regime')}: **{md(_(w.base_regime.name))}**{over}{mark(diff['regime'])}",
            f":material/request_quote: {_('Quote sheet')}: **{quotes}**{mark(diff['quotes'])}",
            f":material/savings: {_('Reserve assets')}: **{assets}**"
            + (mark(w.assets_differ()) if w.asset_sheet or w.last_assets else ""),
        ]))
        if w.problems:
            st.caption(":material/warning: " + _("{n} quote cells need attention: results use the last valid quote sheet.").format(
                n=len(w.problems)))
        if w.asset_problems:
            st.caption(":material/warning: " + _("{n} asset cells need attention: results use the last valid assets.").format(
                n=len(w.asset_problems)))
