"""The row families of the model (docs/design.md §4), one function each, returning its rows as a `Rows` block with
the algebra in its docstring. `ROW_FAMILIES` is the model: `matrix.numbers` stacks them. A new family (a second
event, a year's rows) is one more function here returning `Rows`, and one more entry in `ROW_FAMILIES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..repeat import candidates, pair_credit
from .highs import INF
from .scaled import Scaled, safe_name

# The two-event rows are written at the pairs of {0, R, attachments} × {0, σ·R, attachments} ("maxima"), the corners
# of the cells between attachments, where T is convex: its maximum over the rectangle is always at one of them
# (docs/design.md §4, "Two losses in one year"; tests/test_repeat.py checks it against every vertex of T's pieces
# and a dense grid). "all", every vertex of T's pieces, gives the same answers with about four times the rows.
REPEAT_VERTICES = "maxima"


@dataclass(frozen=True)
class Rows:
    """A family of rows: lower ≤ cash·C + gap·z + share·s + asset·A + take·y ≤ upper, one entry per row (units of
    R); for a stack of instances every array has the stack's leading axis."""

    names: tuple[str, ...]
    cash: np.ndarray    # batch × rows
    gap: np.ndarray
    share: np.ndarray   # batch × rows × quotes
    take: np.ndarray    # batch × rows × quotes (columns of quotes without a binary stay 0)
    lower: np.ndarray
    upper: np.ndarray
    asset: np.ndarray | None = None  # batch × rows × assets (None: 0 on every asset column)

    @classmethod
    def of(cls, names, d: Scaled, *, cash=0.0, gap=0.0, share=None, take=None, lower=-INF, upper=INF,
           asset=None) -> "Rows":
        """Row values broadcast to batch × rows (× quotes, × assets): a per-instance number is given as
        batch + (1,)."""
        m, n, b = len(names), len(d.quotes), d.batch
        full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), b + (m,))  # noqa: E731
        grid = lambda v, k=n: np.broadcast_to(np.asarray(0.0 if v is None else v, dtype=float), b + (m, k))  # noqa: E731
        return cls(tuple(names), full(cash), full(gap), grid(share), grid(take), full(lower), full(upper),
                   grid(asset, len(d.assets)))

    @staticmethod
    def stack(blocks: Sequence["Rows"]) -> "Rows":
        def cat(f: str, axis: int) -> np.ndarray:
            arrays = [getattr(b, f) for b in blocks]
            value = _constant(arrays)
            if value is not None:  # one number everywhere (a take of 0, a cash of 1): a broadcast, not a copy
                shape = list(arrays[0].shape)
                shape[axis] = sum(a.shape[axis] for a in arrays)
                return np.broadcast_to(np.asarray(value, dtype=float), tuple(shape))
            return np.concatenate(arrays, axis=axis)
        width = max((b.asset.shape[-1] for b in blocks if b.asset is not None), default=0)
        assets = [b.asset if b.asset is not None else np.zeros(b.share.shape[:-1] + (width,)) for b in blocks]
        return Rows(tuple(n for b in blocks for n in b.names), cat("cash", -1), cat("gap", -1), cat("share", -2),
                    cat("take", -2), cat("lower", -1), cat("upper", -1), np.concatenate(assets, axis=-2))


def _constant(arrays: Sequence[np.ndarray]) -> float | None:
    """The one value every element of these arrays holds, when each is a broadcast of a single number (all its
    strides 0) or empty, and there is at least one element; else None."""
    values = set()
    for a in arrays:
        if a.size == 0:
            continue
        if any(a.strides):
            return None
        values.add(float(a.flat[0]))
    return values.pop() if len(values) == 1 else None


def reserve_side(names, d: Scaled, **terms) -> Rows:
    """A row the reserve must fund: (what the reserve holds) + Σ_j coef_j·s_j ≥ the loss, the reserve being cash C and
    the shortfall z and the reserve assets at their credit per yen c_a (assets.csv: an asset is first-loss money like
    cash, and is not restored between two losses either) — the one place that says what funds a loss, for every row
    family that funds one."""
    return Rows.of(names, d, cash=1.0, gap=1.0, asset=d.asset_credit, **terms)


# DESIGN 1. every loss up to R is funded
def funded_losses(d: Scaled) -> Rows:
    """docs/design.md §4, row family 1. Every loss up to R is funded, for every peril p:

        x − Σ_{j covers p} κ_j·s_j·r_j(x) ≤ C + z + Σ_a c_a·A_a
            ⇔     C + z + Σ_{j covers p} κ_j·r_j(x)·s_j + Σ_a c_a·A_a ≥ x

    with c_a = κ_a·(1 − h_a) the credit per yen of reserve asset a: an asset is first-loss money like cash (it
    covers every peril and adds no breakpoint), at each breakpoint x ∈ {R} ∪ {a_j, a_j + l_j} (retained loss is piecewise linear with kinks only there, so
    these rows are exact: no gap between cash and the first layer). z is the shortfall (fixed at 0 unless no
    compliant mix exists). Perils covered by the same quotes give the same rows: one block per peril group.
    """
    credit = d.credit_at(d.points)  # batch × points × quotes
    return Rows.stack([reserve_side([f"funded_{safe_name(group)}_at_{p}" for p in d.point_names], d,
                                    share=credit * d.covers[g], lower=d.points)
                       for g, group in enumerate(d.groups)])


# DESIGN 2. caps on credit by kind, a floor on cash
def credit_caps(d: Scaled) -> Rows:
    """docs/design.md §4, row family 2. Regulatory caps on credit, where the credit of quote j is κ_j·s_j·r_j(R):

        C + z + Σ_{a funded} c_a·A_a ≥ min_cash_share·R      (the reserve held: cash and the funded kinds)
        Σ_{j insurance} κ_j·r_j(R)·s_j ≤ max_insurance_share·R
        Σ_{j derivative} κ_j·r_j(R)·s_j ≤ max_derivative_share·R
        Σ_{a of kind k} c_a·A_a ≤ max_share.<k>·R             (one row per asset kind present, even at 0)
    """
    e, full, top = d.eligibility, d.credit_at_top()[..., None, :], d.top[..., None]
    return Rows.stack([
        Rows.of(["min_cash"], d, cash=1.0, gap=1.0, lower=e.min_cash_share * top,
                asset=d.asset_credit * d.asset_funded),
        Rows.of(["insurance_cap"], d, share=full * ~d.derivative, upper=e.max_insurance_share * top),
        Rows.of(["derivative_cap"], d, share=full * d.derivative, upper=e.max_derivative_share * top),
        Rows.of([f"asset_cap_{k}" for k in d.asset_kinds], d, asset=d.of_kind * d.asset_credit,
                upper=np.array([e.max_asset_share(k) for k in d.asset_kinds]) * top),
    ])


# DESIGN 2. caps on credit by counterparty
def counterparty_caps(d: Scaled) -> Rows:
    """docs/design.md §4, row family 2. Credit from any one counterparty c ≤ max_counterparty_share·R (collateralized derivatives exempt):

        Σ_{j of c} κ_j·r_j(R)·s_j + Σ_{a of c} c_a·A_a ≤ max_counterparty_share·R

    A bank's guarantee, its deposit and its insurance arm's layer share one row when they name the same
    counterparty.
    """
    return Rows.of([f"counterparty_cap_{safe_name(c)}" for c in d.counterparties], d,
                   share=d.of_counterparty * d.credit_at_top()[..., None, :],
                   asset=d.asset_of_counterparty * d.asset_credit,
                   upper=d.eligibility.max_counterparty_share * d.top[..., None])


# DESIGN 2. what the held reserve ties up
def liquid_capital(d: Scaled) -> Rows:
    """docs/design.md §4, row family 2. Cash and the funded assets together tie up capital (their amounts, not
    their credit), at most the exchange's liquid capital; only when a funded asset is eligible (C's own bound
    says it otherwise):

        C + Σ_{a funded} A_a ≤ liquid_capital / R

    Its bound differs per exchange of a stack (matrix.numbers takes it from the whole stack: PER_INSTANCE_BOUNDS).
    """
    if not d.asset_funded.any():
        return Rows.of([], d)
    return Rows.of(["liquid_capital"], d, cash=1.0, asset=d.asset_funded.astype(float), upper=d.liquid[..., None])


# DESIGN 4. minimum lines and flat fees (MILP)
def min_lines(d: Scaled) -> Rows:
    """docs/design.md §4, row family 4. MILP links for quotes with a minimum line or a flat fee (y_j ∈ {0, 1}):

        s_j − min_share_j·y_j ≥ 0        s_j − max_share_j·y_j ≤ 0
    """
    n, js = len(d.quotes), np.flatnonzero(d.binary)
    eye = np.eye(n)[js]
    return Rows.stack([
        Rows.of([f"min_line_{safe_name(d.quotes[j].quote_id)}" for j in js], d, share=eye, take=-eye * d.min_share,
                lower=0.0),
        Rows.of([f"max_line_{safe_name(d.quotes[j].quote_id)}" for j in js], d, share=eye, take=-eye * d.max_share,
                upper=0.0),
    ])


# DESIGN 5. a second loss in the same year is funded too (regime second_event_share σ > 0)
def repeat_losses(d: Scaled) -> Rows:
    """docs/design.md §4, row family 5, "Two losses in one year". After a first loss x₁ ≤ R of peril p₁, a second
    x₂ ≤ σ·R of peril p₂ in the same year: the reserve is not restored in between, and a layer pays the second only
    out of what is left of its aggregate A_j = l_j·(1 + reinstatements_j), so for every pair of peril groups

        C + z + Σ_j κ_j·min(c₁·r_j(x₁) + c₂·r_j(x₂), A_j)·s_j ≥ x₁ + x₂

    at the loss pairs of `repeat.candidates` (REPEAT_VERTICES): exact, since the retained total is piecewise linear
    and convex between attachments. No rows when σ = 0 (the single-loss test alone).
    """
    blocks = repeat_blocks(d)
    return Rows.stack(blocks) if blocks else Rows.of((), d)


def repeat_blocks(d: Scaled) -> list[Rows]:
    """`repeat_losses`'s rows, one block per ordered pair of peril groups, before they are stacked (none when
    σ = 0): `matrix.numbers` writes each straight into the model's matrix."""
    if d.second_event_share <= 0 or not len(d.groups):
        return []
    ids = [safe_name(q.quote_id) for q in d.quotes]
    blocks = []
    for c in candidates(d.attach, d.limit, d.aggregate, d.covers, d.top, d.second_event_share, ids,
                        vertices=REPEAT_VERTICES):
        pair = f"repeat_{safe_name(d.groups[c.first])}_then_{safe_name(d.groups[c.second])}"
        blocks.append(reserve_side([f"{pair}_at_{n}" for n in c.names], d,
                                   share=pair_credit(c, d.kappa, d.attach, d.limit, d.aggregate, d.covers),
                                   lower=c.x1 + c.x2))
    return blocks


ROW_FAMILIES = (funded_losses, credit_caps, counterparty_caps, liquid_capital, min_lines, repeat_losses)
# a family given as its blocks, unstacked (the model's matrix is written from them directly; the same rows in order)
FAMILY_BLOCKS = {repeat_losses: repeat_blocks}
PER_INSTANCE_BOUNDS = (liquid_capital,)  # families whose bounds differ across a stack that shares its matrix
