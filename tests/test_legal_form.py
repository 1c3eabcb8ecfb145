"""A quote's legal form (insurance, derivative, guarantee) decides which licence it needs in Japan."""

import pytest

from builders import layer, regime
from conftest import DATA
from optimizer.inputs import InputError, csv_text_to_frame, load_quotes, quotes_from_frame
from optimizer.reasons import ineligibility
from optimizer.regime import credit_factor
from optimizer.scenario import quotes_to_text, text_to_quotes

HEADER = "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line,licensed_in_japan,fronting_fee_rate,legal_form\n"


def _sheet(rows: str):
    return quotes_from_frame(csv_text_to_frame(HEADER + rows, "q.csv"), "q.csv")


def test_licensing_follows_the_legal_form():
    licensed_rule = regime(require_licensed=True, max_derivative_share=1.0)
    unlicensed = dict(licensed_in_japan=False)
    insurance = layer("I", 0, 0.5, 0.01, **unlicensed)
    fronted = layer("F", 0, 0.5, 0.01, fronting_fee_rate=0.1, **unlicensed)
    guarantee = layer("G", 0, 0.5, 0.01, legal_form="guarantee", **unlicensed)
    swap = layer("D", 0, 0.5, 0.01, kind="derivative", **unlicensed)
    note_as_insurance = layer("N", 0, 0.5, 0.01, kind="derivative", legal_form="insurance", **unlicensed)
    assert credit_factor(insurance, licensed_rule) == 0 and credit_factor(fronted, licensed_rule) == 1.0
    assert credit_factor(guarantee, licensed_rule) == 0                       # a guarantor needs its own licence
    assert credit_factor(swap, licensed_rule) == pytest.approx(0.7)           # no insurance licence needed
    assert credit_factor(note_as_insurance, licensed_rule) == 0               # characterised as insurance
    assert ineligibility(guarantee, licensed_rule) == "ineligible: not licensed in Japan"
    assert ineligibility(swap, licensed_rule) is None
    open_rule = regime(max_derivative_share=1.0)                              # no licence required: all count
    assert all(credit_factor(q, open_rule) > 0 for q in (insurance, guarantee, swap, note_as_insurance))


def test_the_legal_form_column_is_read_and_checked_with_file_row_and_column():
    [q] = _sheet("G1,insurance,Bank,A,0,1e9,0.01,true,0,guarantee\n")
    assert q.legal_form == "guarantee" and q.form == "guarantee"
    [q] = _sheet("D1,derivative,Bank,A,0,1e9,0.01,true,0,\n")
    assert q.legal_form == "" and q.form == "derivative"                      # blank: as its kind
    with pytest.raises(InputError, match=r"q.csv, row 1 \(line 2, X1\), column 'legal_form': expected one of "
                                         r"insurance, derivative, guarantee"):
        _sheet("X1,insurance,Bank,A,0,1e9,0.01,true,0,loan\n")
    with pytest.raises(InputError, match=r"row 1 \(line 2, G2\), column 'fronting_fee_rate': a fronting fee is "
                                         r"charged for insurance only"):
        _sheet("G2,insurance,Bank,A,0,1e9,0.01,false,0.1,guarantee\n")


def test_the_parametric_note_is_characterised_as_insurance_and_unlicensed():
    for name in ("quotes-japan.csv", "quotes-japan-state-excl.csv"):
        par = next(q for q in load_quotes(DATA / name) if q.quote_id == "PAR-1")
        assert par.kind == "derivative" and par.form == "insurance" and not par.licensed_in_japan
        assert "characterised as insurance" in par.source
        assert all(q.form in ("insurance", "derivative", "guarantee") for q in load_quotes(DATA / name))


def test_the_quote_grid_keeps_the_legal_form():
    quotes = load_quotes(DATA / "quotes-japan.csv")
    back, problems = text_to_quotes(quotes_to_text(quotes))
    assert problems == [] and [q.legal_form for q in back] == [q.legal_form for q in quotes]
