"""Classes that last (the store): a learner's answers reach a class's educator only from joining until
leaving, only with the class's token, and only those given alone or in the class's sessions. Each test runs
on SQLite and on PostgreSQL (conftest.py's `db`)."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_store import answer, query, schema_version

from fercore.labels import EMOTIONS, INDEX
from fercore.store import SCHEMA_VERSION, Store, StoreError, UnknownClassCode, WrongEducatorToken

FEAR, HAPPY, SAD = (INDEX[e] for e in ("fear", "happy", "sad"))


def joined(store, *names):
    """A class with these learners in it; returns (class, token)."""
    classroom, token = store.create_class("Blue group")
    for name in names:
        store.register_learner(name)
        store.join_class(name, classroom.code)
    return classroom, token


def test_learners_join_a_class_by_its_code_and_see_which_classes_see_their_answers(store):
    classroom, token = store.create_class("  Blue   group ")
    assert classroom.name == "Blue group" and len(token) == 14
    store.register_learner("Ana")
    membership = store.join_class("ana", f" {classroom.code.lower()} ")
    again = store.join_class("ANA", classroom.code)  # joining twice keeps the first date
    assert membership == again and membership.classroom == classroom
    assert [m.classroom.name for m in store.memberships("Ana")] == ["Blue group"]
    assert store.memberships("Ben") == []
    with pytest.raises(UnknownClassCode, match="no class with the code ZZZZZZ"):
        store.join_class("Ana", "zzzzzz")
    with pytest.raises(StoreError):
        store.create_class("  ")


def test_the_educator_sees_only_answers_since_joining_given_alone_or_in_the_class_sessions(store):
    classroom, token = store.create_class("Blue group")
    in_class, _ = store.create_session("Tuesday", EMOTIONS, 5, 1, class_code=classroom.code, class_token=token)
    elsewhere, _ = store.create_session("Another educator's", EMOTIONS, 5, 1)
    store.register_learner("Zoe")
    store.record("Zoe", answer(HAPPY, HAPPY, face="before"), at=datetime.now(timezone.utc) - timedelta(days=1))
    store.join_class("Zoe", classroom.code)
    store.record("Zoe", answer(SAD, FEAR, face="alone"))
    store.record("Zoe", answer(FEAR, FEAR, face="tuesday"), session=in_class.code)
    store.record("Zoe", answer(FEAR, SAD, face="elsewhere"), session=elsewhere.code)
    store.register_learner("Ana")
    store.join_class("Ana", classroom.code)
    store.record("Ben", answer(SAD, SAD, face="not a member"), session=in_class.code)

    view = store.class_view(classroom.code, token)
    assert [m.name for m in view.members] == ["Ana", "Zoe"]  # by name, never by score
    assert [a.face_id for a in view.members[1].answers] == ["alone", "tuesday"]
    assert view.members[0].answers == []
    assert [s.code for s in view.sessions] == [in_class.code]
    for wrong in ("", "NOT-THE-TOKEN"):
        with pytest.raises(WrongEducatorToken):
            store.class_view(classroom.code, wrong)


def test_a_session_run_in_a_class_opens_with_the_class_token(store):
    classroom, token = store.create_class("Blue group")
    session, session_token = store.create_session("Tuesday", ["fear"], 5, 2, class_code=classroom.code,
                                                  class_token=token)
    assert session_token == token and store.join_session(session.code).class_code == classroom.code
    assert store.session_report(session.code, token).session == session
    with pytest.raises(WrongEducatorToken):
        store.create_session("Thursday", ["fear"], 5, 2, class_code=classroom.code, class_token="NOT-THE-TOKEN")
    alone, _ = store.create_session("A one-off", ["sad"], 5, 1)  # a session without a class still works
    assert alone.class_code is None


def test_a_learner_who_leaves_disappears_from_the_class_view_with_their_next_step(store):
    classroom, token = joined(store, "Ana", "Zoe")
    store.record("Zoe", answer(SAD, SAD))
    store.set_focus(classroom.code, token, ["sad"], 2, learner="Zoe")
    store.leave_class("zoe", classroom.code)
    view = store.class_view(classroom.code, token)
    assert [m.name for m in view.members] == ["Ana"]
    assert store.memberships("Zoe") == [] and store.suggested_focus("Zoe") is None
    store.join_class("Zoe", classroom.code)  # back again: only what comes after joining again
    assert [m.answers for m in store.class_view(classroom.code, token).members] == [[], []]


def test_forget_me_removes_the_learner_from_every_class(store):
    classroom, token = joined(store, "Zoe")
    other, _ = store.create_class("Red group")
    store.join_class("Zoe", other.code)
    store.set_focus(classroom.code, token, ["fear"], 1, learner="Zoe")
    _, key = store.register_learner("Ana")
    store.join_class("Ana", classroom.code)
    store.forget_learner("Ana", key)
    store.register_learner("Ana")  # someone new with the same nickname is not in the class
    assert [m.name for m in store.class_view(classroom.code, token).members] == ["Zoe"]
    assert store.memberships("Ana") == [] and store.suggested_focus("Ana") is None
    assert {m.classroom.code for m in store.memberships("Zoe")} == {classroom.code, other.code}


def test_a_next_step_for_a_learner_comes_before_one_for_the_whole_class(store):
    classroom, token = joined(store, "Ana", "Zoe")
    whole = store.set_focus(classroom.code, token, ["fear", "sad"], 2, note="  Look at the eyes. ")
    assert whole.emotions == ("fear", "sad") and whole.note == "Look at the eyes." and whole.learner is None
    assert store.suggested_focus("Ana") == whole == store.suggested_focus("Zoe")
    own = store.set_focus(classroom.code, token, ["happy"], 1, note="Smiles first", learner="zoe")
    assert own.learner == "Zoe" and store.suggested_focus("Zoe") == own
    assert store.suggested_focus("Ana") == whole  # one learner's next step is theirs alone
    view = store.class_view(classroom.code, token)
    assert view.focus == whole and [m.focus for m in view.members] == [None, own]
    store.clear_focus(classroom.code, token, learner="Zoe")
    assert store.suggested_focus("Zoe") == whole
    store.clear_focus(classroom.code, token)
    assert store.suggested_focus("Zoe") is None
    store.register_learner("Cy")
    for wrong in ({"emotions": ["joy"]}, {"emotions": []}, {"learner": "Cy"}, {"note": "x" * 501}):
        with pytest.raises(StoreError):
            store.set_focus(classroom.code, token, **({"emotions": ["sad"], "level": 1} | wrong))
    with pytest.raises(WrongEducatorToken):
        store.set_focus(classroom.code, "NOT-THE-TOKEN", ["sad"], 1)


def test_a_class_unused_past_the_retention_period_is_deleted_and_a_used_one_kept(store):
    now = datetime.now(timezone.utc)
    idle, _ = joined(store, "Ana")
    used, token = store.create_class("Red group")
    later = now + timedelta(days=100)
    store.join_class("Ana", used.code)
    query(store.path, "UPDATE class_members SET joined_at = ? WHERE class_code = ?", (later.isoformat(), used.code))
    store.record("Ana", answer(SAD, SAD), at=later)
    store.register_learner("Cy")  # never answered: gone after the retention period, and from the class
    store.join_class("Cy", used.code)
    store.expire(180, now=now + timedelta(days=185))
    with pytest.raises(UnknownClassCode):
        store.classroom(idle.code)
    assert [m.classroom.code for m in store.memberships("Ana")] == [used.code]
    assert [m.name for m in store.class_view(used.code, token).members] == ["Ana"]


def test_a_version_5_database_keeps_its_sessions_and_answers_and_gains_classes(db):
    store = Store(db)
    session, token = store.create_session("Tuesday", ["sad"], 3, 1)
    store.record("Sam", answer(SAD, SAD), session=session.code)
    store.close()
    downgrade = ["DROP TABLE focuses", "DROP TABLE class_members", "DROP TABLE classes",
                 "ALTER TABLE sessions DROP COLUMN class_code"]
    if isinstance(db, Path):
        downgrade.append("PRAGMA user_version = 5")
    else:
        downgrade += ["DELETE FROM schema_version", "INSERT INTO schema_version VALUES (5)"]
    for sql in downgrade:  # as a database from before classes
        query(db, sql)
    store = Store(db)
    assert store.session_report(session.code, token).learners["Sam"].answered == 1
    classroom, class_token = store.create_class("Blue group")
    store.create_session("Thursday", ["sad"], 3, 1, class_code=classroom.code, class_token=class_token)
    assert schema_version(db) == SCHEMA_VERSION


def test_a_next_step_may_name_a_practice_deck_and_loses_it_when_the_deck_is_deleted(store):
    classroom, token = joined(store, "Zoe")
    deck, owner = store.create_deck("Family")
    focus = store.set_focus(classroom.code, token, ["happy"], 1, learner="Zoe", deck=deck.code.lower())
    assert focus.deck == (deck.code, "Family") == store.suggested_focus("Zoe").deck
    with pytest.raises(StoreError, match="ZZZZZZ"):
        store.set_focus(classroom.code, token, ["happy"], 1, deck="zzzzzz")
    store.delete_deck(deck.code, owner)
    assert store.suggested_focus("Zoe").deck is None and store.suggested_focus("Zoe").emotions == ("happy",)
