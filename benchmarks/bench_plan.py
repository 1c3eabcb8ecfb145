"""The multi-year plan's speed, end to end through the command line.

(a) One five-year plan for one exchange: `python -m optimizer plan --exchange bitflyer … --plan
    fy2027-five-year-phase-in` on the bundled Japanese data, the whole process timed (median of `--repeat` runs),
    with and without the reasons for what is not bought; beside it, where the time goes: the interpreter alone, the
    process that only imports what `plan` imports, and the plan solved in-process after the imports.
(b) `batch PROFILES --plan F` on generated profiles × the plan's years against the script a user would write
    (benchmarks/user_plan_script.py: a fresh PuLP multi-year model per profile, present value only), end to end, in
    the same run, on the same files: the user script on the first `--sample` profiles, its time per profile
    (start-up included) extrapolated to the whole file; ours on the whole file. Statuses must be identical and
    present values equal within 1e-6 relative. `--rounds` alternating rounds, the median ratio reported.

Run:  .venv/bin/python benchmarks/bench_plan.py [--profiles 20000] [--sample 1000] [--rounds 3] [--repeat 5]
      (`--profiles 0` skips (b); `--repeat 0` skips (a))
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_batch import make_profiles, run  # noqa: E402

DATA = ROOT / "data"
PLAN = DATA / "plans" / "fy2027-five-year-phase-in.toml"
SINGLE = ["--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", "bitflyer",
          "--quotes", str(DATA / "quotes-japan.csv"), "--regime", "cold-wallet", "--plan", str(PLAN)]
IMPORTS = "import optimizer.cli, optimizer.plan, optimizer.reasons"  # what `plan` imports (numpy, pandas, HiGHS with them)


def median_run(cmd: list[str], repeat: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of the process, user + system): on a shared machine the CPU time
    is the steadier reading."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(run(cmd))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return float(np.median(walls)), float(np.median(cpus))


def single(repeat: int) -> None:
    py = sys.executable
    (whole, whole_cpu) = median_run([py, "-m", "optimizer", "plan", *SINGLE, "--format", "json"], repeat)
    (lean, lean_cpu) = median_run([py, "-m", "optimizer", "plan", *SINGLE, "--format", "json", "--no-reasons"],
                                  repeat)
    (bare, bare_cpu) = median_run([py, "-c", "pass"], repeat)
    (imports, imports_cpu) = median_run([py, "-c", IMPORTS], repeat)
    sys.path.insert(0, str(ROOT))
    from optimizer.inputs import load_profiles, load_quotes, load_regime
    from optimizer.plan import solve_plan, with_reasons
    from optimizer.plan_file import load_plan

    profile = next(p for p in load_profiles(DATA / "profiles-japan-2025.csv") if p.exchange_id == "bitflyer")
    args = (profile, load_quotes(DATA / "quotes-japan.csv"), load_regime(DATA / "regimes" / "cold-wallet.toml"),
            load_plan(PLAN))
    solve_plan(*args)  # warm-up: first calls pay one-off costs (lazy imports, caches)
    solves, reasons = [], []
    for _ in range(max(repeat, 1)):  # CPU time of this process, as the commands' (a shared machine's wall moves)
        t0 = time.process_time()
        result = solve_plan(*args)
        t1 = time.process_time()
        with_reasons(result)
        solves.append(t1 - t0)
        reasons.append(time.process_time() - t1)
    print(f"\n[plan, one exchange] bitflyer, five-year phase-in, bundled Japanese sheet; median of {repeat} runs")
    print(f"  whole command, with reasons   {whole:6.2f} s wall, {whole_cpu:5.2f} s CPU   (target under 1 s)")
    print(f"  whole command, --no-reasons   {lean:6.2f} s wall, {lean_cpu:5.2f} s CPU")
    print(f"  where the CPU time goes: interpreter start {bare_cpu:.2f} s; + imports {imports_cpu - bare_cpu:.2f} s; "
          f"solve_plan (one LP over 5 years, marginal costs, checks) {np.median(solves):.3f} s; reasons "
          f"{np.median(reasons):.3f} s; the rest (reading, report, JSON) "
          f"{max(whole_cpu - imports_cpu - np.median(solves) - np.median(reasons), 0):.2f} s")


def agreement(ours: pd.DataFrame, user: pd.DataFrame) -> tuple[bool, float]:
    """(statuses identical, largest relative gap of the present values), exchange by exchange."""
    rows = ours[ours["status"] != "error"]
    per = rows.groupby("exchange_id", sort=False).agg(
        pv=("present_value_jpy", "sum"), short=("status", lambda s: (s == "shortfall").any())).reset_index()
    merged = user.merge(per, on="exchange_id", how="left")
    same = bool(((merged["status"] == "shortfall") == merged["short"]).all())
    return same, float(np.max(np.abs(merged["present_value_jpy"] / merged["pv"] - 1)))


def batch(n: int, sample: int, rounds: int) -> None:
    py = sys.executable
    quotes, regime = DATA / "quotes.csv", DATA / "regimes" / "securities-style.toml"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        profiles = tmp / f"profiles-{n}.parquet"
        make_profiles(profiles, n)
        user_out, ours_out = tmp / "user.csv", tmp / "ours.parquet"
        user = [py, str(HERE / "user_plan_script.py"), str(profiles), str(quotes), str(regime), str(PLAN),
                str(user_out), "--limit", str(sample)]
        ours = [py, "-m", "optimizer", "batch", str(profiles), "--plan", str(PLAN), "--quotes", str(quotes),
                "--regime", str(regime), "--out", str(ours_out)]
        per_user, whole = [], []
        for _ in range(rounds):
            per_user.append(run(user) / sample)
            whole.append(run(ours))
        same, gap = agreement(pd.read_parquet(ours_out), pd.read_csv(user_out))
        summary = json.loads(ours_out.with_name(ours_out.stem + ".summary.json").read_text()) \
            if ours_out.with_name(ours_out.stem + ".summary.json").exists() else {}
        ratios = [u * n / o for u, o in zip(per_user, whole)]
        years = pd.read_parquet(ours_out)["fiscal_year"].nunique()
        print(f"\n[batch --plan] {n:,} generated profiles × {years} years (five-year phase-in, bundled sheet, "
              f"securities-style); {rounds} rounds")
        print(f"  user script   {np.median(per_user) * 1e3:8.2f} ms/profile  (fresh PuLP multi-year model + HiGHS, "
              f"present value only; first {sample:,} profiles; median)")
        print(f"  batch --plan  {np.median(whole) / n * 1e3:8.2f} ms/profile  (median {np.median(whole):.1f} s, whole "
              f"command)  → {np.median(ratios):5.2f}× the user script (rounds: "
              f"{', '.join(f'{r:.2f}×' for r in ratios)}; target ≥ 10×)")
        print(f"  statuses identical {same}; present values max relative gap {gap:.1e}")
        if summary.get("seconds") is not None:
            print(f"  of which planning the profiles (reading, solving, rows, summary; the last round): "
                  f"{summary['seconds']:.1f} s; the rest is start-up and writing")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=20000, help="profiles for batch --plan (0 to skip)")
    ap.add_argument("--sample", type=int, default=1000, help="profiles the user script solves")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5, help="runs of the one-exchange plan (0 to skip)")
    args = ap.parse_args()
    if args.repeat:
        single(args.repeat)
    if args.profiles:
        batch(args.profiles, min(args.sample, args.profiles), args.rounds)


if __name__ == "__main__":
    main()
