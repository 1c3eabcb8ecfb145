"""Many exchange profiles: chunks, resume, a local process pool or a Dask cluster (DESIGN.md "Batch semantics").

- One bad profile never stops a batch: it becomes a row with status `error` and the message.
- Finished chunks are checkpointed in a work folder next to the output (`.<name>.parts/`), each written
  atomically; an interrupted run (even `kill -9`) resumes without redoing them, and the output file appears
  atomically at the end, identical to an uninterrupted run's.
- Profiles are read in chunks and results are streamed to the output: memory does not grow with the count.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .domain import ExchangeProfile, Quote, Regime
from .inputs import InputError, check_profile_columns, load_quotes, load_regime, parse_profile
from .model import Instance, Resolver
from .regime import credit_factor
from .solution import SCALAR_KEYS, SolveError, error_result

FORMAT_VERSION = "batch-1"
DEFAULT_CHUNK = 512
EXTRA_KEYS: tuple[str, ...] = ("error", "insurance_credit_jpy", "derivative_credit_jpy", "cash_share",
                               "n_instruments", "source_row")
COLUMNS: tuple[str, ...] = SCALAR_KEYS + EXTRA_KEYS
_TEXT = {"exchange_id", "status", "error"}
_INT = {"n_instruments", "source_row"}


# ------------------------------------------------------------------ reading profiles in chunks

def _count_rows(path: Path) -> int | None:
    if path.suffix.lower() == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return max(lines - 1, 0)


def _csv_chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    source = str(path)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(source, "the file is empty; expected a header row and data rows") from None
        check_profile_columns(header, source)
        chunk: list[dict[str, Any]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                # keep the row: it becomes an error row naming its shape problem
                chunk.append({"__shape__": f"has {len(cells)} cells but the header has {len(header)}",
                              "exchange_id": cells[header.index("exchange_id")] if len(cells) > header.index("exchange_id") else ""})
            else:
                chunk.append(dict(zip(header, cells)))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def _parquet_chunks(path: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    pf = pq.ParquetFile(path)
    check_profile_columns(pf.schema_arrow.names, str(path))
    for batch in pf.iter_batches(batch_size=size):
        yield batch.to_pylist()


def _frame_chunks(frame: pd.DataFrame, size: int, source: str) -> Iterator[list[dict[str, Any]]]:
    check_profile_columns(frame.columns, source)
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size].to_dict("records")


def _profile_chunks(profiles: Sequence[ExchangeProfile], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(profiles), size):
        yield list(profiles[start:start + size])


def _given_id(raw: Any) -> str:
    """The exchange_id of a raw row (dict of cells) or of a profile, as given."""
    return raw.exchange_id if isinstance(raw, ExchangeProfile) else str(raw.get("exchange_id") or "").strip()


# ------------------------------------------------------------------ the work of one chunk (runs in a worker)

@dataclass(frozen=True)
class ChunkTask:
    index: int
    first_row: int
    rows: list  # dicts of raw cells, or ExchangeProfile objects
    duplicate_of: dict  # position in chunk → row number of the first occurrence of the same exchange_id
    quotes: tuple[Quote, ...]
    regime: Regime
    source: str


@dataclass
class ChunkResult:
    index: int
    frame: pd.DataFrame
    by_quote: dict[str, list[float]] = field(default_factory=dict)  # quote_id → [cover, credit, premium, buyers]


def _row_for(solution) -> dict[str, Any]:
    d = solution.to_dict()
    row = {k: d[k] for k in SCALAR_KEYS}
    R = solution.requirement_jpy
    row.update(
        error="",
        insurance_credit_jpy=sum(l.credit_jpy for l in solution.lines if not l.quote.is_derivative),
        derivative_credit_jpy=sum(l.credit_jpy for l in solution.lines if l.quote.is_derivative),
        cash_share=solution.cash_reserve_jpy / R if R > 0 else np.nan,
        n_instruments=len(solution.lines),
    )
    return row


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in COLUMNS:
        if col in _TEXT:
            frame[col] = frame[col].fillna("").astype(str)
        elif col in _INT:
            frame[col] = frame[col].fillna(0).astype("int64")
        else:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def solve_chunk(task: ChunkTask) -> ChunkResult:
    """Solve every profile of one chunk; bad rows and solver failures become error rows."""
    rows: list[dict[str, Any]] = []
    by_quote: dict[str, list[float]] = {}
    # One warm-started LP per chunk: the answer for a chunk never depends on which process solved what before.
    resolver = Resolver()
    kappa = {q.quote_id: credit_factor(q, task.regime) for q in task.quotes}
    for pos, raw in enumerate(task.rows):
        row_no = task.first_row + pos
        given_id = _given_id(raw)
        try:
            if pos in task.duplicate_of:
                raise InputError(task.source, f"duplicate exchange_id {given_id!r} (first seen in row "
                                 f"{task.duplicate_of[pos]}); expected unique ids", row_no, "exchange_id", given_id)
            if isinstance(raw, dict) and "__shape__" in raw:
                raise InputError(task.source, raw["__shape__"] + "; expected one cell per column", row_no)
            profile = raw if isinstance(raw, ExchangeProfile) else parse_profile(raw, task.source, row_no)
            solution = resolver.solve(Instance.build(profile, task.quotes, task.regime, credit=kappa))
        except (InputError, SolveError) as exc:
            row = error_result(given_id, str(exc))
        else:
            row = _row_for(solution)
            for line in solution.lines:
                agg = by_quote.setdefault(line.quote.quote_id, [0.0, 0.0, 0.0, 0.0])
                agg[0] += line.cover_jpy
                agg[1] += line.credit_jpy
                agg[2] += line.annual_cost_jpy
                agg[3] += 1
        row["source_row"] = row_no
        rows.append(row)
    return ChunkResult(task.index, _frame(rows), by_quote)


# ------------------------------------------------------------------ checkpoints

def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fingerprint(profiles: Any, quotes: Sequence[Quote], regime: Regime, chunk_size: int) -> str:
    def canonical(obj: Any) -> Any:  # frozensets print in a per-process order: sort them
        if isinstance(obj, (frozenset, set)):
            return sorted(obj)
        if isinstance(obj, dict):
            return {k: canonical(v) for k, v in sorted(obj.items())}
        if isinstance(obj, (list, tuple)):
            return [canonical(v) for v in obj]
        return obj

    described = canonical([dataclasses.asdict(q) for q in quotes] + [dataclasses.asdict(regime)])
    h = hashlib.sha256(f"{FORMAT_VERSION}|{chunk_size}|{json.dumps(described, default=str)}".encode())
    if isinstance(profiles, (str, Path)):
        with open(profiles, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    elif isinstance(profiles, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(profiles.astype(str), index=False).values.tobytes())
    else:
        h.update(json.dumps(canonical([dataclasses.asdict(p) for p in profiles]), default=str).encode())
    return h.hexdigest()


class _Parts:
    """The work folder of one output: one Parquet file (and a JSON of per-quote totals) per finished chunk."""

    def __init__(self, out: Path, fingerprint: str):
        self.dir = out.parent / f".{out.name}.parts"
        manifest = self.dir / "manifest.json"
        if self.dir.exists():
            try:
                same = json.loads(manifest.read_text())["fingerprint"] == fingerprint
            except (OSError, ValueError, KeyError):
                same = False
            if not same:
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            _atomic_write_bytes(manifest, json.dumps({"fingerprint": fingerprint}).encode())

    def _paths(self, index: int) -> tuple[Path, Path]:
        return self.dir / f"part-{index:07d}.parquet", self.dir / f"part-{index:07d}.json"

    def done(self, index: int) -> bool:
        return self._paths(index)[0].exists()

    def save(self, result: ChunkResult) -> None:
        table_path, quotes_path = self._paths(result.index)
        _atomic_write_bytes(quotes_path, json.dumps(result.by_quote).encode())
        buffer = io.BytesIO()
        result.frame.to_parquet(buffer, index=False)
        _atomic_write_bytes(table_path, buffer.getvalue())  # written last: marks the chunk finished

    def load(self, index: int) -> ChunkResult:
        table_path, quotes_path = self._paths(index)
        return ChunkResult(index, pd.read_parquet(table_path), json.loads(quotes_path.read_text()))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class _Memory:
    """Stand-in for _Parts when there is no output file: nothing to resume, so nothing is kept."""

    def done(self, index: int) -> bool:
        return False

    def save(self, result: ChunkResult) -> None:
        pass

    def remove(self) -> None:
        pass


# ------------------------------------------------------------------ the summary

@dataclass
class _Summary:
    counts: dict[str, int] = field(default_factory=lambda: {"optimal": 0, "shortfall": 0, "error": 0})
    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("required_coverage_jpy", "annual_cost_jpy", "all_cash_cost_jpy", "savings_jpy", "cash_reserve_jpy",
         "shortfall_jpy", "insurance_credit_jpy", "derivative_credit_jpy"), 0.0))
    shortfall_ids: list[str] = field(default_factory=list)
    error_ids: list[str] = field(default_factory=list)
    cash_shares: list[np.ndarray] = field(default_factory=list)
    by_quote: dict[str, list[float]] = field(default_factory=dict)

    def add(self, result: ChunkResult) -> None:
        f = result.frame
        for status, n in f["status"].value_counts().items():
            self.counts[status] = self.counts.get(status, 0) + int(n)
        for key in self.totals:
            self.totals[key] += float(f[key].sum(skipna=True))
        self.shortfall_ids += list(f.loc[f["status"] == "shortfall", "exchange_id"])[: max(0, 50 - len(self.shortfall_ids))]
        self.error_ids += list(f.loc[f["status"] == "error", "exchange_id"])[: max(0, 50 - len(self.error_ids))]
        self.cash_shares.append(f["cash_share"].dropna().to_numpy(dtype="float32"))
        for qid, agg in result.by_quote.items():
            mine = self.by_quote.setdefault(qid, [0.0, 0.0, 0.0, 0.0])
            for i in range(4):
                mine[i] += agg[i]

    def to_dict(self, quotes: Sequence[Quote], seconds: float) -> dict[str, Any]:
        shares = np.concatenate(self.cash_shares) if self.cash_shares else np.zeros(0)
        quantiles = {f"p{int(q * 100):02d}": float(np.quantile(shares, q)) for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)} \
            if shares.size else {}
        counterparty = {q.quote_id: q.counterparty for q in quotes}
        per_quote = [{"quote_id": qid, "counterparty": counterparty.get(qid, ""), "cover_jpy": a[0], "credit_jpy": a[1],
                      "premium_jpy": a[2], "exchanges": int(a[3])} for qid, a in sorted(self.by_quote.items())]
        per_cp: dict[str, dict[str, float]] = {}
        for row in per_quote:
            cp = per_cp.setdefault(row["counterparty"], {"counterparty": row["counterparty"], "cover_jpy": 0.0,
                                                          "credit_jpy": 0.0, "premium_jpy": 0.0})
            for k in ("cover_jpy", "credit_jpy", "premium_jpy"):
                cp[k] += row[k]
        return {
            "profiles": sum(self.counts.values()), "status_counts": self.counts, "totals": self.totals,
            "shortfall_exchanges": self.shortfall_ids, "error_exchanges": self.error_ids,
            "cash_share_quantiles": quantiles, "insurance_by_quote": per_quote,
            "insurance_by_counterparty": sorted(per_cp.values(), key=lambda r: -r["credit_jpy"]),
            "seconds": seconds,
        }


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as a table for a terminal."""
    from .report import pct, text_table, yen

    t, c = summary["totals"], summary["status_counts"]
    lines = [f"Profiles        {summary['profiles']:,}  (optimal {c.get('optimal', 0):,}, shortfall "
             f"{c.get('shortfall', 0):,}, error {c.get('error', 0):,})",
             f"Requirement     {yen(t['required_coverage_jpy'])}",
             f"Annual cost     {yen(t['annual_cost_jpy'])}",
             f"All cash        {yen(t['all_cash_cost_jpy'])}  (exchanges for which all cash is an option)",
             f"Savings         {yen(t['savings_jpy'])}",
             f"Cash reserves   {yen(t['cash_reserve_jpy'])}",
             f"Insurance credit {yen(t['insurance_credit_jpy'])}; derivative credit {yen(t['derivative_credit_jpy'])}",
             f"Shortfall       {yen(t['shortfall_jpy'])}"]
    if summary["shortfall_exchanges"]:
        lines.append("In shortfall    " + ", ".join(summary["shortfall_exchanges"][:20]))
    if summary["error_exchanges"]:
        lines.append("Errors          " + ", ".join(e or "(no id)" for e in summary["error_exchanges"][:20]))
    q = summary["cash_share_quantiles"]
    if q:
        lines.append("Cash share of R " + "  ".join(f"{k}={pct(v, 1)}" for k, v in q.items()))
    if summary["insurance_by_counterparty"]:
        lines += ["", "Cover bought by counterparty:",
                  text_table(pd.DataFrame(summary["insurance_by_counterparty"]))]
    lines.append(f"\n{summary['profiles']:,} profiles in {summary['seconds']:.1f} s")
    return "\n".join(lines)


# ------------------------------------------------------------------ running

@dataclass
class BatchResult:
    summary: dict[str, Any]
    out: Path | None = None
    results: pd.DataFrame | None = None  # only when no output file was asked for


def _progress_bar(enabled: bool, total: int | None):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("profiles"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   transient=False, console=Console(stderr=True))
    bar.start()
    bar.add_task("solve", total=total, rate="")
    return bar


def run(profiles: str | Path | pd.DataFrame | Sequence[ExchangeProfile], quotes: str | Path | Sequence[Quote],
        regime: str | Path | Regime, out: str | Path | None = None, *, workers: int | None = None,
        scheduler: str | None = None, progress: bool = False, chunk_size: int = DEFAULT_CHUNK,
        on_progress: Callable[[int, int | None], None] | None = None) -> BatchResult:
    """Solve every profile; write results (CSV or Parquet by extension) and a summary JSON next to them.

    profiles: a CSV/Parquet path, a DataFrame of profile columns, or ExchangeProfile objects. quotes, regime:
    paths or domain objects. workers: local processes (default: all cores; 1 runs in this process).
    scheduler: a Dask scheduler address; the same chunks then run on that cluster. Raises InputError for a bad
    quotes or regime file or a bad profiles header; bad profile rows become error rows.
    """
    started = time.perf_counter()
    quotes = tuple(load_quotes(quotes) if isinstance(quotes, (str, Path)) else quotes)
    regime = load_regime(regime) if isinstance(regime, (str, Path)) else regime
    if isinstance(profiles, (str, Path)):
        path = Path(profiles)
        if not path.is_file():
            raise InputError(str(path), "file not found")
        source, total = str(path), _count_rows(path)
        chunks = (_parquet_chunks if path.suffix.lower() == ".parquet" else _csv_chunks)(path, chunk_size)
    elif isinstance(profiles, pd.DataFrame):
        source, total, chunks = "profiles", len(profiles), _frame_chunks(profiles, chunk_size, "profiles")
    else:
        profiles = list(profiles)
        source, total, chunks = "profiles", len(profiles), _profile_chunks(profiles, chunk_size)

    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(str(out_path), "unknown output type; expected .csv or .parquet", column="--out")
    store: _Parts | _Memory = _Parts(out_path, _fingerprint(profiles, quotes, regime, chunk_size)) \
        if out_path is not None else _Memory()

    bar = _progress_bar(progress and sys.stderr.isatty(), total)
    done_rows = 0

    def advance(n: int) -> None:
        nonlocal done_rows
        done_rows += n
        if bar is not None:
            rate = done_rows / max(time.perf_counter() - started, 1e-9)
            bar.update(bar.task_ids[0], completed=done_rows, rate=f"{rate:,.0f}/s")
        if on_progress is not None:
            on_progress(done_rows, total)

    sink = _Sink(out_path, store)
    try:
        tasks = _Tasks(chunks, store, quotes, regime, source, advance)
        for result in _execute(iter(tasks), workers, scheduler):
            store.save(result)
            sink.put(result)
            advance(len(result.frame))
        sink.finish(tasks.count)
    finally:
        sink.close()
        if bar is not None:
            bar.stop()

    info = sink.summary.to_dict(quotes, time.perf_counter() - started)
    if out_path is not None:
        _atomic_write_bytes(summary_path(out_path), (json.dumps(info, indent=2, allow_nan=False, default=float) + "\n").encode())
        store.remove()
        return BatchResult(info, out_path)
    results = pd.concat(sink.frames, ignore_index=True) if sink.frames else _frame([])
    return BatchResult(info, None, results)


class _Sink:
    """Chunk results, whatever order they finish in, written out in file order as soon as they can be.

    With an output file they are appended to a hidden temporary file next to it, renamed over the output at the
    end (atomic); chunks finished by an earlier, interrupted run are read back from their checkpoints in turn.
    Without an output file the frames are kept for the caller. Every result is also added to the summary.
    """

    def __init__(self, out: Path | None, store):
        self.out, self.store = out, store
        self.tmp = out.with_name(f".{out.name}.tmp") if out is not None else None
        self.next = 0
        self.waiting: dict[int, ChunkResult] = {}
        self.summary = _Summary()
        self.frames: list[pd.DataFrame] = []
        self._csv = None
        self._parquet = None

    def put(self, result: ChunkResult) -> None:
        self.waiting[result.index] = result
        self._drain()

    def _drain(self) -> None:
        while True:
            if self.next in self.waiting:
                result = self.waiting.pop(self.next)
            elif self.out is not None and self.store.done(self.next):  # finished by an earlier run
                result = self.store.load(self.next)
            else:
                return
            self._write(result)
            self.next += 1

    def _open(self, frame: pd.DataFrame) -> None:
        """Open the temporary output on first use (CSV: with its header; Parquet: with the frame's schema)."""
        if self.out.suffix.lower() == ".parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, pa.Table.from_pandas(frame, preserve_index=False).schema)
        elif self._csv is None:
            self._csv = open(self.tmp, "w", encoding="utf-8", newline="")
            _frame([]).to_csv(self._csv, index=False)

    def _write(self, result: ChunkResult) -> None:
        self.summary.add(result)
        if self.out is None:
            self.frames.append(result.frame)
            return
        self._open(result.frame)
        if self._parquet is not None:
            self._parquet.write_table(pa.Table.from_pandas(result.frame, preserve_index=False))
        else:
            result.frame.to_csv(self._csv, index=False, header=False)

    def finish(self, n_chunks: int) -> None:
        """All chunks are done: write what is left and put the output file in place."""
        self._drain()
        if self.next != n_chunks:
            raise RuntimeError(f"batch ended with chunks {self.next}..{n_chunks - 1} missing")
        if self.out is None:
            return
        self._open(_frame([]))  # an output with no rows still gets its header
        self.close()
        os.replace(self.tmp, self.out)

    def close(self) -> None:
        if self._csv is not None:
            self._csv.flush()
            os.fsync(self._csv.fileno())
            self._csv.close()
            self._csv = None
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


def summary_path(out: Path) -> Path:
    return out.with_name(out.stem + ".summary.json")


class _Tasks:
    """Chunk tasks for the chunks not finished yet; exchange ids are checked for duplicates across the file.

    Iterating reads the profiles lazily; `count` is the number of chunks seen so far (all of them at the end).
    """

    def __init__(self, chunks: Iterable[list], store, quotes, regime, source: str, advance):
        self.chunks, self.store, self.quotes, self.regime, self.source = chunks, store, quotes, regime, source
        self.advance = advance
        self.count = 0

    def __iter__(self) -> Iterator[ChunkTask]:
        seen: dict[str, int] = {}
        row = 1
        for index, rows in enumerate(self.chunks):
            duplicates = {}
            for pos, raw in enumerate(rows):
                key = _given_id(raw)
                if key:
                    if key in seen:
                        duplicates[pos] = seen[key]
                    else:
                        seen[key] = row + pos
            self.count = index + 1
            if self.store.done(index):
                self.advance(len(rows))
            else:
                yield ChunkTask(index, row, rows, duplicates, self.quotes, self.regime, self.source)
            row += len(rows)


def _execute(tasks: Iterator[ChunkTask], workers: int | None, scheduler: str | None) -> Iterator[ChunkResult]:
    """Run chunk tasks with a bounded number in flight, yielding results as they finish (any order)."""
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler) as client:
            window = max(2, 2 * sum(client.nthreads().values()))
            running = as_completed()
            for task in tasks:
                running.add(client.submit(solve_chunk, task, pure=False))
                while running.count() >= window:
                    yield next(running).result()
            for fut in running:
                yield fut.result()
        return
    workers = workers or os.cpu_count() or 1
    if workers <= 1:
        for task in tasks:
            yield solve_chunk(task)
        return
    # spawn, not fork: the caller may be multi-threaded (Streamlit, Dask), and fork would copy its locks
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = set()
        for task in tasks:
            pending.add(pool.submit(solve_chunk, task))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        for fut in pending:
            yield fut.result()


def cli_batch(args) -> int:
    """`python -m optimizer batch …`: run, print the summary table; exit 2 on a bad quotes/regime/profiles file."""
    out = Path(args.out)
    result = run(args.profiles, args.quotes, args.regime, out, workers=args.workers, scheduler=args.scheduler,
                 progress=True, chunk_size=getattr(args, "chunk_size", None) or DEFAULT_CHUNK)
    print(summary_text(result.summary))
    print(f"\nResults: {out}\nSummary: {summary_path(out)}")
    return 0
