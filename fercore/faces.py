"""Finding faces in a photo with OpenCV's bundled Haar cascade, cropped the way FER2013 frames them.

Choices measured on busy generated canvases with real PublicTest faces pasted in (benchmarks/upload.py
prints the current figures): at scale factor 1.1 and 4 neighbours, frontalface_default found 69% of
faces with 6 false alarms per 1280x960 canvas, alt2 64% with 0.3 and alt 63% with 0.1; alt2 keeps
more of the small faces than alt. A scale factor of 1.05 adds a few points of recall for twice the
time; histogram equalisation did not help.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from fercore.images import face_to_input

CASCADE_FILE = cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml"
DETECT_SIDE = 1024  # photos are shrunk to this longest side before detection
MIN_FACE = 24  # smallest face searched for, in detection-image pixels (the cascade's own window)
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 4
# A face that fills the photo (a tight crop, like FER2013's own) is found about 70% of the time
# once the photo gets a replicated border of a quarter of its side, and 46% without. Only large
# faces need it, so the bordered pass looks for faces of at least half the photo's side: cheap.
BORDER = 0.25
LARGE_FACE = 0.5
# FER2013 frame side / detector box side: the alt2 box is a median 0.97-0.99 of the frame of real
# FER faces, centred on it, and crops at 1.00-1.05 x the box best reproduce the original faces.
CROP_SCALE = 1.02
DUPLICATE_OVERLAP = 0.5  # share of the smaller box covered by a larger one: the same face twice

_local = threading.local()  # a CascadeClassifier must not be shared between threads


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h of the square crop region in original-image pixels
    crop: np.ndarray  # (48, 48) uint8, framed like a FER2013 face


def find_faces(gray: np.ndarray, max_faces: int = 20) -> tuple[list[Face], bool]:
    """Faces in a grayscale photo of any size, left to right (then top to bottom), and whether
    more than max_faces were found (the largest max_faces are kept)."""
    boxes = _detect(gray)
    boxes = [b for b in boxes if _centre_inside(b, gray.shape)]  # the border can fake a face
    capped = len(boxes) > max_faces
    largest = sorted(boxes, key=lambda b: -b[2])[:max_faces]
    faces = [_face(gray, _crop_box(b)) for b in largest]
    return sorted(faces, key=lambda f: (f.box[0], f.box[1])), capped


def whole_image_face(gray: np.ndarray) -> Face:
    """The centred square of the whole image, for when no face is found (as the CLI crops)."""
    h, w = gray.shape
    side = min(h, w)
    return Face(((w - side) // 2, (h - side) // 2, side, side), face_to_input(gray))


def _cascade() -> cv2.CascadeClassifier:
    if not hasattr(_local, "cascade"):
        cascade = cv2.CascadeClassifier(CASCADE_FILE)
        if cascade.empty():
            raise RuntimeError(f"OpenCV's face cascade did not load from {CASCADE_FILE}.")
        _local.cascade = cascade
    return _local.cascade


def _detect(gray: np.ndarray) -> list[np.ndarray]:
    """Detector boxes (x, y, w, h as floats) in original-image pixels, duplicates removed."""
    scale = min(1.0, DETECT_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    pad = round(BORDER * min(small.shape))
    bordered = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    found = [_cascade_boxes(small, MIN_FACE),
             _cascade_boxes(bordered, max(MIN_FACE, round(LARGE_FACE * min(small.shape))), offset=pad)]
    boxes = np.concatenate([b for b, _ in found]) / scale
    return _without_duplicates(boxes, np.concatenate([v for _, v in found]))


def _cascade_boxes(image: np.ndarray, min_size: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    boxes, votes = _cascade().detectMultiScale2(
        image, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBOURS, minSize=(min_size, min_size))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) - [offset, offset, 0, 0]
    return boxes, np.asarray(votes).ravel()


def _without_duplicates(boxes: np.ndarray, votes: np.ndarray) -> list[np.ndarray]:
    """Greedy suppression, best-supported first. Intersection over the smaller box (not IoU) so a
    small box nested in a large one counts as the same face."""
    kept: list[np.ndarray] = []
    for i in np.lexsort((-boxes[:, 2], -votes)):
        if all(_overlap(boxes[i], other) <= DUPLICATE_OVERLAP for other in kept):
            kept.append(boxes[i])
    return kept


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0) * max(height, 0) / min(a[2] * a[3], b[2] * b[3])


def _centre_inside(box: np.ndarray, shape: tuple[int, int]) -> bool:
    x, y, w, h = box
    return 0 <= x + w / 2 < shape[1] and 0 <= y + h / 2 < shape[0]


def _crop_box(box: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = box
    side = max(1, round(max(w, h) * CROP_SCALE))
    return round(x + w / 2 - side / 2), round(y + h / 2 - side / 2), side, side


def _face(gray: np.ndarray, box: tuple[int, int, int, int]) -> Face:
    """Crop the square box; parts outside the photo repeat its edge, as the detector saw them."""
    x, y, side, _ = box
    h, w = gray.shape
    top, left = max(0, -y), max(0, -x)
    bottom, right = max(0, y + side - h), max(0, x + side - w)
    region = gray[y + top : y + side - bottom, x + left : x + side - right]
    region = cv2.copyMakeBorder(region, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return Face(box, face_to_input(region))
