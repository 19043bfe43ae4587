"""The live mirror's goal held, on the server (fercore.mirror): the still the browser sends, its face found again
and drawn as the video showed it; anything else that arrives gets one sentence. The reading itself is in the
browser: tests/test_mirror_e2e.py."""
import base64

import cv2
import numpy as np
import pytest
from test_faces import findable, noisy_canvas, paste, public_faces

from fercore.images import ImageError
from fercore.labels import EMOTIONS
from fercore.mirror import MAX_STILL_CHARACTERS, held_from_still

HAPPY = np.array([0.02, 0.01, 0.02, 0.80, 0.05, 0.05, 0.05])


def jpeg_data_url(gray: np.ndarray) -> str:
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode()


@pytest.fixture
def still(real_data_path) -> np.ndarray:
    canvas = noisy_canvas(640, 480)
    paste(canvas, findable(public_faces(real_data_path, 40), 1, side=200)[0], 220, 120, 200)
    return canvas


def test_a_held_still_has_its_face_found_and_its_picture_drawn_as_the_video_showed_it(still):
    held = held_from_still(jpeg_data_url(still), HAPPY.tolist())
    x, y, w, h = held.face.box
    assert abs(x + w / 2 - 320) < 30 and abs(y + h / 2 - 220) < 30 and 100 < w < 240  # the face in the pasted square
    picture = held.picture(EMOTIONS.index("happy"), 0.6)
    assert picture.shape == (480, 640, 3)
    panel, above = picture[-50:].mean(), picture[:300].mean()
    assert panel < above * 0.75  # the meter's dimmed panel, with its words and bar
    assert np.array_equal(held.probabilities, HAPPY.astype(np.float32))


@pytest.mark.parametrize("sent, probabilities", [
    ("data:image/png;base64,AAAA", HAPPY.tolist()),  # not the JPEG the reader sends
    ("data:image/jpeg;base64,@@@@", HAPPY.tolist()),  # not base64
    ("data:image/jpeg;base64," + "A" * MAX_STILL_CHARACTERS, HAPPY.tolist()),  # far larger than a still
    (None, HAPPY.tolist()),
    ("still", [0.5] * 7),  # probabilities that are no reading
    ("still", [0.1] * 6),
    ("still", ["a"] * 7),
    ("still", None),
])
def test_what_is_not_a_still_with_its_reading_gets_one_sentence(still, sent, probabilities):
    with pytest.raises(ImageError, match="did not arrive whole"):
        held_from_still(jpeg_data_url(still) if sent == "still" else sent, probabilities)


def test_a_damaged_still_or_one_without_a_face_gets_one_sentence(still):
    with pytest.raises(ImageError, match="^No face was found in the still from the camera.$"):
        held_from_still(jpeg_data_url(noisy_canvas(640, 480)), HAPPY.tolist())
    cut = jpeg_data_url(still)
    with pytest.raises(ImageError) as raised:
        held_from_still(cut[: len(cut) // 3 // 4 * 4], HAPPY.tolist())
    assert "Traceback" not in str(raised.value) and len(str(raised.value)) < 200
