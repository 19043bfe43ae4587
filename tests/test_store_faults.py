"""The store when its database fails, with the real thing failing: a PostgreSQL server restarted during a
class session, a SQLite file another program holds locked, a read-only file. Each time the failure is one
sentence, what was saved stays saved, and an answer sent again after a failure is stored once."""
import os
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from conftest import postgres_or_skip

from fercore.store import POOL_WAIT_S, Answer, Store, StoreUnavailable

NOBODY = 65534  # root writes any file: a read-only file is read-only to another user


def answer(face: str, guess: int = 3) -> Answer:
    return Answer(face, 3, guess, 3, 1)


@pytest.fixture
def own_postgres():
    """A server of this test's own, so that restarting it disturbs no other test's connections."""
    with postgres_or_skip() as server:
        yield server


def test_a_postgresql_restart_during_a_class_session_loses_nothing_and_stores_nothing_twice(own_postgres):
    store = Store(own_postgres.url())
    session, token = store.create_session("Tuesday group", ["happy", "sad"], questions=3, level=2)
    store.record("Sam", answer("PublicTest_1"), session.code, question_id="q1")

    own_postgres.stop()
    for learner in ("Sam", "Ali"):  # down for longer than a call waits: each is told, within seconds
        began = time.monotonic()
        with pytest.raises(StoreUnavailable, match="not answering"):
            store.record(learner, answer("PublicTest_2"), session.code, question_id=f"q2-{learner}")
        assert time.monotonic() - began < POOL_WAIT_S + 10

    own_postgres.start()
    # The same Store, no reconnect by hand: the first answer after the restart is stored.
    store.record("Sam", answer("PublicTest_2"), session.code, question_id="q2-Sam")
    # A press sent again (the learner could not know whether the first got through): stored once.
    kept = store.record("Sam", answer("PublicTest_2", guess=5), session.code, question_id="q2-Sam")
    assert kept.guess == 3
    report = store.session_report(session.code, token)
    assert report.learners["Sam"].answered == 2
    assert [a.face_id for a in store.answers("Sam")] == ["PublicTest_1", "PublicTest_2"]
    store.close()


def test_a_sqlite_file_locked_by_another_program_says_so_and_takes_the_answer_once_free(tmp_path):
    path = tmp_path / "progress.sqlite3"
    store = Store(path, busy_timeout=0.5)
    store.record("Sam", answer("PublicTest_1"), question_id="q1")
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another program writing, and taking its time
        with pytest.raises(StoreUnavailable, match="holding it locked"):
            store.record("Sam", answer("PublicTest_2"), question_id="q2")
        assert len(store.answers("Sam")) == 1  # reading goes on beside the writer (WAL)
        other.execute("ROLLBACK")
    store.record("Sam", answer("PublicTest_2"), question_id="q2")
    assert [a.face_id for a in store.answers("Sam")] == ["PublicTest_1", "PublicTest_2"]


@contextmanager
def as_another_user():
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_folder():
    """A folder another user may write in (pytest's own are root's alone), for SQLite's -wal and -shm."""
    folder = Path(tempfile.mkdtemp(prefix="fercore-readonly-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_read_only_sqlite_file_still_shows_what_it_holds_and_says_why_nothing_new_is_saved(shared_folder):
    path = shared_folder / "progress.sqlite3"
    writable = Store(path)
    writable.record("Sam", answer("PublicTest_1"))
    writable.close()
    path.chmod(0o444)
    with as_another_user():
        store = Store(path)  # opens: expiring old answers waits for a writable file
        assert [a.face_id for a in store.answers("Sam")] == ["PublicTest_1"]
        with pytest.raises(StoreUnavailable, match="read-only"):
            store.record("Sam", answer("PublicTest_2"))
        store.close()
    path.chmod(0o644)
    assert [a.face_id for a in Store(path).answers("Sam")] == ["PublicTest_1"]
