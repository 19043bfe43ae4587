"""Progress and educator pages, driven as their users would."""
from conftest import sign_in
from streamlit.testing.v1 import AppTest

from fercore.store import Answer


def test_progress_shows_the_learners_numbers_and_charts(pages_store):
    for guess in (3, 3, 4):
        pages_store.record("Sam", Answer("PublicTest_1", 3, guess, 3, 1))
    app = AppTest.from_file("../pages/progress.py", default_timeout=60).run()
    sign_in(app, "sam")
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Faces answered"] == "3" and metrics["Matched the label"] == "67%"
    assert metrics["Current run"] == "0"
    assert len(app.get("plotly_chart")) == 3


def test_a_long_history_reads_as_one_smooth_line_per_emotion_with_newest_sittings_first(pages_store):
    from datetime import datetime, timedelta

    start = (datetime.now() - timedelta(days=20)).astimezone()  # within the retention period
    for n in range(1200):  # 60 sittings of 20 answers, a sitting every five hours
        true = n % 7
        pages_store.record("Lee", Answer(f"PublicTest_{n}", true, true if n % 3 else (true + 1) % 7, true, 1),
                  at=start + timedelta(hours=5 * (n // 20), seconds=n))
    app = AppTest.from_file("../pages/progress.py", default_timeout=60).run()
    sign_in(app, "Lee")
    assert not app.exception
    trend = app.get("plotly_chart")[0].proto.spec
    assert "latest 30 answers" in trend and trend.count('"mode":"lines"') == 8  # 7 emotions and all together
    app.multiselect[0].set_value(["fear", "sad"]).run()
    assert app.get("plotly_chart")[0].proto.spec.count('"mode":"lines"') == 3
    started = list(app.dataframe[0].value["started"])
    assert started == sorted(started, reverse=True) and len(started) == 60


def test_educator_creates_a_session_and_sees_a_learners_answer_appear(pages_store):
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    app.text_input[0].input("Tuesday group")
    next(b for b in app.button if b.label == "Create session").click()
    app.run()
    assert not app.exception
    code, token = app.session_state["view_code"], app.session_state["view_token"]
    assert code in app.success[0].value and token in app.warning[0].value
    assert app.code[0].value.endswith(f"/quiz?code={code}")  # the join link, to share or show on a screen
    assert any("No answers yet" in i.value for i in app.info)

    pages_store.record("Alex", Answer("PublicTest_2", 4, 6, 4, 2), session=code)  # a learner answers meanwhile
    app.run()
    assert "1 learner(s)" in app.subheader[0].value
    assert len(app.get("plotly_chart")) == 3
    download = app.get("download_button")
    assert download, "CSV export offered"


def test_a_wrong_token_shows_nothing_of_the_session(pages_store):
    session, _ = pages_store.create_session("Group", ["happy"], 3, 1)
    pages_store.record("Alex", Answer("PublicTest_2", 3, 3, 3, 1), session=session.code)
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    app.text_input[2].input(session.code)
    app.text_input[3].input("AAAA-BBBB-CCCC")
    app.run()
    assert not app.exception and "does not open" in app.warning[0].value and not app.get("plotly_chart")


def test_forget_me_deletes_the_learners_answers_after_the_key(pages_store):
    _, key = pages_store.register_learner("Sam")
    pages_store.record("Sam", Answer("PublicTest_1", 3, 3, 3, 1))
    app = sign_in(AppTest.from_file("../pages/progress.py", default_timeout=60).run(), "Sam", key)
    assert {m.label: m.value for m in app.metric}["Faces answered"] == "1"
    confirm = next(box for box in app.text_input if box.label == "Type your key to confirm")
    confirm.input("NOT-MY-KEY")
    next(b for b in app.button if b.label == "Delete everything").click()
    app.run()
    assert "does not open" in app.warning[0].value and len(pages_store.answers("Sam")) == 1
    confirm = next(box for box in app.text_input if box.label == "Type your key to confirm")
    confirm.input(key)
    next(b for b in app.button if b.label == "Delete everything").click()
    app.run()
    assert "Deleted 1 answer(s)" in app.success[0].value and pages_store.answers("Sam") == []
    assert not pages_store.is_registered("Sam") and not app.metric


def test_an_educator_deletes_a_session_and_its_answers(pages_store):
    session, token = pages_store.create_session("Group", ["happy"], 3, 1)
    pages_store.record("Alex", Answer("PublicTest_2", 3, 3, 3, 1), session=session.code)
    pages_store.record("Alex", Answer("PublicTest_3", 3, 3, 3, 1))  # practice of their own stays
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    app.text_input[2].input(session.code)
    app.text_input[3].input(token)
    app.run()
    next(b for b in app.button if b.label == "Delete the session and its answers").click()
    app.run()
    assert not app.exception and f"{session.code} and its 1 answer(s) are deleted" in app.success[0].value
    assert [a.face_id for a in pages_store.answers("Alex")] == ["PublicTest_3"] and not app.get("plotly_chart")


def test_educator_runs_a_session_on_a_practice_deck_by_its_code(pages_store):
    deck, _ = pages_store.create_deck("Our class photos")
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    app.text_input(key="new_name").input("Tuesday group")
    app.text_input(key="new_deck").input("ZZZZZZ")
    next(b for b in app.button if b.label == "Create session").click()
    app.run()
    assert not app.exception and "no deck with the code ZZZZZZ" in app.warning[0].value
    app.text_input(key="new_deck").input(deck.code.lower())
    next(b for b in app.button if b.label == "Create session").click()
    app.run()
    assert pages_store.join_session(app.session_state["view_code"]).deck == deck.code
    assert any(f"On the practice deck {deck.code}" in c.value for c in app.caption)


def test_an_educator_whose_session_ran_on_a_deck_its_owner_deleted_keeps_the_counts_and_is_told(pages_store):
    deck, owner = pages_store.create_deck("Their family")  # another educator's deck
    pages_store.add_deck_faces(deck.code, owner, [(3, b"crop", b"reading")], permission=True)
    session, token = pages_store.create_session("Group", ["happy"], 3, 1, deck=deck.code)
    face = f"deck:{deck.code}:{pages_store.deck_faces(deck.code)[0].id}"
    pages_store.record("Alex", Answer(face, 3, 3, 3, 1), session=session.code, deck=deck.code)
    pages_store.record("Kim", Answer(face, 3, 4, 3, 1), session=session.code, deck=deck.code)
    pages_store.delete_deck(deck.code, owner)
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    app.text_input[2].input(session.code)
    app.text_input[3].input(token)
    app.run()
    assert not app.exception
    assert "2 learner(s)" in app.subheader[0].value and len(app.get("plotly_chart")) == 3  # the counts stay
    told = " ".join(i.value for i in app.info)
    assert "owner deleted the deck and its photos" in told and "counts" in told and "kept" in told


def test_partner_answers_and_marks_of_practice_show_on_progress_and_marks_are_off_in_no_scores_mode(pages_store):
    from fercore.store import PeopleAnswer

    for n in range(10):
        pages_store.record("Ana", Answer(f"PublicTest_{n}", 3, 3 if n % 2 else 4, 3, 1))
    pages_store.record_with_people("Ana", PeopleAnswer("q1", "guess", 0, 0, 3, 0.7))
    pages_store.record("Ben", Answer("PublicTest_99", 4, 4, 4, 1))  # another learner: never named on Ana's page
    app = AppTest.from_file("../pages/progress.py", default_timeout=60).run()
    sign_in(app, "Ana")
    assert not app.exception
    assert "With people" in [h.value for h in app.subheader]
    people = app.dataframe[-1].value
    assert list(people["emotion your partner meant"]) == ["angry"] and list(people["you saw it"]) == [1]
    marks = [m.value for m in app.markdown if "faces read" in m.value]
    assert marks == ["your first angry face with people · 10 happy faces read"]  # in the emotions' order
    assert not any("Ben" in m.value for m in app.markdown)

    app.session_state["no_scores"] = True
    app.run()
    assert "Marks of practice" not in [h.value for h in app.subheader]
