"""The market (docs/design.md §8, docs/market.md): every exchange at once against the world's insurance capacity.

One LP: each exchange's own rows, exactly `lp.matrix.numbers(Scaled.of(inst))` (the rows `solve` uses), side by side
(block diagonal, each exchange's columns in units of its own R), plus one **capacity row** per counterparty c
listed in capacity.csv:

    Σ_e Σ_{j of c} s_ej · limit_ej + Σ_e Σ_{a promised by c} A_ea ≤ capacity_c
                                   (limit_ej and A_ea in yen; the row is divided by capacity_c)

(a bank's or parent's promise — guarantee, committed line — uses the capacity of its counterparty, `writes_capacity`)

and one row for the total shortfall. The objective is the sum of the exchanges' annual costs in yen, divided by a
money unit M (the geometric mean of the exchanges' R) so that HiGHS sees numbers near 1.

- **Yes/no quotes** (minimum line, flat fee) are *fixed* at each exchange's stand-alone choice, so the market LP
  stays an LP (its capacity rows have prices). A quote bought alone must then be bought at least at its minimum
  line; if those minimum lines alone do not fit a capacity, the yes/no quotes of capacity-limited counterparties
  are fixed at "no" instead. The summary says which (`milp`).
- **Shortfall**: when no allocation lets every exchange comply, two phases on the same HiGHS model: the least
  total shortfall in yen (Σ_e shortfall_e), then the least total cost at that shortfall (as `solve` does for one
  exchange). The capacity's `shortfall_price` is the first phase's shadow price (yen of shortfall removed per yen
  of capacity); its `clearing_price` is the second's (yen of annual cost saved per yen of capacity).
- **Clearing price** of c: the shadow price of its capacity row, −dual × M ÷ capacity_c, in yen of annual cost
  per yen of cover written: what one more yen of c's capacity would save the market (0 when c has capacity left).
- **Decomposition** (`method="decompose"`, and above JOINT_MAX_EXCHANGES exchanges): capacity prices are found
  by bisection, each round a batch of chunk LPs (the same rows, no capacity rows, each exchange's cover of c
  charged at c's price and its shortfall at SHORTFALL_PENALTY; solved as stacks by `Resolver.solve_lp_stack`, `_Priced`),
  in this process, in worker processes or on Dask actors. The repair: exchanges that buy no priced capacity keep their answer; the others take a convex mix of
  their answers to the last rounds' prices (each answer meets the exchange's own rows, so any mix does), the
  weights from one LP with the capacity rows (a restricted master problem). If that LP finds no allocation, the
  marginal exchanges share what capacity is left in one joint LP instead. Either way the allocation never
  exceeds any capacity, and the Lagrangian bound of the rounds says how far from the joint optimum it can be.

Every exchange's mix goes through the independent check (`verify`; in the decomposition, stacks of mixes through
`verify_many`, a mix in shortfall through `assemble` and `verify`); the capacity use is re-counted from the mixes'
own lines and promises (`check_capacity`).
"""

from __future__ import annotations

import math
import multiprocessing
from multiprocessing import resource_tracker
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from . import batch, settings
from .batch import sigint_held
from .domain import ExchangeProfile, Quote, Regime, ReserveAsset, cover_by_counterparty
from .i18n import N_
from .inputs import InputError
from .lp import highs
from .lp.columns import SHORTFALL, Columns
from .lp.engine import Resolver
from .lp.highs import INF
from .lp.matrix import Numbers, numbers
from .lp.results import solutions_from_columns_many
from .lp.scaled import Instance, Scaled
from .regime import asset_credit_factor, credit_factor
# the market's tolerances: in settings.py's block with every other one
from .report import scarcity_reading  # noqa: F401  (the reading of a market summary lives with its views)
from .settings import CAPACITY_CHECK, CAPACITY_MARGIN, NOISE_SHORTFALL, PRICE_ZERO, SCARCE, SHORTFALL_SLACK, SPLIT_TOLERANCE
from .solution import Solution, SolveError

# ---------------------------------------------------------------------------------------------- work and prices
SHORTFALL_PENALTY = 1e4   # decomposition: yen of cost per yen of shortfall, far above any yen of cover's cost
                          # (cash costs ≤ cost of capital ≤ 1, the dearest quote ≤ 10 × 10 per yen of limit)
JOINT_MAX_EXCHANGES = 20_000  # method "auto": one joint LP up to this many exchanges, the decomposition beyond
REPAIR_JOINT_MAX = 0      # the decomposition's repair: the mix of answers first; a joint LP of the marginal
                          # exchanges only when that mix finds no allocation (or for up to this many of them)
PRICE_START = 0.01        # yen per yen: the first price tried for a counterparty asked for more than it has
PRICE_BRACKET = 1e-6      # bisection stops when every scarce price's bracket is this narrow (relative)
MASTER_ANSWERS = 24       # the mix repair chooses among this many of the last rounds' answers per exchange
MASTER_ROUNDS = 30        # Dantzig–Wolfe rounds at most (each: the mix LP, then one batch at its prices)
MASTER_GAP = 1e-6         # stop when the mix is within this share of the total cost of the Lagrangian bound
MASTER_SPREAD = 0.05      # the mix repair asks for answers at the low prices × 0.95 and the high prices × 1.05
MAX_RAISES = 40           # rounds spent raising the high prices until they clear together
MAX_ROUNDS = 80           # price rounds at most (each one a batch over all exchanges)
MAX_COST_PRICE = 100.0    # yen per yen: the dearest yen of cover (rate on line ≤ 10, premium multiplier ≤ 10)
DEFAULT_CHUNK = 512       # exchanges per chunk LP in the decomposition

Method = Literal["auto", "joint", "decompose"]
MILP_NONE = N_("no yes/no quotes: the market is an LP")
MILP_FIXED = N_("yes/no quotes fixed at each exchange's stand-alone choice")
MILP_DROPPED = N_("yes/no quotes fixed at each exchange's stand-alone choice, those of capacity-limited "
                  "counterparties at 'no' (their minimum lines did not fit the capacity)")


# ---------------------------------------------------------------------------------------------- inputs

def writes_capacity(asset: ReserveAsset) -> bool:
    """Whether a reserve asset uses its counterparty's row of capacity.csv: a promise (bank guarantee, committed
    line, parent guarantee) is written by the bank or parent, as a layer by its insurer, and counts its amount
    committed in yen; a deposit is the exchange's own money at the bank and a JGB has no counterparty, so neither
    uses any capacity (docs/market.md, "Reserve assets")."""
    return not asset.funded and bool(asset.counterparty)


def capacity_warnings(capacity: Mapping[str, float], quotes: Sequence[Quote], source: str = "capacity",
                      assets: Sequence[ReserveAsset] = ()) -> list[str]:
    """Counterparties in capacity.csv that no quote (and no bank's or parent's promise) names (their rows do
    nothing): one warning listing them."""
    named = {q.counterparty for q in quotes} | {a.counterparty for a in assets if writes_capacity(a)}
    unknown = sorted(c for c in capacity if c not in named)
    if not unknown:
        return []
    return [f"{source}: {len(unknown)} counterpart{'y' if len(unknown) == 1 else 'ies'} not named by any quote "
            f"{'or promise (guarantee, line) ' if assets else ''}(ignored): {'; '.join(unknown)}"]


def _capacity_columns(d: Scaled, where: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns of one exchange's model (or a stack's) that use a limited counterparty's capacity: (column
    index, counterparty index, yen of capacity per unit of the column: batch × columns). A share of a quote uses
    its yen limit; the amount of a bank's or parent's promise uses itself (its column is in units of R)."""
    cols = Columns.of_scaled(d)
    k, c, v = [], [], []
    for j, q in enumerate(d.quotes):
        if q.counterparty in where:
            k.append(cols.share(j))
            c.append(where[q.counterparty])
            v.append(d.limit[..., j] * d.unit)
    for a, asset in enumerate(d.assets):
        if writes_capacity(asset) and asset.counterparty in where:
            k.append(cols.asset(a))
            c.append(where[asset.counterparty])
            v.append(np.asarray(d.unit, dtype=float))
    per = np.stack(v, axis=-1) if v else np.zeros(np.shape(d.unit) + (0,))
    return np.array(k, dtype=np.int64), np.array(c, dtype=np.int64), per


def cover_written(solution: Solution) -> dict[str, float]:
    """What one exchange's mix uses of each counterparty's capacity (JPY): its layers' cover (share × yen limit)
    and the amounts of the banks' and parents' promises it holds (`writes_capacity`)."""
    out = cover_by_counterparty(solution.lines)
    for h in solution.holdings:
        if writes_capacity(h.asset):
            out[h.asset.counterparty] = out.get(h.asset.counterparty, 0.0) + h.amount_jpy
    return out


def load_profile_list(path: str | Path) -> list[ExchangeProfile]:
    """PROFILES as CSV or Parquet → profiles (one bad row is an InputError: the market needs every exchange)."""
    from .inputs import load_profiles, profiles_from_frame

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        if not path.is_file():
            raise InputError(str(path), "file not found" if not path.exists() else "not a file")
        try:
            frame = pd.read_parquet(path).astype(object).where(lambda f: f.notna(), "")
        except Exception as exc:  # noqa: BLE001 — any unreadable file is bad input
            raise InputError(str(path), f"not a readable Parquet file ({exc})") from None
        return profiles_from_frame(frame, str(path))
    return load_profiles(path)


# ---------------------------------------------------------------------------------------------- the stacked model

def _takes(solution: Solution | None, inst: Instance, drop: frozenset[str] = frozenset()) -> dict[str, bool]:
    """Yes/no decisions of an exchange: bought alone (and not of a dropped counterparty) → yes."""
    bought = {l.quote.quote_id for l in solution.lines} if solution is not None else set()
    return {q.quote_id: q.quote_id in bought and q.counterparty not in drop for q in inst.eligible if q.needs_binary}


@dataclass
class _Part:
    """Where one exchange sits in the stacked model."""

    inst: Instance
    d: Scaled
    first: int      # first column
    count: int      # columns


class _Stacked:
    """Exchanges' `numbers` side by side as one HiGHS model, with capacity rows and a total-shortfall row: the
    joint LP."""

    def __init__(self, instances: Sequence[Instance], takes: Sequence[Mapping[str, bool]], limited: Sequence[str],
                 capacity: np.ndarray, money: float | None = None):
        started = time.perf_counter()
        self.limited = tuple(limited)
        where = {c: i for i, c in enumerate(self.limited)}
        units = np.array([inst.unit for inst in instances], dtype=float)
        # the money unit: objective in yen ÷ M keeps small and large exchanges' costs near 1
        self.money = float(money) if money else float(np.exp(np.mean(np.log(units)))) if units.size else 1.0
        rows, cols, vals = [], [], []
        cost, col_lo, col_hi, row_lo, row_hi = [], [], [], [], []
        cov_c, cov_k, cov_v = [], [], []
        self.parts: list[_Part] = []
        r0 = c0 = 0
        for inst, take in zip(instances, takes):
            d = Scaled.of(inst)
            index = {q.quote_id: j for j, q in enumerate(d.quotes)}
            num = numbers(d, {index[k]: v for k, v in take.items() if k in index})
            i, k = np.nonzero(num.A)
            rows.append(i + r0)
            cols.append(k + c0)
            vals.append(num.A[i, k])
            cost.append(num.cost * d.unit)  # yen per unit of each column
            col_lo.append(num.col_lower)
            col_hi.append(num.col_upper)
            row_lo.append(num.row_lower)
            row_hi.append(num.row_upper)
            ks, cs, per = _capacity_columns(d, where)  # yen of capacity per unit of a share or an amount
            use = per > 0
            cov_c.extend(cs[use].tolist())
            cov_k.extend((c0 + ks[use]).tolist())
            cov_v.extend(per[use].tolist())
            self.parts.append(_Part(inst, d, c0, num.cost.size))
            r0 += num.A.shape[0]
            c0 += num.cost.size
        self.own_rows, n = r0, c0
        cat = lambda xs, dtype=float: np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype)  # noqa: E731
        rows, cols, vals = cat(rows, np.int64), cat(cols, np.int64), cat(vals)
        self.cost_yen = cat(cost)
        self.col_lower, self.col_upper = cat(col_lo), cat(col_hi)
        row_lower, row_upper = cat(row_lo), cat(row_hi)
        self.cover_c, self.cover_k, self.cover_v = (np.array(cov_c, dtype=np.int64), np.array(cov_k, dtype=np.int64),
                                                    np.array(cov_v, dtype=float))
        self.z = np.array([p.first + SHORTFALL for p in self.parts], dtype=np.int64)
        self.units = units
        # capacity rows, each divided by its capacity (by M when it is under a yen: then its columns are fixed
        # at 0 as well, since a row's tolerance would let a sliver of cover through)
        capacity = np.where(capacity < 1.0, 0.0, capacity)
        none_left = capacity[self.cover_c] == 0
        self.col_upper[self.cover_k[none_left]] = 0.0
        self.scale = np.where(capacity > 0, capacity, self.money)
        self.cap_rows = self.own_rows + np.arange(len(self.limited))
        rows = np.concatenate([rows, self.cap_rows[self.cover_c]])
        cols = np.concatenate([cols, self.cover_k])
        vals = np.concatenate([vals, self.cover_v / self.scale[self.cover_c]])
        row_lower = np.concatenate([row_lower, np.full(len(self.limited), -INF)])
        row_upper = np.concatenate([row_upper, capacity * (1 - CAPACITY_MARGIN) / self.scale])
        # the total shortfall in yen ÷ M (free until phase 2 bounds it)
        self.shortfall_row = self.own_rows + len(self.limited)
        rows = np.concatenate([rows, np.full(len(self.parts), self.shortfall_row)])
        cols = np.concatenate([cols, self.z])
        vals = np.concatenate([vals, self.units / self.money])
        row_lower = np.concatenate([row_lower, [-INF]])
        row_upper = np.concatenate([row_upper, [INF]])
        m = row_lower.size
        A = sp.csc_matrix((vals, (rows, cols)), shape=(m, n))
        self.h = highs.new(settings.MARKET_TIME_LIMIT_SECONDS, **highs.market_options())
        highs.load(self.h, A, self.cost_yen / self.money, self.col_lower, self.col_upper, row_lower, row_upper)
        self.shape = (m, n, A.nnz)
        self.build_seconds = time.perf_counter() - started

    # -------------------------------------------------------------- solving
    def _run(self) -> str:
        outcome = highs.run(self.h, "the market LP")
        if outcome == "time_limit":
            raise SolveError(f"HiGHS stopped the market LP at the time limit "
                             f"({settings.MARKET_TIME_LIMIT_SECONDS:g} s)")
        return outcome

    # the three steps of highs.least_shortfall_then_least_cost on the joint LP
    def least_cost(self) -> str:
        self._phases.append("least cost, no shortfall" if not self._phases else "least cost at that shortfall")
        outcome = self._run()
        if outcome != "optimal" and len(self._phases) == 1:
            self._phases[-1] += " (infeasible)"
        return outcome

    def least_shortfall(self) -> tuple[str, float]:
        highs.set_col_bounds(self.h, self.z, np.zeros(self.z.size), np.full(self.z.size, INF))
        least = np.zeros(self.cost_yen.size)
        least[self.z] = self.units / self.money
        highs.set_costs(self.h, np.arange(least.size), least)
        self._phases.append("least total shortfall")
        outcome = self._run()
        if outcome != "optimal":
            return outcome, float("nan")
        self._first_duals = self._cap_duals()
        return outcome, highs.objective(self.h)

    def hold_shortfall(self, least: float) -> None:
        values = self.cost_yen / self.money
        highs.set_costs(self.h, np.arange(values.size), values)
        highs.set_row_bounds(self.h, self.shortfall_row, -INF, least * (1 + SHORTFALL_SLACK) + SHORTFALL_SLACK)

    def lexicographic(self, try_without_shortfall: bool) -> dict[str, Any]:
        """Least cost with no shortfall; if that is infeasible (or not tried), the least total shortfall, then the
        least cost at it. Returns x and the capacity rows' duals of the last phase (and of phase 1)."""
        started = time.perf_counter()
        self._phases: list[str] = []
        self._first_duals = None
        highs.least_shortfall_then_least_cost(self, try_without_shortfall=try_without_shortfall,
                                              what="total shortfall of the market")
        return self._answer(self._phases, self._first_duals, started)

    def _cap_duals(self) -> np.ndarray:
        duals = highs.duals(self.h)
        return duals[self.cap_rows] if len(self.limited) else np.zeros(0)

    def _answer(self, phases: list[str], first_duals: np.ndarray | None, started: float) -> dict[str, Any]:
        x = highs.values(self.h)
        to_price = lambda y: np.maximum(-y * self.money / self.scale, 0.0)  # noqa: E731 — yen per yen of capacity
        price = to_price(self._cap_duals())
        shortfall_price = to_price(first_duals) if first_duals is not None else np.zeros(len(self.limited))
        return {"x": x, "phases": phases, "price": np.where(price > PRICE_ZERO, price, 0.0),
                "shortfall_price": np.where(shortfall_price > PRICE_ZERO, shortfall_price, 0.0),
                "solve_seconds": time.perf_counter() - started,
                "iterations": highs.iterations(self.h)}

    def solutions(self, x: np.ndarray, seconds: float) -> list[Solution]:
        """The stacked answer → one verified Solution per exchange (checked as stacks, `solutions_from_columns_many`)."""
        share = seconds / max(len(self.parts), 1)
        x = x.copy()
        x[self.z] = np.where(x[self.z] < NOISE_SHORTFALL, 0.0, x[self.z])
        return solutions_from_columns_many([p.inst for p in self.parts],
                                           [x[p.first:p.first + p.count] for p in self.parts], seconds=share)


@dataclass
class _Response:
    """A chunk's answer to prices: per exchange, cover of each limited counterparty (yen), annual cost (yen,
    without the prices), shortfall (yen); and the chunk's columns."""

    cover: np.ndarray
    cost: np.ndarray
    shortfall: np.ndarray
    x: np.ndarray
    paths: dict[str, int] = field(default_factory=dict)  # how the chunks' LPs were solved (model.Resolver's stats)


class _Priced:
    """A chunk of the decomposition: its exchanges alone (no capacity rows), each one's cover of c charged at
    c's price and its shortfall at SHORTFALL_PENALTY, in units of its own R.

    Exchanges with the same eligible quotes and yes/no choices are one stack of `numbers()` (the rows `solve`
    uses; requirement-basis sheets share one matrix), solved by `lp.engine.Resolver.solve_lp_stack`: a round's prices change
    only the costs, so an optimal basis of an earlier round or of another exchange mostly still holds and is
    certified without a simplex (`certify_many`); the warm simplex runs only for the rest."""

    def __init__(self, instances: Sequence[Instance], takes: Sequence[Mapping[str, bool]], limited: Sequence[str]):
        highs.quiet_highs()
        self.n, self.C = len(instances), len(limited)
        self.resolver = Resolver()  # one per chunk: a chunk's answers never depend on which process holds it
        where = {c: i for i, c in enumerate(limited)}
        groups: dict[tuple, list[int]] = {}
        for e, (inst, take) in enumerate(zip(instances, takes)):
            key = (tuple(q.quote_id for q in inst.eligible), tuple(a.asset_id for a in inst.eligible_assets),
                   tuple(sorted(take.items())))
            groups.setdefault(key, []).append(e)
        offsets = _column_offsets(instances)
        self.stacks = []
        for (_, _, take), members in groups.items():
            d = Scaled.stack([instances[e] for e in members])
            index = {q.quote_id: j for j, q in enumerate(d.quotes)}
            num = numbers(d, {index[k]: v for k, v in take if k in index})
            upper = num.col_upper.copy()
            upper[:, SHORTFALL] = INF  # the shortfall z: priced, not fixed at 0
            cost = num.cost.copy()
            cost[:, SHORTFALL] = SHORTFALL_PENALTY  # yen of cost per yen of shortfall; both in units of R
            ks, cs, per = _capacity_columns(d, where)
            self.stacks.append(_PricedStack(d, replace(num, col_upper=upper), cost, np.array(members), cs, ks,
                                            per / d.unit[:, None], np.array([offsets[e][0] for e in members])))
        self.width = offsets[-1][1] if offsets else 0

    def respond(self, prices: np.ndarray) -> "_Response":
        cover, cost = np.zeros((self.n, self.C)), np.zeros(self.n)
        shortfall, x_all = np.zeros(self.n), np.zeros(self.width)
        before = Counter(self.resolver.stats)
        for s in self.stacks:
            d, num = s.d, s.num
            priced = s.cost.copy()
            priced[:, s.cols] += prices[s.counterparty] * s.per  # price × capacity used, in units of R
            status, x = self.resolver.solve_lp_stack(d, replace(num, cost=priced))
            if (status != 1).any():
                raise SolveError("HiGHS could not solve a chunk of the market's decomposition")
            np.add.at(cover, (np.repeat(s.members, s.cols.size), np.tile(s.counterparty, s.members.size)),
                      (x[:, s.cols] * s.per * d.unit[:, None]).reshape(-1))
            cost[s.members] = np.einsum("ic,ic->i", num.cost, x) * d.unit  # the exchange's annual cost, in yen
            shortfall[s.members] = np.maximum(x[:, SHORTFALL], 0.0) * d.unit
            x_all[s.offsets[:, None] + np.arange(x.shape[1])] = x
        return _Response(cover, cost, shortfall, x_all, dict(self.resolver.stats - before))


@dataclass
class _PricedStack:
    d: Scaled
    num: Numbers           # the exchanges' rows and bounds, costs without prices (shortfall free, cost 0)
    cost: np.ndarray       # costs with the shortfall's penalty, before prices
    members: np.ndarray    # positions in the chunk
    counterparty: np.ndarray  # for each priced column, its limited counterparty
    cols: np.ndarray       # the columns that use a limited counterparty's capacity (shares and promises' amounts)
    per: np.ndarray        # capacity used per unit of each such column, in units of R (members × cols)
    offsets: np.ndarray    # each member's first column in the chunk's answer


# ---------------------------------------------------------------------------------------------- the joint LP

@dataclass
class _Allocation:
    solutions: list[Solution]
    price: np.ndarray
    shortfall_price: np.ndarray
    phases: list[str]
    milp: str
    info: dict[str, Any] = field(default_factory=dict)


def _joint(instances: Sequence[Instance], alone: Sequence[Solution | None], limited: Sequence[str],
           capacity: np.ndarray, try_without_shortfall: bool) -> _Allocation:
    """One LP over all the given exchanges with capacity rows; the yes/no quotes fixed as MILP_* say."""
    binaries = any(q.needs_binary for inst in instances for q in inst.eligible)
    attempts = [(MILP_FIXED if binaries else MILP_NONE, frozenset())]
    if binaries:
        attempts.append((MILP_DROPPED, frozenset(limited)))
    last: Exception | None = None
    for milp, drop in attempts:
        takes = [_takes(s, inst, drop) for s, inst in zip(alone, instances)]
        stacked = _Stacked(instances, takes, limited, capacity)
        try:
            ans = stacked.lexicographic(try_without_shortfall)
        except SolveError as exc:  # minimum lines that do not fit a capacity: try again without them
            last = exc
            continue
        solutions = stacked.solutions(ans["x"], ans["solve_seconds"])
        m, n, nnz = stacked.shape
        info = {"rows": m, "columns": n, "nonzeros": nnz, "build_seconds": stacked.build_seconds,
                "solve_seconds": ans["solve_seconds"], "simplex_iterations": ans["iterations"],
                "money_unit_jpy": stacked.money}
        return _Allocation(solutions, ans["price"], ans["shortfall_price"], ans["phases"], milp, info)
    raise last if last is not None else SolveError("the market LP could not be built")


# ---------------------------------------------------------------------------------------------- who falls short
SPLIT_MAX_EXCHANGES = 100  # the ranges take two LPs of the joint model per exchange that may be short (21 Japanese
                           # exchanges: under a second): above this many the summary says the split may not be
                           # unique without ranging it


def shortfall_ranges(instances: Sequence[Instance], alone: Sequence[Solution | None], limited: Sequence[str],
                     capacity: np.ndarray, alloc: _Allocation) -> dict[int, tuple[float, float]]:
    """How the market's shortfall may be split among exchanges: for each exchange, the least and the most shortfall
    (yen) it has among all the allocations with the same least total shortfall and the same least total cost as
    `alloc` (to SPLIT_TOLERANCE). The LP has many optima when capacity runs out, so *which* exchanges fall short
    depends on the method (and the solver's path), not on the inputs; these ranges do not. Exchanges not in
    {index: (least, most)} are 0 in every such allocation.

    On the joint model (`_Stacked`, the yes/no quotes fixed as `alloc.milp` says), solved as `_joint` does; then
    with two more rows (total shortfall ≤ that least one, total cost ≤ that least one), the min and the max of each
    exchange's shortfall. The decomposition's allocation is within its bound of that optimum, and is ranged
    against it too.
    """
    drop = frozenset(limited) if alloc.milp == MILP_DROPPED else frozenset()
    takes = [_takes(s, inst, drop) for s, inst in zip(alone, instances)]
    st = _Stacked(instances, takes, limited, capacity)
    M, total_r = st.money, float(st.units.sum())
    h = st.h
    st.lexicographic(try_without_shortfall=False)  # the least total shortfall, then the least cost at it
    short = float(highs.values(h)[st.z] @ st.units)
    cost = highs.objective(h) * M
    highs.set_row_bounds(h, st.shortfall_row, -INF, (short + SPLIT_TOLERANCE * total_r) / M)
    nz = np.nonzero(st.cost_yen)[0]
    highs.add_row(h, nz, st.cost_yen[nz] / M, -INF, (cost + SPLIT_TOLERANCE * max(cost, total_r)) / M)
    # an exchange can be short only if it is short alone without limits or buys capacity-limited cover
    limited_cols = set(st.cover_k.tolist())
    candidates = [i for i, (p, s) in enumerate(zip(st.parts, alloc.solutions))
                  if s.shortfall_jpy > 0 or any(p.first <= k < p.first + p.count for k in limited_cols)]
    out: dict[int, tuple[float, float]] = {}
    highs.set_costs(h, np.arange(st.cost_yen.size), np.zeros(st.cost_yen.size))
    for i in candidates:
        z = int(st.z[i])
        ends = []
        for sense in (1.0, -1.0):
            highs.set_costs(h, [z], [sense])
            if st._run() != "optimal":
                raise SolveError("HiGHS could not range the market's split of the shortfall")
            ends.append(float(highs.values(h)[z]))
        highs.set_costs(h, [z], [0.0])
        unit = float(st.units[i])
        least, most = (max(0.0, e) * unit for e in ends)
        noise = max(NOISE_SHORTFALL * unit, 10 * SPLIT_TOLERANCE * total_r)
        least, most = (0.0 if least < noise else least), (0.0 if most < noise else min(most, short))
        mine = alloc.solutions[i].shortfall_jpy  # an end within the slack of this allocation's value is that value
        least, most = (mine if abs(least - mine) < noise else least), (mine if abs(most - mine) < noise else most)
        if most > 0:
            out[i] = (least, most)
    return out


def add_shortfall_split(result: "MarketResult", ranges: dict[int, tuple[float, float]] | None) -> None:
    """The split of the shortfall in the rows (shortfall_least_jpy, shortfall_most_jpy) and the summary
    (`shortfall_split`): whether it is unique, and which exchanges may fall short in an allocation as good as this
    one. `ranges` None: not ranged (too many exchanges); the summary then says it may not be unique."""
    frame, summary = result.rows, result.summary
    if not summary["short_because_of_capacity"]:
        summary["shortfall_split"] = {"unique": True, "ranged": ranges is not None, "exchanges": []}
        return
    if ranges is None:
        summary["shortfall_split"] = {
            "unique": None, "ranged": False, "exchanges": [],
            "note": "capacity ran out: the total shortfall and cost are the least possible, but how the shortfall "
                    "is split among the exchanges may not be unique (not ranged above "
                    f"{SPLIT_MAX_EXCHANGES:,} exchanges)"}
        return
    least = np.zeros(len(frame))
    most = np.zeros(len(frame))
    for i, (lo, hi) in ranges.items():
        least[i], most[i] = lo, hi
    frame["shortfall_least_jpy"], frame["shortfall_most_jpy"] = least, most
    tol = 1e-6 * frame["required_coverage_jpy"].clip(lower=1.0).to_numpy()
    varies = most - least > tol
    rows = [{"exchange_id": str(frame["exchange_id"].iloc[i]), "shortfall_jpy": float(frame["shortfall_jpy"].iloc[i]),
             "least_jpy": float(least[i]), "most_jpy": float(most[i])} for i in sorted(ranges)]
    summary["shortfall_split"] = {
        "unique": not bool(varies.any()), "ranged": True, "exchanges": rows,
        "may_fall_short": [r["exchange_id"] for r in rows if r["most_jpy"] > 0],
        "must_fall_short": [r["exchange_id"] for r in rows if r["least_jpy"] > 0],
        **({"note": "capacity ran out: the total shortfall and cost are the least possible, but how the shortfall is "
                    "split among the exchanges is not unique; each exchange's shortfall lies between least_jpy and "
                    "most_jpy in the allocations as good as this one, and short_because_of_capacity names one of "
                    "them"} if varies.any() else {})}


# ---------------------------------------------------------------------------------------------- decomposition

@dataclass(frozen=True)
class _ChunkSpec:
    index: int
    instances: tuple[Instance, ...]
    takes: tuple[Mapping[str, bool], ...]
    limited: tuple[str, ...]


class _Owner:
    """Holds some chunks' LPs between rounds (in this process, a worker process, or a Dask actor) and answers
    each round's prices from the previous round's basis."""

    def __init__(self, specs: Sequence[_ChunkSpec]):
        self.chunks = [(s.index, _Priced(s.instances, s.takes, s.limited)) for s in specs]

    def respond(self, prices: np.ndarray) -> list[tuple[int, _Response]]:
        return [(i, lp.respond(np.asarray(prices, dtype=float))) for i, lp in self.chunks]


def _owner_loop(conn, specs) -> None:  # a worker process: build the chunks, then answer prices until None
    try:
        # small matrices in several processes: numpy's BLAS threads would only contend (settings.BLAS_THREADS)
        threadpool_limits(limits=settings.BLAS_THREADS, user_api="blas")
        owner = _Owner(specs)
        conn.send(("ready", None))
    except BaseException as exc:  # noqa: BLE001 — report, do not hang the coordinator
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        prices = conn.recv()
        if prices is None:
            return
        try:
            conn.send(("ok", owner.respond(prices)))
        except BaseException as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Owners:
    """The chunks, dealt round-robin to `workers` owners: here, in spawned processes, or as Dask actors."""

    def __init__(self, specs: list[_ChunkSpec], workers: int, scheduler: str | None):
        self.kind, self.procs, self.client = "local", [], None
        groups = [specs[k::max(workers, 1)] for k in range(max(workers, 1))]
        groups = [g for g in groups if g]
        if scheduler:
            from distributed import Client

            self.kind = "dask"
            self.client = Client(scheduler)
            self.actors = [self.client.submit(_Owner, g, actor=True).result() for g in groups]
        elif workers > 1 and len(groups) > 1:
            self.kind = "processes"
            ctx = multiprocessing.get_context("spawn")
            # spawn's first start also starts multiprocessing's resource tracker, which unblocks SIGINT in the
            # calling thread when it has (3.12): started here, before the workers, it cannot undo `sigint_held`
            resource_tracker.ensure_running()
            self.pipes = []
            for g in groups:
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_owner_loop, args=(theirs, g), daemon=True)
                with sigint_held():  # Ctrl-C is the coordinator's to handle: a worker starts with SIGINT blocked
                    proc.start()
                self.procs.append(proc)
                self.pipes.append(mine)
            for pipe in self.pipes:
                self._receive(pipe)
        else:
            self.owners = [_Owner(g) for g in groups]

    @staticmethod
    def _receive(pipe):
        status, payload = pipe.recv()
        if status == "error":
            raise SolveError(f"a decomposition worker failed: {payload}")
        return payload

    def respond(self, prices: np.ndarray) -> list[_Response]:
        if self.kind == "dask":
            futures = [a.respond(prices) for a in self.actors]
            answers = [pair for f in futures for pair in f.result()]
        elif self.kind == "processes":
            for pipe in self.pipes:
                pipe.send(prices)
            answers = [pair for pipe in self.pipes for pair in self._receive(pipe)]
        else:
            answers = [pair for o in self.owners for pair in o.respond(prices)]
        return [r for _, r in sorted(answers, key=lambda pair: pair[0])]

    def close(self) -> None:
        for pipe in getattr(self, "pipes", []):
            try:
                pipe.send(None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        if self.client is not None:
            self.client.close()


def _gather(responses: list[_Response]) -> _Response:
    return _Response(np.vstack([r.cover for r in responses]), np.concatenate([r.cost for r in responses]),
                     np.concatenate([r.shortfall for r in responses]), np.concatenate([r.x for r in responses]),
                     sum((Counter(r.paths) for r in responses), Counter()))


def _decompose(instances: Sequence[Instance], alone: Sequence[Solution | None], limited: Sequence[str],
               capacity: np.ndarray, *, workers: int, scheduler: str | None, chunk_size: int,
               max_rounds: int = MAX_ROUNDS, repair_max: int = REPAIR_JOINT_MAX) -> _Allocation:
    """Prices by simultaneous bisection (one batch of chunk LPs per round), then the repair: Dantzig–Wolfe rounds
    on the mix of each marginal exchange's answers (`_master`), or one joint LP of the marginal exchanges on the
    capacity the others leave. See the module docstring."""
    started = time.perf_counter()
    takes = [_takes(s, inst) for s, inst in zip(alone, instances)]
    milp = MILP_FIXED if any(takes) else MILP_NONE
    specs = [_ChunkSpec(k, tuple(instances[a:a + chunk_size]), tuple(takes[a:a + chunk_size]), tuple(limited))
             for k, a in enumerate(range(0, len(instances), chunk_size))]
    C = len(limited)
    owners = _Owners(specs, workers, scheduler)
    setup = time.perf_counter() - started
    rounds, best_bound, paths = 0, -math.inf, Counter()
    lo, hi, lam = np.zeros(C), np.full(C, np.nan), np.zeros(C)
    recent: deque[_Response] = deque(maxlen=MASTER_ANSWERS)  # the last rounds' answers: the mix repair's columns
    try:
        def ask(prices: np.ndarray) -> _Response:
            nonlocal rounds, best_bound
            rounds += 1
            r = _gather(owners.respond(prices))
            paths.update(r.paths)
            demand = r.cover.sum(axis=0)
            bound = float(r.cost.sum() + SHORTFALL_PENALTY * r.shortfall.sum() + prices @ (demand - capacity))
            best_bound = max(best_bound, bound)
            recent.append(r)
            return r

        while rounds < max_rounds:
            r = ask(lam)
            demand = r.cover.sum(axis=0)
            over = demand > capacity * (1 - CAPACITY_MARGIN)
            for c in range(C):
                if over[c]:
                    lo[c] = lam[c]
                    if not np.isnan(hi[c]) and hi[c] <= lo[c]:
                        hi[c] = np.nan  # another price moved demand here: the bracket no longer holds
                    lam[c] = max(2 * lam[c], PRICE_START) if np.isnan(hi[c]) else (lo[c] + hi[c]) / 2
                else:
                    hi[c] = lam[c]
                    if lo[c] >= hi[c]:
                        lo[c] = 0.0
                    lam[c] = (lo[c] + hi[c]) / 2
            open_ = ~np.isnan(hi) & (hi > 0)
            if not np.isnan(hi).any() and ((hi - lo)[open_] <= PRICE_BRACKET * hi[open_]).all():
                break
        high = np.where(np.isnan(hi), lam, hi)
        r_lo, r_hi = ask(lo), ask(high)
        # The repair. Marginal exchanges answer the low and the high prices differently; with the others kept at
        # their answers, they share the capacity left in one joint LP (exact for them). When too many are
        # marginal for one LP, each takes a convex mix of its answers to the last rounds' prices instead, which
        # meets its own rows (every answer does and the rows are convex), weights from one LP (`_master`).
        # An exchange indifferent at the clearing prices may answer both with the same one of its optimal mixes,
        # so every buyer of a priced counterparty (at either price) is marginal, not only those that switch.
        tol = 1e-9 * np.maximum(capacity, 1.0)
        priced = high > PRICE_ZERO
        moved = (np.abs(r_hi.cover - r_lo.cover) > tol).any(axis=1) | \
            (r_hi.cover[:, priced] > 0).any(axis=1) | (r_lo.cover[:, priced] > 0).any(axis=1)
        while True:
            left = capacity - r_hi.cover[~moved].sum(axis=0)
            short = left < -tol
            if not short.any():
                break
            moved |= (r_hi.cover[:, short] > 0).any(axis=1)  # a high price that does not clear: its buyers too
        mix, master_prices, mix_seconds = None, None, 0.0
        if moved.sum() > repair_max:
            # prices a little apart, so that marginal exchanges answer them differently
            r_lo, r_hi = ask(lo * (1 - MASTER_SPREAD)), ask(high * (1 + MASTER_SPREAD))
            for _ in range(MAX_RAISES):  # the high prices together must clear: raise those that do not
                over = r_hi.cover.sum(axis=0) > capacity * (1 - CAPACITY_MARGIN)
                if not over.any():
                    break
                high = np.where(over, np.maximum(high * 2, PRICE_START), high)
                r_hi = ask(high)
            # Dantzig–Wolfe: the mix LP's capacity prices ask every exchange again, until the mix is as cheap
            # as the Lagrangian bound allows (each new answer is a column the mix may use)
            for _ in range(MASTER_ROUNDS):
                t = time.perf_counter()
                mix = _master(list(recent), r_hi, capacity)
                mix_seconds += time.perf_counter() - t
                if mix is None or _mix_gap(mix, best_bound) <= MASTER_GAP:
                    break
                ask(mix[3])
        if mix is not None:
            master_prices, mix = mix[3], mix[:2]
    finally:
        owners.close()
    rounds_seconds = time.perf_counter() - started - setup
    offsets = _column_offsets(instances)
    solutions: list[Solution | None] = [None] * len(instances)
    if mix is not None:
        weights, answers = mix
        repair_info: dict[str, Any] = {"exchanges": int((weights.max(axis=1) < 1 - 1e-9).sum()),
                                       "answers": len(answers), "kind": "mix of the last rounds' answers"}
    else:
        repair_ids = np.flatnonzero(moved)
        repair_info = {"exchanges": int(repair_ids.size), "kind": "joint LP of the marginal exchanges"
                       if repair_ids.size else "none needed (no capacity is priced)"}
        if repair_ids.size:
            sub = _joint([instances[i] for i in repair_ids], [alone[i] for i in repair_ids], limited,
                         np.maximum(left, 0.0), try_without_shortfall=True)
            for i, sol in zip(repair_ids, sub.solutions):
                solutions[i] = sol
            repair_info.update(sub.info)
            milp = sub.milp if sub.milp == MILP_DROPPED else milp
        weights, answers = np.ones((len(instances), 1)), [r_hi]
    rest = [i for i in range(len(instances)) if solutions[i] is None]
    xs = []
    for i in rest:
        a, b = offsets[i]
        x = sum(w * r.x[a:b] for w, r in zip(weights[i], answers) if w > 0)
        x[SHORTFALL] = 0.0 if x[SHORTFALL] < NOISE_SHORTFALL else x[SHORTFALL]
        xs.append(x)
    for i, sol in zip(rest, solutions_from_columns_many([instances[i] for i in rest], xs)):
        solutions[i] = sol
    # the mix LP's capacity prices are the market's (its restricted master converged); else the bracket's middle
    price = master_prices if mix is not None and master_prices is not None else (lo + high) / 2
    # With scarce capacity some exchanges fall short, and a price then carries the shortfall's penalty: above
    # MAX_COST_PRICE (no yen of cover costs more) it is reported as a shortfall price, price ÷ penalty.
    in_shortfall = price > MAX_COST_PRICE
    shortfall_price = np.where(in_shortfall, price / SHORTFALL_PENALTY, 0.0)
    price = np.where(in_shortfall, np.nan, price)
    penalised = sum(s.annual_cost_jpy + SHORTFALL_PENALTY * s.shortfall_jpy for s in solutions)
    info = {"rounds": rounds, "solve_paths": dict(paths), "chunks": len(specs), "owners": owners.kind, "workers": workers,
            "setup_seconds": setup, "rounds_seconds": rounds_seconds, "mix_lp_seconds": mix_seconds, "repair": repair_info,
            "lagrangian_bound_jpy": best_bound, "penalised_cost_jpy": penalised,
            "gap_to_bound": (penalised - best_bound) / max(abs(penalised), 1.0), "price_low": lo.tolist(),
            "price_high": high.tolist()}
    return _Allocation(solutions, np.where(price > PRICE_ZERO, price, np.where(np.isnan(price), np.nan, 0.0)),
                       np.where(shortfall_price > PRICE_ZERO, shortfall_price, 0.0),
                       ["price rounds", "repair: " + repair_info["kind"]], milp, info)


def _mix_gap(mix: tuple[np.ndarray, list["_Response"], float, np.ndarray], bound: float) -> float:
    """How far a mix's penalised cost is above the Lagrangian bound, as a share of its cost."""
    weights, answers, penalised, _ = mix
    cost = float((weights * np.stack([a.cost for a in answers], axis=1)).sum())
    return (penalised - bound) / max(cost, 1.0)


def _master(answers: list[_Response], clearing: _Response, capacity: np.ndarray
            ) -> tuple[np.ndarray, list[_Response], float, np.ndarray] | None:
    """The mix repair (a restricted master LP): each exchange takes a convex mix of its answers to the last
    rounds' prices, weights w_ek ≥ 0 with Σ_k w_ek = 1, at the least Σ cost + penalty·shortfall that keeps every
    capacity row. Only exchanges whose answers differ get weights to choose; the others keep `clearing` (an
    answer that clears every capacity with the rest). Returns (weights exchanges × answers, answers, the mix's
    Σ cost + penalty·shortfall in yen, the capacity rows' prices in yen per yen), or None when HiGHS finds no such
    mix."""
    answers = [a for a in answers if a is not clearing] + [clearing]
    k = len(answers)
    covers = np.stack([a.cover for a in answers], axis=1)          # exchanges × answers × counterparties
    value = np.stack([a.cost + SHORTFALL_PENALTY * a.shortfall for a in answers], axis=1)
    scale = np.maximum(capacity, 1.0)
    free = (np.abs(covers - covers[:, -1:, :]) > 1e-9 * scale).any(axis=(1, 2))
    weights = np.zeros((free.size, k))
    weights[:, -1] = 1.0
    room = capacity * (1 - CAPACITY_MARGIN) - covers[~free, -1, :].sum(axis=0)
    if (room < -1e-9 * scale).any():
        return None
    ids = np.flatnonzero(free)
    if ids.size == 0:
        return weights, answers, float((weights * value).sum()), np.zeros(capacity.size)
    n, C = ids.size, capacity.size
    money = max(float(np.abs(value[ids]).mean()), 1.0)
    # an exchange's answer identical to an earlier one (same cover, same cost: the same basis answered both
    # prices) is one column, not several: the LP and its prices are the same, and it is several times smaller
    cover_f, value_f = covers[ids], value[ids]
    keep = np.ones((n, k), dtype=bool)
    for a in range(1, k):
        for b in range(a):
            keep[:, a] &= ~((cover_f[:, a] == cover_f[:, b]).all(axis=1) & (value_f[:, a] == value_f[:, b]))
    at = np.flatnonzero(keep.reshape(-1))    # columns: kept (exchange, answer) pairs in exchange-major order
    owner, m = at // k, at.size              # rows: capacity rows, then one convexity row per exchange
    cap_part = cover_f.reshape(n * k, C)[at] / scale              # m × C
    r, c = np.nonzero(cap_part)
    rows = np.concatenate([c, C + owner])
    cols = np.concatenate([r, np.arange(m)])
    vals = np.concatenate([cap_part[r, c], np.ones(m)])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(C + n, m))
    # the interior point method, then crossover to a vertex: 8× faster than the simplex at 100,000 exchanges
    h = highs.new(settings.MARKET_TIME_LIMIT_SECONDS, solver="ipm", **highs.market_options())
    highs.load(h, A, value_f.reshape(-1)[at] / money, np.zeros(m), np.ones(m),
               np.concatenate([np.full(C, -INF), np.ones(n)]),
               np.concatenate([np.maximum(room, 0.0) / scale, np.ones(n)]))
    try:
        outcome = highs.run(h, "the market's mix LP")
    except SolveError:
        outcome = "failed"
    if outcome != "optimal":
        return None
    w = np.zeros(n * k)
    w[at] = np.clip(highs.values(h), 0.0, 1.0)
    w = w.reshape(n, k)
    weights[ids] = w / w.sum(axis=1, keepdims=True)
    prices = np.maximum(-highs.duals(h)[:C] * money / scale, 0.0)
    return weights, answers, float((weights * value).sum()), prices


def _column_offsets(instances: Sequence[Instance]) -> list[tuple[int, int]]:
    """Where each exchange's columns sit in the concatenated chunk answers (chunks are stacked in order)."""
    out, start = [], 0
    for inst in instances:
        count = Columns(len(inst.eligible), np.flatnonzero([q.needs_binary for q in inst.eligible]),
                        len(inst.eligible_assets)).count
        out.append((start, start + count))
        start += count
    return out


# ---------------------------------------------------------------------------------------------- checks and results

def check_capacity(solutions: Sequence[Solution], capacity: Mapping[str, float]) -> list[str]:
    """Independent of the LP: re-count each counterparty's cover from the mixes' own lines (share × yen limit)."""
    written: dict[str, float] = {}
    for s in solutions:
        for c, v in cover_written(s).items():
            written[c] = written.get(c, 0.0) + v
    return [f"{c} writes {written.get(c, 0.0):,.0f} JPY of cover, more than its capacity {k:,.0f} JPY"
            for c, k in capacity.items() if written.get(c, 0.0) > k * (1 + CAPACITY_CHECK) + 1e-6]


@dataclass
class MarketResult:
    """One row per exchange (`rows`, batch columns plus the market's), the summary (`summary`, what
    MARKET.summary.json holds), the verified mixes (`solutions`) and the file written (`out`)."""

    rows: pd.DataFrame
    summary: dict[str, Any]
    solutions: list[Solution]
    out: Path | None = None


def _row(s: Solution, row_no: int) -> dict[str, Any]:
    """An exchange's row: the batch's row (`batch.row_for`, every batch column) and where it came from."""
    return {**batch.row_for(s), "source_row": row_no}


@dataclass
class _Baseline:
    """Every exchange alone, without capacity limits: what the market is set against."""

    rows: pd.DataFrame                # the batch's rows (`batch.row_for` / `batch.rows_for_mixes`), in input order
    demand: dict[str, float]          # cover bought by counterparty (yen)
    alone: list[Solution | None]      # each exchange's mix alone; None where the sheet has no yes/no quote to fix


def _baseline(instances: Sequence[Instance], quotes: Sequence[Quote], regime: Regime,
              solutions: bool, assets: Sequence[ReserveAsset] = ()) -> _Baseline:
    """One solve per exchange, as a batch's chunk solves it (stacks per set of offered quotes on kept models, the
    rest one by one), without the marginal cost; `solutions`: keep each exchange's mix (the yes/no choices the
    market fixes). Raises SolveError naming the first exchange that cannot be solved alone."""
    lp = batch.ChunkSolver(quotes, regime, assets)
    counterparty = {q.quote_id: q.counterparty for q in quotes}
    # a bank's or parent's promise (writes_capacity) is demand for its capacity; a deposit or a JGB is not
    counterparty.update({batch.ASSET_KEY + a.asset_id: a.counterparty for a in assets if writes_capacity(a)})
    n = len(instances)
    rows: list[dict[str, Any] | None] = [None] * n
    alone: list[Solution | None] = [None] * n
    demand: dict[str, float] = {}
    try:
        stacks, rest = lp.stacks(instances, marginal=False)
    except Exception:  # noqa: BLE001 — the stacks failed as a whole: every exchange is solved on its own (as batch)
        stacks, rest = [], list(range(n))
        lp = batch.ChunkSolver(quotes, regime, assets)
    for mixes, at in stacks:
        stack_rows, by_quote = batch.rows_for_mixes(mixes)
        for j, k in enumerate(at):
            rows[k] = stack_rows[j]
            if solutions:
                alone[k] = mixes.solution(j)
        for qid, agg in by_quote.items():  # a quote's cover, or an asset's amount held (batch.ASSET_KEY + its id)
            c = counterparty.get(qid)
            if c is not None:
                demand[c] = demand.get(c, 0.0) + agg[0]
    presolved = dict(lp.presolved)  # exchanges short even alone, answered by the stacks (least shortfall, then cost)
    for k in sorted([*rest, *presolved]):
        try:
            s = presolved.pop(k, None) or lp.resolver.solve(instances[k], marginal=False)
        except SolveError as exc:
            raise SolveError(f"exchange {instances[k].profile.exchange_id} cannot be solved even alone: {exc}") \
                from exc
        rows[k] = batch.row_for(s)
        if solutions:
            alone[k] = s
        for c, cover in cover_by_counterparty(s.lines).items():
            demand[c] = demand.get(c, 0.0) + cover
        for c, amount in _promised(s).items():
            demand[c] = demand.get(c, 0.0) + amount
    return _Baseline(batch.rows_frame(rows), demand, alone)


def _promised(s: Solution) -> dict[str, float]:
    """Yen promised by each bank or parent in a mix (its guarantees and committed lines; `writes_capacity`)."""
    out: dict[str, float] = {}
    for h in s.holdings:
        if writes_capacity(h.asset):
            out[h.asset.counterparty] = out.get(h.asset.counterparty, 0.0) + h.amount_jpy
    return out


def summary_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".summary.json")


def solve_market(profiles: Sequence[ExchangeProfile], quotes: Sequence[Quote], regime: Regime,
                 capacity: Mapping[str, float], *, method: Method = "auto", workers: int = 1,
                 scheduler: str | None = None, chunk_size: int = DEFAULT_CHUNK, capacity_source: str = "capacity",
                 unlimited=None, repair_max: int = REPAIR_JOINT_MAX,
                 assets: Sequence[ReserveAsset] = ()) -> MarketResult:
    """All exchanges jointly against `capacity` (counterparty → most yen of cover written across all exchanges).

    `assets`: the reserve assets offered (assets.csv), each exchange's columns as in `solve`; a bank's or parent's
    promise (`writes_capacity`) uses its counterparty's capacity row beside that counterparty's layers.

    The baseline (each exchange alone, without capacity limits, and its yes/no choices) is one solve per exchange,
    as a batch's chunk solves it (`_baseline`). `unlimited`: the batch.BatchResult of the same profiles, if the
    caller has one (a benchmark that timed it); its rows are then the baseline's. `repair_max`: the decomposition
    repairs at most this many marginal exchanges with one joint LP; beyond, with the mix of their last answers.
    Returns a MarketResult; raises SolveError if HiGHS fails, an exchange cannot be solved alone, or a mix fails
    the independent checks (verify, capacity).
    """
    batch.one_blas_thread()  # as a batch chunk: small matrices, where numpy's BLAS threads would only contend
    started = time.perf_counter()
    quotes = tuple(quotes)
    if method not in ("auto", "joint", "decompose"):
        raise InputError("--method", f"expected joint, decompose or auto, got {method!r}")
    if not (isinstance(chunk_size, int) and chunk_size >= 1):
        raise InputError("--chunk-size", f"expected a whole number of exchanges ≥ 1, got {chunk_size!r}")
    assets = tuple(assets)
    warnings = capacity_warnings(capacity, quotes, capacity_source, assets)
    named = {q.counterparty for q in quotes} | {a.counterparty for a in assets if writes_capacity(a)}
    limited = tuple(c for c in capacity if c in named)
    cap = np.array([float(capacity[c]) for c in limited], dtype=float)
    credit = {q.quote_id: credit_factor(q, regime) for q in quotes}
    asset_credit = {a.asset_id: asset_credit_factor(a, regime) for a in assets}
    instances = [Instance.build(p, quotes, regime, credit=credit, assets=assets, asset_credit=asset_credit)
                 for p in profiles]

    # the same exchanges without capacity limits: one solve each (the yes/no choices the market fixes come from it)
    t0 = time.perf_counter()
    binaries = any(q.needs_binary for q in quotes)
    base = _baseline(instances, quotes, regime, solutions=binaries, assets=assets) if unlimited is None or binaries else None
    alone = base.alone if base is not None else [None] * len(instances)
    if unlimited is None:
        free_rows, demand = base.rows, base.demand
    else:  # the caller's batch of the same profiles (a benchmark that timed it): its rows are the baseline
        free_rows = unlimited.results
        demand = {r["counterparty"]: r["cover_jpy"] for r in unlimited.summary.get("insurance_by_counterparty", [])}
        promised = {a.asset_id for a in assets if writes_capacity(a)}
        for r in unlimited.summary.get("reserve_assets_by_asset", []):  # the promises bought without limits
            if r["asset_id"] in promised:
                demand[r["counterparty"]] = demand.get(r["counterparty"], 0.0) + r["amount_jpy"]
        failed = free_rows[free_rows["status"] == "error"]
        if not failed.empty:
            first = failed.iloc[0]
            raise SolveError(f"exchange {first['exchange_id']} cannot be solved even alone: {first['error']}")
    unlimited_seconds = time.perf_counter() - t0

    chosen = method if method != "auto" else ("joint" if len(instances) <= JOINT_MAX_EXCHANGES else "decompose")
    anyone_short = bool((free_rows["status"] == "shortfall").any())
    if chosen == "joint":
        alloc = _joint(instances, alone, limited, cap, try_without_shortfall=not anyone_short)
    else:
        alloc = _decompose(instances, alone, limited, cap, workers=workers, scheduler=scheduler,
                           chunk_size=chunk_size, repair_max=repair_max)
    solutions = alloc.solutions
    problems = check_capacity(solutions, {c: capacity[c] for c in limited})
    if problems:
        raise SolveError("the market's allocation failed the capacity check: " + "; ".join(problems[:3]))
    result = _result(solutions, alloc, limited, capacity, free_rows, demand, chosen, warnings, regime,
                     time.perf_counter() - started, unlimited_seconds, assets)
    if result.summary["short_because_of_capacity"]:  # the split among exchanges is one of many optima: ranged
        ranges = (shortfall_ranges(instances, alone, limited, cap, alloc)
                  if len(instances) <= SPLIT_MAX_EXCHANGES else None)
        add_shortfall_split(result, ranges)
    else:
        add_shortfall_split(result, {})
    result.summary["seconds"] = time.perf_counter() - started
    return result


def _result(solutions: list[Solution], alloc: _Allocation, limited: tuple[str, ...], capacity: Mapping[str, float],
            unlimited: pd.DataFrame, demand: Mapping[str, float], method: str, warnings: list[str],
            regime: Regime, seconds: float, unlimited_seconds: float,
            assets: Sequence[ReserveAsset] = ()) -> MarketResult:
    # cover written by each counterparty (limited or not) and by each exchange: layers' cover and promises
    per_exchange = [cover_written(s) for s in solutions]
    written: dict[str, float] = {}
    for m in per_exchange:
        for c, v in m.items():
            written[c] = written.get(c, 0.0) + v
    committed: dict[str, float] = {}  # of which the banks' and parents' promises
    for s in solutions:
        for h in s.holdings:
            if writes_capacity(h.asset):
                committed[h.asset.counterparty] = committed.get(h.asset.counterparty, 0.0) + h.amount_jpy
    counterparties = []
    for c in sorted(set(written) | set(limited) | set(demand)):
        k = limited.index(c) if c in limited else None
        capacity_c = float(capacity[c]) if c in capacity else None
        cover = written.get(c, 0.0)
        use = cover / capacity_c if capacity_c else (None if capacity_c is None else (1.0 if cover > 0 else 0.0))
        price = float(alloc.price[k]) if k is not None else 0.0
        price = None if math.isnan(price) else price  # decomposition: not separated from the shortfall's price
        counterparties.append({
            "counterparty": c, "capacity_jpy": capacity_c, "cover_jpy": cover,
            **({"committed_jpy": committed.get(c, 0.0)} if assets else {}), "utilisation": use,
            "clearing_price": price,
            "shortfall_price": float(alloc.shortfall_price[k]) if k is not None else 0.0,
            "demand_unlimited_jpy": demand.get(c, 0.0),
            "exchanges": sum(1 for m in per_exchange if m.get(c, 0.0) > 0),
            "scarce": bool(k is not None and ((price or 0.0) > 0 or alloc.shortfall_price[k] > 0
                                              or (capacity_c is not None and cover >= capacity_c * (1 - SCARCE)))),
        })
    scarce = [r["counterparty"] for r in counterparties if r["scarce"]]

    rows = [_row(s, i + 1) for i, s in enumerate(solutions)]
    frame = batch.rows_frame(rows, batch.COLUMNS + (batch.ASSET_COLUMNS if assets else ()))
    frame["marginal_cost_per_jpy"] = np.nan  # one exchange's R moves the whole allocation: not computed here
    base = unlimited.set_index("exchange_id")
    ids = frame["exchange_id"]
    frame["unlimited_status"] = ids.map(base["status"]).fillna("").astype(str).to_numpy()
    frame["unlimited_annual_cost_jpy"] = ids.map(base["annual_cost_jpy"]).astype(float).to_numpy()
    frame["unlimited_shortfall_jpy"] = ids.map(base["shortfall_jpy"]).astype(float).to_numpy()
    tol = 1e-6 * frame["required_coverage_jpy"].clip(lower=1.0)
    because = frame["shortfall_jpy"] > frame["unlimited_shortfall_jpy"].fillna(0.0) + tol
    frame["short_because_of_capacity"] = because.to_numpy()
    for c in scarce:
        frame[f"capacity_jpy:{c}"] = [m.get(c, 0.0) for m in per_exchange]

    totals = {k: float(frame[k].sum()) for k in ("required_coverage_jpy", "annual_cost_jpy", "cash_reserve_jpy",
                                                   "shortfall_jpy", "insurance_credit_jpy", "derivative_credit_jpy")}
    totals["insurance_written_jpy"] = float(sum(l.cover_jpy for s in solutions for l in s.lines
                                                if not l.quote.is_derivative))
    totals["cover_written_jpy"] = float(sum(written.values()))
    if assets:  # what is held (deposits, JGBs) and promised (guarantees, lines), and each kind, as batch totals
        for col in batch.ASSET_COLUMNS:
            totals[col] = float(frame[col].sum())
    free = {"annual_cost_jpy": float(unlimited["annual_cost_jpy"].sum()),
            "shortfall_jpy": float(unlimited["shortfall_jpy"].sum()),
            "shortfall_exchanges": int((unlimited["status"] == "shortfall").sum())}
    summary = {
        "exchanges": len(solutions), "regime": regime.name, "method": method, "milp": alloc.milp,
        "phases": alloc.phases, "totals": totals, "unlimited": free,
        "scarcity_cost_jpy": totals["annual_cost_jpy"] - free["annual_cost_jpy"],
        "scarcity_shortfall_jpy": totals["shortfall_jpy"] - free["shortfall_jpy"],
        "shortfall_exchanges": list(frame.loc[frame["status"] == "shortfall", "exchange_id"]),
        "short_because_of_capacity": list(frame.loc[because, "exchange_id"]),
        "counterparties": counterparties, "scarce_counterparties": scarce,
        "capacity_check": "passed: no counterparty writes more than its capacity (re-counted from the mixes)",
        "warnings": warnings, "solver": alloc.info, "unlimited_seconds": unlimited_seconds, "seconds": seconds,
    }
    return MarketResult(frame, summary, solutions)


def run(profiles: str | Path | Sequence[ExchangeProfile], quotes: str | Path | Sequence[Quote],
        regime: str | Path | Regime, capacity: str | Path | Mapping[str, float], out: str | Path | None = None, *,
        method: Method = "auto", workers: int = 1, scheduler: str | None = None,
        chunk_size: int = DEFAULT_CHUNK, assets: str | Path | Sequence[ReserveAsset] | None = None) -> MarketResult:
    """Files (or objects) in, the market out; with `out` (.csv or .parquet) the rows and OUT.summary.json are
    written atomically. `assets`: an assets.csv path or ReserveAsset objects offered to the exchanges (the rows
    then gain batch's asset columns). Raises InputError for bad inputs (capacity: negative, duplicate, not a
    number; an asset yielding more than an exchange's cost of capital, naming the assets file's row)."""
    from contextlib import nullcontext

    from .batch_store import OutputLock, write_market
    from .inputs import check_asset_yields, load_assets, load_capacity, load_quotes, load_regime

    if out is not None and Path(out).suffix.lower() not in (".csv", ".parquet"):
        raise InputError(str(out), "unknown output type; expected .csv or .parquet", column="--out")
    if out is not None and not Path(out).absolute().parent.is_dir():
        raise InputError(str(out), f"the folder {Path(out).absolute().parent} does not exist", column="--out")
    source = str(capacity) if isinstance(capacity, (str, Path)) else "capacity"
    capacity = load_capacity(capacity) if isinstance(capacity, (str, Path)) else dict(capacity)
    quotes = tuple(load_quotes(quotes) if isinstance(quotes, (str, Path)) else quotes)
    regime = load_regime(regime) if isinstance(regime, (str, Path)) else regime
    profiles = load_profile_list(profiles) if isinstance(profiles, (str, Path)) else list(profiles)
    assets_source = str(assets) if isinstance(assets, (str, Path)) else "assets"
    assets = tuple(load_assets(assets) if isinstance(assets, (str, Path)) else (assets or ()))
    for p in profiles if assets else ():  # the market needs every exchange: one bad pairing is bad input
        check_asset_yields(p, assets, assets_source)
    with OutputLock(Path(out), "market") if out is not None else nullcontext():  # one run per output, as a batch
        result = solve_market(profiles, quotes, regime, capacity, method=method, workers=workers,
                              scheduler=scheduler, chunk_size=chunk_size, capacity_source=source, assets=assets)
        if out is not None:
            result.out = write_market(Path(out), result.rows, result.summary)
    return result
