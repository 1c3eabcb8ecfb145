"""What the command line reads and writes, as a user meets it: outputs never replace inputs, one run per output,
results and summary together, Ctrl-C at any stage, damaged and hostile files (optimizer/cli.py, batch_store.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from optimizer import batch, market
from optimizer.batch_store import OutputError, OutputLock

from conftest import DATA, ROOT, run_cli
from test_batch import make_profiles

REGIME = DATA / "regimes" / "securities-style.toml"


def cli_process(*args, cwd=ROOT, timeout=600):
    """A real `python -m optimizer` process: for what only a process shows (another process holding the output's
    lock, HiGHS's banner on file descriptor 1)."""
    return subprocess.run([sys.executable, "-m", "optimizer", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


cli = run_cli  # the command line in this process, exit code and both streams (conftest.run_cli)


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ------------------------------------------------------------------ an output never replaces an input

@pytest.fixture
def copies(tmp_path):
    """Copies of the bundled inputs in tmp_path/T, and a symbolic link to the profiles."""
    folder = tmp_path / "T"
    folder.mkdir()
    for name in ("profiles.csv", "quotes.csv", "capacity.csv", "incidents.csv"):
        (folder / name).write_bytes((DATA / name).read_bytes())
    (folder / "link.csv").symlink_to(folder / "profiles.csv")
    return folder


@pytest.mark.parametrize("args, output, given", [
    (["batch", "T/profiles.csv", "--out", "T/profiles.csv"], "T/profiles.csv", "PROFILES"),
    (["batch", "T/profiles.csv", "--out", "./T/../T/link.csv"], "link.csv", "PROFILES"),
    (["batch", "T/profiles.csv", "--quotes", "T/quotes.csv", "--out", "T/quotes.csv"], "T/quotes.csv", "--quotes"),
    (["batch", "T/profiles.csv", "--capacity", "T/capacity.csv", "--out", "T/capacity.csv"], "T/capacity.csv",
     "--capacity"),
    (["market", "T/profiles.csv", "--quotes", "T/quotes.csv", "--out", "T/profiles.csv"], "T/profiles.csv",
     "PROFILES"),
    (["market", "T/profiles.csv", "--quotes", "T/quotes.csv", "--capacity", "T/capacity.csv", "--out",
      "T/capacity.csv"], "T/capacity.csv", "--capacity"),
    (["solve", "--quotes", "T/quotes.csv", "--out", "T/quotes.csv"], "T/quotes.csv", "--quotes"),
    (["solve", "--profiles", "T/link.csv", "--out", "T/profiles.csv"], "T/profiles.csv", "--profiles"),
    (["price", "--profiles", "T/profiles.csv", "--out", "T/profiles.csv"], "T/profiles.csv", "--profiles"),
    (["frontier", "--quotes", "T/quotes.csv", "--out", "./T/quotes.csv"], "T/quotes.csv", "--quotes"),
    (["stress", "--incidents", "T/incidents.csv", "--out", "T/incidents.csv"], "T/incidents.csv", "--incidents"),
    (["risk", "--profiles", "T/profiles.csv", "--out", "T/profiles.csv"], "T/profiles.csv", "--profiles"),
    (["compare", "--quotes", "T/quotes.csv", "--out", "T/quotes.csv"], "T/quotes.csv", "--quotes"),
])
def test_an_output_that_is_an_input_is_refused_before_anything_runs_naming_both(copies, args, output, given):
    before = {p.name: p.read_bytes() for p in copies.iterdir()}
    proc = cli(*args, cwd=copies.parent, timeout=300)
    line = one_line(proc)
    assert proc.returncode == 2 and line.startswith("error: ") and output in line and f"the {given} file" in line
    assert {p.name: p.read_bytes() for p in copies.iterdir()} == before  # nothing replaced, nothing added


def test_the_summary_a_batch_writes_beside_its_output_is_checked_against_the_inputs_too(copies):
    quotes = copies / "r.summary.json"
    quotes.write_bytes((DATA / "quotes.csv").read_bytes())
    proc = cli("batch", copies / "profiles.csv", "--quotes", quotes, "--out", copies / "r.csv")
    line = one_line(proc)
    assert proc.returncode == 2 and f"the summary of --out {copies / 'r.csv'}" in line and "--quotes" in line
    assert quotes.read_bytes() == (DATA / "quotes.csv").read_bytes() and not (copies / "r.csv").exists()


def test_solve_refuses_one_file_named_by_both_out_and_write_lp(tmp_path):
    proc = cli("solve", "--out", tmp_path / "m.json", "--write-lp", tmp_path / "m.json")
    assert proc.returncode == 2 and "--out and --write-lp name the same file" in one_line(proc)
    assert proc.stdout == "" and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("command", [["solve", "--format", "json"], ["price"], ["batch"], ["market"]])
def test_a_folder_where_the_output_goes_is_refused_before_solving_and_nothing_is_printed(tmp_path, command):
    (tmp_path / "r.json").mkdir()
    (tmp_path / "r.csv").mkdir()
    out = tmp_path / ("r.json" if command[0] in ("solve", "price") else "r.csv")
    proc = cli(*command, "--out", out, timeout=300)
    assert proc.returncode == 2 and "is a folder" in one_line(proc) and str(out) in proc.stderr
    assert proc.stdout == ""  # before: the result was printed, then exit 2


# ------------------------------------------------------------------ market: one run per output

def test_a_market_run_on_an_output_another_run_holds_exits_2_naming_the_holder_and_touches_nothing(tmp_path):
    out = tmp_path / "m.csv"
    out.write_text("previous results\n")
    with OutputLock(out, "market"):
        proc = cli_process("market", "--out", out, timeout=300)
        record = json.loads((tmp_path / ".m.csv.lock").read_text())
    line = one_line(proc)
    assert proc.returncode == 2 and line.startswith(f"error: {out}: another market run is writing this output")
    assert f"pid {os.getpid()} on {record['host']}, started {record['started']}" in line
    assert out.read_text() == "previous results\n" and not (tmp_path / "m.summary.json").exists()
    assert proc.stdout == ""
    proc = cli_process("market", "--out", out, timeout=300)  # released: the next run goes ahead
    assert proc.returncode == 0 and len(pd.read_csv(out)) == 21 and not (tmp_path / ".m.csv.lock").exists()


def test_a_batch_lock_keeps_a_market_off_the_same_output_and_the_other_way_round(tmp_path):
    out = tmp_path / "r.csv"
    with OutputLock(out, "batch"):
        with pytest.raises(OutputError, match="another batch run is writing this output"):
            market.run(DATA / "profiles-japan-2025.csv", DATA / "quotes-japan.csv", REGIME, DATA / "capacity.csv",
                       out)
    with OutputLock(out, "market"):
        with pytest.raises(OutputError, match="another market run is writing this output"):
            batch.run(DATA / "profiles.csv", DATA / "quotes.csv", REGIME, out, workers=1)
    assert not out.exists()


# ------------------------------------------------------------------ results and summary: both or neither

def old_pair(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old results\n")
    (tmp_path / "r.summary.json").write_text('{"old": true}\n')
    return out


def test_a_summary_that_cannot_be_written_leaves_the_old_results_and_the_old_summary(tmp_path):
    out = old_pair(tmp_path)
    summary = tmp_path / "r.summary.json"

    def in_the_way(done, total):  # while the run solves, the summary's name becomes a folder
        if summary.is_file():
            summary.unlink()
            summary.mkdir()

    with pytest.raises(OutputError, match="r.summary.json"):
        batch.run(DATA / "profiles.csv", DATA / "quotes.csv", REGIME, out, workers=1, on_progress=in_the_way)
    assert out.read_text() == "old results\n"  # before: the new results were in place beside the old summary
    assert summary.is_dir() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_results_that_cannot_be_put_in_place_leave_the_old_summary(tmp_path):
    out = old_pair(tmp_path)

    def in_the_way(done, total):  # the output's name becomes a folder: the results cannot replace it
        if out.is_file():
            out.unlink()
            out.mkdir()

    with pytest.raises(OutputError, match="r.csv"):
        batch.run(DATA / "profiles.csv", DATA / "quotes.csv", REGIME, out, workers=1, on_progress=in_the_way)
    assert (tmp_path / "r.summary.json").read_text() == '{"old": true}\n'
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_market_whose_summary_cannot_be_written_leaves_its_old_results(tmp_path):
    out = old_pair(tmp_path)
    (tmp_path / "r.summary.json").unlink()
    (tmp_path / "r.summary.json").mkdir()
    with pytest.raises(OutputError, match="r.summary.json"):
        market.run(DATA / "profiles-japan-2025.csv", DATA / "quotes-japan.csv", REGIME, DATA / "capacity.csv", out)
    assert out.read_text() == "old results\n"


def test_a_batch_replaces_results_and_summary_together(tmp_path):
    out = old_pair(tmp_path)
    result = batch.run(DATA / "profiles.csv", DATA / "quotes.csv", REGIME, out, workers=1)
    assert len(pd.read_csv(out)) == result.summary["profiles"]
    assert json.loads((tmp_path / "r.summary.json").read_text()) == json.loads(json.dumps(result.summary))


# ------------------------------------------------------------------ Ctrl-C at every stage

def _children(pid: int) -> set[str]:
    """The process ids `pid` has started (Linux: every thread's /proc children list)."""
    found: set[str] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            found |= set(Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:
            pass
    return found


def _has_imported_numpy(pid: int) -> bool:
    """numpy's core is mapped: the package, which arms Ctrl-C first of all (_startup), is being imported."""
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def interrupted_when(ready, after: float, *args, cwd=ROOT):
    """The command, sent Ctrl-C (SIGINT to its whole process group, as a terminal does) `after` s once
    `ready(pid)` holds: the moment is a state of the process, not a time, so a busy machine cannot move it."""
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not ready(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(after)
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert running, f"the command ended before it could be interrupted (exit {proc.returncode}): {err[-300:]}"
    return proc.returncode, err


@pytest.mark.parametrize("after", [0.0, 0.05, 0.15, 0.4])
def test_ctrl_c_while_the_command_line_starts_is_one_line_and_exit_130(after):
    code, err = interrupted_when(_has_imported_numpy, after, "solve")  # importing pandas, HiGHS: before main runs
    assert (code, err.strip().splitlines()) == (130, ["interrupted"]), err


def test_ctrl_c_while_a_batch_starts_its_workers_is_one_line_and_exit_130(tmp_path):
    profiles = make_profiles(tmp_path / "p.csv", 3000)
    for k, after in enumerate((0.0, 0.01, 0.03, 0.1, 0.3)):
        code, err = interrupted_when(lambda pid: bool(_children(pid)), after, "batch", profiles, "--out",
                                     tmp_path / f"r{k}.csv", "--workers", "2", "--chunk-size", "50")
        assert code == 130 and len(err.strip().splitlines()) == 1 and err.startswith("interrupted"), (after, err)


def test_ctrl_c_while_the_market_spawns_its_decomposition_workers_is_one_line_and_exit_130(tmp_path):
    for k, after in enumerate((0.0, 0.01, 0.05, 0.2)):
        code, err = interrupted_when(lambda pid: bool(_children(pid)), after, "market", "--chunk-size", "2",
                                     "--method", "decompose", "--workers", "2", "--out", tmp_path / f"m{k}.csv")
        assert code == 130 and err.strip().splitlines() == ["interrupted"], (after, err)


# ------------------------------------------------------------------ damaged and hostile files

def test_a_parquet_damaged_in_the_middle_is_bad_input_naming_the_file(tmp_path):
    frame = pd.read_csv(make_profiles(tmp_path / "p.csv", 3000))
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=500, compression="none")
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64  # a page header of a middle row group
    path.write_bytes(bytes(data))
    proc = cli("batch", path, "--out", tmp_path / "r.csv", "--workers", "1")
    line = one_line(proc)
    assert proc.returncode == 2 and line.startswith(f"error: {path}: not a readable Parquet file"), line


def test_control_characters_in_a_profile_name_reach_the_terminal_escaped(write, tmp_path):
    profiles = write("p.csv", "exchange_id,name,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,"
                              "cost_of_capital\nEX1,\"Evil\x1b[2J\x1b]0;owned\x07\r\u202e name\u009b\",5e9,0.05,"
                              "1.2e11,0.10\n")
    for args in (["solve"], ["compare"], ["price"]):
        proc = cli(*args, "--profiles", profiles)
        assert proc.returncode in (0, 3), proc.stderr
        assert not any(c in proc.stdout for c in "\x1b\x07\r\u202e\u009b"), repr(proc.stdout)
    first = cli("solve", "--profiles", profiles).stdout.splitlines()[0]
    assert first.startswith("Exchange") and "Evil\\u001b[2J\\u001b]0;owned\\u0007\\u000" in first
    assert first.endswith("\\u202e name\\u009b")  # the line break read from the cell is escaped too: one line
    from optimizer.inputs import load_profiles

    proc = cli("solve", "--profiles", profiles, "--format", "json")
    assert not any(c in proc.stdout for c in "\x1b\x07\r\u202e\u009b")
    assert json.loads(proc.stdout)["exchange_name"] == load_profiles(profiles)[0].name  # JSON: the same text back


def test_an_id_with_a_control_character_is_refused_and_the_error_line_shows_it_escaped(write):
    profiles = write("p.csv", "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,"
                              "cost_of_capital\nEX\x1b[31m1,5e9,0.05,1.2e11,0.10\n")
    proc = cli("solve", "--profiles", profiles)
    line = one_line(proc)
    assert proc.returncode == 2 and "\x1b" not in proc.stderr
    assert "column 'exchange_id'" in line and "control character U+001B" in line and "EX\\u001b[31m1" in line
    quotes = write("q.csv", "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\n"
                            "Q\x071,insurance,A,A,0,1e9,0.02\n")
    proc = cli("solve", "--quotes", quotes)
    assert proc.returncode == 2 and "column 'quote_id'" in one_line(proc) and "U+0007" in proc.stderr and "\x07" not in proc.stderr


@pytest.mark.parametrize("where", ["profile.customer_assets_jpy", "quotes[0].limit", "regime.requirement.floor_jpy",
                                   "overrides.max_insurance_share"])
@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "9" * 5000, "1e999"])
def test_a_number_no_float_holds_in_a_scenario_is_refused_naming_its_key(tmp_path, where, number):
    from optimizer.inputs import load_profiles, load_quotes, load_regime
    from optimizer.scenario import Scenario, to_json

    sc = Scenario(load_profiles(DATA / "profiles.csv")[0], tuple(load_quotes(DATA / "quotes.csv")),
                  load_regime(REGIME))
    data = json.loads(to_json(sc))
    if where.startswith("overrides"):
        data["overrides"] = {"max_insurance_share": 12345678}
    else:
        node = data
        keys = where.replace("[0]", ".0").split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1]] = 12345678
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data).replace("12345678", number))
    proc = cli("solve", "--scenario", path)
    line = one_line(proc)
    assert proc.returncode == 2 and line.startswith(f"error: {path}, column '{where}': the number "), line


def test_a_regime_toml_integer_of_hundreds_of_digits_is_refused_naming_its_key(write):
    proc = cli("solve", "--regime", write("r.toml", "[requirement]\nvolume_rate = 1" + "0" * 400 + "\n"))
    assert proc.returncode == 2 and "column 'requirement.volume_rate'" in one_line(proc)
    proc = cli("solve", "--regime", write("r2.toml", "[requirement]\nvolume_rate = 1" + "0" * 5000 + "\n"))
    assert proc.returncode == 2 and "4,300 digits" in one_line(proc)


# ------------------------------------------------------------------ stdout is the result

def test_market_decompose_with_workers_prints_exactly_one_json_object(tmp_path):
    proc = cli_process("market", "--method", "decompose", "--workers", "2", "--chunk-size", "5", "--format", "json",
                       "--out", tmp_path / "m.csv")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # fails if HiGHS's banner (the coordinator's repair LP) came first
    assert proc.stdout.lstrip().startswith("{") and data["method"] == "decompose"
