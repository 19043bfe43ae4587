"""The upload page's task: photo bytes in, numbered faces with scores and heatmaps out."""
import io

import cv2
import keras
import numpy as np
import pytest
from PIL import Image
from test_faces import findable, iou, noisy_canvas, paste, public_faces

from fercore.errors import ImageError
from fercore.faces import Face, whole_image_face
from fercore.labels import EMOTIONS
from fercore.model import build_model, hyperparameters
from fercore.photo import (BOX_COLOUR, FaceResult, PhotoAnalysis, analyse_photo, confidence_words, draw_boxes,
                           heatmaps_on_photo)
from fercore.predict import Predictor


@pytest.fixture(scope="module")
def predictor():
    keras.utils.set_random_seed(0)
    return Predictor(build_model(hyperparameters("seed", filters=8, dense_units=16)))


def jpeg(gray: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)).save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


def test_a_photo_with_three_faces_gives_three_numbered_answers(real_data_path, predictor):
    canvas = noisy_canvas(1600, 1200)
    truth = [paste(canvas, face, x, y, side) for face, (x, y, side) in
             zip(findable(public_faces(real_data_path, 30), 3), [(1200, 200, 150), (100, 600, 200), (650, 400, 120)])]
    analysis = analyse_photo(jpeg(canvas), predictor, tta=True)
    assert analysis.image.shape == (1200, 1600, 3) and not analysis.capped and not analysis.whole_image
    assert [result.number for result in analysis.faces] == [1, 2, 3]
    assert [max(iou(r.face.box, square) for square in truth) > 0.3 for r in analysis.faces] == [True] * 3
    for result in analysis.faces:
        np.testing.assert_allclose(result.probabilities.sum(), 1, rtol=1e-5)
        assert result.emotion == EMOTIONS[result.probabilities.argmax()]
        assert result.confidence == confidence_words(result.probabilities)
        assert result.heatmap.shape == (48, 48) and 0 <= result.heatmap.min() and result.heatmap.max() <= 1
        assert "Covering the " in result.words or "No single part decides it" in result.words  # parts from landmarks
    crops = np.stack([r.face.crop for r in analysis.faces])
    np.testing.assert_allclose(np.stack([r.probabilities for r in analysis.faces]),
                               predictor.probabilities(crops, tta=True), atol=1e-6)
    assert analyse_photo(jpeg(canvas), predictor, max_faces=2).capped


def test_without_a_face_the_whole_image_is_classified_only_when_asked(predictor):
    raw = jpeg(noisy_canvas(400, 300))
    assert analyse_photo(raw, predictor).faces == []
    analysis = analyse_photo(raw, predictor, classify_whole_if_none=True)
    assert analysis.whole_image and [r.number for r in analysis.faces] == [1]
    assert analysis.faces[0].face.box == whole_image_face(np.zeros((300, 400), np.uint8)).box == (50, 0, 300, 300)


def test_a_50_megapixel_photo_is_kept_screen_sized_with_its_face_boxed_there(real_data_path, predictor):
    photo = np.full((5773, 8660), 110, np.uint8)
    square = paste(photo, findable(public_faces(real_data_path, 30), 1)[0], 6000, 2500, 700)
    analysis = analyse_photo(jpeg(photo), predictor)
    assert analysis.image.shape == (1365, 2048, 3)  # 8 MB held for the browser session, not 150 MB
    scale = 2048 / 8660
    assert len(analysis.faces) == 1 and iou(analysis.faces[0].face.box, [round(v * scale) for v in square]) > 0.5


def test_a_sideways_phone_photo_is_turned_upright(predictor):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    analysis = analyse_photo(jpeg(noisy_canvas(400, 300), exif=exif), predictor)
    assert analysis.image.shape == (400, 300, 3)


@pytest.mark.parametrize("raw, message", [(b"", "empty"), (b"GIF89a not really", "not an image"),
                                          (jpeg(noisy_canvas(300, 300))[:3000], "damaged or cut short")])
def test_bad_uploads_raise_an_image_error_a_person_can_read(predictor, raw, message):
    with pytest.raises(ImageError, match=message):
        analyse_photo(raw, predictor)


CUT_SHORT = "The image file is damaged or cut short and cannot be read."


def test_a_cut_short_jpeg_is_one_plain_sentence_without_the_librarys_words(predictor):
    whole = jpeg(noisy_canvas(300, 300))
    with pytest.raises(ImageError) as refused:
        analyse_photo(whole[: len(whole) // 2], predictor)
    assert str(refused.value) == CUT_SHORT  # not "(image file is truncated (0 bytes not processed))"


@pytest.mark.parametrize("probabilities, words", [
    ([0.02, 0.01, 0.02, 0.90, 0.02, 0.02, 0.01], "confident: happy"),
    ([0.10, 0.00, 0.05, 0.60, 0.10, 0.05, 0.10], "fairly sure: happy"),
    ([0.05, 0.00, 0.05, 0.05, 0.42, 0.05, 0.38], "unsure between sad and neutral"),
    ([0.22, 0.05, 0.05, 0.05, 0.40, 0.05, 0.18], "leaning towards sad, then angry"),
])
def test_confidence_in_words(probabilities, words):
    assert confidence_words(np.array(probabilities)) == words


def test_boxes_are_drawn_numbered_on_a_copy_and_thicker_on_bigger_photos():
    edge_widths = []
    for size in (400, 4000):
        photo = np.full((size, size, 3), 128, np.uint8)
        drawn = draw_boxes(photo, [Face((size // 4, size // 4, size // 2, size // 2), np.zeros((48, 48), np.uint8))])
        assert (photo == 128).all() and drawn.shape == photo.shape
        bottom = size * 3 // 4
        edge_widths.append((drawn[bottom - 20 : bottom + 20, size // 2] != 128).any(axis=1).sum())
        label = drawn[size // 4 - size // 20 : size // 4, size // 4 : size // 4 + size // 20]  # on the top edge
        assert (label == 0).all(axis=2).any() and (label == BOX_COLOUR).all(axis=2).any()  # dark digit on amber
    assert 2 <= edge_widths[0] < edge_widths[1]


def test_a_levelled_face_gets_its_heatmap_leaning_back_as_the_face_leans():
    """The crop of a face leaning 90 degrees clockwise was turned upright: what the model saw at the
    top of the crop (the forehead) lies on the right of the box in the photo."""
    face = Face((100, 100, 200, 200), np.zeros((48, 48), np.uint8), tilt=90.0)
    heat = np.zeros((48, 48), np.float32)
    heat[:12] = 1.0
    analysis = PhotoAnalysis(np.zeros((400, 400, 3), np.uint8),
                             [FaceResult(1, face, np.full(7, 1 / 7), "happy", "unsure", heat, "")], 1, False)
    drawn = heatmaps_on_photo(analysis, opacity=1.0).astype(int)
    inner = drawn[130:270, 110:290]  # inside the box, clear of its border and number
    right, left = inner[:, -40:].sum(), inner[:, :40].sum()
    assert right > 3 * left
