"""Single-solve latency for 5, 20 and 100 quotes, against a naive baseline measured in the same run.

Ours: optimizer.solve (breakpoint LP in units of R, HiGHS, numpy re-check; with and without the marginal-cost
re-solve). Baselines: the spreadsheet approach — the same LP but checking a dense grid of 1,000 loss levels per
peril instead of the layer edges, in yen, built and solved the same way with PuLP + HiGHS; and the strong user's
raw highspy (`highspy_loop.py`): the breakpoint LP written straight into one `highspy.Highs` (addVars, addRows),
built and solved once — cost only, no check, no marginal cost.

Reasons and break-evens end to end (`--reasons-sizes 300`): a generated sheet of that many requirement-basis
layers (`make_quotes`), `python -m optimizer solve … --format json` (the mix, the marginal cost, every quote's
reason and break-even) and `python -m optimizer price … --format json` (every quote's break-even and competitors)
timed as whole processes, start-up included (median of `--cli-repeat`, default 3). `--reference` also times the
probe-by-probe path in-process (`not_bought(..., screen=False)` and
`break_evens(..., screen=False)`: every probe re-solved, as before the screen) and checks that the command line's
reasons are the same and its break-evens equal.

One solve against cvxpy + HiGHS (`--cvxpy 20,100,300,500`, needs `pip install -e .[bench]`): the strong user's
cvxpy model written from docs/design.md §4 (`cvxpy_model.py`: the breakpoint LP in units of R, duplicate loss
levels merged, HiGHS as cvxpy's solver), built and solved per call, against `optimizer.solve` (without and with
the marginal cost); median of `--repeat`, costs compared.

Run:  .venv/bin/python benchmarks/bench_solve.py [--repeat 20] [--sizes 5,20,100] [--reasons-sizes 300]
                                                 [--reference] [--cvxpy 20,100,300,500]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pulp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer.domain import PERILS, Eligibility, ExchangeProfile, Quote, Regime, RequirementRule  # noqa: E402
from optimizer.model import Instance, quiet_highs as _swallow_highs_banner, solve  # noqa: E402
from optimizer.regime import requirement  # noqa: E402


def raw_highspy(profile: ExchangeProfile, quotes: list[Quote], regime: Regime) -> float:
    """The strong user's one solve: κ of the sheet, one highspy model, one run (highspy_loop.py). Annual cost."""
    from highspy_loop import Sheet, solve_arrays

    sheet = Sheet.of([q for q in quotes if q.offered_to(profile.exchange_id)], regime)
    status, cost = solve_arrays(sheet, np.array([profile.exchange_id]), np.array([requirement(profile, regime)]),
                                np.array([profile.premium_multiplier]), np.array([profile.carry]),
                                np.array([profile.liquid_capital_jpy]))
    return float(cost[0])


def make_quotes(n: int, seed: int) -> list[Quote]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a = rng.choice([0.0, 0.1, 0.25, 0.5, 0.75]) + rng.random() * 0.05
        perils = frozenset(PERILS) if rng.random() < 0.7 else frozenset(PERILS[:2])
        out.append(Quote(f"Q{i:03d}", "derivative" if rng.random() < 0.15 else "insurance", f"C{rng.randrange(8)}",
                         rng.choice(["AA", "A+", "A", "A-", "BBB"]), a, rng.uniform(0.1, 0.5),
                         rng.uniform(0.01, 0.08), layer_basis="requirement", max_share=rng.choice([0.5, 1.0]),
                         perils=perils, collateralized=rng.random() < 0.3))
    return out


PROFILE = ExchangeProfile("BENCH", 4e11, 0.05, 9e12, 0.08, 0.005)
REGIME = Regime("bench", RequirementRule(volume_rate=0.002), Eligibility(max_derivative_share=0.25,
                                                                          max_counterparty_share=0.5))


def naive(profile: ExchangeProfile, quotes: list[Quote], regime: Regime, grid: int = 1000) -> float:
    """The baseline: the loss axis checked on a dense grid, in yen."""
    inst = Instance.build(profile, quotes, regime)
    R, elig = inst.requirement_jpy, regime.eligibility
    qs = inst.eligible
    prob = pulp.LpProblem("naive", pulp.LpMinimize)
    cash = prob.add_variable("cash", 0)
    s = {q.quote_id: prob.add_variable(f"s{i}", 0, q.max_share) for i, q in enumerate(qs)}
    prob += profile.carry * cash + pulp.lpSum(profile.premium_multiplier * q.rate_on_line * q.limit_jpy(R)
                                              * s[q.quote_id] for q in qs)

    def r(q, x):
        return min(max(x - q.attachment_jpy(R), 0.0), q.limit_jpy(R))

    for p in regime.requirement.perils:
        for x in np.linspace(R / grid, R, grid):
            prob += x - pulp.lpSum(inst.credit[q.quote_id] * r(q, x) * s[q.quote_id] for q in qs if q.covers(p)) <= cash
    prob += pulp.lpSum(inst.credit[q.quote_id] * r(q, R) * s[q.quote_id] for q in qs if not q.is_derivative) \
        <= elig.max_insurance_share * R
    prob += pulp.lpSum(inst.credit[q.quote_id] * r(q, R) * s[q.quote_id] for q in qs if q.is_derivative) \
        <= elig.max_derivative_share * R
    for c in {q.counterparty for q in qs if not (q.is_derivative and q.collateralized)}:
        prob += pulp.lpSum(inst.credit[q.quote_id] * r(q, R) * s[q.quote_id] for q in qs
                           if q.counterparty == c and not (q.is_derivative and q.collateralized)) \
            <= elig.max_counterparty_share * R
    prob.solve(pulp.HiGHS(msg=False))
    return float(pulp.value(prob.objective))


REGIME_TOML = """name = "bench"
[requirement]
volume_rate = 0.002
perils = ["external_hack", "insider_theft", "vendor_compromise"]
[eligibility]
max_derivative_share = 0.25
max_counterparty_share = 0.5
"""


def write_inputs(folder: Path, n: int) -> tuple[Path, Path, Path]:
    """The profile, an n-quote requirement-basis sheet and the regime of this benchmark, as the CLI reads them."""
    p = PROFILE
    profiles, quotes, regime = folder / "profile.csv", folder / f"quotes-{n}.csv", folder / "bench.toml"
    profiles.write_text("exchange_id,name,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,"
                        "cost_of_capital,reserve_yield,liquid_capital_jpy,premium_multiplier\n"
                        f"{p.exchange_id},bench,{p.customer_assets_jpy!r},{p.hot_wallet_share!r},"
                        f"{p.annual_trading_volume_jpy!r},{p.cost_of_capital!r},{p.reserve_yield!r},,"
                        f"{p.premium_multiplier!r}\n")
    rows = ["quote_id,kind,counterparty,rating,attachment,limit,layer_basis,rate_on_line,max_share,min_share,"
            "fixed_fee_jpy,perils,collateralized,exchange_id"]
    for q in make_quotes(n, seed=n):
        perils = "all" if set(q.perils) == set(PERILS) else ";".join(sorted(q.perils))
        rows.append(f"{q.quote_id},{q.kind},{q.counterparty},{q.rating},{q.attachment!r},{q.limit!r},requirement,"
                    f"{q.rate_on_line!r},{q.max_share},0,0,{perils},{str(q.collateralized).lower()},")
    quotes.write_text("\n".join(rows) + "\n")
    regime.write_text(REGIME_TOML)
    return profiles, quotes, regime


def cli_seconds(args: list[str], repeat: int) -> tuple[float, dict]:
    """Median wall time of `python -m optimizer ARGS` (start-up included), and its JSON output."""
    root = Path(__file__).resolve().parent.parent
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "optimizer", *args, "--format", "json"], cwd=root,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if done.returncode not in (0, 3):
            raise SystemExit(f"optimizer {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        out = json.loads(done.stdout)
    return statistics.median(times), out


def reasons_case(n: int, repeat: int, reference: bool) -> None:
    """`solve` (with every reason) and `price` on an n-quote sheet through the command line."""
    from optimizer import analysis
    from optimizer.inputs import load_profiles, load_quotes, load_regime
    from optimizer.reasons import not_bought

    with tempfile.TemporaryDirectory() as tmp:
        profiles, quotes, regime = write_inputs(Path(tmp), n)
        common = ["--profiles", str(profiles), "--quotes", str(quotes), "--regime", str(regime)]
        solve_s, solved = cli_seconds(["solve", *common], repeat)
        price_s, priced = cli_seconds(["price", *common], repeat)
        out = len(solved["instruments_not_bought"])
        print(f"{n:>6}  solve with reasons {solve_s:>7.2f} s  ({out} quotes not bought, each with its reason)   "
              f"price {price_s:>7.2f} s  ({len(priced['quotes'])} break-evens)")
        if not reference:
            return
        prof, qs, reg = load_profiles(profiles)[0], load_quotes(quotes), load_regime(regime)
        s = solve(prof, qs, reg)
        t = time.perf_counter()
        slow = not_bought(s, qs, screen=False)
        slow_reasons = time.perf_counter() - t
        t = time.perf_counter()
        slow_price = analysis.break_evens(prof, qs, reg, base=solve(prof, qs, reg, marginal=False), screen=False)
        slow_prices = time.perf_counter() - t
        same = [a["reason"] for a in solved["instruments_not_bought"]] == [b["reason"] for b in slow]
        gap = max((abs(a["break_even_rol"] / b["break_even_rol"] - 1) for a, b in
                   zip(solved["instruments_not_bought"], slow) if b["break_even_rol"]), default=0.0)
        pgap = max((abs(a["break_even_rol"] / b - 1) for a, b in zip(priced["quotes"], slow_price["break_even_rol"])
                    if a["break_even_rol"] and b == b and b), default=0.0)
        print(f"        probe by probe, in-process: reasons {slow_reasons:.1f} s, prices {slow_prices:.1f} s; "
              f"reasons identical: {same}; largest break-even gap {gap:.1e} (solve), {pgap:.1e} (price)")


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--sizes", default="5,20,100", help="comma-separated numbers of quotes")
    ap.add_argument("--reasons-sizes", default="300",
                    help="comma-separated sheet sizes for solve-with-reasons and price through the CLI; empty to skip")
    ap.add_argument("--cli-repeat", type=int, default=3)
    ap.add_argument("--cvxpy", default="", help="comma-separated sheet sizes for one solve against cvxpy + HiGHS")
    ap.add_argument("--reference", action="store_true",
                    help="also time the probe-by-probe reasons and prices in-process and compare")
    args = ap.parse_args()
    _swallow_highs_banner()
    print(f"R = ¥{requirement(PROFILE, REGIME):,.0f}; median of {args.repeat} runs each\n")
    print(f"{'quotes':>6}  {'ours (ms)':>10}  {'ours+marginal':>13}  {'naive grid (ms)':>15}  {'speed-up':>8}  "
          f"{'cost gap':>9}  {'raw highspy (ms)':>16}  {'ours ÷ raw':>10}  {'raw cost gap':>12}")
    for n in [int(v) for v in args.sizes.split(",") if v.strip()]:
        quotes = make_quotes(n, seed=n)
        ours = timed(lambda: solve(PROFILE, quotes, REGIME, marginal=False), args.repeat)
        ours_m = timed(lambda: solve(PROFILE, quotes, REGIME), args.repeat)
        base = timed(lambda: naive(PROFILE, quotes, REGIME), max(3, args.repeat // 5))
        raw = timed(lambda: raw_highspy(PROFILE, quotes, REGIME), args.repeat)
        cost = solve(PROFILE, quotes, REGIME, marginal=False).annual_cost_jpy
        gap = naive(PROFILE, quotes, REGIME) / cost - 1
        raw_gap = raw_highspy(PROFILE, quotes, REGIME) / cost - 1
        print(f"{n:>6}  {ours * 1e3:>10.1f}  {ours_m * 1e3:>13.1f}  {base * 1e3:>15.1f}  {base / ours:>7.1f}×  {gap:>9.1e}"
              f"  {raw * 1e3:>16.1f}  {ours / raw:>9.2f}×  {raw_gap:>12.1e}")
    print("\nours ÷ raw: our time over raw highspy's (below 1: ours is faster); raw cost gap: raw ÷ ours − 1")
    print("cost gap: naive ÷ ours − 1 (≤ 0: the grid is a relaxation — it misses kinks between its points, so its optimum can leave losses unfunded)")
    sizes = [int(v) for v in args.reasons_sizes.split(",") if v.strip()]
    if sizes:
        print(f"\nReasons and break-evens end to end through the command line (median of {args.cli_repeat})")
    for n in sizes:
        reasons_case(n, args.cli_repeat, args.reference)
    sizes = [int(v) for v in args.cvxpy.split(",") if v.strip()]
    if sizes:
        from cvxpy_model import solve_cvxpy

        solve_cvxpy(PROFILE, make_quotes(5, seed=5), REGIME)  # cvxpy's own imports and first call out of the timing
        print(f"\nOne solve against cvxpy + HiGHS (model built and solved per call; median of {args.repeat})")
        print(f"{'quotes':>6}  {'cvxpy (ms)':>10}  {'ours (ms)':>9}  {'cvxpy ÷ ours':>12}  {'ours+marginal':>13}  "
              f"{'cvxpy ÷ ours+m':>14}  {'cost gap':>9}")
    for n in sizes:
        quotes = make_quotes(n, seed=n)
        theirs = timed(lambda: solve_cvxpy(PROFILE, quotes, REGIME), args.repeat)
        ours = timed(lambda: solve(PROFILE, quotes, REGIME, marginal=False), args.repeat)
        ours_m = timed(lambda: solve(PROFILE, quotes, REGIME), args.repeat)
        gap = solve_cvxpy(PROFILE, quotes, REGIME) / solve(PROFILE, quotes, REGIME, marginal=False).annual_cost_jpy - 1
        print(f"{n:>6}  {theirs * 1e3:>10.1f}  {ours * 1e3:>9.1f}  {theirs / ours:>11.2f}×  {ours_m * 1e3:>13.1f}  "
              f"{theirs / ours_m:>13.2f}×  {gap:>9.1e}")
    if sizes:
        print("cvxpy ÷ ours above 1: ours is faster; cost gap: cvxpy ÷ ours − 1")


if __name__ == "__main__":
    main()
