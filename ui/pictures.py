"""Face pictures that hold their place while they load.

A picture reaches the browser after the page's text and buttons. Without a size it takes no room until
it arrives, then pushes everything under it down: a click aimed at a choice lands on the face instead.
Every face the app shows is square, so its place is known before it comes.
"""
import streamlit as st

# Streamlit draws a placeholder until its picture code has loaded, then the <img> until the picture has:
# both take the square from the start.
_SQUARE = """<style>
[class*="st-key-square-"] [data-testid="stImage"] img { aspect-ratio: 1 / 1; }
[class*="st-key-square-"] [data-testid="stSkeleton"] { height: auto; aspect-ratio: 1 / 1; }
</style>"""


def square_pictures(key: str, where=None):
    """A container whose pictures keep a square place from the start; `key` is unique on the page."""
    st.html(_SQUARE)  # style only: Streamlit gives it no room on the page
    return (where or st).container(key=f"square-{key}")
