"""Batch runs (optimizer/batch.py): error rows, formats, resume after kill -9, a real Dask cluster."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer import batch
from optimizer.domain import Quote
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.model import solve
from conftest import DATA, ROOT

QUOTES = DATA / "quotes.csv"
REGIME = DATA / "regimes" / "securities-style.toml"
HEADER = "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital,liquid_capital_jpy"


def make_profiles(path: Path, n: int, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "exchange_id": [f"P{i:06d}" for i in range(n)],
        "customer_assets_jpy": rng.uniform(1e9, 1e12, n).round(0),
        "hot_wallet_share": rng.uniform(0.01, 0.05, n).round(4),
        "annual_trading_volume_jpy": rng.uniform(1e11, 2e13, n).round(0),
        "cost_of_capital": rng.uniform(0.05, 0.15, n).round(4),
        "liquid_capital_jpy": np.where(rng.random(n) < 0.1, 1e9, np.nan),
    })
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_each_profile_matches_a_single_solve(tmp_path):
    out = tmp_path / "r.csv"
    batch.run(DATA / "profiles.csv", QUOTES, REGIME, out, workers=1)
    frame = pd.read_csv(out, keep_default_na=False, na_values=[""])
    quotes, regime = load_quotes(QUOTES), load_regime(REGIME)
    assert list(frame.columns[:9]) == ["exchange_id", "status", "required_coverage_jpy", "annual_cost_jpy",
                                        "all_cash_cost_jpy", "savings_jpy", "cash_reserve_jpy", "shortfall_jpy",
                                        "marginal_cost_per_jpy"]
    for profile, row in zip(load_profiles(DATA / "profiles.csv"), frame.itertuples()):
        s = solve(profile, quotes, regime)
        assert row.exchange_id == profile.exchange_id and row.status == s.status
        assert row.annual_cost_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-12)
        assert row.marginal_cost_per_jpy == pytest.approx(s.marginal_cost_per_jpy, rel=1e-9)
    summary = json.loads(batch.summary_path(out).read_text())
    assert summary["profiles"] == len(frame)
    assert summary["totals"]["annual_cost_jpy"] == pytest.approx(frame["annual_cost_jpy"].sum())
    assert not any(p.name.endswith(".parts") for p in tmp_path.iterdir())  # work folder removed


def test_bad_rows_become_error_rows_and_the_rest_runs(tmp_path):
    profiles = tmp_path / "p.csv"
    profiles.write_text(f"{HEADER}\nA,1e10,0.05,1e12,0.1,\nB,1e10,0.05,lots,0.1,\nA,1e10,0.05,1e12,0.1,\n"
                        "C,1e10,0.05\nD,1e10,0.05,1e12,0.1,\n")
    result = batch.run(profiles, QUOTES, REGIME, tmp_path / "r.csv", workers=1)
    frame = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert list(frame["status"]) == ["optimal", "error", "error", "error", "optimal"]
    assert "row 2" in frame["error"][1] and "'annual_trading_volume_jpy'" in frame["error"][1]
    assert "duplicate" in frame["error"][2] and "row 1" in frame["error"][2]
    assert "cells" in frame["error"][3]
    assert result.summary["status_counts"]["error"] == 3


def test_bad_quotes_file_or_profiles_header_is_an_input_error(tmp_path):
    from optimizer.inputs import InputError

    bad = tmp_path / "p.csv"
    bad.write_text("exchange_id,assets\nA,1\n")
    with pytest.raises(InputError, match="'assets'"):
        batch.run(bad, QUOTES, REGIME, tmp_path / "r.csv", workers=1)
    out = subprocess.run([sys.executable, "-m", "optimizer", "batch", str(bad), "--out", str(tmp_path / "r.csv")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "'assets'" in out.stderr and "Traceback" not in out.stderr


def test_csv_and_parquet_round_trips_agree(tmp_path):
    csv_in = make_profiles(tmp_path / "p.csv", 300)
    pq_in = make_profiles(tmp_path / "p.parquet", 300)
    batch.run(csv_in, QUOTES, REGIME, tmp_path / "a.csv", workers=1, chunk_size=64)
    batch.run(pq_in, QUOTES, REGIME, tmp_path / "b.parquet", workers=1, chunk_size=64)
    a = pd.read_csv(tmp_path / "a.csv", keep_default_na=False, na_values=[""])
    b = pd.read_parquet(tmp_path / "b.parquet")
    assert len(a) == len(b) == 300
    pd.testing.assert_frame_equal(a.drop(columns="error"), b.drop(columns="error"), check_dtype=False, rtol=1e-12)
    assert a["all_cash_cost_jpy"].isna().any()  # profiles whose R exceeds their ¥1bn liquid capital


def test_two_local_workers_give_the_same_file_as_one(tmp_path):
    profiles = make_profiles(tmp_path / "p.csv", 400)
    batch.run(profiles, QUOTES, REGIME, tmp_path / "one.csv", workers=1, chunk_size=50)
    batch.run(profiles, QUOTES, REGIME, tmp_path / "two.csv", workers=2, chunk_size=50)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


@pytest.mark.cluster
def test_dask_cluster_run_equals_the_local_run(tmp_path):
    from distributed import LocalCluster

    profiles = make_profiles(tmp_path / "p.csv", 400)
    batch.run(profiles, QUOTES, REGIME, tmp_path / "local.csv", workers=1, chunk_size=50)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        batch.run(profiles, QUOTES, REGIME, tmp_path / "dask.csv", scheduler=cluster.scheduler_address, chunk_size=50)
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()


def test_killed_run_resumes_without_redoing_chunks_to_the_identical_file(tmp_path, monkeypatch):
    profiles = make_profiles(tmp_path / "p.csv", 1500)
    batch.run(profiles, QUOTES, REGIME, tmp_path / "whole.csv", workers=1, chunk_size=50)

    out = tmp_path / "resumed.csv"
    parts = tmp_path / ".resumed.csv.parts"
    cmd = [sys.executable, "-m", "optimizer", "batch", str(profiles), "--quotes", str(QUOTES), "--regime",
           str(REGIME), "--out", str(out), "--workers", "1", "--chunk-size", "50"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(parts.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run finished before it could be interrupted"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not out.exists()
    finished = len(list(parts.glob("part-*.parquet")))
    assert 3 <= finished < 30

    calls = []
    real = batch.solve_chunk
    monkeypatch.setattr(batch, "solve_chunk", lambda task: calls.append(task.index) or real(task))
    batch.run(profiles, QUOTES, REGIME, out, workers=1, chunk_size=50)
    assert len(calls) == 30 - finished  # finished chunks were not redone
    assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not parts.exists()


def test_changed_inputs_do_not_reuse_old_checkpoints(tmp_path):
    profiles = make_profiles(tmp_path / "p.csv", 50)
    parts = tmp_path / ".r.csv.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"fingerprint": "something else"}))
    pd.DataFrame({"x": [1]}).to_parquet(parts / "part-0000000.parquet")
    batch.run(profiles, QUOTES, REGIME, tmp_path / "r.csv", workers=1)
    assert len(pd.read_csv(tmp_path / "r.csv")) == 50


def test_api_without_output_returns_the_frame():
    profiles = load_profiles(DATA / "profiles.csv")
    seen = []
    result = batch.run(profiles, load_quotes(QUOTES), load_regime(REGIME), workers=1,
                       on_progress=lambda done, total: seen.append((done, total)))
    assert list(result.results["exchange_id"]) == [p.exchange_id for p in profiles]
    assert seen[-1] == (len(profiles), len(profiles))


def test_ten_thousand_profiles_end_to_end(tmp_path):
    profiles = make_profiles(tmp_path / "p.parquet", 10_000, seed=11)
    out = tmp_path / "r.parquet"
    proc = subprocess.run([sys.executable, "-m", "optimizer", "batch", str(profiles), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "10,000 profiles" in proc.stdout
    frame = pd.read_parquet(out)
    assert len(frame) == 10_000 and frame["exchange_id"].is_unique
    assert set(frame["status"]) <= {"optimal", "shortfall"}
    assert (frame.loc[frame["status"] == "optimal", "annual_cost_jpy"]
            <= frame.loc[frame["status"] == "optimal", "all_cash_cost_jpy"].fillna(np.inf) * (1 + 1e-9)).all()


def test_warm_started_lp_gives_the_same_costs_as_a_fresh_model():
    # A requirement-basis, plain-LP quote sheet takes the warm-started path; yen-basis, MILP and shortfall fall
    # back to model.solve. Both must agree with a fresh PuLP model for every profile.
    from optimizer.domain import Eligibility, ExchangeProfile, Regime, RequirementRule
    from optimizer.model import Instance, Resolver

    rng = np.random.default_rng(3)
    quotes = [Quote(f"L{i}", "derivative" if i % 5 == 4 else "insurance", f"C{i % 4}", ["AA", "A", "BBB"][i % 3],
                    float(rng.choice([0.0, 0.1, 0.25, 0.5])), float(rng.choice([0.2, 0.4, 0.6])),
                    float(rng.uniform(0.01, 0.09)), layer_basis="requirement", max_share=float(rng.choice([0.5, 1.0])),
                    collateralized=i % 10 == 9) for i in range(12)]
    regime = Regime("t", RequirementRule(volume_rate=0.002, floor_jpy=1e9),
                    Eligibility(max_derivative_share=0.25, max_counterparty_share=0.4), rating_credit={"A": 0.95})
    lp = Resolver()
    for i in range(120):
        p = ExchangeProfile(f"P{i}", float(rng.uniform(1e9, 1e12)), 0.05, float(rng.uniform(1e11, 2e13)),
                            float(rng.uniform(0.03, 0.15)), premium_multiplier=float(rng.uniform(0.8, 1.4)),
                            liquid_capital_jpy=float(rng.choice([np.inf, 2e9, 1e8])))
        fast, fresh = lp.solve(Instance.build(p, quotes, regime)), solve(p, quotes, regime)
        assert fast.status == fresh.status
        assert fast.annual_cost_jpy == pytest.approx(fresh.annual_cost_jpy, rel=1e-7)
        assert fast.shortfall_jpy == pytest.approx(fresh.shortfall_jpy, rel=1e-7, abs=1e-3)
        assert fast.marginal_cost_per_jpy == pytest.approx(fresh.marginal_cost_per_jpy, rel=1e-6, abs=1e-9)
