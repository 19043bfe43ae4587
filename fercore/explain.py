"""Heatmaps that teach: where a face carried the model's reading, which face parts it depends on
(measured by covering each part), and short sentences a learner can read.

The map, chosen by benchmarks/explain.py (deletion and insertion on 400 PrivateTest faces):
Layer-CAM (Jiang et al., 2021) at the last 24x24 layer, square-rooted, times an occlusion map (13
squares covered by a blurred copy of the face, each square's drop in probability spread over it),
blurred at 2 px, plus a weak centred Gaussian that orders the pixels the evidence leaves flat.
Layer-CAM alone missed the targets (deletion 0.227, and behind a fixed centre blob on surprise);
this map scored 0.185 / 0.654 against 0.265 / 0.527 for the blob and 0.270 / 0.488 for the
HiResCAM at last_conv it replaces.

TensorFlow is imported when the first Explainer is made, so pages that only draw maps start fast.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from fercore.artifact import LAST_CONV, OUTPUT_LAYER
from fercore.labels import EMOTIONS, FACE_SIZE

if TYPE_CHECKING:
    from fercore.faces import Face

COVER_SIGMA = 5.0  # a covered part is blurred this much: its tones stay, its shapes go
MAP_SIGMA = 2.0  # sharper maps scored worse on deletion and insertion
# Occlusion squares (side, starts): a 3x3 grid of 16 px for detail and a 2x2 of 32 px for
# expressions read from several parts at once. 13 covered copies of each face.
SQUARES = ((16, (0, 16, 32)), (32, (0, 16)))
CENTRE_PRIOR, PRIOR_SIGMA = 0.3, 10.0  # without it the centre blob beat the map on surprise
CHUNK = 32  # faces per graph call: 13 covered copies each stay well inside memory

# Five YuNet points (person's right eye, left eye, nose tip, right and left mouth corner) as (x, y)
# where FER2013 puts them: its mean face has dark eyes at row ~18, x ~14 and ~33, the nose tip
# bright above row ~28 and the mouth a dark band at rows ~35-39.
FER_LANDMARKS = np.array([(14.5, 18.0), (33.0, 17.5), (24.0, 28.0), (16.5, 36.0), (32.0, 35.5)])
PARTS = ("the eyes and brows", "the nose", "the mouth")

HOT = 0.5  # heat at or above this is outlined as where the model looked
MATTERS = 0.10  # covering a part must lower the probability by 10 points for the part to be named
UNSURE_GAP = 0.15  # as fercore.photo.confidence_words: top two closer than this reads as unsure
SPECK = 0.005  # hot areas smaller than this share of the image get no outline
DIM = 0.7  # at opacity 1, cool parts keep 30% of their brightness: the face stays readable


class PartEvidence(NamedTuple):
    part: str  # one of PARTS
    before: float  # the class's probability for the face as it is
    after: float  # ... with this part covered

    @property
    def drop(self) -> float:
        return self.before - self.after


class Explainer:
    """Maps and part evidence for one model; builds its graphs once, so keep the instance."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        head = model.get_layer(OUTPUT_LAYER)
        self._model = model
        self._features = keras.Model(model.inputs, [heat_layer(model).output, head.input])
        self._kernel, self._bias = head.kernel, head.bias
        self._masks = tf.constant(occlusion_masks())
        image = tf.TensorSpec([None, FACE_SIZE, FACE_SIZE, 1], tf.float32)
        self._maps = tf.function(self._compute, input_signature=[image, image, tf.TensorSpec([None], tf.int32)])
        self._probabilities = tf.function(lambda x: model(x, training=False), input_signature=[image])

    def heatmaps(self, faces: np.ndarray, class_indices) -> np.ndarray:
        """faces (N, 48, 48) pixel values 0-255; class_indices one per face, or one for all.
        Returns (N, 48, 48) float32 in [0, 1], peak 1; all zeros where nothing raised that class."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, FACE_SIZE, FACE_SIZE)
        classes = np.broadcast_to(np.asarray(class_indices, dtype=np.int32), (len(faces),))
        raw = [self._maps(faces[i : i + CHUNK, ..., None], covered(faces[i : i + CHUNK])[..., None],
                          classes[i : i + CHUNK]).numpy() for i in range(0, len(faces), CHUNK)]
        if not raw:
            return np.zeros((0, FACE_SIZE, FACE_SIZE), np.float32)
        smooth = _normalised(np.stack([cv2.GaussianBlur(m, (0, 0), MAP_SIGMA) for m in np.concatenate(raw)]))
        found = smooth.max(axis=(1, 2), keepdims=True) > 0  # the prior alone would look like evidence
        return _normalised(smooth + CENTRE_PRIOR * centre_prior() * found)

    def evidence(self, face: np.ndarray, class_index: int, landmarks=None) -> list[PartEvidence]:
        """The class's probability with each part covered, read with the mirror image as the app
        reads faces. landmarks: five (x, y) points in the 48x48 frame, else FER2013's places."""
        face = np.asarray(face, np.float32).reshape(FACE_SIZE, FACE_SIZE)
        blurred = covered(face[None])[0]
        masks = part_masks(landmarks)
        batch = np.stack([face] + [np.where(mask, blurred, face) for mask in masks.values()])
        batch = np.concatenate([batch, batch[:, :, ::-1]])
        p = self._probabilities(batch[..., None]).numpy()[:, class_index]
        p = (p[: len(p) // 2] + p[len(p) // 2 :]) / 2
        return [PartEvidence(name, float(p[0]), float(after)) for name, after in zip(masks, p[1:])]

    def _compute(self, faces, blurred, classes):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            acts, features = self._features(faces, training=False)
            # log-probability: the same normalised Layer-CAM as the probability's, but its
            # gradient survives on faces the model reads at 100%
            scores = tf.nn.log_softmax(tf.matmul(features, self._kernel) + self._bias)
            chosen = tf.gather(scores, classes, batch_dims=1)
        grads = tape.gradient(chosen, acts)  # each face's score depends on its own features only
        layer_cam = tf.nn.relu(tf.reduce_sum(tf.nn.relu(grads) * acts, axis=-1, keepdims=True))
        layer_cam = tf.image.resize(layer_cam, (FACE_SIZE, FACE_SIZE))[..., 0]
        # square root: keeps Layer-CAM's detail without letting its one sharpest spot win
        return tf.sqrt(_tf_normalised(layer_cam)) * self._occlusion(faces, blurred, classes, tf.exp(chosen))

    def _occlusion(self, faces, blurred, classes, before):
        """Each pixel's mean drop in probability over the squares covering it, scaled to [0, 1]."""
        import tensorflow as tf

        k = self._masks.shape[0]
        masks = self._masks[None, ..., None]
        batch = tf.reshape(faces[:, None] * (1 - masks) + blurred[:, None] * masks, (-1, FACE_SIZE, FACE_SIZE, 1))
        after = tf.gather(self._model(batch, training=False), tf.repeat(classes, k), batch_dims=1)
        drops = before[:, None] - tf.reshape(after, (-1, k))
        spread = tf.einsum("nk,khw->nhw", drops, self._masks) / tf.reduce_sum(self._masks, 0)
        return _tf_normalised(spread - tf.reduce_min(spread, axis=(1, 2), keepdims=True))


def heat_layer(model):
    """The last 24x24 layer that is not pooling (block2b in the default network): fine enough to
    outline an eye or a mouth corner, deep enough to know what it sees."""
    import keras

    found = [layer for layer in model.layers if not isinstance(layer, keras.layers.MaxPooling2D)
             and len(layer.output.shape) == 4 and layer.output.shape[1] == FACE_SIZE // 2]
    return found[-1] if found else model.get_layer(LAST_CONV)


def _tf_normalised(maps):
    import tensorflow as tf

    return tf.math.divide_no_nan(maps, tf.reduce_max(maps, axis=(1, 2), keepdims=True))


def _normalised(maps: np.ndarray) -> np.ndarray:
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0).astype(np.float32)


def covered(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) faces blurred at COVER_SIGMA: what a covered part is replaced with."""
    return np.stack([cv2.GaussianBlur(np.asarray(f, np.float32), (0, 0), COVER_SIGMA) for f in faces])


def occlusion_masks(squares=SQUARES) -> np.ndarray:
    """(K, 48, 48) float32, 1 where covered: one mask per square of `squares` (13 for SQUARES)."""
    masks = []
    for side, starts in squares:
        for row in starts:
            for col in starts:
                mask = np.zeros((FACE_SIZE, FACE_SIZE), np.float32)
                mask[row : row + side, col : col + side] = 1
                masks.append(mask)
    return np.stack(masks)


@functools.lru_cache(maxsize=1)
def centre_prior() -> np.ndarray:
    """A Gaussian at the frame's centre, peak 1: fercore's faces are centred in their crops."""
    rows, cols = np.mgrid[:FACE_SIZE, :FACE_SIZE] - (FACE_SIZE - 1) / 2
    return np.exp(-(rows**2 + cols**2) / (2 * PRIOR_SIGMA**2)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def explainer_for(model) -> Explainer:
    """One Explainer per model, shared by every caller (a few models at most stay alive)."""
    return Explainer(model)


def heatmaps(model, faces: np.ndarray, class_indices) -> np.ndarray:
    """(N, 48, 48) float32 maps in [0, 1] of where each face carried its class; see Explainer.heatmaps."""
    return explainer_for(model).heatmaps(faces, class_indices)


def part_evidence(model, face: np.ndarray, class_index: int, landmarks=None) -> list[PartEvidence]:
    """One PartEvidence per part, in PARTS order; see Explainer.evidence."""
    return explainer_for(model).evidence(face, class_index, landmarks)


# --- where the face parts are -------------------------------------------------------------------

def landmarks_in_crop(face: Face) -> np.ndarray | None:
    """A detected face's five YuNet points moved from photo pixels into its 48x48 crop, as (5, 2)
    (x, y); None when it has none. Follows fercore.faces' framing: the box's centre to the crop's,
    turned by the tilt, scaled to 48 pixels."""
    if not face.landmarks:
        return None
    x, y, w, h = face.box
    turn = cv2.getRotationMatrix2D((0, 0), face.tilt, FACE_SIZE / w)[:, :2]
    return (np.asarray(face.landmarks, float) - (x + w / 2, y + h / 2)) @ turn.T + FACE_SIZE / 2


def part_masks(landmarks=None) -> dict[str, np.ndarray]:
    """PARTS -> (48, 48) bool masks: ellipses sized by the distance between the eyes and placed by
    the five points (x, y) in the 48x48 frame, or by FER_LANDMARKS when landmarks is None."""
    eye_r, eye_l, nose, mouth_r, mouth_l = np.asarray(FER_LANDMARKS if landmarks is None else landmarks, float)
    d = max(float(np.hypot(*(eye_l - eye_r))), 4.0)
    eyes = _ellipse(eye_r - (0, 0.12 * d), 0.4 * d, 0.36 * d) | _ellipse(eye_l - (0, 0.12 * d), 0.4 * d, 0.36 * d)
    top, bottom = (eye_r[1] + eye_l[1]) / 2 + 0.2 * d, nose[1] + 0.15 * d  # below the eyes to under the tip
    nose_part = _ellipse((nose[0], (top + bottom) / 2), 0.3 * d, max((bottom - top) / 2, 0.15 * d))
    mouth_middle = (mouth_r + mouth_l) / 2 + (0, 0.05 * d)
    mouth = _ellipse(mouth_middle, float(np.hypot(*(mouth_l - mouth_r))) / 2 + 0.2 * d, 0.3 * d)
    return dict(zip(PARTS, (eyes, nose_part & ~eyes, mouth)))


def _ellipse(centre, half_width: float, half_height: float) -> np.ndarray:
    rows, cols = np.mgrid[:FACE_SIZE, :FACE_SIZE] + 0.5  # pixel centres
    return ((cols - centre[0]) / half_width) ** 2 + ((rows - centre[1]) / half_height) ** 2 <= 1


# --- words ----------------------------------------------------------------------------------------

def percent(p: float) -> str:
    return "under 1%" if p < 0.005 else f"{round(p * 100)}%"


def carrying_parts(evidence: list[PartEvidence]) -> list[PartEvidence]:
    """The one or two parts whose covering lowers the class by MATTERS or more, biggest drop first."""
    return sorted((e for e in evidence if e.drop >= MATTERS), key=lambda e: e.drop, reverse=True)[:2]


def say_evidence(evidence: list[PartEvidence], emotion: str) -> str:
    """What covering the parts showed, naming the carrying parts; a cautious sentence when none carries."""
    named = carrying_parts(evidence)
    if not named:
        points = math.floor(max([e.drop for e in evidence] + [0.0]) * 100) + 1
        return (f"No single part decides it: covering any one part lowers {emotion} by less than "
                f"{points} point{'s' if points != 1 else ''}.")
    first = named[0]
    words = f"Covering {first.part} drops {emotion} from {percent(first.before)} to {percent(first.after)}."
    if len(named) > 1:
        words += f" Covering {named[1].part} drops it to {percent(named[1].after)}."
    return words


def unsure_reading(probabilities) -> str | None:
    """A calm warning when the top two emotions are within UNSURE_GAP, else None: then no emotion
    should be explained as if the model were sure of it."""
    p = np.asarray(probabilities, float)
    second, first = np.argsort(p)[-2:]
    if p[first] - p[second] >= UNSURE_GAP:
        return None
    return (f"The model is unsure: {percent(p[first])} {EMOTIONS[first]}, {percent(p[second])} "
            f"{EMOTIONS[second]}. The map shows {EMOTIONS[first]}, its slightly stronger reading.")


@dataclass(frozen=True)
class Explanation:
    class_index: int  # the emotion explained: the model's top reading
    heatmap: np.ndarray  # (48, 48) float32 in [0, 1]
    evidence: list[PartEvidence]  # empty where no face parts are known (a whole-image reading)
    sentences: list[str]  # the unsure sentence first when there is one, then the evidence

    @property
    def words(self) -> str:
        return " ".join(self.sentences)


def explain_faces(model, faces: np.ndarray, probabilities: np.ndarray, landmarks=None) -> list[Explanation]:
    """What a page shows beside each face: its map (one batch for all), part evidence and sentences.
    landmarks: one entry per face, each five (x, y) points, None for FER2013's framing, or False
    where no face parts are known."""
    top = np.asarray(probabilities).argmax(axis=1)
    maps = heatmaps(model, faces, top)
    landmarks = [None] * len(top) if landmarks is None else landmarks
    explained = []
    for face, probs, k, heat, points in zip(faces, probabilities, top, maps, landmarks):
        evidence = [] if points is False else part_evidence(model, face, int(k), points)
        said = say_evidence(evidence, EMOTIONS[k]) if evidence else None
        explained.append(Explanation(int(k), heat, evidence, [s for s in (unsure_reading(probs), said) if s]))
    return explained


def explain_face(model, face: np.ndarray, probabilities, landmarks=None) -> Explanation:
    """explain_faces for one face."""
    return explain_faces(model, np.asarray(face)[None], np.asarray(probabilities)[None], [landmarks])[0]


# --- drawing ----------------------------------------------------------------------------------------

def overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """A gray (H, W) or RGB (H, W, 3) uint8 image -> RGB uint8 of its size, with the face kept:
    the parts the map finds cool dimmed (by up to DIM x opacity) and the hot area outlined in white
    on a dark edge, which reads on any skin and without colour vision. opacity 0: the image as is."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()
    if opacity == 0:
        return rgb
    height, width = rgb.shape[:2]
    heat = np.clip(cv2.resize(np.asarray(heatmap, np.float32), (width, height), interpolation=cv2.INTER_LINEAR), 0, 1)
    light = 1 - DIM * opacity * (1 - np.minimum(heat / HOT, 1))  # full brightness from HOT up
    out = np.clip(rgb * light[..., None], 0, 255).astype(np.uint8)
    _outline(out, heat >= HOT)
    return out


def _outline(rgb: np.ndarray, hot: np.ndarray) -> None:
    """Draws the hot area's edge on rgb in place: white on a dark line three times as wide."""
    contours, _ = cv2.findContours(hot.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = [c for c in contours if cv2.contourArea(c) >= SPECK * hot.size]  # specks only distract
    width = max(1, round(min(hot.shape) / 120))
    line = cv2.LINE_AA if width > 1 else cv2.LINE_8  # anti-aliasing greys a 1-pixel line
    cv2.drawContours(rgb, contours, -1, (20, 20, 20), 3 * width, line)
    cv2.drawContours(rgb, contours, -1, (255, 255, 255), width, line)
