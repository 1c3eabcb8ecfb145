"""Server-side time of one app rerun after a premium edit, with a 50-quote sheet (target < 0.3 s).

Baseline in the same run: the bare `optimizer.solve` of the same inputs (the floor any rerun must pay).
Run:  .venv/bin/python benchmarks/bench_app.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_solve import make_quotes  # noqa: E402

from streamlit.testing.v1 import AppTest  # noqa: E402

from optimizer import load_profiles, load_regime, report, solve  # noqa: E402
from optimizer.scenario import quotes_to_frame  # noqa: E402


def main() -> None:
    quotes = make_quotes(50, 50)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.sidebar.file_uploader(key="upload_quotes").upload("q50.csv", report.csv_bytes(quotes_to_frame(quotes)),
                                                         "text/csv").run()
    assert len(at.session_state["quotes"]) == 50 and not at.error
    reruns = []
    for i in range(10):
        key = f"quote_editor_{at.session_state['editor_version']}"
        at.session_state[key] = {"edited_rows": {0: {"rate_on_line": 0.01 + 0.001 * i}}, "added_rows": [],
                                 "deleted_rows": []}
        started = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - started)
    profile = load_profiles(ROOT / "data" / "profiles.csv")[0]
    regime = load_regime(ROOT / "data" / "regimes" / "securities-style.toml")
    solves = []
    for _ in range(10):
        started = time.perf_counter()
        solve(profile, quotes, regime)
        solves.append(time.perf_counter() - started)
    rerun, bare = statistics.median(reruns), statistics.median(solves)
    print(f"app rerun after a premium edit, 50 quotes: median {rerun * 1e3:.0f} ms (target < 300 ms)")
    print(f"bare solve of the same inputs:              median {bare * 1e3:.0f} ms → rerun = {rerun / bare:.1f}× a solve")


if __name__ == "__main__":
    main()
