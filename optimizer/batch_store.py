"""Where a batch's results live on disk: one run per output, checkpoints that prove themselves, atomic output.

Next to an output `RESULTS.csv` a run keeps:
- `.RESULTS.csv.lock`: held with `flock` for the run's lifetime and recording who holds it (pid, host, start
  time, kind: batch or market). A second run on the same output (a batch or a market) is refused at once, naming
  the holder. The kernel drops the lock when the holder dies, even by `kill -9`, so a stale lock file never
  blocks anyone.
- `.RESULTS.csv.parts/`: `manifest.json` (a fingerprint of the inputs) and, per finished chunk,
  `part-NNNNNNN.parquet` (its rows) and `part-NNNNNNN.json` (chunk index, first row, row count and the sha256
  of the Parquet bytes), the JSON written last. A part is reused only if every one of those checks holds; any
  other part is recomputed (and counted), never trusted and never an error.
- temporary files from `tempfile.mkstemp` in the output's folder (random names, `O_EXCL`: a link planted there
  is never followed), renamed over their target when complete. The results and their summary are replaced
  together, both or neither (`replace_with_summary`).

Every OS error on the output (missing folder, read-only folder, full disk) becomes an `OutputError` naming the
path: the command line reports it like bad input (exit 2).
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ._lazy import pandas as pd
from ._lazy import pyarrow as pa
from ._lazy import pyarrow_parquet as pq

from .inputs import InputError
from .report import neutralize

PART_FORMAT = "batch-part-2"   # bump when the layout of a part or its sidecar changes: old parts are then recomputed
_BY_QUOTE_KEY = b"reserve_optimizer.by_quote"  # per-quote totals ride inside the Parquet file, under its checksum


class OutputError(InputError):
    """The output cannot be written (or is busy): reported like bad input, `error: PATH: reason`, exit 2."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(str(path), reason)

    @classmethod
    def from_os(cls, path: str | Path, exc: OSError) -> "OutputError":
        """An OSError met while writing `path`, in words: which folder is missing, what the system said."""
        path = Path(path)
        if exc.errno == errno.ENOENT and not path.parent.is_dir():
            return cls(path, f"the folder {path.parent} does not exist")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return cls(path, f"cannot write in {path.parent} ({exc.strerror or exc})")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return cls(path, f"{exc.strerror or 'no space left on the device'}; finished chunks are kept: free some "
                             "space and run the same command again")
        return cls(path, exc.strerror or str(exc))


def summary_path(out: Path) -> Path:
    """RESULTS.csv → RESULTS.summary.json."""
    return out.with_name(out.stem + ".summary.json")


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


def parts_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.parts")


# ------------------------------------------------------------------ writing bytes safely

def _write_all(fd: int, data: bytes) -> None:
    """Every byte of `data` to `fd` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _FdSink(io.RawIOBase):
    """A write-only file object over a descriptor, so Parquet bytes go through the same `_write_all`."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        _write_all(self.fd, bytes(data))
        return len(data)


_TEMP_NAME = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")  # what tempfile.mkstemp makes from _temp_for's prefix


def _file_mode() -> int:
    """The mode an ordinary new file gets here (0o666 less the umask): mkstemp's 0o600 is for the temporary only."""
    try:
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _temp_for(target: Path) -> tuple[int, Path]:
    """A new temporary file in target's folder: random name, created with O_EXCL (a planted link is never
    followed), given the mode the finished file should have."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
    except OSError:
        os.close(fd)
        _unlink_quietly(Path(name))
        raise
    return fd, Path(name)


def _synced_temp(path: Path, data: bytes) -> Path:
    """`data` in a new temporary file next to `path`, fsynced and closed (its path; the caller renames or removes it)."""
    fd, tmp = _temp_for(path)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def write_atomic(path: str | Path, data: bytes, *, report_as: str | Path | None = None) -> None:
    """Write `data` to a temporary file next to `path`, fsync it, rename it over `path`; OSError → OutputError."""
    path = Path(path)
    tmp: Path | None = None
    try:
        tmp = _synced_temp(path, data)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError.from_os(report_as or path, exc) from None
    finally:
        if tmp is not None:
            _unlink_quietly(tmp)


def replace_with_summary(results_tmp: Path, out: Path, summary: bytes) -> None:
    """Put a finished results file (`results_tmp`, complete and fsynced, in out's folder) in place as `out` together
    with its summary (`summary_path(out)`): either both are replaced or neither.

    The summary is written to a temporary file first; then it is renamed over the old summary, and the results
    over the old results. If the second rename fails, the old summary is put back (kept until then as a hard
    link), or the new one removed when there was none. Only a crash between the two renames (microseconds apart)
    can leave the new summary beside the old results. OSError → OutputError naming the path that failed.
    """
    target = summary_path(out)
    tmp: Path | None = None
    backup: Path | None = None
    failing = target
    try:
        tmp = _synced_temp(target, summary)
        if target.is_file() and not target.is_symlink():
            backup = _hard_link(target)
        os.replace(tmp, target)
        tmp = None
        failing = out
        try:
            os.replace(results_tmp, out)
        except OSError:
            if backup is not None:
                os.replace(backup, target)
                backup = None
            else:
                _unlink_quietly(target)
            raise
        _fsync_folder(out.parent)
    except OSError as exc:
        raise OutputError.from_os(failing, exc) from None
    finally:
        for left in (tmp, backup):
            if left is not None:
                _unlink_quietly(left)


def write_with_summary(out: Path, content: bytes, summary: bytes) -> None:
    """`content` as `out` and `summary` as its summary, both or neither (`replace_with_summary`)."""
    tmp: Path | None = None
    try:
        with _os_errors(out):
            fd, tmp = _temp_for(out)
            try:
                _write_all(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
        replace_with_summary(tmp, out, summary)
    finally:
        if tmp is not None:
            _unlink_quietly(tmp)


def write_market(out: Path, rows: pd.DataFrame, summary: dict) -> Path:
    """A market's rows as `out` (.parquet, or formula-safe CSV) and its summary beside it, both or neither; call
    while holding the output's lock. Returns `out`."""
    from .report import csv_bytes

    remove_stale_temporaries(out)
    if out.suffix.lower() == ".parquet":
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        content = buffer.getvalue()
    else:
        content = csv_bytes(rows)  # formula-safe, like every CSV export
    text = json.dumps(summary, indent=2, allow_nan=False, default=float) + "\n"
    write_with_summary(out, content, text.encode())
    return out


def _hard_link(path: Path) -> Path:
    """A second name for `path` in its folder with a temporary file's name (removed like one if left behind)."""
    for _ in range(100):
        name = path.with_name(f".{path.name}.{os.urandom(6).hex()[:8]}.tmp")
        try:
            os.link(path, name)
            return name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _fsync_folder(folder: Path) -> None:
    """The renames in `folder` on disk (best effort: not every file system lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _os_errors(path: Path):
    """OSError inside the block → OutputError naming `path`."""
    try:
        yield
    except OSError as exc:
        raise OutputError.from_os(path, exc) from None


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ------------------------------------------------------------------ one run per output

class OutputLock:
    """An exclusive lock on an output for a run's lifetime (`with OutputLock(out): …`).

    Raises OutputError at once if another run holds it, naming that run (pid, host, start time).
    """

    def __init__(self, out: Path, kind: str = "batch"):
        """`kind`: what the run holding it is (batch, market), recorded for the message a second run gets."""
        self.out, self.path, self.kind = out, lock_path(out), kind
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        while True:
            try:
                # O_NOFOLLOW: a link planted at the lock's name is refused, not followed
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise OutputError(self.out, f"the lock file {self.path.name} is a symbolic link; a lock is never "
                                      "taken through a link: remove it") from None
                raise OutputError.from_os(self.out, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder, kind = self._holder(fd)
                os.close(fd)
                raise OutputError(self.out, f"another {kind} run is writing this output ({holder}); wait for it to "
                                  "finish or choose another --out") from None
            # The lock file we locked may have been unlinked by a run that just finished: lock the current one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "kind": self.kind,
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime())}
        os.ftruncate(fd, 0)
        _write_all(fd, (json.dumps(record) + "\n").encode())
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> tuple[str, str]:
        """(who holds the lock, what kind of run: batch or market)."""
        # The holder writes its record right after locking: give it a moment if we came in between.
        for _ in range(20):
            try:
                record = json.loads(os.pread(fd, 4096, 0).decode())
                return (f"pid {record['pid']} on {record['host']}, started {record['started']}",
                        str(record.get("kind", "batch")))
            except (OSError, ValueError, KeyError, TypeError):
                time.sleep(0.025)
        return "a run that has not recorded its pid yet", "batch"

    def release(self) -> None:
        if self.fd is None:
            return
        _unlink_quietly(self.path)  # still locked while we unlink: the next run's inode check sees it is gone
        os.close(self.fd)
        self.fd = None


def remove_stale_temporaries(out: Path) -> int:
    """Delete the temporary files an interrupted run left next to `out` and in its parts folder.

    Call only while holding the output's lock. Only regular files with exactly the names `_temp_for` makes
    (`.TARGET.xxxxxxxx.tmp`) are removed; links and anything else are left alone.
    """
    removed = 0
    targets = {out.parent: (out.name, summary_path(out).name), parts_dir(out): None}
    for folder, names in targets.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            m = _TEMP_NAME.fullmatch(entry.name)
            if m and (names is None or m.group(1) in names) and entry.is_file(follow_symlinks=False):
                _unlink_quietly(Path(entry.path))
                removed += 1
    return removed


# ------------------------------------------------------------------ checkpoints

def fingerprint(profiles: Any, quotes: Sequence[Any], regime: Any, chunk_size: int, schema: pa.Schema) -> str:
    """sha256 of everything a part's rows depend on: the profiles, quotes, regime, chunk size and row schema."""
    def canonical(obj: Any) -> Any:  # frozensets print in a per-process order: sort them
        if isinstance(obj, (frozenset, set)):
            return sorted(obj)
        if isinstance(obj, dict):
            return {k: canonical(v) for k, v in sorted(obj.items())}
        if isinstance(obj, (list, tuple)):
            return [canonical(v) for v in obj]
        return obj

    described = canonical([dataclasses.asdict(q) for q in quotes] + [dataclasses.asdict(regime)])
    h = hashlib.sha256(f"{PART_FORMAT}|{chunk_size}|{schema}|{json.dumps(described, default=str)}".encode())
    if isinstance(profiles, (str, Path)):
        with open(profiles, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    elif isinstance(profiles, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(profiles.astype(str), index=False).values.tobytes())
    else:
        h.update(json.dumps(canonical([dataclasses.asdict(p) for p in profiles]), default=str).encode())
    return h.hexdigest()


def part(frame: pd.DataFrame, schema: pa.Schema, by_quote: dict) -> tuple[pa.Table, bytes]:
    """A finished chunk's rows as an Arrow table and as the bytes of its checkpoint (Parquet, with the per-quote
    totals in the schema's metadata)."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _BY_QUOTE_KEY: json.dumps(by_quote).encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return table, buffer.getvalue()


@dataclass(frozen=True)
class PartWriter:
    """Writes checkpoints into a run's parts folder; small enough to send to a worker process, which then
    writes its chunk's checkpoint itself (the holder of the output's lock is its parent)."""

    dir: Path
    out: Path

    def paths(self, index: int) -> tuple[Path, Path]:
        """Chunk `index`'s part (its rows) and sidecar (the proof)."""
        return self.dir / f"part-{index:07d}.parquet", self.dir / f"part-{index:07d}.json"

    def save(self, index: int, first_row: int, rows: int, data: bytes) -> None:
        """The part's bytes, then the sidecar that proves them: written last, it marks the chunk finished."""
        table_path, meta_path = self.paths(index)
        write_atomic(table_path, data, report_as=self.out)
        meta = {"format": PART_FORMAT, "index": index, "first_row": first_row, "rows": rows,
                "sha256": hashlib.sha256(data).hexdigest()}
        write_atomic(meta_path, json.dumps(meta).encode(), report_as=self.out)


class Checkpoints:
    """The finished chunks of one output's run, in `.NAME.parts/` (see the module docstring).

    `load` returns a part only when it proves itself; `damaged` counts the parts found but not trusted.
    """

    def __init__(self, out: Path, fingerprint: str, schema: pa.Schema):
        self.out, self.schema = out, schema
        self.dir = parts_dir(out)
        self.damaged = 0
        manifest = self.dir / "manifest.json"
        try:
            if os.path.islink(self.dir) or (self.dir.exists() and not self.dir.is_dir()):
                os.unlink(self.dir)  # not a folder we made: never write through it
            if self.dir.exists():
                try:
                    same = json.loads(manifest.read_text())["fingerprint"] == fingerprint
                except (OSError, ValueError, KeyError, TypeError):
                    same = False
                if not same:
                    self.remove()
            self.dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError.from_os(out, exc) from None
        if not manifest.exists():
            write_atomic(manifest, json.dumps({"format": PART_FORMAT, "fingerprint": fingerprint}).encode(),
                         report_as=out)

    def writer(self) -> "PartWriter":
        """What writes this run's checkpoints, to hand to whoever solves a chunk (a local worker process)."""
        return PartWriter(self.dir, self.out)

    def load(self, index: int, first_row: int, rows: int) -> tuple[pd.DataFrame, dict] | None:
        """The rows and per-quote totals of chunk `index` if its part proves itself, else None.

        Proof: the sidecar names this chunk, its first row and row count; the Parquet bytes have the recorded
        sha256; they parse, with exactly the row schema; and their `source_row` column is the chunk's row range.
        """
        table_path, meta_path = self.writer().paths(index)
        if not meta_path.exists() and not table_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_bytes())
            data = table_path.read_bytes()
            ok = (meta.get("format") == PART_FORMAT and meta.get("index") == index
                  and meta.get("first_row") == first_row and meta.get("rows") == rows
                  and hashlib.sha256(data).hexdigest() == meta.get("sha256"))
            if ok:
                table = pq.read_table(pa.BufferReader(data))
                by_quote = json.loads((table.schema.metadata or {}).get(_BY_QUOTE_KEY, b"null"))
                ok = (table.schema.remove_metadata().equals(self.schema.remove_metadata())
                      and table.num_rows == rows and isinstance(by_quote, dict)
                      and table.column("source_row").to_pylist() == list(range(first_row, first_row + rows)))
        except (OSError, ValueError, TypeError, AttributeError, KeyError, pa.ArrowException):
            ok = False
        if not ok:
            self.damaged += 1
            return None
        return table.to_pandas(), by_quote

    def remove(self) -> None:
        """Delete the work folder (after the output is in place, or when its inputs changed)."""
        if os.path.islink(self.dir):
            os.unlink(self.dir)
            return
        if not self.dir.exists():
            return
        for entry in os.scandir(self.dir):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                _unlink_quietly(Path(entry.path))
        try:
            self.dir.rmdir()
        except OSError:
            pass


# ------------------------------------------------------------------ the output file

class ResultsFile:
    """The output, written chunk by chunk to a temporary file and renamed into place by `commit`.

    CSV text cells are neutralised against spreadsheet formulas (report.neutralize, as every other CSV export);
    Parquet keeps the raw values. Use as a context manager: leaving it without `commit` removes the temporary file.
    """

    def __init__(self, out: Path, schema: pa.Schema, empty: pd.DataFrame):
        self.out, self.schema, self.empty = out, schema, empty
        self.parquet = out.suffix.lower() == ".parquet"
        self.fd: int | None = None
        self.tmp: Path | None = None
        self._writer: pq.ParquetWriter | None = None
        self._sink: _FdSink | None = None

    def __enter__(self) -> "ResultsFile":
        try:
            with _os_errors(self.out):
                self.fd, self.tmp = _temp_for(self.out)
                if self.parquet:
                    self._sink = _FdSink(self.fd)
                    self._writer = pq.ParquetWriter(pa.PythonFile(self._sink, mode="w"), self.schema)
                else:
                    _write_all(self.fd, self.empty.to_csv(index=False).encode("utf-8"))
        except BaseException:
            self.abort()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.abort()

    @staticmethod
    def rows(frame: pd.DataFrame, parquet: bool, schema: pa.Schema,
             table: pa.Table | None = None) -> tuple[pa.Table | None, bytes | None]:
        """A chunk's rows in the output's form (made where the chunk is solved): an Arrow table for Parquet, the
        CSV text (neutralised, no header) for CSV. `table`: the rows as Arrow already."""
        if parquet:
            return (table if table is not None else pa.Table.from_pandas(frame, schema=schema,
                                                                           preserve_index=False)), None
        return None, neutralize(frame).to_csv(index=False, header=False).encode("utf-8")

    def write_rows(self, table: pa.Table | None, text: bytes | None) -> None:
        with _os_errors(self.out):
            if self.parquet:
                self._writer.write_table(table)
            else:
                _write_all(self.fd, text)

    def commit(self, summary: bytes | None = None) -> None:
        """Flush, fsync and rename the temporary file over the output; with `summary`, the output and its summary
        file are replaced together, both or neither (`replace_with_summary`)."""
        with _os_errors(self.out):
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None
            if summary is None:
                os.replace(self.tmp, self.out)
        if summary is not None:
            replace_with_summary(self.tmp, self.out, summary)
        self.tmp = None

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except (OSError, pa.ArrowException):
                pass
            self._writer = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.tmp is not None:
            _unlink_quietly(self.tmp)
            self.tmp = None
