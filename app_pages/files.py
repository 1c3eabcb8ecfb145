"""Files in and out of the sidebar: uploads (refused with a message, never a traceback) and the scenario file."""

from __future__ import annotations

import streamlit as st

from optimizer import settings
from optimizer.i18n import N_, input_error_words, translator
from optimizer.inputs import InputError, csv_text_to_frame, profiles_from_frame, quotes_from_frame, regime_from_text
from optimizer.scenario import Workspace, from_json, to_json

from .common import ASSETS_FILE, MESSAGES, _, bundled_assets, bundled_sheets, lang, md, ws

KINDS = (("profiles", N_("Exchange profiles (CSV)"), ["csv"]), ("quotes", N_("Quote sheet (CSV)"), ["csv"]),
         ("regime", N_("Regime (TOML)"), ["toml"]), ("scenario", N_("Saved scenario (JSON)"), ["json"]))
MAX_UPLOAD_BYTES = 20_000_000


def apply_upload(kind: str, name: str, data: bytes, w: Workspace, language: str = "en") -> str | None:
    """Validate an uploaded file and, only if it is valid, put it in the workspace. Returns the problem or None.

    Anything parsing can raise becomes a message: bad text, bad structure, nesting, size.
    """
    t = _
    if len(data) > MAX_UPLOAD_BYTES:
        return t("{name}: larger than {mb} MB").format(name=name, mb=MAX_UPLOAD_BYTES // 1_000_000)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return t("{name}: not UTF-8 text").format(name=name)
    try:
        if kind == "profiles":
            profiles = profiles_from_frame(csv_text_to_frame(text, name), name)
            w.profiles, w.profiles_name = tuple(profiles), name
            if w.exchange_id is not None:
                w.exchange_id = profiles[0].exchange_id
        elif kind == "quotes":
            frame = csv_text_to_frame(text, name)
            if len(frame) > settings.MAX_QUOTES:
                return t("{name}: {n} quotes; the app takes at most {max} (use the command line for more)").format(
                    name=name, n=len(frame), max=settings.MAX_QUOTES)
            w.replace_quotes(quotes_from_frame(frame, name), name, language)
        elif kind == "regime":
            regime = regime_from_text(text, name)
            label = t("uploaded: {name}").format(name=name)
            w.regimes = {**w.regimes, label: regime}
            w.regime_name, w.overrides = label, {}
        elif kind == "scenario":
            sc = from_json(text, name)
            if len(sc.quotes) > settings.MAX_QUOTES:
                return t("{name}: {n} quotes; the app takes at most {max} (use the command line for more)").format(
                    name=name, n=len(sc.quotes), max=settings.MAX_QUOTES)
            w.load(sc, language, bundled_sheets(), {ASSETS_FILE: bundled_assets()})
        else:
            return f"unknown upload kind {kind!r}"
    except InputError as exc:
        return input_error_words(exc, translator(language))
    except RecursionError:
        return t("{name}: nested too deeply to be a real file").format(name=name)
    except Exception as exc:  # the page must stay usable whatever the file holds
        return t("{name}: could not be read ({what})").format(name=name, what=type(exc).__name__)
    return None


def sidebar_files() -> None:
    ss = st.session_state
    w = ws()
    with st.sidebar.expander(_("Open and save"), expanded=False):
        st.caption(_("CSV and TOML in the formats of data/README.md; a scenario saved here. A bad file is refused "
                     "with the reason; your current inputs stay in place."))
        for kind, label, types in KINDS:
            up = st.file_uploader(_(label), type=types, key=f"upload_{kind}")
            marker = f"done_{kind}"
            if up is not None and ss.get(marker) != (up.name, up.size, up.file_id):
                ss[marker] = (up.name, up.size, up.file_id)
                ss[f"upload_error_{kind}"] = apply_upload(kind, up.name, up.getvalue(), w, lang())
            error = ss.get(f"upload_error_{kind}") if up is not None else None
            if error:
                st.error(_("Not loaded — {error}").format(error=md(error)), icon=":material/block:")
        sc = w.scenario()
        if sc is not None:
            st.download_button(_("Save this scenario (JSON; opens here and in the command line)"), to_json(sc),
                               f"scenario_{sc.profile.exchange_id}.json", "application/json", key="dl_json")
    for kind, text in ss.pop(MESSAGES, []):
        getattr(st.sidebar, kind)(md(text))
