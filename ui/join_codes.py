"""The codes learners type and the tokens educators keep, shown as the page that made them shows them."""
import streamlit as st


def quiz_link(code: str, page: str) -> str:
    """The quiz's address with the code filled in, from the address `page` was opened at."""
    here = (st.context.url or "").split("?")[0].rstrip("/")
    return f"{here.removesuffix('/' + page)}/quiz?code={code}"


def show_new_code(made: str, code: str, token: str, token_opens: str, page: str) -> None:
    """Once, right after a code is made: the code, a link that fills it in, and the token (kept only hashed)."""
    st.success(f"{made} Learners join with the code **{code}**, or by opening this link, which fills the code "
               "in for them:")
    st.code(quiz_link(code, page), language=None)
    st.warning(f"Your educator token is **{token}**. Write it down: it is shown only here, and you need it "
               f"{token_opens}.")
