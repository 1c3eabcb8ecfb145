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
        elif a.kind == "loss_model" and a.key == "file":  # another loss-model file: the central one is the base
            assert a.base == a.low == "japan.toml" and (DATA / "loss-models" / a.high).is_file(), a.name
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


# ---------------------------------------------------------------- the heavy tail (and any loss-model assumption)

HEAVY = """
[[assumption]]
name = "heavy_tail"
label = "heavy tail"
where = "loss-models"
target = "loss_model.file"
mode = "set"
base = "japan.toml"
low = "japan.toml"
high = "japan-heavy-tail.toml"
source = "ASSUMPTION: test"

[[assumption]]
name = "rate"
label = "frequency"
where = "loss-models/japan.toml: events_per_year"
target = "loss_model.events_per_year"
mode = "set"
base = 0.025
low = 0.01
high = 0.053
source = "ASSUMPTION: test"
"""


def test_the_bundled_list_has_heavy_tail_on_and_off():
    by_name = {a.name: a for a in S.load_assumptions(DATA / "assumptions.toml")}
    heavy = by_name["heavy_tail"]
    assert (heavy.target, heavy.low, heavy.high) == ("loss_model.file", "japan.toml", "japan-heavy-tail.toml")
    assert not heavy.enters_solve


def test_loss_model_assumptions_get_risk_figures_and_the_heavy_tail_raises_tvar():
    from optimizer.loss_model import load_loss_model

    profiles = load_profiles(DATA / "profiles-japan-2025.csv")[:5]
    central = load_loss_model(DATA / "loss-models" / "japan.toml")
    inputs = S.Inputs(profiles, load_quotes(DATA / "quotes-japan.csv"), load_regime(DATA / "regimes" / "cold-wallet.toml"),
                      load_capacity(DATA / "capacity.csv"), DATA, central, 100_000, 2026)
    result = S.run(inputs, _assumptions(HEAVY))
    rows = {r.assumption.name: r for r in result.rows}
    b = result.base
    assert b.loss_model == "Japan (central)" and b.tvar_jpy > 0
    heavy, rate = rows["heavy_tail"], rows["rate"]
    assert heavy.low is None and heavy.high is None          # the cheapest mix does not move: no cost bars
    assert heavy.risk_low.loss_model == "Japan (central)" and heavy.risk_high.loss_model == "Japan (heavy tail)"
    # off is the base model itself, at the same seed: the same figures
    assert heavy.risk_low.tvar_jpy == b.tvar_jpy and heavy.risk_low.expected_retained_jpy == b.expected_retained_jpy
    # closed form: the vendor events' mean share goes from 0.27 to 0.33; at 100,000 years the ratio's noise is ~4%
    assert heavy.risk_high.tvar_jpy > 1.05 * b.tvar_jpy
    assert heavy.risk_high.expected_retained_jpy > b.expected_retained_jpy
    # the frequency scales the expected retained loss (the same mixes, Poisson counts of a higher rate)
    assert rate.risk_low.expected_retained_jpy < b.expected_retained_jpy < rate.risk_high.expected_retained_jpy
    assert rate.risk_high.annual_cost_jpy == b.annual_cost_jpy
    # the CSV carries them; the text shows a second table
    frame = result.frame().set_index("assumption")
    assert frame.loc["heavy_tail", "tvar_high_jpy"] == heavy.risk_high.tvar_jpy
    assert frame.loc["heavy_tail", "tvar_base_jpy"] == b.tvar_jpy
    text = S.table_text(result)
    assert "Risk figures of the cheapest mixes (Japan (central)" in text and "japan-heavy-tail.toml" in text
    # without a loss model they stay "risk only", as before
    plain = S.run(S.Inputs(profiles, inputs.quotes, inputs.regime, inputs.capacity, DATA), _assumptions(HEAVY))
    assert all(r.risk_low is None for r in plain.rows) and "Risk figures" not in S.table_text(plain)


@pytest.mark.parametrize("old, new, key, words", [
    ('high = "japan-heavy-tail.toml"', "high = 2", "high", "expected a loss-model file name"),
    ('base = "japan.toml"', 'base = "../regimes/x.toml"', "base", "expected a loss-model file name"),
    ('target = "loss_model.file"\nmode = "set"', 'target = "loss_model.file"\nmode = "scale"', "mode",
     "expected mode set"),
    ('target = "loss_model.file"', 'target = "loss_model.severity"', "target", "expected loss_model.<one of"),
])
def test_a_bad_loss_model_assumption_names_the_entry_and_key(old, new, key, words):
    assert old in HEAVY
    with pytest.raises(InputError) as err:
        _assumptions(HEAVY.replace(old, new, 1))
    assert f"[[assumption]] 1, {key}" in str(err.value) and words in str(err.value)


def test_the_command_runs_the_heavy_tail_and_refuses_a_missing_file_in_one_line(tmp_path):
    spec = tmp_path / "a.toml"
    spec.write_text('name = "t"\n' + HEAVY, encoding="utf-8")
    args = ["sensitivity", "--assumptions", str(spec)]
    out = run_cli(*args, "--format", "json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    heavy = next(a for a in data["assumptions"] if a["name"] == "heavy_tail")
    assert heavy["risk_high"]["loss_model"] == "Japan (heavy tail)"
    assert heavy["risk_high"]["tvar_jpy"] > data["base"]["tvar_jpy"] == heavy["risk_low"]["tvar_jpy"]
    spec.write_text('name = "t"\n' + HEAVY.replace("japan-heavy-tail.toml", "japan-nope.toml"), encoding="utf-8")
    bad = run_cli(*args, cwd=ROOT)
    assert bad.returncode == 2 and bad.stdout == "", bad.stderr
    assert "Traceback" not in bad.stderr
    [err] = [line for line in bad.stderr.splitlines() if line.startswith("error:")]  # (after the statements' warning)
    assert str(spec) in err and "heavy_tail: no loss-model file" in err and "japan-nope.toml" in err


def test_a_loss_model_move_beyond_the_files_bounds_is_refused_before_solving():
    from optimizer.loss_model import load_loss_model

    inputs = S.Inputs([profile()], [layer("L1", 0, 1, 0.01)], regime(), None, DATA,
                      load_loss_model(DATA / "loss-models" / "japan.toml"), 1000, 1)
    [_heavy, rate] = _assumptions(HEAVY.replace("high = 0.053", "high = 60"))
    with pytest.raises(InputError, match=r"t.toml, column 'loss_model.events_per_year': rate at 60 gives "
                                         r"events_per_year outside its bounds: expected at most 52"):
        S.run(inputs, [rate], source="t.toml")
