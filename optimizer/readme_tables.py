"""The README's tables of the 21 real exchanges, computed from the bundled data, so that they can be regenerated
and checked rather than typed:

    python -m optimizer.readme_tables            # print both tables (markdown)
    python -m optimizer.readme_tables --write    # put them into README.md between their markers
    python -m optimizer.readme_tables --check    # exit 1 when README.md differs from what the data gives

`presets`: every preset under `batch` (each exchange solved alone; cover set against capacity.csv), and the two
cold-wallet presets again with the reserve assets of assets-japan.csv.
`sensitivity`: `python -m optimizer sensitivity` under cold-wallet, as a markdown table, and the loss-model
assumptions' risk figures (the central Japan loss model, 100,000 scenario-years, seed 2026) as a second one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
MARKERS = {"presets": ("<!-- presets-table: python -m optimizer.readme_tables -->", "<!-- end presets-table -->"),
           "sensitivity": ("<!-- sensitivity-table: python -m optimizer.readme_tables -->",
                           "<!-- end sensitivity-table -->")}


def _bn(v: float) -> str:
    return f"{v / 1e9:,.1f}"


def presets_table(data: Path = DATA) -> str:
    """| preset | total R | annual cost | insurance cover | all cover | over their capacity | R > net assets |
    cannot comply |, one row per preset and one for the state-backed-exclusion sheet under its haircut preset."""
    from . import batch
    from .inputs import load_capacity, load_profiles, load_quotes, load_regime

    profiles = load_profiles(data / "profiles-japan-2025.csv")
    capacity = load_capacity(data / "capacity.csv")
    total_capacity = sum(capacity.values())
    from .compare import preset_order
    from .report import preset_headline

    found = sorted(p.stem for p in (data / "regimes").glob("*.toml"))
    presets = preset_order(found)
    runs = [(f"`{p}`", p, "quotes-japan.csv", None) for p in presets]
    runs.append(("the same with `quotes-japan-state-excl.csv`", "cold-wallet-state-backed-haircut",
                 "quotes-japan-state-excl.csv", None))
    runs += [(f"`{p}` with `--assets data/assets-japan.csv`", p, "quotes-japan.csv", data / "assets-japan.csv")
             for p in ("cold-wallet", "cold-wallet-assets") if p in found]
    lines = [f"| preset | total R | annual cost | insurance cover | all cover (of ¥{_bn(total_capacity)[:-2]}bn) | "
             "over their capacity | R > net assets | cannot comply (shortfall) |", "|---|---|---|---|---|---|---|---|"]
    for label, preset, sheet, assets in runs:
        quotes = load_quotes(data / sheet)
        result = batch.run(profiles, quotes, load_regime(data / "regimes" / f"{preset}.toml"), None, workers=1,
                           capacity=capacity, assets=assets)
        h = preset_headline(result.summary, quotes)  # the same figures as `batch --all-presets` prints
        cannot = "0" if not h["cannot_comply"] else (f"{h['cannot_comply']} (¥{h['shortfall_jpy'] / 1e9:,.1f}bn): "
                                                     + ", ".join(h["cannot_comply_exchanges"]))
        lines.append(f"| {label} | {_bn(h['required_coverage_jpy'])} | {_bn(h['annual_cost_jpy'])} | "
                     f"{_bn(h['insurance_cover_jpy'])} | {_bn(h['cover_jpy'])} "
                     f"({h['cover_jpy'] / total_capacity:.0%}) | {', '.join(h['over_capacity']) or '—'} | "
                     f"{h['over_net_assets']} | {cannot} |")
    return "\n".join(lines)


def sensitivity_table(data: Path = DATA) -> str:
    """`sensitivity` on the 21 exchanges under cold-wallet with quotes-japan.csv and capacity.csv (¥bn)."""
    from . import sensitivity as S
    from .inputs import load_capacity, load_profiles, load_quotes, load_regime

    from .loss_model import load_loss_model

    inputs = S.Inputs(load_profiles(data / "profiles-japan-2025.csv"), load_quotes(data / "quotes-japan.csv"),
                      load_regime(data / "regimes" / "cold-wallet.toml"), load_capacity(data / "capacity.csv"), data,
                      load_loss_model(data / "loss-models" / "japan.toml"))
    result = S.run(inputs, S.load_assumptions(data / "assumptions.toml"), source=str(data / "assumptions.toml"))
    b = result.base

    def moved(o):
        if o is None:
            return "—"
        new = [e for e in o.cannot_comply if e not in b.cannot_comply]
        gone = [e for e in b.cannot_comply if e not in o.cannot_comply]
        return f"{len(o.cannot_comply)}" + (f" (+{', '.join(new)})" if new else "") + (f" (−{', '.join(gone)})" if gone else "")

    lines = [f"Base: annual cost ¥{b.annual_cost_jpy / 1e9:,.2f}bn, insurance cover ¥{b.insurance_cover_jpy / 1e9:,.1f}bn, "
             f"{len(b.cannot_comply)} cannot comply ({', '.join(b.cannot_comply) or 'none'}).", "",
             "| # | assumption (where) | low → high | annual cost low / high | swing | insurance cover low / high | "
             "cannot comply low / high |", "|---|---|---|---|---|---|---|"]
    for k, r in enumerate(result.rows, start=1):
        a = r.assumption
        values = f"{_g(a.low)} → {_g(a.high)}"
        if r.low is None:
            lines.append(f"| {k} | {a.label} (`{a.where}`) | {values} | risk only | — | — | — |")
            continue
        lines.append(f"| {k} | {a.label} (`{a.where}`) | {values} | {r.low.annual_cost_jpy / 1e9:,.2f} / "
                     f"{r.high.annual_cost_jpy / 1e9:,.2f} | {r.swing(b) / 1e9:,.2f} | "
                     f"{_bn(r.low.insurance_cover_jpy)} / {_bn(r.high.insurance_cover_jpy)} | "
                     f"{moved(r.low)} / {moved(r.high)} |")
    risk = S.risk_rows(result)
    if risk:
        lines += ["", S.risk_head(result), "",
                  "| assumption (where) | low → high | expected retained loss low / high | Σ TVaR low / high |",
                  "|---|---|---|---|"]
        lines += [f"| {r['label']} (`{r['where']}`) | {r['values']} | {r['retained'][0] / 1e9:,.2f} / "
                  f"{r['retained'][1] / 1e9:,.2f} | {r['tvar'][0] / 1e9:,.1f} / {r['tvar'][1] / 1e9:,.1f} |"
                  for r in risk]
    return "\n".join(lines)


def _g(v: float | str) -> str:
    if isinstance(v, str):  # a loss-model file name
        return v
    return f"¥{v / 1e9:g}bn" if abs(v) >= 1e8 else f"{v:g}"


def tables(data: Path = DATA) -> dict[str, str]:
    return {"presets": presets_table(data), "sensitivity": sensitivity_table(data)}


def replaced(readme: str, name: str, table: str) -> str:
    """`readme` with the text between the table's markers replaced by `table` (ValueError: markers missing)."""
    start, end = MARKERS[name]
    i, j = readme.find(start), readme.find(end)
    if i < 0 or j < i:
        raise ValueError(f"README.md has no {start} … {end} markers")
    return readme[: i + len(start)] + "\n" + table + "\n" + readme[j:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer.readme_tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the tables into README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's tables differ from the data's")
    args = parser.parse_args(argv)
    made = tables()
    if not (args.write or args.check):
        for name, table in made.items():
            print(f"{MARKERS[name][0]}\n{table}\n{MARKERS[name][1]}\n")
        return 0
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    fresh = readme
    for name, table in made.items():
        fresh = replaced(fresh, name, table)
    if args.write:
        readme_path.write_text(fresh, encoding="utf-8")
    elif args.check:
        if fresh != readme:
            print("README.md's tables differ from the bundled data: run python -m optimizer.readme_tables --write",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
