"""`batch --all-presets` (every bundled preset in one run) and `--summary-xlsx` (the batch summary as a workbook),
from the user's side: the command line in this process (conftest.run_cli), files read back as a user would."""

import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from optimizer.compare import preset_order
from conftest import DATA, run_cli

PROFILES = DATA / "profiles-japan-2025.csv"
QUOTES = DATA / "quotes-japan.csv"
PRESETS = preset_order([p.stem for p in (DATA / "regimes").glob("*.toml")], first="securities-style")


@pytest.fixture(scope="module")
def all_presets(tmp_path_factory):
    """One `batch --all-presets` run on the 21 real exchanges, with its workbook."""
    tmp = tmp_path_factory.mktemp("all")
    out, xlsx = tmp / "all.csv", tmp / "all.xlsx"
    r = run_cli("batch", PROFILES, "--all-presets", "--quotes", QUOTES, "--out", out, "--workers", "1",
                "--summary-xlsx", xlsx)
    assert r.returncode == 0, r.stderr
    return r, pd.read_csv(out, keep_default_na=False), json.loads((tmp / "all.summary.json").read_text()), xlsx


def test_every_preset_in_the_readmes_order_default_first(all_presets):
    r, rows, summary, _ = all_presets
    assert PRESETS[0] == "securities-style" and len(PRESETS) == len(list((DATA / "regimes").glob("*.toml")))
    assert [s["preset"] for s in summary["presets"]] == PRESETS
    assert list(dict.fromkeys(rows["preset"])) == PRESETS
    assert (rows.groupby("preset").size() == 21).all()
    # the printed table: one line per preset, in that order, with the README's headings
    lines = r.stdout.splitlines()
    at = [next(i for i, line in enumerate(lines) if line.startswith(p + " ")) for p in PRESETS]
    assert at == sorted(at)
    head = next(line for line in lines if line.startswith("preset "))
    for word in ("total R", "annual cost", "insurance cover", "all cover (of ¥410bn)", "over their capacity",
                 "R > net assets", "cannot comply (shortfall)"):
        assert word in head


def test_each_presets_rows_and_summary_equal_a_separate_batch_run(all_presets, tmp_path):
    _, rows, summary, _ = all_presets
    sections = {s["preset"]: s for s in summary["presets"]}
    for preset in PRESETS:
        out = tmp_path / f"{preset}.csv"
        r = run_cli("batch", PROFILES, "--regime", preset, "--quotes", QUOTES, "--out", out, "--workers", "1")
        assert r.returncode == 0, r.stderr
        alone = pd.read_csv(out, keep_default_na=False)
        mine = rows[rows["preset"] == preset].drop(columns="preset").reset_index(drop=True)
        assert list(mine.columns) == list(alone.columns)  # the batch's columns, unchanged, after `preset`
        assert mine["exchange_id"].tolist() == alone["exchange_id"].tolist()
        assert mine["status"].tolist() == alone["status"].tolist()
        assert mine["binding"].tolist() == alone["binding"].tolist()
        for col in ("required_coverage_jpy", "annual_cost_jpy", "cash_reserve_jpy", "shortfall_jpy",
                    "insurance_credit_jpy"):
            a, b = pd.to_numeric(mine[col]), pd.to_numeric(alone[col])
            assert ((a - b).abs() <= 1e-12 * b.abs().clip(lower=1.0)).all(), (preset, col)
        own = json.loads(out.with_suffix(".summary.json").read_text())
        section = sections[preset]
        assert section["status_counts"] == own["status_counts"]
        assert section["cover_demand"]["over_capacity"] == own["cover_demand"]["over_capacity"]
        assert section["cannot_comply"] == own["cannot_comply"]
        for key, value in own["totals"].items():
            assert section["totals"][key] == pytest.approx(value, rel=1e-12, abs=1e-6)


def test_the_printed_row_is_the_readmes_presets_table_row(all_presets):
    """The README's table is generated from the data; the command prints the same figures for every preset."""
    r, _, _, _ = all_presets
    readme = (DATA.parent / "README.md").read_text(encoding="utf-8")
    for preset in ("cold-wallet", "past-outflows", "cash-only"):
        cells = next(line for line in readme.splitlines() if line.startswith(f"| `{preset}` |")).split(" | ")
        printed = next(line for line in r.stdout.splitlines() if line.startswith(preset + " "))
        total_r, cost, cannot = cells[1], cells[2], cells[7].rstrip(" |")
        assert printed.split()[1:3] == [total_r, cost]
        assert printed.endswith(cannot)


def test_all_presets_with_regime_is_refused_in_one_line(tmp_path):
    out = tmp_path / "r.csv"
    r = run_cli("batch", PROFILES, "--all-presets", "--regime", "cold-wallet", "--out", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--all-presets" in r.stderr and "--regime" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("bad, words", [("summary.csv", "expected a path ending in .xlsx"),
                                        ("no-such-folder/s.xlsx", "does not exist")])
def test_a_bad_workbook_path_is_refused_before_solving(tmp_path, bad, words):
    out = tmp_path / "r.csv"
    r = run_cli("batch", PROFILES, "--quotes", QUOTES, "--out", out, "--summary-xlsx", tmp_path / bad)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr and "--summary-xlsx" in r.stderr
    assert not out.exists()


def test_the_workbook_holds_numbers_with_formats(all_presets):
    _, rows, summary, xlsx = all_presets
    book = load_workbook(xlsx)
    assert book.sheetnames == ["summary", "counterparties", "cannot comply", "results"]

    def table(ws):
        head = [c.value for c in ws[1]]
        return head, [dict(zip(head, row)) for row in ws.iter_rows(min_row=2)]

    head, sheet = table(book["summary"])
    assert [c["preset"].value for c in sheet] == PRESETS
    for cells, section in zip(sheet, summary["presets"]):
        for key in ("required_coverage_jpy", "annual_cost_jpy", "shortfall_jpy"):
            cell = cells[key]
            assert cell.data_type == "n" and cell.number_format == "#,##0"
            # the value is the summary's, not rounded: only the display is
            assert cell.value == pytest.approx(section["totals"][key], rel=1e-15, abs=1e-9)
        assert cells["cover_to_capacity"].number_format == "0.0%"
        assert cells["cover_to_capacity"].value == pytest.approx(
            section["cover_demand"]["cover_jpy"] / section["cover_demand"]["capacity_jpy"])
        assert cells["profiles"].value == 21 and cells["profiles"].number_format == "#,##0"
        assert cells["shortfall"].value == section["status_counts"].get("shortfall", 0)
    cold = next(c for c in sheet if c["preset"].value == "cold-wallet")
    assert cold["cannot_comply"].value == "zaif, crypto-garage, btcbox, backseat"
    assert cold["cannot_comply"].data_type == "s"

    head, res = table(book["results"])
    assert head == list(rows.columns)
    assert len(res) == len(rows)
    cost = [c["annual_cost_jpy"] for c in res]
    assert all(c.data_type == "n" and c.number_format == "#,##0" for c in cost)
    assert [c.value for c in cost] == pytest.approx(pd.to_numeric(rows["annual_cost_jpy"]).tolist(), rel=1e-15)
    assert any(c.value != round(c.value) for c in cost)  # not rounded to the yen: the display is
    shares = [c["cash_share"] for c in res]
    assert all(c.data_type == "n" and c.number_format == "0.0%" for c in shares)
    assert all(c["requirement_to_net_assets"].number_format == "0.0%" for c in res)
    assert all(isinstance(c["source_row"].value, int) for c in res)
    assert all(c["exchange_id"].data_type == "s" and c["preset"].data_type == "s" for c in res)

    head, cps = table(book["counterparties"])
    used = [c["capacity_used"] for c in cps if c["capacity_used"].value is not None]
    assert used and all(c.number_format == "0.0%" for c in used)
    head, short = table(book["cannot comply"])
    assert {c["preset"].value for c in short} == {s["preset"] for s in summary["presets"]
                                                  if s["status_counts"].get("shortfall")}


def test_a_plain_batch_writes_its_workbook_too(tmp_path):
    out, xlsx = tmp_path / "r.parquet", tmp_path / "r.xlsx"
    r = run_cli("batch", PROFILES, "--regime", "cold-wallet", "--quotes", QUOTES, "--out", out, "--workers", "1",
                "--summary-xlsx", xlsx)
    assert r.returncode == 0, r.stderr
    book = load_workbook(xlsx)
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    cells = dict(zip([c.value for c in book["summary"][1]], book["summary"][2]))
    assert cells["annual_cost_jpy"].value == pytest.approx(summary["totals"]["annual_cost_jpy"], rel=1e-15)
    assert cells["shortfall"].value == 4
    assert book["results"].max_row == 22


def test_all_presets_with_a_plan_is_refused_in_one_line(tmp_path):
    r = run_cli("batch", PROFILES, "--all-presets", "--plan", "fy2027-immediate", "--out", tmp_path / "r.csv")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--all-presets" in r.stderr


def test_run_presets_in_memory_gives_the_files_rows(all_presets):
    """batch.run_presets without an output (what a page would call) returns the rows the command writes."""
    from optimizer import batch
    from optimizer.compare import load_presets

    _, rows, summary, _ = all_presets
    loaded = dict(load_presets(DATA / "regimes"))
    result = batch.run_presets(PROFILES, QUOTES, [(p, loaded[p]) for p in PRESETS], None, workers=1,
                               capacity=DATA / "capacity.csv")
    assert result.results["preset"].tolist() == rows["preset"].tolist()
    assert result.results["status"].tolist() == rows["status"].tolist()
    assert result.results["annual_cost_jpy"].tolist() == pytest.approx(pd.to_numeric(rows["annual_cost_jpy"]).tolist(),
                                                                       rel=1e-15)
    assert [s["status_counts"] for s in result.sections] == [s["status_counts"] for s in summary["presets"]]


def test_without_workers_a_one_chunk_file_gives_the_same_rows(all_presets, tmp_path):
    """No --workers: a file of one chunk runs in this process (no pool per preset); the rows are the same."""
    _, rows, _, _ = all_presets
    out = tmp_path / "d.csv"
    r = run_cli("batch", PROFILES, "--all-presets", "--quotes", QUOTES, "--out", out)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out, keep_default_na=False), rows)
