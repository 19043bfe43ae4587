"""A press whose work is refused (a store's or a job's FercoreError): its callback runs before the next run
draws anything, so it keeps the refusal in plain words and that run shows it, once, where the press was."""
from contextlib import contextmanager

import streamlit as st

from fercore.errors import FercoreError
from ui.text import plain_error


@contextmanager
def problem_kept(key: str):
    """In a callback: a FercoreError raised inside is kept under `key`, and the rest of the block is skipped."""
    try:
        yield
    except FercoreError as exc:
        st.session_state[key] = plain_error(exc)


def show_problem(key: str) -> None:
    """What a callback kept under `key`, as a warning, once."""
    problem = st.session_state.pop(key, None)
    if problem:
        st.warning(problem)
