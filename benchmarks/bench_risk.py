"""The risk view: metrics of one mix, and the risk-objective solve, at 100,000 scenario-years.

1. Metrics: `risk.metrics` of the regulatory optimum on a RiskBook of 100,000 scenario-years (target < 0.2 s);
   also the one-off cost of drawing the scenarios and the payout matrix.
2. Risk solve: `risk.solve_with_risk` (build the regulatory LP, the E[retained] and TVaR rows, solve with HiGHS,
   assemble + verify, recompute the TVaR from the scenarios) with 20 quotes and a TVaR limit, against raw HiGHS
   (highspy) solving the same LP matrix, prebuilt: the same model written to MPS once and read into a
   `highspy.Highs` before the clock starts. Target: within 5×.
3. `batch --risk`: the same profiles through `batch.run` (one worker) with and without the risk columns; the
   difference per profile is what the risk columns cost (simulate + payout matrix + metrics of its mix).

Run:  .venv/bin/python benchmarks/bench_risk.py [--scenarios 100000] [--repeat 5] [--profiles 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import highspy  # noqa: E402

from bench_solve import PROFILE, REGIME, make_quotes, timed  # noqa: E402
from optimizer.loss_model import load_loss_model  # noqa: E402
from optimizer.model import Instance, quiet_highs as _swallow_highs_banner, solve  # noqa: E402
from optimizer.risk import (RiskBook, add_expected_retained, build_model, least_tvar, metrics,  # noqa: E402
                            solution_metrics, solve_with_risk, tvar_family)
from optimizer.simulation import simulate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--loss-model", default=str(ROOT / "data" / "loss-models" / "japan.toml"))
    ap.add_argument("--profiles", type=int, default=200, help="profiles for the batch --risk measurement")
    args = ap.parse_args()
    _swallow_highs_banner()
    lm = load_loss_model(args.loss_model)
    quotes = make_quotes(20, seed=20)
    inst = Instance.build(PROFILE, quotes, REGIME)
    n = args.scenarios

    # 1. metrics of one mix
    draw = timed(lambda: simulate(PROFILE, lm, n, seed=1), args.repeat)
    sc = simulate(PROFILE, lm, n, seed=1)
    book_t = timed(lambda: RiskBook.build(sc, inst.eligible, inst.requirement_jpy), args.repeat)
    book = RiskBook.build(sc, inst.eligible, inst.requirement_jpy)
    reg = solve(PROFILE, quotes, REGIME, marginal=False)
    shares = {line.quote.quote_id: line.share for line in reg.lines}
    one = timed(lambda: metrics(book, PROFILE, shares, reg.cash_reserve_jpy), max(args.repeat, 20))
    m = solution_metrics(reg, book)
    print(f"{n:,} scenario-years ({sc.loss_years.size:,} with a loss, {sc.n_events:,} events), "
          f"{len(inst.eligible)} eligible quotes, R = ¥{inst.requirement_jpy:,.0f}")
    print(f"  simulate: {draw * 1e3:.1f} ms   payout matrix: {book_t * 1e3:.1f} ms   "
          f"metrics of one mix: {one * 1e3:.2f} ms (target < 200 ms)")

    # 2. risk solve with a TVaR limit that binds: halfway between the least TVaR a compliant mix reaches and the
    #    TVaR of the unconstrained risk optimum
    free = solve_with_risk(PROFILE, quotes, REGIME, sc).metrics.tvar_jpy
    lowest = least_tvar(inst, book)
    limit = 0.5 * (lowest + free)
    print(f"  TVaR 0.99: regulatory mix ¥{m.tvar_jpy:,.0f}, risk optimum ¥{free:,.0f}, least compliant ¥{lowest:,.0f}")
    ours = timed(lambda: solve_with_risk(PROFILE, quotes, REGIME, sc, tvar_limit=limit), args.repeat)
    out = solve_with_risk(PROFILE, quotes, REGIME, sc, tvar_limit=limit)

    model = build_model(inst, with_shortfall=False)
    retained = add_expected_retained(model.prob, book, model.share, inst.unit)
    tvar_family(model, book, inst.unit, 0.99, limit / inst.unit)
    model.prob.setObjective(model.cost + retained)
    offset = model.prob.objective.constant  # MPS drops the objective's constant: add it back to compare
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "risk.mps")
        model.prob.writeMPS(path)

        def raw_highs() -> float:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("threads", 1)
            h.readModel(path)
            t = time.perf_counter()          # prebuilt: only the solve is timed
            h.run()
            elapsed = time.perf_counter() - t
            assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            raw_highs.objective = h.getInfo().objective_function_value
            return elapsed

        base = statistics.median(raw_highs() for _ in range(args.repeat))
    rows = model.prob.numConstraints()
    print(f"  risk solve (TVaR ≤ ¥{limit:,.0f}): LP {model.prob.numVariables():,} columns × {rows:,} rows")
    print(f"  ours (build + solve + verify + metrics): {ours * 1e3:.0f} ms   raw HiGHS on the prebuilt matrix: "
          f"{base * 1e3:.0f} ms   ratio {ours / base:.1f}× (target ≤ 5×)")
    print(f"  TVaR of the reported mix recomputed: ¥{out.metrics.tvar_jpy:,.0f} (limit ¥{limit:,.0f}); "
          f"objective ours {(out.solution.annual_cost_jpy + out.metrics.expected_retained_jpy) / inst.unit:.9f} "
          f"vs raw {raw_highs.objective + offset:.9f} (units of R)")

    # 3. batch --risk: what the risk columns add per profile
    from bench_batch import make_profiles
    from optimizer import batch
    from optimizer.inputs import load_quotes, load_regime
    from optimizer.risk import RiskColumns

    folder = tempfile.TemporaryDirectory()
    frame = Path(folder.name) / "profiles.parquet"
    make_profiles(frame, args.profiles)
    sheet = load_quotes(ROOT / "data" / "quotes.csv")
    rule = load_regime(ROOT / "data" / "regimes" / "securities-style.toml")
    plain = timed(lambda: batch.run(frame, sheet, rule, workers=1), max(1, args.repeat // 2))
    risky = timed(lambda: batch.run(frame, sheet, rule, workers=1, risk=RiskColumns(lm, n, 1)),
                  max(1, args.repeat // 2))
    per = (risky - plain) / args.profiles
    print(f"  batch of {args.profiles} profiles (one worker): {plain:.2f} s; with --risk at {n:,} scenario-years "
          f"{risky:.2f} s: {per * 1e3:.1f} ms a profile for the risk columns")


if __name__ == "__main__":
    main()
