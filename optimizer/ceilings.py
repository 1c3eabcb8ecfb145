"""A quote cannot promise more cover than its counterparty writes in all: with a capacity file
(counterparty,capacity_jpy), each quote's ceiling is cut to its counterparty's capacity before anything is solved.

Solving one exchange at a time, the capacity is not shared out between exchanges (that is the `market` command);
this only keeps a single quote from exceeding the whole of what its writer has.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from .domain import Quote


@dataclass(frozen=True)
class CapacityCap:
    """One quote whose ceiling a counterparty's capacity cut: the ceiling before and after."""

    quote_id: str
    counterparty: str
    capacity_jpy: float
    ceiling_before_jpy: float   # max_limit_jpy (requirement basis) or limit × max_share (yen basis); inf: none
    withdrawn: bool = False     # capacity 0: the quote is left out

    def to_dict(self) -> dict:
        return {"quote_id": self.quote_id, "counterparty": self.counterparty, "capacity_jpy": self.capacity_jpy,
                "ceiling_before_jpy": None if math.isinf(self.ceiling_before_jpy) else self.ceiling_before_jpy,
                "withdrawn": self.withdrawn}

    def describe(self) -> str:
        from .report import yen

        before = "no ceiling" if math.isinf(self.ceiling_before_jpy) else yen(self.ceiling_before_jpy)
        if self.withdrawn:
            return f"{self.quote_id}: withdrawn (its counterparty's capacity is 0)"
        return f"{self.quote_id}: ceiling {before} → {yen(self.capacity_jpy)}, its counterparty's capacity"


def cap_by_capacity(quotes: Iterable[Quote], capacity: Mapping[str, float]) -> tuple[list[Quote], list[CapacityCap]]:
    """The quotes with every ceiling at most its counterparty's capacity, and the caps that bit.

    A requirement-basis quote's `max_limit_jpy` becomes min(max_limit_jpy, capacity). A yen-basis quote writes
    share × limit: its `max_share` (and `min_share`) become at most capacity ÷ limit. A counterparty with capacity
    0 writes nothing: its quotes are left out. A counterparty not in the file is not capped.

    >>> q = Quote("Q", "insurance", "X", "A", 0.0, 0.5, 0.01, layer_basis="requirement", max_limit_jpy=7.5e10)
    >>> quotes, caps = cap_by_capacity([q], {"X": 3e10})
    >>> quotes[0].max_limit_jpy, caps[0].ceiling_before_jpy
    (30000000000.0, 75000000000.0)
    """
    out: list[Quote] = []
    caps: list[CapacityCap] = []
    for q in quotes:
        cap = capacity.get(q.counterparty)
        if cap is None:
            out.append(q)
            continue
        if q.layer_basis == "requirement":
            before = q.max_limit_jpy
        else:
            before = q.limit * q.max_share
        if cap <= 0:
            caps.append(CapacityCap(q.quote_id, q.counterparty, float(cap), before, withdrawn=True))
            continue
        if before <= cap:
            out.append(q)
            continue
        if q.layer_basis == "requirement":
            out.append(dataclasses.replace(q, max_limit_jpy=float(cap)))
        else:
            share = cap / q.limit
            out.append(dataclasses.replace(q, max_share=share, min_share=min(q.min_share, share)))
        caps.append(CapacityCap(q.quote_id, q.counterparty, float(cap), before))
    return out, caps
