"""The live mirror's goal held, on the server. The camera's video is read in the learner's browser
(ui/camera_reader): what comes here is the one still of a goal held, with the browser's reading of it. The
server finds the face in it again, to draw its outline and meter on the still and make its heatmap.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import cv2
import numpy as np

from fercore.faces import Face, find_near_faces
from fercore.images import ImageError, decode_image, to_rgb
from fercore.labels import EMOTIONS

LIGHT, DARK = (255, 255, 255), (20, 20, 20)  # white on a dark edge, as the heatmap's outline: reads on any skin
FONT = cv2.FONT_HERSHEY_SIMPLEX
STILL_SIDE = 1280  # a still larger than the browser sends (640 a side) is shrunk to this
MAX_STILL_CHARACTERS = 4 * 1024 * 1024  # a 640x480 JPEG's data URL is about 100 KB


@dataclass(frozen=True)
class Held:
    """The strongest frame of a hold: the whole frame (BGR), its face, and that frame's own reading."""
    frame: np.ndarray
    face: Face
    probabilities: np.ndarray

    def picture(self, target: int, level: float) -> np.ndarray:
        """The frame as the video showed it: the face outlined and this frame's own meter."""
        return draw(self.frame, self.face, self.probabilities, target, level)


def held_from_still(data_url: str, probabilities) -> Held:
    """The goal's still as the browser sent it (a JPEG data URL and its reading), with its face found again.
    Raises ImageError with a sentence for a person: a still that is not a picture, or has no face."""
    prefix = "data:image/jpeg;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix) or len(data_url) > MAX_STILL_CHARACTERS:
        raise ImageError("The still from the camera did not arrive whole.")
    try:
        raw = base64.b64decode(data_url[len(prefix):], validate=True)
        reading = np.asarray(probabilities, dtype=np.float32).reshape(len(EMOTIONS))
    except (binascii.Error, TypeError, ValueError):
        raise ImageError("The still from the camera did not arrive whole.") from None
    if not np.all(np.isfinite(reading)) or reading.min() < 0 or abs(float(reading.sum()) - 1) > 0.01:
        raise ImageError("The still from the camera did not arrive whole.")
    frame = cv2.cvtColor(to_rgb(decode_image(raw, within=STILL_SIDE)), cv2.COLOR_RGB2BGR)
    faces = find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    if not faces:
        raise ImageError("No face was found in the still from the camera.")
    return Held(frame, faces[0], reading)


def draw(bgr: np.ndarray, face: Face, probabilities: np.ndarray, target: int, level: float) -> np.ndarray:
    """A copy of the frame with the face outlined and the meter along its bottom, as the video showed it when
    the goal was held: how strongly the model reads the target, as a bar with a notch at the goal's level and
    in words (and the top reading when it differs). No colour carries meaning: the words say it all."""
    out = bgr.copy()
    height, width = out.shape[:2]
    scale = height / 480
    thick = max(1, round(2 * scale))
    x, y, w, h = face.box
    cv2.rectangle(out, (x, y), (x + w, y + h), DARK, 3 * thick, cv2.LINE_AA)
    cv2.rectangle(out, (x, y), (x + w, y + h), LIGHT, thick, cv2.LINE_AA)
    panel_top = height - round(64 * scale)
    out[panel_top:] = (out[panel_top:] * 0.35).astype(np.uint8)  # dimmed, not hidden: calm behind the words
    left, line = round(12 * scale), round(24 * scale)
    strength, top = float(probabilities[target]), int(np.argmax(probabilities))
    words = [f"{EMOTIONS[target]}: {strength:.0%}",
             f"top reading: {EMOTIONS[top]} {probabilities[top]:.0%}" if top != target else "you held it"]
    _text(out, words[0], (left, panel_top + line), scale, thick)
    _text(out, words[1], (left, panel_top + 2 * line + round(6 * scale)), scale, thick)
    _bar(out, strength, level, (width // 2, panel_top + round(10 * scale)), (width // 2 - left, round(16 * scale)), thick)
    return out


def _text(image: np.ndarray, words: str, origin: tuple[int, int], scale: float, thick: int) -> None:
    cv2.putText(image, words, origin, FONT, 0.7 * scale, DARK, 3 * thick, cv2.LINE_AA)
    cv2.putText(image, words, origin, FONT, 0.7 * scale, LIGHT, thick, cv2.LINE_AA)


def _bar(image: np.ndarray, share: float, level: float, corner: tuple[int, int], size: tuple[int, int],
         thick: int) -> None:
    """An outlined bar filled to `share`, with a notch at the goal's level."""
    (x, y), (w, h) = corner, size
    cv2.rectangle(image, (x, y), (x + round(w * min(share, 1.0)), y + h), LIGHT, -1)
    cv2.rectangle(image, (x, y), (x + w, y + h), LIGHT, thick)
    notch = x + round(w * level)
    cv2.line(image, (notch, y - 2 * thick), (notch, y + h + 2 * thick), DARK, 3 * thick)
    cv2.line(image, (notch, y - 2 * thick), (notch, y + h + 2 * thick), LIGHT, thick)
