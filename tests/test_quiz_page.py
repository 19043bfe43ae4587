"""The quiz page driven as a learner would, on tiny generated data and a tiny model."""
import sqlite3
from contextlib import closing

import keras
import pytest
from conftest import sign_in
from streamlit.testing.v1 import AppTest

from fercore.artifact import save_artifact
from fercore.labels import EMOTIONS
from fercore.model import build_model, hyperparameters
from fercore.store import Store, backends


@pytest.fixture
def quiz_env(folder_dataset, monkeypatch, tmp_path):
    keras.utils.set_random_seed(0)
    model = save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), tmp_path / "m.keras", {})
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_MODEL", str(model))
    monkeypatch.setenv("FER_DB", str(tmp_path / "progress.sqlite3"))
    return tmp_path / "progress.sqlite3"


def _page(nickname):
    app = AppTest.from_file("../pages/quiz.py", default_timeout=120).run()
    return sign_in(app, nickname)


def _choice_buttons(app):
    return [b for b in app.button if b.key and b.key.startswith("choice-")]


def test_answering_reveals_label_guess_and_model_and_is_stored(quiz_env):
    app = _page("Sam")
    assert not app.exception
    choices = _choice_buttons(app)
    assert len(choices) == 2  # level 1: two choices
    guess = choices[0].label.lower()
    choices[0].click()
    app.run()
    # The heatmap comes inside the reveal's message, not as a media file a later run may drop before the
    # browser fetched it (a blank heatmap under its caption)
    heatmap = [img for element in app.get("image") for img in element.proto.imgs if "heatmap" in img.alt]
    assert len(heatmap) == 1 and heatmap[0].url.startswith("data:image/png;base64,")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["You chose"] == guess
    assert metrics["Dataset label"] in EMOTIONS and metrics["The model read"] in EMOTIONS
    assert any("often looks like" in i.value for i in app.info)
    assert [a.guess for a in Store(quiz_env).answers("Sam")] == [EMOTIONS.index(guess)]
    next(b for b in app.button if b.label == "Next face").click()
    app.run()
    assert len(_choice_buttons(app)) == 2 and not app.metric


def test_a_learner_joins_an_educator_session_by_code(quiz_env):
    session, token = Store(quiz_env).create_session("Tuesday group", ["happy", "sad"], questions=2, level=4)
    app = _page("Alex")
    app.text_input(key="class_code").input(session.code.lower())
    app.run()
    assert not app.exception
    assert {b.label.lower() for b in _choice_buttons(app)} == {"happy", "sad"}  # the session's emotions only
    _choice_buttons(app)[0].click()
    app.run()
    report = Store(quiz_env).session_report(session.code, token)
    assert "Alex" in report.learners and report.learners["Alex"].answered == 1


def test_a_class_join_link_fills_in_the_code(quiz_env):
    session, _ = Store(quiz_env).create_session("Tuesday group", ["happy", "sad"], questions=2, level=4)
    app = AppTest.from_file("../pages/quiz.py", default_timeout=120)
    app.query_params["code"] = session.code
    app = sign_in(app.run(), "Robin")
    assert not app.exception
    assert app.text_input(key="class_code").value == session.code
    assert {b.label.lower() for b in _choice_buttons(app)} == {"happy", "sad"}


def test_a_wrong_class_code_is_explained(quiz_env):
    app = _page("Kim")
    app.text_input(key="class_code").input("ZZZZZZ")
    app.run()
    assert not app.exception and "no session, class or deck" in app.warning[0].value.lower()


def test_without_the_dataset_the_quiz_says_how_to_get_it(quiz_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(tmp_path / "nowhere"))
    app = _page("Sam")
    assert not app.exception
    assert [h.value for h in app.subheader] == ["First, get the faces"]
    assert any("kaggle.com/datasets/msambare/fer2013" in m.value for m in app.markdown)  # where to download
    looks = " ".join(c.value.replace("\\", "") for c in app.caption)
    assert "fercore looks in the app's data folder" in looks and str(tmp_path) not in looks  # not the server's path


def test_every_image_has_a_text_alternative_and_the_question_gives_no_answer_away(quiz_env):
    app = _page("Sam")
    question = [img.alt for element in app.get("image") for img in element.proto.imgs]
    assert question and all(question)
    assert not any(emotion in text.lower() for text in question for emotion in EMOTIONS)
    _choice_buttons(app)[0].click()
    app.run()
    revealed = [img.alt for element in app.get("image") for img in element.proto.imgs]
    assert len(revealed) == 2 and all(revealed)
    model_read = next(m.value for m in app.metric if m.label == "The model read")
    assert f"looked for {model_read}" in revealed[1]


def test_read_aloud_speaks_the_question_and_the_reveal_only_when_chosen(quiz_env):
    app = _page("Sam")
    assert not spoken(app)  # off by default
    app.session_state["display_read_aloud"] = True
    app.run()
    assert "Which emotion do you see?" in spoken(app)
    _choice_buttons(app)[0].click()
    app.run()
    assert "often looks like" in spoken(app)


def spoken(app) -> str:
    return " ".join(str(element.proto) for element in app.get("iframe") if "speechSynthesis" in str(element.proto))


def test_a_new_learner_gets_a_key_and_a_taken_nickname_needs_it(quiz_env):
    app = _page("Robin")
    key = app.code[0].value
    assert "personal key" in app.success[0].value and len(key) == 9
    assert Store(quiz_env).sign_in("robin", key) == "Robin"

    other = _page("ROBIN")  # another browser, the same nickname in other case
    assert "is taken" in other.warning[0].value and not _choice_buttons(other)
    other = sign_in(other, "robin", "WRONG-KEY")
    assert "does not open" in other.warning[0].value and not _choice_buttons(other)
    other = sign_in(other, "robin", key.lower())
    assert _choice_buttons(other) and any("Practising as **Robin**" in c.value for c in other.caption)


def test_the_end_of_a_class_session_shows_the_learners_own_result_and_a_next_step(quiz_env):
    session, _ = Store(quiz_env).create_session("Tuesday group", ["happy", "sad"], questions=2, level=4)
    app = _page("Alex")
    app.text_input(key="class_code").input(session.code)
    app.run()
    for _ in range(2):
        _choice_buttons(app)[0].click()
        app.run()
        line = next(c.value for c in app.caption if "matched the label" in c.value)
        next(b for b in app.button if b.label == "Next face").click()
        app.run()
    assert "in this session" in line
    assert any("answered all 2 faces" in s.value for s in app.success)
    answers = Store(quiz_env).session_result("Alex", session.code).overall
    assert any(f"{answers.correct} of 2 of your answers" in m.value for m in app.markdown)
    assert app.get("plotly_chart") and not _choice_buttons(app)
    next(b for b in app.button if b.label == "Practise on my own").click()
    app.run()
    assert app.text_input(key="class_code").value == "" and _choice_buttons(app)


def test_an_answer_the_database_cannot_take_is_not_revealed_and_the_learner_is_told(quiz_env, monkeypatch):
    monkeypatch.setattr(backends, "BUSY_TIMEOUT_S", 0.5)  # the page's store gives up on a lock quickly
    app = _page("Sam")
    with closing(sqlite3.connect(quiz_env, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")  # another program holds the database
        guess = _choice_buttons(app)[0].label
        _choice_buttons(app)[0].click()
        app.run()
        assert not app.exception and not app.metric  # no reveal of an answer that is not saved
        assert any("Your answer was not saved" in w.value and "locked" in w.value for w in app.warning)
        assert Store(quiz_env).answers("Sam") == []
        other.execute("ROLLBACK")
    next(b for b in _choice_buttons(app) if b.label == guess).click()  # the same face, chosen again
    app.run()
    assert {m.label: m.value for m in app.metric}["You chose"] == guess.lower()
    assert not app.warning
    assert [a.guess for a in Store(quiz_env).answers("Sam")] == [EMOTIONS.index(guess.lower())]


def test_a_learner_practises_a_deck_by_its_code_in_colour_apart_from_fer2013_until_it_is_deleted(
        real_data_path, quiz_env):  # the real faces' folder, read before quiz_env points FER_DATA at tiny ones
    from deck_photos import labelled_faces, photos_zip

    from fercore.decks import add_faces, faces_of, read_zip

    from fercore.store import Answer

    owner = Store(quiz_env)
    deck, token = owner.create_deck("Our family")
    labelled = labelled_faces(real_data_path, 4)
    add_faces(owner, deck.code, token, faces_of(read_zip(photos_zip(labelled), "family.zip")), permission=True)
    for label in range(len(EMOTIONS)):  # nine faces of each emotion read on FER2013's faces
        for n in range(9):
            owner.record("Sam", Answer(f"PublicTest_{label}{n}", label, label, label, 1), question_id=f"q{label}-{n}")
    fer2013 = owner.answers("Sam")
    app = _page("Sam")
    app.text_input(key="class_code").input(deck.code.lower())
    app.run()
    assert not app.exception
    question = [img.alt for element in app.get("image") for img in element.proto.imgs]
    assert question == ["A face from the practice deck Our family, in colour. Which emotion do you see?"]
    _choice_buttons(app)[0].click()
    app.run()
    metrics = {m.label: m.value for m in app.metric}
    # The label is the deck owner's, not FER2013's, and the reveal says so.
    assert "Dataset label" not in metrics
    assert metrics["The deck owner's label"] in {emotion for emotion, _ in labelled}
    assert len([img for element in app.get("image") for img in element.proto.imgs]) == 2  # face and heatmap
    kept = owner.answers("Sam", deck=deck.code)
    assert len(kept) == 1 and kept[0].face_id.startswith(f"deck:{deck.code}:") and owner.answers("Sam") == fer2013
    # the deck's face is the tenth of its emotion read: a mark of practice
    label = metrics["The deck owner's label"]
    mark = f"A mark of practice: 10 {label} faces read."
    assert any(c.value.startswith(mark) for c in app.caption), [c.value for c in app.caption]

    owner.delete_deck(deck.code, token)
    next(b for b in app.button if b.label == "Next face").click()
    app.run()
    assert not app.exception and not _choice_buttons(app)
    assert "deleted" in app.warning[0].value


def test_a_class_session_on_a_deck_shows_the_decks_faces_and_counts_its_answers(real_data_path, quiz_env):
    from deck_photos import labelled_faces, photos_zip

    from fercore.decks import add_faces, faces_of, read_zip

    store = Store(quiz_env)
    deck, token = store.create_deck("Class photos")
    add_faces(store, deck.code, token, faces_of(read_zip(photos_zip(labelled_faces(real_data_path, 3)), "c.zip")),
              permission=True)
    session, educator = store.create_session("Tuesday group", EMOTIONS, questions=2, level=4, deck=deck.code)
    app = _page("Alex")
    app.text_input(key="class_code").input(session.code)
    app.run()
    assert not app.exception
    assert [img.alt for element in app.get("image") for img in element.proto.imgs][0].startswith(
        "A face from the practice deck Class photos, in colour")
    _choice_buttons(app)[0].click()
    app.run()
    (kept,) = store.answers("Alex", deck=deck.code)
    assert kept.session == session.code and store.session_report(session.code, educator).learners["Alex"].answered == 1


def test_a_learner_typing_the_code_of_a_session_whose_deck_was_deleted_is_told_so(quiz_env):
    store = Store(quiz_env)
    deck, token = store.create_deck("Class photos")
    session, _ = store.create_session("Tuesday group", EMOTIONS, questions=2, level=4, deck=deck.code)
    store.delete_deck(deck.code, token)
    app = _page("Alex")
    app.text_input(key="class_code").input(session.code)
    app.run()
    assert not app.exception and not _choice_buttons(app)
    assert "Tuesday group" in app.warning[0].value and "deck" in app.warning[0].value  # the session, not "no code"
