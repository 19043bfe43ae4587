"""Gradient-weighted class activation maps: which parts of a face raised the model's score for an
emotion, as a heatmap.

The form used is HiResCAM (Draelos & Carin, 2020): gradient times activation at the last conv,
summed over channels at each position. Plain Grad-CAM first averages the gradient over positions,
which is only faithful for networks ending in global pooling; fercore's end in Flatten + Dense. On
a seed model trained to find a bar at a class-dependent height, Grad-CAM gave empty maps for 3 of
the 7 classes and put 29% of peaks within 3 rows of the bar; this form put every peak within 4.

TensorFlow is imported when the first GradCam is made, so pages that only draw heatmaps start fast.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from fercore.artifact import LAST_CONV, OUTPUT_LAYER
from fercore.labels import FACE_SIZE

# Named regions of the 48x48 frame as (rows, columns). An approximation by position only:
# FER2013 faces are roughly aligned, and in its mean face the eyes sit at row ~18 (x ~14 and ~33),
# the nose tip is the bright band at rows ~23-28 and the mouth the dark band at rows ~36-40.
REGIONS = {
    "the eyes and brows": (slice(8, 23), slice(4, 44)),
    "the nose": (slice(23, 32), slice(16, 32)),
    "the mouth": (slice(32, 44), slice(10, 38)),
}
HOT = 0.5  # heat at or above this counts as where the model looked
SPREAD = 0.5  # hot over more than this share of the frame: no region stands out
STANDS_OUT = 1.3  # a region counts when its mean heat is this many times the frame's mean
SECOND_SHARE = 0.6  # the runner-up is named too when its mean heat is this share of the top one


class GradCam:
    """Heatmaps for one fercore model; builds its gradient graph once, so keep the instance."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        head = model.get_layer(OUTPUT_LAYER)
        self._features = keras.Model(model.inputs, [model.get_layer(LAST_CONV).output, head.input])
        self._kernel, self._bias = head.kernel, head.bias
        self._maps = tf.function(self._compute, input_signature=[
            tf.TensorSpec([None, FACE_SIZE, FACE_SIZE, 1], tf.float32), tf.TensorSpec([None], tf.int32)])

    def heatmaps(self, faces: np.ndarray, class_indices) -> np.ndarray:
        """faces (N, 48, 48) pixel values 0-255; class_indices one per face, or one for all.
        Returns (N, 48, 48) float32 in [0, 1]; all zeros where nothing raised that class's score."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, FACE_SIZE, FACE_SIZE, 1)
        classes = np.broadcast_to(np.asarray(class_indices, dtype=np.int32), (len(faces),))
        if len(faces) == 0:
            return np.zeros((0, FACE_SIZE, FACE_SIZE), np.float32)
        return self._maps(faces, classes).numpy()

    def _compute(self, faces, classes):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            conv, features = self._features(faces, training=False)
            # Pre-softmax scores: the softmax couples classes and saturates, muddying the gradient.
            logits = tf.matmul(features, self._kernel) + self._bias
            chosen = tf.gather(logits, classes, batch_dims=1)
        grads = tape.gradient(chosen, conv)  # each face's score depends on its own features only
        cam = tf.nn.relu(tf.reduce_sum(grads * conv, axis=-1, keepdims=True))
        cam = tf.image.resize(cam, (FACE_SIZE, FACE_SIZE))[..., 0]
        return tf.math.divide_no_nan(cam, tf.reduce_max(cam, axis=(1, 2), keepdims=True))


@functools.lru_cache(maxsize=4)
def gradcam_for(model) -> GradCam:
    """One GradCam per model, shared by every caller (a few models at most stay alive)."""
    return GradCam(model)


def overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """The heatmap stretched over a gray (H, W) or RGB (H, W, 3) uint8 image -> RGB uint8.
    Cividis reads the same for people with red-green colour blindness."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image
    heat = cv2.resize(np.asarray(heatmap, np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.round(np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_CIVIDIS)
    return cv2.addWeighted(rgb, 1 - opacity, cv2.cvtColor(colours, cv2.COLOR_BGR2RGB), opacity, 0)


def _named_regions_mask() -> np.ndarray:
    mask = np.zeros((FACE_SIZE, FACE_SIZE), bool)
    for rows, cols in REGIONS.values():
        mask[rows, cols] = True
    return mask


INSIDE = _named_regions_mask()


def describe(heatmap: np.ndarray) -> str:
    """One plain sentence on which face regions drove the score, or a cautious one when none stands out."""
    hot = heatmap >= HOT
    if not hot.any():
        return "No part of the face raised the score for this emotion: the answer is the model's default leaning."
    if hot.mean() > SPREAD:
        return "The model's attention was spread over most of the face; no one part stands out."
    if (hot & INSIDE).sum() < hot.sum() / 2:
        return ("The model looked mostly away from the eyes, nose and mouth (the edges of the face or the "
                "background), so treat this answer with extra caution.")
    overall = float(heatmap.mean())
    heat = {name: float(heatmap[rows, cols].mean()) for name, (rows, cols) in REGIONS.items()}
    first, second = sorted(heat, key=heat.get, reverse=True)[:2]
    if heat[first] < STANDS_OUT * overall:
        return "The model's attention was spread over the face; no one part stands out."
    if heat[second] >= max(STANDS_OUT * overall, SECOND_SHARE * heat[first]):
        return f"The model looked mostly at {first}, then {second}."
    return f"The model looked mostly at {first}."
