"""The one way into HiGHS: every LP and MILP of the project is built, configured, run and read here.

- `new` makes a HiGHS instance with every option of settings.py applied (`options`); `load` hands it a model from
  the numbers (a dense or sparse matrix, row and column bounds, costs, integrality); `run` runs it and reads the
  status through the one table `OUTCOME` ("optimal", "infeasible", "time_limit"; anything else is a SolveError).
- `quiet_highs` is the banner guard: HiGHS prints its banner on stdout once per process.
- `pulp_solver` is PuLP's HiGHS interface with the same options, for the PuLP models (`solve --write-lp`, the risk
  view's TVaR rows).
- `least_shortfall_then_least_cost` is the project's objective, written once: the cheapest mix with no shortfall;
  when none exists, the least shortfall, then the cheapest mix at that shortfall. The single solve, the batch,
  the market and the risk view each say how their model does the three steps (`Lexicographic`).

No other module imports highspy.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Protocol

import highspy
import numpy as np

from .. import settings
from ..solution import SolveError

if TYPE_CHECKING:  # PuLP, with the log parsers it imports (~0.2 s), is imported where a PuLP model is built
    import pulp
    import scipy.sparse as sp

INF = highspy.kHighsInf

# The status table: HiGHS's model status → what the project does with it. A status not listed is a SolveError.
OUTCOME: dict = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",  # the models are bounded: costs ≥ 0, columns ≥ 0
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
}
# Statuses after which HiGHS is run once more from a cold start (its basis and factorisation cleared): a warm re-solve
# on a kept model can end in them after a long sequence of changed bounds (seen on btcbox after ten other exchanges
# under cold-wallet-repeat with reserve assets) where the same LP solved cold is optimal.
COLD_RETRY = frozenset({highspy.HighsModelStatus.kUnknown, highspy.HighsModelStatus.kSolveError,
                        highspy.HighsModelStatus.kPostsolveError})

# Basis status of a column or row, as the ints `engine.certify_many` compares
BASIC = int(highspy.HighsBasisStatus.kBasic)
LOWER = int(highspy.HighsBasisStatus.kLower)
UPPER = int(highspy.HighsBasisStatus.kUpper)
ZERO = int(highspy.HighsBasisStatus.kZero)

_banner_lock = threading.Lock()
_banner_done = False


def quiet_highs() -> None:
    """HiGHS prints its banner on stdout once per process, even with output off; `--format json` must print
    exactly one JSON object. Create the first HiGHS instance with file descriptor 1 pointed at /dev/null."""
    global _banner_done
    with _banner_lock:
        if _banner_done:
            return
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(devnull)
            os.close(saved)
        _banner_done = True


def run_highs(h: highspy.Highs) -> None:
    """`h.run()`, once more if HiGHS refused to start: its thread scheduler is one per process, and when other code
    in the process (a user's script, a test) started it with another `threads` setting, a run with ours returns
    an error before solving (model status "Not Set"). Resetting the scheduler lets ours start it afresh."""
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kNotset:
        highspy.Highs.resetGlobalScheduler(True)
        h.run()


def options(time_limit: float | None = None) -> dict:
    """HiGHS's options with the project's settings (settings.py): output off, threads, gaps, tolerances, time."""
    return {"output_flag": False, "log_to_console": False, "threads": settings.THREADS,
            "mip_rel_gap": settings.MIP_GAP_REL, "mip_abs_gap": settings.MIP_GAP_ABS,
            "time_limit": float(settings.TIME_LIMIT_SECONDS if time_limit is None else time_limit),
            "primal_feasibility_tolerance": settings.PRIMAL_FEASIBILITY,
            "dual_feasibility_tolerance": settings.DUAL_FEASIBILITY,
            "mip_feasibility_tolerance": settings.MIP_FEASIBILITY}


def pulp_solver(time_limit: float | None = None) -> pulp.HiGHS:
    """PuLP's HiGHS interface with the same settings (for the PuLP model a user solves or exports)."""
    import pulp

    quiet_highs()  # PuLP creates its HiGHS instances itself
    return pulp.HiGHS(msg=False, gapRel=settings.MIP_GAP_REL, gapAbs=settings.MIP_GAP_ABS, threads=settings.THREADS,
                      timeLimit=settings.TIME_LIMIT_SECONDS if time_limit is None else time_limit,
                      primal_feasibility_tolerance=settings.PRIMAL_FEASIBILITY,
                      dual_feasibility_tolerance=settings.DUAL_FEASIBILITY,
                      mip_feasibility_tolerance=settings.MIP_FEASIBILITY)


def market_options() -> dict:
    """What the market's LPs set over `options` (settings.MARKET_*)."""
    return {"primal_feasibility_tolerance": settings.MARKET_PRIMAL_FEASIBILITY,
            "dual_feasibility_tolerance": settings.MARKET_DUAL_FEASIBILITY}


def new(time_limit: float | None = None, **extra) -> highspy.Highs:
    """A HiGHS instance with every option of `options` (and `extra`, e.g. solver="ipm"), banner swallowed."""
    quiet_highs()
    h = highspy.Highs()
    for option, value in {**options(time_limit), **extra}.items():
        h.setOptionValue(option, value)
    return h


def load(h: highspy.Highs, A: "np.ndarray | sp.csc_matrix", cost: np.ndarray, col_lower: np.ndarray,
         col_upper: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
         integer: np.ndarray | None = None) -> None:
    """Hand HiGHS the model min cost·x, row_lower ≤ A·x ≤ row_upper, col_lower ≤ x ≤ col_upper, the columns
    `integer` integral. A is dense (rows × columns, as `matrix.Numbers` holds it) or a scipy CSC matrix."""
    m, c = A.shape
    mip = integer is not None and len(integer) > 0
    if isinstance(A, np.ndarray) and mip:  # the arrays straight to HiGHS: no HighsLp to fill (a third of the time)
        rows, cols = np.nonzero(A.T)  # column-wise: entries of column 0, then column 1, …
        start = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=c))]).astype(np.int32)
        integrality = np.zeros(c, dtype=np.int32)  # kContinuous (this form takes no empty integrality: LPs below)
        integrality[np.asarray(integer)] = int(highspy.HighsVarType.kInteger)
        f = lambda v: np.asarray(v, dtype=float)  # noqa: E731
        status = h.passModel(c, m, int(rows.size), int(highspy.MatrixFormat.kColwise),
                             int(highspy.ObjSense.kMinimize), 0.0, f(cost), f(col_lower), f(col_upper), f(row_lower),
                             f(row_upper), start, cols.astype(np.int32), A.T[rows, cols], integrality)
        # kWarning: HiGHS dropped coefficients below its small_matrix_value (1e-9; e.g. a min_share of 5e-324 in a
        # share ≥ min_share·take row), below the LP's tolerances, as the LP path below does without a word
        if status == highspy.HighsStatus.kError:
            raise SolveError(f"HiGHS refused the model ({status})")
        return
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = c, m
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, col_lower, col_upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    if isinstance(A, np.ndarray):
        rows, cols = np.nonzero(A.T)  # column-wise: entries of column 0, then column 1, …
        lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=c))]).astype(np.int32)
        lp.a_matrix_.index_ = cols.astype(np.int32)
        lp.a_matrix_.value_ = A.T[rows, cols]
    else:
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = c, m
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    if mip:
        integrality = np.full(c, highspy.HighsVarType.kContinuous)
        integrality[integer] = highspy.HighsVarType.kInteger
        lp.integrality_ = list(integrality)
    h.passModel(lp)


def change(h: highspy.Highs, old, new) -> None:
    """Change in HiGHS only what differs between the numbers it holds (`old`, a matrix.Numbers) and `new`
    (same shape): coefficients, row bounds, costs, column bounds."""
    rows, cols = np.nonzero(new.A != old.A)
    for i, k in zip(rows.tolist(), cols.tolist()):
        h.changeCoeff(i, k, float(new.A[i, k]))
    changed = np.flatnonzero((new.row_lower != old.row_lower) | (new.row_upper != old.row_upper))
    if changed.size:
        h.changeRowsBounds(changed.size, changed.astype(np.int32), new.row_lower[changed], new.row_upper[changed])
    changed = np.flatnonzero(new.cost != old.cost)
    if changed.size:
        h.changeColsCost(changed.size, changed.astype(np.int32), new.cost[changed])
    changed = np.flatnonzero((new.col_lower != old.col_lower) | (new.col_upper != old.col_upper))
    if changed.size:
        h.changeColsBounds(changed.size, changed.astype(np.int32), new.col_lower[changed], new.col_upper[changed])


def highs_basis(col_status: np.ndarray, row_status: np.ndarray) -> highspy.HighsBasis:
    """HiGHS's basis object for these statuses (ints, model order), for `set_basis`."""
    status = list(highspy.HighsBasisStatus.__members__.values())
    by_int = {int(v): v for v in status}
    b = highspy.HighsBasis()
    b.col_status = [by_int[int(v)] for v in col_status]
    b.row_status = [by_int[int(v)] for v in row_status]
    b.valid = True
    return b


def set_basis(h: highspy.Highs, basis: highspy.HighsBasis) -> None:
    """Start the next run from this basis (`highs_basis`)."""
    h.setBasis(basis)


def set_column(h: highspy.Highs, k: int, old: np.ndarray, new: np.ndarray) -> None:
    """Change column k's coefficients from `old` to `new` (dense, every row), only where they differ."""
    for i in np.flatnonzero(old != new).tolist():
        h.changeCoeff(i, int(k), float(new[i]))


def set_costs(h: highspy.Highs, cols: np.ndarray, values: np.ndarray) -> None:
    h.changeColsCost(len(cols), np.asarray(cols, dtype=np.int32), np.asarray(values, dtype=float))


def set_col_bounds(h: highspy.Highs, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
    h.changeColsBounds(len(cols), np.asarray(cols, dtype=np.int32), np.asarray(lower, dtype=float),
                       np.asarray(upper, dtype=float))


def fix_integers(h: highspy.Highs, cols: np.ndarray, values: np.ndarray) -> None:
    """Make the integer columns `cols` continuous and fix them at `values`: the LP of a MILP with its yes/no
    decisions held, whose row duals are the marginal values at that decision."""
    cols = np.asarray(cols, dtype=np.int32)
    h.changeColsIntegrality(cols.size, cols, np.full(cols.size, highspy.HighsVarType.kContinuous))
    set_col_bounds(h, cols, values, values)


def forget_basis(h: highspy.Highs) -> None:
    """Drop the basis and solution HiGHS holds, so that the next run starts cold (as after a MILP's branch and
    bound): where the duals are not unique, a cold run picks the same ones whichever LP was solved before."""
    h.clearSolver()


def set_integer(h: highspy.Highs, cols: np.ndarray, integer: bool) -> None:
    """Make the columns `cols` integer (True) or continuous (False): a MILP's LP relaxation and back."""
    cols = np.asarray(cols, dtype=np.int32)
    kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
    h.changeColsIntegrality(cols.size, cols, np.full(cols.size, kind))


def add_row(h: highspy.Highs, cols: np.ndarray, values: np.ndarray, lower: float, upper: float) -> None:
    """One more row lower ≤ Σ values·x[cols] ≤ upper."""
    cols = np.asarray(cols, dtype=np.int32)
    h.addRow(float(lower), float(upper), cols.size, cols, np.asarray(values, dtype=float))


def set_rows_bounds(h: highspy.Highs, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
    h.changeRowsBounds(len(rows), np.asarray(rows, dtype=np.int32), np.asarray(lower, dtype=float),
                       np.asarray(upper, dtype=float))


def set_row_bounds(h: highspy.Highs, row: int, lower: float, upper: float) -> None:
    h.changeRowBounds(int(row), float(lower), float(upper))


def run(h: highspy.Highs, what: str = "") -> str:
    """Run HiGHS (`run_highs`) and read its status through `OUTCOME`: "optimal", "infeasible" or "time_limit".
    A status in `COLD_RETRY` is given one more run from a cold start first.

    Raises:
        SolveError: any other status (`what` names the model in the message).
    """
    run_highs(h)
    status = h.getModelStatus()
    if status in COLD_RETRY:
        h.clearSolver()
        run_highs(h)
        status = h.getModelStatus()
    outcome = OUTCOME.get(status)
    if outcome is None:
        raise SolveError(f"HiGHS stopped {what + ' ' if what else ''}with status {h.modelStatusToString(status)}")
    return outcome


def has_solution(h: highspy.Highs) -> bool:
    """A feasible point is known (after an optimal run, or one stopped by the time limit)."""
    return h.getInfo().primal_solution_status == 2


def values(h: highspy.Highs) -> np.ndarray:
    """x of the last run (column values, model order)."""
    return np.asarray(h.getSolution().col_value)


def duals(h: highspy.Highs) -> np.ndarray:
    """Row duals of the last run (model order)."""
    return np.asarray(h.getSolution().row_dual)


def basis(h: highspy.Highs) -> tuple[np.ndarray, np.ndarray] | None:
    """The last optimal basis (column status, row status) as ints, or None when HiGHS has no valid basis."""
    b = h.getBasis()
    if not b.valid:
        return None
    return np.array([int(s) for s in b.col_status]), np.array([int(s) for s in b.row_status])


def objective(h: highspy.Highs) -> float:
    return float(h.getInfo().objective_function_value)


def iterations(h: highspy.Highs) -> int:
    return int(h.getInfo().simplex_iteration_count)


def pulp_outcome(stats) -> str:
    """PuLP's solve status → "optimal" or "infeasible" (the status table for PuLP models).

    Raises:
        SolveError: any other status.
    """
    import pulp

    if stats.status == pulp.LpSolveStatus.Optimal:
        return "optimal"
    if stats.status == pulp.LpSolveStatus.Infeasible:
        return "infeasible"
    raise SolveError(f"HiGHS stopped with status {stats.status_str}")


# ---------------------------------------------------------------------------------------------- the objective

class Lexicographic(Protocol):
    """A model solved the project's way: each step is the model's own (a kept HiGHS model, the market's joint LP,
    a PuLP model with TVaR rows); `least_shortfall_then_least_cost` says in which order and what follows."""

    def least_cost(self) -> str:
        """Minimise the annual cost with the model's shortfall as it stands; "optimal", "infeasible", "time_limit"."""

    def least_shortfall(self) -> tuple[str, float]:
        """Free the shortfall and minimise it: (outcome, the least shortfall in the model's units)."""

    def hold_shortfall(self, least: float) -> None:
        """Bound the shortfall at `least` (plus settings.SHORTFALL_SLACK) and put the annual cost back as the
        objective."""


def least_shortfall_then_least_cost(model: Lexicographic, *, try_without_shortfall: bool = True,
                                    what: str = "shortfall") -> tuple[str, float | None]:
    """The cheapest mix with no shortfall; if none exists (or `try_without_shortfall` is False), the least
    shortfall, then the cheapest mix at that shortfall. Returns (the last outcome, the least shortfall or None
    when the first step was enough).

    Raises:
        SolveError: the shortfall could not be minimised, or no mix was found at the least shortfall.
    """
    if try_without_shortfall:
        outcome = model.least_cost()
        if outcome != "infeasible":
            return outcome, None
    outcome, least = model.least_shortfall()
    if outcome != "optimal":
        raise SolveError(f"HiGHS could not minimise the {what} ({outcome})")
    model.hold_shortfall(least)
    outcome = model.least_cost()
    if outcome == "infeasible":  # the least shortfall was found to HiGHS's tolerance: once more with a wider slack
        model.hold_shortfall(least + settings.SHORTFALL_RETRY_SLACK - settings.SHORTFALL_SLACK)
        outcome = model.least_cost()
    if outcome == "infeasible":
        raise SolveError(f"HiGHS found no mix at the least {what}")
    return outcome, least
