"""Training batches: shuffled every epoch, optionally augmented, for any Keras backend.

Batches are numpy arrays augmented with OpenCV on CPU threads, so the same pipeline feeds
TensorFlow on this machine and JAX or PyTorch on a GPU machine that has no TensorFlow.
"""
from __future__ import annotations

import ctypes
import functools
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
    """Undo TensorFlow's malloc setting for generator datasets (fit_input's stream, or a PyDataset).

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
    """(faces, targets) batches of a split.

    With `shuffle`, an endless stream for training: batch i is batch i % len(self) of epoch
    first_epoch + i // len(self), in that epoch's order. Order and augmentation are drawn from
    (seed, epoch, batch), so a run is repeatable whatever thread builds a batch and however far ahead
    it reads. Give fit() `steps_per_epoch=len(batches)`. Without `shuffle`: one pass, in order.

    Targets are one-hot labels, or with `soft_targets` (teachers' readings, one row per face) the
    mix `(1 - distill) * one-hot + distill * reading` that knowledge distillation trains on.
    `mixup` and `cutmix` (Beta alphas, 0 = off) blend each training batch with itself (mix_batch).
    `crop` (a side below 48, None = off): each training face becomes a random crop of that size, after
    its augmentation; without `shuffle`, the centre crop (as the saved model reads a face).
    """

    def __init__(self, split: Split, batch_size: int = 64, shuffle: bool = False, augment: float = 0.0,
                 seed: int = 0, first_epoch: int = 0, soft_targets: np.ndarray | None = None,
                 distill: float = 0.0, mixup: float = 0.0, cutmix: float = 0.0, crop: int | None = None):
        # One worker under TensorFlow: training reads the stream through fit_input, validation is one
        # pass. Other backends (JAX on a GPU machine) need threads to keep up; Keras leaves those waiting
        # if training stops mid-epoch.
        workers = 1 if keras.backend.backend() == "tensorflow" else min(4, os.cpu_count() or 1)
        super().__init__(workers=workers, use_multiprocessing=False)
        self.split, self.batch_size, self.shuffle, self.augment, self.seed = split, batch_size, shuffle, augment, seed
        self.first_epoch, self.mixup, self.cutmix, self.crop = first_epoch, mixup, cutmix, crop
        self.targets = keras.utils.to_categorical(split.labels, NUM_CLASSES).astype(np.float32)
        if soft_targets is not None:
            self.targets = (1 - distill) * self.targets + distill * np.asarray(soft_targets, np.float32)

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(len(self.split) / self.batch_size)

    @property
    def num_batches(self) -> int | None:
        return None if self.shuffle else len(self)  # None: endless, as Keras reads it

    def __getitem__(self, index: int):
        epoch, index = divmod(index, len(self)) if self.shuffle else (0, index)
        epoch += self.first_epoch
        pick = self._order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        faces = self.split.images[pick]
        if self.augment > 0:
            faces = augment_faces(faces, np.random.default_rng([self.seed, epoch, index]), self.augment)
        if self.crop:
            faces = (random_crops(faces, self.crop, np.random.default_rng([self.seed, epoch, index, 2]))
                     if self.shuffle else centre_crops(faces, self.crop))
        faces, targets = as_inputs(faces), self.targets[pick]
        if self.shuffle and (self.mixup > 0 or self.cutmix > 0):
            faces, targets = mix_batch(faces, targets, np.random.default_rng([self.seed, epoch, index, 1]),
                                       self.mixup, self.cutmix)
        return faces, targets

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.split))
        return _permutation(self.seed, epoch, len(self.split))


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(size)


def fit_input(batches: FaceBatches):
    """What fit() reads: under TensorFlow, the batches as a tf.data stream that is not autotuned.

    Autotuned (as Keras feeds a PyDataset), a new epoch sometimes waited 5-8 s for its first batch
    with the CPU idle, in half the epochs of the Train page's demo, and an endless stream held fit()
    up to 28 s after its last epoch. Other backends read the batches through Keras's threads.
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf  # not on a GPU machine that trains with JAX

    faces, targets = batches[0]
    signature = (tf.TensorSpec((None, *faces.shape[1:]), tf.float32),
                 tf.TensorSpec((None, targets.shape[1]), tf.float32))
    options = tf.data.Options()
    options.autotune.enabled = False
    stream = tf.data.Dataset.from_generator(batches.__iter__, output_signature=signature)
    return stream.with_options(options).prefetch(2)


def random_crops(faces: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Each face's own random size x size window (every position equally likely)."""
    room = faces.shape[1] - size
    tops, lefts = rng.integers(0, room + 1, len(faces)), rng.integers(0, room + 1, len(faces))
    return np.stack([face[t : t + size, l : l + size] for face, t, l in zip(faces, tops, lefts)])


def centre_crops(faces: np.ndarray, size: int) -> np.ndarray:
    """The centre size x size window, where Keras's CenterCrop takes it (offset rounded down)."""
    start = (faces.shape[1] - size) // 2
    return faces[:, start : start + size, start : start + size]


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


def mix_batch(faces: np.ndarray, targets: np.ndarray, rng: np.random.Generator, mixup: float = 0.0,
              cutmix: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019): blend a batch with itself in another order,
    faces and targets alike, by a share drawn from Beta(alpha, alpha); one or the other per batch when
    both are on, as timm does. On FER2013 both cost accuracy (docs/model-experiments.md)."""
    use_cutmix = cutmix > 0 and (mixup <= 0 or rng.random() < 0.5)
    alpha = cutmix if use_cutmix else mixup
    share, partner = float(rng.beta(alpha, alpha)), rng.permutation(len(faces))  # float: keeps float32
    if use_cutmix:
        faces, share = paste_box(faces, faces[partner], share, rng)
    else:
        faces = share * faces + (1 - share) * faces[partner]
    return faces, share * targets + (1 - share) * targets[partner]


def paste_box(faces: np.ndarray, others: np.ndarray, share: float,
              rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A box of about 1 - share of the area, at one random place, from `others` into `faces`;
    returns the faces and the share of each face that is still its own."""
    size = faces.shape[1]
    side = size * math.sqrt(1 - share)
    cy, cx = rng.uniform(0, size, 2)
    top, bottom = int(np.clip(cy - side / 2, 0, size)), int(np.clip(cy + side / 2, 0, size))
    left, right = int(np.clip(cx - side / 2, 0, size)), int(np.clip(cx + side / 2, 0, size))
    faces = faces.copy()
    faces[:, top:bottom, left:right] = others[:, top:bottom, left:right]
    return faces, 1 - (bottom - top) * (right - left) / (size * size)


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
