"""The independent check of the two-event test (solution._two_events_worst, used by `verify` and `verify_many`):
it must find the same worst pair of losses as the plain evaluation at every pair of edges and on every line where
an aggregate runs out — the way it was first written, kept here as the reference — on random towers of overlapping
layers, with and without reinstatements, for perils covered by different layers."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer.solution import _GRID_PAIRS, _GRID_PAIRS_MANY, _two_events_worst


def reference(R, C, attach, limit, aggregate, weight, covers, sigma, grid):
    """Every pair of edges (grid, attachments, exhaustion points, a + A − l), and every line x₁ + x₂ = 2a + A of a
    layer with A < 2l across the edges, each evaluated in full for every ordered pair of perils."""
    N, n = attach.shape
    top1, top2 = R[:, None], sigma * R[:, None]
    partial = (aggregate > limit) & (aggregate < 2.0 * limit)
    extra = np.where(partial, attach + aggregate - limit, 0.0)

    def axis(top):
        return np.clip(np.concatenate([grid[None, :] * top, attach, attach + limit, extra], axis=1), 0.0, top)

    e1, e2 = axis(top1), axis(top2)
    x1, x2 = [np.repeat(e1, e2.shape[1], axis=1)], [np.tile(e2, (1, e1.shape[1]))]
    for k in np.flatnonzero((aggregate < 2.0 * limit).any(axis=0)):
        line = (2.0 * attach[:, k] + aggregate[:, k])[:, None]
        x1 += [e1, np.clip(line - e2, 0.0, top1)]
        x2 += [np.clip(line - e1, 0.0, top2), e2]
    x1, x2 = np.concatenate(x1, axis=1), np.concatenate(x2, axis=1)
    first = np.clip(x1[:, :, None] - attach[:, None, :], 0.0, limit[:, None, :])
    second = np.clip(x2[:, :, None] - attach[:, None, :], 0.0, limit[:, None, :])
    worst = np.full(N, -np.inf)
    for c1 in covers:
        for c2 in covers:
            paid = np.minimum(first * c1 + second * c2, aggregate[:, None, :])
            retained = x1 + x2 - np.einsum("npj,nj->np", paid, weight)
            worst = np.maximum(worst, retained.max(axis=1) - C)
    return worst


def towers(seed: int, N: int, n: int, sigma: float):
    rng = np.random.default_rng(seed)
    R = rng.uniform(1e8, 4e10, N)
    attach = rng.choice([0.0, 0.05, 0.1, 0.25, 0.5], (N, n)) * R[:, None] * rng.uniform(0.9, 1.1, (N, n))
    limit = rng.choice([0.1, 0.25, 0.4, 0.5, 1.0], (N, n)) * R[:, None]
    reinst = rng.choice([0.0, 0.5, 1.0, 2.0], n)  # 0.5: an aggregate between one and two limits
    weight = rng.uniform(0.0, 1.2, (N, n)) * (rng.random((N, n)) < 0.8)
    covers = [rng.random(n) < 0.7 for _ in range(3)]
    C = rng.uniform(0.0, 1.5, N) * R
    return R, C, attach, limit, limit * (1.0 + reinst), weight, covers, sigma


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), sigma=st.sampled_from([0.25, 0.5, 1.0, 2.0]))
def test_the_split_evaluation_finds_the_same_worst_pair_as_the_full_one(seed, n, sigma):
    args = towers(seed, 40, n, sigma)
    for grid in (_GRID_PAIRS_MANY, _GRID_PAIRS):
        got, want = _two_events_worst(*args, grid), reference(*args, grid)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * args[0].max())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 9), sigma=st.sampled_from([0.25, 0.5, 1.0, 2.0]))
def test_layers_no_exchange_of_the_slice_holds_leave_the_worst_pair_as_the_full_evaluation_finds_it(seed, n, sigma):
    """A batch's chunk often holds two or three of a sheet's layers: the others (no exchange of the slice holds
    them) are added as separable layers; the worst pair is still the full evaluation's."""
    R, C, attach, limit, aggregate, weight, covers, sigma = towers(seed, 40, n, sigma)
    held = np.random.default_rng(seed + 1).random(n) < 0.4
    held[np.random.default_rng(seed + 2).integers(n)] = True  # at least one layer held
    weight = weight * held[None, :]
    args = R, C, attach, limit, aggregate, weight, covers, sigma
    for grid in (_GRID_PAIRS_MANY, _GRID_PAIRS):
        got, want = _two_events_worst(*args, grid), reference(*args, grid)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * R.max())


def test_a_layer_without_reinstatement_covering_both_perils_leaves_the_second_loss_to_the_reserve():
    R, tower = np.array([1e10]), (np.array([[0.0]]), np.array([[1e10]]), np.array([[1e10]]), np.array([[1.0]]))
    both = [np.array([True])]
    # the layer pays the first loss of R; the second loss of R falls on the reserve
    assert _two_events_worst(R, np.array([1e10]), *tower, both, 1.0, _GRID_PAIRS_MANY)[0] == 0.0
    assert _two_events_worst(R, np.array([0.4e10]), *tower, both, 1.0, _GRID_PAIRS_MANY)[0] == 0.6e10
    # one reinstatement: the layer pays both, the reserve needs nothing
    assert _two_events_worst(R, np.array([0.0]), *tower[:2], np.array([[2e10]]), tower[3], both, 1.0,
                             _GRID_PAIRS_MANY)[0] == 0.0
