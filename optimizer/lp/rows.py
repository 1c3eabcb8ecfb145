"""The row families of the model (docs/design.md §4), one function each, returning its rows as a `Rows` block with
the algebra in its docstring. `ROW_FAMILIES` is the model: `matrix.numbers` stacks them. A new family (a second
event, a year's rows) is one more function here returning `Rows`, and one more entry in `ROW_FAMILIES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .highs import INF
from .scaled import Scaled, safe_name


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
            return np.concatenate([getattr(b, f) for b in blocks], axis=axis)
        width = max((b.asset.shape[-1] for b in blocks if b.asset is not None), default=0)
        assets = [b.asset if b.asset is not None else np.zeros(b.share.shape[:-1] + (width,)) for b in blocks]
        return Rows(tuple(n for b in blocks for n in b.names), cat("cash", -1), cat("gap", -1), cat("share", -2),
                    cat("take", -2), cat("lower", -1), cat("upper", -1), np.concatenate(assets, axis=-2))


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
    return Rows.stack([Rows.of([f"funded_{safe_name(group)}_at_{p}" for p in d.point_names], d, cash=1.0, gap=1.0,
                               share=credit * d.covers[g], lower=d.points, asset=d.asset_credit)
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


ROW_FAMILIES = (funded_losses, credit_caps, counterparty_caps, liquid_capital, min_lines)
PER_INSTANCE_BOUNDS = (liquid_capital,)  # families whose bounds differ across a stack that shares its matrix
