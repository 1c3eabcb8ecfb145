"""How old an exchange's figures are: a warning when the statement a profile was read from is more than
STALE_MONTHS older than the run (the balance sheet may have moved a long way since: BTC's price, accounts
transferred between exchanges, a new fiscal year's statement published)."""

from __future__ import annotations

import calendar
import datetime as _dt
from typing import Iterable

from .domain import ExchangeProfile

STALE_MONTHS = 15  # a March year-end statement is replaced about 3 months after the next year-end


def months_between(earlier: _dt.date, later: _dt.date) -> int:
    """Whole calendar months from `earlier` to `later` (negative when `later` comes first).

    >>> months_between(_dt.date(2025, 3, 31), _dt.date(2026, 7, 1))
    15
    """
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    return months - 1 if later.day < earlier.day and months > 0 else months


def is_stale(statement_date: str, today: _dt.date, limit: int = STALE_MONTHS) -> bool:
    """True when `today` is later than `limit` calendar months after `statement_date` (an ISO date; "" is never
    stale). A statement of 2025-09-03 is stale from 2026-12-04 at 15 months.

    >>> is_stale("2025-09-03", _dt.date(2026, 12, 3)), is_stale("2025-09-03", _dt.date(2026, 12, 4))
    (False, True)
    """
    if not statement_date:
        return False
    stated = _dt.date.fromisoformat(statement_date)
    month = stated.month - 1 + limit
    year, month = stated.year + month // 12, month % 12 + 1
    day = min(stated.day, calendar.monthrange(year, month)[1])
    return today > _dt.date(year, month, day)


def statement_age_warning(profile: ExchangeProfile, today: _dt.date | None = None,
                          limit: int = STALE_MONTHS) -> str | None:
    """One line when `profile.statement_date` is more than `limit` months before `today` (default: the run's
    date), else None (also when the profile carries no statement date, as the illustrative ones do)."""
    today = today or _dt.date.today()
    if not is_stale(profile.statement_date, today, limit):
        return None
    age = months_between(_dt.date.fromisoformat(profile.statement_date), today)
    return (f"{profile.exchange_id}: its figures are from a statement dated {profile.statement_date}, {age} months "
            f"before this run ({today.isoformat()}; the limit is {limit}); a newer statement may differ")


def stale_statements(profiles: Iterable[ExchangeProfile], today: _dt.date | None = None,
                     limit: int = STALE_MONTHS) -> list[str]:
    """statement_age_warning for each profile, the ones that warn, in order."""
    return [w for p in profiles if (w := statement_age_warning(p, today, limit)) is not None]


def summary_warning(profiles: Iterable[ExchangeProfile], today: _dt.date | None = None,
                    limit: int = STALE_MONTHS, shown: int = 12) -> str | None:
    """One line for many exchanges (a batch): how many statements are more than `limit` months old, and which."""
    today = today or _dt.date.today()
    old = [(p.exchange_id, p.statement_date) for p in profiles if is_stale(p.statement_date, today, limit)]
    if not old:
        return None
    names = ", ".join(f"{e} ({d})" for e, d in old[:shown]) + (f" and {len(old) - shown} more" if len(old) > shown else "")
    return (f"{len(old)} exchange(s) have statements more than {limit} months before this run ({today.isoformat()}): "
            f"{names}; newer statements may differ")
