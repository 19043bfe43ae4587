"""The progress store: answers survive restarts and concurrent writers; educator data needs the token.
Every test that takes `db` or `store` runs on SQLite and on PostgreSQL (conftest.py)."""
import csv
import io
import sqlite3
from contextlib import closing
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fercore.labels import EMOTIONS, INDEX
from fercore.store import (CLEAR_ALPHABET, CODE_LENGTH, CSV_COLUMNS, DECK_FACES_MAX, SCHEMA, SCHEMA_VERSION, Answer,
                           DisplayChoices, NicknameTaken, Store, StoreError, UnknownDeckCode, UnknownSessionCode,
                           WrongEducatorToken, WrongLearnerKey, WrongOwnerToken, YouVsModel, trends)
from fercore.store.schema import ADDED_INDEXES

FEAR, SURPRISE, HAPPY, SAD = (INDEX[e] for e in ("fear", "surprise", "happy", "sad"))


def query(db, sql: str, params: tuple = ()) -> list[tuple]:
    """Straight to the database, around the Store: a SQLite file's path or a PostgreSQL URL."""
    if isinstance(db, Path):
        with closing(sqlite3.connect(db)) as conn, conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def schema_version(db) -> int:
    if isinstance(db, Path):
        return query(db, "PRAGMA user_version")[0][0]
    return query(db, "SELECT MAX(version) FROM schema_version")[0][0]


def answer(true, guess, model=None, face="PublicTest_1", level=1) -> Answer:
    return Answer(face, true, guess, true if model is None else model, level)


def write_answers(db_path, learner, n, ready=None):
    """One writer: n answers whose face ids name the learner and the order, so a mix-up shows.
    ready: a barrier, so that all writers start together."""
    store = Store(db_path)
    if ready is not None:
        ready.wait(timeout=60)  # a writer that died breaks the barrier instead of hanging the test
    for i in range(n):
        store.record(learner, Answer(f"{learner}-{i}", i % 7, (i * 3) % 7, i % 7, 1 + i % 4))


def assert_nothing_lost_or_mixed(store, learners, n):
    for learner in learners:
        got = store.answers(learner)
        assert [a.face_id for a in got] == [f"{learner}-{i}" for i in range(n)]
        assert all(a.learner == learner for a in got)
        assert [(a.true_label, a.guess, a.level) for a in got] == [(i % 7, (i * 3) % 7, 1 + i % 4) for i in range(n)]


def test_answers_survive_a_restart(db):
    first = Store(db)
    first.record("Sam", answer(HAPPY, HAPPY, face="PublicTest_7", level=2))
    first.record("Sam", answer(FEAR, SURPRISE, model=SAD, face="PrivateTest_9", level=3))
    first.close()

    reopened = Store(db).answers("Sam")
    assert [(a.face_id, a.true_label, a.guess, a.model_guess, a.level) for a in reopened] == [
        ("PublicTest_7", HAPPY, HAPPY, HAPPY, 2), ("PrivateTest_9", FEAR, SURPRISE, SAD, 3)]
    assert schema_version(db) == SCHEMA_VERSION


def test_a_sqlite_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "progress.sqlite3"
    Store(path)
    assert query(path, "PRAGMA journal_mode") == [("wal",)]


def test_display_choices_are_kept_per_learner(db, store):
    assert store.display_choices("Zoe") == DisplayChoices()  # all off until chosen
    store.save_display_choices("Zoe", DisplayChoices(larger_text=True, read_aloud=True))
    store.save_display_choices("Sam", DisplayChoices(high_contrast=True))
    assert Store(db).display_choices("zoe") == DisplayChoices(larger_text=True, read_aloud=True)
    store.save_display_choices("ZOE", DisplayChoices(reduced_motion=True))  # the same learner in any case
    assert store.display_choices("Zoe") == DisplayChoices(reduced_motion=True)
    assert store.display_choices("Sam") == DisplayChoices(high_contrast=True)


def test_a_version_1_sqlite_file_gains_the_display_choices_table(tmp_path):
    path = tmp_path / "old.sqlite3"
    Store(path)
    with closing(sqlite3.connect(path)) as conn:  # as a file from before display choices
        conn.executescript("DROP TABLE display_choices; PRAGMA user_version = 1;")
    store = Store(path)
    assert store.display_choices("Zoe") == DisplayChoices()
    store.save_display_choices("Zoe", DisplayChoices(larger_text=True))
    assert Store(path).display_choices("zoe") == DisplayChoices(larger_text=True)
    assert schema_version(path) == SCHEMA_VERSION


def test_an_answer_sent_again_for_its_question_is_stored_once_and_the_first_is_kept(store):
    first = store.record("Sam", answer(HAPPY, HAPPY), question_id="q-1")
    again = store.record("Sam", answer(HAPPY, SAD), question_id="q-1")  # a retry, or a second press
    store.record("Sam", answer(FEAR, FEAR), question_id="q-2")
    store.record("Sam", answer(FEAR, FEAR))  # answers without a question id never collide
    store.record("Sam", answer(FEAR, FEAR))
    assert (again.id, again.guess) == (first.id, HAPPY)
    assert [a.guess for a in store.answers("Sam")] == [HAPPY, FEAR, FEAR, FEAR]


def test_a_version_3_database_keeps_its_answers_and_gains_question_ids(db):
    Store(db).record("Sam", answer(HAPPY, HAPPY))
    downgrade = ["DROP INDEX answers_by_question", "ALTER TABLE answers DROP COLUMN question_id"]
    if isinstance(db, Path):
        downgrade.append("PRAGMA user_version = 3")
    else:
        downgrade += ["DELETE FROM schema_version", "INSERT INTO schema_version VALUES (3)"]
    for sql in downgrade:  # as a database from before question ids
        query(db, sql)
    store = Store(db)
    store.record("Sam", answer(SAD, SAD), question_id="q-1")
    store.record("Sam", answer(SAD, FEAR), question_id="q-1")
    assert [a.guess for a in store.answers("Sam")] == [HAPPY, SAD]
    assert schema_version(db) == SCHEMA_VERSION


def test_the_database_comes_from_fer_db(db, tmp_path, monkeypatch):
    if isinstance(db, Path):
        db = tmp_path / "elsewhere" / "db.sqlite3"
    monkeypatch.setenv("FER_DB", str(db))
    Store().record("Sam", answer(HAPPY, HAPPY))
    assert Store(db).answers("Sam")


def test_a_newer_schema_is_refused(db):
    Store(db)
    query(db, "PRAGMA user_version = 99" if isinstance(db, Path) else "INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="newer fercore"):
        Store(db)


def test_app_servers_starting_together_create_the_postgresql_schema_once(postgres_url):
    """Several stores opening a fresh database at the same moment, as several app servers may."""
    ready, errors = threading.Barrier(6), []

    def open_store():
        try:
            ready.wait(timeout=60)
            Store(postgres_url).close()
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert query(postgres_url, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_both_databases_have_the_same_columns_in_the_same_order(tmp_path, postgres_url):
    """Some INSERTs name no columns, so the two schemas must not drift apart."""
    Store(tmp_path / "progress.sqlite3")
    Store(postgres_url).close()
    for table in ("sessions", "answers", "display_choices", "learners", "decks", "deck_faces"):
        assert table in SCHEMA
        sqlite_columns = [row[1] for row in query(tmp_path / "progress.sqlite3", f"PRAGMA table_info({table})")]
        postgres_columns = [row[0] for row in query(
            postgres_url, "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() ORDER BY ordinal_position", (table,))]
        assert sqlite_columns == postgres_columns


def test_concurrent_threads_lose_and_mix_no_answers(store):
    learners = [f"thread{t}" for t in range(8)]
    ready = threading.Barrier(len(learners))
    threads = [threading.Thread(target=write_answers, args=(str(store.path), learner, 40, ready))
               for learner in learners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_nothing_lost_or_mixed(store, learners, 40)


def test_concurrent_processes_lose_and_mix_no_answers(store):
    """Separate interpreters (as several app servers would be), all writing at the same moment.
    subprocess, not multiprocessing: spawn re-runs __main__, which under AppTest can be a page."""
    learners = [f"process{p}" for p in range(4)]
    start_at = time.time() + 5  # once every interpreter is up
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); from test_store import write_answers; "
            "time.sleep(max(0.0, float(sys.argv[4]) - time.time())); write_answers(sys.argv[2], sys.argv[3], 40)")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent), str(store.path), learner,
                                   str(start_at)]) for learner in learners]
    time.sleep(max(0.0, start_at - time.time()))
    write_answers(store.path, "parent", 40)  # and this process at the same time
    assert [p.wait(timeout=120) for p in processes] == [0] * len(learners)
    assert_nothing_lost_or_mixed(store, [*learners, "parent"], 40)


def test_nicknames_ignore_case_and_refuse_formula_like_text(store):
    store.record("Sam  Lee", answer(HAPPY, HAPPY))
    assert store.record("sam lee", answer(SAD, SAD)).learner == "Sam Lee"  # the first spelling stays
    assert [a.learner for a in store.answers("SAM LEE")] == ["Sam Lee", "Sam Lee"]
    assert store.answers("Alex") == []
    for bad in ("", "   ", "=HYPERLINK(1)", "a" * 31):
        with pytest.raises(StoreError):
            store.record(bad, answer(HAPPY, HAPPY))


def test_answers_before_keys_match_nicknames_as_sqlites_nocase_does_on_either_database(store):
    """Unregistered nicknames fold ASCII letters only (registered ones match in any alphabet, through
    learners.folded): PostgreSQL must keep SQLite's answer, whatever its locale."""
    store.record("Émile", answer(HAPPY, HAPPY))
    store.record("ÉMILE", answer(SAD, SAD))
    store.record("émile", answer(FEAR, FEAR))
    assert [a.learner for a in store.answers("ÉMILE")] == ["Émile", "Émile"]
    assert [a.learner for a in store.answers("émile")] == ["émile"]


def test_streak_counts_the_latest_run_of_right_answers(store):
    assert store.streak("Sam") == 0
    for true, guess in [(HAPPY, HAPPY), (FEAR, SURPRISE), (SAD, SAD), (HAPPY, HAPPY)]:
        store.record("Sam", answer(true, guess))
    store.record("Alex", answer(FEAR, SAD))  # another learner's miss does not break Sam's run
    assert store.streak("Sam") == 2
    store.record("Sam", answer(FEAR, HAPPY))
    assert store.streak("Sam") == 0


def test_confusion_matrices_and_you_vs_the_model_on_the_same_faces(store):
    for true, guess, model in [(FEAR, SURPRISE, FEAR), (FEAR, FEAR, SURPRISE), (HAPPY, HAPPY, HAPPY),
                               (SAD, FEAR, HAPPY)]:
        store.record("Sam", answer(true, guess, model))
    learner, model = store.confusion("Sam")
    assert learner.shape == model.shape == (7, 7)
    assert learner[FEAR, SURPRISE] == 1 and learner[FEAR, FEAR] == 1 and learner[SAD, FEAR] == 1
    assert model[FEAR, FEAR] == 1 and model[FEAR, SURPRISE] == 1 and model[SAD, HAPPY] == 1
    assert learner.sum() == model.sum() == 4
    assert store.you_vs_model("Sam") == YouVsModel(both_right=1, only_you=1, only_model=1, both_wrong=1)


def test_trends_smooth_each_emotion_over_its_latest_answers():
    # fear: wrong, right, right, right; happy: right, wrong, with a window of 3
    answers = [answer(FEAR, SAD), answer(FEAR, FEAR), answer(HAPPY, HAPPY), answer(FEAR, FEAR),
               answer(FEAR, FEAR), answer(HAPPY, SAD)]
    lines = trends(answers, window=3)
    assert lines["fear"] == ([1, 2, 4, 5], [0.0, 0.5, 2 / 3, 1.0])  # the first miss has left the window
    assert lines["happy"] == ([3, 6], [1.0, 0.5])
    assert lines["all emotions"][1][-1] == 2 / 3 and set(lines) == {"fear", "happy", "all emotions"}


def test_progress_by_day_and_by_sitting(store):
    day1 = datetime(2025, 3, 3, 10, 0).astimezone()
    times = [day1, day1 + timedelta(minutes=5), day1 + timedelta(hours=3), day1 + timedelta(days=1)]
    for at, (true, guess) in zip(times, [(FEAR, FEAR), (FEAR, SAD), (HAPPY, HAPPY), (FEAR, FEAR)]):
        store.record("Sam", answer(true, guess), at=at)

    days = store.progress("Sam", by="day")
    assert [d.label for d in days] == ["2025-03-03", "2025-03-04"]
    assert days[0].overall.answered == 3 and days[0].emotions["fear"].accuracy == 0.5
    assert days[1].emotions == {"fear": days[1].overall} and days[1].overall.accuracy == 1.0

    sittings = store.progress("Sam", by="sitting")
    assert [s.overall.answered for s in sittings] == [2, 1, 1]  # a three-hour pause starts a new sitting
    assert sittings[0].label == "2025-03-03 10:00" and sittings[0].end - sittings[0].start == timedelta(minutes=5)


def test_join_a_session_by_code_in_any_case(store):
    session, _ = store.create_session("Tuesday group", ["sad", "fear"], questions=10, level=2)
    assert len(session.code) >= CODE_LENGTH and set(session.code) <= set(CLEAR_ALPHABET)
    assert not set("0O1IL") & set(CLEAR_ALPHABET)
    joined = store.join_session(f" {session.code[:3].lower()} {session.code[3:].lower()} ")
    assert joined == session and joined.emotions == ("fear", "sad")  # stored in EMOTIONS order
    assert store.create_session("Tuesday group", ["sad"], 10, 2)[0].code != session.code


def test_a_wrong_code_says_so(store):
    with pytest.raises(UnknownSessionCode, match="no session with the code ZZZZZZ"):
        store.join_session("zzzzzz")
    with pytest.raises(UnknownSessionCode):
        store.record("Sam", answer(HAPPY, HAPPY), session="ZZZZZZ")
    assert store.answers("Sam") == []


def test_a_session_needs_real_emotions_and_a_name(store):
    for name, emotions in [("Group", ["joy"]), ("Group", []), ("  ", ["sad"])]:
        with pytest.raises(StoreError):
            store.create_session(name, emotions, 10, 1)


def test_a_session_name_fits_on_one_line_of_a_learners_screen(store):
    with pytest.raises(StoreError, match="at most 60 characters"):
        store.create_session("Group " * 55, EMOTIONS, 10, 1)  # 330 characters, as a test once typed
    assert store.create_session("x" * 60, EMOTIONS, 10, 1)[0].name == "x" * 60


def test_educator_data_is_refused_without_the_right_token(store):
    session, token = store.create_session("Group", EMOTIONS, 10, 4)
    other_session, other_token = store.create_session("Other group", EMOTIONS, 10, 4)
    for wrong in (None, "", "ABCD-EFGH-JKMN", other_token):
        with pytest.raises(WrongEducatorToken):
            store.session_report(session.code, wrong)
        with pytest.raises(WrongEducatorToken):
            store.export_csv(session.code, wrong)
    assert store.session_report(session.code.lower(), token.lower().replace("-", "")).session == session
    assert token not in repr(query(store.path, "SELECT * FROM sessions"))  # only a hash of the token is kept


def test_the_educator_report_covers_the_session_only(store):
    session, token = store.create_session("Group", EMOTIONS, 10, 4)
    for learner, face, true, guess, model in [("Ana", "f1", FEAR, SURPRISE, FEAR), ("Ben", "f1", FEAR, SURPRISE, FEAR),
                                              ("Ana", "f2", HAPPY, HAPPY, HAPPY), ("Ben", "f3", SAD, FEAR, SAD),
                                              ("Ben", "f2", HAPPY, HAPPY, SAD)]:
        store.record(learner, Answer(face, true, guess, model, 4), session=session.code.lower())
    store.record("Ana", Answer("f9", SAD, HAPPY, SAD, 1))  # free practice, not part of the session

    report = store.session_report(session.code, token)
    assert {name: (t.answered, t.correct) for name, t in report.learners.items()} == {"Ana": (2, 1), "Ben": (3, 1)}
    assert {name: (t.answered, t.correct, t.model_correct) for name, t in report.emotions.items()} == {
        "fear": (2, 0, 2), "happy": (2, 2, 1), "sad": (1, 0, 1)}
    assert report.confusion[FEAR, SURPRISE] == 2 and report.confusion.sum() == 5
    assert report.model_confusion[HAPPY, SAD] == 1 and np.trace(report.model_confusion) == 4
    assert [(m.face_id, m.shown, m.missed, m.common_guess) for m in report.most_missed] == [
        ("f1", 2, 2, SURPRISE), ("f3", 1, 1, FEAR)]


def test_csv_export_has_a_header_and_every_session_answer(store):
    session, token = store.create_session("Group", EMOTIONS, 10, 4)
    rng = np.random.default_rng(0)
    written = [Answer(f"PublicTest_{i}", *map(int, rng.integers(0, 7, 3)), 4) for i in range(25)]
    for i, a in enumerate(written):
        store.record(["Ana", "Ben", "Cy"][i % 3], a, session=session.code)
    store.record("Ana", written[0])  # outside the session

    rows = list(csv.reader(io.StringIO(store.export_csv(session.code, token))))
    assert tuple(rows[0]) == CSV_COLUMNS
    exported = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert [(r["face_id"], r["true_label"], r["guess"], r["model_guess"]) for r in exported] == [
        (a.face_id, EMOTIONS[a.true_label], EMOTIONS[a.guess], EMOTIONS[a.model_guess]) for a in written]
    assert all(r["session"] == session.code and r["session_name"] == "Group" for r in exported)
    assert [r["correct"] for r in exported] == [str(int(a.correct)) for a in written]
    # Local time to the second: a spreadsheet reads it as a date and time.
    stamp = datetime.strptime(exported[0]["answered_at"], "%Y-%m-%d %H:%M:%S")
    assert abs(stamp - datetime.now()) < timedelta(minutes=5)


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"])
def test_a_session_name_a_spreadsheet_would_run_is_exported_as_text(store, name):
    session, token = store.create_session(name, EMOTIONS, 10, 4)
    store.record("Ana", answer(HAPPY, SAD), session=session.code)
    rows = list(csv.DictReader(io.StringIO(store.export_csv(session.code, token))))
    assert rows[0]["session_name"] == "'" + name  # a spreadsheet shows it as typed instead of running it


def test_a_new_learner_gets_a_key_and_only_that_key_opens_the_nickname(store):
    name, key = store.register_learner("Robin")
    assert name == "Robin" and len(key) == 9 and key[4] == "-" and set(key.replace("-", "")) <= set(CLEAR_ALPHABET)
    assert store.sign_in("robin", key.lower()) == "Robin"  # the key as it may be typed
    for wrong in ("", "AAAA-AAAA", key[:-1]):
        with pytest.raises(WrongLearnerKey, match="does not open the nickname robin"):
            store.sign_in("robin", wrong)
    with pytest.raises(WrongLearnerKey):
        store.sign_in("Nobody", key)  # a key opens only its own nickname


def test_a_taken_nickname_says_so_in_any_case_and_alphabet(store):
    store.register_learner("Zoë")
    for same in ("Zoë", "ZOË", "zoë", "Zoe\u0308"):  # the last: e and a combining diaeresis
        with pytest.raises(NicknameTaken, match="is taken"):
            store.register_learner(same)
        assert store.is_registered(same)
    assert not store.is_registered("Zoe")


def test_answers_follow_the_kept_spelling_whatever_the_case(store):
    _, key = store.register_learner("Zoë")
    store.record("ZOË", answer(HAPPY, HAPPY))
    store.record("zoë", answer(SAD, FEAR))
    assert [a.learner for a in store.answers("Zoë")] == ["Zoë", "Zoë"]
    assert len(store.answers("ZOË")) == 2 and store.sign_in("ZOË", key) == "Zoë"


def test_answers_from_before_keys_go_to_whoever_registers_the_nickname_first(store):
    store.record("Sam", answer(HAPPY, HAPPY))
    name, key = store.register_learner("sam")
    assert name == "Sam" and len(store.answers(store.sign_in("SAM", key))) == 1


def test_forget_me_deletes_the_learners_answers_choices_and_nickname(store):
    _, key = store.register_learner("Ana")
    session, _ = store.create_session("Group", EMOTIONS, 5, 1)
    store.record("Ana", answer(HAPPY, HAPPY), session=session.code)
    store.record("Ana", answer(SAD, SAD))
    store.record("Ben", answer(SAD, SAD))
    store.save_display_choices("Ana", DisplayChoices(larger_text=True))
    with pytest.raises(WrongLearnerKey):
        store.forget_learner("Ana", "WRONG-KEYS")
    assert len(store.answers("Ana")) == 2

    assert store.forget_learner("ana", key) == 2
    assert store.answers("Ana") == [] and store.display_choices("Ana") == DisplayChoices()
    assert not store.is_registered("Ana") and len(store.answers("Ben")) == 1
    store.register_learner("Ana")  # the nickname is free again


def test_an_educator_deletes_a_session_and_its_answers_with_the_token(store):
    session, token = store.create_session("Group", EMOTIONS, 5, 1)
    other, _ = store.create_session("Other", EMOTIONS, 5, 1)
    for code in (session.code, other.code, None):
        store.record("Ana", answer(HAPPY, HAPPY), session=code)
    with pytest.raises(WrongEducatorToken):
        store.delete_session(session.code, "NOT-THE-TOKEN")
    assert store.delete_session(session.code, token) == 1
    with pytest.raises(UnknownSessionCode):
        store.join_session(session.code)
    assert [a.session for a in store.answers("Ana")] == [other.code, None]


def test_answers_and_sessions_past_the_retention_period_are_deleted(store, monkeypatch):
    now = datetime.now().astimezone()
    old_session, _ = store.create_session("Spring", EMOTIONS, 5, 1)
    store.record("Ana", answer(HAPPY, HAPPY), at=now - timedelta(days=200))
    store.record("Ana", answer(SAD, SAD), at=now + timedelta(days=30))
    store.record("Ben", answer(SAD, SAD), session=old_session.code, at=now + timedelta(days=30))
    store.register_learner("Cy")  # registered, never answered
    # Seen 185 days from now: the session, Ana's first answer and Cy's key are past 180 days.
    assert store.expire(180, now=now + timedelta(days=185)) == (2, 1)
    assert [a.guess for a in store.answers("Ana")] == [SAD]
    assert store.answers("Ben") == [] and not store.is_registered("Cy")
    with pytest.raises(UnknownSessionCode):
        store.join_session(old_session.code)


def test_retention_comes_from_fer_retention_days_when_the_store_opens(db, monkeypatch):
    path = db
    Store(path).record("Ana", answer(HAPPY, HAPPY), at=datetime.now().astimezone() - timedelta(days=40))
    assert len(Store(path).answers("Ana")) == 1  # within the default 180 days
    monkeypatch.setenv("FER_RETENTION_DAYS", "30")
    assert Store(path).answers("Ana") == []
    monkeypatch.setenv("FER_RETENTION_DAYS", "soon")
    with pytest.raises(StoreError, match="FER_RETENTION_DAYS"):
        Store(path)


def test_a_learners_session_result_counts_only_their_answers_in_that_session(store):
    session, token = store.create_session("Group", EMOTIONS, 4, 1)
    for true, guess, face in ((HAPPY, HAPPY, "f1"), (FEAR, SURPRISE, "f2"), (FEAR, FEAR, "f3"), (SAD, FEAR, "f4")):
        store.record("Ana", answer(true, guess, face=face), session=session.code)
    store.record("Ana", answer(SAD, HAPPY, face="f5"))  # practice outside the session
    store.record("Ben", answer(HAPPY, SAD, face="f1"), session=session.code)

    result = store.session_result("ana", session.code.lower())
    assert (result.overall.answered, result.overall.correct) == (4, 2)
    assert {e: (t.answered, t.correct) for e, t in result.emotions.items()} == {
        "fear": (2, 1), "happy": (1, 1), "sad": (1, 0)}
    assert list(result.emotions) == ["fear", "happy", "sad"]  # the usual order
    assert sorted((m.face_id, m.common_guess) for m in result.hard_faces) == [("f2", SURPRISE), ("f4", FEAR)]
    assert store.session_report(session.code, token).learners["Ana"].answered == 4


# Practice decks. The crops here are stand-in bytes: tests/test_decks.py adds real faces found in photos.

def crops(n: int, label: int = HAPPY) -> list[tuple[int, bytes, bytes]]:
    return [(label, f"colour crop {i}".encode(), f"reading {i}".encode()) for i in range(n)]


def test_an_owner_adds_relabels_and_removes_faces_and_a_learner_opens_the_deck_by_its_code(store):
    deck, token = store.create_deck("  Our   family ")
    assert (deck.name, deck.faces) == ("Our family", 0) and len(deck.code) == CODE_LENGTH
    assert store.add_deck_faces(deck.code, token, crops(2) + crops(1, SAD), permission=True) == 3
    opened = store.open_deck(f" {deck.code.lower()} ")  # typed as learners type codes
    assert (opened.code, opened.faces) == (deck.code, 3)
    faces = store.deck_faces(deck.code)
    assert [(f.label, f.crop, f.reading) for f in faces] == [
        (HAPPY, b"colour crop 0", b"reading 0"), (HAPPY, b"colour crop 1", b"reading 1"),
        (SAD, b"colour crop 0", b"reading 0")]
    store.relabel_deck_face(deck.code, token, faces[1].id, FEAR)
    store.remove_deck_face(deck.code, token, faces[0].id)
    assert [(f.id, f.label) for f in store.deck_faces(deck.code)] == [(faces[1].id, FEAR), (faces[2].id, SAD)]


def test_deck_changes_need_the_owner_token_and_the_permission_of_the_people_shown(store):
    deck, token = store.create_deck("Class photos")
    other, other_token = store.create_deck("Other")
    for wrong in (None, "", "ABCD-EFGH-JKMN", other_token):
        with pytest.raises(WrongOwnerToken):
            store.add_deck_faces(deck.code, wrong, crops(1), permission=True)
        with pytest.raises(WrongOwnerToken):
            store.delete_deck(deck.code, wrong)
    with pytest.raises(StoreError, match="permission"):
        store.add_deck_faces(deck.code, token, crops(1))
    store.add_deck_faces(deck.code, token, crops(1), permission=True)
    face = store.deck_faces(deck.code)[0]
    store.relabel_deck_face(other.code, other_token, face.id, SAD)  # another deck's token reaches only its own faces
    store.remove_deck_face(other.code, other_token, face.id)
    assert store.deck_faces(deck.code) == [face]
    with pytest.raises(StoreError, match="photo|crop"):  # a whole photo is not a crop
        store.add_deck_faces(deck.code, token, [(HAPPY, bytes(20 * 1024 * 1024), b"r")], permission=True)
    for bad in ("", " ", "x" * 61):
        with pytest.raises(StoreError):
            store.create_deck(bad)


def test_a_deck_holds_at_most_500_faces_and_a_batch_past_that_adds_nothing(store):
    deck, token = store.create_deck("Big")
    store.add_deck_faces(deck.code, token, crops(DECK_FACES_MAX - 2), permission=True)
    with pytest.raises(StoreError, match="at most 500 faces"):
        store.add_deck_faces(deck.code, token, crops(3), permission=True)
    assert store.open_deck(deck.code).faces == DECK_FACES_MAX - 2  # nothing half-added
    store.add_deck_faces(deck.code, token, crops(2), permission=True)
    assert store.open_deck(deck.code).faces == DECK_FACES_MAX


def test_owners_adding_at_once_never_pass_the_limit(db):
    deck, token = Store(db).create_deck("Raced")
    results, ready = [], threading.Barrier(4)

    def add():
        store = Store(db)
        ready.wait(timeout=60)
        try:
            results.append(store.add_deck_faces(deck.code, token, crops(150), permission=True))
        except StoreError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)).count("150") == 3  # 450 fit; the fourth batch would pass 500
    assert Store(db).open_deck(deck.code).faces == 450


def test_deck_answers_are_kept_apart_from_fer2013_answers(store):
    deck, token = store.create_deck("Family")
    store.record("Sam", answer(HAPPY, HAPPY))
    store.record("Sam", answer(SAD, FEAR, face=f"deck:{deck.code}:1"), deck=deck.code.lower())
    store.record("Sam", answer(SAD, SAD, face=f"deck:{deck.code}:2"), deck=deck.code)
    assert [a.face_id for a in store.answers("Sam")] == ["PublicTest_1"]
    assert [(a.guess, a.deck) for a in store.answers("Sam", deck=deck.code)] == [(FEAR, deck.code), (SAD, deck.code)]
    assert store.you_vs_model("Sam").faces == 1 and store.confusion("Sam")[0].sum() == 1
    assert (store.streak("Sam"), store.streak("Sam", deck=deck.code)) == (1, 1)


def test_deleting_a_deck_deletes_its_faces_and_answers_and_says_so_to_a_learner(db, store):
    deck, token = store.create_deck("Family")
    other, _ = store.create_deck("Other")
    store.add_deck_faces(deck.code, token, crops(3), permission=True)
    store.record("Sam", answer(HAPPY, HAPPY), deck=deck.code)
    store.record("Sam", answer(HAPPY, HAPPY), deck=other.code)
    assert store.delete_deck(deck.code, token) == 3
    for opening in (store.open_deck, store.deck_faces):
        with pytest.raises(UnknownDeckCode, match="no deck with the code .* deleted"):
            opening(deck.code)
    with pytest.raises(UnknownDeckCode):  # a learner answering the last face of a deck deleted meanwhile
        store.record("Sam", answer(SAD, SAD), deck=deck.code)
    assert store.answers("Sam", deck=deck.code) == [] and len(store.answers("Sam", deck=other.code)) == 1
    assert query(db, "SELECT COUNT(*) FROM deck_faces") == [(0,)]


def test_decks_past_the_retention_period_go_with_their_faces_and_answers(store):
    now = datetime.now().astimezone()
    deck, token = store.create_deck("Spring")
    store.add_deck_faces(deck.code, token, crops(2), permission=True)
    store.record("Ana", answer(HAPPY, HAPPY), deck=deck.code, at=now + timedelta(days=30))
    store.expire(180, now=now + timedelta(days=179))
    assert store.open_deck(deck.code).faces == 2
    assert store.expire(180, now=now + timedelta(days=185)) == (1, 0)
    with pytest.raises(UnknownDeckCode):
        store.open_deck(deck.code)
    assert store.answers("Ana", deck=deck.code) == []


def test_a_version_4_database_keeps_its_answers_and_gains_decks(db):
    if isinstance(db, Path):  # SQLite cannot drop a column with a foreign key: write a version-4 file as it was
        v4_indexes = ADDED_INDEXES.split(";")[0]
        with closing(sqlite3.connect(db)) as conn:
            conn.executescript(f"{SCHEMA}; DROP TABLE focuses; DROP TABLE class_members; DROP TABLE classes; "
                               "DROP TABLE deck_faces; DROP TABLE decks; "
                               f"ALTER TABLE answers ADD COLUMN question_id TEXT; {v4_indexes}; PRAGMA user_version = 4;")
        query(db, "INSERT INTO answers (answered_at, learner, face_id, true_label, guess, model_guess, level) "
              "VALUES (?, 'Sam', 'PublicTest_1', ?, ?, ?, 1)", (datetime.now().astimezone().isoformat(), HAPPY, HAPPY, HAPPY))
    else:
        Store(db).record("Sam", answer(HAPPY, HAPPY))
        for sql in ("DROP TABLE focuses", "DROP TABLE class_members", "DROP TABLE classes",
                    "ALTER TABLE sessions DROP COLUMN class_code",  # from after version 4 as well
                    "ALTER TABLE answers DROP COLUMN deck", "ALTER TABLE sessions DROP COLUMN deck",
                    "DROP TABLE deck_faces", "DROP TABLE decks",
                    "DELETE FROM schema_version", "INSERT INTO schema_version VALUES (4)"):
            query(db, sql)
    store = Store(db)
    assert [a.guess for a in store.answers("Sam")] == [HAPPY]
    deck, token = store.create_deck("Family")
    assert store.create_session("On the deck", EMOTIONS, 5, 1, deck=deck.code)[0].deck == deck.code
    store.add_deck_faces(deck.code, token, crops(1), permission=True)
    store.record("Sam", answer(SAD, SAD), deck=deck.code)
    assert len(store.answers("Sam")) == 1 and len(store.answers("Sam", deck=deck.code)) == 1
    assert schema_version(db) == SCHEMA_VERSION


def test_a_class_session_runs_on_a_deck(store):
    deck, token = store.create_deck("Family")
    session, educator = store.create_session("Tuesday group", EMOTIONS, 5, 2, deck=deck.code.lower())
    assert store.join_session(session.code).deck == deck.code
    store.record("Sam", answer(HAPPY, HAPPY, face=f"deck:{deck.code}:1"), session=session.code, deck=deck.code)
    assert store.session_report(session.code, educator).learners["Sam"].answered == 1
    with pytest.raises(UnknownDeckCode):
        store.create_session("Elsewhere", EMOTIONS, 5, 2, deck="ZZZZZZ")


def stored_bytes(db) -> bytes:
    """Every value in every table, as bytes: what a copy of the database would hold."""
    tables = ("sessions", "answers", "display_choices", "learners", "decks", "deck_faces", "classes",
              "class_members", "focuses")
    return b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                    for table in tables for row in query(db, f"SELECT * FROM {table}") for v in row)


def test_deleting_a_deck_takes_its_faces_but_another_educators_session_on_it_keeps_its_counts(db, store):
    deck, owner = store.create_deck("Family")
    store.add_deck_faces(deck.code, owner, crops(2) + crops(1, SAD), permission=True)
    happy, _, sad = store.deck_faces(deck.code)
    session, educator = store.create_session("Tuesday group", EMOTIONS, 5, 2, deck=deck.code)  # another educator
    _, sams_key = store.register_learner("Sam")
    for learner, face, guess in (("Sam", happy, HAPPY), ("Sam", sad, FEAR), ("Ana", sad, SAD)):
        store.record(learner, answer(face.label, guess, face=f"deck:{deck.code}:{face.id}"), session=session.code,
                     deck=deck.code, question_id=f"{learner}-{face.id}")
    store.record("Sam", answer(HAPPY, HAPPY, face=f"deck:{deck.code}:{happy.id}"), deck=deck.code)  # on his own
    before = store.session_report(session.code, educator)

    assert store.delete_deck(deck.code, owner) == 3
    after = store.session_report(session.code, educator)
    assert (after.learners, after.emotions, after.most_missed) == (before.learners, before.emotions,
                                                                  before.most_missed)
    assert after.session.deck == deck.code and after.session.deck_deleted and not before.session.deck_deleted
    assert len(store.export_csv(session.code, educator).splitlines()) == 1 + 3
    assert query(db, "SELECT COUNT(*) FROM deck_faces") == [(0,)]
    assert b"colour crop" not in stored_bytes(db) and b"reading 0" not in stored_bytes(db)  # no face's bytes left
    assert b"Family" not in stored_bytes(db)  # nor the deck's name
    assert [a.session for a in store.answers("Sam", deck=deck.code)] == [session.code] * 2  # his own practice went
    with pytest.raises(UnknownDeckCode):  # nobody answers on the deck any more, in the session or not
        store.record("Ana", answer(HAPPY, HAPPY, face=f"deck:{deck.code}:{happy.id}"), session=session.code,
                     deck=deck.code)
    with pytest.raises(UnknownDeckCode):
        store.create_session("Again", EMOTIONS, 5, 2, deck=deck.code)
    for opening in (store.open_deck, store.deck_faces):
        with pytest.raises(UnknownDeckCode, match="no deck with the code .* deleted"):
            opening(deck.code)
    with pytest.raises(UnknownDeckCode):
        store.delete_deck(deck.code, owner)
    # One answer per question still: a retry of an answer kept before the deck went stores nothing twice.
    store.record("Ana", answer(SAD, SAD, face=f"deck:{deck.code}:{sad.id}"), session=session.code, deck=deck.code,
                 question_id=f"Ana-{sad.id}")
    assert store.session_report(session.code, educator).learners["Ana"].answered == 1
    store.forget_learner("Sam", sams_key)  # forget-me reaches the kept answers too
    assert list(store.session_report(session.code, educator).learners) == ["Ana"]
    assert store.delete_session(session.code, educator) == 1


def test_a_version_6_database_keeps_a_session_on_a_deck_its_owner_deletes(db):
    store = Store(db)
    deck, owner = store.create_deck("Family")
    session, educator = store.create_session("Tuesday group", EMOTIONS, 5, 2, deck=deck.code)
    store.record("Sam", answer(HAPPY, HAPPY, face=f"deck:{deck.code}:1"), session=session.code, deck=deck.code)
    store.close()
    if isinstance(db, Path):
        query(db, "ALTER TABLE decks DROP COLUMN deleted_at")
        query(db, "PRAGMA user_version = 6")
    else:
        for sql in ("ALTER TABLE decks DROP COLUMN deleted_at", "DELETE FROM schema_version",
                    "INSERT INTO schema_version VALUES (6)"):
            query(db, sql)
    store = Store(db)
    store.delete_deck(deck.code, owner)
    assert store.session_report(session.code, educator).learners["Sam"].answered == 1
    assert store.join_session(session.code).deck_deleted and schema_version(db) == SCHEMA_VERSION
