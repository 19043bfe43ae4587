"""Finding faces in a photo with YuNet (OpenCV's CNN face detector), levelled by the eyes and
cropped the way FER2013 frames its faces.

YuNet is trained for faces of about 10 to 300 pixels, so one photo is searched in two passes: the
photo itself (shrunk only past FINE_SIDE) for small and middle faces, and a small bordered copy,
upright and turned both ways, for close-ups and tilted large faces. benchmarks/upload.py prints the
figures behind each choice here.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fercore.errors import ArtifactError
from fercore.images import face_to_input, give_memory_back

DETECTOR_FILE = Path(__file__).resolve().parent.parent / "models" / "face_detection_yunet_2023mar.onnx"
FINE_SIDE = 2048  # the photo's longest side for the fine pass; 2-megapixel photos run unshrunk
COARSE_SIDE = 320  # longest side of the close-up pass, before its border
COARSE_TURNS = (0.0, 30.0, -30.0)  # degrees; a plain pass finds about half of faces tilted 30 degrees
NEAR_SPAN = 2.0  # FaceFollower's window, in sides of the face: room to move between frames
WHOLE_FRAME_EVERY = 10  # frames: how often FaceFollower searches the whole frame, for someone nearer
LEAN_CHANGE = 10.0  # degrees: a followed face that leans this much more or less than its window is re-placed
YUNET_STRIDE = 32  # YuNet's coarsest feature grid, in pixels of its input
LEAN = 3.0  # degrees: find_near_faces looks again, turned, at a face the upright pass finds leaning this much
BORDER = 0.25  # a face that fills the photo needs room around it to be found
# On busy scenes score 0.5 found 87% of pasted faces (62% at 48 px) and 0.4 found 90% (76%), with
# 0.1 false alarms per photo; at 0.35 plain noise began to show faces.
SCORE = 0.4
DUPLICATE_OVERLAP = 0.5  # share of the smaller box covered by a larger one: the same face twice
# FER2013's frame side / YuNet box side ((w + h) / 2): median 1.04 for Training faces pasted into busy
# scenes, with the box centred on the frame (offsets under 1.5% of its side). Eye and mouth landmarks
# did not narrow that spread (8% error either way).
FRAME_SCALE = 1.04

_local = threading.local()  # a FaceDetectorYN keeps its input size: one per thread


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h of the square framed region, before levelling
    crop: np.ndarray  # (48, 48) uint8, levelled and framed like a FER2013 face
    # YuNet's five points in photo pixels: the person's right eye, left eye, nose tip, right and
    # left mouth corners (the right eye shows on the photo's left)
    landmarks: tuple[tuple[int, int], ...] = ()
    tilt: float = 0.0  # degrees the face leaned (clockwise on screen); the crop turns it back


def find_faces(gray: np.ndarray, max_faces: int = 20, level: bool = True) -> tuple[list[Face], int]:
    """Faces in a grayscale photo of any size, numbered row by row as people read, and how many
    were found in all (the largest max_faces are kept). level=False leaves tilted faces tilted in
    their crops (benchmarks/upload.py measures what levelling gains)."""
    detections = [d for d in _detect(gray) if _centre_inside(d, gray.shape)]  # the border can fake one
    largest = sorted(detections, key=lambda d: -d[2])[:max_faces]
    return _reading_order([_face(gray, d, level) for d in largest]), len(detections)


def find_near_faces(gray: np.ndarray, max_faces: int = 1) -> list[Face]:
    """The largest faces of a video frame whose learner sits near the camera (the live mirror): only the
    close-up pass, upright, then turned the way a face leans. An upright pass finds tilted faces but puts
    their eyes too level; the direction it gives is mostly right, so one turned view, not two, is added
    for a face leaning LEAN degrees or more, and both when the upright pass finds none. On a 640x480
    frame that is a fraction of find_faces' work (benchmarks/mirror.py)."""
    return _near_passes(gray, max_faces, *_coarse_view(gray))


class FaceFollower:
    """One video's face, followed from frame to frame in half find_near_faces' time: looked for in
    the window around where it was found (NEAR_SPAN of its side). The window stays put while the face
    stays within half a side of that place, so a still face is found the same way frame after frame. The
    whole frame is searched at first, when the face leaves, and every WHOLE_FRAME_EVERY frames: a larger
    face elsewhere (someone nearer) is then followed instead, and a head that has tilted since is looked
    for at its new tilt. The window is turned to the face's tilt, so a face still upright in it is found
    in one pass."""

    def __init__(self):
        self._anchor: Face | None = None  # the face the window is placed around
        self._frames = 0

    def find(self, gray: np.ndarray) -> Face | None:
        self._frames = (self._frames + 1) % WHOLE_FRAME_EVERY
        near = self._near(gray) if self._anchor is not None else None
        if near is not None and self._frames:
            return near
        whole = find_near_faces(gray)
        if whole and not (near is not None and _close(whole[0], near) and abs(whole[0].tilt - near.tilt) < LEAN_CHANGE):
            self._anchor = whole[0]  # the first face, a lost one found again, someone nearer, or a new tilt
            return whole[0]
        if near is None:
            self._anchor = None
        return near  # the same face, found as before

    def _near(self, gray: np.ndarray) -> Face | None:
        window = _window_view(gray, self._anchor)
        found = [f for f in _near_passes(gray, 3, *window) if _close(f, self._anchor)] if window else []
        return found[0] if found else None


def _near_passes(gray: np.ndarray, max_faces: int, small: np.ndarray, to_small: np.ndarray,
                 turn: float = 0.0) -> list[Face]:
    """The largest faces in a view turned `turn` degrees: a face leaning LEAN degrees from the view's own
    turn is looked for again, turned further its way."""
    rows = _run(small, to_small)
    leans = {np.sign(lean) for lean in (_tilt(row[4:14].reshape(5, 2)) - turn for row in rows)
             if abs(lean) >= LEAN} if len(rows) else {1.0, -1.0}
    rows = np.concatenate([rows] + [_run(*_turned(small, to_small, COARSE_TURNS[1] * lean)) for lean in leans])
    detections = [d for d in _without_duplicates(rows) if _centre_inside(d, gray.shape)]
    return [_face(gray, d) for d in sorted(detections, key=lambda d: -d[2])[:max_faces]]


def _close(face: Face, other: Face) -> bool:
    """Whether face's centre lies within half a side of other's: the same face, moved a little."""
    (x, y, w, _), (ox, oy, ow, _) = face.box, other.box
    return abs(x + w / 2 - ox - ow / 2) <= ow / 2 and abs(y + w / 2 - oy - ow / 2) <= ow / 2


def whole_image_face(gray: np.ndarray) -> Face:
    """The centred square of the whole image, for when no face is found (as the CLI crops)."""
    h, w = gray.shape
    side = min(h, w)
    return Face(((w - side) // 2, (h - side) // 2, side, side), face_to_input(gray))


def _detector() -> cv2.FaceDetectorYN:
    if not hasattr(_local, "detector"):
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # OpenCV 5 warns of CPU targets
        try:
            _local.detector = _ThreadDetector(
                cv2.FaceDetectorYN.create(str(DETECTOR_FILE), "", (320, 320), SCORE, 0.3, 5000))
        except cv2.error:
            raise ArtifactError(f"The face detector's weights are missing or damaged ({DETECTOR_FILE.name}): "
                                "`git checkout models/` restores them.") from None
        finally:
            cv2.utils.logging.setLogLevel(level)
    return _local.detector.yunet


class _ThreadDetector:
    """A thread's YuNet. It keeps buffers for the largest view it read (about 250 MB after a 2048-px photo)
    while its thread lives; when the thread ends (Streamlit runs each page run in a new one), that memory is
    handed back to the system: glibc would otherwise keep it in the thread's arena."""

    def __init__(self, yunet: cv2.FaceDetectorYN):
        self.yunet = yunet

    def __del__(self, give_back=give_memory_back):  # bound now: module globals may be gone at exit
        self.yunet = None  # freed first, so that there is something to give back
        give_back()


def _detect(gray: np.ndarray) -> list[np.ndarray]:
    """YuNet rows (box x, y, w, h, 5 landmarks, score) in photo pixels, duplicates removed."""
    rows = [_run(*_fine_view(gray))]
    small, to_small = _coarse_view(gray)
    rows += [_run(*_turned(small, to_small, turn)) for turn in COARSE_TURNS]
    return _without_duplicates(np.concatenate(rows))


def _fine_view(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = min(1.0, FINE_SIDE / max(gray.shape))
    if scale == 1.0:
        return gray, np.eye(2, 3)
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.eye(2, 3) * scale


def _coarse_view(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo shrunk to COARSE_SIDE with a replicated border, and the map from photo to it."""
    small, scale, pad = _shrunk(gray)
    to_small = np.array([[scale, 0, pad], [0, scale, pad]], float)
    return cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE), to_small


def _shrunk(gray: np.ndarray) -> tuple[np.ndarray, float, int]:
    scale = min(1.0, COARSE_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    return small, scale, round(BORDER * min(small.shape))


def _window_view(gray: np.ndarray, near: Face) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The close-up view cut down to the window around an earlier face, the map from photo to it and the
    degrees it is turned; None when that window is no smaller than the whole view. Its corner sits on the
    whole view's YuNet grid, so the detector sees an upright face as it would in the whole view."""
    small, scale, pad = _shrunk(gray)
    x, y, w, _ = near.box
    side = int(np.ceil(NEAR_SPAN * w * scale / YUNET_STRIDE)) * YUNET_STRIDE
    if side >= min(small.shape) + 2 * pad:
        return None
    corner = [round((centre * scale - side / 2 + pad) / YUNET_STRIDE) * YUNET_STRIDE - pad
              for centre in (x + w / 2, y + w / 2)]
    to_window = np.array([[scale, 0, -corner[0]], [0, scale, -corner[1]]], float)
    shift = np.array([[1, 0, -corner[0]], [0, 1, -corner[1]]], float)
    window = cv2.warpAffine(small, shift, (side, side), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    # a face that leans is looked for turned upright: an upright view puts a leaning face's eyes too level
    turn = near.tilt if abs(near.tilt) >= LEAN else 0.0
    return *_turned(window, to_window, turn), turn


def _turned(image: np.ndarray, to_image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned about its centre, kept at its size (its corners hold only the border), and
    the map from photo to it."""
    if degrees == 0:
        return image, to_image
    h, w = image.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    turned = cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return turned, _compose(turn, to_image)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine map that applies inner, then outer."""
    return outer[:, :2] @ inner + np.hstack([np.zeros((2, 2)), outer[:, 2:]])


def _run(image: np.ndarray, to_image: np.ndarray) -> np.ndarray:
    """YuNet on one view, its rows mapped back to photo pixels (boxes stay upright there)."""
    detector = _detector()
    detector.setInputSize((image.shape[1], image.shape[0]))
    _, rows = detector.detect(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    if rows is None:
        return np.zeros((0, 15))
    back = cv2.invertAffineTransform(to_image)
    scale = np.sqrt(abs(np.linalg.det(back[:, :2])))
    points = rows[:, :14].reshape(-1, 7, 2).astype(float)
    points[:, 0] += points[:, 1] / 2  # the box's corner becomes its centre, which turns with the view
    points = points @ back[:, :2].T + back[:, 2]
    mapped = rows.astype(float)
    sides = rows[:, 2:4] * scale
    mapped[:, 0:2], mapped[:, 2:4] = points[:, 0] - sides / 2, sides
    mapped[:, 4:14] = points[:, 2:].reshape(-1, 10)
    return mapped


def _without_duplicates(rows: np.ndarray) -> list[np.ndarray]:
    """Greedy suppression, best score first. Intersection over the smaller box (not IoU) so a
    small box nested in a large one counts as the same face."""
    kept: list[np.ndarray] = []
    for i in np.lexsort((-rows[:, 2], -rows[:, 14])):
        if all(_overlap(rows[i], other) <= DUPLICATE_OVERLAP for other in kept):
            kept.append(rows[i])
    return kept


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0) * max(height, 0) / min(a[2] * a[3], b[2] * b[3])


def _centre_inside(row: np.ndarray, shape: tuple[int, int]) -> bool:
    x, y, w, h = row[:4]
    return 0 <= x + w / 2 < shape[1] and 0 <= y + h / 2 < shape[0]


def colour_crop(image: np.ndarray, face: Face, side: int) -> np.ndarray:
    """The face as find_faces framed and levelled it, from the same photo in colour (RGB, in the pixels
    find_faces was given), side x side: the picture a person sees of the 48x48 crop the model reads."""
    x, y, w, _ = face.box
    return _framed(image, (x + w / 2, y + w / 2), w, face.tilt, side)


def _face(gray: np.ndarray, row: np.ndarray, level: bool = True) -> Face:
    """Level the eyes about the box's centre and frame the face as FER2013 does, 48x48."""
    x, y, w, h = row[:4]
    side = max(1.0, (w + h) / 2 * FRAME_SCALE)
    landmarks = row[4:14].reshape(5, 2)
    tilt = _tilt(landmarks)
    crop = _framed(gray, (x + w / 2, y + h / 2), side, tilt if level else 0.0, 48)
    box = (round(x + w / 2 - side / 2), round(y + h / 2 - side / 2), round(side), round(side))
    return Face(box, crop, tuple((round(px), round(py)) for px, py in landmarks), round(tilt, 1))


def _framed(image: np.ndarray, centre: tuple[float, float], side: float, tilt: float, out: int) -> np.ndarray:
    """The square of `side` about centre, turned by tilt, as out x out pixels."""
    region, zoom = _surroundings(image, centre, side, 3 * out)
    middle = region.shape[0] / 2
    frame = cv2.getRotationMatrix2D((middle, middle), tilt, out / (side * zoom))
    frame[:, 2] += out / 2 - middle
    return cv2.warpAffine(region, frame, (out, out), flags=cv2.INTER_LINEAR)


def _surroundings(image: np.ndarray, centre: tuple[float, float], side: float,
                  most: int) -> tuple[np.ndarray, float]:
    """The square around centre that holds the framed face at any turn, shrunk to at most `most`
    (3x the crop) so the last step skips no pixels, and how much it was shrunk. Parts outside the
    photo repeat its edge, as the detector saw them."""
    size = int(np.ceil(side * 1.5))
    shift = np.array([[1, 0, size / 2 - centre[0]], [0, 1, size / 2 - centre[1]]])
    region = cv2.warpAffine(image, shift, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if size <= most:
        return region, 1.0
    return cv2.resize(region, (most, most), interpolation=cv2.INTER_AREA), most / size


def _tilt(landmarks: np.ndarray) -> float:
    """Degrees from the line through the eyes to the horizontal, clockwise on screen."""
    left, right = sorted(landmarks[:2].tolist())  # by x: the eye on the photo's left first
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def _reading_order(faces: list[Face]) -> list[Face]:
    """Row by row, top to bottom, then left to right: a face starts a new row when its centre lies
    below the row's first face by more than half that face's height."""
    rows: list[list[Face]] = []
    for face in sorted(faces, key=lambda f: f.box[1] + f.box[3] / 2):
        first = rows[-1][0] if rows else None
        if first and face.box[1] + face.box[3] / 2 - (first.box[1] + first.box[3] / 2) <= first.box[3] / 2:
            rows[-1].append(face)
        else:
            rows.append([face])
    return [face for row in rows for face in sorted(row, key=lambda f: f.box[0])]
