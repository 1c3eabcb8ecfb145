"""One assumption at a time: re-solve every exchange with each assumption of data/assumptions.toml at its low and at
its high value (everything else at base) and show how the total annual cost, the insurance cover bought and who
cannot comply move, in tornado order (the widest swing in total cost first).

Every solve goes through `batch.run` (each exchange solved alone, as `batch` does): no LP of its own.

A loss-model assumption (`loss_model.<key>`, or `loss_model.file`: another loss-model file, such as the heavy tail)
never changes the cheapest mix; when the inputs carry a loss model, its rows get risk figures instead: the sum over
the exchanges of the cheapest mix's expected retained loss and of its TVaR, simulated at one seed under the loss
model with the assumption at low and at high (`risk.RiskColumns`, as `batch --risk`).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .ceilings import cap_by_capacity
from .domain import ExchangeProfile, Quote, Regime
from .inputs import InputError, load_quotes, read_text_file
from .regime import SWEEPABLE, check_parameter, with_parameter

TARGET_KINDS = ("regime", "quotes", "profiles", "capacity", "loss_model")
MODES = ("set", "shift", "scale")
QUOTE_COLUMNS = ("rate_on_line", "max_limit_jpy", "fronting_fee_rate")
PROFILE_COLUMNS = ("cost_of_capital", "reserve_yield", "premium_multiplier", "hot_wallet_share", "customer_assets_jpy")
_KEYS = {"name", "label", "where", "target", "mode", "base", "low", "high", "quotes", "exchanges", "counterparties",
         "quote_sheet", "source"}
_REQUIRED = ("name", "label", "where", "target", "mode", "base", "low", "high", "source")
# The loss model's top-level numbers an assumption may move (`loss_model.<key>`); `loss_model.file` swaps the file.
LOSS_MODEL_KEYS = ("events_per_year", "state_backed_share", "price_volatility", "payout_lag_days", "basis_volatility")
LOSS_MODEL_FILE = "file"


@dataclass(frozen=True)
class Assumption:
    """One entry of assumptions.toml (see the file's header for each key)."""

    name: str
    label: str
    where: str
    target: str
    mode: str
    base: float | tuple[float, ...] | str
    low: float | str         # text only for loss_model.file: a file name in the data's loss-models/
    high: float | str
    source: str
    quotes: tuple[str, ...] | None = None
    exchanges: tuple[str, ...] | None = None
    counterparties: tuple[str, ...] | None = None
    quote_sheet: str | None = None

    @property
    def kind(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.target.split(".", 1)[1] if "." in self.target else ""

    @property
    def enters_solve(self) -> bool:
        """False for the loss model: it changes risk figures, never the cheapest compliant mix."""
        return self.kind != "loss_model"


def _bad(source: str, message: str, row: int, key: str) -> InputError:
    """An error in the row-th [[assumption]] table (counted from 1), at `key`."""
    return InputError(source, message, column=f"[[assumption]] {row}, {key}")


def _number(raw: Any, source: str, row: int, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise _bad(source, f"expected a finite number, got {raw!r}", row, key)
    return float(raw)


def _file_name(raw: Any, source: str, row: int, key: str) -> str:
    if not isinstance(raw, str) or not raw.strip().endswith(".toml") or "/" in raw or "\\" in raw:
        raise _bad(source, f"expected a loss-model file name in loss-models/ (such as \"japan.toml\"), got {raw!r}",
                   row, key)
    return raw.strip()


def _names(raw: Any, source: str, row: int, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x.strip() for x in raw):
        raise _bad(source, "expected a non-empty list of names", row, key)
    return tuple(x.strip() for x in raw)


def assumptions_from_text(text: str, source: str = "assumptions") -> list[Assumption]:
    """assumptions.toml text → Assumption list; InputError names the file, the entry (row) and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(source, f"not valid TOML: {exc}") from None
    unknown = set(data) - {"name", "assumption"}
    if unknown:
        raise InputError(source, "unknown key; expected name and [[assumption]] tables", column=sorted(unknown)[0])
    entries = data.get("assumption")
    if not isinstance(entries, list) or not entries:
        raise InputError(source, "expected at least one [[assumption]] table", column="assumption")
    out: list[Assumption] = []
    seen: set[str] = set()
    for row, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise _bad(source, "expected a table", row, "assumption")
        for key in entry:
            if key not in _KEYS:
                raise _bad(source, f"unknown key (expected some of: {', '.join(sorted(_KEYS))})", row, key)
        for key in _REQUIRED:
            if key not in entry:
                raise _bad(source, "a value is required here", row, key)
        for key in ("name", "label", "where", "target", "mode", "source"):
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise _bad(source, "expected text", row, key)
        name = entry["name"].strip()
        if name in seen:
            raise _bad(source, f"the assumption {name!r} is named twice; expected each once", row, "name")
        seen.add(name)
        if not entry["source"].startswith(("SOURCED", "ASSUMPTION")):
            raise _bad(source, "expected the source to start with SOURCED or ASSUMPTION", row, "source")
        mode = entry["mode"]
        if mode not in MODES:
            raise _bad(source, f"expected one of {', '.join(MODES)}, got {mode!r}", row, "mode")
        target = entry["target"].strip()
        kind, _, key = target.partition(".")
        if kind not in TARGET_KINDS:
            raise _bad(source, f"expected a target starting with one of {', '.join(TARGET_KINDS)}, got "
                             f"{target!r}", row, "target")
        allowed = {"regime": tuple(SWEEPABLE), "quotes": QUOTE_COLUMNS, "profiles": PROFILE_COLUMNS}.get(kind)
        if kind == "capacity" and key:
            raise _bad(source, "expected target = \"capacity\" (the counterparties say whose)", row, "target")
        if allowed is not None and key not in allowed:
            raise _bad(source, f"expected {kind}.<one of {', '.join(allowed)}>, got {target!r}", row, "target")
        if kind == "loss_model" and key not in (*LOSS_MODEL_KEYS, LOSS_MODEL_FILE):
            raise _bad(source, f"expected loss_model.<one of {', '.join((*LOSS_MODEL_KEYS, LOSS_MODEL_FILE))}>, got "
                       f"{target!r}", row, "target")
        if kind == "capacity" and ("counterparties" not in entry or mode != "set"):
            raise _bad(source, "a capacity assumption needs counterparties and mode set", row, "counterparties")
        base = entry["base"]
        if target == f"loss_model.{LOSS_MODEL_FILE}":
            if mode != "set":
                raise _bad(source, f"expected mode set for another loss-model file, got {mode!r}", row, "mode")
            base, low, high = (_file_name(entry[k], source, row, k) for k in ("base", "low", "high"))
        else:
            base = tuple(_number(b, source, row, "base") for b in base) if isinstance(base, list) else \
                _number(base, source, row, "base")
            low, high = (_number(entry[k], source, row, k) for k in ("low", "high"))
        if kind == "regime" and mode == "set":
            for k, v in (("low", low), ("high", high)):
                try:
                    check_parameter(key, v, source)
                except InputError as exc:
                    raise _bad(source, exc.message, row, k) from None
        if kind == "capacity" and min(low, high) < 0:
            raise _bad(source, "expected a capacity ≥ 0", row, "low" if low < 0 else "high")
        out.append(Assumption(
            name=name, label=entry["label"].strip(), where=entry["where"].strip(), target=target, mode=mode,
            base=base, low=low, high=high, source=entry["source"].strip(),
            quotes=_names(entry["quotes"], source, row, "quotes") if "quotes" in entry else None,
            exchanges=_names(entry["exchanges"], source, row, "exchanges") if "exchanges" in entry else None,
            counterparties=_names(entry["counterparties"], source, row, "counterparties")
            if "counterparties" in entry else None,
            quote_sheet=entry["quote_sheet"].strip() if isinstance(entry.get("quote_sheet"), str) else None))
        if "quote_sheet" in entry and not isinstance(entry["quote_sheet"], str):
            raise _bad(source, "expected a file name", row, "quote_sheet")
    return out


def load_assumptions(path: str | Path) -> list[Assumption]:
    return assumptions_from_text(read_text_file(path, "an assumptions file (see data/assumptions.toml)"), str(path))


# ------------------------------------------------------------------ applying one assumption

def _moved(value: float, mode: str, by: float) -> float:
    return by if mode == "set" else value + by if mode == "shift" else value * by


@dataclass
class Inputs:
    """What a run solves: the exchanges, the quote sheet, the regime and the capacity (None: no capping)."""

    profiles: list[ExchangeProfile]
    quotes: list[Quote]
    regime: Regime
    capacity: dict[str, float] | None = None
    data_dir: Path = field(default_factory=lambda: Path("data"))
    loss_model: Any = None   # loss_model.LossModel: gives the loss-model assumptions risk figures (None: "risk only")
    scenarios: int = 100_000
    seed: int = 2026
    level: float = 0.99


def apply(a: Assumption, value: float, inputs: Inputs, source: str = "assumptions") -> Inputs:
    """The inputs with assumption `a` at `value` (everything else unchanged). Names a row that is not found."""
    profiles, quotes, regime = list(inputs.profiles), list(inputs.quotes), inputs.regime
    capacity = dict(inputs.capacity) if inputs.capacity is not None else None
    if a.quote_sheet:
        quotes = load_quotes(inputs.data_dir / a.quote_sheet)
    if a.kind == "regime":
        current = float(getattr(getattr(regime, SWEEPABLE[a.key]), a.key))
        regime = with_parameter(regime, a.key, _moved(current, a.mode, value))
    elif a.kind == "quotes":
        wanted = set(a.quotes) if a.quotes else {q.quote_id for q in quotes}
        missing = wanted - {q.quote_id for q in quotes}
        if missing:
            raise InputError(source, f"{a.name}: no quote {sorted(missing)[0]!r} in the quote sheet", column="quotes")
        quotes = [dataclasses.replace(q, **{a.key: _moved(getattr(q, a.key), a.mode, value)})
                  if q.quote_id in wanted else q for q in quotes]
        for q in quotes:
            v = getattr(q, a.key)
            if q.quote_id in wanted and not (v > 0 if a.key == "max_limit_jpy" else 0 <= v <= (1 if a.key ==
                                             "fronting_fee_rate" else 10)):
                raise InputError(source, f"{a.name} at {value:g} gives quote {q.quote_id} {a.key} = {v:g}; expected "
                                 "a value the quote sheet would accept", column=a.target)
    elif a.kind == "profiles":
        wanted = set(a.exchanges) if a.exchanges else {p.exchange_id for p in profiles}
        missing = wanted - {p.exchange_id for p in profiles}
        if missing:
            raise InputError(source, f"{a.name}: no exchange {sorted(missing)[0]!r} in the profiles",
                             column="exchanges")
        profiles = [dataclasses.replace(p, **{a.key: _moved(getattr(p, a.key), a.mode, value)})
                    if p.exchange_id in wanted else p for p in profiles]
        for p in profiles:
            if p.exchange_id in wanted:
                _check_profile(a, value, p, source)
    elif a.kind == "capacity":
        capacity = dict(capacity or {})
        for cp in a.counterparties or ():
            capacity[cp] = value
    return dataclasses.replace(inputs, profiles=profiles, quotes=quotes, regime=regime, capacity=capacity)


def moved_loss_model(a: Assumption, value: float | str, inputs: Inputs, source: str = "assumptions"):
    """The inputs' loss model with loss-model assumption `a` at `value` (another file, read from the data's
    loss-models/, or a top-level number moved); InputError names the assumption when the result is not a model the
    loss-model file would accept."""
    from .loss_model import load_loss_model, loss_model_from_dict

    if a.key == LOSS_MODEL_FILE:
        path = inputs.data_dir / "loss-models" / str(value)
        if not path.is_file():
            raise InputError(source, f"{a.name}: no loss-model file {path}; expected a file in "
                             f"{inputs.data_dir / 'loss-models'}", column=a.target)
        return load_loss_model(path)
    lm = inputs.loss_model
    moved = dataclasses.replace(lm, **{a.key: _moved(float(getattr(lm, a.key)), a.mode, float(value))})
    # the file's own rules (bounds, the price move the Monte Carlo can average) on the moved numbers
    check = {k: getattr(moved, k) for k in LOSS_MODEL_KEYS}
    check["event_type"] = [{k: v for k, v in dataclasses.asdict(t).items()
                            if k in ("name", "probability", "peril", "base", "severity", "cap")
                            or (t.severity == "uniform" and k in ("low", "high"))
                            or (t.severity == "lognormal" and k in ("median", "p90"))
                            or (t.severity == "pareto" and k in ("median", "alpha"))} for t in lm.event_types]
    try:
        loss_model_from_dict(check, source)
    except InputError as exc:
        raise InputError(source, f"{a.name} at {value:g} gives {exc.column} outside its bounds: {exc.message}",
                         column=a.target) from None
    return moved


def _check_profile(a: Assumption, value: float, p: ExchangeProfile, source: str) -> None:
    """A moved profile must still be one the profiles file would accept (inputs.parse_profile's rules)."""
    v = getattr(p, a.key)
    fraction = a.key in ("cost_of_capital", "reserve_yield", "hot_wallet_share")
    ok = (0 <= v <= 1) if fraction else (0 <= v <= 10 if a.key == "premium_multiplier" else v > 0)
    if not ok or p.reserve_yield > p.cost_of_capital:
        why = "reserve_yield above cost_of_capital" if ok else f"{a.key} = {v:g}"
        raise InputError(source, f"{a.name} at {value:g} gives exchange {p.exchange_id} {why}; expected a profile "
                         "the profiles file would accept", column=a.target)


# ------------------------------------------------------------------ solving and the table

@dataclass(frozen=True)
class Outcome:
    """What one run of all the exchanges gives."""

    annual_cost_jpy: float
    insurance_cover_jpy: float
    cannot_comply: tuple[str, ...]   # the exchanges in shortfall, in file order
    errors: tuple[str, ...] = ()
    # with a loss model: sums over the exchanges of each cheapest mix's simulated figures (None: not simulated)
    expected_retained_jpy: float | None = None
    tvar_jpy: float | None = None          # Σ of each exchange's TVaR (an upper bound on the market's)
    loss_model: str | None = None

    def to_dict(self) -> dict:
        out = {"annual_cost_jpy": self.annual_cost_jpy, "insurance_cover_jpy": self.insurance_cover_jpy,
               "cannot_comply": list(self.cannot_comply), "errors": list(self.errors)}
        if self.loss_model is not None:
            out.update(expected_retained_jpy=self.expected_retained_jpy, tvar_jpy=self.tvar_jpy,
                       loss_model=self.loss_model)
        return out


def solve_all(inputs: Inputs, workers: int = 1, loss_model: Any = None) -> Outcome:
    """Every exchange solved alone (`batch.run`), with quotes capped by the capacity when there is one; with a loss
    model, also each mix's simulated expected retained loss and TVaR (`batch --risk`), summed."""
    from . import batch
    from .risk import RiskColumns

    quotes = inputs.quotes
    if inputs.capacity is not None:
        quotes, _caps = cap_by_capacity(quotes, inputs.capacity)
    risk = None if loss_model is None else RiskColumns(loss_model, inputs.scenarios, inputs.seed, inputs.level)
    result = batch.run(inputs.profiles, quotes, inputs.regime, None, workers=workers, risk=risk)
    frame = result.results
    summary = result.summary
    simulated = {} if risk is None else {
        "expected_retained_jpy": float(frame["expected_retained_jpy"].sum()),
        "tvar_jpy": float(frame["tvar_jpy"].sum()), "loss_model": loss_model.name}
    return Outcome(float(summary["totals"]["annual_cost_jpy"]),
                   float(summary["cover_demand"]["insurance_cover_jpy"]),
                   tuple(frame.loc[frame["status"] == "shortfall", "exchange_id"]),
                   tuple(frame.loc[frame["status"] == "error", "exchange_id"]), **simulated)


@dataclass(frozen=True)
class Row:
    assumption: Assumption
    low: Outcome | None       # None: the assumption does not enter the solve (loss model)
    high: Outcome | None
    risk_low: Outcome | None = None    # a loss-model assumption's simulated figures (with the inputs' loss model)
    risk_high: Outcome | None = None

    def swing(self, base: Outcome) -> float:
        """The range of total annual cost over low, base and high (0 for a loss-model assumption)."""
        if self.low is None or self.high is None:
            return 0.0
        costs = (self.low.annual_cost_jpy, base.annual_cost_jpy, self.high.annual_cost_jpy)
        return max(costs) - min(costs)



@dataclass(frozen=True)
class Sensitivity:
    base: Outcome
    rows: tuple[Row, ...]   # tornado order: widest swing first; loss-model assumptions last

    def frame(self) -> pd.DataFrame:
        """One row per assumption (the CSV of --out)."""
        b = self.base
        records = []
        for rank, r in enumerate(self.rows, start=1):
            a = r.assumption
            rec: dict[str, Any] = {"rank": rank, "assumption": a.name, "label": a.label, "where": a.where,
                                   "mode": a.mode, "base": _value_text(a.base), "low": a.low, "high": a.high,
                                   "enters_solve": a.enters_solve, "swing_jpy": r.swing(b),
                                   "annual_cost_base_jpy": b.annual_cost_jpy,
                                   "insurance_cover_base_jpy": b.insurance_cover_jpy,
                                   "cannot_comply_base": len(b.cannot_comply)}
            for side, o in (("low", r.low), ("high", r.high)):
                rec[f"annual_cost_{side}_jpy"] = o.annual_cost_jpy if o else None
                rec[f"insurance_cover_{side}_jpy"] = o.insurance_cover_jpy if o else None
                rec[f"cannot_comply_{side}"] = len(o.cannot_comply) if o else None
                rec[f"newly_short_{side}"] = ";".join(e for e in o.cannot_comply if e not in b.cannot_comply) if o else ""
                rec[f"no_longer_short_{side}"] = ";".join(e for e in b.cannot_comply if e not in o.cannot_comply) \
                    if o else ""
            for side, o in (("low", r.risk_low), ("high", r.risk_high)):
                rec[f"expected_retained_{side}_jpy"] = o.expected_retained_jpy if o else None
                rec[f"tvar_{side}_jpy"] = o.tvar_jpy if o else None
            rec["expected_retained_base_jpy"] = b.expected_retained_jpy if r.risk_low else None
            rec["tvar_base_jpy"] = b.tvar_jpy if r.risk_low else None
            rec["source"] = a.source
            records.append(rec)
        return pd.DataFrame(records)

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(),
                "assumptions": [{"name": r.assumption.name, "label": r.assumption.label, "where": r.assumption.where,
                                 "target": r.assumption.target, "mode": r.assumption.mode,
                                 "base": r.assumption.base, "low_value": r.assumption.low,
                                 "high_value": r.assumption.high, "enters_solve": r.assumption.enters_solve,
                                 "swing_jpy": r.swing(self.base), "source": r.assumption.source,
                                 "low": r.low.to_dict() if r.low else None,
                                 "high": r.high.to_dict() if r.high else None,
                                 "risk_low": r.risk_low.to_dict() if r.risk_low else None,
                                 "risk_high": r.risk_high.to_dict() if r.risk_high else None} for r in self.rows]}


def value_text(v) -> str:
    """A value of an assumption as people read it: a number in %g, a list of them, or a file name as it is."""
    return _value_text(v)


def _value_text(v) -> str:
    if isinstance(v, str):
        return v
    return ", ".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}"


def run(inputs: Inputs, assumptions: Sequence[Assumption], workers: int = 1,
        source: str = "assumptions") -> Sensitivity:
    """The base run, then each assumption at its low and its high value; rows in tornado order."""
    simulate = inputs.loss_model is not None and any(not a.enters_solve for a in assumptions)
    # every moved loss model read and checked before anything is solved (a missing file is one line, at once)
    models = {a.name: tuple(moved_loss_model(a, v, inputs, source) for v in (a.low, a.high))
              for a in assumptions if simulate and not a.enters_solve}
    base = solve_all(inputs, workers, inputs.loss_model if simulate else None)
    rows = []
    for a in assumptions:
        if not a.enters_solve:
            rows.append(Row(a, None, None, *(solve_all(inputs, workers, m) for m in models[a.name]))
                        if simulate else Row(a, None, None))
            continue
        rows.append(Row(a, solve_all(apply(a, a.low, inputs, source), workers),
                        solve_all(apply(a, a.high, inputs, source), workers)))
    order = sorted(range(len(rows)), key=lambda k: (not rows[k].assumption.enters_solve, -rows[k].swing(base), k))
    return Sensitivity(base, tuple(rows[k] for k in order))


def table_text(s: Sensitivity) -> str:
    """The tornado table for people (¥bn; who cannot comply as a count, with the exchanges that change)."""
    from .report import text_table

    b = s.base

    def bn(v):
        return "—" if v is None else f"{v / 1e9:,.2f}"

    def short(o, side):
        if o is None:
            return "—"
        new = [e for e in o.cannot_comply if e not in b.cannot_comply]
        gone = [e for e in b.cannot_comply if e not in o.cannot_comply]
        change = (" +" + ",".join(new) if new else "") + (" −" + ",".join(gone) if gone else "")
        return f"{len(o.cannot_comply)}{change}"

    rows = []
    for r in s.rows:
        a = r.assumption
        rows.append({"assumption": a.label, "low → high": f"{_value_text(a.low)} → {_value_text(a.high)}",
                     "cost low": bn(r.low.annual_cost_jpy if r.low else None),
                     "cost high": bn(r.high.annual_cost_jpy if r.high else None),
                     "swing": bn(r.swing(b)) if a.enters_solve else "risk only",
                     "insurance low": bn(r.low.insurance_cover_jpy if r.low else None),
                     "insurance high": bn(r.high.insurance_cover_jpy if r.high else None),
                     "short low": short(r.low, "low"), "short high": short(r.high, "high")})
    head = (f"Base: annual cost ¥{b.annual_cost_jpy / 1e9:,.2f}bn, insurance cover ¥{b.insurance_cover_jpy / 1e9:,.2f}bn, "
            f"{len(b.cannot_comply)} cannot comply ({', '.join(b.cannot_comply) or 'none'}). ¥bn; one assumption "
            "moved at a time; widest swing in total annual cost first. 'risk only': a loss-model assumption, which "
            "does not change the cheapest mix (see the risk command).")
    text = head + "\n\n" + text_table(pd.DataFrame(rows))
    risk = risk_rows(s)
    if risk:
        text += "\n\n" + risk_head(s) + "\n\n" + text_table(pd.DataFrame([
            {"assumption": r["label"], "low → high": r["values"], "retained low": bn(r["retained"][0]),
             "retained high": bn(r["retained"][1]), "Σ TVaR low": bn(r["tvar"][0]), "Σ TVaR high": bn(r["tvar"][1])}
            for r in risk]))
    return text


def risk_head(s: Sensitivity) -> str:
    """The line above the risk-figures table: the base loss model and its sums."""
    b = s.base
    return (f"Risk figures of the cheapest mixes ({b.loss_model}; ¥bn, summed over the exchanges): expected retained "
            f"loss {b.expected_retained_jpy / 1e9:,.2f} and Σ TVaR {b.tvar_jpy / 1e9:,.1f} at base; each loss-model "
            "assumption at low and at high, at one seed (the same simulated years).")


def risk_rows(s: Sensitivity) -> list[dict]:
    """The loss-model assumptions that were simulated: label, values, (low, high) of the sums."""
    return [{"label": r.assumption.label, "where": r.assumption.where,
             "values": f"{_value_text(r.assumption.low)} → {_value_text(r.assumption.high)}",
             "retained": (r.risk_low.expected_retained_jpy, r.risk_high.expected_retained_jpy),
             "tvar": (r.risk_low.tvar_jpy, r.risk_high.tvar_jpy)}
            for r in s.rows if r.risk_low is not None and r.risk_high is not None]
