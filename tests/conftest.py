"""Shared fixtures: paths to the bundled data, small CSV writers, and the command line run in this process."""

import contextlib
import io
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

PROFILE_HEADER = "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital"
QUOTE_HEADER = "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line"


def run_cli(*args, cwd=ROOT, env=None, timeout=None) -> subprocess.CompletedProcess:
    """`python -m optimizer ARGS` without a new process: `optimizer.cli.main(ARGS)` with stdout and stderr captured
    (text), the exit code main returns or argparse's SystemExit carries, relative paths read from `cwd`, and `env`
    (when given) as the whole environment for the call. Returns what `subprocess.run(..., capture_output=True,
    text=True)` would, so a test checks `returncode`, `stdout` and `stderr` the same way. `timeout` is accepted for
    the same signature and left to pytest-timeout.

    For tests about the command line's behaviour, not its process: signals, pipes, HiGHS's banner on the real file
    descriptor 1, the `python -m` and console-script entries stay real processes."""
    from optimizer.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env = dict(os.environ) if env is not None else None
    here = os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=err)
    finally:
        os.chdir(here)
        if saved_env is not None:
            os.environ.clear()
            os.environ.update(saved_env)
    return subprocess.CompletedProcess(["optimizer", *argv], code, out.getvalue(), err.getvalue())


@pytest.fixture
def write(tmp_path):
    """write("name.csv", text) → the path of a file with that text."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def files(monkeypatch):
    """Every download an app page offers (AppTest), by file name."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    captured = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        captured[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return captured

from hypothesis import settings

# CI replays the same examples every run (a red CI must mean a change broke something); locally, Hypothesis
# explores new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def on_sheet(at, name: str):
    """An AppTest session on the bundled quote sheet `name` ("bundled": the invented one; "quotes-japan.csv"),
    chosen in "Start from" as a user does (a fresh session starts on the Japanese market's sheet)."""
    w = at.session_state["workspace"]
    if w.quote_sheet != name:
        at.selectbox(key=f"sheet_choice_{w.generation}_{w.quote_sheet}").set_value(name).run()
    return at
