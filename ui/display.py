"""Display choices kept per learner: larger text, high contrast, reduced motion and read-aloud. The
switches sit in the sidebar of every page; they are saved under the learner's nickname once they
have signed in, and come back with it. A system set to reduce motion or raise contrast gets those
styles without a switch."""
import json
from dataclasses import fields

import streamlit as st
import streamlit.components.v1 as components

from fercore.store import DisplayChoices, StoreError
from ui.resources import store

LABELS = {"larger_text": "Larger text", "high_contrast": "High contrast", "reduced_motion": "Reduced motion",
          "read_aloud": "Read aloud the question, the reveal and the cue"}
STYLES = {
    # Streamlit sizes text in rem: a larger root scales all of it.
    "larger_text": "html { font-size: 125% !important; }",
    "high_contrast": """
        .stApp, [data-testid="stSidebar"], [data-testid="stHeader"] { background: #FFFFFF !important; }
        .stApp p, .stApp span, .stApp label, .stApp li, .stApp h1, .stApp h2, .stApp h3,
        [data-testid="stCaptionContainer"] *, [data-testid="stSidebarNav"] span {
            color: #000000 !important; opacity: 1 !important; }
        .stApp button { border: 2px solid #000000 !important; }
        .stApp button[kind="primary"] { background: #000000 !important; }
        .stApp button[kind="primary"] p { color: #FFFFFF !important; }
        .stApp :focus-visible { outline: 3px solid #000000 !important; outline-offset: 2px !important; }""",
    # No animations, and no fading of the previous page while Streamlit redraws.
    "reduced_motion": """
        *, *::before, *::after { animation: none !important; transition: none !important; }
        [data-stale="true"] { opacity: 1 !important; }""",
}

# The same styles for people who asked their system for them, before (or without) choosing them here.
SYSTEM_PREFERENCES = {"reduced_motion": "prefers-reduced-motion: reduce", "high_contrast": "prefers-contrast: more"}


def display_choices() -> None:
    """Draw the switches in the sidebar and apply the chosen styles to the page."""
    _load_for(st.session_state.get("learner", ""))
    with st.sidebar.expander("Display"):
        for name, label in LABELS.items():
            st.toggle(label, key=f"display_{name}", on_change=_save)
    chosen = current()
    css = [STYLES[name] for name in STYLES if getattr(chosen, name)]
    css += [f"@media ({query}) {{{STYLES[name]}}}" for name, query in SYSTEM_PREFERENCES.items()
            if not getattr(chosen, name)]
    st.html(f"<style>{''.join(css)}</style>")


def current() -> DisplayChoices:
    return DisplayChoices(**{f.name: bool(st.session_state.get(f"display_{f.name}")) for f in fields(DisplayChoices)})


def read_aloud(text: str) -> None:
    """Speak text with the browser's own speech synthesis, when the learner chose read-aloud."""
    if current().read_aloud:
        components.html(f"<script>speechSynthesis.cancel(); speechSynthesis.speak("
                        f"new SpeechSynthesisUtterance({json.dumps(text)}));</script>", height=0)


def _load_for(nickname: str) -> None:
    """When the nickname changes, the switches take that learner's saved choices."""
    if nickname and st.session_state.get("_display_for") != nickname.casefold():
        try:
            saved = store().display_choices(nickname)
        except StoreError:
            return
        st.session_state.update({f"display_{name}": value for name, value in vars(saved).items()})
        st.session_state["_display_for"] = nickname.casefold()


def _save() -> None:
    learner = st.session_state.get("learner", "")
    if learner:
        try:
            store().save_display_choices(learner, current())
        except StoreError:
            pass  # kept for this browser session only
