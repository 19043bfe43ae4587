"""Who is practising: a nickname and a personal key, shared by the quiz and progress pages.

A learner's answers open only after the key is checked, and the checked name is kept in this
browser session (st.session_state["learner"]), never taken from what a page's box says.
"""
from __future__ import annotations

import streamlit as st

from ui.problems import problem_kept, show_problem
from ui.resources import store
from ui.text import plain


def signed_in_learner(bar=None) -> str | None:
    """The learner of this browser session, or None after drawing the nickname-and-key form.
    bar: where to say who is signed in (a column, to share a row); the page by default."""
    learner = st.session_state.get("learner")
    if learner:
        with bar or st.container():
            _signed_in_bar(learner)
        return learner
    _sign_in_form()
    return None


def sign_out() -> None:
    for key in ("learner", "new_key", "question", "asked", "result", "class_code"):
        st.session_state.pop(key, None)


def _sign_in_form() -> None:
    with st.form("sign_in", border=False):
        name_box, key_box = st.columns(2)
        name_box.text_input("Your nickname", placeholder="e.g. Sam", max_chars=30, key="nickname_typed")
        key_box.text_input("Your key (the first time, leave it empty)", type="password", max_chars=20,
                           key="key_typed", help="Your personal key, like ABCD-EFGH. You get it the first time "
                                                 "you use a nickname.")
        st.form_submit_button("Continue", on_click=_sign_in)
    st.caption("Only a nickname and a key: no e-mail, no password, nothing else about you.")
    show_problem("sign_in_problem")


def _sign_in() -> None:
    """A callback: it runs before the next run whatever that run draws, so a press is never lost."""
    state = st.session_state
    nickname, key = state.get("nickname_typed", ""), state.pop("key_typed", "")
    with problem_kept("sign_in_problem"):
        if key.strip():
            state["learner"] = store().sign_in(nickname, key)
        elif store().is_registered(nickname):
            state["sign_in_problem"] = (f"The nickname {plain(nickname.strip())} is taken. If it is yours, type "
                                        "your key as well; if not, choose another nickname.")
        else:
            name, new_key = store().register_learner(nickname)
            state.update(learner=name, new_key=new_key)


def _signed_in_bar(learner: str) -> None:
    new_key = st.session_state.get("new_key")
    if new_key:
        st.success(f"Welcome, {plain(learner)}. This is your personal key. Write it down or keep it somewhere "
                   "safe: next time, your nickname and this key open your answers. Nobody else sees it.")
        st.code(new_key, language=None)
        st.button("I have kept my key", on_click=st.session_state.pop, args=("new_key", None))
        return
    text, button = st.container(key="signed-in").columns([3, 2], vertical_alignment="center")
    text.caption(f"Practising as **{plain(learner)}**. Not you?")
    button.button("Sign out", on_click=sign_out)
