"""A quote's ceiling cannot exceed its counterparty's capacity in `solve` either, when a capacity file is given."""

import json

import pytest

from builders import layer
from conftest import DATA
from optimizer.ceilings import cap_by_capacity
from optimizer.cli import main
from optimizer.domain import Quote

LL_V1 = "Lloyd's specie syndicate with vendor-compromise extension via Lloyd's Japan (licensed; illustrative)"


def test_each_ceiling_is_cut_to_its_counterpartys_capacity():
    big = layer("R1", 0, 0.5, 0.01, counterparty="C", max_limit_jpy=7.5e10)
    small = layer("R2", 0, 0.5, 0.01, counterparty="C", max_limit_jpy=1e9)
    yen = Quote("Y1", "insurance", "D", "A", 0.0, 4e9, 0.01, max_share=1.0, min_share=0.5)
    gone = layer("Z1", 0, 0.5, 0.01, counterparty="E")
    free = layer("F1", 0, 0.5, 0.01, counterparty="not in the file")
    quotes, caps = cap_by_capacity([big, small, yen, gone, free], {"C": 3e10, "D": 1e9, "E": 0})
    by_id = {q.quote_id: q for q in quotes}
    assert by_id["R1"].max_limit_jpy == 3e10 and by_id["R2"] == small and by_id["F1"] == free
    assert by_id["Y1"].max_share == pytest.approx(0.25) and by_id["Y1"].min_share == pytest.approx(0.25)
    assert "Z1" not in by_id
    assert [(c.quote_id, c.capacity_jpy, c.withdrawn) for c in caps] == [("R1", 3e10, False), ("Y1", 1e9, False),
                                                                           ("Z1", 0.0, True)]


def _solve(capsys, *extra):
    code = main(["solve", "--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "bitflyer", "--regime",
                 "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv"), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_solve_with_a_capacity_file_buys_no_more_than_the_capacity_and_names_the_binding_cap(capsys, tmp_path):
    code, free = _solve(capsys)
    bought = {i["quote_id"]: i["cover_jpy"] for i in free["instruments"]}
    assert code == 0 and bought["LL-V1"] > 5e9 and "capacity_caps" not in free       # no file: not capped
    capacity = tmp_path / "capacity.csv"
    capacity.write_text(f"counterparty,capacity_jpy\n\"{LL_V1}\",5e9\n", encoding="utf-8")
    code, capped = _solve(capsys, "--capacity", str(capacity))
    bought = {i["quote_id"]: i["cover_jpy"] for i in capped["instruments"]}
    assert code == 0 and bought["LL-V1"] == pytest.approx(5e9)
    assert capped["annual_cost_jpy"] > free["annual_cost_jpy"]                        # less cheap cover: dearer
    [cap] = capped["capacity_caps"]
    assert cap["quote_id"] == "LL-V1" and cap["capacity_jpy"] == 5e9 and cap["binding"]
    assert "capacity:LL-V1" in capped["binding"]
    main(["solve", "--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "bitflyer", "--regime",
          "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv"), "--capacity", str(capacity)])
    assert "LL-V1: ceiling ¥30,000,000,000 → ¥5,000,000,000, its counterparty's capacity — binds" in \
        capsys.readouterr().out


def test_a_bad_capacity_file_is_refused_with_its_row_and_column(capsys, tmp_path):
    capacity = tmp_path / "capacity.csv"
    capacity.write_text(f"counterparty,capacity_jpy\n\"{LL_V1}\",lots\n", encoding="utf-8")
    code = main(["solve", "--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "bitflyer",
                 "--regime", "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv"), "--capacity", str(capacity)])
    err = capsys.readouterr().err
    assert code == 2 and "capacity.csv" in err and "row 1" in err and "capacity_jpy" in err
