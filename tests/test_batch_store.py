"""Where a batch's results live (optimizer/batch_store.py): one run per output, checkpoints that prove
themselves, temporary files that never follow a planted link, OS errors on the output as `error: PATH: reason`."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer import batch, cli
from optimizer.batch_store import OutputError, OutputLock
from conftest import ROOT
from conftest import run_cli as cli_in_process
from test_batch import REGIME, lp_quotes, make_profiles

N, CHUNK = 200, 20  # ten chunks


@pytest.fixture
def inputs(tmp_path):
    """(profiles, quotes, clean output bytes): a 10-chunk run and its uninterrupted result."""
    profiles = make_profiles(tmp_path / "p.csv", N)
    quotes = lp_quotes(tmp_path / "q.csv")
    batch.run(profiles, quotes, REGIME, tmp_path / "clean.csv", workers=1, chunk_size=CHUNK)
    return profiles, quotes, (tmp_path / "clean.csv").read_bytes()


def interrupted(profiles, quotes, out: Path, after_rows: int) -> None:
    """Run until `after_rows` rows are done, then stop as Ctrl-C would: the finished chunks stay checkpointed."""
    def stop(done, total):
        if done >= after_rows:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=CHUNK, on_progress=stop)
    assert not out.exists()


# ------------------------------------------------------------------ checkpoints that prove themselves

def test_an_interrupted_run_resumes_from_its_checkpoints_to_the_identical_file(tmp_path, inputs, monkeypatch):
    profiles, quotes, clean = inputs
    out = tmp_path / "r.csv"
    interrupted(profiles, quotes, out, after_rows=100)
    parts = tmp_path / ".r.csv.parts"
    sidecar = json.loads((parts / "part-0000003.json").read_text())
    assert (sidecar["index"], sidecar["first_row"], sidecar["rows"]) == (3, 61, 20) and len(sidecar["sha256"]) == 64

    calls = []
    real = batch.solve_chunk
    monkeypatch.setattr(batch, "solve_chunk", lambda task: calls.append(task.index) or real(task))
    result = batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=CHUNK)
    assert calls == [5, 6, 7, 8, 9]
    assert result.summary["resumed_chunks"] == 5 and result.summary["recomputed_chunks"] == 0
    assert out.read_bytes() == clean
    assert not parts.exists() and not (tmp_path / ".r.csv.lock").exists()


def _truncate(parts):
    p = parts / "part-0000003.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage(parts):
    p = parts / "part-0000003.parquet"
    p.write_bytes(os.urandom(p.stat().st_size))


def _flip_one_byte(parts):
    p = parts / "part-0000003.parquet"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def _copy_part_0_over_3(parts):
    shutil.copy(parts / "part-0000000.parquet", parts / "part-0000003.parquet")


def _copy_part_0_and_its_sidecar_over_3(parts):
    shutil.copy(parts / "part-0000000.parquet", parts / "part-0000003.parquet")
    shutil.copy(parts / "part-0000000.json", parts / "part-0000003.json")


def _sidecar_garbage(parts):
    (parts / "part-0000003.json").write_text("{not json")


def _sidecar_missing(parts):
    (parts / "part-0000003.json").unlink()


@pytest.mark.parametrize("damage", [_truncate, _garbage, _flip_one_byte, _copy_part_0_over_3,
                                    _copy_part_0_and_its_sidecar_over_3, _sidecar_garbage, _sidecar_missing],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_part_is_recomputed_and_the_output_is_identical_to_a_clean_run(tmp_path, inputs, damage):
    profiles, quotes, clean = inputs
    out = tmp_path / "r.csv"
    interrupted(profiles, quotes, out, after_rows=120)
    damage(tmp_path / ".r.csv.parts")
    proc = cli_in_process("batch", profiles, "--quotes", quotes, "--regime", REGIME, "--out", out, "--workers", "1",
                          "--chunk-size", CHUNK)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == clean
    frame = pd.read_csv(out)
    assert len(frame) == N and frame["exchange_id"].is_unique  # exactly one row per profile
    summary = json.loads(batch.summary_path(out).read_text())
    assert summary["recomputed_chunks"] == 1 and summary["resumed_chunks"] == 5
    assert "1 damaged and recomputed" in proc.stdout


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(part=st.integers(0, 4), other=st.integers(0, 4), how=st.sampled_from(["truncate", "flip", "copy"]),
       where=st.floats(0.0, 1.0))
def test_any_one_damaged_part_is_recomputed_to_the_clean_output(tmp_path_factory, inputs, part, other, how, where):
    profiles, quotes, clean = inputs
    folder = tmp_path_factory.mktemp("run")
    out = folder / "r.csv"
    interrupted(profiles, quotes, out, after_rows=100)  # parts 0..4 finished
    target = folder / ".r.csv.parts" / f"part-{part:07d}.parquet"
    data = target.read_bytes()
    cut = min(int(where * len(data)), len(data) - 1)
    if how == "truncate":
        target.write_bytes(data[:cut])
    elif how == "flip":
        target.write_bytes(data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1:])
    else:
        if other == part:
            other = (part + 1) % 5
        shutil.copy(folder / ".r.csv.parts" / f"part-{other:07d}.parquet", target)
    result = batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=CHUNK)
    assert out.read_bytes() == clean
    assert result.summary["recomputed_chunks"] == 1 and result.summary["resumed_chunks"] == 4


def test_a_damaged_manifest_starts_the_run_afresh_instead_of_failing(tmp_path, inputs):
    profiles, quotes, clean = inputs
    out = tmp_path / "r.csv"
    interrupted(profiles, quotes, out, after_rows=60)
    (tmp_path / ".r.csv.parts" / "manifest.json").write_bytes(b"\x00garbage")
    result = batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=CHUNK)
    assert out.read_bytes() == clean and result.summary["resumed_chunks"] == 0


# ------------------------------------------------------------------ one run per output

def test_a_second_run_on_a_held_output_exits_2_naming_the_holder_and_touches_nothing(tmp_path, inputs):
    profiles, quotes, _ = inputs
    out = tmp_path / "r.csv"
    out.write_text("previous results\n")
    with OutputLock(out):
        proc = subprocess.run([sys.executable, "-m", "optimizer", "batch", str(profiles), "--quotes", str(quotes),
                               "--out", str(out), "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        record = json.loads((tmp_path / ".r.csv.lock").read_text())
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: another batch run is writing this output")
    assert f"pid {os.getpid()} on {record['host']}, started {record['started']}" in lines[0]
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.csv", "clean.summary.json", "p.csv", "q.csv", "r.csv"]
    # released: the next run goes ahead
    batch.run(profiles, quotes, REGIME, out, workers=1, chunk_size=CHUNK)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    out = tmp_path / "r.csv"
    with OutputLock(out):
        with pytest.raises(OutputError, match=f"pid {os.getpid()} "):
            OutputLock(out).acquire()
    with OutputLock(out):  # free again once released
        pass


def test_a_link_planted_at_the_lock_is_refused_not_followed(tmp_path, inputs):
    profiles, quotes, _ = inputs
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / ".r.csv.lock").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        batch.run(profiles, quotes, REGIME, tmp_path / "r.csv", workers=1)
    assert victim.read_text() == "keep me\n"


# ------------------------------------------------------------------ temporary files

def test_links_planted_at_the_old_predictable_temporary_names_are_left_untouched(tmp_path, inputs):
    profiles, quotes, clean = inputs
    victims = []
    # the names earlier versions wrote through: .NAME.tmp for the output, .NAME.PID.tmp for the summary
    for name in (".r.csv.tmp", f".r.summary.json.{os.getpid()}.tmp"):
        victim = tmp_path / f"victim-{len(victims)}.txt"
        victim.write_text("keep me\n")
        (tmp_path / name).symlink_to(victim)
        victims.append((tmp_path / name, victim))
    batch.run(profiles, quotes, REGIME, tmp_path / "r.csv", workers=1, chunk_size=CHUNK)
    assert (tmp_path / "r.csv").read_bytes() == clean
    for link, victim in victims:
        assert link.is_symlink() and os.readlink(link) == str(victim)
        assert victim.read_text() == "keep me\n"


def test_temporaries_left_by_a_killed_run_are_removed_by_the_next(tmp_path, inputs):
    profiles, quotes, clean = inputs
    stale = tmp_path / ".r.csv.abcd1234.tmp"  # what a run killed mid-write leaves
    stale.write_text("half a file")
    unrelated = tmp_path / ".r.csv.notes.tmp"  # not a name this program makes
    unrelated.write_text("mine")
    batch.run(profiles, quotes, REGIME, tmp_path / "r.csv", workers=1, chunk_size=CHUNK)
    assert not stale.exists() and unrelated.read_text() == "mine"
    assert (tmp_path / "r.csv").read_bytes() == clean


# ------------------------------------------------------------------ OS errors on the output

def run_cli(capsys, *args) -> tuple[int, list[str]]:
    """The command line in this process (so that an OS failure can be simulated); exit code, stderr lines."""
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_full_disk_exits_2_with_the_path_and_the_rerun_resumes(tmp_path, inputs, monkeypatch, capsys):
    profiles, quotes, clean = inputs
    out = tmp_path / "r.csv"
    real_write = os.write
    writes = {"n": 0}

    def write(fd, data):  # the disk fills up at the seventh write into the results file (header, 5 chunks, …)
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if target.parent == tmp_path and target.name.startswith(".r.csv.") and target.name.endswith(".tmp"):
            writes["n"] += 1
            if writes["n"] >= 7:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    code, err = run_cli(capsys, "batch", profiles, "--quotes", quotes, "--regime", REGIME, "--out", out,
                        "--workers", "1", "--chunk-size", CHUNK)
    assert code == 2 and len(err) == 1
    assert err[0] == (f"error: {out}: No space left on device; finished chunks are kept: free some space and run "
                      "the same command again")
    assert not out.exists() and not (tmp_path / ".r.csv.lock").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(os, "write", real_write)
    code, _ = run_cli(capsys, "batch", profiles, "--quotes", quotes, "--regime", REGIME, "--out", out,
                      "--workers", "1", "--chunk-size", CHUNK)
    assert code == 0 and out.read_bytes() == clean
    assert json.loads(batch.summary_path(out).read_text())["resumed_chunks"] == 6


def test_a_full_disk_while_writing_parquet_exits_2_too(tmp_path, inputs, monkeypatch, capsys):
    profiles, quotes, _ = inputs
    out = tmp_path / "r.parquet"
    real_write = os.write

    def write(fd, data):
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if target.parent == tmp_path and target.name.startswith(".r.parquet.") and target.name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    code, err = run_cli(capsys, "batch", profiles, "--quotes", quotes, "--regime", REGIME, "--out", out,
                        "--workers", "1", "--chunk-size", CHUNK)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {out}: No space left on device")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may write in. Root ignores permissions, so for root the refusal is simulated."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_open = os.open

        def guarded(path, flags, *args, **kw):
            if flags & os.O_CREAT and Path(os.fsdecode(path)).parent == folder:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return real_open(path, flags, *args, **kw)

        monkeypatch.setattr(os, "open", guarded)
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("command", ["batch", "solve"])
def test_an_output_in_a_read_only_folder_exits_2_naming_path_and_reason(read_only, capsys, command):
    out = read_only / ("r.csv" if command == "batch" else "r.json")
    args = [command, "--out", out] + (["--workers", "1"] if command == "batch" else [])
    code, err = run_cli(capsys, *args)
    assert code == 2 and len(err) == 1
    assert err[0] == f"error: {out}: cannot write in {read_only} (Permission denied)"
    assert list(read_only.iterdir()) == []


def test_an_output_in_a_missing_folder_exits_2_naming_it(tmp_path):
    out = tmp_path / "no" / "such" / "r.csv"
    proc = cli_in_process("batch", "--out", out)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {out}: the folder {out.parent} does not exist"


def test_a_bad_cell_found_mid_file_stops_the_run_cleanly(tmp_path, inputs, capsys):
    profiles, quotes, clean = inputs
    lines = profiles.read_bytes().split(b"\n")
    lines[150] = lines[150].replace(b"P000149", b"P\xff00149")  # row 150 is not UTF-8
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines))
    out = tmp_path / "r.csv"
    code, err = run_cli(capsys, "batch", bad, "--quotes", quotes, "--regime", REGIME, "--out", out, "--workers", "1",
                        "--chunk-size", CHUNK)
    assert code == 2 and len(err) == 1 and "row 150" in err[0] and "column 'exchange_id'" in err[0]
    assert not out.exists() and not (tmp_path / ".r.csv.lock").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # the user fixes the file and runs the same command again: it completes, as a clean run would
    bad.write_bytes(profiles.read_bytes())
    code, _ = run_cli(capsys, "batch", bad, "--quotes", quotes, "--regime", REGIME, "--out", out, "--workers", "1",
                      "--chunk-size", CHUNK)
    assert code == 0 and out.read_bytes() == clean
