"""Batch runs (optimizer/batch.py): error rows, formats, resume after kill -9 and SIGTERM, a real Dask cluster,
two runs on one output. Checkpoints, the lock and the output file itself: test_batch_store.py."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pulp
import pandas as pd
import pytest

from optimizer import batch, report
from optimizer.domain import Quote
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.model import solve
from conftest import DATA, ROOT, run_cli

QUOTES = DATA / "quotes.csv"
REGIME = DATA / "regimes" / "securities-style.toml"
HEADER = "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital,liquid_capital_jpy"
# A requirement-basis, plain-LP sheet (the warm-started path): fast enough to make long runs in a test
LP_QUOTES = """quote_id,kind,counterparty,rating,attachment,limit,layer_basis,rate_on_line,max_share
L1,insurance,Insurer A,AA-,0,0.25,requirement,{r1},0.5
L2,insurance,Insurer B,A+,0,0.25,requirement,0.045,0.5
L3,insurance,Insurer C,A,0.25,0.25,requirement,{r3},1.0
L4,insurance,Insurer D,A-,0.5,0.5,requirement,0.015,0.5
L5,derivative,Issuer E,AA,0,0.3,requirement,0.02,1.0
"""


def lp_quotes(path: Path, r1: float = 0.04, r3: float = 0.025) -> Path:
    """A small illustrative sheet of requirement-basis LP layers; r1, r3: the rates on line of L1 and L3."""
    path.write_text(LP_QUOTES.format(r1=r1, r3=r3))
    return path


cli = run_cli  # the command line in this process, exit code and both streams (conftest.run_cli)


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
    out = cli("batch", bad, "--out", tmp_path / "r.csv")
    assert out.returncode == 2 and "'assets'" in out.stderr and "Traceback" not in out.stderr


def test_csv_and_parquet_round_trips_agree(tmp_path):
    csv_in = make_profiles(tmp_path / "p.csv", 300)
    pq_in = make_profiles(tmp_path / "p.parquet", 300)
    batch.run(csv_in, QUOTES, REGIME, tmp_path / "a.csv", workers=1, chunk_size=64)
    batch.run(pq_in, QUOTES, REGIME, tmp_path / "b.parquet", workers=1, chunk_size=64)
    text = ["error", "statement_date", "binding"]  # a blank CSV cell reads back as NaN, Parquet keeps ""
    a = pd.read_csv(tmp_path / "a.csv", keep_default_na=False, na_values=[""], dtype={c: str for c in text})
    b = pd.read_parquet(tmp_path / "b.parquet")
    assert len(a) == len(b) == 300
    pd.testing.assert_frame_equal(a.fillna({c: "" for c in text}), b, check_dtype=False, rtol=1e-12)
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
    proc = cli("batch", profiles, "--out", out)
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


# ------------------------------------------------------------------ every row error is an error row

@pytest.mark.parametrize("error", [pulp.PulpError("Cannot multiply variables with NaN/inf values"),
                                   ValueError("math domain error"), OverflowError("int too large to convert")],
                         ids=["PulpError", "ValueError", "OverflowError"])
def test_anything_raised_while_solving_one_profile_becomes_its_error_row(tmp_path, monkeypatch, error):
    profiles = make_profiles(tmp_path / "p.csv", 120)
    clean = tmp_path / "clean.csv"
    batch.run(profiles, QUOTES, REGIME, clean, workers=1, chunk_size=50)

    class Failing(batch.ChunkSolver):
        def instance(self, profile):  # every path (a chunk at once, one by one) builds its instances here
            if profile.exchange_id == "P000060":
                raise error
            return super().instance(profile)

    monkeypatch.setattr(batch, "ChunkSolver", Failing)
    result = batch.run(profiles, QUOTES, REGIME, tmp_path / "r.csv", workers=1, chunk_size=50)
    frame = pd.read_csv(tmp_path / "r.csv", keep_default_na=False, na_values=[""])
    good = pd.read_csv(clean, keep_default_na=False, na_values=[""])
    bad = frame["exchange_id"] == "P000060"
    assert list(frame.loc[bad, "status"]) == ["error"]
    assert frame.loc[bad, "error"].item() == f"could not be solved: {type(error).__name__}: {error}"
    assert frame.loc[bad, "source_row"].item() == 61 and frame.loc[bad, "annual_cost_jpy"].isna().all()
    # every other profile, including the rest of the same chunk, is solved as in a clean run
    pd.testing.assert_frame_equal(frame[~bad].drop(columns="error").reset_index(drop=True),
                                  good[~bad].drop(columns="error").reset_index(drop=True))
    assert (frame.loc[~bad, "error"].fillna("") == "").all()
    assert result.summary["status_counts"]["error"] == 1 and result.summary["error_exchanges"] == ["P000060"]


def test_a_profile_the_lp_cannot_take_is_an_error_row_and_the_batch_goes_on(tmp_path):
    # customer assets of 1e-320 yen under an asset-based rule: a finite number that broke the LP (issue 7, item 5)
    profiles = tmp_path / "p.csv"
    profiles.write_text(f"{HEADER}\nA,1e10,0.05,1e12,0.1,\nTINY,1e-320,0.05,1e12,0.1,\nB,1e10,0.05,1e12,0.1,\n")
    out = cli("batch", profiles, "--regime", "asset-based", "--out", tmp_path / "r.csv", "--workers", "1")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert list(frame["status"]) == ["optimal", "error", "optimal"]
    assert frame["error"][1]  # the message says what went wrong
    assert "error 1" in out.stdout


# ------------------------------------------------------------------ files that are not UTF-8 CSV, oversized cells

@pytest.mark.parametrize("case", ["utf16", "invalid-utf8", "1MB-cell", "100KB-cell"])
def test_undecodable_or_oversized_profiles_exit_2_naming_file_row_and_column(tmp_path, case):
    path = tmp_path / "profiles.csv"
    header = "exchange_id,name,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital"
    rows = ["A,Alpha,1e10,0.05,1e12,0.1", "B,Beta,1e10,0.05,1e12,0.1", "C,Gamma,1e10,0.05,1e12,0.1"]
    if case == "utf16":
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-16")
    elif case == "invalid-utf8":
        path.write_bytes(("\n".join([header, *rows]) + "\n").replace("Beta", "B\udcffta").encode("utf-8",
                                                                                               "surrogateescape"))
    else:
        big = "x" * (1_000_000 if case == "1MB-cell" else 100_000)
        path.write_text("\n".join([header, rows[0], rows[1].replace("Beta", big), rows[2]]) + "\n")
    out = cli("batch", path, "--out", tmp_path / "r.csv", "--workers", "1")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr and "internal error" not in out.stderr
    assert lines[0].startswith("error: ") and "profiles.csv" in lines[0]
    if case == "utf16":
        assert "not UTF-8" in lines[0] and "UTF-16" in lines[0]
    else:
        assert "row 2" in lines[0] and "column 'name'" in lines[0]
        expected = "not UTF-8" if case == "invalid-utf8" else "characters; expected at most 65,536"
        assert expected in lines[0]
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.csv"]  # refused before anything was written


@pytest.mark.parametrize("case", ["100KB-cell", "invalid-utf8"])
def test_a_bad_text_cell_deep_in_a_parquet_file_exits_2_naming_its_row_and_column(tmp_path, case):
    """Parquet chunks are checked as Arrow columns; a chunk with a suspect cell is read row by row to name it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, bad = 1200, 700  # row 700 is in the second chunk of 512
    names = [f"Exchange {i}" for i in range(1, n + 1)]
    if case == "100KB-cell":
        names[bad - 1] = "x" * 100_000
        name_column = pa.array(names, pa.string())
    else:
        raw = [v.encode() for v in names]
        raw[bad - 1] = b"B\xfft"
        name_column = pa.array(raw, pa.binary()).view(pa.string())  # not validated: what a foreign writer may do
    table = pa.table({"exchange_id": [f"E{i}" for i in range(1, n + 1)], "name": name_column,
                      "customer_assets_jpy": [1e10] * n, "hot_wallet_share": [0.05] * n,
                      "annual_trading_volume_jpy": [1e12] * n, "cost_of_capital": [0.1] * n})
    path = tmp_path / "profiles.parquet"
    pq.write_table(table, path)
    out = cli("batch", path, "--out", tmp_path / "r.csv", "--workers", "1")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr and lines[0].startswith("error: ")
    assert "profiles.parquet" in lines[0]
    assert f"row {bad}" in lines[0] and "column 'name'" in lines[0]
    assert ("expected at most 65,536" if case == "100KB-cell" else "not UTF-8 text (byte 0xff)") in lines[0]
    assert not (tmp_path / "r.csv").exists()


# ------------------------------------------------------------------ formula injection

def test_results_csv_is_neutralised_like_every_export_and_parquet_keeps_raw_values(tmp_path):
    ids = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "plain"]
    body = "".join(f'"{i.replace(chr(34), chr(34) * 2)}",1e10,0.05,1e12,0.1,\n' for i in ids)
    # a profiles file whose name starts with "=": error messages (which begin with the file name) must be inert too
    (tmp_path / "=1+2.csv").write_text(f"{HEADER}\n{body}plain,1e10,0.05,1e12,0.1,\n")
    for name in ("r.csv", "r.parquet"):
        out = cli("batch", "=1+2.csv", "--quotes", QUOTES, "--regime", REGIME, "--out", name, "--workers", "1",
                  cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    text = pd.read_csv(tmp_path / "r.csv", keep_default_na=False, dtype=str)
    assert list(text["exchange_id"]) == ["'" + i for i in ids[:4]] + ["plain", "plain"]
    assert text["error"][5].startswith("'=1+2.csv, row 6") and "duplicate" in text["error"][5]
    assert float(text["annual_cost_jpy"][2]) > 0  # numbers stay numbers
    raw = pd.read_parquet(tmp_path / "r.parquet")
    assert list(raw["exchange_id"]) == ids + ["plain"]
    assert raw["error"][5].startswith("=1+2.csv, row 6")


# ------------------------------------------------------------------ SIGTERM, two runs on one output

def test_sigterm_during_a_two_worker_batch_stops_every_process_and_the_rerun_resumes(tmp_path, monkeypatch):
    import psutil

    profiles = make_profiles(tmp_path / "p.csv", 3000)
    quotes = lp_quotes(tmp_path / "q.csv")
    out, parts = tmp_path / "r.csv", tmp_path / ".r.csv.parts"
    stderr = (tmp_path / "stderr.txt").open("w")  # a file, not a pipe: a surviving child could hold a pipe open
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "batch", str(profiles), "--quotes", str(quotes),
                             "--regime", str(REGIME), "--out", str(out), "--workers", "2", "--chunk-size", "25"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                            start_new_session=True)  # SIGTERM goes to the batch alone, as from `kill` or systemd
    family, alive = [], []
    try:
        deadline = time.monotonic() + 120
        while not list(parts.glob("part-*.json")):  # the workers are solving
            assert proc.poll() is None, "the run finished before it could be terminated"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        _, alive = psutil.wait_procs(family, timeout=15)
    finally:
        stderr.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for straggler in psutil.wait_procs(family, timeout=0)[1]:  # leave nothing running, even on failure
            straggler.kill()
    err = (tmp_path / "stderr.txt").read_text()
    assert len(family) >= 2  # the two workers (and the resource tracker) were there
    assert alive == []  # none of them is left behind
    assert proc.returncode == 143, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("terminated") and "resume" in err
    assert not out.exists() and not (tmp_path / ".r.csv.lock").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    finished = len(list(parts.glob("part-*.json")))

    calls = []
    real = batch.solve_chunk
    monkeypatch.setattr(batch, "solve_chunk", lambda task: calls.append(task.index) or real(task))
    result = batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=25)
    assert len(calls) == 120 - finished and result.summary["resumed_chunks"] == finished > 0
    monkeypatch.setattr(batch, "solve_chunk", real)
    batch.run(profiles, quotes, REGIME, tmp_path / "clean.csv", workers=1, chunk_size=25)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_two_runs_on_one_output_one_refuses_at_once_the_other_writes_only_its_own_rows(tmp_path):
    n = 4000
    profiles = make_profiles(tmp_path / "p.csv", n)
    sheets = {"a": lp_quotes(tmp_path / "qa.csv"), "b": lp_quotes(tmp_path / "qb.csv", r1=0.03, r3=0.035)}
    out = tmp_path / "r.csv"
    procs, ended = {}, {}
    for key, quotes in sheets.items():
        procs[key] = subprocess.Popen([sys.executable, "-m", "optimizer", "batch", str(profiles), "--quotes",
                                       str(quotes), "--regime", str(REGIME), "--out", str(out), "--workers", "1",
                                       "--chunk-size", "100"], cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
    deadline = time.monotonic() + 300
    while len(ended) < 2 and time.monotonic() < deadline:
        for key, proc in procs.items():
            if key not in ended and proc.poll() is not None:
                ended[key] = time.monotonic()
        time.sleep(0.01)
    errs = {key: proc.communicate()[1] for key, proc in procs.items()}
    codes = {key: proc.returncode for key, proc in procs.items()}
    assert sorted(codes.values()) == [0, 2], errs
    winner = next(k for k, c in codes.items() if c == 0)
    loser = next(k for k, c in codes.items() if c == 2)
    assert ended[loser] < ended[winner]  # refused at once, while the winner was still running
    line = errs[loser].strip()
    assert len(line.splitlines()) == 1 and line.startswith(f"error: {out}: another batch run is writing")
    assert f"pid {procs[winner].pid} " in line and "started 20" in line

    frame = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert len(frame) == n and frame["exchange_id"].is_unique and list(frame["source_row"]) == list(range(1, n + 1))
    batch.run(profiles, sheets[winner], REGIME, tmp_path / "ref.csv", workers=1, chunk_size=100)
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()  # every row priced with the winner's quotes
    head = pd.read_csv(profiles).head(100)
    other = batch.run(head, sheets[loser], REGIME, workers=1).results
    assert (other["annual_cost_jpy"] != frame["annual_cost_jpy"].head(100)).mean() > 0.5  # the sheets do differ
    assert json.loads(batch.summary_path(out).read_text())["profiles"] == n


def test_a_chunk_size_below_one_is_bad_input(tmp_path):
    out = cli("batch", "--out", tmp_path / "r.csv", "--chunk-size", "0")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --chunk-size: expected a whole number of profiles ≥ 1, got 0"


@pytest.mark.parametrize("damage", ["csv-renamed", "cut-in-half"])
def test_a_profiles_file_that_is_not_readable_parquet_exits_2(tmp_path, damage):
    good = make_profiles(tmp_path / "good.parquet", 50)
    bad = tmp_path / "bad.parquet"
    if damage == "csv-renamed":
        bad.write_bytes(make_profiles(tmp_path / "p.csv", 50).read_bytes())
    else:
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2] + data[-100:])
    out = cli("batch", bad, "--out", tmp_path / "r.csv", "--workers", "1")
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {bad}: not a readable Parquet file") and len(out.stderr.splitlines()) == 1


def test_the_summary_counts_how_each_solve_went(tmp_path):
    # a chunk is one stack: a few simplex runs, then most exchanges read off a re-used optimal basis; the summary
    # names each path (model.Resolver's reasons) and counts it
    from optimizer.model import REBUILD_NEW_STRUCTURE, REUSED_BASIS, WARM_SIMPLEX
    profiles = make_profiles(tmp_path / "p.csv", 300)
    result = batch.run(profiles, QUOTES, REGIME, tmp_path / "r.csv", workers=1, chunk_size=150)
    paths = result.summary["solve_paths"]
    assert paths[REBUILD_NEW_STRUCTURE] == 2  # one model per chunk
    assert paths[REUSED_BASIS] > paths[WARM_SIMPLEX] > 0
    assert "Solve paths" in report.batch_summary_text(result.summary)


def test_a_batch_starts_without_the_risk_view_the_break_evens_or_the_not_bought_reasons(tmp_path):
    """`batch` (no --risk) needs neither the risk view (its simulation and TVaR rows) nor break-evens, frontiers and
    the reasons a quote was not bought: they stay unimported (a few hundredths of a second of every batch's start-up),
    and the rows are written as before."""
    out = tmp_path / "rows.csv"
    probe = ("import sys\nfrom optimizer.cli import main\ncode = main(sys.argv[1:])\n"
             "sys.stderr.write(repr(sorted(m for m in ('optimizer.risk', 'optimizer.analysis', 'optimizer.reasons', "
             "'optimizer.obstacles', 'pulp', 'scipy') if m in sys.modules)))\n"
             "raise SystemExit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe, "batch", str(DATA / "profiles-japan-2025.csv"), "--quotes",
                           str(DATA / "quotes-japan.csv"), "--regime", "cold-wallet-repeat", "--out", str(out),
                           "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 3), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert len(pd.read_csv(out)) == len(pd.read_csv(DATA / "profiles-japan-2025.csv"))
