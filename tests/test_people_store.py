"""Answers with people (the store): kept once per question under the learner, apart from the quiz's answers,
gone with forget-me and retention, seen by a class's educator since joining and in a session's report. Each
test runs on SQLite and on PostgreSQL (conftest.py's `db`)."""
from datetime import datetime, timedelta, timezone

import pytest
from test_store import answer, query

from fercore.labels import EMOTIONS, INDEX
from fercore.store import PeopleAnswer, PeopleTally, Store, StoreError, UnknownSessionCode

FEAR, HAPPY, SAD = (INDEX[e] for e in ("fear", "happy", "sad"))


def guess(question_id, intended, choice, reading=None, probability=None) -> PeopleAnswer:
    return PeopleAnswer(question_id, "guess", intended, choice, reading, probability)


def test_a_guess_is_stored_once_per_question_listed_and_tallied_by_intended_emotion(store):
    assert store.record_with_people("Ana", guess("q-1", HAPPY, HAPPY, HAPPY, 0.9))
    assert not store.record_with_people("ana", guess("q-1", HAPPY, SAD, SAD, 0.5))  # a retry keeps the first
    store.record_with_people("Ana", guess("q-2", HAPPY, SAD, FEAR, 0.6))
    store.record_with_people("Ana", guess("q-3", SAD, SAD))  # no face found: no reading
    store.record_with_people("Ben", guess("q-4", SAD, SAD, SAD, 0.7))

    kept = store.answers_with_people("ANA")
    assert [(a.question_id, a.intended, a.choice, a.model_reading) for a in kept] == [
        ("q-1", HAPPY, HAPPY, HAPPY), ("q-2", HAPPY, SAD, FEAR), ("q-3", SAD, SAD, None)]
    assert kept[0].model_probability == pytest.approx(0.9) and kept[2].model_probability is None
    assert {a.learner for a in kept} == {"Ana"} and kept[0].game == "guess" and kept[0].session is None
    assert store.with_people_by_emotion("Ana") == {"happy": PeopleTally(2, 1, 1), "sad": PeopleTally(1, 1, 0)}
    assert store.with_people_faces_by_emotion("ana") == {"happy": 2, "sad": 1}
    with pytest.raises(StoreError):
        store.record_with_people("Ana", PeopleAnswer("q-5", "charades", HAPPY, HAPPY, None, None))
    with pytest.raises(UnknownSessionCode):
        store.record_with_people("Ana", guess("q-6", HAPPY, HAPPY), session="ZZZZZZ")


def test_answers_with_people_are_kept_apart_from_the_quizs_and_go_with_forget_me(store):
    _, key = store.register_learner("Ana")
    store.record("Ana", answer(HAPPY, HAPPY), question_id="q-1")
    store.record_with_people("Ana", guess("q-1", SAD, SAD))  # the same id in the other table is no clash
    store.record_with_people("Ana", guess("q-2", FEAR, SAD))
    deck, _ = store.create_deck("Our family")
    store.record("ANA", answer(HAPPY, SAD), question_id="q-3", deck=deck.code)
    assert [a.true_label for a in store.answers("Ana")] == [HAPPY]
    assert [a.intended for a in store.answers_with_people("Ana")] == [SAD, FEAR]
    # faces read, as the marks of practice count them: the quiz's on FER2013 and on decks, and with people
    assert store.quiz_faces_by_emotion("ana") == {"happy": 2}
    assert store.with_people_faces_by_emotion("Ana") == {"sad": 1, "fear": 1}

    assert store.forget_learner("Ana", key) == 4
    assert store.answers_with_people("Ana") == [] and store.with_people_by_emotion("Ana") == {}
    assert store.quiz_faces_by_emotion("Ana") == {} and store.with_people_faces_by_emotion("Ana") == {}


def test_answers_with_people_past_the_retention_period_are_deleted_and_keep_a_learner_while_kept(store):
    now = datetime.now(timezone.utc)
    store.register_learner("Ana")
    store.record_with_people("Ana", guess("old", HAPPY, HAPPY), at=now)
    store.record_with_people("Ana", guess("new", SAD, SAD), at=now + timedelta(days=30))
    store.expire(180, now=now + timedelta(days=185))  # seen then: the first answer and Ana's key are past 180 days
    assert [a.question_id for a in store.answers_with_people("Ana")] == ["new"] and store.is_registered("Ana")


def test_the_class_view_and_the_session_report_count_answers_with_people(store):
    classroom, token = store.create_class("Blue group")
    in_class, educator = store.create_session("Tuesday", EMOTIONS, 5, 1, class_code=classroom.code,
                                              class_token=token)
    elsewhere, _ = store.create_session("Another educator's", EMOTIONS, 5, 1)
    store.register_learner("Zoe")
    store.record_with_people("Zoe", guess("before", SAD, SAD), at=datetime.now(timezone.utc) - timedelta(days=1))
    store.join_class("Zoe", classroom.code)
    store.record_with_people("Zoe", guess("alone", HAPPY, HAPPY, HAPPY, 0.8))
    store.record_with_people("Zoe", guess("tuesday", HAPPY, FEAR, FEAR, 0.4), session=in_class.code)
    store.record_with_people("Zoe", guess("elsewhere", SAD, SAD), session=elsewhere.code)

    (zoe,) = store.class_view(classroom.code, token).members
    assert zoe.with_people == {"happy": PeopleTally(2, 1, 1)} and zoe.answers == []
    assert store.session_report(in_class.code, educator).with_people == {"happy": PeopleTally(1, 0, 0)}


def test_both_databases_keep_answers_with_people_in_the_same_columns(tmp_path, postgres_url):
    Store(tmp_path / "progress.sqlite3")
    Store(postgres_url).close()
    sqlite_columns = [row[1] for row in query(tmp_path / "progress.sqlite3", "PRAGMA table_info(answers_with_people)")]
    postgres_columns = [row[0] for row in query(
        postgres_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'answers_with_people' "
        "AND table_schema = current_schema() ORDER BY ordinal_position")]
    assert sqlite_columns == postgres_columns and "picture" not in " ".join(sqlite_columns)
