"""Answers of two source trees of the project, compared on the same data: solve, batch, market and risk under
every preset.

Both trees run with the same Python (this one, or `--python`), each in a process of its own that puts its tree
first on sys.path (checked: `optimizer.__file__` must lie in the tree) and calls `optimizer.cli.main` once per
command, in process (the 21 solves of a preset would otherwise be 21 start-ups). Every path is given to both trees
explicitly, from ONE data folder (`--data`, default the first tree's `data/`), so a difference is the code's, not
the data's: the presets are that folder's `regimes/*.toml`; solve: every exchange of profiles-japan-2025.csv with
quotes-japan.csv, `--format json`; batch: the same files, `--capacity capacity.csv --workers 1`, CSV; market: the
same files and capacity, CSV and its summary JSON; risk: EX05 of profiles.csv with quotes.csv and
loss-models/japan.toml, `--scenarios 20000`, JSON.

Compared: exit codes (a solve with a shortfall exits 3 and still prints its JSON: compared too); every status
exactly; every cost (a field or column whose name holds "cost", the marginal cost aside: it is a derivative, and
counted with the other numbers) within `--tol` relative (default 1e-12); every other number within the same tolerance (or 1e-12 absolute, for values
that are zero in one tree); every string exactly; timings (names ending in "seconds") are counted, not compared. Fields or columns present in one tree only are listed, not
compared. Prints one line per (command, preset) and every difference below it.

Run:  .venv/bin/python benchmarks/compare_trees.py BEFORE_TREE [AFTER_TREE (default: this tree)]
                                                   [--data DIR] [--work DIR] [--tol 1e-12] [--only solve,batch,...]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent.parent

RUNNER = r"""
import contextlib, io, json, sys, traceback
tree, plan_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
import optimizer
from pathlib import Path
assert Path(optimizer.__file__).resolve().is_relative_to(Path(tree).resolve()), optimizer.__file__
from optimizer import cli
for job in json.loads(Path(plan_file).read_text()):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(job["argv"])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            rc = -1
    Path(job["stdout"]).write_text(out.getvalue())
    Path(job["stderr"]).write_text(err.getvalue())
    Path(job["rc"]).write_text(str(rc))
"""


def jobs_for(data: Path, work: Path, only: set[str]) -> list[dict]:
    """The commands, with the output files of one tree's run under `work`."""
    presets = sorted((data / "regimes").glob("*.toml"))
    japan, quotes = data / "profiles-japan-2025.csv", data / "quotes-japan.csv"
    exchanges = pd.read_csv(japan, dtype=str)["exchange_id"].tolist()
    jobs = []

    def add(kind, preset, label, argv, out=None):
        stem = work / f"{kind}.{preset}.{label}"
        jobs.append({"kind": kind, "preset": preset, "label": label, "argv": [str(a) for a in argv],
                     "stdout": f"{stem}.stdout", "stderr": f"{stem}.stderr", "rc": f"{stem}.rc",
                     "out": str(out) if out else None})

    for reg in presets:
        p = reg.stem
        if "solve" in only:
            for ex in exchanges:
                add("solve", p, ex, ["solve", "--profiles", japan, "--exchange", ex, "--quotes", quotes,
                                     "--regime", reg, "--format", "json"])
        if "batch" in only:
            out = work / f"batch.{p}.csv"
            add("batch", p, "all", ["batch", japan, "--quotes", quotes, "--regime", reg, "--capacity",
                                    data / "capacity.csv", "--workers", "1", "--out", out], out)
        if "market" in only:
            out = work / f"market.{p}.csv"
            add("market", p, "all", ["market", japan, "--quotes", quotes, "--regime", reg, "--capacity",
                                     data / "capacity.csv", "--out", out, "--format", "json"], out)
        if "risk" in only:
            add("risk", p, "EX05", ["risk", "--profiles", data / "profiles.csv", "--exchange", "EX05", "--quotes",
                                    data / "quotes.csv", "--regime", reg, "--loss-model",
                                    data / "loss-models" / "japan.toml", "--scenarios", "20000",
                                    "--format", "json"])
    return jobs


def run_tree(python: str, tree: Path, jobs: list[dict], work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    plan = work / "jobs.json"
    plan.write_text(json.dumps(jobs))
    done = subprocess.run([python, "-c", RUNNER, str(tree), str(plan)], cwd=work, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree), "HOME": str(work)})
    if done.returncode != 0:
        raise SystemExit(f"the runner failed in {tree}:\n{done.stderr[-3000:]}")


def number(x):
    """x as a float when it is one (a JSON number or a CSV cell that parses), else None."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def leaf_name(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[")[0]


def same(a, b, tol: float) -> tuple[bool, float]:
    """(equal within the rules, relative gap for numbers)."""
    if isinstance(a, str) and isinstance(b, str) and a == b:
        return True, 0.0
    fa, fb = number(a), number(b)
    if fa is not None and fb is not None:
        if math.isnan(fa) and math.isnan(fb):
            return True, 0.0
        if fa == fb:
            return True, 0.0
        scale = max(abs(fa), abs(fb))
        gap = abs(fa - fb) / scale if scale else 0.0
        return (gap <= tol or abs(fa - fb) <= 1e-12), gap
    return a == b, math.inf


class Tally:
    def __init__(self):
        self.compared = 0
        self.cost_gap = 0.0
        self.statuses_same = True
        self.diffs: list[str] = []
        self.timings = 0
        self.only: dict[str, set[str]] = {"before": set(), "after": set()}

    def field(self, where: str, name: str, a, b, tol: float) -> None:
        if leaf_name(name).endswith("seconds"):  # timings: not answers
            self.timings += 1
            return
        self.compared += 1
        ok, gap = same(a, b, tol)
        if "cost" in leaf_name(name) and "marginal" not in name and gap != math.inf:
            self.cost_gap = max(self.cost_gap, gap)
        if name == "status" and a != b:
            self.statuses_same = False
        if not ok:
            self.diffs.append(f"{where}: {name}: before {a!r} after {b!r}" + (f" (rel {gap:.1e})" if gap != math.inf
                                                                                else ""))


def empty(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x == ""


def compare_json(t: Tally, where: str, a_text: str, b_text: str, tol: float) -> None:
    a, b = dict(flatten(json.loads(a_text))), dict(flatten(json.loads(b_text)))
    for k in sorted(set(a) | set(b)):
        if k not in b:
            t.only["before"].add(k)
        elif k not in a:
            t.only["after"].add(k)
        else:
            t.field(where, k, a[k], b[k], tol)


def compare_csv(t: Tally, where: str, a_path: Path, b_path: Path, tol: float) -> None:
    a, b = pd.read_csv(a_path, dtype=str, keep_default_na=False), pd.read_csv(b_path, dtype=str,
                                                                              keep_default_na=False)
    t.only["before"] |= set(a.columns) - set(b.columns)
    t.only["after"] |= set(b.columns) - set(a.columns)
    if len(a) != len(b) or list(a["exchange_id"]) != list(b["exchange_id"]):
        t.diffs.append(f"{where}: rows differ: before {len(a)} after {len(b)}")
        return
    for col in [c for c in a.columns if c in b.columns]:
        for ex, x, y in zip(a["exchange_id"], a[col], b[col]):
            t.field(f"{where} {ex}", col, x, y, tol)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path, nargs="?", default=HERE)
    ap.add_argument("--data", type=Path, help="the one data folder both trees read (default: BEFORE/data)")
    ap.add_argument("--work", type=Path, help="keep every output here (default: a temporary folder)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--tol", type=float, default=1e-12)
    ap.add_argument("--only", default="solve,batch,market,risk")
    args = ap.parse_args()
    before, after = args.before.resolve(), args.after.resolve()
    data = (args.data or before / "data").resolve()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp)).resolve()
        runs = {}
        for side, tree in (("before", before), ("after", after)):
            jobs = jobs_for(data, work / side, only)
            run_tree(args.python, tree, jobs, work / side)
            runs[side] = jobs
        groups: dict[tuple[str, str], Tally] = {}
        for ja, jb in zip(runs["before"], runs["after"]):
            t = groups.setdefault((ja["kind"], ja["preset"]), Tally())
            where = f"{ja['kind']} {ja['preset']} {ja['label']}"
            rca, rcb = Path(ja["rc"]).read_text(), Path(jb["rc"]).read_text()
            if rca != rcb:
                t.diffs.append(f"{where}: exit code before {rca} after {rcb}; stderr after: "
                               f"{Path(jb['stderr']).read_text()[-300:]!r} before: "
                               f"{Path(ja['stderr']).read_text()[-300:]!r}")
                continue
            if ja["kind"] in ("solve", "risk", "market"):  # exit 3 (a shortfall) still prints its result
                compare_json(t, where, Path(ja["stdout"]).read_text(), Path(jb["stdout"]).read_text(), args.tol)
            if ja["out"]:
                compare_csv(t, where, Path(ja["out"]), Path(jb["out"]), args.tol)
        print(f"before {before}\nafter  {after}\ndata   {data}\n")
        print("| command | preset | values compared | statuses same | largest cost gap (rel) | other differences |"
              " only before | only after | timings (not compared) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (kind, preset), t in groups.items():
            print(f"| {kind} | {preset} | {t.compared:,} | {'yes' if t.statuses_same else 'NO'} | {t.cost_gap:.1e} |"
                  f" {len(t.diffs)} | {len(t.only['before'])} | {len(t.only['after'])} | {t.timings} |")
        for (kind, preset), t in groups.items():
            if t.diffs or t.only["before"] or t.only["after"]:
                print(f"\n## {kind} {preset}")
                for side in ("before", "after"):
                    if t.only[side]:
                        print(f"only {side}: {', '.join(sorted(t.only[side])[:40])}"
                              + (f" … ({len(t.only[side])})" if len(t.only[side]) > 40 else ""))
                for d in t.diffs:
                    print(f"  {d}")
        print("\n# Differences grouped by field (every command and preset)")
        grouped: dict[tuple[str, str], list[str]] = {}
        for (kind, preset), t in groups.items():
            for d in t.diffs:
                parts = d.split(": ")
                key = re.sub(r"\[\d+\]", "[i]", parts[1]) if len(parts) > 2 else parts[-1][:60]
                grouped.setdefault((kind, key), []).append(d)
        for (kind, key), ds in grouped.items():
            gaps = [float(m) for d in ds for m in re.findall(r"\(rel ([0-9.e+-]+)\)", d)]
            print(f"| {kind} | {key} | {len(ds)} | {max(gaps):.1e} |" if gaps else f"| {kind} | {key} | {len(ds)} | — |")


if __name__ == "__main__":
    main()
