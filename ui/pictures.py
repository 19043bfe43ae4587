"""Face pictures that hold their place while they load.

A picture reaches the browser after the page's text and buttons. Without a size it takes no room until
it arrives, then pushes everything under it down: a click aimed at a choice lands on the face instead.
Every face the app shows is square, so its place is known before it comes.
"""
import base64
import io

import numpy as np
import streamlit as st
from PIL import Image

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


def inline(picture: np.ndarray) -> str:
    """An RGB (or grey) uint8 picture as a data: URL, for st.image: it arrives in the same message as its
    caption. A picture st.image is given as an array is kept in Streamlit's media store and fetched by the
    browser afterwards; the store drops a session's files that no run references at the end of any run, even
    one cut short by the next press, and a picture whose fetch falls in that gap stays broken under its
    caption (the next run gives it the same address, so the browser never asks again). PNG: the heatmap's
    outline stays sharp."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
