"""The command line, end to end (optimizer/cli.py): `main` in this process (conftest.run_cli), and a real
`python -m optimizer …` process where the process is what is tested (the banner, the entry points, a closed pipe)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent


def run_process(*args, cwd=ROOT):
    """A real `python -m optimizer` process: for what only a process shows (HiGHS's banner on file descriptor 1)."""
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


run = run_cli  # the command line in this process, exit code and both streams (conftest.run_cli)


def test_solve_on_bundled_data_beats_all_cash():
    out = run("solve")
    assert out.returncode == 0, out.stderr
    assert "Funding mix" in out.stdout and "cash reserve" in out.stdout
    data = json.loads(run("solve", "--format", "json").stdout)
    assert data["status"] == "optimal"
    assert data["annual_cost_jpy"] < data["all_cash_cost_jpy"]
    assert data["savings_jpy"] == pytest.approx(data["all_cash_cost_jpy"] - data["annual_cost_jpy"])


def test_solve_json_is_exactly_one_object_with_the_contract_keys():
    out = run_process("solve", "--exchange", "EX05", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # fails if HiGHS's banner or anything else reached stdout
    for key in ("exchange_id", "status", "required_coverage_jpy", "annual_cost_jpy", "all_cash_cost_jpy",
                "savings_jpy", "cash_reserve_jpy", "shortfall_jpy", "marginal_cost_per_jpy", "instruments"):
        assert key in data
    assert data["exchange_id"] == "EX05"
    for item in data["instruments"]:
        assert set(item) == {"quote_id", "kind", "counterparty", "share", "cover_jpy", "credit_jpy", "annual_cost_jpy"}
        assert item["share"] > 0


@pytest.mark.parametrize("command", ["price", "frontier", "stress"])
def test_every_command_runs_with_no_options(command):
    out = run(command)
    assert out.returncode in (0, 3), out.stderr
    assert out.stdout.strip()
    assert json.loads(run(command, "--format", "json").stdout)


def test_shortfall_exits_3_and_still_prints_the_result(tmp_path):
    profiles = tmp_path / "p.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital,"
                        "liquid_capital_jpy\nTINY,1e9,0.05,1e12,0.1,1e8\n")
    quotes = tmp_path / "q.csv"
    quotes.write_text("quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\n")
    out = run("solve", "--profiles", str(profiles), "--quotes", str(quotes), "--format", "json")
    assert out.returncode == 3
    data = json.loads(out.stdout)
    assert data["status"] == "shortfall"
    assert data["shortfall_jpy"] == pytest.approx(data["required_coverage_jpy"] - 1e8)
    assert data["all_cash_cost_jpy"] is None and data["savings_jpy"] is None
    assert "liquid_capital" in data["binding"]


def test_bad_input_exits_2_with_one_line_naming_file_row_and_column(tmp_path):
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital\n"
                        "A,1e9,0.05,1e12,0.1\nB,1e9,0.05,lots,0.1\n")
    out = run("solve", "--profiles", str(profiles))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert "profiles.csv" in lines[0] and "row 2" in lines[0] and "'annual_trading_volume_jpy'" in lines[0]
    assert out.stdout == ""


def test_unknown_exchange_and_missing_file_exit_2(tmp_path):
    out = run("solve", "--exchange", "NOPE")
    assert out.returncode == 2 and "NOPE" in out.stderr
    out = run("solve", "--quotes", str(tmp_path / "missing.csv"))
    assert out.returncode == 2 and "missing.csv" in out.stderr and "not found" in out.stderr


def test_regime_with_unknown_key_exits_2(tmp_path):
    regime = tmp_path / "r.toml"
    regime.write_text('name = "x"\n[eligibility]\nmax_insurance_shar = 0.5\n')
    out = run("solve", "--regime", str(regime))
    assert out.returncode == 2 and "max_insurance_shar" in out.stderr and "r.toml" in out.stderr


def test_solve_writes_json_csv_and_xlsx(tmp_path):
    import pandas as pd

    for name in ("r.json", "r.csv", "r.xlsx"):
        out = run("solve", "--exchange", "EX05", "--out", str(tmp_path / name))
        assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r.json").read_text())["exchange_id"] == "EX05"
    mix = pd.read_csv(tmp_path / "r.csv")
    assert mix["source"].iloc[0] == "cash reserve"
    assert {"mix", "summary"} <= set(pd.read_excel(tmp_path / "r.xlsx", sheet_name=None))


def test_price_with_quote_prints_its_demand_curve():
    out = run("price", "--exchange", "EX05", "--quote", "Q01", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["demand_curve"]["quote_id"] == "Q01"
    shares = [p["share"] for p in data["demand_curve"]["points"]]
    assert shares == sorted(shares, reverse=True)  # demand falls as the premium rises


def test_frontier_with_explicit_values_and_a_bare_preset_name():
    out = run("frontier", "--regime", "asset-based", "--param", "min_cash_share", "--values", "0,0.5,1",
              "--format", "json")
    assert out.returncode == 0, out.stderr
    costs = [p["annual_cost_jpy"] for p in json.loads(out.stdout)["points"]]
    assert costs == sorted(costs)  # more cash required never costs less


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "reserve-optimizer"
    out = subprocess.run([str(script), "solve", "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "optimal"


@pytest.mark.parametrize("name", ["r.json", "r.csv", "r.xlsx"])
def test_solve_out_into_a_missing_folder_exits_2_naming_the_folder(tmp_path, name):
    out = tmp_path / "missing" / name
    result = run("solve", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {out}: the folder {out.parent} does not exist"
    assert result.stdout == ""  # found before solving: no answer printed beside an exit code of 2


def test_solve_out_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    assert run("solve", "--exchange", "EX05", "--out", str(out)).returncode == 0
    assert json.loads(out.read_text())["exchange_id"] == "EX05"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_reader_that_goes_away_ends_the_output_quietly():
    import os

    read, write = os.pipe()
    os.close(read)  # like `… | head` once head has exited
    result = subprocess.run([sys.executable, "-m", "optimizer", "solve"], cwd=ROOT, stdout=write,
                            stderr=subprocess.PIPE, text=True, timeout=300)
    os.close(write)
    assert result.returncode == 141 and result.stderr == ""  # 128 + SIGPIPE, as a shell reports it


# ------------------------------------------------------------------ real inputs: who cannot comply, capacity

DATA = ROOT / "data"


def test_batch_on_the_real_exchanges_prints_total_R_who_cannot_comply_and_cover_against_capacity(tmp_path):
    out = run("batch", str(DATA / "profiles-japan-2025.csv"), "--regime", "cold-wallet", "--quotes",
              str(DATA / "quotes-japan.csv"), "--out", str(tmp_path / "r.csv"), "--workers", "1")
    assert out.returncode == 0, out.stderr
    rows = pd.read_csv(tmp_path / "r.csv")
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    over = rows[rows["required_coverage_jpy"] > rows["net_assets_jpy"]]
    assert summary["requirement_over_net_assets"] == {"count": len(over), "exchanges": list(over["exchange_id"])}
    assert len(over) > 0
    assert list(rows["requirement_to_net_assets"]) == pytest.approx(
        list(rows["required_coverage_jpy"] / rows["net_assets_jpy"]), rel=1e-12)
    short = rows[rows["status"] == "shortfall"]
    assert [c["exchange_id"] for c in summary["cannot_comply"]] == list(short["exchange_id"]) and len(short) > 0
    assert summary["cover_demand"]["capacity_jpy"] == pytest.approx(410e9)   # data/capacity.csv in total
    total_R = f"¥{rows['required_coverage_jpy'].sum():,.0f}  (total R)"
    assert total_R in out.stdout
    assert f"R > net assets  {len(over)}: " in out.stdout and f"Cannot comply   {len(short)}" in out.stdout
    assert "against their capacity ¥410,000,000,000" in out.stdout


def test_frontier_over_the_share_cap_runs_on_a_real_exchange():
    out = run("frontier", "--param", "max_share_of_customer_assets",
              "--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "zaif", "--regime", "cold-wallet",
              "--quotes", str(DATA / "quotes-japan.csv"),
              "--format", "json")
    assert out.returncode == 0, out.stderr
    points = json.loads(out.stdout)["points"]
    assert len(points) == 21 and all(p["max_share_of_customer_assets"] > 0 for p in points)
    assert all(p["required_coverage_jpy"] > 0 for p in points)
    out = run("frontier", "--param", "cap_jpy", "--values", "0", "--profiles", str(DATA / "profiles-japan-2025.csv"),
              "--regime", "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv"))
    assert out.returncode == 2 and "no value of cap_jpy leaves a plausible requirement" in out.stderr


def test_price_names_the_licensing_rule_for_an_unfronted_unlicensed_quote():
    out = run("price", "--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "bitflyer", "--regime",
              "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv"), "--format", "json")
    assert out.returncode == 0, out.stderr
    why = {q["quote_id"]: q["reason"] for q in json.loads(out.stdout)["quotes"]}
    assert why["BDA-D1"] == "ineligible: not licensed in Japan"
    assert why["OFF-1"] == "ineligible: rating below min_rating"


def test_a_quote_cell_over_128KB_in_batch_exits_2_naming_row_and_column(tmp_path):
    quotes = tmp_path / "q.csv"
    quotes.write_text("quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\n"
                      f"Q1,insurance,Ins,AA,0,1e9,0.02\nQ2,insurance,{'x' * 140_000},AA,0,1e9,0.02\n")
    out = run("batch", "--quotes", str(quotes), "--out", str(tmp_path / "r.csv"), "--workers", "1")
    assert out.returncode == 2 and "internal error" not in out.stderr and "Traceback" not in out.stderr
    assert "q.csv, row 2" in out.stderr and "column 'counterparty'" in out.stderr and "at most 4,096" in out.stderr


def test_solve_write_lp_writes_the_model_it_solves(tmp_path):
    # the LP file is the user-visible model: rows named by meaning, and HiGHS finds the same cost from it
    lp = tmp_path / "model.lp"
    done = run("solve", "--write-lp", str(lp), "--format", "json")
    assert done.returncode == 0, done.stderr
    text = lp.read_text()
    assert "funded_external_hack" in text and "min_line_Q03" in text and "counterparty_cap_" in text
    import highspy
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(lp))
    h.run()
    R = json.loads(done.stdout)["required_coverage_jpy"]
    objective = h.getInfo().objective_function_value
    assert objective * R == pytest.approx(json.loads(done.stdout)["annual_cost_jpy"], rel=1e-9)
    mps = tmp_path / "model.mps"
    assert run("solve", "--write-lp", str(mps)).returncode == 0 and "ROWS" in mps.read_text()
    bad = run("solve", "--write-lp", str(tmp_path / "missing" / "m.lp"))
    assert bad.returncode == 2 and "--write-lp" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------------ options that would mislead are refused up front

@pytest.mark.parametrize("args, words", [
    # a value a regime file would refuse: solved, it would be called optimal
    (["frontier", "--param", "derivative_credit_factor", "--values", "5"], "derivative_credit_factor = 5"),
    (["frontier", "--param", "min_cash_share", "--values", "0.1,nan,0.9"], "min_cash_share = nan"),
    (["frontier", "--param", "floor_jpy", "--values", "-5"], "floor_jpy = -5"),
    # options that would be dropped in silence
    (["solve", "--scenario", "s.json", "--exchange", "EX01"], "no --exchange with it"),
    (["batch", "data/profiles.csv", "--workers", "0"], "--workers"),
    (["market", "--method", "joint", "--chunk-size", "3"], "--chunk-size"),
    # bad input, not a solver failure or an internal error
    (["risk", "--seed", "-1"], "--seed"), (["risk", "--mix", "risk", "--tvar-limit", "nan"], "--tvar-limit"),
    (["risk", "--scenarios", "10000000000"], "--scenarios"),
    (["risk", "--scenarios", "50"], "hold no year in the worst 1.00%"),  # VaR 0.99 of 50 years: no tail at all
    (["price", "--exchange", "EX05", "--quote", "Q13"], "offered only to EX01"),  # a curve of 0 at every price
    (["batch", "data/profiles.csv", "--scheduler", "garbage"], "--scheduler"),
    (["batch", "data/profiles.csv", "--risk", "--seed", "-1"], "--seed"),
    # an output that cannot be written is found before a result is printed
    (["solve", "--format", "json", "--out", "x.txt"], "unknown output type"),
    (["solve", "--out", "no-such-folder/x.json"], "does not exist"),
    (["solve", "--write-lp", "no-such-folder/x.lp"], "does not exist"),
])
def test_options_that_would_mislead_exit_2_before_anything_is_printed(args, words, tmp_path):
    out = run(*args, cwd=ROOT) if args[0] != "solve" or "--scenario" not in args else None
    if out is None:  # a valid scenario file, so that only the extra option is wrong
        from optimizer.scenario import Scenario, to_json
        from optimizer import load_profiles, load_quotes, load_regime
        from conftest import DATA

        profile = load_profiles(DATA / "profiles.csv")[0]
        (tmp_path / "s.json").write_text(to_json(Scenario(profile, tuple(load_quotes(DATA / "quotes.csv")),
                                                          load_regime(DATA / "regimes" / "securities-style.toml"))))
        out = run(*[str(tmp_path / "s.json") if a == "s.json" else a for a in args])
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert words in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""  # nothing that looks like a result


@pytest.mark.parametrize("command", [
    ["risk", "--scenarios", "20000"], ["stress"], ["frontier", "--values", "0,0.5,1"], ["compare"]])
def test_the_views_take_a_saved_scenario_as_the_same_inputs_given_one_by_one(command, tmp_path):
    from dataclasses import replace

    from conftest import DATA
    from optimizer import load_profiles, load_quotes, load_regime
    from optimizer.scenario import Scenario, to_json

    profiles, sheet = DATA / "profiles-japan-2025.csv", DATA / "quotes-japan.csv"
    regime = DATA / "regimes" / "cold-wallet.toml"
    profile = load_profiles(profiles)[1]
    quotes = [replace(q, rate_on_line=q.rate_on_line * 1.2) if i == 0 else q
              for i, q in enumerate(load_quotes(sheet))]  # an edited sheet: only the scenario holds it
    edited = tmp_path / "edited.csv"
    from optimizer.scenario import quotes_to_frame

    quotes_to_frame(quotes).to_csv(edited, index=False)
    path = tmp_path / "s.json"
    path.write_text(to_json(Scenario(profile, tuple(quotes), load_regime(regime), regime_preset="cold-wallet",
                                     quote_sheet="quotes-japan.csv")), encoding="utf-8")
    by_scenario = run(*command, "--scenario", str(path), "--format", "json")
    assert by_scenario.returncode == 0, by_scenario.stderr
    inputs = ["--profiles", str(profiles), "--exchange", profile.exchange_id, "--quotes", str(edited)]
    if command[0] != "compare":
        inputs += ["--regime", str(regime)]
    one_by_one = run(*command, *inputs, "--format", "json")
    assert one_by_one.returncode == 0, one_by_one.stderr
    drop = lambda d: {k: v for k, v in d.items() if k not in ("seconds", "quotes", "source")} if isinstance(d, dict) \
        else d  # noqa: E731 — timings and file names differ
    assert drop(json.loads(by_scenario.stdout)) == drop(json.loads(one_by_one.stdout))
    both = run(*command, "--scenario", str(path), "--quotes", str(edited))
    assert both.returncode == 2 and "no --quotes with it" in both.stderr and both.stdout == ""
