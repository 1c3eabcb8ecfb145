"""Why a quote is not bought (optimizer/reasons.py): each reason is checked by removing the obstacle it names and
seeing the optimal mix buy the quote."""

import dataclasses
import json

import pytest

from optimizer.domain import PERILS, Eligibility, Quote, Regime, RequirementRule
from optimizer.inputs import load_profiles, load_quotes, load_regime, select_profile
from optimizer.model import solve
from optimizer.reasons import not_bought, reason
from builders import layer, profile
from conftest import DATA, ROOT, run_cli

P = profile(annual_trading_volume_jpy=1e12)  # carry 10%: a full layer 0→R is worth buying below a ROL of 10%
R = 1e9


def regime(second_event_share=0.0, **elig):
    return Regime("r", RequirementRule(floor_jpy=R, second_event_share=second_event_share), Eligibility(**elig),
                  rating_credit={})


def q(quote_id="Q", attachment=0.0, limit=1.0, rol=0.01, **kw):
    return layer(quote_id, attachment, limit, rol, counterparty=kw.pop("counterparty", "C"), **kw)


def bought(quotes, reg, quote_id, profile=P):
    return solve(profile, quotes, reg, marginal=False).share_of(quote_id) > 1e-7


def replace(quotes, quote_id, **changes):
    return [dataclasses.replace(x, **changes) if x.quote_id == quote_id else x for x in quotes]


def remove_obstacles(why, quote_id, quotes, reg, break_even_rol=None):
    """The user's fix for each named obstacle, written here independently of reasons.py."""
    for part in why.split("; "):
        elig = reg.eligibility
        if part == "not offered to this exchange":
            quotes = replace(quotes, quote_id, exchange_id=None)
        elif part == "ineligible: rating below min_rating":
            quotes = replace(quotes, quote_id, rating=reg.eligibility.min_rating)
        elif part == "ineligible: not licensed in Japan":
            quotes = replace(quotes, quote_id, licensed_in_japan=True)
        elif part.startswith("ineligible: pays after "):
            quotes = replace(quotes, quote_id, days_to_pay=float(part.rsplit(" ", 1)[1]))  # "... the regime allows M"
        elif part == "ineligible: credit factor 0 (state-backed exclusion)":
            quotes = replace(quotes, quote_id, exclusions=frozenset())
        elif part.startswith("adds nothing the mix needs"):
            raise AssertionError("no obstacle to remove")
        elif part == "attaches above R":
            quotes = replace(quotes, quote_id, attachment=0.0)
        elif part.startswith("cap binds: max_counterparty_share"):
            reg = dataclasses.replace(reg, eligibility=dataclasses.replace(elig, max_counterparty_share=1.0))
        elif part == "cap binds: min_cash_share":
            reg = dataclasses.replace(reg, eligibility=dataclasses.replace(elig, min_cash_share=0.0))
        elif part.startswith("no credit allowed: "):
            name = part.removeprefix("no credit allowed: ").removesuffix(" 0")
            reg = dataclasses.replace(reg, eligibility=dataclasses.replace(elig, **{name: 1.0}))
        elif part.startswith("cap binds: "):
            name = part.removeprefix("cap binds: ")
            reg = dataclasses.replace(reg, eligibility=dataclasses.replace(elig, **{name: 1.0}))
        elif part.startswith("does not cover "):
            quotes = replace(quotes, quote_id, perils=frozenset(PERILS))
        elif part == "aggregate used up by the first loss (no reinstatement left for the second)":
            quotes = replace(quotes, quote_id, reinstatements=1)
        elif part.startswith("dearer than cash and other cover"):
            rol = 0.99 * break_even_rol if break_even_rol else 0.0
            quotes = replace(quotes, quote_id, rate_on_line=rol, fixed_fee_jpy=0.0)
        else:
            raise AssertionError(f"a reason the test does not know how to remove: {part!r}")
    return quotes, reg


CASES = [
    ("not offered", [q(exchange_id="OTHER")], regime(), "not offered to this exchange"),
    ("rating", [q(rating="BB")], regime(), "ineligible: rating below min_rating"),
    ("licence", [q(licensed_in_japan=False)], regime(require_licensed=True), "ineligible: not licensed in Japan"),
    ("state-backed", [q(exclusions=frozenset({"state_backed"}))], regime(state_backed_exclusion_factor=0.0),
     "ineligible: credit factor 0 (state-backed exclusion)"),
    ("attachment", [Quote("Q", "insurance", "C", "AA", 2e9, 1e9, 0.01)], regime(), "attaches above R"),
    ("peril", [q(perils=frozenset({"external_hack"}))], regime(), "does not cover insider_theft, vendor_compromise"),
    ("insurance cap", [q("Q1", 0, 0.5, 0.01), q("Q", 0.5, 0.5, 0.02)], regime(max_insurance_share=0.5),
     "cap binds: max_insurance_share"),
    ("counterparty cap", [q("Q1", 0, 0.5, 0.01), q("Q", 0.5, 0.5, 0.02)], regime(max_counterparty_share=0.5),
     "cap binds: max_counterparty_share (C)"),
    # a cap of 0 is not "used up by cheaper cover": the regime allows this kind no credit at all
    ("derivative cap of 0", [q(kind="derivative", rating="NR", collateralized=True)], regime(max_derivative_share=0.0),
     "no credit allowed: max_derivative_share 0"),
    ("insurance cap of 0", [q()], regime(max_insurance_share=0.0), "no credit allowed: max_insurance_share 0"),
    ("cash floor", [q()], regime(min_cash_share=1.0), "cap binds: min_cash_share"),
    ("pays too late", [q(days_to_pay=180)], regime(max_days_to_pay=30),
     "ineligible: pays after 180 days, the regime allows 30"),
    ("pays too late and dear", [q(days_to_pay=90, rol=0.5)], regime(max_days_to_pay=60),
     "ineligible: pays after 90 days, the regime allows 60; dearer than cash and other cover"),
    # a full layer at 12% of its limit is dearer than cash (10%) for one hack a year; for two it would pay twice,
    # if only it had a reinstatement
    ("aggregate used up", [q(rol=0.12)], regime(second_event_share=1.0),
     "aggregate used up by the first loss (no reinstatement left for the second)"),
    ("one hack a year: dear", [q(rol=0.12)], regime(), "dearer than cash and other cover"),
]


@pytest.mark.parametrize("name,quotes,reg,expected", CASES, ids=[c[0] for c in CASES])
def test_each_reason_names_the_obstacle_and_removing_it_buys_the_quote(name, quotes, reg, expected):
    s = solve(P, quotes, reg, marginal=False)
    assert s.share_of("Q") == 0
    assert reason(s, quotes, "Q") == expected
    quotes2, reg2 = remove_obstacles(expected, "Q", quotes, reg)
    assert bought(quotes2, reg2, "Q")


def test_cover_that_pays_after_the_regimes_limit_earns_nothing_and_cash_funds_R():
    # Hand-checked: R = ¥1bn, carry 10%. A layer 0→R at 1% pays 180 days after a loss; the regime allows 30 days.
    # It earns no credit, so the whole ¥1bn is cash (¥100m a year); the same layer paying in 30 days replaces
    # all of it for its ¥10m premium.
    late, reg = [q(days_to_pay=180)], regime(max_days_to_pay=30)
    s = solve(P, late, reg, marginal=False)
    assert s.share_of("Q") == 0 and s.credit["Q"] == 0
    assert s.cash_reserve_jpy == pytest.approx(R) and s.annual_cost_jpy == pytest.approx(0.1 * R)
    on_time = solve(P, replace(late, "Q", days_to_pay=30), reg, marginal=False)   # on the limit: in time
    assert on_time.share_of("Q") == pytest.approx(1.0) and on_time.annual_cost_jpy == pytest.approx(0.01 * R)
    assert solve(P, late, regime(), marginal=False).share_of("Q") == pytest.approx(1.0)  # no limit: bought


def test_a_late_quote_has_no_break_even_and_says_why():
    from optimizer.analysis import break_even

    quotes = [q(days_to_pay=180)]
    be = break_even(P, quotes, regime(max_days_to_pay=30), "Q")
    assert be.break_even_rol is None and not be.eligible
    assert be.reason == "ineligible: pays after 180 days, the regime allows 30"


def test_a_dear_quote_gets_its_break_even_which_is_the_carry_for_a_full_layer():
    quotes = [q(rol=0.5)]
    s = solve(P, quotes, regime(), marginal=False)
    [item] = not_bought(s, quotes)
    assert item["reason"].startswith("dearer than cash and other cover")
    assert item["break_even_rol"] == pytest.approx(0.1, rel=1e-3)   # the layer replaces cash at 10% carry
    assert not bought(replace(quotes, "Q", rate_on_line=0.101), regime(), "Q")
    assert bought(replace(quotes, "Q", rate_on_line=0.099), regime(), "Q")


def test_bought_quotes_get_no_reason():
    quotes = [q("Q1", rol=0.01), q("Q2", rol=0.5)]
    s = solve(P, quotes, regime(), marginal=False)
    assert [d["quote_id"] for d in not_bought(s, quotes)] == ["Q2"]


def test_obstacles_together_are_all_named():
    # covers one peril only AND dearer than cash: neither fix alone buys it
    quotes = [q(perils=frozenset({"external_hack"}), rol=0.5)]
    s = solve(P, quotes, regime(), marginal=False)
    why = reason(s, quotes, "Q")
    assert why == "does not cover insider_theft, vendor_compromise; dearer than cash and other cover"
    quotes2, reg2 = remove_obstacles(why, "Q", quotes, regime())
    assert bought(quotes2, reg2, "Q")


SHEETS = [("profiles.csv", "EX05", "quotes.csv", p.stem) for p in sorted((DATA / "regimes").glob("*.toml"))] + [
    ("profiles-japan-2025.csv", ex, sheet, preset)
    for ex in ("bitflyer", "zaif") for sheet in ("quotes-japan.csv", "quotes-japan-state-excl.csv")
    for preset in ("cold-wallet", "cold-wallet-state-backed-haircut", "securities-style-japan", "cold-wallet-repeat")]


@pytest.mark.parametrize("profiles,exchange,sheet,preset", SHEETS)
def test_every_quote_not_bought_in_the_bundled_data_has_a_true_reason(profiles, exchange, sheet, preset):
    profile = select_profile(load_profiles(DATA / profiles), exchange, profiles)
    quotes = load_quotes(DATA / sheet)
    reg = load_regime(DATA / "regimes" / f"{preset}.toml")
    s = solve(profile, quotes, reg, marginal=False)
    items = not_bought(s, quotes)
    assert {d["quote_id"] for d in items} | {l.quote.quote_id for l in s.lines} == {x.quote_id for x in quotes}
    for item in items:
        assert item["reason"]
        quotes2, reg2 = remove_obstacles(item["reason"], item["quote_id"], quotes, reg, item["break_even_rol"])
        assert bought(quotes2, reg2, item["quote_id"], profile), item


def test_solve_json_and_table_carry_the_reasons():
    args = ["solve", "--profiles", str(DATA / "profiles-japan-2025.csv"),
            "--exchange", "bitflyer", "--regime", "cold-wallet", "--quotes", str(DATA / "quotes-japan.csv")]
    out = run_cli(*args, "--format", "json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    reasons = {d["quote_id"]: d["reason"] for d in data["instruments_not_bought"]}
    assert reasons["BDA-D1"] == "ineligible: not licensed in Japan; does not cover vendor_compromise"
    assert reasons["OFF-1"].startswith("ineligible: rating below min_rating")
    # cold-wallet credits no derivatives; and no source says the SPV is licensed in Japan (data/quotes-japan.csv)
    assert reasons["PAR-1"] == "ineligible: not licensed in Japan; no credit allowed: max_derivative_share 0"
    assert data["requirement_to_net_assets"] == pytest.approx(data["required_coverage_jpy"] / 2.975e10)
    assert data["statement_date"] == "2025-12-31"
    table = run_cli(*args, cwd=ROOT)
    assert "Not bought, and why:" in table.stdout and "ineligible: not licensed in Japan" in table.stdout
