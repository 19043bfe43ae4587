"""The on-device reader as a Streamlit component: reader.js, mounted in a page (README.md)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from fercore import registry
from fercore.errors import ArtifactError
from fercore.labels import EMOTIONS
from ui.camera_reader.files import ReaderFilesMissing, reader_files
from ui.resources import active_predictor, model_problem

_component = st.components.v2.component("fercore_camera_reader", js=Path(__file__).with_name("reader.js").read_text())


def camera_reader(files: dict[str, str], target: str, level: float | None, calm: bool, goal_round: int,
                  words: dict[str, str], key: str = "camera_reader", held_words: str = "you held it",
                  choices: tuple[str, ...] = (), question: str = "") -> dict:
    """Draws the reader. Returns what it sent in this run: "held", a goal held ({still: a JPEG data URL,
    probabilities, target, level, round}), and "guessed", a choice made among `choices` while a question is
    open ({choice, still, probabilities or None without a face, round: the question}); None when not sent.
    With choices the model's reading stays hidden: a guess is the learner's own. `words`: the sentences for a
    camera refused, missing, or a reader that can't start here."""
    data = files | {"target": EMOTIONS.index(target), "level": level, "calm": calm, "goal_round": goal_round,
                    "words": words, "held_words": held_words, "mode": "guess" if choices else "read",
                    "choices": list(choices), "round": question}
    result = _component(key=key, data=data, on_held_change=lambda: None, on_guessed_change=lambda: None)
    return {"held": getattr(result, "held", None), "guessed": getattr(result, "guessed", None)}


@st.cache_data(max_entries=8, show_spinner="Preparing the camera's reader (once per model)...")
def _files(model_path: str, modified: float) -> dict[str, str]:
    return reader_files(Path(model_path))


def files_or_stop() -> dict[str, str]:
    """The addresses of the reader's files for the model the app uses; a page without them says why and stops."""
    path = registry.active_model_path()
    try:
        active_predictor()  # TensorFlow is loaded by the model's one loader, before the export uses it too
        return _files(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except ArtifactError as exc:
        model_problem(exc)
    except ReaderFilesMissing as exc:
        st.error(str(exc))
    st.stop()
