"""Shared fixtures: paths to the bundled data and small CSV writers."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

PROFILE_HEADER = "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital"
QUOTE_HEADER = "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line"


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
