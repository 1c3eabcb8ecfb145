"""optimizer.i18n: the input-error frame in Japanese, money units, and its own worked examples."""

import doctest

import pytest
from hypothesis import given, strategies as st

from optimizer import i18n
from optimizer.i18n import input_error_words, translator
from optimizer.inputs import InputError

JA = translator("ja")


def test_the_worked_examples_in_the_docstrings_hold():
    assert doctest.testmod(i18n).failed == 0


def test_an_input_error_is_framed_in_japanese_and_its_known_detail_translated():
    exc = InputError("my_quotes.csv", "expected a number, got 'cheap'", row=1, column="rate_on_line", row_id="X1")
    assert input_error_words(exc, JA) == "ファイル my_quotes.csv、1行目（ファイルの2行目、X1）、列「rate_on_line」：数値が必要です（入力：'cheap'）"


def test_an_unknown_detail_keeps_its_words_inside_the_translated_frame():
    exc = InputError("regime.toml", "cap_jpy 5 is below floor_jpy 9: the floor would never apply", column="cap_jpy")
    assert input_error_words(exc, JA) == ("ファイル regime.toml、列「cap_jpy」：cap_jpy 5 is below floor_jpy 9: the floor "
                                          "would never apply")


def test_a_batch_error_row_is_read_back_from_its_text():
    text = str(InputError("p.csv", "expected a fraction between 0 and 1 (0.02 = 2%), got '7'", 2, "hot_wallet_share",
                          "B"))
    assert input_error_words(text, JA) == ("ファイル p.csv、2行目（ファイルの3行目、B）、列「hot_wallet_share」："
                                           "0から1の比率が必要です（0.02 = 2%）（入力：'7'）")


def test_a_message_that_is_not_a_files_error_is_left_alone():
    assert input_error_words("could not be solved: SolveError: x", JA) == "could not be solved: SolveError: x"


@given(st.text(max_size=40), st.text(max_size=40), st.one_of(st.none(), st.integers(1, 10**6)),
       st.one_of(st.none(), st.text(alphabet="abcdefghij_", min_size=1, max_size=12)))
def test_in_english_the_words_are_the_errors_own_whatever_it_holds(source, message, row, column):
    exc = InputError(source or "f.csv", message, row, column)
    assert input_error_words(exc) == "file " + str(exc)


@pytest.mark.parametrize("key, yen, shown", [("¥m", 101_160_000, "¥101.2m"), ("億円", 2e9, "20.00億円"),
                                              ("¥", 1234.4, "¥1,234"), ("百万円", 5e8, "500.0百万円")])
def test_money_units(key, yen, shown):
    assert i18n.Unit(key, lang="ja" if "円" in key else "en")(yen) == shown


def _catalogue() -> list[tuple[str, str]]:
    """(msgid, msgstr) of every translated entry of the Japanese catalogue."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(i18n.__file__).parent / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale="ja")
    first = lambda v: v if isinstance(v, str) else v[0]  # noqa: E731 — a plural entry's first form
    return [(first(m.id), first(m.string)) for m in catalog if m.id and m.string]


# One Japanese term per idea: (the idea in the English msgid, the term, the spellings that must not stand for it)
TERMS = [
    (r"(?i)\bregimes?\b|\brule\b", "制度", ("規制案", "規制上", "規制は", "規制が", "規制の", "規制：", "規制 ", "規制（")),
    (r"(?i)\bpresets?\b", "制度案", ("規制案", "プリセット")),
    (r"(?i)\bcounterpart(y|ies)\b", "引受先", ("カウンターパーティ", "相手方", "1社")),
]


@pytest.mark.parametrize("idea, term, others", TERMS, ids=["regime", "preset", "counterparty"])
def test_each_idea_has_one_japanese_term_in_every_message(idea, term, others):
    import re

    # 規制 is left to the regulator (規制当局) and to a name, the JVCEA's self-regulatory draft rule (自主規制案)
    words = [(i, re.sub("規制当局|自主規制案", "", s)) for i, s in _catalogue()]
    entries = [(i, s) for i, s in words if re.search(idea, i)]
    assert entries and any(term in s for _i, s in entries)
    for msgid, msgstr in words:  # the other spellings stand for nothing, for this idea or any other
        assert not [o for o in others if o in msgstr], (msgid, msgstr)
    assert not [(i, s) for i, s in words if "規制" in s]


def test_every_assumption_the_sensitivity_page_lists_has_japanese_words():
    # the Japanese Sensitivity page showed each assumption's label (data/assumptions.toml) in English
    import tomllib

    from conftest import DATA
    from optimizer.i18n import translations

    ja = translations("ja")
    labels = [a["label"] for a in tomllib.loads((DATA / "assumptions.toml").read_text(encoding="utf-8"))["assumption"]]
    assert [label for label in labels if ja.gettext(label) == label] == []
