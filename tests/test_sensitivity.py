"""`sensitivity`: each assumption of data/assumptions.toml moved to its low and its high value, one at a time."""

import json
import tomllib

import pytest

from builders import layer, profile, regime
from conftest import DATA, ROOT, run_cli
from optimizer import charts, sensitivity as S
from optimizer.i18n import Unit
from optimizer.inputs import InputError, load_capacity, load_profiles, load_quotes, load_regime


def _assumptions(body: str) -> list[S.Assumption]:
    return S.assumptions_from_text('name = "t"\n' + body, "t.toml")


SMALL = """
[[assumption]]
name = "coc"
label = "cost of capital"
where = "profiles: cost_of_capital"
target = "profiles.cost_of_capital"
mode = "shift"
base = 0.0
low = -0.04
high = 0.04
source = "ASSUMPTION: test"

[[assumption]]
name = "rate"
label = "the layer's rate"
where = "quotes: rate_on_line of L1"
target = "quotes.rate_on_line"
mode = "set"
quotes = ["L1"]
base = 0.01
low = 0.005
high = 0.02
source = "ASSUMPTION: test"
"""


def test_moving_one_assumption_moves_the_cost_by_what_a_hand_check_gives():
    # All cash (no insurance credit): cost = Σ (cost_of_capital − reserve_yield) × R, so ±4 points of cost of
    # capital moves it by ±0.04 × ΣR exactly; the layer's price cannot move it (nothing is bought).
    exchanges = [profile(exchange_id="A"), profile(exchange_id="B", annual_trading_volume_jpy=1e13)]
    R = 0.002 * (5e12 + 1e13)
    inputs = S.Inputs(exchanges, [layer("L1", 0, 1, 0.01)], regime(max_insurance_share=0.0))
    result = S.run(inputs, _assumptions(SMALL))
    assert result.base.annual_cost_jpy == pytest.approx(0.10 * R)
    coc, rate = result.rows                                   # tornado order: the widest swing first
    assert coc.assumption.name == "coc" and rate.assumption.name == "rate"
    assert coc.low.annual_cost_jpy == pytest.approx(0.06 * R) and coc.high.annual_cost_jpy == pytest.approx(0.14 * R)
    assert coc.swing(result.base) == pytest.approx(0.08 * R) and rate.swing(result.base) == pytest.approx(0)
    assert coc.low.insurance_cover_jpy == 0 and coc.low.cannot_comply == ()


def test_a_cheaper_layer_is_bought_more_and_a_capacity_of_zero_withdraws_it():
    # The layer covers 0→100% of R at 1% against a 10% carry: it is bought in full; at 20% it is not bought.
    inputs = S.Inputs([profile()], [layer("L1", 0, 1, 0.01, counterparty="C")], regime(), {"C": 1e12})
    body = SMALL.split("[[assumption]]")[2].replace("high = 0.02", "high = 0.2")
    body += """
[[assumption]]
name = "cap"
label = "C's capacity"
where = "capacity: C"
target = "capacity"
mode = "set"
counterparties = ["C"]
base = 1e12
low = 0
high = 1e12
source = "ASSUMPTION: test"
"""
    result = S.run(inputs, _assumptions("[[assumption]]" + body))
    rows = {r.assumption.name: r for r in result.rows}
    R = 1e10
    assert result.base.annual_cost_jpy == pytest.approx(0.01 * R) and result.base.insurance_cover_jpy == R
    assert rows["rate"].high.insurance_cover_jpy == 0 and rows["rate"].high.annual_cost_jpy == pytest.approx(0.1 * R)
    assert rows["cap"].low.insurance_cover_jpy == 0                       # withdrawn: all cash
    assert rows["cap"].high.annual_cost_jpy == pytest.approx(result.base.annual_cost_jpy)
    frame = charts.tornado_frame(result, Unit("¥bn"))
    assert list(frame["assumption"]) == ["the layer's rate", "the layer's rate", "C's capacity", "C's capacity"]
    assert charts.tornado_chart(result, Unit("¥bn")).to_dict()["layer"]


@pytest.mark.parametrize("change, key", [
    ('mode = "shift"', "mode"), ('target = "quotes.colour"', "target"), ('low = "x"', "low"),
    ('source = "because"', "source"), ('colour = 1', "colour"),
])
def test_a_bad_assumption_names_the_file_the_entry_and_the_key(change, key):
    body = SMALL.split("[[assumption]]")[2]
    line = change.split(" = ")[0]
    lines = [l for l in body.splitlines() if not l.startswith(line + " =")]
    text = "[[assumption]]\n" + "\n".join(lines) + "\n" + change + "\n"
    if change.startswith("mode"):
        text = text.replace('mode = "shift"', 'mode = "double"')
    with pytest.raises(InputError) as err:
        _assumptions(text)
    assert "t.toml" in str(err.value) and f"[[assumption]] 1, {key}" in str(err.value)


def test_an_assumption_named_twice_is_refused():
    with pytest.raises(InputError, match=r"\[\[assumption\]\] 3, name.*named twice"):
        _assumptions(SMALL + SMALL.split("[[assumption]]")[1].join(["[[assumption]]", ""]))


def test_the_bundled_assumptions_say_what_the_data_holds():
    """Each assumption's base is the value in the file it names (so the list cannot drift from the data)."""
    assumptions = S.load_assumptions(DATA / "assumptions.toml")
    assert len({a.name for a in assumptions}) == len(assumptions) >= 12
    quotes = {q.quote_id: q for q in load_quotes(DATA / "quotes-japan.csv")}
    profiles = {p.exchange_id: p for p in load_profiles(DATA / "profiles-japan-2025.csv")}
    cold = load_regime(DATA / "regimes" / "cold-wallet.toml")
    capacity = load_capacity(DATA / "capacity.csv")
    for a in assumptions:
        assert a.source.startswith(("SOURCED", "ASSUMPTION"))
        if a.mode != "set":
            assert a.base == (0.0 if a.mode == "shift" else 1.0)
            continue
        if a.kind == "quotes":
            assert tuple(getattr(quotes[q], a.key) for q in a.quotes) == (a.base if isinstance(a.base, tuple)
                                                                          else (a.base,) * len(a.quotes)), a.name
        elif a.kind == "profiles":
            assert {getattr(profiles[e], a.key) for e in a.exchanges or profiles} == {a.base}, a.name
        elif a.kind == "regime" and a.quote_sheet is None:
            section = S.SWEEPABLE[a.key]
            assert getattr(getattr(cold, section), a.key) == a.base, a.name
        elif a.kind == "capacity":
            assert {capacity[c] for c in a.counterparties} == {a.base}, a.name
        elif a.kind == "loss_model":
            model = tomllib.loads((DATA / "loss-models" / "japan.toml").read_text(encoding="utf-8"))
            assert model[a.key] == a.base, a.name


def test_the_command_prints_the_tornado_and_writes_json_and_csv(tmp_path):
    spec = tmp_path / "a.toml"
    spec.write_text('name = "t"\n' + SMALL.replace('quotes = ["L1"]', 'quotes = ["LL-X1"]'), encoding="utf-8")
    args = ["sensitivity", "--assumptions", str(spec)]
    out = run_cli(*args, "--format", "json", "--out", tmp_path / "s.csv", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    swings = [a["swing_jpy"] for a in data["assumptions"]]
    assert swings == sorted(swings, reverse=True) and data["assumptions"][0]["name"] == "coc"
    assert data["assumptions"][0]["high"]["annual_cost_jpy"] > data["base"]["annual_cost_jpy"] \
        > data["assumptions"][0]["low"]["annual_cost_jpy"]
    csv_text = (tmp_path / "s.csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].startswith("rank,assumption") and len(csv_text.splitlines()) == 3
    table = run_cli(*args, cwd=ROOT)
    assert table.returncode == 0 and "cost of capital" in table.stdout and "Base: annual cost" in table.stdout
    bad = run_cli(*args[:-1], tmp_path / "missing.toml", cwd=ROOT)
    assert bad.returncode == 2 and "missing.toml" in bad.stderr and "Traceback" not in bad.stderr


def test_a_range_that_makes_an_impossible_exchange_is_refused_naming_the_assumption():
    inputs = S.Inputs([profile(reserve_yield=0.05)], [layer("L1", 0, 1, 0.01)], regime())
    [coc, _rate] = _assumptions(SMALL)
    with pytest.raises(InputError, match=r"t.toml, column 'profiles.cost_of_capital': coc at -0.06 gives exchange X "
                                         r"reserve_yield above cost_of_capital"):
        S.apply(coc, -0.06, inputs, "t.toml")
