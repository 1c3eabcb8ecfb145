"""The TVaR row family (optimizer/tvar.py): hand-checked rows, the Rockafellar–Uryasev paper's example, properties."""

import math

import numpy as np
import pulp
import pytest
from hypothesis import given, settings, strategies as st

from optimizer import settings as solver_settings
from optimizer.risk import var_tvar
from optimizer.tvar import TailCuts, add_tvar_rows, tail_weights


def _solve(prob):
    # the project's thread setting: HiGHS refuses a solve whose thread count differs from the first one in the process
    stats = prob.solve(pulp.HiGHS(msg=False, threads=solver_settings.THREADS))
    assert stats.status == pulp.LpSolveStatus.Optimal
    return stats


# ---------------------------------------------------------------- hand-checked

def test_tvar_of_fixed_losses_is_the_mean_of_the_worst_tail():
    # losses 1..10 (no variables): TVaR_0.8 = mean of the worst 2 = 9.5, VaR_0.8 = 8
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=0)
    tvar, rows = add_tvar_rows(prob, np.arange(1.0, 11.0), np.zeros((10, 1)), [x], level=0.8)
    prob.setObjective(tvar)
    _solve(prob)
    assert pulp.value(tvar) == pytest.approx(9.5)
    assert 8.0 - 1e-9 <= rows.zeta.value() <= 9.0 + 1e-9  # any point of the argmin interval [VaR, next order stat]
    assert len(rows.excess_rows) == 10 and rows.limit_row is None


def test_left_out_zero_scenarios_count_when_zeta_is_negative():
    # 2 scenarios given with gains (−1, −2); 8 more with loss exactly 0. Level 0.5: the worst 5 of 10 are 0,0,0,0,0
    # → TVaR 0. Without the left-out variable the LP would report −1.5 (the mean of the two gains).
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=0)
    tvar, rows = add_tvar_rows(prob, np.array([-1.0, -2.0]), np.zeros((2, 1)), [x], level=0.5, n_scenarios=10)
    prob.setObjective(tvar)
    _solve(prob)
    assert rows.left_out is not None
    assert pulp.value(tvar) == pytest.approx(0.0, abs=1e-9)
    assert var_tvar(np.array([-1.0, -2.0]), 10, 0.5) == (0.0, 0.0)


def test_nonnegative_measures_the_clipped_loss():
    # affine losses −3 (over-insured) and 4 among 4 scenarios, level 0.5: clipped worst 2 = {4, 0} → TVaR 2
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=0)
    tvar, rows = add_tvar_rows(prob, np.array([-3.0, 4.0]), np.zeros((2, 1)), [x], level=0.5, n_scenarios=4,
                               nonnegative=True)
    prob.setObjective(tvar)
    _solve(prob)
    assert pulp.value(tvar) == pytest.approx(2.0)
    assert rows.zeta.getLb() == 0


def test_limit_row_cuts_the_tail_by_buying_cover():
    # loss_s = L_s − 1·x (x = cover bought at cost 1 per unit, at most 10); TVaR_0.75 of L = (8, 0, 0, 0) is 8
    # ⇒ a limit of 3 needs x ≥ 5: the cheapest x is 5.
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=10)
    tvar, rows = add_tvar_rows(prob, np.array([8.0]), np.array([[-1.0]]), [x], level=0.75, limit=3.0,
                               n_scenarios=4, nonnegative=True)
    prob.setObjective(1 * x)
    _solve(prob)
    assert x.value() == pytest.approx(5.0)
    assert rows.limit_row is not None and pulp.value(tvar) <= 3.0 + 1e-7


def test_bad_arguments_are_refused():
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x")
    with pytest.raises(ValueError, match="level"):
        add_tvar_rows(prob, [1.0], [[1.0]], [x], level=1.0)
    with pytest.raises(ValueError, match="shape"):
        add_tvar_rows(prob, [1.0, 2.0], [[1.0]], [x], level=0.9)
    with pytest.raises(ValueError, match="n_scenarios"):
        add_tvar_rows(prob, [1.0, 2.0], [[1.0], [1.0]], [x], level=0.9, n_scenarios=1)


# ---------------------------------------------------------------- the paper's table

MU = np.array([0.0101110, 0.0043532, 0.0137058])
COV = np.array([[0.00324625, 0.00022983, 0.00420395],
                [0.00022983, 0.00049937, 0.00019247],
                [0.00420395, 0.00019247, 0.00764097]])
X_MINVAR = np.array([0.452013, 0.115573, 0.432414])
TABLE = {0.90: (0.067847, 0.096975), 0.95: (0.090200, 0.115908), 0.99: (0.132128, 0.152977)}
N_SAMPLES = 10_000  # about 1 s per level with HiGHS; see the tolerance note below


def _returns(n: int, seed: int) -> np.ndarray:
    """n normal return vectors with exactly the mean MU and covariance COV (moment matching).

    Matching the first two moments removes the sampling error of the portfolio's mean and variance for every
    weight vector; what is left is the error of the tail shape, smaller than plain sampling's. The tolerance below
    uses the plain-sampling standard error, so it is conservative.
    """
    z = np.random.default_rng(seed).standard_normal((n, 3))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return MU + z @ np.linalg.cholesky(COV).T


@pytest.mark.parametrize("beta", sorted(TABLE))
def test_rockafellar_uryasev_three_asset_example(beta):
    """R&U (2000), Table 1 / 2: minimising CVaR of loss = −return with expected return ≥ 0.011 reaches the
    minimum-variance portfolio's VaR and CVaR (normal returns: CVaR = −μ'x + c·σ(x))."""
    returns = _returns(N_SAMPLES, seed=20001)
    prob = pulp.LpProblem("ru", pulp.LpMinimize)
    x = [prob.add_variable(f"x{i}", lowBound=0) for i in range(3)]
    prob += pulp.lpSum(x) == 1, "budget"
    prob += pulp.lpDot(MU.tolist(), x) >= 0.011, "expected_return"
    cvar, rows = add_tvar_rows(prob, np.zeros(N_SAMPLES), -returns, x, level=beta)
    prob.setObjective(cvar)
    _solve(prob)
    weights = np.array([v.value() for v in x])
    var_hat, cvar_hat = rows.zeta.value(), pulp.value(cvar)
    var_true, cvar_true = TABLE[beta]

    # Tolerances: 3 standard errors of plain-sampling estimators at N samples.
    # VaR: sqrt(β(1−β)/N) / f(VaR), f the normal density of the loss (mean −0.011, sd σ of the min-variance mix).
    sigma = math.sqrt(X_MINVAR @ COV @ X_MINVAR)
    density = math.exp(-0.5 * ((var_true + 0.011) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    se_var = math.sqrt(beta * (1 - beta) / N_SAMPLES) / density
    # CVaR: sd(max(loss − VaR, 0)) / ((1 − β)·sqrt(N)), from the sample at the optimum.
    loss = -returns @ weights
    se_cvar = np.std(np.maximum(loss - var_hat, 0.0)) / ((1 - beta) * math.sqrt(N_SAMPLES))
    assert abs(var_hat - var_true) <= 3 * se_var, (var_hat, var_true, se_var)
    assert abs(cvar_hat - cvar_true) <= 3 * se_cvar, (cvar_hat, cvar_true, se_cvar)
    # the LP's CVaR is the sample CVaR of its own portfolio, and the weights are a portfolio meeting the return
    assert cvar_hat == pytest.approx(var_tvar(loss, N_SAMPLES, beta)[1], abs=1e-7)
    assert weights.sum() == pytest.approx(1.0) and MU @ weights >= 0.011 - 1e-9


# ---------------------------------------------------------------- properties

@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 10, allow_nan=False), min_size=1, max_size=30), st.integers(0, 20),
       st.sampled_from([0.5, 0.8, 0.9, 0.95]))
def test_lp_minimum_equals_the_direct_tvar(losses, zeros, level):
    values = np.array(losses)
    n = values.size + zeros
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=0)
    tvar, _ = add_tvar_rows(prob, values, np.zeros((values.size, 1)), [x], level=level, n_scenarios=n)
    prob.setObjective(tvar)
    _solve(prob)
    assert pulp.value(tvar) == pytest.approx(var_tvar(values, n, level)[1], abs=1e-6)


# ---------------------------------------------------------------- the same function by its supporting hyperplanes

def test_tail_cuts_of_a_hand_checked_cover():
    # 10 years; year a loses 5, year b loses 3; cover x ∈ [0, 1] pays 2x in year a and 3x in year b. Level 0.85:
    # m = 1.5 worst years. TVaR(x) = ((5 − 2x) + 0.5·(3 − 3x)) / 1.5 while year a stays the worst.
    cuts = TailCuts(np.array([5.0, 3.0]), np.array([[-2.0], [-3.0]]), 0.85, 10)
    assert cuts.value(np.array([0.0])) == pytest.approx(13 / 3)
    assert cuts.value(np.array([1.0])) == pytest.approx(2.0)          # retained 3 and 0: 3 / 1.5
    a0, a = cuts.cut(np.array([0.0]))                                  # weights 2/3 and 1/3 at x = 0
    assert (a0, a.tolist()) == (pytest.approx(13 / 3), [pytest.approx(-7 / 3)])
    assert a0 + a[0] * 1.0 == pytest.approx(cuts.value(np.array([1.0])))  # same order of years: the cut is exact
    # the expected clipped loss (level None): (1/10)·Σ max(L − P·x, 0)
    mean = TailCuts(np.array([5.0, 3.0]), np.array([[-2.0], [-3.0]]), None, 10)
    assert mean.value(np.array([1.0])) == pytest.approx(0.3)          # (3 + 0) / 10
    assert tail_weights(np.array([0.0, 0.0]), 0.9, 10).tolist() == [0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 25), st.integers(0, 30), st.integers(1, 3), st.sampled_from([0.5, 0.8, 0.9, 0.99]),
       st.integers(0, 10_000))
def test_tail_cuts_support_tvar_from_below_and_touch_it(n, zeros, k, level, seed):
    rng = np.random.default_rng(seed)
    constant = rng.uniform(-2, 10, n)
    matrix = rng.uniform(-3, 1, (n, k))
    total = n + zeros
    cuts = TailCuts(constant, matrix, level, total)
    mean = TailCuts(constant, matrix, None, total)
    x, ys = rng.uniform(0, 1, k), rng.uniform(0, 2, (20, k))
    for fn, direct in ((cuts, lambda z: var_tvar(np.maximum(constant + matrix @ z, 0.0), total, level)[1]),
                       (mean, lambda z: np.maximum(constant + matrix @ z, 0.0).sum() / total)):
        assert fn.value(x) == pytest.approx(direct(x), rel=1e-12, abs=1e-12)
        a0, a = fn.cut(x)
        assert a0 + a @ x == pytest.approx(fn.value(x), rel=1e-12, abs=1e-12)   # tight at x
        for y in ys:                                                           # below the function everywhere
            assert a0 + a @ y <= direct(y) + 1e-9
