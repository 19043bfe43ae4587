"""Training batches: shuffled every epoch, optionally augmented, for any Keras backend.

Batches are numpy arrays augmented with OpenCV on CPU threads, so the same pipeline feeds
TensorFlow on this machine and JAX or PyTorch on a GPU machine that has no TensorFlow.
"""
from __future__ import annotations

import ctypes
import math
import os

import cv2
import keras
import numpy as np

from fercore.data import Split
from fercore.labels import NUM_CLASSES


def as_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 48, 48) faces -> float32 (N, 48, 48, 1) pixel values, what every model takes."""
    return images.astype(np.float32)[..., None]


class KeepFreedMemory(keras.callbacks.Callback):
    """Undo TensorFlow's malloc setting for generator datasets (PyDataset on TensorFlow).

    Its first batch sets glibc's trim threshold to 128 KB, so every step hands its freed buffers
    back to the kernel and faults them in again: a third of the CPU time of a CPU epoch, in the
    kernel. Put back after that batch: the seed network's epoch of 10,000 faces went from 10.4M
    page faults and 39 s of system time to 0.7M and 4 s. Training runs in a process of its own (the
    CLI, or a job's child), so the web server keeps glibc's own setting.
    """

    def on_train_batch_end(self, batch, logs=None):
        if batch != 0:
            return
        try:
            mallopt = ctypes.CDLL("libc.so.6").mallopt
        except (OSError, AttributeError):
            return  # not glibc: nothing was changed
        mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap
        mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: buffers under 32 MB come from that heap


class FaceBatches(keras.utils.PyDataset):
    """(faces, targets) batches of a split; the order and augmentation are drawn from
    (seed, epoch, batch index), so a run is repeatable whatever thread builds a batch.

    Targets are one-hot labels, or with `soft_targets` (teachers' readings, one row per face) the
    mix `(1 - distill) * one-hot + distill * reading` that knowledge distillation trains on.
    """

    def __init__(self, split: Split, batch_size: int = 64, shuffle: bool = False, augment: float = 0.0,
                 seed: int = 0, first_epoch: int = 0, soft_targets: np.ndarray | None = None,
                 distill: float = 0.0):
        # TensorFlow prefetches from one worker in a thread of its own. Other backends (JAX on a GPU
        # machine) need threads to keep up; Keras leaves those waiting if training stops mid-epoch.
        workers = 1 if keras.backend.backend() == "tensorflow" else min(4, os.cpu_count() or 1)
        super().__init__(workers=workers, use_multiprocessing=False)
        self.split, self.batch_size, self.shuffle, self.augment, self.seed = split, batch_size, shuffle, augment, seed
        self.epoch = first_epoch
        self.targets = keras.utils.to_categorical(split.labels, NUM_CLASSES).astype(np.float32)
        if soft_targets is not None:
            self.targets = (1 - distill) * self.targets + distill * np.asarray(soft_targets, np.float32)
        self._order = self._draw_order()

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)

    def __getitem__(self, index: int):
        pick = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        faces = self.split.images[pick]
        if self.augment > 0:
            faces = augment_faces(faces, np.random.default_rng([self.seed, self.epoch, index]), self.augment)
        return as_inputs(faces), self.targets[pick]

    def on_epoch_end(self):  # Keras calls this once every batch of the epoch has been taken
        self.epoch += 1
        self._order = self._draw_order()

    def _draw_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.split))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.split))


def augment_faces(faces: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Mirror half the faces, give each one random affine warp (shift, rotation, zoom), then erase
    a random patch of half of them.

    The warp is a single resampling: chaining separate shift, rotation and zoom steps interpolates
    three times and visibly blurs a 48x48 face, which test faces never are.
    """
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        if rng.random() < 0.5:
            face = face[:, ::-1]
        out[i] = random_warp(face, rng, shift=0.1 * strength, degrees=10 * strength, zoom=0.1 * strength)
        if rng.random() < 0.5:
            erase_patch(out[i], rng, area=(0.02, 0.15))
    return out


def random_warp(face: np.ndarray, rng: np.random.Generator, shift: float, degrees: float, zoom: float) -> np.ndarray:
    size = face.shape[0]
    centre = ((size - 1) / 2, (size - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-degrees, degrees), rng.uniform(1 - zoom, 1 + zoom))
    matrix[:, 2] += rng.uniform(-shift, shift, 2) * size
    return cv2.warpAffine(np.ascontiguousarray(face), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def erase_patch(face: np.ndarray, rng: np.random.Generator, area: tuple[float, float]) -> None:
    """Random erasing (Zhong et al. 2017): a rectangle of noise over part of the face, in place."""
    size = face.shape[0]
    target = rng.uniform(*area) * size * size
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    h = min(size, max(1, round(math.sqrt(target * aspect))))
    w = min(size, max(1, round(math.sqrt(target / aspect))))
    top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
    face[top : top + h, left : left + w] = rng.integers(0, 256, (h, w), dtype=np.uint8)


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
