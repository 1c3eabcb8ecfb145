"""The LP of model.py in matrix form, kept in one HiGHS instance and re-solved from the previous basis.

For a quote sheet whose offered quotes are all `requirement`-basis and plain LP (no minimum line, no flat fee),
the LP in units of R is the same matrix for every exchange: only the costs (carry, premium multiplier) and the
cash bound (liquid capital ÷ R) change. The batch engine therefore builds the matrix once per offer and
re-solves each exchange from the last optimal basis — a handful of simplex iterations instead of a fresh model.
Anything else (yen-basis layers, MILP, shortfall, R = 0) goes back to `model.solve`; every result goes through
the same `model.assemble` and `verify` as a single solve.
"""

from __future__ import annotations

import math
from typing import Sequence

import highspy
import numpy as np

from .domain import ExchangeProfile, Quote, Regime
from .model import MARGINAL_STEP, Instance, _Raw, _swallow_highs_banner, assemble, breakpoints, solve
from .regime import credit_factor, exempt_from_counterparty_cap
from .solution import Solution


class WarmLP:
    """One HiGHS model per offered quote set, reused across exchanges (not thread-safe; one per process)."""

    def __init__(self, quotes: Sequence[Quote], regime: Regime):
        self.quotes, self.regime = tuple(quotes), regime
        self._models: dict[tuple[str, ...], tuple[highspy.Highs, list[Quote]]] = {}
        self._credit = {q.quote_id: credit_factor(q, regime) for q in self.quotes}
        _swallow_highs_banner()

    def solve(self, profile: ExchangeProfile) -> Solution:
        """Same answer as model.solve(profile, quotes, regime) (cost to solver precision), faster when it can."""
        inst = Instance.build(profile, self.quotes, self.regime, credit=self._credit)
        eligible = inst.eligible
        if inst.requirement_jpy <= 0 or any(q.layer_basis != "requirement" or q.needs_binary or math.isfinite(q.max_limit_jpy) for q in eligible):
            return solve(profile, self.quotes, self.regime)
        key = tuple(q.quote_id for q in eligible)
        if key not in self._models:
            self._models[key] = (self._build(inst), list(eligible))
        highs, order = self._models[key]
        raw = self._run(highs, inst, order, inst.requirement_jpy)
        if raw is None:  # no compliant mix: the lexicographic shortfall solve lives in model.py
            return solve(profile, self.quotes, self.regime)
        bumped_R = inst.requirement_jpy * (1 + MARGINAL_STEP)
        again = self._run(highs, inst, order, bumped_R)
        if again is None:
            return solve(profile, self.quotes, self.regime)
        marginal = (again.objective * bumped_R - raw.objective * inst.requirement_jpy) / (inst.requirement_jpy * MARGINAL_STEP)
        return assemble(inst, raw, marginal)

    def _build(self, inst: Instance) -> highspy.Highs:
        """Rows of DESIGN.md in units of R, as model._build writes them (requirement basis: R-free)."""
        quotes, elig = inst.eligible, self.regime.eligibility
        n = len(quotes)
        kappa = np.array([inst.credit[q.quote_id] for q in quotes])
        attach = np.array([q.attachment for q in quotes])
        limit = np.array([q.limit for q in quotes])
        rows, lower, upper = [], [], []

        def credit_at(x: float) -> np.ndarray:
            return kappa * np.clip(x - attach, 0.0, limit)

        # 1. every loss up to R is funded, per distinct set of covering quotes: C + Σ κ s r(x) ≥ x
        groups = sorted({tuple(q.covers(p) for q in quotes) for p in self.regime.requirement.perils})
        for covering in groups:
            mask = np.array(covering, dtype=float)
            for x in breakpoints(inst):
                rows.append(np.concatenate([[1.0], credit_at(x) * mask]))
                lower.append(x)
                upper.append(highspy.kHighsInf)
        # 2. caps on credit, credit of j = κ s r(R)
        rows.append(np.concatenate([[1.0], np.zeros(n)]))
        lower.append(elig.min_cash_share)
        upper.append(highspy.kHighsInf)
        full = credit_at(1.0)
        derivative = np.array([q.is_derivative for q in quotes])
        for mask, cap in ((~derivative, elig.max_insurance_share), (derivative, elig.max_derivative_share)):
            rows.append(np.concatenate([[0.0], full * mask]))
            lower.append(-highspy.kHighsInf)
            upper.append(cap)
        for name in sorted({q.counterparty for q in quotes if not exempt_from_counterparty_cap(q)}):
            mask = np.array([q.counterparty == name and not exempt_from_counterparty_cap(q) for q in quotes])
            rows.append(np.concatenate([[0.0], full * mask]))
            lower.append(-highspy.kHighsInf)
            upper.append(elig.max_counterparty_share)
        A = np.array(rows)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("threads", 1)
        inf = highspy.kHighsInf
        highs.addVars(n + 1, np.zeros(n + 1), np.concatenate([[inf], [q.max_share for q in quotes]]))
        for row, lo, hi in zip(A, lower, upper):
            idx = np.nonzero(row)[0].astype(np.int32)
            highs.addRow(lo, hi, len(idx), idx, row[idx])
        return highs

    @staticmethod
    def _run(highs: highspy.Highs, inst: Instance, order: list[Quote], R: float) -> _Raw | None:
        prof = inst.profile
        n = len(order)
        costs = np.concatenate([[prof.carry], [prof.premium_multiplier * q.premium_rate * q.limit for q in order]])
        highs.changeColsCost(n + 1, np.arange(n + 1, dtype=np.int32), costs)
        liquid = prof.liquid_capital_jpy / R
        highs.changeColBounds(0, 0.0, highspy.kHighsInf if math.isinf(liquid) else liquid)
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(highs.getSolution().col_value)
        return _Raw(cash=max(float(x[0]), 0.0), share={q.quote_id: float(v) for q, v in zip(order, x[1:])},
                    take={}, shortfall=0.0, objective=float(costs @ x), solve_seconds=0.0)
