"""tf.data input pipelines: shuffled every epoch, optionally augmented, batched and prefetched."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fercore.data import Split
from fercore.labels import NUM_CLASSES


def augmenter(strength: float = 1.0, seed: int = 0) -> keras.Sequential:
    """Flips, small shifts/rotations/zoom and random erasing; `strength` scales the geometry."""
    s = strength
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="nearest", seed=seed + 1),
            keras.layers.RandomRotation(0.03 * s, fill_mode="nearest", seed=seed + 2),  # ~10 degrees
            keras.layers.RandomZoom((-0.1 * s, 0.1 * s), fill_mode="nearest", seed=seed + 3),
            keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 4),
        ],
        name="augment",
    )


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
        ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
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
