"""`batch --risk` (optimizer/batch.py with risk.RiskColumns): the risk metrics of each profile's optimal mix as
columns. Hand-checked identities first, then agreement with the `risk` command, then properties, then the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from optimizer import batch
from optimizer.inputs import load_profiles
from optimizer.loss_model import load_loss_model
from optimizer.risk import RISK_COLUMNS, RiskColumns, var_tvar
from optimizer.simulation import simulate
from conftest import DATA, run_cli

QUOTES = DATA / "quotes.csv"
REGIME = DATA / "regimes" / "securities-style.toml"
JAPAN = load_loss_model(DATA / "loss-models" / "japan.toml")
HEADER = "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital"


cli = run_cli  # the command line in this process, exit code and both streams (conftest.run_cli)


def run(profiles, quotes=QUOTES, n=5_000, seed=11, level=0.99, **kw):
    return batch.run(profiles, quotes, REGIME, workers=1, risk=RiskColumns(JAPAN, n, seed, level), **kw)


# ------------------------------------------------------------------ hand-checked

def test_an_all_cash_mix_retains_every_loss(write):
    # The only quote is rated below the regime's minimum: every profile holds cash only, so retained = loss.
    quotes = write("q.csv", "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\n"
                            "Q1,insurance,Weak insurer,CCC,0,1e12,0.01\n")
    profiles = write("p.csv", f"{HEADER}\nA,5e10,0.05,1e12,0.10\n")
    row = run(profiles, quotes, n=20_000).results.iloc[0]
    assert row["status"] == "optimal" and row["n_instruments"] == 0
    sc = simulate(load_profiles(profiles)[0], JAPAN, 20_000, 11)
    loss = sc.annual_loss
    assert row["expected_loss_jpy"] == pytest.approx(loss.sum() / 20_000, rel=1e-12)
    assert row["expected_retained_jpy"] == pytest.approx(row["expected_loss_jpy"], rel=1e-12)
    assert row["expected_recovery_jpy"] == 0.0
    var, tvar = var_tvar(loss, 20_000, 0.99)
    assert (row["var_jpy"], row["tvar_jpy"]) == pytest.approx((var, tvar), rel=1e-12)
    cash = row["cash_reserve_jpy"]
    assert row["prob_reserve_exhausted"] == np.count_nonzero(loss > cash) / 20_000
    assert row["total_cost_of_risk_jpy"] == pytest.approx(row["annual_cost_jpy"] + row["expected_loss_jpy"])


def test_without_risk_the_rows_keep_their_columns():
    plain = batch.run(DATA / "profiles.csv", QUOTES, REGIME, workers=1).results
    assert list(plain.columns) == list(batch.COLUMNS)
    risky = run(DATA / "profiles.csv").results
    assert list(risky.columns) == list(batch.COLUMNS) + list(RISK_COLUMNS)
    pd.testing.assert_frame_equal(risky[list(batch.COLUMNS)], plain)  # the regulatory answer is unchanged


# ------------------------------------------------------------------ the same figures as the `risk` command

def test_each_row_equals_the_risk_command_for_that_exchange():
    rows = run(DATA / "profiles.csv", n=3_000, seed=5, level=0.95).results.set_index("exchange_id")
    for exchange in ("EX01", "EX03"):
        out = cli("risk", "--exchange", exchange, "--scenarios", 3000, "--seed", 5, "--level", 0.95,
                  "--format", "json")
        assert out.returncode == 0, out.stderr
        risk = json.loads(out.stdout)["risk"]
        for key in RISK_COLUMNS:
            assert rows.loc[exchange, key] == pytest.approx(risk[key], rel=1e-12, abs=1e-6), (exchange, key)


def test_figures_do_not_depend_on_chunking_or_workers():
    a = run(DATA / "profiles.csv", chunk_size=1).results
    b = batch.run(DATA / "profiles.csv", QUOTES, REGIME, workers=2, chunk_size=5,
                  risk=RiskColumns(JAPAN, 5_000, 11, 0.99)).results
    pd.testing.assert_frame_equal(a, b)


def test_error_rows_keep_blank_risk_columns_and_the_rest_run(write):
    profiles = write("p.csv", f"{HEADER}\nA,5e10,0.05,1e12,0.10\nB,-5,0.05,1e12,0.10\nC,8e10,0.04,2e12,0.12\n")
    rows = run(profiles).results.set_index("exchange_id")
    assert rows.loc["B", "status"] == "error" and "customer_assets_jpy" in rows.loc["B", "error"]
    assert rows.loc["B", list(RISK_COLUMNS)].isna().all()
    assert rows.loc[["A", "C"], list(RISK_COLUMNS)].notna().all().all()


def test_the_key_changes_with_whatever_the_columns_depend_on():
    base = RiskColumns(JAPAN, 1000, 1, 0.99)
    stressed = load_loss_model(DATA / "loss-models" / "japan-stressed.toml")
    others = [RiskColumns(JAPAN, 1001, 1, 0.99), RiskColumns(JAPAN, 1000, 2, 0.99),
              RiskColumns(JAPAN, 1000, 1, 0.95), RiskColumns(stressed, 1000, 1, 0.99)]
    assert base.key() == RiskColumns(JAPAN, 1000, 1, 0.99).key()
    assert len({base.key()} | {o.key() for o in others}) == 5


# ------------------------------------------------------------------ properties

@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31), level=st.sampled_from([0.9, 0.95, 0.99]))
def test_every_row_is_consistent(seed, level):
    rows = run(DATA / "profiles.csv", n=2_000, seed=seed, level=level).results
    ok = rows[rows["status"] != "error"]
    assert len(ok) == len(rows)
    assert (ok["expected_retained_jpy"] >= 0).all()
    assert (ok["expected_retained_jpy"] <= ok["expected_loss_jpy"] * (1 + 1e-12)).all()
    assert np.allclose(ok["expected_retained_jpy"] + ok["expected_recovery_jpy"], ok["expected_loss_jpy"],
                       rtol=1e-9, atol=1e-3)
    assert (ok["tvar_jpy"] >= ok["var_jpy"] - 1e-6).all() and (ok["var_jpy"] >= 0).all()
    assert ok["prob_reserve_exhausted"].between(0, 1).all()
    assert np.allclose(ok["total_cost_of_risk_jpy"], ok["annual_cost_jpy"] + ok["expected_retained_jpy"])


# ------------------------------------------------------------------ end to end (CLI)

def test_cli_batch_risk_writes_the_columns_and_keeps_error_rows(write, tmp_path):
    profiles = write("p.csv", f"{HEADER}\nA,5e10,0.05,1e12,0.10\nB,abc,0.05,1e12,0.10\nC,8e10,0.04,2e12,0.12\n")
    out = tmp_path / "r.parquet"
    done = cli("batch", profiles, "--out", out, "--risk", "--scenarios", 4000, "--seed", 9, "--level", 0.95,
               "--loss-model", "japan-stressed", "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert "Risk columns: Japan (stressed), 4,000 scenario-years" in done.stdout
    rows = pd.read_parquet(out).set_index("exchange_id")
    assert rows.loc["B", "status"] == "error" and math.isnan(rows.loc["B", "tvar_jpy"])
    assert (rows.loc[["A", "C"], "tvar_jpy"] > 0).all()
    summary = json.loads(batch.summary_path(out).read_text())
    assert summary["risk"] == {"loss_model": "Japan (stressed)", "scenarios": 4000, "seed": 9, "level": 0.95,
                               "columns": list(RISK_COLUMNS)}
    # the same figures in process: a profile's risk columns are the risk command's
    direct = batch.run(profiles, QUOTES, REGIME, workers=1, risk=RiskColumns(
        load_loss_model(DATA / "loss-models" / "japan-stressed.toml"), 4000, 9, 0.95)).results.set_index("exchange_id")
    assert rows.loc["C", "tvar_jpy"] == pytest.approx(direct.loc["C", "tvar_jpy"], rel=1e-12)


def test_a_rerun_with_another_seed_does_not_reuse_the_first_runs_rows(tmp_path):
    out = tmp_path / "r.csv"
    first = cli("batch", DATA / "profiles.csv", "--out", out, "--risk", "--scenarios", 2000, "--seed", 1,
                "--workers", 1)
    assert first.returncode == 0, first.stderr
    a = pd.read_csv(out)
    second = cli("batch", DATA / "profiles.csv", "--out", out, "--risk", "--scenarios", 2000, "--seed", 2,
                 "--workers", 1)
    assert second.returncode == 0, second.stderr
    b = pd.read_csv(out)
    assert (a["annual_cost_jpy"] == b["annual_cost_jpy"]).all()
    assert not np.allclose(a["expected_loss_jpy"], b["expected_loss_jpy"])


@pytest.mark.parametrize("args, named", [
    (["--seed", "3"], "--seed"),                                  # a risk option without --risk
    (["--risk", "--level", "1.5"], "--level"),
    (["--risk", "--scenarios", "0"], "--scenarios"),
    (["--risk", "--loss-model", "no-such-model.toml"], "no-such-model.toml"),
])
def test_bad_risk_options_exit_2_naming_the_option(tmp_path, args, named):
    done = cli("batch", DATA / "profiles.csv", "--out", tmp_path / "r.csv", *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.csv").exists()


def test_a_bad_loss_model_exits_2_naming_file_and_key(write, tmp_path):
    text = (DATA / "loss-models" / "japan.toml").read_text().replace("events_per_year = 0.025", "events_per_year = -1")
    bad = write("bad.toml", text)
    done = cli("batch", DATA / "profiles.csv", "--out", tmp_path / "r.csv", "--risk", "--loss-model", bad)
    assert done.returncode == 2 and "bad.toml" in done.stderr and "events_per_year" in done.stderr


def test_the_risk_key_of_a_model_without_a_pareto_is_what_it_was_before_the_pareto_existed():
    # a batch file written with --risk before the pareto severity (its schema holds this key) still resumes: the
    # key was c25cec0c5c75461d for the central model at 1,000 years, seed 1, when EventType had no alpha
    assert RiskColumns(JAPAN, 1000, 1, 0.99).key() == "c25cec0c5c75461d"
    heavy = load_loss_model(DATA / "loss-models" / "japan-heavy-tail.toml")
    assert RiskColumns(heavy, 1000, 1, 0.99).key() != RiskColumns(JAPAN, 1000, 1, 0.99).key()
