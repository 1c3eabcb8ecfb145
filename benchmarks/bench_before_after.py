"""Two source trees of the project timed on the same command lines, in the same run: wall time end to end (start-up,
reading, solving, writing), A/B interleaved for `--rounds` rounds (the order alternates each round: the load of a
shared machine moves), medians, and ratios after ÷ before (below 1: the after tree is faster). The CPU time of each
process (user + system, its children included) is reported beside the wall time: under a shared machine's load it
moves less.

Both trees run with the same Python (this one, or `--python`) as `python -m optimizer …` with `PYTHONPATH=TREE`
(checked once per tree: `optimizer.__file__` must lie in it) and read the same data folder (`--data`, default
BEFORE/data), every path given explicitly, so only the code differs. Cases:
  batch-PRESET   `batch` on profiles-japan-2025.csv (21 exchanges) with quotes-japan.csv and capacity.csv under each
                 preset of DATA/regimes, `--workers 1`
  batch-req20    `batch` on `--req-n` generated profiles (bench_batch.make_profiles) × 20 requirement-basis quotes
                 (bench_solve.make_quotes(20, seed=20)) under bench_batch's regime, `--workers 1`
  market-bundled-joint / -decompose   `market` on profiles-japan-2025.csv, quotes-japan.csv, capacity.csv
                 (the default preset securities-style), `--method joint` and `--method decompose`
  market-N-joint / -decompose   `market` on `--market-n` generated exchanges (bench_market.profiles) × 20
                 requirement-basis quotes (bench_solve.make_quotes(20, seed=5)), each counterparty's capacity half
                 of what the exchanges buy from it alone (measured once, untimed, with this tree's batch.run), as
                 bench_market.py sets it
Each command must exit 0 (or 3, a shortfall, in both trees alike); its output goes to a fresh file each run.

Run:  .venv/bin/python benchmarks/bench_before_after.py BEFORE_TREE [AFTER_TREE (default: this tree)]
          [--rounds 3] [--req-n 20000] [--market-n 2000] [--data DIR] [--only batch-presets,batch-req,market]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

OK_CODES = (0, 3)


def env_for(tree: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(tree))


def check_tree(python: str, tree: Path) -> None:
    done = subprocess.run([python, "-c", "import optimizer; print(optimizer.__file__)"], env=env_for(tree),
                          cwd="/", capture_output=True, text=True)
    where = Path(done.stdout.strip()).resolve()
    if not where.is_relative_to(tree):
        raise SystemExit(f"PYTHONPATH={tree} imports optimizer from {where}, not from the tree")


def cpu_of_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(python: str, tree: Path, argv: list[str], work: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process and its children, exit code)."""
    cpu = cpu_of_children()
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "optimizer", *argv], env=env_for(tree), cwd=work, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in OK_CODES:
        raise SystemExit(f"{tree}: optimizer {' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, cpu_of_children() - cpu, done.returncode


def market_inputs(tmp: Path, n: int) -> tuple[Path, Path, Path, Path]:
    """bench_market's exchanges and quotes as files, and its capacity (half of each counterparty's unlimited demand)."""
    import bench_batch
    import bench_market
    from bench_solve import REGIME, make_quotes
    from optimizer import batch

    quotes = make_quotes(20, seed=5)
    ps = bench_market.profiles(n)
    free = batch.run(ps, quotes, REGIME, None, workers=1)
    demand = {r["counterparty"]: r["cover_jpy"] for r in free.summary["insurance_by_counterparty"]}
    prof, qfile, cap, reg = (tmp / f"market-{n}.csv", tmp / "market-quotes.csv", tmp / f"capacity-{n}.csv",
                             tmp / "bench.toml")
    with open(prof, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["exchange_id", "customer_assets_jpy", "hot_wallet_share", "annual_trading_volume_jpy",
                    "cost_of_capital", "reserve_yield"])
        for p in ps:
            w.writerow([p.exchange_id, repr(p.customer_assets_jpy), repr(p.hot_wallet_share),
                        repr(p.annual_trading_volume_jpy), repr(p.cost_of_capital), repr(p.reserve_yield)])
    bench_batch.write_quotes(qfile, quotes)
    with open(cap, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["counterparty", "capacity_jpy"])
        for c, v in sorted(demand.items()):
            if v > 0:
                w.writerow([c, repr(0.5 * v)])
    reg.write_text(bench_batch.REGIME_TOML)
    return prof, qfile, cap, reg


def cases(data: Path, tmp: Path, req_n: int, market_n: int, only: set[str]) -> list[tuple[str, list[str], str]]:
    """(name, argv with {out} for the output stem, output suffix)."""
    import bench_batch
    from bench_solve import make_quotes

    japan, quotes, capacity = data / "profiles-japan-2025.csv", data / "quotes-japan.csv", data / "capacity.csv"
    out = []
    if "batch-presets" in only:
        for reg in sorted((data / "regimes").glob("*.toml")):
            out.append((f"batch-{reg.stem}", ["batch", str(japan), "--quotes", str(quotes), "--regime", str(reg),
                                              "--capacity", str(capacity), "--workers", "1"], ".csv"))
    if "batch-req" in only and req_n:
        prof, req, reg = tmp / f"profiles-{req_n}.parquet", tmp / "req20.csv", tmp / "bench.toml"
        bench_batch.make_profiles(prof, req_n)
        bench_batch.write_quotes(req, make_quotes(20, seed=20))
        reg.write_text(bench_batch.REGIME_TOML)
        out.append((f"batch-req20-{req_n}", ["batch", str(prof), "--quotes", str(req), "--regime", str(reg),
                                             "--workers", "1"], ".parquet"))
    if "market" in only:
        default = data / "regimes" / "securities-style.toml"
        for method in ("joint", "decompose"):
            out.append((f"market-bundled-{method}", ["market", str(japan), "--quotes", str(quotes), "--regime",
                                                     str(default), "--capacity", str(capacity), "--method", method,
                                                     "--format", "json"], ".csv"))
        if market_n:
            prof, q, cap, reg = market_inputs(tmp, market_n)
            for method in ("joint", "decompose"):
                out.append((f"market-{market_n}-{method}", ["market", str(prof), "--quotes", str(q), "--regime",
                                                            str(reg), "--capacity", str(cap), "--method", method,
                                                            "--format", "json"], ".csv"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path, nargs="?", default=ROOT)
    ap.add_argument("--data", type=Path, help="the one data folder both trees read (default: BEFORE/data)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--req-n", type=int, default=20000, help="generated requirement-basis profiles; 0 to skip")
    ap.add_argument("--market-n", type=int, default=2000, help="generated market exchanges; 0 to skip")
    ap.add_argument("--only", default="batch-presets,batch-req,market")
    args = ap.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    data = (args.data or trees["before"] / "data").resolve()
    for tree in trees.values():
        check_tree(args.python, tree)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        todo = cases(data, tmp, args.req_n, args.market_n, set(args.only.split(",")))
        times: dict[str, dict[str, list[float]]] = {name: {"before": [], "after": []} for name, _, _ in todo}
        cpus: dict[str, dict[str, list[float]]] = {name: {"before": [], "after": []} for name, _, _ in todo}
        codes: dict[str, dict[str, set[int]]] = {name: {"before": set(), "after": set()} for name, _, _ in todo}
        k = 0
        for r in range(args.rounds):
            for name, argv, suffix in todo:
                order = ("before", "after") if (r + k) % 2 == 0 else ("after", "before")
                k += 1
                for side in order:
                    run_dir = Path(tempfile.mkdtemp(dir=tmp))
                    seconds, cpu, rc = timed(args.python, trees[side], [*argv, "--out", str(run_dir / f"out{suffix}")],
                                        run_dir)
                    times[name][side].append(seconds)
                    cpus[name][side].append(cpu)
                    codes[name][side].add(rc)
                print(f"round {r + 1} {name}: before {times[name]['before'][-1]:.2f} s, after "
                      f"{times[name]['after'][-1]:.2f} s", file=sys.stderr, flush=True)
    print(f"before {trees['before']}\nafter  {trees['after']}\ndata   {data}\npython {args.python}, "
          f"{args.rounds} rounds, A/B interleaved\n")
    print("| case | before median s | after median s | after ÷ before (medians) | per-round ratios |"
          " CPU s before / after (medians) | CPU after ÷ before | exit codes |")
    print("|---|---|---|---|---|---|---|---|")
    tb = ta = 0.0
    for name, _, _ in todo:
        b, a = times[name]["before"], times[name]["after"]
        mb, ma = statistics.median(b), statistics.median(a)
        tb, ta = tb + mb, ta + ma
        rounds = ", ".join(f"{y / x:.2f}" for x, y in zip(b, a))
        same = "same" if codes[name]["before"] == codes[name]["after"] else "DIFFER"
        cb, ca = statistics.median(cpus[name]["before"]), statistics.median(cpus[name]["after"])
        print(f"| {name} | {mb:.2f} | {ma:.2f} | {ma / mb:.2f} | {rounds} | {cb:.2f} / {ca:.2f} | {ca / cb:.2f} | "
              f"{','.join(map(str, sorted(codes[name]['before'])))} ({same}) |")
    print(f"| all cases (sum of medians) | {tb:.2f} | {ta:.2f} | {ta / tb:.2f} | | | | |")


if __name__ == "__main__":
    main()
