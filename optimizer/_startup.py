"""Ctrl-C before the command line's `main` runs (`python -m optimizer` importing numpy, pandas, HiGHS …): one line
and exit 130, as once it runs, instead of a traceback and death by SIGINT.

Imported first by the package; it acts only when the process is `python -m optimizer` (a library user's Ctrl-C
stays a KeyboardInterrupt) or a worker that multiprocessing spawned (it ignores SIGINT: its parent stops it). `cli.main` takes SIGINT over as soon as it starts and gives it back when it ends
(Ctrl-C while the interpreter shuts down, pools joining, is then this one line too). The interpreter's own first
milliseconds (its `site` module, before any of this package) are beyond any program's reach.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


def _interrupted(signum, frame) -> None:
    os.write(2, b"interrupted\n")
    os._exit(INTERRUPTED)


def _is_command_line() -> bool:
    argv = getattr(sys, "orig_argv", [])
    return any(a == "-m" and argv[i + 1:i + 2] in (["optimizer"], ["optimizer.cli"]) for i, a in enumerate(argv))


def _is_spawned_worker() -> bool:
    """A worker process multiprocessing started with `spawn` (market's decomposition): its parent handles Ctrl-C
    and stops it; the terminal's SIGINT reaches it too and must not make it print a traceback."""
    return "--multiprocessing-fork" in getattr(sys, "orig_argv", [])


if threading.current_thread() is threading.main_thread():
    if _is_command_line():
        signal.signal(signal.SIGINT, _interrupted)
    elif _is_spawned_worker():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # started with SIGINT and SIGTERM blocked (batch.sigint_held): SIGINT is its parent's, SIGTERM its end
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
