"""The on-device reader as a Streamlit component: reader.js, mounted in a page (README.md)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from fercore.labels import EMOTIONS

_component = st.components.v2.component("fercore_camera_reader", js=Path(__file__).with_name("reader.js").read_text())


def camera_reader(files: dict[str, str], target: str, level: float | None, calm: bool, goal_round: int,
                  words: dict[str, str], key: str = "camera_reader") -> dict | None:
    """Draws the reader; returns the goal held in this run ({still: a JPEG data URL, probabilities, target,
    level, round}), else None. `words`: the sentences for a camera refused, missing, or a reader that can't
    start here."""
    result = _component(key=key, data=files | {"target": EMOTIONS.index(target), "level": level, "calm": calm,
                                               "goal_round": goal_round, "words": words},
                        on_held_change=lambda: None)
    return getattr(result, "held", None)
