"""Solver settings, tolerances and work bounds: the one place they live (the model package, market, risk, batch,
CLI and app read them from here)."""

from __future__ import annotations

# HiGHS, for every solve (optimizer/lp/highs.py applies them all: `highs.options`)
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
# The market's LPs (joint, decomposition master): rows in units of each counterparty's capacity and a money unit,
# not of one exchange's R, so HiGHS's own defaults; CAPACITY_MARGIN below is sized for them. (With 1e-10 the joint
# LP stops at another vertex of the same least total cost: the same market, another split between exchanges.)
MARKET_PRIMAL_FEASIBILITY = 1e-7
MARKET_DUAL_FEASIBILITY = 1e-7

# Bounded work
TIME_LIMIT_SECONDS = 60.0   # per solve; a solve stopped by it reports status `time_limit` with its best mix
MARKET_TIME_LIMIT_SECONDS = 3600.0  # per LP of the market (the joint LP holds up to 20,000 exchanges at once)
MAX_QUOTES = 100            # quotes in one sheet the app accepts (an upload above it is refused with a message); the
                            # reasons and break-evens are read off the mix's basis where certain (solve with reasons
                            # at 300 requirement-basis quotes: about 1.5 s end to end; MILP sheets still re-solve per
                            # probe); the command line takes any size
# Profiles one upload may hold in the app (a Parquet's row count is read from its metadata before any row is; above
# it the page refuses the file and points to the command line, which streams the rows in chunks)
APP_MAX_BATCH_ROWS = 100_000   # the Batch page: a run of this many on two cores takes minutes
APP_MAX_MARKET_ROWS = 20_000   # the Market page: one joint LP (market.JOINT_MAX_EXCHANGES)

# ---------------------------------------------------------------------------------------------- tolerances
# Every tolerance of the project, what it guards, and its kind: "absolute, units of R" means a fraction of the
# exchange's requirement (the LP's scale), so it means the same for a ¥1m and a ¥1tn requirement; "relative" is a
# fraction of the quantity it is compared with; "yen" is an absolute amount of money.
#
# Reading HiGHS's answer (optimizer/lp/results.py)
ZERO_SHARE = 1e-9        # absolute, a share: below it a line is reported as not bought (HiGHS meets rows to 1e-10)
ZERO_SHORTFALL = 1e-9    # absolute, units of R: a least shortfall below it is no shortfall (noise on a compliant mix)
BINDING = 1e-7           # absolute, units of R: a limit is reported as binding when the mix is within this of it
INTEGRALITY = 1e-9       # absolute, a yes/no column: this close to 0 or 1 counts as decided (branch and bound)
# "Least shortfall, then least cost" (optimizer/lp/highs.py, `least_shortfall_then_least_cost`)
SHORTFALL_SLACK = 1e-12  # the last phase may use this much more shortfall than the least found, so that it stays
                         # feasible: absolute in units of R for one exchange; for the market's total shortfall
                         # (money units) relative and absolute both
SHORTFALL_RETRY_SLACK = 1e-9  # absolute, units of R: when no mix is found at the least shortfall + SHORTFALL_SLACK
                         # (a MILP's least shortfall is found to HiGHS's feasibility tolerance), the last phase is
                         # tried once more at this slack before it is an error
# Re-using an optimal basis (optimizer/lp/engine.py, `certify_many`)
FEASIBILITY = 1e-10      # absolute, units of R: primal feasibility of a re-used basis — far tighter than HiGHS's
OPTIMALITY = 1e-10       # 1e-7, so a re-used basis is a vertex feasible and optimal to 1e-10 of R, never a near one
                         # a fresh solve would improve on (the marginal cost differences steps of 1e-6 of R);
                         # OPTIMALITY is the reduced costs' (absolute, cost per unit of R)
SAME_MATRIX = 1e-12      # absolute, units of R: coefficients this close (a·R/R rounding) count as one matrix
BOUND_GAP = 1e-12        # relative (at least absolute 1e-12 per unit of R): branch and bound drops a node whose LP
                         # costs no less than the best integral mix so far, less this
# Screening a probe with the base LP's optimal basis (optimizer/lp/basis.py: the reasons and break-even premiums)
SCREEN_REDUCED_COST = 1e-9  # absolute, cost per unit of R: a reduced cost beyond this (either side) decides whether
                         # the changed LP buys the quote — 10× the OPTIMALITY to which a basis is certified
SCREEN_STEP = 1e-6       # absolute, a share: a ratio-test step at least this says every optimal mix buys at least
                         # this much (10× the 1e-7 above which a probe counts a quote as bought)
SCREEN_TIE = 1e-9        # absolute, units of R: a probe counts a quote as bought only when its mix is better (less
                         # shortfall, or cheaper) than the base mix by more than this — at a tie the cheapest mix
                         # does not need the quote, whether HiGHS's vertex happens to hold some of it or not
SCREEN_NOISE = 1e-11     # relative, of a column's largest coefficient: a ratio-test direction below it is rounding
                         # (rows equal to a tight row move by ~1e-16 only), not a move
BREAK_EVEN_GAP = 1e-10   # relative, of the annual cost without the quote: a break-even premium's Newton steps stop
                         # when the cost at the probed rate on line is this close to it (optimizer/analysis.py)
# The independent check (optimizer/solution.py, `verify` and `verify_many`)
VERIFY_SLACK = 1e-6      # absolute, units of R (of max(R, 1 yen)): how far a row may be missed — above HiGHS's 1e-10
                         # and the snapping of shares onto their bounds, far below any amount a reader would see
VERIFY_SHARE = 1e-9      # absolute, a share: how far a line's share may lie outside [min_share, max_share]
VERIFY_COST = 1e-9       # relative (plus 1e-6 yen): how far the reported cost may differ from the mix's re-derived one
# The market (optimizer/market.py)
CAPACITY_MARGIN = 1e-7   # relative, of a capacity: capacity rows hold capacity × (1 − this), so HiGHS's feasibility
                         # tolerance (of the row, which is in units of capacity) cannot carry a counterparty over it
CAPACITY_CHECK = 1e-9    # relative, of a capacity: the independent check allows cover ≤ capacity × (1 + this)
SCARCE = 1e-6            # relative, of a capacity: a counterparty within this of its capacity is reported as scarce
SPLIT_TOLERANCE = 1e-9   # relative, of the market's total R (shortfall) and total cost: allocations this close to the
                         # optimum count as equally good when the split of the shortfall is ranged; a range's end
                         # under 10× this share of the total R is that slack, read as 0
PRICE_ZERO = 1e-9        # absolute, yen per yen: a shadow price below this is reported as 0
NOISE_SHORTFALL = 1e-7   # absolute, units of the exchange's own R: a shortfall below it is solver noise, read as 0
# The risk view (optimizer/risk.py)
TVAR_TOL = 1e-6          # absolute, units of R, before ÷ (1 − α): the recomputed TVaR may exceed the limit by this
                         # (the TVaR expression sums rows met to 1e-10, divided by (1 − α)·N; shares snap ≤ 1e-7)
OVER_INDEMNITY_TOL = 1e-12  # relative, of the year's loss: full cover paying more than this over it gets a clip row
CUT_TOL = 1e-9           # absolute, units of R: the cutting planes of the risk objective stop when the TVaR and the
                         # expected clipped retained loss recomputed at the master's mix exceed the master's values
                         # by no more than this (10× the 1e-10 to which HiGHS meets a row; docs/risk.md, "How the
                         # TVaR LP is solved")
MAX_CUT_ROUNDS = 2_000   # master solves of one cutting-plane minimisation before it is reported as not converging
RESERVE_TOL = 1e-9       # absolute, units of R: a simulated or replayed amount within this of the cash reserve retains
                         # the cash, it does not exhaust it (L − P·s summed over layers that exactly fill the loss above
                         # the cash rounds ~1e-4 yen at 1e12; ¥1 on R = ¥1bn is 1e-9). Every comparison with the
                         # reserve goes through risk.exceeds_reserve (risk metrics, the stress test).
