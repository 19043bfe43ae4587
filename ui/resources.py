"""Things every page shares, each created once per server process by st.cache_resource.

Pages import these instead of globals from app.py, so each page also runs on its own.
"""
from __future__ import annotations

import streamlit as st

from fercore import registry
from fercore.jobs import JobRunner


@st.cache_resource
def job_runner() -> JobRunner:
    return JobRunner()


@st.cache_resource(max_entries=3, show_spinner="Loading the model...")
def _predictor(path: str, modified: float):
    from fercore.predict import Predictor  # TensorFlow loads on first use, not at app start

    return Predictor.from_path(path)


def active_predictor():
    """The model the app uses now; reloads when the file or the choice changes.
    Raises fercore.errors.ArtifactError (a message for the user) when it is missing or broken."""
    path = registry.active_model_path()
    modified = path.stat().st_mtime if path.exists() else 0.0
    return _predictor(str(path), modified)


def model_problem(error: Exception) -> None:
    """Explain a missing or broken model and how to get one."""
    st.warning(f"{error}\n\nTrain a model on the **Train** page, or from the command line: "
               "`python -m fercore train --arch default --out models/default.keras`.")
