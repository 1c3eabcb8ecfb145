"""Results warn when an exchange's statement is more than 15 months older than the run."""

import datetime as dt

from optimizer import batch
from optimizer.cli import main
from optimizer.domain import ExchangeProfile
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.statements import STALE_MONTHS, is_stale, months_between, statement_age_warning
from conftest import DATA


def _profile(date: str) -> ExchangeProfile:
    return ExchangeProfile("X", 1e11, 0.01, 2e11, 0.1, statement_date=date)


def test_a_statement_more_than_15_months_old_warns_and_a_newer_one_does_not():
    today = dt.date(2026, 12, 4)
    assert STALE_MONTHS == 15
    old = statement_age_warning(_profile("2025-03-31"), today)
    assert old and "2025-03-31" in old and "20 months" in old
    assert statement_age_warning(_profile("2025-12-31"), today) is None
    assert statement_age_warning(_profile("2025-09-04"), today) is None        # exactly 15 months: not more
    assert statement_age_warning(_profile("2025-09-03"), today) is not None    # 15 months and a day
    assert statement_age_warning(_profile(""), today) is None                  # illustrative profiles: no date
    assert months_between(dt.date(2025, 3, 31), dt.date(2025, 4, 30)) == 0


def test_solve_warns_on_stderr_for_an_old_statement(capsys):
    real = str(DATA / "profiles-japan-2025.csv")
    quotes = str(DATA / "quotes-japan.csv")
    main(["solve", "--profiles", real, "--exchange", "coincheck", "--regime", "cold-wallet", "--quotes", quotes])
    err = capsys.readouterr().err
    stale = is_stale("2025-03-31", dt.date.today())
    assert ("warning: coincheck: its figures are from a statement dated 2025-03-31" in err) == stale
    main(["solve", "--profiles", real, "--exchange", "bitflyer", "--regime", "cold-wallet", "--quotes", quotes])
    fresh = not is_stale("2025-12-31", dt.date.today())
    assert ("warning: bitflyer" not in capsys.readouterr().err) == fresh


def test_the_batch_summary_lists_the_old_statements():
    profiles = load_profiles(DATA / "profiles-japan-2025.csv")[:6]
    result = batch.run(profiles, load_quotes(DATA / "quotes-japan.csv"),
                       load_regime(DATA / "regimes" / "cold-wallet.toml"), None, workers=1)
    stale = result.summary["stale_statements"]
    today = dt.date.today()
    want = [p.exchange_id for p in profiles if is_stale(p.statement_date, today)]
    assert stale["count"] == len(want) and [e["exchange_id"] for e in stale["exchanges"]] == want
    assert stale["months"] == 15
    from optimizer.report import batch_summary_text

    text = batch_summary_text(result.summary)
    assert ("Old statements" in text) == bool(want)
