"""One exchange under every regime preset (optimizer/compare.py and `python -m optimizer compare`)."""

import json

import pytest

from optimizer.compare import COLUMNS, compare_regimes, load_presets
from optimizer.domain import ExchangeProfile, Quote
from optimizer.inputs import InputError, load_profiles, load_quotes, load_regime, regime_from_text
from optimizer.model import solve
from conftest import DATA, ROOT, run_cli


def test_each_row_is_what_solve_says_under_that_preset():
    bitflyer = load_profiles(DATA / "profiles-japan-2025.csv")[0]
    quotes = load_quotes(DATA / "quotes-japan.csv")
    table = compare_regimes(bitflyer, quotes, load_presets(DATA / "regimes"))
    assert list(table.columns) == list(COLUMNS)
    assert list(table["preset"]) == sorted(p.stem for p in (DATA / "regimes").glob("*.toml"))
    for row in table.itertuples():
        s = solve(bitflyer, quotes, load_regime(DATA / "regimes" / f"{row.preset}.toml"), marginal=False)
        assert row.status == s.status and row.annual_cost_jpy == pytest.approx(s.annual_cost_jpy)
        assert row.required_coverage_jpy == s.requirement_jpy
        assert row.requirement_to_customer_assets == pytest.approx(s.requirement_jpy / 9.692e11)
        assert row.requirement_to_net_assets == pytest.approx(s.requirement_jpy / 2.975e10)
        assert row.shortfall_jpy == pytest.approx(s.shortfall_jpy)


def test_a_hand_checked_pair_of_presets():
    # R = 2% of cold assets = 0.02 × 0.95 × 1e10 = ¥190m, all cash at carry 10% = ¥19m; volume rule: 0.1% × 1e12 = ¥1bn
    p = ExchangeProfile("H", 1e10, 0.05, 1e12, 0.1, net_assets_jpy=5e8)
    presets = [("cold", regime_from_text("[requirement]\ncold_wallet_rate = 0.02\n", "cold.toml")),
               ("volume", regime_from_text("[requirement]\nvolume_rate = 0.001\n", "volume.toml"))]
    table = compare_regimes(p, [], presets).set_index("preset")
    assert table.loc["cold", "required_coverage_jpy"] == pytest.approx(1.9e8)
    assert table.loc["cold", "annual_cost_jpy"] == pytest.approx(1.9e7)
    assert table.loc["cold", "requirement_to_net_assets"] == pytest.approx(0.38)
    assert table.loc["volume", "required_coverage_jpy"] == pytest.approx(1e9)
    assert table.loc["volume", "requirement_to_customer_assets"] == pytest.approx(0.1)
    assert table.loc["volume", "requirement_to_net_assets"] == pytest.approx(2.0)


def test_a_preset_that_gives_no_plausible_R_is_an_error_row_not_a_crash():
    p = ExchangeProfile("Z", 0.0, 0.05, 1e12, 0.1)
    presets = [("assets", regime_from_text("[requirement]\ncold_wallet_rate = 0.02\n", "a.toml")),
               ("volume", regime_from_text("[requirement]\nvolume_rate = 0.001\n", "v.toml"))]
    table = compare_regimes(p, [Quote("Q", "insurance", "C", "AA", 0, 1e9, 0.01)], presets).set_index("preset")
    assert table.loc["assets", "status"] == "error" and "customer_assets_jpy" in table.loc["assets", "error"]
    assert table.loc["volume", "status"] == "optimal"


def test_an_empty_preset_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no regime presets"):
        load_presets(tmp_path)


def run(*args):
    """`compare ARGS` in this process, exit code and both streams (conftest.run_cli)."""
    return run_cli("compare", *args, cwd=ROOT)


def test_compare_end_to_end_table_and_json():
    out = run("--exchange", "zaif", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["exchange_id"] == "zaif" and data["statement_date"] == "2025-09-30"
    rows = {r["preset"]: r for r in data["presets"]}
    assert rows["cold-wallet"]["required_coverage_jpy"] == pytest.approx(0.02 * 1.198e11 * (1 - 0.0028))
    assert rows["cold-wallet"]["status"] == "shortfall"        # R ≈ ¥2.4bn against ¥1.09bn of net assets
    assert rows["cold-wallet"]["requirement_to_net_assets"] > 2
    assert rows["securities-style"]["requirement_to_customer_assets"] == pytest.approx(2e9 / 1.198e11)
    table = run("--exchange", "zaif")
    assert table.returncode == 0 and "cold-wallet" in table.stdout and "R/net_assets" in table.stdout


def test_compare_bad_input_exits_2(tmp_path):
    out = run("--exchange", "nope")
    assert out.returncode == 2 and "nope" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "bad.toml").write_text('name = "x"\n')
    out = run("--regimes", str(tmp_path))
    assert out.returncode == 2 and "bad.toml" in out.stderr and "[requirement]" in out.stderr


def test_ratio_to_net_assets_is_blank_when_unknown_or_not_positive():
    from optimizer.compare import ratio
    assert ratio(2e9, 1e9) == 2.0
    assert ratio(2e9, None) is None and ratio(2e9, 0.0) is None and ratio(2e9, -5e8) is None   # 債務超過
    p = ExchangeProfile("N", 1e10, 0.05, 1e12, 0.1, net_assets_jpy=-5e8)
    s = solve(p, [], regime_from_text("[requirement]\nvolume_rate = 0.001\n", "v.toml"), marginal=False)
    assert s.to_dict()["requirement_to_net_assets"] is None and s.to_dict()["statement_date"] is None
