"""The risk view of a mix: what a year of hacks leaves the exchange to pay, and the cheapest mix within a risk
appetite (docs/risk.md).

`RiskBook` holds one exchange's scenarios and the payout matrix of the quotes offered to it (per unit share);
`metrics(book, shares, cash)` evaluates any mix on those same arrays (common random numbers) in a few numpy
operations. `solve_with_risk` re-solves the regulatory model with the objective cost + E[retained loss] and,
optionally, a TVaR limit written by `tvar.add_tvar_rows`; the reported mix is verified twice: compliance by
`solution.verify` (through `assemble`), the TVaR limit recomputed from the scenarios.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from .domain import ExchangeProfile, Quote, Regime, ReserveAsset
# The regulatory model: the one formulation this module re-solves, through the one HiGHS gateway.
from .lp import highs
from .lp.columns import SHORTFALL, Columns
from .lp.matrix import numbers
from .lp.pulp_view import build_view as build_model
from .lp.results import Raw as RawSolution, assemble
from .lp.scaled import Instance, Scaled
from .settings import (CUT_TOL, MAX_CUT_ROUNDS, OVER_INDEMNITY_TOL, RESERVE_TOL, SHORTFALL_SLACK, TIME_LIMIT_SECONDS,
                       TVAR_TOL, ZERO_SHORTFALL)
from .simulation import Scenarios
from .solution import Solution, SolveError
from .tvar import TailCuts, add_tvar_rows

if TYPE_CHECKING:  # PuLP, with the log parsers it imports (~0.2 s), is imported where a PuLP model is built
    import pulp

DEFAULT_LEVEL = 0.99
# Tolerances (TVAR_TOL, OVER_INDEMNITY_TOL, RESERVE_TOL): in settings.py's block with every other one.


def exceeds_reserve(amount, cash_jpy: float, requirement_jpy: float):
    """Whether `amount` (JPY, a number or an array) is more than the cash reserve, beyond RESERVE_TOL·R.

    >>> bool(exceeds_reserve(1e9 + 1e-3, 1e9, 1e9)), bool(exceeds_reserve(1e9 + 10.0, 1e9, 1e9))
    (False, True)
    """
    return amount > cash_jpy + RESERVE_TOL * max(float(requirement_jpy), 1.0)


# ---------------------------------------------------------------- scenarios × quotes

@dataclass(frozen=True)
class RiskBook:
    """One exchange's scenarios and the payout matrix of `quotes` on them. Money in JPY.

    `payout[i, j]`: what quote j pays per unit share in the i-th year with a loss (`scenarios.loss_years[i]`).
    `asset_pays[i, a]`: what one yen of reserve asset a pays customers that year (`Scenarios.asset_payouts`:
    1 − haircut, 0 when its bank or parent defaults).
    """

    scenarios: Scenarios
    quotes: tuple[Quote, ...]
    requirement_jpy: float
    payout: np.ndarray
    assets: tuple[ReserveAsset, ...] = ()
    asset_pays: np.ndarray | None = None

    @classmethod
    def build(cls, scenarios: Scenarios, quotes: Sequence[Quote], requirement_jpy: float,
              assets: Sequence[ReserveAsset] = ()) -> "RiskBook":
        quotes, assets = tuple(quotes), tuple(assets)
        return cls(scenarios, quotes, float(requirement_jpy), scenarios.payouts(quotes, requirement_jpy), assets,
                   scenarios.asset_payouts(assets))

    def amount_vector(self, amounts: Mapping[str, float] | None) -> np.ndarray:
        """Amounts held or committed by asset_id (JPY) → a vector aligned with `assets` (assets not named: 0).

        Raises:
            KeyError: an asset_id with a positive amount that this book does not hold.
        """
        index = {a.asset_id: k for k, a in enumerate(self.assets)}
        out = np.zeros(len(self.assets))
        for k, v in (amounts or {}).items():
            if v:
                out[index[k]] = float(v)
        return out

    def column(self, quote_id: str) -> int:
        return self._index[quote_id]

    @property
    def _index(self) -> dict[str, int]:
        return {q.quote_id: j for j, q in enumerate(self.quotes)}

    def share_vector(self, shares: Mapping[str, float]) -> np.ndarray:
        """Shares by quote_id → a vector aligned with `quotes` (quotes not named: 0).

        Raises:
            KeyError: a quote_id with a positive share that this book does not hold.
        """
        index = self._index
        s = np.zeros(len(self.quotes))
        for k, v in shares.items():
            if v == 0:
                continue
            s[index[k]] = float(v)
        return s

    def retained(self, shares: Mapping[str, float] | np.ndarray) -> np.ndarray:
        """Retained loss in each year with a loss: clip(L − P·s, 0, L) (never negative, never above the loss)."""
        s = shares if isinstance(shares, np.ndarray) else self.share_vector(shares)
        L = self.scenarios.annual_loss
        return np.clip(L - self.payout @ s, 0.0, L)


def _mean_se(values: np.ndarray, n: int) -> tuple[float, float]:
    """Mean and standard error over n scenario-years of which only `values` are non-zero (the rest are 0)."""
    total, squares = float(values.sum()), float(np.dot(values, values))
    mean = total / n
    var = max(squares / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return mean, math.sqrt(var / n)


def var_tvar(values: np.ndarray, n: int, level: float) -> tuple[float, float]:
    """VaR and TVaR at `level` of a loss that is `values` in some years and 0 in the other n − len(values).

    VaR is the smallest x with P(loss ≤ x) ≥ level (the ⌈level·n⌉-th smallest of n); TVaR is
    VaR + E[max(loss − VaR, 0)] / (1 − level) (Rockafellar–Uryasev), which is the mean of the worst (1 − level)·n
    years when that is a whole number: losses 5 and 3 in 2 of n = 10 years, level 0.8 → VaR 0 (8 years of 10
    lose nothing), TVaR (5 + 3)/2 = 4; at level 0.85, VaR 3 and TVaR 3 + (5 − 3)/1.5.

    >>> [round(v, 6) for v in var_tvar(np.array([5.0, 3.0]), 10, 0.8)]
    [0.0, 4.0]
    >>> [round(v, 6) for v in var_tvar(np.array([5.0, 3.0]), 10, 0.85)]
    [3.0, 4.333333]
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rank = int(math.ceil(level * n - 1e-9))          # 1-based rank in ascending order of all n years
    zeros = n - values.size
    ordered = np.sort(values)
    below = int(np.searchsorted(ordered, 0.0, side="left"))  # values below the implicit zeros (gains)
    if rank <= below:
        var = float(ordered[rank - 1])
    elif rank <= below + zeros:
        var = 0.0
    else:
        var = float(ordered[rank - zeros - 1])
    tail = float(np.maximum(values - var, 0.0).sum()) + zeros * max(0.0 - var, 0.0)
    return var, var + tail / ((1.0 - level) * n)


def var_tvar_se(values: np.ndarray, n: int, level: float) -> tuple[float, float]:
    """Standard errors of `var_tvar`'s VaR and TVaR (same arguments: `values` in some years, 0 in the others).

    VaR: half the distance between the order statistics ⌈level·n⌉ ∓ √(n·level·(1 − level)) (the ranks one binomial
    standard deviation either side: distribution-free). TVaR: the asymptotic standard error of the mean of the tail,
    √((s² + level·(TVaR − VaR)²) / ((1 − level)·n)), s² the variance of the worst (1 − level)·n years (Manistre &
    Hancock, "Variance of the CTE estimator", North American Actuarial Journal 9(2), 2005). Both shrink as 1/√n.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ordered = np.sort(values)
    zeros = n - values.size
    below = int(np.searchsorted(ordered, 0.0, side="left"))

    def order(r: int) -> float:  # the r-th smallest (1-based) of all n years, the implicit zeros included
        if r <= below:
            return float(ordered[r - 1])
        return 0.0 if r <= below + zeros else float(ordered[r - zeros - 1])

    rank = int(math.ceil(level * n - 1e-9))
    k = max(1, int(math.ceil(math.sqrt(n * level * (1 - level)))))
    lo, hi = order(max(rank - k, 1)), order(min(rank + k, n))
    var, tvar = var_tvar(values, n, level)
    above = ordered[ordered > 0.0][-(n - rank):] if n > rank else ordered[:0]   # the worst n − rank years …
    tail = np.concatenate([np.zeros(max(n - rank - above.size, 0)), above])   # … padded with zero years
    spread = float(np.var(tail, ddof=1)) if tail.size > 1 else 0.0
    return (hi - lo) / 2.0, math.sqrt((spread + level * (tvar - var) ** 2) / ((1 - level) * n))


# ---------------------------------------------------------------- metrics

@dataclass(frozen=True)
class InstrumentRisk:
    quote_id: str
    share: float
    annual_premium_jpy: float       # premium × multiplier (+ fixed fee) for this share
    expected_recovery_jpy: float
    expected_recovery_se_jpy: float
    loss_ratio: float | None        # expected recovery ÷ annual premium (None when the premium is 0)


@dataclass(frozen=True)
class AssetRisk:
    """One reserve asset of the mix on the scenarios (JPY a year): what it pays customers on average after the
    cash and the assets before it (`draw_order`), and how often it is called on in a year its bank or parent
    defaults (it then pays nothing)."""

    asset_id: str
    kind: str
    counterparty: str
    amount_jpy: float
    default_probability: float      # the loss model's annual rate for its rating (0 for a JGB)
    expected_paid_jpy: float
    expected_paid_se_jpy: float
    prob_called_and_failed: float   # share of all years: called on (the loss reaches it) and its bank defaults


def draw_order(assets: Sequence[ReserveAsset], profile: ExchangeProfile) -> list[int]:
    """The order in which a year's retained loss draws on the reserve assets after cash: held before promised
    (the money is already there), then the cheapest per yen paid first (as `Solution.tower` orders them); only the
    per-asset figures depend on it, never what the reserve pays in all."""
    return sorted(range(len(assets)), key=lambda k: (not assets[k].funded, assets[k].annual_cost_per_yen(profile)
                                                     / max(1.0 - assets[k].haircut, 1e-300), k))


@dataclass(frozen=True)
class RiskMetrics:
    """The risk view of one mix (JPY per year), with standard errors of the expectations."""

    level: float
    scenarios: int
    seed: int
    loss_model: str
    cash_reserve_jpy: float
    annual_cost_jpy: float
    expected_loss_jpy: float
    expected_loss_se_jpy: float
    expected_retained_jpy: float
    expected_retained_se_jpy: float
    expected_recovery_jpy: float
    expected_recovery_se_jpy: float
    var_jpy: float
    tvar_jpy: float
    prob_reserve_exhausted: float
    prob_reserve_exhausted_se: float
    total_cost_of_risk_jpy: float
    total_cost_of_risk_se_jpy: float
    instruments: tuple[InstrumentRisk, ...]
    var_se_jpy: float = math.nan           # standard errors of VaR and TVaR (`var_tvar_se`)
    tvar_se_jpy: float = math.nan
    # with reserve assets in the mix (None / () without: the JSON then has none of these keys)
    expected_unfunded_jpy: float | None = None     # E[the part of a year's retained loss cash and assets leave]
    expected_unfunded_se_jpy: float | None = None
    assets: tuple[AssetRisk, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON `risk` object (the names in docs/risk.md)."""
        with_assets = self.expected_unfunded_jpy is not None
        out = {k: getattr(self, k) for k in self.__dataclass_fields__
               if k not in ("instruments", "assets") and (with_assets or k not in _ASSET_KEYS)}
        out["instruments"] = [dict(i.__dict__) for i in self.instruments]
        if with_assets:
            out["assets"] = [dict(a.__dict__) for a in self.assets]
        return out


_ASSET_KEYS = ("expected_unfunded_jpy", "expected_unfunded_se_jpy")


def annual_cost(profile: ExchangeProfile, quotes: Sequence[Quote], requirement_jpy: float,
                shares: Mapping[str, float], cash_jpy: float) -> tuple[float, dict[str, float]]:
    """carry·C + Σ premium_multiplier·premium_rate·limit·s (+ fee if bought): the mix's annual cost, and by quote."""
    by_quote = {}
    for q in quotes:
        s = float(shares.get(q.quote_id, 0.0))
        if s > 0:
            by_quote[q.quote_id] = q.line_cost_jpy(requirement_jpy, s, profile.premium_multiplier)
    return profile.carry * cash_jpy + sum(by_quote.values()), by_quote


def allocate_recovery(recovered: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Each instrument's part of a year's recovery: the year's total (capped at the loss) shared pro rata to what
    each would pay, so that the parts add up to the total in every year.

    In an over-insured year (overlapping layers, an index above the loss) the instruments would pay more than the
    loss; the exchange recovers only the loss, and each instrument is credited its share of it:

    >>> allocate_recovery(np.array([[6.0, 4.0], [3.0, 1.0]]), np.array([5.0, 4.0])).tolist()
    [[3.0, 2.0], [3.0, 1.0]]
    """
    paid = recovered.sum(axis=1)
    scale = np.divide(total, paid, out=np.zeros_like(paid), where=paid > 0)
    return recovered * scale[:, None]


def metrics(book: RiskBook, profile: ExchangeProfile, shares: Mapping[str, float], cash_jpy: float, *,
            level: float = DEFAULT_LEVEL, annual_cost_jpy: float | None = None,
            amounts: Mapping[str, float] | None = None) -> RiskMetrics:
    """The risk view of a mix (shares by quote_id, cash in JPY, `amounts` of the book's reserve assets by
    asset_id in JPY) on the book's scenarios.

    Retained loss of a year = clip(L − P·s, 0, L): a reserve asset does not change it (the exchange, or its group,
    still bears the loss: a bank that pays under a guarantee or a line has a claim on the exchange); it changes
    what is paid on the day. A year exhausts the reserve when its retained loss exceeds the cash plus what the
    reserve assets pay that year (`RiskBook.asset_pays`) beyond RESERVE_TOL·R; with assets in the book,
    `expected_unfunded_jpy` is the mean of what is left beyond them, and each asset's part is drawn in
    `draw_order`. Each instrument's expected recovery is its pro-rata part of each year's capped
    recovery (`allocate_recovery`), so the instruments add up to `expected_recovery_jpy`. `annual_cost_jpy` defaults to the mix's premiums, fees and
    carry (pass the Solution's figure to report exactly the regulatory answer).
    """
    sc = book.scenarios
    n = sc.n_years
    s = book.share_vector(shares)
    L = sc.annual_loss
    recovered = book.payout * s[None, :]                       # loss years × quotes, JPY
    retained = np.clip(L - recovered.sum(axis=1), 0.0, L)
    cost, by_quote = annual_cost(profile, book.quotes, book.requirement_jpy, shares, cash_jpy)
    if annual_cost_jpy is not None:
        cost = float(annual_cost_jpy)
    e_loss, se_loss = _mean_se(L, n)
    e_ret, se_ret = _mean_se(retained, n)
    e_rec, se_rec = _mean_se(L - retained, n)
    var, tvar = var_tvar(retained, n, level)
    var_se, tvar_se = var_tvar_se(retained, n, level)
    held = book.amount_vector(amounts)
    reserve = cash_jpy + (book.asset_pays @ held if book.assets else 0.0)  # what the reserve pays in each loss year
    p_exhaust = float(np.count_nonzero(exceeds_reserve(retained, reserve, book.requirement_jpy))) / n
    asset_block: dict[str, Any] = {}
    if book.assets:
        left = np.maximum(retained - cash_jpy, 0.0)  # what cash leaves, drawn on the assets in order
        called = RESERVE_TOL * max(book.requirement_jpy, 1.0)
        rows = []
        for k in draw_order(book.assets, profile):
            a = book.assets[k]
            paid = np.minimum(left, held[k] * book.asset_pays[:, k])
            failed = (left > called) & (book.asset_pays[:, k] == 0) & (held[k] > 0)
            left = left - paid
            mean, se = _mean_se(paid, n)
            rows.append((k, AssetRisk(a.asset_id, a.kind, a.counterparty, float(held[k]),
                                      sc.loss_model.default_rate(a.rating or "NR") if a.counterparty else 0.0,
                                      mean, se, float(np.count_nonzero(failed)) / n)))
        e_unf, se_unf = _mean_se(np.where(left > called, left, 0.0), n)
        asset_block = {"expected_unfunded_jpy": e_unf, "expected_unfunded_se_jpy": se_unf,
                       "assets": tuple(r for _, r in sorted(rows, key=lambda t: t[0]) if r.amount_jpy > 0)}
    allocated = allocate_recovery(recovered, L - retained)
    instruments = []
    for j, q in enumerate(book.quotes):
        if s[j] <= 0:
            continue
        mean, se = _mean_se(allocated[:, j], n)
        premium = by_quote.get(q.quote_id, 0.0)
        instruments.append(InstrumentRisk(q.quote_id, float(s[j]), premium, mean, se,
                                          mean / premium if premium > 0 else None))
    return RiskMetrics(
        level=level, scenarios=n, seed=sc.seed, loss_model=sc.loss_model.name, cash_reserve_jpy=float(cash_jpy),
        annual_cost_jpy=cost, expected_loss_jpy=e_loss, expected_loss_se_jpy=se_loss,
        expected_retained_jpy=e_ret, expected_retained_se_jpy=se_ret,
        expected_recovery_jpy=e_rec, expected_recovery_se_jpy=se_rec, var_jpy=var, tvar_jpy=tvar,
        prob_reserve_exhausted=p_exhaust, prob_reserve_exhausted_se=math.sqrt(p_exhaust * (1 - p_exhaust) / n),
        total_cost_of_risk_jpy=cost + e_ret, total_cost_of_risk_se_jpy=se_ret,
        instruments=tuple(instruments), var_se_jpy=var_se, tvar_se_jpy=tvar_se, **asset_block,
    )


def solution_metrics(solution: Solution, book: RiskBook, *, level: float = DEFAULT_LEVEL) -> RiskMetrics:
    """The risk view of a Solution's mix (its cash, shares, reserve assets and annual cost)."""
    shares = {line.quote.quote_id: line.share for line in solution.lines}
    return metrics(book, solution.profile, shares, solution.cash_reserve_jpy, level=level,
                   annual_cost_jpy=solution.annual_cost_jpy,
                   amounts={h.asset.asset_id: h.amount_jpy for h in solution.holdings})


def book_for(solution: Solution, scenarios: Scenarios) -> RiskBook:
    """The book of a solved mix: its lines' quotes and the reserve assets offered to it that earn credit (none
    when no assets file was given: the metrics then have no asset keys)."""
    return RiskBook.build(scenarios, [line.quote for line in solution.lines], solution.requirement_jpy,
                          [a for a in solution.offered_assets if solution.asset_credit.get(a.asset_id, 0.0) > 0])


# ---------------------------------------------------------------- optimising with risk

@dataclass(frozen=True)
class RiskSolution:
    """The risk-optimal mix: the verified Solution, its risk metrics, and the limit it was solved under."""

    solution: Solution
    metrics: RiskMetrics
    book: RiskBook
    tvar_limit_jpy: float | None
    level: float


def _val(v) -> float:
    return float(v) if isinstance(v, (bool, int, float)) else float(v.value() or 0.0)


def add_expected_retained(prob: pulp.LpProblem, book: RiskBook, share: Mapping[str, pulp.LpVariable], unit: float,
                          name: str = "retained") -> pulp.LpAffineExpression:
    """E[retained loss] in units of R as an LP expression: (1/N)·Σ_years max(L − P·s, 0).

    In a year where even every quote at its largest share cannot pay more than the loss, retained = L − P·s is
    already ≥ 0 and enters as that affine term. Only years where over-insurance is possible (overlapping layers, a
    parametric index above the loss) get a variable r ≥ 0 and the row r ≥ L − P·s; minimising then makes
    r = max(L − P·s, 0). So the objective never rewards paying more than the loss.
    """
    import pulp

    n = book.scenarios.n_years
    L = book.scenarios.annual_loss / unit
    P = book.payout / unit
    ids = [q.quote_id for q in book.quotes]
    max_share = np.array([q.max_share for q in book.quotes])
    clipped = P @ max_share > L * (1 + OVER_INDEMNITY_TOL)
    plain = ~clipped
    coef = P[plain].sum(axis=0) / n
    terms = [(share[k], -float(c)) for k, c in zip(ids, coef) if c != 0]
    for i in np.flatnonzero(clipped):  # rows of the LP (one per year that needs one), not arithmetic
        r = prob.add_variable(f"{name}_{i}", lowBound=0.0)
        cols = np.flatnonzero(P[i])
        prob.addConstraint(pulp.LpAffineExpression.from_list(
            [(r, 1.0)] + [(share[ids[c]], float(P[i, c])) for c in cols]) >= float(L[i]), f"{name}_clip_{i}")
        terms.append((r, 1.0 / n))
    expr = pulp.LpAffineExpression.from_list(terms)
    return expr + float(L[plain].sum()) / n


FORMULATIONS = ("cuts", "rows")  # how the risk objective is solved: docs/risk.md, "How the TVaR LP is solved"


def solve_with_risk(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, scenarios: Scenarios, *,
                    tvar_limit: float | None = None, level: float = DEFAULT_LEVEL,
                    formulation: str = "cuts", assets: Sequence[ReserveAsset] = ()) -> RiskSolution:
    """The cheapest compliant mix counting expected losses: minimise carry·C + premiums + fees + E[retained loss],
    subject to the regulatory constraints 1–4 and, with `tvar_limit` (JPY), TVaR_level(retained) ≤ tvar_limit.

    When no mix meets the requirement, the least shortfall is found first and the risk objective is minimised at
    it (`lp.highs.least_shortfall_then_least_cost`, as for `lp.solve`).

    `formulation`: "cuts" (the default) holds the regulatory model in one HiGHS instance and adds supporting
    hyperplanes of the TVaR and of the expected clipped retained loss until the master's mix meets them
    (`_CutPhases`: a few rows, whatever the number of scenario-years); "rows" writes the whole LP, one
    Rockafellar–Uryasev row per year with a loss and one clip row per year that can be over-insured (`_RiskPhases`,
    a PuLP model). Both minimise the same function over the same mixes (docs/risk.md, "How the TVaR LP is solved").

    `assets`: the reserve assets offered (assets.csv), columns of the same regulatory rows with their annual
    cost in the objective; they do not change the retained loss (`metrics`), so they are held where the rows and
    their cost call for them, and the metrics count what each pays in each year (nothing when its bank defaults).

    Returns:
        RiskSolution with a verified Solution (compliance re-checked by `verify`) and its metrics.

    Raises:
        SolveError: HiGHS fails; no compliant mix meets the TVaR limit (the message gives the least TVaR a
            compliant mix reaches); or the reported mix fails the recomputed TVaR check.
    """
    started = time.perf_counter()
    inst = Instance.build(profile, quotes, regime, assets=assets)
    book = RiskBook.build(scenarios, inst.eligible, inst.requirement_jpy, inst.eligible_assets)
    u = inst.unit
    limit_units = None if tvar_limit is None else float(tvar_limit) / u

    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    if formulation == "cuts":
        cut_phases = _CutPhases(inst, book, level, limit_units, tvar_limit)
        _, least = highs.least_shortfall_then_least_cost(cut_phases)
        raw = cut_phases.master.raw(0.0 if least is None else max(least, 0.0), time.perf_counter() - started)
    else:
        phases = _RiskPhases(inst, book, level, limit_units, tvar_limit)
        _, least = highs.least_shortfall_then_least_cost(phases)
        import pulp

        model = phases.model
        raw = RawSolution(
            cash=max(_val(model.cash), 0.0),
            share={k: _val(v) for k, v in model.share.items()},
            take={k: _val(v) > 0.5 for k, v in model.take.items()},
            shortfall=0.0 if least is None else max(least, 0.0),
            objective=float(pulp.value(model.cost)),
            solve_seconds=time.perf_counter() - started,
            amount={k: _val(v) for k, v in (model.amount or {}).items()},
        )
    solution = assemble(inst, raw, None)  # runs verify(): the mix is still compliant
    result = solution_metrics(solution, book, level=level)
    if tvar_limit is not None and result.tvar_jpy > tvar_limit + TVAR_TOL * u / (1.0 - level):
        raise SolveError(f"the risk-optimal mix has TVaR {result.tvar_jpy:,.0f} JPY recomputed from the scenarios, "
                         f"above the limit {tvar_limit:,.0f} JPY")
    return RiskSolution(solution, result, book, tvar_limit, level)


class _RiskPhases:
    """`solve_with_risk`'s model for highs.least_shortfall_then_least_cost: the regulatory PuLP model with the
    objective cost + E[retained loss] (and the TVaR rows); the shortfall steps on a second model whose shortfall
    is free, the TVaR rows added once the shortfall is held."""

    def __init__(self, inst: Instance, book: RiskBook, level: float, limit: float | None, limit_jpy: float | None):
        self.inst, self.book, self.level, self.limit, self.limit_jpy = inst, book, level, limit, limit_jpy
        self.tvar = None
        self.model, self.retained, _ = self._model(False, limit)
        self.model.prob.setObjective(self.model.cost + self.retained)

    def _model(self, with_shortfall: bool, limit: float | None):
        u = self.inst.unit
        model = build_model(self.inst, with_shortfall=with_shortfall)
        retained = add_expected_retained(model.prob, self.book, model.share, u)
        tvar = tvar_family(model, self.book, u, self.level, limit) if limit is not None else None
        return model, retained, tvar

    def least_cost(self) -> str:
        outcome = highs.pulp_outcome(self.model.prob.solve(highs.pulp_solver()))
        if outcome == "infeasible" and self.tvar is not None:
            raise SolveError(_tvar_unreachable(self.inst, self.book, self.level, self.limit_jpy))
        return outcome

    def least_shortfall(self) -> tuple[str, float]:
        # Regulatory rows infeasible, or the TVaR limit too tight? Minimise the shortfall first.
        self.model, self.retained, _ = self._model(True, None)
        self.model.prob.setObjective(1 * self.model.gap)
        outcome = highs.pulp_outcome(self.model.prob.solve(highs.pulp_solver()))
        return outcome, _val(self.model.gap)

    def hold_shortfall(self, least: float) -> None:
        if least <= ZERO_SHORTFALL and self.limit is not None:  # compliant mixes exist: the TVaR limit is the cause
            raise SolveError(_tvar_unreachable(self.inst, self.book, self.level, self.limit_jpy))
        model = self.model
        model.prob += model.gap <= least + SHORTFALL_SLACK, "least_shortfall"
        self.tvar = tvar_family(model, self.book, self.inst.unit, self.level, self.limit) \
            if self.limit is not None else None
        model.prob.setObjective(model.cost + self.retained)


class _CutMaster:
    """The regulatory model (`matrix.numbers`, every row family of lp/rows.py) held in one HiGHS instance through
    the gateway, with two more columns, both ≥ 0 and in units of R:

        θ  ≥ the expected retained loss of the years that can be over-insured, (1/N)·Σ max(L − P·s, 0)
        t  ≥ TVaR_level of the retained loss max(L − P·s, 0) over all N years (t ≤ X carries the limit)

    each bounded below by cuts, supporting hyperplanes of its function (`tvar.TailCuts`) added where the master's
    mix shows that a function is above its column (Kelley's cutting planes; Künzi-Bay & Mayer's CVaRMin for the
    TVaR). The years that can never be over-insured enter the objective as the affine (1/N)·Σ (L − P·s), as in
    `add_expected_retained`. The cuts hold for every mix, so the master is a relaxation of the full LP; when it
    stops, its mix meets the full LP's rows (to CUT_TOL): the master's optimum is the full LP's.

    `objective`: "risk" (cost + E[retained]) or "tvar" (t alone, for `least_tvar`)."""

    def __init__(self, inst: Instance, book: RiskBook, level: float, limit: float | None, *,
                 objective: str = "risk"):
        d = Scaled.of(inst)
        num = numbers(d)
        self.inst, self.d, self.num, self.limit = inst, d, num, limit
        self.layout = Columns.of_scaled(d)
        n0 = num.cost.size
        self.theta, self.t = n0, n0 + 1
        index = {q.quote_id: j for j, q in enumerate(d.quotes)}
        self.share_cols = np.array([self.layout.share(index[q.quote_id]) for q in book.quotes], dtype=np.int64)
        u, n = inst.unit, book.scenarios.n_years
        L, P = book.scenarios.annual_loss / u, book.payout / u
        max_share = np.array([q.max_share for q in book.quotes])
        clipped = P @ max_share > L * (1 + OVER_INDEMNITY_TOL)  # as add_expected_retained: these need max(·, 0)
        plain = ~clipped
        self.clip = TailCuts(L[clipped], -P[clipped], None, n) if clipped.any() else None
        self.tail = TailCuts(L, -P, level, n)
        self.offset = float(L[plain].sum()) / n
        cost = np.zeros(n0 + 2)
        if objective == "risk":
            cost[:n0] = num.cost
            np.add.at(cost, self.share_cols, -P[plain].sum(axis=0) / n)
            cost[self.theta] = 1.0
        else:
            cost[self.t] = 1.0
        self.cost = cost
        self.uses_theta, self.uses_t = objective == "risk", objective == "tvar" or limit is not None
        A = np.zeros((num.A.shape[0], n0 + 2))
        A[:, :n0] = num.A
        col_lower = np.concatenate([num.col_lower, [0.0, 0.0]])
        col_upper = np.concatenate([num.col_upper, [highs.INF, highs.INF if limit is None else float(limit)]])
        self.col_upper = col_upper
        self.h = highs.new()
        highs.load(self.h, A, cost, col_lower, col_upper, num.row_lower, num.row_upper, num.integer)
        self.x: np.ndarray | None = None
        self.cuts = 0
        self.rounds = 0
        for s0 in (np.zeros(len(book.quotes)), max_share):  # no cover and all cover: two cuts to start from
            self._add_cuts(s0, force=True)

    def _add_cuts(self, s: np.ndarray, x: np.ndarray | None = None, *, force: bool = False) -> bool:
        """Add, for θ and t, the supporting hyperplane at the shares s where the function is above the master's
        column (x: the master's values; `force`: whatever they are). Returns whether a cut was added."""
        added = False
        for col, fn, used in ((self.theta, self.clip, self.uses_theta), (self.t, self.tail, self.uses_t)):
            if fn is None or not used:
                continue
            if not force and fn.value(s) <= x[col] + CUT_TOL:
                continue
            a0, a = fn.cut(s)  # f(y) ≥ a0 + a·y  ⇔  col − a·s ≥ a0
            keep = np.flatnonzero(a)
            highs.add_row(self.h, np.r_[col, self.share_cols[keep]], np.r_[1.0, -a[keep]], a0, highs.INF)
            self.cuts += 1
            added = True
        return added

    def minimise(self) -> str:
        """Master solves, each followed by the cuts its mix calls for, until none is: "optimal" or "infeasible"
        (the master is a relaxation: infeasible means the full LP is).

        Raises:
            SolveError: HiGHS stops on its time limit, or the cuts do not settle within MAX_CUT_ROUNDS rounds or
                settings.TIME_LIMIT_SECONDS.
        """
        started = time.perf_counter()
        for _ in range(MAX_CUT_ROUNDS):
            self.rounds += 1
            outcome = highs.run(self.h, "on the risk objective")
            if outcome == "infeasible":
                self.x = None
                return outcome
            if outcome != "optimal":
                raise SolveError("HiGHS stopped on the risk objective with status time_limit")
            x = highs.values(self.h)
            self.x = x
            if not self._add_cuts(x[self.share_cols], x):
                return "optimal"
            if time.perf_counter() - started > TIME_LIMIT_SECONDS:
                break
        raise SolveError(f"the risk objective's cutting planes did not settle ({self.rounds} master solves, "
                         f"{self.cuts} cuts)")

    def solve_once(self) -> str:
        outcome = highs.run(self.h, "on the risk objective")
        if outcome not in ("optimal", "infeasible"):
            raise SolveError("HiGHS stopped on the risk objective with status time_limit")
        self.x = highs.values(self.h) if outcome == "optimal" else None
        return outcome

    def set_shortfall(self, upper: float) -> None:
        highs.set_col_bounds(self.h, [SHORTFALL], [0.0], [upper])

    def set_limit(self, on: bool) -> None:
        upper = self.col_upper[self.t] if on else highs.INF
        highs.set_col_bounds(self.h, [self.t], [0.0], [upper])

    def set_objective(self, cost: np.ndarray) -> None:
        highs.set_costs(self.h, np.arange(cost.size), cost)

    def tvar_value(self) -> float:
        """TVaR (units of R) of the master's mix, recomputed from the scenarios."""
        return self.tail.value(self.x[self.share_cols])

    def raw(self, shortfall: float, seconds: float) -> RawSolution:
        x, d, cols = self.x, self.d, self.layout
        take_ids = [d.quotes[j].quote_id for j in cols.binaries]
        return RawSolution(
            cash=max(float(x[0]), 0.0),
            share={q.quote_id: float(v) for q, v in zip(d.quotes, x[cols.shares()])},
            take={k: float(v) > 0.5 for k, v in zip(take_ids, x[cols.takes()])},
            shortfall=shortfall,
            objective=float(self.num.cost @ x[:self.num.cost.size]),
            solve_seconds=seconds,
            amount={a.asset_id: float(v) for a, v in zip(d.assets, x[cols.assets()])},
        )


class _CutPhases:
    """`solve_with_risk`'s three steps (highs.Lexicographic) on the cutting-plane master: the shortfall is
    minimised with the TVaR limit off (as `_RiskPhases` minimises it without the TVaR rows), then held while
    the risk objective is minimised under the limit."""

    def __init__(self, inst: Instance, book: RiskBook, level: float, limit: float | None, limit_jpy: float | None):
        self.inst, self.book, self.level, self.limit, self.limit_jpy = inst, book, level, limit, limit_jpy
        self.master = _CutMaster(inst, book, level, limit)
        self.held = False

    def least_cost(self) -> str:
        outcome = self.master.minimise()
        if outcome == "infeasible" and self.held and self.limit is not None:
            raise SolveError(_tvar_unreachable(self.inst, self.book, self.level, self.limit_jpy))
        return outcome

    def least_shortfall(self) -> tuple[str, float]:
        m = self.master
        m.set_shortfall(highs.INF)
        m.set_limit(False)
        shortfall_only = np.zeros(m.cost.size)
        shortfall_only[SHORTFALL] = 1.0
        m.set_objective(shortfall_only)
        outcome = m.solve_once()
        return outcome, float(m.x[SHORTFALL]) if outcome == "optimal" else float("nan")

    def hold_shortfall(self, least: float) -> None:
        if least <= ZERO_SHORTFALL and self.limit is not None:  # compliant mixes exist: the TVaR limit is the cause
            raise SolveError(_tvar_unreachable(self.inst, self.book, self.level, self.limit_jpy))
        m = self.master
        m.set_shortfall(least + SHORTFALL_SLACK)
        m.set_limit(True)
        m.set_objective(m.cost)
        self.held = True


def tvar_family(model, book: RiskBook, unit: float, level: float, limit: float | None):
    """TVaR rows on retained = L − P·s in units of R, measured as max(·, 0) (ζ ≥ 0: see tvar.py)."""
    variables = [model.share[q.quote_id] for q in book.quotes]
    return add_tvar_rows(model.prob, book.scenarios.annual_loss / unit, -book.payout / unit, variables,
                         level=level, limit=limit, n_scenarios=book.scenarios.n_years, nonnegative=True,
                         name="tvar")


def least_tvar(inst: Instance, book: RiskBook, level: float = DEFAULT_LEVEL, *,
               formulation: str = "cuts") -> float | None:
    """The smallest TVaR_level of annual retained loss (JPY) that a compliant mix reaches on the book's scenarios;
    None when no mix is compliant or HiGHS fails. `formulation` as for `solve_with_risk`."""
    if formulation == "cuts":
        master = _CutMaster(inst, book, level, None, objective="tvar")
        try:
            outcome = master.minimise()
        except SolveError:
            return None
        return master.tvar_value() * inst.unit if outcome == "optimal" else None
    import pulp

    highs.quiet_highs()
    model = build_model(inst, with_shortfall=False)
    tvar, _ = tvar_family(model, book, inst.unit, level, None)
    model.prob.setObjective(tvar)
    stats = model.prob.solve(highs.pulp_solver())
    return float(pulp.value(tvar)) * inst.unit if stats.status == pulp.LpSolveStatus.Optimal else None


def _tvar_unreachable(inst: Instance, book: RiskBook, level: float, limit_jpy: float) -> str:
    """The message when the TVaR limit is below what any compliant mix reaches."""
    least = least_tvar(inst, book, level)
    return (f"no compliant mix has TVaR at level {level:g} ≤ {limit_jpy:,.0f} JPY; the least a compliant mix "
            f"reaches on these scenarios is {'unknown' if least is None else f'{least:,.0f} JPY'}")


# ---------------------------------------------------------------- batch columns

# `batch --risk` adds these columns (the JSON `risk` object's names), one value per profile's optimal mix.
RISK_COLUMNS: tuple[str, ...] = ("expected_loss_jpy", "expected_retained_jpy", "expected_retained_se_jpy",
                                 "expected_recovery_jpy", "var_jpy", "tvar_jpy", "prob_reserve_exhausted",
                                 "total_cost_of_risk_jpy")


@dataclass(frozen=True)
class RiskColumns:
    """The risk metrics of each batch row's mix: every profile simulated with the same loss model, number of
    scenario-years and seed (so a profile's figures never depend on which chunk or worker solved it)."""

    loss_model: Any  # loss_model.LossModel
    scenarios: int
    seed: int
    level: float = DEFAULT_LEVEL

    def __post_init__(self) -> None:  # refused before any profile is solved (or a worker started)
        from .simulation import check_work

        check_work(self.loss_model, self.scenarios)

    def values(self, solution: Solution) -> dict[str, float]:
        """RISK_COLUMNS for one solved profile (optimal or shortfall: the mix it reports)."""
        from .simulation import simulate

        scenarios = simulate(solution.profile, self.loss_model, self.scenarios, self.seed)
        m = solution_metrics(solution, book_for(solution, scenarios), level=self.level)
        return {k: float(getattr(m, k)) for k in RISK_COLUMNS}

    def describe(self) -> dict[str, Any]:
        """What the columns were computed with (the batch summary's `risk` block)."""
        return {"loss_model": self.loss_model.name, "scenarios": self.scenarios, "seed": self.seed,
                "level": self.level, "columns": list(RISK_COLUMNS)}

    def key(self) -> str:
        """A short digest of everything the columns depend on (the whole loss model, N, seed, level)."""
        import dataclasses
        import hashlib
        import json

        lm = dataclasses.asdict(self.loss_model)
        for event in lm["event_types"]:  # a key made before the pareto severity existed stays the same for the others
            if event["severity"] != "pareto":
                event.pop("alpha", None)
        lm["default_probability"] = dict(sorted(dict(self.loss_model.default_probability).items()))
        text = json.dumps([lm, self.scenarios, self.seed, self.level], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- three mixes side by side (the app's Risk view)

@dataclass(frozen=True)
class MixRisk:
    """One mix on the exchange's scenarios: its metrics and its retained loss in each year with a loss."""

    name: str                       # "regulatory" | "risk" | "all cash"
    metrics: RiskMetrics
    retained: np.ndarray            # JPY, aligned with scenarios.loss_years (every other year retains 0)
    solution: Solution | None = None


@dataclass(frozen=True)
class RiskView:
    """The regulatory mix, the risk-optimal mix (under `tvar_limit`, JPY, or none) and all cash on the same
    scenarios; `least_tvar_jpy` and `free_tvar_jpy` bound the TVaR limits worth asking for: the least TVaR a
    compliant mix reaches, and the TVaR of the risk-optimal mix without a limit."""

    requirement_jpy: float
    n_years: int
    level: float
    tvar_limit_jpy: float | None
    least_tvar_jpy: float | None
    free_tvar_jpy: float
    mixes: tuple[MixRisk, ...]

    def mix(self, name: str) -> MixRisk:
        return next(m for m in self.mixes if m.name == name)


def risk_view(profile: ExchangeProfile, quotes: Sequence[Quote], regime: Regime, scenarios: Scenarios, *,
              level: float = DEFAULT_LEVEL, tvar_limit: float | None = None,
              assets: Sequence[ReserveAsset] = ()) -> RiskView:
    """The three mixes a CFO compares (common random numbers: one set of scenarios for all).

    All cash holds R in cash and buys nothing (carry·R a year). `assets`: the reserve assets offered, as for
    `risk --assets`: the regulatory mix is `risk --mix regulatory --assets` (its metrics on `book_for`), the
    risk-optimal one `risk --mix risk --assets`, and the least TVaR is over the compliant mixes that may hold them.
    Raises SolveError as solve_with_risk does (a `tvar_limit` below `least_tvar_jpy` is unreachable).
    """
    from .lp import solve

    assets = tuple(assets)
    regulatory = solve(profile, quotes, regime, marginal=False, assets=assets)
    R = regulatory.requirement_jpy
    reg_book = book_for(regulatory, scenarios)
    reg_shares = {line.quote.quote_id: line.share for line in regulatory.lines}
    free = solve_with_risk(profile, quotes, regime, scenarios, level=level, assets=assets)
    chosen = free if tvar_limit is None else solve_with_risk(profile, quotes, regime, scenarios, level=level,
                                                             tvar_limit=tvar_limit, assets=assets)
    risk_shares = {line.quote.quote_id: line.share for line in chosen.solution.lines}
    cash_book = RiskBook.build(scenarios, [], R, free.book.assets)  # holds none of them: what cash alone leaves
    mixes = (
        MixRisk("regulatory", solution_metrics(regulatory, reg_book, level=level), reg_book.retained(reg_shares),
                regulatory),
        MixRisk("risk", chosen.metrics, chosen.book.retained(risk_shares), chosen.solution),
        MixRisk("all cash", metrics(cash_book, profile, {}, R, level=level, annual_cost_jpy=profile.carry * R),
                cash_book.retained({})),
    )
    least = least_tvar(Instance.build(profile, quotes, regime, assets=assets), free.book, level)
    return RiskView(R, scenarios.n_years, level, tvar_limit, least, free.metrics.tvar_jpy, mixes)


def exceedance(retained: np.ndarray, n_years: int, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The exceedance curve of an annual loss that is `retained` in some years and 0 in the other years of
    n_years: (x, p) with p = P(loss ≥ x) at each x, x descending, at most `points` pairs (thinned evenly in
    log p, so the rare tail keeps its detail). Years retaining nothing are not drawn (p would jump to 1).

    >>> exceedance(np.array([5.0, 0.0, 3.0]), 10)
    (array([5., 3.]), array([0.1, 0.2]))
    """
    x = np.sort(retained[retained > 0])[::-1]
    if x.size == 0:
        return x, x.copy()
    k = np.arange(1, x.size + 1)
    if x.size > points:
        keep = np.unique(np.round(np.geomspace(1, x.size, points)).astype(int)) - 1
        x, k = x[keep], k[keep]
    return x, k / n_years


def layer_expected_losses(book: RiskBook) -> dict[str, tuple[float, float]]:
    """quote_id → (expected annual payout of the whole layer at share 1, its standard error), JPY: the layer's
    expected loss, which brokers set against its premium (loss ratio = expected loss ÷ premium)."""
    n = book.scenarios.n_years
    return {q.quote_id: _mean_se(book.payout[:, j], n) for j, q in enumerate(book.quotes)}
