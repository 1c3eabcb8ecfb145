"""The bundled data/: every file loads, every preset gives every real exchange a finite R within its share cap,
and the sheets say what data/README.md says they say."""

import dataclasses
import csv
import math

import pytest
from hypothesis import given, strategies as st

from optimizer.domain import ExchangeProfile
from optimizer.inputs import load_capacity, load_incidents, load_profiles, load_quotes, load_regime
from optimizer.model import solve
from optimizer.regime import credit_factor, requirement
from conftest import DATA

PRESETS = sorted((DATA / "regimes").glob("*.toml"))
REAL = load_profiles(DATA / "profiles-japan-2025.csv")
QUOTE_SHEETS = ["quotes.csv", "quotes-japan.csv", "quotes-japan-state-excl.csv"]
USD_JPY = 150.0  # the rate data/README.md states for the capacity figures


def test_every_bundled_file_loads():
    assert len(load_profiles(DATA / "profiles.csv")) == 14
    assert len(REAL) == 21
    for name in QUOTE_SHEETS:
        assert load_quotes(DATA / name)
    assert len(load_incidents(DATA / "incidents.csv")) == 19          # 11 to 2025, and 8 more of 2024–2025
    assert load_capacity(DATA / "capacity.csv")
    assert len(PRESETS) >= 8 and all(load_regime(p).name for p in PRESETS)


def test_real_profiles_carry_their_statement_date_source_and_net_assets():
    for p in REAL:
        assert p.statement_date.startswith("2025-") and "japan-crypto-information" in p.source
        assert p.net_assets_jpy is not None and p.net_assets_jpy > 0
        assert p.liquid_capital_jpy == p.net_assets_jpy          # fill rule: liquid capital = net assets (a bound)
        assert p.hot_wallet_share <= 0.05                        # hot share = min(bound, legal 5% cap)
    by_id = {p.exchange_id: p for p in REAL}
    assert by_id["bitflyer"].customer_assets_jpy == 9.692e11 and by_id["bitflyer"].net_assets_jpy == 2.975e10
    top5 = sorted((p.customer_assets_jpy for p in REAL), reverse=True)[:5]
    assert sum(top5) / sum(p.customer_assets_jpy for p in REAL) == pytest.approx(0.87, abs=0.02)


def test_every_row_of_the_real_profiles_is_in_the_provenance_table():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for p in REAL:
        assert f"| {p.exchange_id} |" in readme


def test_every_column_of_the_real_profiles_has_a_status_in_the_provenance_table():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    with (DATA / "profiles-japan-2025.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    statuses = {"sourced", "derived", "proxy", "assumption", "—"}
    for column in header:
        [row] = [line for line in readme.splitlines() if line.startswith(f"| `{column}` |")]
        status = row.split("|")[2]
        assert any(word in status for word in statuses), (column, status)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_gives_every_real_exchange_a_finite_R_within_its_share_cap(preset):
    regime = load_regime(preset)
    cap = regime.requirement.max_share_of_customer_assets
    for p in REAL:
        R = requirement(p, regime)
        assert math.isfinite(R) and R >= 1
        assert R <= cap * p.customer_assets_jpy * (1 + 1e-12)


def test_the_new_presets_follow_the_reported_shape():
    cold = load_regime(DATA / "regimes" / "cold-wallet.toml")
    assert cold.requirement.hot_wallet_rate == 0 and cold.requirement.cold_wallet_rate > 0
    assert cold.requirement.max_share_of_customer_assets < 1 and cold.eligibility.max_insurance_share == 0.5
    assert cold.eligibility.require_licensed and cold.eligibility.max_derivative_share == 0
    for name in ("cold-wallet", "cold-wallet-state-backed-haircut", "securities-style-japan"):
        text = (DATA / "regimes" / f"{name}.toml").read_text(encoding="utf-8")
        for line in text.split("[requirement]")[1].splitlines():
            if "=" in line:
                assert "SOURCED" in line or "ASSUMPTION" in line, line     # every parameter says which it is
    assert "STRUCTURE-ONLY" in (DATA / "regimes" / "securities-style.toml").read_text(encoding="utf-8")


@given(st.sampled_from(REAL), st.floats(0.1, 10), st.floats(0, 1), st.sampled_from(PRESETS))
def test_share_cap_holds_for_rescaled_real_exchanges(profile, scale, hot, preset):
    regime = load_regime(preset)
    p = ExchangeProfile(profile.exchange_id, profile.customer_assets_jpy * scale, hot,
                        profile.annual_trading_volume_jpy * scale, profile.cost_of_capital)
    assert requirement(p, regime) <= regime.requirement.max_share_of_customer_assets * p.customer_assets_jpy * (1 + 1e-12)


def test_japanese_sheets_are_requirement_basis_with_finite_ceilings_inside_reported_capacity():
    for name in ("quotes-japan.csv", "quotes-japan-state-excl.csv"):
        for q in load_quotes(DATA / name):
            assert q.layer_basis == "requirement" and math.isfinite(q.max_limit_jpy)
            assert q.max_limit_jpy <= 600e6 * USD_JPY        # the largest crypto crime limit for one insured, ~$600m
            if "Lloyd's" in q.counterparty:
                assert q.max_limit_jpy <= 500e6 * USD_JPY    # the assumed $500m inside the sourced ~$600m
                assert q.licensed_in_japan                   # through Lloyd's Japan Inc.
            if not q.licensed_in_japan and q.fronting_fee_rate == 0:
                assert "not fronted" in q.counterparty


def test_the_state_backed_variant_differs_only_by_exclusions():
    base = {q.quote_id: q for q in load_quotes(DATA / "quotes-japan.csv")}
    excl = {q.quote_id: q for q in load_quotes(DATA / "quotes-japan-state-excl.csv")}
    assert base.keys() == excl.keys()
    changed = [k for k in base if base[k] != excl[k]]
    assert changed and all(excl[k].exclusions == {"state_backed"} and not base[k].exclusions for k in changed)
    haircut = load_regime(DATA / "regimes" / "cold-wallet-state-backed-haircut.toml")
    for k in changed:
        assert credit_factor(excl[k], haircut) == pytest.approx(0.24 * credit_factor(base[k], haircut))


def test_capacity_covers_the_japanese_counterparties_and_stays_under_the_world_total():
    capacity = load_capacity(DATA / "capacity.csv")
    counterparties = {q.counterparty for name in QUOTE_SHEETS[1:] for q in load_quotes(DATA / name)}
    assert counterparties == set(capacity)
    assert sum(capacity.values()) <= 6e9 * USD_JPY                  # world crypto crime capacity ~ $6bn
    with open(DATA / "capacity.csv", encoding="utf-8") as f:
        assert all(row["source"].strip() for row in csv.DictReader(f))


def test_incidents_carry_attribution_and_repayment():
    by_id = {i.incident_id: i for i in load_incidents(DATA / "incidents.csv")}
    assert by_id["DMM-2024"].state_backed == "true" and by_id["BYBIT-2025"].state_backed == "true"
    assert by_id["COINCHECK-2018"].repaid_jpy == pytest.approx(523e6 * 88.549, rel=0.01)   # ~¥46.3bn
    assert by_id["BITPOINT-2019"].loss_share_of_assets == 0.13 and by_id["BITPOINT-2019"].loss_share_basis == "reported"
    assert all(i.source for i in by_id.values())


def test_bitflyer_under_the_cold_wallet_preset_beats_all_cash():
    bitflyer = next(p for p in REAL if p.exchange_id == "bitflyer")
    s = solve(bitflyer, load_quotes(DATA / "quotes-japan.csv"), load_regime(DATA / "regimes" / "cold-wallet.toml"))
    assert s.status == "optimal" and s.annual_cost_jpy < s.all_cash_cost_jpy
    assert s.requirement_jpy == pytest.approx(0.02 * bitflyer.cold_assets_jpy)
    assert s.to_dict()["requirement_to_net_assets"] == pytest.approx(s.requirement_jpy / 2.975e10)
    assert s.to_dict()["statement_date"] == "2025-12-31"


@pytest.mark.parametrize("preset", ["past-outflows", "asset-based", "securities-style-japan"])
def test_a_requirement_basis_layer_never_writes_more_than_its_ceiling(preset):
    quotes = load_quotes(DATA / "quotes-japan.csv")
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    for p in REAL[:6]:                                   # the largest R: where the ceilings bite
        s = solve(p, quotes, regime, marginal=False)
        for line in s.lines:
            assert line.cover_jpy <= line.quote.max_limit_jpy * line.share * (1 + 1e-9)
            assert line.cover_jpy <= line.quote.limit * s.requirement_jpy * line.share * (1 + 1e-9)


def test_an_exchange_whose_R_exceeds_what_the_market_writes_is_short():
    bitflyer = next(p for p in REAL if p.exchange_id == "bitflyer")
    s = solve(bitflyer, load_quotes(DATA / "quotes-japan.csv"), load_regime(DATA / "regimes" / "past-outflows.toml"))
    # R = 100% of hot + 13% of cold ≈ ¥131bn against ¥29.75bn of net assets and finite layer ceilings
    assert s.requirement_jpy == pytest.approx(bitflyer.hot_assets_jpy + 0.13 * bitflyer.cold_assets_jpy)
    assert s.status == "shortfall" and s.shortfall_jpy > 0
    assert "liquid_capital" in s.binding and any(b.startswith("capacity:") for b in s.binding)
    assert s.to_dict()["requirement_to_net_assets"] > 4


# ------------------------------------------------------------------ issue 21: days to pay and reserve assets

def _with_days_column(name: str, tmp_path) -> list:
    """The bundled sheet with a `days_to_pay` column of 0 in every row (as a user would add it)."""
    with (DATA / name).open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([rows[0] + ["days_to_pay"]] + [r + ["0"] for r in rows[1:]])
    return load_quotes(path)


CASES = [("profiles.csv", "EX05", "quotes.csv"), ("profiles-japan-2025.csv", "bitflyer", "quotes-japan.csv"),
         ("profiles-japan-2025.csv", "zaif", "quotes-japan-state-excl.csv")]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_quotes_that_pay_on_the_day_give_every_preset_the_answer_it_gave_before_days_to_pay(preset, tmp_path):
    # Default: 0 days and no limit. A sheet that says 0 days, under a regime that allows 0 days, is the same input.
    import dataclasses

    from optimizer.inputs import select_profile

    regime = load_regime(preset)
    strict = dataclasses.replace(regime, eligibility=dataclasses.replace(regime.eligibility, max_days_to_pay=0.0))
    for profiles, exchange, sheet in CASES:
        profile = select_profile(load_profiles(DATA / profiles), exchange, profiles)
        before = solve(profile, load_quotes(DATA / sheet), regime).to_dict()
        assert solve(profile, _with_days_column(sheet, tmp_path), strict).to_dict() == before


def test_cold_wallet_assets_without_an_assets_file_answers_as_cold_wallet_does():
    cold, assets = (load_regime(DATA / "regimes" / f"{n}.toml") for n in ("cold-wallet", "cold-wallet-assets"))
    assert (assets.requirement, assets.rating_credit) == (cold.requirement, cold.rating_credit)
    shares = assets.eligibility.asset_shares
    assert (shares.deposit, shares.jgb, shares.bank_guarantee, shares.credit_line, shares.parent_guarantee) == \
        (1.0, 1.0, 0.5, 0.0, 0.0)                     # deposits and JGBs, a bank guarantee for half, no lines
    for p in REAL:
        for sheet in ("quotes-japan.csv", "quotes-japan-state-excl.csv"):
            quotes = load_quotes(DATA / sheet)
            a, c = solve(p, quotes, assets, marginal=False).to_dict(), solve(p, quotes, cold, marginal=False).to_dict()
            assert a.pop("regime") != c.pop("regime") and a == c, p.exchange_id


def test_the_bundled_assets_load_and_every_figure_says_where_it_comes_from():
    from optimizer.domain import ASSET_KINDS
    from optimizer.inputs import check_asset_yields, load_assets

    assets = load_assets(DATA / "assets-japan.csv")
    assert {a.kind for a in assets} == set(ASSET_KINDS)
    for a in assets:
        assert a.source, a.asset_id
        if a.kind != "jgb":
            assert "ASSUMPTION: rating" in a.source, a.asset_id     # no bank's or parent's rating is sourced here
        assert "ASSUMPTION(days_to_pay)" in a.source or "days_to_pay): " in a.source, a.asset_id
    jgbs = {a.asset_id: a for a in assets if a.kind == "jgb"}
    # the Bank of Japan's collateral prices by remaining maturity: 99% up to 5 years, 98% for 5-10 years
    assert [jgbs[k].haircut for k in ("JGB-3M", "JGB-2Y", "JGB-5Y", "JGB-10Y")] == [0.01, 0.01, 0.01, 0.02]
    yields = [jgbs[k].yield_rate for k in ("JGB-3M", "JGB-2Y", "JGB-5Y", "JGB-10Y")]
    assert yields == sorted(yields) and len(set(yields)) == 4                 # the curve rises with the tenor
    [line] = [a for a in assets if a.kind == "credit_line"]
    assert (line.max_amount_jpy, line.exchange_id) == (6e9, "coincheck")     # Coincheck's JPY 6bn line
    for p in REAL + load_profiles(DATA / "profiles.csv"):
        check_asset_yields(p, assets, "data/assets-japan.csv")               # no asset earns more than capital costs
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "## assets-japan.csv" in readme and all(f"`{a.asset_id}`" in readme for a in assets)


def test_every_reserve_asset_key_of_the_assets_preset_says_whether_it_is_sourced():
    text = (DATA / "regimes" / "cold-wallet-assets.toml").read_text(encoding="utf-8")
    table = text.split("\n[eligibility.assets]")[1].split("\n[rating_credit]")[0]
    lines = [line for line in table.splitlines()[1:] if "=" in line]
    assert len(lines) == 5 and all("SOURCED" in line or "ASSUMPTION" in line for line in lines)

def test_the_sbi_hot_bound_counts_owned_crypto_only():
    sbi = next(p for p in REAL if p.exchange_id == "sbi-vc-trade")
    # own crypto 17,193 = owned 11,503 + pledged 3,990 + lent 1,699 (¥m): only owned can guarantee customers' crypto
    assert sbi.hot_wallet_share == round(11_503 / 344_155, 4) and "11,503" in sbi.source
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "which holdings count" in readme.lower()


def test_every_quote_ceiling_fits_inside_its_counterpartys_capacity():
    capacity = load_capacity(DATA / "capacity.csv")
    for name in QUOTE_SHEETS[1:]:
        for q in load_quotes(DATA / name):
            assert q.max_limit_jpy <= capacity[q.counterparty], (name, q.quote_id)


def test_the_no_floor_preset_is_cold_wallet_without_its_floor():
    import dataclasses

    cold = load_regime(DATA / "regimes" / "cold-wallet.toml")
    bare = load_regime(DATA / "regimes" / "cold-wallet-no-floor.toml")
    assert cold.requirement.floor_jpy == 2e9 and bare.requirement.floor_jpy <= 1    # one yen: no floor in effect
    assert dataclasses.replace(bare.requirement, floor_jpy=cold.requirement.floor_jpy) == cold.requirement
    assert bare.eligibility == cold.eligibility and bare.rating_credit == cold.rating_credit
    small = next(p for p in REAL if p.exchange_id == "crypto-garage")
    assert requirement(small, bare) == pytest.approx(0.02 * small.cold_assets_jpy)
    assert requirement(small, bare) < requirement(small, cold) == 2e9


def test_recent_hacks_and_attribution_follow_the_sources():
    by_id = {i.incident_id: i for i in load_incidents(DATA / "incidents.csv")}
    assert by_id["LIQUID-2021"].state_backed == "true" and "Chainalysis" in by_id["LIQUID-2021"].source
    for key in ("PHEMEX-2025", "BTCTURK-2024", "BTCTURK-2025", "NOBITEX-2025", "BIGONE-2025", "WOOX-2025",
                "COINDCX-2025", "UPBIT-2025"):
        assert by_id[key].date.startswith(("2024", "2025")) and by_id[key].loss_usd > 0 and by_id[key].source


def test_dmm_has_one_loss_share_in_the_incidents_and_the_loss_models():
    dmm = next(i for i in load_incidents(DATA / "incidents.csv") if i.incident_id == "DMM-2024")
    for name in ("japan.toml", "japan-stressed.toml"):
        text = (DATA / "loss-models" / name).read_text(encoding="utf-8")
        assert f"{dmm.loss_share_of_assets:.2f}" in text and "0.42" not in text


# ---------------------------------------------------------------- SOURCED / ASSUMPTION marks (data/README.md)

import re

MARK = re.compile(r"^(SOURCED|ASSUMPTION)\b(?:\(([^)]*)\))?[^:|]*:\s*\S")
NOT_VALUES = {"source", "notes"}


def _is_value(cell: str) -> bool:
    text = cell.strip()
    if text.lower() in ("true", "false"):
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_marks(path) -> list[str]:
    """Every value cell of a data CSV that its row's `source` cell does not mark: "row N, column C: why"."""
    problems = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        if "source" not in header:
            return ["no source column"]
        for n, row in enumerate(reader, start=2):
            marks = [m.strip() for m in row["source"].split(" | ")]
            named, general = set(), False
            for mark in marks:
                m = MARK.match(mark)
                if not m:
                    problems.append(f"row {n}, column source: {mark[:60]!r} is not a SOURCED or ASSUMPTION mark")
                    continue
                if m.group(2) is None:
                    general = True
                    continue
                for col in (c.strip() for c in m.group(2).split(",")):
                    if col not in header:
                        problems.append(f"row {n}, column source: marks unknown column {col!r}")
                    named.add(col)
            for col in header:
                if col in NOT_VALUES or col in named or general or not _is_value(row[col] or ""):
                    continue
                problems.append(f"row {n}, column {col}: value {row[col]!r} has no SOURCED or ASSUMPTION mark")
    return problems


KEY_LINE = re.compile(r"^\s*(\"[^\"]+\"|[A-Za-z_][\w-]*)\s*=")


def toml_marks(path) -> list[str]:
    """Every `key = value` line of a data TOML (but name and description) without a SOURCED or ASSUMPTION mark in
    its own comment or in the comment lines directly above it."""
    problems, above = [], []
    # assumptions.toml: its descriptive keys are not values; `source` starts with the mark itself (checked on load)
    text_keys = {"name", "description"} | ({"label", "where", "target", "mode", "quotes", "exchanges",
                                             "counterparties", "quote_sheet", "source"}
                                            if path.name == "assumptions.toml" else set())
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped)
            continue
        m = KEY_LINE.match(line)
        if m and m.group(1) not in text_keys:
            comment = line.split("#", 1)[1] if "#" in line.split("=", 1)[1] else ""
            if not any(word in text for text in [comment, *above] for word in ("SOURCED", "ASSUMPTION")):
                problems.append(f"line {n}, key {m.group(1)}: no SOURCED or ASSUMPTION mark")
        if not stripped.startswith("["):   # a comment above a table header still belongs to its first key
            above = []
    return problems


DATA_CSVS = sorted(DATA.glob("*.csv"))
DATA_TOMLS = sorted(DATA.rglob("*.toml"))


@pytest.mark.parametrize("path", DATA_CSVS, ids=lambda p: p.name)
def test_every_value_in_a_data_csv_is_marked_sourced_or_assumption(path):
    assert csv_marks(path) == []


@pytest.mark.parametrize("path", DATA_TOMLS, ids=lambda p: str(p.relative_to(DATA)))
def test_every_key_in_a_data_toml_is_marked_sourced_or_assumption(path):
    assert toml_marks(path) == []


def test_the_mark_checks_fail_on_an_unmarked_value(tmp_path):
    sheet = tmp_path / "x.csv"
    sheet.write_text("id,rate,limit,source\nA,0.05,1e9,SOURCED(rate): a report\nB,0.01,2e9,ASSUMPTION: ours\n"
                     "C,0.02,,no mark here\n", encoding="utf-8")
    assert csv_marks(sheet) == ["row 2, column limit: value '1e9' has no SOURCED or ASSUMPTION mark",
                                "row 4, column source: 'no mark here' is not a SOURCED or ASSUMPTION mark",
                                "row 4, column rate: value '0.02' has no SOURCED or ASSUMPTION mark"]
    preset = tmp_path / "x.toml"
    preset.write_text('name = "x"\n# SOURCED: a law\na = 1\nb = 2  # ASSUMPTION: ours\n\nc = 3\n[t]\n"AA" = 1.0\n',
                      encoding="utf-8")
    assert toml_marks(preset) == ["line 6, key c: no SOURCED or ASSUMPTION mark", "line 8, key \"AA\": no SOURCED or "
                                  "ASSUMPTION mark"]


def test_the_repeat_preset_is_cold_wallet_with_a_second_loss_as_large_as_R_and_says_why():
    cold, repeat = (load_regime(DATA / "regimes" / f"{n}.toml") for n in ("cold-wallet", "cold-wallet-repeat"))
    assert repeat.requirement.second_event_share == 1 and cold.requirement.second_event_share == 0
    assert dataclasses.replace(repeat.requirement, second_event_share=0.0) == cold.requirement
    assert repeat.eligibility == cold.eligibility and repeat.rating_credit == cold.rating_credit
    text = (DATA / "regimes" / "cold-wallet-repeat.toml").read_text(encoding="utf-8")
    for line in text.split("[requirement]")[1].split("[eligibility]")[0].splitlines():
        if "=" in line:
            assert "SOURCED" in line or "ASSUMPTION" in line, line
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    [row] = [line for line in readme.splitlines() if line.startswith("| `cold-wallet-repeat` |")]
    assert all(word in row for word in ("Upbit", "BtcTurk", "2019", "2025", "2024", "https://"))
