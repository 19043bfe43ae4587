"""The upload page driven as a user would: photo in, boxes, charts and heatmaps out; bad files explained."""
import keras
import pytest
from streamlit.testing.v1 import AppTest
from test_faces import findable, noisy_canvas, paste, public_faces
from test_photo import CUT_SHORT, jpeg

from fercore.artifact import save_artifact
from fercore.model import build_model, hyperparameters


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16))
    return save_artifact(model, tmp_path_factory.mktemp("m") / "tiny.keras", {"arch": "seed"})


@pytest.fixture
def page(tiny_model_path, monkeypatch):
    monkeypatch.setenv("FER_MODEL", str(tiny_model_path))
    return AppTest.from_file("../pages/upload.py", default_timeout=120).run()


def _upload(app, name, raw, mime="image/jpeg"):
    app.file_uploader[0].set_value((name, raw, mime))
    return app.run()


def test_uploading_a_group_photo_shows_each_face_with_chart_and_heatmap(page, real_data_path):
    canvas = noisy_canvas(1400, 1000)
    for face, (x, y, side) in zip(findable(public_faces(real_data_path, 30), 2), [(150, 200, 180), (800, 450, 160)]):
        paste(canvas, face, x, y, side)
    app = _upload(page, "group.jpg", jpeg(canvas))
    assert not app.exception and not app.error
    assert "2 faces found, numbered row by row" in " ".join(str(i.proto) for i in app.get("image"))
    assert [s.value.split(":")[0] for s in app.subheader] == ["Face 1", "Face 2"]
    assert len(app.get("plotly_chart")) >= 2
    assert any("where it looked" in str(i.proto) for i in app.get("image"))


@pytest.mark.parametrize("name, raw, expected", [
    ("notes.jpg", b"these are not pixels", "not an image"),
    ("cut.jpg", None, "damaged"),
    ("empty.png", b"", "empty"),
])
def test_a_bad_file_gets_a_clear_message_not_a_traceback(page, name, raw, expected):
    if raw is None:
        import numpy as np
        raw = jpeg(np.full((300, 300), 120, np.uint8))[:400]  # a truncated download
    app = _upload(page, name, raw)
    assert not app.exception
    assert expected in app.error[0].value


def test_a_cut_short_jpeg_gets_one_plain_sentence_on_the_page(page):
    whole = jpeg(noisy_canvas(300, 300))
    app = _upload(page, "cut.jpg", whole[: len(whole) // 2])
    assert not app.exception and len(app.error) == 1
    shown = app.error[0].value.replace("\\", "")  # as read: the backslashes only keep Markdown out
    assert shown == f"That file can't be used: {CUT_SHORT}"


def test_no_face_offers_to_read_the_whole_image(page):
    import numpy as np
    app = _upload(page, "wall.jpg", jpeg(np.full((400, 600), 180, np.uint8)))
    assert "No face was found" in app.info[0].value
    next(b for b in app.button if "whole image" in b.label).click()
    app.run()
    assert not app.exception and app.subheader[0].value.startswith("Face 1")
    assert "the whole image was read as one face" in " ".join(str(i.proto) for i in app.get("image"))


def test_missing_model_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "none.keras"))
    app = AppTest.from_file("../pages/upload.py", default_timeout=60).run()
    assert not app.exception and "No model file" in app.warning[0].value


def test_the_camera_is_asked_for_only_when_someone_chooses_it(page):
    assert not page.exception and not page.get("camera_input")  # "A file" and mirror practice off
    page.radio[0].set_value("The camera").run()
    assert len(page.get("camera_input")) == 1
    page.toggle(key="mirror_on").set_value(True).run()
    assert len(page.get("camera_input")) == 2  # both chosen: the photo and mirror practice
