"""Analyses: break-even premiums, demand curves, frontiers, stress tests (optimizer/analysis.py)."""

import math
from pathlib import Path

import pytest

from optimizer.inputs import InputError
from hypothesis import given, settings, strategies as st

from optimizer.analysis import (break_even, break_evens, demand_curve, frontier, rate_for_share, share_at,
                                stress_test)
from optimizer.domain import Eligibility, Incident, Regime, RequirementRule
from optimizer.model import solve
# the shared builders: an exchange with R = ¥10bn, a volume rule over every peril, a requirement-basis layer
from builders import layer as _layer, profile as _profile, regime as _regime

R = 1e10  # requirement in these cases: 0.002 × 5e12 volume


# ------------------------------------------------------------------ break-even premiums, hand-checked

def test_single_layer_break_even_equals_the_carry_it_replaces():
    # One 0–100% layer, κ = 1: each yen of limit replaces one yen of cash costing 10%, so it stays bought
    # up to a 10% rate on line and not above.
    quotes = [_layer("L", 0.0, 1.0, 0.03)]
    be = break_even(_profile(), quotes, _regime(), "L")
    assert be.bought and be.share == pytest.approx(1.0)
    assert be.break_even_rol == pytest.approx(0.10, rel=1e-4)
    assert be.headroom == pytest.approx(0.10 / 0.03 - 1, rel=1e-3)
    assert be.competitors == ("cash",)  # without it, cash funds the requirement


def test_out_of_mix_quote_reports_the_rate_at_which_it_enters():
    # Priced at 15% it loses to cash at 10%; it enters below 10% × κ (A rating credit 0.9 here).
    regime = _regime(rating_credit={"A": 0.9})
    quotes = [_layer("L", 0.0, 1.0, 0.15, rating="A")]
    be = break_even(_profile(), quotes, regime, "L")
    assert not be.bought
    assert be.break_even_rol == pytest.approx(0.09, rel=1e-4)
    assert share_at(_profile(), quotes, regime, "L", 0.089) > 0
    assert share_at(_profile(), quotes, regime, "L", 0.091) == 0


def test_premium_multiplier_lowers_the_break_even_rate():
    quotes = [_layer("L", 0.0, 1.0, 0.03)]
    be = break_even(_profile(premium_multiplier=2.0), quotes, _regime(), "L")
    assert be.break_even_rol == pytest.approx(0.05, rel=1e-4)


def test_ineligible_quote_has_no_break_even():
    quotes = [_layer("L", 0.0, 1.0, 0.01, rating="BB")]
    be = break_even(_profile(), quotes, _regime(), "L")
    assert not be.eligible and be.break_even_rol is None and "rating" in be.reason


def test_quote_that_removes_a_shortfall_is_bought_at_any_price():
    # Liquid capital covers half of R; the layer is the only way to fund the rest.
    quotes = [_layer("L", 0.5, 0.5, 0.05)]
    be = break_even(_profile(liquid_capital_jpy=0.5 * R), quotes, _regime(), "L")
    assert be.bought and math.isinf(be.break_even_rol)
    assert be.to_dict()["bought_at_any_rol"] is True


def test_competitors_are_the_layers_that_fill_in_when_a_quote_leaves():
    # A at 3% and B at 5% cover the same 0–100% slice; A is bought; without A, B fills in.
    quotes = [_layer("A", 0.0, 1.0, 0.03), _layer("B", 0.0, 1.0, 0.05)]
    be = break_even(_profile(), quotes, _regime(), "A")
    assert be.competitors == ("B",)
    assert be.break_even_rol == pytest.approx(0.05, rel=1e-4)
    out = break_even(_profile(), quotes, _regime(), "B")
    assert not out.bought and out.competitors == ("A",) and out.break_even_rol == pytest.approx(0.03, rel=1e-4)


@pytest.mark.parametrize("changes,elig,why", [
    (dict(licensed_in_japan=False), dict(require_licensed=True), "ineligible: not licensed in Japan"),
    (dict(exclusions=frozenset({"state_backed"})), dict(state_backed_exclusion_factor=0.0),
     "ineligible: credit factor 0 (state-backed exclusion)"),
    (dict(rating="BB"), {}, "ineligible: rating below min_rating"),
])
def test_an_ineligible_quote_has_no_break_even_and_the_rule_that_excludes_it_is_named(changes, elig, why):
    quotes = [_layer("L", 0.0, 1.0, 0.03, **changes)]
    be = break_even(_profile(), quotes, _regime(**elig), "L")
    assert not be.eligible and be.break_even_rol is None and be.reason == why
    fronted = [_layer("L", 0.0, 1.0, 0.03, **changes, fronting_fee_rate=0.1)]  # the fix for the licence only
    if "licensed_in_japan" in changes:
        assert break_even(_profile(), fronted, _regime(**elig), "L").bought


def test_a_quote_not_bought_even_if_free_names_what_keeps_it_out():
    # covers hacks only while the regime counts every peril: no price makes it replace cash
    quotes = [_layer("L", 0.0, 1.0, 0.03, perils=frozenset({"external_hack"}))]
    be = break_even(_profile(), quotes, _regime(), "L")
    assert be.eligible and be.break_even_rol is None
    assert be.reason == "not bought even if free: does not cover insider_theft, vendor_compromise"
    covers_all = [_layer("L", 0.0, 1.0, 0.03)]
    assert break_even(_profile(), covers_all, _regime(), "L").bought


def test_break_evens_lists_every_offered_quote_once():
    quotes = [_layer("A", 0.0, 0.5, 0.03), _layer("B", 0.5, 0.5, 0.02),
              _layer("C", 0.0, 1.0, 0.01, exchange_id="OTHER")]
    table = break_evens(_profile(), quotes, _regime())
    assert list(table["quote_id"]) == ["A", "B"]


def test_demand_curve_is_full_below_break_even_and_zero_above():
    quotes = [_layer("L", 0.0, 1.0, 0.03, max_share=0.8)]
    curve = demand_curve(_profile(), quotes, _regime(), "L", rols=[0.0, 0.05, 0.099, 0.101, 0.2])
    assert list(curve["share"].round(9)) == [0.8, 0.8, 0.8, 0.0, 0.0]


def test_the_default_demand_curve_is_sampled_at_its_break_even():
    # one layer, 80% on offer, κ = 1: bought at 80% up to the 10% carry of the cash it replaces, not above
    quotes = [_layer("L", 0.0, 1.0, 0.03, max_share=0.8)]
    curve = demand_curve(_profile(), quotes, _regime(), "L")
    assert list(curve["rate_on_line"]) == pytest.approx([0.0, 0.03, 0.10, 0.20], rel=1e-6)
    assert list(curve["share"].round(9)) == [0.8, 0.8, 0.0, 0.0]
    assert rate_for_share(curve, 0.5) == pytest.approx(0.10, rel=1e-6)
    assert rate_for_share(curve, 0.9) is None                     # more than is on offer: no rate gets it


def test_every_step_of_a_bundled_demand_curve_is_where_the_share_changes_and_the_last_is_the_break_even():
    from conftest import DATA
    from optimizer.inputs import load_profiles, load_quotes, load_regime

    profile = load_profiles(DATA / "profiles-japan-2025.csv")[0]
    quotes, regime = load_quotes(DATA / "quotes.csv"), load_regime(DATA / "regimes" / "cold-wallet.toml")
    curve = demand_curve(profile, quotes, regime, "Q06")
    rows = curve.to_dict("records")
    changes = [(a, b) for a, b in zip(rows, rows[1:]) if abs(a["share"] - b["share"]) > 1e-7]
    assert len(changes) >= 3                                       # 100%, then less, then less, then none
    for before, step in changes:                                   # just below and just above each step
        r = step["rate_on_line"]
        assert share_at(profile, quotes, regime, "Q06", r * (1 - 1e-4)) == pytest.approx(before["share"], abs=1e-6)
        assert share_at(profile, quotes, regime, "Q06", r * (1 + 1e-4)) == pytest.approx(step["share"], abs=1e-6)
    be = break_even(profile, quotes, regime, "Q06").break_even_rol
    assert changes[-1][1]["share"] == 0 and changes[-1][1]["rate_on_line"] == pytest.approx(be, rel=1e-4)
    assert rate_for_share(curve, 0.01) == pytest.approx(be, rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(rol=st.floats(0.001, 0.3), second=st.floats(0.001, 0.3))
def test_demand_never_rises_with_the_premium(rol, second):
    quotes = [_layer("A", 0.0, 0.6, 0.04), _layer("B", 0.3, 0.7, 0.03)]
    lo, hi = sorted((rol, second))
    assert share_at(_profile(), quotes, _regime(), "B", hi) <= share_at(_profile(), quotes, _regime(), "B", lo) + 1e-9


# ------------------------------------------------------------------ frontier

def test_frontier_over_insurance_cap_falls_from_all_cash_to_the_unconstrained_cost():
    quotes = [_layer("L", 0.0, 1.0, 0.03)]
    table = frontier(_profile(), quotes, _regime(), "max_insurance_share", [0.0, 0.5, 1.0])
    # cap 0: all cash 0.10·R; cap 0.5: half cash, half layer; cap 1: all layer at 3%
    assert list(table["annual_cost_jpy"]) == pytest.approx([0.10 * R, 0.05 * R + 0.015 * R, 0.03 * R], rel=1e-9)
    assert (table["annual_cost_jpy"].diff().dropna() <= 1e-6).all()


def test_frontier_rejects_an_unknown_parameter():
    with pytest.raises(KeyError, match="unknown regime parameter"):
        frontier(_profile(), [], _regime(), "max_insurance")


@pytest.mark.parametrize("param, value", [
    ("derivative_credit_factor", 5.0), ("min_cash_share", 2.0), ("max_insurance_share", 1.5), ("volume_rate", -0.5),
    ("floor_jpy", -5.0), ("floor_jpy", 1e308), ("min_cash_share", float("nan")), ("max_insurance_share", float("inf")),
])
def test_frontier_refuses_a_value_the_regime_file_would_refuse(param, value):
    # a credit factor of 5 or a cash floor of 2×R would be solved and called optimal: refused, as in a regime TOML
    with pytest.raises(InputError, match=param):
        frontier(_profile(), [_layer("L", 0.0, 1.0, 0.03)], _regime(), param, [0.5 if param != "floor_jpy" else 1e9,
                                                                               value])


def test_frontier_takes_no_ceiling_and_a_zero_ceiling_on_r():
    table = frontier(_profile(), [_layer("L", 0.0, 1.0, 0.03)], _share_capped(), "max_share_of_customer_assets",
                     [0.0, 0.05, float("inf")])
    assert list(table["status"]) == ["skipped", "optimal", "optimal"]


def _share_capped(share_cap=float("inf")):
    # R = max(floor ¥2bn, 0.002 × volume 5e12 = ¥10bn) = ¥10bn, capped at share_cap × customer assets ¥100bn
    return Regime("test", RequirementRule(volume_rate=0.002, floor_jpy=2e9, max_share_of_customer_assets=share_cap),
                  Eligibility())


def test_the_default_sweep_of_a_ceiling_on_R_starts_above_zero_and_passes_where_it_stops_binding():
    quotes = [_layer("L", 0.0, 1.0, 0.03)]
    table = frontier(_profile(), quotes, _share_capped(0.13), "max_share_of_customer_assets")
    shares = table["max_share_of_customer_assets"]
    # it stops binding at R/assets = 0.1; the sweep runs 21 steps up to 1.5 × 0.1
    assert len(table) == 21 and shares.iloc[0] == pytest.approx(0.15 / 21) and shares.iloc[-1] == pytest.approx(0.15)
    assert (table["status"] == "optimal").all()
    expected = [min(v * 1e11, R) for v in shares]              # R = min(share × assets, ¥10bn), never 0
    assert list(table["required_coverage_jpy"]) == pytest.approx(expected, rel=1e-12)
    assert list(table["annual_cost_jpy"]) == pytest.approx([0.03 * r for r in expected], rel=1e-9)


def test_a_cap_sweep_without_a_cap_runs_up_to_the_uncapped_requirement():
    table = frontier(_profile(), [], _regime(), "cap_jpy")
    assert table["cap_jpy"].iloc[0] > 0 and table["cap_jpy"].iloc[-1] == pytest.approx(1.5 * R)
    assert table["required_coverage_jpy"].max() == pytest.approx(R)


def test_a_value_that_leaves_no_requirement_is_skipped_with_a_note_and_all_such_values_are_refused():
    from optimizer.inputs import InputError

    table = frontier(_profile(), [], _share_capped(), "max_share_of_customer_assets", [0.0, 0.05])
    assert list(table["status"]) == ["skipped", "optimal"]
    assert "max_share_of_customer_assets = 0 leaves no plausible requirement for X" in table["note"].iloc[0]
    assert math.isnan(table["annual_cost_jpy"].iloc[0]) and table["required_coverage_jpy"].iloc[1] == 5e9
    with pytest.raises(InputError, match="no value of cap_jpy leaves a plausible requirement"):
        frontier(_profile(), [], _regime(), "cap_jpy", [0.0])


# ------------------------------------------------------------------ stress test

def _incident(share, peril="external_hack", loss_jpy=1e9):
    return Incident("I", "2018-01-26", "Somewhere", peril, loss_jpy, share)


def test_stress_layers_pay_then_cash_then_uncovered():
    # Cash holds 0–40% of R; the layer pays 40–100% for hacks only.
    quotes = [_layer("L", 0.4, 0.6, 0.03, perils=frozenset({"external_hack"}))]
    regime = _regime(perils=("external_hack",))
    s = solve(_profile(), quotes, regime)
    assert s.cash_reserve_jpy == pytest.approx(0.4 * R)
    # loss of 12% of 1e11 assets = 1.2e10 > R: layer pays 0.6R, cash 0.4R… of the remaining 0.6R, uncovered 0.2R
    table = stress_test(s, [_incident(0.12)])
    row = table.iloc[0]
    assert row["loss_jpy"] == pytest.approx(1.2e10)
    assert row["paid_L_jpy"] == pytest.approx(0.6 * R)
    assert row["paid_by_cash_jpy"] == pytest.approx(0.4 * R)
    assert row["uncovered_jpy"] == pytest.approx(1.2e10 - R)


def test_stress_excluded_peril_falls_on_cash():
    quotes = [_layer("L", 0.0, 1.0, 0.03, perils=frozenset({"external_hack"}))]
    regime = _regime(perils=("external_hack",))
    s = solve(_profile(liquid_capital_jpy=0.0), quotes, regime)
    row = stress_test(s, [_incident(0.05, peril="vendor_compromise")]).iloc[0]
    assert row["paid_by_layers_jpy"] == 0
    assert row["uncovered_jpy"] == pytest.approx(5e9)


def test_stress_note_names_a_layer_that_does_not_cover_the_peril():
    quotes = [_layer("L", 0.0, 1.0, 0.03, perils=frozenset({"external_hack"}))]
    regime = _regime(perils=("external_hack",))
    s = solve(_profile(liquid_capital_jpy=0.0), quotes, regime)
    hack, vendor = stress_test(s, [_incident(0.05), _incident(0.05, peril="vendor_compromise")])["note"]
    assert hack == "" and vendor == "L paid nothing: it does not cover vendor compromise"


def test_stress_overlapping_layers_never_pay_more_than_the_loss():
    quotes = [_layer("A", 0.0, 1.0, 0.02, max_share=0.8, counterparty="P"),
              _layer("B", 0.0, 1.0, 0.02, max_share=0.8, counterparty="Q")]
    s = solve(_profile(), quotes, _regime(max_insurance_share=1.0))
    row = stress_test(s, [_incident(0.01)]).iloc[0]
    assert row["paid_by_layers_jpy"] == pytest.approx(row["loss_jpy"])
    assert row["uncovered_jpy"] == 0


def test_stress_absolute_scale_uses_the_reported_loss():
    s = solve(_profile(), [], _regime())
    row = stress_test(s, [_incident(0.5, loss_jpy=3e9)], scale="absolute").iloc[0]
    assert row["loss_jpy"] == 3e9 and row["paid_by_cash_jpy"] == pytest.approx(3e9)


@pytest.mark.parametrize("attribution,excluded_pays", [("true", False), ("unknown", False), ("false", True)])
def test_stress_layer_excluding_state_backed_attacks_pays_as_the_risk_view_does(attribution, excluded_pays):
    # A 0–20% layer excluding state-backed attacks under a 20–50% layer; a loss of 3% of 1e11 = 3e9 reaches both.
    quotes = [_layer("X", 0.0, 0.2, 0.02, exclusions=frozenset({"state_backed"})), _layer("P", 0.2, 0.3, 0.03)]
    s = solve(_profile(liquid_capital_jpy=0.0), quotes, _regime(max_insurance_share=1.0))
    assert s.share_of("X") > 0 and s.share_of("P") > 0
    inc = Incident("S", "2024-05-31", "Somewhere", "external_hack", 1e9, 0.03, state_backed=attribution)
    row = stress_test(s, [inc]).iloc[0]
    assert row["paid_P_jpy"] == pytest.approx(s.share_of("P") * 1e9)
    assert row["paid_X_jpy"] == pytest.approx(s.share_of("X") * 2e9 if excluded_pays else 0.0)
    assert row["paid_by_layers_jpy"] + row["paid_by_cash_jpy"] + row["uncovered_jpy"] == pytest.approx(3e9)
    assert row["state_backed"] == attribution
    if excluded_pays:
        assert row["note"] == ""
    else:
        assert "X paid nothing: it excludes state-backed attacks" in row["note"]
        assert ("attributed to a state actor" if attribution == "true" else "attribution is unknown") in row["note"]


def test_stress_cash_that_covers_the_retained_loss_up_to_rounding_leaves_nothing_uncovered():
    # Cash 0–10% of R and layers 10–40% and 40–100% each split 50/50: a loss of R leaves exactly the cash.
    quotes = [_layer(f"{n}{h}", a, l, 0.01, max_share=0.5, counterparty=f"{n}{h}")
              for n, a, l in (("A", 0.1, 0.3), ("B", 0.4, 0.6)) for h in (1, 2)]
    s = solve(_profile(), quotes, _regime(max_insurance_share=0.9, max_counterparty_share=0.5))
    losses = [0.1 * R + k * 0.9 * R / 997 for k in range(1, 997)]  # every loss between cash and R
    table = stress_test(s, [Incident(f"I{k}", "2018-01-26", "S", "external_hack", x, 0.0)
                            for k, x in enumerate(losses)], scale="absolute")
    assert s.cash_reserve_jpy == pytest.approx(0.1 * R)
    assert (table["uncovered_jpy"] == 0).all()


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_break_even_separates_bought_from_not_bought(data):
    # Random small towers: just below the break-even the quote is bought, just above it is not.
    n = data.draw(st.integers(2, 5))
    quotes = [
        _layer(f"L{i}", data.draw(st.sampled_from([0.0, 0.2, 0.4, 0.6])), data.draw(st.sampled_from([0.2, 0.4, 0.6])),
               data.draw(st.floats(0.005, 0.12)), max_share=data.draw(st.sampled_from([0.5, 1.0])),
               rating=data.draw(st.sampled_from(["AA", "A", "BBB"])))
        for i in range(n)
    ]
    regime = _regime(rating_credit={"A": 0.95, "BBB": 0.85}, max_counterparty_share=0.6)
    target = data.draw(st.sampled_from([q.quote_id for q in quotes]))
    be = break_even(_profile(), quotes, regime, target)
    if be.break_even_rol is None or math.isinf(be.break_even_rol):
        return
    # margins above HiGHS's optimality tolerance: a quote worth nothing is "bought" at a price of 1e-9 by a tie
    if be.break_even_rol > 1e-4:
        assert share_at(_profile(), quotes, regime, target, be.break_even_rol * (1 - 1e-3)) > 0
    assert share_at(_profile(), quotes, regime, target, be.break_even_rol * (1 + 1e-3) + 1e-4) == 0


def test_stress_scales_every_incident_by_its_own_share_of_assets():
    s = solve(_profile(), [_layer("L", 0.0, 0.5, 0.02)], _regime())
    table = stress_test(s, [_incident(0.01), Incident("J", "2019-07-11", "Other", "insider_theft", 3e9, 0.13)])
    assert list(table["loss_jpy"]) == pytest.approx([1e9, 1.3e10])


def test_cli_stress_pays_nothing_from_a_layer_excluding_the_attack_and_says_why():
    import json
    from pathlib import Path

    from conftest import run_cli

    root = Path(__file__).resolve().parent.parent
    args = ["stress", "--profiles", "data/profiles-japan-2025.csv", "--exchange",
            "bitflyer", "--quotes", "data/quotes-japan-state-excl.csv", "--regime", "cold-wallet"]
    out = run_cli(*args, "--format", "json", cwd=root)
    assert out.returncode == 0, out.stderr
    rows = {r["incident_id"]: r for r in json.loads(out.stdout)["incidents"]}
    for incident in ("DMM-2024", "BYBIT-2025"):  # attributed to a state actor; LL-V1 excludes state-backed attacks
        row = rows[incident]
        assert row["state_backed"] == "true" and row["paid_LL-V1_jpy"] == 0
        assert "LL-V1 paid nothing: it excludes state-backed attacks" in row["note"]
        assert row["paid_by_layers_jpy"] == pytest.approx(sum(v for k, v in row.items()
                                                               if k.startswith("paid_") and k[5:-4] not in
                                                               ("by_cash", "by_layers")))
    text = run_cli(*args, cwd=root)
    assert text.returncode == 0 and "DMM-2024: LL-V1 paid nothing" in text.stdout


# ------------------------------------------------------------------ two hacks in one year, replayed

def _twice(sigma):
    return Regime("t", RequirementRule(volume_rate=0.002, perils=("external_hack",), second_event_share=sigma),
                  Eligibility())


def test_stress_pair_a_layer_without_reinstatement_pays_the_first_hack_and_cash_the_second():
    from optimizer.analysis import stress_pair

    quotes = [_layer("L", 0.0, 1.0, 0.01)]
    hack = _incident(0.1)                                        # 10% of ¥100bn of customer assets: a loss of R
    ready = solve(_profile(), quotes, _twice(1.0))               # the two-event test: cash R beside the layer
    first, second = stress_pair(ready, hack, hack).to_dict("records")
    assert (first["paid_L_jpy"], first["paid_by_cash_jpy"]) == (pytest.approx(R), pytest.approx(0.0))
    assert (second["paid_L_jpy"], second["paid_by_cash_jpy"], second["uncovered_jpy"]) == (0.0, pytest.approx(R),
                                                                                         pytest.approx(0.0))
    once = solve(_profile(), quotes, _twice(0.0))                # one hack a year: no cash left for the second
    assert stress_pair(once, hack, hack)["uncovered_jpy"].tolist() == pytest.approx([0.0, R])


def test_stress_pair_a_reinstatement_pays_the_second_hack_and_cash_spent_on_the_first_is_gone():
    from optimizer.analysis import stress_pair

    s = solve(_profile(), [_layer("L", 0.5, 0.5, 0.01, reinstatements=1)], _twice(1.0))
    assert s.cash_reserve_jpy == pytest.approx(R)
    first, second = stress_pair(s, _incident(0.1), _incident(0.1)).to_dict("records")
    assert first["paid_L_jpy"] == pytest.approx(0.5 * R) and second["paid_L_jpy"] == pytest.approx(0.5 * R)
    assert first["paid_by_cash_jpy"] == pytest.approx(0.5 * R) and second["cash_left_jpy"] == pytest.approx(0.0)
    bigger = stress_pair(s, _incident(0.1), _incident(0.12)).iloc[1]   # the second is larger than the cash left
    assert bigger["uncovered_jpy"] == pytest.approx(0.2 * R)


def test_cli_stress_pair_replays_two_incidents_and_refuses_an_unknown_one(capsys):
    import json

    from conftest import DATA
    from optimizer import cli

    args = ["stress", "--profiles", str(DATA / "profiles-japan-2025.csv"), "--quotes", str(DATA / "quotes-japan.csv"),
            "--regime", "cold-wallet-repeat", "--exchange", "bitflyer", "--format", "json"]
    assert cli.main(args + ["--pair", "COINCHECK-2018,ZAIF-2018"]) == 0
    pair = json.loads(capsys.readouterr().out)["pair"]
    assert [p["event"] for p in pair] == ["first", "second"]
    assert pair[1]["paid_LL-V1_jpy"] == pytest.approx(pair[0]["paid_LL-V1_jpy"])  # its reinstatement pays again
    assert pair[1]["paid_by_cash_jpy"] == pytest.approx(pair[0]["cash_left_jpy"])
    assert cli.main(args + ["--pair", "COINCHECK-2018"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --pair") and err.count("\n") == 1


def test_stress_notes_read_in_japanese_in_the_table_and_the_workbook():
    # why a layer paid nothing: English in the frame (the CLI's words), Japanese where a Japanese reader sees it
    from optimizer import charts, report, solve
    from optimizer.analysis import NOTE_NOT_COVERED, note_words, stress_test
    from optimizer.i18n import Unit, translator
    from optimizer.inputs import load_incidents, load_profiles, load_quotes, load_regime

    ja = translator("ja")
    assert note_words(NOTE_NOT_COVERED.format(quote="JP-P1", peril="vendor compromise"), ja) == \
        "JP-P1 は支払いなし：委託先経由の侵害を補償対象としていない"
    data = Path(__file__).resolve().parent.parent / "data"
    s = solve(load_profiles(data / "profiles-japan-2025.csv")[0], load_quotes(data / "quotes-japan-state-excl.csv"),
              load_regime(data / "regimes" / "cold-wallet.toml"))
    table = stress_test(s, load_incidents(data / "incidents.csv"))
    english = dict(zip(table["incident_id"], table["note"]))
    assert english["DMM-2024"].endswith("paid nothing: it excludes state-backed attacks and the incident is attributed "
                                        "to a state actor")
    shown, _money = charts.stress_table(table, Unit("¥m"), ja)
    book = report.workbook_sheets(s, stress=table, t=ja)[ja("stress")]
    for notes in (shown[ja("note")], book["note"]):
        by_id = dict(zip(table["incident_id"], notes))
        assert "国家主体によるもの" in by_id["DMM-2024"] and "帰属は不明" in by_id["MTGOX-2014"]
        assert not any("paid nothing" in n for n in notes)
    assert list(table["note"]) == list(english.values())   # the frame itself keeps its English words
