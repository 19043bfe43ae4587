"""What people type (class, session and deck names, nicknames, photos' file names, model names) shows as typed
wherever Streamlit reads Markdown: a class named ![b](http://host/x.png) must not make every learner who types
its code fetch that image, nor **bold** or a link dress up a label."""
import re

import numpy as np
import pytest
from conftest import sign_in
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest
from test_quiz_page import quiz_env  # noqa: F401 (a fixture)

from fercore.decks import Photo
from fercore.store import Answer, Store
from ui.text import WORD_JOINER, plain

# Two names within the 60 characters a class, session or deck name may have, between them every kind of markup.
NAMES = ("![b](http://host/x.png) **bold** :red[x]", "[link](http://x) <img src=x> _under_")
NICKNAME = "Zoe _under_ __bold__ www.x.co"  # a nickname may hold letters, digits, spaces and - _ .

# The text rewrites Streamlit 1.67's StreamlitMarkdown makes after parsing (static/js/StreamlitMarkdown.*.js).
STREAMLIT_REWRITES = {
    "material icon": r":material_(\w+):", "Streamlit logo": r":streamlit:", "emoji": r":\+1:|:-1:|:[\w-]+:",
    "arrow": r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)", "web link": r"(https?://|www(?=\.))([-.\w]+)",
    "e-mail link": r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"}
# Fields of an element that Streamlit renders as Markdown, and elements whose text it never reads as Markdown.
MARKDOWN_FIELDS = {"label", "body", "caption", "help", "options", "text"}
NOT_MARKDOWN = {"html", "code", "text", "json", "plotly_chart", "arrow_data_frame", "dataframe"}


def read_as_markdown(source: str) -> tuple[list[str], str]:
    """The kinds of inline pieces CommonMark reads in source, and its text with escapes resolved."""
    source = source.replace(":material/", ":material_")  # what Streamlit does to the source first
    block = MarkdownIt("commonmark").parse(source)
    inline = [t for t in block if t.type == "inline"]
    pieces = [child for t in inline for child in t.children]
    return [p.type for p in pieces] + [t.type for t in block if t.type != "inline"], "".join(
        p.content for p in pieces)


@pytest.mark.parametrize("typed", [
    *NAMES, NICKNAME, "<img src=x onerror=alert(1)>", "`code`", "# Heading", "1. list", "> quote", "$x^2$",
    "~~struck~~", ":material/home: :material_home: :streamlit: :smile: :+1:", "a -> b <= c -- d",
    "see http://x.co or www.x.co", "mail me@x.co", ":blue-background[x] :small[y]", "a|b|c", "10:30 x-ray @home"])
def test_plain_text_is_read_as_one_paragraph_of_the_typed_text_and_nothing_rewrites_it(typed):
    kinds, text = read_as_markdown(plain(typed))
    assert kinds == ["text", "paragraph_open", "paragraph_close"]  # no image, link, emphasis, code, html, list
    assert text.replace(WORD_JOINER, "") == typed
    rewritten = [name for name, pattern in STREAMLIT_REWRITES.items() if re.search(pattern, text)]
    assert rewritten == []


def markdown_shown(app) -> list[str]:
    """Every text the page gives Streamlit to render as Markdown: bodies, labels, captions, help, options."""
    return [text for node in [*app.main, *app.sidebar] if node.type not in NOT_MARKDOWN and node.proto is not None
            for text in _markdown_fields(node.proto)]


def _markdown_fields(message) -> list[str]:
    found = []
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if isinstance(v, str) and field.name in MARKDOWN_FIELDS:
                found.append(v)
            elif hasattr(v, "ListFields"):
                found += _markdown_fields(v)
    return found


def assert_shown_as_typed(app, typed: str, *places: str) -> None:
    """typed never reaches Markdown as it is, and each of places (a text with typed escaped in it) is shown."""
    shown = markdown_shown(app)
    assert [text for text in shown if typed in text] == []
    for place in places:
        assert place in shown, f"{place!r} not among {shown}"


def test_a_class_name_shows_as_typed_on_the_quiz_where_a_learner_joins(quiz_env):
    store = Store(quiz_env)
    classroom, _ = store.create_class(NAMES[0])
    app = sign_in(AppTest.from_file("../pages/quiz.py", default_timeout=120).run(), "Sam")
    app.text_input(key="class_code").input(classroom.code).run()
    assert not app.exception
    assert_shown_as_typed(app, NAMES[0], f"Join {plain(NAMES[0])}")
    next(b for b in app.button if b.label == f"Join {plain(NAMES[0])}").click().run()
    assert_shown_as_typed(app, NAMES[0])
    assert any(plain(NAMES[0]) in c.value for c in app.caption)  # "You are in the class ..."


def test_class_names_and_nicknames_show_as_typed_on_progress(pages_store):
    store = pages_store
    _, key = store.register_learner(NICKNAME)
    for name in NAMES:
        store.join_class(NICKNAME, store.create_class(name)[0].code)
    store.record(NICKNAME, Answer("PublicTest_1", 3, 3, 3, 1))
    app = sign_in(AppTest.from_file("../pages/progress.py", default_timeout=60).run(), NICKNAME, key)
    assert not app.exception
    for name in NAMES:
        assert_shown_as_typed(app, name, f"Leave {plain(name)}")
    assert_shown_as_typed(app, NICKNAME, f"Practising as **{plain(NICKNAME)}**. Not you?")


def test_the_educator_sees_names_and_nicknames_as_typed_in_a_class(pages_store):
    store = pages_store
    classroom, token = store.create_class(NAMES[0])
    store.register_learner(NICKNAME)
    store.join_class(NICKNAME, classroom.code)
    session, _ = store.create_session(NAMES[1], ["happy", "sad"], 3, 1, class_code=classroom.code,
                                      class_token=token)
    store.record(NICKNAME, Answer("PublicTest_1", 3, 3, 3, 1), session=session.code)
    app = AppTest.from_file("../pages/classes.py", default_timeout=60).run()
    app.text_input(key="open_class_code").input(classroom.code)
    app.text_input(key="open_class_token").input(token).run()
    assert not app.exception
    assert_shown_as_typed(app, NAMES[0], f"{plain(NAMES[0])} ({classroom.code}): 1 learner(s)")
    assert_shown_as_typed(app, NICKNAME, plain(NICKNAME), f"Download {plain(NICKNAME)}'s report (prints on one page)",
                          f"**Next step for {plain(NICKNAME)}**")
    assert plain(NICKNAME) in [e.label for e in app.expander]  # the learner's part of the page
    assert_shown_as_typed(app, NAMES[1])
    assert any(plain(NAMES[1]) in c.value for c in app.caption)  # the class's sessions


def test_a_session_name_shows_as_typed_to_the_educator_following_it(pages_store):
    store = pages_store
    store.register_learner(NICKNAME)
    session, token = store.create_session(NAMES[1], ["happy", "sad"], 3, 1)
    store.record(NICKNAME, Answer("PublicTest_1", 3, 3, 3, 1), session=session.code)
    app = AppTest.from_file("../pages/educator.py", default_timeout=60)
    app.session_state["view_code"], app.session_state["view_token"] = session.code, token
    app.run()
    assert not app.exception
    assert_shown_as_typed(app, NAMES[1], f"{plain(NAMES[1])} ({session.code}): 1 learner(s)")
    assert_shown_as_typed(app, NICKNAME)


@pytest.fixture
def deck_page(monkeypatch, tmp_path):
    """An owner's page open on a deck with no faces yet: no model and no FER2013 needed."""
    monkeypatch.setenv("FER_DB", str(tmp_path / "progress.sqlite3"))
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no-model.keras"))
    deck, token = Store(tmp_path / "progress.sqlite3").create_deck(NAMES[0])
    app = AppTest.from_file("../pages/decks.py", default_timeout=120)
    app.session_state["deck_code"], app.session_state["deck_token"] = deck.code, token
    return app


def test_a_deck_name_and_photos_file_names_show_as_typed_to_its_owner(deck_page):
    photo_name = f"{NAMES[1]}.jpg"
    app = deck_page.run()
    app.file_uploader(key="photo_uploads").set_value([(photo_name, b"not read yet", "image/jpeg")]).run()
    assert not app.exception
    assert_shown_as_typed(app, photo_name, f"Emotion in {plain(photo_name)}")
    assert_shown_as_typed(app, NAMES[0], f"{plain(NAMES[0])} ({deck_page.session_state['deck_code']}): 0 face(s)")

    # A photo of two faces read: the owner picks one, the photo's name in its caption and question.
    app.session_state["pending"] = [Photo(photo_name, 3, [None, None], np.zeros((60, 80, 3), np.uint8))]
    app.run()
    assert not app.exception
    assert_shown_as_typed(app, photo_name, f"{plain(photo_name)}: 2 faces, numbered",
                          f"Which face in {plain(photo_name)} shows happy?",
                          f"Add the faces of 1 photo(s) to {plain(NAMES[0])}")


def test_a_model_files_name_shows_as_typed_on_the_train_page(folder_dataset, monkeypatch, tmp_path):
    name = "**bold** _under_ [link](x)"
    (tmp_path / "trained").mkdir()
    (tmp_path / "trained" / f"{name}.keras").write_bytes(b"not a model")
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_TRAINED_DIR", str(tmp_path / "trained"))
    app = AppTest.from_file("../pages/train.py", default_timeout=120).run()
    assert not app.exception
    assert_shown_as_typed(app, name)
    assert plain(name) in [e.label for e in app.expander]
