"""Decoding images people bring (any common format, size or mode) into grayscale arrays, safely."""
from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fercore.errors import ImageError
from fercore.labels import FACE_SIZE

MAX_PIXELS = 60_000_000  # above this, refuse: a decompression bomb or far more than a face needs
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def decode_image(raw: bytes) -> Image.Image:
    """Bytes -> an upright RGB or L PIL image. Raises ImageError with a message for a person."""
    if not raw:
        raise ImageError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"The image is too large (over {MAX_PIXELS // 1_000_000} megapixels).") from None
    except UnidentifiedImageError:
        raise ImageError("This file is not an image fercore can read (JPEG, PNG, WebP, BMP or TIFF).") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"The image file is damaged or cut short ({exc}).") from None
    image = ImageOps.exif_transpose(image)  # phones store portrait shots sideways plus an EXIF tag
    return _normalise_mode(image)


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, "white")  # transparent areas read as white paper
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        span = max(values.max() - values.min(), 1e-9)
        return Image.fromarray(((values - values.min()) / span * 255).astype(np.uint8), "L")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def to_gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def read_gray(path) -> np.ndarray:
    """A file on disk -> uint8 grayscale array."""
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        raise ImageError(f"Cannot read {path}: {exc.strerror}.") from None
    return to_gray(decode_image(raw))


def face_to_input(gray: np.ndarray) -> np.ndarray:
    """A face image of any size -> 48x48: the centred square, resized."""
    h, w = gray.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = gray[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > FACE_SIZE else cv2.INTER_LINEAR
    return cv2.resize(square, (FACE_SIZE, FACE_SIZE), interpolation=interpolation)
