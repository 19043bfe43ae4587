"""Shared fixtures: tiny generated FER2013 copies (folder and CSV forms), the real-data switch, and the
progress database on SQLite and on a throwaway PostgreSQL server."""
from __future__ import annotations

import os
from contextlib import contextmanager

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import postgres
import pytest

from fercore.data import SPLITS, resolve_data_path
from fercore.labels import EMOTIONS


def synthetic_faces(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """48x48 noise with a bright horizontal bar whose height encodes the class: learnable in seconds."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), n_per_class)
    faces = rng.integers(0, 80, size=(len(labels), 48, 48), dtype=np.uint8)
    for face, label in zip(faces, labels):
        face[4 + 6 * label : 8 + 6 * label, 6:42] = 230
    return faces, labels


def write_folder_dataset(root, n_per_class=(6, 2, 2)) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Kaggle layout under root; returns split -> (faces, labels) as written (PNG, so lossless)."""
    written = {}
    for (name, usage), n, seed in zip(SPLITS.items(), n_per_class, range(3)):
        faces, labels = synthetic_faces(n, seed)
        part = "train" if name == "train" else "test"
        for i, (face, label) in enumerate(zip(faces, labels)):
            folder = root / part / EMOTIONS[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{usage}_{seed}{i:05d}.png"), face)
        written[name] = (faces, labels)
    return written


def write_csv_dataset(path, written) -> None:
    lines = ["emotion,pixels,Usage"]
    for name, (faces, labels) in written.items():
        for face, label in zip(faces, labels):
            lines.append(f"{label},{' '.join(map(str, face.ravel()))},{SPLITS[name]}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True, scope="session")
def apart_from_the_project(tmp_path_factory):
    """Tests never touch the project's cache, progress database, model choice or trained models.
    One cache for the whole session, so real FER2013 is decoded once."""
    scratch = tmp_path_factory.mktemp("fercore")
    os.environ.update(FER_CACHE=str(scratch / "cache"), FER_DB=str(scratch / "progress.sqlite3"),
                      FER_ACTIVE_MODEL_FILE=str(scratch / "active_model.json"),
                      FER_TRAINED_DIR=str(scratch / "trained"))


@pytest.fixture
def folder_dataset(tmp_path):
    root = tmp_path / "fer2013"
    return root, write_folder_dataset(root)


@pytest.fixture
def pages_store(monkeypatch, tmp_path, folder_dataset):
    """The store the pages under AppTest use, on the small generated FER2013 and without a model (pages
    must cope without one)."""
    monkeypatch.setenv("FER_DB", str(tmp_path / "p.sqlite3"))
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no-model.keras"))
    from fercore.store import Store

    return Store(tmp_path / "p.sqlite3")


@pytest.fixture
def real_data_path():
    """The real FER2013 (FER_DATA). CI sets FER_REQUIRE_DATA=1 so a missing copy fails instead of skipping."""
    path = resolve_data_path()
    if not path.exists():
        if os.environ.get("FER_REQUIRE_DATA") == "1":
            pytest.fail(f"FER_REQUIRE_DATA=1 but FER2013 is not at {path}")
        pytest.skip(f"FER2013 not found at {path}; set FER_DATA to run the real-data tests")
    return path


@contextmanager
def postgres_or_skip():
    """A PostgreSQL server (tests/postgres.py). Without PostgreSQL here the tests that need it skip,
    unless FER_REQUIRE_POSTGRES=1 (as in CI) makes that a failure."""
    try:
        with postgres.server() as server:
            yield server
    except postgres.PostgresMissing as missing:
        if os.environ.get("FER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"FER_REQUIRE_POSTGRES=1 but {missing}")
        pytest.skip(f"{missing}: PostgreSQL tests skipped")


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session."""
    with postgres_or_skip() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty PostgreSQL schema for one test, named in the URL."""
    url = postgres_server.new_schema()
    yield url
    postgres_server.drop_schema(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """Where a test's progress store lives: a fresh SQLite file, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return tmp_path / "progress.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(db):
    """A Store on `db` (SQLite, and PostgreSQL where the test asks for both), closed after the test."""
    from fercore.store import Store

    store = Store(db)
    yield store
    store.close()


def sign_in(app, nickname: str, key: str = ""):
    """Type a nickname (and key) into a page's sign-in form and continue, as a learner would."""
    boxes = {box.label: box for box in app.text_input}
    boxes["Your nickname"].input(nickname)
    boxes["Your key (the first time, leave it empty)"].input(key)
    next(b for b in app.button if b.label == "Continue").click()
    return app.run()
