"""Two losses in the same year: what a tower pays for each, what the pair leaves to the exchange, and the exact set
of loss pairs at which the two-event test must be checked (docs/design.md §4, "Two losses in one year").

A first loss x₁ of peril p₁, then a second x₂ of peril p₂ in the same year. Layer j pays the first
`r_j(x₁) = min(max(x₁ − a_j, 0), l_j)` if it covers p₁, and the second only out of what is left of its annual
aggregate `A_j = l_j·(1 + reinstatements_j)` (`domain.annual_aggregate`): over both it pays
`min(c₁·r_j(x₁) + c₂·r_j(x₂), A_j)` (`domain.within_aggregate`, the same arithmetic as the risk view's years), where
c₁, c₂ say whether it covers p₁, p₂. Cash is not restored in between, so what the exchange must fund is the pair's
retained total

    T(x₁, x₂) = x₁ + x₂ − Σ_j w_j·min(c₁·r_j(x₁) + c₂·r_j(x₂), A_j)          (w_j = κ_j·s_j)

for every x₁ ≤ R and x₂ ≤ second_event_share·R. T is piecewise linear, and its maximum over that rectangle is at one
of the points `candidates` returns (whatever the shares): the pairs of breakpoints and the points where a layer's
aggregate runs out (every vertex of T's pieces). In fact the maximum is always at a pair of the losses 0, R (or
second_event_share·R) and the layers' attachments: between attachments T is convex (`vertices="maxima"` returns
only those pairs). Everything here is numpy; no LP, no solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from .domain import Quote, annual_aggregate, recovery, within_aggregate


# ---------------------------------------------------------------------------------------------- what the tower pays

def pair_recoveries(x1, x2, attach, limit, aggregate, covers1=True, covers2=True) -> tuple[np.ndarray, np.ndarray]:
    """What a 100% line of each layer pays for a first loss x₁ and a second x₂ of the same year (any unit):
    (first, second), each of shape broadcast(x₁, x₂) + (layers,).

    The second is paid out of what the first left of the aggregate: second = min(c₁·r(x₁) + c₂·r(x₂), A) − first.
    `covers1`, `covers2`: whether each layer covers the first and the second loss's peril (bool per layer).

    >>> first, second = pair_recoveries(3e9, 5e9, [1e9], [4e9], [4e9])   # no reinstatement: 4bn for the year
    >>> float(first[0]), float(second[0])
    (2000000000.0, 2000000000.0)
    """
    x1, x2 = np.asarray(x1, dtype=float)[..., None], np.asarray(x2, dtype=float)[..., None]
    a, l = np.asarray(attach, dtype=float), np.asarray(limit, dtype=float)
    first = recovery(x1, a, l) * np.asarray(covers1, dtype=float)
    both = within_aggregate(first + recovery(x2, a, l) * np.asarray(covers2, dtype=float), aggregate)
    return first, both - first


def retained_pair(x1, x2, attach, limit, aggregate, weight, covers1=True, covers2=True) -> np.ndarray:
    """T(x₁, x₂): what the two losses of one year leave to the exchange together, x₁ + x₂ less what every layer
    pays (weight w_j = κ_j·s_j: the credit of the share bought), for arrays of pairs."""
    first, second = pair_recoveries(x1, x2, attach, limit, aggregate, covers1, covers2)
    x1, x2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    return x1 + x2 - (first + second) @ np.asarray(weight, dtype=float)


@dataclass(frozen=True)
class PairPayout:
    """A tower's payout for two losses of one year, in yen, per quote (in the order given)."""

    quote_ids: tuple[str, ...]
    first_jpy: np.ndarray    # what each quote pays for the first loss (share and credit applied)
    second_jpy: np.ndarray   # what each pays for the second, out of what is left of its aggregate
    retained_jpy: float      # x₁ + x₂ less both payouts: what cash and the exchange's assets must fund


def tower_pays_for_pair(quotes: Sequence[Quote], shares: Sequence[float], requirement_jpy: float,
                        first: tuple[str, float], second: tuple[str, float],
                        credit: Sequence[float] | None = None) -> PairPayout:
    """What a tower (quotes bought at `shares`, each earning `credit` κ_j per yen, 1 when not given) pays for a first
    loss `(peril, yen)` and a second `(peril, yen)` in the same year, for a requirement R (requirement-basis layers
    scale with it).

    >>> q = Quote("L", "insurance", "X", "A", 0.0, 1.0, 0.02, layer_basis="requirement")
    >>> p = tower_pays_for_pair([q], [1.0], 1e10, ("external_hack", 1e10), ("insider_theft", 1e10))
    >>> float(p.first_jpy[0]), float(p.second_jpy[0]), p.retained_jpy   # no reinstatement: the second is retained
    (10000000000.0, 0.0, 10000000000.0)
    """
    (p1, x1), (p2, x2) = first, second
    R = requirement_jpy
    weight = np.asarray(shares, dtype=float) * (np.ones(len(quotes)) if credit is None else np.asarray(credit, float))
    a = np.array([q.attachment_jpy(R) for q in quotes], dtype=float)
    l = np.array([q.limit_jpy(R) for q in quotes], dtype=float)
    A = np.array([q.aggregate_jpy(R) for q in quotes], dtype=float)
    c1 = np.array([q.covers(p1) for q in quotes], dtype=bool)
    c2 = np.array([q.covers(p2) for q in quotes], dtype=bool)
    r1, r2 = pair_recoveries(x1, x2, a, l, A, c1, c2)
    return PairPayout(tuple(q.quote_id for q in quotes), r1 * weight, r2 * weight,
                      float(x1 + x2 - (r1 + r2) @ weight))


# ---------------------------------------------------------------------------------------------- the candidate set

@dataclass(frozen=True)
class PairCandidates:
    """The loss pairs at which the two-event test of one pair of peril groups is exact: the first loss of group
    `first`, the second of group `second` (indices into the groups' cover matrix). `x1`, `x2`: batch × points,
    every point inside the rectangle [0, top]·[0, second_event_share·top]; `names` say what each point stands for,
    so a new R moves the points without changing the set of rows (as `model.funded_losses` keys its breakpoints)."""

    first: int
    second: int
    x1: np.ndarray
    x2: np.ndarray
    names: tuple[str, ...]
    # when the points are every pair of two axes' edges and nothing else (vertices="maxima"): the edges of each
    # axis (batch × k₁, batch × k₂), x1 = each of axis1's repeated k₂ times, x2 = axis2 tiled k₁ times
    axis1: np.ndarray | None = None
    axis2: np.ndarray | None = None


def _edges(attach, limit, aggregate, covers, top, ids, every: bool) -> tuple[np.ndarray, list[str]]:
    """The lines x = b one loss axis is cut by, clipped to [0, top]: 0, top, each covering layer's attachment, and
    with `every` its exhaustion and, for a layer whose aggregate lies strictly between one and two limits, a + A − l
    (where the aggregate runs out once the other loss has taken a full limit). batch × lines."""
    b = top.shape
    cols = [np.zeros(b), top]
    names = ["0", "top"]
    for j in np.flatnonzero(covers):
        cols.append(attach[..., j])
        names.append(f"attach_{ids[j]}")
        if not every:
            continue
        cols.append(attach[..., j] + limit[..., j])
        names.append(f"exhaust_{ids[j]}")
        if _partial(limit, aggregate, j):
            cols.append(attach[..., j] + aggregate[..., j] - limit[..., j])
            names.append(f"runs_out_{ids[j]}")
    return np.clip(np.stack(cols, axis=-1), 0.0, top[..., None]), names


def _partial(limit, aggregate, j) -> bool:
    """Whether layer j's aggregate can run out with part of a limit taken by each loss: l < A < 2l (never with a
    whole number of reinstatements, where A is l, 2l, …; kept for aggregates set otherwise)."""
    ratio = np.asarray(aggregate[..., j] / np.where(limit[..., j] > 0, limit[..., j], 1.0))
    return bool(((ratio > 1.0) & (ratio < 2.0)).any())


def _runs_out(limit, aggregate, j) -> bool:
    """Whether layer j's aggregate can run out at all over two losses: A < 2l."""
    return bool((np.asarray(aggregate[..., j]) < 2.0 * np.asarray(limit[..., j])).any())


def candidates(attach: np.ndarray, limit: np.ndarray, aggregate: np.ndarray, covers: np.ndarray, top: np.ndarray,
               second_event_share: float, quote_ids: Sequence[str] | None = None,
               vertices: Literal["all", "maxima"] = "all") -> list[PairCandidates]:
    """The exact candidate set of the two-event test, for every ordered pair of peril groups (docs/design.md §4,
    "Two losses in one year", gives the derivation).

    Arguments in the shape of `model.Scaled` (units of R): `attach`, `limit`, `aggregate` batch × quotes, `covers`
    groups × quotes (1 where the quote covers the group's perils), `top` R in units of R (shape `batch`). For the
    pair (g₁, g₂) the points are
      - every pair (b₁, b₂) of edges: b₁ from 0, R and the attachments and exhaustion points of the layers covering
        g₁ (and a_k + A_k − l_k for an aggregate between one and two limits, which a whole number of
        reinstatements never gives), clipped to [0, R]; b₂ the same for g₂ on [0, σ·R];
      - for each layer k covering both whose aggregate can run out (A_k < 2·l_k), the points of the line
        x₁ + x₂ = 2·a_k + A_k (where both losses hit its band and their recoveries add up to its aggregate) on each
        edge of the other axis: (b₁, 2·a_k + A_k − b₁) and (2·a_k + A_k − b₂, b₂), clipped into the rectangle.
    Clipping only moves a point that lies outside the rectangle onto it, where its row is redundant (still a loss
    pair the exchange must fund), so the set of rows stays the same for every R.

    Together these are every vertex of T's linear pieces (`vertices="all"`). The maximum needs fewer: on a cell
    between consecutive attachments every r_j is concave (0, or min(x − a_j, l_j)), so is each
    min(c₁·r_j(x₁) + c₂·r_j(x₂), A_j), and T — x₁ + x₂ less a sum of these with weights w_j ≥ 0 — is convex there:
    its maximum over the cell is at a corner. `vertices="maxima"` returns those corners alone, the pairs of
    {0, R, a_j} × {0, σ·R, a_j} (the same test with far fewer rows); tests/test_repeat.py checks both against a
    dense grid of loss pairs.

    Returns one PairCandidates per ordered pair of groups (g₁, g₂), g₁ the first loss's.
    """
    attach, limit = np.asarray(attach, dtype=float), np.asarray(limit, dtype=float)
    aggregate, top = np.asarray(aggregate, dtype=float), np.asarray(top, dtype=float)
    covers = np.asarray(covers, dtype=bool)
    n = attach.shape[-1]
    ids = list(quote_ids) if quote_ids is not None else [str(j) for j in range(n)]
    second_top = second_event_share * top
    if vertices not in ("all", "maxima"):
        raise ValueError(f"vertices must be 'all' or 'maxima', not {vertices!r}")
    every = vertices == "all"
    out = []
    for g1 in range(len(covers)):
        e1, n1 = _edges(attach, limit, aggregate, covers[g1], top, ids, every)
        for g2 in range(len(covers)):
            e2, n2 = _edges(attach, limit, aggregate, covers[g2], second_top, ids, every)
            k1, k2 = e1.shape[-1], e2.shape[-1]
            x1 = [np.repeat(e1, k2, axis=-1)]
            x2 = [np.tile(e2, k1)]
            names = [f"{u}_then_{v}" for u in n1 for v in n2]
            for k in np.flatnonzero(covers[g1] & covers[g2]):
                if not every or not _runs_out(limit, aggregate, k):
                    continue
                line = (2.0 * attach[..., k] + aggregate[..., k])[..., None]  # x₁ + x₂ on the line
                x1 += [e1, np.clip(line - e2, 0.0, top[..., None])]
                x2 += [np.clip(line - e1, 0.0, second_top[..., None]), e2]
                names += [f"{u}_then_aggregate_{ids[k]}" for u in n1] + [f"aggregate_{ids[k]}_then_{v}" for v in n2]
            grid = len(x1) == 1  # no aggregate lines: the points are the pairs of the two axes' edges
            out.append(PairCandidates(g1, g2, np.concatenate(x1, axis=-1), np.concatenate(x2, axis=-1),
                                      tuple(names), e1 if grid else None, e2 if grid else None))
    return out


def pair_credit(c: PairCandidates, kappa: np.ndarray, attach: np.ndarray, limit: np.ndarray,
                aggregate: np.ndarray, covers: np.ndarray) -> np.ndarray:
    """The coefficients of the two-event rows at the points of `c`: κ_j·(what a 100% line of j pays for both losses),
    batch × points × quotes — the rows then read C + z + Σ_j coef_j·s_j ≥ x₁ + x₂ (units of R). As a row family
    beside `model.funded_losses`, one block per PairCandidates:
    `Rows.of([f"repeat_{groups[c.first]}_then_{groups[c.second]}_at_{n}" for n in c.names], d, cash=1.0, gap=1.0,
    share=pair_credit(c, d.kappa, d.attach, d.limit, aggregate, d.covers), lower=c.x1 + c.x2)`."""
    covers = np.asarray(covers, dtype=bool)
    if c.axis1 is not None:  # a grid of two axes: each axis's recoveries once, the pairs by broadcasting
        a, l = np.asarray(attach, dtype=float)[..., None, :], np.asarray(limit, dtype=float)[..., None, :]
        first = recovery(c.axis1[..., None], a, l) * covers[c.first].astype(float)       # batch × k₁ × quotes
        other = recovery(c.axis2[..., None], a, l) * covers[c.second].astype(float)      # batch × k₂ × quotes
        first = first[..., :, None, :]
        paid = first + other[..., None, :, :]
        np.minimum(paid, np.asarray(aggregate, dtype=float)[..., None, None, :], out=paid)  # within_aggregate
        paid -= first  # the second loss's part: pair_recoveries' second
        paid += first  # first + second, number for number as pair_recoveries gives them
        paid *= np.asarray(kappa, dtype=float)
        return paid.reshape(paid.shape[:-3] + (-1, paid.shape[-1]))
    first, second = pair_recoveries(c.x1, c.x2, np.asarray(attach)[..., None, :], np.asarray(limit)[..., None, :],
                                    np.asarray(aggregate)[..., None, :], covers[c.first], covers[c.second])
    return np.asarray(kappa, dtype=float) * (first + second)


def max_retained(attach, limit, aggregate, covers, top, second_event_share, weight, *,
                 vertices: Literal["all", "maxima"] = "all") -> tuple[float, int, int, int]:
    """The largest retained total over the candidate set of one instance (no batch axis), every pair of groups:
    (T, g₁, g₂, index of the point). What the exchange's cash must be at least for the tower to pass the test."""
    best = (-np.inf, -1, -1, -1)
    covers = np.asarray(covers, dtype=bool)
    for c in candidates(attach, limit, aggregate, covers, top, second_event_share,
                        vertices=vertices):
        t = retained_pair(c.x1, c.x2, attach, limit, aggregate, weight, covers[c.first], covers[c.second])
        k = int(np.argmax(t))
        if t[k] > best[0]:
            best = (float(t[k]), c.first, c.second, k)
    return best


def aggregates(quotes: Sequence[Quote], requirement_jpy: float, unit: float | None = None) -> np.ndarray:
    """Each quote's annual aggregate for a requirement R, in units of `unit` (R by default): the `aggregate`
    argument of `candidates` beside `Scaled.limit`."""
    u = unit if unit is not None else (requirement_jpy if requirement_jpy > 0 else 1.0)
    return np.array([annual_aggregate(q.limit_jpy(requirement_jpy), q.reinstatements) for q in quotes], float) / u
