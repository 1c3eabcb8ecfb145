"""Solution views and the independent check (optimizer/solution.py)."""

import dataclasses

import pytest

from optimizer.model import solve
from optimizer.solution import SCALAR_KEYS, error_result, verify
from builders import layer, profile, regime

R = 1e10
P = profile(name="Example")
REG = regime(max_insurance_share=0.8)


def q(qid, a, l, rol, **kw):
    return layer(qid, a, l, rol, counterparty=kw.pop("cp", qid), **kw)


@pytest.fixture
def sol():
    return solve(P, [q("A", 0.0, 0.5, 0.03), q("B", 0.5, 0.5, 0.02, max_share=0.6)], REG)


def test_verify_accepts_the_optimum(sol):
    assert verify(sol) == []


def test_verify_catches_too_little_cash(sol):
    bad = dataclasses.replace(sol, cash_reserve_jpy=sol.cash_reserve_jpy * 0.5)
    problems = verify(bad)
    assert any("short by" in p for p in problems)


def test_verify_catches_a_breached_cap_and_a_wrong_cost(sol):
    bigger = tuple(dataclasses.replace(l, share=1.0) for l in sol.lines)
    assert any("max_insurance_share" in p for p in verify(dataclasses.replace(sol, lines=bigger)))
    assert any("reported cost" in p for p in verify(dataclasses.replace(sol, annual_cost_jpy=1.0)))


def test_verify_catches_a_share_above_capacity(sol):
    over = tuple(dataclasses.replace(l, share=0.9) if l.quote.quote_id == "B" else l for l in sol.lines)
    assert any("outside" in p for p in verify(dataclasses.replace(sol, lines=over)))


def test_to_dict_has_the_contract_keys_in_order(sol):
    d = sol.to_dict()
    assert list(d)[:len(SCALAR_KEYS)] == list(SCALAR_KEYS)
    assert d["instruments"][0].keys() == {"quote_id", "kind", "counterparty", "share", "cover_jpy", "credit_jpy",
                                          "annual_cost_jpy"}
    assert d["required_coverage_jpy"] == R and d["status"] == "optimal"


def test_mix_starts_with_cash_and_costs_add_up(sol):
    mix = sol.mix
    assert mix["kind"].iloc[0] == "cash"
    assert mix["annual_cost_jpy"].sum() == pytest.approx(sol.annual_cost_jpy)


def test_tower_pays_every_slice_of_the_requirement(sol):
    # Who pays: A 0–50%, B 60% of 50–100%, cash the other 40% of the top half (0.2R).
    t = sol.tower()
    by_payer = t.groupby("payer")["amount_jpy"].sum()
    assert by_payer["A"] == pytest.approx(0.5 * R)
    assert by_payer["B"] == pytest.approx(0.3 * R)
    assert by_payer["cash"] == pytest.approx(0.2 * R)
    assert "uncovered" not in by_payer
    assert t["amount_jpy"].sum() == pytest.approx(R)


def test_tower_shows_what_is_uncovered_in_a_shortfall():
    s = solve(dataclasses.replace(P, liquid_capital_jpy=0.1 * R), [q("A", 0.0, 0.5, 0.03)], REG)
    by_payer = s.tower().groupby("payer")["amount_jpy"].sum()
    assert by_payer["uncovered"] == pytest.approx(s.shortfall_jpy)


def test_error_result_row():
    row = error_result("EX9", "bad number")
    assert row["status"] == "error" and row["error"] == "bad number" and row["exchange_id"] == "EX9"
    assert set(SCALAR_KEYS) <= set(row)


def test_tower_with_overlapping_layers_pays_each_layer_its_credit_and_cash_its_reserve():
    # Two 0–60% layers at 60% share each overlap (1.2 of each slice); their excess fills 60–100% first.
    quotes = [q("A", 0.0, 0.6, 0.02, max_share=0.6), q("B", 0.0, 0.6, 0.02, max_share=0.6),
              q("C", 0.6, 0.4, 0.05, max_share=0.5)]
    s = solve(P, quotes, regime())
    by_payer = s.tower().groupby("payer")["amount_jpy"].sum()
    for line in s.lines:
        assert by_payer[line.quote.quote_id] == pytest.approx(line.credit_jpy)
    assert by_payer.get("cash", 0.0) == pytest.approx(R - sum(l.credit_jpy for l in s.lines), abs=1e-3)
    assert by_payer.sum() == pytest.approx(R)


def test_verify_catches_a_status_that_contradicts_the_shortfall(sol):
    assert any("status optimal with a shortfall" in p
               for p in verify(dataclasses.replace(sol, shortfall_jpy=1e6)))
    assert any("status shortfall with no shortfall" in p for p in verify(dataclasses.replace(sol, status="shortfall")))


def test_verify_refuses_a_rule_with_no_peril_to_check(sol):
    empty = dataclasses.replace(sol.regime, requirement=dataclasses.replace(sol.regime.requirement, perils=()))
    assert any("names no peril" in p for p in verify(dataclasses.replace(sol, regime=empty)))
