"""The market (optimizer/market.py): all exchanges jointly against each counterparty's capacity.

Hand-checked two-exchange case first, then the market against batch with unlimited capacity, the clearing price
against a finite difference, a Hypothesis property (no counterparty over its capacity), the decomposition against
the joint LP (2,000 generated exchanges and the real Japanese profiles), and the CLI end to end.
"""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer import batch, market
from optimizer.domain import Eligibility, ExchangeProfile, Quote, Regime, RequirementRule
from optimizer.inputs import load_capacity, load_profiles, load_quotes, load_regime
from optimizer.model import (Instance, Scaled, solution_from_columns, solutions_from_columns_many, solve,
                             solve_instance)
from conftest import DATA, ROOT, run_cli

# R = 1% of volume; insurance may fund all of it; any rating earns full credit.
REGIME = Regime("hand", RequirementRule(volume_rate=0.01, perils=("external_hack",)),
                Eligibility(max_insurance_share=1.0, max_counterparty_share=1.0, min_rating="BBB-"),
                {"AAA": 1.0, "AA": 1.0, "A": 1.0, "BBB": 1.0})
LAYER = Quote("L", "insurance", "Insurer A", "AA", 0.0, 1.0, 0.02, layer_basis="requirement")


def exchange(eid: str, volume: float, cost_of_capital: float, **kw) -> ExchangeProfile:
    return ExchangeProfile(eid, 1e11, 0.02, volume, cost_of_capital, **kw)


def two() -> list[ExchangeProfile]:
    # R1 = 1e9 at carry 0.10, R2 = 2e9 at carry 0.05
    return [exchange("E1", 1e11, 0.10), exchange("E2", 2e11, 0.05)]


# ---------------------------------------------------------------------------------------------- hand-checked

def test_scarce_layer_goes_first_to_the_exchange_whose_cash_is_dearest():
    # Capacity 2e9: E1 (cash at 10%) insures all of its R = 1e9, E2 (cash at 5%) the remaining 1e9 of its 2e9.
    # Cost: 0.02·1e9 + (0.02·1e9 + 0.05·1e9) = 9e7. The clearing price is what E2, the marginal buyer, saves
    # per yen of cover: 0.05 − 0.02 = 0.03.
    r = market.solve_market(two(), [LAYER], REGIME, {"Insurer A": 2e9})
    s1, s2 = r.solutions
    assert s1.share_of("L") == pytest.approx(1.0, abs=1e-7) and s1.cash_reserve_jpy == pytest.approx(0, abs=1)
    # (capacity rows hold capacity × (1 − 1e-7), so that solver tolerance never carries a counterparty over it)
    assert s2.share_of("L") == pytest.approx(0.5, rel=1e-6) and s2.cash_reserve_jpy == pytest.approx(1e9, rel=1e-6)
    assert r.summary["totals"]["annual_cost_jpy"] == pytest.approx(9e7, rel=1e-6)
    (cp,) = r.summary["counterparties"]
    assert cp["clearing_price"] == pytest.approx(0.03, rel=1e-6)
    assert cp["utilisation"] == pytest.approx(1.0, abs=1e-6) and cp["scarce"]
    # without limits both insure fully: 0.02 · 3e9 = 6e7, so scarcity costs 3e7
    assert r.summary["unlimited"]["annual_cost_jpy"] == pytest.approx(6e7, rel=1e-9)
    assert r.summary["scarcity_cost_jpy"] == pytest.approx(3e7, rel=1e-6)
    assert list(r.rows["capacity_jpy:Insurer A"]) == pytest.approx([1e9, 1e9], rel=1e-6)


def test_price_is_the_dearer_exchanges_saving_when_only_it_can_be_served():
    # Capacity 5e8 < R1: only E1 buys, and E1 is the marginal buyer: price 0.10 − 0.02 = 0.08.
    r = market.solve_market(two(), [LAYER], REGIME, {"Insurer A": 5e8})
    assert r.summary["counterparties"][0]["clearing_price"] == pytest.approx(0.08, rel=1e-6)
    assert r.solutions[1].share_of("L") == pytest.approx(0.0, abs=1e-7)


def test_capacity_that_cannot_serve_everyone_minimises_shortfall_first_then_cost():
    # Liquid capital 0: only the layer funds R. Capacity 1.5e9 against R = 1e9 + 2e9: total shortfall 1.5e9,
    # whoever gets the cover; the cost is 0.02·1.5e9 = 3e7 either way.
    profiles = [exchange("E1", 1e11, 0.10, liquid_capital_jpy=0.0), exchange("E2", 2e11, 0.05, liquid_capital_jpy=0.0)]
    r = market.solve_market(profiles, [LAYER], REGIME, {"Insurer A": 1.5e9})
    assert r.summary["phases"][-2:] == ["least total shortfall", "least cost at that shortfall"]
    assert r.summary["totals"]["shortfall_jpy"] == pytest.approx(1.5e9, rel=1e-6)
    assert r.summary["totals"]["annual_cost_jpy"] == pytest.approx(3e7, rel=1e-6)
    cp = r.summary["counterparties"][0]
    assert cp["shortfall_price"] == pytest.approx(1.0, rel=1e-6)  # one more yen of cover, one yen less short
    assert r.summary["short_because_of_capacity"]  # alone, neither is short


def test_a_total_lower_only_because_exchanges_fall_short_is_never_read_as_a_saving():
    # As above: without limits both insure fully (0.02 · 3e9 = 6e7); with the capacity 3e7, lower only because
    # 1.5e9 of R goes uncovered. The summary says so instead of a negative cost of scarcity.
    from optimizer.report import market_summary_text

    profiles = [exchange("E1", 1e11, 0.10, liquid_capital_jpy=0.0), exchange("E2", 2e11, 0.05, liquid_capital_jpy=0.0)]
    r = market.solve_market(profiles, [LAYER], REGIME, {"Insurer A": 1.5e9})
    assert r.summary["scarcity_cost_jpy"] == pytest.approx(-3e7, rel=1e-6)
    n = len(r.summary["short_because_of_capacity"])
    assert market.scarcity_reading(r.summary) == (None, n)
    text = market_summary_text(r.summary)
    assert f"cheaper only because {n} exchanges fall short" in text
    assert "¥-" not in text and "-¥" not in text  # no negative amount anywhere in the summary
    # a scarcity that costs is still a cost
    assert market.scarcity_reading(market.solve_market(two(), [LAYER], REGIME, {"Insurer A": 2e9}).summary) == \
        (pytest.approx(3e7, rel=1e-6), 0)


def test_when_capacity_runs_out_who_falls_short_is_not_unique_and_each_exchange_gets_its_range():
    # As above: 1.5e9 of shortfall whoever gets the cover, the same cost either way. E1 (R 1e9) may be short of
    # anything from 0 to all of its R; E2 (R 2e9) of 0.5e9 (E1 takes 1e9 of the cover) to 1.5e9 (E2 takes it all).
    profiles = [exchange("E1", 1e11, 0.10, liquid_capital_jpy=0.0), exchange("E2", 2e11, 0.05, liquid_capital_jpy=0.0)]
    for method in ("joint", "decompose"):
        split = market.solve_market(profiles, [LAYER], REGIME, {"Insurer A": 1.5e9}, method=method).summary[
            "shortfall_split"]
        assert split["unique"] is False and "not unique" in split["note"], method
        ranges = {r["exchange_id"]: (r["least_jpy"], r["most_jpy"]) for r in split["exchanges"]}
        assert ranges["E1"] == pytest.approx((0.0, 1e9), abs=10.0)
        assert ranges["E2"] == pytest.approx((0.5e9, 1.5e9), rel=1e-6)
        assert split["must_fall_short"] == ["E2"] and split["may_fall_short"] == ["E1", "E2"]


def test_above_the_ranging_limit_the_summary_still_says_the_split_may_not_be_unique(monkeypatch):
    monkeypatch.setattr(market, "SPLIT_MAX_EXCHANGES", 1)
    profiles = [exchange("E1", 1e11, 0.10, liquid_capital_jpy=0.0), exchange("E2", 2e11, 0.05, liquid_capital_jpy=0.0)]
    r = market.solve_market(profiles, [LAYER], REGIME, {"Insurer A": 1.5e9})
    split = r.summary["shortfall_split"]
    assert split["unique"] is None and "may not be unique" in split["note"] and split["exchanges"] == []
    from optimizer.report import market_summary_text

    assert "Not unique" in market_summary_text(r.summary)


def test_when_nobody_is_short_for_lack_of_capacity_the_split_is_unique():
    split = market.solve_market(two(), [LAYER], REGIME, {"Insurer A": 2e9}).summary["shortfall_split"]
    assert split["unique"] is True and split["exchanges"] == []


def test_unknown_counterparty_in_capacity_is_a_warning_that_lists_it():
    r = market.solve_market(two(), [LAYER], REGIME, {"Insurer A": 1e12, "Nobody Re": 5.0})
    assert len(r.summary["warnings"]) == 1 and "Nobody Re" in r.summary["warnings"][0]


def test_yes_no_quotes_are_fixed_at_the_stand_alone_choice_and_said_so():
    flat = Quote("F", "insurance", "Insurer B", "AA", 0.0, 1.0, 0.01, layer_basis="requirement", fixed_fee_jpy=1e6)
    r = market.solve_market(two(), [LAYER, flat], REGIME, {"Insurer A": 1e9})
    assert r.summary["milp"] == market.MILP_FIXED
    alone = [solve(p, [LAYER, flat], REGIME) for p in two()]
    assert r.summary["totals"]["annual_cost_jpy"] == pytest.approx(sum(s.annual_cost_jpy for s in alone), rel=1e-7)


def test_the_baseline_and_the_yes_no_choices_are_one_solve_per_exchange_not_a_batch_run(monkeypatch):
    # the "no limits" figures and the stand-alone choices the market fixes come from the same single solve of each
    # exchange; before, the batch engine ran for the figures and every exchange was solved alone a second time
    from optimizer.lp.engine import Resolver

    def no_batch(*args, **kw):
        raise AssertionError("the market ran the batch engine")

    solved: list[str] = []
    one, many = Resolver.solve, Resolver.solve_many

    def solve_one(self, inst, **kw):
        solved.append(inst.profile.exchange_id)
        return one(self, inst, **kw)

    def solve_stack(self, insts, **kw):
        mixes, left = many(self, insts, **kw)
        solved.extend(i.profile.exchange_id for k, i in enumerate(insts) if k not in set(left.tolist()))
        return mixes, left

    monkeypatch.setattr(batch, "run", no_batch)
    monkeypatch.setattr(Resolver, "solve", solve_one)
    monkeypatch.setattr(Resolver, "solve_many", solve_stack)
    flat = Quote("F", "insurance", "Insurer B", "AA", 0.0, 1.0, 0.01, layer_basis="requirement", fixed_fee_jpy=1e6)
    r = market.solve_market(two(), [LAYER, flat], REGIME, {"Insurer A": 1e9})
    assert sorted(solved) == ["E1", "E2"]
    assert r.summary["milp"] == market.MILP_FIXED
    assert list(r.rows["unlimited_status"]) == ["optimal", "optimal"]
    alone = [solve(p, [LAYER, flat], REGIME) for p in two()]
    assert list(r.rows["unlimited_annual_cost_jpy"]) == pytest.approx([s.annual_cost_jpy for s in alone], rel=1e-9)


def test_minimum_lines_that_cannot_fit_a_capacity_are_dropped_and_said_so():
    # Alone, both exchanges buy the cheap layer M at its minimum line or more (0.5 of R1 = 1e9 and of R2 = 2e9:
    # at least 1.5e9 of cover); M can write 6e8 in all, so the fixed yes/no choices cannot hold: M is dropped.
    lined = Quote("M", "insurance", "Insurer M", "AA", 0.0, 1.0, 0.01, layer_basis="requirement", min_share=0.5)
    alone = [solve(p, [LAYER, lined], REGIME) for p in two()]
    assert all(s.share_of("M") >= 0.5 for s in alone)
    r = market.solve_market(two(), [LAYER, lined], REGIME, {"Insurer M": 6e8})
    assert r.summary["milp"] == market.MILP_DROPPED
    assert all(s.share_of("M") == 0 for s in r.solutions)
    assert r.summary["totals"]["annual_cost_jpy"] == pytest.approx(0.02 * 3e9, rel=1e-6)  # all on L instead


# ---------------------------------------------------------------------------------------------- against batch

@pytest.fixture(scope="module")
def japan():
    return (load_profiles(DATA / "profiles-japan-2025.csv"), load_quotes(DATA / "quotes-japan.csv"),
            load_capacity(DATA / "capacity.csv"))


@pytest.mark.parametrize("preset", ["securities-style", "past-outflows"])
def test_with_unlimited_capacity_the_market_equals_batch_exchange_by_exchange(japan, preset):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    huge = {c: 1e15 for c in capacity}
    r = market.solve_market(profiles, quotes, regime, huge)
    free = batch.run(profiles, quotes, regime, None, workers=1).results
    for row, (_, b) in zip(r.rows.itertuples(), free.iterrows()):
        assert row.exchange_id == b["exchange_id"] and row.status == b["status"]
        assert row.annual_cost_jpy == pytest.approx(b["annual_cost_jpy"], rel=1e-7, abs=1.0)
        assert row.shortfall_jpy == pytest.approx(b["shortfall_jpy"], rel=1e-7, abs=1.0)
    assert all(c["clearing_price"] == 0 for c in r.summary["counterparties"])
    assert r.summary["short_because_of_capacity"] == []


@pytest.mark.parametrize("preset", ["cold-wallet", "securities-style-japan"])
def test_the_market_writes_every_batch_column_for_every_exchange_as_batch_does(japan, preset, tmp_path):
    # docs/market.md: the market's rows are batch rows plus the market's columns. On the same inputs with capacity
    # to spare, every batch column of every exchange holds what batch writes (the exchange's own figures — net
    # assets, liquid capital, statement date — and the answer's binding limits too)
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    market.run(profiles, quotes, regime, {c: 1e15 for c in capacity}, tmp_path / "market.csv")
    batch.run(profiles, quotes, regime, tmp_path / "batch.csv", workers=1)
    import pandas as pd

    ours, theirs = pd.read_csv(tmp_path / "market.csv"), pd.read_csv(tmp_path / "batch.csv")
    columns = [c for c in theirs.columns if c not in ("marginal_cost_per_jpy",)]  # the market leaves it empty
    assert set(columns) <= set(ours.columns)
    assert list(ours["exchange_id"]) == list(theirs["exchange_id"]) and len(ours) == len(profiles)
    for c in ("net_assets_jpy", "requirement_to_net_assets", "liquid_capital_jpy", "statement_date", "binding"):
        assert ours[c].notna().sum() == theirs[c].notna().sum() > 0, c
    for c in columns:
        if pd.api.types.is_numeric_dtype(theirs[c]):
            assert np.allclose(ours[c].astype(float), theirs[c].astype(float), rtol=1e-7, atol=1.0, equal_nan=True), c
        else:
            assert list(ours[c].fillna("")) == list(theirs[c].fillna("")), c


def _cost(profiles, quotes, regime, capacity) -> float:
    return market.solve_market(profiles, quotes, regime, capacity).summary["totals"]["annual_cost_jpy"]


def test_cutting_one_counterparty_raises_cost_and_its_price_is_the_finite_difference(japan):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "securities-style.toml")
    name = "Lloyd's specie syndicate with vendor-compromise extension via Lloyd's Japan (licensed; illustrative)"
    big = {c: 1e15 for c in capacity}
    free = _cost(profiles, quotes, regime, big)
    used = market.solve_market(profiles, quotes, regime, big).summary
    demand = next(c["cover_jpy"] for c in used["counterparties"] if c["counterparty"] == name)
    cut = dict(big, **{name: 0.6 * demand})
    r = market.solve_market(profiles, quotes, regime, cut)
    assert r.summary["totals"]["annual_cost_jpy"] > free
    price = next(c["clearing_price"] for c in r.summary["counterparties"] if c["counterparty"] == name)
    assert price > 0
    step = 1e-4 * cut[name]  # small against the kinks (other exchanges' layer sizes), large against tolerances
    more = _cost(profiles, quotes, regime, dict(cut, **{name: cut[name] + step}))
    less = _cost(profiles, quotes, regime, dict(cut, **{name: cut[name] - step}))
    fd = (less - more) / (2 * step)
    assert price == pytest.approx(fd, rel=1e-3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.floats(0.0, 1.2), min_size=12, max_size=12), preset=st.sampled_from(
    ["securities-style", "asset-based", "past-outflows", "cold-wallet"]))
def test_no_counterparty_ever_writes_more_than_its_capacity(japan, cuts, preset):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    caps = {c: k * f for (c, k), f in zip(sorted(capacity.items()), cuts)}
    r = market.solve_market(profiles, quotes, regime, caps)
    written: dict[str, float] = {}
    for s in r.solutions:
        for line in s.lines:
            written[line.quote.counterparty] = written.get(line.quote.counterparty, 0.0) + line.share * \
                line.quote.limit_jpy(s.requirement_jpy)
    for c, k in caps.items():
        assert written.get(c, 0.0) <= k * (1 + 1e-9) + 1e-6
    assert market.check_capacity(r.solutions, caps) == []


# ---------------------------------------------------------------------------------------------- decomposition

def generated(n: int, seed: int = 3) -> list[ExchangeProfile]:
    """n exchanges drawn around the Japanese ones (sizes × 0.2–2, volumes × 0.5–1.5 more)."""
    base = load_profiles(DATA / "profiles-japan-2025.csv")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        b, f = base[i % len(base)], rng.uniform(0.2, 2.0)
        out.append(ExchangeProfile(f"X{i:06d}", b.customer_assets_jpy * f, b.hot_wallet_share,
                                   b.annual_trading_volume_jpy * f * rng.uniform(0.5, 1.5), b.cost_of_capital,
                                   b.reserve_yield, b.liquid_capital_jpy * f))
    return out


def _total(r) -> float:
    return r.summary["totals"]["annual_cost_jpy"]


@pytest.mark.parametrize("preset", ["securities-style", "past-outflows"])
def test_a_priced_chunk_answers_zero_prices_as_each_exchange_alone_and_a_price_cuts_demand(japan, preset):
    """The decomposition's chunk (stacks re-solved from kept bases, `model.Resolver.lp_many`) against a fresh
    model per exchange; then its columns → Solutions all at once, as one by one."""
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    instances = [Instance.build(p, quotes, regime) for p in list(profiles) + generated(300)]
    alone = [solve_instance(inst, marginal=False) for inst in instances]
    takes = [market._takes(s, inst) for s, inst in zip(alone, instances)]
    limited = tuple(c for c in capacity if any(q.counterparty == c for q in quotes))
    chunk = market._Priced(instances, takes, limited)
    free = chunk.respond(np.zeros(len(limited)))
    assert free.paths.get("basis re-used (no simplex)", 0) > 0  # the stack path, not a model per exchange
    for e, s in enumerate(alone):
        assert free.cost[e] == pytest.approx(s.annual_cost_jpy, rel=1e-9)
        assert free.shortfall[e] == pytest.approx(s.shortfall_jpy, rel=1e-9, abs=1e-6 * s.requirement_jpy)
    priced = chunk.respond(np.full(len(limited), 0.05))
    tol = 1e-9 * free.cover.sum(axis=0).max()
    assert (priced.cover.sum(axis=0) <= free.cover.sum(axis=0) + tol).all()
    assert priced.cover.sum() < free.cover.sum()  # the price is high enough to matter: the test is not trivial

    xs = [priced.x[a:b] for a, b in market._column_offsets(instances)]
    for inst, x, many in zip(instances, xs, solutions_from_columns_many(instances, xs)):
        one = solution_from_columns(inst, Scaled.of(inst), x)
        assert many.status == one.status and many.binding == one.binding
        assert many.annual_cost_jpy == pytest.approx(one.annual_cost_jpy, rel=1e-12)
        assert many.shortfall_jpy == pytest.approx(one.shortfall_jpy, rel=1e-12)
        assert [(l.quote.quote_id, l.share) for l in many.lines] == [(l.quote.quote_id, l.share) for l in one.lines]


def test_decomposition_matches_the_joint_lp_on_2000_exchanges(japan):
    _, quotes, capacity = japan
    profiles = generated(2000)
    regime = load_regime(DATA / "regimes" / "securities-style-japan.toml")
    caps = {c: k * len(profiles) / 21 for c, k in capacity.items()}
    free = batch.run(profiles, quotes, regime, None, workers=1)
    joint = market.solve_market(profiles, quotes, regime, caps, method="joint", unlimited=free)
    dec = market.solve_market(profiles, quotes, regime, caps, method="decompose", unlimited=free, chunk_size=700)
    assert joint.summary["scarce_counterparties"]  # the capacity binds: the test is not trivial
    assert dec.summary["solver"]["repair"]["kind"] == "mix of the last rounds' answers"
    assert _total(dec) == pytest.approx(_total(joint), rel=1e-3)
    assert dec.summary["totals"]["shortfall_jpy"] == pytest.approx(joint.summary["totals"]["shortfall_jpy"], rel=1e-3)
    assert market.check_capacity(dec.solutions, caps) == []


@pytest.mark.parametrize("preset", sorted(p.stem for p in (DATA / "regimes").glob("*.toml")))
def test_decomposition_matches_the_joint_lp_on_the_japanese_profiles(japan, preset):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / f"{preset}.toml")
    joint = market.solve_market(profiles, quotes, regime, capacity, method="joint")
    dec = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=8)
    assert _total(dec) == pytest.approx(_total(joint), rel=1e-3)
    assert dec.summary["totals"]["shortfall_jpy"] == pytest.approx(joint.summary["totals"]["shortfall_jpy"],
                                                                   rel=1e-3, abs=1e3)
    assert market.check_capacity(dec.solutions, capacity) == []


def test_decomposition_finds_the_joint_lps_clearing_prices(japan):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "securities-style-japan.toml")
    price = lambda r: {c["counterparty"]: c["clearing_price"] for c in r.summary["counterparties"]}  # noqa: E731
    joint = price(market.solve_market(profiles, quotes, regime, capacity, method="joint"))
    dec = price(market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=8))
    assert sum(p > 0 for p in joint.values()) >= 2
    assert dec == pytest.approx(joint, rel=1e-6, abs=1e-9)


def test_decomposition_in_worker_processes_equals_the_one_in_this_process(japan):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "asset-based.toml")
    here = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=5)
    there = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=5, workers=2)
    assert there.summary["solver"]["owners"] == "processes" and here.summary["solver"]["owners"] == "local"
    assert _total(there) == pytest.approx(_total(here), rel=1e-9)
    assert there.summary["solver"]["rounds"] == here.summary["solver"]["rounds"]


@pytest.mark.cluster
def test_decomposition_on_a_dask_cluster_equals_the_local_one(japan):
    from distributed import LocalCluster

    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "securities-style-japan.toml")
    here = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=5)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        there = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=5,
                                    workers=2, scheduler=cluster.scheduler_address)
    assert there.summary["solver"]["owners"] == "dask"
    assert _total(there) == pytest.approx(_total(here), rel=1e-9)
    assert market.check_capacity(there.solutions, capacity) == []


def test_decomposition_repair_by_one_joint_lp_matches_too(japan):
    profiles, quotes, capacity = japan
    for preset in ("securities-style-japan", "past-outflows"):
        regime = load_regime(DATA / "regimes" / f"{preset}.toml")
        joint = market.solve_market(profiles, quotes, regime, capacity, method="joint")
        dec = market.solve_market(profiles, quotes, regime, capacity, method="decompose", chunk_size=8,
                                  repair_max=10_000)
        assert dec.summary["solver"]["repair"]["kind"] == "joint LP of the marginal exchanges"
        assert _total(dec) == pytest.approx(_total(joint), rel=1e-3)
        assert market.check_capacity(dec.solutions, capacity) == []
        assert dec.summary["solver"]["penalised_cost_jpy"] >= dec.summary["solver"]["lagrangian_bound_jpy"] * (1 - 1e-9)


# ---------------------------------------------------------------------------------------------- end to end

def cli_process(*args, cwd=ROOT):
    """A real `python -m optimizer market` process: for HiGHS's banner on file descriptor 1."""
    return subprocess.run([sys.executable, "-m", "optimizer", "market", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def cli(*args, cwd=ROOT):
    """`market ARGS` in this process, exit code and both streams (conftest.run_cli)."""
    return run_cli("market", *args, cwd=cwd)


def test_cli_writes_rows_and_summary_and_prints_one_json_object(tmp_path):
    out = tmp_path / "m.parquet"
    p = cli_process("--regime", "securities-style-japan", "--out", out, "--format", "json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)  # exactly one JSON object: no HiGHS banner
    saved = json.loads((tmp_path / "m.summary.json").read_text())
    assert data["totals"] == saved["totals"] and data["method"] == "joint"
    import pandas as pd

    rows = pd.read_parquet(out)
    assert len(rows) == 21 and set(batch.COLUMNS) <= set(rows.columns)
    assert any(c.startswith("capacity_jpy:") for c in rows.columns)
    p = cli("--regime", "securities-style-japan", "--out", tmp_path / "m.csv", "--method", "decompose")
    assert p.returncode == 0 and "clearing price" in p.stdout


@pytest.mark.parametrize("text, where", [
    ("counterparty,capacity_jpy\nInsurer A,-5\n", "row 1 (line 2, Insurer A), column 'capacity_jpy'"),
    ("counterparty,capacity_jpy\nInsurer A,1e9\nInsurer A,2e9\n", "row 2 (line 3, Insurer A), column 'counterparty'"),
    ("counterparty,capacity_jpy\nInsurer A,lots\n", "column 'capacity_jpy'"),
])
def test_bad_capacity_exits_2_naming_file_row_and_column(tmp_path, text, where):
    path = tmp_path / "cap.csv"
    path.write_text(text)
    p = cli("--capacity", path, "--out", tmp_path / "m.csv")
    assert p.returncode == 2 and str(path) in p.stderr and where in p.stderr and "Traceback" not in p.stderr


def test_unknown_counterparty_warns_on_stderr_and_still_solves(tmp_path):
    path = tmp_path / "cap.csv"
    path.write_text("counterparty,capacity_jpy\nNobody Re,1e9\n")
    p = cli("--capacity", path, "--out", tmp_path / "m.csv")
    assert p.returncode == 0 and "warning:" in p.stderr and "Nobody Re" in p.stderr


def test_joint_and_decompose_name_different_exchanges_short_but_give_the_same_ranges(tmp_path):
    # asset-based: equal totals, but joint names 3 exchanges short for lack of capacity and decompose 6 (the LP has
    # many optima). The ranges over all optima are the method's answer to "who may fall short", and agree.
    runs = {}
    for method in ("joint", "decompose"):
        p = cli("--regime", "asset-based", "--out", tmp_path / f"{method}.csv", "--method", method, "--format", "json")
        assert p.returncode == 0, p.stderr
        runs[method] = json.loads(p.stdout)
    joint, dec = runs["joint"], runs["decompose"]
    assert joint["totals"]["shortfall_jpy"] == pytest.approx(dec["totals"]["shortfall_jpy"], rel=1e-9)
    assert set(joint["short_because_of_capacity"]) != set(dec["short_because_of_capacity"])  # the finding
    for data in (joint, dec):
        split = data["shortfall_split"]
        assert split["unique"] is False and "not unique" in split["note"]
        slack = 1e-8 * data["totals"]["required_coverage_jpy"]
        for r in split["exchanges"]:
            assert r["least_jpy"] - slack <= r["shortfall_jpy"] <= r["most_jpy"] + slack
        assert set(data["short_because_of_capacity"]) <= set(split["may_fall_short"])
    ranges = lambda d: {r["exchange_id"]: (r["least_jpy"], r["most_jpy"]) for r in d["shortfall_split"]["exchanges"]}  # noqa: E731
    assert ranges(joint).keys() == ranges(dec).keys()
    for eid, (lo, hi) in ranges(joint).items():
        assert ranges(dec)[eid] == pytest.approx((lo, hi), abs=1e-8 * joint["totals"]["required_coverage_jpy"])
    rows = __import__("pandas").read_csv(tmp_path / "joint.csv")
    assert {"shortfall_least_jpy", "shortfall_most_jpy"} <= set(rows.columns)
    p = cli("--regime", "asset-based", "--out", tmp_path / "t.csv", "--method", "decompose")
    assert p.returncode == 0 and "Not unique" in p.stdout and "most_jpy" in p.stdout


# ---------------------------------------------------------------------------------------------- reserve assets
# A bank's promises (guarantee, committed line) use its row of capacity.csv beside its insurance arm's layers; a
# deposit at the bank uses none (docs/market.md, "Reserve assets").
from optimizer.domain import AssetShares, ReserveAsset  # noqa: E402

BANK_REGIME = Regime("hand", RequirementRule(volume_rate=0.01, perils=("external_hack",)),
                     Eligibility(max_insurance_share=1.0, max_counterparty_share=1.0, min_rating="BBB-",
                                 asset_shares=AssetShares(bank_guarantee=1.0)),
                     {"AAA": 1.0, "AA": 1.0, "A": 1.0, "BBB": 1.0})
ARM = Quote("ARM", "insurance", "Bank X", "AA", 0.0, 1.0, 0.02, layer_basis="requirement")  # the bank's insurer


def guarantee(**kw) -> ReserveAsset:
    return ReserveAsset("BG", "bank_guarantee", "Bank X", "AA", fee_rate=0.01, **kw)


@pytest.mark.parametrize("method", ["joint", "decompose"])
def test_a_banks_guarantee_and_its_insurance_arm_share_the_banks_capacity(method):
    # Bank X has 2e9 of capacity for its guarantee (1%, at most 5e8 per exchange) and its arm's layer (2%).
    # Each exchange takes the guarantee in full first (5e8 each: 1e9), then the arm: E1 (cash at 10%) the 5e8 it
    # still needs, E2 (cash at 5%) the 5e8 left of the bank's 2e9, and 1e9 of cash. The clearing price is what the
    # marginal buyer E2 saves per yen of the arm: 0.05 − 0.02 = 0.03 (the guarantee, at 0.01 + 0.03, still beats
    # cash). Cost: E1 0.01·5e8 + 0.02·5e8 = 1.5e7; E2 the same + 0.05·1e9 = 6.5e7.
    r = market.solve_market(two(), [ARM], BANK_REGIME, {"Bank X": 2e9}, assets=[guarantee(max_amount_jpy=5e8)],
                            method=method)
    s1, s2 = r.solutions
    assert [s.amount_of("BG") for s in (s1, s2)] == pytest.approx([5e8, 5e8], rel=1e-9)
    assert s1.share_of("ARM") == pytest.approx(0.5, rel=1e-6) and s2.share_of("ARM") == pytest.approx(0.25, rel=1e-6)
    assert s2.cash_reserve_jpy == pytest.approx(1e9, rel=1e-6)
    used = sum(market.cover_written(s)["Bank X"] for s in r.solutions)
    assert used <= 2e9 and used == pytest.approx(2e9, rel=1e-6)
    assert [s.annual_cost_jpy for s in (s1, s2)] == pytest.approx([1.5e7, 6.5e7], rel=1e-6)
    (cp,) = r.summary["counterparties"]
    assert cp["counterparty"] == "Bank X" and cp["scarce"]
    assert cp["clearing_price"] == pytest.approx(0.03, rel=1e-6)
    assert cp["cover_jpy"] == pytest.approx(2e9, rel=1e-6) and cp["committed_jpy"] == pytest.approx(1e9, rel=1e-9)
    # without limits both take the guarantee, then the arm for the rest: 3e9 of the bank's capacity
    assert cp["demand_unlimited_jpy"] == pytest.approx(3e9, rel=1e-9)
    assert r.summary["totals"]["bank_guarantee_jpy"] == pytest.approx(1e9, rel=1e-9)
    assert list(r.rows["bank_guarantee_jpy"]) == pytest.approx([5e8, 5e8], rel=1e-9)
    assert list(r.rows["capacity_jpy:Bank X"]) == pytest.approx([1e9, 1e9], rel=1e-6)
    assert market.check_capacity(r.solutions, {"Bank X": 2e9}) == []


@pytest.mark.parametrize("method", ["joint", "decompose"])
def test_a_guarantee_with_scarce_capacity_clears_at_the_marginal_exchanges_saving_less_its_fee(method):
    # The guarantee alone (1%, no most amount) against 2e9: E1 takes 1e9 (saves 0.09 a yen), E2 the other 1e9
    # (saves 0.04) and holds 1e9 of cash. Price 0.05 − 0.01 = 0.04; cost 0.01·2e9 + 0.05·1e9 = 7e7.
    r = market.solve_market(two(), [], BANK_REGIME, {"Bank X": 2e9}, assets=[guarantee()], method=method)
    assert [s.amount_of("BG") for s in r.solutions] == pytest.approx([1e9, 1e9], rel=1e-6)
    assert r.summary["totals"]["annual_cost_jpy"] == pytest.approx(7e7, rel=1e-6)
    (cp,) = r.summary["counterparties"]
    assert cp["clearing_price"] == pytest.approx(0.04, rel=1e-5)
    assert r.summary["scarcity_cost_jpy"] == pytest.approx(7e7 - 0.01 * 3e9, rel=1e-6)


def test_a_deposit_at_the_bank_uses_none_of_its_capacity():
    # A deposit is the exchange's own money at the bank: both exchanges hold all of R there (4% yield), 3e9
    # against the bank's 1e9 of capacity, and the capacity is not touched
    deposit = ReserveAsset("D", "deposit", "Bank X", "AA", yield_rate=0.04)
    r = market.solve_market(two(), [], BANK_REGIME, {"Bank X": 1e9}, assets=[deposit])
    assert [s.amount_of("D") for s in r.solutions] == pytest.approx([1e9, 2e9], rel=1e-9)
    assert r.summary["counterparties"] == [] and "capacity_jpy:Bank X" not in r.rows.columns
    [warning] = r.summary["warnings"]  # its row of capacity does nothing, and the run says so
    assert "Bank X" in warning and "not named by any quote or promise" in warning


def test_with_assets_and_capacity_to_spare_the_market_writes_what_batch_writes_with_them(japan, tmp_path):
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "cold-wallet-assets.toml")
    assets = DATA / "assets-japan.csv"
    huge = {**{c: 1e15 for c in capacity}, "Japanese megabank (illustrative)": 1e15}
    r = market.run(profiles, quotes, regime, huge, tmp_path / "market.csv", assets=assets)
    batch.run(profiles, quotes, regime, tmp_path / "batch.csv", workers=1, assets=assets)
    import pandas as pd

    ours, theirs = pd.read_csv(tmp_path / "market.csv"), pd.read_csv(tmp_path / "batch.csv")
    assert set(batch.ASSET_COLUMNS) <= set(ours.columns)
    assert ours["bank_guarantee_jpy"].sum() > 0  # the bundled megabank's guarantee is held
    for c in ("annual_cost_jpy", "cash_reserve_jpy", "shortfall_jpy", *batch.ASSET_COLUMNS):
        assert np.allclose(ours[c], theirs[c], rtol=1e-7, atol=1.0), c
    bank = next(c for c in r.summary["counterparties"] if c["counterparty"] == "Japanese megabank (illustrative)")
    assert bank["cover_jpy"] == pytest.approx(ours["bank_guarantee_jpy"].sum(), rel=1e-9)


def test_a_banks_capacity_binds_its_guarantees_across_exchanges_in_both_methods(japan):
    # the bundled megabank guarantees ¥40bn across the 21 exchanges; with ¥10bn of capacity the joint LP and the
    # decomposition both keep it within its capacity, at the same total cost
    profiles, quotes, capacity = japan
    regime = load_regime(DATA / "regimes" / "cold-wallet-assets.toml")
    assets = load_assets_file()
    caps = {**capacity, "Japanese megabank (illustrative)": 1e10}
    joint = market.solve_market(profiles, quotes, regime, caps, method="joint", assets=assets)
    dec = market.solve_market(profiles, quotes, regime, caps, method="decompose", chunk_size=8, assets=assets)
    for r in (joint, dec):
        bank = next(c for c in r.summary["counterparties"] if c["counterparty"] == "Japanese megabank (illustrative)")
        assert bank["cover_jpy"] <= 1e10 and bank["cover_jpy"] == pytest.approx(1e10, rel=1e-5) and bank["scarce"]
        assert market.check_capacity(r.solutions, caps) == []
    assert _total(dec) == pytest.approx(_total(joint), rel=1e-3)
    free = market.solve_market(profiles, quotes, regime, capacity, method="joint", assets=assets)
    assert joint.summary["totals"]["annual_cost_jpy"] > free.summary["totals"]["annual_cost_jpy"]


def load_assets_file():
    from optimizer.inputs import load_assets

    return load_assets(DATA / "assets-japan.csv")


def test_cli_market_takes_assets_and_writes_the_asset_columns(tmp_path):
    cap = tmp_path / "cap.csv"
    cap.write_text((DATA / "capacity.csv").read_text() + "Japanese megabank (illustrative),1e10,ASSUMPTION: a test\n")
    p = cli("--regime", "cold-wallet-assets", "--assets", DATA / "assets-japan.csv", "--capacity", cap,
            "--out", tmp_path / "m.csv", "--format", "json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["totals"]["bank_guarantee_jpy"] == pytest.approx(1e10, rel=1e-5)
    assert "Japanese megabank (illustrative)" in data["scarce_counterparties"]
    import pandas as pd

    rows = pd.read_csv(tmp_path / "m.csv")
    assert set(batch.ASSET_COLUMNS) <= set(rows.columns)
    plain = cli("--regime", "cold-wallet-assets", "--out", tmp_path / "p.csv")
    assert plain.returncode == 0 and not set(batch.ASSET_COLUMNS) & set(pd.read_csv(tmp_path / "p.csv").columns)


def test_cli_market_refuses_an_asset_yielding_more_than_an_exchanges_capital_costs(tmp_path):
    bad = tmp_path / "assets.csv"
    bad.write_text("asset_id,kind,counterparty,rating,yield\nD,deposit,Bank X,AA,0.5\n")
    p = cli("--assets", bad, "--out", tmp_path / "m.csv")
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    [line] = p.stderr.strip().splitlines()
    assert str(bad) in line and "row 1" in line and "yield" in line
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize("seed", range(12))
def test_random_markets_with_assets_keep_every_capacity_and_both_methods_agree(seed):
    # random sheets (shared counterparties C0–C3), random assets whose banks are C0–C5 (so some share a name with
    # an insurer), capacity at a random share of what the exchanges would take without limits
    from builders import random_assets, random_profiles, random_regime, random_sheet

    rng = np.random.default_rng(seed)
    quotes, reg = random_sheet(rng, 6), random_regime(rng)
    assets, reg = random_assets(rng, reg)
    assets = [a if not a.funded else dataclasses.replace(a, yield_rate=min(a.yield_rate, 0.03)) for a in assets]
    profiles = [dataclasses.replace(p, cost_of_capital=max(p.cost_of_capital, 0.03)) for p in random_profiles(rng, 10)]
    free = market.solve_market(profiles, quotes, reg, {}, assets=assets)
    demand = {r["counterparty"]: r["cover_jpy"] for r in free.summary["counterparties"]}
    caps = {f"C{k}": float(demand.get(f"C{k}", 0.0) * rng.uniform(0.3, 0.9)) for k in range(6)}
    joint = market.solve_market(profiles, quotes, reg, caps, method="joint", assets=assets)
    dec = market.solve_market(profiles, quotes, reg, caps, method="decompose", chunk_size=4, assets=assets)
    for r in (joint, dec):
        used: dict[str, float] = {}  # re-counted here: layers' share × yen limit, promises' amounts
        for s in r.solutions:
            for line in s.lines:
                used[line.quote.counterparty] = used.get(line.quote.counterparty, 0.0) + \
                    line.share * line.quote.limit_jpy(s.requirement_jpy)
            for h in s.holdings:
                if h.asset.kind in ("bank_guarantee", "credit_line", "parent_guarantee"):
                    used[h.asset.counterparty] = used.get(h.asset.counterparty, 0.0) + h.amount_jpy
        for c, k in caps.items():
            if c in {q.counterparty for q in quotes} | {a.counterparty for a in assets if not a.funded}:
                assert used.get(c, 0.0) <= k * (1 + 1e-9) + 1e-6, (seed, c)
    assert _total(dec) == pytest.approx(_total(joint), rel=1e-3)
    assert dec.summary["totals"]["shortfall_jpy"] == pytest.approx(joint.summary["totals"]["shortfall_jpy"],
                                                                   rel=1e-3, abs=1e3)
