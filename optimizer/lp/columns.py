"""The column layout of the model, named once: every module reads a column's place from here, none writes `1` or
`2 + j`.

For one exchange, in this order:

    cash C          one column           CASH
    shortfall z     one column           SHORTFALL (fixed at 0 unless no compliant mix exists)
    shares s_j      one per eligible quote, in offer order          `shares()`, `share(j)`
    amounts A_a     one per eligible reserve asset, in file order   `assets()`, `asset(a)`
    takes y_j       one per yes/no quote (minimum line or flat fee)  `takes()`, `take(k)`

The takes stay last (the integer columns are `takes()`). A new kind of column (a year index) is one more block in
`BLOCKS` and a slice here; the row families (rows.py) say their coefficients on it by name, as they do for cash,
shares and assets.

>>> cols = Columns(3, np.array([2]), 1)
>>> cols.count, cols.shares(), cols.share(1), cols.assets(), cols.takes(), cols.names(["a", "b", "c"], ["J"])
(7, slice(2, 5, None), 3, slice(5, 6, None), slice(6, 7, None), ('cash', 'shortfall', 'share_0_a', 'share_1_b', 'share_2_c', 'asset_0_J', 'take_2_c'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

CASH = 0          # the cash reserve C, units of R
SHORTFALL = 1     # the shortfall z, units of R
BLOCKS = ("cash", "shortfall", "shares", "assets", "takes")  # the order of the blocks of columns
FIRST_SHARE = 2   # cash and shortfall come before the shares


@dataclass(frozen=True)
class Columns:
    """Column order of the model: cash C, shortfall z, a share s_j per quote, an amount A_a per reserve asset, a
    binary y_j per yes/no quote."""

    n: int
    binaries: np.ndarray  # indices j of the quotes with a binary
    m: int = 0            # eligible reserve assets

    CASH = CASH
    SHORTFALL = SHORTFALL

    @property
    def count(self) -> int:
        return FIRST_SHARE + self.n + self.m + len(self.binaries)

    def shares(self) -> slice:
        return slice(FIRST_SHARE, FIRST_SHARE + self.n)

    def share(self, j: int | np.ndarray) -> int | np.ndarray:
        """The column of the share of quote j (j an int or an array of them)."""
        return FIRST_SHARE + j

    def assets(self) -> slice:
        """The amounts A_a of the reserve assets (units of R)."""
        return slice(FIRST_SHARE + self.n, FIRST_SHARE + self.n + self.m)

    def asset(self, a: int | np.ndarray) -> int | np.ndarray:
        """The column of the amount of asset a."""
        return FIRST_SHARE + self.n + a

    def takes(self) -> slice:
        return slice(FIRST_SHARE + self.n + self.m, self.count)

    def take(self, k: int) -> int:
        """The column of the k-th yes/no quote's binary (the quote `binaries[k]`)."""
        return FIRST_SHARE + self.n + self.m + k

    def names(self, quote_ids: Sequence[str], asset_ids: Sequence[str] = ()) -> tuple[str, ...]:
        """Column names for an LP file (ids made safe by the caller)."""
        return ("cash", "shortfall", *(f"share_{j}_{q}" for j, q in enumerate(quote_ids)),
                *(f"asset_{k}_{a}" for k, a in enumerate(asset_ids)),
                *(f"take_{j}_{quote_ids[j]}" for j in self.binaries))

    @classmethod
    def of(cls, quotes: Sequence, binary: np.ndarray | None = None) -> "Columns":
        """The layout for eligible `quotes` (the yes/no ones: `binary`, default each quote's needs_binary)."""
        if binary is None:
            binary = np.array([q.needs_binary for q in quotes], dtype=bool)
        return cls(len(quotes), np.flatnonzero(binary))

    @classmethod
    def of_scaled(cls, d) -> "Columns":
        """The layout of the model of `d` (a `Scaled`): its eligible quotes, yes/no quotes and reserve assets."""
        return cls(len(d.quotes), np.flatnonzero(d.binary), len(d.assets))
