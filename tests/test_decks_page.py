"""The Practice decks page, driven as a deck's owner would, on a tiny model and faces made from FER2013 photos.
Adding photos through the browser's file picker is in tests/test_e2e.py (AppTest cannot upload files)."""
import keras
import pytest
from deck_photos import labelled_faces, photos_zip
from streamlit.testing.v1 import AppTest

from fercore.artifact import save_artifact
from fercore.decks import add_faces, faces_of, read_zip
from fercore.labels import EMOTIONS
from fercore.model import build_model, hyperparameters
from fercore.store import Store, UnknownDeckCode


@pytest.fixture
def owner_env(real_data_path, monkeypatch, tmp_path):
    keras.utils.set_random_seed(0)
    model = save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), tmp_path / "m.keras", {})
    monkeypatch.setenv("FER_MODEL", str(model))
    monkeypatch.setenv("FER_DB", str(tmp_path / "progress.sqlite3"))
    return Store(tmp_path / "progress.sqlite3"), labelled_faces(real_data_path, 4)


def test_an_owner_makes_a_deck_sees_its_faces_with_the_models_reading_relabels_removes_and_deletes(owner_env):
    store, labelled = owner_env
    app = AppTest.from_file("../pages/decks.py", default_timeout=120).run()
    app.text_input(key="new_deck_name").input("Our family")
    next(b for b in app.button if b.label == "Make the deck").click()
    app.run()
    code, token = app.session_state["deck_code"], app.session_state["deck_token"]
    assert code in app.success[0].value and token in app.success[0].value  # the token, shown once

    add_faces(store, code, token, faces_of(read_zip(photos_zip(labelled), "family.zip")), permission=True)
    app.run()
    assert not app.exception
    captions = [img.caption for element in app.get("image") for img in element.proto.imgs]
    assert len(captions) == 4 and all("the model reads" in c for c in captions)
    assert [c.split(",")[0] for c in captions] == [f"labelled {emotion}" for emotion, _ in labelled]
    differ = sum(c.split(", the model reads ")[1] != c.split(",")[0].removeprefix("labelled ") for c in captions)
    assert f"The model reads {differ} face(s) differently" in " ".join(m.value for m in app.markdown)
    assert app.get("download_button")  # export

    first, second = store.deck_faces(code)[:2]
    new_label = "surprise" if EMOTIONS[first.label] != "surprise" else "fear"
    app.selectbox(key=f"label-{first.id}").set_value(new_label).run()
    app.button(key=f"remove-{second.id}").click().run()
    assert [(f.id, EMOTIONS[f.label]) for f in store.deck_faces(code)][:1] == [(first.id, new_label)]
    assert second.id not in [f.id for f in store.deck_faces(code)] and store.open_deck(code).faces == 3

    app.checkbox(key="delete_sure").check().run()
    next(b for b in app.button if b.label == "Delete the deck").click()
    app.run()
    assert not app.exception and f"Deck {code} and its 3 face(s) are deleted" in app.success[0].value
    with pytest.raises(UnknownDeckCode):
        store.open_deck(code)


def test_a_wrong_owner_token_opens_nothing(owner_env):
    store, _ = owner_env
    deck, _ = store.create_deck("Family")
    app = AppTest.from_file("../pages/decks.py", default_timeout=120).run()
    app.text_input(key="deck_code").input(deck.code)
    app.text_input(key="deck_token").input("ABCD-EFGH-JKMN")
    app.run()
    assert not app.exception and "does not open deck" in app.warning[0].value
    assert not app.get("image")


@pytest.fixture
def empty_deck(monkeypatch, tmp_path):
    """An owner's page open on a deck with no faces yet: no model and no FER2013 needed."""
    monkeypatch.setenv("FER_DB", str(tmp_path / "progress.sqlite3"))
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no-model.keras"))
    store = Store(tmp_path / "progress.sqlite3")
    deck, token = store.create_deck("Family")
    app = AppTest.from_file("../pages/decks.py", default_timeout=120)
    app.session_state["deck_code"], app.session_state["deck_token"] = deck.code, token
    return app


def test_the_owner_is_told_before_deleting_that_sessions_on_the_deck_keep_their_counts_but_lose_the_faces(
        empty_deck):
    app = empty_deck.run()
    assert not app.exception
    said = " ".join(m.value for m in app.markdown)
    assert "other educators'" in said and "keep their counts of answers but lose the faces" in said


def test_a_zip_of_499_unusable_files_gets_one_warning_not_499(empty_deck):
    from test_decks import bad_files_zip

    from fercore.decks import read_zip

    empty_deck.session_state["pending"] = read_zip(bad_files_zip(497, 2), "family.zip")
    app = empty_deck.run()
    assert not app.exception
    assert [w.value.replace("\\", "") for w in app.warning] == [
        "499 of 499 files were skipped: 497 are not images (note_000.txt, note_001.txt and 495 more), 2 are too "
        "large (big_0.jpg, big_1.jpg). fercore reads JPEG, PNG, WebP, BMP and TIFF photos. A photo can be up to "
        "20 MB."]
