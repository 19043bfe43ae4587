"""tf.data input pipelines: shuffled every epoch, optionally augmented, batched and prefetched."""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from fercore.data import Split
from fercore.labels import NUM_CLASSES


def augmenter(strength: float = 1.0, seed: int = 0):
    """Flip, then one random affine warp (shift, rotation, zoom), then random erasing.

    The warp is a single resampling: chaining Keras's RandomTranslation/Rotation/Zoom layers
    interpolates three times and visibly blurs a 48x48 face, which test faces never are.
    """
    flip = keras.layers.RandomFlip("horizontal", seed=seed)
    erase = keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 1)
    rng = tf.random.Generator.from_seed(seed)

    def augment(images):
        images = flip(images, training=True)
        images = random_affine(images, rng, shift=0.1 * strength, degrees=10 * strength, zoom=0.1 * strength)
        return erase(images, training=True)

    return augment


def random_affine(images, rng: tf.random.Generator, shift: float, degrees: float, zoom: float):
    """Per-image random shift (fraction of size), rotation and zoom, applied as one transform."""
    n = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    angle = rng.uniform([n], -degrees, degrees) * (math.pi / 180)
    scale = 1.0 / rng.uniform([n], 1 - zoom, 1 + zoom)  # output -> input mapping, hence the inverse
    tx, ty = (rng.uniform([n], -shift, shift) * size for _ in range(2))
    centre = (size - 1) / 2
    a0, a1 = tf.cos(angle) * scale, -tf.sin(angle) * scale
    b0, b1 = tf.sin(angle) * scale, tf.cos(angle) * scale
    a2 = centre - a0 * centre - a1 * centre - tx
    b2 = centre - b0 * centre - b1 * centre - ty
    zeros = tf.zeros_like(a0)
    transform = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return keras.ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="nearest")


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) faces -> float32 (N, 48, 48, 1) pixel values, what every model takes."""
    return images.astype(np.float32)[..., None]


def make_dataset(
    split: Split,
    batch_size: int = 64,
    shuffle: bool = False,
    augment: float = 0.0,
    seed: int = 0,
) -> tf.data.Dataset:
    """(faces, one-hot labels) batches. Shuffling is re-drawn every epoch."""
    labels = keras.utils.to_categorical(split.labels, NUM_CLASSES).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((as_inputs(split.images), labels))
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment > 0:
        aug = augmenter(augment, seed)
        ds = ds.map(lambda x, y: (aug(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def class_weights(split: Split, mode: str = "none") -> dict[int, float] | None:
    """Per-class loss weights: 'balanced' (inverse frequency), 'sqrt' (its square root), or none."""
    if mode == "none":
        return None
    counts = np.maximum(split.class_counts(), 1)
    weights = len(split) / (NUM_CLASSES * counts)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode != "balanced":
        raise ValueError(f"Unknown class weighting '{mode}': choose none, sqrt or balanced.")
    weights = weights / np.average(weights, weights=counts)  # keep the mean loss scale at 1
    return {i: float(w) for i, w in enumerate(weights)}
