"""Two losses in one year (optimizer/repeat.py): what a tower pays for each, and the candidate set of loss pairs at
which the two-event test is exact. Hand-checked cases first, then Hypothesis against a dense grid of loss pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from builders import layer
from optimizer.domain import annual_aggregate
from optimizer.repeat import (aggregates, candidates, max_retained, pair_credit, pair_recoveries, retained_pair,
                              tower_pays_for_pair)

R = 1e10
HACK, INSIDER, VENDOR = "external_hack", "insider_theft", "vendor_compromise"


def one(a, l, reinstatements, weight=1.0, share=1.0):
    """max_retained for one layer covering the one peril group, in units of R."""
    return max_retained(np.array([a]), np.array([l]), np.array([l * (1 + reinstatements)]), np.array([[1]]),
                        np.array(1.0), share, np.array([weight]))[0]


# ---------------------------------------------------------------------------------------------- hand-checked

def test_a_single_layer_with_no_reinstatement_funds_only_the_first_event():
    tower = [layer("L", 0.0, 1.0, 0.02)]
    pays = tower_pays_for_pair(tower, [1.0], R, (HACK, R), (HACK, R))
    assert pays.first_jpy.tolist() == [R]
    assert pays.second_jpy.tolist() == [0.0]
    assert pays.retained_jpy == R           # the whole second hack falls on the exchange
    assert one(0.0, 1.0, 0) == 1.0          # the test asks for cash of R


def test_one_reinstatement_makes_the_layer_fund_both_events():
    tower = [layer("L", 0.0, 1.0, 0.02, reinstatements=1)]
    pays = tower_pays_for_pair(tower, [1.0], R, (HACK, R), (INSIDER, R))
    assert pays.first_jpy.tolist() == [R]
    assert pays.second_jpy.tolist() == [R]
    assert pays.retained_jpy == 0.0
    assert one(0.0, 1.0, 1) == 0.0


def test_cash_spent_on_the_first_event_is_missing_for_the_second():
    # cash funds the first half of any loss, a reinstated layer the rest: each loss alone needs 0.5·R of cash,
    # two losses of R need R — the cash is not restored in between, the layer is
    tower = [layer("L", 0.5, 0.5, 0.02, reinstatements=1)]
    pays = tower_pays_for_pair(tower, [1.0], R, (HACK, R), (HACK, R))
    assert pays.second_jpy.tolist() == [0.5 * R]
    assert pays.retained_jpy == R
    assert one(0.5, 0.5, 1) == 1.0
    assert one(0.5, 0.5, 1, share=0.0) == 0.5  # second_event_share 0: the single-loss test


def test_the_second_loss_gets_what_the_first_left_of_the_aggregate():
    tower = [layer("L", 0.1, 0.4, 0.02)]  # pays losses between 0.1·R and 0.5·R, 0.4·R a year
    pays = tower_pays_for_pair(tower, [1.0], R, (HACK, 0.3 * R), (HACK, 0.5 * R))
    assert pays.first_jpy == pytest.approx([0.2 * R])
    assert pays.second_jpy == pytest.approx([0.2 * R])      # 0.4·R asked for, 0.2·R left
    assert pays.retained_jpy == pytest.approx(0.8 * R - 0.4 * R)


def test_a_layer_not_covering_the_first_peril_keeps_its_aggregate_for_the_second():
    tower = [layer("L", 0.0, 1.0, 0.02, perils=frozenset({INSIDER}))]
    pays = tower_pays_for_pair(tower, [1.0], R, (HACK, R), (INSIDER, R))
    assert pays.first_jpy.tolist() == [0.0] and pays.second_jpy.tolist() == [R]
    assert pays.retained_jpy == R


def test_shares_and_credit_scale_what_each_event_earns():
    tower = [layer("L", 0.0, 1.0, 0.02, reinstatements=1)]
    pays = tower_pays_for_pair(tower, [0.5], R, (HACK, R), (HACK, 0.4 * R), credit=[0.8])
    assert pays.first_jpy == pytest.approx([0.4 * R]) and pays.second_jpy == pytest.approx([0.16 * R])
    assert pays.retained_jpy == pytest.approx(1.4 * R - 0.56 * R)


def test_overlapping_layers_without_reinstatement_leave_the_second_loss_what_the_first_left():
    # two identical layers [0.2, 0.6]·R, no reinstatement: 0.4·R each for the year. x₁ = 0.5·R takes 0.3 of each;
    # the second loss of 0.3·R would take 0.1 of each, and gets it; one of 0.6·R would take 0.4 and gets 0.1.
    a, l = np.array([0.2, 0.2]), np.array([0.4, 0.4])
    first, second = pair_recoveries([0.5, 0.5], [0.3, 0.6], a, l, l)
    assert first.ravel().tolist() == pytest.approx([0.3] * 4)
    assert second.ravel().tolist() == pytest.approx([0.1] * 4)
    # worst pair: both losses at R, the tower paying its two aggregates: 2 − 0.8
    assert max_retained(a, l, l.copy(), np.ones((1, 2)), np.array(1.0), 1.0, np.ones(2))[0] == pytest.approx(1.2)


def test_where_the_aggregate_runs_out_the_retained_total_is_a_vertex_but_never_the_worst_pair():
    # one layer at 0.5·R of limit 0.5, no reinstatement, three lines of it (weight 3: retained loss falls as the
    # loss grows through the band, so it is not monotone). Along x₁ + x₂ = 1.5 the aggregate runs out: the
    # retained total has a kink there (slope −2 before it, +1 after) — a vertex of its pieces, yet a valley, not
    # a peak; the worst pair is a pair of breakpoints.
    a, l, A, w = np.array([0.5]), np.array([0.5]), np.array([0.5]), np.array([3.0])
    cover = np.ones((1, 1))
    [c] = candidates(a[None], l[None], A[None], cover, np.array([1.0]), 1.0, ["L"])
    on_line = np.array(["aggregate" in n for n in c.names])
    assert np.allclose((c.x1[0] + c.x2[0])[on_line & (c.x1[0] >= 0.5) & (c.x2[0] >= 0.5)], 1.5)
    x = np.array([0.7, 0.75, 0.8])
    assert retained_pair(x, 1.5 - x + np.array([-0.05, 0.0, 0.05]), a, l, A, w).tolist() == \
        pytest.approx([0.1, 0.0, 0.05])  # 1.45 − 3·0.45, on the line 0, past it 1.55 − 1.5
    dense = np.linspace(0, 1, 801)
    x1, x2 = np.meshgrid(dense, dense)
    truth = retained_pair(x1, x2, a, l, A, w).max()
    assert max_retained(a, l, A, cover, np.array(1.0), 1.0, w)[0] == pytest.approx(truth, abs=1e-12)
    assert retained_pair(c.x1[0][~on_line], c.x2[0][~on_line], a, l, A, w).max() == pytest.approx(truth, abs=1e-12)


def test_candidates_have_one_set_per_ordered_pair_of_groups_and_stay_in_the_rectangle():
    a = np.array([[0.0, 0.5, 0.9]])
    l = np.array([[0.5, 0.5, 0.5]])
    covers = np.array([[1, 1, 0], [1, 0, 1]])
    out = candidates(a, l, l.copy(), covers, np.array([1.0]), 0.5, ["A", "B", "C"])
    assert [(c.first, c.second) for c in out] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for c in out:
        assert c.x1.shape == c.x2.shape == (1, len(c.names))
        assert (c.x1 >= 0).all() and (c.x1 <= 1.0).all() and (c.x2 >= 0).all() and (c.x2 <= 0.5).all()
        assert len(set(c.names)) == len(c.names)
    # a layer covering only the second group's peril adds no edge to the first loss's axis
    assert not any("attach_C_then" in n for n in out[0].names)


def test_pair_credit_is_the_row_coefficient_of_each_quote():
    a, l = np.array([[0.0, 0.5]]), np.array([[0.5, 0.5]])
    A = l * np.array([1.0, 2.0])
    covers = np.ones((1, 2))
    [c] = candidates(a, l, A, covers, np.array([1.0]), 1.0)
    coef = pair_credit(c, np.array([0.9, 0.7]), a, l, A, covers)
    assert coef.shape == (1, len(c.names), 2)
    k = c.names.index("top_then_top")
    assert coef[0, k].tolist() == pytest.approx([0.9 * 0.5, 0.7 * 1.0])
    shares = np.array([1.0, 0.5])
    rows = c.x1 + c.x2 - coef @ shares  # what C must cover at each point
    assert rows[0] == pytest.approx(retained_pair(c.x1[0], c.x2[0], a[0], l[0], A[0], np.array([0.9, 0.7]) * shares))


def test_aggregates_follow_the_quotes_reinstatements_and_requirement_basis():
    qs = [layer("A", 0.0, 0.5, 0.02, reinstatements=2), layer("B", 0.5, 0.5, 0.02, max_limit_jpy=2e9)]
    assert aggregates(qs, R).tolist() == pytest.approx([1.5, 0.2])
    assert float(annual_aggregate(2e9, 0)) == 2e9


def test_a_batch_of_requirements_gives_one_point_set_with_a_leading_axis():
    a = np.array([[0.1, 0.3], [0.2, 0.3]])
    l = np.array([[0.4, 0.2], [0.1, 0.2]])
    out = candidates(a, l, l.copy(), np.ones((1, 2)), np.array([1.0, 1.0]), 1.0)
    single = candidates(a[1:], l[1:], l[1:].copy(), np.ones((1, 2)), np.array([1.0]), 1.0)
    assert out[0].x1.shape[0] == 2
    assert np.array_equal(out[0].x1[1], single[0].x1[0]) and np.array_equal(out[0].x2[1], single[0].x2[0])


# ---------------------------------------------------------------------------------------------- against a dense grid

@st.composite
def towers(draw, lattice: bool):
    """Up to 4 layers over two peril groups (some covering one, some both), overlapping or not, with shares and
    credit factors (weights up to 2: two lines of one layer), 0–2 reinstatements. On a lattice of 1/20 of R when
    `lattice`, so every vertex of the retained total's pieces lies on a grid of step 1/40."""
    n = draw(st.integers(1, 4))
    if lattice:
        num = st.integers(0, 20).map(lambda k: k / 20)
        a = [draw(num) for _ in range(n)]
        l = [draw(st.integers(1, 12).map(lambda k: k / 20)) for _ in range(n)]
        share = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]))
    else:
        a = [draw(st.floats(0.0, 1.0)) for _ in range(n)]
        l = [draw(st.floats(0.02, 0.8)) for _ in range(n)]
        share = draw(st.floats(0.0, 1.5))
    reinst = [draw(st.sampled_from([0, 0, 0, 1, 2])) for _ in range(n)]
    weight = [draw(st.sampled_from([0.0, 0.5, 0.7, 0.85, 1.0, 2.0])) for _ in range(n)]
    covers = np.array([[draw(st.booleans()) for _ in range(n)] for _ in range(2)])
    covers[:, 0] = True  # at least one layer covers both
    a, l = np.array(a), np.array(l)
    return a, l, annual_aggregate(l, np.array(reinst)), covers, share, np.array(weight)


def dense_max(a, l, A, covers, share, w, steps):
    """The largest retained total over a dense grid of loss pairs, every pair of groups: x₁ on [0, 1] and x₂ on
    [0, share] in steps of 1/steps (the last step of x₂ shorter)."""
    g1 = np.linspace(0.0, 1.0, steps + 1)
    g2 = np.unique(np.r_[np.arange(0.0, share, 1.0 / steps), share])
    x1, x2 = np.meshgrid(g1, g2, indexing="ij")
    return max(retained_pair(x1, x2, a, l, A, w, covers[p], covers[q]).max() for p in (0, 1) for q in (0, 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tower=towers(lattice=True))
def test_the_candidate_set_finds_the_largest_retained_total_exactly(tower):
    # every vertex lies on the grid of step 1/40 (of R and of the second loss's range): the grid's maximum is the
    # true one, and the candidate set must reach it — no more (its points are loss pairs), no less
    a, l, A, covers, share, w = tower
    best = max_retained(a, l, A, covers, np.array(1.0), share, w)[0]
    assert best == pytest.approx(dense_max(a, l, A, covers, share, w, 40), abs=1e-12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tower=towers(lattice=True))
def test_pairs_of_attachments_and_ends_alone_find_the_largest_retained_total(tower):
    # between attachments the retained total is convex (each layer's capped recovery is concave there), so its
    # maximum is at a corner of such a cell: exhaustion points and points where an aggregate runs out add rows,
    # not answers
    a, l, A, covers, share, w = tower
    best = max_retained(a, l, A, covers, np.array(1.0), share, w, vertices="maxima")[0]
    assert best == pytest.approx(dense_max(a, l, A, covers, share, w, 40), abs=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tower=towers(lattice=False))
def test_no_loss_pair_on_a_dense_grid_retains_more_than_the_candidate_set_says(tower):
    a, l, A, covers, share, w = tower
    best = max_retained(a, l, A, covers, np.array(1.0), share, w)[0]
    steps = 200
    grid = dense_max(a, l, A, covers, share, w, steps)
    assert grid <= best + 1e-12
    # and the candidate set is attained: it lies within a grid step of slope at most 1 + Σ w of the grid's best
    slope = 1.0 + w.sum()
    assert best <= grid + slope * 2.0 / steps + 1e-12


def test_the_candidate_set_is_the_single_loss_test_when_there_is_no_second_loss():
    a, l = np.array([0.0, 0.3, 0.6]), np.array([0.2, 0.3, 0.5])
    w = np.array([1.0, 0.9, 0.5])
    covers = np.ones((1, 3))
    x = np.clip(np.concatenate([[0.0, 1.0], a, a + l]), 0.0, 1.0)
    single = (x - np.minimum(np.maximum(x[:, None] - a, 0), l) @ w).max()
    assert max_retained(a, l, l.copy(), covers, np.array(1.0), 0.0, w)[0] == pytest.approx(single)


def test_the_worked_examples_in_the_docstrings_hold():
    import doctest

    from optimizer import domain, repeat

    assert doctest.testmod(repeat).failed == 0
    assert doctest.testmod(domain).failed == 0


# ---------------------------------------------------------------------------------------------- through `solve`

def _twice(sigma=1.0, **elig):
    """builders.regime (R = ¥10bn for builders.profile) with a second loss of up to σ·R in the same year."""
    import dataclasses

    from builders import regime

    r = regime(**elig)
    return dataclasses.replace(r, requirement=dataclasses.replace(r.requirement, second_event_share=sigma))


def test_solve_a_single_layer_with_no_reinstatement_funds_only_the_first_event():
    from builders import profile
    from optimizer.model import solve

    tower = [layer("L", 0.0, 1.0, 0.01)]
    once, twice = solve(profile(), tower, _twice(0.0)), solve(profile(), tower, _twice(1.0))
    assert once.cash_reserve_jpy == pytest.approx(0.0, abs=1.0) and once.share_of("L") == pytest.approx(1.0)
    # the layer's one limit goes to the first hack: the second (R) is all cash
    assert twice.status == "optimal" and twice.share_of("L") == pytest.approx(1.0)
    assert twice.cash_reserve_jpy == pytest.approx(R, rel=1e-9)
    assert twice.annual_cost_jpy == pytest.approx(0.10 * R + 0.01 * R, rel=1e-9)
    assert twice.all_cash_cost_jpy == pytest.approx(0.10 * 2 * R)      # all cash must hold both losses: 2·R
    assert once.all_cash_cost_jpy == pytest.approx(0.10 * R)


def test_a_frontier_sweeps_the_second_event_share_on_one_kept_model():
    from builders import profile
    from optimizer.analysis import frontier

    table = frontier(profile(), [layer("L", 0.5, 0.5, 0.01)], _twice(0.0), "second_event_share", [0.0, 0.4, 1.0])
    # no reinstatement: the layer pays once; cash 0.5·R, then 0.5·R + 0.4·R, then 0.5·R + R
    assert table["cash_reserve_jpy"].tolist() == pytest.approx([0.5 * R, 0.9 * R, 1.5 * R], rel=1e-9)


def test_solve_one_reinstatement_makes_the_layer_fund_both_events():
    from builders import profile
    from optimizer.model import solve

    s = solve(profile(), [layer("L", 0.0, 1.0, 0.01, reinstatements=1)], _twice(1.0))
    assert s.share_of("L") == pytest.approx(1.0) and s.cash_reserve_jpy == pytest.approx(0.0, abs=1.0)


def test_solve_cash_spent_on_the_first_event_is_missing_for_the_second():
    from builders import profile
    from optimizer.model import solve

    # a layer over the top half with a reinstatement: each hack of R leaves 0.5·R to cash, both together R
    tower = [layer("L", 0.5, 0.5, 0.01, reinstatements=1)]
    once, twice = solve(profile(), tower, _twice(0.0)), solve(profile(), tower, _twice(1.0))
    assert once.cash_reserve_jpy == pytest.approx(0.5 * R, rel=1e-9)
    assert twice.cash_reserve_jpy == pytest.approx(R, rel=1e-9)        # not 0.5·R: the reserve is not restored
    half = solve(profile(), tower, _twice(0.4))                         # a second hack of 0.4·R stays below the layer
    assert half.cash_reserve_jpy == pytest.approx(0.9 * R, rel=1e-9)


def test_a_second_loss_the_model_would_not_fund_is_refused_by_the_independent_check():
    import dataclasses

    from builders import profile
    from optimizer.model import solve
    from optimizer.solution import verify, verify_many, Mixes

    s = solve(profile(), [layer("L", 0.0, 1.0, 0.01)], _twice(1.0))
    short = dataclasses.replace(s, cash_reserve_jpy=0.6 * R, annual_cost_jpy=s.annual_cost_jpy - 0.04 * R)
    assert any("second loss in the same year is short by" in p for p in verify(short))
    assert verify(dataclasses.replace(short, regime=_twice(0.0))) == []   # one hack alone: the layer pays it
    m = Mixes([s.profile] * 2, s.regime, s.offered, s.offered, np.array([1.0]), np.array([R, R]),
              np.array([R, 0.6 * R]), np.array([[1.0], [1.0]]), np.full(2, np.nan))
    assert verify_many(m) == ["", "a second loss in the same year is not funded"]


@pytest.mark.parametrize("preset", sorted(p.stem for p in (__import__("conftest").DATA / "regimes").glob("*.toml")))
def test_with_no_second_loss_every_answer_is_what_the_single_loss_model_gives(preset, monkeypatch):
    # the bundled profiles and sheets under every preset at second_event_share = 0: the same mixes, costs and rows
    # as the model without the two-event family
    from conftest import DATA
    from optimizer.inputs import load_profiles, load_quotes, load_regime
    from optimizer.lp import rows
    from optimizer.lp.matrix import numbers
    from optimizer.lp.scaled import Instance, Scaled
    from optimizer.model import solve
    from optimizer.regime import with_parameter

    regime = with_parameter(load_regime(DATA / "regimes" / f"{preset}.toml"), "second_event_share", 0.0)
    cases = [(p, load_quotes(DATA / "quotes.csv")) for p in load_profiles(DATA / "profiles.csv")[::3]]
    cases += [(p, load_quotes(DATA / "quotes-japan.csv")) for p in load_profiles(DATA / "profiles-japan-2025.csv")[::3]]
    now = [solve(p, q, regime, marginal=False).to_dict() for p, q in cases]
    mats = [numbers(Scaled.of(Instance.build(p, q, regime))) for p, q in cases]
    monkeypatch.setattr("optimizer.lp.matrix.ROW_FAMILIES", tuple(f for f in rows.ROW_FAMILIES
                                                                  if f is not rows.repeat_losses))
    before = [solve(p, q, regime, marginal=False).to_dict() for p, q in cases]
    for a, b, num, (p, q) in zip(now, before, mats, cases):
        a.pop("solve_seconds", None), b.pop("solve_seconds", None)
        assert a == b
        old = numbers(Scaled.of(Instance.build(p, q, regime)))
        assert num.names == old.names and np.array_equal(num.A, old.A)


def test_the_two_event_rows_are_in_the_lp_file_and_named_by_the_pair_of_perils(tmp_path):
    from builders import profile
    from optimizer.lp.pulp_view import build
    from optimizer.lp.scaled import Instance

    tower = [layer("L", 0.0, 1.0, 0.01, perils=frozenset({HACK}))]
    m = build(Instance.build(profile(), tower, _twice(1.0, perils=(HACK, VENDOR))))
    m.write(tmp_path / "m.lp")
    text = (tmp_path / "m.lp").read_text()
    assert "repeat_external_hack_then_vendor_compromise_at_top_then_top" in text
    assert "repeat_vendor_compromise_then_external_hack_at_top_then_attach_L" in text
    assert "repeat_vendor_compromise_then_external_hack_at_attach_L" not in text  # L does not cover the first


def test_kept_models_stacks_and_the_market_give_what_a_fresh_solve_gives_under_the_two_event_test():
    # the fast paths (a Resolver's kept model and certified bases, a batch's stacks, the market's joint LP) run
    # the same rows: every exchange's cost as a fresh model's, and no exchange left to the one-by-one path
    import math

    from builders import random_profiles, random_regime, random_sheet
    from optimizer import market
    from optimizer.lp.scaled import Instance
    from optimizer.model import REBUILD_NEW_STRUCTURE, REUSED_BASIS, Resolver, solve
    from optimizer.regime import with_parameter

    rng = np.random.default_rng(23)
    quotes = [q for q in random_sheet(rng, 8) if not q.needs_binary]
    quotes = [q if k % 2 else __import__("dataclasses").replace(q, reinstatements=1) for k, q in enumerate(quotes)]
    regime = with_parameter(random_regime(rng), "second_event_share", 0.7)
    profiles = [p for p in random_profiles(rng, 40) if math.isinf(p.liquid_capital_jpy)]
    fresh = [solve(p, quotes, regime, marginal=False) for p in profiles]
    lp = Resolver()
    kept = [lp.solve(Instance.build(p, quotes, regime), marginal=False) for p in profiles]
    assert [k.annual_cost_jpy for k in kept] == pytest.approx([f.annual_cost_jpy for f in fresh], rel=1e-7)
    assert lp.stats[REBUILD_NEW_STRUCTURE] == 1                                  # one kept model, re-solved
    stacked = Resolver()
    mixes, left = stacked.solve_many([Instance.build(p, quotes, regime) for p in profiles], marginal=False)
    assert len(left) == 0 and stacked.stats[REUSED_BASIS] > 0                    # bases certified for the stack
    assert mixes.annual_cost.tolist() == pytest.approx([f.annual_cost_jpy for f in fresh], rel=1e-7)
    joint = market.solve_market(profiles, quotes, regime, {}, method="joint")
    got = {s.exchange_id: s.annual_cost_jpy for s in joint.solutions}
    assert [got[p.exchange_id] for p in profiles] == pytest.approx([f.annual_cost_jpy for f in fresh], rel=1e-6)


def test_the_result_says_what_each_layer_pays_for_each_event_and_what_its_reinstatement_costs():
    from builders import profile
    from optimizer.model import solve
    from optimizer.report import solution_text

    tower = [layer("L", 0.0, 1.0, 0.01), layer("M", 0.0, 1.0, 0.01, reinstatements=1, reinstatement_premium=0.5,
                                                  counterparty="Other")]
    s = solve(profile(), tower, _twice(1.0, max_counterparty_share=0.5))
    d = s.to_dict()
    by_id = {i["quote_id"]: i for i in d["instruments"]}
    assert s.share_of("L") == pytest.approx(0.5) and s.share_of("M") == pytest.approx(0.5)
    assert by_id["L"]["first_event_jpy"] == pytest.approx(0.5 * R) and by_id["L"]["second_event_jpy"] == 0.0
    assert by_id["M"]["first_event_jpy"] == pytest.approx(0.5 * R)
    assert by_id["M"]["second_event_jpy"] == pytest.approx(0.5 * R)
    # M's premium is 1% × R × 0.5; restoring the full limit the first hack took costs half of it; L has none to buy
    assert by_id["M"]["reinstatement_cost_jpy"] == pytest.approx(0.5 * 0.01 * R * 0.5)
    assert by_id["L"]["reinstatement_cost_jpy"] == 0.0
    assert d["reinstatement_cost_jpy"] == pytest.approx(0.5 * 0.01 * R * 0.5)
    assert d["annual_cost_jpy"] == pytest.approx(0.10 * s.cash_reserve_jpy + 0.01 * R)  # never in the annual cost
    assert d["second_event"]["second_loss_jpy"] == R and d["second_event"]["retained_jpy"] == pytest.approx(
        s.cash_reserve_jpy)
    text = solution_text(s)
    assert "Two losses in one year" in text and "second_event_jpy" in text and "reinstatement_cost_jpy" in text
    one = solve(profile(), tower, _twice(0.0)).to_dict()     # one hack a year, a priced reinstatement: its cost only
    assert one["second_event"] is None and all(i["second_event_jpy"] is None for i in one["instruments"])
    assert one["reinstatement_cost_jpy"] > 0
    plain = solve(profile(), [layer("L", 0.0, 1.0, 0.01)], _twice(0.0)).to_dict()
    assert "second_event" not in plain and "first_event_jpy" not in plain["instruments"][0]   # as it always was


def test_the_model_at_attachments_and_ends_costs_what_it_costs_at_every_vertex(monkeypatch):
    # rows.REPEAT_VERTICES = "maxima" (the corners of the cells between attachments) is the set the model uses:
    # random sheets (yen and requirement layers, overlapping, some perils missing, reinstatements 0–2), random
    # exchanges and second losses: the same status, cost and shortfall as the model written at every vertex
    import dataclasses

    from builders import random_profiles, random_regime, random_sheet
    from optimizer.lp import rows
    from optimizer.model import solve
    from optimizer.regime import with_parameter

    rng = np.random.default_rng(2323)
    cases = []
    for k in range(12):
        sheet = [dataclasses.replace(q, reinstatements=int(rng.integers(3)), min_share=0.0, fixed_fee_jpy=0.0)
                 for q in random_sheet(rng, int(rng.integers(2, 7)))]
        regime = with_parameter(random_regime(rng), "second_event_share", float(rng.choice([0.3, 1.0, 1.7])))
        cases += [(p, sheet, regime) for p in random_profiles(rng, 3)]
    few = [solve(p, q, r, marginal=False) for p, q, r in cases]
    monkeypatch.setattr(rows, "REPEAT_VERTICES", "all")
    every = [solve(p, q, r, marginal=False) for p, q, r in cases]
    assert [s.status for s in few] == [s.status for s in every]
    assert [s.annual_cost_jpy for s in few] == pytest.approx([s.annual_cost_jpy for s in every], rel=1e-7)
    assert [s.shortfall_jpy for s in few] == pytest.approx([s.shortfall_jpy for s in every], rel=1e-7, abs=1.0)
