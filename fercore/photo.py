"""From an uploaded photo's bytes to every face in it with its emotion scores, a heatmap and the
sentences that explain it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fercore.explain import explain_faces, landmarks_in_crop, overlay
from fercore.faces import Face, find_faces, whole_image_face
from fercore.images import KEPT_SIDE, decode_image, to_gray, to_rgb
from fercore.labels import EMOTIONS

if TYPE_CHECKING:  # fercore.predict loads TensorFlow; the caller brings the loaded Predictor
    from fercore.predict import Predictor

BOX_COLOUR = (255, 200, 0)  # amber on black text: visible on skin and for colour-blind readers
TEXT_COLOUR = (0, 0, 0)


@dataclass(frozen=True)
class FaceResult:
    number: int  # from 1, as drawn on the photo
    face: Face
    probabilities: np.ndarray  # (7,) in EMOTIONS order
    emotion: str
    confidence: str  # e.g. "fairly sure: happy"
    heatmap: np.ndarray  # (48, 48) float32 in [0, 1]: where the face carried `emotion` (fercore.explain)
    words: str  # what covering its parts showed, and a warning first when the model is unsure


@dataclass(frozen=True)
class PhotoAnalysis:
    image: np.ndarray  # the upright photo, RGB uint8, at most KEPT_SIDE pixels a side
    faces: list[FaceResult]
    found: int  # faces found in all; only the largest max_faces of them are read
    whole_image: bool  # no face was found and the whole image was classified instead

    @property
    def capped(self) -> bool:
        return self.found > len(self.faces)


def analyse_photo(raw: bytes, predictor: Predictor, max_faces: int = 20,
                  classify_whole_if_none: bool = False, tta: bool = True) -> PhotoAnalysis:
    """Raises ImageError for bytes that are not a usable image. Nothing is written to disk; a large photo
    is kept screen-sized (fercore.images.KEPT_SIDE), and boxes are in that copy's pixels."""
    image = decode_image(raw, within=KEPT_SIDE)  # a huge photo is never held full-size for long
    gray = to_gray(image)
    faces, found = find_faces(gray, max_faces)
    whole_image = not faces and classify_whole_if_none
    if whole_image:
        faces = [whole_image_face(gray)]
    return PhotoAnalysis(to_rgb(image), _classify(faces, predictor, tta) if faces else [], found, whole_image)


def _classify(faces: list[Face], predictor: Predictor, tta: bool) -> list[FaceResult]:
    crops = np.stack([face.crop for face in faces])
    probabilities = predictor.probabilities(crops, tta=tta)
    # a whole-image reading (no landmarks) names no face parts: they could be anywhere in it
    landmarks = [landmarks_in_crop(face) if face.landmarks else False for face in faces]
    explained = explain_faces(predictor.model, crops, probabilities, landmarks)
    return [FaceResult(number, face, probs, EMOTIONS[e.class_index], confidence_words(probs), e.heatmap, e.words)
            for number, (face, probs, e) in enumerate(zip(faces, probabilities, explained), start=1)]


def confidence_words(probabilities: np.ndarray) -> str:
    """How sure the model is, in words: 'confident: happy', 'unsure between sad and neutral'..."""
    second, first = np.argsort(probabilities)[-2:]
    p1, p2 = float(probabilities[first]), float(probabilities[second])
    top, runner_up = EMOTIONS[first], EMOTIONS[second]
    if p1 - p2 < 0.15:
        return f"unsure between {top} and {runner_up}"
    if p1 >= 0.8:
        return f"confident: {top}"
    if p1 >= 0.5:
        return f"fairly sure: {top}"
    return f"leaning towards {top}, then {runner_up}"


def draw_boxes(image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of the photo with each face's box and its number (1, 2, ...), sized to the photo."""
    out = image_rgb.copy()
    thickness = max(2, round(max(out.shape[:2]) / 400))
    font_scale = thickness * 0.45
    for number, face in enumerate(faces, start=1):
        x, y, w, h = face.box
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOUR, thickness)
        label = str(number)
        (tw, th), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        label_height = th + baseline + thickness
        # On the box's top edge, or just inside it when there is no room above.
        top, left = (y - label_height if y >= label_height else max(y, 0)), max(x, 0)
        cv2.rectangle(out, (left, top), (left + tw + 2 * thickness, top + label_height), BOX_COLOUR, -1)
        cv2.putText(out, label, (left + thickness, top + th + thickness // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, TEXT_COLOUR, thickness, cv2.LINE_AA)
    return out


def heatmaps_on_photo(analysis: PhotoAnalysis, opacity: float = 0.45) -> np.ndarray:
    """The photo with each face's heatmap laid over its box, and the numbered boxes on top."""
    out = analysis.image.copy()
    height, width = out.shape[:2]
    for result in analysis.faces:
        x, y, w, h = result.face.box
        left, top, right, bottom = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if right <= left or bottom <= top:
            continue
        heat = cv2.resize(result.heatmap, (w, h), interpolation=cv2.INTER_LINEAR)
        if result.face.tilt:  # the crop was levelled: lean the map back the way the face leans
            heat = cv2.warpAffine(heat, cv2.getRotationMatrix2D((w / 2, h / 2), -result.face.tilt, 1.0), (w, h))
        region = heat[top - y : bottom - y, left - x : right - x]  # the part of the box inside the photo
        out[top:bottom, left:right] = overlay(out[top:bottom, left:right], region, opacity)
    return draw_boxes(out, [r.face for r in analysis.faces])
