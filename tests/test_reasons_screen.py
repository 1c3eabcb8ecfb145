"""Reasons and break-even premiums without a re-solve per probe (obstacles.Screen): the mix's optimal basis answers
the probes it can answer for certain, and the answers are the ones the re-solves give (`not_bought(...,
screen=False)`, the probe-by-probe path: every probe a fresh solve, every break-even by Newton steps on re-solved
mixes) — on the bundled data under every preset and on random sheets."""

import json
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer import analysis, obstacles
from optimizer.domain import PERILS, Eligibility, Quote, Regime, RequirementRule
from optimizer.inputs import load_profiles, load_quotes, load_regime, select_profile
from optimizer.model import Resolver, solve
from optimizer.reasons import not_bought
from builders import layer, profile
from conftest import DATA, ROOT

P = profile(annual_trading_volume_jpy=1e12)  # carry 10%
R = 1e9

SHEETS = [("profiles.csv", "EX05", "quotes.csv", p.stem) for p in sorted((DATA / "regimes").glob("*.toml"))] + [
    ("profiles-japan-2025.csv", ex, sheet, p.stem)
    for ex in ("bitflyer", "zaif", "coincheck") for sheet in ("quotes-japan.csv", "quotes-japan-state-excl.csv")
    for p in sorted((DATA / "regimes").glob("*.toml"))]


def assert_same(fast: list[dict], slow: list[dict]) -> None:
    """The same quotes, the same reasons in the same words, break-evens equal to rounding."""
    assert [d["quote_id"] for d in fast] == [d["quote_id"] for d in slow]
    for a, b in zip(fast, slow):
        assert a["reason"] == b["reason"], (a, b)
        assert [r.code for r in a["reasons"]] == [r.code for r in b["reasons"]]
        if b["break_even_rol"] is None:
            assert a["break_even_rol"] is None, (a, b)
        else:
            assert a["break_even_rol"] == pytest.approx(b["break_even_rol"], rel=1e-9, abs=0), (a, b)


def assert_same_prices(fast, slow) -> None:
    """`price`'s rows: the same columns and words, numbers equal to rounding."""
    assert list(fast.columns) == list(slow.columns)
    for a, b in zip(fast.to_dict("records"), slow.to_dict("records")):
        for key, want in b.items():
            got = a[key]
            if isinstance(want, float) and want == want:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (key, a, b)
            elif isinstance(want, float):  # NaN (no headroom, no break-even)
                assert got != got or got is None, (key, a, b)
            else:
                assert got == want, (key, a, b)


def sheet(n: int, seed: int) -> list[Quote]:
    """n requirement-basis layers: three perils or two, insurance and derivatives, shared counterparties."""
    rng = random.Random(seed)
    return [Quote(f"Q{i:03d}", "derivative" if rng.random() < 0.15 else "insurance", f"C{rng.randrange(8)}",
                  rng.choice(["AA", "A+", "A", "A-", "BBB"]),
                  rng.choice([0.0, 0.1, 0.25, 0.5, 0.75]) + rng.random() * 0.05, rng.uniform(0.1, 0.5),
                  rng.uniform(0.01, 0.08), layer_basis="requirement", max_share=rng.choice([0.5, 1.0]),
                  perils=frozenset(PERILS) if rng.random() < 0.7 else frozenset(PERILS[:2]),
                  collateralized=rng.random() < 0.3)
            for i in range(n)]


SHEET_REGIME = Regime("bench", RequirementRule(volume_rate=0.002, perils=PERILS),
                      Eligibility(max_derivative_share=0.25, max_counterparty_share=0.5))


@pytest.mark.parametrize("profiles,exchange,quotes_file,preset", SHEETS)
def test_the_screened_reasons_are_the_re_solved_ones_on_the_bundled_data(profiles, exchange, quotes_file, preset):
    prof = select_profile(load_profiles(DATA / profiles), exchange, profiles)
    quotes = load_quotes(DATA / quotes_file)
    reg = load_regime(DATA / "regimes" / f"{preset}.toml")
    kept = Resolver()
    s = solve(prof, quotes, reg, resolver=kept)
    assert_same(not_bought(s, quotes, kept=kept, typed=True), not_bought(s, quotes, screen=False, typed=True))


@pytest.mark.parametrize("profiles,exchange,quotes_file,preset", SHEETS)
def test_the_screened_prices_are_the_re_solved_ones_on_the_bundled_data(profiles, exchange, quotes_file, preset):
    prof = select_profile(load_profiles(DATA / profiles), exchange, profiles)
    quotes = load_quotes(DATA / quotes_file)
    reg = load_regime(DATA / "regimes" / f"{preset}.toml")
    kept = Resolver()
    s = solve(prof, quotes, reg, marginal=False, resolver=kept)
    assert_same_prices(analysis.break_evens(prof, quotes, reg, base=s, kept=kept),
                       analysis.break_evens(prof, quotes, reg, base=s, screen=False))


def test_an_lp_sheets_prices_need_no_re_solve(monkeypatch):
    """`price` on 60 layers: every quote priced on the mix's basis and the kept probe model (before: a fresh model
    without each quote, and Newton's steps re-solved, for every one)."""
    quotes = sheet(60, seed=61)
    s = solve(P, quotes, SHEET_REGIME, marginal=False)
    slow = analysis.break_evens(P, quotes, SHEET_REGIME, base=s, screen=False)
    calls = []
    real_break_even = analysis.break_even
    monkeypatch.setattr(analysis, "break_even", lambda *a, **k: calls.append(a[3]) or real_break_even(*a, **k))
    fast = analysis.break_evens(P, quotes, SHEET_REGIME, base=s)
    assert calls == []
    assert_same_prices(fast, slow)
    assert fast["bought"].sum() > 0 and fast["break_even_rol"].notna().sum() > 20


def test_an_lp_sheets_reasons_and_break_evens_need_no_re_solve(monkeypatch):
    """60 layers: every probe and every break-even read off the mix's basis (before: hundreds of solves)."""
    quotes = sheet(60, seed=60)
    s = solve(P, quotes, SHEET_REGIME)
    slow = not_bought(s, quotes, screen=False, typed=True)
    calls = []
    monkeypatch.setattr(obstacles, "solve", lambda *a, **k: calls.append("probe") or solve(*a, **k))
    real_break_even = analysis.break_even
    monkeypatch.setattr(analysis, "break_even", lambda *a, **k: calls.append("break-even") or real_break_even(*a, **k))
    fast = not_bought(s, quotes, typed=True)
    assert calls == []
    assert_same(fast, slow)
    assert sum(d["break_even_rol"] is not None for d in fast) > 20  # most are priced out, each with its break-even


def test_solve_through_the_command_line_gives_the_re_solved_reasons(tmp_path):
    quotes = sheet(40, seed=40)
    path = tmp_path / "quotes.csv"
    path.write_text("quote_id,kind,counterparty,rating,attachment,limit,layer_basis,rate_on_line,max_share,min_share,"
                    "fixed_fee_jpy,perils,collateralized,exchange_id\n" + "".join(
                        f"{q.quote_id},{q.kind},{q.counterparty},{q.rating},{q.attachment!r},{q.limit!r},requirement,"
                        f"{q.rate_on_line!r},{q.max_share},0,0,{';'.join(sorted(q.perils))},"
                        f"{str(q.collateralized).lower()},\n" for q in quotes))
    regime = tmp_path / "r.toml"
    regime.write_text('name = "r"\n[requirement]\nvolume_rate = 0.002\n'
                      'perils = ["external_hack", "insider_theft", "vendor_compromise"]\n'
                      "[eligibility]\nmax_derivative_share = 0.25\nmax_counterparty_share = 0.5\n")
    out = subprocess.run([sys.executable, "-m", "optimizer", "solve", "--profiles", str(DATA / "profiles.csv"),
                          "--exchange", "EX05", "--quotes", str(path), "--regime", str(regime), "--format", "json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["instruments_not_bought"]
    prof = select_profile(load_profiles(DATA / "profiles.csv"), "EX05", "profiles.csv")
    reg, quotes = load_regime(regime), load_quotes(path)
    s = solve(prof, quotes, reg)
    want = not_bought(s, quotes, screen=False)
    assert [(d["quote_id"], d["reason"]) for d in got] == [(d["quote_id"], d["reason"]) for d in want]
    for a, b in zip(got, want):
        assert (a["break_even_rol"] is None) == (b["break_even_rol"] is None)
        if b["break_even_rol"] is not None:
            assert a["break_even_rol"] == pytest.approx(b["break_even_rol"], rel=1e-9)


def test_a_fronted_quotes_break_even_is_exact():
    """A full layer replaces cash at 10% carry: with a 10% fronting fee it enters below a ROL of 10% ÷ 1.1 exactly
    (the Newton steps' slope counts the fronting fee: no overshoot and no bisection to 1e-5)."""
    quotes = [layer("Q", 0.0, 1.0, 0.5, counterparty="C", fronting_fee_rate=0.1)]
    reg = Regime("r", RequirementRule(floor_jpy=R), Eligibility(), rating_credit={})
    be = analysis.break_even(P, quotes, reg, "Q")
    assert be.break_even_rol == pytest.approx(0.1 / 1.1, rel=1e-12)
    s = solve(P, quotes, reg, marginal=False)
    [item] = not_bought(s, quotes)
    assert item["break_even_rol"] == pytest.approx(0.1 / 1.1, rel=1e-12)


QUOTE = st.builds(
    lambda a, l, rol, perils, kind, cp, share: (a, l, rol, perils, kind, cp, share),
    st.sampled_from([0.0, 0.1, 0.25, 0.5]), st.sampled_from([0.25, 0.5, 1.0]),
    st.sampled_from([0.005, 0.02, 0.05, 0.09, 0.2]),
    st.sampled_from([PERILS, PERILS[:2], PERILS[1:]]), st.sampled_from(["insurance", "insurance", "derivative"]),
    st.sampled_from(["A", "B", "C"]), st.sampled_from([0.5, 1.0]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(QUOTE, min_size=1, max_size=6), st.sampled_from([0.0, 0.1]), st.sampled_from([1.0, 0.6]),
       st.sampled_from([1.0, 0.5]), st.sampled_from([0.25, 1.0]))
def test_the_screened_reasons_are_the_re_solved_ones_on_random_sheets(rows, min_cash, max_ins, max_cp, max_der):
    quotes = [layer(f"Q{i}", a, l, rol, kind=kind, counterparty=cp, max_share=share, perils=frozenset(perils))
              for i, (a, l, rol, perils, kind, cp, share) in enumerate(rows)]
    reg = Regime("r", RequirementRule(floor_jpy=R, perils=PERILS),
                 Eligibility(min_cash_share=min_cash, max_insurance_share=max_ins, max_counterparty_share=max_cp,
                             max_derivative_share=max_der), rating_credit={})
    kept = Resolver()
    s = solve(P, quotes, reg, resolver=kept)
    assert_same(not_bought(s, quotes, kept=kept, typed=True), not_bought(s, quotes, screen=False, typed=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(QUOTE, min_size=1, max_size=5), st.sampled_from([0.0, 0.1]), st.sampled_from([1.0, 0.6]),
       st.sampled_from([1.0, 0.5]))
def test_the_screened_prices_are_the_re_solved_ones_on_random_sheets(rows, min_cash, max_ins, max_cp):
    quotes = [layer(f"Q{i}", a, l, rol, kind=kind, counterparty=cp, max_share=share, perils=frozenset(perils))
              for i, (a, l, rol, perils, kind, cp, share) in enumerate(rows)]
    reg = Regime("r", RequirementRule(floor_jpy=R, perils=PERILS),
                 Eligibility(min_cash_share=min_cash, max_insurance_share=max_ins, max_counterparty_share=max_cp),
                 rating_credit={})
    kept = Resolver()
    s = solve(P, quotes, reg, marginal=False, resolver=kept)
    assert_same_prices(analysis.break_evens(P, quotes, reg, base=s, kept=kept),
                       analysis.break_evens(P, quotes, reg, base=s, screen=False))
