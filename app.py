"""Reserve optimizer — the Streamlit app's frame: language, units, files, the context bar and the navigation.

Each page is one file in app_pages/ and reads the one Workspace in session state (app_pages/common.py).
It only arranges what the `optimizer` package returns. Run: `streamlit run app.py` (binds to 127.0.0.1, see
.streamlit/config.toml).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in sys.path:  # once per process, not once per rerun
    sys.path.insert(0, ROOT)

from app_pages.common import LANG, UNIT, USD, _, absorb_grid_edits, context_bar, tr, ws  # noqa: E402
from app_pages import files  # noqa: E402
from optimizer.i18n import LANGUAGES, UNITS  # noqa: E402

# The tab's icon is a file of the app: a page's Material icon as favicon would be fetched from a font CDN (every
# request stays on 127.0.0.1).
st.set_page_config(page_title="Reserve optimizer", page_icon=ROOT + "/app_pages/favicon.png", layout="wide")

# The headline stays in view while the quote sheet is edited; metrics never cut their numbers.
st.markdown("""<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-headline) {position: sticky; top: 3.75rem; z-index: 990;}
.st-key-headline {background: var(--background-color, white); border-bottom: 1px solid rgba(49, 51, 63, 0.2);
                  padding-bottom: 0.25rem;}
[data-testid="stMetricValue"] {font-size: clamp(1.1rem, 1.9vw, 1.55rem);}
.block-container, [data-testid="stMainBlockContainer"] {padding-top: 2.5rem; padding-left: 1.25rem;
                                                         padding-right: 1.25rem;}
[data-testid="stMetricValue"] > div {overflow: visible; text-overflow: clip; white-space: nowrap;}
</style>""", unsafe_allow_html=True)


def _follow_language() -> None:
    """Millions of yen read ¥m in English and 百万円 in Japanese: the default unit follows the language."""
    ss = st.session_state
    swap = {("ja", "¥m"): "百万円", ("en", "百万円"): "¥m", ("ja", "¥bn"): "億円", ("en", "億円"): "¥bn"}
    ss[UNIT] = swap.get((ss.get(LANG), ss.get(UNIT)), ss.get(UNIT, "¥m"))
    absorb_grid_edits()          # edits typed before the switch are kept, then the grid's words follow
    ws().relabel(ss[LANG])


def sidebar() -> None:
    ss = st.session_state
    ss.setdefault(LANG, "en")
    st.sidebar.radio("Language / 言語", list(LANGUAGES), format_func=LANGUAGES.get, key=LANG, horizontal=True,
                     on_change=_follow_language)
    ss.setdefault(UNIT, "百万円" if ss[LANG] == "ja" else "¥m")
    st.sidebar.selectbox(_("Show amounts in"), list(UNITS), key=UNIT,
                         format_func=lambda k, t=tr(): t("fitted to each amount") if k == "auto" else k)
    if ss[UNIT] == "US$m":
        st.sidebar.number_input(_("Yen per US dollar"), min_value=1.0, value=150.0, step=1.0, key=USD)
    files.sidebar_files()


def _uploader_words() -> None:
    """Streamlit writes its uploader's button and size note in English whatever the page's language (its API has
    no parameter for them): in another language, CSS puts the translated words in their place."""
    if st.session_state.get(LANG, "en") == "en":
        return
    button, note = (_(w).replace('"', "") for w in ("Upload", "up to 200MB per file"))
    st.markdown(f"""<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{font-size: 0;}}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{content: "{button}";
    font-size: 0.875rem;}}
[data-testid="stFileUploaderDropzoneInstructions"] span {{font-size: 0;}}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{content: "{note}"; font-size: 0.875rem;}}
</style>""", unsafe_allow_html=True)


ws()
absorb_grid_edits()  # wherever the user is, edits typed in the grid are in the scenario before anything reads it
sidebar()
_uploader_words()
pages = [
    st.Page("app_pages/cfo.py", title=_("CFO: funding mix"), icon=":material/account_balance:", url_path="cfo", default=True),
    st.Page("app_pages/broker.py", title=_("Broker: pricing"), icon=":material/sell:", url_path="broker"),
    st.Page("app_pages/batch.py", title=_("Batch: many exchanges"), icon=":material/table_view:", url_path="batch"),
    st.Page("app_pages/market.py", title=_("Market: shared capacity"), icon=":material/hub:", url_path="market"),
    st.Page("app_pages/sensitivity.py", title=_("Sensitivity: what moves the answer"), icon=":material/tune:",
            url_path="sensitivity"),
    st.Page("app_pages/plan.py", title=_("Plan: year by year"), icon=":material/timeline:", url_path="plan"),
]
page = st.navigation(pages)
bar = st.container()  # filled after the page has read its inputs, so it says what the page used
page.run()
with bar:
    context_bar()
