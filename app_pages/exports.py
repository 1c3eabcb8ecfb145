"""Downloads of the CFO page: the mix as CSV, the standard workbook (optimizer.report), the scenario file."""

from __future__ import annotations

import streamlit as st

from optimizer import report
from optimizer.scenario import to_json

from .common import _, lang


def downloads(s, scenario, stress) -> None:
    exchange = scenario.profile.exchange_id
    # One under the other: each label is read in full (three side by side cut the longer ones at 1280 px)
    # in Japanese, headers and words in Japanese (the English file keeps the command line's column names)
    mix = report.for_people(s.mix, _) if lang() == "ja" else s.mix
    st.download_button(_("Mix (CSV)"), report.csv_bytes(mix), f"mix_{exchange}.csv", "text/csv", key="dl_csv")
    book = report.xlsx_bytes(report.workbook_sheets(s, quotes=scenario.quotes, stress=stress, t=_))
    st.download_button(_("Workbook (XLSX: summary, mix, inputs, quotes, stress)"), book, f"reserve_{exchange}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx")
    st.download_button(_("Scenario (JSON; opens here and in the command line)"), to_json(scenario),
                       f"scenario_{exchange}.json", "application/json", key="dl_scenario")
    st.caption(_("The workbook is the one the command line writes (solve --out result.xlsx): amounts in yen, "
                 "rounded to the yen, as numbers."))
