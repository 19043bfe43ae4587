"""Things every page shares, most created once per server process by st.cache_resource.

Pages import these instead of globals from navigation.py, so each page also runs on its own.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from concurrent.futures import Future
from contextlib import contextmanager

import streamlit as st
from streamlit.logger import get_logger

from fercore import rate_limit, registry
from fercore.errors import FercoreError
from fercore.jobs import JobRunner
from ui.text import plain_error

_LOG = get_logger(__name__)
MODEL_LOADED = "Model loaded in the background"


def job_runner() -> JobRunner:
    """The server's one training job. Not a cached resource: it lives in the jobs folder, where a visitor
    emptying Streamlit's caches can't reach it (fercore.jobs)."""
    return JobRunner()


@st.cache_resource(max_entries=3, show_spinner=False)
def _model_loading(path: str, modified: float) -> Future:
    """The model, loading in a background thread: started at most once per file and version."""
    loading = Future()

    def load():
        started = time.perf_counter()
        try:
            predictor = _ready_predictor(path)
        except Exception as exc:  # an ArtifactError, explained wherever the model is needed
            loading.set_exception(exc)
            return
        _LOG.info("%s (%s, %.1f s).", MODEL_LOADED, path, time.perf_counter() - started)
        loading.set_result(predictor)
        _export_for_browsers(path)

    threading.Thread(target=load, name="fercore-model-load", daemon=True).start()
    return loading


def _ready_predictor(path: str):
    """The model, with its reading and its heatmap traced once on a blank face: TensorFlow traces each on first
    use (about 2 s here), which a learner's first reveal would otherwise wait for."""
    import numpy as np

    from fercore.explain import explain_face
    from fercore.predict import Predictor  # TensorFlow loads here, not on the page's thread

    predictor = Predictor.from_path(path)
    blank = np.full((1, 48, 48), 128, np.uint8)
    explain_face(predictor.model, blank[0], predictor.probabilities(blank)[0])
    return predictor


def _export_for_browsers(path: str) -> None:
    """The model as the Live mirror's reader in the browser reads it (ONNX), exported now if it never was:
    seconds that a first visit to the mirror would otherwise wait for."""
    from ui.camera_reader.files import ReaderFilesMissing, reader_files

    try:
        reader_files(Path(path))
    except (ReaderFilesMissing, FercoreError) as exc:  # said where the mirror is opened
        _LOG.warning("The model was not exported for the Live mirror: %s", exc)


def _active_model_loading() -> Future:
    path = registry.active_model_path()
    return _model_loading(str(path), path.stat().st_mtime if path.exists() else 0.0)


def warm_model() -> None:
    """Start loading the model the app uses, without waiting: app.py does it as the server starts and
    navigation.py after every page, so that it is ready before a learner's first answer or photo needs it."""
    _active_model_loading()


def active_predictor():
    """The model the app uses now; reloads when the file or the choice changes.
    Raises fercore.errors.ArtifactError (a message for the user) when it is missing or broken."""
    loading = _active_model_loading()
    if not loading.done():
        with st.spinner("Loading the model..."):
            return loading.result()
    return loading.result()


def model_problem(error: Exception) -> None:
    """Explain a missing or broken model and how to get one."""
    st.warning(f"{plain_error(error)}\n\nTrain a model on the **Train** page, or from the command line: "
               "`python -m fercore train --arch default --out models/default.keras`.")


@st.cache_resource
def _store(path: str):
    from fercore.store import Store

    return Store(path)


@contextmanager
def store_trouble_said():
    """Around a page's use of the store: a database that is down, locked or read-only gets one sentence,
    not a traceback; what was saved before stays saved."""
    from fercore.store import StoreError

    try:
        yield
    except StoreError as exc:
        st.warning(f"{plain_error(exc)} Answers saved earlier are kept.")


def store():
    """The progress database (FER_DB: a SQLite file or a PostgreSQL URL; else data/progress.sqlite3), one
    Store per database and server."""
    from fercore.store import default_db_path

    rate_limit.set_client(client())  # the store counts wrong keys per client too, for this thread's browser
    return _store(str(default_db_path()))


def client() -> str:
    """Who types keys in this browser session, for slowing down guesses (fercore.rate_limit): its network
    address as Streamlit knows it, else (a browser on this machine, or behind a proxy here) the session."""
    address = st.context.ip_address
    if isinstance(address, str) and address:  # None on this machine; AppTest's is a stand-in object
        return address
    return "browser " + st.session_state.setdefault("browser_id", uuid.uuid4().hex)


@st.cache_resource(max_entries=2, show_spinner="Preparing the quiz faces (once per model)...")
def _quiz_pool(data_path: str, model_path: str, modified: float):
    from fercore.data import TEST_SPLITS, load_fer2013
    from fercore.quiz import build_pool, pool_probabilities

    splits = load_fer2013(data_path, splits=TEST_SPLITS)  # a fifth of FER2013: the faces the quiz shows
    return build_pool(splits, pool_probabilities(model_path, splits))


def quiz_pool():
    """The quiz faces with the active model's readings of every face, computed once per model.
    Raises DatasetError or ArtifactError with a message for the user."""
    from fercore.data import resolve_data_path

    path = registry.active_model_path()
    modified = path.stat().st_mtime if path.exists() else 0.0
    return _quiz_pool(str(resolve_data_path()), str(path), modified)


@st.cache_resource(max_entries=4, show_spinner="Preparing the deck's faces...")
def _deck_pool(code: str, version: str, model_path: str, modified: float):
    from fercore.artifact import file_digest
    from fercore.decks import deck_pool

    return deck_pool(store(), code, file_digest(model_path), active_predictor)


def deck_quiz_pool(deck):
    """A practice deck's faces with the active model's readings, computed once per deck version and model.
    Raises a FercoreError (a deck since deleted, no model) with a message for the user."""
    path = registry.active_model_path()
    return _deck_pool(deck.code, deck.version, str(path), path.stat().st_mtime if path.exists() else 0.0)
