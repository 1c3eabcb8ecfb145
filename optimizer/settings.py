"""Solver settings and work bounds: the one place they live (model, batch, CLI and app read them from here)."""

from __future__ import annotations

# HiGHS, for every solve
THREADS = 1                 # one thread per solve: batches parallelise across processes instead
BLAS_THREADS = 1            # numpy's BLAS in a batch worker: small matrices, many processes — threads only contend
MIP_GAP_REL = 1e-9          # small problems: prove optimality, an independent solver must find the same cost
MIP_GAP_ABS = 1e-12         # in units of R
# Feasibility, in units of R: tighter than HiGHS's defaults (1e-7), so that a warm start from a nearby exchange's
# basis is not accepted as optimal while it misses a row by up to 1e-7 of R — that much, over the marginal cost's
# step of 1e-6 of R, would move the marginal cost by several percent. The LPs are small and well scaled.
PRIMAL_FEASIBILITY = 1e-10
DUAL_FEASIBILITY = 1e-10
MIP_FEASIBILITY = 1e-10

# Bounded work
TIME_LIMIT_SECONDS = 60.0   # per solve; a solve stopped by it reports status `time_limit` with its best mix
MAX_QUOTES = 300            # quotes in one sheet the app accepts (an upload above it is refused with a message)
# Profiles one upload may hold in the app (a Parquet's row count is read from its metadata before any row is; above
# it the page refuses the file and points to the command line, which streams the rows in chunks)
APP_MAX_BATCH_ROWS = 100_000   # the Batch page: a run of this many on two cores takes minutes
APP_MAX_MARKET_ROWS = 20_000   # the Market page: one joint LP (market.JOINT_MAX_EXCHANGES)
