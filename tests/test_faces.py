"""Face finding on photos built from real FER2013 faces pasted at known places."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from fercore.faces import (WHOLE_FRAME_EVERY, FaceFollower, _without_duplicates, find_faces, find_near_faces,
                           whole_image_face)


def public_faces(root, n: int) -> list[np.ndarray]:
    """The first n PublicTest faces by file name (mixed emotions), read directly: no cache to build."""
    files = sorted(root.glob("test/*/PublicTest_*.jpg"), key=lambda f: f.name)[:n]
    return [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]


def noisy_canvas(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(128, 25, (height, width)), 0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> tuple[int, int, int, int]:
    canvas[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return x, y, side, side


def paste_turned(canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int, degrees: float) -> None:
    """The face turned counter-clockwise on screen about the centre of the square (x, y, side)."""
    resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    turn[:, 2] += [x, y]
    size = (canvas.shape[1], canvas.shape[0])
    inside = cv2.warpAffine(np.full((side, side), 255, np.uint8), turn, size) > 127
    canvas[inside] = cv2.warpAffine(resized, turn, size)[inside]


def iou(a, b) -> float:
    width = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return width * height / (a[2] * a[3] + b[2] * b[3] - width * height)


def findable(faces, n: int, side: int = 120) -> list[np.ndarray]:
    """The first n faces the detector finds alone on a plain background: the canvas tests below
    then check placement, scaling and mapping rather than the detector's recall."""
    chosen = []
    for face in faces:
        canvas = np.full((3 * side, 3 * side), 128, np.uint8)
        paste(canvas, face, side, side, side)
        if len(find_faces(canvas)[0]) == 1:
            chosen.append(face)
        if len(chosen) == n:
            return chosen
    pytest.fail(f"fewer than {n} of {len(faces)} real faces were found alone")


@pytest.fixture
def four_face_photo(real_data_path):
    """A 1600x1200 photo (shrunk to 1024 wide for detection) with four faces of 80-200 px."""
    faces = findable(public_faces(real_data_path, 30), 4)
    canvas = noisy_canvas(1600, 1200)
    places = [(1250, 150, 80), (150, 700, 200), (700, 300, 120), (1000, 850, 160)]
    truth = [paste(canvas, face, *place) for face, place in zip(faces, places)]
    return canvas, truth


def test_pasted_faces_are_found_where_they_are_in_original_pixels(four_face_photo):
    canvas, truth = four_face_photo
    found, count = find_faces(canvas)
    assert count == len(found) == 4
    overlaps = [max(iou(face.box, square) for face in found) for square in truth]
    assert min(overlaps) > 0.4, overlaps
    assert np.median(overlaps) > 0.6, overlaps  # the crop frames a face about as FER2013 does
    for face in found:
        x, y, w, h = face.box
        assert w == h and face.crop.shape == (48, 48) and face.crop.dtype == np.uint8
        (right_eye, left_eye, nose, right_mouth, left_mouth) = face.landmarks
        assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks)
        assert right_eye[0] < left_eye[0]
        assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_faces_are_numbered_row_by_row_as_people_read(real_data_path):
    """A 4x4 grid of same-sized head shots, each row a little uneven, as a class photo is."""
    faces = findable(public_faces(real_data_path, 60), 16)
    canvas = noisy_canvas(1200, 1000)
    places = {(row, col): (60 + 280 * col, 40 + 240 * row + 25 * (col % 2)) for row in range(4) for col in range(4)}
    for face, (x, y) in zip(faces, places.values()):
        paste(canvas, face, x, y, 150)
    found, count = find_faces(canvas)
    assert count == len(found) == 16
    order = [min(places, key=lambda p: np.hypot(places[p][0] - f.box[0], places[p][1] - f.box[1])) for f in found]
    assert order == list(places)


def test_the_cap_keeps_the_largest_faces_and_says_how_many_there_were(four_face_photo):
    canvas, _ = four_face_photo
    everyone = sorted(face.box for face in find_faces(canvas)[0])
    found, count = find_faces(canvas, max_faces=2)
    assert count == 4 and len(found) == 2
    assert sorted(face.box for face in found) == sorted(everyone, key=lambda box: -box[2])[:2]


@pytest.mark.parametrize("degrees", [30, -30])
def test_tilted_faces_are_found_and_levelled_by_their_eyes(real_data_path, degrees):
    tilt_errors, levelled, leaning = [], [], []
    for face in findable(public_faces(real_data_path, 40), 8, side=160):
        canvas = noisy_canvas(800, 600)
        paste_turned(canvas, face, 300, 200, 160, degrees)
        found = find_faces(canvas)[0]
        assert len(found) == 1 and iou(found[0].box, (300, 200, 160, 160)) > 0.4
        tilt_errors.append(found[0].tilt + degrees)  # turned counter-clockwise: it leans the other way
        original = cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)
        levelled.append(similarity(found[0].crop, original))
        leaning.append(similarity(find_faces(canvas, level=False)[0][0].crop, original))
    assert np.median(np.abs(tilt_errors)) < 8, tilt_errors
    assert np.mean(levelled) > np.mean(leaning) + 0.15, (levelled, leaning)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


@pytest.mark.parametrize("degrees", [0, 25])
def test_a_followed_face_is_the_face_the_whole_frame_finds_and_a_still_one_is_found_alike(real_data_path, degrees):
    for n, face in enumerate(findable(public_faces(real_data_path, 40), 6, side=200)):
        frame = noisy_canvas(640, 480, n)
        paste_turned(frame, face, 180 + 10 * n, 80, 160 + 20 * n, degrees)
        whole, follower = find_near_faces(frame)[0], FaceFollower()
        found = [follower.find(frame) for _ in range(WHOLE_FRAME_EVERY + 2)]  # a whole-frame search among them
        assert iou(found[1].box, whole.box) > 0.8 and abs(found[1].tilt - whole.tilt) < 8
        assert all(f.box == found[1].box and np.array_equal(f.crop, found[1].crop) for f in found[1:])


def test_a_followed_face_that_moves_far_is_found_and_someone_nearer_is_followed(real_data_path):
    first, second = findable(public_faces(real_data_path, 40), 2, side=200)
    follower = FaceFollower()

    def followed(*placed) -> tuple[int, int, int, int]:
        frame = noisy_canvas(640, 480)
        for face, x, y, side in placed:
            paste(frame, face, x, y, side)
        return follower.find(frame).box

    assert iou(followed((first, 200, 100, 200)), (200, 100, 200, 200)) > 0.35
    assert iou(followed((first, 230, 120, 200)), (230, 120, 200, 200)) > 0.35  # moved a little
    assert iou(followed((first, 20, 20, 160)), (20, 20, 160, 160)) > 0.35  # and far
    nearer = [followed((first, 20, 20, 160), (second, 330, 100, 300)) for _ in range(WHOLE_FRAME_EVERY)]
    assert iou(nearer[0], (20, 20, 160, 160)) > 0.35  # followed where it was...
    assert iou(nearer[-1], (330, 100, 300, 300)) > 0.35  # ...until the whole frame is searched


def test_threads_finding_faces_at_once_each_get_their_own_answer(four_face_photo):
    canvas, _ = four_face_photo
    photos = [canvas, canvas[:, :800].copy(), canvas[600:].copy(), noisy_canvas(640, 480, seed=5)]
    alone = [[f.box for f in find_faces(photo)[0]] for photo in photos]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda photo: [f.box for f in find_faces(photo)[0]], photos * 3))
    assert together == alone * 3


def test_detector_finds_most_real_faces_at_ordinary_sizes(real_data_path):
    faces = public_faces(real_data_path, 24)
    hits = 0
    for start in range(0, len(faces), 4):  # four faces of 90-160 px per 1600x1200 photo
        canvas = noisy_canvas(1600, 1200, seed=start)
        truth = [paste(canvas, face, 100 + 380 * i, 300 + 150 * (i % 2), 90 + 20 * i)
                 for i, face in enumerate(faces[start : start + 4])]
        boxes = [face.box for face in find_faces(canvas)[0]]
        hits += sum(any(iou(box, square) > 0.3 for box in boxes) for square in truth)
    assert hits >= 0.9 * len(faces), f"{hits} of {len(faces)}"


def test_a_photo_that_is_just_a_tight_face_crop_is_found(real_data_path):
    """FER-style crops leave no room around the face: the close-up pass adds a border."""
    faces = public_faces(real_data_path, 40)
    whole = (0, 0, 144, 144)
    results = [find_faces(cv2.resize(face, whole[2:], interpolation=cv2.INTER_CUBIC))[0] for face in faces]
    assert sum(any(iou(face.box, whole) > 0.5 for face in found) for found in results) >= 0.65 * len(faces)
    assert all(face.crop.shape == (48, 48) for found in results for face in found)  # boxes may pass the edges


def test_noise_has_no_faces():
    assert find_faces(noisy_canvas(1200, 900, seed=3)) == ([], 0)


def test_whole_image_face_is_the_centred_square():
    gray = np.zeros((300, 500), np.uint8)
    gray[:, 100:400] = 200
    face = whole_image_face(gray)
    assert face.box == (100, 0, 300, 300)
    assert face.crop.shape == (48, 48) and face.crop.min() == 200


def test_nested_and_overlapping_detections_count_once():
    boxes = np.array([[100, 100, 80, 80], [110, 110, 50, 50], [120, 95, 80, 80], [400, 100, 60, 60]], float)
    rows = np.zeros((4, 15))
    rows[:, :4], rows[:, 14] = boxes, [0.9, 0.3, 0.5, 0.4]
    kept = _without_duplicates(rows)
    assert [tuple(row[:4]) for row in kept] == [(100, 100, 80, 80), (400, 100, 60, 60)]


def test_face_finding_and_decoding_do_not_load_tensorflow():
    code = "import sys, fercore.faces, fercore.images; assert 'tensorflow' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr



def test_damaged_detector_weights_get_one_sentence_saying_how_to_restore_them(tmp_path, monkeypatch):
    from fercore import faces
    from fercore.errors import ArtifactError

    damaged = tmp_path / "yunet.onnx"
    damaged.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # an LFS pointer, say
    monkeypatch.setattr(faces, "DETECTOR_FILE", damaged)
    with ThreadPoolExecutor(1) as pool:  # a new thread: the test's own thread may hold a loaded detector
        with pytest.raises(ArtifactError, match="git checkout models/"):
            pool.submit(find_faces, noisy_canvas(200, 200)).result()
